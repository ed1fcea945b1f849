import { writeSync } from 'node:fs';

/**
 * Characters that must not reach a terminal raw inside a message: C0 controls
 * (newline, carriage return, ESC starting an escape sequence, ...), DEL, the
 * C1 controls (U+009B is a one-character CSI on some terminals), the Unicode
 * line and paragraph separators, and the bidirectional overrides and
 * isolates, which make a line display in an order other than its own
 * (a file name could make "invalid" read as something else).
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * TEXT with every unsafe character escaped visibly: `\n`, `\r`, `\t`,
 * `\xHH` up to U+00FF, `\u{HHHH}` above. Escaped, not dropped, so that a
 * file name with a newline in it is shown as what it is. A backslash itself
 * is left alone: this is for display, not a reversible quoting.
 */
export function escapeControl(text: string): string {
  return text.replace(UNSAFE, (c) => {
    const code = c.charCodeAt(0);
    return NAMED[c] ?? (code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`);
  });
}

/** An error line longer than this keeps its start and end: argv and file names can be huge. */
const MAX_LINE = 4096;
const KEEP_HEAD = 3072;
const KEEP_TAIL = 960;

/**
 * TEXT as one line: escaped, and cut in the middle when very long (the
 * start says what is wrong, the end often says what to do).
 */
export function oneLine(text: string): string {
  const escaped = escapeControl(text);
  if (escaped.length <= MAX_LINE) return escaped;
  const omitted = escaped.length - KEEP_HEAD - KEEP_TAIL;
  return `${escaped.slice(0, KEEP_HEAD)} [... ${omitted} characters left out ...] ${escaped.slice(-KEEP_TAIL)}`;
}

/**
 * Writes all of BYTES to FD synchronously. Not process.stdout: creating that
 * stream may switch an inherited pipe to O_NONBLOCK (FACTS §6), and output
 * must be complete before we exit or exec.
 */
export function writeRaw(fd: 1 | 2, bytes: Buffer | string): void {
  let buffer = Buffer.from(bytes);
  while (buffer.length) {
    try {
      buffer = buffer.subarray(writeSync(fd, buffer));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') continue; // a caller's non-blocking pipe is full: try again
      if (code === 'EPIPE') process.exit(0); // `tails-launch list | head -1`: the reader is gone
      throw error;
    }
  }
}

/**
 * Writes TEXT to FD. On stderr (fd 2) TEXT is ONE line, whatever it quotes:
 * everything tails-launch says there is a `tails-launch: ...` line per call,
 * so a trailing newline is kept and every other control character, newline
 * included, is escaped (see escapeControl) and an over-long line is cut.
 * A message quoting a profile name, an argument or a file name can thus never
 * print a second line that looks like ours, nor send a terminal escape.
 * Standard output (tables, JSON, plans) is written as it is.
 */
export function writeAll(fd: 1 | 2, text: string): void {
  if (fd === 2) text = `${oneLine(text.endsWith('\n') ? text.slice(0, -1) : text)}\n`;
  writeRaw(fd, text);
}

/** The one error line: `tails-launch: MESSAGE`, on stderr, as writeAll makes it. */
export function writeError(message: string): void {
  writeAll(2, `tails-launch: ${message}\n`);
}
