// A small client for Tor's control protocol (control-spec.txt), enough for
// `tails-launch doctor`: PROTOCOLINFO, AUTHCHALLENGE + AUTHENTICATE (SAFECOOKIE,
// password or none), GETINFO, GETCONF and QUIT, over TCP or a unix socket,
// every step bounded by a timeout and every reply by a size.
//
// doctor runs as root and talks to whatever answers at the configured
// address, so the peer is not trusted until it has proven that it knows the
// cookie: cookie authentication is SAFECOOKIE only (the cookie itself never
// goes on the wire, and the peer's hash is checked before ours is sent); the
// only files read are the ones the caller names (never the COOKIEFILE the
// peer's PROTOCOLINFO names), opened without following a symbolic link or
// blocking on a FIFO, and bounded in size; the text of error replies is
// escaped (escapeControlText) so that it cannot forge lines of output.
//
// Replies as tor 0.4.9 sends them (checked against it):
//   250-PROTOCOLINFO 1
//   250-AUTH METHODS=COOKIE,SAFECOOKIE,HASHEDPASSWORD COOKIEFILE="/run/tor/control.authcookie"
//   250-VERSION Tor="0.4.9.11"
//   250 OK
//   250-status/bootstrap-phase=NOTICE BOOTSTRAP PROGRESS=0 TAG=starting SUMMARY="Starting"
//   250-net/listeners/socks="127.0.0.1:9050" "127.0.0.1:9062"
//   250 OK
//   250+config-text=            (a data block: lines up to a lone ".", leading "." doubled)
//   250-SocksPort=127.0.0.1:9050 IsolateDestAddr IsolateDestPort   (GETCONF: values as written
//   250 SocksPort=127.0.0.1:9063 NoIsolateDestAddr                  in torrc, the LAST line too)
//   250 HTTPTunnelPort          (GETCONF of an unset option: no "=")
//   515 Authentication failed: Password did not match HashedControlPassword *or* authentication cookie.
//   552 Unrecognized key "nonexistent"
//   250 AUTHCHALLENGE SERVERHASH=<64 hex> SERVERNONCE=<64 hex>
// After a failed AUTHENTICATE tor closes the connection.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, type Stats } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { hostPort } from './address';
import { escapeControl } from '../errors/escape-control';

export type ControlErrorKind =
  /** Nothing answers at the address (refused, no such socket, unreachable). */
  | 'unreachable'
  /** No (complete) reply in time. */
  | 'timeout'
  /** Tor closed the connection. */
  | 'closed'
  /** Not the control protocol. */
  | 'protocol'
  /** 515 (bad authentication) or no usable authentication method. */
  | 'auth'
  /** 514: authentication required. */
  | 'auth-required'
  /** 552: unknown key or option. */
  | 'unknown-key'
  /** Any other error reply. */
  | 'reply'
  /** A local file (cookie, password) cannot be opened: missing, no permission. */
  | 'file'
  /** A local file is not what it must be: not a regular file, a symbolic link, the wrong size. */
  | 'file-content'
  /** The peer's AUTHCHALLENGE answer does not prove that it knows the cookie (or is malformed). */
  | 'challenge'
  /** The address is not ADDRESS:PORT, [IPv6]:PORT or unix:/path. */
  | 'address';

export class ControlError extends Error {
  constructor(
    readonly kind: ControlErrorKind,
    message: string,
    /** The reply's status code, for error replies. */
    readonly status?: number,
  ) {
    super(message);
    this.name = 'ControlError';
  }
}

// ---------------------------------------------------------------------------
// Text from the peer

/**
 * Text a control port sent, made to stay on its one line (readQuoted decodes
 * "\n" in a QuotedString into a real newline): the escaping every message of
 * tails-launch gets, from src/errors/ below every stage.
 */
export const escapeControlText = escapeControl;

// ---------------------------------------------------------------------------
// Replies

