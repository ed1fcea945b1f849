// The rootless jail helper (src/jail/jail.c, built to dist/jail) run directly,
// as an ordinary user (cloudsdk, uid 1000, through setpriv), with a plain set
// of bubblewrap arguments, the way the launcher execs it as the last step of
// a jailed launch. The programs inside are one-line shell or python3 scripts
// (the sandbox sees /usr and /etc read-only, its own /tmp).
//
// What each block proves, and its control (the same check where it must come
// out the other way, so that the check itself can fail):
//   a. 127.0.0.1:LPORT inside reaches the host's echo server through the
//      forwarder: bytes both ways past the 64 KiB buffers, half-close both
//      ways, 200 connections at once; also [::1] both sides. Control: without
//      --forward, the same connection is refused.
//   b. nothing else is reachable: the host's other loopback ports (IPv4 and
//      IPv6), the host's own non-loopback address (TCP and UDP); only `lo`
//      exists. Control: the same script outside reaches them, sees more links.
//   c. the application has exactly the caller's descriptors (0, 1, 2 and 5),
//      stdio, ignored and blocked signals and limits (the probe, compared with
//      the probe run directly); its fd 5 is the caller's pipe, and reaches
//      EOF as soon as the application closes it. Controls: a sixth descriptor
//      shows up; a descriptor the application keeps ends only with it.
//   d. signals to the helper's PID: a trapped TERM runs the handler (its exit
//      code comes back), a trapped USR1 is delivered, an untrapped TERM still
//      ends the application (the caller sees SIGTERM). Control: TERM sent
//      straight to the application (PID 1 of its namespace) is ignored.
//   e. exit codes 0, 3, 42 come back; an application killed from outside
//      gives the caller its signal.
//   f. the application's end ends F and the proxies (by PID) and removes the
//      rundir; SIGKILL of the helper ends the application, F and the proxies
//      too. Control: all of them are alive, the rundir there, before.
//   g. TIOCSTI inside fails with EPERM (and TIOCLINUX), an ordinary ioctl
//      works. Controls: the same program outside, and inside a plain bwrap of
//      the same arguments, injects input.
//   h. --dbus-proxy: through the filtering proxy bound into the sandbox,
//      ListNames works, StartServiceByName and a call to another name are
//      refused and start nothing; the real bus is out of reach. Control: the
//      same StartServiceByName on the real bus starts the service's program.
//   i. bad usage: one line, 64 (71 for an existing rundir, or user namespaces
//      off), nothing created.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTempDirs } from '../support/fixtures';
import { comparable, maskSignals, parseProbe, probePath, ROOT } from '../support/probe';
import { alive, children, comm, waitUntil, watch, type Ended, type Watched } from '../support/processes';

const JAIL = join(ROOT, 'dist/jail');
const BWRAP = '/usr/bin/bwrap';
const PYTHON = '/usr/bin/python3';
/** An ordinary user the machine has (the test runs as root): cloudsdk here, amnesia on Tails. */
const USER = 1000;
const AS_USER = ['/usr/bin/setpriv', `--reuid=${USER}`, `--regid=${USER}`, '--init-groups'];
/**
 * A plain sandbox: every namespace but the network (the helper's), /usr, /etc and this checkout (the probe) read-only,
 * /proc, /dev and a /tmp of its own. Not `--ro-bind / /`: that recursive bind fails now and then while other tests
 * mount and unmount network namespaces under /run/netns.
 */
const SANDBOX = [
  '--unshare-user',
  '--unshare-pid',
  '--unshare-ipc',
  '--unshare-uts',
  '--as-pid-1',
  '--die-with-parent',
  '--ro-bind',
  '/usr',
  '/usr',
  ...['/bin', '/lib', '/lib64', '/sbin'].flatMap((path) => {
    if (!existsSync(path)) return [];
    return lstatSync(path).isSymbolicLink() ? ['--symlink', readlinkSync(path), path] : ['--ro-bind', path, path];
  }),
  '--ro-bind',
  '/etc',
  '/etc',
  // A fresh /tmp first: the checkout (its probe) may itself be under /tmp (a CI clone), and is bound after.
  '--tmpfs',
  '/tmp',
  '--ro-bind',
  ROOT,
  ROOT,
  '--proc',
  '/proc',
  '--dev',
  '/dev',
];
/** The port the forwarder listens on inside. */
const LPORT = 9050;

