// Making one launch's jail, in this process (root): a fresh network
// namespace for the thread that will exec the application, a veth pair to
// the host's namespace, the jail's link, sysctls and rules (inside.ts).
// Side effects only; every decision is the plan's (src/plan, address.ts).
//
// Nothing is left behind, whatever happens: the namespace is anonymous (no
// /run/netns file), so it lives exactly as long as a process is in it (this
// one, then the application and its children), and the kernel deletes the
// veth pair with it, host end included, and the host end's sysctls with the
// link. The host's namespace gets no per-jail rule: its one table is static
// (`tails-launch jail setup`). A launch that dies halfway leaves nothing.
//
// A network namespace belongs to a thread: unshare and setns move the main
// thread, which creates the sockets of the preflight and calls execve (see
// placement/netns.ts); children forked from it (ip, sysctl, nft) start in
// its namespace.
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { EXIT } from '../errors/exit-codes';
import { randomHex } from '../isolation/random';
import { LaunchError } from '../errors/launch-error';
import { CLONE_NEWNET, errorText, loadLibc, type Libc } from '../exec/libc';
import { firstLine, IP, NFT, requireTools, runTool } from '../placement/tools';
import type { JailGroup, JailSlot, Pool } from './address';
import { launchGroup, slotsOf } from './address';

/** How many fresh groups a launch draws before it gives up (each taken with a chance of live jails / 8192 for a /12). */
const LAUNCH_DRAWS = 8;
import { hostEndSysctls, insideRuleset, INSIDE_SYSCTLS, INSIDE_VETH, type JailEndpoint } from './inside';

function refuse(message: string): LaunchError {
  return new LaunchError(EXIT.refused, `cannot make the jail: ${message}`);
}

/** A step of making the jail: one line and 77 when it fails (the launch is refused, nothing is left). */
function must(argv: string[], input?: string): void {
  const r = runTool(argv, { input });
  if (r.status !== 0) throw refuse(`${argv.join(' ')}: ${firstLine(r)}`);
}

function setns(libc: Libc, fd: number, what: string): void {
  if (libc.setns(fd, CLONE_NEWNET) !== 0) throw refuse(`setns(${what}): ${errorText(libc, libc.koffi.errno())}`);
}

/**
 * Takes the first free slot of GROUP: creating its host end fails with "File
 * exists" when another jail has it. A fresh (launch) group that another live
 * jail drew too is drawn again, a few times: it was a sample anyway, as
 * explain says.
 */
function allocate(pool: Pool, planned: JailGroup, hostNamespace: number): { slot: JailSlot; group: JailGroup } {
  for (let draw = 0; draw < (planned.kind === 'launch' ? LAUNCH_DRAWS : 1); draw++) {
    const group = draw === 0 ? planned : launchGroup(pool, randomHex());
    const slot = takeSlot(pool, group, hostNamespace);
    if (slot !== null) return { slot, group };
  }
  throw new LaunchError(
    EXIT.refused,
    planned.kind === 'launch'
      ? `cannot make the jail: ${LAUNCH_DRAWS} fresh groups in a row were taken by live jails; the pool is nearly full`
      : `cannot make the jail: all ${slotsOf(pool, planned).length} jails of group ${planned.address} are in use; close one`,
  );
}

function takeSlot(pool: Pool, group: JailGroup, hostNamespace: number): JailSlot | null {
  for (const slot of slotsOf(pool, group)) {
    // The host's namespace as the child's fd 3: the peer is made there.
    const r = runTool(
      [IP, 'link', 'add', INSIDE_VETH, 'type', 'veth', 'peer', 'name', slot.veth, 'netns', '/proc/self/fd/3'],
      { fd3: hostNamespace },
    );
    if (r.status === 0) return slot;
    if (!/File exists/.test(r.stderr)) throw refuse(`ip link add ${slot.veth}: ${firstLine(r)}`);
  }
  return null;
}

/**
 * sysctl, written directly: /proc/sys/net is the writing thread's network
 * namespace's, and a synchronous write runs on this (the main) thread. One
 * process fewer per value (they were most of a jail's cost).
 */
function sysctl(key: string, value: string): void {
  try {
    writeFileSync(`/proc/sys/${key.replace(/\./g, '/')}`, value);
  } catch (error) {
    throw refuse(`sysctl ${key}=${value}: ${(error as Error).message}`);
  }
}

export interface MadeJail {
  slot: JailSlot;
  /** The group it got: the plan's, or for a launch group drawn again, another fresh one. */
  group: JailGroup;
}

/** Moves this thread into a new jail of GROUP, reaching ENDPOINT only. Root only. */
export function makeJail(pool: Pool, group: JailGroup, endpoint: JailEndpoint): MadeJail {
  requireTools([IP, NFT]);
  const r = loadLibc();
  if ('error' in r) throw refuse(r.error);
  const libc = r.libc;
  const host = openSync('/proc/thread-self/ns/net', 'r');
  let inside: number | null = null;
  try {
    if (libc.unshare(CLONE_NEWNET) !== 0) throw refuse(`unshare: ${errorText(libc, libc.koffi.errno())}`);
    inside = openSync('/proc/thread-self/ns/net', 'r');
    // No IPv6 before any link exists, so none ever gets an IPv6 address.
    for (const [key, value] of INSIDE_SYSCTLS) sysctl(key, value);
    const { slot, group: got } = allocate(pool, group, host);
    must([IP, 'link', 'set', 'lo', 'up']);
    must([IP, 'address', 'add', `${slot.jail}/30`, 'dev', INSIDE_VETH]);
    must([NFT, '-f', '-'], insideRuleset(slot, endpoint));
    must([IP, 'link', 'set', INSIDE_VETH, 'up']);
    // The host end, from the host's namespace, then back.
    setns(libc, host, 'the host');
    try {
      for (const [key, value] of hostEndSysctls(slot)) sysctl(key, value);
      must([IP, 'address', 'add', `${slot.host}/30`, 'dev', slot.veth]);
      must([IP, 'link', 'set', slot.veth, 'up']);
    } finally {
      setns(libc, inside, 'the jail');
    }
    return { slot, group: got };
  } finally {
    closeSync(host);
    if (inside !== null) closeSync(inside);
  }
}
