// `tails-launch jail setup/teardown` (the jails' host side) with the real nft
// and ip, jails made by hand the way src/jail/make-jail.ts makes them, and
// doctor's host-side check, through the built launcher.
//
// Nothing here touches the machine's own network: a network namespace of
// this test plays the host (HOST); the launcher runs in it through
// `nsenter --net`, which changes only the network namespace (`ip netns exec`
// would give it a mount namespace of its own as well).
//
// Each jail is a namespace of its own (JAILS, names with this process's PID)
// with a veth pair whose host end `tljtestN` lives in HOST, route_localnet
// on that end, and inside only what a jail's own firewall does for the
// application: 127.0.0.1:9050 (and :9062) redirected to HOST_END:JAIL_PORT,
// the jail's address as source. The jails have NO filter of their own and a
// default route to the host end: whatever is refused here, the host side
// refuses. The host forwards (ip_forward=1 in HOST), so that forwarding
// off for jails is the table's doing too.
//
// In HOST a server listens on the jail ports (127.0.0.1:9150, :9162) and on
// traps (0.0.0.0:9050, the listener's own port; 0.0.0.0:7000; [::]:7001;
// UDP 0.0.0.0:7002), and reports every connection and datagram; jail C runs
// a trap (0.0.0.0:7100) for the other jails and the host.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { build } from 'esbuild';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../support/expected';
import { useTempDirs } from '../support/fixtures';
import {
  AS_NOBODY,
  cleanEnv,
  launcherForAnyone,
  LAUNCHER,
  ROOT,
  runLauncher,
  type LauncherResult,
} from '../support/launcher';

const isRoot = process.getuid?.() === 0;
const PID = process.pid;
const HOST = `tl-jh-${PID}`;
const POOL = '10.240.0.0/12';
const TABLE = 'tails_launch_jails';
/** The listeners: default 127.0.0.1:9050 with jail port 9150, tails 127.0.0.1:9062 with 9162. */
const JAIL_PORT = 9150;
const TAILS_JAIL_PORT = 9162;
const TRAP_PORT = 7000;
const V6_TRAP_PORT = 7001;
const UDP_TRAP_PORT = 7002;
const JAIL_TRAP_PORT = 7100;
/** Another address of HOST, on its loopback. */
const OTHER_HOST_ADDRESS = '10.250.0.1';

interface Jail {
  ns: string;
  veth: string;
  /** The host end of its veth pair, and its own address. */
  host: string;
  jail: string;
  /** An IPv6 address of each end (and the host end's link-local, read once it exists). */
  host6: string;
  jail6: string;
  hostLinkLocal?: string;
}

/** A and B: slots 1 and 2 of group 0 (10.240.0.0/26), none in its slot 0; C: slot 0 of group 1 (10.240.0.64/26). */
const A: Jail = jail('a', 1, '10.240.0.4');
const B: Jail = jail('b', 2, '10.240.0.8');
const C: Jail = jail('c', 3, '10.240.0.64');
const JAILS = [A, B, C];
const GROUP_0 = '10.240.0.0';
const GROUP_1 = '10.240.0.64';

function jail(letter: string, n: number, base: string): Jail {
  const last = Number(base.split('.')[3]);
  const prefix = base.split('.').slice(0, 3).join('.');
  return {
    ns: `tlj-${letter}-${PID}`,
    veth: `tljtest${n}`,
    host: `${prefix}.${last + 1}`,
    jail: `${prefix}.${last + 2}`,
    host6: `fd00:0:0:${n}::1`,
    jail6: `fd00:0:0:${n}::2`,
  };
}

const LISTENERS = `listeners:
  default:
    address: 127.0.0.1
    port: 9050
    flags: [IsolateDestAddr, IsolateDestPort]
    jail_port: ${JAIL_PORT}
  tails:
    address: 127.0.0.1
    port: 9062
    flags: [IsolateDestAddr, IsolateDestPort]
    jail_port: ${TAILS_JAIL_PORT}
  upgrader:
    address: 127.0.0.1
    port: 9063
    flags: [NoIsolateDestAddr, NoIsolateDestPort, NoIsolateClientProtocol]
`;

const { make: tempDir } = useTempDirs();
let config = '';

