// The shipped profiles, as Tails runs their applications, on a private network
// of real tors (Debian's 0.4.9; FACTS §8) whose client carries Tails' own
// SocksPorts (FACTS §1): 127.0.0.1:9050 and :9062 with IsolateDestAddr
// IsolateDestPort, :9063 with NoIsolateDestAddr NoIsolateDestPort
// NoIsolateClientProtocol. These are exactly the shipped listeners.yml's
// addresses, so the configuration here is the shipped one, unchanged but for
// the commands: unaware and environment-aware profiles run curl, own-setting
// profiles run the stand-in test/fixtures/standins/own-setting.py, which
// connects to its SocksPort itself, as told by the profile (Electrum's
// --proxy) or by "its own settings" (Tails' prefs: the listener, no
// credentials). Everything runs in ONE network namespace of this test's own,
// with loopback and one port-less interface holding the target, 10.99.0.1
// (torsocks refuses loopback destinations); nothing can leave it.
//
// Each profile is launched twice at once; the target holds every response for
// 1.5 s, so both streams are open together. Each launch prints the local port
// of its socket to the SocksPort (curl's %{local_port}, the stand-in's "port
// N"), which tor reports as the stream's SOURCE_ADDR: so every launch is
// matched to its own stream and circuit through the control port. For each
// stream the test reads, on tor's side:
//  - the SocksPort it arrived on: the peer of the client's socket in the
//    namespace's kernel socket table at the NEW event;
//  - the credentials tor recorded for it (SOCKS_USERNAME/SOCKS_PASSWORD);
//  - its circuit (SUCCEEDED event);
// and checks them against what `explain --json` states (torSees), which
// profiles.test.ts also checks against a test SOCKS server. Then: "one
// circuit per group the profile claims".
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { CURL } from '../support/expected';
import { expectTorSaw, type TorSees } from '../support/tor-sees';
import { createNamespace, TAILS_SOCKS_PORTS } from '../support/isolated-tor';
import { startNetworkWithFirstStream, stopPrivateTorSuite } from '../support/private-tor-suite';
import { cleanEnv, LAUNCHER, ROOT, SHIPPED_PROFILES } from '../support/launcher';
import {
  CURL_ARGS,
  TARGET,
  TARGET_URL as URL,
  waitForStreams,
  startTarget,
  targetGroup,
  StreamWatcher,
  TARGET_ADDRESS,
  type PrivateTorNetwork,
  type StreamRecord,
} from '../support/private-tor-network';
import { expectOpenTogether } from '../support/stream-pairs';

const NS = `tl-ptor-${process.pid}`;
const STANDIN = join(ROOT, 'test/fixtures/standins/own-setting.py');
const isRoot = process.getuid?.() === 0;

interface ProfileFields {
  extends?: string;
  command?: string;
  args?: string[];
  listener?: string;
  isolation?: string;
  backend?: string;
  connects_as?: string;
  env?: { set?: Record<string, string>; unset?: string[]; keep?: string[] };
}

/** The shipped profiles and listeners, as parsed YAML. */
const SHIPPED = new Map<string, ProfileFields>(
  readdirSync(SHIPPED_PROFILES)
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => [
      f.replace(/\.ya?ml$/, ''),
      YAML.parse(readFileSync(join(SHIPPED_PROFILES, f), 'utf8')) as ProfileFields,
    ]),
);
const SHIPPED_LISTENERS_TEXT = readFileSync(join(ROOT, 'listeners.yml'), 'utf8');
const SHIPPED_LISTENERS = (
  YAML.parse(SHIPPED_LISTENERS_TEXT) as { listeners: Record<string, { address: string; port: number }> }
).listeners;

/** Our own reading of the `extends` chain (child fields win). */
function resolveFields(name: string): ProfileFields {
  const own = SHIPPED.get(name);
  if (!own) throw new Error(`no shipped profile ${name}`);
  return own.extends === undefined ? own : { ...resolveFields(own.extends), ...own };
}

/**
 * The profiles launched here, covering each backend and each isolation claim,
 * with what the shipped profile is expected to be (checked against explain, so
 * a profile that changes kind makes this table, and the test, say so).
 */
