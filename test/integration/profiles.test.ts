// Every shipped profile, end to end: the real built launcher, real torsocks
// and real curl, each listener played by its own test SOCKS5 server on
// loopback. The profile under test has its command replaced by curl; the
// other profiles are copied as shipped, so `extends` resolves as it would.
// Profiles are discovered from profiles/, so a new one is covered as it lands.
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { CURL, URL, BODY, USERNAME, METHOD_NONE, METHOD_USERPASS, EXIT } from '../support/expected';
import { cleanEnv, makeConfigDir, ROOT, runLauncher, SHIPPED_PROFILES, type ListenerSpec } from '../support/launcher';
import { startSocks5Server, type Socks5Server, type SocksRequestRecord } from '../support/socks5-server';

interface ProfileFields {
  extends?: string;
  command?: string;
  args?: string[];
  listener?: string;
  isolation?: 'app' | 'launch' | 'process' | 'none' | 'application';
  backend?: 'torsocks' | 'env' | 'own-setting';
  netns?: string;
  user?: string;
  connects_as?: string;
  env?: { set?: Record<string, string>; unset?: string[]; keep?: string[] };
}

/**
 * The stand-in for an own-setting program (test/fixtures/standins/own-setting.py):
 * it connects to its SOCKS proxy itself, from the proxy arguments the profile
 * hands it, or else from "its own settings" (STANDIN_OWN_SETTINGS, as Tails'
 * prefs: the listener's port, no credentials), and fetches STANDIN_TARGET.
 */
const STANDIN = join(ROOT, 'test/fixtures/standins/own-setting.py');

/** The shipped profiles, by name, as parsed YAML. */
const SHIPPED: Map<string, ProfileFields> = new Map(
  readdirSync(SHIPPED_PROFILES)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => [
      f.replace(/\.ya?ml$/, ''),
      YAML.parse(readFileSync(join(SHIPPED_PROFILES, f), 'utf8')) as ProfileFields,
    ]),
);

/** The shipped listeners.yml, as parsed YAML. */
const SHIPPED_LISTENERS = (
  YAML.parse(readFileSync(join(ROOT, 'listeners.yml'), 'utf8')) as { listeners: Record<string, ListenerSpec> }
).listeners;

/** Our own reading of the `extends` chain (child fields win), independent of the launcher's. */
function resolveFields(
  name: string,
): Required<Pick<ProfileFields, 'listener' | 'isolation' | 'backend'>> & ProfileFields {
  const own = SHIPPED.get(name);
  if (!own) throw new Error(`no shipped profile ${name}`);
  const merged = own.extends === undefined ? own : { ...resolveFields(own.extends), ...own };
  return merged as ReturnType<typeof resolveFields>;
}

const hasPlacement = (name: string): boolean => {
  const p = resolveFields(name);
  return p.netns !== undefined || p.user !== undefined;
};

/** A config dir: all shipped profiles, NAME's command replaced by curl, every listener on its server. */
function configFor(name: string, servers: Map<string, Socks5Server>): string {
  const listeners: Record<string, ListenerSpec> = {};
  for (const [listener, spec] of Object.entries(SHIPPED_LISTENERS)) {
    // client_address/client_port would point away from the test server; netns and flags stay.
    listeners[listener] = {
      address: '127.0.0.1',
      port: servers.get(listener)!.port,
      flags: spec.flags,
      netns: spec.netns,
      kind: spec.kind,
    };
  }
  const profiles: Record<string, string> = {};
  for (const [other, fields] of SHIPPED) {
    const copy: ProfileFields = { ...fields };
    // The stand-in connects as the account it runs as (root here), not as htpdate's htp.
    if (other === name) delete copy.connects_as;
    if (other === name && resolveFields(name).backend === 'own-setting') {
      const port = servers.get(resolveFields(name).listener)!.port;
      copy.command = STANDIN;
      copy.env = {
        ...copy.env,
        set: { ...copy.env?.set, STANDIN_TARGET: 'example.test:80', STANDIN_OWN_SETTINGS: `socks5 127.0.0.1 ${port}` },
      };
    } else if (other === name) {
      copy.command = CURL;
      delete copy.args;
    }
    profiles[other] = YAML.stringify(copy);
  }
  // No jail can run these (guard: host: htpdate sets the clock as root, Tor must reach OnionShare's web server):
  // they run where a firewall holds them, as Tails declares its ferm.
  const hostOnly = ['htpdate', 'onionshare', 'onionshare-cli', 'gpg-dirmngr', 'apt'];
  return makeConfigDir(listeners, profiles, hostOnly.includes(name) ? { hostFirewall: ['root'] } : {});
}

