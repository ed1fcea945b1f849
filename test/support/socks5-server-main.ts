// The tests' SOCKS5 server as a process of its own, so that it can run inside
// a network namespace (the leak harness): it listens on 127.0.0.1 there,
// prints `{"port":N}` first, then one JSON line per request it answers.
// It ends when its standard input closes (the test is gone) or on SIGTERM.
import { startSocks5Server } from './socks5-server';

const server = await startSocks5Server();
let reported = 0;
process.stdout.write(`${JSON.stringify({ port: server.port })}\n`);
const flush = (): void => {
  while (reported < server.records.length) process.stdout.write(`${JSON.stringify(server.records[reported++])}\n`);
};
const timer = setInterval(flush, 20);
const stop = (): void => {
  clearInterval(timer);
  flush();
  void server.close().then(() => process.exit(0));
};
process.stdin.on('end', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
