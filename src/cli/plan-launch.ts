// The pure middle of the pipeline, wired to its inputs: layers -> listeners ->
// profile -> plan. Shared by `run` and `explain`, so explain shows exactly
// what run would do.
import type { CallerState } from '../exec/caller-state';
import type { ExecMethod } from '../exec/types';
import { randomHex } from '../isolation/random';
import { buildPlan, type PlannedLaunch, type ProgramFollowed } from '../plan/build-plan';
import { findExecutable } from '../preflight/find-executable';
import { inspectForPreload, type ProgramLookup } from '../preflight/resolve-program';
import { configLayers } from '../profile/layers';
import { loadListeners } from '../profile/load';
import { openParsedCache } from '../profile/parsed-cache';
import { resolveProfile } from '../profile/resolve';
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

export async function planLaunch(
  request: { profile: string; args: string[]; options: GlobalOptions },
  caller: CallerState,
  execMethod: ExecMethod,
): Promise<PlannedLaunch> {
  const layers = configLayers(request.options.configDir, process.env);
  const cache = openParsedCache(process.env);
  const listeners = await loadListeners(layers, cache);
  const profile = await resolveProfile(layers, listeners, request.profile, cache);
  cache.save();
  return buildPlan({
    profile,
    identity: request.options.identity,
    args: request.args,
    environment: process.env,
    cwd: currentDirectory(),
    fds: caller.fds,
    execMethod,
    randomHex,
    findExecutable,
    followProgram,
    runtimeDir: runtimeDirectory(process.env),
    waitForTor: request.options.waitForTor,
  });
}
