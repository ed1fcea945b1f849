// Resolution: a profile name becomes one complete profile, its `extends`
// chain merged, its listener looked up, every cross-field rule checked.
import { ConfigError, type ConfigProblem } from './config-error';
import type { Layer } from './layers';
import { findProfile, readProfileFile, type ProfileLocation, type SourcedListener } from './load';
import { NO_CACHE, type ParsedCache } from './parsed-cache';
import type { BackendName, IsolationMode, ListenerConfig, ProfileFile } from './schema';
import { BACKENDS } from '../backends';
import { EXIT } from '../cli/exit-codes';
import { LaunchError } from '../cli/launch-error';

export interface ResolvedListener {
  name: string;
  file: string;
  address: string;
  port: number;
  flags: string[];
  netns: string | null;
  /** Where applications connect (client_address/port, else address/port). */
  connect: { address: string; port: number };
}

export interface ResolvedProfile {
  name: string;
  /** Files that contributed, the profile's own first, then what it extends. */
  sources: string[];
  description: string | null;
  command: string | null;
  args: string[];
  listener: ResolvedListener;
  isolation: IsolationMode;
  backend: BackendName;
  /** Backend weaknesses the profile accepts knowingly. */
  acknowledge: string[];
  env: { set: Record<string, string>; unset: string[] };
  waitForTor: number;
  placement: { netns: string | null; user: string | null };
}

type Field = keyof ProfileFile;
const SCALAR_FIELDS = ['description', 'command', 'args', 'listener', 'isolation', 'backend', 'acknowledge', 'wait_for_tor', 'netns', 'user'] as const;

interface Merged {
  values: Partial<ProfileFile>;
  env: { set: Record<string, string>; unset: Set<string> };
  /** Which file set each field: errors point there. */
  origin: Partial<Record<Field | `env.set.${string}`, string>>;
  sources: string[];
}

export class UnknownProfileError extends LaunchError {
  constructor(name: string, layers: Layer[]) {
    super(
      EXIT.unknownProfile,
      `no profile named '${name}' (looked in ${layers.map((l) => `${l.dir}/profiles`).join(', ')}); 'tails-launch list' shows the profiles`,
    );
  }
}

/** Reads NAME and what it extends, base first. A profile may extend its own name: that is the definition one layer down. */
async function mergeChain(layers: Layer[], name: string, cache: ParsedCache): Promise<Merged> {
  const chain: { file: string; data: ProfileFile }[] = [];
  const seen: ProfileLocation[] = [];
  const found = findProfile(layers, name);
  if (!found) throw new UnknownProfileError(name, layers);
  let location: ProfileLocation = found;
  for (;;) {
    if (seen.some((l) => l.file === location.file)) {
      const cycle = [...seen, location].map((l) => l.name).join(' -> ');
      throw new ConfigError(await locate(seen[seen.length - 1]!.file, ['extends'], `profiles extend each other in a cycle: ${cycle}`));
    }
    seen.push(location);
    const data = await readProfileFile(location.file, cache);
    chain.unshift({ file: location.file, data });
    if (data.extends === undefined) break;
    const below: number = data.extends === location.name ? location.layer - 1 : layers.length - 1;
    const parent: ProfileLocation | null = below >= 0 ? findProfile(layers, data.extends, below) : null;
    if (!parent) {
      throw new ConfigError(await locate(location.file, ['extends'], `no profile named '${data.extends}' to extend`));
    }
    location = parent;
  }
  const merged: Merged = { values: {}, env: { set: {}, unset: new Set() }, origin: {}, sources: chain.map((c) => c.file).reverse() };
  for (const { file, data } of chain) {
    for (const field of SCALAR_FIELDS) {
      if (data[field] !== undefined) {
        (merged.values as Record<string, unknown>)[field] = data[field];
        merged.origin[field] = file;
      }
    }
    // A child's unset removes what a parent set, and a child's set undoes a parent's unset.
    for (const variable of data.env?.unset ?? []) {
      delete merged.env.set[variable];
      merged.env.unset.add(variable);
    }
    for (const [variable, value] of Object.entries(data.env?.set ?? {})) {
      merged.env.set[variable] = value;
      merged.env.unset.delete(variable);
      merged.origin[`env.set.${variable}`] = file;
    }
  }
  return merged;
}

