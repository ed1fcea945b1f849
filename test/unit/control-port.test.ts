// The control-protocol reply parser, on replies as tor 0.4.9.11 sends them
// (captured from a real tor), and the pieces doctor builds on it.
import { createServer, type Server } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { chooseAuthentication } from '../../src/cli/commands/doctor';
import {
  checkReply,
  ControlConnection,
  ControlError,
  keyValues,
  parseBootstrapPhase,
  parseControlAddress,
  parseProtocolInfo,
  parseReplies,
  quoteString,
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
    const [reply] = parseReplies('250+config-text=\r\nSocksPort 9050\r\n..hidden\r\nLog notice stdout\r\n.\r\n250 OK\r\n');
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
    expect(keyValues(unset!, 'getconf')).toEqual([['HTTPTunnelPort', null], ['DNSPort', null]]);
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
    const e = errorOf('515 Authentication failed: Password did not match HashedControlPassword *or* authentication cookie.\r\n');
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
    const nullOnly = parseProtocolInfo(parseReplies('250-PROTOCOLINFO 1\r\n250-AUTH METHODS=NULL\r\n250-VERSION Tor="0.4.8.1"\r\n250 OK\r\n')[0]!);
    expect(nullOnly).toEqual({ methods: ['NULL'], cookieFile: null, torVersion: '0.4.8.1' });
  });

  it('a COOKIEFILE with quotes and backslashes is unescaped', () => {
    const info = parseProtocolInfo(parseReplies('250-PROTOCOLINFO 1\r\n250-AUTH METHODS=COOKIE COOKIEFILE="/a \\"b\\"\\\\c"\r\n250 OK\r\n')[0]!);
    expect(info.cookieFile).toBe('/a "b"\\c');
  });

  it('bootstrap-phase: progress, tag, summary, warning', () => {
    expect(parseBootstrapPhase('NOTICE BOOTSTRAP PROGRESS=0 TAG=starting SUMMARY="Starting"')).toEqual({
      severity: 'NOTICE', progress: 0, tag: 'starting', summary: 'Starting', warning: null,
    });
    expect(parseBootstrapPhase('NOTICE BOOTSTRAP PROGRESS=100 TAG=done SUMMARY="Done"')?.progress).toBe(100);
    expect(
      parseBootstrapPhase('WARN BOOTSTRAP PROGRESS=5 TAG=conn SUMMARY="Connecting to a relay" WARNING="Connection refused" REASON=CONNECTREFUSED COUNT=3 RECOMMENDATION=ignore HOSTID="0000" HOSTADDR="127.0.0.1:7"'),
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
    expect(splitQuotedList('"127.0.0.1:9050" "[::1]:9050" "unix:/run/tor/socks"')).toEqual(['127.0.0.1:9050', '[::1]:9050', 'unix:/run/tor/socks']);
    expect(splitQuotedList('')).toEqual([]);
  });

  it('control addresses: ADDR:PORT, [v6]:PORT, unix:/path; anything else refused', () => {
    expect(parseControlAddress('127.0.0.1:9052')).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 9052 });
    expect(parseControlAddress('[::1]:9051')).toEqual({ kind: 'tcp', host: '::1', port: 9051 });
    expect(parseControlAddress('unix:/run/tor/control')).toEqual({ kind: 'unix', path: '/run/tor/control' });
    for (const bad of ['9051', '127.0.0.1', '::1:9051', 'unix:relative', '127.0.0.1:70000']) expect(() => parseControlAddress(bad)).toThrow(ControlError);
  });
});

describe('chooseAuthentication', () => {
  const info = (methods: string[], cookieFile: string | null = '/run/tor/control.authcookie') => ({ methods, cookieFile, torVersion: null });
  it('NULL allowed: no credentials', () => {
    expect(chooseAuthentication({}, { cookie_file: '/c' }, info(['NULL']))).toEqual({ kind: 'none' });
  });
  it('the cookie file given wins over PROTOCOLINFO\'s; without one, PROTOCOLINFO\'s', () => {
    expect(chooseAuthentication({}, { cookie_file: '/c' }, info(['COOKIE', 'SAFECOOKIE']))).toEqual({ kind: 'cookie', file: '/c' });
    expect(chooseAuthentication({}, null, info(['COOKIE']))).toEqual({ kind: 'cookie', file: '/run/tor/control.authcookie' });
  });
  it('a method on the command line wins over the configuration\'s', () => {
    const both = info(['COOKIE', 'HASHEDPASSWORD']);
    expect(chooseAuthentication({ passwordFile: '/p' }, { cookie_file: '/c' }, both)).toEqual({ kind: 'password', file: '/p' });
    expect(chooseAuthentication({ cookieFile: '/c2' }, { password_file: '/p' }, both)).toEqual({ kind: 'cookie', file: '/c2' });
  });
  it('a password Tor wants but nobody gave: an error saying how to give it', () => {
    const choice = chooseAuthentication({}, null, info(['HASHEDPASSWORD'], null));
    expect(choice).toMatchObject({ fix: expect.stringContaining('--control-password-file') });
  });
});

