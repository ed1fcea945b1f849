#!/usr/bin/env node
// Launch overhead: what does `tails-launch default -- APP` cost on top of
// starting Node at all?
//
//   node bench/launch-overhead.mjs [--runs 60] [--warmup 5] [--no-build]
//                                  [--strace-runs 15] [--json FILE]
//
// 1. Wall time, INTERLEAVED: every round runs each command once, in a fresh
//    random order, so drifting machine load hits all of them alike. The SOCKS
//    server the preflight talks to runs in a separate process.
//      launch         bin/tails-launch --config-dir D default -- /bin/true
//                     (sh front, Node, config, koffi, SOCKS5 preflight,
//                     execve of /bin/true with torsocks' library preloaded)
//      node -e 0      the floor: Node starting and exiting
//      torsocks       torsocks /bin/true, for reference
//    and, for the breakdown: bin/tails-launch --version, node dist/... --version
//    (no front), explain (everything but preflight and exec), node + koffi load,
//    /bin/true alone; with Node 18.20.4 too when .cache/node18 holds it.
// 2. hyperfine (if installed) on launch, node -e 0 and torsocks, as a
//    cross-check of the medians (hyperfine runs each command's runs in a row).
// 3. Max RSS (/usr/bin/time -f %M) of the launch, if /usr/bin/time exists.
//    ru_maxrss survives execve, so it is Node's peak, not /bin/true's.
// 4. Where the time goes (if strace exists): one timeline per launch from
//    `strace -f --seccomp-bpf -ttt` (only execve, openat, connect and
//    exit_group stop the process), medians of the gaps between landmarks.
// 5. koffi's load time, in-process (require, then load libc and declare the
//    7 functions src/exec/execve.ts declares).
// 6. The import + evaluation cost of the dependencies on the launch path,
//    each bundled alone like dist/ (what a leaner static graph would save).
// 7. Floors (bench/floor-launch.mjs, bench/floor-front.sh): the least a
//    launcher of each design must do, measured in the same interleaved rounds.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  buildLauncher,
  bundle,
  CACHE,
  cleanEnv,
  fmt,
  have,
  interleaved,
  NODE18,
  option,
  printMachine,
  quantile,
  ROOT,
  startSocksServerProcess,
  stats,
  table,
  writeConfigDir,
} from './lib.mjs';

const RUNS = option('runs', 60);
const WARMUP = option('warmup', 5);
const STRACE_RUNS = option('strace-runs', 15);
const JSON_OUT = option('json', join(CACHE, 'launch-overhead.json'));
const GOAL = 1.15;

const machineInfo = printMachine();
const LAUNCHER = buildLauncher();
const TREE = join(LAUNCHER, '..', '..');
const socks = await startSocksServerProcess();
const dir = writeConfigDir(socks.port, { default: 'listener: t\nisolation: launch\nbackend: torsocks\n' });
const result = { machine: machineInfo, runs: RUNS, warmup: WARMUP };
// The shipped files' data is built into the bundle (src/profile/parsed-cache.ts):
// a launch whose files are exactly the shipped ones loads no parser. Two
// copies of the shipped layer tell the saving: one verbatim, one with a
// comment line added to each file (so every file is parsed). Both are
// planned by `explain` (the shipped listener is Tor's 9050, not ours).
const shipped = mkdtempSync(join(tmpdir(), 'tails-launch-bench-shipped-'));
const edited = mkdtempSync(join(tmpdir(), 'tails-launch-bench-edited-'));
for (const [dir, extra] of [
  [shipped, ''],
  [edited, '# edited\n'],
]) {
  mkdirSync(join(dir, 'profiles'));
  writeFileSync(join(dir, 'listeners.yml'), readFileSync(join(ROOT, 'listeners.yml'), 'utf8') + extra);
  writeFileSync(join(dir, 'profiles/default.yml'), readFileSync(join(ROOT, 'profiles/default.yml'), 'utf8') + extra);
}

/** A command line for hyperfine -N (no shell): a command's own variables go through env(1). */
function hyperfineCommand(c) {
  const extra = Object.entries(c.env ?? {})
    .filter(([k, v]) => cleanEnv()[k] !== v)
    .map(([k, v]) => `${k}=${v}`);
  return [...(extra.length ? ['env', ...extra] : []), c.file, ...c.args].join(' ');
}

