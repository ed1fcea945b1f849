// A throwaway private Tor network built from Debian's real tor 0.4.9 (FACTS
// §8): 3 directory authorities, 2 middle relays, 1 exit and 1 client, inside
// a network namespace the caller created (and that holds nothing but loopback
// and the caller's own port-less interface with TARGET_ADDRESS). Everything
// listens on 127.0.0.1 except the exit's ORPort (see below). The exit accepts
// only TARGET_ADDRESS and resolves names only through 127.0.0.1.
//
// The exit listens on the target's own address (TARGET_ADDRESS, the caller's
// port-less interface inside the namespace), not on 127.0.0.1. Measured with
// tor 0.4.9.11: a client does not pick an exit whose policy accepts only a
// private address (`accept 10.99.0.1:*`, `accept 10.0.0.0/8:*`: "Found 0
// servers that might support 0/1 pending connections", then a storm of
// doomed circuits), even with UseMicrodescriptors 0 and the full descriptor
// in hand; only `accept *:*` or an exit *enclave* works. So the exit sits on
// the target's address: the client then routes streams to that address to
// it ("Redirecting address 10.99.0.1 to exit at enclave router exit0") and
// the exit policy stays `accept 10.99.0.1:*`, `reject *:*`. (FACTS §8's
// 127.0.0.0/8 target worked the same way: every relay there is at 127.0.0.1.)
// Isolation is decided as for any stream (circuit_is_acceptable checks the
// isolation fields whatever the exit).
//
// The client's ControlPort is a unix socket (a file under DIR), so that the
// test process, which stays in the host's network namespace, can reach it
// without any TCP port outside the namespace. Only the tors started here are
// ever signalled, each by its own PID.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import {
  ControlConnection,
  parseArguments,
  parseBootstrapPhase,
  ReplyParser,
  type Reply,
} from '../../src/tor/control-port';

/** The only non-loopback address the exit accepts and listens on (the caller's port-less interface). */
export const TARGET_ADDRESS = '10.99.0.1';

const AUTHORITIES = 3;
const MIDDLES = 2;
const OR_BASE = 5100; // ORPorts 5100-5105
const DIR_BASE = 7100; // authorities' DirPorts 7100-7102
/** Voting every 10 s; the first consensus about this long after start. */
const VOTING_INTERVAL = 10;
const FIRST_CONSENSUS_AFTER = 9;

export interface PrivateTorNetwork {
  /** The client's ControlPort (unix socket) and its cookie. */
  controlSocket: string;
  cookieFile: string;
  /** Milliseconds from the first tor's start to the client's 100 % bootstrap (the client starts once the relays settle). */
  bootstrapMs: number;
  /** The client tor's PID (its /proc/PID/net/tcp is the namespace's socket table). */
  clientPid: number;
  /** The exits' fingerprints (40 hex digits). */
  exits: string[];
  /** SIGTERM to every tor, by PID, then waits for each to exit. */
  stop(): Promise<void>;
}

export interface PrivateTorOptions {
  /**
   * The client's SocksPort lines, as torrc lines. By default one, Tails'
   * 127.0.0.1:9050 with IsolateDestAddr IsolateDestPort.
   */
  socksPorts?: readonly string[];
  /** More torrc lines for the client (a TCP ControlPort for an application, as onion-grater's). */
  clientLines?: readonly string[];
  /** Called with a short description of the current step whenever it changes (a demo's progress line). */
  onProgress?: (step: string) => void;
  /** Aborting it while the network starts stops every tor started so far, then rejects (a demo's Ctrl-C). */
  signal?: AbortSignal;
  /**
   * Two exits instead of one. One exit is an enclave on the target's address
   * (see the top of this file); of two enclaves on one address a client
   * always takes the first it finds (router_find_exact_exit_enclave), so two
   * exits are ordinary ones on 127.0.0.1 with `reject 127.0.0.0/8:*` and
   * `accept *:*` (the client picks either for each circuit; the namespace
   * has nothing but the target to reach).
   */
  exits?: 1 | 2;
}

/** The client's default SocksPort. */
const DEFAULT_SOCKS_PORTS = ['SocksPort 127.0.0.1:9050 IsolateDestAddr IsolateDestPort'];