/** What every request of one launch must carry, given the profile's isolation and backend. */
function expectAuth(records: SocksRequestRecord[], name: string): void {
  const { isolation, backend } = resolveFields(name);
  for (const r of records) {
    if (isolation === 'none') {
      expect(r.auth).toBe('none');
      if (backend === 'torsocks') expect(r.offeredMethods).toEqual([METHOD_NONE]);
      else expect(r.offeredMethods).not.toContain(METHOD_USERPASS);
      continue;
    }
    expect(r.auth).toBe('userpass');
    if (backend === 'torsocks') expect(r.offeredMethods).toEqual([METHOD_USERPASS]);
    else expect(r.offeredMethods).toContain(METHOD_USERPASS);
    if (isolation === 'process') {
      expect(r.username).toMatch(/^torsocks-\d+:\d+$/);
      expect(r.password).toBe('0');
    } else {
      expect(r.username).toBe(USERNAME);
      if (isolation === 'app') expect(r.password).toBe(`tails-launch/app/${name}`);
      else expect(r.password).toMatch(new RegExp(`^tails-launch/launch/${name}/[0-9a-f]{32}$`));
    }
  }
  // One launch is one group: all requests share the credentials.
  expect(new Set(records.map((r) => `${r.username}\0${r.password}`)).size).toBe(1);
}

/** Requests of one plain curl fetch: torsocks resolves first, env hands curl the hostname. */
function expectRequests(records: SocksRequestRecord[], backend: 'torsocks' | 'env'): void {
  // A RESOLVE's port field means nothing (torsocks 2.4 sends 42).
  const seen = records.map((r) =>
    r.command === 'resolve' ? { command: r.command, host: r.host } : { command: r.command, host: r.host, port: r.port },
  );
  if (backend === 'torsocks') {
    expect(seen).toEqual([
      { command: 'resolve', host: 'example.test' },
      { command: 'connect', host: '192.0.2.1', port: 80 },
    ]);
  } else {
    expect(seen).toEqual([{ command: 'connect', host: 'example.test', port: 80 }]);
  }
}

let servers: Map<string, Socks5Server>;
let home: string;
const configDirs: string[] = [];

/** HOME and XDG_CONFIG_HOME in an empty directory: no ~/.curlrc, no user layer. */
const env = () => cleanEnv({ HOME: home, XDG_CONFIG_HOME: home });

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'tails-launch-home-'));
  servers = new Map();
  for (const listener of Object.keys(SHIPPED_LISTENERS)) servers.set(listener, await startSocks5Server());
});

