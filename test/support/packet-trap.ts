// A namespace for real applications on the private Tor network, and a trap
// for every packet that skips Tor.
//
// The namespace (ip netns NAME) holds everything: the private network's tors
// and the target servers (the host's programs, as root), and an image whose
// applications run as its users (tails7-apps.test.ts). It has loopback, and
// the target's address 10.99.0.1 on a port-less interface `tl0`, which also
// carries the default route: whatever an application sends outside Tor
// (a direct connection, a DNS query to the image's resolver 10.99.0.53, a
// UPnP M-SEARCH to 239.255.255.250) is a packet that leaves, never a send
// that fails for want of a route.
//
// The trap is an nftables output chain that counts every packet a socket of
// any user but root sends to an address that is not loopback: applications
// (and everything they start) run as their users; only the tors and our
// servers run as root. Reaching Tor is loopback (127.0.0.1:9050...), so a
// launch passes when the counter did not move. A dynamic set records what
// each packet was for (destination, protocol, port), so that a leak says what
// it was. Kernel packets (no socket) are not counted, nor loopback traffic
// between local programs (no packet of that leaves the machine).
import { execFileSync } from 'node:child_process';
import { TARGET_ADDRESS } from './private-tor-network';

/** Where the image's /etc/resolv.conf points: any name lookup outside Tor is a counted packet. */
export const DNS_TRAP = '10.99.0.53';

const TABLE = 'tl_skip_tor';

function ip(args: string[], input?: string): string {
  return execFileSync('ip', args, { encoding: 'utf8', input, stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
}

/** Creates namespace NS with loopback, the target's interface (default route) and the trap. */
export function createTrappedNamespace(ns: string): void {
  ip(['netns', 'add', ns]);
  const inNs = (args: string[], input?: string) => ip(['netns', 'exec', ns, ...args], input);
  inNs(['ip', 'link', 'set', 'lo', 'up']);
  // A dummy interface, or where the kernel has no dummy driver a bridge with no ports.
  try {
    inNs(['ip', 'link', 'add', 'tl0', 'type', 'dummy']);
  } catch {
    inNs(['ip', 'link', 'add', 'tl0', 'type', 'bridge']);
  }
  inNs(['ip', 'addr', 'add', `${TARGET_ADDRESS}/24`, 'dev', 'tl0']);
  inNs(['ip', 'link', 'set', 'tl0', 'up']);
  inNs(['ip', 'route', 'add', 'default', 'dev', 'tl0']);
  inNs(['ip', '-6', 'addr', 'add', 'fd00:99::1/64', 'dev', 'tl0', 'nodad']);
  inNs(['ip', '-6', 'route', 'add', 'default', 'dev', 'tl0']);
  addTrap(ns);
}

/**
 * Puts the trap into namespace NS (a name of ip netns, or a path to enter
 * with nsenter: a namespace made inside an image). PRIORITY: its output
 * hook's (0; before a firewall of the namespace's own that would drop the
 * packet first, lower); ALLOW: nft matches for the ways to Tor there besides
 * loopback (as the hook sees them: after a redirection at priority -100).
 */
export function addTrap(ns: string, { priority = 0, allow = [] as string[] } = {}): void {
  const rules = [
    `table inet ${TABLE} {`,
    '  set seen4 { type ipv4_addr . inet_proto . inet_service; flags dynamic; size 4096; }',
    '  set seen6 { type ipv6_addr . inet_proto . inet_service; flags dynamic; size 4096; }',
    '  chain out {',
    `    type filter hook output priority ${priority}; policy accept;`,
    // A socket of root's, or no socket at all (the kernel's own packets): not counted.
    '    meta skuid 0 accept',
    '    ip daddr 127.0.0.0/8 accept',
    '    ip6 daddr ::1 accept',
    ...allow.map((match) => `    ${match} accept`),
    '    meta skuid != 0 counter',
    '    meta skuid != 0 meta nfproto ipv4 meta l4proto { tcp, udp } add @seen4 { ip daddr . meta l4proto . th dport }',
    '    meta skuid != 0 meta nfproto ipv6 meta l4proto { tcp, udp } add @seen6 { ip6 daddr . meta l4proto . th dport }',
    '  }',
    '}',
  ].join('\n');
  inNetns(ns, ['nft', '-f', '-'], rules);
}

/** ARGV run in namespace NS: a name (ip netns exec) or a path (nsenter --net=). */
function inNetns(ns: string, argv: string[], input?: string): string {
  if (!ns.startsWith('/')) return ip(['netns', 'exec', ns, ...argv], input);
  return execFileSync('nsenter', [`--net=${ns}`, '--', ...argv], {
    encoding: 'utf8',
    input,
    stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
}

/** Deletes the namespace (its trap goes with it). */
export function deleteTrappedNamespace(ns: string): void {
  try {
    ip(['netns', 'delete', ns]);
  } catch {
    // already gone
  }
}

export interface TrapReading {
  packets: number;
  /** "ADDRESS proto PORT" of every packet counted since the namespace was made. */
  seen: string[];
}

/** Forgets what the trap recorded (its counter goes on): a reading after it lists only what came since. */
export function clearTrapRecords(ns: string): void {
  for (const set of ['seen4', 'seen6']) inNetns(ns, ['nft', 'flush', 'set', 'inet', TABLE, set]);
}

/** The trap's counter and what it recorded. */
export function readTrap(ns: string): TrapReading {
  const listing = inNetns(ns, ['nft', 'list', 'table', 'inet', TABLE]);
  const packets = /counter packets (\d+)/.exec(listing);
  if (!packets) throw new Error(`the packet trap: no counter in\n${listing}`);
  const seen: string[] = [];
  for (const m of listing.matchAll(/elements = \{([^}]*)\}/g))
    for (const element of m[1]!.split(',')) {
      const parts = element.trim().split(' . ');
      if (parts.length === 3) seen.push(parts.join(' '));
    }
  return { packets: Number(packets[1]), seen };
}
