// The bash completion (debian/tails-launch.bash-completion), run as bash
// runs it: a real bash loads Debian's bash-completion
// (/usr/share/bash-completion/bash_completion, installed by
// scripts/setup.sh) and the completion file from this checkout, the
// function that `complete -p tails-launch` names is called with
// COMP_WORDS/COMP_CWORD/COMP_LINE/COMP_POINT set as readline sets them,
// and COMPREPLY is compared. Profile names come from the checkout's real
// launcher (bin/ first on PATH), through its `list --names`.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeConfigDir, ROOT } from '../support/launcher';

const BASH_COMPLETION = '/usr/share/bash-completion/bash_completion';
const COMPLETION = join(ROOT, 'debian', 'tails-launch.bash-completion');
const COMMANDS = [
  'run',
  'explain',
  'list',
  'validate',
  'torrc',
  'onion-grater',
  'doctor',
  'circuits',
  'new-identity',
  'netns',
  'jail',
  'grants',
  'desktop',
  'default',
];
const GLOBAL_OPTIONS = ['--config-dir', '--identity', '--wait-for-tor', '--jail'];
// The fixture's profiles; `default` is a profile and a command word at once.
const FIXTURE_PROFILES = ['alpha', 'beta', 'bravo', 'default'];

let work = ''; // the completion's working directory: a few files and directories to complete
let home = ''; // an empty HOME: no user layer
let configDir = '';

const env = () => ({
  // The checkout's launcher is the `tails-launch` the completion runs (its sh
  // front finds dist/ beside its own directory, so bin/ itself goes first on
  // PATH, not a symlink elsewhere).
  PATH: `${join(ROOT, 'bin')}:/usr/local/bin:/usr/bin:/bin`,
  HOME: home,
  LANG: 'C.UTF-8',
  LC_ALL: 'C.UTF-8',
});

/**
 * COMP_WORDS for LINE as readline makes them: words split at blanks, and at
 * each of COMP_WORDBREAKS' `=` and `:`, which are words of their own
 * (`--config-dir=/tmp` is `--config-dir` `=` `/tmp`). A trailing blank
 * starts an empty word. (The lines here have no quotes.)
 */
function compWords(line: string): string[] {
  const words = line
    .split(/ +/)
    .filter((w) => w !== '')
    .flatMap((w) => w.split(/([=:])/).filter((part) => part !== ''));
  if (line.endsWith(' ')) words.push('');
  return words;
}

/** Loads bash-completion and COMPLETION_FILE, completes at the end of LINE, returns COMPREPLY. */
function complete(line: string, completionFile = COMPLETION): string[] {
  const script = `
    source ${BASH_COMPLETION} || exit 90
    source "$COMPLETION_FILE" || exit 91
    spec=$(complete -p tails-launch) || exit 92
    func=\${spec#*-F }; func=\${func%% *}
    COMP_LINE=$LINE
    COMP_POINT=\${#COMP_LINE}
    COMP_WORDS=("$@")
    COMP_CWORD=$((\${#COMP_WORDS[@]} - 1))
    COMPREPLY=()
    "$func" tails-launch "\${COMP_WORDS[COMP_CWORD]}" "\${COMP_WORDS[COMP_CWORD-1]}"
    printf '%s\\n' "\${COMPREPLY[@]}"
  `;
  const out = execFileSync('bash', ['--norc', '--noprofile', '-c', script, 'bash', ...compWords(line)], {
    cwd: work,
    env: { ...env(), LINE: line, COMPLETION_FILE: completionFile },
    encoding: 'utf8',
    timeout: 20_000,
  });
  return out.split('\n').filter((l) => l !== '');
}

const sorted = (words: string[]) => [...new Set(words)].sort();

