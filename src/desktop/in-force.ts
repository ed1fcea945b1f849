// Which of an application's files the desktop actually uses, and whether it
// goes through the launcher: `doctor`'s view of what `desktop --install`
// did (or did not do).
import { join } from 'node:path';
import { MiB, readBoundedFile } from '../profile/safe-read';
import type { AppFile } from './find';
import { generatedFor } from './marker';

export interface InForce {
  file: AppFile;
  /** The file the desktop reads for this ID. */
  path: string;
  /** The profile it was generated for, or null: the application's own file, which bypasses the launcher. */
  generatedFor: string | null;
}

/**
 * A per-user file ($XDG_DATA_HOME) comes before the system's; the system's
 * is ours when `desktop --install` ran as root (the application's own is
 * then diverted).
 */
export function inForce(file: AppFile, dataHome: string): InForce {
  const user = join(dataHome, file.kind === 'entry' ? 'applications' : 'dbus-1/services', file.id);
  const text = readBoundedFile(user, { maxBytes: MiB })?.text;
  if (text !== undefined) return { file, path: user, generatedFor: generatedFor(text) };
  // appFiles took the application's own text from the diverted file when ours stands at PATH.
  if (file.source === file.path) return { file, path: file.path, generatedFor: null };
  return {
    file,
    path: file.path,
    generatedFor: generatedFor(readBoundedFile(file.path, { maxBytes: MiB })?.text ?? ''),
  };
}
