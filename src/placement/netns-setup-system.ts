// The side effects of `tails-launch netns setup/teardown NAME`: iproute2's
// ip, sysctl and nft, run by fixed absolute paths with argv arrays (never a
// shell), on what ./netns-setup.ts designed. Root only (the caller checks).
//
// Each step looks before it acts, so that a second setup changes only what
// is missing or wrong (and says what), and a teardown of what is gone succeeds.
import { existsSync } from 'node:fs';
import { LaunchError } from '../errors/launch-error';
import { netnsPath } from './netns';
import { IP, mustRun, NFT, requireTools, runTool, SYSCTL, ToolError } from '../system/tools';
import { hostVethName } from './netns-setup-name';
import {
  hostSysctls,
  INSIDE_IPV6_SYSCTLS,
  INSIDE_SYSCTLS,
  netnsRuleset,
  PREFIX_LENGTH,
  type NetnsDesign,
} from './netns-setup';

interface Link {
  ifindex: number;
  ifname: string;
  link_index?: number;
  link_netnsid?: number;
  flags?: string[];
  addr_info?: { family: string; local: string; prefixlen: number }[];
}

/** `ip [-n NS] -j link show` (or `addr show`): the links of NS, or of this namespace. */
function links(what: string, ns: string | null, addresses = false): Link[] {
  const argv = [IP, ...(ns === null ? [] : ['-n', ns]), '-j', addresses ? 'address' : 'link', 'show'];
  try {
    return JSON.parse(mustRun(what, argv) || '[]') as Link[];
  } catch (error) {
    if (error instanceof LaunchError) throw error;
    throw new ToolError(what, argv, 'its JSON output could not be read');
  }
}

/** A namespace file that `ip` can enter: a live namespace, not a stale or foreign file. */
function namespaceUsable(name: string): boolean {
  return runTool([IP, '-n', name, 'link', 'show', 'lo']).status === 0;
}

/** The netnsid this namespace gives namespace NAME (how a veth here names the namespace of its peer). */
function netnsId(name: string): number | undefined {
  const list = JSON.parse(mustRun('list network namespaces', [IP, '-j', 'netns', 'list']) || '[]') as {
    name: string;
    id?: number;
  }[];
  return list.find((n) => n.name === name)?.id;
}

export interface SetupOutcome {
  /** The namespace did not exist (or only as a stale file): everything was made anew. */
  created: boolean;
  /** A stale /run/netns/NAME was removed first. */
  replacedStale: boolean;
  /** What a second setup found missing or wrong, and fixed. */
  fixed: string[];
}

/**
 * Makes DESIGN's namespace exist as designed; idempotent. The ruleset goes in
 * right after the namespace exists, before any link can carry a packet, and is
 * replaced atomically on every run.
 */
