import type { SocksAuth } from '../isolation/credentials';
import type { BackendName, IsolationMode } from '../vocabulary/modes';

/** Where the application must send its SOCKS traffic (as seen from where it runs). */
export interface SocksEndpoint {
  address: string;
  port: number;
}

/**
 * A file the application and every process it starts read by its path:
 * proxychains' configuration. Written at exec time into the user's private
 * runtime directory ($XDG_RUNTIME_DIR, a per-user tmpfs), read-only, and
 * named to the program by VARIABLE. A descriptor would not do: a child
 * started with its descriptors closed (Python's subprocess does that by
 * default) would lose it, and libproxychains then falls back to
 * ./proxychains.conf in the CURRENT directory, ~/.proxychains/, and
 * /etc/proxychains4.conf: a direct connection with a hostile local file.
 */
export interface RuntimeFile {
  /** The file's name in $XDG_RUNTIME_DIR/tails-launch/<dir>/ (build-plan chooses it). */
  dir: string;
  /** The variable that will hold its absolute path. */
  variable: string;
  content: string;
  /** The content as `explain` shows it: secrets masked. */
  display: string;
}

export interface BackendStep {
  /**
   * The wrapper's library, preloaded into the program (LD_PRELOAD), or null
   * when the program runs unwrapped (env). An absolute path fixed at build time.
   */
  preload: { wrapper: string; library: string } | null;
  /** Variables the backend sets (profiles may not set these names). */
  env: Record<string, string>;
  /** Files handed over by path (proxychains' configuration). */
  files: RuntimeFile[];
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
  /**
   * Weaknesses a profile must acknowledge (its `acknowledge` list) before it
   * may use this backend, each with the one-line reason given when it does not.
   */
  mustAcknowledge: { name: string; reason: string }[];
  step(endpoint: SocksEndpoint, auth: SocksAuth): BackendStep;
}
