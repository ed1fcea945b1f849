// Jails as data: addresses from the pool and the group, the inside ruleset,
// and what the plan says about a jailed launch.
import { describe, expect, it } from 'vitest';
import {
  appGroup,
  appGroupKey,
  fnv1a,
  groupCount,
  launchGroup,
  noneGroup,
  parsePool,
  slotsOf,
  toAddress,
  toNumber,
} from '../../src/jail/address';

const POOL = parsePool('10.240.0.0/12');

describe('jail addresses', () => {
  it('a /12 holds 16384 groups of 16 jails; none is group 0; the group address is the /26 start', () => {
    expect(groupCount(POOL)).toBe(16384);
    expect(noneGroup(POOL)).toEqual({ kind: 'none', index: 0, address: '10.240.0.0' });
    const slots = slotsOf(POOL, noneGroup(POOL));
    expect(slots).toHaveLength(16);
    expect(slots[0]).toEqual({ host: '10.240.0.1', jail: '10.240.0.2', veth: 'tlj0' });
    expect(slots[15]).toEqual({ host: '10.240.0.61', jail: '10.240.0.62', veth: 'tljf' });
  });

  it('app groups are stable (from the key), in the first half, never none; launch groups are in the second half, with one slot', () => {
    const a = appGroup(POOL, 'tails-launch/app/pidgin');
    expect(appGroup(POOL, 'tails-launch/app/pidgin')).toEqual(a);
    expect(appGroup(POOL, 'tails-launch/app/pidgin/identity/alice').address).not.toBe(a.address);
    for (let i = 0; i < 200; i++) {
      const g = appGroup(POOL, `key-${i}`);
      expect(g.index).toBeGreaterThan(0);
      expect(g.index).toBeLessThan(8192);
      const l = launchGroup(POOL, i.toString(16).padStart(32, '0'));
      expect(l.index).toBeGreaterThanOrEqual(8192);
      expect(l.index).toBeLessThan(16384);
    }
    const l = launchGroup(POOL, 'ffffffff' + '0'.repeat(24));
    expect(slotsOf(POOL, l)).toHaveLength(1);
    // Every address of every slot stays in the pool, the /26 of its group.
    const last = slotsOf(POOL, { kind: 'launch', index: 16383, address: '' })[0]!;
    expect(toNumber(last.jail) >>> 20).toBe(toNumber('10.240.0.0') >>> 20);
    expect(last.veth.length).toBeLessThanOrEqual(15);
    expect((toNumber(last.jail) & ~63) >>> 0).toBe(toNumber(toAddress(toNumber('10.240.0.0') + 16383 * 64)));
  });
});

describe('app groups are per user', () => {
  it('FNV-1a 32 as the entry computes it in C (the published test vectors)', () => {
    expect(fnv1a('')).toBe(0x811c9dc5);
    expect(fnv1a('a')).toBe(0xe40c292c);
    expect(fnv1a('foobar')).toBe(0xbf9cf968);
  });

  it("the key holds the caller's uid: one profile and identity, two users, two groups", () => {
    expect(appGroupKey(1000, 'pidgin', null)).toBe('tails-launch/app/1000/pidgin');
    expect(appGroupKey(1000, 'pidgin', 'alice')).toBe('tails-launch/app/1000/pidgin/identity/alice');
    expect(appGroup(POOL, appGroupKey(1000, 'pidgin', null)).index).not.toBe(
      appGroup(POOL, appGroupKey(1001, 'pidgin', null)).index,
    );
  });
});
