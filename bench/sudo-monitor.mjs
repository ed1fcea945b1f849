#!/usr/bin/env node
// What stays resident while a PLACED application runs. A placement profile
// (Tor Browser in namespace `tbb`, the IUK download as its own user) started
// by an unprivileged user goes tails-launch -> execve sudo -> the privileged
// entry (Node), which enters the namespace, switches user and execve()s the
// application. No Node stays, but sudo stays as the application's parent for
// its whole life (its monitor: it relays signals, waits, closes the PAM
// session). With Debian's `Defaults use_pty` and a terminal, sudo also runs
// the command on a pseudo-terminal of its own and keeps a second process.
//
//   node bench/sudo-monitor.mjs [--rounds 10] [--settle-ms 500] [--no-build]
//
// Root only. Root running `sudo -n -u nobody` goes through the same sudo
// binary, the same PAM session and the same monitor code (exec_nopty /
// exec_pty, chosen only by use_pty and whether there is a terminal) as a
// member of group tails-launch running /usr/lib/tails-launch/place through
// the package's NOPASSWD drop-in (debian/tails-launch.sudoers): only the
// policy check before it differs. The figures are for Debian bookworm's sudo
// 1.9.13 (the script prints `sudo -V | head -1`).
//
// Cases, each round in a fresh random order, each started in a session of
// its own (setsid: no controlling terminal, as from a desktop menu):
//   sudo, no terminal     sudo -n -u nobody -- /bin/sleep 30, stdio on pipes
//   sudo, with terminal   the same under `script -qfc CMD /dev/null`, which
//                         gives it a pty; only sudo's subtree is measured
//   tails-launch execve   bin/tails-launch --config-dir D default -- /bin/sleep 30
//   sleep alone           /bin/sleep 30
// Once sleep runs, and SETTLE ms more, VmRSS (/proc/PID/status) and Pss
// (/proc/PID/smaps_rollup: shared pages split among their users) are read
// for every process from the measured top down to sleep. Every case ends
// with SIGTERM to the PID we started, and the script checks that every
// process it saw is gone (a zombie counts as gone: it holds no memory).
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  buildLauncher,
  CACHE,
  cleanEnv,
  fmt,
  have,
  option,
  printMachine,
  quantile,
  shuffle,
  startSocksServerProcess,
  table,
  writeConfigDir,
} from './lib.mjs';
import { exeOf, kb, readProc as read, tree } from './proc.mjs';

if (process.getuid() !== 0) {
  // sudo -u nobody without a password, and reading sudo's /proc files, need root.
  console.log('bench/sudo-monitor.mjs: run it as root (it starts `sudo -n -u nobody`); nothing measured.');
  process.exit(0);
}
for (const tool of ['sudo', 'script']) {
  if (!have(tool)) {
    console.log(`bench/sudo-monitor.mjs: ${tool} is not installed; nothing measured.`);
    process.exit(0);
  }
}

const ROUNDS = option('rounds', 10);
const SETTLE_MS = option('settle-ms', 500);
const SLEEP = '/bin/sleep';
const SLEEP_EXE = realpathSync(SLEEP);
const SUDO_EXE = realpathSync(
  spawnSync('sh', ['-c', 'command -v sudo'], { encoding: 'utf8', env: cleanEnv() }).stdout.trim(),
);
const SUDO_ARGS = ['-n', '-u', 'nobody', '--', SLEEP, '30'];

const machineInfo = printMachine();
const sudoVersion = spawnSync('sudo', ['-V'], { encoding: 'utf8', env: cleanEnv() }).stdout.split('\n')[0];
// The Defaults that apply to root here: whether use_pty is on decides the terminal case.
const sudoDefaults = spawnSync('sudo', ['-n', '-l'], { encoding: 'utf8', env: cleanEnv() })
  .stdout.split('\n\n')[0] // the Defaults paragraph, which sudo wraps over several lines
  .replace(/\s+/g, ' ')
  .trim();
