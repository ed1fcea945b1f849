// Jails (issue 11) for real: the built launcher makes a network namespace per
// launch with the real ip, sysctl and nft, inside the leak harness
// (test/support/leak-harness.ts). The jails' host side (`jail setup`) goes
// into APP, the harness's namespace where the launcher runs and the tests'
// SOCKS5 server plays Tor, listening on the jail port too; every packet that
// reaches WORLD is counted there. Nothing here touches the machine's own
// network namespace.
//
// Besides WORLD's trap, APP gets a watch of this test's own: a counter on
// every packet that comes out of a jail's link (tlj*) to anything but a jail
// port. The jail's own ruleset (the entry's, src/place/place.c) is the first wall and the
// host side the second; WORLD alone would not see the first one fail (the
// host side would still drop), the watch does.
//
// What each case shows, and its control (the same program without the jail,
// which leaks):
//   1. nothing escapes a jail (static, Go-style, UDP DNS, IPv6, a child that
//      drops LD_PRELOAD, proxychains' UDP, a root program that routes itself);
//   2. the isolation group is the client address Tor sees;
//   3. nothing is left behind, even after SIGKILL;
//   4. concurrent jails get their own groups, and a group's 16 slots hold;
//   5. what cannot be jailed is refused in one line, nothing sent.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureBinaries, type FixtureBinaries } from '../support/binaries';
import { CURL, EXIT } from '../support/expected';
import { useTempDirs } from '../support/fixtures';
import { useLeakHarness } from '../support/leak-harness';
import { cleanEnv, LAUNCHER, ROOT, type LauncherResult } from '../support/launcher';
import type { Plan } from '../../src/plan/types';
import type { SocksRequestRecord } from '../support/socks5-server';

/** The listener `default`'s jail SocksPort: the SOCKS5 server listens on it in APP. */
const JAIL_PORT = 9250;
/** Listener `silent`'s jail port: nothing listens there. */
const SILENT_JAIL_PORT = 9251;
/** Listener `stall`'s jail port: a server that accepts and never answers. */
const STALL_JAIL_PORT = 9252;
const POOL = '10.240.0.0/12';
/** The pool's first /26: the `none` group's address. */
const NONE_ADDRESS = '10.240.0.0';
/** The SOCKS server's fixed reply to a CONNECT (test/support/socks5-server.ts). */
const VIA_SOCKS = 'ok via socks5';

const net = useLeakHarness({ extraSocksPorts: [JAIL_PORT] });
const { make: tempDir } = useTempDirs();
let bins: FixtureBinaries;
/** The Go-style probe (test/fixtures/jail/go-like-leak-probe.c), static as Go programs usually are. */
let goProbe: string;
let config: string;
let runtime: string;
let staller: ChildProcess | null = null;

function ipApp(args: string[]): string {
  return execFileSync('ip', ['-n', net.appNs, ...args], { encoding: 'utf8' });
}

/** The jails' links in APP (their host ends). */
function jailLinks(): string[] {
  return ipApp(['-br', 'link'])
    .split('\n')
    .map((line) => line.split(/\s+/)[0]!.replace(/@.*/, ''))
    .filter((name) => name.startsWith('tlj'));
}