interface Node {
  name: string;
  dir: string;
  role: 'authority' | 'middle' | 'exit' | 'client';
  /** An exit on the target's own address (the single exit), else on 127.0.0.1. */
  enclave?: boolean;
  orPort?: number;
  dirPort?: number;
  fingerprint?: string;
  v3ident?: string;
  process?: ResultPromise;
}

function inNamespace(ns: string, argv: string[], input?: string) {
  return execa('ip', ['netns', 'exec', ns, ...argv], {
    input,
    stdin: input === undefined ? 'ignore' : 'pipe',
    timeout: 30_000,
  });
}

/** An authority's v3 signing key and certificate; returns its v3ident. */
async function makeAuthorityKeys(ns: string, node: Node): Promise<string> {
  const keys = join(node.dir, 'data', 'keys');
  mkdirSync(keys, { recursive: true, mode: 0o700 });
  // The identity key's passphrase is read from stdin (fd 0); tor itself never needs it.
  await inNamespace(
    ns,
    [
      'tor-gencert',
      '--create-identity-key',
      '-m',
      '12',
      '-a',
      `127.0.0.1:${node.dirPort}`,
      '-i',
      join(keys, 'authority_identity_key'),
      '-s',
      join(keys, 'authority_signing_key'),
      '-c',
      join(keys, 'authority_certificate'),
      '--passphrase-fd',
      '0',
    ],
    'throwaway-test-passphrase\n',
  );
  const cert = readFileSync(join(keys, 'authority_certificate'), 'utf8');
  const m = /^fingerprint ([0-9A-F]{40})$/m.exec(cert);
  if (!m) throw new Error(`no fingerprint in ${node.name}'s authority certificate`);
  return m[1]!;
}

/** The relay identity fingerprint (tor creates the key in its data directory). */
async function listFingerprint(ns: string, node: Node): Promise<string> {
  mkdirSync(join(node.dir, 'data'), { recursive: true, mode: 0o700 });
  const result = await inNamespace(ns, [
    'tor',
    '--list-fingerprint',
    '--quiet',
    '--DataDirectory',
    join(node.dir, 'data'),
    '--ORPort',
    `${node.enclave ? TARGET_ADDRESS : '127.0.0.1'}:${node.orPort}`,
    '--Nickname',
    node.name,
    '--SocksPort',
    '0',
    '--GeoIPFile',
    join(node.dir, '..', 'empty'),
    '--GeoIPv6File',
    join(node.dir, '..', 'empty'),
    '--DirAuthority',
    `placeholder orport=7 no-v2 v3ident=${'0'.repeat(40)} 127.0.0.1:7 ${'0'.repeat(40)}`,
  ]);
  const fromStdout = new RegExp(`^${node.name} ((?:[0-9A-F]{4} ?){10})$`, 'm').exec(String(result.stdout));
  const text = fromStdout
    ? fromStdout[1]!
    : (readFileSync(join(node.dir, 'data', 'fingerprint'), 'utf8').split(' ')[1] ?? '');
  const fp = text.replace(/\s/g, '');
  if (!/^[0-9A-F]{40}$/.test(fp))
    throw new Error(`tor --list-fingerprint gave no fingerprint for ${node.name}: ${result.stdout}`);
  return fp;
}