console.log(`${sudoVersion} (${SUDO_EXE}); ${sudoDefaults}`);

const LAUNCHER = buildLauncher();
const socks = await startSocksServerProcess();
const dir = writeConfigDir(socks.port, { default: 'listener: t\nisolation: launch\nbackend: torsocks\n' });

/** State and start time (clock ticks since boot) of PID, or null once it is gone. */
function stat(pid) {
  const text = read(`/proc/${pid}/stat`);
  if (!text) return null;
  // The command name may hold spaces and parentheses: the fields start after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0], start: fields[19] };
}

/** The PID where measuring starts: the started process itself, or (under script) the first sudo below it. */
function measuredTop(c, pid) {
  if (!c.measureFrom) return pid;
  return tree(pid).find((p) => exeOf(p) === c.measureFrom) ?? null;
}

const CASES = [
  { name: 'sudo, no terminal (pipes)', file: 'sudo', args: SUDO_ARGS },
  {
    name: 'sudo, with a terminal (under script)',
    file: 'script',
    // exec: the shell script -c starts does not stay in between.
    args: ['-qfc', `exec sudo ${SUDO_ARGS.join(' ')}`, '/dev/null'],
    env: cleanEnv({ SHELL: '/bin/sh' }),
    measureFrom: SUDO_EXE,
  },
  { name: 'tails-launch (execve)', file: LAUNCHER, args: ['--config-dir', dir, 'default', '--', SLEEP, '30'] },
  { name: 'sleep alone', file: SLEEP, args: ['30'] },
];

