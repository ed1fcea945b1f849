import { closeSync, existsSync, readdirSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import type * as KoffiModule from 'koffi';
import { EXIT } from '../errors/exit-codes';
import { LaunchError } from '../errors/launch-error';
import type { CallerState } from './caller-state';
import type { ExecMethod, ExecRequest } from './types';

// Replacing the Node process with the application, through libc's execve
// called with koffi. Everything runs synchronously on the main thread: errno
// is per thread and koffi's async calls run in a worker pool, so an async
// execve would replace nothing useful and lose errno.
//
// Constants are Linux's generic values (x86, x86_64, arm, arm64, riscv);
// Tails only ships amd64.

type Koffi = typeof KoffiModule;
type Fn = (...args: unknown[]) => number;

const F_GETFD = 1;
const F_SETFD = 2;
const F_GETFL = 3;
const F_SETFL = 4;
const FD_CLOEXEC = 1;
const O_NONBLOCK = 0o4000;
const SIG_DFL = 0;
const SIG_IGN = 1;
const SIG_SETMASK = 2;
const RLIMIT_NOFILE = 7;
const RLIM_INFINITY = 0xffff_ffff_ffff_ffffn;
const SIGKILL = 9;
const SIGSTOP = 19;
/** glibc reserves 32 (SIGCANCEL) and 33 (SIGSETXID) for itself; sigaction refuses them. */
const GLIBC_RESERVED = new Set([32, 33]);
/** glibc's sigset_t: 1024 bits, of which the kernel uses the first 64. */
const SIGSET_SIZE = 128;
/** Generous room for glibc's struct sigaction (152 bytes on x86_64); only ever saved and restored opaque. */
const SIGACTION_SIZE = 256;
/** struct rlimit64: two 64-bit values, on every architecture (hence prlimit64). */
const RLIMIT64_SIZE = 16;

const ERRNO = { ENOENT: 2, ENOEXEC: 8, ENOTDIR: 20 } as const;
/** memfd_create(2): sealing allowed; no MFD_CLOEXEC, so the descriptor survives execve. */
const MFD_ALLOW_SEALING = 2;
/** fcntl(2) F_ADD_SEALS / F_GET_SEALS (F_LINUX_SPECIFIC_BASE + 9, + 10) and the seals. */
const F_ADD_SEALS = 1033;
const F_GET_SEALS = 1034;
const ALL_SEALS = 1 | 2 | 4 | 8; // F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE

interface Libc {
  koffi: Koffi;
  execve: Fn;
  fexecve: Fn;
  fcntl: Fn;
  signal: Fn;
  sigaction: Fn;
  sigprocmask: Fn;
  prlimit64: Fn;
  memfd_create: Fn;
  fgetxattr: Fn;
  strerror: (errnum: number) => string | null;
}

let loaded: { libc: Libc } | { error: string } | undefined;

/** Loads koffi and libc once; never throws. */
function loadLibc(): { libc: Libc } | { error: string } {
  if (loaded) return loaded;
  try {
    // Required at call time, not imported: `explain`, --help and errors must
    // not pay for loading a native addon. The bundle keeps koffi external.
    const require = createRequire(import.meta.url);
    const koffi = require('koffi') as Koffi;
    const lib = koffi.load('libc.so.6');
    const libc: Libc = {
      koffi,
      execve: lib.func('int execve(const char *path, const char **argv, const char **envp)') as Fn,
      // execveat(fd, "", …, AT_EMPTY_PATH) in glibc: runs exactly the open file.
      fexecve: lib.func('int fexecve(int fd, const char **argv, const char **envp)') as Fn,
      fcntl: lib.func('int fcntl(int fd, int cmd, ...)') as Fn,
      signal: lib.func('intptr_t signal(int sig, intptr_t handler)') as Fn,
      sigaction: lib.func('int sigaction(int sig, const void *act, void *oldact)') as Fn,
      sigprocmask: lib.func('int sigprocmask(int how, const void *set, void *oldset)') as Fn,
      prlimit64: lib.func('int prlimit64(int pid, int resource, const void *newlim, void *oldlim)') as Fn,
      memfd_create: lib.func('int memfd_create(const char *name, unsigned int flags)') as Fn,
      fgetxattr: lib.func('intptr_t fgetxattr(int fd, const char *name, void *value, size_t size)') as Fn,
      strerror: lib.func('const char *strerror(int errnum)') as (errnum: number) => string | null,
    };
    loaded = { libc };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    loaded = { error: `koffi could not be loaded: ${message.split('\n')[0]}` };
  }
  return loaded;
}

/** Whether the process can be replaced with execve, or why not. */
export function isExecveAvailable(): ExecMethod {
  const r = loadLibc();
  return 'libc' in r ? { method: 'execve', via: 'koffi' } : { method: 'spawn', via: 'execa', reason: r.error };
}

/**
 * An anonymous in-memory file holding CONTENT, sealed so that nobody (the
 * application included) can change it, and open without close-on-exec: the
 * caller passes its number in ExecRequest.fds and names it to the program as
 * /proc/self/fd/N. Nothing touches the disk; it is gone when the last
 * descriptor closes. Throws LaunchError (70) when it cannot be made.
 */
export function createSealedMemoryFile(name: string, content: string): number {
  const r = loadLibc();
  if (!('libc' in r)) throw new LaunchError(EXIT.internal, `cannot pass ${name} in memory: ${r.error}`);
  const { libc } = r;
  const fd = libc.memfd_create(`tails-launch:${name}`, MFD_ALLOW_SEALING);
  if (fd < 0) throw new LaunchError(EXIT.internal, `cannot pass ${name} in memory: memfd_create: ${errorText(libc, r.libc.koffi.errno())}`);
  try {
    const bytes = Buffer.from(content);
    for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done);
    if (libc.fcntl(fd, F_ADD_SEALS, 'int', ALL_SEALS) < 0) throw new Error(`F_ADD_SEALS: ${errorText(libc, libc.koffi.errno())}`);
    if ((libc.fcntl(fd, F_GET_SEALS) & ALL_SEALS) !== ALL_SEALS) throw new Error('the seals did not hold');
  } catch (error) {
    closeSync(fd);
    throw new LaunchError(EXIT.internal, `cannot pass ${name} in memory: ${(error as Error).message}`);
  }
  return fd;
}

