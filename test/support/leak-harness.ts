// The leak harness: proof, at the packet level, that a launched program
// reaches nothing but Tor's SOCKS port.
//
//   netns APP  (the launcher and the application run here)
//     lo: 127.0.0.1, the tests' SOCKS5 server (a process of its own) = "Tor"
//     veth 10.250.N.2/24, fd00:250:N::2/64, default routes (v4, v6) ──┐
//   netns WORLD                                                        │
//     veth 10.250.N.1/24, fd00:250:N::1/64  <──────────────────────────┘
//     an HTTP server on [::]:80 that answers "direct" (so a leak would work)
//     nftables: a counter on every packet that arrives over the veth
//     (TCP, UDP, ICMP, IPv4 and IPv6), IPv6 neighbour discovery and MLD aside
//
// Everything the application could reach directly is in WORLD, and every
// packet that gets there is counted: a launch passes when the counter did not
// move. `control()` shows the trap does count a direct connection. Both
// namespaces and both processes are the test's own; nothing leaves them.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { build } from 'esbuild';
import { execa, type Options } from 'execa';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { LAUNCHER, runLauncher, type LauncherResult } from './launcher';
import type { SocksRequestRecord } from './socks5-server';

export interface LeakHarness {
  /** The namespace the launcher and the application run in. */
  readonly appNs: string;
  /** The namespace that plays the rest of the world (the trap's). */
  readonly worldNs: string;
  /** WORLD's addresses: targets a direct connection would reach. */
  readonly worldV4: string;
  readonly worldV6: string;
  /** The SOCKS5 server's port on 127.0.0.1 inside APP ("Tor"). */
  readonly socksPort: number;
  /** What the SOCKS5 server was asked since the last test started. */
  records(): SocksRequestRecord[];
  /** Waits until the SOCKS5 server has reported COUNT records (or the time is up). */
  waitForRecords(count: number, timeoutMs?: number): Promise<SocksRequestRecord[]>;
  /** Packets that reached WORLD since the last test started. */
  trapped(): number;
  /** Runs the real launcher inside APP. */
  launch(args: string[], options?: Options, launcher?: string): Promise<LauncherResult>;
  /** Runs any command inside APP (no launcher): for controls. */
  inApp(
    command: string[],
    options?: Options,
  ): Promise<{ exitCode: number | undefined; stdout: string; stderr: string }>;
}

function sh(command: string, args: string[]): string {
  return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Creates the two namespaces; N picked at random, another tried if taken. */
function createNamespaces(): { n: number; app: string; world: string } {
  for (let attempt = 0; attempt < 20; attempt++) {
    const n = 1 + Math.floor(Math.random() * 250);
    const app = `tl-leak-app-${n}`;
    const world = `tl-leak-world-${n}`;
    try {
      sh('ip', ['netns', 'add', app]);
    } catch {
      continue;
    }
    try {
      sh('ip', ['netns', 'add', world]);
    } catch {
      sh('ip', ['netns', 'delete', app]);
      continue;
    }
    return { n, app, world };
  }
  throw new Error('no free leak-harness namespace name');
}

function wireNamespaces(n: number, app: string, world: string): void {
  const a = `tlla${n}`;
  const w = `tllw${n}`;
  const steps: string[][] = [
    ['link', 'add', a, 'type', 'veth', 'peer', 'name', w],
    ['link', 'set', a, 'netns', app],
    ['link', 'set', w, 'netns', world],
    ['-n', app, 'link', 'set', 'lo', 'up'],
    ['-n', world, 'link', 'set', 'lo', 'up'],
    ['-n', app, 'addr', 'add', `10.250.${n}.2/24`, 'dev', a],
    ['-n', app, 'addr', 'add', `fd00:250:${n}::2/64`, 'dev', a, 'nodad'],
    ['-n', world, 'addr', 'add', `10.250.${n}.1/24`, 'dev', w],
    ['-n', world, 'addr', 'add', `fd00:250:${n}::1/64`, 'dev', w, 'nodad'],
    ['-n', app, 'link', 'set', a, 'up'],
    ['-n', world, 'link', 'set', w, 'up'],
    ['-n', app, 'route', 'add', 'default', 'via', `10.250.${n}.1`],
    ['-n', app, '-6', 'route', 'add', 'default', 'via', `fd00:250:${n}::1`],
  ];
  for (const step of steps) sh('ip', step);
  const rules = [
    'table inet tl_trap {',
    '  chain incoming {',
    '    type filter hook prerouting priority -400; policy accept;',
    `    iifname != "${w}" accept`,
    '    icmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert, mld-listener-report, mld2-listener-report } accept',
    '    counter',
    '  }',
    '}',
  ].join('\n');
  execFileSync('ip', ['netns', 'exec', world, 'nft', '-f', '-'], { input: rules, stdio: ['pipe', 'ignore', 'pipe'] });
}

/** The trap's counter, read from WORLD's nftables. */
function readTrap(world: string): number {
  const listing = sh('ip', ['netns', 'exec', world, 'nft', 'list', 'chain', 'inet', 'tl_trap', 'incoming']);
  const match = /counter packets (\d+)/.exec(listing);
  if (!match) throw new Error(`leak harness: no counter in\n${listing}`);
  return Number(match[1]);
}

/** A child process inside NS; resolves once its first stdout line (a JSON object) arrives. */
async function startInNamespace(
  ns: string,
  argv: string[],
  onLine: (line: string) => void,
): Promise<{ child: ChildProcess; first: Record<string, unknown> }> {
  const child = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const first = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`leak harness: ${argv.join(' ')} did not start`)), 15_000);
    child.once('exit', (code) => reject(new Error(`leak harness: ${argv.join(' ')} exited ${code}`)));
    lines.once('line', (line) => {
      clearTimeout(timer);
      resolve(JSON.parse(line) as Record<string, unknown>);
      lines.on('line', onLine);
    });
  });
  return { child, first };
}

