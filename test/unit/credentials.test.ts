import { describe, expect, it } from 'vitest';
import { groupKey, SOCKS_USERNAME, socksAuth } from '../../src/isolation/credentials';

const random = (() => {
  let n = 0;
  return () => (++n).toString(16).padStart(32, '0');
})();

describe('isolation credentials', () => {
  it('uses exactly <torS0X>0 as the username (the one <torS0X> form tor 0.4.9 accepts)', () => {
    expect(SOCKS_USERNAME).toBe('<torS0X>0');
    const auth = socksAuth({ mode: 'app', profile: 'pidgin', identity: null, randomHex: random });
    expect(auth).toEqual({ kind: 'userpass', username: '<torS0X>0', password: 'tails-launch/app/pidgin' });
  });

  it('app: the same key for every launch, and per identity', () => {
    const key = (identity: string | null) => groupKey({ mode: 'app', profile: 'pidgin', identity, randomHex: random });
    expect(key(null)).toBe(key(null));
    expect(key('alice')).toBe('tails-launch/app/pidgin/identity/alice');
    expect(new Set([key(null), key('alice'), key('bob')]).size).toBe(3);
  });

  it('launch: a fresh random key every time, identity folded in', () => {
    const a = groupKey({ mode: 'launch', profile: 'curl', identity: null, randomHex: random });
    const b = groupKey({ mode: 'launch', profile: 'curl', identity: null, randomHex: random });
    expect(a).not.toBe(b);
    expect(a).toMatch(/^tails-launch\/launch\/curl\/[0-9a-f]{32}$/);
    expect(groupKey({ mode: 'launch', profile: 'curl', identity: 'x', randomHex: random })).toMatch(/\/identity\/x$/);
  });

  it('process and none send no key of ours', () => {
    expect(socksAuth({ mode: 'process', profile: 'wget', identity: null, randomHex: random })).toEqual({
      kind: 'per-process',
    });
    expect(socksAuth({ mode: 'none', profile: 'iuk', identity: null, randomHex: random })).toEqual({ kind: 'none' });
  });

  it('never produces an empty password, and the longest names still fit 255 bytes', () => {
    const longName = 'a'.repeat(64);
    const auth = socksAuth({
      mode: 'launch',
      profile: longName,
      identity: 'b'.repeat(64),
      randomHex: () => 'f'.repeat(32),
    });
    expect(auth.kind).toBe('userpass');
    const password = (auth as { password: string }).password;
    expect(password.length).toBeGreaterThan(0);
    expect(Buffer.byteLength(password)).toBeLessThanOrEqual(255);
  });
});