/**
 * The most a reply may take, in bytes (its lines and data blocks, CRLFs
 * included). What doctor asks for is a few hundred bytes from a real Tor; a
 * peer that sends more (or one endless line) is cut off, not buffered.
 */
export const MAX_REPLY_BYTES = 64 * 1024;

export interface ReplyLine {
  status: number;
  /** '-' (more lines follow), '+' (a data block follows), ' ' (the last line). */
  separator: '-' | '+' | ' ';
  text: string;
  /** For '+' lines: the data block, lines joined by "\n", dot-unstuffed. */
  data?: string;
}

export interface Reply {
  /** The status of the last line. */
  status: number;
  lines: ReplyLine[];
}

/** Splits a stream of bytes from Tor into replies; feed it chunks as they arrive. */
export class ReplyParser {
  private buffer = '';
  private lines: ReplyLine[] = [];
  /** The '+' line whose data block is being read. */
  private block: { line: ReplyLine; data: string[] } | null = null;
  /** Bytes of the reply being read, in its complete lines so far. */
  private replyBytes = 0;

  /** Chunks are latin1 strings: one character per byte, so lengths are byte counts. */
  constructor(private readonly maxReplyBytes = MAX_REPLY_BYTES) {}

  /** Throws ControlError 'protocol' as soon as a reply (or its unfinished last line) exceeds the bound. */
  push(chunk: string): Reply[] {
    this.buffer += chunk;
    const replies: Reply[] = [];
    for (;;) {
      const end = this.buffer.indexOf('\n');
      if (end < 0) break;
      this.replyBytes += end + 1;
      this.checkSize(0);
      // Tor ends lines with CRLF; a bare LF is accepted.
      const raw = this.buffer.slice(0, end).replace(/\r$/, '');
      this.buffer = this.buffer.slice(end + 1);
      if (this.block) {
        if (raw === '.') {
          this.block.line.data = this.block.data.join('\n');
          this.block = null;
        } else {
          this.block.data.push(raw.startsWith('.') ? raw.slice(1) : raw);
        }
        continue;
      }
      const match = /^(\d{3})([- +])(.*)$/s.exec(raw);
      if (!match)
        throw new ControlError(
          'protocol',
          `not a control-protocol reply line: ${escapeControlText(JSON.stringify(raw.slice(0, 80)))}`,
        );
      const line: ReplyLine = {
        status: Number(match[1]),
        separator: match[2] as ReplyLine['separator'],
        text: match[3]!,
      };
      this.lines.push(line);
      if (line.separator === '+') this.block = { line, data: [] };
      else if (line.separator === ' ') {
        replies.push({ status: line.status, lines: this.lines });
        this.lines = [];
        this.replyBytes = 0;
      }
    }
    // A line without its end yet counts too: an endless line is cut off as well.
    this.checkSize(this.buffer.length);
    return replies;
  }

  private checkSize(pending: number): void {
    if (this.replyBytes + pending > this.maxReplyBytes) {
      throw new ControlError(
        'protocol',
        `a reply longer than ${this.maxReplyBytes} bytes, more than Tor ever sends doctor`,
      );
    }
  }
}

/** Parses every complete reply in TEXT (for tests and one-shot use). */
export function parseReplies(text: string): Reply[] {
  return new ReplyParser().push(text);
}

/** Throws the typed error for an error reply (status 4xx/5xx); returns REPLY otherwise. */
export function checkReply(reply: Reply, what: string): Reply {
  if (reply.status >= 200 && reply.status < 300) return reply;
  // The peer's words, escaped: they end up in doctor's output.
  const text = escapeControlText(reply.lines.map((l) => l.text).join(' '));
  const kind: ControlErrorKind =
    reply.status === 515
      ? 'auth'
      : reply.status === 514
        ? 'auth-required'
        : reply.status === 552
          ? 'unknown-key'
          : 'reply';
  throw new ControlError(kind, `${what}: Tor answered ${reply.status} ${text}`, reply.status);
}