export function setUpNetns(design: NetnsDesign): SetupOutcome {
  requireTools([IP, SYSCTL, NFT]);
  const { name, hostVeth, insideVeth } = design;
  const what = `set up network namespace '${name}'`;
  const fixed: string[] = [];
  let created = false;
  let replacedStale = false;

  if (existsSync(netnsPath(name)) && !namespaceUsable(name)) {
    // A file left behind (a crash, or an `ip netns add` whose mount did not outlive it).
    mustRun(what, [IP, 'netns', 'delete', name]);
    replacedStale = true;
  }
  if (!existsSync(netnsPath(name))) {
    mustRun(what, [IP, 'netns', 'add', name]);
    created = true;
  }

  // The firewall first: from here on nothing leaves the namespace but what it allows.
  mustRun(what, [IP, 'netns', 'exec', name, NFT, '-f', '-'], netnsRuleset(design));

  // The veth pair: both ends present and each other's peer, else made anew.
  const host = links(what, null).find((l) => l.ifname === hostVeth);
  const inside = links(what, name).find((l) => l.ifname === insideVeth);
  const paired =
    host !== undefined &&
    inside !== undefined &&
    host.link_index === inside.ifindex &&
    inside.link_index === host.ifindex &&
    host.link_netnsid !== undefined &&
    host.link_netnsid === netnsId(name);
  if (!paired) {
    if (host) mustRun(what, [IP, 'link', 'delete', hostVeth]);
    if (inside) mustRun(what, [IP, '-n', name, 'link', 'delete', insideVeth]);
    // The inside end is created in the namespace directly: no moment where a
    // `veth0` exists on the host (where one may already be).
    mustRun(what, [IP, 'link', 'add', hostVeth, 'type', 'veth', 'peer', 'name', insideVeth, 'netns', name]);
    if (!created)
      fixed.push(host || inside ? `remade the veth pair ${hostVeth} <-> ${insideVeth}` : `made ${hostVeth}`);
  }

  // Before the links go up: IPv6 off inside (no link-local address to send from),
  // forwarding off on both ends, route_localnet on inside.
  mustRun(what, [SYSCTL, '-q', '-w', ...hostSysctls(design)]);
  mustRun(what, [IP, 'netns', 'exec', name, SYSCTL, '-q', '-w', ...INSIDE_SYSCTLS]);
  // -e: a kernel without IPv6 has no such key, and then nothing to turn off.
  mustRun(what, [IP, 'netns', 'exec', name, SYSCTL, '-q', '-e', '-w', ...INSIDE_IPV6_SYSCTLS]);

  setAddress(what, null, hostVeth, design.hostAddress, created, fixed);
  setAddress(what, name, insideVeth, design.insideAddress, created, fixed);
  bringUp(what, null, hostVeth, created, fixed);
  bringUp(what, name, 'lo', created, fixed);
  bringUp(what, name, insideVeth, created, fixed);
  return { created, replacedStale, fixed };
}

/** Gives DEV (in NS, or here) exactly ADDRESS/30 as its IPv4 address. */
function setAddress(
  what: string,
  ns: string | null,
  dev: string,
  address: string,
  created: boolean,
  fixed: string[],
): void {
  const ip = ns === null ? [IP] : [IP, '-n', ns];
  const current = (links(what, ns, true).find((l) => l.ifname === dev)?.addr_info ?? []).filter(
    (a) => a.family === 'inet',
  );
  if (current.length === 1 && current[0]!.local === address && current[0]!.prefixlen === PREFIX_LENGTH) return;
  if (current.length) mustRun(what, [...ip, '-4', 'address', 'flush', 'dev', dev]);
  mustRun(what, [...ip, 'address', 'add', `${address}/${PREFIX_LENGTH}`, 'dev', dev]);
  if (!created) fixed.push(`set ${dev}'s address to ${address}/${PREFIX_LENGTH}`);
}

function bringUp(what: string, ns: string | null, dev: string, created: boolean, fixed: string[]): void {
  const link = links(what, ns).find((l) => l.ifname === dev);
  if (link?.flags?.includes('UP')) return;
  mustRun(what, [...(ns === null ? [IP] : [IP, '-n', ns]), 'link', 'set', 'dev', dev, 'up']);
  if (!created) fixed.push(`brought ${dev} up`);
}

export interface TeardownOutcome {
  removed: string[];
}

/** Deletes namespace NAME's host veth and the namespace (its veth0 goes with it); what is already gone is fine. */
export function tearDownNetns(name: string): TeardownOutcome {
  requireTools([IP]);
  const what = `tear down network namespace '${name}'`;
  const hostVeth = hostVethName(name);
  const removed: string[] = [];
  // The veth first, as Tails does: whatever still runs inside loses its link at once.
  if (links(what, null).some((l) => l.ifname === hostVeth)) {
    mustRun(what, [IP, 'link', 'delete', hostVeth]);
    removed.push(hostVeth);
  }
  if (existsSync(netnsPath(name))) {
    mustRun(what, [IP, 'netns', 'delete', name]);
    removed.push(`the namespace (${netnsPath(name)})`);
  }
  return { removed };
}
