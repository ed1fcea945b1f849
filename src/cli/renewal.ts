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
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { EXIT } from '../errors/exit-codes';
import { LaunchError } from '../errors/launch-error';
import { FileReadError, readBoundedFile } from '../profile/safe-read';
import { printable } from '../profile/printable';

const RENEWAL = /^[0-9a-f]{16}\n?$/;

const absolute = (path: string | undefined) => (path && path.startsWith('/') ? path : null);

/** The renewal file of PROFILE (and IDENTITY) for the user of ENV, or null when neither $XDG_STATE_HOME nor $HOME is absolute. */
export function renewalFile(
  env: Readonly<Record<string, string | undefined>>,
  profile: string,
  identity: string | null,
): string | null {
  const home = absolute(env.HOME);
  const state = absolute(env.XDG_STATE_HOME) ?? (home === null ? null : join(home, '.local', 'state'));
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
  if (text === null) return null;
  if (!RENEWAL.test(text))
    throw new LaunchError(
      EXIT.config,
      `the group renewal ${printable(file)} is not what 'tails-launch new-identity' writes (16 hex digits): ${fix}`,
    );
  return text.slice(0, 16);
}

/** Writes RENEWAL to FILE (its directories 0700), replacing the file whole (rename). */
export function writeRenewal(file: string, renewal: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const temporary = `${file}.${process.pid}.new`;
  writeFileSync(temporary, `${renewal}\n`, { mode: 0o600, flag: 'wx' });
  renameSync(temporary, file);
}
