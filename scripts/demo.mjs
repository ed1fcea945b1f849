// The main job, shown on real Tor: a private network of real tors (Debian's
// tor; 3 directory authorities, 2 middle relays, 1 exit, 1 client whose
// SocksPorts are Tails' own 9050, 9062 and 9063), stand-ins of Tails
// applications of each kind launched through their SHIPPED profiles, and, for
// each launch, what the client tor itself reports on its control port: the
// SocksPort the stream arrived on, the SOCKS credentials it saw, and the
// circuit (id and relays). Two launches of a profile run at once (the target
// holds each answer 1.5 s, so their streams are open together), so whether
// they share a circuit is Tor's isolation at work.
//
// Everything runs in a network namespace of the demo's own, holding only
// loopback and a port-less interface with the target 10.99.0.1: nothing can
// leave it. Every process it starts is stopped by its PID, the namespace and
// the temporary files removed, also on Ctrl-C.
//
// Usage (as root, after: bash scripts/setup.sh):
//   npm run demo                  this, on real Tor (about 40 s)
//   npm run demo -- --stand-ins   the quick one: SOCKS servers of our own stand in for Tor (no root, no tor)
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

if (process.argv.includes('--stand-ins')) {
  await import('./demo-stand-ins.mjs');
  process.exit(0);
}

const started = Date.now();
const root = new URL('..', import.meta.url).pathname;
const launcher = join(root, 'bin/tails-launch');
const standin = join(root, 'test/fixtures/standins/own-setting.py');
const tty = process.stdout.isTTY;
const bold = (s) => (tty ? `\x1b[1m${s}\x1b[0m` : s);
const dim = (s) => (tty ? `\x1b[2m${s}\x1b[0m` : s);
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;

function fail(message) {
  console.error(`demo: ${message}`);
  process.exit(1);
}
if (process.getuid?.() !== 0)
  fail(
    'the real-Tor demonstration needs root (it makes a network namespace): run it as root, or `npm run demo -- --stand-ins` for the quick one',
  );
for (const tool of ['tor', 'tor-gencert', 'ip', 'torsocks', 'curl', 'python3']) {
  if (!process.env.PATH.split(':').some((dir) => existsSync(join(dir, tool))))
    fail(`${tool} is missing: run \`bash scripts/setup.sh\` first`);
}

// The private network and the control-port watcher are the tests' own
// (test/support/*.ts), bundled here at run time. The banner gives the bundle
// a `require` for the CommonJS inside its dependencies (execa's).
const work = mkdtempSync(join(tmpdir(), 'tails-launch-demo-'));
const { build } = await import('esbuild');
await build({
  stdin: {
    contents: [
      "export { CURL_ARGS, startPrivateTorNetwork, StreamWatcher, TARGET, TARGET_ADDRESS, TARGET_SERVER, TARGET_URL, targetGroup, waitForFirstStream, waitForStreams } from './test/support/private-tor-network';",
      "export { createNamespace, deleteNamespace, TAILS_SOCKS_PORTS } from './test/support/isolated-tor';",
    ].join('\n'),
    resolveDir: root,
    loader: 'ts',
  },
  bundle: true,
  platform: 'node',
  format: 'esm',
  outfile: join(work, 'support.mjs'),
  logLevel: 'error',
  banner: {
    js: "import { createRequire as demoCreateRequire } from 'node:module'; const require = demoCreateRequire(import.meta.url);",
  },
});
const {
  CURL_ARGS,
  startPrivateTorNetwork,
  StreamWatcher,
  TARGET,
  TARGET_ADDRESS,
  TARGET_SERVER,
  TARGET_URL,
  targetGroup,
  waitForFirstStream,
  waitForStreams,
  createNamespace,
  deleteNamespace,
  TAILS_SOCKS_PORTS,
} = await import(join(work, 'support.mjs'));

const NS = `tl-demo-${process.pid}`;
const { parse, stringify } = await import('yaml');

