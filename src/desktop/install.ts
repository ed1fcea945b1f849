// Where `desktop --install` puts its files, and how --remove takes them away.
//
// System-wide (root, an image build): our file takes the application's own
// file's place, and dpkg keeps the original aside with a diversion
// (`dpkg-divert --package tails-launch`, to PATH.tails-launch-orig). Every
// reader (menus, GLib, dbus-daemon, whatever its XDG_DATA_DIRS) then finds
// ours; an upgrade of the application writes its new file to the diverted
// name, not over ours; and removing tails-launch removes our files and the
// diversions (debian/tails-launch.postrm), which puts the originals back.
// dpkg-divert only records the diversion (--no-rename): it would rename by
// path, following whatever link stands on the way; the renames and writes
// are ours, made through a descriptor of the directory reached without
// following any (src/desktop/system-directory.ts). In that directory,
// whatever stands at PATH while nothing is aside is the application's own
// file (what src/desktop/find.ts reads); with the original aside, PATH is
// ours to replace.
//
// Per user: $XDG_DATA_HOME/applications/ID.desktop and
// $XDG_DATA_HOME/dbus-1/services/NAME.service, which come before the system's
// directories. A file there that we did not write is never overwritten.
//
// Every write is a new file renamed into place: a reader sees the old file
// or the new one, never half of one.
import { randomBytes } from 'node:crypto';
import { closeSync, fchmodSync, mkdirSync, openSync, readdirSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { DPKG_DIVERT, mustRun, requireTools } from '../system/tools';
import { MiB, readBoundedFile } from '../files/safe-read';
import { DIVERT_SUFFIX, type AppFile } from './find';
import { generatedFor } from './marker';
import { SystemDirectory, SystemDirectoryError } from './system-directory';

export type Scope = 'system' | 'user';

/** dpkg's name for us: the diversions belong to the package. */
const PACKAGE = 'tails-launch';

/** A rewritten file and where it goes. */
export interface Placed {
  profile: string;
  file: AppFile;
  target: string;
  text: string;
}

export interface Outcome {
  profile: string;
  target: string;
  status: 'installed' | 'updated' | 'unchanged' | 'removed';
}

export function targetOf(scope: Scope, file: AppFile, dataHome: string): string {
  if (scope === 'system') return file.path;
  return join(dataHome, file.kind === 'entry' ? 'applications' : 'dbus-1/services', file.id);
}

const readText = (path: string) => readBoundedFile(path, { maxBytes: MiB, noFollow: true })?.text ?? null;

/** The package that diverts PATH ('' for none, LOCAL for the administrator's own diversion). */
function diverter(path: string): string {
  return mustRun(`ask dpkg who diverts ${path}`, [DPKG_DIVERT, '--listpackage', path]).trim();
}

/** BODY with the directory holding PATH open (without following links), and the name in it. */
function inDirectory<T>(path: string, body: (dir: SystemDirectory, name: string) => T): T {
  const dir = SystemDirectory.open(dirname(path));
  try {
    return body(dir, basename(path));
  } finally {
    dir.close();
  }
}

/**
 * Why TARGET cannot be written, before anything is: null when it can. A
 * system target must be a path dpkg-divert and our postrm handle (no
 * whitespace), in a directory reached without a link, not diverted by anyone
 * else, and with no file of someone else's at the diverted name; a user
 * target must not be a file of the user's own.
 */
export function targetProblem(scope: Scope, placed: Placed): string | null {
  const { target } = placed;
  if (scope === 'user') {
    const current = readText(target);
    if (current !== null && generatedFor(current) === null)
      return `${target} exists and was not written by tails-launch: move it away first`;
    return null;
  }
  if (/[\s\x00-\x1f\x7f]/.test(target))
    return `its path has white space or control characters: ${JSON.stringify(target)}`;
  let aside: boolean;
  try {
    aside = inDirectory(target, (dir, name) => dir.exists(name + DIVERT_SUFFIX));
  } catch (error) {
    if (error instanceof SystemDirectoryError) return error.message;
    throw error;
  }
  const holder = diverter(target);
  if (holder !== '' && holder !== PACKAGE)
    return `${target} is already diverted by ${holder === 'LOCAL' ? 'the administrator' : holder}`;
  if (holder === '' && aside)
    return `${target + DIVERT_SUFFIX} exists and is no diversion of tails-launch's: move it away first`;
  return null;
}

function writeAtomically(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  // 'wx': O_CREAT|O_EXCL, which never follows a symbolic link planted at the name.
  const fd = openSync(temporary, 'wx', 0o644);
  try {
    fchmodSync(fd, 0o644);
    const bytes = Buffer.from(text, 'utf8');
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written);
  } catch (error) {
    closeSync(fd);
    unlinkSync(temporary);
    throw error;
  }
  closeSync(fd);
  renameSync(temporary, path);
}