const CASES = [
  { name: 'ssh', backend: 'torsocks', mode: 'launch', port: 9050 },
  { name: 'wget', backend: 'torsocks', mode: 'process', port: 9050 },
  { name: 'curl', backend: 'env', mode: 'launch', port: 9050 },
  { name: 'electrum', backend: 'own-setting', mode: 'app', port: 9050 },
  { name: 'pidgin', backend: 'own-setting', mode: 'application', port: 9050 },
  { name: 'thunderbird', backend: 'own-setting', mode: 'application', port: 9050 },
  { name: 'tails-security-check', backend: 'own-setting', mode: 'application', port: 9062 },
  { name: 'whisperback', backend: 'own-setting', mode: 'application', port: 9062 },
  // The rest of the shipped profiles that launch here (the placed ones are refused: 77).
  { name: 'default', backend: 'torsocks', mode: 'launch', port: 9050 },
  { name: 'totem', backend: 'torsocks', mode: 'process', port: 9050 },
  { name: 'whois', backend: 'torsocks', mode: 'process', port: 9050 },
  { name: 'printing', backend: 'torsocks', mode: 'process', port: 9050 },
  { name: 'dirmngr', backend: 'own-setting', mode: 'application', port: 9050 },
  { name: 'onionshare', backend: 'own-setting', mode: 'application', port: 9050 },
  { name: 'htpdate', backend: 'own-setting', mode: 'app', port: 9062 },
] as const;

/** git runs two curls at once in one launch: under isolation process each process is its own group. */
const TWO_CURLS = (() => {
  const curl = `${CURL} ${CURL_ARGS.map((a) => `'${a}'`).join(' ')}`;
  // Both curls' statuses make the launch's: `wait` alone would hide a failure.
  return `${curl} & first=$!; ${curl}; second=$?; wait $first && exit $second`;
})();

let work: string;
let config: string;
let home: string;
let network: PrivateTorNetwork | undefined;
let watcher: StreamWatcher | undefined;
let server: ResultPromise | undefined;
const suiteStart = Date.now();

/**
 * The configuration: the shipped listeners.yml as it is, every shipped
 * profile, and the commands of the profiles under test replaced by stand-ins.
 */
function writeConfig(dir: string): void {
  mkdirSync(join(dir, 'profiles'), { recursive: true });
  // As Tails declares its ferm: the programs run unjailed, as on Tails, and each stream is found by its
  // source port (a user jail's forwarder would open another: jail-apps.test.ts covers the jailed path).
  writeFileSync(
    join(dir, 'listeners.yml'),
    `${SHIPPED_LISTENERS_TEXT}\nhost_firewall: { description: "Tails' ferm (declared by the test)", users: [root] }\n`,
  );
  const tested = new Set<string>([...CASES.map((c) => c.name), 'git']);
  for (const [name, fields] of SHIPPED) {
    const copy: ProfileFields = { ...fields };
    const resolved = resolveFields(name);
    // The stand-ins connect as the account they run as (root here), not as htpdate's htp.
    if (tested.has(name)) delete copy.connects_as;
    if (tested.has(name) && resolved.backend === 'own-setting') {
      // Tails' prefs for these programs: 127.0.0.1 and the listener's port, no credentials.
      const port = SHIPPED_LISTENERS[resolved.listener!]!.port;
      copy.command = STANDIN;
      copy.env = {
        ...copy.env,
        set: {
          ...copy.env?.set,
          STANDIN_TARGET: TARGET,
          STANDIN_OWN_SETTINGS: `socks5 127.0.0.1 ${port}`,
          STANDIN_SHOW_PORT: '1',
        },
      };
    } else if (name === 'git') {
      copy.command = '/bin/sh';
      copy.args = ['-c', TWO_CURLS];
    } else if (tested.has(name) && resolved.command !== CURL) {
      copy.command = CURL;
      delete copy.args;
    }
    writeFileSync(join(dir, 'profiles', `${name}.yml`), YAML.stringify(copy));
  }
}