function torrc(
  node: Node,
  common: string[],
  exitFingerprints: readonly string[],
  socksPorts: readonly string[],
  clientLines: readonly string[],
): string {
  const lines = [
    `DataDirectory ${join(node.dir, 'data')}`,
    `PidFile ${join(node.dir, 'pid')}`,
    `Log notice file ${join(node.dir, 'notice.log')}`,
    `Nickname ${node.name}`,
    ...common,
  ];
  if (node.role === 'client') {
    lines.push(
      ...socksPorts,
      `ControlPort unix:${join(node.dir, 'control', 'sock')}`,
      'CookieAuthentication 1',
      `CookieAuthFile ${join(node.dir, 'control', 'cookie')}`,
      'ConfluxEnabled 0',
      'UseMicrodescriptors 0',
      // A fixed circuit build timeout: while debugging, circuits failed with
      // REASON=TIMEOUT and were rebuilt in a loop (that storm came from the
      // exit choice described above; this stays as a precaution against a
      // timeout learned from loopback round trips of a few ms).
      'LearnCircuitBuildTimeout 0',
      'CircuitBuildTimeout 30',
      ...clientLines,
    );
  } else {
    lines.push(
      'SocksPort 0',
      `Address ${node.enclave ? TARGET_ADDRESS : '127.0.0.1'}`,
      `ORPort ${node.enclave ? TARGET_ADDRESS : '127.0.0.1'}:${node.orPort}`,
      'AssumeReachable 1',
      `ContactInfo ${node.name}@tails-launch.test`,
      'ShutdownWaitLength 0',
      'ServerDNSDetectHijacking 0',
    );
  }
  if (node.role === 'authority') {
    lines.push(
      `DirPort 127.0.0.1:${node.dirPort}`,
      'AuthoritativeDirectory 1',
      'V3AuthoritativeDirectory 1',
      'ExitPolicy reject *:*',
      `TestingDirAuthVoteExit ${exitFingerprints.join(',')}`,
      'TestingDirAuthVoteGuard *',
      // Every relay an HSDir: onion services publish and are found here too.
      'TestingDirAuthVoteHSDir *',
      'AuthDirFastGuarantee 1 bytes',
      'AuthDirVoteStableGuaranteeMinUptime 0',
      'AuthDirVoteStableGuaranteeMTBF 0',
      'AuthDirMaxServersPerAddr 0',
    );
  }
  if (node.role === 'middle') lines.push('DirCache 0', 'ExitRelay 0', 'ExitPolicy reject *:*');
  if (node.role === 'exit') {
    lines.push(
      'DirCache 0',
      'ExitRelay 1',
      'ExitPolicyRejectPrivate 0',
      'ExitPolicyRejectLocalInterfaces 0',
      ...(node.enclave
        ? [`ExitPolicy accept ${TARGET_ADDRESS}:*`, 'ExitPolicy reject *:*']
        : ['ExitPolicy reject 127.0.0.0/8:*', 'ExitPolicy accept *:*']),
      'RefuseUnknownExits 0',
    );
  }
  return `${lines.join('\n')}\n`;
}

/** A log line's time ("Nov 25 21:58:30.000", UTC) as epoch seconds, this year. */
function logTime(line: string): number {
  const m = /^(\w{3}) (\d{1,2}) (\d\d):(\d\d):(\d\d)/.exec(line);
  if (!m) return Number.NaN;
  const month = 'JanFebMarAprMayJunJulAugSepOctNovDec'.indexOf(m[1]!) / 3;
  return Date.UTC(new Date().getUTCFullYear(), month, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5])) / 1000;
}

/**
 * True when CONSENSUS (an authority's published one) lists every relay, the
 * exit with the Exit flag, and each relay that logged its post-self-test
 * "Publishing server descriptor" with a descriptor published no earlier.
 */
function relaysSettled(relays: Node[], consensus: string, exitFingerprints: readonly string[]): boolean {
  if (!existsSync(consensus)) return false;
  const entries = new Map<string, { published: number; flags: string }>();
  for (const m of readFileSync(consensus, 'utf8').matchAll(/^r (\S+) (\S+) \S+ (\S+ \S+) .*\ns ([^\n]*)$/gm)) {
    const fingerprint = Buffer.from(m[2]!, 'base64').toString('hex').toUpperCase();
    entries.set(fingerprint, { published: Date.parse(`${m[3]!.replace(' ', 'T')}Z`) / 1000, flags: m[4]! });
  }
  if (!exitFingerprints.every((fp) => entries.get(fp)?.flags.split(' ').includes('Exit'))) return false;
  return relays.every((relay) => {
    const entry = entries.get(relay.fingerprint!);
    if (!entry) return false;
    const log = join(relay.dir, 'notice.log');
    const line = (existsSync(log) ? readFileSync(log, 'utf8') : '')
      .split('\n')
      .filter((l) => l.includes('Publishing server descriptor'))
      .pop();
    return line === undefined || entry.published >= logTime(line);
  });
}

