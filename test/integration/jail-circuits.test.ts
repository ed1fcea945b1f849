// Jails carry isolation by client address, with no SOCKS credentials at all,
// measured on a private network of real tors (test/support/private-tor-network.ts,
// as circuit-isolation.test.ts): everything in ONE network namespace of this
// test's own, which also plays the jails' host (`tails-launch jail setup`
// runs in it). The client tor has Tails' default SocksPort and the jail
// SocksPort `tails-launch torrc` prints for listeners.yml's `jail_port`.
//
// The application is the own-setting stand-in (test/fixtures/standins/own-setting.py)
// with STANDIN_OWN_SETTINGS="socks5 127.0.0.1 9050": like Pidgin with Tails'
// prefs, it opens its own SOCKS session to 127.0.0.1:9050 WITHOUT credentials
// and reads no proxy variable. Inside its jail that address leads to the jail
// port, and Tor sees the jail's group address as the client address:
//   - `application` (backend own-setting, the Pidgin case): one stable group
//     per profile and --identity;
//   - `launch` (backend env: an own-setting profile may not ask for launch,
//     see the report; the env backend's proxy variables, which carry
//     credentials, are ignored by the stand-in): a fresh group per launch.
// Each stream is then found on tor's control port by the source port the
// stand-in prints, and tor's own record of it (SOCKS_USERNAME/PASSWORD)
// shows that no credentials were sent.
import { readFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNamespace } from '../support/isolated-tor';
import { startNetworkWithFirstStream, stopPrivateTorSuite } from '../support/private-tor-suite';
import { cleanEnv, LAUNCHER, ROOT } from '../support/launcher';
import {
  startTarget,
  targetGroup,
  StreamWatcher,
  waitForStreams,
  TARGET,
  type PrivateTorNetwork,
  type StreamRecord,
} from '../support/private-tor-network';
import { expectOpenTogether } from '../support/stream-pairs';

const NS = `tl-jcirc-${process.pid}`;
const isRoot = process.getuid?.() === 0;
const STANDIN = join(ROOT, 'test/fixtures/standins/own-setting.py');
const POOL = '10.240.0.0/12';
/** The first group of the pool's launch half (src/jail/address.ts: 8192 stable groups of a /26 in a /12, then the launch groups). */
const LAUNCH_HALF = '10.248.0.0';
const JAIL_PORT = 9250;

let work: string;
let config: string;
let network: PrivateTorNetwork | undefined;
let watcher: StreamWatcher | undefined;
let server: ResultPromise | undefined;
/** Stream ID -> the port of the SocksPort its client socket reached, read from the kernel's table at the NEW event. */
const listenerPorts = new Map<string, number>();
const suiteStart = Date.now();

function inNamespace(argv: string[], timeout = 60_000) {
  return execa('ip', ['netns', 'exec', NS, ...argv], {
    env: cleanEnv(),
    extendEnv: false,
    reject: false,
    timeout,
    stdin: 'ignore',
  });
}

function launch(args: string[], timeout?: number) {
  return inNamespace([LAUNCHER, '--config-dir', config, '--jail', ...args], timeout);
}

/** What `explain --json --jail ARGS` states: the jail's group and the client address Tor will see. */
async function explain(
  args: string[],
): Promise<{ jail: { group: { kind: string; address: string } }; clientAddress: string }> {
  const r = await execa(LAUNCHER, ['--config-dir', config, 'explain', '--json', '--jail', ...args], {
    env: cleanEnv(),
    extendEnv: false,
    reject: false,
  });
  expect(r.stderr).toBe('');
  expect(r.exitCode).toBe(0);
  const json = JSON.parse(String(r.stdout)) as {
    jail: { group: { kind: string; address: string } };
    torSees: { clientAddress: string };
  };
  return { jail: json.jail, clientAddress: json.torSees.clientAddress };
}

/** "0100007F:1BBE" (a /proc/net/tcp address, host byte order) as "127.0.0.1:7102". */
function procAddress(hex: string): string {
  const [ip, port] = hex.split(':') as [string, string];
  const bytes = [0, 2, 4, 6].map((i) => parseInt(ip.slice(i, i + 2), 16)).reverse();
  return `${bytes.join('.')}:${parseInt(port, 16)}`;
}

