// What `tails-launch netns setup NAME` builds, worked out from the listeners
// that declare `netns: NAME`, without touching the system: the veth pair and
// its /30, the redirections and the nftables ruleset of the namespace. The
// side effects are in ./netns-setup-system.ts.
//
// The model is Tails' config/chroot_local-includes/usr/local/lib/tails-create-netns:
// veth-tbb 10.200.1.1/30 on the host, veth0 10.200.1.2/30 inside, and inside
// 127.0.0.1:9050 redirected (DNAT on lo) to 10.200.1.1:9050, where Tor
// listens. Unlike Tails, the namespace gets a firewall that lets nothing else
// out (Tails' tbb relies on having no default route), and nothing at all is
// changed on the host beyond its veth end.
import { ConfigError, type ConfigProblem } from '../profile/config-error';
import { NAME_PATTERN } from '../vocabulary/names';
import type { ResolvedListener } from '../profile/resolve';
import { hostPort, parseIPv4 } from '../tor/address';
import { hostVethName, INSIDE_VETH, netnsNameProblem } from './netns-setup-name';

/** The namespace's link to the host is a /30: network, host end, inside end, broadcast. */
export const PREFIX_LENGTH = 30;

/** The nftables table tails-launch owns inside the namespace (and nothing else there). */
export const NFT_TABLE = 'tails_launch';

export interface Endpoint {
  address: string;
  port: number;
}

/** One listener as reached from inside: `client` is redirected to `target`, or null when the application connects to `target` itself. */
export interface Exposure {
  listener: string;
  target: Endpoint;
  client: Endpoint | null;
}

export interface NetnsDesign {
  name: string;
  hostVeth: string;
  insideVeth: string;
  /** The host end's address: the listeners' address, where Tor listens. */
  hostAddress: string;
  /** The inside end's address: the host address + 1; the only source the host ever sees from the namespace. */
  insideAddress: string;
  exposures: Exposure[];
}

const isPort = (port: number) => Number.isInteger(port) && port >= 1 && port <= 65535;

/** Why ADDRESS cannot be the host end of a namespace's /30, or null. */
function hostAddressProblem(address: string): string | null {
  const ip = parseIPv4(address);
  if (ip === null) return `'${address}' is not an IPv4 address: a network namespace's link is IPv4 only`;
  // Unicast, not loopback: the inside end must be able to route to it over the veth.
  if (ip[0] === 0 || ip[0] === 127 || ip[0] >= 224)
    return `${address} cannot be the host end of a network namespace's link (not a unicast address outside 127.0.0.0/8)`;
  if (ip[3] % 4 !== 1) {
    const base = ip.slice(0, 3).join('.');
    const first = ip[3] - ((ip[3] + 3) % 4);
    return `${address} is not the first host of a /30 (the last number must be 1, 5, 9, ... 253; e.g. ${base}.${first < 0 ? 1 : first}), as the namespace's link is that /30`;
  }
  return null;
}

/** ADDRESS + 1 in its last number (hostAddressProblem has made sure it stays in the /30). */
function nextAddress(address: string): string {
  const ip = parseIPv4(address)!;
  return `${ip[0]}.${ip[1]}.${ip[2]}.${ip[3] + 1}`;
}

/**
 * Where LISTENER is reached from inside: itself (no redirection), or a
 * loopback address of the namespace redirected to it. Any other client
 * address could not be redirected on lo, so it is a problem.
 */
function exposureOf(listener: ResolvedListener, problem: (field: string, message: string) => void): Exposure | null {
  const target = { address: listener.address, port: listener.port };
  const client = listener.connect;
  if (client.address === target.address && client.port === target.port)
    return { listener: listener.name, target, client: null };
  const ip = parseIPv4(client.address);
  if (ip === null || ip[0] !== 127) {
    problem(
      'client_address',
      `${client.address} cannot be redirected inside network namespace '${listener.netns}': client_address must be an IPv4 loopback address (127.0.0.0/8), or left out to connect to ${hostPort(target.address, target.port)} directly`,
    );
    return null;
  }
  return { listener: listener.name, target, client: { ...client } };
}

