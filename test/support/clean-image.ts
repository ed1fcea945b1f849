// A clean Debian image for tests: `debootstrap --variant=minbase SUITE` into
// a directory of this process's own, and everything run in it kept out of
// the host.
//
// One "holder" process per image owns a private mount namespace whose root
// IS the image (pivot_root: the image's /proc, /sys, /dev/pts and /dev/shm
// are mounted there, so nothing ever appears in the host's mount table), and
// a network namespace: its own (only `lo`, up, with 192.0.2.7 on it as "the
// Internet"), or a named one the caller made (`netns`). Commands enter both
// with nsenter, which puts them at the image's root: unlike a chroot, a
// process there may make user namespaces (the kernel refuses CLONE_NEWUSER
// to a chrooted process), so the launcher's own jails run in the image.
//   - apt-get enters the mount namespace only: it needs the host's network,
//     which reaches nothing but Debian's mirror (deb.debian.org).
//   - everything else (the launcher, the application) also enters the
//     network namespace: our SOCKS5 server listens there on Tor's 9050.
// The holder is `unshare ... sh`, whose standard input is a pipe from this
// process: when the pipe closes (destroy(), or this process dies in any way),
// it exits and the namespaces go with it once the image's own processes are
// gone (destroy() kills those first: every process whose root is the image).
import { spawn, type ChildProcess } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { build } from 'esbuild';
import { execa } from 'execa';
import type { SocksRequestRecord } from './socks5-server';

export type Suite = 'bookworm' | 'trixie';

/** Debian's registry: the only network the images use (debootstrap and apt-get). */
export const MIRROR = 'http://deb.debian.org/debian';
export const SECURITY_MIRROR = 'http://deb.debian.org/debian-security';

/** The unprivileged user of the image, as Tails' amnesia (uid 1000). */
export const USER = { name: 'amnesia', uid: 1000, home: '/home/amnesia' };
/** "The Internet" inside the image's network namespace: an address on its lo, where a direct connection lands. */
export const INTERNET = '192.0.2.7';

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface RunOptions {
  /** Enter the image's network namespace (default true); false: the host's network, for apt-get. */
  net?: boolean;
  /** Run as the image's user instead of root. */
  user?: boolean;
  /** The whole environment (env -i), on top of PATH, HOME, USER and LANG. */
  env?: Record<string, string>;
  /** The working directory (default: the image's /). */
  cwd?: string;
  timeout?: number;
  input?: string;
}

export interface RunResult {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
}

/** What `debootstrap` and the image's configuration took, for the durations the test prints. */
export type Timings = Record<string, number>;

export async function timed<T>(timings: Timings, phase: string, work: () => Promise<T>): Promise<T> {
  const start = Date.now();
  try {
    return await work();
  } finally {
    timings[phase] = (Date.now() - start) / 1000;
  }
}

export class CleanImage {
  readonly timings: Timings = {};
  private holder: ChildProcess | null = null;
  private holderPid = 0;
  /** The holder's mount namespace (`mnt:[N]`): the image's processes are in it, or descend from one that is. */
  private mountNs = '';

  private constructor(
    readonly suite: Suite,
    readonly root: string,
    /** A named network namespace (ip netns) the image runs in, instead of one of its own. */
    readonly netns?: string,
  ) {}

  /** debootstraps SUITE into ROOT (which must not exist), configures apt and starts the namespaces. */
  static async create(
    suite: Suite,
    root: string,
    options: { netns?: string; reuse?: boolean } = {},
  ): Promise<CleanImage> {
    const image = new CleanImage(suite, root, options.netns);
    // A developer's image kept from an earlier run (never on CI: see the callers).
    if (options.reuse && existsSync(join(root, 'etc/debian_version'))) {
      await image.startHolder();
      return image;
    }
    await timed(image.timings, 'debootstrap', async () => {
      // debootstrap mounts /proc and /sys in the target while it runs: in a
      // mount namespace of its own, so that the host's mount table never sees them.
      const r = await execa(
        'unshare',
        ['--mount', '--propagation', 'private', 'debootstrap', '--variant=minbase', suite, root, MIRROR],
        { reject: false, all: true, stdin: 'ignore', timeout: 600_000, env: { LANG: 'C.UTF-8', PATH } },
      );
      if (r.exitCode !== 0)
        throw new Error(
          `debootstrap ${suite} failed (${r.exitCode}):\n${String(r.all).split('\n').slice(-30).join('\n')}`,
        );
    });
    image.configure();
    await image.startHolder();
    return image;
  }

