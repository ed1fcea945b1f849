// Can the program the preflight judged be executed by its path, or only
// through the descriptor it was judged by?
//
// By path is better for the application: the kernel then names the process
// after the file (/proc/PID/comm, what ps and killall see; before Linux 6.14
// an exec through a descriptor names it after the descriptor's number) and
// AT_EXECFN is a real path. It is safe only when nobody but root could
// replace the file or anything on its way between the inspection and the
// exec: the file and every directory above it owned by root and writable by
// nobody else (a sticky directory such as /tmp counts when the entry below it
// is root's, since nobody else may rename or remove that entry). That is
// the case for every packaged program (/usr/bin/...). Anything else is
// executed through the descriptor: exactly the bytes that were judged.
import { lstatSync, readlinkSync, type Stats } from 'node:fs';

const GROUP_OR_OTHER_WRITE = 0o022;
const STICKY = 0o1000;

/** The file's canonical path if only root can change what it names, else null. */
export function rootOnlyPath(fd: number, stats: Stats): string | null {
  if (stats.uid !== 0 || stats.mode & GROUP_OR_OTHER_WRITE) return null;
  let canonical: string;
  try {
    canonical = readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return null; // no /proc: the descriptor it is
  }
  // A deleted or otherwise unnamed file ("/x (deleted)", "anon_inode:…").
  if (!canonical.startsWith('/') || canonical.endsWith(' (deleted)')) return null;
  try {
    const root = lstatSync('/');
    if (root.uid !== 0 || root.mode & GROUP_OR_OTHER_WRITE) return null;
  } catch {
    return null;
  }
  const parts = canonical.split('/').slice(1);
  let dir = '';
  let previousSticky = false;
  for (let i = 0; i < parts.length; i++) {
    const path = `${dir}/${parts[i]}`;
    let entry: Stats;
    try {
      entry = lstatSync(path);
    } catch {
      return null;
    }
    // The entry below a sticky world-writable directory must be root's own.
    if (previousSticky && entry.uid !== 0) return null;
    const last = i === parts.length - 1;
    if (last) {
      // Still the very file that was judged.
      return entry.isFile() && entry.dev === stats.dev && entry.ino === stats.ino ? canonical : null;
    }
    if (!entry.isDirectory() || entry.uid !== 0) return null;
    previousSticky = false;
    if (entry.mode & GROUP_OR_OTHER_WRITE) {
      if (!(entry.mode & STICKY)) return null;
      previousSticky = true;
    }
    dir = path;
  }
  return null;
}
