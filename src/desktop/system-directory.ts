// A directory of the system's that `desktop --install` and `--remove`
// change as root (/usr/share/applications, …/dbus-1/services), reached
// without following a single symbolic link.
//
// A path is only a promise about the moment it is looked up: a directory on
// the way swapped for a link between reading and writing would send root's
// write wherever the link points (/etc/systemd/system). Node has no openat(2),
// so it is libc's, through koffi (src/exec/libc.ts): the directory is opened
// from / one component at a time with O_DIRECTORY | O_NOFOLLOW, each one
// checked on its descriptor (fstat: root's, and writable by nobody else,
// src/profile/trust.ts), and every change is then made relative to that
// descriptor (openat, renameat2, unlinkat): whatever happens to the path
// meanwhile, the changes land in the directory that was checked. A link on
// the way is refused, never followed.
import { randomBytes } from 'node:crypto';
import { closeSync, constants, fchmodSync, fstatSync, lstatSync, writeSync } from 'node:fs';
import { EXIT } from '../errors/exit-codes';
import { LaunchError } from '../errors/launch-error';
import { AT_FDCWD, ERRNO, errorText, loadLibc, O_CLOEXEC, O_PATH, RENAME_NOREPLACE, type Libc } from '../exec/libc';
import { printable } from '../files/printable';
import { errnoReason, FileReadError, MiB, readDescriptor } from '../files/safe-read';
import { trustProblem } from '../profile/trust';

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK, O_NOCTTY } = constants;

/** A system directory that cannot be used or changed: one line, and nothing more is changed. */
export class SystemDirectoryError extends LaunchError {
  constructor(message: string) {
    super(EXIT.checkFailed, message);
    this.name = 'SystemDirectoryError';
  }
}

function libc(): Libc {
  const loaded = loadLibc();
  if ('error' in loaded)
    throw new LaunchError(
      EXIT.refused,
      `system-wide, desktop changes files only through openat(2), without following links, and ${loaded.error}`,
    );
  return loaded.libc;
}

/** Why the component at PATH could not be opened as a directory. */
function notADirectory(path: string, reason: string): SystemDirectoryError {
  let what = reason;
  try {
    const stats = lstatSync(path);
    if (stats.isSymbolicLink())
      what = 'is a symbolic link: system-wide, tails-launch follows none on the way to what it changes';
    else if (!stats.isDirectory()) what = 'is not a directory';
  } catch {
    // gone meanwhile: the system's words will do
  }
  return new SystemDirectoryError(`${printable(path)} ${what}`);
}

export class SystemDirectory {
  private constructor(
    /** The path it was opened by (for messages only: every change goes through FD). */
    readonly path: string,
    private readonly fd: number,
    private readonly c: Libc,
  ) {}

  /** PATH (absolute), opened component by component without following links, each checked; SystemDirectoryError otherwise. */
  static open(path: string): SystemDirectory {
    const c = libc();
    const names = path.split('/').filter((name) => name !== '');
    if (!path.startsWith('/') || names.some((name) => name === '.' || name === '..'))
      throw new SystemDirectoryError(`${printable(path)} is not an absolute path without . or ..`);
    const flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    // The descriptor openat just returned for AT, or why there is none (errno read at once: it is the last call's).
    const opened = (fd: number, at: string): number => {
      if (fd >= 0) return fd;
      const errno = c.koffi.errno();
      if (errno === ERRNO.ELOOP || errno === ERRNO.ENOTDIR) throw notADirectory(at, errorText(c, errno));
      throw new SystemDirectoryError(`cannot open ${printable(at)}: ${errorText(c, errno)}`);
    };
    let at = '/';
    let fd = opened(c.openat(AT_FDCWD, at, flags) as number, at);
    for (let i = 0; ; i++) {
      // Root's, and writable by nobody else; a sticky directory (/tmp) only on the way, never the one changed.
      const problem = trustProblem(fstatSync(fd), i === names.length);
      if (problem !== null) {
        closeSync(fd);
        throw new SystemDirectoryError(`${printable(at)} ${problem}`);
      }
      if (i === names.length) return new SystemDirectory(path, fd, c);
      at = at === '/' ? `/${names[i]}` : `${at}/${names[i]}`;
      const parent = fd;
      try {
        fd = opened(c.openat(parent, names[i]!, flags) as number, at);
      } finally {
        closeSync(parent);
      }
    }
  }

  /** SystemDirectoryError for the call that just failed (ERRNO: its errno, when other calls came since). */
  private fail(what: string, name: string, errno = this.c.koffi.errno()): never {
    throw new SystemDirectoryError(`cannot ${what} ${printable(`${this.path}/${name}`)}: ${errorText(this.c, errno)}`);
  }

  /** Whether anything (a link too) is called NAME here. */
  exists(name: string): boolean {
    const fd = this.c.openat(this.fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC) as number;
    if (fd >= 0) {
      closeSync(fd);
      return true;
    }
    if (this.c.koffi.errno() === ERRNO.ENOENT) return false;
    return this.fail('look up', name);
  }

  /** NAME's text: a regular file of at most 1 MiB, not a link; null when there is none; FileReadError otherwise. */
  read(name: string): string | null {
    const fd = this.c.openat(this.fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC) as number;
    const path = `${this.path}/${name}`;
    if (fd < 0) {
      const errno = this.c.koffi.errno();
      if (errno === ERRNO.ENOENT) return null;
      if (errno === ERRNO.ELOOP) throw new FileReadError(path, 'is a symbolic link');
      if (errno === ERRNO.ENXIO) throw new FileReadError(path, 'is not a regular file');
      throw new FileReadError(path, errorText(this.c, errno));
    }
    try {
      return readDescriptor(fd, path, { maxBytes: MiB }).text;
    } finally {
      closeSync(fd);
    }
  }

  /** Writes TEXT (mode 0644) to a new file renamed onto NAME: a reader sees the old file or the new one, never half of one. */
  write(name: string, text: string): void {
    const temporary = `.${name}.${randomBytes(6).toString('hex')}.tmp`;
    const flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
    const fd = this.c.openat(this.fd, temporary, flags, 'uint32', 0o644) as number;
    if (fd < 0) this.fail('create a file in', temporary);
    try {
      fchmodSync(fd, 0o644);
      const bytes = Buffer.from(text, 'utf8');
      for (let written = 0; written < bytes.length;) written += writeSync(fd, bytes, written);
    } catch (error) {
      this.c.unlinkat(this.fd, temporary, 0);
      throw new SystemDirectoryError(`cannot write ${printable(`${this.path}/${name}`)}: ${errnoReason(error)}`);
    } finally {
      closeSync(fd);
    }
    if (this.c.renameat2(this.fd, temporary, this.fd, name, 0) !== 0) {
      const errno = this.c.koffi.errno();
      this.c.unlinkat(this.fd, temporary, 0);
      this.fail('replace', name, errno);
    }
  }

  /** Renames FROM to TO in this directory, never over an existing TO (RENAME_NOREPLACE). */
  rename(from: string, to: string): void {
    if (this.c.renameat2(this.fd, from, this.fd, to, RENAME_NOREPLACE) !== 0) this.fail(`rename ${from} to`, to);
  }

  /** Removes the file NAME (a link itself, never what it points to). */
  unlink(name: string): void {
    if (this.c.unlinkat(this.fd, name, 0) !== 0) this.fail('remove', name);
  }

  close(): void {
    closeSync(this.fd);
  }
}
