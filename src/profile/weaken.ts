// The user layer may add, never weaken.
//
// The user layer ($XDG_CONFIG_HOME/tails-launch) is writable by the user and
// by anything running as the user, including the programs tails-launch
// launches. Profiles of the shipped and admin layers (/usr/share, /etc) are
// what the system itself launches (Tails starts `tails-launch
// tails-security-check`), so a user file must not be able to send them
// somewhere else or with less protection. The rules:
//
// - A "system profile" is the profile of that name resolved from the shipped
//   and admin layers only. Whenever a profile's resolution reads a user-layer
//   file (a user file of the same name, whether it extends its own name or
//   replaces it whole, or a user override of a profile it extends, such as a
//   user default.yml under the shipped ssh) and a system profile of that name
//   exists, the two are compared field by field after resolution.
// - listener: may not change (the listener decides which Tor port, with which
//   flags, carries the traffic).
// - isolation: may only become finer. Finest first: process (torsocks makes
//   fresh credentials in every process, so no two processes share a
//   circuit), launch (one launch and its children), app (every launch of the
//   profile), none (no credentials: streams share circuits with anything on
//   the port).
// - backend: may only become equally or more enforcing. torsocks enforces
//   for the program and its children and refuses IPv6 and UDP; proxychains
//   lets UDP out; env enforces nothing (the program may ignore the
//   variables). A move the stronger backend cannot honour (process under
//   env) is refused by the ordinary rules anyway.
// - netns, user (placement): may not be removed or changed; adding one is
//   stricter and allowed.
// - caller_args: may only become stricter (any, non-options, none); an
//   exact rule (one_of, options) may only stay as it is or become none.
// - callers: may not change (who may start a profile is the system's to say).
// - jail: may not be dropped (adding one is stricter and allowed).
// - sandbox: may only grant less (a display other than the system's, sound,
//   more files, more session-bus names, more inherited descriptors are wider).
// - acknowledge: may not gain entries the system profile does not have (an
//   acknowledgement is a weakness accepted knowingly: only the system may
//   accept one for its profiles).
// - description, command, args, env, wait_for_tor: free (env is filtered by
//   the reserved-variable rules for every layer alike).
// - Listeners: the user layer may add listeners (for its own new profiles) but
//   not redefine one the shipped or admin layer defines, unless it is the
//   same in effect (address, port, flags, netns, client address and port).
//
// The administrator may allow more with `user_may_override: [listeners,
// profiles]` in /etc/tails-launch/listeners.yml. That key is honoured only in
// the admin layer; anywhere else it is an error, so that it cannot be granted
// from a layer the user writes. With --config-dir there is one layer and
// nothing to compare.
//
// A refused override is one ConfigError line naming the user file (and line),
// the field, the system value and where the system value comes from.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ConfigProblem } from './config-error';
import type { Layer } from './layers';
import { readListenersFile, type SourcedListener } from './load';
import type { ParsedCache } from './parsed-cache';
import type { BackendName, IsolationMode } from '../vocabulary/modes';
import {
  CALLER_ARGS,
  type CallerArgs,
  type ListenerConfig,
  type ListenersFile,
  type ProfileFile,
  type SandboxConfig,
  type UserOverride,
} from './schema';
import { resolveSandbox } from './sandbox';

/** Finest first: a user profile may only move left. */
export const ISOLATION_FINEST_FIRST: readonly IsolationMode[] = ['process', 'launch', 'app', 'none', 'application'];

/** Most enforcing first: a user profile may only move left. */
export const BACKENDS_STRONGEST_FIRST: readonly BackendName[] = ['torsocks', 'proxychains', 'own-setting', 'env'];

/** The profile fields the user layer may not weaken. */
export type GuardedField =
  | 'listener'
  | 'isolation'
  | 'backend'
  | 'proxy'
  | 'netns'
  | 'user'
  | 'acknowledge'
  | 'caller_args'
  | 'callers'
  | 'jail'
  | 'sandbox'
  | 'own_sandbox';

