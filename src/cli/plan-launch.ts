// The pure middle of the pipeline, wired to its inputs: layers -> listeners ->
// profile -> plan. Shared by `run` and `explain`, so explain shows exactly
// what run would do.
import type { CallerState } from '../exec/caller-state';
import type { ExecMethod } from '../exec/types';
import { randomHex } from '../isolation/random';
import { buildPlan, type PlannedLaunch } from '../plan/build-plan';
import { findExecutable } from '../preflight/find-executable';
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
    waitForTor: request.options.waitForTor,
  });
}
