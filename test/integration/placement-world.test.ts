// The placement tests' private world (test/support/placement-world.ts), tested
// for itself: its users and groups exist inside and nowhere else, a test user
// is who it should be and nothing more, sudo rules work inside as on a real
// machine (and the behaviours the placement code relies on: refusals under
// -n, which descriptors the command gets, the PID a test holds), `ip netns
// add` inside stays inside, the "host" network has only lo, and stop() leaves
// nothing behind.
//
// Needs root (unshare, mount, nsenter, sudo's rules).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PlacementWorld, type WorldGroup, type WorldUser } from '../support/placement-world';

const IS_ROOT = process.getuid?.() === 0;
if (!IS_ROOT) console.warn('placement-world.test.ts: SKIPPED: a world needs root (unshare, mount, nsenter)');

const ALICE = 'tl-alice'; // regular user, in TEAM
const SYSD = 'tl-sysd'; // system user, in TEAM
const BOB = 'tl-bob'; // regular user, not in TEAM; a rule without NOPASSWD
const CAROL = 'tl-carol'; // no rule at all
const TEAM = 'tl-team';

const hostNetns = () => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
const lines = (text: unknown) =>
  String(text)
    .replace(/\r/g, '') // through a pty, lines end in \r\n
    .split('\n')
    .filter((l) => l !== '');

/** Whether PID is gone (or a zombie waiting to be reaped). */
function gone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