export interface Weakening {
  field: GuardedField;
  /** The system profile's value, as written in a file. */
  system: string;
  /** What the user layer made of it; null when it removed it. */
  user: string | null;
  kind: 'change' | 'coarser' | 'weaker' | 'drop' | 'add' | 'looser' | 'wider';
}

/** Where the admin layer is, for messages (the real path, whatever the build). */
export function adminListenersFile(layers: Layer[]): string {
  const admin = layers.find((l) => l.name === 'admin');
  return join(admin?.dir ?? '/etc/tails-launch', 'listeners.yml');
}

type Fields = Partial<ProfileFile>;
/** One rule of the user layer: what it finds weaker in USER than in SYSTEM (none: []). */
type Rule = (system: Fields, user: Fields) => Weakening[];

const listenerRule: Rule = (system, user) =>
  system.listener !== undefined && user.listener !== system.listener
    ? [{ field: 'listener', system: system.listener, user: user.listener ?? null, kind: 'change' }]
    : [];

// An absent isolation or backend fails resolution on its own ("sets no ...").
const isolationRule: Rule = (system, user) =>
  system.isolation !== undefined &&
  user.isolation !== undefined &&
  ISOLATION_FINEST_FIRST.indexOf(user.isolation) > ISOLATION_FINEST_FIRST.indexOf(system.isolation)
    ? [{ field: 'isolation', system: system.isolation, user: user.isolation, kind: 'coarser' }]
    : [];

const backendRule: Rule = (system, user) => {
  if (system.backend === undefined || user.backend === undefined) return [];
  // own-setting and env are jailed by default (src/jail/guard.ts): a preload backend would drop the jail.
  const jailedAway =
    (system.backend === 'own-setting' || system.backend === 'env') &&
    (user.backend === 'torsocks' || user.backend === 'proxychains') &&
    user.netns === undefined &&
    user.jail !== true;
  const weaker = BACKENDS_STRONGEST_FIRST.indexOf(user.backend) > BACKENDS_STRONGEST_FIRST.indexOf(system.backend);
  return jailedAway || weaker ? [{ field: 'backend', system: system.backend, user: user.backend, kind: 'weaker' }] : [];
};

// A field the system layer sets that the user layer may neither drop nor
// change (compared as its JSON).
const keptAsSystem =
  (field: 'proxy' | 'callers'): Rule =>
  (system, user) =>
    system[field] !== undefined && JSON.stringify(user[field]) !== JSON.stringify(system[field])
      ? [
          {
            field,
            system: JSON.stringify(system[field]),
            user: user[field] === undefined ? null : JSON.stringify(user[field]),
            kind: user[field] === undefined ? 'drop' : 'change',
          },
        ]
      : [];

// How an own-setting program is told its listener: dropping or changing it
// could leave the program on its own default (or on no proxy at all).
const proxyRule = keptAsSystem('proxy');

// Adding a placement the system profile lacks is stricter: allowed.
const placementRule: Rule = (system, user) =>
  (['netns', 'user'] as const)
    .filter((field) => system[field] !== undefined && user[field] !== system[field])
    .map((field) => ({
      field,
      system: system[field]!,
      user: user[field] ?? null,
      kind: user[field] === undefined ? 'drop' : 'change',
    }));

// A jail is stricter than none: the user layer may add one, never drop it.
const jailRule: Rule = (system, user) =>
  system.jail === true && user.jail !== true
    ? [{ field: 'jail', system: 'true', user: user.jail === undefined ? null : String(user.jail), kind: 'drop' }]
    : [];

// The program's own sandbox in place of the launcher's: the system's word only.
const ownSandboxRule: Rule = (system, user) =>
  user.own_sandbox !== undefined && user.own_sandbox !== system.own_sandbox
    ? [
        {
          field: 'own_sandbox',
          system: system.own_sandbox ?? '(none: the launcher holds the session)',
          user: user.own_sandbox,
          kind: system.own_sandbox === undefined ? 'add' : 'change',
        },
      ]
    : [];

