// The renewal of an `app` group: `tails-launch new-identity PROFILE` writes
// 16 random hex digits to the caller's state directory, and the caller's next
// launches of PROFILE put them in the group's key (src/isolation/credentials.ts),
// so that they build circuits Tor never used for the group before.
//
//   ${XDG_STATE_HOME:-$HOME/.local/state}/tails-launch/renewed/PROFILE/IDENTITY
//
// (IDENTITY `-` for the launches without --identity: no identity starts with
// '-'). Per caller: the launches a caller plans itself read it (root's own
// placed launches too); the launches sudo's privileged entry plans again from
// the system layers do not (that entry reads no user's file).
import { lstatSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { EXIT } from '../errors/exit-codes';
import { LaunchError } from '../errors/launch-error';
import { FileReadError, readBoundedFile } from '../files/safe-read';
import { printable } from '../files/printable';

const RENEWAL = /^[0-9a-f]{16}\n?$/;

const absolute = (path: string | undefined) => (path && path.startsWith('/') ? path : null);

/** The account's home from the user database (not $HOME), or null. */
function accountHome(): string | null {
  try {
    return absolute(userInfo().homedir);
  } catch {
    return null;
  }
}

/**
 * The renewal file of PROFILE (and IDENTITY) for the user of ENV: under an
 * absolute $XDG_STATE_HOME, else ~/.local/state with an absolute $HOME, else
 * the account's home (as the configuration layers fall back); null without any.
 */
export function renewalFile(
  env: Readonly<Record<string, string | undefined>>,
  profile: string,
  identity: string | null,
  home: () => string | null = accountHome,
): string | null {
  const base = absolute(env.HOME) ?? home();
  const state = absolute(env.XDG_STATE_HOME) ?? (base === null ? null : join(base, '.local', 'state'));
  return state === null ? null : join(state, 'tails-launch', 'renewed', profile, identity ?? '-');
}

/**
 * The renewal in FILE, or null when there is none. Anything else than what
 * new-identity writes (a FIFO, another user's file, other text) refuses the
 * launch: the caller asked for a new group, and the old key is not it.
 */
export function readRenewal(file: string | null, uid: number): string | null {
  if (file === null) return null;
  const fix = `remove it (the group's next launch then uses its usual key), or run 'tails-launch new-identity' again`;
  let text: string | null;
  try {
    text =
      readBoundedFile(file, {
        maxBytes: 64,
        noFollow: true,
        check: (stats) => (stats.uid === uid ? null : `belongs to uid ${stats.uid}, not to you`),
      })?.text ?? null;
  } catch (error) {
    if (error instanceof FileReadError)
      throw new LaunchError(EXIT.config, `the group renewal ${error.message}: ${fix}`);
    throw error;
  }
  if (text === null) {
    // Missing, or a parent is not a directory (ENOTDIR, a HOME of /dev/null): none, unless the
    // parent is inside our own tree (renewed/PROFILE made a file): that is not what new-identity left.
    const profileDir = dirname(file);
    let kind: string | null = null;
    try {
      const st = lstatSync(profileDir);
      kind = st.isDirectory() ? null : 'is not a directory';
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      kind = code === 'ENOENT' ? null : code === 'ENOTDIR' ? 'has a parent that is not a directory' : null;
      // renewed/ itself missing or not ours to judge: no renewal.
      if (code === 'ENOTDIR') {
        try {
          if (lstatSync(dirname(profileDir)).isDirectory()) kind = null;
        } catch {
          kind = null;
        }
      }
    }
    if (kind !== null)
      throw new LaunchError(EXIT.config, `the group renewal directory ${printable(profileDir)} ${kind}: ${fix}`);
    return null;
  }
  if (!RENEWAL.test(text))
    throw new LaunchError(
      EXIT.config,
      `the group renewal ${printable(file)} is not what 'tails-launch new-identity' writes (16 hex digits): ${fix}`,
    );
  return text.slice(0, 16);
}

/**
 * Writes RENEWAL to FILE, replacing it whole (rename). Its directories are
 * made one at a time (0700): Node's recursive mkdir loops forever on some
 * paths (/proc/self/...). A failure is one line, with what to do.
 */
export function writeRenewal(file: string, renewal: string): void {
  const cannot = (error: unknown) =>
    new LaunchError(
      EXIT.refused,
      `cannot keep the group renewal in ${printable(file)}: ${(error as NodeJS.ErrnoException).code ?? String(error)} -> make that directory writable, or set XDG_STATE_HOME to one that is`,
    );
  const parts = dirname(file).split('/').filter(Boolean);
  for (let i = 1; i <= parts.length; i++) {
    const dir = `/${parts.slice(0, i).join('/')}`;
    try {
      mkdirSync(dir, { mode: 0o700 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw cannot(error);
      // A symbolic link to a directory is the user's own arrangement (a moved ~/.local): followed.
      let directory = false;
      try {
        directory = statSync(dir).isDirectory();
      } catch (e) {
        throw cannot(e);
      }
      if (!directory) throw cannot(Object.assign(new Error(), { code: `${dir} is not a directory` }));
    }
  }
  const temporary = `${file}.${process.pid}.new`;
  try {
    writeFileSync(temporary, `${renewal}\n`, { mode: 0o600, flag: 'wx' });
    renameSync(temporary, file);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw cannot(error);
  }
}
