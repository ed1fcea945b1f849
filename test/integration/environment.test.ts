// The application's environment, as the application itself sees it:
// /usr/bin/env run through the built launcher (under real torsocks, or
// directly for the env backend). env makes no connection; the SOCKS server is
// there for the launcher's preflight handshake (and for the curl launches).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CURL, USERNAME, LAUNCH_KEY } from '../support/expected';
import { cleanEnv, makeConfigDir, ROOT, runLauncher } from '../support/launcher';
import { startSocks5Server, type Socks5Server } from '../support/socks5-server';

const ENV = '/usr/bin/env';
const TORSOCKS = '/usr/bin/torsocks';
const TARGET = 'http://example.test/';
/** The launcher's own torsocks.conf, copied next to the bundle by scripts/build.mjs. */
const OWN_TORSOCKS_CONF = join(ROOT, 'dist', 'torsocks.conf');

/** What a caller might export that could route the app around its profile: all must vanish. */
const HOSTILE: Record<string, string> = {
  http_proxy: 'http://inherited.invalid:3128',
  HTTPS_PROXY: 'http://inherited.invalid:3128',
  Https_Proxy: 'http://inherited.invalid:3128',
  no_proxy: 'inherited.invalid,example.test',
  ALL_PROXY: 'socks5h://inherited.invalid:1080',
  SOCKS_SERVER: 'inherited.invalid:1080',
  TORSOCKS_PASSWORD: 'inherited',
  TORSOCKS_ISOLATE_PID: '1',
  PROXYCHAINS_CONF_FILE: '/inherited/proxychains.conf',
  TOR_TRANSPROXY: '1',
  TOR_SOCKS_PORT: '1',
};
const INNOCENT = { FOO: 'bar' };

const PROFILES: Record<string, string> = {
  torsocks: 'listener: default\nisolation: launch\nbackend: torsocks\n',
  env: 'listener: default\nisolation: launch\nbackend: env\n',
  'torsocks-tweaks': [
    'listener: default\nisolation: launch\nbackend: torsocks',
    'env:\n  set:\n    GREETING: hello world\n    EMPTY: ""\n  unset: [FOO]\n',
  ].join('\n'),
  'env-tweaks': [
    'listener: default\nisolation: launch\nbackend: env',
    'env:\n  set:\n    GREETING: hello world\n  unset: [FOO, LANG]\n',
  ].join('\n'),
};

let server: Socks5Server;
let configDir: string;
let home: string;
/** A Whonix-style system torsocks.conf: with credentials, torsocks 2.4 exits 1 on it. */
let isolatePidConf: string;

beforeAll(async () => {
  server = await startSocks5Server();
  configDir = makeConfigDir({ default: { port: server.port } }, PROFILES);
  home = mkdtempSync(join(tmpdir(), 'tails-launch-home-'));
  isolatePidConf = join(home, 'torsocks.conf');
  writeFileSync(
    isolatePidConf,
    'TorAddress 127.0.0.1\nTorPort 9050\nOnionAddrRange 127.42.42.0/24\nAllowInbound 0\nAllowOutboundLocalhost 0\nIsolatePID 1\n',
  );
});

