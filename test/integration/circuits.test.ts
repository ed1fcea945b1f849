// `circuits` and `new-identity` against a private network of real tors
// (Debian's 0.4.9; FACTS §8) with TWO exits, so that a closed circuit's
// successor can differ in every hop. Two profiles launch curl through Tor
// while the target holds their requests open: `circuits --json` must put
// each on the circuit Tor's own STREAM events name (a watcher of the
// client's control port, independent of the command), with that stream and
// no other (the launcher's preflight handshakes are no streams).
// `new-identity` on one must close exactly its circuits (Tor's CIRC CLOSED
// events), leave the other's alone (its next launch reuses its circuit), and
// give its next launch a new key and another circuit. `circuits --watch`
// runs in a real terminal (tmux) and must show a launch appear.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, execaSync, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CircuitsReport } from '../../src/circuits/model';
import { createNamespace } from '../support/isolated-tor';
import { cleanEnv, LAUNCHER } from '../support/launcher';
import {
  CURL_ARGS,
  startTarget,
  StreamWatcher,
  TARGET,
  TARGET_URL,
  targetGroup,
  waitForStreams,
  type PrivateTorNetwork,
  type StreamRecord,
} from '../support/private-tor-network';
import { startNetworkWithFirstStream, stopPrivateTorSuite } from '../support/private-tor-suite';

const NS = `tl-cmds-${process.pid}`;
/** `tor --hash-password passwd`: a second ControlPort, on TCP, takes this password (the unix one, the cookie). */
const PASSWORD_HASH = '16:C48194BD4964DC836043A9CCE289823CC9555EE2EAF510DA30FDA72F2C';
const PASSWORD_PORT = '127.0.0.1:9151';
const TMUX = `tl-circuits-${process.pid}`;
const isRoot = process.getuid?.() === 0;
const hasTmux = (() => {
  try {
    return execaSync('tmux', ['-V'], { reject: false }).exitCode === 0;
  } catch {
    return false;
  }
})();

let work: string;
let config: string;
let home: string;
let network: PrivateTorNetwork | undefined;
let watcher: StreamWatcher | undefined;
let server: ResultPromise | undefined;
const suiteStart = Date.now();

function inNamespace(argv: string[], timeout = 60_000) {
  return execa('ip', ['netns', 'exec', NS, ...argv], {
    env: cleanEnv({ HOME: home }),
    extendEnv: false,
    reject: false,
    timeout,
    stdin: 'ignore',
  });
}

const tailsLaunch = (args: string[], timeout?: number) =>
  inNamespace([LAUNCHER, '--config-dir', config, ...args], timeout);

async function circuitsJson(...profiles: string[]): Promise<CircuitsReport> {
  const r = await tailsLaunch(['circuits', '--json', ...profiles]);
  expect(r.stderr, 'circuits --json: stderr').toBe('');
  expect(r.exitCode, `circuits --json: ${r.stdout}`).toBe(0);
  return JSON.parse(String(r.stdout)) as CircuitsReport;
}

/** The circuits `circuits` put in PROFILE's group(s). */
function circuitsOf(report: CircuitsReport, profile: string) {
  return report.groups
    .filter((g) => g.owner.kind === 'profile' && g.owner.profile === profile)
    .flatMap((g) => g.circuits);
}

/** The port curl's -w line reports (its source port at the SocksPort: the stream's SOURCE_ADDR). */
function portOf(result: Awaited<ReturnType<typeof tailsLaunch>>): number {
  expect(result.stderr, `stderr; stdout: ${result.stdout}`).toBe('');
  expect(result.exitCode, `exit status; stdout: ${result.stdout}`).toBe(0);
  const m = /^status 200 port (\d+)$/m.exec(String(result.stdout));
  expect(m, `curl's line: ${result.stdout}`).not.toBeNull();
  return Number(m![1]);
}

/** Streams to the target opened after event number FROM, as the watcher has them. */
function targetStreamsSince(from: number): StreamRecord[] {
  return [...watcher!.streams.values()].filter((s) => s.target === TARGET && s.openedAt >= from);
}