describe('ControlConnection against a scripted server', () => {
  let server: Server | undefined;
  afterEach(() => server?.close());

  /** A server that answers each command line with ANSWER(line); returns its port. */
  async function serve(answer: (line: string) => string | null): Promise<number> {
    server = createServer((socket) => {
      let buffer = '';
      socket.on('data', (chunk) => {
        buffer += chunk.toString('latin1');
        let end;
        while ((end = buffer.indexOf('\r\n')) >= 0) {
          const line = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const reply = answer(line);
          if (reply !== null) socket.write(reply);
          if (line === 'QUIT' || reply?.startsWith('515')) socket.end();
        }
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return (server.address() as { port: number }).port;
  }

  it('authenticates with the hex of the cookie file and a quoted password, then GETINFO/GETCONF', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tl-control-'));
    writeFileSync(join(dir, 'cookie'), Buffer.from([0, 1, 0xab, 0xff]));
    writeFileSync(join(dir, 'password'), 'se"cret\n');
    const seen: string[] = [];
    const port = await serve((line) => {
      seen.push(line);
      if (line.startsWith('AUTHENTICATE')) return '250 OK\r\n';
      if (line === 'GETINFO net/listeners/socks') return '250-net/listeners/socks="127.0.0.1:9050"\r\n250 OK\r\n';
      if (line === 'GETCONF SocksPort') return '250-SocksPort=9050 IsolateDestAddr\r\n250 SocksPort=127.0.0.1:9062\r\n';
      if (line === 'QUIT') return '250 closing connection\r\n';
      return '510 Unrecognized command\r\n';
    });
    const c = await ControlConnection.connect({ kind: 'tcp', host: '127.0.0.1', port });
    await c.authenticate({ kind: 'cookie', file: join(dir, 'cookie') });
    await c.authenticate({ kind: 'password', file: join(dir, 'password') });
    expect((await c.getInfo(['net/listeners/socks'])).get('net/listeners/socks')).toBe('"127.0.0.1:9050"');
    expect(await c.getConf('SocksPort')).toEqual(['9050 IsolateDestAddr', '127.0.0.1:9062']);
    await c.quit();
    expect(seen).toEqual(['AUTHENTICATE 0001abff', 'AUTHENTICATE "se\\"cret"', 'GETINFO net/listeners/socks', 'GETCONF SocksPort', 'QUIT']);
  });

  it('a 515 is a typed auth error, and the closed connection rejects what follows', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tl-control-'));
    writeFileSync(join(dir, 'password'), 'wrong');
    const port = await serve(() => '515 Authentication failed: Password did not match HashedControlPassword value from configuration\r\n');
    const c = await ControlConnection.connect({ kind: 'tcp', host: '127.0.0.1', port });
    await expect(c.authenticate({ kind: 'password', file: join(dir, 'password') })).rejects.toMatchObject({ kind: 'auth', status: 515 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await expect(c.getInfo(['version'])).rejects.toMatchObject({ kind: 'closed' });
  });

  it('times out when Tor does not answer, and reports a refused connection as unreachable', async () => {
    const port = await serve(() => null);
    const c = await ControlConnection.connect({ kind: 'tcp', host: '127.0.0.1', port }, { timeoutMs: 200 });
    await expect(c.protocolInfo()).rejects.toMatchObject({ kind: 'timeout' });
    server!.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    await expect(ControlConnection.connect({ kind: 'tcp', host: '127.0.0.1', port })).rejects.toMatchObject({ kind: 'unreachable' });
    await expect(ControlConnection.connect({ kind: 'unix', path: '/nonexistent/control' })).rejects.toMatchObject({ kind: 'unreachable' });
  });
});
