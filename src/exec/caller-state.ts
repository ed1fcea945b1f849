import { readFileSync } from 'node:fs';

/**
 * The process state the caller gave us, as it was before Node changed it.
 * The exec stage puts it back just before execve, so that the application
 * starts as if the caller had run it directly.
 *
 * Node, before any JavaScript runs, resets ignored signals to SIG_DFL (except
 * SIGPIPE and SIGXFSZ, which it ignores itself), replaces the blocked mask,
 * raises the soft RLIMIT_NOFILE to the hard limit and marks inherited
 * descriptors close-on-exec. Only bin/tails-launch, a shell front that runs
 * before Node, can see the caller's values: it passes them in
 * TAILS_LAUNCH_CALLER (format: see {@link CALLER_ENV}).
 */
export interface CallerState {
  /** 'front': read from TAILS_LAUNCH_CALLER; 'defaults': node was run directly. */
  source: 'front' | 'defaults';
  /** Signals the caller ignored (SIG_IGN): bit n-1 is signal n, as SigIgn in /proc/PID/status. */
  ignoredSignals: bigint;
  /** Signals the caller blocked: bit n-1 is signal n, as SigBlk. */
  blockedSignals: bigint;
  /** The caller's soft RLIMIT_NOFILE; null: unknown, leave the limit as it is. */
  nofile: number | 'unlimited' | null;
  /** Descriptors the caller handed down (sorted, 0-2 included when open). */
  fds: number[];
  /** O_NONBLOCK of fds 0, 1 and 2 as Node found them; null when closed or unreadable. */
  stdioNonblock: [boolean | null, boolean | null, boolean | null];
  /** Parts of TAILS_LAUNCH_CALLER that could not be used (defaults were taken instead). */
  problems: string[];
}

/**
 * The variable bin/tails-launch sets:
 *   v=1;sigign=HEX;sigblk=HEX;nofile=N|unlimited;fds=0,1,2,5
 * HEX as in /proc/PID/status (16 hex digits, signal n is bit n-1); fds in any
 * order. An empty or missing value takes the default (as when the variable is
 * absent); unknown keys are ignored, so that a newer front works with an
 * older launcher.
 */
export const CALLER_ENV = 'TAILS_LAUNCH_CALLER';

/**
 * The variables Node itself reads at start-up. They are the caller's settings
 * for the application (when it is a Node program), not for the launcher's
 * own Node: `NODE_OPTIONS=--require=x` would run x in the launcher, a bad
 * value stops Node with its own stack trace before our first line, and
 * `NODE_CHANNEL_FD` would make the launcher's Node take over the caller's IPC
 * descriptor. The front (bin/tails-launch) hands each on as
 * KEEP_PREFIX + NAME and unsets it for Node; the launcher puts them back.
 * Keep this list and the front's in step.
 */
export const NODE_VARIABLES = [
  'NODE_OPTIONS',
  'NODE_PATH',
  'NODE_EXTRA_CA_CERTS',
  'NODE_REDIRECT_WARNINGS',
  'NODE_V8_COVERAGE',
  'NODE_DEBUG',
  'NODE_DEBUG_NATIVE',
  'NODE_NO_WARNINGS',
  'NODE_PENDING_DEPRECATION',
  'NODE_PRESERVE_SYMLINKS',
  'NODE_ICU_DATA',
  'NODE_TLS_REJECT_UNAUTHORIZED',
  'NODE_COMPILE_CACHE',
  'NODE_CHANNEL_FD',
  'NODE_CHANNEL_SERIALIZATION_MODE',
  'NODE_UNIQUE_ID',
  'UV_THREADPOOL_SIZE',
  'UV_USE_IO_URING',
] as const;
export const KEEP_PREFIX = 'TAILS_LAUNCH_KEEP_';

