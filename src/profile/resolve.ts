// Resolution: a profile name becomes one complete profile, its `extends`
// chain merged, its listener looked up, every cross-field rule checked.
import { ConfigError, type ConfigProblem } from './config-error';
import type { Layer } from './layers';
import { findProfile, readProfileFile, type ProfileLocation, type SourcedListener } from './load';
import { NO_CACHE, type ParsedCache } from './parsed-cache';
import type { BackendName, IsolationMode } from '../vocabulary/modes';
import type { CallerArgs, ListenerConfig, ProfileFile } from './schema';
import { resolveSandbox, type ResolvedSandbox } from './sandbox';
import { adminAllows, findWeakenings, layerListenerProblems, weakeningMessage } from './weaken';
import { join } from 'node:path';
import { BACKENDS } from '../backends';
import { CONTROL_PLACEHOLDERS, CREDENTIAL_PLACEHOLDERS, placeholdersIn } from '../backends/placeholders';
import type { ProxySubcommands } from '../backends/subcommand-args';
import { EXIT } from '../errors/exit-codes';
import { LaunchError } from '../errors/launch-error';
import type { Listener } from '../tor/listener';
import type { ControlFilter } from '../tor/onion-grater';
import { socksAuthFlags } from '../tor/socks-flags';

/** A listener (its shape: src/tor/listener.ts) and where it is defined. */
export interface ResolvedListener extends Listener {
  /** The listeners file that defines it. */
  file: string;
  /** The layer whose listeners file defines it. */
  layer: Layer['name'];
}

export interface ResolvedProfile {
  name: string;
  /** Files that contributed, the profile's own first, then what it extends. */
  sources: string[];
  description: string | null;
  command: string | null;
  args: string[];
  /** What the caller may add after `args` (schema.ts callerArgsSchema). */
  callerArgs: CallerArgs;
  /** Who may start it (users, %groups; root always may); null: the default (anyone unplaced, root only placed). */
  callers: string[] | null;
  /** Desktop files rewritten for this profile besides those whose Exec runs command (src/desktop/). */
  desktopFiles: string[];
  listener: ResolvedListener;
  isolation: IsolationMode;
  backend: BackendName;
  /** Backend weaknesses the profile accepts knowingly. */
  acknowledge: string[];
  /** backend own-setting: how the application is told its listener (templates, see backends/own-setting.ts). */
  proxy: { args: string[]; env: Record<string, string>; options: string[]; subcommands: ProxySubcommands | null };
  env: { set: Record<string, string>; unset: string[]; keep: string[] | null };
  waitForTor: number;
  placement: { netns: string | null; user: string | null };
  /** Every launch in a namespace of its own (src/jail/): `jail: true`, or --jail for one launch. */
  jail: boolean;
  /** What a jail lets the program reach of the session (src/jail/sandbox.ts), defaults filled in. */
  sandbox: ResolvedSandbox;
  /** `guard: host`: only a declared host firewall may hold it (no jail can run it). */
  hostOnly: boolean;
  /** The account whose sockets carry its connections (the host firewall is looked up for it); null: the one it runs as. */
  connectsAs: string | null;
  /** What it may ask of Tor's control port, as an onion-grater filter; null: nothing (no filter). */
  controlFilter: ControlFilter | null;
  /** The program makes its own sandbox (Flatpak): in its netns the launcher adds none. */
  ownSandbox: 'flatpak' | null;
  /**
   * Which layer and file set each field that is set: `listener`,
   * `isolation`, ..., `env.set.NAME`, `env.unset.NAME` (explain shows them).
   */
  fieldSources: Record<string, FieldSource>;
}

export interface FieldSource {
  layer: Layer['name'];
  file: string;
}

type Field = keyof ProfileFile;
const SCALAR_FIELDS = [
  'description',
  'command',
  'args',
  'caller_args',
  'callers',
  'desktop_files',
  'listener',
  'isolation',
  'backend',
  'acknowledge',
  'proxy',
  'wait_for_tor',
  'netns',
  'user',
  'jail',
  'sandbox',
  'guard',
  'connects_as',
  'control_filter',
  'own_sandbox',
] as const;

