#!/usr/bin/env node
// What stays resident while the application runs: the launcher execve()s,
// so the application's PID holds only the application. Compared with what a
// spawn-and-wait wrapper keeps: a Node process waiting for its child.
//
//   node bench/no-resident.mjs [--settle-ms 500] [--no-build]
//
// Each case starts `/bin/sleep 30`, waits until it runs and then SETTLE ms
// more, and sums VmRSS and Pss (/proc/PID/smaps_rollup: shared pages split
// among their users) over the process we started and all its descendants.
//   tails-launch (execve)     bin/tails-launch --config-dir D default -- /bin/sleep 30
//   tails-launch fallback     the same bundle where koffi cannot be loaded (a copy
//                             of bin/ and dist/ outside the checkout): its real
//                             spawn-and-wait path (src/exec/spawn-fallback.ts)
//   node spawn-and-wait       node -e: spawn sleep, wait, mirror its end
//   ... on Node 18.20.4       the same, when .cache/node18 holds it
//   sleep alone               /bin/sleep 30 started directly
// Every case ends with SIGTERM to the PID we started; the exit is checked.
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  buildLauncher,
  CACHE,
  cleanEnv,
  fmt,
  NODE18,
  option,
  printMachine,
  startSocksServerProcess,
  table,
  writeConfigDir,
} from './lib.mjs';
import { exeOf, kb, readProc as read, tree } from './proc.mjs';

const SETTLE_MS = option('settle-ms', 500);
const SLEEP = '/bin/sleep';
const SLEEP_EXE = realpathSync(SLEEP);

const machineInfo = printMachine();
const LAUNCHER = buildLauncher();
const TREE = join(LAUNCHER, '..', '..');
const socks = await startSocksServerProcess();
// The spawn fallback only serves the env backend: the LD_PRELOAD backends refuse to launch without koffi (77).
const dir = writeConfigDir(socks.port, {
  default: 'listener: t\nisolation: launch\nbackend: torsocks\n',
  plain: 'listener: t\nisolation: launch\nbackend: env\n',
});
// No node_modules anywhere above /tmp: require('koffi') fails, the launcher falls back to spawn.
const noKoffi = mkdtempSync(join(tmpdir(), 'tails-launch-nokoffi-'));
cpSync(join(TREE, 'bin'), join(noKoffi, 'bin'), { recursive: true });
cpSync(join(TREE, 'dist'), join(noKoffi, 'dist'), { recursive: true });

function describe(pid) {
  return tree(pid).map((p) => {
    const exe = exeOf(p) ?? '?';
    return {
      pid: p,
      exe,
      rssKb: kb(read(`/proc/${p}/status`), 'VmRSS'),
      pssKb: kb(read(`/proc/${p}/smaps_rollup`), 'Pss'),
    };
  });
}

async function measure(name, file, args, env = cleanEnv()) {
  const child = spawn(file, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const deadline = Date.now() + 15_000;
  // Until sleep runs somewhere in the tree.
  while (!tree(child.pid).some((p) => exeOf(p) === SLEEP_EXE)) {
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline)
      throw new Error(`${name}: sleep never ran; stderr: ${stderr}`);
    await sleep(5);
  }
  await sleep(SETTLE_MS);
  const procs = describe(child.pid);
  const row = {
    name,
    pid: child.pid,
    processes: procs.map((p) => `${p.pid === child.pid ? 'PID' : 'child'} ${p.exe.replace(/.*\//, '')}`).join(' + '),
    pidIsApp: exeOf(child.pid) === SLEEP_EXE,
    rssKb: procs.reduce((a, p) => a + p.rssKb, 0),
    pssKb: procs.reduce((a, p) => a + p.pssKb, 0),
    pidRssKb: procs[0].rssKb,
  };
  process.kill(child.pid, 'SIGTERM');
  const end = await Promise.race([exited, sleep(5000).then(() => null)]);
  row.exit = end ? (end.signal ? `signal ${end.signal}` : `exit ${end.code}`) : 'still running';
  // A wrapper that does not pass SIGTERM on would leave sleep behind: end it, by PID.
  for (const p of procs.slice(1)) {
    try {
      process.kill(p.pid, 'SIGKILL');
      row.orphaned = (row.orphaned ?? 0) + 1;
    } catch {
      /* already gone */
    }
  }
  if (!end) child.kill('SIGKILL');
  return row;
}

const WRAPPER = `const c = require('child_process').spawn(${JSON.stringify(SLEEP)}, ['30'], { stdio: 'inherit' });
for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(s, () => c.kill(s));
c.on('exit', (code, sig) => {
  if (code !== null) process.exit(code);
  process.removeAllListeners(sig);
  process.kill(process.pid, sig);
});`;

const rows = [];
try {
  rows.push(await measure('tails-launch (execve)', LAUNCHER, ['--config-dir', dir, 'default', '--', SLEEP, '30']));
  rows.push(
    await measure('tails-launch, koffi missing (spawn fallback, backend env)', join(noKoffi, 'bin/tails-launch'), [
      '--config-dir',
      dir,
      'plain',
      '--',
      SLEEP,
      '30',
    ]),
  );
  rows.push(await measure('node -e spawn-and-wait (Node 20)', 'node', ['-e', WRAPPER]));
  if (existsSync(NODE18)) rows.push(await measure('node -e spawn-and-wait (Node 18.20.4)', NODE18, ['-e', WRAPPER]));
  rows.push(await measure('sleep alone', SLEEP, ['30']));
} finally {
  await socks.stop();
  rmSync(dir, { recursive: true, force: true });
  rmSync(noKoffi, { recursive: true, force: true });
}

console.log(`\n## Resident while the application (sleep 30) runs, ${SETTLE_MS} ms after it started\n`);
console.log(
  table(
    ['case', 'processes', 'PID is sleep', 'RSS total MB', 'PSS total MB', 'after SIGTERM to PID'],
    rows.map((r) => [
      r.name,
      r.processes,
      r.pidIsApp ? 'yes' : 'no',
      fmt(r.rssKb / 1024),
      fmt(r.pssKb / 1024),
      r.exit + (r.orphaned ? ` (${r.orphaned} left behind, killed)` : ''),
    ]),
  ),
);
const launched = rows[0];
const wrapper = rows.find((r) => r.name.startsWith('node -e spawn-and-wait (Node 20)'));
console.log(
  `\nexecve keeps ${fmt(launched.rssKb / 1024)} MB RSS (${fmt(launched.pssKb / 1024)} MB PSS) per running app; ` +
    `a Node 20 spawn-and-wait wrapper keeps ${fmt(wrapper.rssKb / 1024)} MB RSS (${fmt(wrapper.pssKb / 1024)} MB PSS), ` +
    `i.e. ${fmt((wrapper.rssKb - launched.rssKb) / 1024)} MB more per app.`,
);
mkdirSync(CACHE, { recursive: true });
writeFileSync(
  join(CACHE, 'no-resident.json'),
  `${JSON.stringify({ machine: machineInfo, settleMs: SETTLE_MS, rows }, null, 2)}\n`,
);
console.log(`Raw figures: ${join(CACHE, 'no-resident.json')}`);
if (!launched.pidIsApp) {
  console.log('\nWARNING: the launched PID is not the application: the launcher did not execve.');
  process.exitCode = 1;
}