/**
 * The namespace NAME as its listeners declare it. Refuses (ConfigError, 65)
 * when no listener declares `netns: NAME`, when they disagree on the host
 * address, when that address cannot be a /30's first host, or when a client
 * endpoint cannot be redirected or is claimed twice.
 */
export function designNetns(name: string, listeners: Iterable<ResolvedListener>): NetnsDesign {
  const nameProblem = netnsNameProblem(name);
  if (nameProblem !== null) throw new ConfigError([{ file: 'the command line', message: nameProblem }]);
  const declaring = [...listeners].filter((l) => l.netns === name);
  if (declaring.length === 0) {
    throw new ConfigError([
      {
        file: [...new Set([...listeners].map((l) => l.file))].join(', ') || 'listeners.yml',
        message: `no listener declares netns: ${name}, so there is nothing to set up in network namespace '${name}'`,
      },
    ]);
  }
  const problems: ConfigProblem[] = [];
  const hostAddress = declaring[0]!.address;
  const exposures: Exposure[] = [];
  const clients = new Map<string, string>();
  for (const l of declaring) {
    const problem = (field: string, message: string) =>
      problems.push({ file: l.file, field: field ? `listeners.${l.name}.${field}` : `listeners.${l.name}`, message });
    // Names and ports reach the ruleset's text: checked here again, not taken on trust.
    if (!NAME_PATTERN.test(l.name)) problem('', 'not a valid listener name');
    if (!isPort(l.port) || !isPort(l.connect.port)) problem('port', 'not a port number (1-65535)');
    if (l.address !== hostAddress) {
      problem(
        'address',
        `${l.address} differs from ${hostAddress} (listener '${declaring[0]!.name}'): every listener of network namespace '${name}' must listen on the one host end of its link`,
      );
      continue;
    }
    const addressProblem = hostAddressProblem(l.address);
    if (addressProblem !== null) {
      problem('address', addressProblem);
      continue;
    }
    const exposure = exposureOf(l, problem);
    if (exposure === null) continue;
    const seen = hostPort(exposure.client?.address ?? l.address, exposure.client?.port ?? l.port);
    const other = clients.get(seen);
    if (other !== undefined) {
      problem('client_port', `${seen} inside network namespace '${name}' is already listener '${other}'s`);
      continue;
    }
    clients.set(seen, l.name);
    exposures.push(exposure);
  }
  if (problems.length) throw new ConfigError(problems);
  return {
    name,
    hostVeth: hostVethName(name),
    insideVeth: INSIDE_VETH,
    hostAddress,
    insideAddress: nextAddress(hostAddress),
    exposures,
  };
}

/**
 * The namespace's nftables ruleset, for `nft -f -` run inside it. One
 * transaction: the table is declared (so that deleting it cannot fail when
 * it is not there yet), deleted and written anew, so a second setup replaces
 * it atomically and never leaves the namespace without it.
 *
 * Built only from DESIGN, whose every part is validated (names, dotted quads,
 * integer ports): nothing the text holds can be read by nft as syntax.
 */
