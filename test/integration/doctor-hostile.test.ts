// `tails-launch doctor` (the built launcher, run as root as in Tails) against
// a HOSTILE control port: a fake on 127.0.0.1 that names a file of its
// choice as COOKIEFILE, offers plain COOKIE, answers AUTHCHALLENGE without
// knowing the cookie, sends a huge reply, stalls, or puts control
// characters in what doctor echoes. doctor must never read the file the
// peer names, never send a cookie, and end every case in bounded time with
// one FAIL line for the control port; its output keeps one check per line.
import { createHmac, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { useTempDirs } from '../support/fixtures';
import { makeConfigDir, runLauncher } from '../support/launcher';
import { EXIT } from '../support/expected';

const isRoot = process.getuid?.() === 0;
const SERVER_KEY = 'Tor safe cookie authentication server-to-controller hash';
const CLIENT_KEY = 'Tor safe cookie authentication controller-to-server hash';
const hmac = (key: string, ...parts: Buffer[]) => createHmac('sha256', key).update(Buffer.concat(parts)).digest();
const PROTOCOLINFO = (auth: string, version = '"0.4.9.11"') =>
  `250-PROTOCOLINFO 1\r\n250-AUTH ${auth}\r\n250-VERSION Tor=${version}\r\n250 OK\r\n`;

interface Check {
  id: string;
  status: 'ok' | 'fail' | 'warn' | 'skip';
  message: string;
  fix?: string;
}

/** A fake control port: ANSWER(line) gives the bytes to send back (null: say nothing). Records every line received. */
class FakeControlPort {
  readonly received: string[] = [];
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  answer: (line: string) => string | null = () => null;

  async start(): Promise<number> {
    this.server = createServer((socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      // doctor hangs up on a hostile peer: that is expected, not an error here.
      socket.on('error', () => {});
      let buffer = '';
      socket.on('data', (chunk) => {
        buffer += chunk.toString('latin1');
        let end;
        while ((end = buffer.indexOf('\r\n')) >= 0) {
          const line = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          this.received.push(line);
          const reply = this.answer(line);
          if (reply !== null && !socket.destroyed) socket.write(reply, 'latin1');
        }
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as { port: number }).port;
  }

  reset(answer: (line: string) => string | null): void {
    this.received.length = 0;
    for (const socket of this.sockets) socket.destroy();
    this.answer = answer;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

/** A loopback port that nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe.skipIf(!isRoot)('doctor against a hostile control port', () => {
  const temp = useTempDirs();
  const fake = new FakeControlPort();
  let port: number;
  let where: string;
  let work: string;
  let config: string;
  /** A secret of root's that a peer may name as its COOKIEFILE: 32 bytes, as a cookie is. */
  let secret: Buffer;
  let secretFile: string;
  /** A FIFO: a reader that opens it blocks (and would hang doctor). */
  let fifo: string;
  /** The cookie doctor is configured with. */
  let cookie: Buffer;
  let cookieFile: string;

  beforeAll(async () => {
    port = await fake.start();
    where = `127.0.0.1:${port}`;
    work = temp.make('doctor-hostile');
    secret = randomBytes(32);
    secretFile = join(work, 'root-secret');
    writeFileSync(secretFile, secret, { mode: 0o600 });
    fifo = join(work, 'fifo');
    execFileSync('mkfifo', ['-m', '600', fifo]);
    cookie = randomBytes(32);
    cookieFile = join(work, 'control.authcookie');
    writeFileSync(cookieFile, cookie, { mode: 0o600 });
    // One listener on a closed port: its SOCKS check FAILs at once, and no host service is touched.
    config = temp.track(
      makeConfigDir(
        { default: { port: await closedPort() } },
        { probe: 'listener: default\nisolation: launch\nbackend: env\ncommand: /bin/true\n' },
      ),
    );
  });
  afterAll(() => fake.stop());
  afterEach(() => fake.reset(() => null));

  /** doctor probe --control FAKE ARGS, in text and in --json: both agree line for line; also how long it took. */
  async function doctor(args: string[]) {
    const started = Date.now();
    const run = (extra: string[]) =>
      runLauncher(['--config-dir', config, 'doctor', 'probe', '--control', where, ...args, ...extra], {
        timeout: 25_000,
      });
    const text = await run([]);
    const json = await run(['--json']);
    const elapsedMs = Date.now() - started;
    expect(text.signal).toBeUndefined();
    expect(text.stderr).toBe('');
    const data = JSON.parse(json.stdout) as { passed: boolean; checks: Check[] };
    const lines = text.stdout.split('\n').filter(Boolean);
    const label = { ok: 'ok  ', fail: 'FAIL', warn: 'warn', skip: 'skip' };
    // One check per line: nothing the peer sent split a line or added one.
    expect(lines.slice(0, -1)).toEqual(
      data.checks.map((c) => `${label[c.status]}  ${c.message}${c.fix ? ` -> ${c.fix}` : ''}`),
    );
    expect(text.exitCode).toBe(EXIT.checkFailed);
    const line = (id: string) => {
      const c = data.checks.find((check) => check.id === id)!;
      return `${label[c.status]}  ${c.message}${c.fix ? ` -> ${c.fix}` : ''}`;
    };
    const controlFails = data.checks.filter((c) => c.id.startsWith('control.') && c.status === 'fail');
    return { stdout: text.stdout, lines, checks: data.checks, line, controlFails, elapsedMs };
  }

  /** Answers like Tor would, but accepts any AUTHENTICATE (so that whatever doctor would send is seen). */
  const gullible = (protocolInfo: string) => (line: string) => {
    if (line === 'PROTOCOLINFO 1') return protocolInfo;
    if (line.startsWith('AUTHENTICATE')) return '250 OK\r\n';
    if (line === 'QUIT') return '250 closing connection\r\n';
    return '552 Unrecognized key\r\n';
  };

  it("(a) names a FIFO or a secret of root's as COOKIEFILE and offers plain COOKIE only: doctor neither reads nor sends it", async () => {
    for (const named of [fifo, secretFile, '/etc/shadow']) {
      // Without a cookie file of doctor's own, and with one: refused either way (plain COOKIE would send it).
      for (const args of [[], ['--control-cookie', cookieFile]]) {
        fake.reset(gullible(PROTOCOLINFO(`METHODS=COOKIE COOKIEFILE="${named}"`)));
        const r = await doctor(args);
        // Reading the FIFO would block doctor until the 25 s timeout kills it.
        expect(r.elapsedMs).toBeLessThan(15_000);
        expect(r.line('control.auth')).toBe(
          `FAIL  authentication to ${where}: the control port offers cookie authentication only as plain COOKIE (COOKIE), which would hand the cookie itself to whatever answers there; doctor uses SAFECOOKIE only -> check that this is really Tor's ControlPort (every Tor since 0.2.3.13 offers SAFECOOKIE with CookieAuthentication 1), or use HashedControlPassword with --control-password-file FILE`,
        );
        expect(r.controlFails).toHaveLength(1);
        expect(fake.received.join('\n').toLowerCase()).not.toContain(secret.toString('hex'));
        expect(fake.received.filter((l) => /^AUTH/.test(l))).toEqual([]);
      }
    }
  });

  it('(a) offers COOKIE and SAFECOOKIE, no cookie file configured: doctor does not fall back on the file the peer names', async () => {
    for (const named of [fifo, secretFile]) {
      fake.reset(gullible(PROTOCOLINFO(`METHODS=COOKIE,SAFECOOKIE COOKIEFILE="${named}"`)));
      const r = await doctor([]);
      expect(r.elapsedMs).toBeLessThan(15_000);
      expect(r.line('control.auth')).toBe(
        `FAIL  authentication to ${where}: Tor offers cookie authentication (COOKIE, SAFECOOKIE) but no cookie file is configured; doctor never reads the file the control port names (${named}) -> give Tor's CookieAuthFile with --control-cookie FILE, or set control.cookie_file in listeners.yml`,
      );
      const sent = fake.received.join('\n').toLowerCase();
      expect(sent).not.toContain(secret.toString('hex'));
      expect(fake.received.filter((l) => /^AUTH/.test(l))).toEqual([]);
    }
  });

  /** SAFECOOKIE as Tor does it with the cookie KNOWN (a wrong one: the fake does not know doctor's). */
  const safeCookie = (known: Buffer, authenticated: string[]) => {
    let expected = '';
    return (line: string): string | null => {
      if (line === 'PROTOCOLINFO 1') return PROTOCOLINFO(`METHODS=COOKIE,SAFECOOKIE COOKIEFILE="${secretFile}"`);
      const challenge = /^AUTHCHALLENGE SAFECOOKIE ([0-9a-fA-F]{64})$/.exec(line);
      if (challenge) {
        const clientNonce = Buffer.from(challenge[1]!, 'hex');
        const serverNonce = randomBytes(32);
        expected = hmac(CLIENT_KEY, known, clientNonce, serverNonce).toString('hex');
        return `250 AUTHCHALLENGE SERVERHASH=${hmac(SERVER_KEY, known, clientNonce, serverNonce).toString('hex')} SERVERNONCE=${serverNonce.toString('hex')}\r\n`;
      }
      if (line.startsWith('AUTHENTICATE ')) {
        if (line.slice(13).toLowerCase() !== expected)
          return '515 Authentication failed: Safe cookie response did not match expected value.\r\n';
        authenticated.push(line);
        return '250 OK\r\n';
      }
      if (line === 'QUIT') return '250 closing connection\r\n';
      return '552 Unrecognized key\r\n';
    };
  };

  it('(b) offers SAFECOOKIE but does not know the cookie (wrong server hash): refused before AUTHENTICATE; a peer that knows it is accepted', async () => {
    const authenticated: string[] = [];
    fake.reset(safeCookie(randomBytes(32), authenticated));
    const r = await doctor(['--control-cookie', cookieFile]);
    expect(r.line('control.auth')).toBe(
      `FAIL  authentication with SAFECOOKIE and the cookie ${cookieFile} failed: ${where} does not prove that it knows the cookie in ${cookieFile} (its AUTHCHALLENGE hash is wrong): it is not the Tor that wrote that file, or the file is stale -> check that ${where} is this Tor's ControlPort, and give Tor's current CookieAuthFile with --control-cookie FILE (this control port says ${secretFile})`,
    );
    expect(r.controlFails).toHaveLength(1);
    expect(fake.received.filter((l) => l.startsWith('AUTHENTICATE'))).toEqual([]);
    // One challenge per run (text and --json), and nothing after it.
    expect(fake.received.filter((l) => l.startsWith('AUTHCHALLENGE'))).toHaveLength(2);

    // The same fake, knowing the cookie: doctor authenticates (the refusal above was the hash).
    fake.reset(safeCookie(cookie, authenticated));
    const good = await doctor(['--control-cookie', cookieFile]);
    expect(good.line('control.auth')).toBe(`ok    authenticated with SAFECOOKIE and the cookie ${cookieFile}`);
    expect(authenticated).toHaveLength(2); // text and --json
    expect(fake.received.join('\n').toLowerCase()).not.toContain(cookie.toString('hex'));
  });

  it('(c) a huge reply: one FAIL line, at once', async () => {
    fake.reset((line) =>
      line === 'PROTOCOLINFO 1'
        ? `250-PROTOCOLINFO 1\r\n${`250-${'A'.repeat(4000)}\r\n`.repeat(1024)}250 OK\r\n`
        : null,
    );
    const r = await doctor([]);
    expect(r.elapsedMs).toBeLessThan(15_000);
    expect(r.line('control.reachable')).toBe(
      `FAIL  ${where} does not answer like Tor's control port: a reply longer than 65536 bytes, more than Tor ever sends doctor -> check that --control names Tor's ControlPort`,
    );
    expect(r.line('control.auth')).toBe('skip  authentication: not tried (needs the control port)');
    expect(r.controlFails).toHaveLength(1);
  });

  it('(c) a peer that stalls (after the TCP handshake, or after PROTOCOLINFO): one FAIL line after the 5 s deadline', async () => {
    fake.reset(() => null);
    const r = await doctor([]);
    expect(r.line('control.reachable')).toBe(
      `FAIL  ${where} does not answer like Tor's control port: no answer to PROTOCOLINFO from ${where} within 5 s -> check that --control names Tor's ControlPort`,
    );
    expect(r.controlFails).toHaveLength(1);
    // Twice 5 s (text and --json), and not much more.
    expect(r.elapsedMs).toBeGreaterThanOrEqual(10_000);
    expect(r.elapsedMs).toBeLessThan(20_000);

    fake.reset((line) =>
      line === 'PROTOCOLINFO 1' ? PROTOCOLINFO(`METHODS=SAFECOOKIE COOKIEFILE="${secretFile}"`) : null,
    );
    const late = await doctor(['--control-cookie', cookieFile]);
    expect(late.line('control.auth')).toBe(
      `FAIL  authentication with SAFECOOKIE and the cookie ${cookieFile} failed: no answer to AUTHCHALLENGE from ${where} within 5 s -> give Tor's current CookieAuthFile with --control-cookie FILE (this control port says ${secretFile})`,
    );
    expect(late.controlFails).toHaveLength(1);
  }, 90_000);

  it('(d) control characters in what the peer sends are escaped: no forged line, no terminal escape', async () => {
    const passwordFile = join(work, 'password');
    writeFileSync(passwordFile, 'secret\n', { mode: 0o600 });
    // A QuotedString's \n and \033 decode to a real newline and ESC; the 515 text carries raw ESC, CR, CSI (0x9b) and DEL.
    const version = '"0.4.9.11\\nok    all checks passed\\033[2J"';
    fake.reset((line) => {
      if (line === 'PROTOCOLINFO 1') return PROTOCOLINFO('METHODS=HASHEDPASSWORD', version);
      if (line.startsWith('AUTHENTICATE'))
        return '515 Authentication failed\x1b[31m\rok    authenticated\x9b2J\x7f\r\n';
      return null;
    });
    const r = await doctor(['--control-password-file', passwordFile]);
    expect(r.line('control.reachable')).toBe(
      `ok    Tor 0.4.9.11\\nok    all checks passed\\x1b[2J answers on its control port ${where}`,
    );
    expect(r.line('control.auth')).toBe(
      `FAIL  authentication with the password in ${passwordFile} failed: Tor rejected it (515 Authentication failed\\x1b[31m\\rok    authenticated\\x9b2J\\x7f) -> put the password matching torrc's HashedControlPassword in ${passwordFile} (or use cookie authentication with --control-cookie FILE)`,
    );
    // Nothing but printable text and the newlines that end doctor's own lines.
    expect(r.stdout).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/);
    expect(
      r.lines.filter((l) => l.startsWith('ok    all checks passed') || l.startsWith('ok    authenticated')),
    ).toEqual([]);
  });
});
