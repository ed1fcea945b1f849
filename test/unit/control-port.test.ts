// The control-protocol reply parser, on replies as tor 0.4.9.11 sends them
// (captured from a real tor), and the pieces doctor builds on it.
import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { chooseAuthentication } from '../../src/tor/control-checks';
import {
  checkReply,
  ControlConnection,
  ControlError,
  escapeControlText,
  keyValues,
  MAX_REPLY_BYTES,
  parseBootstrapPhase,
  parseControlAddress,
  parseProtocolInfo,
  parseReplies,
  quoteString,
  readCookieFile,
  readPasswordFile,
  readQuoted,
  ReplyParser,
  splitQuotedList,
} from '../../src/tor/control-port';

const PROTOCOLINFO =
  '250-PROTOCOLINFO 1\r\n250-AUTH METHODS=COOKIE,SAFECOOKIE,HASHEDPASSWORD COOKIEFILE="/run/tor/control.authcookie"\r\n250-VERSION Tor="0.4.9.11"\r\n250 OK\r\n';

describe('ReplyParser', () => {
  it('reads a multi-line reply: status, separators, text', () => {
    const [reply] = parseReplies(PROTOCOLINFO);
    expect(reply!.status).toBe(250);
    expect(reply!.lines.map((l) => l.separator)).toEqual(['-', '-', '-', ' ']);
    expect(reply!.lines[3]!.text).toBe('OK');
  });

  it('reads GETINFO key=value lines and ignores the final 250 OK', () => {
    const [reply] = parseReplies(
      '250-status/bootstrap-phase=NOTICE BOOTSTRAP PROGRESS=0 TAG=starting SUMMARY="Starting"\r\n250-net/listeners/socks="127.0.0.1:9050" "127.0.0.1:9062" "127.0.0.1:9063"\r\n250-version=0.4.9.11\r\n250 OK\r\n',
    );
    expect(keyValues(reply!, 'getinfo')).toEqual([
      ['status/bootstrap-phase', 'NOTICE BOOTSTRAP PROGRESS=0 TAG=starting SUMMARY="Starting"'],
      ['net/listeners/socks', '"127.0.0.1:9050" "127.0.0.1:9062" "127.0.0.1:9063"'],
      ['version', '0.4.9.11'],
    ]);
  });

  it('reads a 250+ data block up to the lone ".", unstuffing leading dots', () => {
    const [reply] = parseReplies(
      '250+config-text=\r\nSocksPort 9050\r\n..hidden\r\nLog notice stdout\r\n.\r\n250 OK\r\n',
    );
    expect(keyValues(reply!, 'getinfo')).toEqual([['config-text', 'SocksPort 9050\n.hidden\nLog notice stdout']]);
  });

  it('a data-block line that looks like a reply end does not end the reply', () => {
    const [reply, next] = parseReplies('250+x=\r\n250 OK\r\n.\r\n250 OK\r\n250 OK\r\n');
    expect(keyValues(reply!, 'getinfo')).toEqual([['x', '250 OK']]);
    expect(next!.lines).toHaveLength(1);
  });

  it('reads GETCONF: every line is a key, the last one too; an unset option has no "="', () => {
    const [socks] = parseReplies(
      '250-SocksPort=127.0.0.1:9050 IsolateDestAddr IsolateDestPort\r\n250-SocksPort=127.0.0.1:9062 IsolateDestAddr IsolateDestPort\r\n250 SocksPort=127.0.0.1:9063 NoIsolateDestAddr NoIsolateDestPort NoIsolateClientProtocol\r\n',
    );
    expect(keyValues(socks!, 'getconf').map(([, v]) => v)).toEqual([
      '127.0.0.1:9050 IsolateDestAddr IsolateDestPort',
      '127.0.0.1:9062 IsolateDestAddr IsolateDestPort',
      '127.0.0.1:9063 NoIsolateDestAddr NoIsolateDestPort NoIsolateClientProtocol',
    ]);
    const [unset] = parseReplies('250-HTTPTunnelPort\r\n250 DNSPort\r\n');
    expect(keyValues(unset!, 'getconf')).toEqual([
      ['HTTPTunnelPort', null],
      ['DNSPort', null],
    ]);
  });

  it('assembles replies split across chunks at any byte, and several replies in one chunk', () => {
    const text = `${PROTOCOLINFO}250 OK\r\n515 Authentication failed: Password did not match HashedControlPassword value from configuration\r\n`;
    for (let cut = 1; cut < text.length; cut += 7) {
      const parser = new ReplyParser();
      const replies = [...parser.push(text.slice(0, cut)), ...parser.push(text.slice(cut))];
      expect(replies.map((r) => r.status)).toEqual([250, 250, 515]);
    }
  });

  it('refuses what is not the control protocol', () => {
    expect(() => parseReplies('HTTP/1.0 400 Bad Request\r\n')).toThrow(ControlError);
  });

  it('is bounded: a reply of many lines, or one endless line, over the limit is refused as it arrives', () => {
    const line = `250-${'x'.repeat(94)}\r\n`;
    // Just under the limit: fine.
    const fits = new ReplyParser(1000);
    expect(fits.push(`${line.repeat(9)}250 OK\r\n`)).toHaveLength(1);
    // Many lines: refused before the reply ends.
    const many = new ReplyParser(1000);
    expect(() => {
      for (let i = 0; i < 11; i++) many.push(line);
    }).toThrow(/a reply longer than 1000 bytes/);
    // One line that never ends, in small chunks: refused once the bound is passed.
    const endless = new ReplyParser(1000);
    expect(() => {
      for (let i = 0; i < 20; i++) endless.push('250 ' + 'y'.repeat(60));
    }).toThrow(ControlError);
    // The default bound, and the count starts again with each reply.
    const parser = new ReplyParser();
    const half = `250-${'z'.repeat(MAX_REPLY_BYTES / 2 - 10)}\r\n250 OK\r\n`;
    for (let i = 0; i < 4; i++) expect(parser.push(half)).toHaveLength(1);
  });
});

