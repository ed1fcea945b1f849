// Proves that Tor's control port (or onion-grater's filter in front of it)
// answers on ADDRESS:PORT: it sends PROTOCOLINFO, which both answer before
// any authentication, and nothing else: no command reaches Tor. The preflight
// of a control listener, as socks5-handshake.ts is a SocksPort's.
import { connect } from 'node:net';
import { hostPort } from './address';
import type { HandshakeResult } from './socks5-handshake';

/** The reply Tor and onion-grater both give: `250-PROTOCOLINFO 1` ... `250 OK`. */
const ANSWER = /^250-PROTOCOLINFO /m;
/** Enough for PROTOCOLINFO's few lines: a server that goes on is not a control port. */
const MAX_REPLY = 4096;

export function controlHello(request: { address: string; port: number; timeoutMs: number }): Promise<HandshakeResult> {
  const where = hostPort(request.address, request.port);
  return new Promise((resolve) => {
    const socket = connect({ host: request.address, port: request.port });
    let received = '';
    const finish = (result: HandshakeResult) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(
      () => finish({ ok: false, reason: `no control-port answer from ${where} within ${request.timeoutMs / 1000} s` }),
      request.timeoutMs,
    );
    socket.on('connect', () => socket.write('PROTOCOLINFO 1\r\n'));
    socket.on('error', (error: NodeJS.ErrnoException) =>
      finish({
        ok: false,
        reason:
          error.code === 'ECONNREFUSED'
            ? `nothing listens on ${where}`
            : `cannot connect to ${where}: ${error.code ?? error.message}`,
      }),
    );
    socket.on('close', () =>
      finish({ ok: false, reason: `${where} closed the connection before answering PROTOCOLINFO` }),
    );
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      if (ANSWER.test(received) && /^250 OK\r?$/m.test(received)) return finish({ ok: true });
      if (/^[45]\d\d /m.test(received) || received.length > MAX_REPLY)
        finish({ ok: false, reason: `the server on ${where} does not answer PROTOCOLINFO like Tor's control port` });
    });
  });
}
