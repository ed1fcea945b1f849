// Isolation modes really separate circuits, measured on a private network of
// real tors (Debian's 0.4.9; FACTS §8): 3 authorities, 2 middles, 1 exit and
// a client with Tails' default listener (127.0.0.1:9050 IsolateDestAddr
// IsolateDestPort). Everything runs in ONE network namespace of this test's
// own with loopback and one port-less interface (dummy, else bridge) holding the target, 10.99.0.1
// (torsocks refuses loopback destinations). Nothing can leave it.
//
// Each launch runs curl with `-w '... %{local_port}'`: the local port of its
// socket to the SocksPort, which tor reports as the stream's SOURCE_ADDR. So
// every launch is matched to its own stream, and the stream's SUCCEEDED event
// gives its circuit. The target answers a pair's two requests together (see
// TARGET_SERVER), and the test checks that both streams were open together.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNamespace } from '../support/isolated-tor';
import { startNetworkWithFirstStream, stopPrivateTorSuite } from '../support/private-tor-suite';
import { cleanEnv, LAUNCHER } from '../support/launcher';
import {
  CURL_ARGS,
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

const NS = `tl-circ-${process.pid}`;
const isRoot = process.getuid?.() === 0;

let work: string;
let config: string;
let network: PrivateTorNetwork | undefined;
let watcher: StreamWatcher | undefined;
let server: ResultPromise | undefined;
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
  return inNamespace([LAUNCHER, '--config-dir', config, ...args], timeout);
}

/** The streams of one launch's output (a "status 200 port PORT" line per curl), each found by its source port. */
async function streamsOf(result: Awaited<ReturnType<typeof launch>>): Promise<StreamRecord[]> {
  const stdout = String(result.stdout);
  const recent = () =>
    watcher!.events
      .filter((e) => e.startsWith('STREAM') && e.includes(TARGET_ADDRESS))
      .slice(-12)
      .join('\n');
  expect(result.stderr, `stderr of a launch; stdout: ${stdout}; recent streams:\n${recent()}`).toBe('');
  expect(result.exitCode, `exit status; stdout: ${stdout}; recent streams:\n${recent()}`).toBe(0);
  const ports = [...stdout.matchAll(/^status 200 port (\d+)$/gm)].map((m) => Number(m[1]));
  expect(ports.length, `one "status 200 port PORT" line per request: ${stdout}`).toBe(stdout.trim().split('\n').length);
  // CLOSED events may trail curl's exit by a moment.
  return waitForStreams(watcher!, ports);
}

/** Runs two launches together; returns the stream of each. */
async function pair(a: string[], b: string[]): Promise<[StreamRecord, StreamRecord]> {
  await targetGroup(server!, 2);
  const results = await Promise.all([launch(a), launch(b)]);
  const [sa, sb] = await Promise.all(results.map(streamsOf));
  expect(sa).toHaveLength(1);
  expect(sb).toHaveLength(1);
  return [sa![0]!, sb![0]!];
}

describe.skipIf(!isRoot)('circuit isolation through a private network of real tors', () => {
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'tails-launch-circuits-'));
    config = join(work, 'config');
    mkdirSync(join(config, 'profiles'), { recursive: true });
    writeFileSync(
      join(config, 'listeners.yml'),
      'listeners:\n  default: { address: 127.0.0.1, port: 9050, flags: [IsolateDestAddr, IsolateDestPort] }\n' +
        // Each stream is found by curl's source port: unjailed, as on Tails (a user jail's forwarder opens its own).
        'host_firewall: { description: "the test\'s declaration", users: [root] }\n',
    );
    const profiles: Record<string, string> = {
      app: 'listener: default\nisolation: app\nbackend: torsocks\ncommand: /usr/bin/curl\n',
      launch: 'listener: default\nisolation: launch\nbackend: torsocks\ncommand: /usr/bin/curl\n',
      shell: 'listener: default\nisolation: launch\nbackend: torsocks\n',
      'env-launch': 'listener: default\nisolation: launch\nbackend: env\ncommand: /usr/bin/curl\n',
      'env-app': 'listener: default\nisolation: app\nbackend: env\ncommand: /usr/bin/curl\n',
    };
    for (const [name, text] of Object.entries(profiles)) writeFileSync(join(config, 'profiles', `${name}.yml`), text);

    await createNamespace(NS);
    ({ server } = await startTarget(NS));

    ({ network, watcher } = await startNetworkWithFirstStream(
      NS,
      join(work, 'tor'),
      async () => {
        const r = await launch(['launch', '--', '-s', '--max-time', '10', URL], 20_000);
        return { ok: r.exitCode === 0 && r.stdout === 'ok', detail: `${r.exitCode} ${r.stderr}` };
      },
      {},
    ));
  }, 150_000);

  afterAll(async () => {
    await stopPrivateTorSuite({ watcher, network, server, ns: NS, work, label: 'circuit isolation suite', suiteStart });
  }, 60_000);

  it('control: two streams of ONE launch share a circuit (the measurement can see sharing)', async () => {
    const curl = `curl ${CURL_ARGS.map((a) => `'${a}'`).join(' ')}`;
    // Both curls' statuses make the launch's: `wait` alone would hide a failure.
    const script = `${curl} & first=$!; ${curl}; second=$?; wait $first && exit $second`;
    await targetGroup(server!, 2);
    const result = await launch(['shell', '--', '/bin/sh', '-c', script]);
    const streams = await streamsOf(result);
    expect(streams, `stdout: ${result.stdout}`).toHaveLength(2);
    expectOpenTogether(streams[0]!, streams[1]!);
    expect(streams[0]!.circuit).toBe(streams[1]!.circuit);
  }, 90_000);

  it('isolation launch (torsocks): two concurrent launches use different circuits', async () => {
    const [a, b] = await pair(['launch', '--', ...CURL_ARGS], ['launch', '--', ...CURL_ARGS]);
    expectOpenTogether(a, b);
    expect(a.circuit).not.toBe(b.circuit);
  }, 90_000);

  it('isolation app (torsocks): two concurrent launches share one circuit', async () => {
    const [a, b] = await pair(['app', '--', ...CURL_ARGS], ['app', '--', ...CURL_ARGS]);
    expectOpenTogether(a, b);
    expect(a.circuit).toBe(b.circuit);
  }, 90_000);

  it('isolation app with --identity alice vs --identity bob: different circuits', async () => {
    const [a, b] = await pair(
      ['--identity', 'alice', 'app', '--', ...CURL_ARGS],
      ['--identity', 'bob', 'app', '--', ...CURL_ARGS],
    );
    expectOpenTogether(a, b);
    expect(a.circuit).not.toBe(b.circuit);
  }, 90_000);

  it('env backend: isolation launch separates two launches, isolation app joins them', async () => {
    const [a, b] = await pair(['env-launch', '--', ...CURL_ARGS], ['env-launch', '--', ...CURL_ARGS]);
    expectOpenTogether(a, b);
    expect(a.circuit).not.toBe(b.circuit);
    const [c, d] = await pair(['env-app', '--', ...CURL_ARGS], ['env-app', '--', ...CURL_ARGS]);
    expectOpenTogether(c, d);
    expect(c.circuit).toBe(d.circuit);
  }, 90_000);
});
