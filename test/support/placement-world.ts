// A private "world" for placement tests: its own mount and network namespaces
// (the network one plays the host: only lo, up), its own users and groups,
// and its own sudo rules, while /usr (so the package installed with dpkg),
// /tmp and the rest of the filesystem stay the machine's. Nothing of it is
// visible outside, and stop() leaves nothing behind.
//
// How it is made:
// - A holder process, `unshare --mount --net --propagation private` running a
//   setup script then `sleep infinity` (under setpriv --pdeathsig KILL, so it
//   dies with the test process even if stop() is never reached: the death
//   signal follows the thread that spawned it, the main one under vitest's
//   `forks` pool). Its PID is
//   the sleep's: unshare and sh exec, they do not fork. The script does all
//   the mounts below from INSIDE the new namespaces before it prints "ready",
//   so no mount can ever land in the machine's namespace.
// - Every command runs through `nsenter --target HOLDER --mount --net -- ARGV`.
//   For mount+net nsenter does not fork (it forks only to enter a PID
//   namespace): it calls setns and execs ARGV, so the PID execa reports is the
//   program's own and a test can kill what it started by that PID (checked in
//   placement-world.test.ts). setns into a mount namespace also sets the cwd
//   to its root: options.cwd becomes nsenter's --wd.
// - Users and groups: copies of /etc/passwd, group, shadow and gshadow with
//   the world's entries added, bind-mounted over the originals inside. A
//   user's home is on a tmpfs mounted (inside only) on DIR/home. The host's
//   NSS never sees the entries. Ids: system ones in 100-999, regular ones in
//   1000-59999, never one the machine's files use, searched from a point that
//   depends on the PID so concurrent worlds rarely share one.
// - sudo rules: a copy of /etc/sudoers.d, bind-mounted over it inside;
//   /etc/sudoers itself is the machine's (`@includedir /etc/sudoers.d`). The
//   copy is the host's directory AT CREATION: install the package first (its
//   /etc/sudoers.d/tails-launch and its `tails-launch` group are then in), or
//   call syncFromHost() after installing it, which re-reads the host's
//   /etc/sudoers.d and account files and keeps the world's own entries.
// - /run/sudo: a tmpfs inside, so sudo's timestamp files for test users never
//   reach the machine's /run/sudo/ts.
// - /run/netns: a tmpfs inside. Without it `ip netns add X` inside the world
//   is NOT private: ip creates the empty file /run/netns/X in the shared
//   directory before bind-mounting the namespace on it (only the bind mount
//   stays in the world), so the machine's `ip netns list` shows X and its
//   `ip netns add X` fails with "File exists" (seen on this machine). With the
//   tmpfs, a world can create `tbb` while the machine or another world has
//   its own.
// - as(user): `setpriv --reuid --regid --init-groups` rather than runuser:
//   setpriv execs the program (runuser forks and waits, so the PID would be
//   runuser's), opens no PAM session (no pam_systemd, no logs, nothing to
//   clean), and leaves no capability (the uid change from 0 clears the
//   permitted, effective and ambient sets; no_new_privs stays off, so sudo's
//   set-uid bit works).
//
// Measured on Debian bookworm (sudo 1.9.13p3, util-linux 2.38.1, iproute2 6.1), checked by
// placement-world.test.ts:
// - A NOPASSWD rule works for a user whose shadow password is `!` (regular)
//   or `*` (system): sudo checks the account with PAM (pam_unix, account
//   phase: the lock mark does not count there; the last-change day is
//   today's, as pam_unix takes 0 for "expired, change it now"), and never
//   authenticates.
// - `sudo -n` without a NOPASSWD rule: exit 1, stderr
//   "sudo: a password is required". The same for a user no rule names, and
//   for a command outside the user's rules: sudo 1.9 asks for the password
//   before saying "not allowed", so -n never reaches that message.
// - Processes: `sudo -n CMD` forks; the PID a test holds is sudo's. Without
//   a controlling terminal (CI; anything under setsid) CMD is sudo's child.
//   With one, `Defaults use_pty` (Debian's /etc/sudoers) adds a monitor:
//   sudo -> sudo (monitor, on a new pty) -> CMD; `Defaults!CMD !use_pty` in
//   a drop-in removes it. Either way SIGTERM to sudo's PID is relayed to CMD
//   and sudo then dies of the same signal.
// - fd 0, 1, 2: any that is a pipe, a socket (Node's 'pipe' stdio is a
//   socketpair) or a file reaches CMD as the caller's very own (same inode),
//   with or without use_pty, with or without a controlling terminal: sudo
//   1.9.13 interposes only on descriptors that are the caller's terminal.
//   Under use_pty with a controlling terminal, a descriptor that WAS that
//   terminal becomes the new pty; with `!use_pty` it stays the caller's.
// - fds >= 3 are closed (closefrom 3, sudo's default). With
//   `Defaults!CMD closefrom_override` the caller may run `sudo -C N CMD` to
//   keep the fds below N (checked with N = 4: fd 3 arrives).
// - sudo logs to syslog (authpriv) where there is one: those lines are the
//   one trace of a world that reaches the machine.
import { spawn, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { execa, type Options, type ResultPromise } from 'execa';

const NSENTER = '/usr/bin/nsenter';
const SETPRIV = '/usr/bin/setpriv';
const VISUDO = '/usr/sbin/visudo';
const ROOT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const USER_PATH = '/usr/local/bin:/usr/bin:/bin';
const ACCOUNT_FILES = ['passwd', 'group', 'shadow', 'gshadow'] as const;
type AccountFile = (typeof ACCOUNT_FILES)[number];
const SYSTEM_IDS = { low: 100, high: 999 };
// Below 60000: login.defs' UID_MAX, under systemd's dynamic users and nobody.
const REGULAR_IDS = { low: 1000, high: 59999 };
// What useradd accepts (Debian's NAME_REGEX is laxer; this is enough for tests).
const NAME = /^[a-z_][a-z0-9_-]{0,31}$/;
// sudo silently skips a drop-in whose name has a dot or ends in ~.
const SUDOERS_NAME = /^[A-Za-z0-9_-]+$/;

// Runs in the holder, inside the new namespaces: $1 is the world's directory.
const SETUP = `set -eu
dir=$1
# /etc as an overlay first: the world may then have what the machine lacks
# (/etc/tails-launch, the admin layer), every change staying in $dir.
mount -t overlay tails-launch-world -o "lowerdir=/etc,upperdir=$dir/etc-overlay/upper,workdir=$dir/etc-overlay/work" /etc
mkdir -p /etc/tails-launch
mount --bind "$dir/admin" /etc/tails-launch
for f in passwd group shadow gshadow; do mount --bind "$dir/etc/$f" "/etc/$f"; done
mount --bind "$dir/etc/sudoers.d" /etc/sudoers.d
mkdir -p /run/netns /run/sudo
mount -t tmpfs -o mode=0755,size=1m tails-launch-world /run/netns
mount -t tmpfs -o mode=0711,size=1m tails-launch-world /run/sudo
mount -t tmpfs -o mode=0755 tails-launch-world "$dir/home"
ip link set lo up
echo ready
exec ${SETPRIV} --pdeathsig KILL -- sleep infinity
`;

export interface WorldGroup {
  name: string;
  gid: number;
  system: boolean;
}

export interface WorldUser {
  name: string;
  uid: number;
  /** Its own group, of the same name. */
  gid: number;
  home: string;
  /** Supplementary groups. */
  groups: string[];
  system: boolean;
}

/** execa's options but the environment, which is always explicit, and cwd, which is inside the world. */
export type WorldRunOptions = Omit<Options, 'env' | 'extendEnv' | 'reject' | 'cwd'> & {
  /** Added to (or, with undefined, removed from) the world's default environment. */
  env?: Record<string, string | undefined>;
  /** A directory inside the world (nsenter --wd); "/" by default. */
  cwd?: string;
  // stdin is 'ignore' unless input, inputFile, stdin or stdio is given;
  // timeout is 30 s unless given (0: none, for a daemon the test kills itself).
};

export type WorldRun = ResultPromise<{ reject: false }>;

interface Entry {
  fields: string[];
}

function parse(text: string): Entry[] {
  return text
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => ({ fields: l.split(':') }));
}

