// Writes the files a backend hands over by path (proxychains' configuration)
// into the user's private runtime directory: $XDG_RUNTIME_DIR is a per-user
// tmpfs (memory, never a disk), mode 0700, emptied at logout. The file must
// outlive the launcher (every descendant of the application reads it when it
// starts), so it is not removed; it is read-only (0400), replaced atomically
// (rename) when a later launch writes the same name, and holds nothing but an
// isolation key that only reaches the local Tor.
import { closeSync, fstatSync, lstatSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT } from '../errors/exit-codes';
import { LaunchError } from '../errors/launch-error';

/** Owned by us and by nobody else writable: else another user could change what the application reads. */
function assertPrivateDirectory(dir: string, uid: number): void {
  const stats = lstatSync(dir);
  if (!stats.isDirectory()) throw new Error(`${dir} is not a directory`);
  if (stats.uid !== uid) throw new Error(`${dir} belongs to uid ${stats.uid}, not to you (uid ${uid})`);
  if (stats.mode & 0o077) throw new Error(`${dir} is open to other users (mode 0${(stats.mode & 0o777).toString(8)})`);
}

/** Creates (or replaces) PATH with CONTENT, read-only, under a private directory. PATH's directory is created 0700. */
export function writeRuntimeFile(path: string, content: string): void {
  const uid = process.getuid?.() ?? 0;
  const dir = path.slice(0, path.lastIndexOf('/'));
  const runtime = dir.slice(0, dir.lastIndexOf('/tails-launch/'));
  try {
    assertPrivateDirectory(runtime, uid);
    for (const d of [join(runtime, 'tails-launch'), dir]) {
      try {
        mkdirSync(d, { mode: 0o700 });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      assertPrivateDirectory(d, uid);
    }
    // A new name, exclusively created: never written through a link or into someone else's file.
    const temporary = `${path}.${process.pid}.tmp`;
    rmSync(temporary, { force: true });
    const fd = openSync(temporary, 'wx', 0o400);
    try {
      const bytes = Buffer.from(content);
      for (let done = 0; done < bytes.length;) done += writeSync(fd, bytes, done);
      if (fstatSync(fd).size !== bytes.length) throw new Error('short write');
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, path);
  } catch (error) {
    throw new LaunchError(
      EXIT.cannotExecute,
      `cannot write ${path} for the application: ${(error as Error).message}; check XDG_RUNTIME_DIR`,
    );
  }
}