export interface LeakHarnessOptions {
  /** More ports the SOCKS5 server listens on inside APP (e.g. a listener's jail port). */
  extraSocksPorts?: number[];
  /** CONNECTs the SOCKS5 server relays ("HOST:PORT" -> a real server's Unix socket), as Tor's exit would. */
  forward?: Record<string, string>;
}

/** The harness for one test file: set up before its tests, torn down after; the trap and records are per test. */
export function useLeakHarness(options: LeakHarnessOptions = {}): LeakHarness {
  let ns: { n: number; app: string; world: string } | null = null;
  let work = '';
  const children: ChildProcess[] = [];
  const all: SocksRequestRecord[] = [];
  let recordsAtStart = 0;
  let trapAtStart = 0;
  let socksPort = 0;

  beforeAll(async () => {
    ns = createNamespaces();
    wireNamespaces(ns.n, ns.app, ns.world);
    work = mkdtempSync(join(tmpdir(), 'tails-launch-leak-'));
    const socksMain = join(work, 'socks5-server.mjs');
    await build({
      entryPoints: [new URL('./socks5-server-main.ts', import.meta.url).pathname],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      outfile: socksMain,
      logLevel: 'error',
    });
    // Also on Tails' own ports, for launches with the shipped profiles and listeners.
    const ports = ['9050', '9062', '9063', ...(options.extraSocksPorts ?? []).map(String)];
    for (const [destination, path] of Object.entries(options.forward ?? {}))
      ports.push(`--forward=${destination}=${path}`);
    const socks = await startInNamespace(ns.app, [process.execPath, socksMain, ...ports], (line) =>
      all.push(JSON.parse(line) as SocksRequestRecord),
    );
    children.push(socks.child);
    socksPort = Number(socks.first.port);
    const httpMain = join(work, 'world-http.mjs');
    writeFileSync(
      httpMain,
      "import http from 'node:http';\n" +
        "const s = http.createServer((q, r) => r.end('direct\\n'));\n" +
        "s.listen(80, '::', () => console.log(JSON.stringify({ port: 80 })));\n" +
        "process.stdin.on('end', () => process.exit(0)); process.stdin.resume();\n",
    );
    children.push((await startInNamespace(ns.world, [process.execPath, httpMain], () => {})).child);
  }, 60_000);

  beforeEach(() => {
    recordsAtStart = all.length;
    if (ns) trapAtStart = readTrap(ns.world);
  });

  afterAll(() => {
    // Only what this harness started, by its own handles.
    for (const child of children) {
      child.stdin?.end();
      if (child.exitCode === null) child.kill('SIGTERM');
    }
    if (ns) {
      for (const name of [ns.app, ns.world]) {
        try {
          sh('ip', ['netns', 'delete', name]);
        } catch {
          // already gone
        }
      }
    }
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const live = () => {
    if (!ns) throw new Error('the leak harness is used outside a test');
    return ns;
  };
  return {
    get appNs() {
      return live().app;
    },
    get worldNs() {
      return live().world;
    },
    get worldV4() {
      return `10.250.${live().n}.1`;
    },
    get worldV6() {
      return `fd00:250:${live().n}::1`;
    },
    get socksPort() {
      return socksPort;
    },
    records: () => all.slice(recordsAtStart),
    async waitForRecords(count, timeoutMs = 3000) {
      const deadline = Date.now() + timeoutMs;
      while (all.length - recordsAtStart < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      return all.slice(recordsAtStart);
    },
    trapped: () => readTrap(live().world) - trapAtStart,
    // `ip netns exec` execs the launcher: the PID runLauncher reports is still the launcher's.
    launch: (args, options = {}, launcher = LAUNCHER) =>
      runLauncher(['netns', 'exec', live().app, launcher, ...args], options, 'ip'),
    async inApp(command, options = {}) {
      const result = await execa('ip', ['netns', 'exec', live().app, ...command], {
        reject: false,
        timeout: 20_000,
        stdin: 'ignore',
        ...options,
      } as Options);
      return { exitCode: result.exitCode, stdout: String(result.stdout ?? ''), stderr: String(result.stderr ?? '') };
    },
  };
}
