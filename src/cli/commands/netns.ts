// `tails-launch netns setup NAME` and `tails-launch netns teardown NAME`
// (root only): the network namespace that the listeners with `netns: NAME`
// are reached from, made Tails' way (src/placement/netns-setup.ts designs
// it, src/placement/netns-setup-system.ts makes it). A few lines on stdout
// say what was done; a failure is one line on stderr with its status:
// 77 not root, 65 a declaration that cannot be set up, 127 a missing tool,
// 1 a tool (ip, sysctl, nft) that failed.
import { EXIT } from '../../errors/exit-codes';
import { LaunchError } from '../../errors/launch-error';
import { netnsPath } from '../../placement/netns';
import { designNetns, describeExposure } from '../../placement/netns-setup';
import { setUpNetns, tearDownNetns } from '../../placement/netns-setup-system';
import { ConfigError } from '../../profile/config-error';
import { configLayers } from '../../profile/layers';
import { loadListeners } from '../../profile/load';
import { NO_CACHE } from '../../profile/parsed-cache';
import { resolveListener } from '../../profile/resolve';
import { layerListenerProblems } from '../../profile/weaken';
import { writeAll } from '../output';
import type { Command } from '../parse-args';

type NetnsCommand = Extract<Command, { kind: 'netns' }>;

export async function netns(command: NetnsCommand): Promise<number> {
  // Before reading anything: the caller learns first that this is not theirs to do.
  if (process.geteuid?.() !== 0) {
    throw new LaunchError(
      EXIT.refused,
      `netns ${command.action} changes the system's network namespaces: run it as root (sudo tails-launch netns ${command.action} ${command.name})`,
    );
  }
  return command.action === 'setup' ? setup(command) : teardown(command);
}

async function setup(command: NetnsCommand): Promise<number> {
  const layers = configLayers(command.options.configDir, process.env);
  const sourced = await loadListeners(layers);
  // A user listeners.yml may not redefine a system listener: the same rule as a launch.
  const problems = await layerListenerProblems(layers, sourced, NO_CACHE);
  if (problems.length) throw new ConfigError(problems);
  const design = designNetns(
    command.name,
    [...sourced.values()].map((l) => resolveListener(l, layers)),
  );
  const outcome = setUpNetns(design);
  const { name, hostVeth, insideVeth, hostAddress, insideAddress } = design;
  const lines = [
    outcome.created
      ? `network namespace '${name}' created${outcome.replacedStale ? ` in place of a stale ${netnsPath(name)}` : ''}`
      : `network namespace '${name}' was already there: ${[...outcome.fixed, 'firewall re-applied'].join('; ')}`,
    `  link: ${hostVeth} ${hostAddress}/30 (here) <-> ${insideVeth} ${insideAddress}/30 (inside '${name}')`,
    ...design.exposures.map((e) => `  inside: ${describeExposure(e)}`),
    `  nothing else is reachable from inside '${name}'`,
  ];
  writeAll(1, `${lines.join('\n')}\n`);
  return 0;
}

function teardown(command: NetnsCommand): number {
  const { removed } = tearDownNetns(command.name);
  writeAll(
    1,
    removed.length
      ? `network namespace '${command.name}' removed: deleted ${removed.join(' and ')}\n`
      : `network namespace '${command.name}' is already gone: nothing to remove\n`,
  );
  return 0;
}
