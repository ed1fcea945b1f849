// Text quoted in a message, made to stay on its one line. Below every stage
// (like the error type and the exit statuses beside it) because the stages
// that build messages need it as much as cli/, which writes them: profile/
// escapes file names and echoed values in configuration problems, and cli/
// escapes whole lines on stderr and the tables of `list` and `explain`.

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
