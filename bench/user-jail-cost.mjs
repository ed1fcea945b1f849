#!/usr/bin/env node
// What a user jail costs (issue 17): the wall time the launcher's own jail
// (src/jail/jail.c + bubblewrap) adds to a launch, how that grows with jails
// alive, and what stays resident per jail.
//
//   node bench/user-jail-cost.mjs [--runs 30] [--warmup 3] [--rounds 15]
//                                 [--alive 1,10,100] [--no-build]
//
// No root needed. A SOCKS5 stub (test/support/socks5-server.ts) on a free
// loopback port stands in for Tor. Two --config-dirs with the same profile
// (backend env, isolation launch, command /bin/true): one declares
// host_firewall for this user (the launch runs unjailed: guard host), the
// other does not (guard jail, by the user). Same preflight (one SOCKS5
// handshake), same launcher; the difference is the jail.
//
// 1. Interleaved rounds (every command once per round, in a fresh random order).
// 2. With K jailed `sleep 3600` launches alive (K = 1, 10, 100): ROUNDS more
//    interleaved rounds; the sleepers are killed by PID afterwards.
// 3. What stays resident per jail: VmRSS and Pss (smaps_rollup) of the
//    helper (the supervisor at the launcher's PID), the forwarder, bubblewrap's
//    monitor, and an a11y xdg-dbus-proxy (against a private dbus-daemon).
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  buildLauncher,
  cleanEnv,
  fmt,
  have,
  interleaved,
  option,
  printMachine,
  startSocksServerProcess,
  stats,
  table,
} from './lib.mjs';

const RUNS = option('runs', 30);
const WARMUP = option('warmup', 3);
const ROUNDS = option('rounds', 15);
const ALIVE = String(option('alive', '1,10,100'))
  .split(',')
  .map(Number)
  .filter((n) => n > 0);

printMachine();
const LAUNCHER = buildLauncher();
const socks = await startSocksServerProcess();
const work = mkdtempSync(join(tmpdir(), `tails-launch-user-jail-cost-${process.pid}-`));
const runtime = join(work, 'run');
mkdirSync(runtime, { mode: 0o700 });
const me = userInfo().username;

function configDir(name, hostFirewall) {
  const dir = join(work, name);
  mkdirSync(join(dir, 'profiles'), { recursive: true });
  writeFileSync(
    join(dir, 'listeners.yml'),
    `listeners:\n  t: { address: 127.0.0.1, port: ${socks.port} }\n` +
      (hostFirewall ? `host_firewall: { description: "the bench's declaration", users: [${me}] }\n` : ''),
  );
  const profiles = {
    'true-launch': 'listener: t\nisolation: launch\nbackend: env\ncommand: /bin/true\n',
    sleeper: 'listener: t\nisolation: launch\nbackend: env\ncommand: /bin/sleep\nargs: ["3600"]\n',
    'a11y-sleeper':
      'listener: t\nisolation: launch\nbackend: env\ncommand: /bin/sleep\nargs: ["3600"]\nsandbox: { display: wayland, a11y: true }\n',
  };
  for (const [n, text] of Object.entries(profiles)) writeFileSync(join(dir, 'profiles', `${n}.yml`), text);
  return dir;
}
const unjailed = configDir('host', true);
const jailed = configDir('jail', false);
const env = cleanEnv({ XDG_RUNTIME_DIR: runtime, HOME: work });
const cmd = (name, config, profile) => ({
  name,
  file: LAUNCHER,
  args: ['--config-dir', config, profile],
  env,
});

const sleepers = [];
let bus = null;
function cleanup() {
  for (const child of sleepers) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  if (bus && bus.exitCode === null) bus.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
}
process.on('SIGINT', () => {
  cleanup();
  process.exit(130);
});

/** Median of each, and the jail's cost (jailed minus unjailed, medians). */
function summarise(samples) {
  const host = stats(samples.unjailed);
  const jail = stats(samples.jailed);
  return { host, jail, cost: jail.median - host.median };
}

/** VmRSS and Pss of PID in KiB. */
function memory(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  let pss = NaN;
  try {
    pss = Number(/Pss:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? NaN);
  } catch {
    /* no smaps_rollup */
  }
  return { rss, pss };
}