interface Merged {
  values: Partial<ProfileFile>;
  env: { set: Record<string, string>; unset: Set<string>; keep: string[] | null };
  /** Which file set each field: errors point there. */
  origin: Partial<Record<Field | 'env.keep' | `env.set.${string}` | `env.unset.${string}`, string>>;
  sources: string[];
  /** The layer (index into the layers) of each file in `sources`. */
  layerOf: Map<string, number>;
  /** The profile files of the chain as read, by file. */
  files: Map<string, ProfileFile>;
}

export class UnknownProfileError extends LaunchError {
  constructor(name: string, layers: Layer[]) {
    super(
      EXIT.unknownProfile,
      `no profile named '${name}' (looked in ${layers.map((l) => `${l.dir}/profiles`).join(', ')}); 'tails-launch list' shows the profiles`,
    );
  }
}

/**
 * A profile file of the chain. An error in a file the user did not name (a
 * profile it extends) says which profile led there: the user ran `c2` and
 * must not be left wondering why p2.yml matters.
 */
async function readParent(
  location: ProfileLocation,
  seen: ProfileLocation[],
  cache: ParsedCache,
): Promise<ProfileFile> {
  try {
    return await readProfileFile(location.file, cache);
  } catch (error) {
    if (!(error instanceof ConfigError) || seen.length < 2) throw error;
    const child = seen[seen.length - 2]!;
    const via = ` (profile '${child.name}' in ${child.file} extends it)`;
    throw new ConfigError(
      error.problems.map((p) => (p.file === location.file ? { ...p, message: p.message + via } : p)),
    );
  }
}

/**
 * Reads NAME and what it extends, base first. A profile may extend its own
 * name: that is the definition one layer down. START, when given, is the
 * file to begin with instead of NAME's top-most file (validate FILE).
 */
async function mergeChain(layers: Layer[], name: string, cache: ParsedCache, start?: ProfileLocation): Promise<Merged> {
  const chain: { file: string; layer: number; data: ProfileFile }[] = [];
  const seen: ProfileLocation[] = [];
  const found = start ?? findProfile(layers, name);
  if (!found) throw new UnknownProfileError(name, layers);
  let location: ProfileLocation = found;
  for (;;) {
    if (seen.some((l) => l.file === location.file)) {
      const cycle = [...seen, location].map((l) => l.name).join(' -> ');
      throw new ConfigError(
        await locate(seen[seen.length - 1]!.file, ['extends'], `profiles extend each other in a cycle: ${cycle}`),
      );
    }
    seen.push(location);
    const data = await readParent(location, seen, cache);
    chain.unshift({ file: location.file, layer: location.layer, data });
    if (data.extends === undefined) break;
    const below: number = data.extends === location.name ? location.layer - 1 : layers.length - 1;
    const parent: ProfileLocation | null = below >= 0 ? findProfile(layers, data.extends, below) : null;
    if (!parent) {
      throw new ConfigError(await locate(location.file, ['extends'], `no profile named '${data.extends}' to extend`));
    }
    location = parent;
  }
  const merged: Merged = {
    values: {},
    env: { set: {}, unset: new Set(), keep: null },
    origin: {},
    sources: chain.map((c) => c.file).reverse(),
    layerOf: new Map(chain.map((c) => [c.file, c.layer])),
    files: new Map(chain.map((c) => [c.file, c.data])),
  };
  for (const { file, data } of chain) {
    for (const field of SCALAR_FIELDS) {
      if (data[field] !== undefined) {
        (merged.values as Record<string, unknown>)[field] = data[field];
        merged.origin[field] = file;
      }
    }
    if (data.env?.keep !== undefined) {
      merged.env.keep = data.env.keep;
      merged.origin['env.keep'] = file;
    }
    // A child's unset removes what a parent set, and a child's set undoes a parent's unset.
    for (const variable of data.env?.unset ?? []) {
      delete merged.env.set[variable];
      merged.env.unset.add(variable);
      delete merged.origin[`env.set.${variable}`];
      merged.origin[`env.unset.${variable}`] = file;
    }
    for (const [variable, value] of Object.entries(data.env?.set ?? {})) {
      merged.env.set[variable] = value;
      merged.env.unset.delete(variable);
      delete merged.origin[`env.unset.${variable}`];
      merged.origin[`env.set.${variable}`] = file;
    }
  }
  return merged;
}

