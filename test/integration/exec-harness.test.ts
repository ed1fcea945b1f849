// The exec stage end to end, without the CLI: test/fixtures/exec-harness.ts
// (captureCallerState + execute, as main does) is bundled like the real
// launcher and started through a copy of bin/tails-launch whose LIBDIR line
// is rewritten the way the Debian build does it. The probe it execs must see
// exactly what the probe started directly by the same caller sees.
//
// The caller is `probe wrap SETTINGS -- CMD...`: it ignores/blocks signals,
// lowers the soft RLIMIT_NOFILE or sets O_NONBLOCK, then execs CMD in the
// same process, so child.pid below is the caller's, the front's, Node's and
// (when execve works) the application's PID.
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureCallerState, signalsInMask } from '../../src/exec/caller-state';
import { comparable, maskSignals, parseProbe, probePath, ROOT, type ProbeReport } from '../support/probe';
import { EXIT } from '../support/expected';

const SIGHUP = 1;
const SIGINT = 2;
const SIGUSR2 = 12;
const SIGPIPE = 13;
const SIGXFSZ = 25;

interface Run {
  /** PID of the process we spawned (the caller). */
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

interface RunOptions {
  /** `probe wrap` settings: ignore=INT,HUP block=USR2 nofile=512 nonblock=1 */
  caller?: string[];
  /** Hand the program an extra descriptor at fd 5 (a socket). */
  extraFd?: boolean;
  env?: Record<string, string>;
}

let probe: string;
/** Trees laid out like /usr/lib/tails-launch: bin/tails-launch + dist/tails-launch.mjs. */
let withKoffi: string;
let withoutKoffi: string;
const cleanup: string[] = [];

/**
 * bin/tails-launch with its LIBDIR line replaced, as debian/rules does it:
 * the line marked @LIBDIR@ must exist exactly once.
 */
function installFront(libdir: string): void {
  const text = readFileSync(join(ROOT, 'bin/tails-launch'), 'utf8');
  const lines = text.split('\n');
  const marked = lines.filter((l) => /^LIBDIR=.*# @LIBDIR@/.test(l));
  expect(marked).toHaveLength(1);
  const patched = lines.map((l) => (/^LIBDIR=.*# @LIBDIR@/.test(l) ? `LIBDIR=${libdir}` : l)).join('\n');
  mkdirSync(join(libdir, 'bin'), { recursive: true });
  writeFileSync(join(libdir, 'bin/tails-launch'), patched);
  chmodSync(join(libdir, 'bin/tails-launch'), 0o755);
}

/** The harness bundled with scripts/build.mjs's settings (koffi external, lazy chunks). */
async function installBundle(libdir: string): Promise<void> {
  await build({
    entryPoints: { 'tails-launch': join(ROOT, 'test/fixtures/exec-harness.ts') },
    outdir: join(libdir, 'dist'),
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node18.20',
    external: ['koffi'],
    outExtension: { '.js': '.mjs' },
    banner: { js: "import{createRequire as __tlRequire}from'node:module';const require=__tlRequire(import.meta.url);" },
    logLevel: 'warning',
  });
}

function koffiResolvableFrom(dir: string): boolean {
  try {
    createRequire(join(dir, 'dist/tails-launch.mjs')).resolve('koffi');
    return true;
  } catch {
    return false;
  }
}

beforeAll(async () => {
  probe = await probePath();
  // Inside the project, so that the bundle's require('koffi') finds node_modules/.
  mkdirSync(join(ROOT, '.cache'), { recursive: true });
  withKoffi = mkdtempSync(join(ROOT, '.cache/exec-harness-'));
  // Outside any node_modules: koffi cannot load, the spawn fallback is taken.
  withoutKoffi = mkdtempSync(join(tmpdir(), 'tails-launch-nokoffi-'));
  cleanup.push(withKoffi, withoutKoffi);
  await Promise.all([installBundle(withKoffi), installBundle(withoutKoffi)]);
  installFront(withKoffi);
  installFront(withoutKoffi);
  expect(koffiResolvableFrom(withKoffi)).toBe(true);
  expect(koffiResolvableFrom(withoutKoffi)).toBe(false);
});

afterAll(() => {
  for (const dir of cleanup) rmSync(dir, { recursive: true, force: true });
});

/** A minimal, known environment: nothing of vitest's (NODE_OPTIONS...) reaches the launcher. */
function baseEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    TAILS_LAUNCH_NODE: process.execPath,
    ...extra,
  };
}

function run(cmd: string[], opts: RunOptions = {}): Promise<Run> {
  // keep=: only the descriptors the test means to pass, whatever stray ones
  // the test runner inherited.
  const args = ['wrap', `keep=${opts.extraFd ? '5' : ''}`, ...(opts.caller ?? []), '--', ...cmd];
  const stdio: Array<'pipe' | 'ignore'> = ['pipe', 'pipe', 'pipe'];
  if (opts.extraFd) stdio.push('ignore', 'ignore', 'pipe');
  const child = spawn(probe, args, { env: baseEnv(opts.env), stdio });
  child.stdin?.end();
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      for (const s of child.stdio.slice(3)) (s as NodeJS.ReadableStream | null)?.removeAllListeners?.();
      for (const s of child.stdio.slice(3)) (s as { destroy?: () => void } | null)?.destroy?.();
      resolve({ pid: child.pid ?? -1, code, signal, stdout, stderr });
    });
  });
}

