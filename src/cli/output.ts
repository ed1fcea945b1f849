import { writeSync } from 'node:fs';

/**
 * Writes all of TEXT to FD synchronously. Not process.stdout: creating that
 * stream may switch an inherited pipe to O_NONBLOCK (FACTS §6), and output
 * must be complete before we exit or exec.
 */
export function writeAll(fd: 1 | 2, text: string): void {
  let buffer = Buffer.from(text);
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
