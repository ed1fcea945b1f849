// A real tor (Debian's 0.4.9) that cannot reach anything: it runs in a
// network namespace of the test's own that has nothing but loopback, and its
// only directory authority is a closed loopback port. It opens its SocksPorts
// and ControlPort (the SOCKS handshake and the control protocol need no
// bootstrapped Tor) but never bootstraps. `DisableNetwork 1` would not do:
// tor 0.4.9 then opens no SocksPort at all. Only the tors started here are
// ever signalled, by their own PID.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';

/** Tails' SocksPorts (FACTS §1) on loopback. */
export const TAILS_SOCKS_PORTS = {
  9050: 'SocksPort 127.0.0.1:9050 IsolateDestAddr IsolateDestPort',
  9062: 'SocksPort 127.0.0.1:9062 IsolateDestAddr IsolateDestPort',
  9063: 'SocksPort 127.0.0.1:9063 NoIsolateDestAddr NoIsolateDestPort NoIsolateClientProtocol',
} as const;

/** A network namespace with only loopback, up. */
export async function createNamespace(name: string): Promise<void> {
  await execa('ip', ['netns', 'add', name]);
  await execa('ip', ['netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up']);
}

export async function deleteNamespace(name: string): Promise<void> {
  await execa('ip', ['netns', 'del', name], { reject: false });
}

export interface IsolatedTor {
  pid: number;
  /** SIGTERM to this tor alone, then waits for it to exit. */
  stop(): Promise<void>;
}

async function waitForListeners(log: string, socks: number, control: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const text = existsSync(log) ? readFileSync(log, 'utf8') : '';
    const opened = (kind: string) => (text.match(new RegExp(`Opened ${kind} listener`, 'g')) ?? []).length;
    if (opened('Socks') >= socks && opened('Control') >= control) return;
    if (Date.now() > deadline) throw new Error(`tor did not open its listeners:\n${text}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Starts tor inside namespace NS with its files in DIR and the torrc LINES
 * (SocksPort, ControlPort, authentication...), plus the lines that keep it off
 * every network; resolves once every SocksPort and ControlPort is open.
 */
export async function startIsolatedTor(ns: string, dir: string, lines: string[]): Promise<IsolatedTor> {
  mkdirSync(join(dir, 'data'), { recursive: true, mode: 0o700 });
  const log = join(dir, 'tor.log');
  writeFileSync(
    join(dir, 'torrc'),
    [
      `DataDirectory ${join(dir, 'data')}`,
      `Log notice file ${log}`,
      ...lines,
      'RunAsDaemon 0',
      'GeoIPFile /dev/null',
      'GeoIPv6File /dev/null',
      'AvoidDiskWrites 1',
      // No built-in fallback directories, and one authority on a closed loopback port.
      'UseDefaultFallbackDirs 0',
      `DirAuthority closed orport=7 no-v2 v3ident=${'0'.repeat(40)} 127.0.0.1:7 ${'0'.repeat(40)}`,
      '',
    ].join('\n'),
  );
  // `ip netns exec` execs tor: this PID is tor's.
  const tor: ResultPromise = execa('ip', ['netns', 'exec', ns, 'tor', '-f', join(dir, 'torrc')], {
    reject: false,
    stdio: 'ignore',
  });
  const count = (keyword: string) => lines.filter((l) => l.startsWith(`${keyword} `)).length;
  await waitForListeners(log, count('SocksPort'), count('ControlPort'));
  return {
    pid: tor.pid!,
    async stop() {
      process.kill(tor.pid!, 'SIGTERM');
      await tor;
    },
  };
}