describe('escapeControlText', () => {
  it('escapes C0, DEL, C1, line separators and bidi controls; leaves the rest, and escaping twice changes nothing', () => {
    const hostile = 'a\nok    forged\r\x1b[31mred\x9b2J\x7f\x00\t\u2028\u202e end \\n é';
    const once = escapeControlText(hostile);
    expect(once).toBe('a\\nok    forged\\r\\x1b[31mred\\x9b2J\\x7f\\x00\\t\\u{2028}\\u{202e} end \\n é');
    expect(once).not.toMatch(/[\x00-\x1f\x7f-\x9f\u2028\u202e]/);
    expect(escapeControlText(once)).toBe(once);
  });

  it("error replies carry the peer's text escaped", () => {
    try {
      checkReply(parseReplies('515 Authentication failed\x1b[2J\rok    all checks passed\r\n')[0]!, 'AUTHENTICATE');
      throw new Error('no error');
    } catch (error) {
      expect((error as ControlError).message).toBe(
        'AUTHENTICATE: Tor answered 515 Authentication failed\\x1b[2J\\rok    all checks passed',
      );
    }
  });
});

describe('error replies are typed', () => {
  const errorOf = (text: string) => {
    try {
      checkReply(parseReplies(text)[0]!, 'X');
    } catch (error) {
      return error as ControlError;
    }
    throw new Error('no error');
  };
  it('515: bad authentication', () => {
    const e = errorOf(
      '515 Authentication failed: Password did not match HashedControlPassword *or* authentication cookie.\r\n',
    );
    expect([e.kind, e.status]).toEqual(['auth', 515]);
  });
  it('552: unknown key', () => {
    expect(errorOf('552 Unrecognized key "nonexistent"\r\n').kind).toBe('unknown-key');
    expect(errorOf('552 Unrecognized configuration key "Nonexistent"\r\n').kind).toBe('unknown-key');
  });
  it('514: authentication required; others: reply', () => {
    expect(errorOf('514 Authentication required.\r\n').kind).toBe('auth-required');
    expect(errorOf('510 Unrecognized command "FOO"\r\n').kind).toBe('reply');
  });
});