function tail(file: string, lines = 25): string {
  if (!existsSync(file)) return '(no log)';
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

/**
 * Starts the network inside namespace NS, its files under DIR, and resolves
 * once the client reports 100 % bootstrapped (or throws after DEADLINE_MS
 * with the tail of every tor's log, having stopped them all).
 */
export async function startPrivateTorNetwork(
  ns: string,
  dir: string,
  deadlineMs = 60_000,
  options: PrivateTorOptions = {},
): Promise<PrivateTorNetwork> {
  const socksPorts = options.socksPorts ?? DEFAULT_SOCKS_PORTS;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'empty'), '');
  // Exits resolve names only through 127.0.0.1 (nothing answers there): no DNS leaves.
  writeFileSync(join(dir, 'resolv.conf'), 'nameserver 127.0.0.1\n');

  const nodes: Node[] = [];
  for (let i = 0; i < AUTHORITIES; i++)
    nodes.push({ name: `auth${i}`, role: 'authority', orPort: OR_BASE + i, dirPort: DIR_BASE + i, dir: '' });
  for (let i = 0; i < MIDDLES; i++)
    nodes.push({ name: `middle${i}`, role: 'middle', orPort: OR_BASE + AUTHORITIES + i, dir: '' });
  const exits = options.exits ?? 1;
  for (let i = 0; i < exits; i++)
    nodes.push({
      name: `exit${i}`,
      role: 'exit',
      orPort: OR_BASE + AUTHORITIES + MIDDLES + i,
      dir: '',
      enclave: exits === 1,
    });
  nodes.push({ name: 'client', role: 'client', dir: '' });
  for (const node of nodes) {
    node.dir = join(dir, node.name);
    mkdirSync(node.dir, { recursive: true, mode: 0o700 });
  }
  const client = nodes.find((n) => n.role === 'client')!;
  mkdirSync(join(client.dir, 'control'), { recursive: true, mode: 0o700 });

  await Promise.all(
    nodes
      .filter((n) => n.role !== 'client')
      .map(async (node) => {
        if (node.role === 'authority') node.v3ident = await makeAuthorityKeys(ns, node);
        node.fingerprint = await listFingerprint(ns, node);
      }),
  );
  const exitFingerprints = nodes.filter((n) => n.role === 'exit').map((n) => n.fingerprint!);

  // Valid-after times fall on (multiples of the interval) + offset: put the first ~9 s from now.
  const now = Math.floor(Date.now() / 1000);
  const offset = (now + FIRST_CONSENSUS_AFTER) % VOTING_INTERVAL;
  const common = [
    'TestingTorNetwork 1',
    'RunAsDaemon 0',
    'SafeLogging 0',
    `GeoIPFile ${join(dir, 'empty')}`,
    `GeoIPv6File ${join(dir, 'empty')}`,
    `ServerDNSResolvConfFile ${join(dir, 'resolv.conf')}`,
    'UseDefaultFallbackDirs 0',
    `V3AuthVotingInterval ${VOTING_INTERVAL}`,
    'V3AuthVoteDelay 2',
    'V3AuthDistDelay 2',
    `TestingV3AuthInitialVotingInterval ${VOTING_INTERVAL}`,
    'TestingV3AuthInitialVoteDelay 2',
    'TestingV3AuthInitialDistDelay 2',
    `TestingV3AuthVotingStartOffset ${offset}`,
    // Relays republish their descriptors within the first ~20 s; a client
    // batches small descriptor fetches for up to 10 minutes by default. A
    // precaution (a client once held descriptors older than its consensus),
    // not shown to be necessary since the client starts after relaysSettled.
    'TestingClientMaxIntervalWithoutRequest 1 seconds',
    ...nodes
      .filter((n) => n.role === 'authority')
      .map(
        (a) =>
          `DirAuthority ${a.name} orport=${a.orPort} no-v2 v3ident=${a.v3ident} 127.0.0.1:${a.dirPort} ${a.fingerprint}`,
      ),
  ];

  const started = Date.now();
  const startTor = (node: Node) => {
    writeFileSync(
      join(node.dir, 'torrc'),
      torrc(node, common, exitFingerprints, socksPorts, options.clientLines ?? []),
    );
    // `ip netns exec` execs tor: this PID is tor's. TZ=UTC: log times compare with the consensus'.
    node.process = execa('ip', ['netns', 'exec', ns, 'tor', '-f', join(node.dir, 'torrc')], {
      reject: false,
      stdio: 'ignore',
      env: { TZ: 'UTC' },
    });
  };
  for (const node of nodes) if (node !== client) startTor(node);

  const signalAll = (signal: NodeJS.Signals) => {
    for (const node of nodes) {
      const pid = node.process?.pid;
      if (pid !== undefined && node.process!.exitCode === null && node.process!.signalCode === null) {
        try {
          process.kill(pid, signal);
        } catch {
          // already gone
        }
      }
    }
  };
  const stop = async () => {
    signalAll('SIGTERM');
    // A tor that logged "exiting cleanly" and then hung once held a whole test file's end: 15 s, then SIGKILL.
    const late = setTimeout(() => signalAll('SIGKILL'), 15_000);
    await Promise.all(nodes.map((n) => n.process));
    clearTimeout(late);
  };

  const controlSocket = join(client.dir, 'control', 'sock');
  const cookieFile = join(client.dir, 'control', 'cookie');
  const deadline = started + deadlineMs;
  let last = 'no consensus with every relay yet';
  let reported = '';
  for (;;) {
    if (last !== reported) options.onProgress?.((reported = last));
    const dead = nodes.find((n) => n.process && n.process.exitCode !== null);
    if (dead) last = `${dead.name} exited (${dead.process!.exitCode})`;
    else if (!client.process) {
      // The client starts once the published consensus lists every relay with
      // the descriptor it published after its reachability self-test: it then
      // bootstraps on final descriptors and never sees a consensus naming an
      // exit descriptor it does not have (during which it finds no exit).
      if (
        relaysSettled(
          nodes.filter((n) => n !== client),
          join(nodes[0]!.dir, 'data', 'cached-consensus'),
          exitFingerprints,
        )
      ) {
        startTor(client);
        last = 'client started';
      }
    } else if (existsSync(controlSocket) && existsSync(cookieFile)) {
      try {
        const control = await ControlConnection.connect({ kind: 'unix', path: controlSocket }, { timeoutMs: 3000 });
        try {
          await control.authenticate({ kind: 'cookie', file: cookieFile });
          const phase = parseBootstrapPhase(
            (await control.getInfo(['status/bootstrap-phase'])).get('status/bootstrap-phase') ?? '',
          );
          last = phase ? `bootstrap ${phase.progress}% (${phase.tag}: ${phase.summary})` : 'unreadable bootstrap phase';
          if (phase?.progress === 100)
            return {
              controlSocket,
              cookieFile,
              bootstrapMs: Date.now() - started,
              clientPid: client.process.pid!,
              exits: exitFingerprints,
              stop,
            };
        } finally {
          control.close();
        }
      } catch (error) {
        last = String(error);
      }
    }
    if (options.signal?.aborted) {
      await stop();
      throw new Error('the private Tor network was stopped while it started');
    }
    if (dead || Date.now() > deadline) {
      await stop();
      const logs = nodes
        .map((n) => `--- ${n.name} (${join(n.dir, 'notice.log')}):\n${tail(join(n.dir, 'notice.log'))}`)
        .join('\n');
      throw new Error(`the private Tor network did not bootstrap within ${deadlineMs / 1000} s (${last})\n${logs}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

// ---------------------------------------------------------------------------
// Stream events

export interface StreamRecord {
  id: string;
  target: string;
  /** The position of its first event in the event sequence (which launch it belongs to). */
  openedAt: number;
  /** tor's PURPOSE for it: USER for a client's own, DIR_FETCH and the like for tor's (null: not given). */
  purpose: string | null;
  /** The client socket's address at the SocksPort, from the NEW event. */
  sourceAddr: string | null;
  /** The circuit, from the SUCCEEDED event. */
  circuit: string | null;
  /** Positions in the event sequence (for "open together" checks). */
  succeededAt: number | null;
  closedAt: number | null;
  statuses: string[];
  /**
   * The SOCKS credentials tor itself recorded for the stream (the event's
   * SOCKS_USERNAME/SOCKS_PASSWORD, which tor 0.4.9 adds to every STREAM
   * event of a SOCKS stream that authenticated; null: none sent).
   */
  socksUsername: string | null;
  socksPassword: string | null;
  /** The listener's session group (SESSION_GROUP: each SocksPort has its own) and ISO_FIELDS (its isolation flags, as tor applies them). */
  sessionGroup: string | null;
  isoFields: string[];
  /**
   * The port of the SocksPort the client socket was connected to, read from
   * the namespace's socket table (the kernel's, not tor's nor the client's
   * word) when the NEW event arrives; null without a table or if not found.
   */
  listenerPort: number | null;
  /** That SocksPort's address and port ("ADDR:PORT"), from the same table. */
  listenerAddress: string | null;
}

export interface CircuitRecord {
  id: string;
  status: string;
  /** The relays, as tor names them: $FINGERPRINT~nickname, first hop first. */
  path: string[];
  purpose: string | null;
}

export interface StreamWatcherOptions {
  /**
   * A /proc/PID/net/tcp of a process in the network's namespace (e.g. the
   * client tor's: `/proc/${network.clientPid}/net/tcp`): the kernel's table
   * of that namespace's TCP sockets, which gives each stream's listenerPort.
   */
  tcpTable?: string;
}

/** "0100007F:1BBE" (a /proc/net/tcp address) as "127.0.0.1:7102". */
function procAddress(hex: string): string {
  const [ip, port] = hex.split(':') as [string, string];
  // IPv4 addresses are written as one 32-bit number in host (little-endian) order.
  const bytes = [0, 2, 4, 6].map((i) => parseInt(ip.slice(i, i + 2), 16)).reverse();
  return `${bytes.join('.')}:${parseInt(port, 16)}`;
}

/**
 * A port of the network's own relays (ORPorts, authorities' DirPorts). On
 * loopback, the client tor's connection to a relay can have the very local
 * port a SOCKS client has (the 4-tuples differ): such a match is not the
 * client's, and was once taken for it (a stream "arrived on" 5104).
 */
const isRelayPort = (address: string) => {
  const port = Number(address.slice(address.lastIndexOf(':') + 1));
  return (port >= OR_BASE && port < OR_BASE + 16) || (port >= DIR_BASE && port < DIR_BASE + 16);
};

/** The remote end of the TCP socket whose local end is LOCAL ("ADDR:PORT"), from a /proc/net/tcp table. */
export function peerOf(table: string, local: string): string | null {
  for (const line of table.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length > 3 && procAddress(fields[1]!) === local && !isRelayPort(procAddress(fields[2]!)))
      return procAddress(fields[2]!);
  }
  return null;
}

/** The local end of the TCP socket whose remote end is REMOTE, from a /proc/net/tcp table. */
function localOf(table: string, remote: string): string | null {
  for (const line of table.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length > 3 && procAddress(fields[2]!) === remote && !isRelayPort(procAddress(fields[1]!)))
      return procAddress(fields[1]!);
  }
  return null;
}

/**
 * The SocksPort ("ADDR:PORT") a client socket SOURCE is connected to, from
 * tor's namespace's table: the peer of the client's own socket, or, for a
 * client in another namespace (a jail's, tbb: its socket is not in this
 * table), the local end of tor's socket whose peer is SOURCE.
 */
export function listenerOf(table: string, source: string): string | null {
  return peerOf(table, source) ?? localOf(table, source);
}

/** A control connection subscribed to STREAM and CIRC events. */
export class StreamWatcher {
  readonly streams = new Map<string, StreamRecord>();
  readonly circuits = new Map<string, CircuitRecord>();
  readonly events: string[] = [];
  private readonly parser = new ReplyParser();
  private waiting: Array<(reply: Reply) => void> = [];

  private constructor(
    private readonly socket: Socket,
    private readonly options: StreamWatcherOptions,
  ) {
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      for (const reply of this.parser.push(chunk)) {
        if (reply.status === 650) for (const line of reply.lines) this.onEvent(line.text);
        else this.waiting.shift()?.(reply);
      }
    });
  }

  static async open(
    controlSocket: string,
    cookieFile: string,
    options: StreamWatcherOptions = {},
  ): Promise<StreamWatcher> {
    const socket = connect({ path: controlSocket });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const watcher = new StreamWatcher(socket, options);
    for (const command of [`AUTHENTICATE ${readFileSync(cookieFile).toString('hex')}`, 'SETEVENTS STREAM CIRC']) {
      const reply = await watcher.send(command);
      if (reply.status !== 250)
        throw new Error(`${command.split(' ')[0]}: ${reply.status} ${reply.lines.map((l) => l.text).join(' ')}`);
    }
    return watcher;
  }

  private send(command: string): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply to ${command.split(' ')[0]}`)), 5000);
      this.waiting.push((reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      this.socket.write(`${command}\r\n`);
    });
  }

  private onEvent(text: string): void {
    const index = this.events.push(text) - 1;
    // CIRC <id> <status> [<path>] [KEY=VALUE...]
    const circ = /^CIRC (\S+) (\S+)(?: (\$[^ =]+))?(.*)$/.exec(text);
    if (circ) {
      const [, id, status, path, rest] = circ as unknown as [string, string, string, string | undefined, string];
      const known = this.circuits.get(id);
      this.circuits.set(id, {
        id,
        status,
        path: path ? path.split(',') : (known?.path ?? []),
        purpose: parseArguments(rest).get('PURPOSE') ?? known?.purpose ?? null,
      });
      return;
    }
    // STREAM <id> <status> <circuit> <target> [KEY=VALUE...]
    const m = /^STREAM (\S+) (\S+) (\S+) (\S+)(.*)$/.exec(text);
    if (!m) return;
    const [, id, status, circuit, target, rest] = m as unknown as [string, string, string, string, string, string];
    let record = this.streams.get(id);
    if (!record) {
      record = {
        id,
        target,
        openedAt: index,
        purpose: null,
        sourceAddr: null,
        circuit: null,
        succeededAt: null,
        closedAt: null,
        statuses: [],
        socksUsername: null,
        socksPassword: null,
        sessionGroup: null,
        isoFields: [],
        listenerPort: null,
        listenerAddress: null,
      };
      this.streams.set(id, record);
    }
    record.statuses.push(status);
    const fields = parseArguments(rest);
    const source = fields.get('SOURCE_ADDR');
    if (source) {
      record.sourceAddr = source;
      // The client socket is still open at NEW (tor has its request, no reply yet): its peer is the listener.
      if (this.options.tcpTable && record.listenerPort === null) {
        const listener = listenerOf(readFileSync(this.options.tcpTable, 'utf8'), source);
        if (listener) {
          record.listenerAddress = listener;
          record.listenerPort = Number(listener.split(':').pop());
        }
      }
    }
    record.purpose = fields.get('PURPOSE') ?? record.purpose;
    record.socksUsername = fields.get('SOCKS_USERNAME') ?? record.socksUsername;
    record.socksPassword = fields.get('SOCKS_PASSWORD') ?? record.socksPassword;
    record.sessionGroup = fields.get('SESSION_GROUP') ?? record.sessionGroup;
    if (fields.has('ISO_FIELDS')) record.isoFields = fields.get('ISO_FIELDS')!.split(',');
    if (status === 'SUCCEEDED') {
      record.circuit = circuit;
      record.succeededAt = index;
    }
    if (status === 'CLOSED' || status === 'FAILED') record.closedAt ??= index;
  }

  /** The stream whose client socket had local port PORT. */
  bySourcePort(port: number): StreamRecord | undefined {
    return [...this.streams.values()].find((s) => s.sourceAddr?.endsWith(`:${port}`));
  }

  /**
   * Circuit ID's relays: from its CIRC events, else (a circuit built before
   * this watcher subscribed) from GETINFO circuit-status.
   */
  async circuitPath(id: string): Promise<string[]> {
    const known = this.circuits.get(id);
    if (known && known.path.length > 0) return known.path;
    const reply = await this.send('GETINFO circuit-status');
    const data = reply.lines.find((l) => l.text.startsWith('circuit-status='));
    // A data block (several circuits) or a one-line value after the "=".
    const text = data?.data ?? data?.text.slice('circuit-status='.length) ?? '';
    for (const line of text.split('\n')) {
      const [circuit, , path] = line.split(' ');
      if (circuit === id && path?.startsWith('$')) return path.split(',');
    }
    return [];
  }

  close(): void {
    this.socket.destroy();
  }
}

