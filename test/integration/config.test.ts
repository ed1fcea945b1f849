// Configuration layering and loading, through the built launcher.
//
// Without --config-dir the dev build's shipped layer is the checkout itself
// (scripts/build.mjs), then /etc/tails-launch, then the user layer
// ($XDG_CONFIG_HOME/tails-launch, else $HOME/.config/tails-launch). Files are
// data only: nothing in the current directory is ever read or executed, and
// a deleted current directory does not stop a launch.
import { cpSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { cleanEnv, LAUNCHER, makeConfigDir, ROOT, runLauncher } from '../support/launcher';
import { useSocks5Server, useTempDirs } from '../support/fixtures';
import { startSocks5Server, type Socks5Server } from '../support/socks5-server';
import { EXIT } from '../support/expected';

const SHIPPED_PROFILES = join(ROOT, 'profiles');
const SHIPPED_LISTENERS = join(ROOT, 'listeners.yml');
const DEFAULT_PROFILE = 'listener: default\nisolation: launch\nbackend: torsocks\n';

const socks = useSocks5Server();
const { make: tempDir, track } = useTempDirs();

function write(file: string, text: string): string {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
  return file;
}

/** A config dir whose `default` listener is the test SOCKS server. */
function socksConfig(profiles: Record<string, string> = { default: DEFAULT_PROFILE }): string {
  const dir = makeConfigDir({ default: { port: socks.port } }, profiles);
  track(dir);
  return dir;
}

/** A fake $HOME with XDG_CONFIG_HOME=<home>/xdg; `user` is the user layer's directory. */
function fakeHome(): { home: string; user: string; env: Record<string, string> } {
  const home = tempDir('home');
  return { home, user: join(home, 'xdg', 'tails-launch'), env: { HOME: home, XDG_CONFIG_HOME: join(home, 'xdg') } };
}

async function explainJson(args: string[], env: Record<string, string>, cwd?: string) {
  const result = await runLauncher(['explain', '--json', ...args], { env: cleanEnv(env), ...(cwd ? { cwd } : {}) });
  expect(result.stderr).toBe('');
  expect(result.exitCode).toBe(0);
  return JSON.parse(result.stdout);
}

describe('layers', () => {
  it('a user profile extending its own name sits on top of the shipped one', async () => {
    const { user, env } = fakeHome();
    const mine = write(join(user, 'profiles', 'ssh.yml'), 'extends: ssh\nisolation: process\n');
    const plan = await explainJson(['ssh'], env);
    expect(plan.profile.sources).toEqual([
      mine,
      join(SHIPPED_PROFILES, 'ssh.yml'),
      join(SHIPPED_PROFILES, 'default.yml'),
    ]);
    expect(plan.isolation.mode).toBe('process');
    expect(plan.exec.argv[0]).toBe('/usr/bin/ssh');
  });

  it('without a user layer, the shipped ssh profile is used as is', async () => {
    const { env } = fakeHome();
    const plan = await explainJson(['ssh'], env);
    expect(plan.profile.sources).toEqual([join(SHIPPED_PROFILES, 'ssh.yml'), join(SHIPPED_PROFILES, 'default.yml')]);
    expect(plan.isolation.mode).toBe('launch');
  });

  it('a user listeners.yml adds a listener next to the shipped ones (redefining one is refused: user-layer.test.ts)', async () => {
    const { user, env } = fakeHome();
    const mine = write(join(user, 'listeners.yml'), 'listeners:\n  mine:\n    address: 127.0.0.1\n    port: 19050\n');
    write(join(user, 'profiles', 'mine.yml'), 'listener: mine\nisolation: launch\nbackend: torsocks\n');
    const plan = await explainJson(['mine', '--', '/bin/true'], env);
    expect(plan.listener).toMatchObject({ name: 'mine', source: mine, layer: 'user', port: 19050, flags: [] });
    const tails = await explainJson(['tails-security-check'], env);
    expect(tails.listener).toMatchObject({ name: 'tails', source: SHIPPED_LISTENERS, port: 9062 });
  });

  it('a relative XDG_CONFIG_HOME is ignored: $HOME/.config is used', async () => {
    const { home } = fakeHome();
    const fromHome = write(
      join(home, '.config', 'tails-launch', 'profiles', 'ssh.yml'),
      'extends: ssh\nisolation: process\n',
    );
    write(join(home, 'xdg', 'tails-launch', 'profiles', 'ssh.yml'), 'extends: ssh\nisolation: none\n');
    // Relative to the cwd, `xdg` would name the second file: it must not be used.
    const plan = await explainJson(['ssh'], { HOME: home, XDG_CONFIG_HOME: 'xdg' }, home);
    expect(plan.profile.sources[0]).toBe(fromHome);
    expect(plan.isolation.mode).toBe('process');
  });

  it('--config-dir ignores the user layer (and the shipped one)', async () => {
    const { user, env } = fakeHome();
    write(join(user, 'profiles', 'default.yml'), 'extends: default\nisolation: none\n');
    write(join(user, 'listeners.yml'), 'listeners:\n  default:\n    address: 127.0.0.1\n    port: 19050\n');
    const dir = socksConfig();
    const plan = await explainJson(['--config-dir', dir, 'default', '--', '/bin/true'], env);
    expect(plan.profile.sources).toEqual([join(dir, 'profiles', 'default.yml')]);
    expect(plan.listener).toMatchObject({ source: join(dir, 'listeners.yml'), port: socks.port });
    expect(plan.isolation.mode).toBe('launch');
    const pidgin = await runLauncher(['--config-dir', dir, 'explain', 'pidgin'], { env: cleanEnv(env) });
    expect(pidgin.exitCode).toBe(EXIT.unknownProfile);
  });
});

describe('hostile current directory', () => {
  let decoy: Socks5Server;
  let cwd: string;
  let markers: string[];

  beforeAll(async () => {
    decoy = await startSocks5Server();
    cwd = tempDir('hostile-cwd');
    markers = [join(cwd, 'cjs-executed'), join(cwd, 'mjs-executed'), join(cwd, 'js-executed')];
    write(
      join(cwd, '.config', 'config.cjs'),
      `require('fs').writeFileSync(${JSON.stringify(markers[0])}, 'x'); module.exports = {};\n`,
    );
    write(
      join(cwd, '.config', 'config.mjs'),
      `import { writeFileSync } from 'node:fs'; writeFileSync(${JSON.stringify(markers[1])}, 'x'); export default {};\n`,
    );
    write(
      join(cwd, '.config', 'config.js'),
      `require('fs').writeFileSync(${JSON.stringify(markers[2])}, 'x'); module.exports = {};\n`,
    );
    write(join(cwd, 'package.json'), '{ "name": "hostile", "tails-launch": { \n');
    write(
      join(cwd, 'package.yaml'),
      `tails-launch:\n  listeners:\n    default: { address: 127.0.0.1, port: ${decoy.port} }\n`,
    );
    write(
      join(cwd, '.tails-launchrc.json'),
      `{ "listeners": { "default": { "address": "127.0.0.1", "port": ${decoy.port} } } }\n`,
    );
    write(join(cwd, 'listeners.yml'), `listeners:\n  default:\n    address: 127.0.0.1\n    port: ${decoy.port}\n`);
    write(join(cwd, 'profiles', 'default.yml'), 'listener: default\nisolation: none\nbackend: env\n');
    write(join(cwd, 'proxychains.conf'), `strict_chain\n[ProxyList]\nsocks5 127.0.0.1 ${decoy.port}\n`);
  });
  beforeEach(() => decoy.clear());
  afterAll(() => decoy.close());

  function expectUntouched(): void {
    for (const marker of markers) expect(existsSync(marker), `${marker} was executed`).toBe(false);
    expect(decoy.records).toEqual([]);
  }

  it('launches as configured with --config-dir, reading and executing nothing from the cwd', async () => {
    const result = await runLauncher(
      ['--config-dir', socksConfig(), 'default', '--', '/usr/bin/curl', '-s', 'http://example.test/'],
      { cwd },
    );
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe('ok via socks5');
    expect(socks.records.length).toBeGreaterThan(0);
    expect(
      socks.records.every((r) => r.auth === 'userpass' && r.password?.startsWith('tails-launch/launch/default/')),
    ).toBe(true);
    expectUntouched();
  });

  it('launches through the user layer (no --config-dir), reading and executing nothing from the cwd', async () => {
    const { user, env } = fakeHome();
    // A listener and a profile of the user's own (the user layer may add, not redefine).
    write(join(user, 'listeners.yml'), `listeners:\n  mine:\n    address: 127.0.0.1\n    port: ${socks.port}\n`);
    write(join(user, 'profiles', 'mine.yml'), 'listener: mine\nisolation: launch\nbackend: torsocks\n');
    const result = await runLauncher(['mine', '--', '/usr/bin/curl', '-s', 'http://example.test/'], {
      cwd,
      env: cleanEnv(env),
    });
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe('ok via socks5');
    expect(socks.records.length).toBeGreaterThan(0);
    expectUntouched();
  });

  it('explain, list and validate read nothing from the cwd either', async () => {
    const dir = socksConfig();
    const plan = await explainJson(['--config-dir', dir, 'default', '--', '/bin/true'], {}, cwd);
    expect(plan.listener.port).toBe(socks.port);
    expect(plan.backend).toBe('torsocks');
    const list = await runLauncher(['--config-dir', dir, 'list', '--json'], { cwd });
    expect(list.exitCode).toBe(0);
    expect(JSON.parse(list.stdout).map((p: { name: string }) => p.name)).toEqual(['default']);
    const validate = await runLauncher(['--config-dir', dir, 'validate'], { cwd });
    expect(validate.exitCode).toBe(0);
    expectUntouched();
  });
});

describe('deleted current directory', () => {
  it("launches `/bin/sh -c 'echo started'` from a directory that was removed", async () => {
    const dir = tempDir('deleted-cwd');
    const config = socksConfig();
    const result = await execa(
      '/bin/sh',
      [
        '-c',
        'cd "$1" && rmdir "$1" && shift && exec "$@"',
        'sh',
        dir,
        LAUNCHER,
        '--config-dir',
        config,
        'default',
        '--',
        '/bin/sh',
        '-c',
        'echo started',
      ],
      { reject: false, extendEnv: false, env: cleanEnv(), cwd: '/', stdin: 'ignore', timeout: 20_000 },
    );
    expect(existsSync(dir)).toBe(false);
    // dash itself warns "sh: 0: getcwd() failed" when started in a deleted directory; tails-launch must say nothing.
    expect(String(result.stderr)).not.toMatch(/tails-launch:/);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe('started');
  });
});

describe('file formats', () => {
  it('reads a .yaml profile', async () => {
    const dir = socksConfig();
    const file = write(join(dir, 'profiles', 'yamlish.yaml'), 'extends: default\nisolation: app\n');
    const plan = await explainJson(['--config-dir', dir, 'yamlish', '--', '/bin/true'], {});
    expect(plan.profile.sources).toEqual([file, join(dir, 'profiles', 'default.yml')]);
    expect(plan.isolation.socks.password).toBe('tails-launch/app/yamlish');
  });

  it('reads a .json profile and launches with it', async () => {
    const dir = socksConfig();
    const file = write(
      join(dir, 'profiles', 'jsonish.json'),
      '{ "extends": "default", "isolation": "app", "backend": "env" }\n',
    );
    const plan = await explainJson(['--config-dir', dir, 'jsonish', '--', '/bin/true'], {});
    expect(plan.profile.sources[0]).toBe(file);
    expect(plan.backend).toBe('env');
    const result = await runLauncher([
      '--config-dir',
      dir,
      'jsonish',
      '--',
      '/usr/bin/curl',
      '-s',
      'http://example.test/',
    ]);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe('ok via socks5');
    expect(socks.records[0]).toMatchObject({
      auth: 'userpass',
      username: '<torS0X>0',
      password: 'tails-launch/app/jsonish',
    });
  });

  it('reads a listeners.yml-only directory with a .json profile that sets everything', async () => {
    const dir = socksConfig({});
    write(
      join(dir, 'profiles', 'solo.json'),
      '{ "listener": "default", "isolation": "none", "backend": "torsocks", "command": "/bin/echo", "args": ["from", "json"] }\n',
    );
    const result = await runLauncher(['--config-dir', dir, 'solo', 'and', 'argv']);
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe('from json and argv');
  });

  it('treats an empty profile file as an empty mapping: it sets no listener', async () => {
    const dir = socksConfig();
    const file = write(join(dir, 'profiles', 'blank.yml'), '');
    const result = await runLauncher(['--config-dir', dir, 'blank', '--', '/bin/true']);
    expect(result.exitCode).toBe(EXIT.config);
    expect(result.stderr).toMatch(new RegExp(`^tails-launch: invalid configuration: ${file}.*sets no listener`));
    expect(result.stderr.split('\n')).toHaveLength(1);
  });

  it('names the line of a JSON syntax error', async () => {
    const dir = socksConfig();
    const file = write(
      join(dir, 'profiles', 'broken.json'),
      '{\n  "extends": "default",\n  "isolation": "app"\n  "backend": "env"\n}\n',
    );
    const result = await runLauncher(['--config-dir', dir, 'broken', '--', '/bin/true']);
    expect(result.exitCode).toBe(EXIT.config);
    expect(result.stderr.split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(new RegExp(`^tails-launch: invalid configuration: ${file}:4: syntax error: \\w`));
  });

  it('copies of the shipped configuration resolve the same as the shipped layer', async () => {
    const dir = tempDir('copy');
    cpSync(SHIPPED_PROFILES, join(dir, 'profiles'), { recursive: true });
    cpSync(SHIPPED_LISTENERS, join(dir, 'listeners.yml'));
    const { env } = fakeHome();
    const shipped = await explainJson(['thunderbird'], env);
    const copied = await explainJson(['--config-dir', dir, 'thunderbird'], env);
    expect(copied.listener).toEqual({ ...shipped.listener, source: join(dir, 'listeners.yml'), layer: 'config-dir' });
    expect(copied.isolation).toEqual(shipped.isolation);
    expect(copied.exec.argv).toEqual(shipped.exec.argv);
  });
});

describe('unreadable files', () => {
  it('reports a user profile that is a directory as invalid configuration, not as missing', async () => {
    const { user, env } = fakeHome();
    mkdirSync(join(user, 'profiles', 'pidgin.yml'), { recursive: true });
    const result = await runLauncher(['explain', 'pidgin'], { env: cleanEnv(env) });
    expect(result.exitCode).toBe(EXIT.config);
    expect(result.stderr).toBe(
      `tails-launch: invalid configuration: ${join(user, 'profiles', 'pidgin.yml')}: is not a regular file (a directory)`,
    );
  });

  // More hostile files (FIFOs, devices, huge files, alias bombs, untrusted layers, EACCES): config-hostile.test.ts.
});
