// Processes by PID, read from /proc: what the jail tests check is alive, and whose child it is.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';

export function children(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export function comm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

/** Running (a zombie nobody reaps is not). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !'ZX'.includes(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3));
  } catch {
    return false;
  }
}

/** Polls CHECK every 20 ms until it holds (true) or TIMEOUT_MS passed (false). */
export async function waitUntil(check: () => boolean, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

/** How a watched process ended, with all it wrote. */
export interface Ended {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** When stdout reached EOF and when the process exited (ms, Date.now()). */
  stdoutEnd: number;
  exit: number;
}

export interface Watched {
  child: ChildProcess;
  pid: number;
  stdout: () => string;
  /** Resolves when stdout has shown TEXT. */
  waitFor: (text: string, timeoutMs?: number) => Promise<void>;
  ended: Promise<Ended>;
}

/**
 * Spawns FILE ARGS with its stdout and stderr collected, and pushes it on
 * TRACK (the test file kills what is left there, by PID, when it ends).
 * KILL_AFTER_MS: SIGKILL then, unless it ended (0: never). It has ended once
 * it exited and its stdio closed; descriptors above 2 that the test gave it
 * are closed then on our side, so a grandchild holding them open cannot delay it.
 */
export function watch(
  file: string,
  args: readonly string[],
  options: { env: Record<string, string>; cwd?: string; stdio?: StdioOptions; killAfterMs?: number },
  track: ChildProcess[],
): Watched {
  const child = spawn(file, args, {
    env: options.env,
    cwd: options.cwd,
    stdio: options.stdio ?? ['ignore', 'pipe', 'pipe'],
  });
  track.push(child);
  const timer = options.killAfterMs ? setTimeout(() => child.kill('SIGKILL'), options.killAfterMs) : undefined;
  let stdout = '';
  let stderr = '';
  let stdoutEnd = 0;
  child.stdout?.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stdout?.on('end', () => (stdoutEnd = Date.now()));
  child.stderr?.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const ended = new Promise<Ended>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      const exit = Date.now();
      child.on('close', () => {
        clearTimeout(timer);
        for (const s of child.stdio.slice(3)) (s as { destroy?: () => void } | null)?.destroy?.();
        resolve({ code, signal, stdout, stderr, stdoutEnd: stdoutEnd || exit, exit });
      });
    });
  });
  const waitFor = async (text: string, timeoutMs = 10_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while (!stdout.includes(text)) {
      if (Date.now() > deadline || child.exitCode !== null || child.signalCode !== null)
        throw new Error(`no '${text}' on stdout; stdout ${JSON.stringify(stdout)}, stderr ${JSON.stringify(stderr)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  return { child, pid: child.pid!, stdout: () => stdout, waitFor, ended };
}
