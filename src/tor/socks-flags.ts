// What a SocksPort line means to Tor, so that a listener can be compared with
// a torrc or with GETCONF SocksPort by EFFECT, not by text. Follows tor's
// port parser (src/app/config/config.c, parse_port_config): flags are
// case-insensitive, any flag may take a `No` prefix, a trailing plural `s` is
// accepted on the isolation flags, the last mention of a flag wins, and
// IsolateClientAddr, IsolateSOCKSAuth, IPv4Traffic, DNSRequest and
// OnionTraffic are on unless turned off.
import type { SocksPortOf } from './listener';

export interface SocksPortSpec {
  /** As written (one SocksPort value). */
  text: string;
  /** Numeric address Tor binds (127.0.0.1 when only a port is given); null for unix sockets. */
  address: string | null;
  /** TCP port; 'auto' for a port Tor picks; null for unix sockets. */
  port: number | 'auto' | null;
  unixPath: string | null;
  flags: string[];
}

/**
 * One SocksPort value, or null when it disables the listener (`0`). A
 * `unix:"PATH"` may quote its path (C escapes, spaces allowed). An address
 * without a port gives port NaN: tor rejects it.
 */
export function parseSocksPortValue(value: string): SocksPortSpec | null {
  const text = value.trim();
  const quotedUnix = /^unix:"((?:[^"\\]|\\.)*)"(?=\s|$)/i.exec(text);
  if (quotedUnix) {
    const unixPath = quotedUnix[1]!.replace(/\\(x[0-9a-fA-F]{2}|[0-7]{1,3}|.)/g, (_m, e: string) =>
      e[0] === 'x' && e.length === 3
        ? String.fromCharCode(parseInt(e.slice(1), 16))
        : /^[0-7]+$/.test(e)
          ? String.fromCharCode(parseInt(e, 8))
          : e === 'n'
            ? '\n'
            : e === 't'
              ? '\t'
              : e === 'r'
                ? '\r'
                : e,
    );
    const flags = text.slice(quotedUnix[0].length).trim().split(/\s+/).filter(Boolean);
    return { text, address: null, port: null, unixPath, flags };
  }
  const [where = '', ...flags] = text.split(/\s+/);
  if (where === '0') return null;
  const spec = { text, flags };
  if (/^unix:/i.test(where)) return { ...spec, address: null, port: null, unixPath: where.slice(5) };
  if (/^auto$/i.test(where)) return { ...spec, address: '127.0.0.1', port: 'auto', unixPath: null };
  const bracketed = /^\[([^\]]+)\](?::(\w+))?$/.exec(where);
  const [host, portText] = bracketed
    ? [bracketed[1]!, bracketed[2] ?? '']
    : where.includes(':')
      ? [where.slice(0, where.lastIndexOf(':')), where.slice(where.lastIndexOf(':') + 1)]
      : /^\d+$/.test(where) && Number(where) <= 65535
        ? ['127.0.0.1', where]
        : [where, ''];
  const address = host.toLowerCase() === 'localhost' ? '127.0.0.1' : host.toLowerCase();
  const port = /^auto$/i.test(portText) ? 'auto' : /^\d+$/.test(portText) ? Number(portText) : NaN;
  return { ...spec, address, port, unixPath: null };
}

const ON_BY_DEFAULT = ['isolateclientaddr', 'isolatesocksauth', 'ipv4traffic', 'dnsrequest', 'oniontraffic'];
const ISOLATION = [
  'isolateclientaddr',
  'isolatesocksauth',
  'isolateclientprotocol',
  'isolatedestport',
  'isolatedestaddr',
  'keepaliveisolatesocksauth',
];

