// What a jail's own network namespace holds, as data (pure): its link, its
// sysctls and its nftables ruleset. The application inside reaches exactly
// one endpoint, its listener's client address (127.0.0.1:PORT), which is
// redirected to the jails' SocksPort through the host end of the veth pair;
// every other connection is refused at once (TCP reset, ICMP unreachable),
// UDP and raw sockets included. There is no IPv6 at all, no default route,
// nothing listening.
import type { JailSlot } from './address';

export const INSIDE_VETH = 'veth0';

export interface JailEndpoint {
  /** Where the application connects inside (the listener's client address). */
  connect: { address: string; port: number };
  /** The jails' SocksPort of the listener, reached at the host end of the veth. */
  jailPort: number;
}

/** Inside the jail: a DNAT from the client address to the host end, the jail's own source, and nothing else out. */
export function insideRuleset(slot: JailSlot, endpoint: JailEndpoint): string {
  const { connect, jailPort } = endpoint;
  return `table inet tails_launch_jail
delete table inet tails_launch_jail
table inet tails_launch_jail {
  chain to_listener {
    type nat hook output priority -100; policy accept;
    ip daddr ${connect.address} tcp dport ${connect.port} dnat ip to ${slot.host}:${jailPort}
  }
  chain own_source {
    type nat hook postrouting priority 100; policy accept;
    oifname "${INSIDE_VETH}" snat ip to ${slot.jail}
  }
  chain allow_out {
    type filter hook output priority 0; policy drop;
    oifname "lo" ct status & dnat == 0 accept
    # No oifname here: the output hook's device is still lo for a packet the
    # DNAT above rerouted (the hook state keeps the device it started with).
    ip daddr ${slot.host} tcp dport ${jailPort} ct status dnat accept
    ct state established,related accept
    meta l4proto tcp reject with tcp reset
    reject with icmpx type admin-prohibited
  }
  chain allow_in {
    type filter hook input priority 0; policy drop;
    iifname "lo" accept
    ct state established,related accept
  }
}
`;
}

/**
 * Sysctls inside the jail: loopback addresses may be routed out once
 * redirected (route_localnet, as Tails' tails-create-netns), no forwarding,
 * no IPv6 anywhere.
 */
export const INSIDE_SYSCTLS: [string, string][] = [
  ['net.ipv4.conf.all.route_localnet', '1'],
  ['net.ipv4.ip_forward', '0'],
  ['net.ipv6.conf.all.disable_ipv6', '1'],
  ['net.ipv6.conf.default.disable_ipv6', '1'],
  ['net.ipv6.conf.lo.disable_ipv6', '1'],
];

/** Sysctls of the host end (they go with the link): the DNAT to the loopback SocksPort needs route_localnet there; no IPv6. */
export function hostEndSysctls(slot: JailSlot): [string, string][] {
  return [
    [`net.ipv4.conf.${slot.veth}.route_localnet`, '1'],
    [`net.ipv6.conf.${slot.veth}.disable_ipv6`, '1'],
  ];
}
