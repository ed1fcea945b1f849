// The accounts placement needs, from the system's user database through
// libc (getpwnam, getgrouplist: NSS, so users from any source sudo and login
// would see). Side effects: the placement stage and the CLI read them, the
// plan gets the result as data.
import { loadLibc, type Libc } from '../exec/libc';

export interface Account {
  name: string;
  uid: number;
  gid: number;
  /** Every group the account is in (primary first), as initgroups(3) would set them. */
  groups: number[];
  home: string;
  shell: string;
}

interface Passwd {
  pw_name: string;
  pw_uid: number;
  pw_gid: number;
  pw_dir: string;
  pw_shell: string;
}

function libcOrNull(): Libc | null {
  const r = loadLibc();
  return 'libc' in r ? r.libc : null;
}

/** Every group of NAME, primary GID first. */
function groupsOf(libc: Libc, name: string, gid: number): number[] {
  for (let room = 64; room <= 65536; room *= 4) {
    const list = Buffer.alloc(4 * room);
    const count = Buffer.alloc(4);
    count.writeInt32LE(room);
    if (libc.getgrouplist(name, gid, list, count) >= 0) {
      const n = count.readInt32LE();
      const groups = Array.from({ length: n }, (_, i) => list.readUInt32LE(4 * i));
      return [gid, ...new Set(groups.filter((g) => g !== gid))];
    }
  }
  throw new Error(`getgrouplist(${name}): more than 65536 groups`);
}

function toAccount(libc: Libc, pointer: unknown): Account | null {
  if (pointer === null) return null;
  const p = libc.koffi.decode(pointer, libc.passwd as never) as Passwd;
  return {
    name: p.pw_name,
    uid: p.pw_uid,
    gid: p.pw_gid,
    groups: groupsOf(libc, p.pw_name, p.pw_gid),
    home: p.pw_dir,
    shell: p.pw_shell,
  };
}

/** The account NAME, or null when there is none (or libc cannot be reached: the launch is then refused elsewhere). */
export function accountNamed(name: string): Account | null {
  const libc = libcOrNull();
  return libc && toAccount(libc, libc.getpwnam(name));
}

export function accountOfUid(uid: number): Account | null {
  const libc = libcOrNull();
  return libc && toAccount(libc, libc.getpwuid(uid));
}

/** A system account (Debian policy: 1-999, and nobody), as opposed to a person's login. */
export function isSystemAccount(uid: number): boolean {
  return (uid > 0 && uid < 1000) || uid === 65534;
}

/** The GID of group NAME, or null when there is none. */
export function groupId(name: string): number | null {
  const libc = libcOrNull();
  const pointer = libc?.getgrnam(name) ?? null;
  return pointer === null ? null : (libc!.koffi.decode(pointer, libc!.group as never) as { gr_gid: number }).gr_gid;
}

/** The name of group GID, or null when there is none. */
export function groupName(gid: number): string | null {
  const libc = libcOrNull();
  const pointer = libc?.getgrgid(gid) ?? null;
  return pointer === null ? null : (libc!.koffi.decode(pointer, libc!.group as never) as { gr_name: string }).gr_name;
}