async function until<T>(what: string, probe: () => T | null | undefined | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline)
      throw new Error(`${what}: not within ${timeoutMs / 1000} s\n${watcher?.events.slice(-20).join('\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Launches PROFILES together while the target holds every request, runs DURING, then lets the target answer. */
async function whileHeld<T>(
  profiles: string[],
  during: () => Promise<T>,
): Promise<{ value: T; streams: StreamRecord[] }> {
  // One more than the launches: the target answers only once the test's own direct request comes.
  await targetGroup(server!, profiles.length + 1);
  const from = watcher!.events.length;
  const launches = profiles.map((p) => tailsLaunch([p, '--', ...CURL_ARGS]));
  await until("every launch's stream attached to a circuit", () => {
    const open = targetStreamsSince(from).filter((s) => s.circuit !== null);
    return open.length >= profiles.length && open;
  });
  const value = await during();
  const release = await inNamespace(['curl', '-sS', '--max-time', '10', TARGET_URL]);
  expect(release.stdout, "the test's own request releases the held ones").toBe('ok');
  const ports = (await Promise.all(launches)).map(portOf);
  return { value, streams: await waitForStreams(watcher!, ports) };
}

describe.skipIf(!isRoot)('circuits and new-identity on a private network of real tors with two exits', () => {
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'tails-launch-circuit-commands-'));
    config = join(work, 'config');
    home = join(work, 'home');
    mkdirSync(join(config, 'profiles'), { recursive: true });
    mkdirSync(home);
    const client = join(work, 'tor', 'client', 'control');
    writeFileSync(
      join(config, 'listeners.yml'),
      [
        'listeners:',
        '  default: { address: 127.0.0.1, port: 9050, flags: [IsolateDestAddr, IsolateDestPort] }',
        'host_firewall: { description: "the test\'s declaration", users: [root] }',
        // As listeners.yml names Tor's control port for doctor: circuits and new-identity use it too.
        `control: { address: "unix:${client}/sock", cookie_file: "${client}/cookie" }`,
        '',
      ].join('\n'),
    );
    const curl = (isolation: string) =>
      `listener: default\nisolation: ${isolation}\nbackend: torsocks\ncommand: /usr/bin/curl\n`;
    writeFileSync(join(config, 'profiles', 'alpha.yml'), curl('app'));
    writeFileSync(join(config, 'profiles', 'beta.yml'), curl('app'));
    writeFileSync(join(config, 'profiles', 'gamma.yml'), curl('launch'));
    writeFileSync(
      join(config, 'profiles', 'delta.yml'),
      'listener: default\nisolation: process\nbackend: torsocks\ncommand: /usr/bin/curl\n',
    );

    // Tor's geoip format: INTIPLOW,INTIPHIGH,CC (127.0.0.0-127.255.255.255).
    writeFileSync(join(work, 'geoip'), '2130706432,2147483647,DE\n');
    await createNamespace(NS);
    ({ server } = await startTarget(NS));
    ({ network, watcher } = await startNetworkWithFirstStream(
      NS,
      join(work, 'tor'),
      async () => {
        const r = await tailsLaunch(['gamma', '--', '-s', '--max-time', '10', TARGET_URL], 20_000);
        return { ok: r.exitCode === 0 && r.stdout === 'ok', detail: `${r.exitCode} ${r.stderr}` };
      },
      {
        exits: 2,
        tcpTable: true,
        clientLines: [
          `ControlPort ${PASSWORD_PORT}`,
          `HashedControlPassword ${PASSWORD_HASH}`,
          // The client's own GeoIP table (its last GeoIPFile line wins): every relay here is on
          // 127.0.0.1, which it places in "DE", so that the countries Tor tells are shown.
          `GeoIPFile ${join(work, 'geoip')}`,
        ],
      },
    ));
  }, 150_000);

  afterAll(async () => {
    if (hasTmux) await execa('tmux', ['kill-session', '-t', TMUX], { reject: false });
    await stopPrivateTorSuite({ watcher, network, server, ns: NS, work, label: 'circuits suite', suiteStart });
  }, 60_000);

  it('circuits --json puts each launch on the circuit Tor used for its stream, with that stream and no other', async () => {
    const { value: report, streams } = await whileHeld(['alpha', 'beta'], () => circuitsJson());
    const [a, b] = streams as [StreamRecord, StreamRecord];
    // Tor's own word, from its STREAM events: the credentials and the circuit of each launch's stream.
    expect(a.socksPassword).toBe('tails-launch/app/alpha');
    expect(b.socksPassword).toBe('tails-launch/app/beta');
    expect(a.circuit).not.toBe(b.circuit);
    console.log(
      `circuits --json while alpha and beta were held:\n${JSON.stringify(
        report.groups.map((g) => ({
          label: g.label,
          circuits: g.circuits.map((c) => [
            c.id,
            c.relays.map((r) => r.nickname).join('>'),
            c.streams.map((s) => s.target),
          ]),
        })),
        null,
        1,
      )}`,
    );
    for (const [profile, stream] of [
      ['alpha', a],
      ['beta', b],
    ] as const) {
      const mine = circuitsOf(report, profile);
      const circuit = mine.find((c) => c.id === stream.circuit);
      expect(circuit, `${profile}'s group holds circuit ${stream.circuit}: ${JSON.stringify(mine)}`).toBeDefined();
      // Its one stream, the application's: the preflight's handshake opened none.
      expect(mine.flatMap((c) => c.streams).map((s) => [s.id, s.target])).toEqual([[stream.id, TARGET]]);
      expect(circuit!.relays).toHaveLength(3);
      for (const relay of circuit!.relays) {
        expect(relay.fingerprint).toMatch(/^[0-9A-F]{40}$/);
        expect(relay.nickname).toMatch(/^(auth|middle|exit)\d$/);
        // The country Tor tells from its GeoIP table (the client's: 127.0.0.0/8 is "DE").
        expect(relay.country).toBe('de');
      }
      expect(network!.exits).toContain(circuit!.relays[2]!.fingerprint);
      expect(circuit!.ageSeconds).toBeGreaterThanOrEqual(0);
      // Nothing of the other profile's in this group.
      expect(mine.some((c) => c.id === (profile === 'alpha' ? b : a).circuit)).toBe(false);
    }
    // Tor saw one stream with each group's credentials in this test, curl's, and the preflight's
    // handshake (credentials, no request): Tor reports that as a stream that closed with no
    // target (":0", CLOSED only), which circuits never shows (above: the group's one stream).
    for (const key of ['tails-launch/app/alpha', 'tails-launch/app/beta']) {
      const seen = [...watcher!.streams.values()].filter((s) => s.socksPassword === key);
      const detail = JSON.stringify(seen.map((s) => [s.id, s.target, s.statuses]));
      expect(
        seen.filter((s) => s.target !== ':0'),
        detail,
      ).toHaveLength(1);
      expect(seen.filter((s) => s.target === ':0').length, detail).toBeGreaterThanOrEqual(1);
      for (const handshake of seen.filter((s) => s.target === ':0')) expect(handshake.statuses).toEqual(['CLOSED']);
    }
    // The filter names the profiles' groups only.
    const only = await circuitsJson('beta');
    expect(only.groups.map((g) => g.owner)).toEqual([
      expect.objectContaining({ kind: 'profile', profile: 'beta', isolation: 'app' }),
    ]);
  });

  it("new-identity closes exactly its group's circuits; its next launch takes a new key and another circuit, the other keeps its own", async () => {
    const before = await circuitsJson();
    const alphaBefore = circuitsOf(before, 'alpha').map((c) => c.id);
    const betaBefore = circuitsOf(before, 'beta').map((c) => c.id);
    expect(alphaBefore.length, 'alpha has a circuit from the first test').toBeGreaterThan(0);
    expect(betaBefore.length, 'beta has a circuit from the first test').toBeGreaterThan(0);
    const from = watcher!.events.length;

    const r = await tailsLaunch(['new-identity', 'alpha']);
    expect(r.stderr).toBe('');
    expect(r.exitCode, String(r.stdout)).toBe(0);
    console.log(`new-identity alpha:\n${r.stdout}`);
    const closedLines = [...String(r.stdout).matchAll(/^closed circuit (\S+) of alpha: /gm)].map((m) => m[1]);
    expect(closedLines.sort()).toEqual([...alphaBefore].sort());
    // Tor's word: each of alpha's circuits closed at the controller's request, and no other circuit.
    const closedByTor = await until("CIRC CLOSED for each of alpha's circuits", () => {
      const closed = watcher!.events
        .slice(from)
        .filter((e) => /^CIRC \S+ CLOSED .*REASON=REQUESTED/.test(e))
        .map((e) => e.split(' ')[1]);
      return alphaBefore.every((id) => closed.includes(id)) && closed;
    });
    expect(closedByTor.filter((id) => !alphaBefore.includes(id!))).toEqual([]);
    for (const id of betaBefore) expect(watcher!.circuits.get(id)?.status, `beta's circuit ${id}`).toBe('BUILT');

    // The renewal the next launches put in the key, as explain shows it.
    const renewal = readFileSync(join(home, '.local', 'state', 'tails-launch', 'renewed', 'alpha', '-'), 'utf8').trim();
    expect(renewal).toMatch(/^[0-9a-f]{16}$/);
    expect(String(r.stdout)).toContain(`renewed ${renewal}`);
    const explained = JSON.parse(String((await tailsLaunch(['explain', '--json', 'alpha'])).stdout));
    expect(explained.torSees.credentials.password).toBe(`tails-launch/app/alpha/renewed/${renewal}`);

    const { streams } = await whileHeld(['alpha', 'beta'], async () => null);
    const [a, b] = streams as [StreamRecord, StreamRecord];
    expect(a.socksPassword, "alpha's next launch: Tor sees the renewed key").toBe(
      `tails-launch/app/alpha/renewed/${renewal}`,
    );
    expect(alphaBefore, "alpha's next launch is on another circuit").not.toContain(a.circuit);
    expect(betaBefore, "beta's next launch reuses its untouched circuit").toContain(b.circuit);
    const after = await circuitsJson('alpha');
    expect(after.groups[0]?.owner).toEqual(
      expect.objectContaining({ kind: 'profile', profile: 'alpha', isolation: 'app', renewal }),
    );
  });

  it('new-identity on a launch-isolated profile closes every launch group of it; a password port works as the cookie one; refusals are one line', async () => {
    const { streams } = await whileHeld(['gamma'], async () => null);
    const gammaCircuit = streams[0]!.circuit!;
    const r = await tailsLaunch(['new-identity', 'gamma']);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(String(r.stdout)).toMatch(new RegExp(`^closed circuit ${gammaCircuit} of gamma: `, 'm'));
    await until(`CIRC ${gammaCircuit} CLOSED`, () => watcher!.circuits.get(gammaCircuit)?.status === 'CLOSED');

    const refused = await tailsLaunch(['new-identity', 'delta']);
    expect(refused.exitCode).toBe(77);
    expect(refused.stdout).toBe('');
    expect(String(refused.stderr).trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toMatch(/isolation "process"/);
    const unknown = await tailsLaunch(['new-identity', 'nosuch']);
    expect(unknown.exitCode).toBe(66);
    // A plain ControlPort with a password works as with the cookie; a wrong one is one line (77).
    writeFileSync(join(work, 'password'), 'passwd\n');
    writeFileSync(join(work, 'wrong'), 'not-it\n');
    const withPassword = await tailsLaunch([
      'circuits',
      '--json',
      '--control',
      PASSWORD_PORT,
      '--control-password-file',
      join(work, 'password'),
    ]);
    expect(withPassword.stderr).toBe('');
    expect(withPassword.exitCode).toBe(0);
    expect((JSON.parse(String(withPassword.stdout)) as CircuitsReport).version).toBe(1);
    const wrong = await tailsLaunch([
      'new-identity',
      'alpha',
      '--control',
      PASSWORD_PORT,
      '--control-password-file',
      join(work, 'wrong'),
    ]);
    expect(wrong.exitCode).toBe(77);
    expect(String(wrong.stderr).trim().split('\n')).toHaveLength(1);
    expect(wrong.stderr).toMatch(/authentication with the password in .* failed: Tor rejected it/);
    const deadPort = await tailsLaunch(['circuits', '--control', '127.0.0.1:1']);
    expect(deadPort.exitCode).toBe(69);
    expect(String(deadPort.stderr).trim().split('\n')).toHaveLength(1);
  });

  it("ATTACK: SIGUSR1 to a running watch opens no debugger (Node's inspector would take any local account's code)", async () => {
    const watch = execa(
      'ip',
      ['netns', 'exec', NS, LAUNCHER, '--config-dir', config, 'circuits', '--watch', '--json'],
      {
        env: cleanEnv({ HOME: home }),
        extendEnv: false,
        reject: false,
        stdin: 'ignore',
        timeout: 30_000,
      },
    );
    await new Promise<void>((resolve) => watch.stdout!.once('data', () => resolve()));
    // `ip netns exec` execs the launcher's front, which execs node: this PID is the watch's.
    process.kill(watch.pid!, 'SIGUSR1');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const listening = await inNamespace(['ss', '-ltnH']);
    process.kill(watch.pid!, 'SIGINT');
    const ended = await watch;
    expect(String(ended.stderr)).not.toMatch(/Debugger listening/);
    expect(String(listening.stdout)).not.toMatch(/:9229\b/);
    expect(ended.exitCode, 'the watch went on, and SIGINT ended it with 0').toBe(0);
  });

  it.skipIf(!hasTmux)('circuits --watch in a terminal shows a launch appear, and ends with Ctrl-C', async () => {
    // Its status, from the shell around it (tmux 3.3 does not always report a dead pane's status). Bash:
    // it outlives a child that handled Ctrl-C's SIGINT and exited (dash dies with it).
    const command = [
      'bash',
      '-c',
      'ip netns exec "$0" "$1" --config-dir "$2" circuits --watch; echo "watch exited with $?"; sleep 60',
      NS,
      LAUNCHER,
      config,
    ];
    await execa('tmux', ['new-session', '-d', '-s', TMUX, '-x', '200', '-y', '60', ...command], {
      env: { ...cleanEnv({ HOME: home }), TERM: 'xterm' },
    });
    const screen = async () =>
      String((await execa('tmux', ['capture-pane', '-p', '-t', TMUX], { reject: false })).stdout);
    const waitScreen = async (what: string, test: (text: string) => boolean) => {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const text = await screen();
        if (test(text)) return text;
        if (Date.now() > deadline) throw new Error(`${what}: the terminal shows\n${text}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    };
    await waitScreen('the first view', (t) => /\d+ groups?, \d+ circuits?, \d+ streams? \(Tor /.test(t));
    let shown = '';
    await whileHeld(['gamma'], async () => {
      shown = await waitScreen("gamma's launch and its stream", (t) =>
        new RegExp(
          `^gamma \\(isolation launch, launch [0-9a-f]{8}\\)$[\\s\\S]*?stream \\S+  SUCCEEDED  ${TARGET.replace(/\./g, '\\.')}  \\(listener default\\)`,
          'm',
        ).test(t),
      );
    });
    console.log(`circuits --watch in tmux while gamma's request was held:\n${shown}`);
    await execa('tmux', ['send-keys', '-t', TMUX, 'C-c']);
    const ended = await waitScreen('the watch ending', (t) => /watch exited with \d+/.test(t));
    expect(/watch exited with (\d+)/.exec(ended)![1], 'the watch exits 0 on Ctrl-C').toBe('0');
  });
});
