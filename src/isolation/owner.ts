// Which isolation group a circuit or stream belongs to, read back from the
// SOCKS credentials Tor reports (src/tor/circuit-status.ts): the inverse of
// credentials.ts. Pure: `tails-launch circuits` groups Tor's circuits by it.
import { IDENTITY_PATTERN, NAME_PATTERN } from '../profile/names';
import { SOCKS_USERNAME } from './credentials';

export type Owner =
  /** A group tails-launch made (isolation app or launch): its profile, identity and launch key. */
  | {
      kind: 'group';
      mode: 'app' | 'launch';
      profile: string;
      identity: string | null;
      /** launch: the launch's own key (32 hex digits); app: the renewal new-identity made (16), or null. */
      launchKey: string | null;
    }
  /** torsocks' per-process credentials (isolation process): the process's PID as torsocks wrote it. */
  | { kind: 'process'; pid: number }
  /** Credentials of the program's own (Tor Browser's per-site ones): the username, as the program wrote it. */
  | { kind: 'own'; username: string }
  /** No credentials. */
  | { kind: 'none' };

const HEX = /^[0-9a-f]{32}$/;
const RENEWAL = /^[0-9a-f]{16}$/;
/** torsocks' `torsocks-%d:%ld` (pid, time), with password `0`. */
const TORSOCKS = /^torsocks-(\d{1,10}):\d{1,20}$/;

/** The identity suffix `/identity/ID` of a key, split off (the identity pattern has no '/'). */
function withIdentity(parts: string[]): { rest: string[]; identity: string | null } | null {
  if (parts.length >= 2 && parts.at(-2) === 'identity') {
    const identity = parts.at(-1)!;
    return IDENTITY_PATTERN.test(identity) ? { rest: parts.slice(0, -2), identity } : null;
  }
  return { rest: parts, identity: null };
}

/** The group key tails-launch made (credentials.ts groupKey), read back; null when it is not one. */
export function groupOfKey(key: string): Extract<Owner, { kind: 'group' }> | null {
  const split = withIdentity(key.split('/'));
  if (split === null) return null;
  const [prefix, mode, profile, launchKey, ...extra] = split.rest;
  if (prefix !== 'tails-launch' || profile === undefined || !NAME_PATTERN.test(profile)) return null;
  if (extra.length && !(mode === 'app' && launchKey === 'renewed')) return null;
  if (mode === 'app' && launchKey === undefined)
    return { kind: 'group', mode, profile, identity: split.identity, launchKey: null };
  // A renewed app group: tails-launch/app/PROFILE/renewed/HEX16 (credentials.ts).
  if (mode === 'app' && launchKey === 'renewed' && extra.length === 1 && RENEWAL.test(extra[0]!))
    return { kind: 'group', mode, profile, identity: split.identity, launchKey: extra[0]! };
  if (mode === 'launch' && launchKey !== undefined && HEX.test(launchKey))
    return { kind: 'group', mode, profile, identity: split.identity, launchKey };
  return null;
}

/** Who sent these SOCKS credentials (null: none). */
export function ownerOf(socks: { username: string; password: string } | null): Owner {
  // Tor counts empty credentials as none (FACTS §3).
  if (socks === null || (socks.username === '' && socks.password === '')) return { kind: 'none' };
  if (socks.username === SOCKS_USERNAME) {
    const group = groupOfKey(socks.password);
    if (group) return group;
  }
  const torsocks = TORSOCKS.exec(socks.username);
  if (torsocks && socks.password === '0') return { kind: 'process', pid: Number(torsocks[1]) };
  return { kind: 'own', username: socks.username };
}
