// Tor's live circuits grouped by what launched them: the credentials Tor
// reports for a circuit (src/isolation/owner.ts), else what Tor said of its
// streams when they opened (the listener they came in on, a jail's client
// address). Pure: `circuits` and `new-identity` feed it what Tor said.
import { escapeControl } from '../errors/escape-control';
import { groupOfAddress } from '../jail/group-of-address';
import type { Pool } from '../jail/address';
import { ownerOf } from '../isolation/owner';
import type { CircuitLine, StreamLine } from '../tor/circuit-status';
import type { CircuitGroup, CircuitOwner, CircuitView, ProfileFacts, RelayView, StreamView } from './model';

/** A stream as Tor reported it, with what its NEW event said (or null: opened before we looked). */
export interface StreamState extends StreamLine {
  listener: string | null;
}

export interface TorState {
  circuits: CircuitLine[];
  streams: StreamState[];
  /** What GETINFO ns/id and ip-to-country said of each relay (by fingerprint). */
  relays: ReadonlyMap<string, { nickname: string | null; address: string | null; country: string | null }>;
  /** The name of each torsocks process that still runs (/proc/PID/comm), by PID. */
  programs: ReadonlyMap<number, string>;
}

export interface AttributionContext {
  profiles: readonly ProfileFacts[];
  /** The jails' pool and the caller's uid (an app jail group's address is per user), or null: no jails. */
  jail: { pool: Pool; uid: number } | null;
  /** Now, in milliseconds since the epoch. */
  now: number;
}

/**
 * Text a client gave Tor (credentials, a target): the control connection
 * reads bytes as latin1, so UTF-8 is decoded back; control characters are
 * escaped; and it is cut at MAX characters. The credentials prove nothing:
 * any local program may send any (docs/circuits.md).
 */
function shown(text: string, max = 255): string {
  const decoded = escapeControl(Buffer.from(text, 'latin1').toString('utf8'));
  return decoded.length > max ? `${decoded.slice(0, max - 1)}…` : decoded;
}

/** Circuits that are gone are not shown. */
const LIVE = (c: CircuitLine) => c.status !== 'CLOSED' && c.status !== 'FAILED';

/** Tor Browser's credentials: the first-party site, then `:` and the container (TorDomainIsolator). */
const SITE = /^([^\s:]+):(\d{1,10})$/;

const profilesOn = (context: AttributionContext, listener: string | null, mode?: string) =>
  context.profiles
    .filter((p) => (listener === null || p.listener === listener) && (mode === undefined || p.isolation === mode))
    .map((p) => p.name)
    .sort();

function ownerOfCircuit(
  circuit: CircuitLine,
  streams: readonly StreamState[],
  state: TorState,
  context: AttributionContext,
): CircuitOwner {
  const owner = ownerOf(circuit.socks);
  const listener = streams.find((s) => s.listener !== null)?.listener ?? null;
  switch (owner.kind) {
    case 'group':
      return {
        kind: 'profile',
        profile: owner.profile,
        isolation: owner.mode,
        identity: owner.identity,
        launchKey: owner.mode === 'launch' ? owner.launchKey : null,
        renewal: owner.mode === 'app' ? owner.launchKey : null,
      };
    case 'process':
      const program = state.programs.get(owner.pid);
      return { kind: 'process', pid: owner.pid, program: program === undefined ? null : shown(program, 16) };
    case 'own': {
      const profiles = profilesOn(context, listener, 'application');
      const site = SITE.exec(owner.username);
      return site
        ? { kind: 'site', profiles, site: shown(site[1]!), container: site[2]! }
        : { kind: 'own', profiles, username: shown(owner.username) };
    }
    case 'none':
      break;
  }
  if (context.jail !== null) {
    for (const stream of streams) {
      const address = stream.sourceAddress?.replace(/:\d+$/, '') ?? null;
      const jail =
        address === null
          ? null
          : groupOfAddress(
              context.jail.pool,
              address,
              context.jail.uid,
              context.profiles.map((p) => p.name),
            );
      if (jail === null) continue;
      if (jail.kind === 'app') return { kind: 'jail', profile: jail.profile, isolation: 'app', address: address! };
      return { kind: 'jail', profile: null, isolation: jail.kind === 'launch' ? 'launch' : 'none', address: address! };
    }
  }
  if (listener !== null) {
    const profiles = profilesOn(context, listener);
    if (profiles.length) return { kind: 'listener', listener, profiles };
  }
  return { kind: 'unknown' };
}

/**
 * A client's text in a heading: white space collapsed and cut at 24
 * characters, so that no client can pad its username onto a line of its
 * own, posing as another group's heading, on an 80-column terminal.
 */
