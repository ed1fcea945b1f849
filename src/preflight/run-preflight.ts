// Carries out the plan's checks, cheapest first, before anything is exec'd.
// Any failure is a LaunchError: the application does not start.
import { setTimeout as sleep } from 'node:timers/promises';
import { EXIT, type ExitCode } from '../errors/exit-codes';
import { LaunchError } from '../errors/launch-error';
import type { Check, ControlCheck, Plan, Socks5Check } from '../plan/types';
import { socks5Handshake, type HandshakeRequest, type HandshakeResult } from '../tor/socks5-handshake';
import { controlHello } from '../tor/control-hello';
import { closeSync, fstatSync, lstatSync, mkdirSync, statSync, writeSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { findExecutable } from './find-executable';
import { isExecveAvailable } from '../exec/execve';
import { hasFileCapabilities } from './file-capabilities';
import { resolveProgram, type ProgramRefusal } from './resolve-program';
import { rootOnlyPath } from './root-only-path';
import { verifyPlacement } from './verify-placement';

const RETRY_MS = 500;

/** What the exec stage runs: the judged program, by its root-only path or through its descriptor. */
export interface ExecTarget {
  file: string;
  fd?: number;
}

/** A check that cannot run refuses: without koffi neither file capabilities nor an exec of the judged file are possible. */
function checkExecMethod(plan: Plan): void {
  const method = isExecveAvailable();
  if (method.method !== 'execve') {
    if (plan.sandbox !== null)
      throw new LaunchError(
        EXIT.refused,
        `a jail must replace the launcher (its helper supervises the application at this PID: a launcher left waiting would not pass on its signals nor end the jail with it), and ${method.reason}; refusing to launch (reinstall tails-launch)`,
      );
    throw new LaunchError(
      EXIT.refused,
      `backend ${plan.backend} needs koffi to check the program and to execute exactly what it checked, and ${method.reason}; refusing to launch (reinstall tails-launch)`,
    );
  }
}

/** The preload library: at its fixed path, root's, writable by nobody else (it runs inside every application). */
function checkLibrary(check: Extract<Check, { kind: 'library' }>): void {
  let stats;
  try {
    stats = statSync(check.path);
  } catch {
    throw new LaunchError(
      EXIT.notFound,
      `${check.wrapper} is not installed (${check.path} is missing): install the ${check.wrapper === 'proxychains4' ? 'libproxychains4' : check.wrapper} package`,
    );
  }
  if (!stats.isFile() || stats.uid !== 0 || stats.mode & 0o022) {
    throw new LaunchError(
      EXIT.cannotExecute,
      `${check.path} is not a root-owned file that only root can write: refusing to preload it (reinstall ${check.wrapper})`,
    );
  }
}

function checkExecutable(
  plan: Plan,
  check: Extract<Check, { kind: 'application' }>,
  pathVariable: string | undefined,
): void {
  // Looked up again: the plan may have been made a moment ago, but exec is now.
  const found = check.path
    ? findExecutable(check.path, pathVariable, '/')
    : { status: 'not-found' as const, path: null };
  const hint =
    plan.application.from === 'profile'
      ? `install it, or fix 'command' in ${plan.profile.sources[0]}`
      : `check the command's name, or give its absolute path`;
  if (found.status === 'not-found') {
    throw new LaunchError(
      EXIT.notFound,
      `application '${check.name}' not found${check.path ? ` at ${check.path}` : " on the application's PATH"}: ${hint}`,
    );
  }
  if (found.status === 'not-executable') {
    throw new LaunchError(
      EXIT.cannotExecute,
      `application '${check.name}' at ${found.path} cannot be executed: ${found.reason}`,
    );
  }
}

function currentDirectory(): string | null {
  try {
    return process.cwd();
  } catch {
    return null;
  }
}

const REFUSAL_EXIT: Record<ProgramRefusal['reason'], ExitCode> = {
  'not-found': EXIT.notFound,
  unreadable: EXIT.cannotExecute,
  static: EXIT.wouldBypass,
  go: EXIT.wouldBypass,
  setuid: EXIT.wouldBypass,
  setgid: EXIT.wouldBypass,
  'unknown-format': EXIT.wouldBypass,
};

/**
 * torsocks and proxychains work by LD_PRELOAD: follow the #!/env chain to the
 * program that will run, refuse what would escape them, and return that
 * program, still open, to be executed exactly as judged.
 */
function checkPreloadable(
  plan: Plan,
  check: Extract<Check, { kind: 'preloadable' }>,
  env: Record<string, string>,
): ExecTarget {
  const refuse = (exitCode: ExitCode, detail: string): never => {
    throw new LaunchError(
      exitCode,
      `${check.path} ${detail}: ${plan.backend} could not see its connections, so it would bypass Tor; refusing to launch it (a proxy-aware program can use a profile with backend env)`,
    );
  };
  if (check.path === null) return refuse(EXIT.notFound, 'was not found'); // the application check refused it already
  const resolved = resolveProgram(check.path, [check.path, ...plan.application.args], {
    pathVariable: env.PATH,
    cwd: currentDirectory(),
  });
  if (!resolved.ok) {
    if (resolved.reason === 'not-found' || resolved.reason === 'unreadable') {
      throw new LaunchError(REFUSAL_EXIT[resolved.reason], `${check.path} ${resolved.detail}: cannot launch it`);
    }
    return refuse(REFUSAL_EXIT[resolved.reason], resolved.detail);
  }
  const { fd } = resolved;
  try {
    // What explain showed is what runs, or nothing does.
    if (
      resolved.file !== plan.exec.file ||
      resolved.argv.length !== plan.exec.argv.length ||
      resolved.argv.some((a, i) => a !== plan.exec.argv[i])
    ) {
      throw new LaunchError(
        EXIT.wouldBypass,
        `${check.path} changed while it was being launched (it now leads to ${resolved.file}): refusing to launch; try again`,
      );
    }
    // File capabilities, like setuid, make the loader ignore LD_PRELOAD.
    const capable = hasFileCapabilities(fd);
    if (capable === null) {
      throw new LaunchError(
        EXIT.refused,
        `cannot tell whether ${resolved.file} has file capabilities (which would make it ignore ${plan.backend}): refusing to launch`,
      );
    }
    if (capable)
      refuse(
        EXIT.wouldBypass,
        resolved.file === check.path
          ? 'has file capabilities'
          : `(through ${resolved.chain.slice(1).join(', then ')}) has file capabilities`,
      );
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  const path = rootOnlyPath(fd, resolved.stats);
  if (path !== null) {
    closeSync(fd);
    return { file: path };
  }
  return { file: resolved.file, fd };
}

/**
 * A user jail: its helper and bubblewrap are root's and writable by nobody
 * else (they run with the user's rights, but hold the jail); the profile's
 * directories and the helper's parent directory exist.
 */
function checkSandbox(check: Extract<Check, { kind: 'sandbox' }>): void {
  for (const [path, pkg] of [
    [check.helper, 'tails-launch'],
    [check.bwrap, 'bubblewrap'],
  ] as const) {
    let st: Stats;
    try {
      st = statSync(path);
    } catch {
      throw new LaunchError(EXIT.notFound, `${path} is missing: a jail needs it (install the ${pkg} package)`);
    }
    if (!st.isFile() || st.uid !== 0 || (st.mode & 0o022) !== 0)
      throw new LaunchError(
        EXIT.refused,
        `${path} is not a root-owned file that only root can write: refusing to jail with it (reinstall ${pkg})`,
      );
  }
  refuseDirectoryDescriptors();
  try {
    for (const dir of check.create) mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (check.rundir !== null) {
      const parent = dirname(check.rundir);
      mkdirSync(parent, { recursive: true, mode: 0o700 });
      // The proxies' sockets go there: the user's alone, or another user could swap them.
      const st = lstatSync(parent);
      if (!st.isDirectory() || st.uid !== process.getuid?.() || (st.mode & 0o077) !== 0)
        throw new Error(`${parent} is not a directory of yours that only you can enter (remove it)`);
    }
  } catch (error) {
    throw new LaunchError(EXIT.refused, `cannot make the jail's directories: ${(error as Error).message}`);
  }
}

/**
 * Descriptors 0-2 enter a jail as the caller gave them. A directory among
 * them (`exec 0</`) would give the jail every file under it through
 * /proc/self/fd/N, the session's sockets included: refused.
 */
function refuseDirectoryDescriptors(): void {
  for (const [fd, name] of [
    [0, 'stdin'],
    [1, 'stdout'],
    [2, 'stderr'],
  ] as const) {
    let st: Stats;
    try {
      st = fstatSync(fd);
    } catch {
      continue; // closed: nothing to pass on
    }
    if (st.isDirectory() || st.isSymbolicLink())
      throw new LaunchError(
        EXIT.refused,
        `descriptor ${fd} (${name}) is a directory: a jail would reach every file under it through it; refusing to launch (give it a file, a pipe or a terminal)`,
      );
  }
}

function checkRuntimeFiles(plan: Plan, check: Extract<Check, { kind: 'runtime-files' }>): void {
  if (check.dir === null) {
    throw new LaunchError(
      EXIT.refused,
      `backend ${plan.backend} hands its configuration to the application and its child processes in $XDG_RUNTIME_DIR, which is not set: refusing to launch (run it from your desktop session)`,
    );
  }
}

async function checkSocks(plan: Plan, check: Socks5Check): Promise<void> {
  const socks = plan.isolation.socks;
  const request: HandshakeRequest = {
    address: check.address,
    port: check.port,
    auth:
      socks.auth === 'userpass'
        ? { kind: 'userpass', username: socks.username, password: socks.password }
        : { kind: 'none' },
    timeoutMs: check.timeoutMs,
  };
  await waitForTor(plan, check, () => socks5Handshake(request));
}

/** Tries PROBE until it succeeds or CHECK's wait is over, showing the wait on a terminal. */
async function waitForTor(
  plan: Plan,
  check: Socks5Check | ControlCheck,
  probe: () => Promise<HandshakeResult>,
): Promise<void> {
  const deadline = Date.now() + check.waitSeconds * 1000;
  // node:tty costs a few ms to load: only when there is something to wait for.
  const showProgress = check.waitSeconds > 0 && (await import('node:tty')).isatty(2);
  for (let attempt = 1; ; attempt++) {
    const result = await probe();
    if (result.ok) {
      if (showProgress && attempt > 1) writeSync(2, '\r\x1b[K');
      return;
    }
    const left = deadline - Date.now();
    if (left <= 0) {
      if (showProgress && attempt > 1) writeSync(2, '\r\x1b[K');
      const waited = check.waitSeconds > 0 ? ` after waiting ${check.waitSeconds} s` : '';
      throw new LaunchError(
        EXIT.torUnreachable,
        `Tor is not reachable${waited}: ${result.reason} (listener '${plan.listener.name}'); start Tor or wait for it to connect${check.waitSeconds ? '' : ', or use --wait-for-tor SECONDS'}`,
      );
    }
    if (showProgress) {
      const elapsed = Math.round(check.waitSeconds - left / 1000);
      writeSync(
        2,
        `\rtails-launch: waiting for Tor on ${check.address}:${check.port}... ${elapsed}/${check.waitSeconds} s`,
      );
    }
    await sleep(Math.min(RETRY_MS, left));
  }
}

/**
 * Runs every check of the plan, in order; returns what to execute. A plan
 * with a placement or a jail runs here only in the privileged entry's
 * preflight (PLACED: src/cli/placed.ts), after the entry applied them: every
 * other launch hands such a plan over first (placement/handover.ts).
 */
export async function runPreflight(plan: Plan, env: Record<string, string>, placed = false): Promise<ExecTarget> {
  let target: ExecTarget = { file: plan.exec.file ?? '' };
  for (const check of plan.checks) {
    const applied = ['placement', 'jail', 'handover'].includes(check.kind);
    if (applied && !placed)
      throw new Error(`the ${check.kind} check reached the preflight outside the privileged entry`);
    // The entry made the jail (this process is inside it) and ran the hand-over.
    if (check.kind === 'jail' || check.kind === 'handover') continue;
    if (check.kind === 'placement') verifyPlacement(check);
    else if (check.kind === 'exec-method') checkExecMethod(plan);
    else if (check.kind === 'library') checkLibrary(check);
    else if (check.kind === 'preloadable') target = checkPreloadable(plan, check, env);
    else if (check.kind === 'runtime-files') checkRuntimeFiles(plan, check);
    else if (check.kind === 'socks5') await checkSocks(plan, check);
    else if (check.kind === 'control')
      await waitForTor(plan, check, () =>
        controlHello({ address: check.address, port: check.port, timeoutMs: check.timeoutMs }),
      );
    else if (check.kind === 'sandbox') checkSandbox(check);
    else checkExecutable(plan, check, env.PATH);
  }
  return target;
}
