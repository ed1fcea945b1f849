// What `tails-launch jail setup` installs in the host's network namespace,
// worked out from the listeners that declare a `jail_port` and from the
// jails' pool (listeners.yml `jails.pool`), without touching the system.
// The side effects are in ./host-side-system.ts.
//
// A jail (src/jail/make-jail.ts, one per launch) is a network namespace
// whose veth pair ends here as `tlj...`, with a /30 of the pool: host end
// base+1, jail base+2. Inside, the application's 127.0.0.1:PORT is
// redirected to HOST_END:JAIL_PORT with the jail's own address as source.
// Here, one static table takes it from there:
//
//   - the jail port on any address of a tlj* link is redirected (DNAT) to the
//     listener's jail SocksPort, ADDRESS:JAIL_PORT, where Tor listens;
//   - the source becomes the jail's GROUP address (the first of its /26), so
//     Tor, isolating by client address, puts every jail of one group on one
//     circuit and jails of two groups on two;
//   - nothing else from a jail reaches the host, IPv6 included; nothing is
//     forwarded to or from a jail; the host opens nothing into a jail; a jail
//     cannot speak with another jail's address.
//
// And one route, `POOL dev lo`: see poolRoute below for why it is needed.
import { ConfigError, type ConfigProblem } from '../profile/config-error';
import { NAME_PATTERN } from '../vocabulary/names';
import type { ResolvedListener } from '../profile/resolve';
import { hostPort, parseIPv4 } from '../tor/address';

/** The nftables table `jail setup` owns in the host's namespace (and nothing else there). */
export const HOST_SIDE_TABLE = 'tails_launch_jails';

/** The host end of every jail's veth pair is named this + up to 12 characters (src/jail/make-jail.ts). */
export const JAIL_VETH_PREFIX = 'tlj';

/** Each jail takes a /30 of the pool. */
export const JAIL_PREFIX_LENGTH = 30;

/** Each isolation group is a /26 of the pool (16 jails of one group at once); its first address is what Tor sees. */
export const GROUP_PREFIX_LENGTH = 26;

/** The base chains of the table: what each hooks, as nft lists them (`nft -j`: type, hook, prio). */
export const HOST_SIDE_CHAINS = {
  jail_sources: { type: 'filter', hook: 'prerouting', prio: -150 },
  to_jail_ports: { type: 'nat', hook: 'prerouting', prio: -100 },
  group_address: { type: 'nat', hook: 'input', prio: 100 },
  from_jails: { type: 'filter', hook: 'input', prio: 0 },
  no_forwarding: { type: 'filter', hook: 'forward', prio: 0 },
  into_jails: { type: 'filter', hook: 'postrouting', prio: 0 },
} as const;
export type HostSideChain = keyof typeof HOST_SIDE_CHAINS;

/** The chain's header lines: `chain NAME {` and its type, hook and priority (policy accept: each rule says what it drops). */
function chainHead(name: HostSideChain): string[] {
  const { type, hook, prio } = HOST_SIDE_CHAINS[name];
  return [`\tchain ${name} {`, `\t\ttype ${type} hook ${hook} priority ${prio}; policy accept;`];
}

/** The schema's bounds on the pool's prefix (src/profile/schema.ts jailPool). */
const MIN_POOL_PREFIX = 10;
const MAX_POOL_PREFIX = 20;

/** The jails' pool: an IPv4 network, its address as an unsigned 32-bit number. */
export interface JailPool {
  /** As nft and ip write it: `10.240.0.0/12`. */
  cidr: string;
  network: number;
  prefixLength: number;
}

/** One listener's jail port: where jails reach it, and where that leads. */
export interface JailPortRoute {
  listener: string;
  /** The listener's own address and port (what unjailed applications use). */
  address: string;
  port: number;
  /** The jails' SocksPort, on `address`. */
  jailPort: number;
}

export interface HostSideDesign {
  pool: JailPool;
  routes: JailPortRoute[];
}

/** Where `jails.pool` was read from (the top-most system layer that sets it), or null when no system layer sets it. */
export interface SourcedJails {
  pool: string;
  file: string;
}

const toNumber = (ip: readonly number[]) => ((ip[0]! << 24) | (ip[1]! << 16) | (ip[2]! << 8) | ip[3]!) >>> 0;
export const toAddress = (n: number) => [24, 16, 8, 0].map((shift) => (n >>> shift) & 255).join('.');
const maskOf = (prefixLength: number) => (prefixLength === 0 ? 0 : (0xffff_ffff << (32 - prefixLength)) >>> 0);

