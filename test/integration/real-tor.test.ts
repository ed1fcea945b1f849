// Against the REAL tor (Debian's 0.4.9): the launcher's preflight completes
// its SOCKS5 handshake with the credentials of each isolation mode, on the
// real Tails ports and flags, and tor rejects every <torS0X> username but
// `<torS0X>0` (why the launcher never sends another).
//
// tor runs in a network namespace of this test's own that has nothing but
// loopback, and its only directory authority is a closed loopback port: no
// packet can leave. (DisableNetwork 1 is no help here: tor 0.4.9 then opens
// no SocksPort at all.) The SOCKS handshake needs no bootstrapped Tor.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { USERNAME } from '../support/expected';
import { cleanEnv, LAUNCHER, ROOT } from '../support/launcher';

const NS = `tl-tor-${process.pid}`;
const isRoot = process.getuid?.() === 0;
let work: string;
let tor: ResultPromise | undefined;

/** Runs ARGV inside the test's namespace, never throwing. */
function inNamespace(argv: string[]) {
  return execa('ip', ['netns', 'exec', NS, ...argv], { env: cleanEnv(), reject: false, timeout: 20_000, stdin: 'ignore' });
}

function launch(args: string[]) {
  return inNamespace([LAUNCHER, '--config-dir', join(work, 'config'), ...args]);
}

async function waitForListeners(log: string, count: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    let text = '';
    try {
      text = readFileSync(log, 'utf8');
    } catch {
      // not written yet
    }
    if ((text.match(/Opened Socks listener/g) ?? []).length >= count) return;
    if (Date.now() > deadline) throw new Error(`tor did not open its SocksPorts:\n${text}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A raw RFC 1929 exchange: the status byte tor answers to USER/PASS (0 = accepted). */
const AUTH_PROBE = `
const s = require('net').connect(9050, '127.0.0.1');
const [user, pass] = process.argv.slice(1).map((x) => Buffer.from(x));
let stage = 0;
s.on('connect', () => s.write(Buffer.from([5, 1, 2])));
s.on('data', (d) => {
  if (stage++ === 0) return s.write(Buffer.concat([Buffer.from([1, user.length]), user, Buffer.from([pass.length]), pass]));
  console.log(d[1]); s.destroy();
});
s.on('close', () => { if (stage < 2) console.log('closed'); });
`;

describe.skipIf(!isRoot)('against the real tor, in a private network namespace', () => {
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'tails-launch-real-tor-'));
    const data = join(work, 'data');
    mkdirSync(data, { mode: 0o700 });
    // The Tails SocksPorts (FACTS §1), the shipped listeners and profiles.
    writeFileSync(
      join(work, 'torrc'),
      [
        `DataDirectory ${data}`,
        `Log notice file ${join(work, 'tor.log')}`,
        'SocksPort 127.0.0.1:9050 IsolateDestAddr IsolateDestPort',
        'SocksPort 127.0.0.1:9062 IsolateDestAddr IsolateDestPort',
        'SocksPort 127.0.0.1:9063 NoIsolateDestAddr NoIsolateDestPort NoIsolateClientProtocol',
        'RunAsDaemon 0',
        'GeoIPFile /dev/null',
        'GeoIPv6File /dev/null',
        'AvoidDiskWrites 1',
        'UseDefaultFallbackDirs 0',
        `DirAuthority closed orport=7 no-v2 v3ident=${'0'.repeat(40)} 127.0.0.1:7 ${'0'.repeat(40)}`,
        '',
      ].join('\n'),
    );
    const config = join(work, 'config');
    mkdirSync(join(config, 'profiles'), { recursive: true });
    cpSync(join(ROOT, 'listeners.yml'), join(config, 'listeners.yml'));
    for (const name of ['default', 'curl', 'wget']) cpSync(join(ROOT, 'profiles', `${name}.yml`), join(config, 'profiles', `${name}.yml`));
    writeFileSync(join(config, 'profiles', 'tails-app.yml'), 'listener: tails\nisolation: app\nbackend: torsocks\n');
    writeFileSync(join(config, 'profiles', 'iuk.yml'), 'listener: upgrader\nisolation: none\nbackend: torsocks\n');
    writeFileSync(join(config, 'profiles', 'env-app.yml'), 'listener: default\nisolation: app\nbackend: env\n');

    await execa('ip', ['netns', 'add', NS]);
    await execa('ip', ['netns', 'exec', NS, 'ip', 'link', 'set', 'lo', 'up']);
    // `ip netns exec` execs tor: this PID is tor's, and only it is killed below.
    tor = execa('ip', ['netns', 'exec', NS, 'tor', '-f', join(work, 'torrc')], { reject: false, stdio: 'ignore' });
    await waitForListeners(join(work, 'tor.log'), 3);
  }, 60_000);

  afterAll(async () => {
    if (tor?.pid) process.kill(tor.pid, 'SIGTERM');
    await tor;
    await execa('ip', ['netns', 'del', NS], { reject: false });
    rmSync(work, { recursive: true, force: true });
  });

  it('tor 0.4.9 accepts <torS0X>0 and rejects every other <torS0X> username', async () => {
    const status = async (user: string) => (await inNamespace([process.execPath, '-e', AUTH_PROBE, user, 'tails-launch/app/x'])).stdout;
    expect(await status(USERNAME)).toBe('0');
    expect(await status('<torS0X>1')).not.toBe('0');
    expect(await status('<torS0X>')).not.toBe('0');
  });

  it.each([
    ['default', 'launch group, torsocks, 9050'],
    ['tails-app', 'app group, torsocks, 9062'],
    ['iuk', 'no SOCKS auth, 9063 without isolation flags'],
    ['env-app', 'app group in ALL_PROXY, env backend'],
  ])('%s (%s): the preflight handshake with real tor passes and the application starts', async (profile) => {
    const result = await launch([profile, '--', '/bin/sh', '-c', 'echo started']);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('started');
    expect(result.exitCode).toBe(0);
  });

  it('per-process isolation under the shipped wget profile starts through real tor', async () => {
    // wget's profile fixes its command: ask wget itself for its version (no network).
    const result = await launch(['wget', '--version']);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/^GNU Wget/);
  });

  it('with --identity, real tor accepts the identity-folded key too', async () => {
    const result = await launch(['--identity', 'alice@example.org', 'tails-app', '--', '/bin/sh', '-c', 'echo started']);
    expect(result.stdout).toBe('started');
    expect(result.exitCode).toBe(0);
  });

  it('a SocksPort tor does not have is refused before the application starts', async () => {
    writeFileSync(join(work, 'config', 'profiles', 'nowhere.yml'), 'listener: browser-less\nisolation: app\nbackend: torsocks\n');
    const listeners = YAML.parse(readFileSync(join(ROOT, 'listeners.yml'), 'utf8'));
    listeners.listeners['browser-less'] = { address: '127.0.0.1', port: 9064 };
    writeFileSync(join(work, 'config', 'listeners.yml'), YAML.stringify(listeners));
    const result = await launch(['nowhere', '--', '/bin/sh', '-c', 'echo started']);
    expect(result.stdout).toBe('');
    expect(result.exitCode).toBe(69);
    expect(result.stderr).toBe("tails-launch: Tor is not reachable: nothing listens on 127.0.0.1:9064 (listener 'browser-less'); start Tor or wait for it to connect, or use --wait-for-tor SECONDS");
  });
});