/** Waits until APP has COUNT jail links (the kernel removes a dead namespace's veth asynchronously). */
async function waitForLinks(count: number, timeoutMs = 5000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const links = jailLinks();
    if (links.length === count || Date.now() > deadline) return links;
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Packets out of a jail to anything but a jail port, counted in APP before the host side sees them. */
function escapedFromJails(): number {
  const listing = execFileSync(
    'ip',
    ['netns', 'exec', net.appNs, 'nft', 'list', 'chain', 'inet', 'tl_jail_watch', 'incoming'],
    { encoding: 'utf8' },
  );
  return Number(/counter packets (\d+)/.exec(listing)![1]);
}

const jailed = (args: string[], env: Record<string, string> = {}, timeout = 20_000): Promise<LauncherResult> =>
  net.launch(['--config-dir', config, '--jail', ...args], { env: cleanEnv(env), timeout });
const unjailed = (args: string[], env: Record<string, string> = {}): Promise<LauncherResult> =>
  net.launch(['--config-dir', config, ...args], { env: cleanEnv(env) });

/** A program's own SOCKS session (an own-setting program: its own proxy setting, no credentials) for HOST. */
const ownSession = (host: string, then = ''): string[] => [
  '/bin/sh',
  '-c',
  `${CURL} -s --max-time 10 -x socks5h://127.0.0.1:${net.socksPort} http://${host}/${then}`,
];

/** The client address Tor would see, as `explain --json` says. */
async function explainedAddress(args: string[]): Promise<string> {
  const r = await net.launch([
    '--config-dir',
    config,
    ...args.slice(0, -1),
    'explain',
    '--jail',
    args.at(-1)!,
    '--json',
    '--',
    '/bin/true',
  ]);
  expect(r.exitCode).toBe(0);
  return (JSON.parse(r.stdout) as { torSees: { clientAddress: string } }).torSees.clientAddress;
}

/** The records of the jails' SocksPort for HOST. */
const recordsFor = (records: SocksRequestRecord[], host: string) =>
  records.filter((r) => r.host === host && r.serverPort === JAIL_PORT);

const settle = () => new Promise((r) => setTimeout(r, 150));

beforeAll(async () => {
  bins = await fixtureBinaries();
  const dir = tempDir('jail');
  goProbe = join(dir, 'go-like-leak-probe');
  await execa('cc', [
    '-O2',
    '-Wall',
    '-Wextra',
    '-Werror',
    '-static',
    join(ROOT, 'test/fixtures/jail/go-like-leak-probe.c'),
    '-o',
    goProbe,
  ]);
  runtime = tempDir('runtime');
  execFileSync('chmod', ['700', runtime]);
  config = tempDir('config');
  execFileSync('mkdir', [join(config, 'profiles')]);
  writeFileSync(
    join(config, 'listeners.yml'),
    [
      'listeners:',
      '  default:',
      '    address: 127.0.0.1',
      `    port: ${net.socksPort}`,
      `    jail_port: ${JAIL_PORT}`,
      '  silent:',
      '    address: 127.0.0.1',
      '    port: 9050',
      `    jail_port: ${SILENT_JAIL_PORT}`,
      '  stall:',
      '    address: 127.0.0.1',
      '    port: 9062',
      `    jail_port: ${STALL_JAIL_PORT}`,
      '  nojail:',
      '    address: 127.0.0.1',
      '    port: 9063',
      `jails: { pool: ${POOL} }`,
      // The controls run unjailed: a firewall is declared for root (none exists here: the controls leak, as they must).
      'host_firewall: { description: "the controls\' declaration", users: [root] }',
      '',
    ].join('\n'),
  );
  const profiles: Record<string, string> = {
    // backend env: the launcher lets static and Go programs run (the jail holds them, not a preload).
    launch: 'listener: default\nisolation: launch\nbackend: env\n',
    app: 'listener: default\nisolation: app\nbackend: env\n',
    // `application`: the program's own settings decide (own-setting), the jail gives the group.
    application: 'listener: default\nisolation: application\nbackend: own-setting\n',
    none: 'listener: default\nisolation: none\nbackend: env\n',
    torsocks: 'listener: default\nisolation: launch\nbackend: torsocks\n',
    proxychains: 'listener: default\nisolation: app\nbackend: proxychains\nacknowledge: [udp-leak]\n',
    silent: 'listener: silent\nisolation: launch\nbackend: env\n',
    stall: 'listener: stall\nisolation: launch\nbackend: env\n',
    nojail: 'listener: nojail\nisolation: launch\nbackend: env\n',
    both: `listener: default\nisolation: launch\nbackend: env\ncommand: /bin/true\nnetns: tl-jail-both-${process.pid}\njail: true\n`,
  };
  for (const [name, text] of Object.entries(profiles)) writeFileSync(join(config, 'profiles', `${name}.yml`), text);
  const setup = await net.launch(['--config-dir', config, 'jail', 'setup']);
  expect(setup.stderr).toBe('');
  expect(setup.exitCode).toBe(0);
  // The watch: every packet out of a jail's link but to a jail port (before the host side's own rules).
  const watch = [
    'table inet tl_jail_watch {',
    '  chain incoming {',
    '    type filter hook prerouting priority -400; policy accept;',
    '    iifname != "tlj*" accept',
    `    tcp dport { ${JAIL_PORT}, ${SILENT_JAIL_PORT}, ${STALL_JAIL_PORT} } accept`,
    '    counter',
    '  }',
    '}',
  ].join('\n');
  execFileSync('ip', ['netns', 'exec', net.appNs, 'nft', '-f', '-'], { input: watch });
  // Listener `stall`'s jail port: accepts and never answers (the preflight's SOCKS check waits on it).
  staller = spawn(
    'ip',
    [
      'netns',
      'exec',
      net.appNs,
      '/usr/bin/python3',
      '-c',
      `import socket,sys\ns=socket.socket()\ns.bind(("127.0.0.1",${STALL_JAIL_PORT}))\ns.listen(64)\nprint("up",flush=True)\nheld=[]\nwhile True: held.append(s.accept())`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve) => staller!.stdout!.once('data', () => resolve()));
}, 120_000);

afterAll(() => {
  if (staller?.exitCode === null) staller.kill('SIGKILL');
});

/** Expects nothing out of the jail: zero packets in WORLD, none out of a jail's link but to its jail port. */
async function expectNothingEscaped(watchBefore: number): Promise<void> {
  await settle();
  expect(net.trapped()).toBe(0);
  expect(escapedFromJails() - watchBefore).toBe(0);
}

describe('1. nothing escapes a jail (each with its control, which leaks without the jail)', () => {
  it('a static binary connecting directly', async () => {
    const control = await unjailed(['launch', '--', bins.leakProbeStatic, net.worldV4, '80']);
    expect(control.stdout).toBe('reply: HTTP/1.1 200 OK');
    await settle();
    const leaked = net.trapped();
    expect(leaked).toBeGreaterThan(0);
    const watch = escapedFromJails();
    const r = await jailed(['launch', '--', bins.leakProbeStatic, net.worldV4, '80']);
    expect(r.stdout).toMatch(/^refused: /);
    await settle();
    expect(net.trapped()).toBe(leaked);
    expect(escapedFromJails()).toBe(watch);
  });

  it('a Go-style binary (static, with a Go build ID)', async () => {
    const control = await unjailed(['launch', '--', goProbe, net.worldV4, '80']);
    expect(control.stdout).toBe('reply: HTTP/1.1 200 OK');
    await settle();
    const leaked = net.trapped();
    expect(leaked).toBeGreaterThan(0);
    const watch = escapedFromJails();
    const r = await jailed(['launch', '--', goProbe, net.worldV4, '80']);
    expect(r.stdout).toMatch(/^refused: /);
    await settle();
    expect(net.trapped()).toBe(leaked);
    expect(escapedFromJails()).toBe(watch);
  });

  it('UDP DNS to WORLD port 53', async () => {
    const control = await unjailed(['launch', '--', bins.leakProbe, net.worldV4, '53', 'udp']);
    expect(control.stdout).toBe('sent');
    await settle();
    const leaked = net.trapped();
    expect(leaked).toBeGreaterThan(0);
    const watch = escapedFromJails();
    const r = await jailed(['launch', '--', bins.leakProbe, net.worldV4, '53', 'udp']);
    expect(r.stdout).toMatch(/^refused: /);
    await settle();
    expect(net.trapped()).toBe(leaked);
    expect(escapedFromJails()).toBe(watch);
  });

  it("IPv6 TCP to WORLD's v6 address", async () => {
    const control = await unjailed(['launch', '--', bins.leakProbe, net.worldV6, '80']);
    expect(control.stdout).toBe('reply: HTTP/1.1 200 OK');
    await settle();
    const leaked = net.trapped();
    expect(leaked).toBeGreaterThan(0);
    const watch = escapedFromJails();
    const r = await jailed(['launch', '--', bins.leakProbe, net.worldV6, '80']);
    expect(r.stdout).toMatch(/^refused: /);
    await settle();
    expect(net.trapped()).toBe(leaked);
    expect(escapedFromJails()).toBe(watch);
  });

  it('a child that drops LD_PRELOAD (torsocks backend, env -i)', async () => {
    const child = ['/bin/sh', '-c', `exec /usr/bin/env -i ${bins.leakProbe} ${net.worldV4} 80`];
    const control = await unjailed(['torsocks', '--', ...child]);
    expect(control.stdout).toBe('reply: HTTP/1.1 200 OK');
    await settle();
    const leaked = net.trapped();
    expect(leaked).toBeGreaterThan(0);
    const watch = escapedFromJails();
    const r = await jailed(['torsocks', '--', ...child]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^refused: /);
    await settle();
    expect(net.trapped()).toBe(leaked);
    expect(escapedFromJails()).toBe(watch);
  });

  it("proxychains' UDP leak (acknowledge: [udp-leak])", async () => {
    const probe = [bins.leakProbe, net.worldV4, '53', 'udp'];
    const control = await unjailed(['proxychains', '--', ...probe], { XDG_RUNTIME_DIR: runtime });
    expect(control.stdout).toBe('sent');
    await settle();
    const leaked = net.trapped();
    expect(leaked).toBeGreaterThan(0);
    const watch = escapedFromJails();
    const r = await jailed(['proxychains', '--', ...probe], { XDG_RUNTIME_DIR: runtime });
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^refused: /);
    await settle();
    expect(net.trapped()).toBe(leaked);
    expect(escapedFromJails()).toBe(watch);
  });

  it('a root program that routes itself out through the host end (TCP and UDP): refused inside the jail', async () => {
    // The host end is the jail's address minus one (src/jail/address.ts: .1 host side, .2 jail).
    const host = "a=$(ip -4 -o addr show dev veth0 | awk '{print $4}' | cut -d/ -f1); h=${a%.*}.$(( ${a##*.} - 1 ))";
    const script = [
      host,
      'ip route add default via "$h" 2>&1',
      // Each attempt bounded: one that got out of the jail would hang on the host side's drop, not be refused.
      'try() { timeout 3 "$@"; [ $? -ne 124 ] || echo timed out; }',
      `try ${bins.leakProbe} ${net.worldV4} 80`,
      `try ${bins.leakProbe} ${net.worldV4} 53 udp`,
      `try ${bins.leakProbe} "$h" 9062 udp`,
      // The host end's other ports: the SOCKS server listens on 9062 in APP, not for jails.
      `try ${bins.leakProbe} "$h" 9062`,
    ].join('\n');
    const watch = escapedFromJails();
    const r = await jailed(['launch', '--', '/bin/sh', '-c', script]);
    expect(r.stdout.split('\n')).toEqual([
      // Root in a jail has no capability left (CAP_NET_ADMIN included): it cannot even add the route.
      expect.stringMatching(/Operation not permitted/),
      expect.stringMatching(/^refused: /),
      expect.stringMatching(/^refused: /),
      expect.stringMatching(/^refused: /),
      expect.stringMatching(/^refused: /),
    ]);
    expect(net.records()).toEqual([]);
    await expectNothingEscaped(watch);
  });

  // Another network namespace is one setns(2) away for a program with CAP_SYS_ADMIN: a jail's root
  // application keeps uid 0 but no capability (a user's has none anyway).
  const leave = () => `exec nsenter --net=/run/netns/${net.appNs} ${bins.leakProbe} ${net.worldV4} 80`;

  // Root keeps uid 0 in a jail but no capability (the entry drops them: src/place/place.c): no setns out.
  it('an application run as root cannot setns out of its jail: it has no capability left; zero packets', async () => {
    const watch = escapedFromJails();
    const r = await jailed([
      'launch',
      '--',
      '/bin/sh',
      '-c',
      `grep -E '^Cap(Eff|Prm|Bnd|Inh|Amb):' /proc/self/status; ${leave()} 2>&1`,
    ]);
    const lines = r.stdout.split('\n');
    expect(lines.slice(0, 5)).toEqual([
      'CapInh:\t0000000000000000',
      'CapPrm:\t0000000000000000',
      'CapEff:\t0000000000000000',
      'CapBnd:\t0000000000000000',
      'CapAmb:\t0000000000000000',
    ]);
    expect(lines[5]).toMatch(/^nsenter: reassociate to namespace 'ns\/net' failed: Operation not permitted$/);
    await expectNothingEscaped(watch);
  });

  it("the legitimate path: the jailed program's own SOCKS session reaches the jails' SocksPort from its group's address", async () => {
    const watch = escapedFromJails();
    const r = await jailed(['app', '--', ...ownSession('legit.test')]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(VIA_SOCKS);
    const records = recordsFor(await net.waitForRecords(1), 'legit.test');
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ auth: 'none', clientAddress: await explainedAddress(['app']) });
    await expectNothingEscaped(watch);
  });
});