/**
 * The local port of tor's socket whose peer is SOURCE: the SocksPort the
 * stream arrived on. (The watcher's own listenerPort looks for the client's
 * socket, which here lives in the jail's namespace, not in tor's.)
 */
function listenerPortOf(source: string, tor: PrivateTorNetwork): number | null {
  const table = readFileSync(`/proc/${tor.clientPid}/net/tcp`, 'utf8');
  for (const line of table.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length > 3 && procAddress(fields[2]!) === source) return Number(procAddress(fields[1]!).split(':')[1]);
  }
  return null;
}

/**
 * Taps the watcher's event log: at each stream's NEW event (tor holds the
 * client socket open, no reply yet) the kernel's table tells the SocksPort.
 */
function tapListenerPorts(w: StreamWatcher, tor: PrivateTorNetwork): void {
  const push = w.events.push.bind(w.events);
  w.events.push = (...texts: string[]) => {
    for (const text of texts) {
      const m = /^STREAM (\S+) NEW .*SOURCE_ADDR=(\S+)/.exec(text);
      const port = m ? listenerPortOf(m[2]!, tor) : null;
      if (m && port !== null) listenerPorts.set(m[1]!, port);
    }
    return push(...texts);
  };
}

/** The one stream of a stand-in launch ("reply: HTTP/1.1 200 OK" then "port N"). */
async function streamOf(result: Awaited<ReturnType<typeof launch>>): Promise<StreamRecord> {
  const stdout = String(result.stdout);
  expect(result.stderr, `stderr of a launch; stdout: ${stdout}`).toBe('');
  expect(result.exitCode, `exit status; stdout: ${stdout}`).toBe(0);
  expect(stdout).toMatch(/^reply: HTTP\/1\.[01] 200 OK$/m);
  const port = /^port (\d+)$/m.exec(stdout);
  expect(port, `the stand-in's source port: ${stdout}`).not.toBeNull();
  const [stream] = await waitForStreams(watcher!, [Number(port![1])]);
  return stream!;
}

/** Runs two jailed launches together; returns the stream of each. */
/** Each launch's stream from a port of its own: two jails are two namespaces, whose ephemeral ports may coincide. */
let nextSourcePort = 20_000 + (process.pid % 1000) * 10; // below the ephemeral range: never one a socket of the jail already took

async function pair(a: string[], b: string[]): Promise<[StreamRecord, StreamRecord]> {
  await targetGroup(server!, 2);
  const withPort = (args: string[]) => [...args, '--source-port', String(nextSourcePort++)];
  const results = await Promise.all([launch(withPort(a)), launch(withPort(b))]);
  const [sa, sb] = await Promise.all(results.map(streamOf));
  expectOpenTogether(sa!, sb!);
  return [sa!, sb!];
}

/** Tor's record of the stream: from ADDRESS, on the jail port, with no SOCKS credentials. */
function expectJailed(stream: StreamRecord, address: string): void {
  expect(stream.target).toBe(TARGET);
  expect(stream.sourceAddr?.split(':')[0]).toBe(address);
  expect(listenerPorts.get(stream.id), `stream ${stream.id}'s SocksPort`).toBe(JAIL_PORT);
  expect(stream.socksUsername).toBeNull();
  expect(stream.socksPassword).toBeNull();
}

/** A group address of the launch half (fresh per launch, never a stable group's). */
const inLaunchHalf = (address: string) =>
  address.split('.').reduce((n, o) => n * 256 + Number(o), 0) >=
  LAUNCH_HALF.split('.').reduce((n, o) => n * 256 + Number(o), 0);