export function netnsRuleset(design: NetnsDesign): string {
  const { insideAddress, insideVeth, exposures } = design;
  const comment = (listener: string) => `comment "listener ${listener}"`;
  const redirects = exposures
    .filter((e) => e.client !== null)
    .map(
      (e) =>
        `\t\toifname "lo" ip daddr ${e.client!.address} tcp dport ${e.client!.port} dnat ip to ${hostPort(e.target.address, e.target.port)} ${comment(e.listener)}`,
    );
  // One accept per target (two listeners may share Tor's port with different client ports).
  const targets = new Map<string, Exposure>();
  for (const e of exposures) targets.set(hostPort(e.target.address, e.target.port), e);
  const allowed = [...targets.values()].map(
    (e) => `\t\tip daddr ${e.target.address} tcp dport ${e.target.port} ct state new accept ${comment(e.listener)}`,
  );
  return [
    `# Network namespace ${design.name}: written by 'tails-launch netns setup ${design.name}'.`,
    `table inet ${NFT_TABLE}`,
    `delete table inet ${NFT_TABLE}`,
    `table inet ${NFT_TABLE} {`,
    // Tails' `iptables -t nat -A OUTPUT -o lo -d 127.0.0.1 -p tcp --dport P -j DNAT`:
    // the application's own loopback address leads to Tor on the host end.
    '\tchain to_listeners {',
    '\t\ttype nat hook output priority -100; policy accept;',
    ...redirects,
    '\t}',
    // Redirected connections start from 127.0.0.1, which must not leave on the
    // veth (route_localnet lets it be routed at all): the inside address instead.
    '\tchain inside_source {',
    '\t\ttype nat hook postrouting priority 100; policy accept;',
    `\t\toifname "${insideVeth}" snat ip to ${insideAddress}`,
    '\t}',
    // What may leave: what belongs to a connection already allowed, a new
    // connection to a listener (redirected or direct: this hook sees the
    // address after the redirection), and loopback. Anything else is refused at
    // once (a reset, an ICMP error), so an application fails fast, not hangs.
    // `oifname "lo"` is the route chosen BEFORE the redirection (nftables keeps
    // the hook's device), so a redirected connection would match it too: the
    // loopback rule takes only what was not redirected (conntrack's dnat bit).
    '\tchain outgoing {',
    '\t\ttype filter hook output priority 0; policy drop;',
    '\t\tct state invalid drop',
    '\t\tct state established,related accept',
    ...allowed,
    '\t\toifname "lo" ct status & dnat == 0 accept',
    '\t\tmeta l4proto tcp reject with tcp reset',
    '\t\treject with icmpx type port-unreachable',
    '\t}',
    // Nothing from outside may open a connection to the namespace (Tails' forbid_incoming).
    '\tchain incoming {',
    '\t\ttype filter hook input priority 0; policy drop;',
    '\t\tiifname "lo" accept',
    '\t\tct state established,related accept',
    '\t}',
    // After source NAT (priority 100): the host sees no other source from the
    // namespace than the inside address (Tails' anti-spoofing rule), and no IPv6.
    '\tchain no_spoofing {',
    '\t\ttype filter hook postrouting priority 200; policy accept;',
    `\t\toifname "${insideVeth}" ip saddr != ${insideAddress} drop`,
    `\t\toifname "${insideVeth}" meta nfproto ipv6 drop`,
    '\t}',
    '}',
    '',
  ].join('\n');
}

/**
 * The namespace's sysctls, inside it (the slash form: interface names may
 * hold dots). Forwarding off (a new namespace copies the host's IPv4
 * forwarding setting); route_localnet on, or the kernel would not route a
 * connection from 127.0.0.1 out of veth0 before source NAT rewrites it.
 */
export const INSIDE_SYSCTLS: readonly string[] = [
  'net/ipv4/conf/all/forwarding=0',
  'net/ipv4/conf/all/route_localnet=1',
];

/** IPv6 off on the inside end: no link-local address, nothing to send there. Missing when the kernel has no IPv6 (sysctl -e). */
export const INSIDE_IPV6_SYSCTLS: readonly string[] = [`net/ipv6/conf/${INSIDE_VETH}/disable_ipv6=1`];

/** The host end forwards nothing that comes from the namespace, whatever the host's own setting (Tails does the same). */
export function hostSysctls(design: NetnsDesign): string[] {
  return [`net/ipv4/conf/${design.hostVeth}/forwarding=0`];
}

/** What the namespace offers, for the report: `127.0.0.1:9050 -> 10.200.1.1:9050 (listener browser)`. */
export function describeExposure(e: Exposure): string {
  const target = hostPort(e.target.address, e.target.port);
  return e.client === null
    ? `${target} (listener '${e.listener}', reached directly)`
    : `${hostPort(e.client.address, e.client.port)} leads to ${target} (listener '${e.listener}')`;
}
