// `tails-launch netns setup/teardown NAME` with the real ip, sysctl and nft,
// and doctor's namespace check, through the built launcher.
//
// Nothing here touches the machine's own network: a network namespace of
// this test plays the host (HOST). The launcher runs in it through
// `nsenter --net`, which changes only the network namespace: `ip netns exec`
// would also give it a mount namespace of its own, and the namespace it then
// creates (a bind mount on /run/netns/NAME) would vanish with it. /run/netns
// is shared by every run on the machine, so NAME holds this process's PID.
//
// In HOST a server listens on 0.0.0.0:9050 (it answers a SOCKS5 greeting,
// enough for doctor's handshake) and 0.0.0.0:9051 (a trap), and reports every
// connection it accepts; a second address of HOST (on its lo) is another trap.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../support/expected';
import { useTempDirs } from '../support/fixtures';
import {
  AS_NOBODY,
  cleanEnv,
  launcherForAnyone,
  LAUNCHER,
  makeConfigDir,
  runLauncher,
  type LauncherResult,
} from '../support/launcher';

const isRoot = process.getuid?.() === 0;
const PID = process.pid;
const HOST = `tl-host-${PID}`;
/** The namespace under test: at most 10 characters (tl + a PID of at most 7 digits). */
const NAME = `tl${PID}`;
/** Where the listener is: the first host of a /30, unique per run. */
const ADDRESS = `10.201.${PID % 250}.1`;
const INSIDE = `10.201.${PID % 250}.2`;
/** Another address of HOST, on its loopback: nothing inside may reach it. */
const TRAP_ADDRESS = `10.202.${PID % 250}.1`;
/** A second namespace, for a stale /run/netns file and a failing ip (on the next /30). */
const STALE = `ts${PID}`;
const STALE_ADDRESS = `10.201.${PID % 250}.5`;
const PORT = 9050;
const TRAP_PORT = 9051;

const { make: tempDir, track } = useTempDirs();

const PROFILE = `command: /bin/true\nlistener: inside\nnetns: ${NAME}\nisolation: app\nbackend: env\n`;
let config = '';

/** A connection the server in HOST accepted. */
interface Accepted {
  local: string;
  localPort: number;
  remote: string;
}
let server: ResultPromise | undefined;
const accepted: Accepted[] = [];

// Listens on 0.0.0.0:PORT and :TRAP_PORT in HOST; answers a SOCKS5 greeting with "no authentication".
const SERVER = `
const net = require('node:net');
let open = 0;
for (const port of process.argv.slice(1).map(Number)) {
  net.createServer((s) => {
    console.log(JSON.stringify({ local: s.localAddress, localPort: s.localPort, remote: s.remoteAddress }));
    s.on('data', (d) => { if (d[0] === 5) s.write(Buffer.from([5, 0])); });
    s.on('error', () => {});
  }).listen(port, '0.0.0.0', () => { if (++open === process.argv.length - 1) console.log('ready'); });
}
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
`;

// Connects to HOST:PORT from wherever it runs; prints "connected", an error code, or "timeout".
const CLIENT = `
const net = require('node:net');
const [host, port, wait] = process.argv.slice(1);
const s = net.connect(Number(port), host);
const done = (what) => { console.log(what); process.exit(0); };
s.on('connect', () => done('connected'));
s.on('error', (e) => done(e.code));
setTimeout(() => done('timeout'), Number(wait));
`;

const inNetns = (ns: string) => ['nsenter', `--net=/run/netns/${ns}`];

/** Runs ARGV (an absolute or PATH program) inside network namespace NS, failing the test if it fails. */
function inside(ns: string, argv: string[]): string {
  const [nsenter, ...rest] = inNetns(ns);
  return execFileSync(nsenter!, [...rest, ...argv], { encoding: 'utf8' });
}