describe('PROTOCOLINFO, bootstrap-phase, quoted strings', () => {
  it('PROTOCOLINFO gives the methods, the cookie file and the version', () => {
    expect(parseProtocolInfo(parseReplies(PROTOCOLINFO)[0]!)).toEqual({
      methods: ['COOKIE', 'SAFECOOKIE', 'HASHEDPASSWORD'],
      cookieFile: '/run/tor/control.authcookie',
      torVersion: '0.4.9.11',
    });
    const nullOnly = parseProtocolInfo(
      parseReplies('250-PROTOCOLINFO 1\r\n250-AUTH METHODS=NULL\r\n250-VERSION Tor="0.4.8.1"\r\n250 OK\r\n')[0]!,
    );
    expect(nullOnly).toEqual({ methods: ['NULL'], cookieFile: null, torVersion: '0.4.8.1' });
  });

  it('a COOKIEFILE with quotes and backslashes is unescaped', () => {
    const info = parseProtocolInfo(
      parseReplies('250-PROTOCOLINFO 1\r\n250-AUTH METHODS=COOKIE COOKIEFILE="/a \\"b\\"\\\\c"\r\n250 OK\r\n')[0]!,
    );
    expect(info.cookieFile).toBe('/a "b"\\c');
  });

  it('bootstrap-phase: progress, tag, summary, warning', () => {
    expect(parseBootstrapPhase('NOTICE BOOTSTRAP PROGRESS=0 TAG=starting SUMMARY="Starting"')).toEqual({
      severity: 'NOTICE',
      progress: 0,
      tag: 'starting',
      summary: 'Starting',
      warning: null,
    });
    expect(parseBootstrapPhase('NOTICE BOOTSTRAP PROGRESS=100 TAG=done SUMMARY="Done"')?.progress).toBe(100);
    expect(
      parseBootstrapPhase(
        'WARN BOOTSTRAP PROGRESS=5 TAG=conn SUMMARY="Connecting to a relay" WARNING="Connection refused" REASON=CONNECTREFUSED COUNT=3 RECOMMENDATION=ignore HOSTID="0000" HOSTADDR="127.0.0.1:7"',
      ),
    ).toMatchObject({ severity: 'WARN', progress: 5, warning: 'Connection refused' });
    expect(parseBootstrapPhase('garbage')).toBeNull();
  });

  it('quotes passwords so that Tor reads them back unchanged', () => {
    for (const password of ['plain', 'pa"ss\\word', 'tab\tnew\nline\r', 'ünï ço dé']) {
      const quoted = quoteString(password);
      expect(quoted).not.toMatch(/[\r\n]/);
      expect(readQuoted(quoted)).toEqual([password, '']);
    }
  });

  it('splits net/listeners/socks', () => {
    expect(splitQuotedList('"127.0.0.1:9050" "[::1]:9050" "unix:/run/tor/socks"')).toEqual([
      '127.0.0.1:9050',
      '[::1]:9050',
      'unix:/run/tor/socks',
    ]);
    expect(splitQuotedList('')).toEqual([]);
  });

  it('control addresses: ADDR:PORT, [v6]:PORT, unix:/path; anything else refused', () => {
    expect(parseControlAddress('127.0.0.1:9052')).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 9052 });
    expect(parseControlAddress('[::1]:9051')).toEqual({ kind: 'tcp', host: '::1', port: 9051 });
    expect(parseControlAddress('unix:/run/tor/control')).toEqual({ kind: 'unix', path: '/run/tor/control' });
    for (const bad of ['9051', '127.0.0.1', '::1:9051', 'unix:relative', '127.0.0.1:70000'])
      expect(() => parseControlAddress(bad)).toThrow(ControlError);
  });
});