/** The dotted netmask of a group: `255.255.255.192`. */
export const GROUP_MASK = toAddress(maskOf(GROUP_PREFIX_LENGTH));

/** Whether ADDRESS (dotted quad) lies in POOL. */
export function inPool(pool: JailPool, address: string): boolean {
  const ip = parseIPv4(address);
  return ip !== null && (toNumber(ip) & maskOf(pool.prefixLength)) >>> 0 === pool.network;
}

/** The pool of CIDR, or why it cannot be one (the schema has checked the shape already; this checks the meaning). */
export function parsePool(cidr: string): JailPool | string {
  const match = /^([^/]+)\/(\d{1,2})$/.exec(cidr);
  const ip = match ? parseIPv4(match[1]!) : null;
  const prefixLength = match ? Number(match[2]) : NaN;
  if (!match || ip === null || !(prefixLength >= MIN_POOL_PREFIX && prefixLength <= MAX_POOL_PREFIX))
    return `'${cidr}' is not an IPv4 network of /${MIN_POOL_PREFIX} to /${MAX_POOL_PREFIX} (e.g. 10.240.0.0/12)`;
  const address = toNumber(ip);
  const network = (address & maskOf(prefixLength)) >>> 0;
  // 10.240.1.0/12 is most likely a typo (for 10.240.1.0/24?): which network was meant is not ours to guess.
  if (network !== address)
    return `${cidr} is not a network address: its last ${32 - prefixLength} bits must be 0 (${toAddress(network)}/${prefixLength})`;
  // Jails' addresses are sources the host routes back to: unicast, outside loopback and link-local.
  const first = ip[0]!;
  if (first === 0 || first === 127 || first >= 224 || (first === 169 && ip[1] === 254))
    return `${cidr} cannot hold jails' addresses: not a unicast range outside 0.0.0.0/8, 127.0.0.0/8, 169.254.0.0/16 and 224.0.0.0/3 (use a private range the machine does not use, e.g. 10.240.0.0/12)`;
  return { cidr, network, prefixLength };
}

/** The link of a listener's namespace, NETWORK/30 around its host end (src/placement/netns-setup.ts). */
function netnsLinkOf(address: string): string {
  return `${toAddress((toNumber(parseIPv4(address)!) & maskOf(30)) >>> 0)}/30`;
}

const isPort = (port: number) => Number.isInteger(port) && port >= 1 && port <= 65535;

type Problem = (l: ResolvedListener, field: string, message: string) => void;

/** Step 1: the pool and the listeners with a jail port, or a refusal that names what is missing. */
function poolAndJailed(
  all: ResolvedListener[],
  jails: SourcedJails | null,
  files: readonly string[],
): { pool: JailPool; jailed: ResolvedListener[] } {
  const nowhere = files.join(', ') || 'listeners.yml';
  if (jails === null)
    throw new ConfigError([
      {
        file: nowhere,
        message:
          'no jails.pool is set, so jails have no addresses: set one in the admin layer, e.g. jails: { pool: 10.240.0.0/12 }',
      },
    ]);
  const pool = parsePool(jails.pool);
  if (typeof pool === 'string') throw new ConfigError([{ file: jails.file, field: 'jails.pool', message: pool }]);
  const jailed = all.filter((l) => l.jailPort !== null);
  if (jailed.length === 0)
    throw new ConfigError([
      { file: nowhere, message: 'no listener declares a jail_port, so there is nothing to set up for jails' },
    ]);
  return { pool, jailed };
}

/**
 * Step 2: the pool is the jails' alone: no listener, no namespace link may
 * use an address in it. (A /30 lies wholly inside or outside a pool of /20
 * or more, so its host end tells.)
 */
function checkPoolIsFree(all: ResolvedListener[], pool: JailPool, problem: Problem): void {
  for (const l of all) {
    const used = [...new Set([l.address, l.connect.address])].find((a) => inPool(pool, a));
    if (used === undefined) continue;
    const link = l.netns && used === l.address ? netnsLinkOf(l.address) : null;
    problem(
      l,
      'address',
      link
        ? `the link of network namespace '${l.netns}' (${link}) is in the jails' pool ${pool.cidr}: the pool must not overlap any address in use`
        : `${used} is in the jails' pool ${pool.cidr}: the pool must not overlap any address in use`,
    );
  }
}