  /** What an image builder sets up before installing anything. */
  private configure(): void {
    const etc = join(this.root, 'etc');
    // The security archive too: bookworm's nodejs 18.20 comes from bookworm-security.
    rmSync(join(etc, 'apt/sources.list'), { force: true });
    writeFileSync(
      join(etc, 'apt/sources.list.d/debian.sources'),
      [
        `Types: deb\nURIs: ${MIRROR}\nSuites: ${this.suite} ${this.suite}-updates\nComponents: main\n`,
        `Types: deb\nURIs: ${SECURITY_MIRROR}\nSuites: ${this.suite}-security\nComponents: main\n`,
      ].join('\n'),
    );
    // As in an image build: no recommends (the package must work with its Depends alone), no translations.
    writeFileSync(
      join(etc, 'apt/apt.conf.d/90clean-image'),
      'APT::Install-Recommends "false";\nAcquire::Languages "none";\n',
    );
    // Nothing in the image may start a service (tor above all: Recommends
    // are off, but a package could still pull it).
    writeFileSync(join(this.root, 'usr/sbin/policy-rc.d'), '#!/bin/sh\nexit 101\n', { mode: 0o755 });
    // A throw-away image: dpkg need not fsync every file.
    writeFileSync(join(etc, 'dpkg/dpkg.cfg.d/unsafe-io'), 'force-unsafe-io\n');
  }