describe('chooseAuthentication', () => {
  const info = (methods: string[], cookieFile: string | null = '/run/tor/control.authcookie') => ({
    methods,
    cookieFile,
    torVersion: null,
  });
  it('NULL allowed: no credentials', () => {
    expect(chooseAuthentication({}, { cookie_file: '/c' }, info(['NULL']))).toEqual({ kind: 'none' });
  });
  it('SAFECOOKIE with the configured cookie file, never the COOKIEFILE the control port names', () => {
    expect(chooseAuthentication({}, { cookie_file: '/c' }, info(['COOKIE', 'SAFECOOKIE']))).toEqual({
      kind: 'cookie',
      file: '/c',
    });
    expect(chooseAuthentication({ cookieFile: '/c2' }, { cookie_file: '/c' }, info(['SAFECOOKIE']))).toEqual({
      kind: 'cookie',
      file: '/c2',
    });
    // No cookie file configured: refused, whatever file the peer names.
    const none = chooseAuthentication({}, null, info(['COOKIE', 'SAFECOOKIE'], '/etc/shadow'));
    expect(none).toMatchObject({
      error: expect.stringContaining('no cookie file is configured'),
      fix: expect.stringContaining('--control-cookie FILE'),
    });
    expect(none).not.toHaveProperty('kind');
  });
  it('plain COOKIE alone is refused, even with a cookie file configured: it would send the cookie itself', () => {
    for (const config of [{ cookie_file: '/c' }, null]) {
      const choice = chooseAuthentication({}, config, info(['COOKIE'], '/etc/shadow'));
      expect(choice).toMatchObject({
        error: expect.stringContaining('only as plain COOKIE'),
        fix: expect.stringContaining('SAFECOOKIE'),
      });
    }
    // A password, when Tor takes one, is still used.
    expect(chooseAuthentication({ passwordFile: '/p' }, null, info(['COOKIE', 'HASHEDPASSWORD']))).toEqual({
      kind: 'password',
      file: '/p',
    });
  });
  it("a method on the command line wins over the configuration's", () => {
    const both = info(['COOKIE', 'SAFECOOKIE', 'HASHEDPASSWORD']);
    expect(chooseAuthentication({ passwordFile: '/p' }, { cookie_file: '/c' }, both)).toEqual({
      kind: 'password',
      file: '/p',
    });
    expect(chooseAuthentication({ cookieFile: '/c2' }, { password_file: '/p' }, both)).toEqual({
      kind: 'cookie',
      file: '/c2',
    });
  });
  it('a password Tor wants but nobody gave: an error saying how to give it', () => {
    const choice = chooseAuthentication({}, null, info(['HASHEDPASSWORD'], null));
    expect(choice).toMatchObject({ fix: expect.stringContaining('--control-password-file') });
  });
});

describe('reading the cookie and password files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tl-secrets-'));
  const file = (name: string, content: Buffer | string) => (writeFileSync(join(dir, name), content), join(dir, name));
  const errorOf = (read: () => unknown) => {
    try {
      read();
    } catch (error) {
      return error as ControlError;
    }
    throw new Error('no error');
  };

  it('a cookie is a regular file of exactly 32 bytes', () => {
    const cookie = randomBytes(32);
    expect(readCookieFile(file('good', cookie))).toEqual(cookie);
    expect(errorOf(() => readCookieFile(file('short', randomBytes(31))))).toMatchObject({
      kind: 'file-content',
      message: expect.stringContaining('is 31 bytes, not the 32 of a Tor cookie'),
    });
    expect(errorOf(() => readCookieFile(file('long', randomBytes(33))))).toMatchObject({
      message: expect.stringContaining('is more than 32 bytes'),
    });
    expect(errorOf(() => readCookieFile(file('empty', '')))).toMatchObject({
      message: expect.stringContaining('is 0 bytes'),
    });
  });

  it('what is not a regular file is refused before it is opened: symbolic link, directory, device', () => {
    symlinkSync(file('target', randomBytes(32)), join(dir, 'link'));
    mkdirSync(join(dir, 'directory'));
    expect(errorOf(() => readCookieFile(join(dir, 'link')))).toMatchObject({
      kind: 'file-content',
      message: expect.stringContaining('is a symbolic link'),
    });
    expect(errorOf(() => readCookieFile(join(dir, 'directory')))).toMatchObject({
      message: expect.stringContaining('is a directory'),
    });
    // /dev/zero would give 32 bytes to a reader that does not look first.
    expect(errorOf(() => readCookieFile('/dev/zero'))).toMatchObject({
      message: expect.stringContaining('is a device'),
    });
    expect(errorOf(() => readPasswordFile('/dev/zero'))).toMatchObject({
      message: 'the control password file /dev/zero is a device',
    });
    expect(errorOf(() => readCookieFile(join(dir, 'missing')))).toMatchObject({
      kind: 'file',
      message: expect.stringContaining('ENOENT'),
    });
  });

  it('a password file: one trailing newline dropped, at most 1024 bytes', () => {
    expect(readPasswordFile(file('password', 'se"cret\n'))).toBe('se"cret');
    expect(readPasswordFile(file('password-1024', 'p'.repeat(1024)))).toHaveLength(1024);
    expect(errorOf(() => readPasswordFile(file('big', 'p'.repeat(1025))))).toMatchObject({
      kind: 'file-content',
      message: expect.stringContaining('more than 1024 bytes'),
    });
  });
});