// ---------------------------------------------------------------------------
// Clean-up: everything this demo started, by PID; the namespace; the files.

let network;
/** startPrivateTorNetwork's promise, and what stops it while it starts. */
let networkStarting;
const abortStart = new AbortController();
let watcher;
let server;
let namespaceMade = false;
let cleaning;
function cleanUp() {
  cleaning ??= (async () => {
    watcher?.close();
    abortStart.abort();
    await networkStarting?.catch(() => {});
    await network?.stop().catch(() => {});
    if (server?.exitCode === null) {
      server.kill('SIGTERM');
      await new Promise((resolve) => server.once('close', resolve));
    }
    if (namespaceMade) await deleteNamespace(NS);
    rmSync(work, { recursive: true, force: true });
  })();
  return cleaning;
}
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM']) {
  // on, not once: execa's exit hook (signal-exit) re-raises a signal that no other listener handles, killing the demo before its clean-up.
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = true;
    console.log(`\n${signal}: stopping everything the demo started`);
    cleanUp().finally(() => process.exit(130));
  });
}

// ---------------------------------------------------------------------------
// The configuration: the shipped listeners.yml as it is (its addresses are the
// client's SocksPorts), every shipped profile, and the programs of the
// profiles shown replaced by stand-ins this machine has.

const SHOWN = ['ssh', 'git', 'curl', 'electrum', 'pidgin', 'tails-security-check', 'whisperback'];
const listenersText = readFileSync(join(root, 'listeners.yml'), 'utf8');
const listeners = parse(listenersText).listeners;
const shipped = new Map(
  readdirSync(join(root, 'profiles'))
    .filter((f) => f.endsWith('.yml'))
    .map((f) => [f.slice(0, -4), parse(readFileSync(join(root, 'profiles', f), 'utf8'))]),
);
const resolved = (name) => {
  const own = shipped.get(name);
  return own.extends === undefined ? own : { ...resolved(own.extends), ...own };
};
const curlArgs = CURL_ARGS;
const config = join(work, 'config');
const home = join(work, 'home');
mkdirSync(join(config, 'profiles'), { recursive: true });
mkdirSync(home);
writeFileSync(join(config, 'listeners.yml'), listenersText);
const standins = {};
for (const [name, fields] of shipped) {
  const copy = { ...fields };
  const profile = resolved(name);
  if (SHOWN.includes(name) && profile.backend === 'own-setting') {
    // The stand-in connects to Tor itself: from the proxy arguments the
    // profile hands it (Electrum's --proxy), else from "its own settings",
    // which are Tails': 127.0.0.1, the listener's port, no credentials.
    const port = listeners[profile.listener].port;
    copy.command = standin;
    copy.env = {
      ...copy.env,
      set: {
        ...copy.env?.set,
        STANDIN_TARGET: TARGET,
        STANDIN_OWN_SETTINGS: `socks5 127.0.0.1 ${port}`,
        STANDIN_SHOW_PORT: '1',
      },
    };
    standins[name] = copy.proxy
      ? `own-setting.py, handed its proxy as ${profile.command} would be`
      : `own-setting.py, with Tails' settings for ${profile.command} (127.0.0.1:${port}, no credentials)`;
  } else if (name === 'git') {
    // Two curls at once in ONE launch: isolation process gives each its own group.
    const curl = `curl ${curlArgs.map((a) => `'${a}'`).join(' ')}`;
    copy.command = '/bin/sh';
    copy.args = ['-c', `${curl} & first=$!; ${curl}; second=$?; wait $first && exit $second`];
    standins[name] = 'two curls at once, in one launch';
  } else if (SHOWN.includes(name)) {
    if (profile.command !== '/usr/bin/curl') delete copy.args;
    copy.command = '/usr/bin/curl';
    standins[name] = 'curl';
  }
  writeFileSync(join(config, 'profiles', `${name}.yml`), stringify(copy));
}

// ---------------------------------------------------------------------------
// Launching, and finding each launch's stream on the control port.

