// The user layer may add, never weaken (src/profile/weaken.ts), through the
// built launcher and its real layers: the checkout's profiles/ and
// listeners.yml are the shipped layer of a dev build, the user layer is
// $XDG_CONFIG_HOME/tails-launch in a temporary directory, and the admin layer
// /etc/tails-launch exists only inside a mount namespace of the test's own
// (an overlay over /etc), so that nothing is ever created in the real /etc.
//
// Launches run in a network namespace of the test's own with nothing but
// loopback, where a real tor (never bootstrapped, no way out) listens on
// Tails' SocksPorts 9050, 9062 and 9063: the refused launches WOULD start
// there (their controls do), so "nothing started" proves the refusal. The
// listener test runs on the host loopback against our SOCKS5 server, which
// the moved listener points at.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createNamespace,
  deleteNamespace,
  startIsolatedTor,
  TAILS_SOCKS_PORTS,
  type IsolatedTor,
} from '../support/isolated-tor';
import { useSocks5Server, useTempDirs } from '../support/fixtures';
import { cleanEnv, LAUNCHER, ROOT, runLauncher, type LauncherResult } from '../support/launcher';
import { EXIT } from '../support/expected';

const NS = `tl-user-${process.pid}`;
const SHIPPED_PROFILES = join(ROOT, 'profiles');
const SHIPPED_LISTENERS = join(ROOT, 'listeners.yml');

const socks = useSocks5Server();
const { make: tempDir } = useTempDirs();
let tor: IsolatedTor | undefined;
let torDir: string;

beforeAll(async () => {
  torDir = mkdtempSync(join(tmpdir(), 'tails-launch-user-layer-tor-'));
  await createNamespace(NS);
  tor = await startIsolatedTor(NS, torDir, Object.values(TAILS_SOCKS_PORTS));
}, 60_000);

afterAll(async () => {
  await tor?.stop();
  await deleteNamespace(NS);
  rmSync(torDir, { recursive: true, force: true });
});

function write(file: string, text: string): string {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
  return file;
}

/** A user: HOME and XDG_CONFIG_HOME in a fresh directory; FILES under its tails-launch layer. */
function user(files: Record<string, string> = {}): {
  layer: string;
  env: Record<string, string>;
  file: (path: string) => string;
} {
  const home = tempDir('home');
  const layer = join(home, 'xdg', 'tails-launch');
  for (const [path, text] of Object.entries(files)) write(join(layer, path), text);
  return { layer, env: { HOME: home, XDG_CONFIG_HOME: join(home, 'xdg') }, file: (path) => join(layer, path) };
}

/**
 * What the application prints when (and only when) it starts: `/bin/sh -c
 * 'echo started $FOO'` (on standard output: a jailed program's /tmp is its own).
 */
function marker(): { yaml: string } {
  return { yaml: `command: /bin/sh\nargs: [-c, 'echo started $FOO']\n` };
}

/**
 * Runs the launcher inside the test's network namespace (real tor on 9050,
 * 9062, 9063). ADMIN: files of an admin layer, shown as /etc/tails-launch in
 * a private mount namespace (overlayfs over /etc; the real /etc is untouched).
 */
async function inNamespace(
  args: string[],
  env: Record<string, string>,
  admin?: Record<string, string>,
): Promise<LauncherResult> {
  let argv = [LAUNCHER, ...args];
  if (admin) {
    const upper = tempDir('etc-upper');
    const work = tempDir('etc-work');
    // The overlay's root takes the upper directory's mode (mkdtemp: 0700): keep /etc 0755.
    chmodSync(upper, 0o755);
    for (const [path, text] of Object.entries(admin)) write(join(upper, 'tails-launch', path), text);
    argv = [
      'unshare',
      '--mount',
      '--propagation',
      'private',
      '/bin/sh',
      '-c',
      'mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1,workdir=$2" /etc && shift 2 && exec "$@"',
      'sh',
      upper,
      work,
      ...argv,
    ];
  }
  const result = await execa('ip', ['netns', 'exec', NS, ...argv], {
    env: cleanEnv(env),
    extendEnv: false,
    reject: false,
    timeout: 20_000,
    stdin: 'ignore',
  });
  return {
    exitCode: result.exitCode,
    signal: result.signal,
    stdout: String(result.stdout),
    stderr: String(result.stderr),
    pid: undefined,
  };
}

