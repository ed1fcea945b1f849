// Reading configuration: listeners from every layer, and ONE profile by its
// file name (a launch never parses the profiles it does not use). Every file
// is read, through ./trust, on every launch (trust, regular file, size bound);
// parsing it (./parse-file) is loaded only when its text is not a shipped
// file's, whose validated data is built in (./parsed-cache).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, type ConfigProblem } from './config-error';
import type { Layer } from './layers';
import { CONFIG_EXTENSIONS, isValidProfileName } from '../vocabulary/names';
import { NO_CACHE, type ParsedCache } from './parsed-cache';
import { MAX_ECHO, printable } from '../files/printable';
import { errnoReason } from '../files/safe-read';
import type {
  ControlConfig,
  HostFirewallConfig,
  JailsConfig,
  ListenerConfig,
  ListenersFile,
  ProfileFile,
} from './schema';
import { checkLayerDirectory, ConfigReadError, readConfigText } from './trust';

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

/** The validated listeners file FILE, or null when there is no such file. */
export async function readListenersFile(file: string, cache: ParsedCache = NO_CACHE): Promise<ListenersFile | null> {
  const text = readConfigText(file);
  if (text === null) return null;
  return cache.read('listeners', file, text, async () => (await import('./parse-file')).parseListenersText(file, text));
}

/** Where Tor's control port is: the top-most layer's `control` section, if any. */
export async function loadControl(layers: Layer[], cache: ParsedCache = NO_CACHE): Promise<ControlConfig | null> {
  let control: ControlConfig | null = null;
  for (const layer of layers)
    control = (await readListenersFile(join(layer.dir, 'listeners.yml'), cache))?.control ?? control;
  return control;
}

/**
 * Where jails take their addresses: the top-most `jails` section of the
 * shipped, admin (or --config-dir) layer. Never the user layer's: jails are
 * made by root, through the privileged entry, which reads only those.
 */
export async function loadJails(layers: Layer[], cache: ParsedCache = NO_CACHE): Promise<JailsConfig | null> {
  let jails: JailsConfig | null = null;
  for (const layer of layers) {
    if (layer.name === 'user') continue;
    jails = (await readListenersFile(join(layer.dir, 'listeners.yml'), cache))?.jails ?? jails;
  }
  return jails;
}

/** The host firewall the system layers declare (the user layer cannot: weaken.ts refuses it there). */
export async function loadHostFirewall(
  layers: Layer[],
  cache: ParsedCache = NO_CACHE,
): Promise<HostFirewallConfig | null> {
  let declared: HostFirewallConfig | null = null;
  for (const layer of layers) {
    if (layer.name === 'user') continue;
    declared = (await readListenersFile(join(layer.dir, 'listeners.yml'), cache))?.host_firewall ?? declared;
  }
  return declared;
}

/** All listeners, merged by name: a later layer's entry replaces an earlier one whole. */
export async function loadListeners(
  layers: Layer[],
  cache: ParsedCache = NO_CACHE,
): Promise<Map<string, SourcedListener>> {
  const configDir = layers.length === 1 && layers[0]!.name === 'config-dir' ? layers[0]!.dir : null;
  if (configDir !== null && !existsSync(configDir)) {
    throw new ConfigError([{ file: configDir, message: 'configuration directory does not exist (--config-dir)' }]);
  }
  // Every command that reads configuration starts here: refuse an untrusted layer before anything is read from it.
  for (const layer of layers) checkLayerDirectory(layer.dir);
  const merged = new Map<string, SourcedListener>();
  for (const layer of layers) {
    const file = join(layer.dir, 'listeners.yml');
    const listeners = (await readListenersFile(file, cache))?.listeners;
    for (const [name, config] of Object.entries(listeners ?? {})) merged.set(name, { name, config, file });
  }
  if (merged.size === 0) {
    const files = layers.map((l) => join(l.dir, 'listeners.yml'));
    const hint =
      configDir !== null
        ? `create ${files[0]}`
        : 'reinstall tails-launch (it ships listeners.yml) or pass --config-dir';
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
      if (exists(file)) return { name, layer, file };
    }
  }
  return null;
}

/**
 * Whether FILE exists (following symlinks, as reading it will). Only "no such
 * file" means no: a file we may not even look at (EACCES) in a layer is an
 * error, not a reason to fall back to the layer below it.
 */
function exists(file: string): boolean {
  try {
    statSync(file);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return false;
    throw new ConfigReadError(file, errnoReason(error));
  }
}

export async function readProfileFile(file: string, cache: ParsedCache = NO_CACHE): Promise<ProfileFile> {
  const text = readConfigText(file);
  if (text === null) throw new ConfigError([{ file, message: 'no such file' }]);
  return cache.read('profile', file, text, async () => (await import('./parse-file')).parseProfileText(file, text));
}

/** Every profile file of every layer (for list and validate), top layer winning. */
export function listProfiles(layers: Layer[]): { profiles: Map<string, ProfileLocation>; problems: ConfigProblem[] } {
  const profiles = new Map<string, ProfileLocation>();
  const problems: ConfigProblem[] = [];
  layers.forEach((layer, index) => {
    let entries: string[];
    try {
      entries = readdirSync(join(layer.dir, 'profiles'));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // A layer without profiles/ is fine; one we cannot list is not silently empty.
      if (code !== 'ENOENT' && code !== 'ENOTDIR')
        problems.push({ file: join(layer.dir, 'profiles'), message: `cannot read: ${errnoReason(error)}` });
      return;
    }
    for (const entry of entries.sort()) {
      const dot = entry.lastIndexOf('.');
      const name = entry.slice(0, dot);
      const file = join(layer.dir, 'profiles', entry);
      if (dot <= 0 || !CONFIG_EXTENSIONS.includes(entry.slice(dot))) continue;
      if (!isValidProfileName(name)) {
        problems.push({
          file,
          message: `'${printable(name, MAX_ECHO)}' is not a valid profile name (lower-case letters, digits, ".", "_", "-"; not a subcommand name)`,
        });
        continue;
      }
      profiles.set(name, { name, layer: index, file });
    }
  });
  return { profiles, problems };
}
