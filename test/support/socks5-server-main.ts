// The tests' SOCKS5 server as a process of its own, so that it can run inside
// a network namespace (the leak harness): it listens on 127.0.0.1 there, on
// a free port and on every port given as an argument (Tails' 9050, 9062,
// 9063, free inside the test's own namespace; ADDRESS:PORT listens on that
// address instead, as Tor Browser's 10.200.1.1:9050), prints `{"port":N}` (the free
// one) first, then one JSON line per request any of them answers.
// `--forward=HOST:PORT=PATH`: every one of them relays a CONNECT to HOST:PORT
// to the real server on the Unix socket PATH (see startSocks5Server).
// It ends when its standard input closes (the test is gone) or on SIGTERM.
import { startSocks5Server, type Socks5Server } from './socks5-server';

const args = process.argv.slice(2);
const forward: Record<string, string> = {};
for (const arg of args.filter((a) => a.startsWith('--forward='))) {
  const [destination, path] = arg.slice('--forward='.length).split(/=(.*)/s);
  forward[destination!] = path!;
}
const servers: Socks5Server[] = [await startSocks5Server({ forward })];
for (const arg of args.filter((a) => !a.startsWith('--forward='))) {
  const at = arg.lastIndexOf(':');
  servers.push(
    await startSocks5Server(
      at < 0 ? { port: Number(arg), forward } : { host: arg.slice(0, at), port: Number(arg.slice(at + 1)), forward },
    ),
  );
}
const reported = servers.map(() => 0);
process.stdout.write(`${JSON.stringify({ port: servers[0]!.port })}\n`);
const flush = (): void => {
  servers.forEach((server, i) => {
    while (reported[i]! < server.records.length)
      process.stdout.write(`${JSON.stringify(server.records[reported[i]!++])}\n`);
  });
};
const timer = setInterval(flush, 20);
const stop = (): void => {
  clearInterval(timer);
  flush();
  void Promise.all(servers.map((s) => s.close())).then(() => process.exit(0));
};
process.stdin.on('end', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