/** Exit 65, nothing on stdout, exactly one line on stderr, matching LINE. */
function expectRefused(result: LauncherResult, line: RegExp): void {
  expect(result.stdout).toBe('');
  expect(result.stderr.split('\n')).toHaveLength(1);
  expect(result.stderr).toMatch(line);
  expect(result.exitCode).toBe(EXIT.config);
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe("the issue's reproductions are refused: one line naming file, field and system value; nothing starts", () => {
  it('a user tails-security-check.yml with listener upgrader and isolation none', async () => {
    const m = marker();
    const u = user({
      'profiles/tails-security-check.yml': `extends: tails-security-check\n${m.yaml}listener: upgrader\nisolation: none\n`,
    });
    const line = new RegExp(
      `^tails-launch: invalid configuration: ${escape(u.file('profiles/tails-security-check.yml'))}:4: listener: ` +
        `may not change the listener of the system profile 'tails-security-check' \\(listener tails, from ${escape(join(SHIPPED_PROFILES, 'tails-security-check.yml'))}\\) to upgrader: ` +
        `remove the line, or ask the administrator$`,
    );
    expectRefused(await inNamespace(['explain', 'tails-security-check'], u.env), line);
    expectRefused(await inNamespace(['tails-security-check'], u.env), line);
    // validate says the same. (isolation none is not coarser than the system's
    // "application": the security check's own settings send no credentials either.)
    const validate = await inNamespace(['validate'], u.env);
    expect(validate.exitCode).toBe(EXIT.config);
    expect(validate.stderr).toContain(
      `tails-security-check.yml:4: listener: may not change the listener of the system profile 'tails-security-check'`,
    );

    // The control: the same file without the two lines starts (tor answers on 9062).
    write(u.file('profiles/tails-security-check.yml'), `extends: tails-security-check\n${m.yaml}`);
    const control = await inNamespace(['tails-security-check'], u.env);
    expect(control.stderr).toBe('');
    expect(control.exitCode).toBe(0);
    expect(control.stdout).toBe('started');
  });

  it('a user ssh.yml with backend env', async () => {
    const m = marker();
    const u = user({ 'profiles/ssh.yml': `extends: ssh\n${m.yaml}backend: env\n` });
    const line = new RegExp(
      `^tails-launch: invalid configuration: ${escape(u.file('profiles/ssh.yml'))}:4: backend: ` +
        `may not weaken the system profile 'ssh' \\(backend torsocks, from ${escape(join(SHIPPED_PROFILES, 'default.yml'))}\\) to env \\(allowed: torsocks\\): remove the line, or ask the administrator$`,
    );
    expectRefused(await inNamespace(['explain', 'ssh'], u.env), line);
    expectRefused(await inNamespace(['ssh'], u.env), line);
    // list shows it invalid (and exits 65), the other profiles as they are.
    const list = await inNamespace(['list'], u.env);
    expect(list.exitCode).toBe(EXIT.config);
    expect(list.stdout).toMatch(/^ssh\s+INVALID\s+.*backend: may not weaken/m);
    expect(list.stdout).toMatch(/^pidgin\s+default 127\.0\.0\.1:9050\s+application\s+own-setting/m);

    write(u.file('profiles/ssh.yml'), `extends: ssh\n${m.yaml}`);
    const control = await inNamespace(['ssh'], u.env);
    expect(control.stderr).toBe('');
    expect(control.exitCode).toBe(0);
    expect(control.stdout).toBe('started');
  });

  it('a user listeners.yml moving `tails` elsewhere: refused, and the SOCKS server it points at never hears from it', async () => {
    const u = user({
      'listeners.yml': `listeners:\n  tails:\n    address: 127.0.0.1\n    port: ${socks.port}\n`,
      // Only the command changes (allowed): curl, which would fetch through the moved listener.
      'profiles/tails-security-check.yml':
        'extends: tails-security-check\ncommand: /usr/bin/curl\nargs: [-s, http://example.test/]\n',
    });
    const line = new RegExp(
      `^tails-launch: invalid configuration: ${escape(u.file('listeners.yml'))}:2: listeners\\.tails: ` +
        `may not redefine the system listener 'tails' \\(127\\.0\\.0\\.1:9062 \\[IsolateDestAddr IsolateDestPort\\], from ${escape(SHIPPED_LISTENERS)}\\) as 127\\.0\\.0\\.1:${socks.port}: ` +
        `remove it \\(a new listener needs a new name\\), or ask the administrator$`,
    );
    const env = cleanEnv(u.env);
    expectRefused(await runLauncher(['explain', 'tails-security-check'], { env }), line);
    expectRefused(await runLauncher(['tails-security-check'], { env }), line);
    // Every profile: the configuration as a whole is invalid.
    expectRefused(await runLauncher(['default', '--', '/usr/bin/curl', '-s', 'http://example.test/'], { env }), line);
    expect(socks.records).toEqual([]);
    const validate = await runLauncher(['validate', u.file('listeners.yml')], { env });
    expectRefused(
      validate,
      new RegExp(line.source.replace('^tails-launch: invalid configuration: ', '^tails-launch: ')),
    );
    // torrc would otherwise print the moved listener as what Tor needs; doctor reports it as a FAIL.
    expectRefused(await runLauncher(['torrc'], { env }), line);
    const doctor = await runLauncher(['doctor', '--json', 'tails-security-check'], { env });
    expect(doctor.exitCode).toBe(EXIT.checkFailed);
    expect(doctor.stdout).toContain('may not redefine the system listener');

    // A NEW listener and a new profile of the user's own are fine, and launch.
    write(u.file('listeners.yml'), `listeners:\n  mine:\n    address: 127.0.0.1\n    port: ${socks.port}\n`);
    write(
      u.file('profiles/mine.yml'),
      'listener: mine\nisolation: app\nbackend: torsocks\ncommand: /usr/bin/curl\nargs: [-s, http://example.test/]\n',
    );
    const mine = await runLauncher(['mine'], { env });
    expect(mine.stderr).toBe('');
    expect(mine.stdout).toBe('ok via socks5');
    expect(mine.exitCode).toBe(0);
    expect(socks.records[0]).toMatchObject({ auth: 'userpass', password: 'tails-launch/app/mine' });
  });
});

describe('what the user layer may change', () => {
  it('description, command, args, env and a finer isolation (launch -> process): launches, and explain says which layer set what', async () => {
    const m = marker();
    const u = user({
      'profiles/ssh.yml': `extends: ssh\ndescription: my ssh\n${m.yaml}env:\n  set: { FOO: bar }\nisolation: process\n`,
    });
    const mine = u.file('profiles/ssh.yml');
    const defaults = join(SHIPPED_PROFILES, 'default.yml');
    const plan = JSON.parse((await inNamespace(['explain', '--json', 'ssh'], u.env)).stdout);
    expect(plan.isolation.mode).toBe('process');
    expect(plan.profile.description).toBe('my ssh');
    expect(plan.profile.fieldSources).toEqual({
      description: { layer: 'user', file: mine },
      command: { layer: 'user', file: mine },
      args: { layer: 'user', file: mine },
      listener: { layer: 'shipped', file: defaults },
      isolation: { layer: 'user', file: mine },
      backend: { layer: 'shipped', file: defaults },
      'env.set.FOO': { layer: 'user', file: mine },
    });
    expect(plan.listener).toMatchObject({ name: 'default', port: 9050, source: SHIPPED_LISTENERS, layer: 'shipped' });

    const text = (await inNamespace(['explain', 'ssh'], u.env)).stdout;
    expect(text).toContain(`set by      description  user     ${mine}\n`);
    expect(text).toContain(`            listener     shipped  ${defaults}\n`);
    expect(text).toContain(`            isolation    user     ${mine}\n`);
    expect(text).toContain(`            env.set.FOO  user     ${mine}\n`);
    expect(text).toContain(`  from      ${SHIPPED_LISTENERS} (shipped)\n`);

    const result = await inNamespace(['ssh'], u.env);
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe('started bar');
  });
});

describe('the administrator may allow overrides (/etc/tails-launch/listeners.yml)', () => {
  it('user_may_override: [profiles] lets a user ssh.yml use backend env; without it the launch is refused', async () => {
    const m = marker();
    const u = user({ 'profiles/ssh.yml': `extends: ssh\n${m.yaml}backend: env\n` });
    const refused = await inNamespace(['ssh'], u.env, { 'listeners.yml': 'listeners: {}\n' });
    expectRefused(refused, /ssh\.yml:4: backend: may not weaken the system profile 'ssh'/);
    const allowed = await inNamespace(['ssh'], u.env, {
      'listeners.yml': 'listeners: {}\nuser_may_override: [profiles]\n',
    });
    expect(allowed.stderr).toBe('');
    expect(allowed.exitCode).toBe(0);
    expect(allowed.stdout).toBe('started');
  });

  it('user_may_override: [listeners] lets a user listeners.yml move `tails`', async () => {
    const m = marker();
    const u = user({
      'listeners.yml': 'listeners:\n  tails: { address: 127.0.0.1, port: 9063 }\n',
      'profiles/tails-security-check.yml': `extends: tails-security-check\n${m.yaml}`,
    });
    expectRefused(
      await inNamespace(['tails-security-check'], u.env, {
        'listeners.yml': 'listeners: {}\nuser_may_override: [profiles]\n',
      }),
      /listeners\.yml:2: listeners\.tails: may not redefine the system listener 'tails'/,
    );
    const admin = { 'listeners.yml': 'listeners: {}\nuser_may_override: [listeners]\n' };
    const plan = JSON.parse((await inNamespace(['explain', '--json', 'tails-security-check'], u.env, admin)).stdout);
    expect(plan.listener).toMatchObject({ name: 'tails', port: 9063, source: u.file('listeners.yml'), layer: 'user' });
    const allowed = await inNamespace(['tails-security-check'], u.env, admin);
    expect(allowed.stderr).toBe('');
    expect(allowed.exitCode).toBe(0);
    expect(allowed.stdout).toBe('started');
  });

  it('user_may_override in the user layer grants nothing: it is an error', async () => {
    const u = user({
      'listeners.yml': 'listeners: {}\nuser_may_override: [listeners, profiles]\n',
      'profiles/ssh.yml': 'extends: ssh\nbackend: env\n',
    });
    expectRefused(
      await inNamespace(['ssh', '--', '-V'], u.env),
      new RegExp(
        `^tails-launch: invalid configuration: ${escape(u.file('listeners.yml'))}:2: user_may_override: is honoured only in the administrator's /etc/tails-launch/listeners\\.yml: remove it$`,
      ),
    );
  });
});

describe('validate FILE applies every rule a launch applies', () => {
  it('a proxychains profile without its acknowledgement is refused (a launch refuses it too)', async () => {
    const dir = tempDir('draft');
    const draft = write(join(dir, 'chains.yml'), 'extends: default\nbackend: proxychains\n');
    const u = user();
    const validate = await runLauncher(['validate', draft], { env: cleanEnv(u.env) });
    expectRefused(
      validate,
      new RegExp(`^tails-launch: ${escape(draft)}:2: backend: backend proxychains lets UDP out of Tor`),
    );
    write(draft, 'extends: default\nbackend: proxychains\nacknowledge: [udp-leak]\n');
    const fixed = await runLauncher(['validate', draft], { env: cleanEnv(u.env) });
    expect(fixed.stderr).toBe('');
    expect(fixed.stdout).toBe('1 file valid');
  });

  it('a user file, and a draft named like a system profile, are checked against the system profile', async () => {
    const u = user({ 'profiles/ssh.yml': 'extends: ssh\nbackend: env\n' });
    const env = cleanEnv(u.env);
    expectRefused(
      await runLauncher(['validate', u.file('profiles/ssh.yml')], { env }),
      /ssh\.yml:2: backend: may not weaken the system profile 'ssh' \(backend torsocks/,
    );
    const draft = write(join(tempDir('draft'), 'electrum.yml'), 'extends: electrum\nisolation: none\n');
    expectRefused(
      await runLauncher(['validate', draft], { env }),
      /electrum\.yml:2: isolation: may not weaken the system profile 'electrum' \(isolation app/,
    );
    // With --config-dir there is one layer: nothing to compare.
    const dir = tempDir('config');
    write(join(dir, 'listeners.yml'), readFileSync(SHIPPED_LISTENERS, 'utf8'));
    write(join(dir, 'profiles', 'default.yml'), 'listener: default\nisolation: launch\nbackend: torsocks\n');
    const lone = write(join(dir, 'profiles', 'ssh.yml'), 'extends: default\nbackend: env\n');
    const result = await runLauncher(['--config-dir', dir, 'validate', lone], { env });
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('1 file valid');
  });
});
