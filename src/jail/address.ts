// A jail's addresses, from the pool (listeners.yml `jails.pool`) and its
// isolation group. Pure.
//
// Tor isolates a jail's streams by client address (IsolateClientAddr), and
// the host side rewrites every jail's address to its GROUP's: the first
// address of its /26 (src/jail/host-side.ts: `snat to ip saddr & /26`). So:
//
//   pool ─┬─ group (a /26: 64 addresses) ─┬─ slot (a /30: 4 addresses)
//         │                              │   .0 unused, .1 host side, .2 jail
//
// 16 slots per group: 16 jails of one group may run at once. The group
// numbers are split in two halves, so that a launch's fresh group can never
// be a stable group's:
// - stable half (top bit 0): group 0 is `none`'s (every jail without a group
//   shares it), the others are `app` groups, chosen by a hash of the group key
//   (the caller's uid, the profile and identity): two launches of one group
//   share a circuit, which is what `app` means; two different keys hash to
//   one group with a probability of 1 in (half - 1) (8191 for a /12: say so
//   in explain). An app group is one user's: the privileged entry
//   (src/place/place.c, which draws these same numbers) records who holds a
//   group while its jails live, and takes the next group when another user
//   holds this one, so nobody can take another's slots or share their circuit;
// - launch half (top bit 1): a random group per launch, using only its slot
//   0, so that the name of that slot's veth (unique in the host's namespace)
//   makes the group unique among live jails: allocation is race-free without
//   any lock or state.
export const GROUP_BITS_SHIFT = 6; // a /26 per group
export const SLOTS_PER_GROUP = 16; // a /30 per jail
export const VETH_PREFIX = 'tlj';

export interface Pool {
  base: number; // the network, as an unsigned 32-bit number
  prefix: number; // 10-20
}

export type JailGroupKind = 'none' | 'app' | 'launch';

export interface JailGroup {
  kind: JailGroupKind;
  /** The group's number in the pool. */
  index: number;
  /** The address Tor sees (the /26's first). */
  address: string;
}

export interface JailSlot {
  /** The jail's own address (inside, on veth0). */
  jail: string;
  /** The host end of its veth pair. */
  host: string;
  /** The host end's name: unique in the host's namespace, so a taken slot fails to be created. */
  veth: string;
}

export function parsePool(cidr: string): Pool {
  const [address, bits] = cidr.split('/') as [string, string];
  const prefix = Number(bits);
  const base = toNumber(address) & mask(prefix);
  return { base, prefix };
}

function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffff_ffff << (32 - prefix)) >>> 0;
}

export function toNumber(address: string): number {
  return address.split('.').reduce((n, octet) => ((n << 8) >>> 0) + Number(octet), 0) >>> 0;
}

export function toAddress(n: number): string {
  return [24, 16, 8, 0].map((shift) => (n >>> shift) & 255).join('.');
}

/** How many groups the pool holds, and the size of each half. */
export function groupCount(pool: Pool): number {
  return 2 ** (32 - pool.prefix - GROUP_BITS_SHIFT);
}

function groupAddress(pool: Pool, index: number): string {
  return toAddress((pool.base + index * 2 ** GROUP_BITS_SHIFT) >>> 0);
}

/** `none`: the one group every jail without a group of its own shares. */
export function noneGroup(pool: Pool): JailGroup {
  return { kind: 'none', index: 0, address: groupAddress(pool, 0) };
}

/** FNV-1a, 32 bits, over the key's UTF-8 bytes: what the entry computes in C. Not a secret: the entry's owner record keeps users apart. */
export function fnv1a(key: string): number {
  let hash = 2166136261;
  for (const byte of Buffer.from(key)) hash = Math.imul(hash ^ byte, 16777619) >>> 0;
  return hash;
}

/** The key of an app group: the caller's, the profile's and the identity's (place.c builds the same). */
export function appGroupKey(uid: number, profile: string, identity: string | null): string {
  return `tails-launch/app/${uid}/${profile}${identity === null ? '' : `/identity/${identity}`}`;
}

/** `app` (and --identity): a stable group, from the group key. */
export function appGroup(pool: Pool, key: string): JailGroup {
  const half = groupCount(pool) / 2;
  const index = 1 + (fnv1a(key) % (half - 1));
  return { kind: 'app', index, address: groupAddress(pool, index) };
}

/** `launch`: a fresh group, from 128 random bits as hex (the plan's randomHex). */
export function launchGroup(pool: Pool, randomHex: string): JailGroup {
  const half = groupCount(pool) / 2;
  const index = half + (Number.parseInt(randomHex.slice(0, 8), 16) % half);
  return { kind: 'launch', index, address: groupAddress(pool, index) };
}

/** The slots a jail of GROUP may take, in the order they are tried (a launch group: slot 0 only). */
export function slotsOf(pool: Pool, group: JailGroup): JailSlot[] {
  const count = group.kind === 'launch' ? 1 : SLOTS_PER_GROUP;
  return Array.from({ length: count }, (_, slot) => {
    const base = pool.base + group.index * 2 ** GROUP_BITS_SHIFT + slot * 4;
    // The offset in the pool names the veth: `tlj` + hex, at most 3 + 5 characters for a /12.
    const offset = (base - pool.base) >>> 2;
    return {
      host: toAddress((base + 1) >>> 0),
      jail: toAddress((base + 2) >>> 0),
      veth: `${VETH_PREFIX}${offset.toString(16)}`,
    };
  });
}
