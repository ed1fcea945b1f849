// Which Exec programs run a profile's command. By name, as before (the
// same path, or a bare name of its basename: Tails' /usr/local/bin wrappers
// have the application's name), and by the FILE a program resolves to: on a
// merged-/usr system /bin/totem is /usr/bin/totem, and a hard link, a
// symbolic link (Debian's alternatives: /usr/bin/x-www-browser) or a bare
// name found on PATH runs the very same program. Two names are the same
// file when stat(2) gives the same device and inode.
import { statSync } from 'node:fs';
import { findExecutable } from '../preflight/find-executable';
import { runsCommand } from './rewrite';

/** Whether an Exec program (its first word, as written) runs the profile's command. */
export type ProgramMatcher = (program: string) => boolean;

/**
 * The PATH that bare names are looked up on system-wide: what a session's
 * PATH holds on Debian (never the administrator's own, which may be anything).
 */
export const SYSTEM_PATH = '/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin';

/** `dev:ino` of the executable file NAME resolves to (a bare name on PATH_VARIABLE), or null. */
function fileOf(name: string, pathVariable: string): string | null {
  const found = findExecutable(name, pathVariable, null);
  if (found.status !== 'ok') return null;
  try {
    const stats = statSync(found.path);
    return `${stats.dev}:${stats.ino}`;
  } catch {
    return null;
  }
}

/**
 * COMMAND's matcher: by name, or by the file both resolve to (bare names on
 * PATH_VARIABLE). A command that is not installed matches by name only.
 */
export function commandMatcher(command: string, pathVariable: string): ProgramMatcher {
  const target = fileOf(command, pathVariable);
  const known = new Map<string, boolean>();
  return (program) => {
    if (runsCommand(program, command)) return true;
    if (target === null) return false;
    let same = known.get(program);
    if (same === undefined) {
      same = fileOf(program, pathVariable) === target;
      known.set(program, same);
    }
    return same;
  };
}
