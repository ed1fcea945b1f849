// Becoming the placed application's account, for good: supplementary groups,
// then GID, then UID (each needs the privilege the next one drops), all three
// IDs of each (real, effective, saved: nothing left to switch back with),
// and a check that the kernel now reports exactly that. Root only; glibc
// applies each change to every thread of the process.
//
// Why in-process through koffi and not setpriv(1)/runuser(1): the preflight
// must run as the account (Tails' firewall lets only some users reach some
// SocksPorts), and then the application is executed from this very process
// as always (descriptors, signals, the judged file). A helper program would
// have to do the preflight's work or re-exec tails-launch.
import { EXIT } from '../errors/exit-codes';
import { LaunchError } from '../errors/launch-error';
import { errorText, loadLibc, type Libc } from '../exec/libc';

export interface TargetIds {
  name: string;
  uid: number;
  gid: number;
  groups: number[];
}

function fail(libc: Libc, what: string): never {
  throw new LaunchError(EXIT.refused, `cannot switch user: ${what}: ${errorText(libc, libc.koffi.errno())}`);
}

function readIds(libc: Libc, get: (a: Buffer, b: Buffer, c: Buffer) => number, what: string): number[] {
  const ids = [Buffer.alloc(4), Buffer.alloc(4), Buffer.alloc(4)];
  if (get(ids[0]!, ids[1]!, ids[2]!) !== 0) fail(libc, what);
  return ids.map((b) => b.readUInt32LE());
}

function currentGroups(libc: Libc): number[] {
  const n = libc.getgroups(0, null);
  if (n < 0) fail(libc, 'getgroups');
  const list = Buffer.alloc(4 * Math.max(n, 1));
  const got = libc.getgroups(n, list);
  if (got < 0) fail(libc, 'getgroups');
  return Array.from({ length: got }, (_, i) => list.readUInt32LE(4 * i));
}

export function switchUser(target: TargetIds): void {
  const r = loadLibc();
  if ('error' in r) throw new LaunchError(EXIT.refused, `cannot switch to user '${target.name}': ${r.error}`);
  const libc = r.libc;
  const list = Buffer.alloc(4 * Math.max(target.groups.length, 1));
  target.groups.forEach((g, i) => list.writeUInt32LE(g, 4 * i));
  if (libc.setgroups(target.groups.length, list) !== 0) fail(libc, 'setgroups');
  if (libc.setresgid(target.gid, target.gid, target.gid) !== 0) fail(libc, `setresgid(${target.gid})`);
  if (libc.setresuid(target.uid, target.uid, target.uid) !== 0) fail(libc, `setresuid(${target.uid})`);
  // Trust, but verify: what the kernel reports now, for this thread.
  const uids = readIds(libc, (a, b, c) => libc.getresuid(a, b, c), 'getresuid');
  const gids = readIds(libc, (a, b, c) => libc.getresgid(a, b, c), 'getresgid');
  const groups = currentGroups(libc).sort((a, b) => a - b);
  const wanted = [...new Set(target.groups)].sort((a, b) => a - b);
  if (
    uids.some((u) => u !== target.uid) ||
    gids.some((g) => g !== target.gid) ||
    groups.join(',') !== wanted.join(',')
  ) {
    throw new LaunchError(
      EXIT.internal,
      `switching to user '${target.name}' left uids ${uids.join('/')}, gids ${gids.join('/')}, groups ${groups.join(',')}: refusing to launch`,
    );
  }
}