afterAll(async () => {
  await Promise.all([...(servers?.values() ?? [])].map((s) => s.close()));
  for (const dir of [home, ...configDirs]) if (dir) rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => servers.forEach((s) => s.clear()));

const allRecords = () => [...servers.values()].flatMap((s) => s.records);

describe('the shipped configuration', () => {
  it('has the four Tails listeners and profiles to test', () => {
    expect(Object.keys(SHIPPED_LISTENERS).sort()).toEqual([
      'browser',
      'default',
      'onioncircs',
      'tails',
      'tca',
      'upgrader',
    ]);
    expect([SHIPPED_LISTENERS.onioncircs?.kind, SHIPPED_LISTENERS.tca?.kind]).toEqual(['control', 'control']);
    expect(SHIPPED_LISTENERS.browser?.netns).toBe('tbb');
    expect(SHIPPED.size).toBeGreaterThanOrEqual(17);
    expect([...SHIPPED.keys()].filter(hasPlacement)).toEqual(
      expect.arrayContaining(['tails-iuk-get-target-file', 'tails-upgrade-frontend', 'tor-browser']),
    );
  });
});

describe.each([...SHIPPED.keys()].filter(hasPlacement))('placed profile %s', (name) => {
  // Its account (and Tor Browser's namespace) does not exist on a test machine: refused before
  // anything starts. placed-launch.test.ts runs these profiles where they exist.
  it('is refused before any connection where its placement cannot be applied: one stderr line, curl never runs', async () => {
    const dir = configFor(name, servers);
    configDirs.push(dir);
    const result = await runLauncher(['--config-dir', dir, name], { env: env() });
    expect([EXIT.noUser, EXIT.noNamespace], result.stderr).toContain(result.exitCode);
    expect(result.stdout).toBe('');
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/^tails-launch: .*does not exist/);
    expect(allRecords()).toEqual([]);
  });
});

/** What `explain --json` says Tor will see from a launch with DIR. */
async function torSeesOf(
  dir: string,
  name: string,
): Promise<{ port: number; credentials: { kind: string; username?: string; password?: string } }> {
  const result = await runLauncher(['--config-dir', dir, 'explain', '--json', name], { env: env() });
  expect(result.exitCode).toBe(0);
  return (JSON.parse(result.stdout) as { torSees: { port: number; credentials: { kind: string } } }).torSees;
}

describe.each([...SHIPPED.keys()].filter((n) => !hasPlacement(n) && resolveFields(n).backend !== 'own-setting'))(
  'profile %s',
  (name) => {
    const { listener, backend } = resolveFields(name) as { listener: string; backend: 'torsocks' | 'env' };

    it(`fetches through its listener '${listener}' with ${resolveFields(name).isolation} credentials over ${backend}`, async () => {
      const dir = configFor(name, servers);
      configDirs.push(dir);
      const result = await runLauncher(['--config-dir', dir, name, '--', '-s', URL], { env: env() });
      expect(result.stderr).toBe('');
      expect(result.stdout).toBe(BODY);
      expect(result.exitCode).toBe(0);

      const mine = servers.get(listener)!;
      const records = await mine.waitForRecords(backend === 'torsocks' ? 2 : 1);
      expectRequests(records, backend);
      expectAuth(records, name);
      for (const [other, server] of servers)
        if (other !== listener) expect(server.records, `listener ${other}`).toEqual([]);
      // What Tor saw is what explain says (a per-launch key is a sample there: the same shape).
      const sees = await torSeesOf(dir, name);
      if (sees.credentials.kind === 'userpass') {
        expect(records[0]!.username).toBe(sees.credentials.username);
        if (resolveFields(name).isolation === 'app') expect(records[0]!.password).toBe(sees.credentials.password);
      } else if (sees.credentials.kind === 'none') expect(records[0]!.auth).toBe('none');
    });
  },
);

describe.each([...SHIPPED.keys()].filter((n) => !hasPlacement(n) && resolveFields(n).backend === 'own-setting'))(
  'own-setting profile %s',
  (name) => {
    const { listener, isolation } = resolveFields(name);

    it(`its stand-in connects to '${listener}' itself, and Tor sees exactly what explain says (${isolation})`, async () => {
      const dir = configFor(name, servers);
      configDirs.push(dir);
      const result = await runLauncher(['--config-dir', dir, name], { env: env() });
      expect(result.stderr).toBe('');
      expect(result.stdout).toBe('reply: HTTP/1.1 200 OK');
      expect(result.exitCode).toBe(0);
      const records = await servers.get(listener)!.waitForRecords(1);
      expect(records.map((r) => ({ command: r.command, host: r.host, port: r.port }))).toEqual([
        { command: 'connect', host: 'example.test', port: 80 },
      ]);
      for (const [other, server] of servers)
        if (other !== listener) expect(server.records, `listener ${other}`).toEqual([]);
      const sees = await torSeesOf(dir, name);
      expect(records[0]!.serverPort).toBe(servers.get(listener)!.port);
      if (sees.credentials.kind === 'userpass') {
        expect(records[0]).toMatchObject({
          auth: 'userpass',
          username: sees.credentials.username,
          password: sees.credentials.password,
        });
      } else {
        // "Its own settings decide": the stand-in's, like Tails' prefs, hold none.
        expect(sees.credentials.kind).toBe('application');
        expect(records[0]!.auth).toBe('none');
      }
    });
  },
);

