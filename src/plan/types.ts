// The plan: everything a launch will do, as plain data. `explain --json`
// prints it (schema 1, documented in README.md); preflight and exec only
// carry it out.
import type { ExecMethod } from '../exec/types';
import type { BackendName, IsolationMode } from '../profile/schema';

export interface PlanCheck {
  kind: 'placement' | 'wrapper' | 'application' | 'preloadable' | 'socks5';
  /** One line saying what is checked. */
  description: string;
}

export interface PlacementCheck extends PlanCheck {
  kind: 'placement';
  netns: string | null;
  user: string | null;
}

export interface ExecutableCheck extends PlanCheck {
  kind: 'wrapper' | 'application';
  name: string;
  /** What the lookup found while planning; preflight checks it again. */
  path: string | null;
  status: 'ok' | 'not-found' | 'not-executable';
  reason?: string;
}

export interface Socks5Check extends PlanCheck {
  kind: 'socks5';
  address: string;
  port: number;
  auth: 'none' | 'userpass';
  /** Seconds to keep retrying before giving up (0: one attempt). */
  waitSeconds: number;
  timeoutMs: number;
}

/** LD_PRELOAD backends: the program must not be static, Go, setuid or setgid. */
export interface PreloadableCheck extends PlanCheck {
  kind: 'preloadable';
  /** The application as resolved while planning (null: not found, the application check fails first). */
  path: string | null;
}

export type Check = PlacementCheck | ExecutableCheck | PreloadableCheck | Socks5Check;

export interface Plan {
  schema: 1;
  profile: { name: string; description: string | null; sources: string[] };
  identity: string | null;
  listener: {
    name: string;
    source: string;
    address: string;
    port: number;
    /** Tor SocksPort flags the listener must carry. */
    flags: string[];
    netns: string | null;
    /** Where the application connects. */
    connect: { address: string; port: number };
  };
  isolation: {
    mode: IsolationMode;
    /** The SOCKS5 credentials Tor will see, or how they are made. */
    socks:
      | { auth: 'none' }
      | { auth: 'userpass'; username: string; password: string; perLaunch: boolean }
      | { auth: 'per-process'; description: string };
  };
  backend: BackendName;
  placement: { netns: string | null; user: string | null };
  application: { command: string; path: string | null; args: string[] };
  exec: {
    /** Absolute path given to execve (the wrapper, or the application for env). */
    file: string | null;
    argv: string[];
    method: ExecMethod;
  };
  env: {
    set: Record<string, string>;
    /** Inherited variables removed from the application's environment. */
    removed: string[];
    /** Inherited variables given another value (the new one is in `set`). */
    replaced: string[];
    /** Patterns always removed from what is inherited. */
    scrubPolicy: string[];
  };
  /** Descriptors the application receives: the caller's own, plus one per memory file. */
  fds: number[];
  /**
   * Files made in memory at exec time (sealed memfds, kept open across
   * execve) and named to the application by VARIABLE=/proc/self/fd/N.
   * `content` is shown with secrets masked.
   */
  files: { kind: 'memfd'; name: string; variable: string; content: string }[];
  checks: Check[];
  notes: string[];
}