  private async startHolder(): Promise<void> {
    const script = [
      'set -e',
      'ip link set lo up',
      ...(this.netns === undefined ? [`ip addr add ${INTERNET}/32 dev lo`] : []),
      // The image becomes this namespace's root: a mount of its own, then pivot_root into it.
      'mount --bind "$1" "$1"',
      'mount -t proc proc "$1/proc"',
      'mount -t sysfs -o ro sysfs "$1/sys"',
      'mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts "$1/dev/pts"',
      'mount -t tmpfs -o mode=1777 tmpfs "$1/dev/shm"',
      'cd "$1"',
      'pivot_root . mnt',
      // The host's tree, detached: from here on, every path (and umount, cat) is the image's.
      'umount -l /mnt',
      'cd /',
      'echo ready',
      // Holds the namespaces until this process closes the pipe.
      'exec cat >/dev/null',
    ].join('\n');
    const unshare = ['unshare', '--mount', ...(this.netns === undefined ? ['--net'] : [])];
    const argv = [...unshare, '--propagation', 'private', 'sh', '-c', script, 'sh', this.root];
    const holder = spawn(
      this.netns === undefined ? argv[0]! : 'nsenter',
      this.netns === undefined ? argv.slice(1) : [`--net=/run/netns/${this.netns}`, '--', ...argv],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let stderr = '';
    holder.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const ready = await new Promise<boolean>((resolve) => {
      holder.stdout!.on('data', (d: Buffer) => {
        if (d.toString().includes('ready')) resolve(true);
      });
      holder.on('exit', () => resolve(false));
      holder.on('error', () => resolve(false));
    });
    if (!ready || holder.pid === undefined) throw new Error(`the ${this.suite} image's namespaces: ${stderr.trim()}`);
    // nsenter and unshare(1) without --fork exec: this PID is the holder's.
    this.holder = holder;
    this.holderPid = holder.pid;
    this.mountNs = readlinkSync(`/proc/${holder.pid}/ns/mnt`);
  }

  private nsenter(net: boolean): string[] {
    return [`--mount=/proc/${this.holderPid}/ns/mnt`, ...(net ? [`--net=/proc/${this.holderPid}/ns/net`] : []), '--'];
  }

  /** nsenter (at the image's root) + chroot / (for --userspec) + env -i: the argv that runs ARGV in the image. */
  private argv(argv: string[], options: RunOptions): string[] {
    const user = options.user === true;
    const env = {
      PATH,
      LANG: 'C.UTF-8',
      HOME: user ? USER.home : '/root',
      USER: user ? USER.name : 'root',
      ...options.env,
    };
    return [
      ...this.nsenter(options.net !== false),
      'chroot',
      ...(user ? [`--userspec=${USER.uid}:${USER.uid}`, `--groups=${USER.uid}`] : []),
      // The root it already has (nsenter put it there): no chroot in the kernel's sense.
      '/',
      '/usr/bin/env',
      '-i',
      ...(options.cwd === undefined ? [] : [`--chdir=${options.cwd}`]),
      ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
      ...argv,
    ];
  }

  /** Runs ARGV in the image and waits for it; never throws on a non-zero exit. */
  async run(argv: string[], options: RunOptions = {}): Promise<RunResult> {
    const r = await execa('nsenter', this.argv(argv, options), {
      reject: false,
      extendEnv: false,
      env: { PATH },
      stdin: options.input === undefined ? 'ignore' : 'pipe',
      input: options.input,
      timeout: options.timeout ?? 60_000,
    });
    return { exitCode: r.exitCode, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
  }

  /** Runs ARGV in the image and throws with its output unless it exits 0. */
  async must(argv: string[], options: RunOptions = {}): Promise<string> {
    const r = await this.run(argv, options);
    if (r.exitCode !== 0)
      throw new Error(`${this.suite}: ${argv.join(' ')} exited ${r.exitCode}:\n${r.stdout}\n${r.stderr}`.trim());
    return r.stdout;
  }

  /**
   * Starts ARGV in the image and leaves it running. Its stdout is a pipe
   * only when READSTDOUT (read it: a full pipe would block the daemon);
   * nothing else is connected to us.
   */
  start(argv: string[], options: RunOptions = {}, readStdout = false): ChildProcess {
    return spawn('nsenter', this.argv(argv, options), {
      stdio: ['ignore', readStdout ? 'pipe' : 'ignore', 'ignore'],
      env: { PATH },
    });
  }

  /** Starts ARGV in the image with its stdout and stderr piped to us (read them), stdin ignored. */
  spawn(argv: string[], options: RunOptions = {}): ChildProcess {
    return spawn('nsenter', this.argv(argv, options), { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH } });
  }

  /** apt-get in the image, on the host's network (Debian's mirror), noninteractive. */
  async apt(args: string[], timeout = 600_000): Promise<string> {
    return this.must(['apt-get', '-y', '-q', ...args], {
      net: false,
      env: { DEBIAN_FRONTEND: 'noninteractive' },
      timeout,
    });
  }

  /** Puts a host file into the image at PATH (an absolute path inside it). */
  copyIn(file: string, path: string): void {
    mkdirSync(join(this.root, path, '..'), { recursive: true });
    copyFileSync(file, join(this.root, path));
  }

  /** A path inside the image, as the host sees it. */
  path(inside: string): string {
    return join(this.root, inside);
  }

  /**
   * Network namespace NAME that `ip netns add` made in the image (its
   * /run/netns/NAME is a mount in the image's mount namespace, which the
   * host's path does not see), as a path the host can enter (nsenter --net=).
   */
  netnsPath(name: string): string {
    return `/proc/${this.holderPid}/root/run/netns/${name}`;
  }

  /** Runs ARGV on the host (not chrooted) inside the image's network namespace: our servers. */
  startInNetwork(argv: string[]): ChildProcess {
    return spawn('nsenter', [`--net=/proc/${this.holderPid}/ns/net`, '--', ...argv], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
  }

  /**
   * Every live process of the image (but the holder): in its mount
   * namespace, or descended from a process that is (a jail's processes have
   * namespaces of their own). They were all started by this test.
   */
  processes(): { pid: number; exe: string }[] {
    const all = new Map<number, { ppid: number; inImage: boolean }>();
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        all.set(Number(entry), { ppid, inImage: readlinkSync(`/proc/${entry}/ns/mnt`) === this.mountNs });
      } catch {
        // gone, or not ours to read
      }
    }
    const ofImage = (pid: number): boolean => {
      for (let p = pid, hops = 0; p > 1 && hops < 64; hops++) {
        const info = all.get(p);
        if (!info) return false;
        if (info.inImage) return true;
        p = info.ppid;
      }
      return false;
    };
    const found: { pid: number; exe: string }[] = [];
    for (const pid of all.keys()) {
      if (pid === this.holderPid || !ofImage(pid)) continue;
      let exe = '';
      try {
        exe = readlinkSync(`/proc/${pid}/exe`);
      } catch {
        // a zombie, or gone
      }
      found.push({ pid, exe: exe.startsWith(`${this.root}/`) ? exe.slice(this.root.length) : exe });
    }
    return found;
  }

  /** The PIDs of the image's processes running PROGRAM (a path inside the image). */
  pidsOf(program: string): number[] {
    return this.processes()
      .filter((p) => p.exe === program)
      .map((p) => p.pid);
  }

