import { existsSync, readdirSync } from 'node:fs';
import { EXIT } from '../errors/exit-codes';
import { LaunchError } from '../errors/launch-error';
import type { CallerState } from './caller-state';
import {
  ERRNO,
  errorText,
  F_GETFD,
  F_GETFL,
  F_SETFD,
  F_SETFL,
  FD_CLOEXEC,
  GLIBC_RESERVED,
  loadLibc,
  O_NONBLOCK,
  RLIM_INFINITY,
  RLIMIT64_SIZE,
  RLIMIT_NOFILE,
  SIG_DFL,
  SIG_IGN,
  SIG_SETMASK,
  SIGACTION_SIZE,
  SIGKILL,
  SIGSET_SIZE,
  SIGSTOP,
  type Libc,
} from './libc';
import type { ExecMethod, ExecRequest } from './types';

// Replacing the Node process with the application, through libc's execve
// called with koffi (the binding and the ABI's numbers: libc.ts). Everything
// runs synchronously on the main thread: errno is per thread and koffi's async
// calls run in a worker pool, so an async execve would replace nothing useful
// and lose errno.

/** Whether the process can be replaced with execve, or why not. */
export function isExecveAvailable(): ExecMethod {
  const r = loadLibc();
  return 'libc' in r ? { method: 'execve', via: 'koffi' } : { method: 'spawn', via: 'execa', reason: r.error };
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
