// What the rewrite needs of a profile (src/desktop/rewrite.ts's
// RewriteProfile), and the launcher its Exec lines call: one place for
// `desktop` and `doctor`, which must make the very same text.
import type { ResolvedProfile } from '../profile/resolve';
import { commandMatcher } from './program';
import type { RewriteProfile } from './rewrite';

/** Set at build time (scripts/build.mjs): the launcher the rewritten Exec lines call (/usr/bin/tails-launch in the package). */
declare const __FRONT_PATH__: string;
export const LAUNCHER = typeof __FRONT_PATH__ === 'string' ? __FRONT_PATH__ : '/usr/bin/tails-launch';

export type Subject = RewriteProfile & Required<Pick<RewriteProfile, 'matches'>>;

/**
 * PROFILE as the rewrite takes it, its Exec programs matched by name or by
 * file (bare names looked up on PATH_VARIABLE); null when the profile names
 * no command (it runs whatever follows --).
 */
export function rewriteProfile(profile: ResolvedProfile, pathVariable: string): Subject | null {
  if (profile.command === null) return null;
  return {
    name: profile.name,
    command: profile.command,
    callerArgs: profile.callerArgs,
    named: profile.desktopFiles,
    matches: commandMatcher(profile.command, pathVariable),
    newCircuit: profile.isolation === 'app' || profile.isolation === 'launch',
  };
}
