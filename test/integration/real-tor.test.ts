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
import { execa } from 'execa';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { USERNAME, EXIT } from '../support/expected';
import {
  createNamespace,
  deleteNamespace,
  startIsolatedTor,
  TAILS_SOCKS_PORTS,
  type IsolatedTor,
} from '../support/isolated-tor';
import { cleanEnv, LAUNCHER, ROOT } from '../support/launcher';

const NS = `tl-tor-${process.pid}`;
const isRoot = process.getuid?.() === 0;
let work: string;
let tor: IsolatedTor | undefined;

/** Runs ARGV inside the test's namespace, never throwing. */
function inNamespace(argv: string[]) {
  return execa('ip', ['netns', 'exec', NS, ...argv], {
    env: cleanEnv(),
    reject: false,
    timeout: 20_000,
    stdin: 'ignore',
  });
}

function launch(args: string[]) {
  return inNamespace([LAUNCHER, '--config-dir', join(work, 'config'), ...args]);
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
    const config = join(work, 'config');
    mkdirSync(join(config, 'profiles'), { recursive: true });
    // The shipped listeners (Tails' ports) and a few profiles over them.
    cpSync(join(ROOT, 'listeners.yml'), join(config, 'listeners.yml'));
    for (const name of ['default', 'curl', 'wget'])
      cpSync(join(ROOT, 'profiles', `${name}.yml`), join(config, 'profiles', `${name}.yml`));
    writeFileSync(join(config, 'profiles', 'tails-app.yml'), 'listener: tails\nisolation: app\nbackend: torsocks\n');
    writeFileSync(join(config, 'profiles', 'iuk.yml'), 'listener: upgrader\nisolation: none\nbackend: torsocks\n');
    writeFileSync(join(config, 'profiles', 'env-app.yml'), 'listener: default\nisolation: app\nbackend: env\n');
    await createNamespace(NS);
    tor = await startIsolatedTor(NS, join(work, 'tor'), Object.values(TAILS_SOCKS_PORTS));
  }, 60_000);

  afterAll(async () => {
    await tor?.stop();
    await deleteNamespace(NS);
    rmSync(work, { recursive: true, force: true });
  });

  it('tor 0.4.9 accepts <torS0X>0 and rejects every other <torS0X> username', async () => {
    const status = async (user: string) =>
      (await inNamespace([process.execPath, '-e', AUTH_PROBE, user, 'tails-launch/app/x'])).stdout;
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
    const result = await launch([
      '--identity',
      'alice@example.org',
      'tails-app',
      '--',
      '/bin/sh',
      '-c',
      'echo started',
    ]);
    expect(result.stdout).toBe('started');
    expect(result.exitCode).toBe(0);
  });

  it('a SocksPort tor does not have is refused before the application starts', async () => {
    writeFileSync(
      join(work, 'config', 'profiles', 'nowhere.yml'),
      'listener: browser-less\nisolation: app\nbackend: torsocks\n',
    );
    const listeners = YAML.parse(readFileSync(join(ROOT, 'listeners.yml'), 'utf8'));
    listeners.listeners['browser-less'] = { address: '127.0.0.1', port: 9064 };
    writeFileSync(join(work, 'config', 'listeners.yml'), YAML.stringify(listeners));
    const result = await launch(['nowhere', '--', '/bin/sh', '-c', 'echo started']);
    expect(result.stdout).toBe('');
    expect(result.exitCode).toBe(EXIT.torUnreachable);
    expect(result.stderr).toBe(
      "tails-launch: Tor is not reachable: nothing listens on 127.0.0.1:9064 (listener 'browser-less'); start Tor or wait for it to connect, or use --wait-for-tor SECONDS",
    );
  });
});