/** Error path only: finding the line needs the parser. */
async function locate(file: string, path: PropertyKey[], message: string): Promise<ConfigProblem[]> {
  return (await import('./parse-file')).locateInFile(file, path, message);
}

function layerName(layers: Layer[], index: number | undefined): Layer['name'] {
  return layers[index ?? layers.length - 1]!.name;
}

/** The listener of listeners.yml that SOURCED is, as profiles and commands use it. */
export function resolveListener(sourced: SourcedListener, layers: Layer[]): ResolvedListener {
  const c: ListenerConfig = sourced.config;
  const index = layers.findIndex((l) => join(l.dir, 'listeners.yml') === sourced.file);
  return {
    name: sourced.name,
    file: sourced.file,
    layer: layerName(layers, index < 0 ? undefined : index),
    kind: c.kind ?? 'socks',
    address: c.address,
    port: c.port,
    flags: c.flags ?? [],
    netns: c.netns ?? null,
    connect: { address: c.client_address ?? c.address, port: c.client_port ?? c.port },
    jailPort: c.jail_port ?? null,
  };
}

/**
 * A control listener's program opens no SOCKS session (Onion Circuits, Tor
 * Connection): it is told its control port by its own setting, has nothing
 * to isolate and cannot be jailed (a jail forwards SOCKS only). Templates
 * name the kind of listener they render. A filter needs a namespace: its
 * listener's, whose address onion-grater sees.
 */
function controlProblems(values: Partial<ProfileFile>, listener: ListenerConfig | undefined): [Field, string][] {
  const problems: [Field, string][] = [];
  const control = listener?.kind === 'control';
  const templates = [...(values.proxy?.args ?? []), ...Object.values(values.proxy?.env ?? {})];
  const used = templates.flatMap((t) => placeholdersIn(t).known);
  const wrong = used.filter((p) => CONTROL_PLACEHOLDERS.includes(p) !== control);
  if (listener !== undefined && wrong.length)
    problems.push([
      'proxy',
      `{${wrong[0]}} is for a ${control ? 'SocksPort' : 'control'} listener, and listener '${values.listener}' is a ${control ? 'control port' : 'SocksPort'}: use {${control ? 'control.address' : 'socks.address'}}-style placeholders`,
    ]);
  if (control) {
    const what = `listener '${values.listener}' is a control port (kind: control): the program opens no SOCKS session`;
    if (values.backend !== undefined && values.backend !== 'own-setting')
      problems.push(['backend', `${what}, so it is told its control port by its own setting: use backend own-setting`]);
    if (values.isolation !== undefined && values.isolation !== 'none')
      problems.push(['isolation', `${what}, so there is nothing to isolate: use isolation none`]);
    if (values.jail === true)
      problems.push(['jail', `${what}, and a jail's one way out is a SOCKS forwarder: place it in a netns instead`]);
  }
  if (values.control_filter !== undefined && listener !== undefined && listener.netns === undefined)
    problems.push([
      'control_filter',
      `an onion-grater filter tells its clients apart by the address of their network namespace, and listener '${values.listener}' is reached from none: use a listener with a netns`,
    ]);
  return problems;
}

/**
 * The user layer may add, never weaken (src/profile/weaken.ts): when the
 * resolution of NAME read a user-layer file and the shipped and admin layers
 * define NAME, compare with that system profile field by field.
 */