/**
 * The key=value lines of a GETINFO or GETCONF reply, in order (a key given
 * several times, like SocksPort, appears several times). A data block is the
 * value of its '+' line. GETINFO ends with "250 OK", which is not a key;
 * GETCONF's last line is a key like the others, and a key without "=" (an
 * unset option) has the value null.
 */
export function keyValues(reply: Reply, kind: 'getinfo' | 'getconf'): Array<[string, string | null]> {
  const lines = kind === 'getinfo' ? reply.lines.slice(0, -1) : reply.lines;
  return lines.map((line): [string, string | null] => {
    const eq = line.text.indexOf('=');
    if (eq < 0) return [line.text, null];
    return [line.text.slice(0, eq), line.separator === '+' ? (line.data ?? '') : line.text.slice(eq + 1)];
  });
}

/** A control-protocol QuotedString: backslash, quote and control characters escaped. */
export function quoteString(text: string): string {
  const escaped = text.replace(
    /[\\"\r\n\t]/g,
    (c) => ({ '\\': '\\\\', '"': '\\"', '\r': '\\r', '\n': '\\n', '\t': '\\t' })[c]!,
  );
  return `"${escaped}"`;
}

/** Reads a QuotedString at the start of TEXT: its value and the rest of TEXT, or null. */
export function readQuoted(text: string): [string, string] | null {
  if (!text.startsWith('"')) return null;
  let value = '';
  for (let i = 1; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') return [value, text.slice(i + 1)];
    if (c === '\\' && i + 1 < text.length) {
      const next = text[++i]!;
      const octal = /^[0-7]{1,3}/.exec(text.slice(i))?.[0];
      if (octal) {
        value += String.fromCharCode(parseInt(octal, 8));
        i += octal.length - 1;
      } else value += ({ n: '\n', r: '\r', t: '\t' } as Record<string, string>)[next] ?? next;
    } else value += c;
  }
  return null;
}

/** A space-separated list of QuotedStrings (net/listeners/socks) or bare words. */
export function splitQuotedList(text: string): string[] {
  const out: string[] = [];
  let rest = text.trim();
  while (rest) {
    const quoted = readQuoted(rest);
    if (quoted) {
      out.push(quoted[0]);
      rest = quoted[1].trimStart();
    } else {
      const space = rest.search(/\s/);
      out.push(space < 0 ? rest : rest.slice(0, space));
      rest = space < 0 ? '' : rest.slice(space).trimStart();
    }
  }
  return out;
}

/** KEY=VALUE and KEY="quoted value" pairs after a line's first word(s), as in PROTOCOLINFO and bootstrap-phase. */
export function parseArguments(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let rest = text.trim();
  while (rest) {
    const m = /^([A-Za-z0-9_]+)=/.exec(rest);
    if (!m) {
      const space = rest.search(/\s/);
      rest = space < 0 ? '' : rest.slice(space).trimStart();
      continue;
    }
    rest = rest.slice(m[0].length);
    const quoted = readQuoted(rest);
    if (quoted) {
      out.set(m[1]!.toUpperCase(), quoted[0]);
      rest = quoted[1].trimStart();
    } else {
      const space = rest.search(/\s/);
      out.set(m[1]!.toUpperCase(), space < 0 ? rest : rest.slice(0, space));
      rest = space < 0 ? '' : rest.slice(space).trimStart();
    }
  }
  return out;
}

export interface ProtocolInfo {
  /** Upper case: NULL, HASHEDPASSWORD, COOKIE, SAFECOOKIE. */
  methods: string[];
  cookieFile: string | null;
  torVersion: string | null;
}

export function parseProtocolInfo(reply: Reply): ProtocolInfo {
  checkReply(reply, 'PROTOCOLINFO');
  const info: ProtocolInfo = { methods: [], cookieFile: null, torVersion: null };
  for (const line of reply.lines) {
    if (line.text.startsWith('AUTH ')) {
      const args = parseArguments(line.text.slice(5));
      info.methods = (args.get('METHODS') ?? '')
        .split(',')
        .filter(Boolean)
        .map((m) => m.toUpperCase());
      info.cookieFile = args.get('COOKIEFILE') ?? null;
    } else if (line.text.startsWith('VERSION ')) {
      info.torVersion = parseArguments(line.text.slice(8)).get('TOR') ?? null;
    }
  }
  return info;
}

export interface BootstrapPhase {
  severity: string;
  progress: number;
  tag: string | null;
  summary: string | null;
  warning: string | null;
}

/** `NOTICE BOOTSTRAP PROGRESS=0 TAG=starting SUMMARY="Starting"` */
export function parseBootstrapPhase(value: string): BootstrapPhase | null {
  const m = /^(\S+)\s+BOOTSTRAP\s+(.*)$/s.exec(value.trim());
  if (!m) return null;
  const args = parseArguments(m[2]!);
  const progress = Number(args.get('PROGRESS'));
  if (!Number.isInteger(progress)) return null;
  return {
    severity: m[1]!,
    progress,
    tag: args.get('TAG') ?? null,
    summary: args.get('SUMMARY') ?? null,
    warning: args.get('WARNING') ?? null,
  };
}

// ---------------------------------------------------------------------------
// Addresses

export type ControlAddress = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

export function parseControlAddress(text: string): ControlAddress {
  if (/^unix:/i.test(text)) {
    const path = text.slice(5).replace(/^"(.*)"$/, '$1');
    if (!path.startsWith('/'))
      throw new ControlError('address', `'${text}' is not a control address: unix: needs an absolute path`);
    return { kind: 'unix', path };
  }
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:\s[\]]+)):(\d{1,5})$/.exec(text);
  const port = Number(m?.[3]);
  if (!m || port < 1 || port > 65535) {
    throw new ControlError(
      'address',
      `'${text}' is not a control address: use ADDRESS:PORT, [IPv6]:PORT or unix:/path`,
    );
  }
  return { kind: 'tcp', host: m[1] ?? m[2]!, port };
}