describe.skipIf(!isRoot)('jails on a private network of real tors: circuits by client address', () => {
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'tails-launch-jail-circuits-'));
    config = join(work, 'config');
    mkdirSync(join(config, 'profiles'), { recursive: true });
    writeFileSync(
      join(config, 'listeners.yml'),
      `listeners:\n  default: { address: 127.0.0.1, port: 9050, flags: [IsolateDestAddr, IsolateDestPort], jail_port: ${JAIL_PORT} }\njails: { pool: ${POOL} }\n`,
    );
    // The stand-in's own settings: Tails' 127.0.0.1:9050, no credentials; it prints its source port.
    const standin = (isolation: string, backend: string) =>
      `listener: default\nisolation: ${isolation}\nbackend: ${backend}\ncommand: ${STANDIN}\nenv:\n  set:\n` +
      `    STANDIN_TARGET: '${TARGET}'\n    STANDIN_OWN_SETTINGS: socks5 127.0.0.1 9050\n    STANDIN_SHOW_PORT: '1'\n`;
    writeFileSync(join(config, 'profiles', 'own-app.yml'), standin('application', 'own-setting'));
    writeFileSync(join(config, 'profiles', 'own-launch.yml'), standin('launch', 'env'));

    await createNamespace(NS);
    ({ server } = await startTarget(NS));
    // The host side of jails, in this namespace only.
    const setup = await inNamespace([LAUNCHER, '--config-dir', config, 'jail', 'setup']);
    expect(setup.exitCode, `jail setup: ${setup.stderr}`).toBe(0);

    // The client's SocksPorts are exactly what `torrc` prints: the default one and its jail port.
    const torrc = await execa(LAUNCHER, ['--config-dir', config, 'torrc'], { env: cleanEnv(), extendEnv: false });
    const socksPorts = String(torrc.stdout)
      .split('\n')
      .filter((l) => l.startsWith('SocksPort '));
    expect(socksPorts).toEqual([
      'SocksPort 127.0.0.1:9050 IsolateDestAddr IsolateDestPort',
      `SocksPort 127.0.0.1:${JAIL_PORT} IsolateDestAddr IsolateDestPort IsolateClientAddr`,
    ]);
    ({ network, watcher } = await startNetworkWithFirstStream(
      NS,
      join(work, 'tor'),
      async () => {
        const r = await launch(['own-app'], 20_000);
        return {
          ok: r.exitCode === 0 && /^reply: HTTP\/1\.[01] 200/.test(r.stdout),
          detail: `${r.exitCode} ${r.stdout} ${r.stderr}`,
        };
      },
      { socksPorts, onWatcher: tapListenerPorts },
    ));
  }, 150_000);

  afterAll(async () => {
    await stopPrivateTorSuite({ watcher, network, server, ns: NS, work, label: 'jail circuits suite', suiteStart });
  }, 60_000);

  it('two concurrent launch jails of one profile: two group addresses, two circuits', async () => {
    const [a, b] = await pair(['own-launch'], ['own-launch']);
    const [addressA, addressB] = [a.sourceAddr!.split(':')[0]!, b.sourceAddr!.split(':')[0]!];
    expect(addressA).not.toBe(addressB);
    // A fresh group each: of the launch half, and what explain says a launch group is.
    expect((await explain(['own-launch'])).jail.group.kind).toBe('launch');
    for (const [stream, address] of [
      [a, addressA],
      [b, addressB],
    ] as const) {
      expect(inLaunchHalf(address), `${address} is a launch group's`).toBe(true);
      expect(Number(address.split('.')[3]) % 64, `${address} is a group's first address`).toBe(0);
      expectJailed(stream, address);
    }
    expect(a.circuit).not.toBe(b.circuit);
  }, 90_000);

  it('two concurrent application jails of one profile: the one group address explain states, one circuit', async () => {
    const { jail, clientAddress } = await explain(['own-app']);
    expect(jail.group.kind).toBe('app');
    expect(clientAddress).toBe(jail.group.address);
    const [a, b] = await pair(['own-app'], ['own-app']);
    expectJailed(a, clientAddress);
    expectJailed(b, clientAddress);
    expect(a.circuit).toBe(b.circuit);
  }, 90_000);

  it('--identity alice vs --identity bob: each its own group address, as explain states; two circuits', async () => {
    const alice = (await explain(['--identity', 'alice', 'own-app'])).clientAddress;
    const bob = (await explain(['--identity', 'bob', 'own-app'])).clientAddress;
    expect(alice).not.toBe(bob);
    const [a, b] = await pair(['--identity', 'alice', 'own-app'], ['--identity', 'bob', 'own-app']);
    expectJailed(a, alice);
    expectJailed(b, bob);
    expect(a.circuit).not.toBe(b.circuit);
  }, 90_000);
});