async function weakeningProblems(
  layers: Layer[],
  name: string,
  merged: Merged,
  cache: ParsedCache,
): Promise<ConfigProblem[]> {
  const userIndex = layers.findIndex((l) => l.name === 'user');
  if (userIndex < 0) return []; // --config-dir: one layer, nothing to compare
  const isUser = (file: string) => (merged.layerOf.get(file) ?? -1) >= userIndex;
  // No user file read: this IS the system profile. (The usual launch: no extra cost.)
  if (!merged.sources.some(isUser)) return [];
  const systemLayers = layers.slice(0, userIndex);
  // A profile of the user's own (even one extending a system profile): nothing to weaken.
  if (!findProfile(systemLayers, name)) return [];
  // A system profile that does not merge on its own is broken: its error stands (fail closed).
  const system = await mergeChain(systemLayers, name, cache);
  const weakenings = findWeakenings(system.values, merged.values);
  if (!weakenings.length || (await adminAllows(layers, 'profiles', cache))) return [];
  // Removing a user line brings the system value back only when the chain goes through the system profile itself.
  const removable = merged.sources.includes(system.sources[0]!);
  const problems: ConfigProblem[] = [];
  for (const w of weakenings) {
    const origin = merged.origin[w.field];
    const systemFile = system.origin[w.field];
    if (origin !== undefined && isUser(origin)) {
      problems.push(...(await locate(origin, [w.field], weakeningMessage(name, w, systemFile, removable))));
      continue;
    }
    // No user line set it: a whole replacement dropped it, or a user file's
    // `extends` brought it from elsewhere. Point at the top-most user file
    // (its `extends` line, if any), still naming the field.
    const file = merged.sources.find(isUser)!;
    const at = merged.files.get(file)?.extends !== undefined ? ['extends'] : [];
    const located = await locate(file, at, weakeningMessage(name, w, systemFile, false));
    problems.push(...located.map((p) => ({ ...p, field: w.field })));
  }
  return problems;
}

/** Which layer and file set each field, in field order, then the environment's variables. */
function fieldSources(layers: Layer[], merged: Merged): Record<string, FieldSource> {
  const sources: Record<string, FieldSource> = {};
  const keys = Object.keys(merged.origin) as (keyof Merged['origin'])[];
  const order = (key: string) => {
    const index = (SCALAR_FIELDS as readonly string[]).indexOf(key);
    return index >= 0 ? String(index).padStart(2, '0') : key;
  };
  for (const key of keys.sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0))) {
    const file = merged.origin[key]!;
    sources[key] = { layer: layerName(layers, merged.layerOf.get(file)), file };
  }
  return sources;
}

/** A rule's finding: a field's problem (located where the field was set), or one a whole file is named for. */
type Finding = { field: Field; message: string } | { file: string; message: string };
type Values = Partial<ProfileFile>;

/** The fields every profile needs, and a listener that exists. */
function requiredFields(name: string, values: Values, listeners: Map<string, SourcedListener>): Finding[] {
  const found: Finding[] = (['listener', 'isolation', 'backend'] as const)
    .filter((field) => values[field] === undefined)
    .map((field) => ({ field, message: `profile '${name}' sets no ${field} (directly or through extends)` }));
  if (values.listener !== undefined && !listeners.get(values.listener))
    found.push({
      field: 'listener',
      message: `no listener named '${values.listener}' (defined: ${[...listeners.keys()].join(', ')})`,
    });
  return found;
}

/** What the backend says of the profile: weaknesses to acknowledge, modes it cannot honour; own_sandbox's need. */
function backendRules(values: Values): Finding[] {
  const found: Finding[] = [];
  // Each backend says which of its weaknesses a profile must acknowledge.
  const acknowledged: readonly string[] = values.acknowledge ?? [];
  for (const need of values.backend ? BACKENDS[values.backend].mustAcknowledge : [])
    if (!acknowledged.includes(need.name)) found.push({ field: 'backend', message: need.reason });
  if (values.backend && values.isolation) {
    const reason = BACKENDS[values.backend].cannotIsolate(values.isolation);
    if (reason) found.push({ field: 'isolation', message: reason });
  }
  if (values.own_sandbox !== undefined && values.netns === undefined)
    found.push({
      field: 'own_sandbox',
      message:
        "own_sandbox needs netns: there a namespace root made holds the program's sockets while its own sandbox holds the session; the launcher's own jail cannot hold a program that makes its own sandbox",
    });
  return found;
}

/**
 * Which account's firewall holds the program is the system's word: a user
 * file could name a held account, or keep one it inherits while running a
 * program of its own (extends: apt, command: ...), which that firewall does
 * not hold. So no user file may be in such a profile's chain.
 */
