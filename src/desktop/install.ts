// Where `desktop --install` puts its files, and how --remove takes them away.
//
// System-wide (root, an image build): our file takes the application's own
// file's place, and dpkg keeps the original aside with a diversion
// (`dpkg-divert --package tails-launch --rename`). Every reader (menus, GLib,
// dbus-daemon, whatever its XDG_DATA_DIRS) then finds ours; an upgrade of
// the application writes its new file to the diverted name, not over ours;
// and removing tails-launch removes our files and the diversions
// (debian/tails-launch.postrm), which puts the originals back.
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
import { DPKG_DIVERT, mustRun, requireTools } from '../placement/tools';
import { MiB, readBoundedFile } from '../profile/safe-read';
import { DIVERT_SUFFIX, type AppFile } from './find';
import { generatedFor } from './marker';

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

/**
 * Why TARGET cannot be written, before anything is: null when it can. A
 * system target must be a path dpkg-divert and our postrm handle (no
 * whitespace), and not diverted by anyone else; a user target must not be a
 * file of the user's own.
 */
export function targetProblem(scope: Scope, placed: Placed): string | null {
  const { target } = placed;
  const current = readText(target);
  if (scope === 'user') {
    if (current !== null && generatedFor(current) === null)
      return `${target} exists and was not written by tails-launch: move it away first`;
    return null;
  }
  if (/[\s\x00-\x1f\x7f]/.test(target))
    return `its path has white space or control characters: ${JSON.stringify(target)}`;
  if (current !== null && generatedFor(current) !== null) return null;
  const holder = diverter(target);
  if (holder !== '' && holder !== PACKAGE)
    return `${target} is already diverted by ${holder === 'LOCAL' ? 'the administrator' : holder}`;
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

export function install(scope: Scope, placed: Placed[]): Outcome[] {
  if (scope === 'system') requireTools([DPKG_DIVERT]);
  return placed.map(({ profile, target, text }) => {
    const current = readText(target);
    if (current === text) return { profile, target, status: 'unchanged' };
    const ours = current !== null && generatedFor(current) !== null;
    if (scope === 'system' && !ours && diverter(target) !== PACKAGE) {
      // The original goes aside first: between the two steps the application has no entry, never an unwrapped one.
      mustRun(`divert ${target}`, [
        DPKG_DIVERT,
        '--package',
        PACKAGE,
        '--divert',
        target + DIVERT_SUFFIX,
        '--rename',
        '--add',
        target,
      ]);
    }
    writeAtomically(target, text);
    return { profile, target, status: ours ? 'updated' : 'installed' };
  });
}

/** Whether our file at PATH belongs to one of PROFILES ('all': any of ours). */
function chosen(path: string, profiles: ReadonlySet<string> | 'all'): string | null {
  const text = readText(path);
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

export function remove(scope: Scope, profiles: ReadonlySet<string> | 'all', dataHome: string): Outcome[] {
  const outcomes: Outcome[] = [];
  if (scope === 'user') {
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
        const owner = chosen(path, profiles);
        if (owner === null) continue;
        unlinkSync(path);
        outcomes.push({ profile: owner, target: path, status: 'removed' });
      }
    }
    return outcomes;
  }
  requireTools([DPKG_DIVERT]);
  for (const path of ourDiversions()) {
    // Nothing at PATH: an install stopped between its two steps; --all puts the original back all the same.
    const missing = readText(path) === null;
    const owner = missing && profiles === 'all' ? '(none)' : chosen(path, profiles);
    if (owner === null) continue;
    if (!missing) unlinkSync(path);
    mustRun(`put back ${path}`, [DPKG_DIVERT, '--package', PACKAGE, '--rename', '--remove', path]);
    outcomes.push({ profile: owner, target: path, status: 'removed' });
  }
  return outcomes;
}