/** One system-wide file: the diversion recorded, the original put aside (first), ours written. */
function installSystem({ profile, target, text }: Placed): Outcome {
  return inDirectory(target, (dir, name) => {
    const divertedName = name + DIVERT_SUFFIX;
    const diverted = diverter(target) === PACKAGE;
    const aside = dir.exists(divertedName);
    // With the original aside, what stands at PATH is a file of ours (see the top of this file).
    if (diverted && aside && dir.read(name) === text) return { profile, target, status: 'unchanged' };
    if (!diverted)
      mustRun(`divert ${target}`, [
        DPKG_DIVERT,
        '--package',
        PACKAGE,
        '--divert',
        target + DIVERT_SUFFIX,
        '--no-rename',
        '--add',
        target,
      ]);
    // The original goes aside first: between the two steps the application has no entry, never an unwrapped one.
    if (!aside && dir.exists(name)) dir.rename(name, divertedName);
    dir.write(name, text);
    return { profile, target, status: diverted && aside ? 'updated' : 'installed' };
  });
}

export function install(scope: Scope, placed: Placed[]): Outcome[] {
  if (scope === 'system') {
    requireTools([DPKG_DIVERT]);
    return placed.map(installSystem);
  }
  return placed.map(({ profile, target, text }) => {
    const current = readText(target);
    if (current === text) return { profile, target, status: 'unchanged' };
    writeAtomically(target, text);
    return { profile, target, status: current !== null ? 'updated' : 'installed' };
  });
}

/** The profile TEXT (ours) was written for, when it is one of PROFILES ('all': any of ours). */
function chosen(text: string | null, profiles: ReadonlySet<string> | 'all'): string | null {
  const owner = text === null ? null : generatedFor(text);
  if (owner === null) return null;
  return profiles === 'all' || profiles.has(owner) ? owner : null;
}

/** Our diversions: the paths where a file of ours stands in an application's place. */
function ourDiversions(): string[] {
  const listing = mustRun('list dpkg diversions', [DPKG_DIVERT, '--list']);
  const paths: string[] = [];
  for (const line of listing.split('\n')) {
    const match = /^(?:local )?diversion of (\S+) to (\S+) by (\S+)$/.exec(line);
    if (match && match[3] === PACKAGE && match[2] === match[1] + DIVERT_SUFFIX) paths.push(match[1]!);
  }
  return paths.sort();
}

/** Takes back our file at PATH (when it is one of PROFILES'), the original renamed back and the diversion dropped. */
function removeSystem(path: string, profiles: ReadonlySet<string> | 'all'): Outcome | null {
  return inDirectory(path, (dir, name) => {
    const current = dir.read(name);
    // Nothing at PATH: an install stopped between its two steps; --all puts the original back all the same.
    const owner = current === null && profiles === 'all' ? '(none)' : chosen(current, profiles);
    if (owner === null) return null;
    if (current !== null) dir.unlink(name);
    if (dir.exists(name + DIVERT_SUFFIX)) dir.rename(name + DIVERT_SUFFIX, name);
    mustRun(`put back ${path}`, [DPKG_DIVERT, '--package', PACKAGE, '--no-rename', '--remove', path]);
    return { profile: owner, target: path, status: 'removed' };
  });
}

function removeUser(profiles: ReadonlySet<string> | 'all', dataHome: string): Outcome[] {
  const outcomes: Outcome[] = [];
  for (const sub of ['applications', 'dbus-1/services']) {
    let names: string[];
    try {
      names = readdirSync(join(dataHome, sub)).sort();
    } catch {
      continue;
    }
    for (const name of names) {
      const path = join(dataHome, sub, name);
      if (!name.endsWith('.desktop') && !name.endsWith('.service')) continue;
      const owner = chosen(readText(path), profiles);
      if (owner === null) continue;
      unlinkSync(path);
      outcomes.push({ profile: owner, target: path, status: 'removed' });
    }
  }
  return outcomes;
}

export function remove(scope: Scope, profiles: ReadonlySet<string> | 'all', dataHome: string): Outcome[] {
  if (scope === 'user') return removeUser(profiles, dataHome);
  requireTools([DPKG_DIVERT]);
  return ourDiversions().flatMap((path) => removeSystem(path, profiles) ?? []);
}
