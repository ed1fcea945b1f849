// The plan: everything a launch will do, as plain data. `explain --json`
// prints it (schema 2, documented in README.md); preflight and exec only
// carry it out.
import type { ExitCode } from '../errors/exit-codes';
import type { ExecMethod } from '../exec/types';
import type { TorSees } from './tor-sees';
import type { PlanJail } from '../jail/plan-jail';
import type { Guard } from '../jail/guard';
import type { Listener } from '../tor/listener';
import type { ControlFilter } from '../tor/onion-grater';
import type { BackendName, IsolationMode } from '../vocabulary/modes';

export interface PlanCheck {
  kind:
    | 'placement'
    | 'handover'
    | 'jail'
    | 'library'
    | 'application'
    | 'preloadable'
    | 'runtime-files'
    | 'exec-method'
    | 'sandbox'
    | 'socks5'
    | 'control';
  /** One line saying what is checked. */
  description: string;
}

/**
 * Placement: the namespace exists and, run by root (`via: self`), this
 * process enters it and becomes the account, so that every later check runs
 * where and as whom the application will. PROBLEM refuses the launch.
 */
export interface PlacementCheck extends PlanCheck {
  kind: 'placement';
  netns: string | null;
  user: string | null;
  via: 'self' | 'sudo' | 'applied';
  account: { name: string; uid: number; gid: number; groups: number[] } | null;
  problem: { status: ExitCode; message: string } | null;
}

/**
 * A jailed launch: the host side is installed, then the jail is made (a
 * fresh network namespace whose one way out is the listener's jail
 * SocksPort). PROBLEM (a configuration that cannot be jailed) refuses.
 */
export interface JailCheck extends PlanCheck {
  kind: 'jail';
  jail: PlanJail | null;
  problem: string | null;
  /** The application would run as root: it keeps uid 0 but loses every capability (the entry, src/place/place.c). */
  dropCapabilities: boolean;
}

/** A placement or a jail: the privileged entry applies it (through sudo for an unprivileged caller, which must permit it without a password). */
export interface HandoverCheck extends PlanCheck {
  kind: 'handover';
  /** sudo, for an unprivileged caller; null for root, which runs the entry itself. */
  sudo: string | null;
  entry: string;
}

