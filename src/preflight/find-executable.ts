import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import type { ExecutableLookup } from '../plan/types';

function inspect(path: string): ExecutableLookup {
  let stats;
  try {
    stats = statSync(path);
  } catch {
    return { status: 'not-found', path };
  }
  if (!stats.isFile()) return { status: 'not-executable', path, reason: 'not a regular file' };
  try {
    accessSync(path, constants.X_OK);
  } catch {
    return { status: 'not-executable', path, reason: 'not executable (no x permission)' };
  }
  return { status: 'ok', path };
}

/**
 * Finds NAME the way execvp would, but against the NEW environment's PATH
 * (not the launcher's) and without ever running a non-ELF file through /bin/sh.
 * A name with a slash is taken relative to CWD (null: the current directory
 * was deleted, so a relative name cannot be found); a bare name is searched on
 * PATH, skipping empty and relative PATH entries (they would depend on the cwd).
 */
export function findExecutable(name: string, pathVariable: string | undefined, cwd: string | null): ExecutableLookup {
  if (name.includes('/')) {
    if (isAbsolute(name)) return inspect(name);
    return cwd === null ? { status: 'not-found', path: null } : inspect(resolve(cwd, name));
  }
  let firstNonExecutable: ExecutableLookup | null = null;
  for (const dir of (pathVariable ?? '/usr/local/bin:/usr/bin:/bin').split(delimiter)) {
    if (!isAbsolute(dir)) continue;
    const found = inspect(join(dir, name));
    if (found.status === 'ok') return found;
    if (found.status === 'not-executable' && !firstNonExecutable) firstNonExecutable = found;
  }
  return firstNonExecutable ?? { status: 'not-found', path: null };
}