function connectsAsRule(name: string, merged: Merged, layers: Layer[]): Finding[] {
  const { values, origin } = merged;
  const userIndex = layers.findIndex((l) => l.name === 'user');
  const inUserLayer = (file: string) => userIndex >= 0 && (merged.layerOf.get(file) ?? -1) >= userIndex;
  const userFile = merged.sources.find(inUserLayer);
  if (values.connects_as !== undefined && origin.connects_as !== undefined && inUserLayer(origin.connects_as))
    return [
      {
        field: 'connects_as',
        message:
          'only the shipped and admin layers may say which account a program connects as (the host firewall is looked up for it): remove the line',
      },
    ];
  if (values.connects_as !== undefined && userFile !== undefined)
    return [
      {
        file: userFile,
        message: `profile '${name}' builds on a profile that connects as '${values.connects_as}' (connects_as: the host firewall is looked up for that account, which a user's file cannot vouch for): launch the system profile itself, or ask the administrator`,
      },
    ];
  return [];
}

/** How an own-setting program is told its listener, and whether its group's credentials reach Tor. */
function proxyRules(values: Values): Finding[] {
  const found: Finding[] = [];
  if (values.proxy !== undefined && values.backend !== undefined && values.backend !== 'own-setting')
    found.push({
      field: 'proxy',
      message: `proxy is how an own-setting program is told its listener: backend ${values.backend} does not use it (use backend own-setting, or remove proxy)`,
    });
  // What Tor sees must be what explain says: credentials of the launcher's
  // group reach Tor only if the proxy templates hand them to the program.
  // (A jail carries the group by its address: the program then needs none.)
  if (
    values.backend === 'own-setting' &&
    (values.isolation === 'app' || values.isolation === 'launch') &&
    values.jail !== true
  ) {
    const templates = [...(values.proxy?.args ?? []), ...Object.values(values.proxy?.env ?? {})];
    const carries = templates.some((t) => placeholdersIn(t).known.some((p) => CREDENTIAL_PLACEHOLDERS.includes(p)));
    if (!carries)
      found.push({
        field: 'isolation',
        message: `isolation "${values.isolation}" needs credentials that reach Tor, but proxy hands the program none ({socks.username}, {socks.password} or {socks.url}): use isolation none if it sends none, or application if its own settings decide`,
      });
  }
  return found;
}

/** What the listener allows: credentials honoured, a control port's rules, the namespace it is reachable from. */
function listenerRules(values: Values, sourcedListener: SourcedListener | undefined): Finding[] {
  const found: Finding[] = [];
  // Isolation by credentials needs a port that honours them: what the
  // listener's flags mean to Tor (last flag wins) is socks-flags' to say.
  const isolatesByAuth = values.isolation === 'app' || values.isolation === 'launch';
  const port = socksAuthFlags(sourcedListener?.config.flags ?? []);
  if (isolatesByAuth && !port.isolatesBySocksAuth)
    found.push({
      field: 'isolation',
      message: `listener '${values.listener}' has NoIsolateSOCKSAuth: Tor would ignore the credentials that carry isolation "${values.isolation}"`,
    });
  if (isolatesByAuth && port.prefersNoAuth)
    found.push({
      field: 'isolation',
      message: `listener '${values.listener}' has PreferSOCKSNoAuth: Tor would take no authentication from clients that also offer it (curl, proxychains), losing isolation "${values.isolation}"`,
    });
  for (const [field, message] of controlProblems(values, sourcedListener?.config)) found.push({ field, message });
  const listenerNetns = sourcedListener?.config.netns;
  if (listenerNetns !== undefined && values.netns !== listenerNetns)
    found.push({
      field: values.netns === undefined ? 'listener' : 'netns',
      message: `listener '${values.listener}' is reachable only from network namespace '${listenerNetns}': set netns: ${listenerNetns}`,
    });
  return found;
}

/**
 * Placement runs the command as another account or in another namespace,
 * through a privileged entry: what runs must be the profile's, never a
 * program the caller names (`default -- CMD` style), and never root.
 */
