// The pure part of `tails-launch netns setup`: what the listeners declaring
// `netns: NAME` make of the namespace (names, the /30, the redirections), the
// declarations it refuses, and the nftables ruleset's text. The real ip/nft
// side is test/integration/netns-setup.test.ts.
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/profile/config-error';
import { configLayers } from '../../src/profile/layers';
import { loadListeners } from '../../src/profile/load';
import { resolveListener, type ResolvedListener } from '../../src/profile/resolve';
import { designNetns, netnsRuleset, type NetnsDesign } from '../../src/placement/netns-setup';
import { parseIPv4 } from '../../src/tor/address';
import { MAX_NETNS_NAME_LENGTH, netnsNameProblem } from '../../src/placement/netns-setup-name';
import { ROOT } from '../support/launcher';

const FILE = '/etc/tails-launch/listeners.yml';

function listener(name: string, fields: Partial<ResolvedListener> & { netns: string | null }): ResolvedListener {
  const address = fields.address ?? '10.200.1.1';
  const port = fields.port ?? 9050;
  return {
    name,
    file: FILE,
    layer: 'admin',
    flags: [],
    address,
    port,
    connect: { address, port },
    jailPort: null,
    ...fields,
  } as ResolvedListener;
}

const browser = (extra: Partial<ResolvedListener> = {}) =>
  listener('browser', { netns: 'tbb', connect: { address: '127.0.0.1', port: 9050 }, ...extra });