const front = (dir: string): string => join(dir, 'bin/tails-launch');

/** The probe through the launcher and directly, by the same kind of caller. */
async function both(args: string[], opts: RunOptions = {}, dir = withKoffi): Promise<{ launched: Run; direct: Run }> {
  const [launched, direct] = await Promise.all([run([front(dir), probe, ...args], opts), run([probe, ...args], opts)]);
  return { launched, direct };
}

function report(r: Run): ProbeReport {
  return parseProbe(r.stdout);
}

describe('exec through bin/tails-launch (execve via koffi)', () => {
  it('replaces the launcher: same PID, no Node left as parent', async () => {
    const { launched, direct } = await both([]);
    expect(launched.stderr).toBe('');
    expect(launched.code).toBe(0);
    const l = report(launched);
    expect(l.pid).toBe(launched.pid);
    expect(l.ppid).toBe(process.pid);
    expect(report(direct).pid).toBe(direct.pid);
  });

  it('gives a plain caller the same state as running the probe directly', async () => {
    const { launched, direct } = await both([]);
    const l = report(launched);
    const d = report(direct);
    expect(comparable(l)).toEqual(comparable(d));
    // What Node would have left without the restore steps:
    expect(maskSignals(l.sigign)).not.toContain(SIGPIPE);
    expect(maskSignals(l.sigign)).not.toContain(SIGXFSZ);
    expect(l.stdio.map((s) => s.open)).toEqual([true, true, true]);
    expect(l.fds).toEqual([0, 1, 2]);
    expect(l.cloexec).toEqual([]);
    expect(l.caller_env).toBe(false);
  });

  it('keeps what a nohup-like caller set: ignored and blocked signals, soft nofile, O_NONBLOCK, an extra fd', async () => {
    const opts: RunOptions = { caller: ['ignore=INT,HUP', 'block=USR2', 'nofile=512', 'nonblock=1'], extraFd: true };
    const { launched, direct } = await both([], opts);
    expect(launched.stderr).toBe('');
    const l = report(launched);
    const d = report(direct);
    // The caller really set all of it up...
    expect(maskSignals(d.sigign)).toEqual([SIGHUP, SIGINT]);
    expect(maskSignals(d.sigblk)).toEqual([SIGUSR2]);
    expect(d.nofile).toBe('512');
    expect(d.nonblock).toEqual([false, true, false]);
    expect(d.fds).toEqual([0, 1, 2, 5]);
    // ...and the launched probe got exactly the same.
    expect(comparable(l)).toEqual(comparable(d));
    expect(l.pid).toBe(launched.pid);
  });

  it('puts back O_NONBLOCK on 0-2 after Node touched process.stdin/stdout/stderr', async () => {
    const env = { HARNESS_TOUCH_STDIO: '1' };
    const plain = await both([], { env });
    expect(report(plain.direct).nonblock).toEqual([false, false, false]);
    expect(report(plain.launched).nonblock).toEqual([false, false, false]);
    const mixed = await both([], { env, caller: ['nonblock=1'] });
    expect(report(mixed.direct).nonblock).toEqual([false, true, false]);
    expect(report(mixed.launched).nonblock).toEqual([false, true, false]);
  });

  it('passes an exit status on unchanged', async () => {
    const { launched, direct } = await both(['exit', '42']);
    expect(direct.code).toBe(42);
    expect(launched.code).toBe(42);
    expect(launched.signal).toBeNull();
    expect(report(launched).pid).toBe(launched.pid);
  });

  it('passes a death by SIGTERM on unchanged', async () => {
    const { launched, direct } = await both(['kill', 'TERM']);
    expect(direct.signal).toBe('SIGTERM');
    expect(launched.signal).toBe('SIGTERM');
    expect(launched.code).toBeNull();
  });

  it('leaves SIGPIPE at its default action (`probe spew | head -c1` kills the probe)', async () => {
    const { launched, direct } = await both(['spew'], { caller: ['headpipe'] });
    expect(direct.signal).toBe('SIGPIPE');
    expect(launched.signal).toBe('SIGPIPE');
    expect(launched.stderr).toBe('');
  });

  it('keeps SIGPIPE ignored when the caller ignored it (the write fails with EPIPE instead)', async () => {
    const { launched, direct } = await both(['spew'], { caller: ['ignore=PIPE', 'headpipe'] });
    expect(direct.code).toBe(4);
    expect(launched.code).toBe(4);
    expect(launched.stderr).toBe('probe: write: Broken pipe\n');
  });

  it('a missing program: exit 127 and one line naming it', async () => {
    const missing = join(withKoffi, 'no-such-program');
    const r = await run([front(withKoffi), missing]);
    expect(r.code).toBe(EXIT.notFound);
    expect(r.stderr.trimEnd().split('\n')).toEqual([
      `tails-launch: cannot execute ${missing}: No such file or directory`,
    ]);
  });

  it('a file that is not executable: exit 126 and one line naming it', async () => {
    const file = join(withKoffi, 'not-executable');
    writeFileSync(file, '#!/bin/sh\nexit 0\n', { mode: 0o644 });
    // root may execute any file with at least one x bit: none here.
    const r = await run([front(withKoffi), file]);
    expect(r.code).toBe(EXIT.cannotExecute);
    expect(r.stderr.trimEnd().split('\n')).toEqual([`tails-launch: cannot execute ${file}: Permission denied`]);
  });

  it('after a failed exec, Node gets its own state back (handlers, mask, rlimit rolled back)', async () => {
    const r = await run([front(withKoffi), '/nonexistent/dir/prog'], {
      caller: ['block=TERM', 'ignore=PIPE', 'nofile=512'],
      env: { HARNESS_REPORT_STATE_ON_ERROR: '1' },
    });
    expect(r.code).toBe(EXIT.notFound);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines[0]).toBe('tails-launch: cannot execute /nonexistent/dir/prog: No such file or directory');
    const m = /after failure sigign=(\w+) sigblk=(\w+) nofile=(\w+)/.exec(lines[1] ?? '');
    expect(m).not.toBeNull();
    // Node's own: SIGPIPE and SIGXFSZ ignored, nothing blocked, soft limit raised (not the caller's 512).
    expect(maskSignals(m?.[1] ?? '0')).toEqual([SIGPIPE, SIGXFSZ]);
    expect(maskSignals(m?.[2] ?? '0')).toEqual([]);
    expect(m?.[3]).not.toBe('512');
  });
});