/** Connects from inside NS to HOST:PORT; how long it waits tells a refusal from a silent drop. */
async function connectFrom(ns: string, host: string, port: number, waitMs = 3000): Promise<string> {
  const [nsenter, ...rest] = inNetns(ns);
  const { stdout } = await execa(nsenter!, [
    ...rest,
    process.execPath,
    '-e',
    CLIENT,
    host,
    String(port),
    String(waitMs),
  ]);
  return stdout.trim();
}

/** `tails-launch ARGS` run in HOST, as root or through LAUNCHER_PATH (nobody's copy) with a setpriv prefix. */
function tl(args: string[], prefix: string[] = [], launcher = LAUNCHER): Promise<LauncherResult> {
  const [first, ...rest] = [...inNetns(HOST), ...prefix, launcher, ...args];
  return runLauncher(rest, { env: cleanEnv() }, first);
}

function setup(): Promise<LauncherResult> {
  return tl(['--config-dir', config, 'netns', 'setup', NAME]);
}

function teardown(): Promise<LauncherResult> {
  return tl(['--config-dir', config, 'netns', 'teardown', NAME]);
}

/** doctor's profile.placed.netns check, run in HOST. */
async function doctorNetnsCheck(prefix: string[] = [], launcher = LAUNCHER) {
  const result = await tl(['--config-dir', config, 'doctor', 'placed', '--json'], prefix, launcher);
  expect(result.stderr).toBe('');
  const checks = (JSON.parse(result.stdout) as { checks: { id: string; status: string; message: string }[] }).checks;
  return checks.filter((c) => c.id === 'profile.placed.netns');
}

const since = (from: number) => accepted.slice(from);

/** DEV in namespace NS: administratively up (its carrier may follow a moment later), and its IPv4 addresses. */
function link(ns: string, dev: string): { up: boolean; ipv4: string[] } {
  const [info] = JSON.parse(inside(ns, ['ip', '-j', '-4', 'address', 'show', 'dev', dev])) as {
    flags: string[];
    addr_info: { local: string; prefixlen: number }[];
  }[];
  return { up: info!.flags.includes('UP'), ipv4: info!.addr_info.map((a) => `${a.local}/${a.prefixlen}`) };
}

