// Where the desktop looks for applications' files, and which of them start
// a profile's command. XDG Base Directory and Desktop Entry Specification:
// desktop entries are DIR/applications/**/*.desktop for each DIR of
// $XDG_DATA_DIRS (default /usr/local/share:/usr/share), and the session
// bus's services DIR/dbus-1/services/*.service; for one file ID the first
// directory wins. The user's own $XDG_DATA_HOME is where per-user results
// go, so it is never read as a source.
//
// System-wide (root, `desktop --install --system`) only the system's own
// directories are read, /usr/local/share and /usr/share, whatever
// XDG_DATA_DIRS says (an administrator's `sudo -E` shell in a session where
// flatpak put a user's directory first would otherwise have root rewrite the
// user's copy), and only what root alone can change: every directory on the
// way and every file must pass src/profile/trust.ts's checks, as the
// configuration layers do.
import { readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { ConfigError } from '../profile/config-error';
import { FileReadError, MiB, readBoundedFile } from '../files/safe-read';
import { ConfigReadError, isTrustedDirectory, readConfigText } from '../profile/trust';
import type { ProgramMatcher } from './program';
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

/** The system's data directories, the XDG default: system-wide, the only ones read. */
export const SYSTEM_DATA_DIRS: readonly string[] = ['/usr/local/share', '/usr/share'];

export function systemDataDirs(env: NodeJS.ProcessEnv): string[] {
  // The spec: an unset or empty variable means the default; relative entries are invalid.
  const dirs = (env.XDG_DATA_DIRS ?? '').split(':').filter((d) => isAbsolute(d));
  return (dirs.length ? dirs : [...SYSTEM_DATA_DIRS]).map((d) => d.replace(/(.)\/+$/, '$1'));
}

export function userDataHome(env: NodeJS.ProcessEnv): string {
  const xdg = env.XDG_DATA_HOME;
  return xdg && isAbsolute(xdg) ? xdg : join(env.HOME || homedir(), '.local', 'share');
}

/** Where applications' files are read from, and how. */
export interface DataSource {
  dirs: readonly string[];
  /** A file's text; null when there is none; FileReadError when it cannot (or, system-wide, may not) be read. */
  read(path: string): string | null;
  /** Whether PATH is a directory to list; false when there is none; FileReadError when it may not be read. */
  directory(path: string): boolean;
}

/** The session's view (a user's `--install`, `doctor`, printing): $XDG_DATA_DIRS, read as the desktop reads it. */
export function sessionSource(env: NodeJS.ProcessEnv): DataSource {
  return {
    dirs: systemDataDirs(env),
    read: (path) => readBoundedFile(path, { maxBytes: MiB })?.text ?? null,
    directory: () => true,
  };
}

/** A trust check's refusal as the one kind of error reading a file gives. */
function trusted<T>(read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof ConfigReadError) throw new FileReadError(error.problems[0]!.file, error.reason);
    if (error instanceof ConfigError) throw new FileReadError(error.problems[0]!.file, error.problems[0]!.message);
    throw error;
  }
}

/** System-wide: the system's directories, and only what root alone can change in them. */
export function systemSource(): DataSource {
  return {
    dirs: SYSTEM_DATA_DIRS,
    read: (path) => trusted(() => readConfigText(path)),
    directory: (path) => trusted(() => isTrustedDirectory(path)),
  };
}

type Unreadable = (error: FileReadError) => void;

/** Files under DIR ending in SUFFIX, as [id, path]; RECURSIVE names subdirectory files a-b.desktop as the spec does. */
function listDir(
  source: DataSource,
  unreadable: Unreadable,
  dir: string,
  suffix: string,
  recursive: boolean,
  prefix = '',
): [string, string][] {
  let entries;
  try {
    if (!source.directory(dir)) return [];
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (error) {
    if (error instanceof FileReadError) unreadable(error);
    return [];
  }
  const found: [string, string][] = [];
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const path = join(dir, entry.name);
    if (entry.isDirectory() && recursive)
      found.push(...listDir(source, unreadable, path, suffix, true, `${prefix}${entry.name}-`));
    else if (entry.name.endsWith(suffix) && !entry.isDirectory()) found.push([prefix + entry.name, path]);
    // An original put aside whose replacement is gone (an install stopped between its two steps): still the application's.
    else if (entry.name.endsWith(suffix + DIVERT_SUFFIX) && !entry.isDirectory())
      found.push([prefix + entry.name.slice(0, -DIVERT_SUFFIX.length), path.slice(0, -DIVERT_SUFFIX.length)]);
  }
  return found;
}

/**
 * Every desktop entry and session service the desktop would use (the
 * winning file per ID), with the application's own text: where it was put
 * aside (PATH + DIVERT_SUFFIX, a system-wide install, whose file stands at
 * PATH), that one. What stands at PATH is never trusted to say whether it
 * is ours (src/desktop/in-force.ts judges it by what it runs). A file that
 * cannot be read goes to UNREADABLE (by default: thrown) and is skipped.
 */
export function appFiles(
  source: DataSource,
  unreadable: Unreadable = (error) => {
    throw error;
  },
): AppFile[] {
  const files: AppFile[] = [];
  for (const [kind, sub, suffix, recursive] of [
    ['entry', 'applications', '.desktop', true],
    ['service', 'dbus-1/services', '.service', false],
  ] as const) {
    const seen = new Set<string>();
    for (const dir of source.dirs) {
      for (const [id, path] of listDir(source, unreadable, join(dir, sub), suffix, recursive)) {
        if (seen.has(id)) continue;
        seen.add(id);
        try {
          const aside = source.read(path + DIVERT_SUFFIX);
          const text = aside ?? source.read(path);
          const from = aside === null ? path : path + DIVERT_SUFFIX;
          if (text !== null) files.push({ kind, id, path, source: from, text, program: execProgram(kind, text) });
        } catch (error) {
          if (!(error instanceof FileReadError)) throw error;
          unreadable(error);
        }
      }
    }
  }
  return files;
}

/** The files that start the command (MATCHES their Exec program), and those the profile names (desktop_files). */
export function filesOf(files: AppFile[], matches: ProgramMatcher, named: readonly string[]): AppFile[] {
  return files.filter((f) => named.includes(f.id) || (f.program !== null && matches(f.program)));
}

/**
 * Files that name the command somewhere in an Exec line without running it
 * as their program (`env X=1 totem`, `sh -c "/bin/totem %U"`): they may
 * start the application without the launcher, and the launcher cannot stand
 * in front of them. Reported, not rewritten. A word counts when MATCHES
 * takes it for the command: its name, or the same file. A file whose program
 * is LAUNCHER is never one.
 */
export function suspectsOf(
  files: AppFile[],
  matches: ProgramMatcher,
  named: readonly string[],
  launcher: string,
): AppFile[] {
  const own = new Set(filesOf(files, matches, named));
  return files.filter(
    (f) =>
      !own.has(f) &&
      // The launcher as the program stands in front of whatever it is given (a file of ours whose original is gone).
      !(f.program !== null && runsCommand(f.program, launcher)) &&
      f.text
        .split('\n')
        .filter((line) => /^Exec[ \t]*=/.test(line))
        .some((line) =>
          line
            .split(/[\s"'`;|&()=]+/)
            .slice(1)
            .some((word) => word !== '' && matches(word)),
        ),
  );
}
