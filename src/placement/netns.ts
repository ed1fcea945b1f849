// Entering a named network namespace (`ip netns` style: /run/netns/NAME) in
// this process, through setns(2). Root only.
//
// A network namespace belongs to a thread: setns moves only the calling
// thread, which is the main thread here, the one that creates every socket
// (libuv's loop) and that execve keeps. Node's helper threads stay where they
// were; they make no connection for the launcher (listener addresses are
// numeric, so nothing is resolved in the thread pool).
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT } from '../errors/exit-codes';
import { LaunchError } from '../errors/launch-error';
import { CLONE_NEWNET, errorText, loadLibc, type Libc } from '../exec/libc';
import { NETNS_DIR } from './constants';

function requireLibc(what: string): Libc {
  const r = loadLibc();
  if ('error' in r) throw new LaunchError(EXIT.refused, `cannot ${what}: ${r.error} (reinstall tails-launch)`);
  return r.libc;
}

/** The path of namespace NAME's file. NAME is a profile's or listener's netns (schema: a plain name). */
export function netnsPath(name: string): string {
  return join(NETNS_DIR, name);
}

/**
 * Moves the calling thread into network namespace NAME. A missing namespace
 * is refused with EXIT.noNamespace; a file that is not a network namespace
 * (setns says EINVAL) too.
 */
export function enterNetns(name: string): void {
  const libc = requireLibc(`enter network namespace '${name}'`);
  let fd: number;
  try {
    fd = openSync(netnsPath(name), 'r');
  } catch {
    throw missingNamespace(name);
  }
  try {
    if (libc.setns(fd, CLONE_NEWNET) !== 0) {
      const errno = libc.koffi.errno();
      throw new LaunchError(
        EXIT.noNamespace,
        `cannot enter network namespace '${name}' (${netnsPath(name)}): ${errorText(libc, errno)}; recreate it with 'tails-launch netns setup ${name}' as root`,
      );
    }
  } finally {
    closeSync(fd);
  }
}

/** Runs FN inside namespace NAME, then moves the thread back to the namespace it was in (doctor). */
export async function withNetns<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const libc = requireLibc(`enter network namespace '${name}'`);
  const home = openSync('/proc/thread-self/ns/net', 'r');
  try {
    enterNetns(name);
    try {
      return await fn();
    } finally {
      if (libc.setns(home, CLONE_NEWNET) !== 0)
        throw new Error(`cannot return to the original network namespace: ${errorText(libc, libc.koffi.errno())}`);
    }
  } finally {
    closeSync(home);
  }
}

export function missingNamespace(name: string): LaunchError {
  return new LaunchError(
    EXIT.noNamespace,
    `network namespace '${name}' does not exist (no ${netnsPath(name)}): create it with 'tails-launch netns setup ${name}' as root`,
  );
}
