// What `tails-launch circuits --json` prints (schema version 1, documented in
// docs/circuits.md): Tor's live circuits, grouped by what launched them.
import type { IsolationMode } from '../vocabulary/modes';

/** Who a group of circuits belongs to. */
export type CircuitOwner =
  /** A group tails-launch made (isolation app or launch), read from the credentials Tor reports. */
  | {
      kind: 'profile';
      profile: string;
      isolation: 'app' | 'launch';
      identity: string | null;
      /** launch: the launch's own key (one group per launch). */
      launchKey: string | null;
      /** app: the renewal `new-identity` made (16 hex digits), or null. */
      renewal: string | null;
    }
  /** A jailed launch without credentials of ours, known by the client address Tor saw (--watch: Tor says it when a stream opens). */
  | { kind: 'jail'; profile: string | null; isolation: 'app' | 'launch' | 'none'; address: string }
  /** torsocks' per-process credentials (isolation process): the process, and its name while it runs. */
  | { kind: 'process'; pid: number; program: string | null }
  /** Tor Browser's per-site credentials (isolation application): the first-party site. */
  | { kind: 'site'; profiles: string[]; site: string; container: string | null }
  /** Another program's own credentials (isolation application). */
  | { kind: 'own'; profiles: string[]; username: string }
  /** No credentials, from a listener a profile uses (--watch: Tor says which when a stream opens). */
  | { kind: 'listener'; listener: string; profiles: string[] }
  /** Anything else: not launched by tails-launch, or nothing tells (Tor's own circuits, streams opened before we looked). */
  | { kind: 'unknown' };

export interface RelayView {
  /** 40 hex digits. */
  fingerprint: string;
  nickname: string | null;
  address: string | null;
  /** Two lower-case letters, or null where Tor cannot tell (no GeoIP, a private address). */
  country: string | null;
}

export interface StreamView {
  id: string;
  status: string;
  /** HOST:PORT as the client asked for it. */
  target: string;
  /** The listener it came in on, when Tor said (a stream's NEW event, seen by --watch); else null. */
  listener: string | null;
  /** The client's address and port, when Tor said (NEW event); else null. */
  source: string | null;
}

export interface CircuitView {
  id: string;
  status: string;
  purpose: string | null;
  /** ISO 8601, UTC. */
  created: string | null;
  ageSeconds: number | null;
  relays: RelayView[];
  streams: StreamView[];
}

export interface CircuitGroup {
  owner: CircuitOwner;
  /** One line for people, as the text view heads the group. */
  label: string;
  circuits: CircuitView[];
}

export interface CircuitsReport {
  version: 1;
  /** Tor's version, as its control port says. */
  tor: string | null;
  /** When Tor was asked (ISO 8601, UTC). */
  time: string;
  groups: CircuitGroup[];
}

/** What attribution knows of each profile. */
export interface ProfileFacts {
  name: string;
  isolation: IsolationMode;
  listener: string;
}
