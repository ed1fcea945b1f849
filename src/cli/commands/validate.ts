import { realpathSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { ConfigError, formatProblem, type ConfigProblem } from '../../profile/config-error';
import { configLayers, type Layer } from '../../profile/layers';
import { listProfiles, loadListeners, readListenersFile, readProfileFile } from '../../profile/load';
import { isValidProfileName } from '../../vocabulary/names';
import { NO_CACHE } from '../../profile/parsed-cache';
import { resolveProfile } from '../../profile/resolve';
import { layerListenerProblems, listenersFileProblems } from '../../profile/weaken';
import { EXIT } from '../../errors/exit-codes';
import { writeAll } from '../output';
import type { Command } from '../parse-args';

async function collect(problems: ConfigProblem[], work: () => Promise<unknown>): Promise<void> {
  try {
    await work();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(...error.problems);
  }
}

/** PATH with symbolic links resolved, as far as it exists (a layer reached through a link is still that layer). */
function realPath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
}

/**
 * The layer FILE belongs to: the one whose `profiles/` directory (or
 * listeners file) it is in. A file anywhere else, a draft, is checked as if
 * it were in the top layer (the user's, or --config-dir's): the question
 * being "could I put this in my configuration?".
 */
function layerOfFile(
  layers: Layer[],
  file: string,
  kind: 'listeners' | 'profile',
): { index: number; inLayer: boolean } {
  const where = kind === 'listeners' ? realPath(file) : realPath(dirname(file));
  for (let index = layers.length - 1; index >= 0; index--) {
    const dir = layers[index]!.dir;
    const place = kind === 'listeners' ? join(dir, basename(file)) : join(dir, 'profiles');
    if (realPath(place) === where) return { index, inLayer: true };
  }
  return { index: layers.length - 1, inLayer: false };
}

/**
 * One file, by its kind (`listeners.*` holds listeners, anything else is a
 * profile), under every rule a launch applies to it: the schema, then, in
 * the layer it belongs to, the layer rules and (for a profile) the whole
 * resolution: its listener, backend and acknowledgement, isolation, and
 * whether it weakens the system profile of its name.
 */
async function validateFile(layers: Layer[], file: string): Promise<void> {
  if (/^listeners\.(ya?ml|json)$/.test(basename(file))) {
    // validate always parses: it never trusts the launch cache.
    const data = await readListenersFile(file);
    if (data === null) throw new ConfigError([{ file, message: 'no such file' }]);
    const problems = await listenersFileProblems(
      layers,
      layerOfFile(layers, file, 'listeners').index,
      file,
      data,
      NO_CACHE,
    );
    if (problems.length) throw new ConfigError(problems);
    return;
  }
  // The schema first: a file that does not parse says so, and nothing else.
  await readProfileFile(file);
  // profiles/NAME.yml: the name is the file name without its extension (readProfileFile took only known ones).
  const base = basename(file);
  const name = base.slice(0, base.lastIndexOf('.'));
  const { index, inLayer } = layerOfFile(layers, file, 'profile');
  if (inLayer && !isValidProfileName(name)) {
    throw new ConfigError([
      {
        file,
        message: `'${name}' is not a valid profile name, so no launch finds this file (lower-case letters, digits, ".", "_", "-"; not a subcommand name)`,
      },
    ]);
  }
  await resolveProfile(layers, await loadListeners(layers), name, NO_CACHE, { name, layer: index, file });
}

/** The installed configuration: every layer's listeners, every profile resolved. */
async function validateInstalled(
  command: Extract<Command, { kind: 'validate' }>,
  problems: ConfigProblem[],
): Promise<number> {
  const layers = configLayers(command.options.configDir, process.env);
  const { profiles, problems: naming } = listProfiles(layers);
  problems.push(...naming);
  let listeners: Awaited<ReturnType<typeof loadListeners>> | undefined;
  await collect(problems, async () => {
    listeners = await loadListeners(layers);
  });
  if (listeners) {
    const known = listeners;
    // The layer rules once on their own (a user listeners.yml may be wrong
    // with no profile at all); resolveProfile repeats them, and duplicate
    // lines are dropped below.
    await collect(problems, async () => problems.push(...(await layerListenerProblems(layers, known, NO_CACHE))));
    for (const name of profiles.keys()) await collect(problems, () => resolveProfile(layers, known, name));
  }
  return profiles.size;
}

export async function validate(command: Extract<Command, { kind: 'validate' }>): Promise<number> {
  const problems: ConfigProblem[] = [];
  let checked: string;
  if (command.files.length) {
    const layers = configLayers(command.options.configDir, process.env);
    for (const file of command.files) await collect(problems, () => validateFile(layers, file));
    checked = `${command.files.length} file${command.files.length === 1 ? '' : 's'}`;
  } else {
    checked = `${await validateInstalled(command, problems)} profiles`;
  }
  // A base profile's problem shows up once, not once per profile extending it.
  const lines = [...new Set(problems.map(formatProblem))];
  for (const line of lines) writeAll(2, `tails-launch: ${line}\n`);
  if (lines.length) return EXIT.config;
  writeAll(1, `${checked} valid\n`);
  return 0;
}
