// The main job, shown: real programs launched through tails-launch under
// several shipped profiles, against SOCKS5 servers of our own on loopback
// standing in for Tor's SocksPorts, and what each launch sent. Nothing leaves
// the machine: the servers answer every CONNECT themselves. Quick, and needs
// neither root nor tor; `npm run demo` without the option shows the same on a
// private network of real tors (scripts/demo.mjs).
// Usage: npm run demo -- --stand-ins   (after: bash scripts/setup.sh)
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { parse, stringify } from 'yaml';

const root = new URL('..', import.meta.url).pathname;
const launcher = join(root, 'bin/tails-launch');

// The tests' SOCKS5 server (it answers Tor's RESOLVE extension too).
const bundleDir = mkdtempSync(join(tmpdir(), 'tails-launch-demo-'));
const bundled = join(bundleDir, 'socks5-server.mjs');
await build({
  entryPoints: [join(root, 'test/support/socks5-server.ts')],
  bundle: true,
  platform: 'node',
  format: 'esm',
  outfile: bundled,
  logLevel: 'error',
});
const { startSocks5Server } = await import(bundled);

const servers = { default: await startSocks5Server(), upgrader: await startSocks5Server() };
// The `tails` listener (9062 in Tails) gets a port where nothing listens: Tor is "down" there.
const closed = await new Promise((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const { port } = s.address();
    s.close(() => resolve(port));
  });
});

// A copy of the shipped configuration with the listeners moved to our servers,
// and the GUI applications replaced by curl, which this machine has.
const config = mkdtempSync(join(tmpdir(), 'tails-launch-demo-config-'));
cpSync(join(root, 'profiles'), join(config, 'profiles'), { recursive: true });
const listeners = parse(readFileSync(join(root, 'listeners.yml'), 'utf8'));
listeners.listeners.default.port = servers.default.port;
listeners.listeners.upgrader.port = servers.upgrader.port;
listeners.listeners.tails.port = closed;
writeFileSync(join(config, 'listeners.yml'), stringify(listeners));
// Like wget/git/totem/whois (isolation: process), but running any command.
writeFileSync(join(config, 'profiles', 'per-process.yml'), 'extends: default\nisolation: process\n');
// For applications torsocks breaks: proxychains-ng, its configuration a read-only file in XDG_RUNTIME_DIR.
writeFileSync(
  join(config, 'profiles', 'via-proxychains.yml'),
  'extends: default\nisolation: app\nbackend: proxychains\nacknowledge: [udp-leak]\n',
);
// Own-setting programs (they connect to their listener themselves) become the
// tests' stand-in, which does so as told: by the profile's proxy arguments
// (Electrum's --proxy), else by "its own settings", Tails' (the listener, no credentials).
const ports = { default: servers.default.port, tails: closed };
for (const name of ['electrum', 'pidgin', 'tails-security-check']) {
  const file = join(config, 'profiles', `${name}.yml`);
  const profile = parse(readFileSync(file, 'utf8'));
  const settings = `socks5 127.0.0.1 ${ports[profile.listener]}`;
  profile.command = join(root, 'test/fixtures/standins/own-setting.py');
  profile.env = {
    ...profile.env,
    set: { ...profile.env?.set, STANDIN_TARGET: 'example.test:80', STANDIN_OWN_SETTINGS: settings },
  };
  writeFileSync(file, stringify(profile));
}
// proxychains' configuration goes in $XDG_RUNTIME_DIR (a desktop session has one).
const runtime = mkdtempSync(join(tmpdir(), 'tails-launch-demo-runtime-'));

function launch(args) {
  return new Promise((resolve) => {
    const child = spawn(launcher, ['--config-dir', config, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH, HOME: process.env.HOME, XDG_RUNTIME_DIR: runtime },
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code, signal) => resolve({ code, signal, out: out.trim() }));
  });
}

const quote = (w) => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`);
const bold = (s) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const curl = ['-s', '--max-time', '10', 'http://example.test/'];

async function scene(title, args) {
  for (const s of Object.values(servers)) s.clear();
  console.log(`\n${bold(title)}\n  $ tails-launch ${args.map(quote).join(' ')}`);
  const { code, out } = await launch(args);
  for (const line of out.split('\n').filter(Boolean)) console.log(`  | ${line}`);
  console.log(`  exit status ${code}`);
  const seen = Object.entries(servers).flatMap(([listener, s]) => s.records.map((r) => ({ listener, ...r })));
  if (!seen.length) console.log('  Tor saw: nothing');
  for (const r of seen) {
    const auth =
      r.auth === 'userpass' ? `user ${JSON.stringify(r.username)} pass ${JSON.stringify(r.password)}` : 'no auth';
    console.log(
      `  Tor saw on listener ${r.listener} (:${r.serverPort}): ${r.command.toUpperCase()} ${r.host}:${r.port}, ${auth}`,
    );
  }
}

console.log(
  bold('tails-launch demo') +
    `: listeners default -> 127.0.0.1:${servers.default.port}, upgrader -> :${servers.upgrader.port}, tails -> :${closed} (nothing there)`,
);
await scene('Any command, torsocks backend, a fresh group per launch (RESOLVE then CONNECT, both with <torS0X>0)', [
  'default',
  '--',
  '/usr/bin/curl',
  ...curl,
]);
await scene('curl profile: env backend (ALL_PROXY=socks5h://...), a fresh group per launch', ['curl', ...curl]);
await scene('Electrum connects to Tor itself: handed its listener and its group (isolation app) by --proxy...', [
  'electrum',
]);
await scene('...and the second launch sends the same credentials', ['electrum']);
await scene('Electrum with --identity: two identities never share a circuit', [
  '--identity',
  'alice@example.org',
  'electrum',
]);
await scene('', ['--identity', 'bob@example.org', 'electrum']);
await scene("Pidgin connects to Tor itself, as its own settings say (Tails' prefs: 127.0.0.1:9050, no credentials)", [
  'pidgin',
]);
await scene('...so --identity cannot reach Tor for it: refused', ['--identity', 'alice@example.org', 'pidgin']);
await scene("Per-process isolation (Tails' torsocks --isolate): two curls in one launch, two groups", [
  'per-process',
  '--',
  '/bin/sh',
  '-c',
  `curl ${curl.join(' ')}; echo; curl ${curl.join(' ')}`,
]);
await scene('proxychains backend: its configuration a file in XDG_RUNTIME_DIR, the hostname in CONNECT', [
  'via-proxychains',
  '--',
  '/bin/sh',
  '-c',
  `readlink "$PROXYCHAINS_CONF_FILE"; curl ${curl.join(' ')}`,
]);
await scene('A static binary under an LD_PRELOAD backend: refused, it would bypass torsocks', [
  'default',
  '--',
  '/sbin/ldconfig',
  '--version',
]);
await scene("Tor not reachable on the profile's listener: refused, the application never starts", [
  'tails-security-check',
]);
await scene('A profile that must run in a network namespace: refused until placement is supported', ['tor-browser']);
await scene('An unknown profile', ['firefox']);
console.log(
  `\n${bold('explain')} shows all of this without launching: tails-launch --config-dir ${config} explain pidgin --json`,
);
for (const s of Object.values(servers)) await s.close();
// The configuration stays: the explain command above reads it.
for (const dir of [runtime, bundleDir]) rmSync(dir, { recursive: true, force: true });