describe('exec through bin/tails-launch without koffi (spawn-and-wait fallback)', () => {
  const env = { HARNESS_REPORT_METHOD: '1' };

  it('is really the fallback: the probe is a child of the launcher', async () => {
    const r = await run([front(withoutKoffi), probe], { env, extraFd: true });
    expect(r.stderr).toContain('"method":"spawn"');
    expect(r.stderr).toContain("Cannot find module 'koffi'");
    const p = report(r);
    expect(p.pid).not.toBe(r.pid);
    expect(p.ppid).toBe(r.pid);
    expect(p.fds).toEqual([0, 1, 2, 5]);
    expect(p.caller_env).toBe(false);
  });

  it('passes an exit status on', async () => {
    const r = await run([front(withoutKoffi), probe, 'exit', '42'], { env });
    expect(r.code).toBe(42);
  });

  it('dies of the signal the child died of', async () => {
    const term = await run([front(withoutKoffi), probe, 'kill', 'TERM'], { env });
    expect(term.signal).toBe('SIGTERM');
    const pipe = await run([front(withoutKoffi), probe, 'spew'], { env, caller: ['headpipe'] });
    expect(pipe.signal).toBe('SIGPIPE');
  });

  it('a missing program: exit 127 and one line', async () => {
    const r = await run([front(withoutKoffi), '/nonexistent/prog']);
    expect(r.code).toBe(EXIT.notFound);
    expect(r.stderr.trimEnd().split('\n')).toEqual([
      'tails-launch: cannot execute /nonexistent/prog: No such file or directory',
    ]);
  });
});