/** Error path only: finding the line needs the parser. */
async function locate(file: string, path: PropertyKey[], message: string): Promise<ConfigProblem[]> {
  return (await import('./parse-file')).locateInFile(file, path, message);
}

function resolveListener(sourced: SourcedListener): ResolvedListener {
  const c: ListenerConfig = sourced.config;
  return {
    name: sourced.name,
    file: sourced.file,
    address: c.address,
    port: c.port,
    flags: c.flags ?? [],
    netns: c.netns ?? null,
    connect: { address: c.client_address ?? c.address, port: c.client_port ?? c.port },
  };
}

export async function resolveProfile(
  layers: Layer[],
  listeners: Map<string, SourcedListener>,
  name: string,
  cache: ParsedCache = NO_CACHE,
): Promise<ResolvedProfile> {
  const { values, env, origin, sources } = await mergeChain(layers, name, cache);
  const problems: ConfigProblem[] = [];
  const fail = async (field: Field, message: string) => {
    problems.push(...(await locate(origin[field] ?? sources[0]!, origin[field] ? [field] : [], `${origin[field] ? '' : `${field}: `}${message}`)));
  };

  for (const field of ['listener', 'isolation', 'backend'] as const) {
    if (values[field] === undefined) await fail(field, `profile '${name}' sets no ${field} (directly or through extends)`);
  }
  const sourcedListener = values.listener === undefined ? undefined : listeners.get(values.listener);
  if (values.listener !== undefined && !sourcedListener) {
    await fail('listener', `no listener named '${values.listener}' (defined: ${[...listeners.keys()].join(', ')})`);
  }
  if (values.backend === 'proxychains' && !values.acknowledge?.includes('udp-leak')) {
    await fail(
      'backend',
      'backend proxychains lets UDP out of Tor and cannot catch static or Go binaries: add `acknowledge: [udp-leak]` to use it knowingly, or use backend torsocks',
    );
  }
  if (values.backend && values.isolation) {
    const reason = BACKENDS[values.backend].cannotIsolate(values.isolation);
    if (reason) await fail('isolation', reason);
  }
  // Isolation by credentials needs a port that honours them. The last flag wins in Tor.
  const isolatesByAuth = values.isolation === 'app' || values.isolation === 'launch';
  const flags = sourcedListener?.config.flags ?? [];
  const lastOf = (a: string, b: string) => flags.filter((f) => f === a || f === b).pop();
  if (isolatesByAuth && lastOf('IsolateSOCKSAuth', 'NoIsolateSOCKSAuth') === 'NoIsolateSOCKSAuth') {
    await fail('isolation', `listener '${values.listener}' has NoIsolateSOCKSAuth: Tor would ignore the credentials that carry isolation "${values.isolation}"`);
  }
  if (isolatesByAuth && flags.includes('PreferSOCKSNoAuth')) {
    await fail(
      'isolation',
      `listener '${values.listener}' has PreferSOCKSNoAuth: Tor would take no authentication from clients that also offer it (curl, proxychains), losing isolation "${values.isolation}"`,
    );
  }
  const listenerNetns = sourcedListener?.config.netns;
  if (listenerNetns !== undefined && values.netns !== listenerNetns) {
    await fail(
      values.netns === undefined ? 'listener' : 'netns',
      `listener '${values.listener}' is reachable only from network namespace '${listenerNetns}': set netns: ${listenerNetns}`,
    );
  }
  if (problems.length) throw new ConfigError(problems);

  return {
    name,
    sources,
    description: values.description ?? null,
    command: values.command ?? null,
    args: values.args ?? [],
    listener: resolveListener(sourcedListener!),
    isolation: values.isolation!,
    backend: values.backend!,
    acknowledge: values.acknowledge ?? [],
    env: { set: env.set, unset: [...env.unset].sort() },
    waitForTor: values.wait_for_tor ?? 0,
    placement: { netns: values.netns ?? null, user: values.user ?? null },
  };
}