const ENODATA = 61;
const ENOTSUP = 95;

/**
 * Whether the open file FD carries file capabilities (the
 * `security.capability` extended attribute): the kernel then runs it in
 * secure-execution mode, where the loader ignores LD_PRELOAD. Null when it
 * cannot be told (no koffi, or an error other than "no such attribute"):
 * callers must then refuse.
 */
export function hasFileCapabilities(fd: number): boolean | null {
  const r = loadLibc();
  if (!('libc' in r)) return null;
  // Size query: > 0 when present; -1 with ENODATA (or ENOTSUP: no xattrs on this filesystem) when absent.
  const size = r.libc.fgetxattr(fd, 'security.capability', null, 0);
  if (size >= 0) return size > 0;
  const errno = r.libc.koffi.errno();
  return errno === ENODATA || errno === ENOTSUP ? false : null;
}

/** Steps already applied, undone in reverse order if execve (or a step) fails. */
type Undo = Array<() => void>;

/**
 * Replaces this process with `req.file`: same PID, no Node left behind.
 * Before execve, puts back the caller's state that Node changed:
 *  1. descriptors: exactly `req.fds` survive the exec, every other one is
 *     close-on-exec (Node's own are; any that is not gets marked);
 *  2. O_NONBLOCK of fds 0-2 as the caller had it;
 *  3. signal dispositions: SIG_IGN where the caller ignored, else SIG_DFL
 *     (Node ignores SIGPIPE and SIGXFSZ and has handlers installed);
 *  4. the caller's soft RLIMIT_NOFILE (hard limit kept);
 *  5. last, the caller's blocked-signal mask.
 * On failure every step is undone, so that Node can report the error, and a
 * LaunchError is thrown: 127 when the file is not found, 126 otherwise.
 */
