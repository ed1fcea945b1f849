// The Debian package for tests: built with dpkg-buildpackage from a temporary
// copy of the repository (the checkout and its dist/ stay as they are), and
// installed for real with `dpkg -i`.
//
// More than one test file installs the package, and vitest runs files in
// parallel: dpkg has one lock (a second `dpkg -i` fails at once), and one
// file's `dpkg --purge` must not pull the package from under another. So
// installPackage holds a machine-wide lock (flock(2) on LOCK_FILE) for the
// whole time the package is installed, and the uninstall it returns purges,
// then releases it. The lock is held by a small `flock ... cat` child whose
// stdin is a pipe from this process: the kernel drops the lock when that
// child exits, and the child exits when the pipe closes, which happens on
// release and also when this process dies in any way (SIGKILL, a crash). So
// there is never a stale lock to detect or take over, and no PID to reuse.
import { execFileSync, spawn } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { ROOT } from './launcher';

export const PACKAGE = 'tails-launch';
export const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
export const DEB_VERSION = `${VERSION}-1`;

/** The one lock file every run on this machine shares (the package is machine-wide too); never removed. */
export const LOCK_FILE = '/tmp/tails-launch-dpkg.lock';
/** How long installPackage waits for another file (or run) to uninstall the package. */
const DEFAULT_LOCK_WAIT_MS = 300_000;

export interface BuiltPackage {
  /** The .deb. */
  deb: string;
  /** The .changes file (lintian reads it). */
  changes: string;
  /** The temporary directory holding src/ (the copy), the .deb and .changes: the caller removes it. */
  work: string;
}