describe.skipIf(!isRoot)('netns setup/teardown, in a network namespace that plays the host', () => {
  beforeAll(async () => {
    execFileSync('ip', ['netns', 'add', HOST]);
    inside(HOST, ['ip', 'link', 'set', 'lo', 'up']);
    inside(HOST, ['ip', 'address', 'add', `${TRAP_ADDRESS}/32`, 'dev', 'lo']);
    config = track(
      makeConfigDir(
        {
          inside: { address: ADDRESS, port: PORT, netns: NAME, client_address: '127.0.0.1', client_port: PORT },
          stale: { address: STALE_ADDRESS, port: PORT, netns: STALE, client_address: '127.0.0.1', client_port: PORT },
        },
        { placed: PROFILE },
      ),
    );
    // nobody reads it too (doctor as nobody): root's, under a 0755 directory.
    chmodSync(config, 0o755);
    const [nsenter, ...rest] = inNetns(HOST);
    server = execa(nsenter!, [...rest, process.execPath, '-e', SERVER, String(PORT), String(TRAP_PORT)], {
      stdin: 'pipe',
      stderr: 'inherit',
    });
    const lines = createInterface({ input: server.stdout! });
    await new Promise<void>((resolve, reject) => {
      lines.on('line', (line) => (line === 'ready' ? resolve() : accepted.push(JSON.parse(line) as Accepted)));
      server!.catch(reject);
    });
  });

  afterAll(async () => {
    server?.stdin?.end();
    await server?.catch(() => undefined);
    // Deleting HOST takes veth-NAME with it, and its peer; NAME's bind mount must go by name.
    execFileSync('ip', ['netns', 'delete', NAME], { stdio: 'ignore' });
    rmSync(`/run/netns/${STALE}`, { recursive: true, force: true });
    execFileSync('ip', ['netns', 'delete', HOST], { stdio: 'ignore' });
  });

  it("setup makes the namespace Tails' way, and changes nothing else in the host namespace", async () => {
    const hostRules = inside(HOST, ['nft', 'list', 'ruleset']);
    const hostForward = inside(HOST, ['sysctl', '-n', 'net.ipv4.ip_forward']);
    const result = await setup();
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    expect(result.stdout.split('\n')).toEqual([
      `network namespace '${NAME}' created`,
      `  link: veth-${NAME} ${ADDRESS}/30 (here) <-> veth0 ${INSIDE}/30 (inside '${NAME}')`,
      `  inside: 127.0.0.1:${PORT} leads to ${ADDRESS}:${PORT} (listener 'inside')`,
      `  nothing else is reachable from inside '${NAME}'`,
    ]);
    expect(existsSync(`/run/netns/${NAME}`)).toBe(true);
    expect(link(HOST, `veth-${NAME}`)).toEqual({ up: true, ipv4: [`${ADDRESS}/30`] });
    expect(link(NAME, 'veth0')).toEqual({ up: true, ipv4: [`${INSIDE}/30`] });
    expect(link(NAME, 'lo')).toEqual({ up: true, ipv4: ['127.0.0.1/8'] });
    expect(
      inside(NAME, ['sysctl', '-n', 'net.ipv4.conf.all.route_localnet', 'net.ipv4.ip_forward']).split('\n'),
    ).toEqual(['1', '0', '']);
    // The host side: its veth end and address, nothing more (no NAT, no forwarding, no route beyond the /30).
    expect(inside(HOST, ['nft', 'list', 'ruleset'])).toBe(hostRules);
    expect(inside(HOST, ['sysctl', '-n', 'net.ipv4.ip_forward'])).toBe(hostForward);
    expect(inside(HOST, ['sysctl', '-n', `net.ipv4.conf.veth-${NAME}.forwarding`]).trim()).toBe('0');
    expect(inside(HOST, ['ip', '-4', 'route']).trim()).toBe(
      `${ADDRESS.replace(/1$/, '0')}/30 dev veth-${NAME} proto kernel scope link src ${ADDRESS}`,
    );
  });

  it('from inside, the client address reaches the server on ADDRESS:PORT, which sees the inside address', async () => {
    const from = accepted.length;
    expect(await connectFrom(NAME, '127.0.0.1', PORT)).toBe('connected');
    expect(since(from)).toEqual([{ local: ADDRESS, localPort: PORT, remote: INSIDE }]);
  });

  it("nothing else is reachable from inside: another port of the host's address, another host address (even with a route) are refused at once", async () => {
    // A default route, as if the application's owner had added one: without it the
    // other address would be unreachable for want of a route, and prove nothing.
    inside(NAME, ['ip', 'route', 'replace', 'default', 'via', ADDRESS]);
    const from = accepted.length;
    const started = Date.now();
    expect(await connectFrom(NAME, ADDRESS, TRAP_PORT)).toBe('ECONNREFUSED');
    expect(await connectFrom(NAME, TRAP_ADDRESS, PORT)).toBe('ECONNREFUSED');
    expect(await connectFrom(NAME, '127.0.0.1', TRAP_PORT)).toBe('ECONNREFUSED');
    expect(Date.now() - started).toBeLessThan(2500);
    expect(since(from)).toEqual([]);
  });

  it('the firewall is what stops them: without the ruleset the trap is reached; setup puts it back', async () => {
    inside(NAME, ['nft', 'flush', 'ruleset']);
    let from = accepted.length;
    expect(await connectFrom(NAME, TRAP_ADDRESS, PORT)).toBe('connected');
    expect(since(from)).toEqual([{ local: TRAP_ADDRESS, localPort: PORT, remote: INSIDE }]);
    const again = await setup();
    expect(again.exitCode).toBe(0);
    expect(again.stdout.split('\n')[0]).toBe(`network namespace '${NAME}' was already there: firewall re-applied`);
    from = accepted.length;
    expect(await connectFrom(NAME, TRAP_ADDRESS, PORT)).toBe('ECONNREFUSED');
    expect(await connectFrom(NAME, '127.0.0.1', PORT)).toBe('connected');
    expect(since(from)).toEqual([{ local: ADDRESS, localPort: PORT, remote: INSIDE }]);
  });

  it('nothing from the host side opens a connection into the namespace', async () => {
    const listener = execa(
      ...inNetnsCommand(NAME, [
        '-e',
        "require('node:net').createServer().listen(7000, '0.0.0.0', () => console.log('ready'))",
      ]),
    );
    try {
      await new Promise<void>((resolve) => listener.stdout!.once('data', () => resolve()));
      // Dropped without an answer (Tails' forbid_incoming), so the attempt times out.
      expect(await connectFrom(HOST, INSIDE, 7000, 1500)).toBe('timeout');
      expect(await connectFrom(NAME, '127.0.0.1', 7000)).toBe('connected');
    } finally {
      listener.kill();
      await listener.catch(() => undefined);
    }
  });

  it('setup again fixes what is missing and says what it fixed', async () => {
    inside(NAME, ['ip', 'address', 'flush', 'dev', 'veth0']);
    inside(NAME, ['ip', 'link', 'set', 'lo', 'down']);
    inside(HOST, ['ip', 'link', 'set', `veth-${NAME}`, 'down']);
    expect(await connectFrom(NAME, '127.0.0.1', PORT, 1000)).not.toBe('connected');
    const result = await setup();
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    expect(result.stdout.split('\n')[0]).toBe(
      `network namespace '${NAME}' was already there: set veth0's address to ${INSIDE}/30; brought veth-${NAME} up; brought lo up; firewall re-applied`,
    );
    const from = accepted.length;
    expect(await connectFrom(NAME, '127.0.0.1', PORT)).toBe('connected');
    expect(since(from)).toEqual([{ local: ADDRESS, localPort: PORT, remote: INSIDE }]);
  });

  it("doctor's namespace check: a SOCKS5 handshake from inside at the client address", async () => {
    expect(await doctorNetnsCheck()).toEqual([
      {
        id: 'profile.placed.netns',
        status: 'ok',
        message: `profile 'placed': inside network namespace '${NAME}', listener 'inside' completes a SOCKS5 handshake at 127.0.0.1:${PORT}`,
      },
    ]);
  });

  describe('as nobody (through setpriv)', () => {
    /** The front and bundle copied where nobody can reach them (the checkout may sit under a 0700 directory). */
    let launcher = '';
    beforeAll(() => {
      launcher = launcherForAnyone(tempDir('netns-nobody'));
    });

    it('setup and teardown are refused (77) in one line, and change nothing', async () => {
      for (const action of ['setup', 'teardown']) {
        const result = await tl(['--config-dir', config, 'netns', action, NAME], AS_NOBODY, launcher);
        expect([result.exitCode, result.stderr]).toEqual([
          EXIT.refused,
          `tails-launch: netns ${action} changes the system's network namespaces: run it as root (sudo tails-launch netns ${action} ${NAME})`,
        ]);
      }
      expect(existsSync(`/run/netns/${NAME}`)).toBe(true);
      expect(await connectFrom(NAME, '127.0.0.1', PORT)).toBe('connected');
    });

    it('doctor skips the namespace check (it needs root), it does not fail it', async () => {
      expect(await doctorNetnsCheck(AS_NOBODY, launcher)).toEqual([
        {
          id: 'profile.placed.netns',
          status: 'skip',
          message: `profile 'placed': network namespace '${NAME}' not checked (needs root)`,
        },
      ]);
    });
  });

  it('makes the namespace anew in place of a stale /run/netns file', async () => {
    writeFileSync(`/run/netns/${STALE}`, '');
    const result = await tl(['--config-dir', config, 'netns', 'setup', STALE]);
    expect([result.exitCode, result.stderr, result.stdout.split('\n')[0]]).toEqual([
      0,
      '',
      `network namespace '${STALE}' created in place of a stale /run/netns/${STALE}`,
    ]);
    expect(link(STALE, 'veth0')).toEqual({ up: true, ipv4: [`${STALE_ADDRESS.replace(/5$/, '6')}/30`] });
    const gone = await tl(['netns', 'teardown', STALE]);
    expect([gone.exitCode, gone.stderr]).toEqual([0, '']);
  });

  it('a failing ip command: its first error line, exit 1', async () => {
    // Not a namespace, and not removable by `ip netns delete`: the system refuses, not the declaration.
    mkdirSync(`/run/netns/${STALE}`);
    try {
      const result = await tl(['--config-dir', config, 'netns', 'setup', STALE]);
      expect([result.exitCode, result.stderr]).toEqual([
        EXIT.checkFailed,
        `tails-launch: cannot set up network namespace '${STALE}': /bin/ip netns delete ${STALE}: Cannot remove namespace file "/run/netns/${STALE}": Is a directory`,
      ]);
    } finally {
      rmSync(`/run/netns/${STALE}`, { recursive: true, force: true });
    }
  });

  it('refuses a declaration it cannot set up (65) in one line, and creates nothing', async () => {
    const bad = `tlb${PID}`;
    const dir = track(
      makeConfigDir(
        {
          inside: {
            address: `10.201.${PID % 250}.2`,
            port: PORT,
            netns: bad,
            client_address: '127.0.0.1',
            client_port: PORT,
          },
        },
        {},
      ),
    );
    const result = await tl(['--config-dir', dir, 'netns', 'setup', bad]);
    expect([result.exitCode, result.stderr]).toEqual([
      EXIT.config,
      `tails-launch: invalid configuration: ${join(dir, 'listeners.yml')}: listeners.inside.address: 10.201.${PID % 250}.2 is not the first host of a /30 (the last number must be 1, 5, 9, ... 253; e.g. ${ADDRESS}), as the namespace's link is that /30`,
    ]);
    const none = await tl(['--config-dir', dir, 'netns', 'setup', 'other']);
    expect([none.exitCode, none.stderr]).toEqual([
      EXIT.config,
      `tails-launch: invalid configuration: ${join(dir, 'listeners.yml')}: no listener declares netns: other, so there is nothing to set up in network namespace 'other'`,
    ]);
    expect(existsSync(`/run/netns/${bad}`)).toBe(false);
    expect(existsSync('/run/netns/other')).toBe(false);
  });

  it('teardown removes the veth and the namespace, and succeeds again when they are gone; doctor then fails the check', async () => {
    const first = await teardown();
    expect([first.exitCode, first.stderr, first.stdout]).toEqual([
      0,
      '',
      `network namespace '${NAME}' removed: deleted veth-${NAME} and the namespace (/run/netns/${NAME})`,
    ]);
    expect(existsSync(`/run/netns/${NAME}`)).toBe(false);
    expect(inside(HOST, ['ip', '-br', 'link'])).not.toContain(`veth-${NAME}`);
    const second = await teardown();
    expect([second.exitCode, second.stderr, second.stdout]).toEqual([
      0,
      '',
      `network namespace '${NAME}' is already gone: nothing to remove`,
    ]);
    expect(await doctorNetnsCheck()).toEqual([
      {
        id: 'profile.placed.netns',
        status: 'fail',
        message: `profile 'placed': network namespace '${NAME}' does not exist`,
        fix: `run 'tails-launch netns setup ${NAME}' as root`,
      },
    ]);
    // And set up anew after a teardown.
    const again = await setup();
    expect(again.stdout.split('\n')[0]).toBe(`network namespace '${NAME}' created`);
    expect(await connectFrom(NAME, '127.0.0.1', PORT)).toBe('connected');
  });
});

/** execa's arguments for `node ARGS` inside namespace NS. */
function inNetnsCommand(ns: string, args: string[]): [string, string[]] {
  const [nsenter, ...rest] = inNetns(ns);
  return [nsenter!, [...rest, process.execPath, ...args]];
}