function readHostAccounts(): Record<AccountFile, string> {
  const files = {} as Record<AccountFile, string>;
  for (const f of ACCOUNT_FILES) files[f] = readFileSync(`/etc/${f}`, 'utf8');
  return files;
}

/** The first free id in RANGE, starting from a PID-dependent point and wrapping. */
function freeId(range: { low: number; high: number }, used: Set<number>): number {
  const size = range.high - range.low + 1;
  const start = (process.pid * 7919) % size;
  for (let i = 0; i < size; i++) {
    const id = range.low + ((start + i) % size);
    if (!used.has(id)) return id;
  }
  throw new Error(`placement world: no free id left in ${range.low}-${range.high}`);
}

/** Appends MEMBERS to the comma-separated member list in FIELD. */
function withMembers(field: string | undefined, members: string[]): string {
  return [...(field ? field.split(',') : []), ...members].join(',');
}

export class PlacementWorld {
  private readonly groups = new Map<string, WorldGroup>();
  private readonly users = new Map<string, WorldUser>();
  /** Members the world adds to any group, its own or the host's. */
  private readonly members = new Map<string, string[]>();
  private readonly sudoersFiles = new Set<string>();
  /** The host's sudoers.d files copied in (removed or refreshed by syncFromHost). */
  private hostSudoers = new Set<string>();
  private host: Record<AccountFile, string>;
  private stopped = false;

