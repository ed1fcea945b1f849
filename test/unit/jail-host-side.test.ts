// The pure part of `tails-launch jail setup`: what the listeners with a
// jail_port and the jails' pool make of the host side (its ruleset's text),
// the declarations it refuses, the jails' twin SocksPort, and the reading of
// an installed table (nft's JSON listing) that the launch's check relies on.
// The real nft/ip side is test/integration/jail-host-side.test.ts.
import { describe, expect, it } from 'vitest';
import { jailSocksPort } from '../../src/tor/jail-socksport';
import { installedPool, parseNftListing, tableProblem } from '../../src/jail/host-side-check';
import {
  designHostSide,
  hostSideRuleset,
  parsePool,
  poolRoute,
  type HostSideDesign,
  type JailPool,
} from '../../src/jail/host-side';
import { ConfigError } from '../../src/profile/config-error';
import { configLayers } from '../../src/profile/layers';
import { loadJails, loadListeners } from '../../src/profile/load';
import { resolveListener, type ResolvedListener } from '../../src/profile/resolve';
import { effectiveFlags } from '../../src/tor/socks-flags';
import { ROOT } from '../support/launcher';

const FILE = '/etc/tails-launch/listeners.yml';
const POOL = '10.240.0.0/12';
const JAILS = { pool: POOL, file: FILE };

function listener(name: string, fields: Partial<ResolvedListener> = {}): ResolvedListener {
  const address = fields.address ?? '127.0.0.1';
  const port = fields.port ?? 9050;
  return {
    name,
    file: FILE,
    layer: 'admin',
    flags: [],
    address,
    port,
    netns: null,
    connect: { address, port },
    jailPort: null,
    ...fields,
  } as ResolvedListener;
}

/** Tails' listeners, default and tails with jail ports. */
const TAILS = () => [
  listener('default', { flags: ['IsolateDestAddr', 'IsolateDestPort'], jailPort: 9150 }),
  listener('tails', { port: 9062, flags: ['IsolateDestAddr', 'IsolateDestPort'], jailPort: 9162 }),
  listener('upgrader', { port: 9063 }),
  listener('browser', {
    address: '10.200.1.1',
    netns: 'tbb',
    connect: { address: '127.0.0.1', port: 9050 },
    flags: ['IsolateSOCKSAuth'],
  }),
];

