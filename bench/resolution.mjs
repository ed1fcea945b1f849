#!/usr/bin/env node
// Profile resolution against the number of profiles: it should be flat in N,
// because a launch reads listeners.yml and only the profile files on its own
// `extends` chain (src/profile/load.ts, findProfile), never the directory.
//
//   node bench/resolution.mjs [--runs 30] [--iterations 300] [--no-build]
//
// Config dirs with N = 10, 100, 1000 profiles p0000.. each `extends: base`.
//  - end to end: wall time of `bin/tails-launch --config-dir D explain p0005
//    --json`, interleaved across the three dirs (median, p90); `list` beside
//    it, which does read every profile, for contrast.
//  - in process: src/profile/load.ts + resolve.ts bundled with esbuild into
//    bench/.cache; loadListeners + resolveProfile for one name: the first call
//    in a fresh process (cold: lazy module parts, JIT, file cache) as the
//    median over --runs processes, and the median of --iterations warm calls.
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  buildLauncher,
  bundle,
  CACHE,
  cleanEnv,
  fmt,
  interleaved,
  option,
  printMachine,
  stats,
  table,
  writeConfigDir,
} from './lib.mjs';

const SIZES = [10, 100, 1000];
const RUNS = option('runs', 30);
const ITERATIONS = option('iterations', 300);
const NAME = 'p0005';

const machineInfo = printMachine();
const LAUNCHER = buildLauncher();

/** A config dir with N profiles extending `base`. The port is never contacted (explain, list). */
function configDir(n) {
  const profiles = {
    base: 'description: the base every profile extends\nlistener: t\nisolation: launch\nbackend: torsocks\n',
  };
  for (let i = 0; i < n; i++) {
    const name = `p${String(i).padStart(4, '0')}`;
    profiles[name] =
      `extends: base\ndescription: benchmark profile ${i}\ncommand: /bin/true\nargs: ["--${name}"]\nenv:\n  set:\n    BENCH_PROFILE: ${name}\n`;
  }
  return writeConfigDir(9, profiles);
}

const dirs = Object.fromEntries(SIZES.map((n) => [n, configDir(n)]));
const result = { machine: machineInfo, runs: RUNS, iterations: ITERATIONS };

try {
  // End to end.
  const commands = SIZES.flatMap((n) => [
    { name: `explain ${NAME} N=${n}`, file: LAUNCHER, args: ['--config-dir', dirs[n], 'explain', NAME, '--json'] },
    { name: `list N=${n}`, file: LAUNCHER, args: ['--config-dir', dirs[n], 'list'] },
  ]);
  console.log(`\n## End to end: ${RUNS} interleaved rounds (after 3 warm-up rounds)\n`);
  const samples = interleaved(commands, RUNS, 3);
  const s = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, stats(v)]));
  result.endToEnd = s;
  console.log(
    table(
      ['N profiles', `explain ${NAME} --json median ms`, 'p90 ms', 'list median ms', 'p90 ms'],
      SIZES.map((n) => [
        n,
        fmt(s[`explain ${NAME} N=${n}`].median),
        fmt(s[`explain ${NAME} N=${n}`].p90),
        fmt(s[`list N=${n}`].median),
        fmt(s[`list N=${n}`].p90),
      ]),
    ),
  );

  // In process.
  const harness = await bundle(
    'resolution-harness',
    `import { loadListeners } from './src/profile/load.ts';
     import { resolveProfile } from './src/profile/resolve.ts';
     const [dir, name, iterations] = process.argv.slice(2);
     const layers = [{ name: 'config-dir', dir }];
     const split = [];
     const once = async () => {
       const t0 = performance.now();
       const listeners = await loadListeners(layers);
       const t1 = performance.now();
       const profile = await resolveProfile(layers, listeners, name);
       const t2 = performance.now();
       if (profile.command !== '/bin/true' || profile.listener.name !== 't') throw new Error('wrong resolution');
       split.push([t1 - t0, t2 - t1]);
       return t2 - t0;
     };
     const first = await once();
     const warm = [];
     for (let i = 0; i < Number(iterations); i++) warm.push(await once());
     console.log(JSON.stringify({ first, firstListeners: split[0][0], firstResolve: split[0][1], warm }));`,
    { define: { __SHIPPED_DIR__: '"/nonexistent"' }, external: ['koffi', 'typescript'] },
  );
  const inProcess = {};
  for (const n of SIZES) {
    const first = [];
    const firstListeners = [];
    const firstResolve = [];
    let warm = [];
    for (let r = 0; r < RUNS; r++) {
      const out = spawnSync('node', [harness, dirs[n], NAME, String(r === 0 ? ITERATIONS : 0)], {
        env: cleanEnv(),
        encoding: 'utf8',
      });
      if (out.status !== 0) throw new Error(`harness failed: ${out.stderr}`);
      const parsed = JSON.parse(out.stdout);
      first.push(parsed.first);
      firstListeners.push(parsed.firstListeners);
      firstResolve.push(parsed.firstResolve);
      if (r === 0) warm = parsed.warm;
    }
    inProcess[n] = {
      first: stats(first),
      firstListeners: stats(firstListeners),
      firstResolve: stats(firstResolve),
      warm: stats(warm),
    };
  }
  result.inProcess = inProcess;
  console.log(`\n## In process: loadListeners + resolveProfile('${NAME}')\n`);
  console.log(
    table(
      [
        'N profiles',
        `first call, median of ${RUNS} processes, ms`,
        'p90 ms',
        'of which loadListeners',
        'resolveProfile',
        `warm, median of ${ITERATIONS} calls, ms`,
        'p90 ms',
      ],
      SIZES.map((n) => [
        n,
        fmt(inProcess[n].first.median, 2),
        fmt(inProcess[n].first.p90, 2),
        fmt(inProcess[n].firstListeners.median, 2),
        fmt(inProcess[n].firstResolve.median, 2),
        fmt(inProcess[n].warm.median, 3),
        fmt(inProcess[n].warm.p90, 3),
      ]),
    ),
  );
  const flat = (get) => get(1000) / get(10);
  result.flatness = {
    explain: flat((n) => s[`explain ${NAME} N=${n}`].median),
    list: flat((n) => s[`list N=${n}`].median),
    first: flat((n) => inProcess[n].first.median),
    warm: flat((n) => inProcess[n].warm.median),
  };
  console.log(
    `\nN=1000 / N=10: explain ${result.flatness.explain.toFixed(2)}x, in-process first call ${result.flatness.first.toFixed(2)}x, ` +
      `warm ${result.flatness.warm.toFixed(2)}x (flat = 1.00); list ${result.flatness.list.toFixed(2)}x (reads every profile: expected to grow)`,
  );
} finally {
  for (const dir of Object.values(dirs)) rmSync(dir, { recursive: true, force: true });
}
mkdirSync(CACHE, { recursive: true });
writeFileSync(join(CACHE, 'resolution.json'), `${JSON.stringify(result, null, 2)}\n`);
console.log(`\nRaw figures: ${join(CACHE, 'resolution.json')}`);
