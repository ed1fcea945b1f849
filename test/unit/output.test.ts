// The one-line guarantee of stderr: whatever an error message quotes (a
// profile name, an argument, a file name), it prints as one line without
// terminal escapes, escaped visibly rather than dropped.
import { describe, expect, it } from 'vitest';
import { oneLine } from '../../src/cli/output';
import { escapeControl } from '../../src/errors/escape-control';

describe('escapeControl', () => {
  it('escapes newlines, carriage returns, tabs and ESC visibly', () => {
    expect(escapeControl('a\nb')).toBe('a\\nb');
    expect(escapeControl('a\r\n')).toBe('a\\r\\n');
    expect(escapeControl('\tx')).toBe('\\tx');
    expect(escapeControl('\x1b[31mred\x1b[0m')).toBe('\\x1b[31mred\\x1b[0m');
    expect(escapeControl('nul\0')).toBe('nul\\x00');
    expect(escapeControl('bell\x07del\x7f')).toBe('bell\\x07del\\x7f');
  });

  it('escapes C1 controls (U+009B is a one-character CSI), line separators and bidi overrides', () => {
    expect(escapeControl('\u009b31m')).toBe('\\x9b31m');
    expect(escapeControl('\u0085')).toBe('\\x85');
    expect(escapeControl('a\u2028b\u2029c')).toBe('a\\u{2028}b\\u{2029}c');
    expect(escapeControl('invalid\u202edilavni')).toBe('invalid\\u{202e}dilavni');
    expect(escapeControl('\u2066\u2069\u200e\u200f\u061c')).toBe('\\u{2066}\\u{2069}\\u{200e}\\u{200f}\\u{61c}');
  });

  it('leaves printable text alone, non-ASCII included', () => {
    for (const text of [
      'pidgin',
      "no profile named 'x' (see 'tails-launch --help')",
      'Ünïcødé 名前 🧅',
      'back\\slash',
      '',
    ]) {
      expect(escapeControl(text)).toBe(text);
    }
  });
});

describe('oneLine', () => {
  it('cuts a very long message in the middle, keeping its start and end', () => {
    const long = `start ${'x'.repeat(100_000)} end`;
    const line = oneLine(long);
    expect(line.length).toBeLessThan(4200);
    expect(line.startsWith('start xxx')).toBe(true);
    expect(line.endsWith('xxx end')).toBe(true);
    expect(line).toMatch(/\[\.\.\. \d+ characters left out \.\.\.\]/);
  });

  it('leaves a message of ordinary length whole', () => {
    const text = 'y'.repeat(4096);
    expect(oneLine(text)).toBe(text);
  });
});
