// `tails-launch jail setup` and `tails-launch jail teardown` (root only): the
// static host side of jails, installed once (at boot, say), from the system
// layers' listeners that declare a jail_port and their jails.pool
// (src/jail/host-side.ts designs it, src/jail/host-side-system.ts installs
// it). A few lines on stdout say what was done; a failure is one line on
// stderr with its status: 77 not root, 65 a declaration that cannot be set
// up, 127 a missing tool, 1 a tool (nft, ip) that failed.
import { join } from 'node:path';
import { EXIT } from '../../errors/exit-codes';
import { LaunchError } from '../../errors/launch-error';
import {
  designHostSide,
  describeRoute,
  HOST_SIDE_TABLE,
  JAIL_VETH_PREFIX,
  parsePool,
  type SourcedJails,
} from '../../jail/host-side';
import { installHostSide, removeHostSide } from '../../jail/host-side-system';
import { ConfigError } from '../../profile/config-error';
import { configLayers, type Layer } from '../../profile/layers';
import { loadListeners, readListenersFile } from '../../profile/load';
import { NO_CACHE } from '../../profile/parsed-cache';
import { resolveListener } from '../../profile/resolve';
import { layerListenerProblems } from '../../profile/weaken';
import { writeAll } from '../output';
import type { Command } from '../parse-args';

type JailCommand = Extract<Command, { kind: 'jail' }>;

export async function jail(command: JailCommand): Promise<number> {
  // Before reading anything: the caller learns first that this is not theirs to do.
  if (process.geteuid?.() !== 0) {
    throw new LaunchError(
      EXIT.refused,
      `jail ${command.action} changes the system's firewall: run it as root (sudo tails-launch jail ${command.action})`,
    );
  }
  return command.action === 'setup' ? setup(command) : teardown(command);
}

/**
 * The layers jails are made from: shipped and admin (or --config-dir), never
 * the user layer, as the privileged entry that makes jails reads only those.
 */
function systemLayers(command: JailCommand): Layer[] {
  return configLayers(command.options.configDir, process.env).filter((l) => l.name !== 'user');
}

/** The top-most system layer's jails section, and its file (named in a refusal). */
async function loadSourcedJails(layers: Layer[]): Promise<SourcedJails | null> {
  let jails: SourcedJails | null = null;
  for (const layer of layers) {
    const file = join(layer.dir, 'listeners.yml');
    const pool = (await readListenersFile(file, NO_CACHE))?.jails?.pool;
    if (pool !== undefined) jails = { pool, file };
  }
  return jails;
}

async function setup(command: JailCommand): Promise<number> {
  const layers = systemLayers(command);
  const sourced = await loadListeners(layers);
  const problems = await layerListenerProblems(layers, sourced, NO_CACHE);
  if (problems.length) throw new ConfigError(problems);
  const design = designHostSide(
    [...sourced.values()].map((l) => resolveListener(l, layers)),
    await loadSourcedJails(layers),
    layers.map((l) => join(l.dir, 'listeners.yml')),
  );
  const outcome = installHostSide(design);
  const { pool } = design;
  const changes = [
    'table replaced',
    ...(outcome.routeAdded ? [`route ${pool.cidr} dev lo added`] : []),
    ...(outcome.oldRouteRemoved ? [`route ${outcome.oldRouteRemoved} dev lo of the previous pool removed`] : []),
  ];
  const lines = [
    outcome.replaced
      ? `jails' host side was already there: ${changes.join('; ')}`
      : `jails' host side installed: nftables table inet ${HOST_SIDE_TABLE}, route ${pool.cidr} dev lo`,
    `  pool ${pool.cidr}: a /30 per jail (its link ${JAIL_VETH_PREFIX}... here), a /26 per isolation group, whose first address Tor sees`,
    ...design.routes.map((r) => `  ${describeRoute(r)}`),
    '  nothing else is reachable from a jail, and nothing is forwarded to or from one',
  ];
  writeAll(1, `${lines.join('\n')}\n`);
  return 0;
}

async function teardown(command: JailCommand): Promise<number> {
  // Today's pool too, in case only its route was left; a configuration that
  // cannot be read does not stop a teardown (the table names its own pool).
  let configured: string | null = null;
  try {
    const pool = parsePool((await loadSourcedJails(systemLayers(command)))?.pool ?? '');
    configured = typeof pool === 'string' ? null : pool.cidr;
  } catch (error) {
    if (!(error instanceof LaunchError)) throw error;
  }
  const { removed } = removeHostSide(configured);
  writeAll(
    1,
    removed.length
      ? `jails' host side removed: deleted ${removed.join(' and ')}\n`
      : "jails' host side is already gone: nothing to remove\n",
  );
  return 0;
}
