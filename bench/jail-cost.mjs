#!/usr/bin/env node
// What a jail costs (issue 11): the wall time a `--jail` adds to a launch,
// and how it grows with jails alive at once. Root only.
//
//   node bench/jail-cost.mjs [--runs 30] [--warmup 3] [--rounds 15]
//                            [--alive 1,10,100] [--strace-runs 10] [--no-build]
//
// Everything runs in a network namespace of this process's own
// (tl-jcost-PID), never the machine's: its loopback, `tails-launch jail
// setup` (the host side: one nftables table, the pool's route), and a SOCKS5
// stub (test/support/socks5-server.ts) on the listener's port 9050 and on its
// jail port 9250. The launcher runs there through `nsenter --net` (only the
// network namespace changes; `ip netns exec` would add a mount namespace and
// a remount of /sys to every run).
//
// 1. Jailed vs not, INTERLEAVED rounds (each round runs every command once,
//    in a fresh random order): bin/tails-launch --config-dir D [--jail]
//    PROFILE, PROFILE = backend env, command /bin/true, isolation launch
//    (and app). Same preflight (one SOCKS5 handshake, inside the jail when
//    jailed), same execve.
// 2. With K jails alive (K = 1, 10, 100): K jailed launches of /bin/sleep
//    started first (isolation launch: a fresh group each, one slot each),
//    then ROUNDS interleaved rounds of one more jailed and one unjailed
//    launch; the sleepers are killed by PID afterwards. A fresh group that
//    happens to be taken by a live jail makes the launch refuse (77, "launch
//    again"): such refusals are retried and counted.
// 3. Where a jailed launch's time goes (if strace exists): `strace -f
//    --seccomp-bpf -ttt -e trace=clone,execve,exit_group` (only those calls
//    stop a process) of STRACE_RUNS launches; the lifetime of each child
//    (ip, nft, sysctl) from its fork to its exit (spawnSync's fork included),
//    summed per tool, against the launch's wall time under strace.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  buildLauncher,
  bundle,
  cleanEnv,
  fmt,
  have,
  interleaved,
  option,
  printMachine,
  quantile,
  stats,
  table,
  timeOnce,
} from './lib.mjs';

if (process.getuid?.() !== 0) {
  console.log(
    'bench/jail-cost.mjs: skipped: jails need root (a network namespace, nftables, veth pairs); run it as root',
  );
  process.exit(0);
}

const RUNS = option('runs', 30);
const WARMUP = option('warmup', 3);
const ROUNDS = option('rounds', 15);
const ALIVE = String(option('alive', '1,10,100'))
  .split(',')
  .map(Number)
  .filter((n) => n > 0);
const STRACE_RUNS = option('strace-runs', 10);
const NS = `tl-jcost-${process.pid}`;
const LISTENER_PORT = 9050;
const JAIL_PORT = 9250;
/** "its fresh group ... is taken by another live jail; launch again" (src/jail/make-jail.ts). */
const GROUP_TAKEN = /fresh group .* is taken by another live jail/;

printMachine();
const LAUNCHER = buildLauncher();
const work = mkdtempSync(join(tmpdir(), `tails-launch-jail-cost-${process.pid}-`));
const config = join(work, 'config');
mkdirSync(join(config, 'profiles'), { recursive: true });
writeFileSync(
  join(config, 'listeners.yml'),
  `listeners:\n  t: { address: 127.0.0.1, port: ${LISTENER_PORT}, jail_port: ${JAIL_PORT} }\njails: { pool: 10.240.0.0/12 }\n`,
);
const profiles = {
  'true-launch': 'listener: t\nisolation: launch\nbackend: env\ncommand: /bin/true\n',
  'true-app': 'listener: t\nisolation: app\nbackend: env\ncommand: /bin/true\n',
  sleeper: 'listener: t\nisolation: launch\nbackend: env\ncommand: /bin/sleep\nargs: ["3600"]\n',
};
for (const [name, text] of Object.entries(profiles)) writeFileSync(join(config, 'profiles', `${name}.yml`), text);

/** ARGV in the bench's namespace (network only). */
const inNs = (argv) => ['nsenter', `--net=/run/netns/${NS}`, ...argv];
const launcherCmd = (name, args) => {
  const [file, ...rest] = inNs([LAUNCHER, '--config-dir', config, ...args]);
  return { name, file, args: rest, env: cleanEnv() };
};

const sleepers = [];
let socks;
function cleanup() {
  for (const child of sleepers) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  if (socks && socks.exitCode === null) socks.kill('SIGTERM');
  spawnSync('ip', ['netns', 'del', NS]);
  rmSync(work, { recursive: true, force: true });
}
process.on('SIGINT', () => {
  cleanup();
  process.exit(130);
});

