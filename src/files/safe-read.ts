// The one way tails-launch reads a file it is given: profiles, listeners
// files, a torrc and its %include files.
//
// Any of these paths may name something that is not a file. A FIFO blocks
// open(2) until a writer comes, and /dev/zero (or /dev/urandom, or a FIFO
// with a writer) never ends: `readFileSync` on either hangs the launcher or
// fills its memory. So:
//
// - open with O_NONBLOCK, so that opening a FIFO returns at once, and
//   O_NOCTTY, so that a terminal device never becomes our controlling tty;
// - fstat THE DESCRIPTOR we opened (no check-then-open race): only a regular
//   file is read. A symlink to a regular file is fine, since the file it
//   ends at is what was opened and what fstat describes;
// - refuse a file larger than the caller's bound, and read at most bound + 1
//   bytes whatever fstat said (a file can grow between fstat and read, and
//   some regular files, in /proc say, report a size of 0).
//
// O_NONBLOCK does nothing to reads of a regular file, which is all we read.
import { closeSync, constants, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { printable } from './printable';

export const KiB = 1024;
export const MiB = 1024 * KiB;

/** FILE exists but could not be read as a configuration file; REASON says why, in a few words. */
export class FileReadError extends Error {
  constructor(
    readonly file: string,
    readonly reason: string,
    /** The errno code when the system refused (EACCES...), undefined when we did. */
    readonly code?: string,
  ) {
    super(`${printable(file)}: ${reason}`);
    this.name = 'FileReadError';
  }
}

/** What STATS describes, in words, for "is not a regular file (…)". */
export function fileKind(stats: Stats): string {
  if (stats.isFile()) return 'a regular file';
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFIFO()) return 'a FIFO';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  if (stats.isSocket()) return 'a socket';
  if (stats.isSymbolicLink()) return 'a symbolic link';
  return 'not a file';
}

/** 1 MiB, 64 KiB, 100 bytes. */
export function formatSize(bytes: number): string {
  if (bytes >= MiB && bytes % MiB === 0) return `${bytes / MiB} MiB`;
  if (bytes >= KiB && bytes % KiB === 0) return `${bytes / KiB} KiB`;
  return `${bytes} bytes`;
}

/** `EACCES: permission denied, open '/x'` -> `permission denied`. */
export function errnoReason(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  if (e.code === 'EACCES' || e.code === 'EPERM') return 'permission denied';
  return String(e.message ?? error)
    .replace(/^[A-Z0-9]+: /, '')
    .replace(/, \w+ '.*'$/s, '');
}

export interface ReadOptions {
  /** Larger files are refused. */
  maxBytes: number;
  /** Refuse a symbolic link as the last component (O_NOFOLLOW): for files we write ourselves. */
  noFollow?: boolean;
  /** More checks on the opened file's fstat (owner, mode): a reason to refuse it, or null. */
  check?: (stats: Stats) => string | null;
}

export interface BoundedFile {
  text: string;
  /** fstat of the descriptor the text was read from. */
  stats: Stats;
}

/** Why PATH could not be opened, for the errno codes whose own words mislead. */
function openFailure(path: string, error: NodeJS.ErrnoException, noFollow: boolean): FileReadError {
  // ENXIO: opening a socket (or a device without a driver) fails; say what it is.
  if (error.code === 'ENXIO') {
    let kind = 'not a regular file';
    try {
      kind = `not a regular file (${fileKind(statSync(path))})`;
    } catch {
      // gone meanwhile: the generic words will do
    }
    return new FileReadError(path, `is ${kind}`, error.code);
  }
  if (error.code === 'ELOOP' && noFollow) return new FileReadError(path, 'is a symbolic link', error.code);
  return new FileReadError(path, errnoReason(error), error.code);
}

/**
 * PATH's text (UTF-8), when PATH is a regular file of at most maxBytes that
 * passes CHECK; null when it does not exist. Anything else throws FileReadError.
 */
export function readBoundedFile(path: string, options: ReadOptions): BoundedFile | null {
  const flags =
    constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY | (options.noFollow ? constants.O_NOFOLLOW : 0);
  let fd: number;
  try {
    fd = openSync(path, flags);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw openFailure(path, error as NodeJS.ErrnoException, options.noFollow === true);
  }
  try {
    return readDescriptor(fd, path, options);
  } finally {
    closeSync(fd);
  }
}

/**
 * The text of the file open at FD (named PATH in errors), under the same
 * rules as readBoundedFile: a regular file of at most maxBytes that passes
 * CHECK, or FileReadError. FD stays open: it is the caller's.
 */
export function readDescriptor(fd: number, path: string, options: ReadOptions): BoundedFile {
  const stats = fstatSync(fd);
  if (!stats.isFile()) throw new FileReadError(path, `is not a regular file (${fileKind(stats)})`);
  const problem = options.check?.(stats);
  if (problem) throw new FileReadError(path, problem);
  const tooLarge = () => new FileReadError(path, `is larger than ${formatSize(options.maxBytes)}`);
  if (stats.size > options.maxBytes) throw tooLarge();
  // One byte more than allowed tells "too large" from "exactly the bound".
  const limit = options.maxBytes + 1;
  let buffer = Buffer.allocUnsafe(Math.min(limit, Math.max(stats.size + 1, 4 * KiB)));
  let filled = 0;
  for (;;) {
    let n: number;
    try {
      n = readSync(fd, buffer, filled, buffer.length - filled, null);
    } catch (error) {
      throw new FileReadError(path, errnoReason(error), (error as NodeJS.ErrnoException).code);
    }
    if (n === 0) break;
    filled += n;
    if (filled < buffer.length) continue;
    if (buffer.length >= limit) break;
    // It grew since fstat: make room, never past the limit.
    const larger = Buffer.allocUnsafe(Math.min(limit, buffer.length * 2));
    buffer.copy(larger, 0, 0, filled);
    buffer = larger;
  }
  if (filled > options.maxBytes) throw tooLarge();
  return { text: buffer.toString('utf8', 0, filled), stats };
}
