/**
 * A small, real SOCKS5 server for tests (RFC 1928 + RFC 1929), Node built-ins only.
 *
 * It behaves like Tor where the launcher cares: it prefers username/password
 * auth when offered, answers Tor's RESOLVE (0xF0) / RESOLVE_PTR (0xF1)
 * extensions, and records every request with its credentials. It opens no
 * outbound connection of its own: a CONNECT is answered "succeeded" and the
 * server then plays a tiny HTTP server on that same connection. Only a
 * destination the test names in OPTIONS.forward ("HOST:PORT" -> a Unix
 * socket's path) is relayed, as Tor's exit would, to a real server there
 * (a path: no address in any namespace leads to it).
 */
import net from 'node:net';
import { isUtf8 } from 'node:buffer';

export interface SocksRequestRecord {
  auth: 'none' | 'userpass';
  username?: string; // UTF-8 if the bytes are valid UTF-8, else latin1 (one char per byte)
  password?: string;
  offeredMethods: number[]; // methods offered in the greeting
  command: 'connect' | 'resolve' | 'resolve_ptr'; // 0x01, 0xF0, 0xF1 (Tor extensions)
  addressType: 'ipv4' | 'domain' | 'ipv6';
  host: string;
  port: number;
  clientPort: number; // remote port of the client's TCP connection
  clientAddress: string; // remote address of the client's TCP connection (a namespace's side, for placement)
  serverPort: number; // the port this server listens on
}

export interface Socks5Server {
  host: string;
  port: number;
  records: SocksRequestRecord[];
  waitForRecords(count: number, timeoutMs?: number): Promise<SocksRequestRecord[]>;
  clear(): void;
  close(): Promise<void>;
}

export interface HttpTestServer {
  host: string;
  port: number;
  readonly connections: number;
  close(): Promise<void>;
}

const LOOPBACK = '127.0.0.1';
const SOCKET_IDLE_MS = 10_000;
const HTTP_BODY = 'ok via socks5\n';
const RESOLVE_PTR_ANSWER = 'resolved.test';

const SOCKS_VERSION = 0x05;
const AUTH_VERSION = 0x01;
const METHOD_NONE = 0x00;
const METHOD_USERPASS = 0x02;
const METHOD_REJECT = 0xff;
const REP_SUCCEEDED = 0x00;
const REP_COMMAND_NOT_SUPPORTED = 0x07;
const REP_ADDRESS_NOT_SUPPORTED = 0x08;

const COMMANDS: Record<number, SocksRequestRecord['command']> = {
  0x01: 'connect',
  0xf0: 'resolve',
  0xf1: 'resolve_ptr',
};

class ProtocolError extends Error {}

/** Buffers incoming bytes so the protocol code can read exact lengths across TCP segments. */
class SocketReader {
  private buffered = Buffer.alloc(0);
  private wake: (() => void) | null = null;
  private ended = false;
  private readonly onData = (chunk: Buffer): void => {
    this.buffered = Buffer.concat([this.buffered, chunk]);
    this.notify();
  };

  constructor(private readonly socket: net.Socket) {
    socket.on('data', this.onData);
    const finish = (): void => {
      this.ended = true;
      this.notify();
    };
    socket.on('end', finish);
    socket.on('close', finish);
  }

  async read(length: number): Promise<Buffer> {
    await this.waitUntil(() => this.buffered.length >= length);
    return this.take(length);
  }

  async readByte(): Promise<number> {
    return (await this.read(1))[0] as number;
  }

  async readUntil(delimiter: string): Promise<Buffer> {
    await this.waitUntil(() => this.buffered.includes(delimiter));
    return this.take(this.buffered.indexOf(delimiter) + delimiter.length);
  }

  /** Everything buffered so far; the reader reads nothing after this (the caller takes the socket over). */
  release(): Buffer {
    this.socket.off('data', this.onData);
    this.ended = true;
    return this.take(this.buffered.length);
  }

  private take(length: number): Buffer {
    const head = this.buffered.subarray(0, length);
    this.buffered = this.buffered.subarray(length);
    return head;
  }