export function replaceProcess(req: ExecRequest, caller: CallerState): never {
  const r = loadLibc();
  if (!('libc' in r)) throw new LaunchError(EXIT.internal, `cannot replace the process: ${r.error}`);
  const libc = r.libc;
  const { koffi } = libc;

  // Everything that can fail in JavaScript comes before the first change.
  for (const s of [req.file, ...req.argv, ...Object.entries(req.env).flat()]) {
    if (s.includes('\0')) throw new LaunchError(EXIT.internal, `cannot execute ${req.file}: an argument or environment entry contains a NUL byte`);
  }
  // Non-UTF-8 arguments and variables go as the caller's exact bytes.
  const argv: Array<string | Buffer | null> = [...req.argv.map((a, i) => req.raw?.argv.get(i) ?? a), null];
  const envp: Array<string | Buffer | null> = [...Object.entries(req.env).map(([k, v]) => req.raw?.env.get(k) ?? `${k}=${v}`), null];
  const mask = Buffer.alloc(SIGSET_SIZE);
  mask.writeBigUInt64LE(BigInt.asUintN(64, caller.blockedSignals), 0);
  const keep = new Set(req.fds);

  const undo: Undo = [];
  const fail = (what: string, errno: number): never => {
    rollback(undo);
    throw new LaunchError(EXIT.internal, `cannot prepare to execute ${req.file}: ${what}: ${errorText(libc, errno)}`);
  };

  // 1. Descriptors. The directory stream readdirSync uses is closed again
  // before it returns; an fd listed but gone by now gives EBADF: skipped.
  for (const fd of openDescriptors(req.fds)) {
    const flags = libc.fcntl(fd, F_GETFD);
    if (flags < 0) continue;
    const want = keep.has(fd) ? flags & ~FD_CLOEXEC : flags | FD_CLOEXEC;
    if (want === flags) continue;
    if (libc.fcntl(fd, F_SETFD, 'int', want) < 0) fail(`fcntl(${fd}, F_SETFD)`, koffi.errno());
    undo.push(() => libc.fcntl(fd, F_SETFD, 'int', flags));
  }

  // 2. O_NONBLOCK of 0-2, as captured before anything touched process.std*.
  for (const fd of [0, 1, 2] as const) {
    const wanted = caller.stdioNonblock[fd];
    if (wanted === null || wanted === undefined) continue;
    const flags = libc.fcntl(fd, F_GETFL);
    if (flags < 0) continue;
    const want = wanted ? flags | O_NONBLOCK : flags & ~O_NONBLOCK;
    if (want === flags) continue;
    if (libc.fcntl(fd, F_SETFL, 'int', want) < 0) fail(`fcntl(${fd}, F_SETFL)`, koffi.errno());
    undo.push(() => libc.fcntl(fd, F_SETFL, 'int', flags));
  }

  // 3. Signal dispositions. The old action is saved opaque (no need to know
  // struct sigaction's layout) so that a failed exec can give Node its
  // handlers back; signal() sets the new one. execve itself clears sa_flags
  // and sa_mask and turns handlers into SIG_DFL, keeping only SIG_IGN.
  for (let sig = 1; sig <= 64; sig++) {
    if (sig === SIGKILL || sig === SIGSTOP || GLIBC_RESERVED.has(sig)) continue;
    const saved = Buffer.alloc(SIGACTION_SIZE);
    if (libc.sigaction(sig, null, saved) < 0) continue; // not a signal on this kernel
    undo.push(() => libc.sigaction(sig, saved, null));
    const handler = (caller.ignoredSignals >> BigInt(sig - 1)) & 1n ? SIG_IGN : SIG_DFL;
    if (libc.signal(sig, handler) === -1) fail(`signal(${sig})`, koffi.errno());
  }

  // 4. Soft RLIMIT_NOFILE; the hard limit stays (a lower soft limit needs no
  // privilege). select()-based programs break with a soft limit over 1024.
  if (caller.nofile !== null) {
    const old = Buffer.alloc(RLIMIT64_SIZE);
    if (libc.prlimit64(0, RLIMIT_NOFILE, null, old) < 0) fail('getrlimit(RLIMIT_NOFILE)', koffi.errno());
    const hard = old.readBigUInt64LE(8);
    let soft = caller.nofile === 'unlimited' ? RLIM_INFINITY : BigInt(caller.nofile);
    if (soft > hard) soft = hard;
    if (soft !== old.readBigUInt64LE(0)) {
      const lim = Buffer.alloc(RLIMIT64_SIZE);
      lim.writeBigUInt64LE(soft, 0);
      lim.writeBigUInt64LE(hard, 8);
      if (libc.prlimit64(0, RLIMIT_NOFILE, lim, null) < 0) fail('setrlimit(RLIMIT_NOFILE)', koffi.errno());
      undo.push(() => libc.prlimit64(0, RLIMIT_NOFILE, old, null));
    }
  }

  // 5. The blocked mask, last: from here on, a signal the caller did not
  // block is delivered with the disposition the application will have.
  const oldMask = Buffer.alloc(SIGSET_SIZE);
  if (libc.sigprocmask(SIG_SETMASK, mask, oldMask) < 0) fail('sigprocmask', koffi.errno());
  undo.push(() => libc.sigprocmask(SIG_SETMASK, oldMask, null));

  // Through the judged descriptor when there is one (see preflight/root-only-path.ts).
  if (req.fd === undefined) libc.execve(req.file, argv, envp);
  else libc.fexecve(req.fd, argv, envp);
  // Only reached when execve failed; errno is read before any other call.
  const errno = koffi.errno();
  rollback(undo);
  throw execError(libc, req.file, errno);
}

/** Candidate open descriptors: /proc/self/fd, or without /proc every number up to 1023 and the requested ones. */
function openDescriptors(wanted: number[]): number[] {
  try {
    return readdirSync('/proc/self/fd').map(Number);
  } catch {
    const all = new Set(wanted);
    for (let fd = 0; fd < 1024; fd++) all.add(fd);
    return [...all];
  }
}

function rollback(undo: Undo): void {
  for (let i = undo.length - 1; i >= 0; i--) undo[i]?.();
  undo.length = 0;
}

function errorText(libc: Libc, errno: number): string {
  return libc.strerror(errno) ?? `errno ${errno}`;
}

/** The shell's conventions: 127 when there is nothing to run, 126 when it cannot be run. */
function execError(libc: Libc, file: string, errno: number): LaunchError {
  const text = errorText(libc, errno);
  if (errno === ERRNO.ENOENT || errno === ERRNO.ENOTDIR) {
    // ENOENT for a file that exists: its #! interpreter or ELF loader is missing.
    if (errno === ERRNO.ENOENT && existsSync(file)) {
      return new LaunchError(EXIT.cannotExecute, `cannot execute ${file}: its interpreter (#! line or ELF loader) was not found`);
    }
    return new LaunchError(EXIT.notFound, `cannot execute ${file}: ${text}`);
  }
  if (errno === ERRNO.ENOEXEC) {
    return new LaunchError(EXIT.cannotExecute, `cannot execute ${file}: not an executable format (a script needs a #! line)`);
  }
  return new LaunchError(EXIT.cannotExecute, `cannot execute ${file}: ${text}`);
}