/** The shipped listeners and profiles, with Tails' firewall declared for root. */
function tailsCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tails-launch-tails-copy-'));
  configDirs.push(dir);
  cpSync(join(ROOT, 'profiles'), join(dir, 'profiles'), { recursive: true });
  writeFileSync(
    join(dir, 'listeners.yml'),
    `${readFileSync(join(ROOT, 'listeners.yml'), 'utf8')}\nhost_firewall: { description: "Tails' ferm", users: [root] }\n`,
  );
  // No account htp on this machine: htpdate is taken to connect as it runs (root).
  const htpdate = join(dir, 'profiles', 'htpdate.yml');
  writeFileSync(htpdate, readFileSync(htpdate, 'utf8').replace(/^connects_as: .*\n/m, ''));
  return dir;
}

/** `explain --json` on the REAL shipped configuration (the dev build's shipped layer is the repo). */
async function explainShipped(name: string): Promise<{
  listener: { name: string; port: number; netns: string | null };
  isolation: { mode: string };
  placement: { netns: string | null; user: string | null };
}> {
  // htpdate needs the firewall Tails declares (guard: host): the shipped configuration plus that declaration.
  const tails = name === 'htpdate' ? [tailsCopy()] : [];
  const result = await runLauncher([...tails.flatMap((d) => ['--config-dir', d]), 'explain', name, '--json'], {
    env: env(),
  });
  expect(result.stderr).toBe('');
  expect(result.exitCode).toBe(0);
  return JSON.parse(result.stdout);
}

// Tails' own test suite (features/tor_stream_isolation.feature) asserts this mapping.
describe('the Tails stream isolation mapping, from the shipped configuration', () => {
  it('off Tails, htpdate (it sets the clock as root: guard host) is refused, one line, with what to declare', async () => {
    const result = await runLauncher(['explain', 'htpdate', '--json'], { env: env() });
    expect(result.exitCode).toBe(EXIT.refused);
    expect(result.stderr).toMatch(/^tails-launch: no guard for profile 'htpdate': .*declare host_firewall .*$/);
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
  });

  it.each(['htpdate', 'tails-security-check', 'tails-upgrade-frontend'])(
    '%s uses the Tails SocksPort 9062',
    async (name) => {
      const plan = await explainShipped(name);
      expect(plan.listener.name).toBe('tails');
      expect(plan.listener.port).toBe(9062);
    },
  );

  it('tails-iuk-get-target-file uses 9063, with the credentials of its own settings (none in Tails)', async () => {
    const plan = await explainShipped('tails-iuk-get-target-file');
    expect(plan.listener.port).toBe(9063);
    expect(plan.isolation.mode).toBe('application');
  });

  it('tor-browser uses 9050 in network namespace tbb', async () => {
    const plan = await explainShipped('tor-browser');
    expect(plan.listener.port).toBe(9050);
    expect(plan.listener.netns).toBe('tbb');
    expect(plan.placement.netns).toBe('tbb');
  });

  it('ssh uses the default SocksPort 9050 outside any namespace', async () => {
    const plan = await explainShipped('ssh');
    expect(plan.listener.name).toBe('default');
    expect(plan.listener.port).toBe(9050);
    expect(plan.listener.netns).toBeNull();
  });
});