  private async waitUntil(ready: () => boolean): Promise<void> {
    while (!ready()) {
      if (this.ended) throw new ProtocolError('connection closed before enough data arrived');
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }
}

function decodeText(bytes: Buffer): string {
  return isUtf8(bytes) ? bytes.toString('utf8') : bytes.toString('latin1');
}

function reply(socket: net.Socket, code: number): void {
  // VER REP RSV ATYP=IPv4 0.0.0.0 port 0
  socket.write(Buffer.from([SOCKS_VERSION, code, 0x00, 0x01, 0, 0, 0, 0, 0, 0]));
}

/** Greeting: returns the offered methods and the one chosen (Tor prefers 0x02). */
async function negotiateMethod(
  reader: SocketReader,
  socket: net.Socket,
): Promise<{ offered: number[]; chosen: number }> {
  const [version, count] = await reader.read(2);
  if (version !== SOCKS_VERSION) throw new ProtocolError(`not SOCKS5 (version byte ${version})`);
  const offered = [...(await reader.read(count as number))];
  const chosen = offered.includes(METHOD_USERPASS)
    ? METHOD_USERPASS
    : offered.includes(METHOD_NONE)
      ? METHOD_NONE
      : METHOD_REJECT;
  socket.write(Buffer.from([SOCKS_VERSION, chosen]));
  if (chosen === METHOD_REJECT) throw new ProtocolError('no acceptable auth method');
  return { offered, chosen };
}

/** RFC 1929 sub-negotiation. Like Tor, any username/password is accepted. */
async function readCredentials(
  reader: SocketReader,
  socket: net.Socket,
): Promise<{ username: string; password: string }> {
  const version = await reader.readByte();
  if (version !== AUTH_VERSION) {
    socket.write(Buffer.from([AUTH_VERSION, 0x01]));
    throw new ProtocolError(`bad RFC 1929 version byte ${version}`);
  }
  const username = decodeText(await reader.read(await reader.readByte()));
  const password = decodeText(await reader.read(await reader.readByte()));
  socket.write(Buffer.from([AUTH_VERSION, 0x00]));
  return { username, password };
}

async function readAddress(
  reader: SocketReader,
  socket: net.Socket,
): Promise<{ addressType: SocksRequestRecord['addressType']; host: string }> {
  const atyp = await reader.readByte();
  if (atyp === 0x01) return { addressType: 'ipv4', host: [...(await reader.read(4))].join('.') };
  if (atyp === 0x03) return { addressType: 'domain', host: decodeText(await reader.read(await reader.readByte())) };
  if (atyp === 0x04) {
    const bytes = await reader.read(16);
    const groups = Array.from({ length: 8 }, (_, i) => bytes.readUInt16BE(i * 2).toString(16));
    return { addressType: 'ipv6', host: groups.join(':') };
  }
  reply(socket, REP_ADDRESS_NOT_SUPPORTED);
  throw new ProtocolError(`unsupported address type ${atyp}`);
}

/** Request: VER CMD RSV ATYP DST.ADDR DST.PORT. */
async function readRequest(
  reader: SocketReader,
  socket: net.Socket,
): Promise<Pick<SocksRequestRecord, 'command' | 'addressType' | 'host' | 'port'>> {
  const [version, cmd] = await reader.read(3);
  if (version !== SOCKS_VERSION) throw new ProtocolError(`request version byte ${version}`);
  const command = COMMANDS[cmd as number];
  if (command === undefined) {
    reply(socket, REP_COMMAND_NOT_SUPPORTED);
    throw new ProtocolError(`unsupported command ${cmd}`);
  }
  const address = await readAddress(reader, socket);
  const port = (await reader.read(2)).readUInt16BE(0);
  return { command, ...address, port };
}

function answerResolve(socket: net.Socket, resolveTo: string): void {
  const ip = resolveTo.split('.').map(Number);
  socket.end(Buffer.from([SOCKS_VERSION, REP_SUCCEEDED, 0x00, 0x01, ...ip, 0, 0]));
}

function answerResolvePtr(socket: net.Socket): void {
  const name = Buffer.from(RESOLVE_PTR_ANSWER, 'ascii');
  socket.end(
    Buffer.concat([Buffer.from([SOCKS_VERSION, REP_SUCCEEDED, 0x00, 0x03, name.length]), name, Buffer.from([0, 0])]),
  );
}

/** After CONNECT "succeeds", act as the destination: one HTTP exchange, then close. */
async function serveHttp(reader: SocketReader, socket: net.Socket): Promise<void> {
  reply(socket, REP_SUCCEEDED);
  await reader.readUntil('\r\n\r\n');
  socket.end(
    'HTTP/1.1 200 OK\r\n' +
      'Content-Type: text/plain\r\n' +
      `Content-Length: ${Buffer.byteLength(HTTP_BODY)}\r\n` +
      'Connection: close\r\n\r\n' +
      HTTP_BODY,
  );
}

/** CONNECT to a destination the test named: relay both ways to the real server at PATH (a Unix socket). */
async function relayTo(reader: SocketReader, socket: net.Socket, path: string): Promise<void> {
  const target = net.createConnection(path);
  await new Promise<void>((resolve, reject) => {
    target.once('connect', resolve);
    target.once('error', reject);
  });
  target.on('error', () => socket.destroy());
  socket.on('close', () => target.destroy());
  reply(socket, REP_SUCCEEDED);
  // What the client sent with its request, then the rest as it comes.
  const early = reader.release();
  if (early.length > 0) target.write(early);
  socket.pipe(target);
  target.pipe(socket);
}

async function handleConnection(
  socket: net.Socket,
  serverPort: number,
  resolveTo: string,
  record: (r: SocksRequestRecord) => void,
  forward: Readonly<Record<string, string>> = {},
): Promise<void> {
  const reader = new SocketReader(socket);
  const { offered, chosen } = await negotiateMethod(reader, socket);
  const credentials = chosen === METHOD_USERPASS ? await readCredentials(reader, socket) : undefined;
  const request = await readRequest(reader, socket);
  record({
    auth: credentials ? 'userpass' : 'none',
    ...(credentials ?? {}),
    offeredMethods: offered,
    ...request,
    clientPort: socket.remotePort ?? 0,
    clientAddress: socket.remoteAddress ?? '',
    serverPort,
  });
  if (request.command === 'resolve') answerResolve(socket, resolveTo);
  else if (request.command === 'resolve_ptr') answerResolvePtr(socket);
  else if (Object.hasOwn(forward, `${request.host}:${request.port}`))
    await relayTo(reader, socket, forward[`${request.host}:${request.port}`]!);
  else await serveHttp(reader, socket);
}

/** Tracks open sockets so close() can destroy them; one socket's errors never reach the server. */
function trackSockets(server: net.Server): Set<net.Socket> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.setTimeout(SOCKET_IDLE_MS, () => socket.destroy());
    socket.on('error', () => socket.destroy());
    socket.on('close', () => sockets.delete(socket));
  });
  return sockets;
}

