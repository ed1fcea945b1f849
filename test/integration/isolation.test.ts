// Isolation modes as Tor would see them: the SOCKS5 credentials that real
// curl (under real torsocks, or told by ALL_PROXY) sends through the built
// launcher to a test SOCKS5 server on loopback. Tor puts two streams on one
// circuit only when username AND password are byte-equal, so "same group"
// means equal credentials and "different group" means different ones.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CURL, URL, BODY, USERNAME, METHOD_NONE, METHOD_USERPASS, LAUNCH_KEY, EXIT } from '../support/expected';
import { cleanEnv, makeConfigDir, runLauncher } from '../support/launcher';
import { startSocks5Server, type Socks5Server, type SocksRequestRecord } from '../support/socks5-server';

/** Profiles without a command: the first argument is the program (as the shipped `default`). */
const PROFILES: Record<string, string> = {
  'iso-launch': 'listener: default\nisolation: launch\nbackend: torsocks\n',
  'iso-app': 'listener: default\nisolation: app\nbackend: torsocks\n',
  'iso-process': 'listener: default\nisolation: process\nbackend: torsocks\n',
  'iso-none': 'listener: default\nisolation: none\nbackend: torsocks\n',
  'env-launch': 'listener: default\nisolation: launch\nbackend: env\n',
  'env-none': 'listener: default\nisolation: none\nbackend: env\n',
  'env-app': 'listener: default\nisolation: app\nbackend: env\n',
};

let server: Socks5Server;
let configDir: string;
let home: string;

beforeAll(async () => {
  server = await startSocks5Server();
  configDir = makeConfigDir({ default: { port: server.port } }, PROFILES);
  home = mkdtempSync(join(tmpdir(), 'tails-launch-home-'));
});