export function formatControlAddress(address: ControlAddress): string {
  if (address.kind === 'unix') return `unix:${address.path}`;
  return hostPort(address.host, address.port);
}

// ---------------------------------------------------------------------------
// The connection

/**
 * How to authenticate. 'cookie' is always SAFECOOKIE with the cookie in FILE
 * (never plain COOKIE, which would send the cookie itself to the peer), and
 * FILE is always one the caller chose: never the COOKIEFILE of PROTOCOLINFO.
 */
export type Authentication = { kind: 'none' } | { kind: 'cookie'; file: string } | { kind: 'password'; file: string };

export interface ConnectOptions {
  timeoutMs?: number;
  /** The most one reply may take (MAX_REPLY_BYTES unless given). */
  maxReplyBytes?: number;
}

// control-spec.txt, "AUTHCHALLENGE": the HMAC-SHA256 keys of SAFECOOKIE.
const SAFECOOKIE_SERVER_KEY = 'Tor safe cookie authentication server-to-controller hash';
const SAFECOOKIE_CLIENT_KEY = 'Tor safe cookie authentication controller-to-server hash';
/** Tor's cookie (CookieAuthFile) is 32 random bytes, and its nonces are 32 bytes. */
export const COOKIE_BYTES = 32;
/** A control password file holds one password: anything bigger is not one. */
export const MAX_PASSWORD_FILE_BYTES = 1024;

/** An authenticated (or not yet) control connection. Commands are sent one at a time. */
export class ControlConnection {
  /** Asynchronous events (650 replies, after SETEVENTS), as they arrive; ignored while none is set. */
  onEvent: ((event: Reply) => void) | null = null;
  /** Called once when the connection fails or closes (a watcher's cue to stop), with why. */
  onFailure: ((error: ControlError) => void) | null = null;
  private readonly parser: ReplyParser;
  private pending: { resolve: (r: Reply) => void; reject: (e: Error) => void; timer: NodeJS.Timeout } | null = null;
  private failure: ControlError | null = null;

