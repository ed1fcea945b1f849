import { describe, expect, it } from 'vitest';
import { parseArgs } from '../../src/cli/parse-args';
import { LaunchError } from '../../src/cli/launch-error';

function usageError(words: string[]): string {
  try {
    parseArgs(words);
  } catch (error) {
    expect(error).toBeInstanceOf(LaunchError);
    expect((error as LaunchError).exitCode).toBe(64);
    return (error as Error).message;
  }
  throw new Error(`no usage error for ${JSON.stringify(words)}`);
}

describe('parseArgs', () => {
  it('takes everything after the profile name as the application\'s arguments', () => {
    expect(parseArgs(['pidgin', '--debug', '-v'])).toEqual({ kind: 'run', profile: 'pidgin', args: ['--debug', '-v'], options: { identity: null } });
  });

  it('drops one -- right after the profile name, keeps a second', () => {
    expect(parseArgs(['default', '--', 'curl', '--', 'x'])).toMatchObject({ kind: 'run', profile: 'default', args: ['curl', '--', 'x'] });
  });

  it('accepts run PROFILE as the same as the bare form', () => {
    expect(parseArgs(['run', 'pidgin', '--', 'a'])).toEqual(parseArgs(['pidgin', 'a']));
  });

  it('reads global options before the profile, in both spellings', () => {
    expect(parseArgs(['--config-dir', '/c', '--identity=alice@example.org', '--wait-for-tor', '30', 'pidgin'])).toEqual({
      kind: 'run',
      profile: 'pidgin',
      args: [],
      options: { configDir: '/c', identity: 'alice@example.org', waitForTor: 30 },
    });
  });

  it('refuses unknown options, bad identities, bad waits and reserved commands', () => {
    expect(usageError(['--frobnicate', 'pidgin'])).toContain("unknown option '--frobnicate'");
    expect(usageError(['--identity', 'a b', 'pidgin'])).toContain('--identity');
    expect(usageError(['--identity', '../x', 'pidgin'])).toContain('--identity');
    expect(usageError(['--wait-for-tor', '-1', 'pidgin'])).toContain('--wait-for-tor');
    expect(usageError(['--wait-for-tor', '601', 'pidgin'])).toContain('--wait-for-tor');
    expect(usageError(['--config-dir'])).toContain('needs a value');
    expect(usageError(['desktop'])).toContain("'desktop'");
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
    expect(parseArgs(['list', '--json'])).toEqual({ kind: 'list', json: true, options: { identity: null } });
    expect(parseArgs(['validate', 'a.yml', 'b.yml'])).toEqual({ kind: 'validate', files: ['a.yml', 'b.yml'], options: { identity: null } });
    expect(usageError(['list', 'extra'])).toContain("'list' takes no arguments");
    expect(usageError(['validate', '--json'])).toContain("unknown option '--json'");
  });

  it('parses torrc and doctor', () => {
    expect(parseArgs(['torrc'])).toEqual({ kind: 'torrc', check: null, options: { identity: null } });
    expect(parseArgs(['torrc', '--check=/etc/tor/torrc'])).toEqual({ kind: 'torrc', check: '/etc/tor/torrc', options: { identity: null } });
    expect(parseArgs(['doctor', 'pidgin', 'curl', '--json', '--control', '127.0.0.1:9051', '--control-cookie', '/c'])).toEqual({
      kind: 'doctor',
      profiles: ['pidgin', 'curl'],
      json: true,
      control: { address: '127.0.0.1:9051', cookieFile: '/c' },
      options: { identity: null },
    });
    expect(parseArgs(['doctor', '--control-password-file=/p'])).toMatchObject({ control: { passwordFile: '/p' }, profiles: [] });
  });

  it('answers --help and --version before anything else', () => {
    expect(parseArgs(['--help', 'pidgin'])).toEqual({ kind: 'help' });
    expect(parseArgs(['-V'])).toEqual({ kind: 'version' });
    // After the profile name they belong to the application.
    expect(parseArgs(['curl', '--version'])).toMatchObject({ kind: 'run', args: ['--version'] });
  });
});
