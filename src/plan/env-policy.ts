// The environment of a launch: what it sets, removes and replaces. Which
// inherited variables are always removed is the profile language's rule
// (profile/reserved-env.ts), shared with the profile checks.
import { isScrubbed } from '../profile/reserved-env';

export interface EnvironmentChanges {
  /** Every variable the launch sets, with its value. */
  set: Record<string, string>;
  /** Inherited variables the launch removes (scrubbed or unset by the profile). */
  removed: string[];
  /** Inherited variables whose value the launch replaces (their new value is in `set`). */
  replaced: string[];
}

/**
 * The application's complete environment: the inherited one, minus what the
 * policy scrubs and the profile unsets, plus the backend's variables and the
 * profile's. Pure: the inherited environment is an argument.
 */
export function buildEnvironment(
  inherited: Readonly<Record<string, string | undefined>>,
  backendSet: Readonly<Record<string, string>>,
  profileEnv: { set: Readonly<Record<string, string>>; unset: readonly string[]; keep?: readonly string[] | null },
  /** Set before the profile's variables (a placed application's HOME, USER, PATH...). */
  base: Readonly<Record<string, string>> = {},
): { env: Record<string, string>; changes: EnvironmentChanges } {
  const unset = new Set(profileEnv.unset);
  // An allow-list (env.keep): every other inherited variable is removed.
  const keep = profileEnv.keep ? new Set(profileEnv.keep) : null;
  const env: Record<string, string> = {};
  const removed: string[] = [];
  for (const [name, value] of Object.entries(inherited)) {
    if (value === undefined) continue;
    if (isScrubbed(name) || unset.has(name) || (keep !== null && !keep.has(name))) removed.push(name);
    else env[name] = value;
  }
  const set = { ...base, ...profileEnv.set, ...backendSet };
  Object.assign(env, set);
  const replaced = Object.keys(inherited).filter(
    (n) => inherited[n] !== undefined && n in set && inherited[n] !== set[n],
  );
  return { env, changes: { set, removed: removed.filter((n) => !(n in set)).sort(), replaced: replaced.sort() } };
}