try {
  spawnSync('ip', ['netns', 'add', NS], { stdio: 'inherit' });
  spawnSync('ip', ['netns', 'exec', NS, 'ip', 'link', 'set', 'lo', 'up'], { stdio: 'inherit' });
  const setup = spawnSync(
    inNs([LAUNCHER])[0],
    [...inNs([LAUNCHER]).slice(1), '--config-dir', config, 'jail', 'setup'],
    {
      encoding: 'utf8',
      env: cleanEnv(),
    },
  );
  if (setup.status !== 0) throw new Error(`jail setup: ${setup.stderr}`);

  // The SOCKS5 stub on both ports, in the namespace: it answers every handshake (auth or not) and CONNECT.
  const stub = await bundle(
    'socks5-two-ports',
    `import { startSocks5Server } from './test/support/socks5-server.ts';
     for (const port of [${LISTENER_PORT}, ${JAIL_PORT}]) await startSocks5Server({ port });
     process.stdout.write('ready\\n');`,
  );
  socks = spawn('nsenter', inNs([process.execPath, stub]).slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve, reject) => {
    socks.stdout.on('data', (d) => String(d).includes('ready') && resolve());
    socks.once('exit', () => reject(new Error('the SOCKS5 stub exited')));
  });

  // 1. Jailed vs not.
  const base = [
    launcherCmd('true-launch', ['true-launch']),
    launcherCmd('--jail true-launch', ['--jail', 'true-launch']),
    launcherCmd('true-app', ['true-app']),
    launcherCmd('--jail true-app', ['--jail', 'true-app']),
  ];
  console.log(`\n1. jailed vs not: ${RUNS} interleaved rounds (${WARMUP} warm-up), wall ms`);
  const samples = interleaved(base, RUNS, WARMUP);
  const row = (name, s, ref) => {
    const st = stats(s);
    return [name, fmt(st.median), fmt(st.p90), fmt(st.min), ref ? `+${fmt(st.median - quantile(ref, 0.5))}` : ''];
  };
  console.log(
    table(
      ['command', 'median', 'p90', 'min', 'added (median)'],
      [
        row('tails-launch true-launch', samples['true-launch']),
        row('tails-launch --jail true-launch', samples['--jail true-launch'], samples['true-launch']),
        row('tails-launch true-app', samples['true-app']),
        row('tails-launch --jail true-app', samples['--jail true-app'], samples['true-app']),
      ],
    ),
  );

  // 2. With K jails alive.
  const collisions = { count: 0 };
  /** One more jailed launch, retried while its fresh group is taken (the refusal is counted). */
  const jailedOnce = () => {
    const cmd = launcherCmd('--jail true-launch', ['--jail', 'true-launch']);
    for (;;) {
      try {
        return timeOnce(cmd);
      } catch (error) {
        if (!GROUP_TAKEN.test(String(error))) throw error;
        collisions.count++;
      }
    }
  };
  const rows = [];
  const aliveNow = () =>
    spawnSync('ip', ['netns', 'exec', NS, 'sh', '-c', 'ip -o link show | grep -c " tlj"'], {
      encoding: 'utf8',
    }).stdout.trim();
  const measureAt = (k) => {
    const jailed = [];
    const plain = [];
    const unjailed = launcherCmd('true-launch', ['true-launch']);
    for (let i = 0; i < ROUNDS; i++) {
      for (const which of Math.random() < 0.5 ? ['j', 'p'] : ['p', 'j'])
        which === 'j' ? jailed.push(jailedOnce()) : plain.push(timeOnce(unjailed));
    }
    const sj = stats(jailed);
    const sp = stats(plain);
    rows.push([String(k), fmt(sj.median), fmt(sj.p90), fmt(sp.median), `+${fmt(sj.median - sp.median)}`]);
  };
  console.log(
    `\n2. one more launch with K jails alive (isolation launch sleepers): ${ROUNDS} interleaved rounds, wall ms`,
  );
  measureAt(0);
  for (const k of ALIVE) {
    // Start sleepers up to K, each once its jail exists (its veth in the namespace), one at a time.
    while (sleepers.length < k) {
      const before = Number(aliveNow());
      const [file, ...args] = inNs([LAUNCHER, '--config-dir', config, '--jail', 'sleeper']);
      let stderr = '';
      const child = spawn(file, args, { stdio: ['ignore', 'ignore', 'pipe'], env: cleanEnv() });
      child.stderr.on('data', (d) => (stderr += d));
      const deadline = Date.now() + 10_000;
      while (Number(aliveNow()) <= before && child.exitCode === null && Date.now() < deadline) await sleep(20);
      if (child.exitCode !== null || Date.now() >= deadline) {
        if (GROUP_TAKEN.test(stderr)) {
          collisions.count++;
          continue;
        }
        throw new Error(`a sleeper did not start: exit ${child.exitCode}: ${stderr.trim()}`);
      }
      sleepers.push(child);
    }
    const live = aliveNow();
    if (Number(live) !== k) throw new Error(`${k} jails expected alive, ${live} tlj links found`);
    measureAt(k);
  }
  console.log(table(['jails alive', 'jailed median', 'jailed p90', 'unjailed median', 'added (median)'], rows));
  console.log(`fresh groups found taken (refused with 77, retried): ${collisions.count}`);
  for (const child of sleepers.splice(0)) {
    child.kill('SIGTERM');
    await new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', resolve)));
  }
  // Nothing resident: the jails went with their last process.
  await sleep(200);
  console.log(`tlj links left after the sleepers were killed: ${aliveNow()}`);

  // 3. Where the time goes.
  if (STRACE_RUNS > 0 && have('strace')) {
    const perTool = {};
    const walls = [];
    const spawned = [];
    for (let i = 0; i < STRACE_RUNS; i++) {
      const out = join(work, `strace-${i}`);
      const t0 = process.hrtime.bigint();
      const r = spawnSync(
        'strace',
        [
          '-f',
          '--seccomp-bpf',
          '-qq',
          '-ttt',
          '-e',
          'trace=clone,execve,exit_group',
          '-o',
          out,
          ...inNs([LAUNCHER, '--config-dir', config, '--jail', 'true-launch']),
        ],
        { env: cleanEnv(), encoding: 'utf8' },
      );
      walls.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (r.status !== 0) {
        if (GROUP_TAKEN.test(r.stderr)) continue;
        throw new Error(`strace run: ${r.stderr}`);
      }
      // A tool's time: from its parent's fork (clone without CLONE_THREAD: spawnSync's cost included) to its exit_group.
      const forkedAt = new Map(); // child PID -> fork time (s)
      const pendingFork = new Map(); // parent PID -> time of a clone strace shows unfinished
      const tools = new Map(); // child PID -> tool
      const run = {};
      let count = 0;
      for (const line of readFileSync(out, 'utf8').split('\n')) {
        const m = /^(\d+)\s+([\d.]+)\s+(.*)$/.exec(line);
        if (!m) continue;
        const [, pid, atText, call] = m;
        const at = Number(atText);
        if (/^clone\(/.test(call) && call.includes('SIGCHLD')) {
          const child = / = (\d+)$/.exec(call);
          if (child) forkedAt.set(child[1], at);
          else pendingFork.set(pid, at);
        } else if (/^<\.\.\. clone resumed>/.test(call) && pendingFork.has(pid)) {
          const child = / = (\d+)$/.exec(call);
          if (child) forkedAt.set(child[1], pendingFork.get(pid));
          pendingFork.delete(pid);
        } else if (/^execve\("[^"]*\/(ip|nft|sysctl)"/.test(call) && / = 0$/.test(call)) {
          tools.set(pid, /^execve\("[^"]*\/(ip|nft|sysctl)"/.exec(call)[1]);
          count++;
        } else if (/^exit_group\(/.test(call) && tools.has(pid) && forkedAt.has(pid)) {
          const t = tools.get(pid);
          run[t] = (run[t] ?? 0) + (at - forkedAt.get(pid)) * 1000;
          tools.delete(pid);
        }
      }
      for (const [t, ms] of Object.entries(run)) (perTool[t] ??= []).push(ms);
      spawned.push(count);
    }
    const wall = quantile(walls, 0.5);
    console.log(
      `\n3. a jailed launch under strace -f (${STRACE_RUNS} runs): median wall ${fmt(wall)} ms, ${quantile(spawned, 0.5)} tool processes per launch`,
    );
    const toolRows = Object.entries(perTool).map(([t, v]) => [
      t,
      fmt(quantile(v, 0.5)),
      `${fmt((100 * quantile(v, 0.5)) / wall, 0)} %`,
    ]);
    const total = Object.values(perTool).reduce((sum, v) => sum + quantile(v, 0.5), 0);
    toolRows.push(['all tools', fmt(total), `${fmt((100 * total) / wall, 0)} %`]);
    console.log(table(['tool', 'median ms per launch (fork to exit)', 'share of wall'], toolRows));
  }
} finally {
  cleanup();
}