/** Puts back the Node variables the front kept away from the launcher's Node. */
function restoreNodeVariables(env: NodeJS.ProcessEnv): void {
  for (const name of NODE_VARIABLES) {
    const kept = env[KEEP_PREFIX + name];
    if (kept === undefined) continue;
    env[name] = kept;
    delete env[KEEP_PREFIX + name];
  }
}

/** O_NONBLOCK on Linux x86, x86_64, arm and arm64 (the fdinfo "flags:" field is octal). */
const O_NONBLOCK = 0o4000;

/**
 * Call first thing in main, before anything touches process.stdin/stdout/
 * stderr (which may switch a pipe to O_NONBLOCK). Removes TAILS_LAUNCH_CALLER
 * from `env` so that the application never sees it, and puts back the
 * caller's Node variables (NODE_VARIABLES).
 */
export function captureCallerState(env: NodeJS.ProcessEnv = process.env): CallerState {
  const raw = env[CALLER_ENV];
  delete env[CALLER_ENV];
  restoreNodeVariables(env);
  const stdioNonblock: CallerState['stdioNonblock'] = [readNonblock(0), readNonblock(1), readNonblock(2)];
  const state: CallerState = {
    source: 'defaults',
    ignoredSignals: 0n,
    blockedSignals: 0n,
    nofile: null,
    fds: [0, 1, 2],
    stdioNonblock,
    problems: [],
  };
  if (raw === undefined) return state;
  state.source = 'front';

  // An empty value means the front could not read it (no /proc): default.
  const fields = new Map<string, string>();
  for (const part of raw.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && eq < part.length - 1) fields.set(part.slice(0, eq), part.slice(eq + 1));
  }
  const version = fields.get('v');
  if (version !== '1') state.problems.push(`unknown format version ${JSON.stringify(version ?? '')}`);

  const sigign = parseMask(fields.get('sigign'));
  if (sigign === null) state.problems.push('sigign');
  else state.ignoredSignals = sigign;

  const sigblk = parseMask(fields.get('sigblk'));
  if (sigblk === null) state.problems.push('sigblk');
  else state.blockedSignals = sigblk;

  const nofile = fields.get('nofile');
  if (nofile === 'unlimited') state.nofile = 'unlimited';
  else if (nofile !== undefined && /^\d{1,15}$/.test(nofile)) state.nofile = Number(nofile);
  else state.problems.push('nofile');

  const fds = parseFds(fields.get('fds'));
  if (fds === null) state.problems.push('fds');
  else state.fds = fds;

  return state;
}

function parseMask(text: string | undefined): bigint | null {
  if (text === undefined || !/^[0-9a-fA-F]{1,16}$/.test(text)) return null;
  return BigInt(`0x${text}`);
}

function parseFds(text: string | undefined): number[] | null {
  if (text === undefined) return null;
  const fds = new Set<number>();
  for (const item of text.split(',')) {
    if (!/^\d{1,9}$/.test(item)) return null;
    fds.add(Number(item));
  }
  return [...fds].sort((a, b) => a - b);
}

/**
 * O_NONBLOCK of `fd` from /proc/self/fdinfo (no FFI needed), or null when the
 * descriptor is closed or the file unreadable. The "flags:" line is octal.
 */
function readNonblock(fd: number): boolean | null {
  let info: string;
  try {
    info = readFileSync(`/proc/self/fdinfo/${fd}`, 'latin1');
  } catch {
    return null;
  }
  const m = /^flags:\s*([0-7]+)$/m.exec(info);
  if (!m?.[1]) return null;
  return (Number.parseInt(m[1], 8) & O_NONBLOCK) !== 0;
}

/** Signal numbers set in a SigIgn/SigBlk-style mask (for `explain` and tests). */
export function signalsInMask(mask: bigint): number[] {
  const out: number[] = [];
  for (let sig = 1; sig <= 64; sig++) if ((mask >> BigInt(sig - 1)) & 1n) out.push(sig);
  return out;
}