/** Runs ARGV in the namespace; resolves with its status and output. */
function run(argv, env) {
  return new Promise((resolve) => {
    const child = spawn('ip', ['netns', 'exec', NS, ...argv], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout: stdout.trim(), stderr: stderr.trim() }));
  });
}

const launchEnv = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: home, XDG_CONFIG_HOME: home, LANG: 'C.UTF-8' };
const launch = (args) => run([launcher, '--config-dir', config, ...args], launchEnv);

/** What `explain --json` says about a launch of ARGS. */
async function explain(args) {
  const result = await run([launcher, '--config-dir', config, 'explain', '--json', ...args], launchEnv);
  if (result.code !== 0) throw new Error(`explain ${args.join(' ')}: ${result.stderr}`);
  return JSON.parse(result.stdout);
}

/** The streams of one launch, found by the local ports it printed (curl's -w line, the stand-in's "port N"). */
async function streamsOf(result, label) {
  const ports = [...result.stdout.matchAll(/port (\d+)$/gm)].map((m) => Number(m[1]));
  if (result.code !== 0 || ports.length === 0)
    throw new Error(`${label} failed (exit ${result.code}): ${result.stderr || result.stdout}`);
  return waitForStreams(watcher, ports);
}

// ---------------------------------------------------------------------------
// Output

/** Long random keys shortened (nothing is hidden: the rest is the same in each). */
const short = (text) => text.replace(/[0-9a-f]{32}/g, (hex) => `${hex.slice(0, 8)}…`);
const credentialsOf = (s) =>
  s.socksUsername === null && s.socksPassword === null
    ? 'none'
    : `${s.socksUsername} / ${short(s.socksPassword ?? '')}`;

/** Does what Tor saw on STREAM match what explain stated (torSees)? */
function matchesExplain(stream, sees) {
  if (stream.listenerPort !== sees.port) return false;
  const c = sees.credentials;
  const none = stream.socksUsername === null && stream.socksPassword === null;
  if (c.kind === 'userpass') {
    if (stream.socksUsername !== c.username) return false;
    // A per-launch key: explain shows a sample, every launch makes its own.
    return c.perLaunch
      ? stream.socksPassword?.replace(/[0-9a-f]{32}$/, '') === c.password.replace(/[0-9a-f]{32}$/, '')
      : stream.socksPassword === c.password;
  }
  if (c.kind === 'per-process')
    return /^torsocks-\d+:\d+$/.test(stream.socksUsername ?? '') && stream.socksPassword === '0';
  // application: the program's own settings decide (the stand-in's are Tails': none); none: none.
  return none;
}

const columns = [
  ['launch', 24],
  ['kind', 12],
  ['listener', 15],
  ['credentials Tor saw (username / password)', 53],
  ['circuit', 0],
];
const row = (cells) =>
  `  ${cells.map((cell, i) => (columns[i][1] ? String(cell).padEnd(columns[i][1]) : cell)).join(' ')}`;
const nickname = (hop) => hop.replace(/^\$[0-9A-F]+~?/, '') || hop.slice(0, 9);

let unexpected = 0;

/**
 * One scene: LAUNCHES (each { label, profile, options, args, streams }:
 * tails-launch OPTIONS PROFILE ARGS, making STREAMS requests, 1 if unset) run at once; a row per stream;
 * then whether they shared a circuit, against SHARE (what the group claims).
 */
