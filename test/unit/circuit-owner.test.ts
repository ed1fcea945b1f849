// Tor's circuit and stream lines, and the group read back from their SOCKS
// credentials: the inverse of credentials.ts, for every mode it makes keys
// for, and nothing else taken for one of ours.
import { describe, expect, it } from 'vitest';
import { parseCircuitLine, parseStreamLine } from '../../src/tor/circuit-status';
import { groupOfKey, ownerOf } from '../../src/isolation/owner';
import { socksAuth } from '../../src/isolation/credentials';
import { appGroup, appGroupKey, launchGroup, parsePool } from '../../src/jail/address';
import { groupOfAddress } from '../../src/jail/group-of-address';

const FP1 = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
const FP2 = '0123456789abcdef0123456789abcdef01234567';

describe('circuit-status and CIRC lines', () => {
  it('a built circuit: its relays, purpose, creation time and the credentials it is isolated by', () => {
    const line = `12 BUILT $${FP1}~guard,$${FP2}=exit BUILD_FLAGS=NEED_CAPACITY PURPOSE=GENERAL TIME_CREATED=2026-12-07T00:00:01.000000 SOCKS_USERNAME="<torS0X>0" SOCKS_PASSWORD="tails-launch/app/pidgin"`;
    expect(parseCircuitLine(line)).toEqual({
      id: '12',
      status: 'BUILT',
      path: [
        { fingerprint: FP1, nickname: 'guard' },
        { fingerprint: FP2.toUpperCase(), nickname: 'exit' },
      ],
      purpose: 'GENERAL',
      created: '2026-12-07T00:00:01.000000',
      socks: { username: '<torS0X>0', password: 'tails-launch/app/pidgin' },
    });
  });

  it('a launched circuit has no path yet; no credentials is null', () => {
    expect(parseCircuitLine('3 LAUNCHED BUILD_FLAGS=NEED_CAPACITY PURPOSE=GENERAL')).toMatchObject({
      id: '3',
      path: [],
      socks: null,
    });
  });

  it.each(['', 'x', '12', '12 built', `12 BUILT $${FP1.slice(1)}`, `12 BUILT nick1,nick2`])(
    'not a circuit line: %j',
    (line) => expect(parseCircuitLine(line)).toBeNull(),
  );

  it('stream-status and STREAM lines: the circuit, the target, and (events) the source and credentials', () => {
    expect(parseStreamLine('7 SUCCEEDED 12 10.99.0.1:5222')).toEqual({
      id: '7',
      status: 'SUCCEEDED',
      circuit: '12',
      target: '10.99.0.1:5222',
      sourceAddress: null,
      purpose: null,
      socks: null,
    });
    expect(
      parseStreamLine(
        '7 NEW 0 example.org:443 SOURCE_ADDR=127.0.0.1:41234 PURPOSE=USER SOCKS_USERNAME="a b" SOCKS_PASSWORD="c\\"d"',
      ),
    ).toMatchObject({ sourceAddress: '127.0.0.1:41234', purpose: 'USER', socks: { username: 'a b', password: 'c"d' } });
  });
});

describe('the group, read back from the credentials', () => {
  const hex = () => '0123456789abcdef0123456789abcdef';
  it.each([
    ['app', null],
    ['app', 'alice@example.org'],
    ['launch', null],
    ['launch', 'bob'],
  ] as const)('mode %s, identity %s: what credentials.ts made, read back', (mode, identity) => {
    const auth = socksAuth({ mode, profile: 'pidgin', identity, randomHex: hex });
    if (auth.kind !== 'userpass') throw new Error('not userpass');
    expect(ownerOf(auth)).toEqual({
      kind: 'group',
      mode,
      profile: 'pidgin',
      identity,
      launchKey: mode === 'launch' ? hex() : null,
    });
  });

  it('torsocks per process, a program of its own, none', () => {
    expect(ownerOf({ username: 'torsocks-4242:1765000000', password: '0' })).toEqual({ kind: 'process', pid: 4242 });
    expect(ownerOf({ username: 'example.org:0', password: 'f00' })).toEqual({ kind: 'own', username: 'example.org:0' });
    expect(ownerOf(null)).toEqual({ kind: 'none' });
    expect(ownerOf({ username: '', password: '' })).toEqual({ kind: 'none' });
  });

  it.each([
    'tails-launch/app',
    'tails-launch/app/Pidgin',
    'tails-launch/app/pidgin/extra',
    'tails-launch/launch/pidgin',
    'tails-launch/launch/pidgin/0123',
    'tails-launch/app/pidgin/identity/',
    'tails-launch/app/pidgin/identity/a/b',
    'other/app/pidgin',
  ])('not one of ours: %j', (key) => {
    expect(groupOfKey(key)).toBeNull();
    expect(ownerOf({ username: '<torS0X>0', password: key }).kind).toBe('own');
  });
});

describe("a jail's group, read back from the client address Tor reports", () => {
  const pool = parsePool('10.240.0.0/12');
  it("an app group: the caller's profile whose group has that address", () => {
    const address = appGroup(pool, appGroupKey(1000, 'pidgin', null)).address;
    expect(groupOfAddress(pool, address, 1000, ['curl', 'pidgin'])).toEqual({ kind: 'app', profile: 'pidgin' });
    // Another user's group, or one with an identity: an app group, whose profile cannot be told.
    expect(groupOfAddress(pool, address, 1001, ['curl', 'pidgin'])).toEqual({ kind: 'app', profile: null });
  });

  it('a launch group, the none group, and addresses that are no group', () => {
    const launch = launchGroup(pool, '89abcdef0123456789abcdef01234567').address;
    expect(groupOfAddress(pool, launch, 1000, ['pidgin'])).toEqual({ kind: 'launch' });
    expect(groupOfAddress(pool, '10.240.0.0', 1000, [])).toEqual({ kind: 'none-group' });
    for (const a of ['10.240.0.1', '10.224.0.0', '10.0.0.0', '127.0.0.1', 'x', '::1'])
      expect(groupOfAddress(pool, a, 1000, []), a).toBeNull();
  });
});
