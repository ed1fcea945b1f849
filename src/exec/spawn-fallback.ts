import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import type { Options } from 'execa';
import { EXIT } from '../errors/exit-codes';
import { LaunchError } from '../errors/launch-error';
import type { CallerState } from './caller-state';
import type { ExecRequest } from './types';

// The degraded path, taken only when koffi cannot be loaded: run the program
// as a child and wait. Node stays resident (~40-50 MB per application) and
// the application gets another PID. What it can keep of the caller's state:
// stdio and the caller's extra descriptors, argv[0], the environment. What it
// cannot: libuv resets every signal to SIG_DFL and unblocks all of them in
// the child, and the child inherits Node's raised RLIMIT_NOFILE (setting
// those needs the FFI that is missing here).

/**
 * Signals a terminal sends to its whole foreground process group, which the
 * child belongs to (execa does not detach it): when we are in that group the
 * child has already received them, and forwarding would deliver them twice
 * (a second SIGINT often means "force quit"). Forwarded only when we are not
 * in the terminal's foreground group, i.e. when someone sent them to us alone.
 */
const TERMINAL_SIGNALS = ['SIGINT', 'SIGQUIT', 'SIGHUP', 'SIGWINCH'] as const;
/** Signals never sent by a terminal: always forwarded. */
const DIRECT_SIGNALS = ['SIGTERM', 'SIGUSR1', 'SIGUSR2', 'SIGALRM'] as const;
// SIGTSTP/SIGTTIN/SIGTTOU/SIGCONT keep their default action: with job control
// they reach the whole group, so Node stops and continues together with the
// child, and the shell sees the job stop as a whole.

type SignalName = NodeJS.Signals;

/** Runs `req` as a child, mirrors its end: the same exit status or the same fatal signal. */
export async function spawnAndWait(req: ExecRequest, caller: CallerState): Promise<never> {
  const { execa } = await import('execa');

  // stdio: fds 0-2 as they are; the caller's other descriptors at the same
  // numbers; everything else closed in the child ('ignore' above 2 opens nothing).
  const extra = req.fds.filter((fd) => fd > 2);
  const top = Math.max(2, ...extra);
  const above: Array<'ignore' | number> = [];
  for (let fd = 3; fd <= top; fd++) above.push(extra.includes(fd) ? fd : 'ignore');
  // execa hands a plain number above 2 to child_process.spawn as "share this
  // fd"; its types only list 3-9.
  const stdio = ['inherit', 'inherit', 'inherit', ...above] as unknown as Options['stdio'];

  const ignored = (name: SignalName): boolean => {
    const num = constants.signals[name];
    return num !== undefined && ((caller.ignoredSignals >> BigInt(num - 1)) & 1n) === 1n;
  };

  const subprocess = execa(req.file, req.argv.slice(1), {
    argv0: req.argv[0],
    env: req.env,
    extendEnv: false,
    stdio,
    reject: false,
    buffer: false,
    // Our death must not take the application down: we forward signals ourselves.
    cleanup: false,
    forceKillAfterDelay: false,
    windowsHide: false,
  });

  const handlers = new Map<SignalName, () => void>();
  const listen = (name: SignalName, forward: () => boolean): void => {
    const handler = (): void => {
      // A signal the caller ignored (nohup) stays ignored for us, and is not
      // passed on: the caller meant the application not to get it.
      if (ignored(name)) return;
      if (forward()) subprocess.kill(name);
    };
    handlers.set(name, handler);
    process.on(name, handler);
  };
  for (const name of TERMINAL_SIGNALS) listen(name, () => !inForegroundGroup());
  for (const name of DIRECT_SIGNALS) listen(name, () => true);

  const result: { signal?: string; exitCode?: number; code?: string; originalMessage?: string; shortMessage?: string } =
    await subprocess;
  for (const [name, handler] of handlers) process.removeListener(name, handler);

  if (result.signal) reraise(result.signal as SignalName);
  if (typeof result.exitCode === 'number') process.exit(result.exitCode);

  // Never started: map like execve's errors.
  const code = result.code ?? '';
  const reason = SPAWN_ERRORS[code] ?? (code || result.shortMessage?.split('\n')[0] || 'unknown error');
  throw new LaunchError(
    code === 'ENOENT' || code === 'ENOTDIR' ? EXIT.notFound : EXIT.cannotExecute,
    `cannot execute ${req.file}: ${reason}`,
  );
}

/** strerror()'s words for what spawn reports as a bare code (Node < 22 has no getSystemErrorMessage). */
const SPAWN_ERRORS: Record<string, string> = {
  ENOENT: 'No such file or directory',
  ENOTDIR: 'Not a directory',
  EACCES: 'Permission denied',
  ENOEXEC: 'Exec format error',
  EISDIR: 'Is a directory',
  E2BIG: 'Argument list too long',
  ETXTBSY: 'Text file busy',
};

/**
 * Dies of `name` with its default action, as the child did, so that the
 * caller (a shell: "Terminated", a Ctrl-C that stops a script) sees the same
 * death. Node ignores SIGPIPE and handles some others; listening and then
 * unlistening makes libuv put back SIG_DFL.
 */
function reraise(name: SignalName): never {
  const num = constants.signals[name] ?? 0;
  if (name !== 'SIGKILL' && name !== 'SIGSTOP') {
    const noop = (): void => {};
    process.removeAllListeners(name);
    process.on(name, noop);
    process.removeListener(name, noop);
  }
  process.kill(process.pid, name);
  // Still alive: a signal whose default action is not to terminate.
  process.exit(128 + num);
}

/** Whether our process group is the foreground group of our controlling terminal. */
function inForegroundGroup(): boolean {
  try {
    const stat = readFileSync('/proc/self/stat', 'latin1');
    // "pid (comm) state ppid pgrp session tty_nr tpgid ...": comm may hold anything, cut after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const pgrp = Number(fields[2]);
    const tpgid = Number(fields[5]);
    return tpgid > 0 && tpgid === pgrp;
  } catch {
    return false;
  }
}
