// The pure middle of the pipeline, wired to its inputs: layers -> listeners ->
// profile -> plan. Shared by `run` and `explain`, so explain shows exactly
// what run would do.
import { lstatSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { EXIT } from '../errors/exit-codes';
import { LaunchError } from '../errors/launch-error';
import type { CallerState } from '../exec/caller-state';
import type { ExecMethod } from '../exec/types';
import { randomHex } from '../isolation/random';
import { buildPlan, type PlannedLaunch, type ProgramFollowed } from '../plan/build-plan';
import { findExecutable } from '../preflight/find-executable';
import { inspectForPreload } from '../preflight/resolve-program';
import type { ProgramLookup } from '../plan/types';
import { accountNamed, accountOfUid, groupName } from '../placement/account';
import { callersOf, grantLine } from '../placement/grants';
import { isCaller } from '../profile/caller-args';
import type { JailsConfig } from '../profile/schema';
import { decidePlacement, type PlacementDecision } from '../placement/decide';
import { configLayers, type Layer } from '../profile/layers';
import { loadJails, loadListeners } from '../profile/load';
import { SHIPPED_PARSED } from '../profile/parsed-cache';
import { findA11yBus } from '../jail/a11y-bus';
import { guardOf } from './guard-of';
import { readRenewal, renewalFile } from './renewal';
import { resolveProfile, type ResolvedProfile } from '../profile/resolve';
import type { GlobalOptions } from './parse-args';

/** The current directory, or null when it has been deleted (getcwd fails; a direct launch still works). */
function currentDirectory(): string | null {
  try {
    return process.cwd();
  } catch {
    return null;
  }
}

/** The preflight's own chain-following, read-only: what explain shows is what the launch checks. */
function followProgram(path: string, argv: string[], lookup: ProgramLookup): ProgramFollowed {
  const followed = inspectForPreload(path, lookup, argv);
  return followed.ok
    ? { ok: true, file: followed.file, argv: followed.argv, chain: followed.chain }
    : { ok: false, detail: `${followed.path} ${followed.detail}` };
}

/** $XDG_RUNTIME_DIR if it is an absolute path (the XDG spec: otherwise ignored). */
function runtimeDirectory(env: NodeJS.ProcessEnv): string | null {
  const dir = env.XDG_RUNTIME_DIR;
  return dir && dir.startsWith('/') ? dir.replace(/\/+$/, '') || null : null;
}

/** DIR if it is a directory of this process's user (a jail's proxies put their sockets there); else null. */
function ownDirectory(dir: string | null): string | null {
  if (dir === null) return null;
  try {
    const st = statSync(dir);
    return st.isDirectory() && st.uid === process.getuid?.() && (st.mode & 0o077) === 0 ? dir : null;
  } catch {
    return null;
  }
}

const absolute = (path: string | undefined): string | null =>
  path !== undefined && path.startsWith('/') && !path.split('/').includes('..')
    ? path.replace(/\/+$/, '') || '/'
    : null;

/**
 * PATH with every symbolic link in it resolved, as far as it exists; the
 * missing rest (a directory the launch will make) as it stands. What
 * bubblewrap will bind, for the sandbox to check.
 */
function resolvedPath(path: string): string {
  const missing: string[] = [];
  for (let head = path; ;) {
    try {
      return join(realpathSync.native(head), ...missing.reverse());
    } catch {
      const parent = dirname(head);
      if (parent === head) return path;
      missing.push(basename(head));
      head = parent;
    }
  }
}

/** PATH if it is an absolute path to a regular file of this process's user (no link followed); else null. */
function ownFile(path: string | undefined): string | null {
  if (path === undefined || !path.startsWith('/')) return null;
  try {
    const st = lstatSync(path);
    return st.isFile() && st.uid === process.getuid?.() ? path : null;
  } catch {
    return null;
  }
}

/** In the privileged entry's preflight: the system layers it reads, and who called the entry (sudo's caller, or root). */
export interface EntryContext {
  layers: Layer[];
  callerUid: number;
}

/** Who may start PROFILE (and have it jailed): its callers (src/placement/grants.ts), checked for the caller's own launch too. */
function refuseCaller(profile: ResolvedProfile, jails: JailsConfig | null, jail: boolean, uid: number): void {
  const callers = callersOf(profile);
  const jailing = jail && !profile.jail;
  // The usual launch (root, or a profile anyone may start, unjailed) looks nobody up.
  if (uid === 0 || (callers === '*' && !jailing)) return;
  const account = accountOfUid(uid);
  const name = account?.name ?? `uid ${uid}`;
  const groups = (account?.groups ?? []).map(groupName).filter((g): g is string => g !== null);
  if (callers !== '*' && !isCaller(callers, name, uid, groups))
    throw new LaunchError(
      EXIT.refused,
      callers.length === 0
        ? `profile '${profile.name}' names no callers: only root may start it (the administrator may add callers in /etc/tails-launch/profiles/${profile.name}.yml)`
        : `${name} may not start profile '${profile.name}': its callers are ${callers.join(', ')} (ask the administrator)`,
    );
  if (jailing && !isCaller(jails?.callers ?? [], name, uid, groups))
    throw new LaunchError(
      EXIT.refused,
      `${name} may not have jails made: jails: callers in /etc/tails-launch/listeners.yml does not name them (ask the administrator)`,
    );
}

/**
 * The profile's placement for this caller: the accounts it involves are
 * looked up here (the user database is outside input), the rules are
 * placement/decide.ts's.
 */
function placementOf(
  profile: ResolvedProfile,
  options: GlobalOptions,
  entry: EntryContext | null,
  jail: boolean,
): PlacementDecision | null {
  const { netns, user } = profile.placement;
  if (netns === null && user === null && !jail) {
    if (entry === null) return null;
    // The entry is not a way to run anything as root.
    throw new LaunchError(
      EXIT.refused,
      `privileged entry: profile '${profile.name}' has no placement (netns, user) and no jail: the entry runs only profiles that need one; run 'tails-launch ${profile.name}' directly`,
    );
  }
  // Nor a way to have root look up a program the caller names (`--jail default -- PATH`): only the profile's own.
  if (entry !== null && profile.command === null)
    throw new LaunchError(
      EXIT.refused,
      `privileged entry: profile '${profile.name}' names no command of its own: the entry runs only a profile's own command`,
    );
  const uid = process.getuid?.() ?? -1;
  // What an unprivileged caller's launch cannot take through the entry.
  const notPassable = [
    options.configDir !== undefined && '--config-dir (the entry reads only the system layers)',
    options.waitForTor !== undefined && '--wait-for-tor is not passed on',
    ...Object.entries(profile.fieldSources)
      .filter(([, source]) => source.layer === 'user')
      .slice(0, 1)
      .map(([, source]) => `the user layer's ${source.file} changes it (remove that file)`),
  ].filter((x): x is string => typeof x === 'string');
  return decidePlacement({
    profile: profile.name,
    placement: profile.placement,
    jail,
    uid,
    entryCaller: entry?.callerUid ?? null,
    named: user === null ? null : accountNamed(user),
    caller: accountOfUid(entry?.callerUid ?? uid),
    notPassable,
  });
}

/** A planned launch, and in the entry's preflight the grant the configuration makes now (compared with the entry's). */
export type PlannedWithGrant = PlannedLaunch & { systemGrant: string | null };

export async function planLaunch(
  request: { profile: string; args: string[]; options: GlobalOptions },
  caller: CallerState,
  execMethod: ExecMethod,
  entry: EntryContext | null = null,
): Promise<PlannedWithGrant> {
  const layers = entry?.layers ?? configLayers(request.options.configDir, process.env);
  // The shipped files' data is built in (root's, in the bundle): any other file is parsed.
  const cache = SHIPPED_PARSED;
  const listeners = await loadListeners(layers, cache);
  const profile = await resolveProfile(layers, listeners, request.profile, cache);
  const jailAsked = profile.jail || request.options.jail === true;
  // Only a jail, or the entry's grant, reads the jails section: the usual launch does not.
  const jails = jailAsked || entry !== null ? await loadJails(layers, cache) : null;
  const uid = process.getuid?.() ?? -1;
  // Who may start it comes first; --jail needs `jails: callers` only where root makes the jail.
  const rootJailable = jails?.pool != null && profile.listener.jailPort !== null;
  if (entry === null) refuseCaller(profile, jails, rootJailable && request.options.jail === true, uid);
  const decision = await guardOf(profile, jailAsked, jails, layers, cache, entry?.callerUid ?? uid);
  if (!decision.ok) throw new LaunchError(EXIT[decision.status], decision.problem);
  const guard = decision.guard;
  const jailed = guard.by === 'root';
  const jail = jailed ? { pool: jails?.pool ?? null } : null;
  const placement = placementOf(profile, request.options, entry, jailed);
  const runtimeDir = runtimeDirectory(process.env);
  const planned = buildPlan({
    placement,
    jail,
    guard,
    sandboxFacts:
      guard.by === 'user' || guard.session
        ? {
            a11yBus: profile.sandbox.a11y ? findA11yBus(process.env, runtimeDir) : null,
            launchKey: randomHex().slice(0, 16),
            runtimeDir: ownDirectory(runtimeDir),
            // Programs find ~ by $HOME: an absolute one is the home (the sandbox refuses one that is a door of
            // the session, such as the runtime directory); else the account's.
            home: absolute(process.env.HOME) ?? accountOfUid(entry?.callerUid ?? uid)?.home ?? null,
            xauthority: profile.sandbox.display === 'x11' ? ownFile(process.env.XAUTHORITY) : null,
            realPath: resolvedPath,
          }
        : null,
    callerUid: entry?.callerUid ?? uid,
    grant: placement?.via === 'self' ? grantLine(profile, jails, { jailed }) : null,
    profile,
    identity: request.options.identity,
    // The caller's own renewal of an app group (new-identity); the entry re-planning a sudo caller's launch reads no user's file.
    renewal:
      profile.isolation === 'app' && entry === null
        ? readRenewal(renewalFile(process.env, profile.name, request.options.identity), uid)
        : null,
    args: request.args,
    environment: process.env,
    cwd: currentDirectory(),
    fds: caller.fds,
    execMethod,
    randomHex,
    findExecutable,
    followProgram,
    runtimeDir,
    waitForTor: request.options.waitForTor,
  });
  return { ...planned, systemGrant: entry ? grantLine(profile, jails) : null };
}