describe('ControlConnection against a scripted server', () => {
  let server: Server | undefined;
  const sockets = new Set<Socket>();
  afterEach(() => {
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    server?.close();
  });

  /** A server that answers each command line with ANSWER(line); returns its port. */
  async function serve(answer: (line: string) => string | null, onConnect?: (socket: Socket) => void): Promise<number> {
    server = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
      onConnect?.(socket);
      let buffer = '';
      socket.on('data', (chunk) => {
        buffer += chunk.toString('latin1');
        let end;
        while ((end = buffer.indexOf('\r\n')) >= 0) {
          const line = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const reply = answer(line);
          if (reply !== null && !socket.destroyed) socket.write(reply, 'latin1');
          if (line === 'QUIT' || reply?.startsWith('515')) socket.end();
        }
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return (server.address() as { port: number }).port;
  }

  it('asynchronous events reach onEvent, in order, and are never taken as the answer to a command', async () => {
    const port = await serve((line) =>
      line === 'SETEVENTS CIRC STREAM'
        ? '650 CIRC 1 LAUNCHED PURPOSE=GENERAL\r\n250 OK\r\n650 STREAM 2 NEW 0 a:1\r\n'
        : line === 'GETINFO version'
          ? '650 CIRC 1 BUILT\r\n250-version=0.4.9.11\r\n250 OK\r\n'
          : '510 Unrecognized command\r\n',
    );
    const control = await ControlConnection.connect({ kind: 'tcp', host: '127.0.0.1', port });
    const events: string[] = [];
    control.onEvent = (event) => events.push(event.lines[0]!.text);
    expect((await control.send('SETEVENTS CIRC STREAM')).status).toBe(250);
    expect((await control.getInfo(['version'])).get('version')).toBe('0.4.9.11');
    expect(events).toEqual(['CIRC 1 LAUNCHED PURPOSE=GENERAL', 'STREAM 2 NEW 0 a:1', 'CIRC 1 BUILT']);
    control.close();
  });

  const SERVER_KEY = 'Tor safe cookie authentication server-to-controller hash';
  const CLIENT_KEY = 'Tor safe cookie authentication controller-to-server hash';
  const hmac = (key: string, ...parts: Buffer[]) => createHmac('sha256', key).update(Buffer.concat(parts)).digest();

  /**
   * Answers AUTHCHALLENGE SAFECOOKIE as control-spec.txt says Tor does, with
   * the cookie it knows (or a wrong server hash), and checks AUTHENTICATE's
   * client hash; other commands go to REST.
   */
  function safeCookieServer(
    cookie: Buffer,
    seen: string[],
    options: { wrongServerHash?: boolean } = {},
    rest: (line: string) => string | null = () => '510 Unrecognized command\r\n',
  ) {
    let expected: string | null = null;
    return (line: string): string | null => {
      seen.push(line);
      const challenge = /^AUTHCHALLENGE SAFECOOKIE ([0-9a-f]{64})$/.exec(line);
      if (challenge) {
        const clientNonce = Buffer.from(challenge[1]!, 'hex');
        const serverNonce = randomBytes(32);
        const serverHash = options.wrongServerHash
          ? randomBytes(32)
          : hmac(SERVER_KEY, cookie, clientNonce, serverNonce);
        expected = hmac(CLIENT_KEY, cookie, clientNonce, serverNonce).toString('hex');
        return `250 AUTHCHALLENGE SERVERHASH=${serverHash.toString('hex').toUpperCase()} SERVERNONCE=${serverNonce.toString('hex').toUpperCase()}\r\n`;
      }
      if (line.startsWith('AUTHENTICATE ') && /^[0-9a-f]{64}$/.test(line.slice(13))) {
        return line.slice(13) === expected
          ? '250 OK\r\n'
          : '515 Authentication failed: Safe cookie response did not match expected value.\r\n';
      }
      return rest(line);
    };
  }

  it('SAFECOOKIE: proves the peer knows the cookie, answers with the client hash, never sends the cookie; then a quoted password, GETINFO, GETCONF', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tl-control-'));
    const cookie = randomBytes(32);
    writeFileSync(join(dir, 'cookie'), cookie);
    writeFileSync(join(dir, 'password'), 'se"cret\n');
    const seen: string[] = [];
    const port = await serve(
      safeCookieServer(cookie, seen, {}, (line) => {
        if (line.startsWith('AUTHENTICATE')) return '250 OK\r\n';
        if (line === 'GETINFO net/listeners/socks') return '250-net/listeners/socks="127.0.0.1:9050"\r\n250 OK\r\n';
        if (line === 'GETCONF SocksPort')
          return '250-SocksPort=9050 IsolateDestAddr\r\n250 SocksPort=127.0.0.1:9062\r\n';
        if (line === 'QUIT') return '250 closing connection\r\n';
        return '510 Unrecognized command\r\n';
      }),
    );
    const c = await ControlConnection.connect({ kind: 'tcp', host: '127.0.0.1', port });
    await c.authenticate({ kind: 'cookie', file: join(dir, 'cookie') });
    await c.authenticate({ kind: 'password', file: join(dir, 'password') });
    expect((await c.getInfo(['net/listeners/socks'])).get('net/listeners/socks')).toBe('"127.0.0.1:9050"');
    expect(await c.getConf('SocksPort')).toEqual(['9050 IsolateDestAddr', '127.0.0.1:9062']);
    await c.quit();
    expect(seen[0]).toMatch(/^AUTHCHALLENGE SAFECOOKIE [0-9a-f]{64}$/);
    expect(seen[1]).toMatch(/^AUTHENTICATE [0-9a-f]{64}$/);
    expect(seen.slice(2)).toEqual([
      'AUTHENTICATE "se\\"cret"',
      'GETINFO net/listeners/socks',
      'GETCONF SocksPort',
      'QUIT',
    ]);
    // The cookie itself never went over the wire.
    expect(seen.join('\n').toLowerCase()).not.toContain(cookie.toString('hex'));
  });

  it('SAFECOOKIE: a peer whose server hash is wrong is refused before anything depending on the cookie is sent', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tl-control-'));
    writeFileSync(join(dir, 'cookie'), randomBytes(32));
    const seen: string[] = [];
    const port = await serve(safeCookieServer(randomBytes(32), seen, { wrongServerHash: true }));
    const c = await ControlConnection.connect({ kind: 'tcp', host: '127.0.0.1', port });
    await expect(c.authenticate({ kind: 'cookie', file: join(dir, 'cookie') })).rejects.toMatchObject({
      kind: 'challenge',
      message: expect.stringContaining('does not prove that it knows the cookie'),
    });
    c.close();
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatch(/^AUTHCHALLENGE /);
  });

  it('SAFECOOKIE: a malformed AUTHCHALLENGE answer is refused; an error answer is an error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tl-control-'));
    writeFileSync(join(dir, 'cookie'), randomBytes(32));
    for (const [answer, kind] of [
      ['250 AUTHCHALLENGE SERVERHASH=00 SERVERNONCE=00\r\n', 'challenge'],
      ['250 OK\r\n', 'challenge'],
      ['513 Invalid base16 client nonce\r\n', 'reply'],
    ] as const) {
      const seen: string[] = [];
      const port = await serve((line) => (seen.push(line), answer));
      const c = await ControlConnection.connect({ kind: 'tcp', host: '127.0.0.1', port });
      await expect(c.authenticate({ kind: 'cookie', file: join(dir, 'cookie') })).rejects.toMatchObject({ kind });
      c.close();
      expect(seen.filter((l) => l.startsWith('AUTHENTICATE'))).toEqual([]);
      server!.close();
    }
  });

  it('a 515 is a typed auth error, and the closed connection rejects what follows', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tl-control-'));
    writeFileSync(join(dir, 'password'), 'wrong');
    const port = await serve(
      () => '515 Authentication failed: Password did not match HashedControlPassword value from configuration\r\n',
    );
    const c = await ControlConnection.connect({ kind: 'tcp', host: '127.0.0.1', port });
    await expect(c.authenticate({ kind: 'password', file: join(dir, 'password') })).rejects.toMatchObject({
      kind: 'auth',
      status: 515,
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await expect(c.getInfo(['version'])).rejects.toMatchObject({ kind: 'closed' });
  });

  it('times out when Tor does not answer, and reports a refused connection as unreachable', async () => {
    const port = await serve(() => null);
    const c = await ControlConnection.connect({ kind: 'tcp', host: '127.0.0.1', port }, { timeoutMs: 200 });
    await expect(c.protocolInfo()).rejects.toMatchObject({ kind: 'timeout' });
    server!.close();
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 50));
    await expect(ControlConnection.connect({ kind: 'tcp', host: '127.0.0.1', port })).rejects.toMatchObject({
      kind: 'unreachable',
    });
    await expect(ControlConnection.connect({ kind: 'unix', path: '/nonexistent/control' })).rejects.toMatchObject({
      kind: 'unreachable',
    });
  });

  it('a peer that trickles a reply byte by byte is cut off at the deadline, not kept alive by the bytes', async () => {
    const port = await serve(
      () => null,
      (socket) => {
        const timer = setInterval(() => socket.write('2'), 10);
        socket.on('close', () => clearInterval(timer));
      },
    );
    const c = await ControlConnection.connect({ kind: 'tcp', host: '127.0.0.1', port }, { timeoutMs: 300 });
    const started = Date.now();
    // The unsolicited bytes form no complete reply: only the deadline ends this.
    await expect(c.send('PROTOCOLINFO 1')).rejects.toMatchObject({ kind: 'timeout' });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('a huge reply is refused as soon as it passes the bound, and the connection is dropped', async () => {
    let written = 0;
    const port = await serve((line) => {
      if (line !== 'PROTOCOLINFO 1') return null;
      const chunk = `250-${'A'.repeat(1020)}\r\n`;
      const all = chunk.repeat(8 * 1024);
      written = all.length;
      return all;
    });
    const c = await ControlConnection.connect({ kind: 'tcp', host: '127.0.0.1', port }, { timeoutMs: 5000 });
    await expect(c.protocolInfo()).rejects.toMatchObject({
      kind: 'protocol',
      message: expect.stringContaining(`a reply longer than ${MAX_REPLY_BYTES} bytes`),
    });
    expect(written).toBeGreaterThan(MAX_REPLY_BYTES * 100);
    await expect(c.getInfo(['version'])).rejects.toMatchObject({ kind: 'protocol' });
  });

  it('a reply nobody asked for ends the connection: it would be taken as the answer to the next command', async () => {
    const port = await serve(
      () => '250 OK\r\n',
      (socket) => socket.write('250 AUTHENTICATE accepted\r\n'),
    );
    const c = await ControlConnection.connect({ kind: 'tcp', host: '127.0.0.1', port });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await expect(c.send('AUTHENTICATE')).rejects.toMatchObject({
      kind: 'protocol',
      message: expect.stringContaining('a reply nobody asked for'),
    });
  });
});