async function measureOnce(c) {
  // detached: a session of its own, so no controlling terminal of ours reaches sudo.
  const child = spawn(c.file, c.args, { env: c.env ?? cleanEnv(), stdio: 'pipe', detached: true });
  let stderr = '';
  child.stdout.resume();
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const deadline = Date.now() + 15_000;
  let top = null;
  // Until sleep runs below the measured top.
  while (top === null || !tree(top).some((p) => exeOf(p) === SLEEP_EXE)) {
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline)
      throw new Error(`${c.name}: sleep never ran; stderr: ${stderr.trim().slice(0, 400)}`);
    await sleep(5);
    top = measuredTop(c, child.pid);
  }
  await sleep(SETTLE_MS);
  const procs = tree(top).map((pid) => ({
    pid,
    exe: exeOf(pid) ?? '?',
    stat: stat(pid),
    rssKb: kb(read(`/proc/${pid}/status`), 'VmRSS'),
    pssKb: kb(read(`/proc/${pid}/smaps_rollup`), 'Pss'),
  }));
  // Everything the started PID holds, script's own processes included, to check that all of it ends.
  const seen = tree(child.pid).map((pid) => ({ pid, stat: stat(pid) }));
  const resident = procs.filter((p) => p.exe !== SLEEP_EXE);
  const app = procs.filter((p) => p.exe === SLEEP_EXE);
  const sum = (list, key) => list.reduce((a, p) => a + p[key], 0);
  const sample = {
    chain: procs.map((p) => p.exe.replace(/.*\//, '')).join(' → '),
    topIsApp: exeOf(child.pid) === SLEEP_EXE,
    residentCount: resident.length,
    residentRssKb: sum(resident, 'rssKb'),
    residentPssKb: sum(resident, 'pssKb'),
    appRssKb: sum(app, 'rssKb'),
    appPssKb: sum(app, 'pssKb'),
    processes: procs,
  };

  process.kill(child.pid, 'SIGTERM');
  const end = await Promise.race([exited, sleep(5000).then(() => null)]);
  if (!end) child.kill('SIGKILL'); // only ever the PID we started
  sample.exit = end ? (end.signal ? `signal ${end.signal}` : `exit ${end.code}`) : 'still running, killed';
  // A process is gone when /proc has no such PID, the PID now belongs to a later process, or it is a zombie.
  const alive = () =>
    seen.filter((p) => {
      const now = stat(p.pid);
      return now !== null && now.start === p.stat?.start && now.state !== 'Z';
    });
  const until = Date.now() + 5000;
  while (alive().length > 0 && Date.now() < until) await sleep(20);
  sample.leftBehind = alive().map((p) => `${p.pid} ${exeOf(p.pid) ?? '?'}`);
  child.stdin.end();
  return sample;
}

const samples = Object.fromEntries(CASES.map((c) => [c.name, []]));
try {
  for (let round = 0; round < ROUNDS; round++)
    for (const c of shuffle(CASES)) samples[c.name].push(await measureOnce(c));
} finally {
  await socks.stop();
  rmSync(dir, { recursive: true, force: true });
}

const mb = (kbs) => kbs / 1024;
/** "median (min–max)" in MB. */
const spread = (values) => {
  const v = values.map(mb);
  return `${fmt(quantile(v, 0.5), 2)} (${fmt(Math.min(...v), 2)}–${fmt(Math.max(...v), 2)})`;
};
const counts = (values) => [...new Set(values)].sort().join(', ');

console.log(
  `\n## Resident while the application (sleep 30) runs, ${ROUNDS} rounds, ${SETTLE_MS} ms after it started\n`,
);
console.log(
  table(
    [
      'case',
      'processes from the measured top',
      'resident besides the app',
      'their RSS MB, median (range)',
      'their PSS MB, median (range)',
      'app RSS MB',
      'after SIGTERM to the started PID',
    ],
    CASES.map((c) => {
      const s = samples[c.name];
      const exits = counts(s.map((x) => x.exit));
      const left = s.reduce((a, x) => a + x.leftBehind.length, 0);
      return [
        c.name,
        counts(s.map((x) => x.chain)),
        counts(s.map((x) => x.residentCount)),
        spread(s.map((x) => x.residentRssKb)),
        spread(s.map((x) => x.residentPssKb)),
        fmt(
          quantile(
            s.map((x) => mb(x.appRssKb)),
            0.5,
          ),
          2,
        ),
        `${exits}; ${left === 0 ? 'all ended' : `${left} process(es) left behind`}`,
      ];
    }),
  ),
);
const median = (name, key) =>
  mb(
    quantile(
      samples[CASES[name].name].map((x) => x[key]),
      0.5,
    ),
  );
console.log(
  `\nsudo's monitor keeps ${fmt(median(0, 'residentRssKb'), 2)} MB RSS (${fmt(median(0, 'residentPssKb'), 2)} MB PSS) ` +
    `per placed app without a terminal, ${fmt(median(1, 'residentRssKb'), 2)} MB RSS ` +
    `(${fmt(median(1, 'residentPssKb'), 2)} MB PSS) with one; the execve launch keeps ` +
    `${fmt(median(2, 'residentRssKb'), 2)} MB besides the app.`,
);
console.log('\nPer process, median RSS / PSS MB, from the measured top down:');
for (const c of CASES) {
  const s = samples[c.name];
  const parts = s[0].processes.map((p, i) => {
    const at = (key) =>
      quantile(
        s.filter((x) => x.processes[i]).map((x) => mb(x.processes[i][key])),
        0.5,
      );
    return `${p.exe.replace(/.*\//, '')} ${fmt(at('rssKb'), 2)} / ${fmt(at('pssKb'), 2)}`;
  });
  console.log(`  ${c.name}: ${parts.join(' → ')}`);
}
for (const c of CASES)
  for (const x of samples[c.name])
    if (x.leftBehind.length > 0) console.log(`WARNING: ${c.name}: left behind: ${x.leftBehind.join(', ')}`);

mkdirSync(CACHE, { recursive: true });
writeFileSync(
  join(CACHE, 'sudo-monitor.json'),
  `${JSON.stringify({ machine: machineInfo, sudoVersion, sudoDefaults, rounds: ROUNDS, settleMs: SETTLE_MS, samples }, null, 2)}\n`,
);
console.log(`Raw figures: ${join(CACHE, 'sudo-monitor.json')}`);
