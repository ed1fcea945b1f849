// Where the desktop looks for applications' files, and which of them start
// a profile's command. XDG Base Directory and Desktop Entry Specification:
// desktop entries are DIR/applications/**/*.desktop for each DIR of
// $XDG_DATA_DIRS (default /usr/local/share:/usr/share), and the session
// bus's services DIR/dbus-1/services/*.service; for one file ID the first
// directory wins. The user's own $XDG_DATA_HOME is where per-user results
// go, so it is never read as a source.
import { readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { MiB, readBoundedFile } from '../profile/safe-read';
import { generatedFor } from './marker';
import { execProgram, type FileKind, runsCommand } from './rewrite';

/** Where `dpkg-divert --rename` keeps an application's own file while ours is in its place. */
export const DIVERT_SUFFIX = '.tails-launch-orig';

export interface AppFile {
  kind: FileKind;
  /** Desktop file ID (org.gnome.Totem.desktop) or service file name. */
  id: string;
  /** Where the desktop finds it. */
  path: string;
  /** Where the application's own text is: PATH, or PATH + DIVERT_SUFFIX when ours is at PATH. */
  source: string;
  text: string;
  /** The Exec program (first word), or null when Exec is missing or not one we read. */
  program: string | null;
}

export function systemDataDirs(env: NodeJS.ProcessEnv): string[] {
  // The spec: an unset or empty variable means the default; relative entries are invalid.
  const dirs = (env.XDG_DATA_DIRS ?? '').split(':').filter((d) => isAbsolute(d));
  return (dirs.length ? dirs : ['/usr/local/share', '/usr/share']).map((d) => d.replace(/(.)\/+$/, '$1'));
}

export function userDataHome(env: NodeJS.ProcessEnv): string {
  const xdg = env.XDG_DATA_HOME;
  return xdg && isAbsolute(xdg) ? xdg : join(env.HOME || homedir(), '.local', 'share');
}

const read = (path: string) => readBoundedFile(path, { maxBytes: MiB })?.text ?? null;

/** Files under DIR ending in SUFFIX, as [id, path]; RECURSIVE names subdirectory files a-b.desktop as the spec does. */
function listDir(dir: string, suffix: string, recursive: boolean, prefix = ''): [string, string][] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const found: [string, string][] = [];
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const path = join(dir, entry.name);
    if (entry.isDirectory() && recursive) found.push(...listDir(path, suffix, true, `${prefix}${entry.name}-`));
    else if (entry.name.endsWith(suffix) && !entry.isDirectory()) found.push([prefix + entry.name, path]);
    // An original put aside whose replacement is gone (an install stopped between its two steps): still the application's.
    else if (entry.name.endsWith(suffix + DIVERT_SUFFIX) && !entry.isDirectory())
      found.push([prefix + entry.name.slice(0, -DIVERT_SUFFIX.length), path.slice(0, -DIVERT_SUFFIX.length)]);
  }
  return found;
}

/**
 * Every desktop entry and session service the desktop would use (the
 * winning file per ID), with the application's own text: where a file of
 * ours stands in the place of one (a system-wide install), its diverted
 * original. A file of ours with no original left is skipped.
 */
export function appFiles(dirs: string[]): AppFile[] {
  const files: AppFile[] = [];
  for (const [kind, sub, suffix, recursive] of [
    ['entry', 'applications', '.desktop', true],
    ['service', 'dbus-1/services', '.service', false],
  ] as const) {
    const seen = new Set<string>();
    for (const dir of dirs) {
      for (const [id, path] of listDir(join(dir, sub), suffix, recursive)) {
        if (seen.has(id)) continue;
        seen.add(id);
        // Ours at PATH (or nothing: an install stopped between its two steps): the original is the diverted file.
        const atPath = read(path);
        const original = atPath !== null && generatedFor(atPath) === null;
        const source = original ? path : path + DIVERT_SUFFIX;
        const text = original ? atPath : read(source);
        if (text !== null) files.push({ kind, id, path, source, text, program: execProgram(kind, text) });
      }
    }
  }
  return files;
}

/** The files that start COMMAND, and those the profile names (desktop_files). */
export function filesOf(files: AppFile[], command: string, named: readonly string[]): AppFile[] {
  return files.filter((f) => named.includes(f.id) || (f.program !== null && runsCommand(f.program, command)));
}

/**
 * Files that name COMMAND somewhere in an Exec line without running it as
 * their program (`env X=1 totem`, `sh -c "totem %U"`): they may start the
 * application without the launcher, and the launcher cannot stand in front
 * of them. Reported, not rewritten.
 */
export function suspectsOf(files: AppFile[], command: string, named: readonly string[]): AppFile[] {
  const own = new Set(filesOf(files, command, named));
  const names = new Set([command, command.slice(command.lastIndexOf('/') + 1)]);
  return files.filter(
    (f) =>
      !own.has(f) &&
      f.text
        .split('\n')
        .filter((line) => /^Exec[ \t]*=/.test(line))
        .some((line) => line.split(/[\s"'`;|&()=]+/).some((word) => names.has(word))),
  );
}