describe.skipIf(!existsSync(BASH_COMPLETION))('bash completion (debian/tails-launch.bash-completion)', () => {
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), `tails-launch-completion-${process.pid}-`));
    home = mkdtempSync(join(tmpdir(), `tails-launch-completion-home-${process.pid}-`));
    // What file-name completion finds in the working directory.
    mkdirSync(join(work, 'dir-one'));
    writeFileSync(join(work, 'file-one.txt'), '');
    writeFileSync(join(work, 'extra.yml'), '');
    writeFileSync(join(work, '--looks-like-an-option'), '');
    const profile = 'listener: t\nisolation: launch\nbackend: torsocks\ncommand: /usr/bin/curl\n';
    configDir = makeConfigDir(
      { t: { port: 9050 } },
      Object.fromEntries(FIXTURE_PROFILES.map((name) => [name, profile])),
    );
  });

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
    if (home) rmSync(home, { recursive: true, force: true });
    if (configDir) rmSync(configDir, { recursive: true, force: true });
  });

  describe('the first word: commands and profile names', () => {
    it('offers every command and every profile of the --config-dir on the line', () => {
      expect(sorted(complete(`tails-launch --config-dir ${configDir} `))).toEqual(
        sorted([...COMMANDS, ...FIXTURE_PROFILES]),
      );
      expect(sorted(complete(`tails-launch --config-dir=${configDir} b`))).toEqual(['beta', 'bravo']);
      // `default`, a command word and a profile, is offered once.
      expect(complete(`tails-launch --config-dir ${configDir} def`)).toEqual(['default']);
    });

    it("offers the names the launcher's own `list --names` prints (the layers a launch reads)", () => {
      const listed = execFileSync(join(ROOT, 'bin', 'tails-launch'), ['list', '--names'], {
        cwd: work,
        env: env(),
        encoding: 'utf8',
      })
        .split('\n')
        .filter((l) => l !== '');
      // The checkout's shipped layer: not an empty list that would prove nothing.
      expect(listed).toEqual(expect.arrayContaining(['pidgin', 'tor-browser', 'default']));
      expect(sorted(complete('tails-launch '))).toEqual(sorted([...COMMANDS, ...listed]));
      expect(sorted(complete('tails-launch t'))).toEqual(
        sorted(['torrc', ...listed.filter((name) => name.startsWith('t'))]),
      );
    });

    it('after run: profile names only', () => {
      expect(sorted(complete(`tails-launch --config-dir ${configDir} run `))).toEqual(sorted(FIXTURE_PROFILES));
      expect(complete(`tails-launch run --config-dir ${configDir} a`)).toEqual(['alpha']);
      expect(complete(`tails-launch --config-dir ${configDir} run ex`)).toEqual([]);
    });

    it('commands by prefix', () => {
      expect(complete(`tails-launch --config-dir ${configDir} ex`)).toEqual(['explain']);
      expect(sorted(complete(`tails-launch --jail --config-dir ${configDir} d`))).toEqual(
        sorted(['default', 'desktop', 'doctor']),
      );
    });

    it('nothing after --help or --version (the launcher does nothing else), nor after a leading --', () => {
      expect(complete('tails-launch --help ')).toEqual([]);
      expect(complete('tails-launch -V ')).toEqual([]);
      expect(complete('tails-launch -- ')).toEqual([]);
    });
  });

  describe('options', () => {
    it('the global options, each only while it is not on the line yet', () => {
      expect(sorted(complete('tails-launch -'))).toEqual(
        sorted([...GLOBAL_OPTIONS, '-h', '--help', '-V', '--version']),
      );
      expect(sorted(complete('tails-launch --jail --identity=alice --'))).toEqual(
        sorted(['--config-dir', '--wait-for-tor', '--help', '--version']),
      );
      expect(sorted(complete('tails-launch --wait-for-tor 30 run --'))).toEqual(
        sorted(['--config-dir', '--identity', '--jail']),
      );
    });

    it("each command's own options", () => {
      const options = (line: string) => sorted(complete(line));
      expect(options('tails-launch explain -')).toEqual(sorted(['--json', ...GLOBAL_OPTIONS, '--help']));
      expect(options('tails-launch list -')).toEqual(sorted(['--json', '--names', '--config-dir', '--help']));
      // --json and --names exclude each other.
      expect(options('tails-launch list --json -')).toEqual(sorted(['--config-dir', '--help']));
      expect(options('tails-launch list --names -')).toEqual(sorted(['--config-dir', '--help']));
      expect(options('tails-launch validate -')).toEqual(sorted(['--config-dir', '--help']));
      expect(options('tails-launch torrc -')).toEqual(sorted(['--check', '--config-dir', '--help']));
      expect(options('tails-launch doctor -')).toEqual(
        sorted(['--json', '--control', '--control-cookie', '--control-password-file', '--config-dir', '--help']),
      );
      expect(options('tails-launch doctor --control=127.0.0.1:9052 --control-')).toEqual(
        sorted(['--control-cookie', '--control-password-file']),
      );
      expect(options('tails-launch netns -')).toEqual(sorted(['--config-dir', '--help']));
      expect(options('tails-launch jail -')).toEqual(sorted(['--config-dir', '--help']));
      expect(options('tails-launch grants -')).toEqual(sorted(['--write', '--check', '--config-dir', '--help']));
      // One or the other: the launcher refuses both.
      expect(options('tails-launch grants --write -')).toEqual(sorted(['--config-dir', '--help']));
      expect(options('tails-launch desktop -')).toEqual(
        sorted([
          '--install',
          '--remove',
          '--all',
          '--user',
          '--system',
          '--entry',
          '--dbus-service',
          '--config-dir',
          '--help',
        ]),
      );
    });

    it('desktop: printing (--entry, --dbus-service) and --install/--remove exclude each other, so do --user and --system', () => {
      const options = (line: string) => sorted(complete(line));
      expect(options('tails-launch desktop --install -')).toEqual(
        sorted(['--all', '--user', '--system', '--config-dir', '--help']),
      );
      expect(options('tails-launch desktop --remove --system -')).toEqual(sorted(['--all', '--config-dir', '--help']));
      expect(options('tails-launch desktop --entry org.gnome.Totem -')).toEqual(
        sorted(['--dbus-service', '--config-dir', '--help']),
      );
    });
  });

  describe('option values', () => {
    it('--config-dir: directories only, in both spellings', () => {
      expect(complete('tails-launch --config-dir ')).toEqual(['dir-one']);
      expect(complete('tails-launch --config-dir=')).toEqual(['dir-one']);
      expect(complete('tails-launch list --config-dir d')).toEqual(['dir-one']);
    });

    it('torrc --check, doctor --control-cookie and --control-password-file: file names', () => {
      const files = sorted(['dir-one', 'file-one.txt', 'extra.yml', '--looks-like-an-option']);
      expect(sorted(complete('tails-launch torrc --check '))).toEqual(files);
      expect(sorted(complete('tails-launch torrc --check=f'))).toEqual(['file-one.txt']);
      expect(sorted(complete('tails-launch doctor --control-cookie '))).toEqual(files);
      expect(sorted(complete('tails-launch doctor --control-password-file=e'))).toEqual(['extra.yml']);
    });

    it('--identity, --wait-for-tor, --control, --entry: free values, nothing offered', () => {
      expect(complete('tails-launch --identity ')).toEqual([]);
      expect(complete('tails-launch --wait-for-tor=')).toEqual([]);
      expect(complete('tails-launch doctor --control ')).toEqual([]);
      expect(complete(`tails-launch --config-dir ${configDir} desktop --entry `)).toEqual([]);
    });

    it('a value is not taken for a command or a profile: the word after --identity NAME is', () => {
      expect(complete(`tails-launch --identity explain --config-dir ${configDir} a`)).toEqual(['alpha']);
    });
  });

  describe("the commands' words", () => {
    it('netns and jail: setup or teardown, then nothing of ours', () => {
      expect(sorted(complete('tails-launch netns '))).toEqual(['setup', 'teardown']);
      expect(complete('tails-launch --config-dir /x jail t')).toEqual(['teardown']);
      expect(complete('tails-launch netns setup ')).toEqual([]);
      expect(complete('tails-launch jail setup ')).toEqual([]);
    });

    it('explain: one profile name, then the application arguments (file names)', () => {
      expect(complete(`tails-launch explain --config-dir ${configDir} b`)).toEqual(['beta', 'bravo']);
      expect(complete(`tails-launch --config-dir ${configDir} explain alpha fi`)).toEqual(['file-one.txt']);
      expect(complete(`tails-launch --config-dir ${configDir} explain alpha -- --`)).toEqual([
        '--looks-like-an-option',
      ]);
    });

    it('doctor: profile names, each once', () => {
      expect(sorted(complete(`tails-launch --config-dir ${configDir} doctor `))).toEqual(sorted(FIXTURE_PROFILES));
      expect(complete(`tails-launch --config-dir ${configDir} doctor beta b`)).toEqual(['bravo']);
      expect(complete(`tails-launch --config-dir ${configDir} doctor --json -- a`)).toEqual(['alpha']);
    });

    it('desktop: one profile to print; any number (each once) with --install or --remove; none after --all', () => {
      expect(sorted(complete(`tails-launch --config-dir ${configDir} desktop `))).toEqual(sorted(FIXTURE_PROFILES));
      expect(complete(`tails-launch --config-dir ${configDir} desktop alpha `)).toEqual([]);
      expect(complete(`tails-launch --config-dir ${configDir} desktop --install beta b`)).toEqual(['bravo']);
      expect(complete(`tails-launch --config-dir ${configDir} desktop --remove --all `)).toEqual([]);
    });

    it('validate: configuration files and directories', () => {
      expect(sorted(complete('tails-launch validate '))).toEqual(sorted(['dir-one', 'extra.yml']));
    });

    it('list and torrc take no words', () => {
      expect(complete('tails-launch list ')).toEqual([]);
      expect(complete('tails-launch torrc ')).toEqual([]);
    });
  });

  describe("after the profile name, the application's words: file names, nothing of ours", () => {
    const files = sorted(['dir-one', 'file-one.txt', 'extra.yml', '--looks-like-an-option']);
    // CONFIG stands for the fixture's directory, made only in beforeAll.
    it.each([
      'tails-launch --config-dir CONFIG alpha ',
      'tails-launch --config-dir CONFIG run alpha ',
      'tails-launch --config-dir CONFIG alpha -- ',
      'tails-launch default -- ',
      'tails-launch default -- curl --data ',
    ])('%s', (line) => {
      expect(sorted(complete(line.replace('CONFIG', configDir)))).toEqual(files);
    });

    it('options, commands and profile names are the application\'s there: "--", "ex", "b" complete to files', () => {
      expect(complete(`tails-launch --config-dir ${configDir} alpha --`)).toEqual(['--looks-like-an-option']);
      expect(complete(`tails-launch --config-dir ${configDir} alpha --config-dir=`)).toEqual([]);
      expect(complete(`tails-launch --config-dir ${configDir} alpha --jail -`)).toEqual(['--looks-like-an-option']);
      expect(complete(`tails-launch --config-dir ${configDir} alpha ex`)).toEqual(['extra.yml']);
      expect(complete(`tails-launch --config-dir ${configDir} alpha b`)).toEqual([]);
      expect(sorted(complete(`tails-launch --config-dir ${configDir} alpha explain `))).toEqual(files);
    });
  });

  it('these checks see a broken completion: one without the desktop command fails them', () => {
    const broken = join(work, 'broken.bash-completion');
    const text = readFileSync(COMPLETION, 'utf8');
    const withoutDesktop = text.replace(/(commands='[^']*) desktop/, '$1');
    expect(withoutDesktop).not.toBe(text);
    writeFileSync(broken, withoutDesktop);
    expect(sorted(complete(`tails-launch --config-dir ${configDir} `, broken))).not.toEqual(
      sorted([...COMMANDS, ...FIXTURE_PROFILES]),
    );
    expect(complete(`tails-launch --config-dir ${configDir} des`, broken)).toEqual([]);
  });
});
