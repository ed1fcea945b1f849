// Arguments and inherited variables byte for byte. Node decodes argv and the
// environment as UTF-8 and replaces invalid bytes with U+FFFD, so a file
// named `file\xff` given as an argument would reach the application as
// `file\uFFFD` (and `ls` would not find it). The kernel still has the exact
// bytes this process was started with: /proc/self/cmdline and
// /proc/self/environ. Only entries that are NOT valid UTF-8 are taken from
// there; every other one is the string Node gave, which is the same bytes.
import { isUtf8 } from 'node:buffer';
import { readFileSync } from 'node:fs';

/** NUL-separated entries (the last one ends with a NUL too). */
function entries(buffer: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let start = 0; start < buffer.length;) {
    let end = buffer.indexOf(0, start);
    if (end < 0) end = buffer.length;
    out.push(buffer.subarray(start, end));
    start = end + 1;
  }
  return out;
}

/** A C string for execve: the bytes and a NUL (koffi passes a Buffer in a `const char **` as is). */
const cString = (bytes: Buffer): Buffer => Buffer.concat([bytes, Buffer.from([0])]);

export interface RawBytes {
  /** The user's arguments (argv after node and the script) that are not UTF-8, by index into them. */
  args: Map<number, Buffer>;
  /** Inherited variables whose name or value is not UTF-8: decoded name -> `NAME=VALUE\0`. */
  env: Map<string, { decodedValue: string; entry: Buffer }>;
}

/**
 * The exact bytes behind ARGS (process.argv.slice(2)) and the inherited
 * environment, where they differ from their UTF-8 decoding. Empty when /proc
 * cannot be read or does not match what Node decoded (then nothing is replaced).
 */
export function readRawBytes(args: readonly string[]): RawBytes {
  const raw: RawBytes = { args: new Map(), env: new Map() };
  try {
    const cmdline = entries(readFileSync('/proc/self/cmdline'));
    // node SCRIPT ARGS...: the user's arguments are the last args.length entries.
    const tail = cmdline.slice(cmdline.length - args.length);
    if (cmdline.length >= args.length + 2) {
      tail.forEach((bytes, i) => {
        if (!isUtf8(bytes) && bytes.toString('utf8') === args[i]) raw.args.set(i, cString(bytes));
      });
    }
  } catch {
    // no /proc: Node's strings it is
  }
  try {
    for (const entry of entries(readFileSync('/proc/self/environ'))) {
      if (isUtf8(entry)) continue;
      const eq = entry.indexOf(0x3d);
      if (eq <= 0) continue;
      raw.env.set(entry.subarray(0, eq).toString('utf8'), {
        decodedValue: entry.subarray(eq + 1).toString('utf8'),
        entry: cString(entry),
      });
    }
  } catch {
    // as above
  }
  return raw;
}
