// No Node stays behind (FACTS.md section 6): once the application runs, the
// process we spawned as bin/tails-launch IS the application. Its PID is the
// front's, Node's and torsocks' PID in turn; no Node process waits for it,
// none is its parent or child, and nothing of Node is mapped in it.
//
// A spawn-and-wait launcher (the fallback when koffi does not load) fails
// this test: the spawned PID would stay a Node process with sleep below it.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, realpathSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, LAUNCHER, makeConfigDir } from '../support/launcher';
import { startSocks5Server, type Socks5Server } from '../support/socks5-server';

const SLEEP = '/bin/sleep';
/** An idle `sleep` has about 1-2 MB resident; Node 20 alone needs some 40 MB. */
const MAX_APP_RSS_KB = 16 * 1024;

let socks: Socks5Server;
let configDir: string;
let child: ChildProcess | undefined;

function exeOf(pid: number): string | null {
  try {
    return readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return null; // gone, a kernel thread, or not ours to read
  }
}

function statusField(pid: number, field: string): string | null {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`${field}:`));
    return line ? line.slice(field.length + 1).trim() : null;
  } catch {
    return null;
  }
}

/** Every process on the machine: pid, parent, executable. */
function processes(): Array<{ pid: number; ppid: number; exe: string | null }> {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map((name) => {
      const pid = Number(name);
      return { pid, ppid: Number(statusField(pid, 'PPid') ?? -1), exe: exeOf(pid) };
    });
}

/** Node binaries: ours (process.execPath) and anything named node*. */
function isNode(exe: string | null): boolean {
  if (exe === null) return false;
  const clean = exe.replace(/ \(deleted\)$/, '');
  return clean === realpathSync(process.execPath) || /(^|\/)node[^/]*$/.test(clean);
}

beforeAll(async () => {
  socks = await startSocks5Server();
  configDir = makeConfigDir(
    { t: { port: socks.port } },
    { default: 'listener: t\nisolation: launch\nbackend: torsocks\n' },
  );
});

afterAll(async () => {
  if (child?.pid && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await socks?.close();
  if (configDir) rmSync(configDir, { recursive: true, force: true });
});

describe('no resident Node process', () => {
  it('the launched PID becomes the application; killing it kills the application', async () => {
    const sleepBinary = realpathSync(SLEEP);
    child = spawn(LAUNCHER, ['--config-dir', configDir, 'default', '--', SLEEP, '30'], {
      env: cleanEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child!.on('exit', (code, signal) => resolve({ code, signal })),
    );
    const pid = child.pid!;
    expect(pid).toBeGreaterThan(0);

    // The PID runs sh (the front), then node, then torsocks (sh), then sleep.
    const seen: string[] = [];
    const deadline = Date.now() + 15_000;
    for (;;) {
      const exe = exeOf(pid);
      if (exe !== null && seen[seen.length - 1] !== exe) seen.push(exe);
      if (exe === sleepBinary) break;
      if (child.exitCode !== null || child.signalCode !== null || exe === null) {
        throw new Error(
          `launcher ended before ${SLEEP} ran in its process (exit ${child.exitCode}, signal ${child.signalCode}); stderr: ${stderr}`,
        );
      }
      if (Date.now() > deadline)
        throw new Error(`PID ${pid} never became ${sleepBinary}; it ran: ${seen.join(' -> ')}; stderr: ${stderr}`);
      await sleep(5);
    }
    // Settled: sleep never execs again.
    await sleep(100);

    // 1. The PID we spawned is the application: executable and argv are sleep's.
    expect(exeOf(pid)).toBe(sleepBinary);
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean)).toEqual([SLEEP, '30']);
    expect(statusField(pid, 'Name')).toBe('sleep');
    // 2. Nothing between us and it: its parent is this test process.
    expect(Number(statusField(pid, 'PPid'))).toBe(process.pid);
    // 3. No Node is that PID, its parent, or its child; it has no children at all.
    const all = processes();
    expect(all.filter((p) => p.pid === pid && isNode(p.exe))).toEqual([]);
    expect(all.filter((p) => p.ppid === pid)).toEqual([]);
    // 4. Nothing of Node or koffi is mapped into it: the image was replaced.
    const maps = readFileSync(`/proc/${pid}/maps`, 'utf8');
    expect(maps).not.toMatch(/\/node(\s|$)|koffi/m);
    // 5. It holds sleep's memory, not Node's.
    const rssKb = Number(/(\d+)/.exec(statusField(pid, 'VmRSS') ?? '')?.[1]);
    expect(rssKb).toBeGreaterThan(0);
    expect(rssKb).toBeLessThan(MAX_APP_RSS_KB);

    // 6. Killing that PID ends the application, by that very signal.
    process.kill(pid, 'SIGTERM');
    const end = await exited;
    expect(end).toEqual({ code: null, signal: 'SIGTERM' });
    expect(stderr).toBe('');
  });
});
