// Text from files and paths, made safe to put in a one-line message.
//
// A message names files (paths come from the environment, the command line
// and directory listings) and sometimes echoes what a file holds (an unknown
// key, an alias name in a YAML error). Any of these may carry a newline, a
// carriage return or a terminal escape sequence: printed raw, one error would
// become several lines (a forged "ok" line, say) or rewrite the terminal.
// stderr is escaped on the way out (src/cli/output.ts), but problems are also
// printed on stdout (`list`'s table, `torrc --check`), and an echoed value
// must be cut short where it is quoted: an error must never copy megabytes
// of a file into a message, even one that is cut again later.
import { escapeControl } from '../errors/escape-control';

/** An echoed key or value longer than this is cut (the message says how long it was). */
export const MAX_ECHO = 80;

/**
 * TEXT on one line: control characters, line separators and bidi controls
 * escaped visibly (`\n`, `\x1b`, see escapeControl), and at most MAX
 * characters of it kept, the rest summarized by its length.
 */
export function printable(text: string, max = Infinity): string {
  if (text.length <= max) return escapeControl(text);
  // Never split a surrogate pair: a lone half would print as U+FFFD.
  const end = /[\ud800-\udbff]/.test(text[max - 1] ?? '') ? max - 1 : max;
  return `${escapeControl(text.slice(0, end))}…(${text.length} characters)`;
}