const usable =
  process.getuid?.() === 0 &&
  [BWRAP, PYTHON, '/usr/bin/xdg-dbus-proxy', '/usr/bin/dbus-daemon', '/usr/bin/dbus-send'].every(existsSync) &&
  readFileSync('/etc/passwd', 'utf8').includes(`:x:${USER}:`);

const { make: tempDir } = useTempDirs();
/** Every process a test started: one a failed test left running is killed after the file (its jail goes with it). */
const launched: ChildProcess[] = [];
let home: string;
let runtime: string;
let rundirs = 0;

/** A directory of the user's own (0700), as a login's XDG_RUNTIME_DIR. */
function userDir(path: string): string {
  mkdirSync(path, { recursive: true, mode: 0o700 });
  chmodSync(path, 0o700);
  chownSync(path, USER, USER);
  return path;
}

const freshRundir = (): string => join(runtime, `jail-${++rundirs}`);
const userEnv = (): Record<string, string> => ({
  PATH: '/usr/bin:/bin',
  HOME: home,
  XDG_RUNTIME_DIR: runtime,
  LANG: 'C.UTF-8',
});

/** Runs ARGV as the user (setpriv execs it: the PID is the program's). */
function start(argv: string[], stdio: StdioOptions = ['ignore', 'pipe', 'pipe'], direct = false): Watched {
  const [file, ...args] = direct ? argv : [...AS_USER, ...argv];
  return watch(file!, args, { env: userEnv(), stdio }, launched);
}

/** The helper with HELPER_ARGS, bwrap with the plain sandbox (plus EXTRA), then PROGRAM. */
const jail = (helperArgs: string[], program: string[], extra: string[] = []): string[] => [
  JAIL,
  ...helperArgs,
  '--',
  ...SANDBOX,
  ...extra,
  '--',
  ...program,
];

/** Runs ARGV as the user (DIRECT: as this test, root) to its end. */
async function run(argv: string[], stdio?: StdioOptions, direct = false): Promise<Ended> {
  return start(argv, stdio, direct).ended;
}

const py = (script: string, ...args: Array<string | number>): string[] => [PYTHON, '-c', script, ...args.map(String)];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---- the processes, by PID ------------------------------------------------

/** P's children F (the helper, outside) and B (bwrap), B's child the application, F's the proxies. */
function tree(p: number): { outside: number; bwrap: number; app: number; proxies: number[] } {
  const kids = children(p);
  const outside = kids.find((k) => comm(k) === 'jail') ?? -1;
  const bwrap = kids.find((k) => comm(k) === 'bwrap') ?? -1;
  return {
    outside,
    bwrap,
    app: children(bwrap)[0] ?? -1,
    proxies: children(outside).filter((k) => comm(k) === 'xdg-dbus-proxy'),
  };
}

// ---- servers on the host's loopback (the test's own) ------------------------

const servers: Server[] = [];
async function listen(host: string, onConnection: (s: Socket) => void): Promise<number> {
  const server = createServer({ allowHalfOpen: true }, onConnection);
  servers.push(server);
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, host, resolve));
  return (server.address() as AddressInfo).port;
}
/** Echoes, and ends its side when the client has ended its own. */
const echo = (s: Socket): void => {
  s.on('error', () => {});
  s.pipe(s);
};

let echoPort: number;
let echo6Port = 0;
/** Sends a line and ends its side first; records what the client sends after that. */
let finPort: number;
const afterFin: string[] = [];
/** Listens on every address: reachable outside at the host's own non-loopback address. */
let wildPort: number;
const hostAddress = Object.values(networkInterfaces())
  .flat()
  .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;

// ---- the scripts the application runs --------------------------------------

/** echo HOST PORT BYTES: sends BYTES (reading meanwhile), half-closes, checks the echo. */
const ECHO_CLIENT = `
import socket, sys, threading
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
c = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET)
data = bytes(range(256)) * (n // 256)
got, errors = bytearray(), []
def read():
    try:
        while d := c.recv(65536): got.extend(d)
    except OSError as e: errors.append(e)
try:
    c.connect((host, port))
    t = threading.Thread(target=read); t.start()
    c.sendall(data); c.shutdown(socket.SHUT_WR); t.join()
except OSError as e: errors.append(e)
print('echo', type(errors[0]).__name__ if errors else len(data), bytes(got) == data)
`;