/**
 * Bootstrapped is not yet "the exit carries streams": retries ONCE (one
 * launch through the network, true when it got its answer) every 0.5 s until
 * it succeeds, or throws after DEADLINE_MS with WATCHER's last events.
 */
export async function waitForFirstStream(
  once: () => Promise<{ ok: boolean; detail: string }>,
  watcher: StreamWatcher,
  deadlineMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const r = await once();
    if (r.ok) return;
    if (Date.now() > deadline)
      throw new Error(`no stream through the private network: ${r.detail}\n${watcher.events.slice(-20).join('\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** The target of the streams tests send through the network (exit enclave on TARGET_ADDRESS). */
export const TARGET = `${TARGET_ADDRESS}:8080`;
export const TARGET_URL = `http://${TARGET}/`;

/**
 * The target server, as a `node -e` script run inside the namespace. It holds
 * every request until GROUP requests are held, then answers "ok" to them all
 * at once, so that the streams of a pair (or trio) are open together by
 * construction, however late one launch starts on a loaded machine (a fixed
 * 1.5 s hold was not enough on CI). GROUP is 1 until a line on its stdin
 * sets it (`targetGroup`); it acknowledges each with "group N". A request
 * left alone is answered after 30 s, and the overlap check then fails.
 * Prints "listening" once it listens.
 */
export const TARGET_SERVER = `
let group = 1;
const held = [];
const release = () => { if (held.length >= group) for (const res of held.splice(0)) res.end('ok'); };
require('readline').createInterface({ input: process.stdin }).on('line', (line) => {
  group = Number(line) || 1;
  console.log('group ' + group);
  release();
});
require('http').createServer((req, res) => {
  held.push(res);
  setTimeout(() => { const i = held.indexOf(res); if (i >= 0) { held.splice(i, 1); res.end('ok'); } }, 30000);
  release();
}).listen(8080, '${TARGET_ADDRESS}', () => console.log('listening'));
`;

/** What the target server's stdin and stdout must be: both pipes (see TARGET_SERVER). */
export interface TargetProcess {
  stdin: NodeJS.WritableStream | null;
  stdout: NodeJS.ReadableStream | null;
}

/**
 * Tells the target server to answer requests N at a time, and resolves once
 * it acknowledged (before any launch of the group starts).
 */
export function targetGroup(server: TargetProcess, n: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (d: Buffer | string) => {
      seen += String(d);
      if (seen.includes(`group ${n}\n`)) {
        server.stdout!.off('data', onData);
        resolve();
      }
    };
    server.stdout!.on('data', onData);
    server.stdin!.write(`${n}\n`, (error) => error && reject(error));
  });
}