function placementRules(values: Values): Finding[] {
  const found: Finding[] = [];
  const placed = values.netns !== undefined || values.user !== undefined;
  if (placed && values.command === undefined)
    found.push({
      field: values.user !== undefined ? 'user' : 'netns',
      message: `a profile with a placement (netns, user) must name its command: otherwise the caller would choose the program run as ${values.user ?? 'the caller'} in the namespace`,
    });
  if (values.user === 'root')
    found.push({
      field: 'user',
      message: 'placement never runs an application as root: name a service user, or remove user',
    });
  if (placed && values.backend === 'proxychains')
    found.push({
      field: 'backend',
      message:
        "backend proxychains hands its configuration over in the caller's runtime directory, which a placed application cannot rely on: use torsocks",
    });
  return found;
}

/** The profile as the launch uses it, once every rule holds. */
function resolvedOf(name: string, merged: Merged, sourcedListener: SourcedListener, layers: Layer[]): ResolvedProfile {
  const { values, env, sources } = merged;
  return {
    name,
    sources,
    description: values.description ?? null,
    command: values.command ?? null,
    args: values.args ?? [],
    callerArgs: values.caller_args ?? 'any',
    callers: values.callers ?? null,
    desktopFiles: values.desktop_files ?? [],
    listener: resolveListener(sourcedListener, layers),
    isolation: values.isolation!,
    backend: values.backend!,
    acknowledge: values.acknowledge ?? [],
    proxy: {
      args: values.proxy?.args ?? [],
      env: values.proxy?.env ?? {},
      options: values.proxy?.options ?? [],
      subcommands:
        values.proxy?.subcommands === undefined
          ? null
          : { withProxy: values.proxy.subcommands.with_proxy, default: values.proxy.subcommands.default },
    },
    env: { set: env.set, unset: [...env.unset].sort(), keep: env.keep },
    waitForTor: values.wait_for_tor ?? 0,
    placement: { netns: values.netns ?? null, user: values.user ?? null },
    jail: values.jail ?? false,
    sandbox: resolveSandbox(values.sandbox),
    hostOnly: values.guard === 'host',
    connectsAs: values.connects_as ?? null,
    controlFilter:
      values.control_filter === undefined
        ? null
        : {
            commands: values.control_filter.commands ?? {},
            confs: values.control_filter.confs ?? {},
            events: values.control_filter.events ?? {},
            torBrowserMode: values.control_filter.tor_browser_mode ?? false,
          },
    ownSandbox: values.own_sandbox ?? null,
    fieldSources: fieldSources(layers, merged),
  };
}

export async function resolveProfile(
  layers: Layer[],
  listeners: Map<string, SourcedListener>,
  name: string,
  cache: ParsedCache = NO_CACHE,
  /** validate FILE: resolve starting from this file instead of NAME's top-most one. */
  start?: ProfileLocation,
): Promise<ResolvedProfile> {
  const merged = await mergeChain(layers, name, cache, start);
  const { values, origin, sources } = merged;
  // A user listeners.yml that redefines a system listener (or grants itself
  // user_may_override) makes the whole configuration invalid, whichever
  // listener this profile uses: fail closed, as for a syntax error there.
  const layerProblems = await layerListenerProblems(layers, listeners, cache);
  if (layerProblems.length) throw new ConfigError(layerProblems);
  const sourcedListener = values.listener === undefined ? undefined : listeners.get(values.listener);
  const findings = [
    ...requiredFields(name, values, listeners),
    ...backendRules(values),
    ...connectsAsRule(name, merged, layers),
    ...proxyRules(values),
    ...listenerRules(values, sourcedListener),
    ...placementRules(values),
  ];
  const problems: ConfigProblem[] = [];
  for (const finding of findings) {
    // A field's problem points where the field was set; a field set nowhere, at the profile's own file.
    if ('file' in finding) problems.push(...(await locate(finding.file, [], finding.message)));
    else {
      const at = origin[finding.field];
      problems.push(
        ...(await locate(
          at ?? sources[0]!,
          at ? [finding.field] : [],
          `${at ? '' : `${finding.field}: `}${finding.message}`,
        )),
      );
    }
  }
  if (problems.length) throw new ConfigError(problems);
  // After the ordinary rules: a profile that cannot launch anyway says why first.
  const weakened = await weakeningProblems(layers, name, merged, cache);
  if (weakened.length) throw new ConfigError(weakened);
  return resolvedOf(name, merged, sourcedListener!, layers);
}
