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

/**
 * Replaces this process with `req.file`: same PID, no Node left behind.
 * Before execve, puts back the caller's state that Node changed, in this
 * order (one step each below):
 *  1. descriptors: exactly `req.fds` survive the exec, every other one is
 *     close-on-exec (Node's own are; any that is not gets marked);
 *  2. O_NONBLOCK of fds 0-2 as the caller had it;
 *  3. signal dispositions: SIG_IGN where the caller ignored, else SIG_DFL
 *     (Node ignores SIGPIPE and SIGXFSZ and has handlers installed);
 *  4. the caller's soft RLIMIT_NOFILE (hard limit kept);
 *  5. last, the caller's blocked-signal mask.
 * On failure every step is undone, so that Node can report the error, and a
 * LaunchError is thrown: 70 when a step fails, else (execve failed) 127 when
 * the file is not found, 126 otherwise.
 */
export function replaceProcess(req: ExecRequest, caller: CallerState): never {
  const libc = requireLibc();
  const image = encodeImage(req, caller);
  const changes: Changes = { libc, file: req.file, undo: [] };
  keepOnlyRequestedDescriptors(changes, req.fds);
  restoreStdioNonblock(changes, caller.stdioNonblock);
  restoreSignalDispositions(changes, caller.ignoredSignals);
  restoreOpenFileLimit(changes, caller.nofile);
  restoreBlockedSignals(changes, image.blocked);
  return execImage(changes, req, image);
}

/** The changes made so far to this process, undone in reverse order if a later step or execve fails. */
interface Changes {
  libc: Libc;
  /** The program, named in error messages. */
  file: string;
  undo: Array<() => void>;
}

/** What the new image receives, in libc's terms. */
interface Image {
  argv: Array<string | Buffer | null>;
  envp: Array<string | Buffer | null>;
  /** The caller's blocked-signal mask, as a sigset_t. */
  blocked: Buffer;
}

function requireLibc(): Libc {
  const r = loadLibc();
  if (!('libc' in r)) throw new LaunchError(EXIT.internal, `cannot replace the process: ${r.error}`);
  return r.libc;
}

/** Everything that can fail in JavaScript, done before the first change. */
function encodeImage(req: ExecRequest, caller: CallerState): Image {
  for (const s of [req.file, ...req.argv, ...Object.entries(req.env).flat()]) {
    if (s.includes('\0'))
      throw new LaunchError(
        EXIT.internal,
        `cannot execute ${req.file}: an argument or environment entry contains a NUL byte`,
      );
  }
  // Non-UTF-8 arguments and variables go as the caller's exact bytes.
  const argv: Array<string | Buffer | null> = [...req.argv.map((a, i) => req.raw?.argv.get(i) ?? a), null];
  const envp: Array<string | Buffer | null> = [
    ...Object.entries(req.env).map(([k, v]) => req.raw?.env.get(k) ?? `${k}=${v}`),
    null,
  ];
  const blocked = Buffer.alloc(SIGSET_SIZE);
  blocked.writeBigUInt64LE(BigInt.asUintN(64, caller.blockedSignals), 0);
  return { argv, envp, blocked };
}

/** Undoes every change, then throws: WHAT failed with ERRNO (read by the caller before any other libc call). */
function fail(changes: Changes, what: string, errno: number): never {
  rollback(changes);
  throw new LaunchError(
    EXIT.internal,
    `cannot prepare to execute ${changes.file}: ${what}: ${errorText(changes.libc, errno)}`,
  );
}

/**
 * 1. Descriptors. The directory stream readdirSync uses is closed again
 * before it returns; an fd listed but gone by now gives EBADF: skipped.
 */
function keepOnlyRequestedDescriptors(changes: Changes, fds: number[]): void {
  const { libc } = changes;
  const keep = new Set(fds);
  for (const fd of openDescriptors(fds)) {
    const flags = libc.fcntl(fd, F_GETFD);
    if (flags < 0) continue;
    const want = keep.has(fd) ? flags & ~FD_CLOEXEC : flags | FD_CLOEXEC;
    if (want === flags) continue;
    if (libc.fcntl(fd, F_SETFD, 'int', want) < 0) fail(changes, `fcntl(${fd}, F_SETFD)`, libc.koffi.errno());
    changes.undo.push(() => libc.fcntl(fd, F_SETFD, 'int', flags));
  }
}

/** 2. O_NONBLOCK of 0-2, as captured before anything touched process.std*. */
function restoreStdioNonblock(changes: Changes, stdioNonblock: CallerState['stdioNonblock']): void {
  const { libc } = changes;
  for (const fd of [0, 1, 2] as const) {
    const wanted = stdioNonblock[fd];
    if (wanted === null || wanted === undefined) continue;
    const flags = libc.fcntl(fd, F_GETFL);
    if (flags < 0) continue;
    const want = wanted ? flags | O_NONBLOCK : flags & ~O_NONBLOCK;
    if (want === flags) continue;
    if (libc.fcntl(fd, F_SETFL, 'int', want) < 0) fail(changes, `fcntl(${fd}, F_SETFL)`, libc.koffi.errno());
    changes.undo.push(() => libc.fcntl(fd, F_SETFL, 'int', flags));
  }
}

