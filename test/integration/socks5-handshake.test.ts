import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { socks5Handshake } from '../../src/tor/socks5-handshake';
import { startHttpServer, startSocks5Server, type Socks5Server } from '../support/socks5-server';

let socks: Socks5Server;
beforeAll(async () => {
  socks = await startSocks5Server();
});
afterAll(() => socks.close());

function listen(server: Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)),
  );
}

describe('SOCKS5 preflight handshake', () => {
  it('succeeds without auth and with <torS0X>0 credentials, and sends no request', async () => {
    expect(
      await socks5Handshake({ address: '127.0.0.1', port: socks.port, auth: { kind: 'none' }, timeoutMs: 2000 }),
    ).toEqual({ ok: true });
    const auth = { kind: 'userpass' as const, username: '<torS0X>0', password: 'tails-launch/app/x' };
    expect(await socks5Handshake({ address: '127.0.0.1', port: socks.port, auth, timeoutMs: 2000 })).toEqual({
      ok: true,
    });
    expect(socks.records).toEqual([]);
  });

  it('fails on a closed port', async () => {
    const server = createServer();
    const port = await listen(server);
    await new Promise((resolve) => server.close(resolve));
    const result = await socks5Handshake({ address: '127.0.0.1', port, auth: { kind: 'none' }, timeoutMs: 2000 });
    expect(result).toEqual({ ok: false, reason: `nothing listens on 127.0.0.1:${port}` });
  });

  it('fails on a server that is not SOCKS5', async () => {
    const http = await startHttpServer();
    try {
      const result = await socks5Handshake({
        address: '127.0.0.1',
        port: http.port,
        auth: { kind: 'none' },
        timeoutMs: 2000,
      });
      expect(result).toEqual({
        ok: false,
        reason: `the server on 127.0.0.1:${http.port} does not speak SOCKS5 (is it Tor's SocksPort?)`,
      });
    } finally {
      await http.close();
    }
  });

  it('gives up on a server that never answers, within its timeout', async () => {
    const sockets: import('node:net').Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket));
    const port = await listen(silent);
    try {
      const started = Date.now();
      const result = await socks5Handshake({ address: '127.0.0.1', port, auth: { kind: 'none' }, timeoutMs: 300 });
      expect(result).toEqual({ ok: false, reason: `no SOCKS5 answer from 127.0.0.1:${port} within 0.3 s` });
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      sockets.forEach((s) => s.destroy());
      silent.close();
    }
  });

  it('fails when the server refuses our method or our credentials', async () => {
    // A server that answers 0xFF (no acceptable method), and one that rejects the password.
    const refuse = createServer((s) => s.once('data', () => s.end(Buffer.from([5, 0xff]))));
    const reject = createServer((s) => {
      s.once('data', () => {
        s.write(Buffer.from([5, 2]));
        s.once('data', () => s.end(Buffer.from([1, 1])));
      });
    });
    const [p1, p2] = [await listen(refuse), await listen(reject)];
    try {
      const auth = { kind: 'userpass' as const, username: '<torS0X>0', password: 'k' };
      expect(await socks5Handshake({ address: '127.0.0.1', port: p1, auth, timeoutMs: 2000 })).toMatchObject({
        ok: false,
        reason: expect.stringContaining('refused the authentication method'),
      });
      expect(await socks5Handshake({ address: '127.0.0.1', port: p2, auth, timeoutMs: 2000 })).toMatchObject({
        ok: false,
        reason: expect.stringContaining('rejected the isolation credentials'),
      });
    } finally {
      refuse.close();
      reject.close();
    }
  });
});