afterAll(async () => {
  await server?.close();
  for (const dir of [configDir, home]) if (dir) rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => server.clear());

/** Runs PROFILE -- COMMAND through the launcher; HOME is empty, so no ~/.curlrc. */
function launch(profile: string, command: string[], identity?: string) {
  const options = identity === undefined ? [] : ['--identity', identity];
  return runLauncher(['--config-dir', configDir, ...options, profile, '--', ...command], {
    env: cleanEnv({ HOME: home, XDG_CONFIG_HOME: home }),
  });
}

/** One successful launch running COMMAND; returns the SOCKS requests it made (expected: COUNT). */
async function requestsOf(
  profile: string,
  command: string[],
  count: number,
  identity?: string,
): Promise<SocksRequestRecord[]> {
  server.clear();
  const result = await launch(profile, command, identity);
  expect(result.stderr).toBe('');
  expect(result.exitCode).toBe(0);
  expect(result.stdout).toBe(command[0] === CURL ? BODY : `${BODY}\n${BODY}`);
  const records = await server.waitForRecords(count);
  expect(records).toHaveLength(count);
  return records;
}

const curlOnce = [CURL, '-s', URL];
/** Two curls, children of one shell, in one launch. */
const curlTwiceInOneShell = ['/bin/sh', '-c', `${CURL} -s ${URL}; ${CURL} -s ${URL}`];

/** torsocks: RESOLVE + CONNECT per curl. */
const fetchOnce = (profile: string, identity?: string) => requestsOf(profile, curlOnce, 2, identity);
const fetchTwice = (profile: string) => requestsOf(profile, curlTwiceInOneShell, 4);

/** The distinct credentials among RECORDS, as "username password". */
const credentials = (records: SocksRequestRecord[]) => [...new Set(records.map((r) => `${r.username} ${r.password}`))];

/** The one password all RECORDS share. */
function sharedPassword(records: SocksRequestRecord[]): string {
  expect(records.every((r) => r.auth === 'userpass' && r.username === USERNAME)).toBe(true);
  expect(credentials(records)).toHaveLength(1);
  return records[0]!.password!;
}

describe('isolation launch (torsocks)', () => {
  it('gives two launches different random passwords', async () => {
    const first = sharedPassword(await fetchOnce('iso-launch'));
    const second = sharedPassword(await fetchOnce('iso-launch'));
    expect(first).toMatch(LAUNCH_KEY('iso-launch'));
    expect(second).toMatch(LAUNCH_KEY('iso-launch'));
    expect(second).not.toBe(first);
  });

  it('gives child processes of one launch the same credentials', async () => {
    const records = await fetchTwice('iso-launch');
    expect(records.filter((r) => r.command === 'connect')).toHaveLength(2);
    expect(sharedPassword(records)).toMatch(LAUNCH_KEY('iso-launch'));
  });
});

describe('isolation app (torsocks)', () => {
  it('gives two launches the same fixed password', async () => {
    const first = sharedPassword(await fetchOnce('iso-app'));
    const second = sharedPassword(await fetchOnce('iso-app'));
    expect(first).toBe('tails-launch/app/iso-app');
    expect(second).toBe(first);
  });

  it('gives --identity alice, --identity bob and no identity three different passwords', async () => {
    const alice = sharedPassword(await fetchOnce('iso-app', 'alice'));
    const bob = sharedPassword(await fetchOnce('iso-app', 'bob'));
    const nobody = sharedPassword(await fetchOnce('iso-app'));
    expect([alice, bob, nobody]).toEqual([
      'tails-launch/app/iso-app/identity/alice',
      'tails-launch/app/iso-app/identity/bob',
      'tails-launch/app/iso-app',
    ]);
  });

  it('gives --identity alice the same password on every launch', async () => {
    const first = sharedPassword(await fetchOnce('iso-app', 'alice'));
    const second = sharedPassword(await fetchOnce('iso-app', 'alice'));
    expect(second).toBe(first);
  });
});

describe('isolation process (torsocks --isolate)', () => {
  it('gives each process of one launch its own torsocks-<pid>:<time> username, password 0', async () => {
    const records = await fetchTwice('iso-process');
    const users = [...new Set(records.map((r) => r.username))];
    expect(users).toHaveLength(2);
    for (const user of users) {
      expect(user).toMatch(/^torsocks-\d+:\d+$/);
      // Both requests of one curl (RESOLVE, CONNECT) come from one process.
      expect(records.filter((r) => r.username === user).map((r) => r.command)).toEqual(['resolve', 'connect']);
    }
    const pids = users.map((u) => u!.slice('torsocks-'.length).split(':')[0]);
    expect(pids[0]).not.toBe(pids[1]);
    expect(records.every((r) => r.auth === 'userpass' && r.password === '0')).toBe(true);
  });
});

describe('isolation none (torsocks)', () => {
  it('sends no SOCKS authentication at all', async () => {
    const records = await fetchOnce('iso-none');
    for (const r of records) {
      expect(r.auth).toBe('none');
      expect(r.offeredMethods).toEqual([METHOD_NONE]);
      expect(r.username).toBeUndefined();
    }
  });

  it('refuses --identity with exit 64 before any connection', async () => {
    const result = await launch('iso-none', curlOnce, 'alice');
    expect(result.exitCode).toBe(EXIT.usage);
    expect(result.stdout).toBe('');
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(
      /^tails-launch: --identity cannot be honoured: profile 'iso-none' uses isolation "none"/,
    );
    expect(server.records).toEqual([]);
  });
});

describe('backend env (curl told by ALL_PROXY)', () => {
  it('with isolation launch, curl sends <torS0X>0 and the launch key, and the hostname', async () => {
    const records = await requestsOf('env-launch', curlOnce, 1);
    expect(records[0]).toMatchObject({
      command: 'connect',
      addressType: 'domain',
      host: 'example.test',
      port: 80,
      auth: 'userpass',
    });
    expect(records[0]!.offeredMethods).toContain(METHOD_USERPASS);
    expect(sharedPassword(records)).toMatch(LAUNCH_KEY('env-launch'));
  });

  it('with isolation launch, two launches get different passwords', async () => {
    const first = sharedPassword(await requestsOf('env-launch', curlOnce, 1));
    const second = sharedPassword(await requestsOf('env-launch', curlOnce, 1));
    expect(second).not.toBe(first);
  });

  it('with isolation app, an account-like --identity survives the proxy URL byte for byte', async () => {
    const records = await requestsOf('env-app', curlOnce, 1, 'al+ice@example.org');
    expect(sharedPassword(records)).toBe('tails-launch/app/env-app/identity/al+ice@example.org');
  });

  it('with isolation none, curl sends no SOCKS authentication', async () => {
    const records = await requestsOf('env-none', curlOnce, 1);
    expect(records[0]).toMatchObject({ command: 'connect', host: 'example.test', port: 80, auth: 'none' });
    expect(records[0]!.offeredMethods).not.toContain(METHOD_USERPASS);
    expect(records[0]!.username).toBeUndefined();
  });
});