const sandboxRule: Rule = (system, user) => {
  const wider = widerSandbox(system.sandbox, user.sandbox);
  return wider === null
    ? []
    : [{ field: 'sandbox', system: JSON.stringify(system.sandbox ?? {}), user: wider, kind: 'wider' }];
};

const callerArgsRule: Rule = (system, user) =>
  looserCallerArgs(system.caller_args, user.caller_args)
    ? [
        {
          field: 'caller_args',
          system: describeRule(system.caller_args!),
          user: describeRule(user.caller_args ?? 'any'),
          kind: 'looser',
        },
      ]
    : [];

// Who may have a placed profile launched for them: the system's word only.
const callersRule = keptAsSystem('callers');

const acknowledgeRule: Rule = (system, user) => {
  const systemAcks = system.acknowledge ?? [];
  const added = (user.acknowledge ?? []).filter((a) => !systemAcks.includes(a));
  return added.length
    ? [{ field: 'acknowledge', system: `[${systemAcks.join(', ')}]`, user: `[${added.join(', ')}]`, kind: 'add' }]
    : [];
};

/** The user layer's rules, in the order their findings are reported. */
const RULES: readonly Rule[] = [
  listenerRule,
  isolationRule,
  backendRule,
  proxyRule,
  placementRule,
  jailRule,
  ownSandboxRule,
  sandboxRule,
  callerArgsRule,
  callersRule,
  acknowledgeRule,
];

/** SYSTEM and USER are resolved field values (after `extends`). Pure. */
export function findWeakenings(system: Fields, user: Fields): Weakening[] {
  return RULES.flatMap((rule) => rule(system, user));
}

/** What USER's sandbox grants that SYSTEM's does not (null: nothing): a jail's holes may only shrink. */
function widerSandbox(system: SandboxConfig | undefined, user: SandboxConfig | undefined): string | null {
  if (user === undefined || JSON.stringify(user) === JSON.stringify(system)) return null;
  const s = resolveSandbox(system);
  const u = resolveSandbox(user);
  const grants = [
    u.display !== 'none' && u.display !== s.display && `display ${u.display}`,
    u.a11y && !s.a11y && 'a11y',
    u.sound && !s.sound && 'sound',
    ...u.files.filter((f) => !s.files.includes(f) && !s.files.includes(f.replace(/:ro$/, ''))).map((f) => `file ${f}`),
    s.sessionBus === null && u.sessionBus !== null && 'a session bus',
    ...(u.sessionBus ?? []).filter((n) => !(s.sessionBus ?? []).includes(n)).map((n) => `session bus ${n}`),
    ...u.inheritFds.filter((fd) => !s.inheritFds.includes(fd)).map((fd) => `descriptor ${fd}`),
  ].filter((g): g is string => typeof g === 'string');
  return grants.length === 0 ? null : grants.join(', ');
}

const describeRule = (rule: CallerArgs) => (typeof rule === 'string' ? rule : JSON.stringify(rule));

/** Whether USER lets callers pass more than SYSTEM: keywords by CALLER_ARGS' order; an exact rule only by itself or none. */
function looserCallerArgs(system: CallerArgs | undefined, user: CallerArgs | undefined): boolean {
  if (system === undefined || system === 'any') return false;
  if (user === 'none') return false;
  if (typeof system === 'object') return JSON.stringify(user) !== JSON.stringify(system);
  return typeof user === 'object' ? false : CALLER_ARGS.indexOf(user ?? 'any') < CALLER_ARGS.indexOf(system);
}

/**
 * The message of one refused override (the file, line and field are the
 * ConfigProblem's). SYSTEMFILE set the system value; REMOVABLE: removing the
 * user's line brings the system value back (the user file extends the
 * system profile); otherwise the fix is to set the system value.
 */