function refusal(name: string, listeners: ResolvedListener[]): string {
  try {
    designNetns(name, listeners);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error(`designNetns(${name}) was not refused`);
}

describe('designNetns', () => {
  it("makes the shipped listeners' tbb as Tails' tails-create-netns does", async () => {
    const layers = configLayers(ROOT, {});
    const listeners = [...(await loadListeners(layers)).values()].map((l) => resolveListener(l, layers));
    expect(designNetns('tbb', listeners)).toEqual<NetnsDesign>({
      name: 'tbb',
      hostVeth: 'veth-tbb',
      insideVeth: 'veth0',
      hostAddress: '10.200.1.1',
      insideAddress: '10.200.1.2',
      exposures: [
        {
          listener: 'browser',
          target: { address: '10.200.1.1', port: 9050 },
          client: { address: '127.0.0.1', port: 9050 },
        },
      ],
    });
  });

  it('takes only the listeners of that namespace; one reached directly needs no redirection', () => {
    const design = designNetns('tca', [
      browser(),
      listener('tca', { netns: 'tca', address: '10.200.1.9', port: 951 }),
      listener('default', { netns: null, address: '127.0.0.1' }),
    ]);
    expect(design.insideAddress).toBe('10.200.1.10');
    expect(design.exposures).toEqual([{ listener: 'tca', target: { address: '10.200.1.9', port: 951 }, client: null }]);
  });

  it('refuses a namespace no listener declares, naming the files read', () => {
    expect(refusal('onion', [browser()])).toBe(
      `invalid configuration: ${FILE}: no listener declares netns: onion, so there is nothing to set up in network namespace 'onion'`,
    );
  });

  it('refuses an address that is not the first host of a /30, with the one to use', () => {
    for (const [address, hint] of [
      ['10.200.1.2', '10.200.1.1'],
      ['10.200.1.4', '10.200.1.1'],
      ['10.200.1.0', '10.200.1.1'],
      ['10.200.1.7', '10.200.1.5'],
      ['10.200.1.255', '10.200.1.253'],
    ])
      expect(refusal('tbb', [browser({ address })])).toBe(
        `invalid configuration: ${FILE}: listeners.browser.address: ${address} is not the first host of a /30 (the last number must be 1, 5, 9, ... 253; e.g. ${hint}), as the namespace's link is that /30`,
      );
  });

  it('refuses IPv6, loopback and multicast host addresses', () => {
    expect(refusal('tbb', [browser({ address: 'fd00::1' })])).toContain(
      "listeners.browser.address: 'fd00::1' is not an IPv4 address",
    );
    for (const address of ['127.0.0.1', '0.0.0.1', '224.0.0.1'])
      expect(refusal('tbb', [browser({ address })])).toContain(
        `listeners.browser.address: ${address} cannot be the host end of a network namespace's link`,
      );
  });

  it('refuses listeners of one namespace on different addresses', () => {
    const other = listener('control', {
      netns: 'tbb',
      address: '10.200.1.5',
      port: 951,
      connect: { address: '127.0.0.1', port: 951 },
    });
    expect(refusal('tbb', [browser(), other])).toBe(
      `invalid configuration: ${FILE}: listeners.control.address: 10.200.1.5 differs from 10.200.1.1 (listener 'browser'): every listener of network namespace 'tbb' must listen on the one host end of its link`,
    );
  });

  it('refuses a client address that cannot be redirected on lo', () => {
    for (const address of ['10.0.0.5', '::1'])
      expect(refusal('tbb', [browser({ connect: { address, port: 9050 } })])).toContain(
        `listeners.browser.client_address: ${address} cannot be redirected inside network namespace 'tbb': client_address must be an IPv4 loopback address (127.0.0.0/8)`,
      );
  });

  it('refuses two listeners claiming one client endpoint', () => {
    const twin = listener('twin', { netns: 'tbb', port: 9051, connect: { address: '127.0.0.1', port: 9050 } });
    expect(refusal('tbb', [browser(), twin])).toBe(
      `invalid configuration: ${FILE}: listeners.twin.client_port: 127.0.0.1:9050 inside network namespace 'tbb' is already listener 'browser's`,
    );
  });

  it('refuses a name that cannot be a namespace (also refused on the command line)', () => {
    expect(refusal('a'.repeat(MAX_NETNS_NAME_LENGTH + 1), [browser()])).toContain('is too long for a namespace name');
  });
});

describe('netnsNameProblem', () => {
  it('allows plain names of at most 10 characters, so that veth-NAME fits IFNAMSIZ', () => {
    expect(netnsNameProblem('tbb')).toBeNull();
    expect(netnsNameProblem('a'.repeat(10))).toBeNull();
    expect(`veth-${'a'.repeat(10)}`).toHaveLength(15);
    expect(netnsNameProblem('a'.repeat(11))).toContain('at most 10 characters');
    for (const bad of ['', '../x', 'x/y', 'TBB', '-x', 'a b']) expect(netnsNameProblem(bad)).toContain('not a valid');
  });
});

describe('parseIPv4', () => {
  it('reads dotted quads only', () => {
    expect(parseIPv4('10.200.1.1')).toEqual([10, 200, 1, 1]);
    for (const bad of ['10.200.1', '10.200.1.256', '10.200.01.1', '10.200.1.1 ', '::1', '1.2.3.4.5', '0x1.2.3.4', ''])
      expect(parseIPv4(bad)).toBeNull();
  });
});

describe('netnsRuleset', () => {
  it("is one atomic replacement of tails-launch's own table: redirect, source NAT, and a firewall that lets nothing else out", () => {
    const design = designNetns('tbb', [
      browser(),
      listener('control', { netns: 'tbb', port: 951, connect: { address: '127.0.0.1', port: 951 } }),
    ]);
    expect(netnsRuleset(design)).toBe(
      [
        "# Network namespace tbb: written by 'tails-launch netns setup tbb'.",
        'table inet tails_launch',
        'delete table inet tails_launch',
        'table inet tails_launch {',
        '\tchain to_listeners {',
        '\t\ttype nat hook output priority -100; policy accept;',
        '\t\toifname "lo" ip daddr 127.0.0.1 tcp dport 9050 dnat ip to 10.200.1.1:9050 comment "listener browser"',
        '\t\toifname "lo" ip daddr 127.0.0.1 tcp dport 951 dnat ip to 10.200.1.1:951 comment "listener control"',
        '\t}',
        '\tchain inside_source {',
        '\t\ttype nat hook postrouting priority 100; policy accept;',
        '\t\toifname "veth0" snat ip to 10.200.1.2',
        '\t}',
        '\tchain outgoing {',
        '\t\ttype filter hook output priority 0; policy drop;',
        '\t\tct state invalid drop',
        '\t\tct state established,related accept',
        '\t\tip daddr 10.200.1.1 tcp dport 9050 ct state new accept comment "listener browser"',
        '\t\tip daddr 10.200.1.1 tcp dport 951 ct state new accept comment "listener control"',
        '\t\toifname "lo" ct status & dnat == 0 accept',
        '\t\tmeta l4proto tcp reject with tcp reset',
        '\t\treject with icmpx type port-unreachable',
        '\t}',
        '\tchain incoming {',
        '\t\ttype filter hook input priority 0; policy drop;',
        '\t\tiifname "lo" accept',
        '\t\tct state established,related accept',
        '\t}',
        '\tchain no_spoofing {',
        '\t\ttype filter hook postrouting priority 200; policy accept;',
        '\t\toifname "veth0" ip saddr != 10.200.1.2 drop',
        '\t\toifname "veth0" meta nfproto ipv6 drop',
        '\t}',
        '}',
        '',
      ].join('\n'),
    );
  });

  it('accepts a target once when two listeners share it', () => {
    const design = designNetns('tbb', [
      browser(),
      listener('again', { netns: 'tbb', connect: { address: '127.0.0.2', port: 9050 } }),
    ]);
    const text = netnsRuleset(design);
    expect(text.match(/dnat ip to 10\.200\.1\.1:9050/g)).toHaveLength(2);
    expect(text.match(/ip daddr 10\.200\.1\.1 tcp dport 9050 ct state new accept/g)).toHaveLength(1);
  });
});