/** HOME and XDG_CONFIG_HOME in an empty directory: no ~/.curlrc. */
const env = () => cleanEnv({ HOME: home, XDG_CONFIG_HOME: home });

function launch(args: string[], timeout = 60_000) {
  return execa('ip', ['netns', 'exec', NS, LAUNCHER, '--config-dir', config, ...args], {
    env: env(),
    extendEnv: false,
    reject: false,
    timeout,
    stdin: 'ignore',
  });
}

/** What `explain --json` states Tor will see from a launch of ARGS (options and profile). */
async function explain(args: string[]): Promise<{ torSees: TorSees; backend: string; isolation: { mode: string } }> {
  const result = await execa(LAUNCHER, ['--config-dir', config, 'explain', '--json', ...args], {
    env: env(),
    extendEnv: false,
    reject: false,
  });
  expect(result.stderr).toBe('');
  expect(result.exitCode).toBe(0);
  return JSON.parse(String(result.stdout));
}

/**
 * The streams of one launch, each found by the source port it printed: curl's
 * "status 200 port N" lines, or the stand-in's "reply: HTTP/1.1 200 OK" and
 * "port N".
 */
async function streamsOf(result: Awaited<ReturnType<typeof launch>>): Promise<StreamRecord[]> {
  const stdout = String(result.stdout);
  const recent = () =>
    watcher!.events
      .filter((e) => e.startsWith('STREAM') && e.includes(TARGET_ADDRESS))
      .slice(-12)
      .join('\n');
  expect(result.stderr, `stderr of a launch; stdout: ${stdout}; recent streams:\n${recent()}`).toBe('');
  expect(result.exitCode, `exit status; stdout: ${stdout}; recent streams:\n${recent()}`).toBe(0);
  let ports: number[];
  if (stdout.startsWith('reply: ')) {
    expect(stdout, 'the stand-in fetched the target and says which port it used').toMatch(
      /^reply: HTTP\/1\.1 200 OK\nport \d+$/,
    );
    ports = [Number(/port (\d+)$/.exec(stdout)![1])];
  } else {
    ports = [...stdout.matchAll(/^status 200 port (\d+)$/gm)].map((m) => Number(m[1]));
    expect(ports.length, `one "status 200 port PORT" line per request: ${stdout}`).toBe(
      stdout.trim().split('\n').length,
    );
  }
  return waitForStreams(watcher!, ports);
}

/** Two launches at once (ARGS each); the stream of each. */
async function pair(a: string[], b: string[]): Promise<[StreamRecord, StreamRecord]> {
  await targetGroup(server!, 2);
  const results = await Promise.all([launch(a), launch(b)]);
  const [sa, sb] = await Promise.all(results.map(streamsOf));
  expect(sa).toHaveLength(1);
  expect(sb).toHaveLength(1);
  return [sa![0]!, sb![0]!];
}

