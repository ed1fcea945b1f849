/**
 * Proves test/support/socks5-server.ts against real clients (curl, torsocks)
 * and records how torsocks 2.4.0 / curl 7.88 behave where the launcher depends
 * on it. Everything stays on 127.0.0.1: torsocks hands every connect, including
 * the one to 192.0.2.1, to our SOCKS server.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startHttpServer, startSocks5Server, type Socks5Server } from '../support/socks5-server';

const URL = 'http://example.test/';
const BODY = 'ok via socks5';
const TORSOCKS = '/usr/bin/torsocks';
const CURL = '/usr/bin/curl';

/** Minimal, explicit environment: nothing from the developer's shell (proxies, curlrc) leaks in. */
function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: '/usr/bin:/bin', HOME: os.tmpdir(), ...extra };
}

function run(file: string, args: string[], env: Record<string, string>) {
  return execa(file, args, { env: cleanEnv(env), extendEnv: false, reject: false, timeout: 15_000 });
}

/** curl with -q (ignore ~/.curlrc) and -sS (quiet, but show errors). */
function curlArgs(...extra: string[]): string[] {
  return ['-q', '-sS', ...extra, URL];
}

/** Raw TCP client: writes chunks with a pause between them, returns everything received until close. */
async function rawExchange(port: number, chunks: Buffer[], pauseMs = 20): Promise<Buffer> {
  const socket = net.connect(port, '127.0.0.1');
  const received: Buffer[] = [];
  socket.on('data', (d: Buffer) => received.push(d));
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  for (const chunk of chunks) {
    socket.write(chunk);
    await sleep(pauseMs);
  }
  await Promise.race([closed, sleep(3_000).then(() => socket.destroy())]);
  return Buffer.concat(received);
}

let server: Socks5Server;
let tmpDir: string;
/** A torsocks.conf with one comment line: torsocks rejects a 0-byte config (see below). */
let minimalConf: string;

beforeAll(async () => {
  server = await startSocks5Server();
  tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'socks5-test-'));
  minimalConf = path.join(tmpDir, 'minimal.conf');
  fs.writeFileSync(minimalConf, '# tails-launch test\n');
});

afterAll(async () => {
  await server.close();
  fs.rmSync(tmpDir, { recursive: true, force: true });
});

beforeEach(() => server.clear());

function torsocksEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    TORSOCKS_TOR_ADDRESS: '127.0.0.1',
    TORSOCKS_TOR_PORT: String(server.port),
    TORSOCKS_CONF_FILE: minimalConf,
    ...extra,
  };
}

describe('socks5 test server with curl', () => {
  it('carries --proxy-user credentials and the hostname (socks5-hostname)', async () => {
    const result = await run(
      CURL,
      curlArgs('--socks5-hostname', `127.0.0.1:${server.port}`, '--proxy-user', 'U:P'),
      {},
    );
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe(BODY);
    const records = await server.waitForRecords(1);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      auth: 'userpass',
      username: 'U',
      password: 'P',
      command: 'connect',
      addressType: 'domain',
      host: 'example.test',
      port: 80,
      serverPort: server.port,
    });
    expect(records[0]?.offeredMethods).toContain(0x02);
    expect(records[0]?.clientPort).toBeGreaterThan(0);
  });

  it('uses no authentication when curl has no credentials', async () => {
    const result = await run(CURL, curlArgs('--socks5-hostname', `127.0.0.1:${server.port}`), {});
    expect(result.stdout).toBe(BODY);
    const [record] = await server.waitForRecords(1);
    expect(record?.auth).toBe('none');
    expect(record?.username).toBeUndefined();
    expect(record?.offeredMethods).not.toContain(0x02);
  });

  it('URL-decodes user and password from ALL_PROXY', async () => {
    const proxy = `socks5h://%3CtorS0X%3E0:secret%2Fkey@127.0.0.1:${server.port}`;
    const result = await run(CURL, curlArgs(), { ALL_PROXY: proxy });
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe(BODY);
    const [record] = await server.waitForRecords(1);
    expect(record).toMatchObject({
      auth: 'userpass',
      username: '<torS0X>0',
      password: 'secret/key',
      host: 'example.test',
      port: 80,
    });
  });
});

