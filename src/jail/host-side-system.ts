// The side effects of `tails-launch jail setup/teardown`, and the launch's
// check that the host side is there: nft and ip, run by fixed absolute paths
// with argv arrays (never a shell), on what ./host-side.ts designed. Setup
// and teardown are root only (the caller checks).
//
// Each step looks before it acts, so that a second setup says what it found
// and a teardown of what is gone succeeds.
import { LaunchError } from '../errors/launch-error';
import { firstLine, IP, mustRun, NFT, requireTools, runTool, ToolError } from '../system/tools';
import type { JailsConfig } from '../profile/schema';
import type { Listener } from '../tor/listener';
import { HOST_SIDE_TABLE, hostSideRuleset, parsePool, poolRoute, type HostSideDesign } from './host-side';
import { installedPool, parseNftListing, tableProblem, type InstalledTable } from './host-side-check';

type TableState =
  { kind: 'absent' } | { kind: 'present'; table: InstalledTable } | { kind: 'unreadable'; detail: string };

const LIST_TABLE = [NFT, '-j', 'list', 'table', 'inet', HOST_SIDE_TABLE];

/** The installed table, read back through nft's JSON listing. */
function readTable(): TableState {
  const result = runTool(LIST_TABLE);
  if (result.status !== 0) {
    // nft's words for a table that does not exist (ENOENT from the kernel).
    if (/No such file or directory/.test(result.stderr)) return { kind: 'absent' };
    return { kind: 'unreadable', detail: firstLine(result) };
  }
  try {
    return { kind: 'present', table: parseNftListing(result.stdout) };
  } catch {
    return { kind: 'unreadable', detail: 'its JSON listing could not be read' };
  }
}

/** Whether the main table routes CIDR to lo (`ip route show exact` lists it). */
function poolRouteInstalled(cidr: string): boolean {
  const argv = [IP, '-j', 'route', 'show', 'table', 'main', 'exact', cidr, 'dev', 'lo'];
  const routes = JSON.parse(mustRun('read the routes', argv) || '[]') as { dst?: string }[];
  return routes.some((r) => r.dst === cidr);
}

export interface HostSideSetupOutcome {
  /** The table was there already (and has been replaced). */
  replaced: boolean;
  /** The pool's route was missing and has been added. */
  routeAdded: boolean;
  /** The route of the pool a previous setup used, removed (the pool changed). */
  oldRouteRemoved: string | null;
}

/**
 * Installs DESIGN's table (replacing any, atomically) and the pool's route;
 * idempotent. The table goes first: the route changes nothing a jail can
 * reach, the table is what lets it reach anything.
 */
export function installHostSide(design: HostSideDesign): HostSideSetupOutcome {
  requireTools([NFT, IP]);
  const what = "set up the jails' host side";
  const before = readTable();
  if (before.kind === 'unreadable') throw new ToolError(what, LIST_TABLE, before.detail);
  const oldPool = before.kind === 'present' ? installedPool(before.table) : null;
  mustRun(what, [NFT, '-f', '-'], hostSideRuleset(design));
  const routeAdded = !poolRouteInstalled(design.pool.cidr);
  if (routeAdded) mustRun(what, [IP, 'route', 'replace', ...poolRoute(design)]);
  let oldRouteRemoved: string | null = null;
  if (oldPool !== null && oldPool !== design.pool.cidr && poolRouteInstalled(oldPool)) {
    mustRun(what, [IP, 'route', 'delete', oldPool, 'dev', 'lo']);
    oldRouteRemoved = oldPool;
  }
  return { replaced: before.kind === 'present', routeAdded, oldRouteRemoved };
}

/**
 * Removes the table and the pool's route: the pool the table was set up
 * with, and CONFIGURED (today's jails.pool, when it can be read) in case
 * only the route was left. What is already gone is fine.
 */
export function removeHostSide(configured: string | null): { removed: string[] } {
  requireTools([NFT, IP]);
  const what = "tear down the jails' host side";
  const before = readTable();
  if (before.kind === 'unreadable') throw new ToolError(what, LIST_TABLE, before.detail);
  const removed: string[] = [];
  const pools = new Set<string>();
  if (before.kind === 'present') {
    const pool = installedPool(before.table);
    if (pool !== null) pools.add(pool);
    mustRun(what, [NFT, 'delete', 'table', 'inet', HOST_SIDE_TABLE]);
    removed.push(`table inet ${HOST_SIDE_TABLE}`);
  }
  if (configured !== null) pools.add(configured);
  for (const pool of pools) {
    if (!poolRouteInstalled(pool)) continue;
    mustRun(what, [IP, 'route', 'delete', pool, 'dev', 'lo']);
    removed.push(`route ${pool} dev lo`);
  }
  return { removed };
}

/**
 * Why a jail of LISTENER cannot reach Tor through the host side, or null
 * when it can: JAILS has a usable pool, the table is installed with this
 * listener's redirection for that pool, and the pool's route is there.
 *
 * Cheap enough for every jailed launch: one `nft -j list table` and one
 * `ip -j route show`, 5 to 8 ms together (measured in
 * test/integration/jail-host-side.test.ts). Reading the table needs root
 * (CAP_NET_ADMIN): as anyone else the answer is a problem saying so.
 */
export function hostSideProblem(
  listener: Pick<Listener, 'name' | 'address' | 'jailPort'>,
  jails: JailsConfig | null,
): string | null {
  if (listener.jailPort === null) return `listener '${listener.name}' has no jail_port, so it has no jails`;
  if (jails === null) return 'no jails.pool is set in the system configuration, so jails have no addresses';
  const pool = parsePool(jails.pool);
  if (typeof pool === 'string') return `jails.pool: ${pool}`;
  if (!requireable()) return `cannot check the jails' host side: ${NFT} or ${IP} is not installed`;
  const state = readTable();
  if (state.kind === 'absent')
    return `the jails' host side is not installed (no nftables table inet ${HOST_SIDE_TABLE}): run 'tails-launch jail setup' as root`;
  if (state.kind === 'unreadable') return `cannot check the jails' host side: ${NFT}: ${state.detail}`;
  const problem = tableProblem(state.table, { ...listener, jailPort: listener.jailPort }, pool);
  if (problem !== null) return problem;
  try {
    if (!poolRouteInstalled(pool.cidr))
      return `the jails' host side has no route ${pool.cidr} dev lo (replies to a group's address need it): run 'tails-launch jail setup' as root`;
  } catch (error) {
    if (error instanceof LaunchError) return `cannot check the jails' host side: ${error.message}`;
    throw error;
  }
  return null;
}

/** Whether nft and ip are installed (the check reports a missing tool as a problem, never throws). */
function requireable(): boolean {
  try {
    requireTools([NFT, IP]);
    return true;
  } catch {
    return false;
  }
}