function refusal(listeners: ResolvedListener[], jails: typeof JAILS | null = JAILS): string {
  try {
    designHostSide(listeners, jails, [FILE]);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('designHostSide was not refused');
}

const pool = (cidr: string) => parsePool(cidr) as JailPool;

describe('designHostSide', () => {
  it('one redirection per listener with a jail_port, from the pool', () => {
    expect(designHostSide(TAILS(), JAILS, [FILE])).toEqual<HostSideDesign>({
      pool: { cidr: POOL, network: 0x0af00000, prefixLength: 12 },
      routes: [
        { listener: 'default', address: '127.0.0.1', port: 9050, jailPort: 9150 },
        { listener: 'tails', address: '127.0.0.1', port: 9062, jailPort: 9162 },
      ],
    });
  });

  it('refuses, in one line naming file and field: no pool, a bad pool, no jail_port, a jail port that is taken, IPv6, a pool in use', () => {
    const invalid = (where: string, message: string) => `invalid configuration: ${FILE}: ${where}${message}`;
    expect(refusal(TAILS(), null)).toBe(
      invalid(
        '',
        'no jails.pool is set, so jails have no addresses: set one in the admin layer, e.g. jails: { pool: 10.240.0.0/12 }',
      ),
    );
    expect(refusal(TAILS(), { pool: '10.240.1.0/12', file: FILE })).toBe(
      invalid('jails.pool: ', '10.240.1.0/12 is not a network address: its last 20 bits must be 0 (10.240.0.0/12)'),
    );
    expect(refusal(TAILS(), { pool: '127.64.0.0/12', file: FILE })).toMatch(
      /jails\.pool: 127\.64\.0\.0\/12 cannot hold jails' addresses: not a unicast range outside/,
    );
    expect(refusal([listener('default')])).toBe(
      invalid('', 'no listener declares a jail_port, so there is nothing to set up for jails'),
    );
    expect(refusal([listener('default', { jailPort: 9050 })])).toBe(
      invalid('listeners.default.jail_port: ', '9050 is its own port: a jail port must be a port of its own'),
    );
    expect(refusal([...TAILS(), listener('x', { port: 9999, jailPort: 9063 })])).toBe(
      invalid('listeners.x.jail_port: ', "9063 is listener 'upgrader's port: a jail port must be a port of its own"),
    );
    expect(refusal([...TAILS(), listener('x', { port: 9999, jailPort: 9150 })])).toBe(
      invalid(
        'listeners.x.jail_port: ',
        "9150 is already listener 'default's jail port: jails tell their listeners apart by it",
      ),
    );
    expect(refusal([listener('v6', { address: '::1', jailPort: 9150 })])).toBe(
      invalid(
        'listeners.v6.jail_port: ',
        '::1 is not an IPv4 address: jails reach their SocksPort over IPv4 only, so a listener with a jail_port must listen on one',
      ),
    );
    expect(refusal([...TAILS(), listener('odd', { address: '10.255.0.7', port: 1 })])).toBe(
      invalid(
        'listeners.odd.address: ',
        `10.255.0.7 is in the jails' pool ${POOL}: the pool must not overlap any address in use`,
      ),
    );
    const browser = TAILS().map((l) => (l.name === 'browser' ? { ...l, address: '10.250.3.5' } : l));
    expect(refusal(browser)).toBe(
      invalid(
        'listeners.browser.address: ',
        `the link of network namespace 'tbb' (10.250.3.4/30) is in the jails' pool ${POOL}: the pool must not overlap any address in use`,
      ),
    );
    // Tails' own 10.200.1.0/30 is outside 10.240.0.0/12, and inside 10.192.0.0/10.
    expect(refusal(TAILS(), { pool: '10.192.0.0/10', file: FILE })).toMatch(
      /listeners\.browser\.address: the link of network namespace 'tbb' \(10\.200\.1\.0\/30\) is in the jails' pool/,
    );
  });

  it("the shipped configuration declares no jail: jails are the administrator's choice", async () => {
    const layers = configLayers(ROOT, {});
    const listeners = [...(await loadListeners(layers)).values()].map((l) => resolveListener(l, layers));
    expect(listeners.filter((l) => l.jailPort !== null)).toEqual([]);
    expect(await loadJails(layers)).toBe(null);
  });
});

describe('parsePool', () => {
  it('takes an aligned private network of /10 to /20, refuses the rest', () => {
    expect(parsePool('10.240.0.0/12')).toEqual({ cidr: '10.240.0.0/12', network: 0x0af00000, prefixLength: 12 });
    expect(parsePool('172.16.16.0/20')).toEqual({ cidr: '172.16.16.0/20', network: 0xac101000, prefixLength: 20 });
    for (const bad of ['10.240.0.0/21', '10.240.0.0/9', '10.240.0.0', '10.240.0/12', '010.240.0.0/12', '0.0.0.0/12'])
      expect(typeof parsePool(bad)).toBe('string');
    expect(parsePool('224.0.0.0/12')).toMatch(/cannot hold jails' addresses/);
    expect(parsePool('169.254.0.0/16')).toMatch(/cannot hold jails' addresses/);
  });
});

describe('hostSideRuleset', () => {
  it('one inet table: reverse-path check, redirections, group address, input and forward filters, nothing opened into jails', () => {
    const design = designHostSide(
      [
        listener('default', { jailPort: 9150 }),
        listener('browser', { address: '10.200.1.1', netns: 'tbb', jailPort: 9151 }),
      ],
      JAILS,
      [FILE],
    );
    expect(hostSideRuleset(design)).toBe(`# The jails' host side: written by 'tails-launch jail setup'.
table inet tails_launch_jails
delete table inet tails_launch_jails
table inet tails_launch_jails {
	chain jail_sources {
		type filter hook prerouting priority -150; policy accept;
		iifname "tlj*" fib saddr . iif oif missing drop
	}
	chain to_jail_ports {
		type nat hook prerouting priority -100; policy accept;
		iifname "tlj*" ip saddr 10.240.0.0/12 tcp dport 9150 dnat ip to 127.0.0.1:9150 comment "listener default"
		iifname "tlj*" ip saddr 10.240.0.0/12 tcp dport 9151 dnat ip to 10.200.1.1:9151 comment "listener browser"
	}
	chain group_address {
		type nat hook input priority 100; policy accept;
		iifname "tlj*" snat ip to ip saddr & 255.255.255.192
	}
	chain from_jails {
		type filter hook input priority 0; policy accept;
		iifname != "tlj*" accept
		ct state invalid drop
		ct state established,related accept
		ip saddr 10.240.0.0/12 ip daddr 127.0.0.1 tcp dport 9150 ct status dnat ct state new accept comment "listener default"
		ip saddr 10.240.0.0/12 ip daddr 10.200.1.1 tcp dport 9151 ct status dnat ct state new accept comment "listener browser"
		drop
	}
	chain no_forwarding {
		type filter hook forward priority 0; policy accept;
		iifname "tlj*" drop
		oifname "tlj*" drop
		ip saddr 10.240.0.0/12 drop
		ip daddr 10.240.0.0/12 drop
	}
	chain into_jails {
		type filter hook postrouting priority 0; policy accept;
		oifname != "tlj*" accept
		ct state established,related accept
		drop
	}
}
`);
    expect(poolRoute(design)).toEqual(['10.240.0.0/12', 'dev', 'lo']);
  });
});

describe('jailSocksPort', () => {
  it("the listener's flags on its jail port, with IsolateClientAddr whatever the listener says of it", () => {
    expect(jailSocksPort(listener('d', { flags: ['IsolateDestAddr'], jailPort: 9150 }))).toEqual({
      address: '127.0.0.1',
      port: 9150,
      flags: ['IsolateDestAddr', 'IsolateClientAddr'],
    });
    const twin = jailSocksPort(
      listener('u', { flags: ['NoIsolateDestAddr', 'NoIsolateClientAddr', 'noisolateclientaddrs'], jailPort: 9163 }),
    )!;
    expect(twin.flags).toEqual(['NoIsolateDestAddr', 'IsolateClientAddr']);
    expect(effectiveFlags(twin.flags).get('isolateclientaddr')).toBe(true);
    expect(jailSocksPort(listener('n'))).toBe(null);
  });
});

/** nft 1.0.6's JSON listing of a table built from DESIGN (the shapes `nft -j list table` prints). */
function listing(design: HostSideDesign, drop: { chain?: string; snat?: boolean } = {}): string {
  const family = 'inet';
  const table = 'tails_launch_jails';
  const iif = { match: { op: '==', left: { meta: { key: 'iifname' } }, right: 'tlj*' } };
  const payload = (protocol: string, field: string, right: unknown) => ({
    match: { op: '==', left: { payload: { protocol, field } }, right },
  });
  const prefix = { prefix: { addr: design.pool.cidr.split('/')[0], len: design.pool.prefixLength } };
  const chains = [
    ['jail_sources', 'filter', 'prerouting', -150],
    ['to_jail_ports', 'nat', 'prerouting', -100],
    ['group_address', 'nat', 'input', 100],
    ['from_jails', 'filter', 'input', 0],
    ['no_forwarding', 'filter', 'forward', 0],
    ['into_jails', 'filter', 'postrouting', 0],
  ].filter(([name]) => name !== drop.chain);
  const rule = (chain: string, expr: unknown[]) => ({ rule: { family, table, chain, handle: 9, expr } });
  return JSON.stringify({
    nftables: [
      { metainfo: { version: '1.0.6', release_name: 'Lester Gooch #5', json_schema_version: 1 } },
      { table: { family, name: table, handle: 2 } },
      ...chains.map(([name, type, hook, prio], handle) => ({
        chain: { family, table, name, handle, type, hook, prio, policy: 'accept' },
      })),
      ...design.routes.map((r) =>
        rule('to_jail_ports', [
          iif,
          payload('ip', 'saddr', prefix),
          payload('tcp', 'dport', r.jailPort),
          { dnat: { family: 'ip', addr: r.address, port: r.jailPort } },
        ]),
      ),
      ...(drop.snat
        ? []
        : [
            rule('group_address', [
              iif,
              {
                snat: {
                  family: 'ip',
                  addr: { '&': [{ payload: { protocol: 'ip', field: 'saddr' } }, '255.255.255.192'] },
                },
              },
            ]),
          ]),
      ...design.routes.map((r) =>
        rule('from_jails', [
          payload('ip', 'saddr', prefix),
          payload('ip', 'daddr', r.address),
          payload('tcp', 'dport', r.jailPort),
          { match: { op: 'in', left: { ct: { key: 'status' } }, right: 'dnat' } },
          { match: { op: 'in', left: { ct: { key: 'state' } }, right: 'new' } },
          { accept: null },
        ]),
      ),
      // Another table's rule: never taken for ours.
      { rule: { family: 'ip', table: 'filter', chain: 'to_jail_ports', handle: 1, expr: [] } },
    ],
  });
}

describe('tableProblem (reading an installed table back)', () => {
  const design = designHostSide(TAILS(), JAILS, [FILE]);
  const jailed = { name: 'default', address: '127.0.0.1', jailPort: 9150 };
  const setup = ": run 'tails-launch jail setup' as root";

  it('null when the table carries the listener, with the pool it was set up with', () => {
    const table = parseNftListing(listing(design));
    expect(installedPool(table)).toBe(POOL);
    expect(tableProblem(table, jailed, pool(POOL))).toBe(null);
    expect(tableProblem(table, { name: 'tails', address: '127.0.0.1', jailPort: 9162 }, pool(POOL))).toBe(null);
  });

  it('says what is missing: a chain, the pool, the redirection, the accept, the group address', () => {
    const problem = (json: string, l = jailed, p = POOL) => tableProblem(parseNftListing(json), l, pool(p));
    expect(problem(listing(design, { chain: 'into_jails' }))).toBe(
      `the jails' host side (table inet tails_launch_jails) has no chain into_jails on postrouting${setup}`,
    );
    expect(problem(listing(design), jailed, '10.96.0.0/12')).toBe(
      `the jails' host side was set up for the pool ${POOL}, not 10.96.0.0/12${setup}`,
    );
    expect(problem(listing(design), { ...jailed, jailPort: 9999 })).toBe(
      `the jails' host side does not redirect jail port 9999 to 127.0.0.1:9999 (listener 'default')${setup}`,
    );
    expect(problem(listing(design), { ...jailed, address: '127.0.0.2' })).toBe(
      `the jails' host side does not redirect jail port 9150 to 127.0.0.2:9150 (listener 'default')${setup}`,
    );
    expect(problem(listing(design, { snat: true }))).toBe(
      `the jails' host side does not give jails their group's address (snat to ip saddr & 255.255.255.192)${setup}`,
    );
  });

  it('what is not a listing of nft throws (the check reports it as unreadable)', () => {
    expect(() => parseNftListing('not json')).toThrow(SyntaxError);
    expect(() => parseNftListing('{"tables": []}')).toThrow(TypeError);
    expect(parseNftListing('{"nftables": []}')).toEqual({ chains: [], rules: [] });
  });
});