export function weakeningMessage(
  profile: string,
  w: Weakening,
  systemFile: string | undefined,
  removable: boolean,
): string {
  const was = `${w.field} ${w.system}${systemFile ? `, from ${systemFile}` : ''}`;
  const fix = removable ? 'remove the line' : `set ${w.field}: ${w.system}`;
  switch (w.kind) {
    case 'change':
      if (w.field === 'callers')
        return `may not change who may start the system profile '${profile}' (${was}): ${removable ? 'remove the line' : 'use the system value'}, or ask the administrator`;
      if (w.field === 'proxy')
        return `may not change how the system profile '${profile}' tells its program the listener (${was}) to ${w.user}: ${removable ? 'remove it' : 'use the system value'}, or ask the administrator`;
      return w.field === 'listener'
        ? `may not change the listener of the system profile '${profile}' (${was}) to ${w.user}: ${fix}, or ask the administrator`
        : `may not change the placement of the system profile '${profile}' (${was}) to ${w.user}: ${fix}, or ask the administrator`;
    case 'drop':
      if (w.field === 'callers')
        return `may not drop who may start the system profile '${profile}' (${was}): keep it, or ask the administrator`;
      if (w.field === 'proxy')
        return `may not drop how the system profile '${profile}' tells its program the listener (${was}): keep it, or ask the administrator`;
      return `may not drop the placement of the system profile '${profile}' (${was}): set ${w.field}: ${w.system}, or ask the administrator`;
    case 'coarser': {
      const finer = ISOLATION_FINEST_FIRST.slice(
        0,
        ISOLATION_FINEST_FIRST.indexOf(w.system as IsolationMode) + 1,
      ).reverse();
      return `may not weaken the system profile '${profile}' (${was}) to ${w.user} (allowed: ${finer.join(', ')}): ${fix}, or ask the administrator`;
    }
    case 'weaker': {
      const stronger = BACKENDS_STRONGEST_FIRST.slice(
        0,
        BACKENDS_STRONGEST_FIRST.indexOf(w.system as BackendName) + 1,
      ).reverse();
      return `may not weaken the system profile '${profile}' (${was}) to ${w.user} (allowed: ${stronger.join(', ')}): ${fix}, or ask the administrator`;
    }
    case 'looser':
      return `may not let callers pass more arguments to the system profile '${profile}' (${was}) than it allows: ${fix}, or ask the administrator`;
    case 'wider':
      return `may not let the jail of the system profile '${profile}' reach more of the session (${w.user}) than it allows (${w.system}${systemFile ? `, from ${systemFile}` : ''}): remove it, or ask the administrator`;
    case 'add':
      return `may not add the acknowledgement ${w.user} to the system profile '${profile}' (acknowledge ${w.system}${systemFile ? `, from ${systemFile}` : ''}): remove it, or ask the administrator`;
  }
}

/** The same Tor port with the same effect: a user copy of a system listener changes nothing. */
export function sameListener(a: ListenerConfig, b: ListenerConfig): boolean {
  const key = (l: ListenerConfig) =>
    JSON.stringify([
      l.address,
      l.port,
      l.flags ?? [],
      l.netns ?? null,
      l.client_address ?? l.address,
      l.client_port ?? l.port,
      l.jail_port ?? null,
    ]);
  return key(a) === key(b);
}

function describeListener(l: ListenerConfig): string {
  return `${l.address}:${l.port}${l.flags?.length ? ` [${l.flags.join(' ')}]` : ''}${l.netns ? ` in netns ${l.netns}` : ''}`;
}

/** Error path only: finding the line needs the parser. */
async function locate(file: string, path: PropertyKey[], message: string): Promise<ConfigProblem[]> {
  return (await import('./parse-file')).locateInFile(file, path, message);
}