/** fin PORT: reads the server's line to its EOF, then still sends (the server half-closed, not closed). */
const FIN_CLIENT = `
import socket, sys
c = socket.create_connection(('127.0.0.1', int(sys.argv[1])))
got = b''
while True:
    d = c.recv(100)
    if not d: break
    got += d
c.sendall(b'after-fin'); c.shutdown(socket.SHUT_WR)
print('fin', got.decode().strip(), c.recv(100) == b'')
`;

/** parallel PORT N: N connections at once, each echoed whole. */
const PARALLEL_CLIENT = `
import asyncio, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
async def one(i):
    r, w = await asyncio.open_connection('127.0.0.1', port)
    data = b'%05d' % i * 2000
    w.write(data); await w.drain(); w.write_eof()
    got = await r.read()
    w.close()
    return got == data
async def main():
    print('parallel', sum(await asyncio.gather(*(one(i) for i in range(n)))))
asyncio.run(main())
`;

/** reach HOST:PORT...: a TCP connect (and, with udp:HOST:PORT, a datagram) to each; then the links of this namespace. */
const REACH = `
import socket, sys
for target in sys.argv[1:]:
    udp = target.startswith('udp:')
    host, port = target.removeprefix('udp:').rsplit(':', 1)
    host = host.strip('[]')
    s = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET, socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
    s.settimeout(3)
    try:
        s.sendto(b'x', (host, int(port))) if udp else s.connect((host, int(port)))
        print(target, 'ok')
    except OSError as e:
        print(target, type(e).__name__)
links = [l.split(':')[0].strip() for l in open('/proc/self/net/dev').readlines()[2:]]
print('links', ','.join(sorted(links)))
`;

/** tiocsti: on a pty of its own (its controlling terminal), TIOCSTI, TIOCLINUX and TIOCGWINSZ. */
const TIOCSTI = `
import errno, fcntl, os, pty, termios
master, slave = pty.openpty()
os.setsid()
tty = os.open(os.ttyname(slave), os.O_RDWR)
def try_ioctl(name, request, arg):
    try:
        fcntl.ioctl(tty, request, arg); return name + '=ok'
    except OSError as e:
        return name + '=' + errno.errorcode[e.errno]
print(try_ioctl('TIOCSTI', termios.TIOCSTI, b'x'), try_ioctl('TIOCLINUX', 0x541C, b'\\x00' * 8),
      try_ioctl('TIOCGWINSZ', termios.TIOCGWINSZ, b'\\x00' * 8))
`;