describe("1b. the process state is the caller's", () => {
  it("the application keeps the caller's umask through the privileged entry (which uses 022 for its own files)", async () => {
    const previous = process.umask(0o027);
    try {
      const r = await jailed(['launch', '--', '/bin/sh', '-c', 'umask']);
      expect(r).toMatchObject({ exitCode: 0, stdout: '0027', stderr: '' });
    } finally {
      process.umask(previous);
    }
  });
});

describe('2. the isolation group is the client address', () => {
  /** Runs one jailed own-setting session per entry (one at a time), returns each one's client address. */
  async function addressesOf(runs: { args: string[]; profile: string }[]): Promise<string[]> {
    const addresses: string[] = [];
    for (const [i, run] of runs.entries()) {
      const host = `group-${i}-${process.pid}.test`;
      const r = await jailed([...run.args, run.profile, '--', ...ownSession(host)]);
      expect(r.stdout).toBe(VIA_SOCKS);
      const records = recordsFor(await net.waitForRecords(i + 1), host);
      expect(records).toHaveLength(1);
      addresses.push(records[0]!.clientAddress);
    }
    return addresses;
  }

  it('two launch jails: two fresh addresses, both in the launch half of the pool (10.248.0.0/13)', async () => {
    const [a, b] = await addressesOf([
      { args: [], profile: 'launch' },
      { args: [], profile: 'launch' },
    ]);
    expect(a).not.toBe(b);
    for (const address of [a!, b!]) {
      expect(address).toMatch(/^10\.(248|249|250|251|252|253|254|255)\.\d+\.\d+$/);
      // A /26's first address.
      expect(Number(address.split('.')[3]) % 64).toBe(0);
    }
  });

  it.each(['app', 'application'])('two %s jails: one address, the one explain --json shows', async (profile) => {
    const [a, b] = await addressesOf([
      { args: [], profile },
      { args: [], profile },
    ]);
    expect(a).toBe(b);
    expect(a).toBe(await explainedAddress([profile]));
    // The stable half (10.240.0.0/13), not none's group.
    expect(a).toMatch(/^10\.(240|241|242|243|244|245|246|247)\./);
    expect(a).not.toBe(NONE_ADDRESS);
  });

  it("--identity alice and bob: two addresses, each the one explain shows; alice again: alice's", async () => {
    const [alice, bob, again] = await addressesOf([
      { args: ['--identity', 'alice'], profile: 'app' },
      { args: ['--identity', 'bob'], profile: 'app' },
      { args: ['--identity', 'alice'], profile: 'app' },
    ]);
    expect(alice).not.toBe(bob);
    expect(again).toBe(alice);
    expect(alice).toBe(await explainedAddress(['--identity', 'alice', 'app']));
    expect(bob).toBe(await explainedAddress(['--identity', 'bob', 'app']));
    expect(alice).not.toBe(await explainedAddress(['app']));
  });

  it("two none jails: the pool's first address, as explain shows", async () => {
    const [a, b] = await addressesOf([
      { args: [], profile: 'none' },
      { args: [], profile: 'none' },
    ]);
    expect([a, b]).toEqual([NONE_ADDRESS, NONE_ADDRESS]);
    expect(await explainedAddress(['none'])).toBe(NONE_ADDRESS);
  });
});

