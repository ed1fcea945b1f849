import { ConfigError, formatProblem } from '../../profile/config-error';
import { configLayers } from '../../profile/layers';
import { listProfiles, loadJails, loadListeners } from '../../profile/load';
import { NO_CACHE } from '../../profile/parsed-cache';
import type { GuardDecision } from '../../jail/guard';
import { guardOf } from '../guard-of';
import { resolveProfile, type ResolvedProfile } from '../../profile/resolve';
import { EXIT } from '../../errors/exit-codes';
import { escapeControl } from '../../errors/escape-control';
import { writeAll } from '../output';
import type { Command } from '../parse-args';

type Entry = { name: string; profile: ResolvedProfile; guard: GuardDecision } | { name: string; error: string };

/** 'jail (user)', 'preload (torsocks)', 'host', or why none can be had. */
function guardWord(g: GuardDecision): string {
  return g.ok ? (g.guard.kind === 'host' ? 'host' : `${g.guard.kind} (${g.guard.by})`) : 'NONE';
}

function toJson(entry: Entry): unknown {
  if ('error' in entry) return { name: entry.name, error: entry.error };
  const p = entry.profile;
  return {
    name: p.name,
    description: p.description,
    listener: {
      name: p.listener.name,
      address: p.listener.address,
      port: p.listener.port,
      flags: p.listener.flags,
      netns: p.listener.netns,
    },
    isolation: p.isolation,
    backend: p.backend,
    placement: p.placement,
    guard: entry.guard.ok ? entry.guard.guard : { kind: null, problem: entry.guard.problem },
    sources: p.sources,
  };
}

function table(entries: Entry[]): string {
  const rows = entries.map((e) =>
    'error' in e
      ? [e.name, 'INVALID', '', '', '', e.error]
      : [
          e.name,
          `${e.profile.listener.name} ${e.profile.listener.address}:${e.profile.listener.port}`,
          e.profile.isolation,
          e.profile.backend,
          guardWord(e.guard),
          e.profile.description ?? '',
        ],
  );
  const all = [['PROFILE', 'LISTENER', 'ISOLATION', 'BACKEND', 'GUARD', 'DESCRIPTION'], ...rows];
  const widths = [0, 1, 2, 3, 4].map((c) => Math.max(...all.map((r) => r[c]!.length)));
  // A description from a file cannot add rows or send terminal escapes.
  return `${all
    .map((r) =>
      escapeControl(
        r
          .map((cell, c) => (c < 5 ? cell.padEnd(widths[c]!) : cell))
          .join('  ')
          .trimEnd(),
      ),
    )
    .join('\n')}\n`;
}

/** Every profile of every layer, resolved. Exit 65 when any is invalid (after listing them all). */
export async function list(command: Extract<Command, { kind: 'list' }>): Promise<number> {
  const layers = configLayers(command.options.configDir, process.env);
  const listeners = await loadListeners(layers);
  const { profiles, problems } = listProfiles(layers);
  const jails = await loadJails(layers);
  const uid = process.getuid?.() ?? -1;
  const entries: Entry[] = [];
  for (const name of [...profiles.keys()].sort()) {
    try {
      const profile = await resolveProfile(layers, listeners, name);
      entries.push({ name, profile, guard: await guardOf(profile, profile.jail, jails, layers, NO_CACHE, uid) });
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      entries.push({ name, error: formatProblem(error.problems[0]!) });
    }
  }
  if (command.names) writeAll(1, entries.map((e) => `${e.name}\n`).join(''));
  else writeAll(1, command.json ? `${JSON.stringify(entries.map(toJson), null, 2)}\n` : table(entries));
  // The table says which profiles are broken; stderr says why, for scripts.
  for (const entry of entries)
    if ('error' in entry) writeAll(2, `tails-launch: profile '${entry.name}' is invalid: ${entry.error}\n`);
  for (const problem of problems) writeAll(2, `tails-launch: ${formatProblem(problem)}\n`);
  return entries.some((e) => 'error' in e) || problems.length ? EXIT.config : 0;
}