async function scene(title, launches, share, why) {
  console.log(`\n${bold(title)}`);
  const plans = await Promise.all(launches.map((l) => explain([...(l.options ?? []), l.profile])));
  // The target answers the scene's requests together, so they are open at once (TARGET_SERVER).
  await targetGroup(
    server,
    launches.reduce((n, l) => n + (l.streams ?? 1), 0),
  );
  const results = await Promise.all(launches.map((l) => launch([...(l.options ?? []), l.profile, ...(l.args ?? [])])));
  const streamLists = await Promise.all(results.map((r, i) => streamsOf(r, launches[i].label)));
  console.log(dim(row(columns.map(([name]) => name))));
  const all = [];
  for (const [i, streams] of streamLists.entries()) {
    const plan = plans[i];
    for (const [j, stream] of streams.entries()) {
      const label = streams.length > 1 ? `${launches[i].label}, process ${j + 1}` : launches[i].label;
      const path = (await watcher.circuitPath(stream.circuit)).map(nickname).join(' > ');
      const ok = matchesExplain(stream, plan.torSees);
      if (!ok) unexpected++;
      const listener = `${plan.torSees.listener} :${stream.listenerPort ?? '?'}`;
      console.log(
        row([
          label,
          plan.backend,
          listener,
          credentialsOf(stream) + (ok ? '' : '  ≠ explain!'),
          `#${stream.circuit}  ${path}`,
        ]),
      );
      all.push(stream);
    }
  }
  const circuits = new Set(all.map((s) => s.circuit));
  const shared = circuits.size === 1;
  if (shared !== share) unexpected++;
  const verdict = shared
    ? `one circuit (#${[...circuits][0]}) for ${all.length === 2 ? 'both' : `all ${all.length}`}`
    : `${circuits.size} circuits for ${all.length} streams`;
  console.log(`  ${shared === share ? '→' : '✗ UNEXPECTED:'} ${verdict}: ${why}`);
}

// ---------------------------------------------------------------------------
// The network

// On a terminal, one line rewritten in place (its clock ticking while a step
// lasts); otherwise a line per step.
let step = '';
const draw = () => process.stdout.write(`\r\x1b[K  ${seconds(Date.now() - started).padStart(6)}  ${step}`);
const ticker = tty ? setInterval(() => !interrupted && step && draw(), 1000) : null;
const progress = (text) => {
  if (interrupted) return;
  step = text;
  if (tty) draw();
  else console.log(`  ${seconds(Date.now() - started).padStart(6)}  ${text}`);
};