/** Whether /etc/tails-launch/listeners.yml lets the user layer do WHAT. */
export async function adminAllows(layers: Layer[], what: UserOverride, cache: ParsedCache): Promise<boolean> {
  if (!layers.some((l) => l.name === 'admin')) return false;
  const file = adminListenersFile(layers);
  // No admin file (the usual case): nothing allowed, and no parser loaded.
  if (!existsSync(file)) return false;
  return (await readListenersFile(file, cache))?.user_may_override?.includes(what) ?? false;
}

/** The listeners of LAYERS merged as loadListeners does (later layers win), without its errors. */
async function mergedListeners(layers: Layer[], cache: ParsedCache): Promise<Map<string, SourcedListener>> {
  const merged = new Map<string, SourcedListener>();
  for (const layer of layers) {
    const file = join(layer.dir, 'listeners.yml');
    if (!existsSync(file)) continue;
    for (const [name, config] of Object.entries((await readListenersFile(file, cache))?.listeners ?? {}))
      merged.set(name, { name, config, file });
  }
  return merged;
}

/**
 * The layer rules for one listeners file DATA read from FILE as part of
 * layer INDEX of LAYERS (validate passes a file outside every layer as the
 * top layer): `user_may_override` only in the admin layer; the user layer
 * redefines no shipped or admin listener.
 */
export async function listenersFileProblems(
  layers: Layer[],
  index: number,
  file: string,
  data: ListenersFile,
  cache: ParsedCache,
): Promise<ConfigProblem[]> {
  const problems: ConfigProblem[] = [];
  const layer = layers[index]!;
  if (data.user_may_override !== undefined && layer.name !== 'admin') {
    problems.push(
      ...(await locate(
        file,
        ['user_may_override'],
        `is honoured only in the administrator's ${adminListenersFile(layers)}: remove it`,
      )),
    );
  }
  if (data.host_firewall !== undefined && layer.name === 'user') {
    problems.push(
      ...(await locate(
        file,
        ['host_firewall'],
        `is the administrator's to declare, in ${adminListenersFile(layers)}: a user cannot say a firewall holds their launches; remove it`,
      )),
    );
  }
  if (layer.name !== 'user') return problems;
  const system = await mergedListeners(
    layers.slice(0, index).filter((l) => l.name !== 'user'),
    cache,
  );
  const redefined = Object.entries(data.listeners).filter(([name, config]) => {
    const theirs = system.get(name);
    return theirs !== undefined && !sameListener(theirs.config, config);
  });
  if (redefined.length && !(await adminAllows(layers, 'listeners', cache))) {
    for (const [name, config] of redefined) {
      const theirs = system.get(name)!;
      problems.push(
        ...(await locate(
          file,
          ['listeners', name],
          `may not redefine the system listener '${name}' (${describeListener(theirs.config)}, from ${theirs.file}) as ${describeListener(config)}: remove it (a new listener needs a new name), or ask the administrator`,
        )),
      );
    }
  }
  return problems;
}

// Once per loaded configuration: list and validate resolve every profile
// against the same listeners map, and a launch resolves one.
const checked = new WeakMap<Map<string, SourcedListener>, Promise<ConfigProblem[]>>();

/**
 * The layer rules for every layer's listeners file (see listenersFileProblems),
 * for the configuration whose merged listeners are LISTENERS. Costs one
 * existsSync per layer, and a (cached) read of the files that exist.
 */
export function layerListenerProblems(
  layers: Layer[],
  listeners: Map<string, SourcedListener>,
  cache: ParsedCache,
): Promise<ConfigProblem[]> {
  let result = checked.get(listeners);
  if (!result) {
    result = (async () => {
      const problems: ConfigProblem[] = [];
      for (const [index, layer] of layers.entries()) {
        // The admin layer is the one place every key is honoured.
        if (layer.name === 'admin') continue;
        const file = join(layer.dir, 'listeners.yml');
        if (!existsSync(file)) continue;
        const data = await readListenersFile(file, cache);
        if (data) problems.push(...(await listenersFileProblems(layers, index, file, data, cache)));
      }
      return problems;
    })();
    checked.set(listeners, result);
  }
  return result;
}
