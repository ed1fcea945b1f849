// The probe (test/fixtures/probe.c): a tiny C program that reports the
// process state it was started with. Compiled once per content of probe.c
// into .cache/ (git-ignored); safe when several test files ask at once: each
// compiles to a private name and renames into place atomically.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SOURCE = join(ROOT, 'test/fixtures/probe.c');

/** What the probe prints (one JSON line), see probe.c. */
export interface ProbeReport {
  pid: number;
  ppid: number;
  stdio: Array<{ open: boolean; type: string | null }>;
  /** Every open descriptor, sorted. */
  fds: number[];
  /** Those of `fds` that are close-on-exec. */
  cloexec: number[];
  /** As in /proc/self/status: 16 hex digits, signal n is bit n-1. */
  sigign: string;
  sigblk: string;
  nonblock: Array<boolean | null>;
  nofile: string;
  /** Whether TAILS_LAUNCH_CALLER leaked into the probe's environment. */
  caller_env: boolean;
  /** LD_PRELOAD as the probe got it (torsocks sets it), or null. */
  ld_preload: string | null;
  argv: string[];
}

let built: Promise<string> | undefined;

/** Path of the compiled probe (compiling it with `cc` on first use). */
export function probePath(): Promise<string> {
  built ??= compile();
  return built;
}

async function compile(): Promise<string> {
  const source = readFileSync(SOURCE);
  const hash = createHash('sha256').update(source).digest('hex').slice(0, 16);
  const dir = join(ROOT, '.cache', `probe-${hash}`);
  const exe = join(dir, 'probe');
  if (existsSync(exe)) return exe;
  mkdirSync(dir, { recursive: true });
  const tmp = `${exe}.${process.pid}.${Date.now()}`;
  try {
    await promisify(execFile)('cc', ['-O2', '-Wall', '-Wextra', '-Werror', '-o', tmp, SOURCE]);
    renameSync(tmp, exe);
  } finally {
    rmSync(tmp, { force: true });
  }
  return exe;
}

/** Parses the probe's report: the first line of `text` that is a JSON object. */
export function parseProbe(text: string): ProbeReport {
  for (const line of text.split('\n')) {
    if (line.startsWith('{')) return JSON.parse(line) as ProbeReport;
  }
  throw new Error(`no probe report in output: ${JSON.stringify(text.slice(0, 500))}`);
}

/** The mask as a set of signal numbers, for readable assertions. */
export function maskSignals(hex: string): number[] {
  const mask = BigInt(`0x${hex}`);
  const out: number[] = [];
  for (let sig = 1; sig <= 64; sig++) if ((mask >> BigInt(sig - 1)) & 1n) out.push(sig);
  return out;
}

/**
 * The parts of a report that must be equal between the probe exec'd through
 * the launcher and the probe run directly by the same caller.
 */
export function comparable(r: ProbeReport): Omit<ProbeReport, 'pid' | 'ppid' | 'argv' | 'ld_preload'> {
  const { pid: _pid, ppid: _ppid, argv: _argv, ld_preload: _ldPreload, ...rest } = r;
  return rest;
}