  /** The world's /etc/tails-launch (the admin layer), as a path on the machine: write profiles here. */
  readonly adminLayer: string;
  /** A root-owned 0755 directory every test user can reach: stand-ins go here. */
  readonly programs: string;

  private constructor(
    /** The world's directory on the machine: etc/ (the copies), home/ (a tmpfs inside). */
    readonly dir: string,
    private readonly holder: ChildProcess,
    private readonly holderExit: Promise<void>,
    /** The holder's PID: its namespaces are the world's. */
    readonly pid: number,
  ) {
    this.host = readHostAccounts();
    this.adminLayer = join(dir, 'admin');
    this.programs = join(dir, 'programs');
  }

  /**
   * Whether the holder has been reaped. Node sets exitCode/signalCode in the
   * very callback that reaps it, so while this is false the PID cannot have
   * been reused and nsenter cannot land in someone else's namespaces.
   */
  private get exited(): boolean {
    return this.holder.exitCode !== null || this.holder.signalCode !== null;
  }

  /** Starts a world: the holder, its mounts, lo up. Needs root. */
  static async create(): Promise<PlacementWorld> {
    if (process.getuid?.() !== 0) throw new Error('placement world: needs root (unshare, mount, nsenter)');
    const dir = mkdtempSync(`/tmp/tails-launch-world-${process.pid}-`);
    chmodSync(dir, 0o755); // test users reach their homes through it
    mkdirSync(join(dir, 'etc'), { mode: 0o700 });
    mkdirSync(join(dir, 'home'), { mode: 0o755 });
    mkdirSync(join(dir, 'etc', 'sudoers.d'), { mode: 0o755 });
    // The overlay's root takes the upper directory's mode: /etc's own 0755.
    mkdirSync(join(dir, 'etc-overlay'), { mode: 0o700 });
    mkdirSync(join(dir, 'etc-overlay', 'upper'), { mode: 0o755 });
    chmodSync(join(dir, 'etc-overlay', 'upper'), 0o755);
    mkdirSync(join(dir, 'etc-overlay', 'work'), { mode: 0o700 });
    // The admin layer /etc/tails-launch inside, and programs every test user can run.
    mkdirSync(join(dir, 'admin', 'profiles'), { recursive: true, mode: 0o755 });
    chmodSync(join(dir, 'admin'), 0o755);
    mkdirSync(join(dir, 'programs'), { mode: 0o755 });
    for (const f of ACCOUNT_FILES) {
      // Same owner and mode as the original (shadow: root:shadow 0640).
      const st = statSync(`/etc/${f}`);
      copyFileSync(`/etc/${f}`, join(dir, 'etc', f));
      chownSync(join(dir, 'etc', f), st.uid, st.gid);
      chmodSync(join(dir, 'etc', f), st.mode & 0o7777);
    }
    const holder = spawn(
      'unshare',
      ['--mount', '--net', '--propagation', 'private', '--', '/bin/sh', '-c', SETUP, 'world', dir],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { PATH: ROOT_PATH, LANG: 'C.UTF-8' },
      },
    );
    const holderExit = new Promise<void>((resolve) => holder.on('close', () => resolve()));
    let stderr = '';
    holder.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const ready = await new Promise<boolean>((resolve) => {
      let out = '';
      holder.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('ready\n')) resolve(true);
      });
      holder.on('error', (e) => {
        stderr += String(e);
        resolve(false);
      });
      void holderExit.then(() => resolve(false));
    });
    const pid = holder.pid;
    const fail = async (why: string): Promise<never> => {
      if (holder.exitCode === null && holder.signalCode === null) holder.kill('SIGKILL');
      await holderExit;
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`placement world: ${why}`);
    };
    if (!ready || pid === undefined) return fail(`the holder did not start: ${stderr.trim()}`);
    // Never run anything "in the world" that would be the machine's own namespaces.
    for (const ns of ['mnt', 'net'])
      if (readlinkSync(`/proc/${pid}/ns/${ns}`) === readlinkSync(`/proc/self/ns/${ns}`))
        return fail(`the holder shares this process's ${ns} namespace`);
    // A world the test forgets to stop does not keep the test process alive;
    // the holder then dies with it (pdeathsig).
    holder.unref();
    (holder.stdout as unknown as { unref(): void }).unref();
    (holder.stderr as unknown as { unref(): void }).unref();
    const world = new PlacementWorld(dir, holder, holderExit, pid);
    world.syncSudoersFromHost();
    world.writeAccounts();
    return world;
  }

  /** A path of the world's filesystem, as seen from outside (through the holder's root). */
  private inside(path: string): string {
    return `/proc/${this.pid}/root${path}`;
  }

  private checkAlive(): void {
    if (this.stopped || this.exited) throw new Error('placement world: already stopped');
  }

  private usedIds(): Set<number> {
    const used = new Set<number>();
    for (const e of parse(this.host.passwd)) used.add(Number(e.fields[2]));
    for (const e of parse(this.host.group)) used.add(Number(e.fields[2]));
    for (const u of this.users.values()) used.add(u.uid).add(u.gid);
    for (const g of this.groups.values()) used.add(g.gid);
    return used;
  }

  private hostHasName(name: string): boolean {
    return [this.host.passwd, this.host.group].some((t) => parse(t).some((e) => e.fields[0] === name));
  }

  private checkNewName(name: string): void {
    if (!NAME.test(name)) throw new Error(`placement world: ${JSON.stringify(name)} is not a valid user or group name`);
    if (this.hostHasName(name)) throw new Error(`placement world: ${name} already exists on this machine`);
    if (this.users.has(name) || this.groups.has(name)) throw new Error(`placement world: ${name} already exists`);
  }

  private groupExists(name: string): boolean {
    return this.groups.has(name) || parse(this.host.group).some((e) => e.fields[0] === name);
  }

  /** The four files: the host's (as last read) plus the world's entries. */
  private renderAccounts(): Record<AccountFile, string> {
    const today = Math.floor(Date.now() / 86_400_000);
    const hostLines = (text: string, membersField: number) =>
      parse(text).map((e) => {
        const extra = this.members.get(e.fields[0]!);
        if (extra) e.fields[membersField] = withMembers(e.fields[membersField], extra);
        return e.fields.join(':');
      });
    const passwd = parse(this.host.passwd).map((e) => e.fields.join(':'));
    const shadow = parse(this.host.shadow).map((e) => e.fields.join(':'));
    const group = hostLines(this.host.group, 3);
    const gshadow = hostLines(this.host.gshadow, 3);
    for (const u of this.users.values()) {
      passwd.push(`${u.name}:x:${u.uid}:${u.gid}:tails-launch test user:${u.home}:/bin/sh`);
      // ! (regular) and * (system) as adduser writes them: no password, account valid since today.
      shadow.push(`${u.name}:${u.system ? '*' : '!'}:${today}:0:99999:7:::`);
    }
    for (const g of this.groups.values()) {
      const members = (this.members.get(g.name) ?? []).join(',');
      group.push(`${g.name}:x:${g.gid}:${members}`);
      gshadow.push(`${g.name}:!::${members}`);
    }
    const text = (lines: string[]) => `${lines.join('\n')}\n`;
    return { passwd: text(passwd), group: text(group), shadow: text(shadow), gshadow: text(gshadow) };
  }

  private writeAccounts(): void {
    const files = this.renderAccounts();
    // In place (same inode): the bind mounts inside hold these very files.
    for (const f of ACCOUNT_FILES) writeFileSync(join(this.dir, 'etc', f), files[f]);
  }

  /** A group only the world has; a system one takes its gid in 100-999. */
  addGroup(name: string, { system = false }: { system?: boolean } = {}): WorldGroup {
    this.checkAlive();
    this.checkNewName(name);
    const group = { name, gid: freeId(system ? SYSTEM_IDS : REGULAR_IDS, this.usedIds()), system };
    this.groups.set(name, group);
    this.writeAccounts();
    return group;
  }

  /**
   * A user only the world has: uid (and its own group's gid, the same number)
   * in 100-999 for a system user, from 1000 otherwise; shell /bin/sh; no
   * password; member of GROUPS (the world's or the host's, e.g. the package's
   * `tails-launch`). Its home (by default DIR/home/NAME, on the world's tmpfs)
   * is created 0700 and its own unless it exists already.
   */
  addUser(name: string, options: { system?: boolean; groups?: string[]; home?: string } = {}): WorldUser {
    this.checkAlive();
    this.checkNewName(name);
    const system = options.system ?? false;
    const groups = options.groups ?? [];
    const unknown = groups.filter((g) => !this.groupExists(g));
    if (unknown.length > 0) throw new Error(`placement world: no group ${unknown.join(', ')} (syncFromHost() first?)`);
    const uid = freeId(system ? SYSTEM_IDS : REGULAR_IDS, this.usedIds());
    const user: WorldUser = { name, uid, gid: uid, home: options.home ?? join(this.dir, 'home', name), groups, system };
    this.groups.set(name, { name, gid: uid, system });
    this.users.set(name, user);
    for (const g of groups) this.members.set(g, [...(this.members.get(g) ?? []), name]);
    this.writeAccounts();
    const home = this.inside(user.home);
    if (!existsSync(home)) {
      mkdirSync(home, { recursive: true });
      chmodSync(home, 0o700);
      chownSync(home, user.uid, user.gid);
    }
    return user;
  }

  /** Adds an existing user (the world's) to an existing group (the world's or the host's). */
  addToGroup(user: string, group: string): void {
    this.checkAlive();
    const u = this.users.get(user);
    if (!u) throw new Error(`placement world: no user ${user} in this world`);
    if (!this.groupExists(group)) throw new Error(`placement world: no group ${group}`);
    if (u.groups.includes(group)) return;
    u.groups.push(group);
    this.members.set(group, [...(this.members.get(group) ?? []), user]);
    this.writeAccounts();
  }

  /** The world's user NAME. */
  user(name: string): WorldUser {
    const u = this.users.get(name);
    if (!u) throw new Error(`placement world: no user ${name} in this world`);
    return u;
  }

  /**
   * Adds /etc/sudoers.d/FILENAME inside the world: TEXT, root-owned, 0440,
   * checked with `visudo -c -f` first (a broken file is refused, never put
   * in place). Replaces the world's own file of that name.
   */
  async addSudoers(fileName: string, text: string): Promise<void> {
    this.checkAlive();
    if (!SUDOERS_NAME.test(fileName))
      throw new Error(`placement world: sudo would ignore a drop-in named ${JSON.stringify(fileName)}`);
    if (this.hostSudoers.has(fileName))
      throw new Error(`placement world: /etc/sudoers.d/${fileName} is the host's, not the test's`);
    const staged = join(this.dir, 'etc', `sudoers-${fileName}`);
    writeFileSync(staged, text, { mode: 0o440 });
    chownSync(staged, 0, 0);
    chmodSync(staged, 0o440);
    const check = await execa(VISUDO, ['-c', '-f', staged], {
      reject: false,
      all: true,
      stdin: 'ignore',
      extendEnv: false,
      env: { PATH: ROOT_PATH, LANG: 'C.UTF-8' },
    });
    if (check.exitCode !== 0) {
      unlinkSync(staged);
      throw new Error(`placement world: visudo rejects ${fileName}: ${String(check.all).trim()}`);
    }
    // rename: sudo inside never reads a half-written file.
    renameSync(staged, join(this.dir, 'etc', 'sudoers.d', fileName));
    this.sudoersFiles.add(fileName);
  }

  /** Removes the world's own /etc/sudoers.d/FILENAME. */
  removeSudoers(fileName: string): void {
    if (!this.sudoersFiles.delete(fileName))
      throw new Error(`placement world: no sudoers file ${fileName} of the test`);
    rmSync(join(this.dir, 'etc', 'sudoers.d', fileName), { force: true });
  }

  private syncSudoersFromHost(): void {
    const copy = join(this.dir, 'etc', 'sudoers.d');
    const now = new Set(readdirSync('/etc/sudoers.d'));
    const clash = [...now].filter((f) => this.sudoersFiles.has(f));
    if (clash.length > 0) throw new Error(`placement world: the host now has /etc/sudoers.d/${clash.join(', ')} too`);
    for (const f of this.hostSudoers) if (!now.has(f)) rmSync(join(copy, f), { force: true });
    for (const f of now) {
      const from = join('/etc/sudoers.d', f);
      const st = lstatSync(from);
      if (!st.isFile()) continue; // sudo reads regular files only
      const staged = join(this.dir, 'etc', `host-${f}`);
      copyFileSync(from, staged);
      chownSync(staged, st.uid, st.gid);
      chmodSync(staged, st.mode & 0o7777);
      renameSync(staged, join(copy, f));
    }
    this.hostSudoers = now;
  }

  /**
   * Re-reads the host's account files and /etc/sudoers.d (e.g. after dpkg -i
   * made the package's group and drop-in) and rewrites the world's copies:
   * the host's current content plus the world's own entries and files.
   */
  syncFromHost(): void {
    this.checkAlive();
    const host = readHostAccounts();
    const names = new Set([...parse(host.passwd), ...parse(host.group)].map((e) => e.fields[0]));
    const ids = new Set([...parse(host.passwd), ...parse(host.group)].map((e) => Number(e.fields[2])));
    for (const g of this.groups.values())
      if (names.has(g.name) || ids.has(g.gid))
        throw new Error(`placement world: the host now has ${g.name} or id ${g.gid} too`);
    this.host = host;
    this.writeAccounts();
    this.syncSudoersFromHost();
  }

  private envFor(base: Record<string, string>, extra: Record<string, string | undefined> = {}): Record<string, string> {
    const env: Record<string, string | undefined> = { ...base, ...extra };
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
    return env as Record<string, string>;
  }

  private run(
    prefix: string[],
    argv: readonly string[],
    env: Record<string, string>,
    options: WorldRunOptions,
  ): WorldRun {
    this.checkAlive();
    const { env: _env, cwd, ...rest } = options;
    const wd = cwd ? [`--wd=${cwd}`] : [];
    const givesInput =
      rest.input !== undefined || rest.inputFile !== undefined || rest.stdin !== undefined || rest.stdio !== undefined;
    return execa(NSENTER, [`--target=${this.pid}`, '--mount', '--net', ...wd, '--', ...prefix, ...argv], {
      ...(givesInput ? {} : { stdin: 'ignore' as const }),
      timeout: 30_000,
      ...rest,
      reject: false,
      extendEnv: false,
      env,
    } as Options) as unknown as WorldRun;
  }

  /** Runs ARGV as root inside the world, with a small explicit environment (plus options.env). */
  root(argv: readonly string[], options: WorldRunOptions = {}): WorldRun {
    const env = this.envFor(
      { PATH: ROOT_PATH, HOME: '/root', USER: 'root', LOGNAME: 'root', LANG: 'C.UTF-8' },
      options.env,
    );
    return this.run([], argv, env, options);
  }

  /**
   * Runs ARGV inside the world as USER (the world's): its uid, gid and groups
   * (initgroups from the world's /etc/group), no capability left; environment
   * PATH, HOME, USER, LOGNAME, SHELL, LANG (plus options.env).
   */
  as(user: string, argv: readonly string[], options: WorldRunOptions = {}): WorldRun {
    const u = this.user(user);
    const env = this.envFor(
      { PATH: USER_PATH, HOME: u.home, USER: u.name, LOGNAME: u.name, SHELL: '/bin/sh', LANG: 'C.UTF-8' },
      options.env,
    );
    const prefix = [SETPRIV, `--reuid=${u.uid}`, `--regid=${u.gid}`, '--init-groups', '--'];
    return this.run(prefix, argv, env, options);
  }

  /** The namespaces `ip netns add` made inside the world (its private /run/netns). */
  netnsNames(): string[] {
    if (this.exited) return [];
    try {
      return readdirSync(this.inside('/run/netns'));
    } catch {
      return [];
    }
  }

  /**
   * PIDs of the processes living in the world, the holder aside: in its mount
   * namespace, or in its network namespace or one made inside with `ip netns`
   * (`ip netns exec` gives its command a mount namespace of its own).
   */
  processes(): number[] {
    if (this.exited) return [];
    const ns = (pid: number | string, kind: string) => {
      try {
        return readlinkSync(`/proc/${pid}/ns/${kind}`);
      } catch {
        return undefined;
      }
    };
    const mnt = ns(this.pid, 'mnt');
    const nets = new Set([ns(this.pid, 'net')]);
    for (const name of this.netnsNames()) {
      try {
        nets.add(`net:[${statSync(this.inside(`/run/netns/${name}`)).ino}]`);
      } catch {
        // deleted meanwhile
      }
    }
    const found: number[] = [];
    for (const entry of readdirSync('/proc')) {
      const pid = Number(entry);
      if (!Number.isInteger(pid) || pid === this.pid || pid === process.pid) continue;
      if (isZombie(pid)) continue;
      const m = ns(pid, 'mnt');
      const n = ns(pid, 'net');
      if ((m !== undefined && m === mnt) || (n !== undefined && nets.has(n))) found.push(pid);
    }
    return found;
  }

  /**
   * Ends the world: kills (SIGKILL, by PID) whatever still runs inside, deletes
   * the namespaces made with `ip netns add`, kills the holder (its mount
   * namespace and tmpfs go with it), removes the world's directory. Safe to
   * call twice.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    try {
      if (!this.exited) {
        const left = this.processes();
        for (const pid of left) killQuietly(pid);
        await waitGone(left);
        for (const name of this.netnsNames()) await this.root(['ip', 'netns', 'delete', name]);
      }
    } finally {
      // Whatever failed above, the holder and the directory go.
      this.stopped = true;
      this.holder.ref();
      if (!this.exited) this.holder.kill('SIGKILL');
      await this.holderExit;
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

function isZombie(pid: number): boolean {
  try {
    // state is the field after "(comm)", which may itself hold spaces or parentheses
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true; // gone
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

async function waitGone(pids: number[], timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (pids.some((p) => !isZombie(p))) {
    if (Date.now() > deadline)
      throw new Error(`placement world: processes ${pids.filter((p) => !isZombie(p))} survived SIGKILL`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
