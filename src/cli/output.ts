import { writeSync } from 'node:fs';
import { escapeControl } from '../errors/escape-control';

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