/** The PIDs whose parent is PID. */
function childrenOf(pid: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.skipIf(!IS_ROOT)('the placement world (test/support/placement-world.ts)', () => {
  let world: PlacementWorld;
  let team: WorldGroup;
  let alice: WorldUser;
  let sysd: WorldUser;
  const hostFiles = ['/etc/passwd', '/etc/group', '/etc/shadow', '/etc/gshadow'];
  let hostSudoers: string[] = [];

  beforeAll(async () => {
    hostSudoers = readdirSync('/etc/sudoers.d');
    world = await PlacementWorld.create();
    team = world.addGroup(TEAM);
    alice = world.addUser(ALICE, { groups: [TEAM] });
    sysd = world.addUser(SYSD, { system: true, groups: [TEAM] });
    world.addUser(BOB);
    world.addUser(CAROL);
  });

  afterAll(async () => {
    await world?.stop();
  });

  it('the holder: namespaces of its own; its network has only lo, up, none of the machine interfaces', async () => {
    for (const ns of ['mnt', 'net'])
      expect(readlinkSync(`/proc/${world.pid}/ns/${ns}`)).not.toBe(readlinkSync(`/proc/self/ns/${ns}`));
    const links = lines((await world.root(['ip', '-o', 'link', 'show'])).stdout);
    expect(links).toHaveLength(1);
    expect(links[0]).toMatch(/^1: lo: <LOOPBACK,UP,LOWER_UP>/);
    const addrs = lines((await world.root(['ip', '-o', '-4', 'addr', 'show'])).stdout);
    expect(addrs.map((l) => l.split(/\s+/).slice(1, 4).join(' '))).toEqual(['lo inet 127.0.0.1/8']);
  });

  it('users and groups: in the world, not on the machine; ids from the right ranges, unused on the machine', async () => {
    const hostIds = (file: string) =>
      new Set(
        readFileSync(file, 'utf8')
          .split('\n')
          .map((l) => l.split(':')[2]),
      );
    expect(alice.uid).toBeGreaterThanOrEqual(1000);
    expect(alice.uid).toBeLessThan(60000);
    expect(sysd.uid).toBeGreaterThanOrEqual(100);
    expect(sysd.uid).toBeLessThanOrEqual(999);
    for (const id of [alice.uid, sysd.uid, alice.gid, sysd.gid]) {
      expect(hostIds('/etc/passwd').has(String(id)), `${id} in /etc/passwd`).toBe(false);
      expect(hostIds('/etc/group').has(String(id)), `${id} in /etc/group`).toBe(false);
    }

    const inside = await world.root(['getent', 'passwd', ALICE]);
    expect(inside.stdout).toBe(`${ALICE}:x:${alice.uid}:${alice.gid}:tails-launch test user:${alice.home}:/bin/sh`);
    expect((await world.root(['getent', 'group', TEAM])).stdout).toMatch(
      new RegExp(`^${TEAM}:x:\\d+:${ALICE},${SYSD}$`),
    );
    expect((await world.root(['getent', 'shadow', ALICE])).stdout).toMatch(new RegExp(`^${ALICE}:!:\\d+:`));
    expect((await world.root(['getent', 'shadow', SYSD])).stdout).toMatch(new RegExp(`^${SYSD}:\\*:\\d+:`));

    for (const [db, name] of [
      ['passwd', ALICE],
      ['passwd', SYSD],
      ['group', TEAM],
      ['shadow', ALICE],
    ] as const) {
      const outside = await execa('getent', [db, name], { reject: false });
      expect(outside.exitCode, `${db} ${name} outside`).toBe(2); // not found
    }
    // Not a line of the machine's files names them (the files may change meanwhile: other tests add users).
    for (const f of hostFiles)
      for (const name of [ALICE, SYSD, BOB, CAROL, TEAM])
        expect(
          readFileSync(f, 'utf8')
            .split('\n')
            .some((l) => l.startsWith(`${name}:`)),
          `${name} in ${f}`,
        ).toBe(false);
    // The home is on the world's tmpfs: the machine sees an empty directory.
    expect(existsSync(alice.home)).toBe(false);
    expect(world.addUser.bind(world, 'root')).toThrow(/already exists on this machine/);
  });

  it("as(): the user, its groups, no capability, its own home, only the environment given, the program's own PID", async () => {
    const id = await world.as(ALICE, ['id']);
    expect(id.stdout).toBe(
      `uid=${alice.uid}(${ALICE}) gid=${alice.gid}(${ALICE}) groups=${alice.gid}(${ALICE}),${team.gid}(${TEAM})`,
    );
    const caps = lines(
      (await world.as(ALICE, ['grep', '-E', '^(Cap(Inh|Prm|Eff|Amb)|NoNewPrivs)', '/proc/self/status'])).stdout,
    );
    expect(caps.map((l) => l.split(/\s+/)[1])).toEqual([
      '0000000000000000',
      '0000000000000000',
      '0000000000000000',
      '0000000000000000',
      '0',
    ]);

    const home = await world.as(ALICE, ['sh', '-c', 'cd && touch x && stat -c "%U %a" . && pwd']);
    expect(lines(home.stdout)).toEqual([`${ALICE} 700`, alice.home]);
    expect((await world.as(BOB, ['ls', alice.home])).exitCode).not.toBe(0);

    process.env.TAILS_LAUNCH_WORLD_PROBE = 'from the runner';
    try {
      const env = await world.as(ALICE, ['env'], { env: { EXTRA: 'given', LANG: undefined } });
      expect(lines(env.stdout).sort()).toEqual(
        [
          `EXTRA=given`,
          `HOME=${alice.home}`,
          `LOGNAME=${ALICE}`,
          'PATH=/usr/local/bin:/usr/bin:/bin',
          'SHELL=/bin/sh',
          `USER=${ALICE}`,
        ].sort(),
      );
    } finally {
      delete process.env.TAILS_LAUNCH_WORLD_PROBE;
    }

    // nsenter and setpriv exec: the PID execa reports is the program's.
    for (const run of [world.as(ALICE, ['sh', '-c', 'echo $$']), world.root(['sh', '-c', 'echo $$'])]) {
      const pid = run.pid;
      expect((await run).stdout).toBe(String(pid));
    }
  });

  describe('sudo inside the world', () => {
    beforeAll(async () => {
      await world.addSudoers(
        'world-test',
        `%${TEAM} ALL=(root) NOPASSWD: /usr/bin/id\n${BOB} ALL=(root) /usr/bin/whoami\n`,
      );
    });

    it('a NOPASSWD group rule: 0 for its members (shadow ! and *), "a password is required" for everyone else', async () => {
      for (const user of [ALICE, SYSD]) {
        const r = await world.as(user, ['sudo', '-n', '/usr/bin/id', '-u']);
        expect({ user, exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr }).toEqual({
          user,
          exitCode: 0,
          stdout: '0',
          stderr: '',
        });
      }
      for (const [user, cmd] of [
        [BOB, '/usr/bin/id'], // outside the group
        [BOB, '/usr/bin/whoami'], // a rule without NOPASSWD
        [CAROL, '/usr/bin/id'], // no rule at all
        [ALICE, '/usr/bin/whoami'], // a command outside her rule
      ] as const) {
        const r = await world.as(user, ['sudo', '-n', cmd]);
        expect({ user, cmd, exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr }).toEqual({
          user,
          cmd,
          exitCode: 1,
          stdout: '',
          stderr: 'sudo: a password is required',
        });
      }
    });

    it("the world's /etc/sudoers.d: the machine's files plus the test's, the test's invisible outside", async () => {
      const inside = lines((await world.root(['ls', '-A', '/etc/sudoers.d'])).stdout);
      expect(inside.sort()).toEqual([...hostSudoers, 'world-test'].sort());
      expect(existsSync('/etc/sudoers.d/world-test')).toBe(false);
      expect(readdirSync('/etc/sudoers.d').sort()).toEqual([...hostSudoers].sort());
      const mode = await world.root(['stat', '-c', '%U %G %a', '/etc/sudoers.d/world-test']);
      expect(mode.stdout).toBe('root root 440');
      // sudo's timestamp files (one per user sudo asked for a password) stay in the world's /run/sudo.
      await world.as(CAROL, ['sudo', '-n', '/usr/bin/id']);
      expect(lines((await world.root(['ls', '-A', '/run/sudo/ts'])).stdout)).toEqual(
        expect.arrayContaining([BOB, CAROL]),
      );
      const hostTs = existsSync('/run/sudo/ts') ? readdirSync('/run/sudo/ts') : [];
      expect(hostTs.filter((f) => f.startsWith('tl-'))).toEqual([]);
    });

    it('visudo refuses a broken file, which never reaches sudo; a name sudo would skip is refused', async () => {
      await expect(world.addSudoers('broken', `${ALICE} ALL=(root NOPASSWD /usr/bin/id\n`)).rejects.toThrow(
        /visudo rejects broken/,
      );
      await expect(world.addSudoers('with.dot', `${ALICE} ALL=(root) NOPASSWD: /usr/bin/id\n`)).rejects.toThrow(
        /sudo would ignore/,
      );
      expect(lines((await world.root(['ls', '-A', '/etc/sudoers.d'])).stdout)).not.toContain('broken');
      expect((await world.as(ALICE, ['sudo', '-n', '/usr/bin/id', '-u'])).stdout).toBe('0');
    });

    it('addToGroup and syncFromHost: a new member is allowed; a sync keeps the world entries and files', async () => {
      world.addUser('tl-dave');
      expect((await world.as('tl-dave', ['sudo', '-n', '/usr/bin/id', '-u'])).exitCode).toBe(1);
      world.addToGroup('tl-dave', TEAM);
      expect((await world.as('tl-dave', ['sudo', '-n', '/usr/bin/id', '-u'])).stdout).toBe('0');
      world.syncFromHost();
      expect((await world.as('tl-dave', ['sudo', '-n', '/usr/bin/id', '-u'])).stdout).toBe('0');
      expect(lines((await world.root(['ls', '-A', '/etc/sudoers.d'])).stdout).sort()).toEqual(
        [...hostSudoers, 'world-test'].sort(),
      );
    });

    it("the command is sudo's child: the PID a test holds is sudo's, and SIGTERM to it reaches the command", async () => {
      await world.addSudoers('world-sleep', `%${TEAM} ALL=(root) NOPASSWD: /usr/bin/sleep\n`);
      try {
        const run = world.as(ALICE, ['sudo', '-n', '/usr/bin/sleep', '300']);
        const sudo = run.pid!;
        await until('sudo to start sleep', () => childrenOf(sudo).length === 1);
        const [command] = childrenOf(sudo);
        expect(readFileSync(`/proc/${command}/cmdline`, 'utf8')).toBe('/usr/bin/sleep\x00300\x00');
        process.kill(sudo, 'SIGTERM');
        const r = await run;
        expect(r.signal).toBe('SIGTERM'); // sudo dies of the command's signal
        await until('the command to end', () => gone(command!));
      } finally {
        world.removeSudoers('world-sleep');
      }
    });

    it("descriptors, no controlling terminal: fd 0/1 are the caller's own (use_pty or not); fds >= 3 are closed", async () => {
      await world.addSudoers('world-readlink', `%${TEAM} ALL=(root) NOPASSWD: /usr/bin/readlink\n`);
      try {
        // setsid: no controlling terminal even when vitest runs in one. fd 3: a pipe the caller holds.
        const script =
          'readlink /proc/$$/fd/0 /proc/$$/fd/1 /proc/$$/fd/3; echo --; exec sudo -n /usr/bin/readlink /proc/self/fd/0 /proc/self/fd/1 /proc/self/fd/3';
        const r = await world.as(ALICE, ['setsid', '-w', 'sh', '-c', script], {
          stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
        });
        const [caller, command] = String(r.stdout).split('\n--\n').map(lines);
        expect(caller).toHaveLength(3);
        // Node's 'pipe' stdio is a socketpair.
        expect(
          caller!.every((l) => /^socket:\[\d+\]$/.test(l)),
          String(caller),
        ).toBe(true);
        // The caller's very own pipes (same inode), and no fd 3: readlink finds it missing.
        expect(command).toEqual(caller!.slice(0, 2));
        expect(r.exitCode).toBe(1);

        // closefrom_override lets the caller keep fds below N with sudo -C N.
        await world.addSudoers('world-closefrom', `Defaults!/usr/bin/readlink closefrom_override\n`);
        const kept = await world.as(
          ALICE,
          ['setsid', '-w', 'sh', '-c', 'exec sudo -n -C 4 /usr/bin/readlink /proc/self/fd/3'],
          { stdio: ['pipe', 'pipe', 'pipe', 'pipe'] },
        );
        expect(kept.stderr).toBe('');
        expect(kept.stdout).toMatch(/^socket:\[\d+\]$/);
        world.removeSudoers('world-closefrom');
      } finally {
        world.removeSudoers('world-readlink');
      }
    });

    it("descriptors, with a controlling terminal: use_pty swaps only the caller's terminal for a new pty; !use_pty keeps it", async () => {
      await world.addSudoers('world-readlink', `%${TEAM} ALL=(root) NOPASSWD: /usr/bin/readlink\n`);
      try {
        // script(1) gives sh a pty as controlling terminal and fd 2; fd 0 is a file, fd 1 a pipe.
        const inner =
          'readlink /proc/$$/fd/0 /proc/$$/fd/1 /proc/$$/fd/2; echo --; exec sudo -n /usr/bin/readlink /proc/self/fd/0 /proc/self/fd/1 /proc/self/fd/2';
        const withTty = async () => {
          const r = await world.as(ALICE, ['script', '-qec', `sh -c '${inner}' </dev/null | cat`, '/dev/null']);
          expect(r.exitCode, String(r.stderr)).toBe(0);
          return String(r.stdout).replace(/\r/g, '').split('\n--\n').map(lines);
        };
        const [caller, command] = await withTty();
        expect(caller![0]).toBe('/dev/null');
        expect(caller![1]).toMatch(/^pipe:/);
        expect(caller![2]).toMatch(/^\/dev\/pts\/\d+$/);
        expect(command!.slice(0, 2)).toEqual(caller!.slice(0, 2)); // the file and the pipe: the caller's own
        expect(command![2]).toMatch(/^\/dev\/pts\/\d+$/);
        expect(command![2]).not.toBe(caller![2]); // Defaults use_pty: a new pty

        await world.addSudoers('world-nopty', 'Defaults!/usr/bin/readlink !use_pty\n');
        const [caller2, command2] = await withTty();
        expect(command2).toEqual(caller2); // the caller's terminal itself
        world.removeSudoers('world-nopty');
      } finally {
        world.removeSudoers('world-readlink');
      }
    });
  });

  it('ip netns add inside stays inside: two worlds each have their tbb, the machine none of theirs', async () => {
    // Other tests may add and delete namespaces on the machine meanwhile: only names
    // nobody else uses (UNIQUE) and the identity of any machine tbb are compared.
    const unique = `tl-world-${process.pid}`;
    const hostTbb = () => (existsSync('/run/netns/tbb') ? `net:[${statSync('/run/netns/tbb').ino}]` : undefined);
    const other = await PlacementWorld.create();
    try {
      for (const w of [world, other]) {
        for (const name of ['tbb', unique]) {
          const add = await w.root(['ip', 'netns', 'add', name]);
          expect(add.exitCode, String(add.stderr)).toBe(0);
        }
        expect(
          lines((await w.root(['ip', 'netns', 'list'])).stdout)
            .map((l) => l.split(' ')[0])
            .sort(),
        ).toEqual(['tbb', unique].sort());
        expect(w.netnsNames().sort()).toEqual(['tbb', unique].sort());
      }
      expect(
        hostNetns()
          .split('\n')
          .map((l) => l.split(' ')[0]),
      ).not.toContain(unique);
      expect(existsSync(`/run/netns/${unique}`)).toBe(false);
      // Three namespaces called tbb (or two, if the machine has none): never one seen twice.
      const inode = async (w: PlacementWorld) =>
        (await w.root(['ip', 'netns', 'exec', 'tbb', 'readlink', '/proc/self/ns/net'])).stdout;
      const inodes = [await inode(world), await inode(other), hostTbb()].filter((i) => i !== undefined);
      expect(new Set(inodes).size).toBe(inodes.length);
      for (const name of ['tbb', unique]) expect((await world.root(['ip', 'netns', 'delete', name])).exitCode).toBe(0);
      expect(world.netnsNames()).toEqual([]);
    } finally {
      await other.stop();
    }
    expect(existsSync(`/run/netns/${unique}`)).toBe(false);
  });

  it('stop() leaves nothing: processes inside (also in an ip netns) killed, holder gone, directory removed', async () => {
    const unique = `tl-world-stop-${process.pid}`;
    const w = await PlacementWorld.create();
    w.addUser('tl-erin');
    expect((await w.root(['ip', 'netns', 'add', unique])).exitCode).toBe(0);
    const asUser = w.as('tl-erin', ['sleep', '300']);
    const inNetns = w.root(['ip', 'netns', 'exec', unique, 'sleep', '300']);
    await until('both sleeps to run', () => w.processes().length === 2);
    expect(w.processes().sort()).toEqual([asUser.pid, inNetns.pid].sort());
    const { pid, dir } = w;
    expect(existsSync(dir)).toBe(true);

    await w.stop();
    expect((await asUser).signal).toBe('SIGKILL');
    expect((await inNetns).signal).toBe('SIGKILL');
    expect(gone(pid)).toBe(true);
    expect(existsSync(dir)).toBe(false);
    expect(existsSync(`/run/netns/${unique}`)).toBe(false);
    expect(() => w.root(['true'])).toThrow(/already stopped/);
    await w.stop(); // twice is fine
  });
});
