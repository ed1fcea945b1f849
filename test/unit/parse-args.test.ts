import { describe, expect, it } from 'vitest';
import { parseArgs } from '../../src/cli/parse-args';
import { LaunchError } from '../../src/errors/launch-error';
import { EXIT } from '../support/expected';

function usageError(words: string[]): string {
  try {
    parseArgs(words);
  } catch (error) {
    expect(error).toBeInstanceOf(LaunchError);
    expect((error as LaunchError).exitCode).toBe(EXIT.usage);
    return (error as Error).message;
  }
  throw new Error(`no usage error for ${JSON.stringify(words)}`);
}

describe('parseArgs', () => {
  it("takes everything after the profile name as the application's arguments", () => {
    expect(parseArgs(['pidgin', '--debug', '-v'])).toEqual({
      kind: 'run',
      profile: 'pidgin',
      args: ['--debug', '-v'],
      options: { identity: null },
    });
  });

  it('drops one -- right after the profile name, keeps a second', () => {
    expect(parseArgs(['default', '--', 'curl', '--', 'x'])).toMatchObject({
      kind: 'run',
      profile: 'default',
      args: ['curl', '--', 'x'],
    });
  });

  it('accepts run PROFILE as the same as the bare form', () => {
    expect(parseArgs(['run', 'pidgin', '--', 'a'])).toEqual(parseArgs(['pidgin', 'a']));
  });

  it('reads global options before the profile, in both spellings', () => {
    expect(parseArgs(['--config-dir', '/c', '--identity=alice@example.org', '--wait-for-tor', '30', 'pidgin'])).toEqual(
      {
        kind: 'run',
        profile: 'pidgin',
        args: [],
        options: { configDir: '/c', identity: 'alice@example.org', waitForTor: 30 },
      },
    );
  });

  it('refuses unknown options, bad identities, bad waits and reserved commands', () => {
    expect(usageError(['--frobnicate', 'pidgin'])).toContain("unknown option '--frobnicate'");
    expect(usageError(['--identity', 'a b', 'pidgin'])).toContain('--identity');
    expect(usageError(['--identity', '../x', 'pidgin'])).toContain('--identity');
    expect(usageError(['--wait-for-tor', '-1', 'pidgin'])).toContain('--wait-for-tor');
    expect(usageError(['--wait-for-tor', '601', 'pidgin'])).toContain('--wait-for-tor');
    expect(usageError(['--config-dir'])).toContain('needs a value');
    expect(usageError(['desktop'])).toContain("'desktop' prints the files of one profile");
    expect(usageError(['torrc', 'extra'])).toContain("'torrc' takes no arguments");
    expect(usageError(['torrc', '--check'])).toContain('needs a value');
    expect(usageError(['doctor', '--control'])).toContain('needs a value');
    expect(usageError([])).toContain('no profile');
    expect(usageError(['--', 'curl'])).toContain("'--'");
    expect(usageError(['run'])).toContain("'run' needs a profile");
  });

  it('parses explain with options anywhere before --', () => {
    expect(parseArgs(['explain', 'curl', '--json', '--identity', 'bob', '--', '-s', 'http://x/'])).toEqual({
      kind: 'explain',
      profile: 'curl',
      args: ['-s', 'http://x/'],
      json: true,
      options: { identity: 'bob' },
    });
    expect(usageError(['explain'])).toContain("'explain' needs a profile");
    expect(usageError(['explain', 'curl', '--bogus'])).toContain("unknown option '--bogus' for 'explain'");
  });

  it('parses list and validate', () => {
    expect(parseArgs(['list', '--json'])).toEqual({
      kind: 'list',
      json: true,
      names: false,
      options: { identity: null },
    });
    expect(parseArgs(['list', '--names'])).toEqual({
      kind: 'list',
      json: false,
      names: true,
      options: { identity: null },
    });
    expect(usageError(['list', '--names', '--json'])).toContain('not both');
    expect(parseArgs(['validate', 'a.yml', 'b.yml'])).toEqual({
      kind: 'validate',
      files: ['a.yml', 'b.yml'],
      options: { identity: null },
    });
    expect(usageError(['list', 'extra'])).toContain("'list' takes no arguments");
    expect(usageError(['validate', '--json'])).toContain("unknown option '--json'");
  });

  it('parses desktop: print one profile, install or remove profiles or --all', () => {
    const base = {
      kind: 'desktop',
      all: false,
      scope: null,
      entry: null,
      dbusService: false,
      options: { identity: null },
    };
    expect(parseArgs(['desktop', 'totem'])).toEqual({ ...base, action: 'print', profiles: ['totem'] });
    expect(parseArgs(['desktop', 'totem', '--entry=org.gnome.Totem.service', '--dbus-service'])).toEqual({
      ...base,
      action: 'print',
      profiles: ['totem'],
      entry: 'org.gnome.Totem.service',
      dbusService: true,
    });
    expect(parseArgs(['desktop', '--install', '--all', '--system'])).toEqual({
      ...base,
      action: 'install',
      profiles: [],
      all: true,
      scope: 'system',
    });
    expect(parseArgs(['--config-dir', 'd', 'desktop', '--remove', '--user', 'a', 'b'])).toMatchObject({
      action: 'remove',
      profiles: ['a', 'b'],
      scope: 'user',
      options: { configDir: 'd' },
    });
    expect(usageError(['desktop', '--install'])).toContain('profile names or --all');
    expect(usageError(['desktop', '--install', '--all', 'x'])).toContain('profile names or --all');
    expect(usageError(['desktop', '--install', '--remove', '--all'])).toContain('given twice');
    expect(usageError(['desktop', '--user', '--system', '--install', '--all'])).toContain('given twice');
    expect(usageError(['desktop', 'x', '--all'])).toContain('go with --install or --remove');
    expect(usageError(['desktop', '--install', '--all', '--entry', 'a.desktop'])).toContain('choose what');
    expect(usageError(['desktop', 'x', '--entry', '../a.desktop'])).toContain('--entry takes');
    expect(usageError(['desktop', 'x', '--frob'])).toContain("unknown option '--frob' for 'desktop'");
  });

  it('parses torrc and doctor', () => {
    expect(parseArgs(['torrc'])).toEqual({ kind: 'torrc', check: null, options: { identity: null } });
    expect(parseArgs(['torrc', '--check=/etc/tor/torrc'])).toEqual({
      kind: 'torrc',
      check: '/etc/tor/torrc',
      options: { identity: null },
    });
    expect(
      parseArgs(['doctor', 'pidgin', 'curl', '--json', '--control', '127.0.0.1:9051', '--control-cookie', '/c']),
    ).toEqual({
      kind: 'doctor',
      profiles: ['pidgin', 'curl'],
      json: true,
      control: { address: '127.0.0.1:9051', cookieFile: '/c' },
      options: { identity: null },
    });
    expect(parseArgs(['doctor', '--control-password-file=/p'])).toMatchObject({
      control: { passwordFile: '/p' },
      profiles: [],
    });
  });

  it('reads options on either side of run (`run --identity x default`)', () => {
    expect(parseArgs(['run', '--identity', 'x', 'default', '--', 'a'])).toEqual({
      kind: 'run',
      profile: 'default',
      args: ['a'],
      options: { identity: 'x' },
    });
    expect(parseArgs(['--config-dir', '/c', 'run', '--wait-for-tor=5', 'pidgin'])).toEqual({
      kind: 'run',
      profile: 'pidgin',
      args: [],
      options: { configDir: '/c', identity: null, waitForTor: 5 },
    });
    // After the profile name, still the application's.
    expect(parseArgs(['run', 'default', '--identity', 'x'])).toMatchObject({
      args: ['--identity', 'x'],
      options: { identity: null },
    });
    expect(usageError(['run', '-x', 'default'])).toContain("unknown option '-x'");
    expect(usageError(['run', '--', 'default'])).toContain("'--' must follow a profile name");
    expect(usageError(['run', 'run'])).toContain("'run' is a command, not a profile");
    expect(usageError(['run', 'explain', 'x'])).toContain("'explain' is a command, not a profile");
    expect(usageError(['run', '--identity', 'x'])).toContain("'run' needs a profile name");
  });

  it('refuses an empty profile or file name as a usage error (64), not an unknown profile', () => {
    expect(usageError([''])).toContain('the profile name is empty');
    expect(usageError(['', 'curl'])).toContain('the profile name is empty');
    expect(usageError(['run', ''])).toContain("'run' was given an empty profile name");
    expect(usageError(['explain', ''])).toContain("'explain' was given an empty profile name");
    expect(usageError(['doctor', 'curl', ''])).toContain("'doctor' was given an empty profile name");
    expect(usageError(['validate', 'a.yml', ''])).toContain("'validate' was given an empty file name");
    // An empty argument for the application is the application's business.
    expect(parseArgs(['default', '--', ''])).toMatchObject({ kind: 'run', profile: 'default', args: [''] });
  });

  it('refuses an option given twice, wherever the second one is', () => {
    expect(usageError(['--identity', 'a', '--identity', 'b', 'pidgin'])).toContain('option --identity is given twice');
    expect(usageError(['--identity=a', 'run', '--identity=a', 'pidgin'])).toContain('option --identity is given twice');
    expect(usageError(['--config-dir', '/a', 'explain', 'p', '--config-dir', '/b'])).toContain(
      'option --config-dir is given twice',
    );
    expect(usageError(['--wait-for-tor', '1', '--wait-for-tor', '1', 'p'])).toContain(
      'option --wait-for-tor is given twice',
    );
    expect(usageError(['--jail', '--jail', 'p'])).toContain('option --jail is given twice');
    expect(usageError(['--jail=yes', 'p'])).toContain('--jail takes no value');
    expect(parseArgs(['--jail', 'p', '--jail'])).toMatchObject({
      kind: 'run',
      profile: 'p',
      args: ['--jail'],
      options: { jail: true },
    });
    expect(usageError(['explain', 'p', '--json', '--json'])).toContain('option --json is given twice');
    expect(usageError(['torrc', '--check', 'a', '--check=b'])).toContain('option --check is given twice');
    expect(usageError(['doctor', '--control', 'a:1', '--control=b:2'])).toContain('option --control is given twice');
  });

  it('refuses a missing, empty or option-like value', () => {
    for (const option of ['--config-dir', '--identity', '--wait-for-tor']) {
      expect(usageError([option])).toContain(`option ${option} needs a value`);
      expect(usageError(['explain', 'p', option])).toContain(`option ${option} needs a value`);
      expect(usageError([`${option}=`, 'p'])).toContain('not an empty one');
      expect(usageError([option, '', 'p'])).toContain('not an empty one');
    }
    // A path never silently swallows the next option...
    expect(usageError(['--config-dir', '--identity', 'x', 'pidgin'])).toContain(
      "not the option-like '--identity' (write --config-dir=VALUE",
    );
    expect(usageError(['torrc', '--check', '--json'])).toContain("not the option-like '--json'");
    expect(usageError(['doctor', '--control-cookie', '-x'])).toContain("not the option-like '-x'");
    // ...but can still start with '-' when written with '='; a lone '-' is a value.
    expect(parseArgs(['--config-dir=-d', 'p'])).toMatchObject({ options: { configDir: '-d' } });
    expect(parseArgs(['torrc', '--check', '-'])).toMatchObject({ check: '-' });
    // Pattern-checked values say what is wrong with them.
    expect(usageError(['--wait-for-tor', '-1', 'p'])).toContain("takes whole seconds from 0 to 600, not '-1'");
    expect(usageError(['--identity', '--config-dir', 'p'])).toContain("--identity '--config-dir' is not valid");
  });

  it('answers -h after an inspection command', () => {
    expect(parseArgs(['explain', '-h'])).toEqual({ kind: 'help' });
    expect(parseArgs(['list', '--help'])).toEqual({ kind: 'help' });
    // After -- it is an argument.
    expect(parseArgs(['explain', 'curl', '--', '-h'])).toMatchObject({ kind: 'explain', args: ['-h'] });
  });

  it('says where the profile name goes when explain gets only --', () => {
    expect(usageError(['explain', '--', 'curl'])).toContain("'explain' needs a profile name before --");
  });

  it('answers --help and --version before anything else', () => {
    expect(parseArgs(['--help', 'pidgin'])).toEqual({ kind: 'help' });
    expect(parseArgs(['-V'])).toEqual({ kind: 'version' });
    // After the profile name they belong to the application.
    expect(parseArgs(['curl', '--version'])).toMatchObject({ kind: 'run', args: ['--version'] });
  });
});