describe('torsocks 2.4.0 against the test server', () => {
  it('sends RESOLVE then CONNECT to the resolved address, both with the exported credentials', async () => {
    const env = torsocksEnv({ TORSOCKS_USERNAME: '<torS0X>0', TORSOCKS_PASSWORD: 'k1', TORSOCKS_ISOLATE_PID: '0' });
    const result = await run(TORSOCKS, [CURL, ...curlArgs()], env);
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe(BODY);
    const records = await server.waitForRecords(2);
    expect(records.map((r) => [r.command, r.addressType, r.host, r.port])).toEqual([
      ['resolve', 'domain', 'example.test', 42], // torsocks puts port 42 in RESOLVE
      ['connect', 'domain', '192.0.2.1', 80], // the IPv4 answer, written as a DOMAINNAME string
    ]);
    for (const r of records) {
      expect(r).toMatchObject({ auth: 'userpass', username: '<torS0X>0', password: 'k1', offeredMethods: [0x02] });
    }
  });

  it('TORSOCKS_ISOLATE_PID=1 derives torsocks-<pid>:<time> / 0 in the exec-ed process', async () => {
    const child = run(TORSOCKS, [CURL, ...curlArgs()], torsocksEnv({ TORSOCKS_ISOLATE_PID: '1' }));
    const result = await child;
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe(BODY);
    const records = await server.waitForRecords(2);
    for (const r of records) {
      expect(r.auth).toBe('userpass');
      expect(r.password).toBe('0');
      const match = /^torsocks-(\d+):(\d+)$/.exec(r.username ?? '');
      expect(match).not.toBeNull();
      // The torsocks script execs the program, so the pid is curl's = our child's.
      expect(Number(match?.[1])).toBe(child.pid);
      expect(Math.abs(Number(match?.[2]) - Date.now() / 1000)).toBeLessThan(120);
    }
    expect(records[0]?.username).toBe(records[1]?.username);
  });

  it('exits 1 when a config file says IsolatePID 1 and USERNAME/PASSWORD are exported; ISOLATE_PID=0 fixes it', async () => {
    const conf = path.join(tmpDir, 'isolate.conf');
    fs.writeFileSync(conf, 'IsolatePID 1\n');
    const creds = { TORSOCKS_CONF_FILE: conf, TORSOCKS_USERNAME: 'app-u', TORSOCKS_PASSWORD: 'app-p' };

    const failed = await run(TORSOCKS, [CURL, ...curlArgs()], torsocksEnv(creds));
    expect(failed.exitCode).toBe(1);
    expect(failed.stdout).toBe('');
    expect(failed.stderr).toMatch(/ERROR torsocks\[\d+\]: \[config\] IsolatePID and SOCKS5 auth both set\./);
    expect(server.records).toHaveLength(0);

    const fixed = await run(TORSOCKS, [CURL, ...curlArgs()], torsocksEnv({ ...creds, TORSOCKS_ISOLATE_PID: '0' }));
    expect(fixed.exitCode).toBe(0);
    expect(fixed.stdout).toBe(BODY);
    const records = await server.waitForRecords(2);
    expect(records.every((r) => r.username === 'app-u' && r.password === 'app-p')).toBe(true);
  });

  it('REJECTS an empty (0-byte) config such as /dev/null: exit 1, no message, program never runs', async () => {
    const empty = path.join(tmpDir, 'empty.conf');
    fs.writeFileSync(empty, '');
    for (const confFile of ['/dev/null', empty]) {
      const viaCurl = await run(TORSOCKS, [CURL, ...curlArgs()], torsocksEnv({ TORSOCKS_CONF_FILE: confFile }));
      expect(viaCurl.exitCode).toBe(1);
      expect(viaCurl.stdout).toBe('');
      expect(viaCurl.stderr).toBe('');
      const viaEcho = await run(TORSOCKS, ['/bin/echo', 'program-ran'], torsocksEnv({ TORSOCKS_CONF_FILE: confFile }));
      expect(viaEcho.exitCode).toBe(1);
      expect(viaEcho.stdout).toBe('');
    }
    expect(server.records).toHaveLength(0);
  });

  it('accepts a one-line (comment-only) config with no system settings, no auth', async () => {
    const result = await run(TORSOCKS, [CURL, ...curlArgs()], torsocksEnv());
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe(BODY);
    const records = await server.waitForRecords(2);
    expect(records.map((r) => [r.auth, r.command])).toEqual([
      ['none', 'resolve'],
      ['none', 'connect'],
    ]);
  });

  it('a proxy-aware program under torsocks cannot reach a loopback ALL_PROXY (curl exit 7)', async () => {
    const env = torsocksEnv({
      TORSOCKS_USERNAME: 'u',
      TORSOCKS_PASSWORD: 'p',
      ALL_PROXY: `socks5h://127.0.0.1:${server.port}`,
    });
    const result = await run(TORSOCKS, [CURL, ...curlArgs()], env);
    expect(result.exitCode).toBe(7);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('Connection to a local address are denied');
    expect(result.stderr).toContain(`curl: (7) Failed to connect to 127.0.0.1 port ${server.port}`);
    expect(server.records).toHaveLength(0);
  });
});