try {
  const node = 'node';
  const launchArgs = ['--config-dir', dir, 'default', '--', '/bin/true'];
  const main = [
    { name: 'launch', file: LAUNCHER, args: launchArgs },
    {
      name: 'explain, shipped files (built-in data)',
      file: LAUNCHER,
      args: ['--config-dir', shipped, 'explain', '--json', 'default', '--', '/bin/true'],
    },
    {
      name: 'explain, the same files edited (parsed)',
      file: LAUNCHER,
      args: ['--config-dir', edited, 'explain', '--json', 'default', '--', '/bin/true'],
    },
    { name: 'node -e 0', file: node, args: ['-e', '0'] },
    { name: 'torsocks /bin/true', file: '/usr/bin/torsocks', args: ['/bin/true'] },
  ];
  const breakdown = [
    { name: 'bin/tails-launch --version', file: LAUNCHER, args: ['--version'] },
    {
      name: 'node dist/tails-launch.mjs --version',
      file: node,
      args: [join(TREE, 'dist/tails-launch.mjs'), '--version'],
    },
    {
      name: 'explain --json (no preflight, no exec)',
      file: LAUNCHER,
      args: ['--config-dir', dir, 'explain', 'default', '--json', '--', '/bin/true'],
    },
    {
      name: 'node + koffi load',
      file: node,
      args: ['-e', `require(${JSON.stringify(join(ROOT, 'node_modules/koffi'))}).load('libc.so.6')`],
    },
    { name: '/bin/true', file: '/bin/true', args: [] },
  ];
  // Floors (bench/floor-launch.mjs): the least a launcher of each design must do.
  const floorScript = join(ROOT, 'bench/floor-launch.mjs');
  const floors = [
    {
      name: 'floor: node, handshake, koffi execve torsocks',
      file: node,
      args: [floorScript, String(socks.port), 'torsocks', '/bin/true'],
    },
    {
      name: 'floor: node, handshake, koffi execve, LD_PRELOAD',
      file: node,
      args: [floorScript, String(socks.port), 'preload', '/bin/true'],
    },
    {
      name: 'floor: sh front execs, node as child (no koffi)',
      file: join(ROOT, 'bench/floor-front.sh'),
      args: [String(socks.port), '/bin/true'],
    },
  ];
  const node18 = have(NODE18)
    ? [
        {
          name: 'launch on Node 18.20.4',
          file: LAUNCHER,
          args: launchArgs,
          env: cleanEnv({ TAILS_LAUNCH_NODE: NODE18 }),
        },
        { name: 'node18 -e 0', file: NODE18, args: ['-e', '0'] },
      ]
    : [];
  const commands = [...main, ...breakdown, ...floors, ...node18];

  console.log(
    `\n## Wall time, interleaved: ${RUNS} rounds of ${commands.length} commands in random order, after ${WARMUP} warm-up rounds\n`,
  );
  const samples = interleaved(commands, RUNS, WARMUP);
  const s = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, stats(v)]));
  result.wall = s;
  console.log(
    table(
      ['command', 'median ms', 'p90 ms', 'min ms', 'mean ms'],
      commands.map((c) => [c.name, fmt(s[c.name].median), fmt(s[c.name].p90), fmt(s[c.name].min), fmt(s[c.name].mean)]),
    ),
  );
  const ratio = s.launch.median / s['node -e 0'].median;
  const ratioMin = s.launch.min / s['node -e 0'].min;
  result.ratio = { median: ratio, min: ratioMin, goal: GOAL };
  console.log(
    `\nratio median(launch)/median(node -e 0) = ${ratio.toFixed(2)} (goal <= ${GOAL}: ${ratio <= GOAL ? 'met' : 'MISSED'}); ` +
      `of the minima: ${ratioMin.toFixed(2)}; launch - node = ${fmt(s.launch.median - s['node -e 0'].median)} ms (median)`,
  );
  result.builtInSaves =
    s['explain, the same files edited (parsed)'].median - s['explain, shipped files (built-in data)'].median;
  console.log(
    `the shipped files' built-in data saves ${fmt(result.builtInSaves)} ms (difference of the explain medians)`,
  );
  if (node18.length) {
    const r18 = s['launch on Node 18.20.4'].median / s['node18 -e 0'].median;
    result.ratio18 = r18;
    console.log(`Node 18.20.4: median(launch)/median(node18 -e 0) = ${r18.toFixed(2)}`);
  }
  // Differences of medians: a rough attribution, each with the noise of two medians.
  const d = (a, b) => s[a].median - s[b].median;
  const attribution = [
    ['Node itself (node -e 0 - /bin/true)', d('node -e 0', '/bin/true')],
    [
      'bundle load + evaluation (node dist --version - node -e 0)',
      d('node dist/tails-launch.mjs --version', 'node -e 0'),
    ],
    [
      'sh front (bin/tails-launch --version - node dist --version)',
      d('bin/tails-launch --version', 'node dist/tails-launch.mjs --version'),
    ],
    [
      'config + resolve + plan + koffi + explain output (explain - --version)',
      d('explain --json (no preflight, no exec)', 'bin/tails-launch --version'),
    ],
    ['preflight + exec prep + execve + app (launch - explain)', d('launch', 'explain --json (no preflight, no exec)')],
    ['  for reference: torsocks /bin/true (the script tails-launch no longer runs)', s['torsocks /bin/true'].median],
    ['koffi require + load, as a process (node + koffi - node -e 0)', d('node + koffi load', 'node -e 0')],
  ];
  result.attribution = Object.fromEntries(attribution);
  result.floorRatios = Object.fromEntries(floors.map((f) => [f.name, s[f.name].median / s['node -e 0'].median]));
  console.log('\nDifferences of medians (rough: each carries the noise of two medians)\n');
  console.log(
    table(
      ['part', 'ms'],
      attribution.map(([k, v]) => [k, fmt(v)]),
    ),
  );
  console.log('\nFloors: the same ratio for the least each design must do (bench/floor-launch.mjs)\n');
  console.log(
    table(
      ['design', 'median ms', 'ratio to node -e 0'],
      floors.map((f) => [f.name, fmt(s[f.name].median), result.floorRatios[f.name].toFixed(2)]),
    ),
  );

  // 2. hyperfine cross-check.
  if (have('hyperfine')) {
    console.log(`\n## hyperfine cross-check (-N, ${WARMUP} warm-up, ${RUNS} runs each, not interleaved)\n`);
    const out = join(mkdtempSync(join(tmpdir(), 'tails-launch-bench-')), 'hyperfine.json');
    const h = spawnSync(
      'hyperfine',
      [
        '-N',
        '--style',
        'none',
        '--warmup',
        String(WARMUP),
        '--runs',
        String(RUNS),
        '--export-json',
        out,
        ...main.map(hyperfineCommand),
      ],
      { env: cleanEnv(), stdio: ['ignore', 'ignore', 'inherit'], cwd: tmpdir() },
    );
    if (h.status === 0) {
      const hf = JSON.parse(readFileSync(out, 'utf8')).results;
      result.hyperfine = Object.fromEntries(
        hf.map((r, i) => [
          main[i].name,
          { median: r.median * 1000, mean: r.mean * 1000, stddev: r.stddev * 1000, min: r.min * 1000 },
        ]),
      );
      console.log(
        table(
          ['command', 'median ms', 'mean ± σ ms', 'min ms'],
          hf.map((r, i) => [
            main[i].name,
            fmt(r.median * 1000),
            `${fmt(r.mean * 1000)} ± ${fmt(r.stddev * 1000)}`,
            fmt(r.min * 1000),
          ]),
        ),
      );
      const median = (name) => hf[main.findIndex((c) => c.name === name)].median;
      result.hyperfine.ratio = median('launch') / median('node -e 0');
      result.hyperfine.builtInSaves =
        median('explain, the same files edited (parsed)') - median('explain, shipped files (built-in data)');
      console.log(
        `\nhyperfine ratio median(launch)/median(node -e 0) = ${result.hyperfine.ratio.toFixed(2)}; built-in data saves ${fmt(result.hyperfine.builtInSaves * 1000)} ms`,
      );
    } else console.log(`hyperfine failed (exit ${h.status})`);
    rmSync(join(out, '..'), { recursive: true, force: true });
  } else console.log('\nhyperfine: not installed, cross-check skipped (apt-get install hyperfine)');

  // 3. Max RSS.
  if (have('/usr/bin/time')) {
    console.log('\n## Max RSS (/usr/bin/time -f %M; median of 9 runs)\n');
    const maxRss = (c) => {
      const xs = [];
      for (let i = 0; i < 9; i++) {
        const r = spawnSync('/usr/bin/time', ['-f', 'MAXRSS=%M', c.file, ...c.args], {
          env: c.env ?? cleanEnv(),
          encoding: 'utf8',
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        const m = /MAXRSS=(\d+)/.exec(r.stderr);
        if (m) xs.push(Number(m[1]));
      }
      return quantile(xs, 0.5);
    };
    const rssCommands = [main[0], main[1], main[2], breakdown[0], ...node18];
    result.maxRssKb = Object.fromEntries(rssCommands.map((c) => [c.name, maxRss(c)]));
    console.log(
      table(
        ['command', 'max RSS MB'],
        rssCommands.map((c) => [c.name, fmt(result.maxRssKb[c.name] / 1024)]),
      ),
    );
  } else console.log('\n/usr/bin/time: absent, max RSS skipped');

  // 4. Where the time goes: strace timeline.
  if (have('strace') && STRACE_RUNS > 0) {
    console.log(`\n## Where the time goes: strace -f --seccomp-bpf timeline, median of ${STRACE_RUNS} launches\n`);
    const gaps = {};
    const totals = [];
    let order = null;
    for (let i = 0; i < STRACE_RUNS; i++) {
      const events = straceTimeline(launchArgs, socks.port);
      if (!events) continue;
      totals.push(events[events.length - 1].t - events[0].t);
      const names = events.map((e) => e.name).join(' > ');
      order ??= names;
      if (names !== order) continue; // a different order would mix unlike gaps
      for (let j = 1; j < events.length; j++) {
        const key = `${events[j - 1].name} → ${events[j].name}`;
        (gaps[key] ??= []).push(events[j].t - events[j - 1].t);
      }
    }
    const rows = Object.entries(gaps).map(([k, v]) => [k, fmt(quantile(v, 0.5), 2)]);
    result.timeline = Object.fromEntries(Object.entries(gaps).map(([k, v]) => [k, quantile(v, 0.5)]));
    result.timelineTotal = quantile(totals, 0.5);
    console.log(table(['from → to', 'median ms'], rows));
    console.log(
      `\ntraced total (front execve → app exit_group), median: ${fmt(result.timelineTotal)} ms (strace adds a stop per traced syscall; compare with the untraced median above)`,
    );
  } else console.log('\nstrace: absent, timeline skipped (apt-get install strace)');

  // 5. koffi in-process.
  const koffiScript = join(mkdtempSync(join(tmpdir(), 'tails-launch-bench-')), 'koffi.cjs');
  writeFileSync(
    koffiScript,
    `const t0 = performance.now();
     const koffi = require(${JSON.stringify(join(ROOT, 'node_modules/koffi'))});
     const t1 = performance.now();
     const lib = koffi.load('libc.so.6');
     for (const s of ['int execve(const char *path, const char **argv, const char **envp)', 'int fcntl(int fd, int cmd, ...)',
       'intptr_t signal(int sig, intptr_t handler)', 'int sigaction(int sig, const void *act, void *oldact)',
       'int sigprocmask(int how, const void *set, void *oldset)', 'int prlimit64(int pid, int resource, const void *newlim, void *oldlim)',
       'const char *strerror(int errnum)']) lib.func(s);
     const t2 = performance.now();
     console.log(JSON.stringify({ require: t1 - t0, load: t2 - t1 }));`,
  );
  const kr = [];
  const kl = [];
  for (let i = 0; i < 21; i++) {
    const r = JSON.parse(spawnSync('node', [koffiScript], { env: cleanEnv(), encoding: 'utf8' }).stdout);
    kr.push(r.require);
    kl.push(r.load);
  }
  rmSync(join(koffiScript, '..'), { recursive: true, force: true });
  result.koffi = { require: quantile(kr, 0.5), loadAndDeclare: quantile(kl, 0.5) };
  console.log(
    `\nkoffi in-process (median of 21): require('koffi') ${fmt(result.koffi.require, 2)} ms, load('libc.so.6') + 7 declarations ${fmt(result.koffi.loadAndDeclare, 2)} ms`,
  );

  // 6. What the bundle's dependencies cost to import and evaluate, each bundled
  // alone (minified, like dist/), in a fresh process: median of 15.
  console.log(
    '\n## Import + evaluation cost of what the launch path loads (each bundled alone; median of 15 fresh processes)\n',
  );
  const modules = {
    'empty module (the floor)': 'export {};',
    'js-yaml': "import * as m from 'js-yaml'; globalThis.__m = m;",
    'zod/mini': "import * as z from 'zod/mini'; globalThis.__m = z.object({ a: z.string() });",
    'cosmiconfig/dist/loaders.js (what src/ imports)':
      "import { loadYaml, loadJson } from 'cosmiconfig/dist/loaders.js'; globalThis.__m = [loadYaml, loadJson];",
    'cosmiconfig (index, with its explorers)':
      "import { defaultLoadersSync } from 'cosmiconfig'; globalThis.__m = defaultLoadersSync;",
    'src/profile/schema.ts (zod/mini schemas)': "import * as m from './src/profile/schema.ts'; globalThis.__m = m;",
    'src/profile/load.ts + resolve.ts':
      "import * as a from './src/profile/load.ts'; import * as b from './src/profile/resolve.ts'; globalThis.__m = [a, b];",
  };
  result.moduleCost = {};
  const rows6 = [];
  for (const [label, contents] of Object.entries(modules)) {
    const slug = label.replace(/\W+/g, '-').replace(/^-|-$/g, '');
    const file = await bundle(`module-cost-${slug}`, contents, {
      minify: true,
      define: { __SHIPPED_DIR__: '"/nonexistent"' },
      external: ['koffi', 'typescript'],
    });
    const runner = join(CACHE, `module-cost-${slug}.run.mjs`);
    writeFileSync(
      runner,
      `const t = performance.now(); await import(${JSON.stringify(file)}); process.stdout.write(String(performance.now() - t));`,
    );
    const xs = [];
    for (let i = 0; i < 15; i++)
      xs.push(Number(spawnSync('node', [runner], { env: cleanEnv(), encoding: 'utf8' }).stdout));
    result.moduleCost[label] = quantile(xs, 0.5);
    rows6.push([label, fmt(result.moduleCost[label], 2)]);
  }
  console.log(table(['module', 'import + evaluate, ms'], rows6));
} finally {
  const records = await socks.stop();
  result.socksRequests = records;
  rmSync(dir, { recursive: true, force: true });
  for (const dir of [shipped, edited]) rmSync(dir, { recursive: true, force: true });
}
writeFileSync(JSON_OUT, `${JSON.stringify(result, null, 2)}\n`);
console.log(
  `\nSOCKS server saw ${result.socksRequests} requests (handshake-only preflights record none). Raw figures: ${JSON_OUT}`,
);

/**
 * One traced launch: the landmarks, in time order, with times in ms. The
 * main process is the first PID strace reports (the front, then Node, then
 * the app; torsocks only in the floors, which are not traced).
 */
function straceTimeline(launchArgs, port) {
  const dir = mkdtempSync(join(tmpdir(), 'tails-launch-strace-'));
  const out = join(dir, 'trace');
  try {
    const r = spawnSync(
      'strace',
      [
        '-f',
        '--seccomp-bpf',
        '-ttt',
        '-e',
        'trace=execve,openat,connect,exit_group',
        '-o',
        out,
        LAUNCHER,
        ...launchArgs,
      ],
      {
        env: cleanEnv(),
        stdio: 'ignore',
        cwd: tmpdir(),
      },
    );
    if (r.status !== 0) return null;
    const lines = readFileSync(out, 'utf8').split('\n').filter(Boolean);
    const mainPid = lines[0].split(' ')[0];
    const events = [];
    const once = new Set();
    const mark = (name, t) => {
      if (once.has(name)) return;
      once.add(name);
      events.push({ name, t });
    };
    for (const line of lines) {
      const m = /^(\d+)\s+(\d+\.\d+)\s+(.*)$/.exec(line);
      if (!m) continue;
      const [, pid, ts, call] = m;
      const t = Number(ts) * 1000;
      if (call.startsWith(`execve("${LAUNCHER}"`)) mark('front (sh) starts', t);
      else if (/^execve\("[^"]*\/node"/.test(call) && / = 0$/.test(call)) mark('node starts', t);
      else if (call.includes('/dist/tails-launch.mjs"')) mark('bundle opened', t);
      else if (/^openat\(.*node_modules\/koffi\//.test(call)) mark('koffi required', t);
      else if (/^openat\(.*\/koffi\.node"/.test(call)) mark('koffi.node opened', t);
      else if (call.includes('/listeners.yml"')) mark('listeners.yml read', t);
      else if (call.includes('/profiles/')) mark('profile read', t);
      else if (call.startsWith('connect(') && call.includes(`htons(${port})`)) mark('SOCKS connect', t);
      else if (call.startsWith('execve("/usr/bin/torsocks"')) mark('execve torsocks', t);
      // By its canonical path (/usr/bin/true on a merged /usr), or through the checked descriptor (execveat).
      else if ((/^execve\("(\/usr)?\/bin\/true"/.test(call) || call.startsWith('execveat(')) && pid === mainPid)
        mark('execve /bin/true', t);
      else if (call.startsWith('exit_group(') && pid === mainPid && once.has('execve /bin/true')) mark('app exits', t);
    }
    events.sort((a, b) => a.t - b.t);
    return events.length >= 2 ? events : null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
