// The manual page (debian/tails-launch.1) cannot silently fall behind the
// launcher: every command and every option that `tails-launch --help`
// (src/cli/help.ts) names must be documented there, and its EXIT STATUS must
// list every status the help lists. A new command or option in the help
// fails this test until the man page has it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HELP } from '../../src/cli/help';
import { ROOT } from '../support/launcher';

const MAN_SOURCE = readFileSync(join(ROOT, 'debian', 'tails-launch.1'), 'utf8');

/** roff text as it reads: `\-` is '-', font changes, `\&`, `\~` and quotes go; macros' names stay. */
function plain(roff: string): string {
  return roff
    .replace(/\\f[BIRP]/g, '')
    .replace(/\\-/g, '-')
    .replace(/\\&/g, '')
    .replace(/\\~/g, ' ')
    .replace(/\\\(dq/g, '"')
    .replace(/"/g, '');
}

/** The roff source of section NAME (`.SH NAME` up to the next `.SH`). */
function section(name: string): string {
  const parts = MAN_SOURCE.split(/^\.SH /m);
  const found = parts.find((p) => p.split('\n')[0]!.replace(/"/g, '') === name);
  if (found === undefined) throw new Error(`debian/tails-launch.1 has no section ${name}`);
  return found;
}

/** The tags of a section's `.TP` items (the line after each `.TP`), as they read. */
function tags(roff: string): string[] {
  const lines = roff.split('\n');
  return lines
    .flatMap((line, i) => (line === '.TP' && lines[i + 1] !== undefined ? [lines[i + 1]!] : []))
    .map((tag) => plain(tag).replace(/^\.[A-Z]+\s*/, ''));
}

/** The words of TEXT: a word is a run of letters, digits and '-', so `--control` is not in `--control-cookie`. */
const words = (text: string) => new Set(text.split(/[^A-Za-z0-9-]+/).filter((w) => w !== ''));

// What the help names. Its usage lines: `tails-launch [OPTIONS] COMMAND ...`
// (or `[--config-dir DIR] COMMAND`); the first, `tails-launch [OPTIONS]
// PROFILE`, names a profile, not a command.
const USAGE = HELP.slice(0, HELP.indexOf('\n\n'));
const HELP_COMMANDS = [...new Set([...USAGE.matchAll(/tails-launch \[[^\]]*\] ([a-z][a-z-]*)/g)].map((m) => m[1]!))];
// `netns setup|teardown`: each action.
const HELP_ACTIONS = [...USAGE.matchAll(/tails-launch \[[^\]]*\] ([a-z]+) ([a-z]+(?:\|[a-z]+)+)/g)].flatMap((m) =>
  m[2]!.split('|').map((action) => `${m[1]} ${action}`),
);
const HELP_LONG_OPTIONS = [...new Set([...HELP.matchAll(/--[a-z][a-z-]*[a-z]/g)].map((m) => m[0]))];
// `  -h, --help`: the short spellings in the options list (not `sudo -n` in the prose).
const HELP_SHORT_OPTIONS = [...HELP.matchAll(/^ +(-[a-zA-Z]), --/gm)].map((m) => m[1]!);
const HELP_EXIT_STATUSES = [
  ...new Set([...HELP.slice(HELP.indexOf('Exit status:')).matchAll(/\b(\d{1,3}) [A-Za-z]/g)].map((m) => m[1]!)),
];

describe('the manual page covers the help', () => {
  it('the help is read as expected (not an empty list that proves nothing)', () => {
    expect(HELP_COMMANDS).toEqual(
      expect.arrayContaining(['run', 'default', 'explain', 'list', 'validate', 'torrc', 'doctor', 'netns', 'jail']),
    );
    expect(HELP_COMMANDS).not.toContain('PROFILE');
    expect(HELP_ACTIONS).toEqual(
      expect.arrayContaining(['netns setup', 'netns teardown', 'jail setup', 'jail teardown']),
    );
    expect(HELP_LONG_OPTIONS).toEqual(
      expect.arrayContaining([
        '--config-dir',
        '--identity',
        '--wait-for-tor',
        '--jail',
        '--json',
        '--check',
        '--control',
        '--control-cookie',
        '--control-password-file',
        '--help',
        '--version',
      ]),
    );
    expect(HELP_SHORT_OPTIONS.sort()).toEqual(['-V', '-h']);
    expect(HELP_EXIT_STATUSES).toEqual(['1', '64', '65', '66', '67', '69', '70', '72', '77', '78', '126', '127']);
  });

  it.each(HELP_COMMANDS)('command %s: in the SYNOPSIS and an item of COMMANDS', (command) => {
    expect(words(plain(section('SYNOPSIS'))).has(command), 'SYNOPSIS').toBe(true);
    const items = tags(section('COMMANDS'));
    expect(
      items.some((tag) => words(tag).has(command)),
      `no .TP item of COMMANDS names ${command}: ${JSON.stringify(items)}`,
    ).toBe(true);
  });

  it.each(HELP_ACTIONS)('%s: an item of COMMANDS', (action) => {
    expect(tags(section('COMMANDS')).some((tag) => tag.includes(action))).toBe(true);
  });

  it.each([...HELP_LONG_OPTIONS, ...HELP_SHORT_OPTIONS])('option %s: an item of OPTIONS', (option) => {
    const items = tags(section('OPTIONS'));
    expect(
      items.some((tag) => words(tag).has(option)),
      `no .TP item of OPTIONS names ${option}: ${JSON.stringify(items)}`,
    ).toBe(true);
  });

  it.each(HELP_EXIT_STATUSES)('exit status %s: an item of EXIT STATUS', (status) => {
    expect(tags(section('EXIT STATUS'))).toContain(status);
  });
});