describe('protocol details', () => {
  it('handles a request split into 1-byte TCP segments', async () => {
    const request = Buffer.concat([
      Buffer.from([0x05, 0x01, 0x02]), // greeting: user/pass only
      Buffer.from([0x01, 2, ...Buffer.from('ab'), 3, ...Buffer.from('xyz')]),
      Buffer.from([0x05, 0xf0, 0x00, 0x03, 4, ...Buffer.from('a.bc'), 0, 0]),
    ]);
    const bytes = [...request].map((b) => Buffer.from([b]));
    const reply = await rawExchange(server.port, bytes, 2);
    expect([...reply]).toEqual([0x05, 0x02, 0x01, 0x00, 0x05, 0x00, 0x00, 0x01, 192, 0, 2, 1, 0, 0]);
    const [record] = await server.waitForRecords(1);
    expect(record).toMatchObject({
      auth: 'userpass',
      username: 'ab',
      password: 'xyz',
      command: 'resolve',
      host: 'a.bc',
      port: 0,
    });
  });

  it('answers 0xFF when neither 0x00 nor 0x02 is offered', async () => {
    const reply = await rawExchange(server.port, [Buffer.from([0x05, 0x01, 0x01])]);
    expect([...reply]).toEqual([0x05, 0xff]);
    expect(server.records).toHaveLength(0);
  });

  it('rejects an RFC 1929 sub-negotiation with a wrong version byte', async () => {
    const reply = await rawExchange(server.port, [
      Buffer.from([0x05, 0x01, 0x02]),
      Buffer.from([0x05, 1, 0x61, 1, 0x62]),
    ]);
    expect([...reply]).toEqual([0x05, 0x02, 0x01, 0x01]);
    expect(server.records).toHaveLength(0);
  });

  it('a non-SOCKS server answers a SOCKS5 greeting with something other than 0x05', async () => {
    const http = await startHttpServer();
    try {
      const reply = await rawExchange(http.port, [Buffer.from([0x05, 0x01, 0x00])]);
      expect(reply.length).toBeGreaterThan(0);
      expect(reply[0]).not.toBe(0x05);
      expect(reply.toString('latin1')).toMatch(/^HTTP\/1\.1 400 /);
      expect(http.connections).toBe(1);

      const viaCurl = await run(CURL, curlArgs('--socks5-hostname', `127.0.0.1:${http.port}`), {});
      expect(viaCurl.exitCode).toBe(97);
      expect(viaCurl.stderr).toContain('Received invalid version in initial SOCKS5 response');
      expect(http.connections).toBe(2);
    } finally {
      await http.close();
    }
  });
});
