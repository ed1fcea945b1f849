// NOT the launcher: the least a Node launcher of this design must do, to
// measure how far the real one is from its floor (bench/launch-overhead.mjs).
// No configuration, no validation, no caller-state restore; only:
//   a SOCKS5 greeting + RFC 1929 auth with 127.0.0.1:PORT (the preflight),
//   then, by MODE:
//     torsocks  koffi execve /usr/bin/torsocks APP...   (what src/ does)
//     preload   koffi execve APP... with LD_PRELOAD=libtorsocks.so and the
//               TORSOCKS_* variables set directly (no torsocks script)
//     print     print `export ...; exec APP...` for a sh front to eval: Node
//               runs as the front's child and the FRONT execs (no koffi)
//
//   node bench/floor-launch.mjs PORT MODE APP [ARGS...]
import { connect } from 'node:net';
import { createRequire } from 'node:module';

const [port, mode, ...app] = process.argv.slice(2);
const LIBTORSOCKS = '/usr/lib/x86_64-linux-gnu/torsocks/libtorsocks.so';
const user = 'floor';
const pass = `floor-${process.pid}`;

await new Promise((resolve, reject) => {
  const s = connect({ host: '127.0.0.1', port: Number(port) });
  let stage = 0;
  s.on('connect', () => s.write(Buffer.from([5, 1, 2])));
  s.on('data', (d) => {
    if (stage++ === 0) {
      if (d[0] !== 5 || d[1] !== 2) return reject(new Error('greeting refused'));
      s.write(
        Buffer.concat([
          Buffer.from([1, user.length]),
          Buffer.from(user),
          Buffer.from([pass.length]),
          Buffer.from(pass),
        ]),
      );
    } else {
      s.destroy();
      return d[1] === 0 ? resolve() : reject(new Error('auth refused'));
    }
  });
  s.on('error', reject);
});

const torEnv = {
  TORSOCKS_TOR_ADDRESS: '127.0.0.1',
  TORSOCKS_TOR_PORT: port,
  TORSOCKS_USERNAME: user,
  TORSOCKS_PASSWORD: pass,
  TORSOCKS_ISOLATE_PID: '0',
};

if (mode === 'print') {
  const q = (w) => `'${w.replace(/'/g, `'\\''`)}'`;
  const env = { ...torEnv, LD_PRELOAD: LIBTORSOCKS };
  process.stdout.write(
    `${Object.entries(env)
      .map(([k, v]) => `export ${k}=${q(v)}`)
      .join('\n')}\nexec ${app.map(q).join(' ')}\n`,
  );
  process.exit(0);
}

const koffi = createRequire(import.meta.url)('koffi');
const execve = koffi.load('libc.so.6').func('int execve(const char *path, const char **argv, const char **envp)');
const fcntl = koffi.load('libc.so.6').func('int fcntl(int fd, int cmd, ...)');
for (const fd of [0, 1, 2]) fcntl(fd, 2 /* F_SETFD */, 'int', 0); // Node marks 0-2 close-on-exec
const env = { ...process.env, ...torEnv };
let file = app[0];
let argv = app;
if (mode === 'torsocks') {
  file = '/usr/bin/torsocks';
  argv = ['torsocks', ...app];
} else env.LD_PRELOAD = LIBTORSOCKS;
execve(file, [...argv, null], [...Object.entries(env).map(([k, v]) => `${k}=${v}`), null]);
process.stderr.write(`execve failed: errno ${koffi.errno()}\n`);
process.exit(126);