describe('parseArgs: netns setup/teardown', () => {
  it('parses the action and the name, with --config-dir before or after', () => {
    expect(parseArgs(['--config-dir', '/c', 'netns', 'setup', 'tbb'])).toEqual({
      kind: 'netns',
      action: 'setup',
      name: 'tbb',
      options: { configDir: '/c', identity: null },
    });
    expect(parseArgs(['netns', 'teardown', 'tbb', '--config-dir=/c'])).toEqual({
      kind: 'netns',
      action: 'teardown',
      name: 'tbb',
      options: { configDir: '/c', identity: null },
    });
    expect(parseArgs(['netns', '-h'])).toEqual({ kind: 'help' });
  });

  it('refuses a missing or unknown action, a missing or extra name, and unknown options', () => {
    expect(usageError(['netns'])).toContain("'netns' needs an action");
    expect(usageError(['netns', 'create', 'tbb'])).toContain("'netns' knows 'setup' and 'teardown', not 'create'");
    expect(usageError(['netns', 'setup'])).toContain("'netns setup' needs a namespace name");
    expect(usageError(['netns', 'setup', 'a', 'b'])).toContain("'netns setup' takes one namespace name");
    expect(usageError(['netns', 'setup', 'tbb', '--json'])).toContain("unknown option '--json' for 'netns'");
    expect(usageError(['netns', 'setup', 'tbb', '--config-dir', '/c', '--config-dir', '/d'])).toContain('given twice');
  });

  it('refuses a name that cannot be a path component or fit veth-NAME in 15 characters', () => {
    expect(usageError(['netns', 'setup', '../etc'])).toContain("netns setup: '../etc' is not a valid namespace name");
    expect(usageError(['netns', 'teardown', ''])).toContain("'' is not a valid namespace name");
    expect(usageError(['netns', 'setup', 'abcdefghijk'])).toContain(
      "'abcdefghijk' is too long for a namespace name: at most 10 characters, so that its veth 'veth-abcdefghijk' fits Linux's 15",
    );
    expect(parseArgs(['netns', 'setup', 'abcdefghij'])).toMatchObject({ name: 'abcdefghij' });
  });
});

describe('parseArgs: jail setup/teardown', () => {
  it('parses the action, with --config-dir before or after', () => {
    expect(parseArgs(['--config-dir', '/c', 'jail', 'setup'])).toEqual({
      kind: 'jail',
      action: 'setup',
      options: { configDir: '/c', identity: null },
    });
    expect(parseArgs(['jail', 'teardown', '--config-dir=/c'])).toEqual({
      kind: 'jail',
      action: 'teardown',
      options: { configDir: '/c', identity: null },
    });
    expect(parseArgs(['jail', '--help'])).toEqual({ kind: 'help' });
  });

  it('refuses a missing or unknown action, any argument, and unknown options; no profile may be called jail', () => {
    expect(usageError(['jail'])).toContain(
      "'jail' needs an action: tails-launch [--config-dir DIR] jail setup|teardown",
    );
    expect(usageError(['jail', 'up'])).toContain("'jail' knows 'setup' and 'teardown', not 'up'");
    expect(usageError(['jail', 'setup', 'default'])).toContain("'jail setup' takes no arguments");
    expect(usageError(['jail', 'teardown', '--json'])).toContain("unknown option '--json' for 'jail'");
    expect(usageError(['run', 'jail'])).toContain("'jail' is a command, not a profile");
  });
});
