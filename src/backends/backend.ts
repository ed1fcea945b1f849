import type { SocksAuth } from '../isolation/credentials';
import type { BackendName, IsolationMode } from '../profile/schema';

/** Where the application must send its SOCKS traffic (as seen from where it runs). */
export interface SocksEndpoint {
  address: string;
  port: number;
}

/**
 * A file the application reads, made in memory at exec time (memfd, sealed
 * read-only, inherited across execve) and named to it by VARIABLE as
 * /proc/self/fd/N: nothing on disk, nothing left behind.
 */
export interface MemoryFile {
  /** Shown in /proc/PID/fd as `memfd:NAME`. */
  name: string;
  /** The variable that will hold /proc/self/fd/N. */
  variable: string;
  content: string;
  /** The content as `explain` shows it: secrets masked. */
  display: string;
}

export interface BackendStep {
  /** The wrapper to exec (looked up on the application's PATH), or null to exec the app itself. */
  wrapper: string | null;
  /** Arguments between the wrapper and the application's path. */
  wrapperArgs: string[];
  /** Variables the backend sets (profiles may not set these names). */
  env: Record<string, string>;
  /** Files handed over in memory (proxychains' configuration). */
  files: MemoryFile[];
  /** What the user should know about this way of launching (explain prints them). */
  notes: string[];
}

/**
 * One way of sending an application through Tor. A backend turns the
 * listener endpoint and the isolation credentials into plan steps; it does
 * no I/O. No backend can launch without a SOCKS endpoint: there is no
 * "direct" backend, and no field creates one.
 */
export interface Backend {
  name: BackendName;
  /** Works by LD_PRELOAD: static, Go and setuid programs would escape it. */
  preloads: boolean;
  /** Why this backend cannot honour MODE, or null when it can. */
  cannotIsolate(mode: IsolationMode): string | null;
  step(endpoint: SocksEndpoint, auth: SocksAuth): BackendStep;
}