describe.skipIf(!isRoot)("the shipped profiles on a private Tor network with Tails' SocksPorts", () => {
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'tails-launch-profiles-tor-'));
    config = join(work, 'config');
    home = join(work, 'home');
    mkdirSync(home);
    writeConfig(config);

    await createNamespace(NS);
    ({ server } = await startTarget(NS));

    ({ network, watcher } = await startNetworkWithFirstStream(
      NS,
      join(work, 'tor'),
      async () => {
        const r = await launch(['ssh', '-s', '--max-time', '10', URL], 20_000);
        return { ok: r.exitCode === 0 && r.stdout === 'ok', detail: `${r.exitCode} ${r.stderr}` };
      },
      { bootstrapMs: 60_000, socksPorts: Object.values(TAILS_SOCKS_PORTS), tcpTable: true },
    ));
  }, 150_000);

  afterAll(async () => {
    await stopPrivateTorSuite({ watcher, network, server, ns: NS, work, label: 'shipped profiles on Tor', suiteStart });
  }, 60_000);

  it.each(CASES)(
    '$name ($backend, isolation $mode): on port $port, the credentials explain states, one circuit per group',
    async (c) => {
      const plan = await explain([c.name]);
      expect({ backend: plan.backend, mode: plan.isolation.mode, port: plan.torSees.port }).toEqual({
        backend: c.backend,
        mode: c.mode,
        port: c.port,
      });
      // Only the stand-ins' commands differ from the shipped profile: no arguments here, the profile's own come first.
      const args = c.backend === 'own-setting' ? [c.name] : [c.name, ...CURL_ARGS];
      const [a, b] = await pair(args, args);
      expectOpenTogether(a, b);
      expectTorSaw(a, plan.torSees, c.name);
      expectTorSaw(b, plan.torSees, c.name);
      const sees = plan.torSees.credentials;
      if (sees.kind === 'userpass' && !sees.perLaunch) {
        // isolation app: one group for every launch of the profile, so one circuit.
        expect(b.socksPassword).toBe(a.socksPassword);
        expect(a.circuit).toBe(b.circuit);
      } else if (sees.kind === 'application') {
        // The program's own settings decide. With Tails' (127.0.0.1:PORT, no
        // credentials) two launches to the same destination are ONE group for
        // Tor: same listener, no SOCKS auth, same client address, destination
        // address and port. That is what Tor does for these programs on Tails.
        expect(a.circuit).toBe(b.circuit);
      } else {
        // isolation launch or process: a new group each launch (or process), so a circuit each.
        expect(b.socksPassword === a.socksPassword && b.socksUsername === a.socksUsername).toBe(false);
        expect(a.circuit).not.toBe(b.circuit);
      }
    },
    60_000,
  );

  it('git (torsocks, isolation process): two processes of ONE launch use two circuits, each with its own credentials', async () => {
    const plan = await explain(['git']);
    expect(plan.torSees.credentials.kind).toBe('per-process');
    await targetGroup(server!, 2);
    const streams = await streamsOf(await launch(['git']));
    expect(streams).toHaveLength(2);
    const [a, b] = streams as [StreamRecord, StreamRecord];
    expectOpenTogether(a, b);
    expectTorSaw(a, plan.torSees, 'git');
    expectTorSaw(b, plan.torSees, 'git');
    // circuit-isolation.test.ts shows that two processes of one launch-isolated launch share a circuit.
    expect(a.socksUsername).not.toBe(b.socksUsername);
    expect(a.circuit).not.toBe(b.circuit);
  }, 60_000);

  it('electrum --identity alice@example.org and bob@example.org: the credentials explain states for each, two circuits', async () => {
    const [alice, bob] = await Promise.all([
      explain(['--identity', 'alice@example.org', 'electrum']),
      explain(['--identity', 'bob@example.org', 'electrum']),
    ]);
    const [a, b] = await pair(
      ['--identity', 'alice@example.org', 'electrum'],
      ['--identity', 'bob@example.org', 'electrum'],
    );
    expectOpenTogether(a, b);
    expectTorSaw(a, alice.torSees, 'electrum');
    expectTorSaw(b, bob.torSees, 'electrum');
    expect(a.socksPassword).not.toBe(b.socksPassword);
    expect(a.circuit).not.toBe(b.circuit);
  }, 60_000);

  it("programs whose own settings decide: on Tails' 9062 two of them share a circuit; across listeners they do not", async () => {
    // The security check and WhisperBack both send no credentials to 9062: to
    // the same destination Tor gives them one circuit (on Tails as here). The
    // listener is the only group such programs get: Pidgin on 9050 is apart.
    await targetGroup(server!, 3);
    const results = await Promise.all([launch(['tails-security-check']), launch(['whisperback']), launch(['pidgin'])]);
    const [[check], [whisperback], [pidgin]] = (await Promise.all(results.map(streamsOf))) as [
      [StreamRecord],
      [StreamRecord],
      [StreamRecord],
    ];
    expectOpenTogether(check, whisperback);
    expectOpenTogether(check, pidgin);
    expect([check.listenerPort, whisperback.listenerPort, pidgin.listenerPort]).toEqual([9062, 9062, 9050]);
    expect(check.circuit).toBe(whisperback.circuit);
    expect(pidgin.circuit).not.toBe(check.circuit);
  }, 60_000);
});