/** Whether any thread of any process is in namespace NS. */
function namespaceInUse(ns: string): boolean {
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      for (const task of readdirSync(`/proc/${pid}/task`))
        if (readlinkSync(`/proc/${pid}/task/${task}/ns/net`) === ns) return true;
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return false;
}

describe('3. nothing is left behind', () => {
  it('after the launches above, APP has no tlj* link', async () => {
    expect(await waitForLinks(0)).toEqual([]);
  });

  /** Polls READY until it returns a value (or the time is up: null). */
  async function until<T>(ready: () => T | null, timeoutMs = 5000): Promise<T | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = ready();
      if (value !== null || Date.now() > deadline) return value;
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** PID's jail once its host end is up (the entry's last step of making it) and it is back inside: its namespace. */
  function jailOf(pid: number): string | null {
    const app = `net:[${statSync(`/run/netns/${net.appNs}`).ino}]`;
    // The entry steps back into APP for the host end's setup: not ready while it is there.
    const main = readlinkSync(`/proc/${pid}/ns/net`);
    const up = ipApp(['-br', 'link'])
      .split('\n')
      .some((line) => line.startsWith('tlj') && /\bUP\b/.test(line));
    return up && main !== app ? main : null;
  }

  it.each([
    // The launched PID is the privileged entry (src/place/place.c) from the jail on; its preflight is a
    // Node child of its own, which must die with it (PR_SET_PDEATHSIG): namespaceInUse below sees it if not.
    [
      'a launcher SIGKILLed in its preflight (its listener accepts and never answers)',
      ['stall', '--', '/bin/true'],
      'place',
    ],
    ['an application SIGKILLed while it runs in its jail', ['app', '--', '/bin/sleep', '60'], 'sleep'],
  ])('%s: no tlj* link, no namespace', async (_name, args, command) => {
    const launcher = spawn('ip', ['netns', 'exec', net.appNs, LAUNCHER, '--config-dir', config, '--jail', ...args], {
      stdio: 'ignore',
      env: cleanEnv(),
    });
    const pid = launcher.pid!;
    const exited = new Promise((r) => launcher.once('exit', r));
    try {
      // The stalled preflight is killed well within its 3 s SOCKS timeout; the application once it runs.
      const jail = await until(() =>
        readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === command ? jailOf(pid) : null,
      );
      expect(jail).toMatch(/^net:\[\d+\]$/);
      expect(jailLinks()).toHaveLength(1);
      launcher.kill('SIGKILL');
      await exited;
      expect(await waitForLinks(0)).toEqual([]);
      expect(namespaceInUse(jail!)).toBe(false);
    } finally {
      if (launcher.exitCode === null && launcher.signalCode === null) launcher.kill('SIGKILL');
    }
    expect(net.trapped()).toBe(0);
  });
});