afterAll(async () => {
  await server?.close();
  for (const dir of [configDir, home]) if (dir) rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => server.clear());

/** The caller's environment: clean, plus EXTRA. */
const callerEnv = (extra: Record<string, string> = {}) => cleanEnv({ HOME: home, XDG_CONFIG_HOME: home, ...extra });

/** Runs PROFILE -- COMMAND through the launcher with the caller's environment ENV. */
function launch(profile: string, command: string[], env: Record<string, string>) {
  return runLauncher(['--config-dir', configDir, profile, '--', ...command], { env });
}

/** The environment /usr/bin/env prints when launched through PROFILE. */
async function appEnvironment(profile: string, inherited: Record<string, string>): Promise<Record<string, string>> {
  const result = await launch(profile, [ENV], callerEnv(inherited));
  expect(result.stderr).toBe('');
  expect(result.exitCode).toBe(0);
  const env: Record<string, string> = {};
  for (const line of result.stdout.split('\n')) {
    const eq = line.indexOf('=');
    expect(eq, `env line ${JSON.stringify(line)}`).toBeGreaterThan(0);
    env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return env;
}

/** The names that steer where traffic goes (proxy, SOCKS, Tor, torsocks, preload), as the app sees them. */
function routingVariables(env: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter(([name]) => /proxy|socks|^tor_|^ld_/i.test(name)));
}

/**
 * The caller's own, harmless variables: they must pass through unchanged.
 * PWD is added by bin/tails-launch's /bin/sh front (dash exports it), as by
 * any shell that would start the app.
 */
const PASSED_THROUGH = () => ({ ...callerEnv(), ...INNOCENT, PWD: process.cwd() });

describe('inherited proxy variables', () => {
  it('under torsocks: the app sees only the backend variables, and FOO', async () => {
    const env = await appEnvironment('torsocks', { ...HOSTILE, ...INNOCENT });
    expect(Object.values(env).filter((v) => v.includes('inherited'))).toEqual([]);
    expect(routingVariables(env)).toEqual({
      TORSOCKS_TOR_ADDRESS: '127.0.0.1',
      TORSOCKS_TOR_PORT: String(server.port),
      TORSOCKS_CONF_FILE: OWN_TORSOCKS_CONF,
      TORSOCKS_ISOLATE_PID: '0',
      TORSOCKS_USERNAME: USERNAME,
      TORSOCKS_PASSWORD: expect.stringMatching(LAUNCH_KEY('torsocks')),
      // Added by the torsocks script itself.
      LD_PRELOAD: expect.stringMatching(/libtorsocks\.so/),
    });
    // Everything else is exactly what the caller passed: FOO, PATH, HOME, ...
    const rest = Object.fromEntries(Object.entries(env).filter(([name]) => !(name in routingVariables(env))));
    expect(rest).toEqual(PASSED_THROUGH());
  });

  it('under the env backend: the app sees only socks5h proxy variables for the listener, and FOO', async () => {
    const env = await appEnvironment('env', { ...HOSTILE, ...INNOCENT });
    expect(Object.values(env).filter((v) => v.includes('inherited'))).toEqual([]);
    const url = env.ALL_PROXY!;
    const parsed = new URL(url);
    expect(parsed.protocol).toBe('socks5h:');
    expect(`${parsed.hostname}:${parsed.port}`).toBe(`127.0.0.1:${server.port}`);
    expect(decodeURIComponent(parsed.username)).toBe(USERNAME);
    expect(decodeURIComponent(parsed.password)).toMatch(LAUNCH_KEY('env'));
    const hostPort = `127.0.0.1:${server.port}`;
    expect(routingVariables(env)).toEqual({
      ALL_PROXY: url,
      all_proxy: url,
      http_proxy: url,
      https_proxy: url,
      HTTPS_PROXY: url,
      SOCKS_SERVER: hostPort,
      SOCKS5_SERVER: hostPort,
      TOR_SOCKS_HOST: '127.0.0.1',
      TOR_SOCKS_PORT: String(server.port),
    });
    const rest = Object.fromEntries(Object.entries(env).filter(([name]) => !(name in routingVariables(env))));
    // env is jailed (no host firewall declared here): the jail starts in HOME (the working directory is
    // not among its files), and bubblewrap says so in PWD.
    expect(rest).toEqual({ ...PASSED_THROUGH(), PWD: home });
  });
});

describe('a jailed application (env, no host firewall declared) gets no door to the session', () => {
  it('the session bus, X11, ssh-agent, the keyring and the sound server variables are removed; the rest passes', async () => {
    const doors = {
      DBUS_SESSION_BUS_ADDRESS: 'unix:path=/run/user/0/bus',
      DISPLAY: ':0',
      XAUTHORITY: '/root/.Xauthority',
      SSH_AUTH_SOCK: '/run/user/0/ssh-agent',
      GNOME_KEYRING_CONTROL: '/run/user/0/keyring',
      PULSE_SERVER: 'unix:/run/user/0/pulse/native',
      SESSION_MANAGER: 'local/host:@/tmp/.ICE-unix/1',
      AT_SPI_BUS_ADDRESS: 'unix:path=/run/user/0/at-spi/bus',
    };
    const env = await appEnvironment('env', { ...doors, ...INNOCENT });
    for (const name of Object.keys(doors)) expect(env[name], name).toBeUndefined();
    expect(env.FOO).toBe('bar');
    // Control: unjailed (torsocks), the same variables reach the application.
    const free = await appEnvironment('torsocks', { ...doors, ...INNOCENT });
    expect(free.DBUS_SESSION_BUS_ADDRESS).toBe(doors.DBUS_SESSION_BUS_ADDRESS);
  });
});

describe("a profile's env.set and env.unset", () => {
  it('take effect under torsocks', async () => {
    const env = await appEnvironment('torsocks-tweaks', INNOCENT);
    expect(env.GREETING).toBe('hello world');
    expect(env.EMPTY).toBe('');
    expect(env).not.toHaveProperty('FOO');
    expect(env.LANG).toBe('C.UTF-8');
    expect(env.TORSOCKS_TOR_PORT).toBe(String(server.port));
  });

  it('take effect under the env backend', async () => {
    const env = await appEnvironment('env-tweaks', INNOCENT);
    expect(env.GREETING).toBe('hello world');
    expect(env).not.toHaveProperty('FOO');
    expect(env).not.toHaveProperty('LANG');
    expect(env.SOCKS_SERVER).toBe(`127.0.0.1:${server.port}`);
  });
});

describe('a system torsocks.conf with IsolatePID 1', () => {
  it('breaks plain torsocks with credentials (the hazard is real)', async () => {
    const result = await execa(TORSOCKS, [CURL, '-s', TARGET], {
      env: callerEnv({
        TORSOCKS_CONF_FILE: isolatePidConf,
        TORSOCKS_TOR_PORT: String(server.port),
        TORSOCKS_USERNAME: USERNAME,
        TORSOCKS_PASSWORD: 'x',
      }),
      extendEnv: false,
      reject: false,
      timeout: 15_000,
    });
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe('');
    expect(server.records).toEqual([]);
  });

  it("cannot break a launch: the launcher's own TORSOCKS_CONF_FILE wins over the inherited one", async () => {
    const hostile = { TORSOCKS_CONF_FILE: isolatePidConf, TORSOCKS_ISOLATE_PID: '1' };
    const result = await launch('torsocks', [CURL, '-s', TARGET], callerEnv(hostile));
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('ok via socks5');
    expect(result.exitCode).toBe(0);
    const records = await server.waitForRecords(2);
    for (const r of records) {
      expect(r.username).toBe(USERNAME);
      expect(r.password).toMatch(LAUNCH_KEY('torsocks'));
    }
  });

  it('is replaced by the launcher-owned file in the app environment', async () => {
    const env = await appEnvironment('torsocks', { TORSOCKS_CONF_FILE: isolatePidConf });
    expect(env.TORSOCKS_CONF_FILE).toBe(OWN_TORSOCKS_CONF);
    const own = readFileSync(OWN_TORSOCKS_CONF, 'utf8');
    expect(own).not.toMatch(/^\s*IsolatePID\s+1/m);
    // torsocks 2.4 exits 1 on an empty config file.
    expect(own.replace(/#.*$/gm, '').trim()).not.toBe('');
  });
});