/** A flag's canonical key and value: `NoIsolateDestAddrs` -> ['isolatedestaddr', false]. */
function normalize(flag: string): [string, boolean | string] {
  const eq = flag.indexOf('=');
  if (eq > 0) return [flag.slice(0, eq).toLowerCase(), flag.slice(eq + 1)];
  let key = flag.toLowerCase();
  let on = true;
  if (key.startsWith('no')) {
    key = key.slice(2);
    on = false;
  }
  if (key.endsWith('s') && ISOLATION.includes(key.slice(0, -1))) key = key.slice(0, -1);
  return [key, on];
}

/** The effective flags of FLAGS, defaults included, keyed in lower case. */
export function effectiveFlags(flags: readonly string[]): Map<string, boolean | string> {
  const effect = new Map<string, boolean | string>([
    ...ISOLATION.map((k) => [k, false] as const),
    ...ON_BY_DEFAULT.map((k) => [k, true] as const),
  ]);
  for (const flag of flags) effect.set(...normalize(flag));
  return effect;
}

/**
 * What a SocksPort with FLAGS does with SOCKS credentials: whether it
 * isolates streams by them (IsolateSOCKSAuth, on unless turned off, the last
 * mention winning), and whether it prefers no authentication from a client
 * that offers both (PreferSOCKSNoAuth): then the credentials never arrive.
 */
export function socksAuthFlags(flags: readonly string[]): { isolatesBySocksAuth: boolean; prefersNoAuth: boolean } {
  const effect = effectiveFlags(flags);
  return {
    isolatesBySocksAuth: effect.get('isolatesocksauth') === true,
    prefersNoAuth: effect.get('prefersocksnoauth') === true,
  };
}

/** Readable name of a key for messages: the spelling used in EXAMPLES if any. */
function spell(key: string, examples: readonly string[]): string {
  for (const flag of examples) {
    const [k] = normalize(flag);
    if (k === key) return flag.replace(/^no/i, '').replace(/=.*$/, '');
  }
  const known: Record<string, string> = {
    isolateclientaddr: 'IsolateClientAddr',
    isolatesocksauth: 'IsolateSOCKSAuth',
    isolateclientprotocol: 'IsolateClientProtocol',
    isolatedestport: 'IsolateDestPort',
    isolatedestaddr: 'IsolateDestAddr',
    keepaliveisolatesocksauth: 'KeepAliveIsolateSOCKSAuth',
    ipv4traffic: 'IPv4Traffic',
    dnsrequest: 'DNSRequest',
    oniontraffic: 'OnionTraffic',
  };
  return known[key] ?? key;
}

/**
 * How ACTUAL (flags Tor has on a port) differs in effect from EXPECTED (a
 * listener's flags): one phrase per flag, empty when they agree.
 */
export function flagDifferences(expected: readonly string[], actual: readonly string[]): string[] {
  const want = effectiveFlags(expected);
  const have = effectiveFlags(actual);
  const keys = [...new Set([...want.keys(), ...have.keys()])];
  const show = (v: boolean | string | undefined) => (v === true ? 'on' : v === false || v === undefined ? 'off' : v);
  return keys
    .filter((k) => (want.get(k) ?? false) !== (have.get(k) ?? false))
    .map((k) => `${spell(k, [...expected, ...actual])} should be ${show(want.get(k))} but is ${show(have.get(k))}`);
}

export type ListenerMatch =
  | { status: 'missing' }
  | { status: 'different'; spec: SocksPortSpec; differences: string[] }
  | { status: 'equal'; spec: SocksPortSpec };

/**
 * The SocksPort among SPECS at ADDRESS:PORT and how it compares with FLAGS.
 * When a port is given twice tor cannot bind the second and does not start;
 * the first is compared here (the torrc check reports the duplicate itself).
 */
export function matchListener(listener: SocksPortOf, specs: readonly SocksPortSpec[]): ListenerMatch {
  const address = listener.address.toLowerCase();
  const spec = specs.find((s) => s.port === listener.port && s.address === address);
  if (!spec) return { status: 'missing' };
  const differences = flagDifferences(listener.flags, spec.flags);
  return differences.length ? { status: 'different', spec, differences } : { status: 'equal', spec };
}