/** Writes a configuration directory with LISTENERS_YML and a profile 'jailed' of listener default. */
function configDir(listenersYml: string): string {
  const dir = tempDir('jail-config');
  chmodSync(dir, 0o755);
  mkdirSync(join(dir, 'profiles'));
  writeFileSync(join(dir, 'listeners.yml'), listenersYml);
  writeFileSync(
    join(dir, 'profiles', 'jailed.yml'),
    'command: /bin/true\nlistener: default\nisolation: app\nbackend: env\n',
  );
  return dir;
}

/** A connection or datagram a server accepted: where (host or jail c), on which local endpoint, from whom. */
interface Accepted {
  at: string;
  proto: 'tcp' | 'udp';
  local: string;
  localPort: number;
  remote: string;
}
const accepted: Accepted[] = [];
const servers: ResultPromise[] = [];
const since = (from: number) => accepted.slice(from);

// Listens on each 'PROTO ADDRESS PORT' given; reports each connection or datagram as JSON.
const SERVER = `
const net = require('node:net');
const dgram = require('node:dgram');
const [at, ...specs] = process.argv.slice(1);
let open = 0;
const ready = () => { if (++open === specs.length) console.log('ready'); };
const report = (proto, local, localPort, remote) => console.log(JSON.stringify({ at, proto, local, localPort, remote }));
for (const spec of specs) {
  const [proto, address, port] = spec.split(' ');
  if (proto === 'udp') {
    const socket = dgram.createSocket('udp4');
    socket.on('message', (m, r) => report('udp', address, Number(port), r.address));
    socket.bind(port, address, ready);
  } else {
    net.createServer((s) => {
      report('tcp', s.localAddress, s.localPort, s.remoteAddress);
      s.on('error', () => {});
      s.end();
    }).listen({ port: Number(port), host: address, ipv6Only: address === '::' }, ready);
  }
}
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
`;

// Connects to HOST:PORT (tcp) or sends one datagram (udp); prints "connected", "sent", an error code or "timeout".
const CLIENT = `
const [proto, host, port, wait] = process.argv.slice(1);
const done = (what) => { console.log(what); process.exit(0); };
if (proto === 'udp') {
  const s = require('node:dgram').createSocket('udp4');
  s.send('x', Number(port), host, (e) => setTimeout(() => done(e ? e.code : 'sent'), 100));
} else {
  const s = require('node:net').connect(Number(port), host);
  s.on('connect', () => done('connected'));
  s.on('error', (e) => done(e.code));
  setTimeout(() => done('timeout'), Number(wait));
}
`;

const inNetns = (ns: string) => ['nsenter', `--net=/run/netns/${ns}`];

/** Runs ARGV inside network namespace NS, failing the test if it fails. */
function inside(ns: string, argv: string[], input?: string): string {
  const [nsenter, ...rest] = inNetns(ns);
  return execFileSync(nsenter!, [...rest, ...argv], { encoding: 'utf8', input });
}

/** Connects from inside NS to HOST:PORT over PROTO; how long it waits tells a refusal from a silent drop. */
async function connectFrom(ns: string, host: string, port: number, waitMs = 1500, proto = 'tcp'): Promise<string> {
  const [nsenter, ...rest] = inNetns(ns);
  const { stdout } = await execa(nsenter!, [
    ...rest,
    process.execPath,
    '-e',
    CLIENT,
    proto,
    host,
    String(port),
    String(waitMs),
  ]);
  return stdout.trim();
}

/** Starts SERVER in NS, tagged AT, on SPECS; resolves once it listens. */
async function startServer(ns: string, at: string, specs: string[]): Promise<void> {
  const [nsenter, ...rest] = inNetns(ns);
  const server = execa(nsenter!, [...rest, process.execPath, '-e', SERVER, at, ...specs], {
    stdin: 'pipe',
    stderr: 'inherit',
  });
  servers.push(server);
  const lines = createInterface({ input: server.stdout! });
  await new Promise<void>((resolve, reject) => {
    lines.on('line', (line) => (line === 'ready' ? resolve() : accepted.push(JSON.parse(line) as Accepted)));
    server.catch(reject);
  });
}

/** The jail's own firewall, as far as the application's way out goes: redirect, then its own source (SOURCE). */
function jailRules(j: Jail, source = j.jail): string {
  return `table ip jail
delete table ip jail
table ip jail {
  chain to_host {
    type nat hook output priority -100; policy accept;
    ip daddr 127.0.0.1 tcp dport 9050 dnat to ${j.host}:${JAIL_PORT}
    ip daddr 127.0.0.1 tcp dport 9062 dnat to ${j.host}:${TAILS_JAIL_PORT}
  }
  chain own_source {
    type nat hook postrouting priority 100; policy accept;
    oifname "eth0" snat to ${source}
  }
}
`;
}

