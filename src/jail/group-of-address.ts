// Which jail group a client address Tor reports is (a jailed launch's
// streams come from its group's address: src/jail/address.ts), read back for
// `tails-launch circuits`. An app group's address comes from its key's hash,
// so it is found by computing the candidates' (the caller's profiles, no
// identity); a launch group's is random: only its kind can be told. Pure.
import { appGroup, appGroupKey, GROUP_BITS_SHIFT, groupCount, toNumber, type Pool } from './address';

export type JailOwner = { kind: 'app'; profile: string | null } | { kind: 'launch' } | { kind: 'none-group' } | null;

/** ADDRESS's group in POOL (null: not one of the pool's group addresses); app groups matched against PROFILES for UID. */
export function groupOfAddress(pool: Pool, address: string, uid: number, profiles: readonly string[]): JailOwner {
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(address)) return null;
  const offset = toNumber(address) - pool.base;
  const size = 2 ** (32 - pool.prefix);
  // A group's address is the first of its /26.
  const groupSize = 2 ** GROUP_BITS_SHIFT;
  if (offset < 0 || offset >= size || offset % groupSize !== 0) return null;
  const index = offset / groupSize;
  if (index === 0) return { kind: 'none-group' };
  if (index >= groupCount(pool) / 2) return { kind: 'launch' };
  const profile = profiles.find((p) => appGroup(pool, appGroupKey(uid, p, null)).address === address) ?? null;
  return { kind: 'app', profile };
}