/**
 * 3. Signal dispositions. The old action is saved opaque (no need to know
 * struct sigaction's layout) so that a failed exec can give Node its
 * handlers back; signal() sets the new one. execve itself clears sa_flags
 * and sa_mask and turns handlers into SIG_DFL, keeping only SIG_IGN.
 */
function restoreSignalDispositions(changes: Changes, ignoredSignals: bigint): void {
  const { libc } = changes;
  for (let sig = 1; sig <= 64; sig++) {
    if (sig === SIGKILL || sig === SIGSTOP || GLIBC_RESERVED.has(sig)) continue;
    const saved = Buffer.alloc(SIGACTION_SIZE);
    if (libc.sigaction(sig, null, saved) < 0) continue; // not a signal on this kernel
    // Saved before signal() is tried: a failure undoes this signal too.
    changes.undo.push(() => libc.sigaction(sig, saved, null));
    const handler = (ignoredSignals >> BigInt(sig - 1)) & 1n ? SIG_IGN : SIG_DFL;
    if (libc.signal(sig, handler) === -1) fail(changes, `signal(${sig})`, libc.koffi.errno());
  }
}

/**
 * 4. Soft RLIMIT_NOFILE; the hard limit stays (a lower soft limit needs no
 * privilege). select()-based programs break with a soft limit over 1024.
 */
function restoreOpenFileLimit(changes: Changes, nofile: CallerState['nofile']): void {
  if (nofile === null) return;
  const { libc } = changes;
  const old = Buffer.alloc(RLIMIT64_SIZE);
  if (libc.prlimit64(0, RLIMIT_NOFILE, null, old) < 0) fail(changes, 'getrlimit(RLIMIT_NOFILE)', libc.koffi.errno());
  const hard = old.readBigUInt64LE(8);
  let soft = nofile === 'unlimited' ? RLIM_INFINITY : BigInt(nofile);
  if (soft > hard) soft = hard;
  if (soft === old.readBigUInt64LE(0)) return;
  const lim = Buffer.alloc(RLIMIT64_SIZE);
  lim.writeBigUInt64LE(soft, 0);
  lim.writeBigUInt64LE(hard, 8);
  if (libc.prlimit64(0, RLIMIT_NOFILE, lim, null) < 0) fail(changes, 'setrlimit(RLIMIT_NOFILE)', libc.koffi.errno());
  changes.undo.push(() => libc.prlimit64(0, RLIMIT_NOFILE, old, null));
}

/**
 * 5. The blocked mask, last: from here on, a signal the caller did not
 * block is delivered with the disposition the application will have.
 */
function restoreBlockedSignals(changes: Changes, blocked: Buffer): void {
  const { libc } = changes;
  const oldMask = Buffer.alloc(SIGSET_SIZE);
  if (libc.sigprocmask(SIG_SETMASK, blocked, oldMask) < 0) fail(changes, 'sigprocmask', libc.koffi.errno());
  changes.undo.push(() => libc.sigprocmask(SIG_SETMASK, oldMask, null));
}

/** The exec itself. Returns only by throwing: execve failed, every change is undone. */
function execImage(changes: Changes, req: ExecRequest, image: Image): never {
  const { libc } = changes;
  // Through the judged descriptor when there is one (see preflight/root-only-path.ts).
  if (req.fd === undefined) libc.execve(req.file, image.argv, image.envp);
  else libc.fexecve(req.fd, image.argv, image.envp);
  // Only reached when execve failed; errno is read before any other call.
  const errno = libc.koffi.errno();
  rollback(changes);
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

/** Undoes the changes in reverse order, each once. */
function rollback(changes: Changes): void {
  const { undo } = changes;
  for (let i = undo.length - 1; i >= 0; i--) undo[i]?.();
  undo.length = 0;
}

/** The shell's conventions: 127 when there is nothing to run, 126 when it cannot be run. */
function execError(libc: Libc, file: string, errno: number): LaunchError {
  const text = errorText(libc, errno);
  if (errno === ERRNO.ENOENT || errno === ERRNO.ENOTDIR) {
    // ENOENT for a file that exists: its #! interpreter or ELF loader is missing.
    if (errno === ERRNO.ENOENT && existsSync(file)) {
      return new LaunchError(
        EXIT.cannotExecute,
        `cannot execute ${file}: its interpreter (#! line or ELF loader) was not found`,
      );
    }
    return new LaunchError(EXIT.notFound, `cannot execute ${file}: ${text}`);
  }
  if (errno === ERRNO.ENOEXEC) {
    return new LaunchError(
      EXIT.cannotExecute,
      `cannot execute ${file}: not an executable format (a script needs a #! line)`,
    );
  }
  return new LaunchError(EXIT.cannotExecute, `cannot execute ${file}: ${text}`);
}