export interface ExecutableCheck extends PlanCheck {
  kind: 'application';
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

/** A control listener: Tor's control port (onion-grater's filter, on Tails) answers PROTOCOLINFO. */
export interface ControlCheck extends PlanCheck {
  kind: 'control';
  address: string;
  port: number;
  waitSeconds: number;
  timeoutMs: number;
}

/** LD_PRELOAD backends: the wrapper's library, at the absolute path fixed when tails-launch was built. */
export interface LibraryCheck extends PlanCheck {
  kind: 'library';
  /** The Debian package's wrapper whose library this is (torsocks, proxychains4). */
  wrapper: string;
  path: string;
}

/**
 * LD_PRELOAD backends: the program that will really run (after #! and env)
 * must not be static, Go, setuid, setgid or file-capable. The preflight
 * follows the chain again through descriptors, must find the same program
 * and argv as the plan, and executes what it judged.
 */
export interface PreloadableCheck extends PlanCheck {
  kind: 'preloadable';
  /** The application as resolved while planning (null: not found, the application check fails first). */
  path: string | null;
  /** What planning found: refused already (the launch will be), or fine so far. */
  verdict: { ok: true } | { ok: false; detail: string };
}

/** Files handed over by path need the user's private runtime directory. */
export interface RuntimeFilesCheck extends PlanCheck {
  kind: 'runtime-files';
  /** $XDG_RUNTIME_DIR, or null when unset (the launch is refused). */
  dir: string | null;
}

/** A user jail: the helper and bubblewrap are there and root's; the profile's directories are made if missing. */
export interface SandboxCheck extends PlanCheck {
  kind: 'sandbox';
  helper: string;
  bwrap: string;
  /** The directory the helper makes for the proxies' sockets (its parent is made here); null without a runtime directory. */
  rundir: string | null;
  create: string[];
}

/** LD_PRELOAD backends need koffi: without it neither the file-capability check nor the exec of the judged file can run. */
export interface ExecMethodCheck extends PlanCheck {
  kind: 'exec-method';
}

export type Check =
  | PlacementCheck
  | JailCheck
  | HandoverCheck
  | LibraryCheck
  | ExecutableCheck
  | PreloadableCheck
  | RuntimeFilesCheck
  | ExecMethodCheck
  | SandboxCheck
  | Socks5Check
  | ControlCheck;

export interface Plan {
  schema: 2;
  profile: {
    name: string;
    description: string | null;
    sources: string[];
    /** Which layer ('shipped', 'admin', 'user', 'config-dir') and file set each field (`isolation`, `env.set.NAME`, ...). */
    fieldSources: Record<string, { layer: string; file: string }>;
  };
  identity: string | null;
  /** The profile's listener (its fields: src/tor/listener.ts), and where it is defined. */
  listener: Listener & {
    /** The listeners file that defines it. */
    source: string;
    /** The layer of `source`. */
    layer: string;
  };
  isolation: {
    mode: IsolationMode;
    /** The SOCKS5 credentials Tor will see, or how they are made. */
    socks:
      | { auth: 'none' }
      | { auth: 'userpass'; username: string; password: string; perLaunch: boolean }
      | { auth: 'per-process'; description: string }
      | { auth: 'application'; description: string };
  };
  /** Which credentials Tor will see on which SocksPort, and who sends them. */
  torSees: TorSees;
  /**
   * What the application may ask of Tor's control port: the onion-grater
   * filter of its profile (`tails-launch onion-grater PROFILE` prints the
   * file), for clients from `hosts` (its namespace's address); null: none.
   */
  controlFilter: { hosts: string[]; filter: ControlFilter; allows: string } | null;
  backend: BackendName;
  /** Where and as whom the application runs (null fields: where and as whom the launcher runs). */
  placement: {
    netns: string | null;
    user: string | null;
    /**
     * self: root hands it to the privileged entry itself; sudo: an
     * unprivileged caller, through sudo; applied: the entry has applied it (its
     * preflight's own plan); null: no placement.
     */
    via: 'self' | 'sudo' | 'applied' | null;
    account: { name: string; uid: number; gid: number; groups: number[]; home: string } | null;
  };
  /**
   * An unprivileged caller's placement: what is executed first. sudo runs the
   * privileged entry, which resolves the profile again from the system layers
   * and carries out the rest of this plan (its checks after 'handover',
   * `exec`, `env`) as root would: `explain` shows both steps.
   */
  handover: { file: string; argv: string[]; env: Record<string, string>; grant: string | null } | null;
  /** A jailed launch (src/jail/): its group, the address Tor sees, the one endpoint it reaches; null otherwise. */
  jail: PlanJail | null;
  /** What keeps the program's sockets on Tor: preload, jail or host, by what, holding what (src/jail/guard.ts). */
  guard: Guard;
  /** A user jail: the helper, its socket directory, the directories made, what of the session it reaches. */
  sandbox: { helper: string; rundir: string | null; create: string[]; grants: string[] } | null;
  application: { command: string; path: string | null; args: string[]; from: 'profile' | 'arguments' };
  exec: {
    /**
     * The program execve'd. For the LD_PRELOAD backends, the ELF program the
     * #! and env chain leads to, executed through the descriptor it was judged
     * by (or by its path when only root can change it); else the application.
     */
    file: string | null;
    argv: string[];
    method: ExecMethod;
    /** LD_PRELOAD backends: every file followed from the application to `file`. */
    chain: string[];
    /** LD_PRELOAD backends: the library preloaded (also in env.set.LD_PRELOAD). */
    preload: string | null;
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
  /** Descriptors the application receives: exactly the caller's own. */
  fds: number[];
  /**
   * Files written at exec time into the user's private runtime directory
   * (read-only, kept for the application's child processes) and named to the
   * application by VARIABLE=PATH. `content` is shown with secrets masked;
   * `path` is null without XDG_RUNTIME_DIR (the launch is then refused).
   */
  files: { kind: 'runtime-file'; path: string | null; variable: string; content: string }[];
  checks: Check[];
  notes: string[];
}

/** What looking a program up on PATH found (preflight/find-executable.ts does it; the plan is given the function). */
export type ExecutableLookup =
  | { status: 'ok'; path: string }
  | { status: 'not-found'; path: string | null }
  | { status: 'not-executable'; path: string; reason: string };

/** Where a program is looked up from (preflight/resolve-program.ts follows its #! and env chain). */
export interface ProgramLookup {
  /** The application's PATH (what env would search). */
  pathVariable: string | undefined;
  /** The application's working directory (null: deleted). */
  cwd: string | null;
}