  /** Waits until a process runs PROGRAM in the image; its PID. */
  async waitForProcess(program: string, timeoutMs = 20_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const pids = this.pidsOf(program);
      if (pids.length > 0) return pids[0]!;
      if (Date.now() > deadline) throw new Error(`${this.suite}: no process runs ${program} after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** The environment of process PID, as a map. */
  static environ(pid: number): Record<string, string> {
    const env: Record<string, string> = {};
    for (const kv of readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0')) {
      const at = kv.indexOf('=');
      if (at > 0) env[kv.slice(0, at)] = kv.slice(at + 1);
    }
    return env;
  }

  /** Kills the image's processes running PROGRAM (all of them, when none is given), and waits until they are gone. */
  async kill(program?: string): Promise<void> {
    const mine = () => this.processes().filter((p) => program === undefined || p.exe === program);
    for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
      for (const p of mine()) {
        try {
          process.kill(p.pid, signal);
        } catch {
          // already gone
        }
      }
      const deadline = Date.now() + 3000;
      while (mine().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      if (mine().length === 0) return;
    }
  }

  /** Kills the image's processes, ends the namespaces, and removes the image (never through a mount) unless KEEP. */
  async destroy(keep = false): Promise<void> {
    await this.kill();
    if (this.holder) {
      const exited = new Promise<void>((resolve) => this.holder!.once('exit', () => resolve()));
      this.holder.stdin!.end();
      if (this.holder.exitCode === null && this.holder.signalCode === null) await exited;
      this.holder = null;
    }
    // Every mount was the holder's; should the host's table show one under
    // the image all the same, leave the directory rather than delete through it.
    const mounted = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .some((line) => (line.split(' ')[4] ?? '').startsWith(this.root));
    if (mounted) throw new Error(`${this.root} has mounts on the host: not removed`);
    if (!keep && existsSync(this.root)) rmSync(this.root, { recursive: true, force: true });
  }
}

export interface SocksInImage {
  /** Every request the server answered, in order. */
  records: SocksRequestRecord[];
  waitFor(match: (r: SocksRequestRecord) => boolean, timeoutMs?: number): Promise<SocksRequestRecord[]>;
  stop(): void;
}

/** Bundles test/support/socks5-server-main.ts into WORK (host Node runs it in the image's network). */
export async function bundleSocksServer(work: string): Promise<string> {
  const out = join(work, 'socks5-server.mjs');
  await build({
    entryPoints: [new URL('./socks5-server-main.ts', import.meta.url).pathname],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile: out,
    logLevel: 'error',
  });
  return out;
}

/** Reads JSON lines from CHILD; resolves with the first, passes the rest to ONLINE. */
async function firstLine(child: ChildProcess, what: string, onLine: (line: string) => void): Promise<unknown> {
  const lines = createInterface({ input: child.stdout! });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not start`)), 15_000);
    child.once('exit', (code) => reject(new Error(`${what} exited ${code}`)));
    lines.once('line', (line) => {
      clearTimeout(timer);
      resolve(JSON.parse(line));
      lines.on('line', onLine);
    });
  });
}

async function waitFor<T>(list: T[], match: (r: T) => boolean, timeoutMs: number): Promise<T[]> {
  const deadline = Date.now() + timeoutMs;
  while (!list.some(match) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return list.filter(match);
}

/** Our SOCKS5 server ("Tor") on 127.0.0.1:PORTS inside the image's network namespace. */
export async function startSocksInImage(image: CleanImage, serverMain: string, ports: number[]): Promise<SocksInImage> {
  const records: SocksRequestRecord[] = [];
  const child = image.startInNetwork([process.execPath, serverMain, ...ports.map(String)]);
  await firstLine(child, `the SOCKS5 server in the ${image.suite} image`, (line) =>
    records.push(JSON.parse(line) as SocksRequestRecord),
  );
  return {
    records,
    waitFor: (match, timeoutMs = 15_000) => waitFor(records, match, timeoutMs),
    stop: () => {
      child.stdin!.end();
    },
  };
}

export interface DirectConnection {
  port: number;
  remoteAddress: string;
}

export interface DirectListener {
  connections: DirectConnection[];
  waitFor(match: (c: DirectConnection) => boolean, timeoutMs?: number): Promise<DirectConnection[]>;
  stop(): void;
}

/** test/fixtures/clean-image/direct-listener.mjs on INTERNET:PORTS in the image's network: where a direct connection lands. */
export async function startDirectListener(image: CleanImage, ports: number[]): Promise<DirectListener> {
  const main = new URL('../fixtures/clean-image/direct-listener.mjs', import.meta.url).pathname;
  const connections: DirectConnection[] = [];
  const child = image.startInNetwork([process.execPath, main, INTERNET, ...ports.map(String)]);
  await firstLine(child, `the direct listener in the ${image.suite} image`, (line) =>
    connections.push(JSON.parse(line) as DirectConnection),
  );
  return {
    connections,
    waitFor: (match, timeoutMs = 15_000) => waitFor(connections, match, timeoutMs),
    stop: () => {
      child.stdin!.end();
    },
  };
}