describe('4. concurrent jails', () => {
  it('12 concurrent launch jails get 12 different group addresses', async () => {
    const run = async (i: number): Promise<LauncherResult> => {
      // Overlapping, so that two live jails can never share a fresh group; one that drew a live group is refused (77) and launched again.
      for (;;) {
        const r = await jailed(['launch', '--', ...ownSession(`c${i}-${process.pid}.test`, '; sleep 2')]);
        if (r.exitCode !== EXIT.refused || !/fresh groups in a row were taken by live jails/.test(r.stderr)) return r;
      }
    };
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => run(i)));
    for (const r of results) expect(r).toMatchObject({ exitCode: 0, stdout: VIA_SOCKS, stderr: '' });
    const records = await net.waitForRecords(12);
    const addresses = Array.from({ length: 12 }, (_, i) => {
      const mine = recordsFor(records, `c${i}-${process.pid}.test`);
      expect(mine).toHaveLength(1);
      return mine[0]!.clientAddress;
    });
    expect(new Set(addresses).size).toBe(12);
    expect(await waitForLinks(0)).toEqual([]);
    expect(net.trapped()).toBe(0);
  }, 120_000);

  it('17 app jails of one group at once: 16 run (its 16 slots), one is refused with one line (77)', async () => {
    // 17 launches at once on 2 cores: each may wait its turn well past the usual 20 s, and one that waited
    // 5 s for the jail lock is told to try again (a refusal of its own, not this test's): it does.
    const launch = async (i: number): Promise<LauncherResult> => {
      for (let attempt = 0; ; attempt++) {
        const r = await jailed(['app', '--', ...ownSession(`s${i}-${process.pid}.test`, '; sleep 8')], {}, 100_000);
        if (attempt === 3 || !/another jail has been being made for \d+ s; try again$/.test(r.stderr)) return r;
      }
    };
    const results = await Promise.all(Array.from({ length: 17 }, (_, i) => launch(i)));
    const ran = results.filter((r) => r.exitCode === 0);
    const refused = results.filter((r) => r.exitCode !== 0);
    expect(ran).toHaveLength(16);
    for (const r of ran) expect(r).toMatchObject({ stdout: VIA_SOCKS, stderr: '' });
    expect(refused).toHaveLength(1);
    expect(refused[0]!.exitCode).toBe(EXIT.refused);
    expect(refused[0]!.stderr).toMatch(
      /^tails-launch: privileged entry: cannot make the jail: all 16 jails of group [\d.]+ are in use; close one$/,
    );
    expect(refused[0]!.stdout).toBe('');
    // The 16 that ran share their group's address.
    const records = (await net.waitForRecords(16)).filter((r) => r.serverPort === JAIL_PORT);
    expect(records).toHaveLength(16);
    expect(new Set(records.map((r) => r.clientAddress))).toEqual(new Set([await explainedAddress(['app'])]));
    expect(await waitForLinks(0)).toEqual([]);
    expect(net.trapped()).toBe(0);
  }, 120_000);
});

