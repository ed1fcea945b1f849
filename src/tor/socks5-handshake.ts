// Proves that a SOCKS5 server (Tor) answers on ADDRESS:PORT, offering the
// same authentication the application will use, and (for username/password)
// that it accepts our credentials. It sends no CONNECT: no stream, no circuit.
import { connect } from 'node:net';
import { hostPort } from './address';

export type HandshakeResult = { ok: true } | { ok: false; reason: string };

export interface HandshakeRequest {
  address: string;
  port: number;
  auth: { kind: 'none' } | { kind: 'userpass'; username: string; password: string };
  timeoutMs: number;
}

const VERSION = 0x05;
const NO_AUTH = 0x00;
const USERPASS = 0x02;

export function socks5Handshake(request: HandshakeRequest): Promise<HandshakeResult> {
  const where = hostPort(request.address, request.port);
  return new Promise((resolve) => {
    const socket = connect({ host: request.address, port: request.port });
    let received = Buffer.alloc(0);
    let stage: 'greeting' | 'auth' = 'greeting';
    const finish = (result: HandshakeResult) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(
      () => finish({ ok: false, reason: `no SOCKS5 answer from ${where} within ${request.timeoutMs / 1000} s` }),
      request.timeoutMs,
    );

    socket.on('connect', () => {
      socket.write(Buffer.from([VERSION, 1, request.auth.kind === 'userpass' ? USERPASS : NO_AUTH]));
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      const reason =
        error.code === 'ECONNREFUSED'
          ? `nothing listens on ${where}`
          : `cannot connect to ${where}: ${error.code ?? error.message}`;
      finish({ ok: false, reason });
    });
    socket.on('close', () =>
      finish({ ok: false, reason: `${where} closed the connection during the SOCKS5 handshake` }),
    );
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < 2) return;
      if (stage === 'greeting') {
        if (received[0] !== VERSION) {
          return finish({ ok: false, reason: `the server on ${where} does not speak SOCKS5 (is it Tor's SocksPort?)` });
        }
        const method = received[1];
        if (request.auth.kind === 'none' && method === NO_AUTH) return finish({ ok: true });
        if (request.auth.kind === 'userpass' && method === USERPASS) {
          stage = 'auth';
          received = received.subarray(2);
          const user = Buffer.from(request.auth.username);
          const pass = Buffer.from(request.auth.password);
          socket.write(Buffer.concat([Buffer.from([0x01, user.length]), user, Buffer.from([pass.length]), pass]));
          return;
        }
        return finish({ ok: false, reason: `the SOCKS5 server on ${where} refused the authentication method` });
      }
      // RFC 1929 reply: version 1, status 0 = success.
      if (received[1] === 0x00) return finish({ ok: true });
      finish({ ok: false, reason: `the SOCKS5 server on ${where} rejected the isolation credentials` });
    });
  });
}