/** Step 3, for one listener: why its jail port cannot be routed (the field and the words), or null. */
function jailPortProblem(
  l: ResolvedListener,
  all: ResolvedListener[],
  jailPorts: ReadonlyMap<number, string>,
): [string, string] | null {
  const jailPort = l.jailPort!;
  if (!isPort(jailPort) || !isPort(l.port)) return ['jail_port', 'not a port number (1-65535)'];
  const ip = parseIPv4(l.address);
  if (ip === null)
    return [
      'jail_port',
      `${l.address} is not an IPv4 address: jails reach their SocksPort over IPv4 only, so a listener with a jail_port must listen on one`,
    ];
  if (ip[0] === 0 || ip[0]! >= 224)
    return ['jail_port', `${l.address} is not a unicast address: jails cannot be redirected to it`];
  const owner = all.find((other) => other.port === jailPort);
  if (owner !== undefined)
    return [
      'jail_port',
      `${jailPort} is ${owner === l ? 'its own' : `listener '${owner.name}'s`} port: a jail port must be a port of its own`,
    ];
  const twin = jailPorts.get(jailPort);
  if (twin !== undefined)
    return [
      'jail_port',
      `${jailPort} is already listener '${twin}'s jail port: jails tell their listeners apart by it`,
    ];
  return null;
}

/**
 * The host side as the system layers declare it. Refuses (ConfigError, 65)
 * when no pool is set, when the pool is not a usable network or overlaps a
 * listener's address or a namespace's link, when no listener declares a
 * jail_port, and when a jail_port is IPv6, is any listener's port, or
 * another listener's jail_port.
 *
 * LISTENERS are the system layers' (never the user layer's: jails are made
 * by root through the privileged entry, which reads only those); FILES are
 * their listeners.yml files, named when nothing declares what is missing.
 */
export function designHostSide(
  listeners: Iterable<ResolvedListener>,
  jails: SourcedJails | null,
  files: readonly string[],
): HostSideDesign {
  const all = [...listeners];
  const { pool, jailed } = poolAndJailed(all, jails, files);
  const problems: ConfigProblem[] = [];
  const problem: Problem = (l, field, message) =>
    problems.push({ file: l.file, field: `listeners.${l.name}${field ? `.${field}` : ''}`, message });
  checkPoolIsFree(all, pool, problem);
  const routes: JailPortRoute[] = [];
  const jailPorts = new Map<number, string>();
  for (const l of jailed) {
    // Names and numbers reach the ruleset's text: checked here again, not taken on trust.
    if (!NAME_PATTERN.test(l.name)) problem(l, '', 'not a valid listener name');
    const refused = jailPortProblem(l, all, jailPorts);
    if (refused !== null) {
      problem(l, ...refused);
      continue;
    }
    jailPorts.set(l.jailPort!, l.name);
    routes.push({ listener: l.name, address: l.address, port: l.port, jailPort: l.jailPort! });
  }
  if (problems.length) throw new ConfigError(problems);
  return { pool, routes };
}

const comment = (route: JailPortRoute) => `comment "listener ${route.listener}"`;

/**
 * The host side's nftables ruleset, for `nft -f -` in the host's namespace.
 * One transaction: the table is declared (so that deleting it cannot fail
 * when it is not there yet), deleted and written anew, so a second setup
 * replaces it atomically and the host is never without it.
 *
 * One `inet` table, NAT included (Linux 5.2 and nft 0.9.1 have NAT in inet
 * tables; bookworm has 6.1 and 1.0.6): one thing to install, check and
 * remove, whose filter chains see IPv4 and IPv6 alike, so IPv6 from a jail
 * is dropped by the same rules as everything else.
 *
 * Every rule matches only a `tlj*` interface, so nothing else in the host's
 * namespace changes. An accept here does not override another table's drop
 * (each base chain must accept): a host firewall whose input policy is drop
 * (Tails' ferm) needs its own accept for the jail ports.
 *
 * Built only from DESIGN, whose every part is validated (names, dotted quads,
 * integer ports): nothing the text holds can be read by nft as syntax.
 */