describe('captureCallerState', () => {
  it('parses TAILS_LAUNCH_CALLER and removes it from the environment', () => {
    const env: NodeJS.ProcessEnv = {
      TAILS_LAUNCH_CALLER: 'v=1;sigign=0000000000000003;sigblk=0000000000000800;nofile=512;fds=0,1,10,2,5',
      KEEP: 'x',
    };
    const s = captureCallerState(env);
    expect(env).toEqual({ KEEP: 'x' });
    expect(s.source).toBe('front');
    expect(signalsInMask(s.ignoredSignals)).toEqual([SIGHUP, SIGINT]);
    expect(signalsInMask(s.blockedSignals)).toEqual([SIGUSR2]);
    expect(s.nofile).toBe(512);
    expect(s.fds).toEqual([0, 1, 2, 5, 10]);
    expect(s.problems).toEqual([]);
  });

  it('falls back to defaults when the variable is absent or damaged', () => {
    expect(captureCallerState({})).toMatchObject({
      source: 'defaults',
      ignoredSignals: 0n,
      blockedSignals: 0n,
      nofile: null,
      fds: [0, 1, 2],
    });
    const s = captureCallerState({ TAILS_LAUNCH_CALLER: 'v=1;sigign=zz;nofile=unlimited;fds=0,x' });
    expect(s).toMatchObject({ ignoredSignals: 0n, nofile: 'unlimited', fds: [0, 1, 2] });
    expect(s.problems).toEqual(['sigign', 'sigblk', 'fds']);
    // What the front sends when /proc could not be read.
    const empty = captureCallerState({ TAILS_LAUNCH_CALLER: 'v=1;sigign=;sigblk=;nofile=;fds=' });
    expect(empty).toMatchObject({
      source: 'front',
      ignoredSignals: 0n,
      blockedSignals: 0n,
      nofile: null,
      fds: [0, 1, 2],
    });
    expect(empty.problems).toEqual(['sigign', 'sigblk', 'nofile', 'fds']);
  });
});