  private constructor(
    private readonly socket: Socket,
    readonly address: ControlAddress,
    private readonly timeoutMs: number,
    maxReplyBytes: number,
  ) {
    this.parser = new ReplyParser(maxReplyBytes);
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      // Once failed (too big, not the protocol), nothing more is read.
      if (this.failure) return;
      let replies: Reply[];
      try {
        replies = this.parser.push(chunk);
      } catch (error) {
        this.fail(error as ControlError);
        return;
      }
      for (const reply of replies) {
        // 6xx: asynchronous events, to whoever listens (SETEVENTS asked for them), never taken as an answer.
        if (reply.status >= 600) {
          this.onEvent?.(reply);
          continue;
        }
        const pending = this.pending;
        this.pending = null;
        if (!pending) {
          // Tor answers only what it is asked: a reply ahead of its command
          // would be taken as the answer to the next one.
          this.fail(new ControlError('protocol', `${formatControlAddress(address)} sent a reply nobody asked for`));
          return;
        }
        clearTimeout(pending.timer);
        pending.resolve(reply);
      }
    });
    socket.on('error', (error) =>
      this.fail(
        new ControlError(
          'closed',
          `the control connection failed: ${(error as NodeJS.ErrnoException).code ?? error.message}`,
        ),
      ),
    );
    socket.on('close', () =>
      this.fail(new ControlError('closed', `Tor closed the control connection at ${formatControlAddress(address)}`)),
    );
  }

  private fail(error: ControlError): void {
    const first = this.failure === null;
    this.failure ??= error;
    if (first) this.onFailure?.(error);
    this.socket.destroy();
    const pending = this.pending;
    this.pending = null;
    if (pending) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
  }

  static connect(address: ControlAddress, options: ConnectOptions = {}): Promise<ControlConnection> {
    const timeoutMs = options.timeoutMs ?? 5000;
    const where = formatControlAddress(address);
    return new Promise((resolve, reject) => {
      const socket =
        address.kind === 'unix' ? connect({ path: address.path }) : connect({ host: address.host, port: address.port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new ControlError('timeout', `no connection to ${where} within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      socket.once('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        const reason =
          error.code === 'ECONNREFUSED' || error.code === 'ENOENT'
            ? `nothing listens on ${where}`
            : error.code === 'EACCES'
              ? `no permission to open ${where}`
              : `cannot connect to ${where}: ${error.code ?? error.message}`;
        reject(new ControlError('unreachable', reason));
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new ControlConnection(socket, address, timeoutMs, options.maxReplyBytes ?? MAX_REPLY_BYTES));
      });
    });
  }

  /** Sends one command line and waits for its reply (error replies are returned, not thrown). */
  send(command: string): Promise<Reply> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.pending) return Promise.reject(new Error('ControlConnection.send: one command at a time'));
    if (/[\r\n]/.test(command)) return Promise.reject(new Error('ControlConnection.send: a command is one line'));
    const verb = command.split(' ')[0];
    return new Promise((resolve, reject) => {
      // One deadline per command, not reset by what arrives: a peer that
      // trickles bytes is cut off as surely as one that says nothing.
      const timer = setTimeout(() => {
        this.pending = null;
        const error = new ControlError(
          'timeout',
          `no answer to ${verb} from ${formatControlAddress(this.address)} within ${this.timeoutMs / 1000} s`,
        );
        this.fail(error);
        reject(error);
      }, this.timeoutMs);
      this.pending = { resolve, reject, timer };
      this.socket.write(`${command}\r\n`, 'latin1');
    });
  }

  async protocolInfo(): Promise<ProtocolInfo> {
    const reply = await this.send('PROTOCOLINFO 1');
    if (reply.status === 250 && !reply.lines.some((l) => l.text.startsWith('PROTOCOLINFO'))) {
      throw new ControlError(
        'protocol',
        `${formatControlAddress(this.address)} does not answer PROTOCOLINFO like Tor's control port`,
      );
    }
    return parseProtocolInfo(reply);
  }

  /**
   * AUTHENTICATE with AUTH; throws ControlError 'auth' (515), 'file' or
   * 'file-content' (the local file), 'challenge' (the peer did not prove
   * that it knows the cookie: nothing was sent that depends on it).
   */
  async authenticate(auth: Authentication): Promise<void> {
    let argument = '';
    if (auth.kind === 'cookie')
      argument = ` ${(await this.safeCookie(readCookieFile(auth.file), auth.file)).toString('hex')}`;
    if (auth.kind === 'password') argument = ` ${quoteString(readPasswordFile(auth.file))}`;
    checkReply(await this.send(`AUTHENTICATE${argument}`), 'AUTHENTICATE');
  }

  /**
   * SAFECOOKIE (control-spec.txt, AUTHCHALLENGE): sends a random client
   * nonce; the peer answers with its nonce and HMAC(server key, cookie |
   * client nonce | server nonce), which only a holder of the cookie can
   * compute. That is checked (in constant time) before the client hash,
   * HMAC(client key, same message), is returned for AUTHENTICATE. A peer
   * that does not know the cookie learns nothing from it: it gets no hash
   * at all, and the cookie never crosses the wire.
   */
  private async safeCookie(cookie: Buffer, file: string): Promise<Buffer> {
    const clientNonce = randomBytes(COOKIE_BYTES);
    const reply = checkReply(
      await this.send(`AUTHCHALLENGE SAFECOOKIE ${clientNonce.toString('hex')}`),
      'AUTHCHALLENGE',
    );
    const line = reply.lines.find((l) => l.text.startsWith('AUTHCHALLENGE '));
    const args = parseArguments(line?.text.slice('AUTHCHALLENGE '.length) ?? '');
    const hex64 = /^[0-9A-Fa-f]{64}$/;
    const serverHash = args.get('SERVERHASH') ?? '';
    const serverNonce = args.get('SERVERNONCE') ?? '';
    if (!hex64.test(serverHash) || !hex64.test(serverNonce)) {
      throw new ControlError(
        'challenge',
        `${formatControlAddress(this.address)} answered AUTHCHALLENGE without a 32-byte SERVERHASH and SERVERNONCE`,
      );
    }
    const message = Buffer.concat([cookie, clientNonce, Buffer.from(serverNonce, 'hex')]);
    const expected = createHmac('sha256', SAFECOOKIE_SERVER_KEY).update(message).digest();
    if (!timingSafeEqual(expected, Buffer.from(serverHash, 'hex'))) {
      throw new ControlError(
        'challenge',
        `${formatControlAddress(this.address)} does not prove that it knows the cookie in ${file} (its AUTHCHALLENGE hash is wrong): it is not the Tor that wrote that file, or the file is stale`,
      );
    }
    return createHmac('sha256', SAFECOOKIE_CLIENT_KEY).update(message).digest();
  }

  /** GETINFO KEYS: a map from key to value (a data block's value is its text). */
  async getInfo(keys: string[]): Promise<Map<string, string>> {
    const reply = checkReply(await this.send(`GETINFO ${keys.join(' ')}`), `GETINFO ${keys.join(' ')}`);
    return new Map(keyValues(reply, 'getinfo').map(([k, v]) => [k, v ?? '']));
  }

  /** GETCONF OPTION: its values, one per line (none when the option is unset). */
  async getConf(option: string): Promise<string[]> {
    const reply = checkReply(await this.send(`GETCONF ${option}`), `GETCONF ${option}`);
    return keyValues(reply, 'getconf')
      .filter(([k, v]) => k.toLowerCase() === option.toLowerCase() && v !== null)
      .map(([, v]) => v!);
  }

  /** QUIT, then close; never throws. */
  async quit(): Promise<void> {
    try {
      if (!this.failure) await this.send('QUIT');
    } catch {
      // closing anyway
    }
    this.close();
  }

  close(): void {
    this.failure ??= new ControlError('closed', 'the control connection is closed');
    this.socket.destroy();
  }
}

// ---------------------------------------------------------------------------
// Local secrets

const FILE_TYPES: Array<[(s: Stats) => boolean, string]> = [
  [(s) => s.isSymbolicLink(), 'a symbolic link (name the file itself)'],
  [(s) => s.isFIFO(), 'a FIFO'],
  [(s) => s.isDirectory(), 'a directory'],
  [(s) => s.isCharacterDevice() || s.isBlockDevice(), 'a device'],
  [(s) => s.isSocket(), 'a socket'],
];

/**
 * At most LIMIT + 1 bytes of FILE, which must be a regular file. The type is
 * checked before opening (lstat: a FIFO or a device is never opened, so
 * neither can block or have side effects), the open follows no symbolic link
 * and does not block (O_NOFOLLOW, O_NONBLOCK: should the path be swapped for
 * a FIFO in between), and fstat must find the very file lstat saw. Reading
 * one byte past LIMIT tells a too-big file without reading it all.
 */
function readSmallRegularFile(file: string, what: string, limit: number): Buffer {
  const refuse = (reason: string) => new ControlError('file-content', `the control ${what} file ${file} is ${reason}`);
  const cannot = (error: unknown) => {
    const code = (error as NodeJS.ErrnoException).code;
    const hint =
      code === 'EACCES' ? ' (run as root, or as a member of the group that may read it, e.g. debian-tor)' : '';
    return new ControlError('file', `cannot read the control ${what} file ${file}: ${code ?? String(error)}${hint}`);
  };
  let before: Stats;
  try {
    before = lstatSync(file);
  } catch (error) {
    throw cannot(error);
  }
  const type = FILE_TYPES.find(([test]) => test(before));
  if (type) throw refuse(type[1]);
  if (!before.isFile()) throw refuse('not a regular file');
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (error) {
    // ELOOP: it became a symbolic link since lstat.
    if ((error as NodeJS.ErrnoException).code === 'ELOOP') throw refuse('a symbolic link (name the file itself)');
    throw cannot(error);
  }
  try {
    const opened = fstatSync(fd);
    if (!opened.isFile() || opened.dev !== before.dev || opened.ino !== before.ino)
      throw refuse('being replaced (it changed while being opened)');
    const buffer = Buffer.alloc(limit + 1);
    let length = 0;
    // Files under /proc say size 0: read until the end, whatever fstat says.
    for (;;) {
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
      if (length === buffer.length) break;
    }
    return buffer.subarray(0, length);
  } catch (error) {
    throw error instanceof ControlError ? error : cannot(error);
  } finally {
    closeSync(fd);
  }
}

/** The 32 bytes of Tor's cookie in FILE (a regular file of exactly 32 bytes, as Tor writes it). */
export function readCookieFile(file: string): Buffer {
  const cookie = readSmallRegularFile(file, 'cookie', COOKIE_BYTES);
  if (cookie.length !== COOKIE_BYTES) {
    throw new ControlError(
      'file-content',
      `the control cookie file ${file} is ${cookie.length > COOKIE_BYTES ? `more than ${COOKIE_BYTES}` : cookie.length} bytes, not the ${COOKIE_BYTES} of a Tor cookie (CookieAuthFile)`,
    );
  }
  return cookie;
}

/** The password in FILE (a small regular file) without one trailing newline (as `echo PASSWORD > FILE` writes it). */
export function readPasswordFile(file: string): string {
  const content = readSmallRegularFile(file, 'password', MAX_PASSWORD_FILE_BYTES);
  if (content.length > MAX_PASSWORD_FILE_BYTES) {
    throw new ControlError(
      'file-content',
      `the control password file ${file} is more than ${MAX_PASSWORD_FILE_BYTES} bytes: not a password file`,
    );
  }
  return content.toString('utf8').replace(/\r?\n$/, '');
}