describe.skipIf(!usable)('the rootless jail helper (dist/jail) as a user', () => {
  beforeAll(async () => {
    home = userDir(tempDir('jail-rootless'));
    runtime = userDir(join(home, 'run'));
    echoPort = await listen('127.0.0.1', echo);
    echo6Port = await listen('::1', echo).catch(() => 0);
    finPort = await listen('127.0.0.1', (s) => {
      let got = '';
      s.on('error', () => {});
      s.setEncoding('utf8').on('data', (c: string) => (got += c));
      s.on('end', () => {
        afterFin.push(got);
        s.destroy();
      });
      s.end('hello from the host\n');
    });
    wildPort = await listen('0.0.0.0', (s) => s.on('error', () => {}).end());
  });

  afterAll(() => {
    for (const s of servers) s.close();
    for (const c of launched) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });

  describe('a. the one way out: 127.0.0.1:LPORT to HOST:HPORT', () => {
    const forwardTo = (port: number) => ['--forward', `${LPORT}=127.0.0.1:${port}`];

    it('relays bytes both ways past its buffers and passes the client half-close on', async () => {
      const r = await run(jail(forwardTo(echoPort), py(ECHO_CLIENT, '127.0.0.1', LPORT, 1 << 20)));
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe(`echo ${1 << 20} True\n`);
      expect(r.code).toBe(0);
    });

    it('passes the upstream half-close on: the client still sends after the server ended its side', async () => {
      afterFin.length = 0;
      const r = await run(jail(forwardTo(finPort), py(FIN_CLIENT, LPORT)));
      expect(r.stdout).toBe('fin hello from the host True\n');
      // (Another program on this machine may connect to the port too: only ours sends this.)
      expect(await waitUntil(() => afterFin.includes('after-fin'))).toBe(true);
    });

    it('200 connections at once', async () => {
      const r = await run(jail(forwardTo(echoPort), py(PARALLEL_CLIENT, LPORT, 200)));
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('parallel 200\n');
    });

    it('[::1]:LPORT inside, and an IPv6 upstream [::1]:HPORT', async (context) => {
      if (!echo6Port) context.skip(); // the host has no IPv6 loopback
      const r = await run(jail(['--forward', `${LPORT}=[::1]:${echo6Port}`], py(ECHO_CLIENT, '::1', LPORT, 100_000)));
      expect(r.stdout).toBe('echo 99840 True\n');
    });

    it('an upstream that refuses: the client sees a reset or an end, nothing else', async () => {
      // Port 1 of the host's loopback: nothing listens there.
      const r = await run(jail(['--forward', `${LPORT}=127.0.0.1:1`], py(ECHO_CLIENT, '127.0.0.1', LPORT, 1000)));
      expect(r.stderr).toBe('');
      expect(r.stdout).toMatch(/^echo (ConnectionResetError|BrokenPipeError|1000) False\n$/);
    });

    it('control: without --forward the same connection is refused', async () => {
      const r = await run(jail([], py(ECHO_CLIENT, '127.0.0.1', LPORT, 1000)));
      expect(r.stdout).toBe('echo ConnectionRefusedError False\n');
    });
  });

  describe('b. nothing else is reachable', () => {
    const targets = (): string[] => [
      `127.0.0.1:${echoPort}`,
      ...(echo6Port ? [`[::1]:${echo6Port}`] : []),
      ...(hostAddress ? [`${hostAddress}:${wildPort}`, `udp:${hostAddress}:${wildPort}`] : []),
    ];

    it("the host's other loopback ports and its own address: refused or unreachable; only lo", async () => {
      const r = await run(jail(['--forward', `${LPORT}=127.0.0.1:${echoPort}`], py(REACH, ...targets())));
      const lines = r.stdout.trim().split('\n');
      expect(lines).toContain(`127.0.0.1:${echoPort} ConnectionRefusedError`);
      if (echo6Port) expect(lines).toContain(`[::1]:${echo6Port} ConnectionRefusedError`);
      if (hostAddress) {
        expect(lines).toContain(`${hostAddress}:${wildPort} OSError`); // ENETUNREACH: no route at all
        expect(lines).toContain(`udp:${hostAddress}:${wildPort} OSError`);
      }
      expect(lines.at(-1)).toBe('links lo');
    });

    it('control: the same script outside reaches all of them and sees more links', async () => {
      const r = await run(py(REACH, ...targets()));
      const lines = r.stdout.trim().split('\n');
      for (const t of targets()) expect(lines).toContain(`${t} ok`);
      expect(lines.at(-1)).not.toBe('links lo');
      expect(lines.at(-1)).toMatch(/(^|,)lo(,|$)/);
    });
  });

  describe("c. the caller's descriptors and process state, exactly", () => {
    /** `probe wrap SETTINGS -- setpriv ... CMD`: the caller's state set up, then the user's CMD in the same process. */
    async function probeAs(cmd: string[], keep: number[]): Promise<Ended> {
      const probe = await probePath();
      const stdio: StdioOptions = ['pipe', 'pipe', 'pipe'];
      for (let fd = 3; fd <= Math.max(...keep); fd++) stdio.push(keep.includes(fd) ? 'pipe' : 'ignore');
      const wrap = ['wrap', `keep=${keep.join(',')}`, 'ignore=INT,HUP', 'block=USR2', 'nofile=512', 'nonblock=1'];
      const started = start([probe, ...wrap, '--', ...AS_USER, ...cmd], stdio, true);
      started.child.stdin?.end();
      return started.ended;
    }

    it('the probe inside sees what it sees run directly: fds 0, 1, 2, 5, stdio, signals, limits', async () => {
      const probe = await probePath();
      const [inside, direct] = await Promise.all([
        probeAs(jail(['--forward', `${LPORT}=127.0.0.1:${echoPort}`], [probe]), [5]),
        probeAs([probe], [5]),
      ]);
      expect(inside.stderr).toBe('');
      const i = parseProbe(inside.stdout);
      const d = parseProbe(direct.stdout);
      expect(i.pid).toBe(1); // --as-pid-1: the application itself
      expect(i.fds).toEqual([0, 1, 2, 5]);
      expect(maskSignals(i.sigblk)).toEqual([12]);
      // The test's HUP and INT, and whatever the runner ignored already (a background job: QUIT too).
      expect(maskSignals(i.sigign)).toEqual(expect.arrayContaining([1, 2]));
      expect(maskSignals(i.sigign)).toEqual(maskSignals(d.sigign));
      expect(comparable(i)).toEqual(comparable(d));
    });

    it('control: a sixth descriptor of the caller shows up inside', async () => {
      const probe = await probePath();
      const r = await probeAs(jail([], [probe]), [5, 6]);
      expect(parseProbe(r.stdout).fds).toEqual([0, 1, 2, 5, 6]);
    });

    /** Runs SCRIPT with the caller's pipe on fd 5: what came through it, and when it ended against the exit. */
    async function viaFive(argv: string[]): Promise<{ five: string; endedBeforeExit: number; code: number | null }> {
      const started = start(argv, ['ignore', 'pipe', 'pipe', 'ignore', 'ignore', 'pipe']);
      let five = '';
      let fiveEnd = 0;
      const pipe = (started.child.stdio as unknown as Readable[])[5]!;
      pipe.setEncoding('utf8').on('data', (c: string) => (five += c));
      pipe.on('end', () => (fiveEnd = Date.now()));
      const r = await started.ended;
      return { five, endedBeforeExit: r.exit - (fiveEnd || r.exit), code: r.code };
    }

    it("fd 5 is the caller's own pipe; closed by the application, it reaches EOF while the application runs", async () => {
      // P keeps no copy of the caller's descriptors (bwrap's own process keeps only 0, 1 and 2).
      const r = await viaFive(
        jail(['--forward', `${LPORT}=127.0.0.1:${echoPort}`], ['/bin/sh', '-c', 'echo five >&5; exec 5>&-; sleep 1']),
      );
      expect(r.code).toBe(0);
      expect(r.five).toBe('five\n');
      expect(r.endedBeforeExit).toBeGreaterThan(700);
    });

    it('control: a descriptor the application keeps ends only with it', async () => {
      const r = await viaFive(jail([], ['/bin/sh', '-c', 'echo five >&5; sleep 1']));
      expect(r.five).toBe('five\n');
      expect(r.endedBeforeExit).toBeLessThan(300);
    });
  });

  describe("d. signals to the helper's PID", () => {
    it('a trapped TERM runs the handler, and its exit code comes back', async () => {
      const s = start(
        jail([], ['/bin/sh', '-c', 'trap "echo handled; exit 42" TERM; echo ready; while :; do sleep 0.05; done']),
      );
      await s.waitFor('ready');
      process.kill(s.pid, 'SIGTERM');
      const r = await s.ended;
      expect(r.stdout).toBe('ready\nhandled\n');
      expect(r.code).toBe(42);
    });

    it('a trapped USR1 is delivered (and the application goes on)', async () => {
      const s = start(
        jail(
          [],
          ['/bin/sh', '-c', 'trap "echo usr1" USR1; trap "exit 0" TERM; echo ready; while :; do sleep 0.05; done'],
        ),
      );
      await s.waitFor('ready');
      process.kill(s.pid, 'SIGUSR1');
      await s.waitFor('usr1');
      process.kill(s.pid, 'SIGTERM');
      const r = await s.ended;
      expect(r.stdout).toBe('ready\nusr1\n');
      expect(r.code).toBe(0);
    });

    it('an untrapped TERM still ends the application, and the caller sees SIGTERM', async () => {
      const s = start(jail([], ['/bin/sh', '-c', 'echo ready; exec sleep 30']));
      await s.waitFor('ready');
      const { app } = tree(s.pid);
      expect(await waitUntil(() => comm(app) === 'sleep')).toBe(true); // past the exec
      // Control: sent straight to it, TERM does nothing to PID 1 of a namespace that does not catch it.
      process.kill(app, 'SIGTERM');
      await sleep(300);
      expect(alive(app)).toBe(true);
      const before = Date.now();
      process.kill(s.pid, 'SIGTERM');
      const r = await s.ended;
      expect(r.signal).toBe('SIGTERM');
      expect(Date.now() - before).toBeLessThan(2000);
      expect(alive(app)).toBe(false);
    });
  });

  describe('e. exit statuses', () => {
    it.each([0, 3, 42])('exit %i comes back', async (code) => {
      const r = await run(jail(['--forward', `${LPORT}=127.0.0.1:${echoPort}`], ['/bin/sh', '-c', `exit ${code}`]));
      expect(r.stderr).toBe('');
      expect(r.code).toBe(code);
      expect(r.signal).toBeNull();
    });

    it('an application killed from outside gives the caller its signal', async () => {
      const s = start(jail([], ['/bin/sh', '-c', 'echo ready; exec sleep 30']));
      await s.waitFor('ready');
      process.kill(tree(s.pid).app, 'SIGKILL');
      const r = await s.ended;
      expect(r.signal).toBe('SIGKILL');
      expect(r.code).toBeNull();
    });
  });

  describe('f. nothing outlives the jail', () => {
    let bus: ChildProcess;
    let busAddress: string;

    beforeAll(async () => {
      ({ bus, address: busAddress } = await startBus());
    });
    afterAll(() => bus?.kill('SIGKILL'));

    const withProxy = (rundir: string): string[] => [
      '--rundir',
      rundir,
      '--forward',
      `${LPORT}=127.0.0.1:${echoPort}`,
      '--dbus-proxy',
      '3',
      busAddress,
      join(rundir, 'bus'),
      '--filter',
    ];
    /** Reads a line, then lists the PIDs it sees (a glob: no process of its own). */
    const WAIT = ['/bin/sh', '-c', 'echo ready; read line; echo /proc/[0-9]*'];

    it('the application ends: F and the proxy are gone (by PID), the rundir removed', async () => {
      const rundir = freshRundir();
      const s = start(jail(withProxy(rundir), WAIT), ['pipe', 'pipe', 'pipe']);
      await s.waitFor('ready');
      const t = tree(s.pid);
      // Control: all there while the application runs.
      expect([t.outside, t.bwrap, t.app].every(alive)).toBe(true);
      expect(t.proxies).toHaveLength(1);
      expect(alive(t.proxies[0]!)).toBe(true);
      expect(readdirSync(rundir)).toEqual(['bus']);
      s.child.stdin!.end('go\n');
      const r = await s.ended;
      expect(r.code).toBe(0);
      // Inside, the application is the only process: P, B, F and the proxy are out of its reach.
      expect(r.stdout).toBe('ready\n/proc/1\n');
      // At once: the helper waited for F, and F for its proxy.
      expect([t.outside, t.bwrap, t.app, ...t.proxies].filter(alive)).toEqual([]);
      expect(existsSync(rundir)).toBe(false);
    });

    it('the helper is SIGKILLed: the application, F and the proxy die too, the rundir goes', async () => {
      const rundir = freshRundir();
      const s = start(jail(withProxy(rundir), WAIT), ['pipe', 'pipe', 'pipe']);
      await s.waitFor('ready');
      const t = tree(s.pid);
      expect([t.outside, t.bwrap, t.app, ...t.proxies].every(alive)).toBe(true);
      expect(t.proxies).toHaveLength(1);
      process.kill(s.pid, 'SIGKILL');
      expect((await s.ended).signal).toBe('SIGKILL');
      expect(await waitUntil(() => [t.outside, t.bwrap, t.app, ...t.proxies].every((p) => !alive(p)))).toBe(true);
      expect(await waitUntil(() => !existsSync(rundir))).toBe(true);
    });
  });

  describe('g. no input injected into the caller’s terminal (TIOCSTI, CVE-2017-5226)', () => {
    it('inside: TIOCSTI and TIOCLINUX fail with EPERM, an ordinary ioctl works', async () => {
      const r = await run(jail([], py(TIOCSTI)));
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('TIOCSTI=EPERM TIOCLINUX=EPERM TIOCGWINSZ=ok\n');
    });

    it('control: the same program outside, as the same user, injects', async () => {
      const r = await run(py(TIOCSTI));
      expect(r.stdout).toMatch(/^TIOCSTI=ok TIOCLINUX=(?!EPERM)\w+ TIOCGWINSZ=ok\n$/);
    });

    it('control: so does it in a plain bwrap of the same arguments (no --new-session)', async () => {
      const r = await run([BWRAP, ...SANDBOX, '--', ...py(TIOCSTI)]);
      expect(r.stdout).toMatch(/^TIOCSTI=ok /);
    });
  });

  describe('h. --dbus-proxy: a filtered session bus', () => {
    let bus: ChildProcess;
    let busAddress: string;
    let marker: string;

    beforeAll(async () => {
      ({ bus, address: busAddress, marker } = await startBus());
    });
    afterAll(() => bus?.kill('SIGKILL'));

    const send = (address: string, dest: string, path: string, method: string, ...args: string[]): string =>
      `dbus-send --bus=${address} --dest=${dest} --print-reply --reply-timeout=2000 ${path} ${method} ${args.join(' ')} >/dev/null 2>&1 && echo ok || echo refused`;

    it('inside: ListNames works; StartServiceByName and a call to another name are refused, nothing starts', async () => {
      const rundir = freshRundir();
      const proxied = 'unix:path=/tmp/bus';
      const script = [
        send(proxied, 'org.freedesktop.DBus', '/', 'org.freedesktop.DBus.ListNames'),
        send(
          proxied,
          'org.freedesktop.DBus',
          '/',
          'org.freedesktop.DBus.StartServiceByName',
          'string:org.example.Marker',
          'uint32:0',
        ),
        send(proxied, 'org.example.Marker', '/org/example/Marker', 'org.example.Marker.Ping'),
        send(busAddress, 'org.freedesktop.DBus', '/', 'org.freedesktop.DBus.ListNames'),
      ].join('; ');
      const r = await run(
        jail(
          ['--rundir', rundir, '--dbus-proxy', '3', busAddress, join(rundir, 'bus'), '--filter'],
          ['/bin/sh', '-c', script],
          ['--bind', join(rundir, 'bus'), '/tmp/bus'],
        ),
      );
      expect(r.stderr).toBe('');
      // The proxy's bus works; the real bus's socket is not in the sandbox at all.
      expect(r.stdout).toBe('ok\nrefused\nrefused\nrefused\n');
      await sleep(300);
      expect(existsSync(marker)).toBe(false);
    });

    it('control: on the real bus, StartServiceByName starts the service’s program outside', async () => {
      await run([
        '/bin/sh',
        '-c',
        send(
          busAddress,
          'org.freedesktop.DBus',
          '/',
          'org.freedesktop.DBus.StartServiceByName',
          'string:org.example.Marker',
          'uint32:0',
        ),
      ]);
      expect(await waitUntil(() => existsSync(marker))).toBe(true);
    });

    it('a proxy that cannot start: one line, 71, the rundir removed', async () => {
      const rundir = freshRundir();
      // Its socket's directory does not exist: xdg-dbus-proxy fails to listen.
      const r = await run(
        jail(['--rundir', rundir, '--dbus-proxy', '2', busAddress, join(rundir, 'no/such/bus')], ['/bin/true']),
      );
      expect(r.code).toBe(71);
      expect(r.stderr).toMatch(/^tails-launch: jail: D-Bus proxy 1 ended before it was ready .*\n$/m);
      expect(existsSync(rundir)).toBe(false);
    });
  });

  describe('i. refusals: one line, nothing started', () => {
    const bad: Array<[string, string[], number]> = [
      ['an unknown option', ['--bogus', '--', 'true'], 64],
      ['no --', ['--forward', '9050=127.0.0.1:9050'], 64],
      ['nothing after --', ['--'], 64],
      ['LPORT 0', ['--forward', '0=127.0.0.1:9050', '--', 'true'], 64],
      ['LPORT 70000', ['--forward', '70000=127.0.0.1:9050', '--', 'true'], 64],
      ['a leading zero', ['--forward', '09050=127.0.0.1:9050', '--', 'true'], 64],
      ['a host name', ['--forward', '9050=localhost:9050', '--', 'true'], 64],
      ['IPv6 without brackets', ['--forward', '9050=::1:9050', '--', 'true'], 64],
      ['no HPORT', ['--forward', '9050=127.0.0.1:', '--', 'true'], 64],
      ['LPORT twice', ['--forward', '9050=127.0.0.1:1', '--forward', '9050=127.0.0.1:2', '--', 'true'], 64],
      ['a relative rundir', ['--rundir', 'run/x', '--', 'true'], 64],
      ['a rundir with ..', ['--rundir', '/tmp/../etc/x', '--', 'true'], 64],
      ['a proxy of one argument', ['--dbus-proxy', '1', 'unix:path=/x', '--', 'true'], 64],
      ['a proxy count past the end', ['--dbus-proxy', '3', 'unix:path=/x', '/y', '--', 'true'], 64],
      ['a proxy with its own --fd', ['--rundir', '/tmp/x', '--dbus-proxy', '2', 'a', '--fd=1', '--', 'true'], 64],
      ['a proxy without --rundir', ['--dbus-proxy', '2', 'unix:path=/x', '/y', '--', 'true'], 64],
    ];

    it.each(bad)('%s: 64, one line', async (_what, args, code) => {
      const r = await run([JAIL, ...args]);
      expect(r.code).toBe(code);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^tails-launch: jail: [^\n]+\n$/);
    });

    it('a rundir that exists: 71, one line, left as it was', async () => {
      const rundir = userDir(freshRundir());
      writeFileSync(join(rundir, 'keep'), '');
      const r = await run(jail(['--rundir', rundir], ['/bin/true']));
      expect(r.code).toBe(71);
      expect(r.stderr).toMatch(/^tails-launch: jail: the run directory \S+ exists already .*\n$/);
      expect(readdirSync(rundir)).toEqual(['keep']);
    });

    it('a rundir whose parent is missing: 71, one line', async () => {
      const r = await run(jail(['--rundir', join(runtime, 'missing/run')], ['/bin/true']));
      expect(r.code).toBe(71);
      expect(r.stderr).toMatch(/^tails-launch: jail: cannot create the run directory [^\n]+\n$/);
    });

    it('refused before anything: a fresh rundir is not created', async () => {
      const rundir = freshRundir();
      const r = await run([JAIL, '--rundir', rundir, '--forward', 'x', '--', 'true']);
      expect(r.code).toBe(64);
      expect(existsSync(rundir)).toBe(false);
    });

    it('user namespaces off (user.max_user_namespaces=0, in a user namespace of the test): 71, says what to do', async () => {
      // The limit is per user namespace: 0 in one of the test's own, the helper (its root there) cannot make another.
      const script = 'echo 0 > /proc/sys/user/max_user_namespaces && exec "$@"';
      const r = await run(
        ['unshare', '--user', '--map-root-user', '/bin/sh', '-c', script, 'sh', ...jail([], ['/bin/true'])],
        undefined,
        true,
      );
      expect(r.code).toBe(71);
      expect(r.stderr).toMatch(/^tails-launch: jail: user namespaces are off .*privileged entry\)\n$/);
      // Control: without the limit, the same command runs.
      const ok = await run(['unshare', '--user', '--map-root-user', ...jail([], ['/bin/true'])], undefined, true);
      expect(ok.stderr).toBe('');
      expect(ok.code).toBe(0);
    });
  });
});

