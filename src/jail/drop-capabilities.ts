// A jailed application that would run as root keeps uid 0 but no
// capability: without CAP_SYS_ADMIN it cannot setns(2) into another network
// namespace, without CAP_NET_ADMIN it cannot change its jail's routes or
// rules (a test showed a root program leave its jail with nsenter).
//
// Root regains capabilities at execve from the bounding and inheritable
// sets (capabilities(7): P'(permitted) = (P(inheritable) & F(inheritable)) |
// (F(permitted) & P(bounding)), and for root F is every capability). So
// every capability leaves the bounding set, the inheritable set is emptied,
// the ambient set cleared, and no_new_privs set (no setuid or file-capable
// program can bring any back). Then /proc/thread-self/status is read back.
//
// This is not a jail for root: uid 0 still owns root's files and may ask
// root's services (systemd over D-Bus) to act outside. README says so.
import { readFileSync } from 'node:fs';
import { EXIT } from '../errors/exit-codes';
import { LaunchError } from '../errors/launch-error';
import {
  CAPABILITY_VERSION_3,
  errorText,
  loadLibc,
  PR_CAP_AMBIENT,
  PR_CAP_AMBIENT_CLEAR_ALL,
  PR_CAPBSET_DROP,
  PR_SET_NO_NEW_PRIVS,
  type Libc,
} from '../exec/libc';

function fail(libc: Libc, what: string): never {
  throw new LaunchError(
    EXIT.refused,
    `cannot drop root's capabilities in the jail: ${what}: ${errorText(libc, libc.koffi.errno())}`,
  );
}

export function dropAllCapabilities(): void {
  const r = loadLibc();
  if ('error' in r) throw new LaunchError(EXIT.refused, `cannot drop root's capabilities in the jail: ${r.error}`);
  const libc = r.libc;
  const last = Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8'));
  for (let cap = 0; cap <= last; cap++)
    if (libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) !== 0) fail(libc, `PR_CAPBSET_DROP ${cap}`);
  if (libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) !== 0) fail(libc, 'PR_CAP_AMBIENT_CLEAR_ALL');
  // capget, then capset with the same effective and permitted sets and an empty inheritable one.
  const header = Buffer.alloc(8);
  header.writeUInt32LE(CAPABILITY_VERSION_3, 0);
  const data = Buffer.alloc(24); // two struct __user_cap_data_struct: effective, permitted, inheritable
  if (libc.capget(header, data) !== 0) fail(libc, 'capget');
  data.writeUInt32LE(0, 8);
  data.writeUInt32LE(0, 20);
  if (libc.capset(header, data) !== 0) fail(libc, 'capset');
  if (libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) !== 0) fail(libc, 'PR_SET_NO_NEW_PRIVS');
  const status = readFileSync('/proc/thread-self/status', 'utf8');
  const field = (name: string) =>
    /^(\w+):\s*([0-9a-f]+)$/m.exec(status.split('\n').find((l) => l.startsWith(`${name}:`)) ?? '')?.[2];
  if (![field('CapBnd'), field('CapInh'), field('CapAmb')].every((v) => v !== undefined && /^0+$/.test(v)))
    throw new LaunchError(EXIT.internal, `root's capabilities are still there after dropping them: refusing to launch`);
}