async function listenOnLoopback(server: net.Server, port = 0, host = LOOPBACK): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as net.AddressInfo).port;
}

function closeServer(server: net.Server, sockets: Set<net.Socket>): Promise<void> {
  for (const socket of sockets) socket.destroy();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Collects records and lets tests wait for a given count. */
function createRecorder(): {
  records: SocksRequestRecord[];
  add(r: SocksRequestRecord): void;
  waitFor(count: number, timeoutMs: number): Promise<SocksRequestRecord[]>;
  clear(): void;
} {
  const records: SocksRequestRecord[] = [];
  let waiters: Array<() => void> = [];
  const wakeAll = (): void => {
    const current = waiters;
    waiters = [];
    current.forEach((wake) => wake());
  };
  return {
    records,
    add(r) {
      records.push(r);
      wakeAll();
    },
    clear() {
      records.length = 0;
    },
    async waitFor(count, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (records.length < count) {
        const left = deadline - Date.now();
        if (left <= 0)
          throw new Error(
            `timed out waiting for ${count} SOCKS records (got ${records.length}): ${JSON.stringify(records)}`,
          );
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      return [...records];
    },
  };
}

/**
 * OPTIONS.port: a fixed port (inside a test's own network namespace: Tails' 9050, 9062, 9063); else any free one.
 * OPTIONS.host: where to listen (default 127.0.0.1; Tor Browser's 10.200.1.1 in a placement test's world).
 * OPTIONS.forward: "HOST:PORT" of a CONNECT -> the Unix socket of the real server it is relayed to.
 */
export async function startSocks5Server(
  options: { resolveTo?: string; port?: number; host?: string; forward?: Record<string, string> } = {},
): Promise<Socks5Server> {
  const resolveTo = options.resolveTo ?? '192.0.2.1';
  if (net.isIPv4(resolveTo) === false) throw new Error(`resolveTo must be an IPv4 address: ${resolveTo}`);
  const recorder = createRecorder();
  const server = net.createServer();
  const sockets = trackSockets(server);
  const port = await listenOnLoopback(server, options.port, options.host);
  server.on('connection', (socket) => {
    handleConnection(socket, port, resolveTo, recorder.add, options.forward).catch(() => socket.destroy());
  });
  return {
    host: options.host ?? LOOPBACK,
    port,
    records: recorder.records,
    waitForRecords: (count, timeoutMs = 5_000) => recorder.waitFor(count, timeoutMs),
    clear: recorder.clear,
    close: () => closeServer(server, sockets),
  };
}

/** A TCP server on 127.0.0.1 that is NOT SOCKS: answers anything with an HTTP 400, for fail-closed tests. */
export async function startHttpServer(): Promise<HttpTestServer> {
  const server = net.createServer();
  const sockets = trackSockets(server);
  let connections = 0;
  server.on('connection', (socket) => {
    connections += 1;
    socket.once('data', () => {
      socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    });
  });
  const port = await listenOnLoopback(server);
  return {
    host: LOOPBACK,
    port,
    get connections() {
      return connections;
    },
    close: () => closeServer(server, sockets),
  };
}
