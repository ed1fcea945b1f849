// Which configuration tails-launch reads at all, decided as sudo and ssh
// decide it: only what nobody but root and the invoking user can change.
//
// A profile decides where an application's traffic goes. If someone else can
// write a layer's file, or rename or replace anything on the way to it, that
// someone decides instead (root launching with a user's XDG_CONFIG_HOME, a
// 0666 file, a group-writable ~/.config). So, for every configuration file
// read and every layer directory that exists:
//
// - every directory from / down to it, and every symbolic link followed on
//   the way, must be owned by root or by the invoking user (the REAL uid:
//   for root that is root alone, so root never reads a layer owned by
//   someone else);
// - those directories must not be writable by group or others, except that a
//   sticky one (/tmp) may be an ANCESTOR: there, others cannot rename or
//   remove entries they do not own, and every entry we pass through is
//   checked to be owned by root or the user;
// - the directory that holds the files (the layer directory, profiles/) must
//   not be writable by group or others even when sticky;
// - the file itself, checked on the descriptor we read it from (fstat, so no
//   check-then-open race), must be a regular file of at most 1 MiB owned by
//   root or the user and not writable by group or others.
//
// The path is resolved component by component, following symbolic links as
// the kernel would but checking each one, and the file is then opened by its
// resolved path with O_NOFOLLOW: nothing on the way can change between the
// check and the open, because only trusted users can change it at all.
//
// A layer directory that does not exist is simply absent, and so is a file
// that does not exist, even below an untrusted directory: nothing is read
// from there, and what is absent can only leave the layers below in effect.
import { accessSync, constants, lstatSync, readlinkSync, statSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError, type ConfigProblem } from './config-error';
import { printable } from '../files/printable';
import { errnoReason, FileReadError, MiB, readBoundedFile } from '../files/safe-read';

/**
 * The most a profile or listeners file may hold. The shipped ones are under
 * 1 KiB; 1 MiB is a thousand times that, still parsed and validated in
 * milliseconds, and it keeps a mistaken or hostile file (a 30 MB one, a
 * device) from costing the launcher more than that in memory and time.
 */
export const MAX_CONFIG_BYTES = 1 * MiB;

/** S_ISVTX, the sticky bit (not in Node's fs.constants). */
const STICKY = 0o1000;

/** Linux gives up after 40 symbolic links in one lookup (ELOOP); so do we. */
const MAX_SYMLINKS = 40;

/**
 * A configuration file or directory that exists but cannot be read (EACCES,
 * EIO...). Still exit 65, the configuration being unusable, but not called
 * "invalid": the line says what the system said, `cannot read FILE: permission
 * denied`, so that nobody goes looking for a mistake in the file.
 */
export class ConfigReadError extends ConfigError {
  constructor(
    file: string,
    /** What the system said, in a few words (`permission denied`). */
    readonly reason: string,
  ) {
    super([{ file, message: `cannot read: ${reason}` }]);
    this.message = `cannot read ${printable(file)}: ${reason}`;
    this.name = 'ConfigReadError';
  }
}

/** The invoking user: the real uid, as sudo and ssh take it. */
function invokingUid(): number {
  return process.getuid?.() ?? 0;
}

/** Owners whose configuration we read: root, and the invoking user. */
export function isTrustedOwner(uid: number): boolean {
  return uid === 0 || uid === invokingUid();
}

function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}

function ownerProblem(stats: Stats): string | null {
  if (isTrustedOwner(stats.uid)) return null;
  const me = invokingUid();
  return me === 0
    ? `is owned by uid ${stats.uid}, not by root: chown it to root or remove it`
    : `is owned by uid ${stats.uid}, not by root or you (uid ${me}): chown it to you or remove it`;
}

/** Group or others can write STATS' file; a STICKY directory may be allowed. */
function writableProblem(stats: Stats, allowSticky: boolean): string | null {
  const writable = stats.mode & 0o022;
  if (writable === 0) return null;
  if (allowSticky && stats.isDirectory() && (stats.mode & STICKY) !== 0) return null;
  const who = writable & 0o002 ? 'others' : 'its group';
  return `is writable by ${who} (mode ${octal(stats.mode)}): make it ${octal(stats.mode & ~0o022)} or remove it`;
}

/**
 * Why the file or directory STATS describes may not be trusted: someone
 * besides root and the invoking user owns it or can write it (a sticky
 * directory allowed only when it is not the one HOLDING what is read or
 * written); null when it may. For descriptors opened by other means than
 * resolveTrusted (src/desktop/system-directory.ts).
 */
export function trustProblem(stats: Stats, holding: boolean): string | null {
  return ownerProblem(stats) ?? writableProblem(stats, !holding);
}