try {
  console.log(
    bold('tails-launch on a private Tor network') +
      ' (real tor: 3 directory authorities, 2 middle relays, 1 exit, 1 client)',
  );
  console.log(
    `  the client's SocksPorts are Tails': ${Object.values(TAILS_SOCKS_PORTS)
      .map((l) => l.replace(/^SocksPort /, ''))
      .join('; ')}`,
  );
  console.log(
    `  everything runs in network namespace ${NS}; the target is http://${TARGET}/ (it holds each answer 1.5 s)`,
  );
  await createNamespace(NS);
  namespaceMade = true;
  // The target's interface: a dummy, or where the kernel has no dummy driver, a bridge with no ports.
  const dummy = await run(['ip', 'link', 'add', 'tl0', 'type', 'dummy']);
  if (dummy.code !== 0) await run(['ip', 'link', 'add', 'tl0', 'type', 'bridge']);
  await run(['ip', 'addr', 'add', `${TARGET_ADDRESS}/32`, 'dev', 'tl0']);
  await run(['ip', 'link', 'set', 'tl0', 'up']);
  // `ip netns exec` execs node: this PID is the server's.
  server = spawn('ip', ['netns', 'exec', NS, process.execPath, '-e', TARGET_SERVER], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  await new Promise((resolve, reject) => {
    server.stdout.on('data', (d) => String(d).includes('listening') && resolve());
    server.once('close', () => reject(new Error('the target HTTP server exited')));
  });

  progress('making relay keys and starting the relays');
  networkStarting = startPrivateTorNetwork(NS, join(work, 'tor'), 75_000, {
    socksPorts: Object.values(TAILS_SOCKS_PORTS),
    signal: abortStart.signal,
    onProgress: (step) =>
      progress(
        step === 'no consensus with every relay yet'
          ? 'relays up: waiting for a consensus that lists them all'
          : step === 'client started'
            ? 'consensus ready: client tor started'
            : step,
      ),
  });
  network = await networkStarting;
  watcher = await StreamWatcher.open(network.controlSocket, network.cookieFile, {
    tcpTable: `/proc/${network.clientPid}/net/tcp`,
  });
  progress('bootstrapped 100%: waiting for the first stream through the exit');
  await waitForFirstStream(async () => {
    const r = await launch(['ssh', '-s', '--max-time', '10', TARGET_URL]);
    return { ok: r.code === 0 && r.stdout === 'ok', detail: r.stderr };
  }, watcher);
  progress(`ready: client bootstrapped in ${seconds(network.bootstrapMs)}, first stream carried`);
  clearInterval(ticker);
  if (tty) process.stdout.write('\n');

  console.log(
    `\nEach profile below is the shipped one, its program replaced by a stand-in. Per launch: the listener and`,
  );
  console.log(
    `port the stream arrived on (from the kernel's socket table), the credentials and the circuit tor reports`,
  );
  console.log(
    `on its control port (STREAM/CIRC events); "≠ explain!" would mark a launch where Tor saw something other`,
  );
  console.log(
    `than \`tails-launch explain --json\` states. Random per-launch keys are shortened to 8 hex digits. A circuit`,
  );
  console.log(
    `of four relays is one tor had built ahead and extended to the exit (the three authorities relay too, here).`,
  );

  const about = (name) =>
    `${name}: ${shipped.get(name).description} (${resolved(name).backend}, isolation ${resolved(name).isolation}; stand-in: ${standins[name]})`;
  const two = (profile, args = []) => [1, 2].map((n) => ({ label: `${profile} #${n}`, profile, args }));
  await scene(
    about('ssh'),
    two('ssh', curlArgs),
    false,
    'isolation launch, a fresh key per launch, so each launch is its own group',
  );
  await scene(
    about('git'),
    [{ label: 'git', profile: 'git', streams: 2 }],
    false,
    "isolation process, as Tails' torsocks --isolate: credentials made in each process",
  );
  await scene(
    about('curl'),
    two('curl', curlArgs),
    false,
    'the env backend hands curl ALL_PROXY=socks5h://… with a fresh key per launch',
  );
  await scene(
    about('electrum'),
    two('electrum'),
    true,
    'isolation app: Electrum is handed one group (--proxy socks5:…:USER:PASS) for every launch',
  );
  await scene(
    'electrum with --identity alice, and with --identity bob',
    [
      { label: 'electrum alice', profile: 'electrum', options: ['--identity', 'alice'] },
      { label: 'electrum bob', profile: 'electrum', options: ['--identity', 'bob'] },
    ],
    false,
    'a group per identity',
  );
  await scene(
    about('pidgin'),
    two('pidgin'),
    true,
    "isolation application: Pidgin's own settings decide; Tails' send no credentials, so Tor groups its launches by listener and destination",
  );
  await scene(
    `${about('tails-security-check')}\n…and ${about('whisperback')}`,
    [
      { label: 'tails-security-check', profile: 'tails-security-check' },
      { label: 'whisperback', profile: 'whisperback' },
    ],
    true,
    "two programs whose own settings send no credentials, on Tails' 9062, to one destination: Tor gives them one circuit (on Tails too)",
  );
  console.log(
    `\n${unexpected === 0 ? bold('Every launch matched explain, and every group got the circuits it claims.') : bold(`${unexpected} unexpected result(s): see the marks above.`)}`,
  );
  console.log(`See a plan without launching: tails-launch explain --json electrum`);
} catch (error) {
  if (tty) process.stdout.write('\n');
  // Interrupted: the signal handler says so and exits.
  if (!interrupted) console.error(`demo: ${error instanceof Error ? error.message : error}`);
  unexpected++;
} finally {
  clearInterval(ticker);
  await cleanUp();
  console.log(
    dim(`\n${seconds(Date.now() - started)} in all; every tor, the target server and namespace ${NS} are gone.`),
  );
}
process.exit(unexpected === 0 ? 0 : 1);
