// Which isolation group a circuit or stream belongs to, read back from the
// SOCKS credentials Tor reports (src/tor/circuit-status.ts): the inverse of
// credentials.ts. Pure: `tails-launch circuits` groups Tor's circuits by it.
import { IDENTITY_PATTERN, NAME_PATTERN } from '../vocabulary/names';
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

/**
 * The group key tails-launch made (credentials.ts groupKey), read back; null
 * when it is not one. Read by position from the front: the profile name is
 * the third part whatever it is (a profile may be called `identity` or
 * `renewed`), then the mode's own parts, then `identity/ID` or nothing.
 */
export function groupOfKey(key: string): Extract<Owner, { kind: 'group' }> | null {
  const [prefix, mode, profile, ...rest] = key.split('/');
  if (prefix !== 'tails-launch' || profile === undefined || !NAME_PATTERN.test(profile)) return null;
  let launchKey: string | null = null;
  if (mode === 'launch') {
    const own = rest.shift();
    if (own === undefined || !HEX.test(own)) return null;
    launchKey = own;
  } else if (mode === 'app') {
    if (rest[0] === 'renewed') {
      const renewal = rest[1];
      if (renewal === undefined || !RENEWAL.test(renewal)) return null;
      launchKey = renewal;
      rest.splice(0, 2);
    }
  } else return null;
  let identity: string | null = null;
  if (rest.length === 2 && rest[0] === 'identity' && IDENTITY_PATTERN.test(rest[1]!)) identity = rest[1]!;
  else if (rest.length !== 0) return null;
  return { kind: 'group', mode, profile, identity, launchKey };
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