export function hostSideRuleset(design: HostSideDesign): string {
  const { pool, routes } = design;
  const jails = `"${JAIL_VETH_PREFIX}*"`;
  return [
    "# The jails' host side: written by 'tails-launch jail setup'.",
    `table inet ${HOST_SIDE_TABLE}`,
    `delete table inet ${HOST_SIDE_TABLE}`,
    `table inet ${HOST_SIDE_TABLE} {`,
    // A jail speaks only from the /30 routed through its own link: a source
    // that routes through another interface (another jail's address, anything
    // outside the pool) is dropped before NAT, so no jail can take another
    // group's address (reverse path check, before conntrack's NAT at -100).
    ...chainHead('jail_sources'),
    `\t\tiifname ${jails} fib saddr . iif oif missing drop`,
    '\t}',
    // The jail port, on whatever address of the link a jail aims at, leads to
    // the listener's jail SocksPort. A loopback ADDRESS (127.0.0.1) is routed
    // from a tlj* link only because each link has route_localnet=1: the
    // launch sets net.ipv4.conf.tljX.route_localnet=1 on the host end as it
    // makes it (src/jail/make-jail.ts); this table relies on it.
    ...chainHead('to_jail_ports'),
    ...routes.map(
      (r) =>
        `\t\tiifname ${jails} ip saddr ${pool.cidr} tcp dport ${r.jailPort} dnat ip to ${hostPort(r.address, r.jailPort)} ${comment(r)}`,
    ),
    '\t}',
    // The group's address as the source: the jail's /30 masked to its /26.
    // Tor isolates by client address, so this is the isolation group. After
    // the filter below (priority 100 > 0): only accepted connections get here.
    ...chainHead('group_address'),
    `\t\tiifname ${jails} snat ip to ip saddr & ${GROUP_MASK}`,
    '\t}',
    // From a jail the host accepts only the redirected connections to a jail
    // SocksPort (this hook sees the address after DNAT; conntrack's dnat bit
    // says it was redirected) and what belongs to them. Everything else from
    // a tlj* link is dropped without an answer: other ports and addresses of
    // the host, ICMP, UDP, IPv6 (its link-local address included).
    ...chainHead('from_jails'),
    `\t\tiifname != ${jails} accept`,
    '\t\tct state invalid drop',
    '\t\tct state established,related accept',
    ...routes.map(
      (r) =>
        `\t\tip saddr ${pool.cidr} ip daddr ${r.address} tcp dport ${r.jailPort} ct status dnat ct state new accept ${comment(r)}`,
    ),
    '\t\tdrop',
    '\t}',
    // Nothing is forwarded to or from a jail, whatever the host's ip_forward:
    // a jail reaches neither the network nor another jail. The pool's
    // addresses too (the route below leads them to lo, not to be bounced on).
    ...chainHead('no_forwarding'),
    `\t\tiifname ${jails} drop`,
    `\t\toifname ${jails} drop`,
    `\t\tip saddr ${pool.cidr} drop`,
    `\t\tip daddr ${pool.cidr} drop`,
    '\t}',
    // The host opens nothing into a jail: only what belongs to a connection
    // the jail opened goes out on its link. Postrouting, not output: the
    // output hook keeps the device routed BEFORE NAT restores the jail's own
    // address (a reply to a group address leaves on lo there); postrouting
    // sees the link the packet really takes.
    ...chainHead('into_jails'),
    `\t\toifname != ${jails} accept`,
    '\t\tct state established,related accept',
    '\t\tdrop',
    '\t}',
    '}',
    '',
  ].join('\n');
}

/**
 * The pool's route in the host's main table: `POOL dev lo`.
 *
 * Why: a reply to a jail is first routed to its GROUP address (the socket's
 * peer after the source NAT above), and only then does conntrack restore the
 * jail's own address and route it again, to the jail's link. The first
 * lookup must succeed: without this route the group address (the first /30
 * of the /26, the network address of its first jail's link) has a route only
 * while that first jail is alive, and a reply from 127.0.0.1 may only be
 * routed to a device with route_localnet (or to lo). So a jail in any other
 * slot of its group, alone, would never get an answer. Every jail's own
 * /30 is more specific, so this route takes only what no jail link does.
 */
export function poolRoute(design: Pick<HostSideDesign, 'pool'>): string[] {
  return [design.pool.cidr, 'dev', 'lo'];
}

/** What a jail port does, for the report: `listener 'default': jails reach 127.0.0.1:9150 (...)`. */
export function describeRoute(r: JailPortRoute): string {
  return `listener '${r.listener}': jails reach its jail port ${hostPort(r.address, r.jailPort)} (the listener itself is ${hostPort(r.address, r.port)})`;
}
