import { basename } from 'node:path';
import { ConfigError, formatProblem, type ConfigProblem } from '../../profile/config-error';
import { configLayers } from '../../profile/layers';
import { listProfiles, loadListeners, readListenersFile, readProfileFile } from '../../profile/load';
import { resolveProfile } from '../../profile/resolve';
import { EXIT } from '../exit-codes';
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

/** One file, by its kind: `listeners.*` holds listeners, anything else is a profile. */
async function validateFile(file: string): Promise<void> {
  if (/^listeners\.(ya?ml|json)$/.test(basename(file))) {
    // validate always parses: it never trusts the launch cache.
    if ((await readListenersFile(file)) === null) throw new ConfigError([{ file, message: 'no such file' }]);
  } else {
    await readProfileFile(file);
  }
}

/** The installed configuration: every layer's listeners, every profile resolved. */
async function validateInstalled(command: Extract<Command, { kind: 'validate' }>, problems: ConfigProblem[]): Promise<number> {
  const layers = configLayers(command.options.configDir, process.env);
  const { profiles, problems: naming } = listProfiles(layers);
  problems.push(...naming);
  let listeners: Awaited<ReturnType<typeof loadListeners>> | undefined;
  await collect(problems, async () => {
    listeners = await loadListeners(layers);
  });
  if (listeners) {
    const known = listeners;
    for (const name of profiles.keys()) await collect(problems, () => resolveProfile(layers, known, name));
  }
  return profiles.size;
}

export async function validate(command: Extract<Command, { kind: 'validate' }>): Promise<number> {
  const problems: ConfigProblem[] = [];
  let checked: string;
  if (command.files.length) {
    for (const file of command.files) await collect(problems, () => validateFile(file));
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