/**
 * curl's arguments for one request to the target: the body to /dev/null and
 * one `status CODE port LOCALPORT` line (the local port is the stream's
 * SOURCE_ADDR at tor). Two curls of one launch share stdout, and a body
 * written apart from its -w line could interleave.
 */
export const CURL_ARGS = [
  '-sS',
  '--max-time',
  '40',
  '-o',
  '/dev/null',
  '-w',
  'status %{http_code} port %{local_port}\\n',
  TARGET_URL,
];

/**
 * The stream of each local PORT, once tor reported its circuit and its end
 * (CLOSED events may trail the program's exit by a moment); throws after
 * TIMEOUT_MS with WATCHER's last events.
 */
export async function waitForStreams(
  watcher: StreamWatcher,
  ports: number[],
  timeoutMs = 5000,
): Promise<StreamRecord[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const streams = ports.map((p) => watcher.bySourcePort(p));
    if (streams.every((s) => s?.circuit && s.closedAt !== null)) return streams as StreamRecord[];
    if (Date.now() > deadline) {
      throw new Error(
        `no SUCCEEDED/CLOSED stream for ports ${ports.join(', ')}:\n${watcher.events.slice(-30).join('\n')}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Gives namespace NS the target's address (on a dummy interface, or where the
 * kernel has no dummy driver, as in containers without the module, a bridge
 * with no ports) and starts the target server there; resolves once it
 * listens. `server` is the server's own process (`ip netns exec` execs
 * node): stop it by its PID. (Wrapped: an async function would await it.)
 */
export async function startTarget(ns: string): Promise<{ server: ResultPromise }> {
  const inNs = (argv: string[], reject = true) => execa('ip', ['netns', 'exec', ns, ...argv], { reject });
  const dummy = await inNs(['ip', 'link', 'add', 'tl0', 'type', 'dummy'], false);
  if (dummy.exitCode !== 0) await inNs(['ip', 'link', 'add', 'tl0', 'type', 'bridge']);
  await inNs(['ip', 'addr', 'add', `${TARGET_ADDRESS}/32`, 'dev', 'tl0']);
  await inNs(['ip', 'link', 'set', 'tl0', 'up']);
  const server = execa('ip', ['netns', 'exec', ns, process.execPath, '-e', TARGET_SERVER], {
    reject: false,
    stdin: 'pipe',
  });
  await new Promise<void>((resolve, reject) => {
    server.stdout!.on('data', (d: Buffer) => String(d).includes('listening') && resolve());
    server.once('exit', () => reject(new Error('the target HTTP server exited')));
  });
  return { server };
}
