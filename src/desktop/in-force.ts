// Which of an application's files the desktop actually uses, and whether it
// goes through the launcher: `doctor`'s view of what `desktop --install`
// did (or did not do).
//
// A file is judged by what it runs, never by what it says: the marker
// comment (src/desktop/marker.ts) is a line anyone can write at the top of
// an entry that starts the application directly. So the application's own
// file is rewritten again, and the file in force goes through the launcher
// only when it runs exactly what that rewrite runs (whatItRuns).
import { join } from 'node:path';
import { FileReadError, MiB, readBoundedFile } from '../files/safe-read';
import type { AppFile } from './find';
import { whatItRuns } from './rewrite';

export interface InForce {
  file: AppFile;
  /** The file the desktop reads for this ID. */
  path: string;
  /**
   * launcher: it runs what `desktop --install` would write; bypass: anything
   * else (the application's own file, a stale or forged one); absent: no
   * file stands there (nothing starts the application by this ID);
   * unreadable: what it runs cannot be known (REASON).
   */
  status: 'launcher' | 'bypass' | 'absent' | 'unreadable';
  reason?: string;
}

/**
 * FILE's ID as the desktop finds it, against EXPECTED (the rewrite of the
 * application's own text): a per-user file ($XDG_DATA_HOME) comes before
 * the system's; the system's is ours when `desktop --install` ran as root.
 */
export function inForce(file: AppFile, dataHome: string, expected: string): InForce {
  const user = join(dataHome, file.kind === 'entry' ? 'applications' : 'dbus-1/services', file.id);
  let path = user;
  let text: string | null;
  try {
    text = readBoundedFile(user, { maxBytes: MiB })?.text ?? null;
    if (text === null) {
      path = file.path;
      // appFiles took the application's own text from PATH unless it was put aside for ours.
      text = file.source === file.path ? file.text : (readBoundedFile(path, { maxBytes: MiB })?.text ?? null);
    }
  } catch (error) {
    if (!(error instanceof FileReadError)) throw error;
    return { file, path, status: 'unreadable', reason: error.reason };
  }
  if (text === null) return { file, path, status: 'absent' };
  const runs = whatItRuns(file.kind, text);
  return { file, path, status: runs !== null && runs === whatItRuns(file.kind, expected) ? 'launcher' : 'bypass' };
}
