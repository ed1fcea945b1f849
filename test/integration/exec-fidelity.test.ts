// The same comparison as exec-harness.test.ts, through the real command and
// the real backend: `bin/tails-launch --config-dir DIR default -- PROBE ARGS`
// (the built dist/, see test/support/global-setup.ts) execs the probe with
// torsocks' library preloaded: still one PID, and the probe must see what the
// caller gave, as when the caller runs it directly. Both ways the launcher
// executes a program are compared: by its path (only root can change it) and
// through the descriptor it was checked by (a directory another user owns).
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { comparable, maskSignals, parseProbe, probePath, ROOT } from '../support/probe';
import { startSocks5Server, type Socks5Server } from '../support/socks5-server';

const LAUNCHER = join(ROOT, 'bin/tails-launch');
const TORSOCKS = '/usr/bin/torsocks';

interface Run {
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

let probe: string;
let socks: Socks5Server;
let configDir: string;

beforeAll(async () => {
  probe = await probePath();
  socks = await startSocks5Server();
  configDir = mkdtempSync(join(tmpdir(), 'tails-launch-fidelity-'));
  mkdirSync(join(configDir, 'profiles'));
  writeFileSync(
    join(configDir, 'listeners.yml'),
    [
      'listeners:',
      '  default:',
      `    address: ${socks.host}`,
      `    port: ${socks.port}`,
      '    flags: [IsolateDestAddr, IsolateDestPort]',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(configDir, 'profiles/default.yml'),
    [
      'description: Any command through the default SocksPort',
      'listener: default',
      'isolation: launch',
      'backend: torsocks',
      '',
    ].join('\n'),
  );
});

afterAll(async () => {
  await socks?.close();
  if (configDir) rmSync(configDir, { recursive: true, force: true });
});

/** `probe wrap SETTINGS -- CMD...`: the caller sets up its state, then execs CMD in the same process. */
function run(cmd: string[], caller: string[] = [], extraFd = false): Promise<Run> {
  const args = ['wrap', `keep=${extraFd ? '5' : ''}`, ...caller, '--', ...cmd];
  const stdio: Array<'pipe' | 'ignore'> = ['pipe', 'pipe', 'pipe'];
  if (extraFd) stdio.push('ignore', 'ignore', 'pipe');
  const env = {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    HOME: process.env.HOME ?? '/root',
    LANG: 'C.UTF-8',
    TAILS_LAUNCH_NODE: process.execPath,
  };
  const child = spawn(probe, args, { env, stdio });
  child.stdin?.end();
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr?.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      for (const s of child.stdio.slice(3)) (s as { destroy?: () => void } | null)?.destroy?.();
      resolve({ pid: child.pid ?? -1, code, signal, stdout, stderr });
    });
  });
}

const viaLauncher = (args: string[]): string[] => [
  LAUNCHER,
  '--config-dir',
  configDir,
  'default',
  '--',
  probe,
  ...args,
];

describe.skipIf(!existsSync(TORSOCKS))('exec fidelity through `tails-launch default -- PROBE` (torsocks)', () => {
  it('one PID from caller to probe, and the caller state intact', async () => {
    const caller = ['ignore=INT,HUP', 'block=USR2', 'nofile=512', 'nonblock=1'];
    const [launched, direct] = await Promise.all([run(viaLauncher([]), caller, true), run([probe], caller, true)]);
    expect(launched.stderr).toBe('');
    expect(launched.code).toBe(0);
    const l = parseProbe(launched.stdout);
    const d = parseProbe(direct.stdout);
    expect(l.pid).toBe(launched.pid);
    expect(l.ppid).toBe(process.pid);
    // argv[0] is the probe itself, not torsocks or node.
    expect(l.argv).toEqual([probe]);
    expect(l.ld_preload).toMatch(/libtorsocks/);
    expect(d.ld_preload).toBeNull();
    expect(maskSignals(d.sigign)).toEqual([1, 2]);
    expect(maskSignals(d.sigblk)).toEqual([12]);
    expect(d.fds).toEqual([0, 1, 2, 5]);
    expect(comparable(l)).toEqual(comparable(d));
  });

  it("through the checked descriptor (a program in another user's directory): the same state, no descriptor of ours left", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tails-launch-fidelity-fd-'));
    try {
      chmodSync(dir, 0o755);
      chownSync(dir, 65534, 65534);
      const copy = join(dir, 'probe');
      copyFileSync(probe, copy);
      chmodSync(copy, 0o755);
      const caller = ['ignore=INT,HUP', 'block=USR2', 'nofile=512', 'nonblock=1'];
      const [launched, direct] = await Promise.all([
        run([LAUNCHER, '--config-dir', configDir, 'default', '--', copy], caller, true),
        run([copy], caller, true),
      ]);
      expect(launched.stderr).toBe('');
      const l = parseProbe(launched.stdout);
      expect(l.pid).toBe(launched.pid);
      expect(l.argv).toEqual([copy]);
      expect(l.ld_preload).toMatch(/libtorsocks/);
      expect(l.fds).toEqual([0, 1, 2, 5]);
      expect(comparable(l)).toEqual(comparable(parseProbe(direct.stdout)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a plain caller: SIGPIPE not ignored, nothing blocked, only 0-2', async () => {
    const [launched, direct] = await Promise.all([run(viaLauncher([])), run([probe])]);
    expect(launched.code).toBe(0);
    const l = parseProbe(launched.stdout);
    expect(comparable(l)).toEqual(comparable(parseProbe(direct.stdout)));
    expect(maskSignals(l.sigign)).toEqual([]);
    expect(l.fds).toEqual([0, 1, 2]);
    expect(l.caller_env).toBe(false);
  });

  it('passes exit status 42 and a SIGTERM death on unchanged', async () => {
    const [exit, term] = await Promise.all([run(viaLauncher(['exit', '42'])), run(viaLauncher(['kill', 'TERM']))]);
    expect(exit.code).toBe(42);
    expect(parseProbe(exit.stdout).pid).toBe(exit.pid);
    expect(term.signal).toBe('SIGTERM');
    expect(parseProbe(term.stdout).pid).toBe(term.pid);
  });

  it('SIGPIPE kills the probe as it would outside the launcher (`probe spew | head -c1`)', async () => {
    const r = await run(viaLauncher(['spew']), ['headpipe']);
    expect(r.stderr).toBe('');
    expect(r.signal).toBe('SIGPIPE');
  });
});