describe('5. refusals: one line each, nothing sent', () => {
  /** Expects R refused with STATUS and a line matching MESSAGE, nothing sent, no jail left. */
  async function expectRefused(r: LauncherResult, status: number, message: RegExp): Promise<void> {
    expect(r.exitCode).toBe(status);
    expect(r.stderr.split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
    await settle();
    expect(net.records()).toEqual([]);
    expect(net.trapped()).toBe(0);
    expect(await waitForLinks(0)).toEqual([]);
  }

  it('no host side (before jail setup): 72', async () => {
    const teardown = await net.launch(['--config-dir', config, 'jail', 'teardown']);
    expect(teardown.exitCode).toBe(0);
    try {
      const r = await jailed(['app', '--', ...ownSession('no-host-side.test')]);
      await expectRefused(r, EXIT.noNamespace, /^tails-launch: .*jail setup/);
    } finally {
      const setup = await net.launch(['--config-dir', config, 'jail', 'setup']);
      expect(setup.exitCode).toBe(0);
    }
  });

  it('the listener not answering inside the jail: 69', async () => {
    const r = await jailed(['silent', '--', ...ownSession('silent.test')]);
    await expectRefused(r, EXIT.torUnreachable, /^tails-launch: /);
  });

  it('a listener without jail_port: no root jail, so --jail makes a user jail (no root needed), and says so', async () => {
    const r = await net.launch(['--config-dir', config, 'explain', '--json', '--jail', 'nojail', '--', 'true']);
    expect(r.exitCode).toBe(0);
    const plan = JSON.parse(r.stdout) as Plan;
    expect(plan.guard).toMatchObject({ kind: 'jail', by: 'user' });
    expect(plan.jail).toBeNull();
    expect(plan.handover).toBeNull();
  });

  it('a profile with both netns and jail: 65', async () => {
    const r = await net.launch(['--config-dir', config, 'both']);
    await expectRefused(r, EXIT.config, /^tails-launch: .*netns/);
  });
});