function problemAt(path: string, message: string | null): ConfigProblem | null {
  return message === null ? null : { file: path, message };
}

// Directories seen in this process. A launch resolves a few files in the same
// few directories; nothing it checks can change meanwhile except by root or
// the user (which is the point of the checks).
const directories = new Map<string, Stats>();

function lstatDirectory(path: string): Stats {
  let stats = directories.get(path);
  if (!stats) {
    stats = lstatSync(path);
    if (stats.isDirectory()) directories.set(path, stats);
  }
  return stats;
}

/**
 * PATH (made absolute) resolved to its real path, every directory and
 * symbolic link on the way checked; null when PATH does not exist. The last
 * component is resolved but not checked: that is the caller's (a file on its
 * descriptor, a layer directory strictly).
 */
export function resolveTrusted(path: string): string | null {
  const pending = resolve(path)
    .split('/')
    .filter((c) => c !== '');
  let current = '/';
  let problem: ConfigProblem | null = null;
  const note = (at: string, message: string | null) => {
    problem ??= problemAt(at, message);
  };
  let links = 0;
  try {
    const root = lstatDirectory('/');
    note('/', trustProblem(root, false));
    while (pending.length) {
      const name = pending.shift()!;
      if (name === '.') continue;
      // `current` is always a real path, so its parent is the real parent (as the kernel does after a symlink).
      if (name === '..') {
        current = dirname(current);
        continue;
      }
      const next = current === '/' ? `/${name}` : `${current}/${name}`;
      const stats = lstatDirectory(next);
      if (stats.isSymbolicLink()) {
        // Nobody can edit a symlink, but its owner can remove and replace it in a sticky directory.
        note(next, ownerProblem(stats));
        if (++links > MAX_SYMLINKS) throw new ConfigReadError(path, 'too many levels of symbolic links');
        const target = readlinkSync(next);
        if (target.startsWith('/')) current = '/';
        pending.unshift(...target.split('/').filter((c) => c !== ''));
        continue;
      }
      if (pending.length) {
        // A file where a directory should be: open(2) would say ENOTDIR, which means "absent".
        if (!stats.isDirectory()) return null;
        note(next, trustProblem(stats, false));
      }
      current = next;
    }
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw new ConfigReadError(path, errnoReason(error));
  }
  if (problem) throw new ConfigError([problem]);
  return current;
}

/** The directory REAL (a real path) holds configuration: owned by root or the user, writable by nobody else, sticky or not. */
function checkHoldingDirectory(real: string): void {
  const problem = problemAt(real, trustProblem(lstatDirectory(real), true));
  if (problem) throw new ConfigError([problem]);
}

/**
 * The text of the configuration file FILE, read only when it and the path to
 * it pass the checks above; null when FILE does not exist. Throws ConfigError
 * for an untrusted, irregular or too large file, ConfigReadError when the
 * system refuses to read it.
 */
export function readConfigText(file: string): string | null {
  const real = resolveTrusted(file);
  if (real === null) return null;
  try {
    checkHoldingDirectory(dirname(real));
    const read = readBoundedFile(real, {
      maxBytes: MAX_CONFIG_BYTES,
      // Resolved above, every step checked: a symlink here now would be a change made by root or the user meanwhile.
      noFollow: true,
      check: (stats) => trustProblem(stats, true),
    });
    return read === null ? null : read.text;
  } catch (error) {
    if (!(error instanceof FileReadError)) throw error;
    // Named by the path the user gave (the resolved one may be a symlink's target).
    if (error.code !== undefined) throw new ConfigReadError(file, error.reason);
    throw new ConfigError([{ file, message: error.reason }]);
  }
}

/**
 * Whether PATH is a directory to read from: trusted all the way down, not
 * writable by group or others, and searchable by us (one we cannot search
 * must not silently drop out); false when it does not exist or is not a
 * directory (nothing can be read from it, as if absent). ConfigError when
 * it is not trusted, ConfigReadError when the system refuses.
 */
export function isTrustedDirectory(path: string): boolean {
  const real = resolveTrusted(path);
  if (real === null) return false;
  let isDirectory: boolean;
  try {
    isDirectory = statSync(real).isDirectory();
  } catch (error) {
    throw new ConfigReadError(path, errnoReason(error));
  }
  if (!isDirectory) return false;
  checkHoldingDirectory(real);
  try {
    accessSync(real, constants.X_OK);
  } catch (error) {
    throw new ConfigReadError(path, errnoReason(error));
  }
  return true;
}

/** Checks a layer directory DIR and its profiles/ when they exist (--config-dir says itself when DIR is not one). */
export function checkLayerDirectory(dir: string): void {
  if (isTrustedDirectory(dir)) isTrustedDirectory(`${dir}/profiles`);
}
