// Reading configuration: listeners from every layer, and ONE profile by its
// file name (a launch never parses the profiles it does not use).
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, type ConfigProblem } from './config-error';
import { problemsFromIssues, type SchemaIssue } from './describe-issue';
import type { Layer } from './layers';
import { lintProfile } from './lint';
import { isValidProfileName } from './names';
import { CONFIG_EXTENSIONS, readConfigFile, type LoadedFile } from './read-config-file';
import { listenersFileSchema, profileFileSchema, type ListenerConfig, type ProfileFile } from './schema';

export interface SourcedListener {
  name: string;
  config: ListenerConfig;
  file: string;
}

export interface ProfileLocation {
  name: string;
  layer: number;
  file: string;
}

export async function validateData<T>(
  loaded: LoadedFile,
  schema: { safeParse(data: unknown): { success: true; data: T } | { success: false; error: { issues: unknown[] } } },
  lint?: (data: T) => SchemaIssue[],
): Promise<T> {
  const result = schema.safeParse(loaded.data);
  const issues = result.success ? (lint?.(result.data) ?? []) : (result.error.issues as SchemaIssue[]);
  if (issues.length) throw new ConfigError(await problemsFromIssues(loaded.file, loaded.text, issues));
  return (result as { data: T }).data;
}

export function readListenersFile(file: string): Promise<Record<string, ListenerConfig>> | null {
  const loaded = readConfigFile(file);
  return loaded && validateData(loaded, listenersFileSchema).then((data) => data.listeners);
}

/** All listeners, merged by name: a later layer's entry replaces an earlier one whole. */
export async function loadListeners(layers: Layer[]): Promise<Map<string, SourcedListener>> {
  const merged = new Map<string, SourcedListener>();
  for (const layer of layers) {
    const file = join(layer.dir, 'listeners.yml');
    const listeners = await readListenersFile(file);
    for (const [name, config] of Object.entries(listeners ?? {})) merged.set(name, { name, config, file });
  }
  const missing = layers.length === 1 && layers[0]!.name === 'config-dir' && !existsSync(layers[0]!.dir);
  if (missing) {
    throw new ConfigError([{ file: layers[0]!.dir, message: 'configuration directory does not exist (--config-dir)' }]);
  }
  if (merged.size === 0) {
    const files = layers.map((l) => join(l.dir, 'listeners.yml'));
    const hint = missing === false && layers[0]!.name === 'config-dir' ? `create ${files[0]}` : "reinstall tails-launch (it ships listeners.yml) or pass --config-dir";
    throw new ConfigError([{ file: files.join(', '), message: `no listener is defined: ${hint}` }]);
  }
  return merged;
}

/** The profile file for NAME in the top-most layer at or below MAXLAYER. */
export function findProfile(layers: Layer[], name: string, maxLayer = layers.length - 1): ProfileLocation | null {
  if (!isValidProfileName(name)) return null;
  for (let layer = maxLayer; layer >= 0; layer--) {
    for (const extension of CONFIG_EXTENSIONS) {
      const file = join(layers[layer]!.dir, 'profiles', `${name}${extension}`);
      if (existsSync(file)) return { name, layer, file };
    }
  }
  return null;
}

export async function readProfileFile(file: string): Promise<ProfileFile> {
  const loaded = readConfigFile(file);
  if (!loaded) throw new ConfigError([{ file, message: 'no such file' }]);
  return validateData(loaded, profileFileSchema, lintProfile);
}

/** Every profile file of every layer (for list and validate), top layer winning. */
export function listProfiles(layers: Layer[]): { profiles: Map<string, ProfileLocation>; problems: ConfigProblem[] } {
  const profiles = new Map<string, ProfileLocation>();
  const problems: ConfigProblem[] = [];
  layers.forEach((layer, index) => {
    let entries: string[];
    try {
      entries = readdirSync(join(layer.dir, 'profiles'));
    } catch {
      return; // a layer without profiles/ is fine
    }
    for (const entry of entries.sort()) {
      const dot = entry.lastIndexOf('.');
      const name = entry.slice(0, dot);
      const file = join(layer.dir, 'profiles', entry);
      if (dot <= 0 || !CONFIG_EXTENSIONS.includes(entry.slice(dot))) continue;
      if (!isValidProfileName(name)) {
        problems.push({ file, message: `'${name}' is not a valid profile name (lower-case letters, digits, ".", "_", "-"; not a subcommand name)` });
        continue;
      }
      profiles.set(name, { name, layer: index, file });
    }
  });
  return { profiles, problems };
}