const quoted = (text: string) => {
  const one = text.replace(/\s+/g, ' ');
  return one.length > 24 ? `${one.slice(0, 23)}…` : one;
};

const list = (names: string[]) =>
  names.length > 4 ? `${names.slice(0, 3).join(', ')} and ${names.length - 3} more` : names.join(', ');

/** The group's heading in the text view. */
export function labelOf(owner: CircuitOwner): string {
  switch (owner.kind) {
    case 'profile': {
      const extra = [
        `isolation ${owner.isolation}`,
        owner.identity !== null && `identity ${owner.identity}`,
        owner.launchKey !== null && `launch ${owner.launchKey.slice(0, 8)}`,
        owner.renewal !== null && `renewed ${owner.renewal.slice(0, 8)}`,
      ].filter(Boolean);
      return `${owner.profile} (${extra.join(', ')})`;
    }
    case 'jail':
      return `${owner.profile ?? `a jail (isolation ${owner.isolation})`}, jailed at ${owner.address}`;
    case 'process':
      return `process ${owner.pid}${owner.program ? ` (${owner.program})` : ''}, torsocks' own group (isolation process)`;
    case 'site':
      return `site ${quoted(owner.site)}${owner.container !== null && owner.container !== '0' ? ` (container ${owner.container})` : ''}, ${owner.profiles.length ? list(owner.profiles) : 'a program'}'s own credentials`;
    case 'own':
      return `${owner.profiles.length ? list(owner.profiles) : 'a program'}'s own credentials (${quoted(owner.username)})`;
    case 'listener':
      return `no credentials, on listener ${owner.listener} (${list(owner.profiles)})`;
    case 'unknown':
      return "not launched by tails-launch (or nothing tells: Tor reports a stream's listener only as it opens)";
  }
}

const KIND_ORDER: CircuitOwner['kind'][] = ['profile', 'jail', 'site', 'own', 'process', 'listener', 'unknown'];

function circuitView(circuit: CircuitLine, streams: readonly StreamState[], state: TorState, now: number): CircuitView {
  const created = circuit.created === null ? Number.NaN : Date.parse(`${circuit.created}Z`);
  return {
    id: circuit.id,
    status: circuit.status,
    // Tor's purposes are capitals and '_'; anything else came from something that is not Tor.
    purpose: circuit.purpose === null ? null : escapeControl(circuit.purpose),
    created: Number.isNaN(created) ? null : new Date(created).toISOString(),
    ageSeconds: Number.isNaN(created) ? null : Math.max(0, Math.round((now - created) / 1000)),
    relays: circuit.path.map((r): RelayView => {
      const known = state.relays.get(r.fingerprint);
      return {
        fingerprint: r.fingerprint,
        nickname: r.nickname ?? known?.nickname ?? null,
        address: known?.address ?? null,
        country: known?.country ?? null,
      };
    }),
    streams: streams.map(
      // What clients asked for and Tor repeats: escaped, as every text from the peer.
      (s): StreamView => ({
        id: s.id,
        status: s.status,
        target: shown(s.target, 255),
        listener: s.listener,
        source: s.sourceAddress === null ? null : escapeControl(s.sourceAddress),
      }),
    ),
  };
}

/** Every live circuit, grouped by owner (profiles first, by name; then the others). */
export function groupCircuits(state: TorState, context: AttributionContext): CircuitGroup[] {
  const groups = new Map<string, CircuitGroup>();
  for (const circuit of state.circuits.filter(LIVE)) {
    const streams = state.streams.filter((s) => s.circuit === circuit.id);
    const owner = ownerOfCircuit(circuit, streams, state, context);
    const key = JSON.stringify(owner);
    const group = groups.get(key) ?? { owner, label: labelOf(owner), circuits: [] };
    group.circuits.push(circuitView(circuit, streams, state, context.now));
    groups.set(key, group);
  }
  return [...groups.values()].sort(
    // By code point, not locale: the same order everywhere.
    (a, b) =>
      KIND_ORDER.indexOf(a.owner.kind) - KIND_ORDER.indexOf(b.owner.kind) ||
      (a.label < b.label ? -1 : a.label > b.label ? 1 : 0),
  );
}

/** The profiles a group is of (none: not one tails-launch can name). */
export function profilesOf(owner: CircuitOwner): string[] {
  switch (owner.kind) {
    case 'profile':
      return [owner.profile];
    case 'jail':
      return owner.profile === null ? [] : [owner.profile];
    case 'site':
    case 'own':
    case 'listener':
      return owner.profiles;
    case 'process':
    case 'unknown':
      return [];
  }
}