/** Makes jail J as make-jail.ts does (host end in HOST, route_localnet on it), with IPv6 on both ends. */
function makeJail(j: Jail): void {
  execFileSync('ip', ['netns', 'add', j.ns]);
  // No duplicate address detection: the IPv6 addresses are usable at once.
  inside(j.ns, ['sysctl', '-qw', 'net.ipv6.conf.default.accept_dad=0', 'net.ipv4.conf.all.route_localnet=1']);
  inside(HOST, ['ip', 'link', 'add', j.veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', j.ns]);
  // What the launch sets on each host end, and the host side relies on (a DNAT to 127.0.0.1 from this link).
  inside(HOST, ['sysctl', '-qw', `net.ipv4.conf.${j.veth}.route_localnet=1`]);
  inside(HOST, ['ip', 'address', 'add', `${j.host}/30`, 'dev', j.veth]);
  inside(HOST, ['ip', '-6', 'address', 'add', `${j.host6}/64`, 'dev', j.veth, 'nodad']);
  inside(HOST, ['ip', 'link', 'set', j.veth, 'up']);
  inside(j.ns, ['ip', 'link', 'set', 'lo', 'up']);
  inside(j.ns, ['ip', 'address', 'add', `${j.jail}/30`, 'dev', 'eth0']);
  inside(j.ns, ['ip', '-6', 'address', 'add', `${j.jail6}/64`, 'dev', 'eth0', 'nodad']);
  inside(j.ns, ['ip', 'link', 'set', 'eth0', 'up']);
  // Routes to everywhere through the host end: without them "unreachable" would prove nothing.
  inside(j.ns, ['ip', 'route', 'add', 'default', 'via', j.host]);
  inside(j.ns, ['ip', '-6', 'route', 'add', 'default', 'via', j.host6]);
  inside(j.ns, ['nft', '-f', '-'], jailRules(j));
}

/** `tails-launch ARGS` run in HOST, as root or through LAUNCHER_PATH (nobody's copy) with a setpriv prefix. */
function tl(args: string[], prefix: string[] = [], launcher = LAUNCHER): Promise<LauncherResult> {
  const [first, ...rest] = [...inNetns(HOST), ...prefix, launcher, ...args];
  return runLauncher(rest, { env: cleanEnv() }, first);
}

const setup = (dir = config) => tl(['--config-dir', dir, 'jail', 'setup']);
const teardown = (dir = config) => tl(['--config-dir', dir, 'jail', 'teardown']);

/** doctor's host-side check of listener default, run in HOST. */
async function doctorHostCheck(prefix: string[] = [], launcher = LAUNCHER) {
  const result = await tl(['--config-dir', config, 'doctor', 'jailed', '--json'], prefix, launcher);
  expect(result.stderr).toBe('');
  const checks = (JSON.parse(result.stdout) as { checks: { id: string; status: string; message: string }[] }).checks;
  return checks.filter((c) => c.id === 'listener.default.jail.host');
}

const SETUP_REPORT = [
  `  pool ${POOL}: a /30 per jail (its link tlj... here), a /26 per isolation group, whose first address Tor sees`,
  "  listener 'default': jails reach its jail port 127.0.0.1:9150 (the listener itself is 127.0.0.1:9050)",
  "  listener 'tails': jails reach its jail port 127.0.0.1:9162 (the listener itself is 127.0.0.1:9062)",
  '  nothing else is reachable from a jail, and nothing is forwarded to or from one',
];

describe.skipIf(!isRoot)(
  "jail setup/teardown: the jails' host side, in a network namespace that plays the host",
  () => {
    beforeAll(async () => {
      execFileSync('ip', ['netns', 'add', HOST]);
      inside(HOST, ['ip', 'link', 'set', 'lo', 'up']);
      inside(HOST, ['ip', 'address', 'add', `${OTHER_HOST_ADDRESS}/32`, 'dev', 'lo']);
      // A host that forwards (its own namespace's settings only): what stops jails is the table, not this.
      inside(HOST, [
        'sysctl',
        '-qw',
        'net.ipv4.ip_forward=1',
        'net.ipv6.conf.all.forwarding=1',
        'net.ipv6.conf.default.accept_dad=0',
      ]);
      config = configDir(`${LISTENERS}jails:\n  pool: ${POOL}\n`);
      for (const j of JAILS) makeJail(j);
      // The host end's link-local address (fe80::/64, made by the kernel when the link came up).
      for (const j of JAILS) {
        const [info] = JSON.parse(
          inside(HOST, ['ip', '-j', '-6', 'address', 'show', 'dev', j.veth, 'scope', 'link']),
        ) as {
          addr_info: { local?: string }[];
        }[];
        // (ip -j lists an empty object for each address the filter leaves out.)
        j.hostLinkLocal = info!.addr_info.find((a) => a.local?.startsWith('fe80:'))!.local;
      }
      await startServer(HOST, 'host', [
        `tcp 127.0.0.1 ${JAIL_PORT}`,
        `tcp 127.0.0.1 ${TAILS_JAIL_PORT}`,
        'tcp 0.0.0.0 9050',
        `tcp 0.0.0.0 ${TRAP_PORT}`,
        `tcp :: ${V6_TRAP_PORT}`,
        `udp 0.0.0.0 ${UDP_TRAP_PORT}`,
      ]);
      await startServer(C.ns, 'c', [`tcp 0.0.0.0 ${JAIL_TRAP_PORT}`]);
    });

    afterAll(async () => {
      for (const server of servers) {
        server.stdin?.end();
        await server.catch(() => undefined);
      }
      // Deleting a jail's namespace takes its veth pair with it; HOST takes the table and the route.
      for (const j of JAILS) execFileSync('ip', ['netns', 'delete', j.ns], { stdio: 'ignore' });
      execFileSync('ip', ['netns', 'delete', HOST], { stdio: 'ignore' });
    });

    it('without the host side (the control): a jail reaches any port of the host, another jail and the host over IPv6, and the host reaches into a jail; the jail port leads nowhere', async () => {
      const from = accepted.length;
      const results = await Promise.all([
        connectFrom(A.ns, A.host, TRAP_PORT),
        connectFrom(A.ns, OTHER_HOST_ADDRESS, TRAP_PORT),
        connectFrom(A.ns, C.jail, JAIL_TRAP_PORT),
        connectFrom(A.ns, A.host6, V6_TRAP_PORT),
        connectFrom(A.ns, `${A.hostLinkLocal}%eth0`, V6_TRAP_PORT),
        connectFrom(HOST, C.jail, JAIL_TRAP_PORT),
        // Nothing listens on the host end's 9150: only the host side leads it to 127.0.0.1:9150.
        connectFrom(A.ns, '127.0.0.1', 9050),
      ]);
      expect(results).toEqual([
        'connected',
        'connected',
        'connected',
        'connected',
        'connected',
        'connected',
        'ECONNREFUSED',
      ]);
      expect(since(from).length).toBe(6);
    });

    it('setup installs one table and the pool route, and changes nothing else in the host namespace', async () => {
      expect(inside(HOST, ['nft', 'list', 'ruleset'])).toBe('');
      const routes = inside(HOST, ['ip', '-4', 'route']);
      const result = await setup();
      expect(result.stderr).toBe('');
      expect(result.exitCode).toBe(0);
      expect(result.stdout.split('\n')).toEqual([
        `jails' host side installed: nftables table inet ${TABLE}, route ${POOL} dev lo`,
        ...SETUP_REPORT,
      ]);
      const tables = inside(HOST, ['nft', 'list', 'tables']);
      expect(tables).toBe(`table inet ${TABLE}\n`);
      expect(inside(HOST, ['ip', '-4', 'route'])).toBe(`${POOL} dev lo scope link \n${routes}`);
      expect(inside(HOST, ['sysctl', '-n', 'net.ipv4.ip_forward']).trim()).toBe('1');
    });

    it("jails of one group reach a jail port as the group's address, jails of another group as theirs; each jail port leads to its listener's", async () => {
      const from = accepted.length;
      // One after the other: the order of the server's reports is the order of the connections.
      for (const j of [A, B, C]) expect(await connectFrom(j.ns, '127.0.0.1', 9050)).toBe('connected');
      expect(await connectFrom(A.ns, '127.0.0.1', 9062)).toBe('connected');
      const seen = (remote: string, port = JAIL_PORT) => ({
        at: 'host',
        proto: 'tcp',
        local: '127.0.0.1',
        localPort: port,
        remote,
      });
      expect(since(from)).toEqual([seen(GROUP_0), seen(GROUP_0), seen(GROUP_1), seen(GROUP_0, TAILS_JAIL_PORT)]);
    });

    it('nothing else: other ports and addresses of the host, another jail, IPv6, UDP are dropped; the host opens nothing into a jail; the traps count 0', async () => {
      const from = accepted.length;
      const started = Date.now();
      const results = await Promise.all([
        connectFrom(A.ns, A.host, TRAP_PORT),
        // The listener's own port, on the host end and on 127.0.0.1 through the host end (no redirect for it).
        connectFrom(A.ns, A.host, 9050),
        connectFrom(A.ns, OTHER_HOST_ADDRESS, TRAP_PORT),
        // Another jail's host end, and another jail itself (forwarded, were it not for the table).
        connectFrom(A.ns, B.host, TRAP_PORT),
        connectFrom(A.ns, C.jail, JAIL_TRAP_PORT),
        connectFrom(A.ns, A.host6, V6_TRAP_PORT),
        connectFrom(A.ns, `${A.hostLinkLocal}%eth0`, V6_TRAP_PORT),
        connectFrom(A.ns, C.jail6, JAIL_TRAP_PORT),
        connectFrom(HOST, C.jail, JAIL_TRAP_PORT),
        connectFrom(HOST, C.jail6, JAIL_TRAP_PORT),
      ]);
      // Dropped without an answer (or, over IPv6, no neighbour ever answers): never connected.
      for (const r of results) expect(['timeout', 'EHOSTUNREACH']).toContain(r);
      expect(await connectFrom(A.ns, A.host, UDP_TRAP_PORT, 0, 'udp')).toBe('sent');
      expect(await connectFrom(A.ns, OTHER_HOST_ADDRESS, UDP_TRAP_PORT, 0, 'udp')).toBe('sent');
      // Give a late packet its chance to arrive.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(since(from)).toEqual([]);
      // The jail port itself still works from the same jail (the drops are not a broken link).
      expect(await connectFrom(A.ns, '127.0.0.1', 9050)).toBe('connected');
      expect(Date.now() - started).toBeLessThan(10_000);
    });

    it("forwarding is off for tlj* links (the table's doing: the host's ip_forward is 1)", () => {
      const ruleset = inside(HOST, ['nft', 'list', 'chain', 'inet', TABLE, 'no_forwarding']);
      expect(ruleset).toContain('type filter hook forward priority filter; policy accept;');
      expect(ruleset).toContain('iifname "tlj*" drop');
      expect(ruleset).toContain('oifname "tlj*" drop');
      expect(inside(HOST, ['sysctl', '-n', 'net.ipv4.ip_forward']).trim()).toBe('1');
    });

    it("a jail cannot take another group's address, nor one outside the pool: the reverse-path check drops it before anything else sees it", async () => {
      // What gets past the host side's first chain (priority -150) from A with a source not A's: counted just after it.
      const observe = `table inet observe_${PID} {
  chain spoofed {
    type filter hook prerouting priority -140; policy accept;
    iifname "${A.veth}" ip saddr != ${A.jail} counter
  }
}
`;
      inside(HOST, ['nft', '-f', '-'], observe);
      const from = accepted.length;
      try {
        // Another group's jail address: without the check, the host would answer C on A's behalf (and C reset it).
        inside(A.ns, ['nft', '-f', '-'], jailRules(A, C.jail));
        expect(await connectFrom(A.ns, '127.0.0.1', 9050)).toBe('timeout');
        inside(A.ns, ['nft', '-f', '-'], jailRules(A, '10.99.0.1'));
        expect(await connectFrom(A.ns, '127.0.0.1', 9050)).toBe('timeout');
        expect(since(from)).toEqual([]);
        const counted = inside(HOST, ['nft', 'list', 'chain', 'inet', `observe_${PID}`, 'spoofed']);
        expect(counted).toContain('counter packets 0 bytes 0');
      } finally {
        inside(A.ns, ['nft', '-f', '-'], jailRules(A));
        inside(HOST, ['nft', 'delete', 'table', 'inet', `observe_${PID}`]);
      }
      expect(await connectFrom(A.ns, '127.0.0.1', 9050)).toBe('connected');
    });

    it("replies reach a jail alone in a later slot of its group only through the pool's route; setup puts it back", async () => {
      inside(HOST, ['ip', 'route', 'delete', POOL, 'dev', 'lo']);
      // No jail in slot 0 of group 0: its address routes nowhere, the SYN-ACK is never sent.
      expect(await connectFrom(A.ns, '127.0.0.1', 9050)).toBe('timeout');
      const again = await setup();
      expect([again.exitCode, again.stderr]).toEqual([0, '']);
      expect(again.stdout.split('\n')).toEqual([
        `jails' host side was already there: table replaced; route ${POOL} dev lo added`,
        ...SETUP_REPORT,
      ]);
      expect(await connectFrom(A.ns, '127.0.0.1', 9050)).toBe('connected');
      // And once more: nothing to add, the table replaced atomically.
      const third = await setup();
      expect(third.stdout.split('\n')[0]).toBe("jails' host side was already there: table replaced");
      expect(inside(HOST, ['nft', 'list', 'tables'])).toBe(`table inet ${TABLE}\n`);
    });

    it('the check a launch makes (hostSideProblem): null with the table, a problem without; its cost', async () => {
      // The check, bundled from src/ and run in HOST.
      const dir = tempDir('jail-check');
      await build({
        entryPoints: [join(ROOT, 'src', 'jail', 'host-side-system.ts')],
        bundle: true,
        platform: 'node',
        format: 'esm',
        outfile: join(dir, 'check.mjs'),
        logLevel: 'silent',
      });
      const script = `
      const { hostSideProblem } = await import(${JSON.stringify(join(dir, 'check.mjs'))});
      const jails = { pool: ${JSON.stringify(POOL)} };
      const listener = (jailPort) => ({ name: 'default', address: '127.0.0.1', jailPort });
      const times = [];
      let answer;
      for (let i = 0; i < 21; i++) {
        const t = performance.now();
        answer = hostSideProblem(listener(${JAIL_PORT}), jails);
        times.push(performance.now() - t);
      }
      times.sort((a, b) => a - b);
      console.log(JSON.stringify({
        ok: answer,
        median: times[10],
        otherPort: hostSideProblem(listener(9999), jails),
        otherPool: hostSideProblem(listener(${JAIL_PORT}), { pool: '10.96.0.0/12' }),
      }));
    `;
      const run = () => JSON.parse(inside(HOST, [process.execPath, '--input-type=module', '-e', script]));
      const present = run();
      expect(present.ok).toBe(null);
      expect(present.otherPort).toBe(
        "the jails' host side does not redirect jail port 9999 to 127.0.0.1:9999 (listener 'default'): run 'tails-launch jail setup' as root",
      );
      expect(present.otherPool).toBe(
        `the jails' host side was set up for the pool ${POOL}, not 10.96.0.0/12: run 'tails-launch jail setup' as root`,
      );
      // Two tool runs (nft, ip): its cost is measured in bench/jail-cost.mjs, not asserted here.
      console.log(`hostSideProblem: median ${present.median.toFixed(1)} ms over 21 runs`);
      inside(HOST, ['ip', 'route', 'delete', POOL, 'dev', 'lo']);
      expect(run().ok).toBe(
        `the jails' host side has no route ${POOL} dev lo (replies to a group's address need it): run 'tails-launch jail setup' as root`,
      );
      expect((await setup()).exitCode).toBe(0);
    });

    it("doctor's host-side check: ok with the table", async () => {
      expect(await doctorHostCheck()).toEqual([
        {
          id: 'listener.default.jail.host',
          status: 'ok',
          message: "jail port of listener 'default' (127.0.0.1:9150): the jails' host side leads jails to it",
        },
      ]);
    });

    describe('as nobody (through setpriv)', () => {
      /** The front and bundle copied where nobody can reach them (the checkout may sit under a 0700 directory). */
      let launcher = '';
      beforeAll(() => {
        launcher = launcherForAnyone(tempDir('jail-nobody'));
      });

      it('setup and teardown are refused (77) in one line, and change nothing', async () => {
        for (const action of ['setup', 'teardown']) {
          const result = await tl(['--config-dir', config, 'jail', action], AS_NOBODY, launcher);
          expect([result.exitCode, result.stderr, result.stdout]).toEqual([
            EXIT.refused,
            `tails-launch: jail ${action} changes the system's firewall: run it as root (sudo tails-launch jail ${action})`,
            '',
          ]);
        }
        expect(inside(HOST, ['nft', 'list', 'tables'])).toBe(`table inet ${TABLE}\n`);
        expect(await connectFrom(A.ns, '127.0.0.1', 9050)).toBe('connected');
      });

      it('doctor skips the host-side check (reading the firewall needs root), it does not fail it', async () => {
        expect(await doctorHostCheck(AS_NOBODY, launcher)).toEqual([
          {
            id: 'listener.default.jail.host',
            status: 'skip',
            message: "jail port of listener 'default' (127.0.0.1:9150): the jails' host side not checked (needs root)",
          },
        ]);
      });
    });

    it('refuses a declaration it cannot set up (65) in one line, and installs nothing', async () => {
      const jailPort = (port: number, extra = '') =>
        `listeners:\n  default:\n    address: 127.0.0.1\n    port: 9050\n    jail_port: ${port}\n${extra}`;
      const cases: [string, string][] = [
        [
          jailPort(9150),
          'no jails.pool is set, so jails have no addresses: set one in the admin layer, e.g. jails: { pool: 10.240.0.0/12 }',
        ],
        [
          `${jailPort(9150)}jails:\n  pool: 10.240.1.0/12\n`,
          'jails.pool: 10.240.1.0/12 is not a network address: its last 20 bits must be 0 (10.240.0.0/12)',
        ],
        [
          `${jailPort(9062, '  tails:\n    address: 127.0.0.1\n    port: 9062\n')}jails:\n  pool: ${POOL}\n`,
          "listeners.default.jail_port: 9062 is listener 'tails's port: a jail port must be a port of its own",
        ],
        [
          `${jailPort(9150, '  tails:\n    address: 127.0.0.1\n    port: 9062\n    jail_port: 9150\n')}jails:\n  pool: ${POOL}\n`,
          "listeners.tails.jail_port: 9150 is already listener 'default's jail port: jails tell their listeners apart by it",
        ],
        [
          `listeners:\n  v6:\n    address: '::1'\n    port: 9050\n    jail_port: 9150\njails:\n  pool: ${POOL}\n`,
          'listeners.v6.jail_port: ::1 is not an IPv4 address: jails reach their SocksPort over IPv4 only, so a listener with a jail_port must listen on one',
        ],
        [
          `${jailPort(9150, '  browser:\n    address: 10.240.200.1\n    port: 9050\n    netns: tbb\n    client_address: 127.0.0.1\n')}jails:\n  pool: ${POOL}\n`,
          `listeners.browser.address: the link of network namespace 'tbb' (10.240.200.0/30) is in the jails' pool ${POOL}: the pool must not overlap any address in use`,
        ],
      ];
      inside(HOST, ['nft', 'delete', 'table', 'inet', TABLE]);
      for (const [yml, message] of cases) {
        const dir = configDir(yml);
        const result = await setup(dir);
        const file = join(dir, 'listeners.yml');
        expect([result.exitCode, result.stderr, result.stdout]).toEqual([
          EXIT.config,
          `tails-launch: invalid configuration: ${file}: ${message}`,
          '',
        ]);
      }
      expect(inside(HOST, ['nft', 'list', 'tables'])).toBe('');
    });

    it('teardown removes the table and the route, and succeeds again when they are gone; jails then reach nothing; doctor fails the check', async () => {
      expect((await setup()).exitCode).toBe(0);
      const first = await teardown();
      expect([first.exitCode, first.stderr, first.stdout]).toEqual([
        0,
        '',
        `jails' host side removed: deleted table inet ${TABLE} and route ${POOL} dev lo`,
      ]);
      expect(inside(HOST, ['nft', 'list', 'ruleset'])).toBe('');
      expect(inside(HOST, ['ip', '-4', 'route'])).not.toContain(POOL);
      const second = await teardown();
      expect([second.exitCode, second.stderr, second.stdout]).toEqual([
        0,
        '',
        "jails' host side is already gone: nothing to remove",
      ]);
      expect(await connectFrom(A.ns, '127.0.0.1', 9050)).not.toBe('connected');
      expect(await doctorHostCheck()).toEqual([
        {
          id: 'listener.default.jail.host',
          status: 'fail',
          message: `jail port of listener 'default' (127.0.0.1:9150): the jails' host side is not installed (no nftables table inet ${TABLE})`,
          fix: "run 'tails-launch jail setup' as root",
        },
      ]);
    });
  },
);