/** A private session bus of the user's, whose service directory has org.example.Marker (it touches a file). */
async function startBus(): Promise<{ bus: ChildProcess; address: string; marker: string }> {
  const dir = userDir(tempDir('jail-bus'));
  const marker = join(dir, 'marker');
  const services = userDir(join(dir, 'services'));
  writeFileSync(
    join(services, 'org.example.Marker.service'),
    `[D-BUS Service]\nName=org.example.Marker\nExec=/usr/bin/touch ${marker}\n`,
  );
  writeFileSync(
    join(dir, 'bus.conf'),
    [
      '<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"',
      ' "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">',
      '<busconfig>',
      '  <type>session</type>',
      `  <listen>unix:path=${join(dir, 'bus')}</listen>`,
      `  <servicedir>${services}</servicedir>`,
      '  <policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy>',
      '</busconfig>',
      '',
    ].join('\n'),
  );
  const bus = spawn(
    AS_USER[0]!,
    [...AS_USER.slice(1), 'dbus-daemon', '--nofork', '--print-address', `--config-file=${join(dir, 'bus.conf')}`],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { PATH: '/usr/bin:/bin', HOME: dir },
    },
  );
  const address = await new Promise<string>((resolve, reject) => {
    let out = '';
    bus.stdout!.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      if (out.includes('\n')) resolve(out.split('\n')[0]!.split(',')[0]!);
    });
    bus.on('exit', () => reject(new Error('dbus-daemon exited')));
  });
  return { bus, address, marker };
}