export function which(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v "$1"`, 'sh', cmd], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The repository's files: tracked plus untracked-but-not-ignored, as they are in the work tree. */
function sourceFiles(): string[] {
  try {
    const out = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    return [...new Set(out.split('\0').filter((f) => f !== ''))];
  } catch {
    // No git (a tarball): everything but what is built or installed.
    const skip = new Set(['.git', 'node_modules', 'dist', '.cache']);
    const files: string[] = [];
    const walk = (rel: string): void => {
      for (const entry of readdirSync(join(ROOT, rel), { withFileTypes: true })) {
        const path = rel ? `${rel}/${entry.name}` : entry.name;
        if (entry.isDirectory()) {
          if (!skip.has(path)) walk(path);
        } else files.push(path);
      }
    };
    walk('');
    return files;
  }
}

/** Copies the repository into DEST, modes and symlinks kept, node_modules linked (no network in a package build). */
function copyRepository(dest: string): void {
  for (const rel of sourceFiles()) {
    const from = join(ROOT, rel);
    const to = join(dest, rel);
    let st;
    try {
      st = lstatSync(from);
    } catch {
      continue; // tracked but deleted in the work tree
    }
    mkdirSync(dirname(to), { recursive: true });
    if (st.isSymbolicLink()) symlinkSync(readlinkSync(from), to);
    else if (st.isFile()) {
      copyFileSync(from, to);
      chmodSync(to, st.mode & 0o7777);
    }
  }
  symlinkSync(join(ROOT, 'node_modules'), join(dest, 'node_modules'));
}

/** Refuses, in one message, a machine that cannot build the package. */
function checkBuildTools(): void {
  const missing = [
    ['dpkg-buildpackage', 'dpkg-dev'],
    ['dh', 'debhelper'],
    ['lintian', 'lintian'],
  ].filter(([cmd]) => !which(cmd!));
  if (missing.length > 0) {
    throw new Error(
      `cannot build the package: ${missing.map(([c, p]) => `${c} (package ${p})`).join(', ')} not installed: apt-get install ${missing.map(([, p]) => p).join(' ')}`,
    );
  }
  if (!existsSync(join(ROOT, 'node_modules/.bin/esbuild')))
    throw new Error('node_modules/ is not installed: run npm ci first');
}

/** Builds the .deb with `dpkg-buildpackage -b -us -uc` in a temporary copy of the repository. */
export async function buildPackage(): Promise<BuiltPackage> {
  checkBuildTools();
  const work = mkdtempSync(join(tmpdir(), `tails-launch-deb-${process.pid}-`));
  const src = join(work, 'src');
  copyRepository(src);
  const env: Record<string, string | undefined> = { ...process.env };
  // The test runner's Node options and a developer's build options are not the package's.
  delete env.NODE_OPTIONS;
  delete env.DEB_BUILD_OPTIONS;
  const build = await execa('dpkg-buildpackage', ['-b', '-us', '-uc'], {
    cwd: src,
    env,
    extendEnv: false,
    reject: false,
    all: true,
    stdin: 'ignore',
    timeout: 240_000,
  });
  if (build.exitCode !== 0)
    throw new Error(
      `dpkg-buildpackage failed (${build.exitCode}):\n${String(build.all).split('\n').slice(-40).join('\n')}`,
    );
  const arch = execFileSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).trim();
  const deb = join(work, `${PACKAGE}_${DEB_VERSION}_${arch}.deb`);
  const changes = join(work, `${PACKAGE}_${DEB_VERSION}_${arch}.changes`);
  if (!existsSync(deb)) throw new Error(`dpkg-buildpackage succeeded but ${deb} was not built`);
  return { deb, changes, work };
}

/** Whether the package is installed (not merely its configuration files left). */
export function isInstalled(): boolean {
  try {
    const status = execFileSync('dpkg-query', ['-W', '-f=${Status}', PACKAGE], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return status.trim() !== '' && !status.includes('not-installed') && !status.includes('config-files');
  } catch {
    return false;
  }
}

/**
 * Takes the machine-wide install lock, waiting up to WAITMS for whoever holds
 * it; resolves to its release.
 */
export async function acquireInstallLock(waitMs: number): Promise<() => Promise<void>> {
  const seconds = String(Math.max(1, Math.ceil(waitMs / 1000)));
  // flock runs `cat` (holding the lock through the inherited descriptor) once
  // it has the lock; `echo` tells us when. cat ends when its stdin closes.
  const holder = spawn(
    'flock',
    ['--exclusive', '--timeout', seconds, LOCK_FILE, 'sh', '-c', 'echo locked && exec cat >/dev/null'],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stderr = '';
  holder.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => holder.on('close', (code) => resolve(code)));
  const locked = await new Promise<boolean>((resolve) => {
    holder.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('locked')) resolve(true);
    });
    holder.on('error', (e) => {
      stderr += String(e);
      resolve(false);
    });
    void exited.then(() => resolve(false));
  });
  if (!locked) {
    holder.stdin.destroy();
    const code = await exited;
    throw new Error(
      `could not take ${LOCK_FILE} within ${seconds} s (another test file or run has ${PACKAGE} installed?): flock exited ${code}: ${stderr.trim()}`,
    );
  }
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    holder.stdin.end();
    await exited;
  };
}

async function dpkg(args: string[]) {
  return execa('dpkg', args, { reject: false, all: true, stdin: 'ignore', timeout: 120_000 });
}

/** The uninstall installPackage returns: purges the package, runs WHILEPURGED (lock still held), releases the lock. */
export type Uninstall = (whilePurged?: () => void | Promise<void>) => Promise<void>;

/**
 * Installs DEB with `dpkg -i`, holding the machine-wide install lock until the
 * returned uninstall is called. The uninstall (idempotent) runs `dpkg --purge`
 * and releases the lock even when the purge fails (then it throws); checks of
 * the purged state go in its WHILEPURGED callback, before anyone else can
 * install the package again.
 */
export async function installPackage(deb: string, { lockWaitMs = DEFAULT_LOCK_WAIT_MS } = {}): Promise<Uninstall> {
  const release = await acquireInstallLock(lockWaitMs);
  const install = await dpkg(['-i', deb]).catch((e: unknown) => ({ exitCode: -1, all: String(e) }));
  if (install.exitCode !== 0) {
    // A half-installed package is not left behind for the next holder.
    await dpkg(['--purge', PACKAGE]);
    await release();
    throw new Error(`dpkg -i ${deb} failed (${install.exitCode}):\n${String(install.all)}`);
  }
  let uninstalled = false;
  return async (whilePurged) => {
    if (uninstalled) return;
    uninstalled = true;
    try {
      const purge = await dpkg(['--purge', PACKAGE]);
      if (purge.exitCode !== 0) throw new Error(`dpkg --purge ${PACKAGE} failed (${purge.exitCode}):\n${purge.all}`);
      await whilePurged?.();
    } finally {
      await release();
    }
  };
}
