// Tor's SocksPort flag semantics (src/app/config/config.c, parse_port_config):
// what the torrc check and the doctor compare, by effect.
import { describe, expect, it } from 'vitest';
import { effectiveFlags, flagDifferences, matchListener, parseSocksPortValue } from '../../src/tor/socks-flags';

const TAILS_DEFAULT = ['IsolateDestAddr', 'IsolateDestPort'];

describe('effectiveFlags', () => {
  it("has tor's defaults: client address and SOCKS auth isolation on, destination isolation off", () => {
    const e = effectiveFlags([]);
    expect(e.get('isolateclientaddr')).toBe(true);
    expect(e.get('isolatesocksauth')).toBe(true);
    expect(e.get('isolatedestaddr')).toBe(false);
    expect(e.get('isolatedestport')).toBe(false);
    expect(e.get('isolateclientprotocol')).toBe(false);
    expect(e.get('keepaliveisolatesocksauth')).toBe(false);
  });
  it('turns a flag off with a No prefix, in any case', () => {
    expect(effectiveFlags(['NoIsolateSOCKSAuth']).get('isolatesocksauth')).toBe(false);
    expect(effectiveFlags(['noisolateclientaddr']).get('isolateclientaddr')).toBe(false);
    expect(effectiveFlags(['NOISOLATEDESTADDR']).get('isolatedestaddr')).toBe(false);
  });
  it('lets the last mention of a flag win', () => {
    expect(effectiveFlags(['IsolateDestAddr', 'NoIsolateDestAddr']).get('isolatedestaddr')).toBe(false);
    expect(effectiveFlags(['NoIsolateDestAddr', 'IsolateDestAddr']).get('isolatedestaddr')).toBe(true);
  });
  it('accepts plurals of the isolation flags', () => {
    expect(effectiveFlags(['IsolateDestAddrs', 'IsolateDestPorts']).get('isolatedestport')).toBe(true);
    expect(effectiveFlags(['NoIsolateClientAddrs']).get('isolateclientaddr')).toBe(false);
  });
  it('keeps SessionGroup=N as a value', () => {
    expect(effectiveFlags(['SessionGroup=3']).get('sessiongroup')).toBe('3');
    expect(effectiveFlags(['sessiongroup=3', 'SessionGroup=4']).get('sessiongroup')).toBe('4');
  });
});

describe('flagDifferences', () => {
  it('is empty when flags differ in text but not in effect', () => {
    expect(flagDifferences(['NoIsolateDestAddr', 'NoIsolateDestPort', 'NoIsolateClientProtocol'], [])).toEqual([]);
    expect(
      flagDifferences(TAILS_DEFAULT, ['isolatedestports', 'NoIsolateDestAddr', 'IsolateDestAddr', 'IsolateSOCKSAuth']),
    ).toEqual([]);
    expect(flagDifferences(['SessionGroup=2'], ['sessiongroup=2'])).toEqual([]);
  });
  it('names each flag whose effect differs', () => {
    expect(flagDifferences(TAILS_DEFAULT, ['IsolateDestAddr'])).toEqual(['IsolateDestPort should be on but is off']);
    expect(flagDifferences([], ['NoIsolateSOCKSAuth'])).toEqual(['IsolateSOCKSAuth should be on but is off']);
    expect(flagDifferences([], ['ExtendedErrors'])).toEqual(['ExtendedErrors should be off but is on']);
    expect(flagDifferences(['SessionGroup=1'], ['SessionGroup=2'])).toEqual(['SessionGroup should be 1 but is 2']);
  });
});

describe('parseSocksPortValue', () => {
  it('reads the forms tor accepts', () => {
    expect(parseSocksPortValue('0')).toBeNull();
    expect(parseSocksPortValue('9050')).toMatchObject({ address: '127.0.0.1', port: 9050, unixPath: null, flags: [] });
    expect(parseSocksPortValue('auto IsolateDestAddr')).toMatchObject({
      address: '127.0.0.1',
      port: 'auto',
      flags: ['IsolateDestAddr'],
    });
    expect(parseSocksPortValue('127.0.0.1:auto')).toMatchObject({ address: '127.0.0.1', port: 'auto' });
    expect(parseSocksPortValue('10.200.1.1:9050 IsolateSOCKSAuth  KeepAliveIsolateSOCKSAuth')).toMatchObject({
      address: '10.200.1.1',
      port: 9050,
      flags: ['IsolateSOCKSAuth', 'KeepAliveIsolateSOCKSAuth'],
    });
    expect(parseSocksPortValue('[::1]:9070')).toMatchObject({ address: '::1', port: 9070 });
    expect(parseSocksPortValue('[::1]')).toMatchObject({ address: '::1', port: NaN });
    expect(parseSocksPortValue('localhost:9050')).toMatchObject({ address: '127.0.0.1', port: 9050 });
    expect(parseSocksPortValue('unix:/run/tor/socks GroupWritable')).toMatchObject({
      address: null,
      port: null,
      unixPath: '/run/tor/socks',
      flags: ['GroupWritable'],
    });
    expect(parseSocksPortValue('unix:"/tmp/a b" IsolateDestAddr')).toMatchObject({
      unixPath: '/tmp/a b',
      flags: ['IsolateDestAddr'],
    });
  });
  it('gives an address without a port port NaN (tor rejects it)', () => {
    expect(parseSocksPortValue('127.0.0.1')!.port).toBeNaN();
    expect(parseSocksPortValue('70000')!.port).toBeNaN();
  });
});

describe('matchListener', () => {
  const specs = ['127.0.0.1:9050 IsolateDestAddr', '9062 IsolateDestAddr IsolateDestPort', '127.0.0.1:9050'].map((v) =>
    parseSocksPortValue(v)!,
  );
  it('finds the first SocksPort at the address and port and compares by effect', () => {
    expect(matchListener({ address: '127.0.0.1', port: 9062, flags: TAILS_DEFAULT }, specs).status).toBe('equal');
    const m = matchListener({ address: '127.0.0.1', port: 9050, flags: TAILS_DEFAULT }, specs);
    expect(m).toMatchObject({ status: 'different', differences: ['IsolateDestPort should be on but is off'] });
    expect(matchListener({ address: '127.0.0.1', port: 9063, flags: [] }, specs).status).toBe('missing');
    expect(matchListener({ address: '10.200.1.1', port: 9050, flags: [] }, specs).status).toBe('missing');
  });
});