const comm = (pid) => readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
function children(pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** The processes of the jail whose helper is PID, outside the application: name -> memory. */
function residents(pid) {
  const out = [{ role: 'helper (supervisor)', pid, comm: comm(pid), ...memory(pid) }];
  for (const c of children(pid)) {
    const name = comm(c);
    if (name === 'bwrap') out.push({ role: "bubblewrap's monitor", pid: c, comm: name, ...memory(c) });
    else {
      out.push({ role: 'forwarder', pid: c, comm: name, ...memory(c) });
      for (const g of children(c)) out.push({ role: 'D-Bus proxy', pid: g, comm: comm(g), ...memory(g) });
    }
  }
  return out;
}

async function startSleeper(profile, extraEnv = {}) {
  const child = spawn(LAUNCHER, ['--config-dir', jailed, profile], {
    env: { ...env, ...extraEnv },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  sleepers.push(child);
  // Alive once the application (sleep) runs inside: bubblewrap's monitor has a child.
  for (let i = 0; i < 200; i++) {
    const bw = children(child.pid).find((c) => comm(c) === 'bwrap');
    if (bw !== undefined && children(bw).length > 0) return child;
    if (child.exitCode !== null) throw new Error(`a jailed sleeper exited ${child.exitCode}`);
    await sleep(25);
  }
  throw new Error('a jailed sleeper did not start');
}

try {
  console.log(`\n1. a launch of /bin/true, unjailed (guard host) and in a user jail, ${RUNS} interleaved rounds`);
  const base = summarise(
    interleaved([cmd('unjailed', unjailed, 'true-launch'), cmd('jailed', jailed, 'true-launch')], RUNS, WARMUP),
  );
  console.log(
    table(
      ['', 'median ms', 'p90 ms', 'min ms'],
      [
        ['unjailed (host)', fmt(base.host.median), fmt(base.host.p90), fmt(base.host.min)],
        ['user jail', fmt(base.jail.median), fmt(base.jail.p90), fmt(base.jail.min)],
        ['the jail costs', fmt(base.cost), '', ''],
      ],
    ),
  );

  // CPU time (user + system, every process of the launch: time(1) counts all it waited for) moves
  // far less than wall time when other work shares the cores.
  if (have('/usr/bin/time')) {
    const cpu = { unjailed: [], jailed: [] };
    for (let i = 0; i < RUNS; i++)
      for (const [name, config] of Object.entries({ unjailed, jailed }).sort(() => Math.random() - 0.5)) {
        const r = spawnSync('/usr/bin/time', ['-f', '%U %S', LAUNCHER, '--config-dir', config, 'true-launch'], {
          env,
          encoding: 'utf8',
        });
        const [u, sy] = r.stderr.trim().split('\n').at(-1).split(' ').map(Number);
        cpu[name].push((u + sy) * 1000);
      }
    const h = stats(cpu.unjailed);
    const j = stats(cpu.jailed);
    console.log(`\nCPU time (user + system, ms; time(1)'s resolution is 10 ms), ${RUNS} interleaved rounds`);
    console.log(
      table(
        ['', 'median', 'mean'],
        [
          ['unjailed (host)', fmt(h.median, 0), fmt(h.mean, 1)],
          ['user jail', fmt(j.median, 0), fmt(j.mean, 1)],
          ['the jail costs', fmt(j.median - h.median, 0), fmt(j.mean - h.mean, 1)],
        ],
      ),
    );
  }

  console.log(`\n2. with K jails alive, ${ROUNDS} interleaved rounds each`);
  const rows = [];
  for (const k of ALIVE) {
    while (sleepers.length < k) await startSleeper('sleeper');
    const s = summarise(
      interleaved([cmd('unjailed', unjailed, 'true-launch'), cmd('jailed', jailed, 'true-launch')], ROUNDS, 1),
    );
    rows.push([String(k), fmt(s.host.median), fmt(s.jail.median), fmt(s.cost)]);
  }
  console.log(table(['jails alive', 'unjailed median ms', 'jailed median ms', 'cost ms'], rows));

  console.log('\n3. resident per jail (KiB)');
  const plain = residents(sleepers[0].pid);
  let withA11y = [];
  if (have('dbus-daemon') && have('/usr/bin/xdg-dbus-proxy')) {
    const socket = join(runtime, 'a11y-bench-bus');
    bus = spawn('dbus-daemon', ['--session', '--nofork', `--address=unix:path=${socket}`], { stdio: 'ignore' });
    for (let i = 0; i < 100 && spawnSync('test', ['-S', socket]).status !== 0; i++) await sleep(20);
    const a11y = await startSleeper('a11y-sleeper', { AT_SPI_BUS_ADDRESS: `unix:path=${socket}` });
    withA11y = residents(a11y.pid);
  }
  const fmtRows = (list) =>
    list.map((p) => [p.role, p.comm, String(p.rss), Number.isFinite(p.pss) ? String(p.pss) : 'n/a']);
  console.log(table(['process', 'comm', 'VmRSS', 'Pss'], [...fmtRows(plain), ...fmtRows(withA11y.slice(1))]));
  const sum = (list, key) => list.reduce((a, p) => a + (Number.isFinite(p[key]) ? p[key] : 0), 0);
  console.log(
    `\nper jail: ${sum(plain, 'pss')} KiB Pss (${sum(plain, 'rss')} KiB RSS) without a proxy` +
      (withA11y.length
        ? `; ${sum(withA11y, 'pss')} KiB Pss (${sum(withA11y, 'rss')} KiB RSS) with the a11y proxy`
        : ''),
  );
} finally {
  cleanup();
  await socks.stop();
}
