// Reading the installed host side back (pure): nft's JSON listing of the
// table (`nft -j list table inet tails_launch_jails`, json_schema_version 1)
// as chains and rules, the pool it was set up with, and whether it holds what
// one listener's jails need. ./host-side-system.ts runs nft; the launch
// calls hostSideProblem there before making a jail.
import { hostPort } from '../tor/address';
import {
  GROUP_MASK,
  HOST_SIDE_CHAINS,
  HOST_SIDE_TABLE,
  JAIL_VETH_PREFIX,
  type HostSideChain,
  type JailPool,
} from './host-side';

interface NftChain {
  name: string;
  type?: string;
  hook?: string;
  prio?: number;
  policy?: string;
}

interface NftRule {
  chain: string;
  expr: unknown[];
}

export interface InstalledTable {
  chains: NftChain[];
  rules: NftRule[];
}

/** The chains and rules of our table in nft's JSON listing; throws (SyntaxError, TypeError) on what is not one. */
export function parseNftListing(json: string): InstalledTable {
  const objects = (JSON.parse(json) as { nftables: Record<string, unknown>[] }).nftables;
  if (!Array.isArray(objects)) throw new TypeError('no nftables array');
  const ours = (o: { table?: string; family?: string }) => o.table === HOST_SIDE_TABLE && o.family === 'inet';
  const chains: NftChain[] = [];
  const rules: NftRule[] = [];
  for (const object of objects) {
    const chain = object.chain as (NftChain & { table?: string; family?: string }) | undefined;
    if (chain && ours(chain)) chains.push(chain);
    const rule = object.rule as (NftRule & { table?: string; family?: string }) | undefined;
    if (rule && ours(rule) && Array.isArray(rule.expr)) rules.push(rule);
  }
  return { chains, rules };
}

/** The value a rule compares PROTOCOL's FIELD with (`ip saddr 10.240.0.0/12` -> its prefix object), or undefined. */
function compared(rule: NftRule, protocol: string, field: string): unknown {
  for (const e of rule.expr) {
    const match = (
      e as { match?: { op?: string; left?: { payload?: { protocol?: string; field?: string } }; right?: unknown } }
    ).match;
    if (match?.op === '==' && match.left?.payload?.protocol === protocol && match.left.payload.field === field)
      return match.right;
  }
  return undefined;
}

/** Whether the rule matches the tlj* interfaces coming in. */
function fromJails(rule: NftRule): boolean {
  return rule.expr.some((e) => {
    const match = (e as { match?: { op?: string; left?: { meta?: { key?: string } }; right?: unknown } }).match;
    return match?.op === '==' && match.left?.meta?.key === 'iifname' && match.right === `${JAIL_VETH_PREFIX}*`;
  });
}

const has = (rule: NftRule, key: string) => rule.expr.some((e) => typeof e === 'object' && e !== null && key in e);
const prefixOf = (value: unknown) => {
  const prefix = (value as { prefix?: { addr?: string; len?: number } } | undefined)?.prefix;
  return prefix?.addr !== undefined && prefix.len !== undefined ? `${prefix.addr}/${prefix.len}` : null;
};

/** The pool the table was set up with (the source its redirections accept), or null when it has none. */
export function installedPool(table: InstalledTable): string | null {
  for (const rule of table.rules.filter((r) => r.chain === 'to_jail_ports')) {
    const pool = prefixOf(compared(rule, 'ip', 'saddr'));
    if (pool !== null) return pool;
  }
  return null;
}

export interface JailedListener {
  name: string;
  address: string;
  jailPort: number;
}

/**
 * Why TABLE does not carry LISTENER's jails with POOL, or null when it does:
 * every chain hooked as `jail setup` hooks it, the redirection of the jail
 * port to ADDRESS:JAIL_PORT from the pool, its accept, and the group address.
 */
export function tableProblem(table: InstalledTable, listener: JailedListener, pool: JailPool): string | null {
  const setup = "run 'tails-launch jail setup' as root";
  for (const [name, want] of Object.entries(HOST_SIDE_CHAINS)) {
    const chain = table.chains.find((c) => c.name === name);
    if (!chain || chain.type !== want.type || chain.hook !== want.hook || chain.prio !== want.prio)
      return `the jails' host side (table inet ${HOST_SIDE_TABLE}) has no chain ${name} on ${want.hook}: ${setup}`;
  }
  const where = hostPort(listener.address, listener.jailPort);
  const inChain = (chain: HostSideChain) => table.rules.filter((r) => r.chain === chain);
  const installed = installedPool(table);
  if (installed !== pool.cidr)
    return `the jails' host side was set up for the pool ${installed ?? '(none)'}, not ${pool.cidr}: ${setup}`;
  const redirected = inChain('to_jail_ports').some((rule) => {
    const dnat = rule.expr.find((e) => typeof e === 'object' && e !== null && 'dnat' in e) as
      { dnat: { family?: string; addr?: string; port?: number } } | undefined;
    return (
      fromJails(rule) &&
      prefixOf(compared(rule, 'ip', 'saddr')) === pool.cidr &&
      compared(rule, 'tcp', 'dport') === listener.jailPort &&
      dnat?.dnat.addr === listener.address &&
      dnat.dnat.port === listener.jailPort
    );
  });
  if (!redirected)
    return `the jails' host side does not redirect jail port ${listener.jailPort} to ${where} (listener '${listener.name}'): ${setup}`;
  const accepted = inChain('from_jails').some(
    (rule) =>
      compared(rule, 'ip', 'daddr') === listener.address &&
      compared(rule, 'tcp', 'dport') === listener.jailPort &&
      has(rule, 'accept'),
  );
  if (!accepted)
    return `the jails' host side does not let jails reach ${where} (listener '${listener.name}'): ${setup}`;
  const grouped = inChain('group_address').some((rule) =>
    rule.expr.some((e) => {
      const addr = (e as { snat?: { addr?: { '&'?: unknown[] } } }).snat?.addr?.['&'];
      return Array.isArray(addr) && addr[1] === GROUP_MASK;
    }),
  );
  if (!grouped)
    return `the jails' host side does not give jails their group's address (snat to ip saddr & ${GROUP_MASK}): ${setup}`;
  return null;
}
