// `tails-launch doctor` against the REAL tor (Debian's 0.4.9), each scenario
// in a network namespace of this test's own that has nothing but loopback
// (the approach of real-tor.test.ts): the tors listen on the Tails ports
// without clashing with each other or with the host, and no packet can leave.
// Their only directory authority is a closed loopback port, so none of them
// ever bootstraps: doctor's bootstrap check FAILS in every scenario, and
// every run exits 1, even the healthy one. That is asserted, not hidden.
// (DisableNetwork 1 would not do: tor 0.4.9 then opens no SocksPort at all.)
import { randomBytes } from 'node:crypto';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createNamespace,
  deleteNamespace,
  startIsolatedTor,
  TAILS_SOCKS_PORTS,
  type IsolatedTor,
} from '../support/isolated-tor';
import { cleanEnv, LAUNCHER, ROOT } from '../support/launcher';
import { EXIT } from '../support/expected';

const isRoot = process.getuid?.() === 0;
const PASSWORD = 'pa"ss\\word with spaces';
const CONTROL = '127.0.0.1:9052';
const TAILS_SOCKS = TAILS_SOCKS_PORTS;
const BOOTSTRAP_FAIL =
  "FAIL  Tor is not bootstrapped: 0% (starting): Starting -> wait for Tor to connect to the Tor network; if it stays there, check the network connection, the clock and Tor's log";

type Scenario = 'healthy' | 'cookie' | 'wrongflags' | 'missing' | 'down' | 'jail';
const SCENARIOS: Scenario[] = ['healthy', 'cookie', 'wrongflags', 'missing', 'down', 'jail'];
const ns = (s: Scenario) => `tl-doc-${s}-${process.pid}`;

let work: string;
const tors: IsolatedTor[] = [];

interface Check {
  id: string;
  status: 'ok' | 'fail' | 'warn' | 'skip';
  message: string;
  fix?: string;
}

async function doctor(scenario: Scenario, args: string[], config = scenario as string) {
  const result = await execa(
    'ip',
    ['netns', 'exec', ns(scenario), LAUNCHER, '--config-dir', join(work, `config-${config}`), 'doctor', ...args],
    {
      env: cleanEnv(),
      extendEnv: false,
      reject: false,
      timeout: 30_000,
      stdin: 'ignore',
    },
  );
  return { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) };
}

/** Runs doctor with and without --json; asserts that both agree line for line; returns the text lines and the checks. */
async function both(scenario: Scenario, args: string[], config?: string) {
  const [text, json] = await Promise.all([
    doctor(scenario, args, config),
    doctor(scenario, [...args, '--json'], config),
  ]);
  expect(text.stderr).toBe('');
  expect(json.stderr).toBe('');
  const data = JSON.parse(json.stdout) as { passed: boolean; checks: Check[] };
  const lines = text.stdout.split('\n').filter(Boolean);
  const label = { ok: 'ok  ', fail: 'FAIL', warn: 'warn', skip: 'skip' };
  expect(lines.slice(0, -1)).toEqual(
    data.checks.map((c) => `${label[c.status]}  ${c.message}${c.fix ? ` -> ${c.fix}` : ''}`),
  );
  expect(json.exitCode).toBe(text.exitCode);
  expect(data.passed).toBe(text.exitCode === 0);
  expect(data.passed).toBe(!data.checks.some((c) => c.status === 'fail'));
  return {
    exitCode: text.exitCode,
    lines,
    checks: data.checks,
    status: (id: string) => data.checks.find((c) => c.id === id)?.status,
  };
}

function writeConfig(name: string, control: string[]): void {
  const dir = join(work, `config-${name}`);
  mkdirSync(join(dir, 'profiles'), { recursive: true });
  // The shipped listeners (Tails' ports and flags), its `control` section replaced.
  const shipped = readFileSync(join(ROOT, 'listeners.yml'), 'utf8').replace(/^control:[\s\S]*$/m, '');
  writeFileSync(
    join(dir, 'listeners.yml'),
    `${shipped}control:\n  address: ${CONTROL}\n${control.map((l) => `  ${l}\n`).join('')}`,
  );
  for (const p of ['default', 'curl', 'wget'])
    cpSync(join(ROOT, 'profiles', `${p}.yml`), join(dir, 'profiles', `${p}.yml`));
  writeFileSync(join(dir, 'profiles', 'tails-app.yml'), 'listener: tails\nisolation: app\nbackend: torsocks\n');
  writeFileSync(join(dir, 'profiles', 'iuk.yml'), 'listener: upgrader\nisolation: none\nbackend: torsocks\n');
  writeFileSync(
    join(dir, 'profiles', 'lost.yml'),
    'command: /opt/nowhere/lost-app\nlistener: default\nisolation: app\nbackend: torsocks\n',
  );
}

function startTor(scenario: Scenario, lines: string[]): Promise<IsolatedTor> {
  return startIsolatedTor(ns(scenario), join(work, scenario), [...lines, `ControlPort ${CONTROL}`]).then(
    (tor) => (tors.push(tor), tor),
  );
}

describe.skipIf(!isRoot)('doctor against the real tor, in private network namespaces', () => {
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'tails-launch-doctor-'));
    chmodSync(work, 0o700);
    writeFileSync(join(work, 'password'), `${PASSWORD}\n`, { mode: 0o600 });
    writeFileSync(join(work, 'wrong-password'), 'not the password\n', { mode: 0o600 });
    const hashed = (await execa('tor', ['--quiet', '--hash-password', PASSWORD])).stdout.trim();
    expect(hashed).toMatch(/^16:[0-9A-F]+$/);
    const password = `HashedControlPassword ${hashed}`;

    writeConfig('healthy', [`password_file: ${join(work, 'password')}`]);
    writeConfig('cookie', [`cookie_file: ${join(work, 'cookie', 'control.authcookie')}`]);
    // The same tor, but no cookie file configured: doctor must not take the one PROTOCOLINFO names.
    writeConfig('cookie-unconfigured', []);
    // 32 bytes, as a cookie is, but not this tor's.
    writeFileSync(join(work, 'stale-cookie'), randomBytes(32), { mode: 0o600 });
    writeConfig('wrongflags', [`password_file: ${join(work, 'password')}`]);
    writeConfig('missing', [`password_file: ${join(work, 'password')}`]);
    writeConfig('down', [`password_file: ${join(work, 'password')}`]);

    // Jail ports: default's right, tails' without IsolateClientAddr, upgrader's missing from Tor.
    writeConfig('jail', [`password_file: ${join(work, 'password')}`]);
    const listeners = join(work, 'config-jail', 'listeners.yml');
    writeFileSync(
      listeners,
      readFileSync(listeners, 'utf8')
        .replace('port: 9050\n    flags: [IsolateDestAddr, IsolateDestPort]\n', '$&    jail_port: 9150\n')
        .replace('port: 9062\n', '$&    jail_port: 9162\n')
        .replace('port: 9063\n', '$&    jail_port: 9163\n')
        .replace(/^control:/m, 'jails:\n  pool: 10.240.0.0/12\n$&'),
    );

    for (const s of SCENARIOS) await createNamespace(ns(s));
    await Promise.all([
      startTor('healthy', [...Object.values(TAILS_SOCKS), password]),
      startTor('cookie', [
        ...Object.values(TAILS_SOCKS),
        'CookieAuthentication 1',
        `CookieAuthFile ${join(work, 'cookie', 'control.authcookie')}`,
      ]),
      startTor('wrongflags', [
        TAILS_SOCKS[9050],
        'SocksPort 127.0.0.1:9062 IsolateDestPort',
        TAILS_SOCKS[9063],
        password,
      ]),
      startTor('missing', [TAILS_SOCKS[9050], TAILS_SOCKS[9062], password]),
      startTor('jail', [
        ...Object.values(TAILS_SOCKS),
        'SocksPort 127.0.0.1:9150 IsolateDestAddr IsolateDestPort IsolateClientAddr',
        'SocksPort 127.0.0.1:9162 IsolateDestAddr IsolateDestPort NoIsolateClientAddr',
        password,
      ]),
    ]);
  }, 90_000);

  afterAll(async () => {
    await Promise.all(tors.map((tor) => tor.stop()));
    for (const s of SCENARIOS) await deleteNamespace(ns(s));
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('(a) a healthy tor (password authentication): every listener check is ok; only the bootstrap FAILs, so exit 1', async () => {
    const r = await both('healthy', []);
    expect(r.lines[0]).toMatch(/^ok    Tor 0\.4\.9\.\d+ answers on its control port 127\.0\.0\.1:9052$/);
    expect(r.lines[1]).toBe(`ok    authenticated with the password in ${join(work, 'password')}`);
    // No network in the namespace: tor stays at 0%. This is why the run exits 1.
    expect(r.lines[2]).toBe(BOOTSTRAP_FAIL);
    for (const listener of ['default', 'tails', 'upgrader']) {
      for (const what of ['live', 'flags', 'socks']) expect(r.status(`listener.${listener}.${what}`)).toBe('ok');
    }
    expect(r.lines).toContain(
      "ok    listener 'tails' (127.0.0.1:9062, used by tails-app): Tor's SocksPort has the expected flags (127.0.0.1:9062 IsolateDestAddr IsolateDestPort)",
    );
    expect(r.status('wrapper.torsocks')).toBe('ok');
    expect(r.status('torsocks.conf')).toBe('ok');
    expect(r.status('torsocks.system-conf')).toBe('ok');
    // Only NAMED profiles get their application checked: 'lost' is not named here.
    expect(r.checks.filter((c) => c.id.endsWith('.application'))).toEqual([]);
    expect(r.checks.filter((c) => c.status === 'fail').map((c) => c.id)).toEqual(['tor.bootstrap']);
    expect(r.lines.at(-1)).toMatch(/^1 check failed \(\d+ ok, 1 FAIL, 0 warn, 0 skip\)$/);
    expect(r.exitCode).toBe(EXIT.checkFailed);
  });

  it('(b) cookie authentication (SAFECOOKIE) with the CookieAuthFile named in the configuration', async () => {
    const r = await both('cookie', ['curl', 'tails-app']);
    expect(r.lines[1]).toBe(
      `ok    authenticated with SAFECOOKIE and the cookie ${join(work, 'cookie', 'control.authcookie')}`,
    );
    expect(r.lines[2]).toBe(BOOTSTRAP_FAIL);
    expect(r.checks.filter((c) => c.status === 'fail').map((c) => c.id)).toEqual(['tor.bootstrap']);
    expect(r.exitCode).toBe(EXIT.checkFailed);
  });

  it("(b2) a cookie file that is not this tor's: tor's AUTHCHALLENGE hash does not match it, so doctor refuses before AUTHENTICATE", async () => {
    const stale = join(work, 'stale-cookie');
    const r = await both('cookie', ['curl', '--control-cookie', stale]);
    expect(r.lines[1]).toBe(
      `FAIL  authentication with SAFECOOKIE and the cookie ${stale} failed: ${CONTROL} does not prove that it knows the cookie in ${stale} (its AUTHCHALLENGE hash is wrong): it is not the Tor that wrote that file, or the file is stale -> check that ${CONTROL} is this Tor's ControlPort, and give Tor's current CookieAuthFile with --control-cookie FILE (this control port says ${join(work, 'cookie', 'control.authcookie')})`,
    );
    expect(r.checks.filter((c) => c.status === 'fail').map((c) => c.id)).toEqual(['control.auth']);
  });

  it('(b3) no cookie file configured: doctor does not read the COOKIEFILE that tor names, it says what to configure', async () => {
    const r = await both('cookie', ['curl'], 'cookie-unconfigured');
    expect(r.lines[1]).toBe(
      `FAIL  authentication to ${CONTROL}: Tor offers cookie authentication (COOKIE, SAFECOOKIE) but no cookie file is configured; doctor never reads the file the control port names (${join(work, 'cookie', 'control.authcookie')}) -> give Tor's CookieAuthFile with --control-cookie FILE, or set control.cookie_file in listeners.yml`,
    );
  });

  it('(c) a listener with the wrong flags: its DIFFERS line with the SocksPort line to use', async () => {
    const r = await both('wrongflags', ['tails-app']);
    expect(r.lines).toContain(
      "FAIL  listener 'tails' (127.0.0.1:9062, used by tails-app): Tor's SocksPort differs: IsolateDestAddr should be on but is off (Tor has '127.0.0.1:9062 IsolateDestPort') -> use in torrc: SocksPort 127.0.0.1:9062 IsolateDestAddr IsolateDestPort",
    );
    // Still open and still a SOCKS5 server: only the flags are wrong.
    expect(r.status('listener.tails.live')).toBe('ok');
    expect(r.status('listener.tails.socks')).toBe('ok');
    expect(r.checks.filter((c) => c.status === 'fail').map((c) => c.id)).toEqual([
      'tor.bootstrap',
      'listener.tails.flags',
    ]);
    expect(r.exitCode).toBe(EXIT.checkFailed);
  });

  it('(d) a missing listener (no 9063): not open, not configured, no handshake', async () => {
    const r = await both('missing', ['iuk', 'curl']);
    const line = 'SocksPort 127.0.0.1:9063 NoIsolateDestAddr NoIsolateDestPort NoIsolateClientProtocol';
    expect(r.lines).toContain(
      `FAIL  listener 'upgrader' (127.0.0.1:9063, used by iuk) is not open in Tor (Tor's SOCKS listeners: 127.0.0.1:9050 127.0.0.1:9062) -> add '${line}' to torrc (see 'tails-launch torrc') and reload Tor`,
    );
    expect(r.lines).toContain(
      `FAIL  listener 'upgrader' (127.0.0.1:9063, used by iuk): Tor's configuration has no SocksPort 127.0.0.1:9063 -> add to torrc: ${line}`,
    );
    expect(r.lines).toContain(
      `FAIL  listener 'upgrader' (127.0.0.1:9063, used by iuk): no SOCKS5 handshake: nothing listens on 127.0.0.1:9063 -> start Tor with '${line}' in torrc`,
    );
    expect(r.status('listener.default.flags')).toBe('ok');
    expect(r.exitCode).toBe(EXIT.checkFailed);
  });

  it('(e) a wrong control password: the authentication FAIL line; what needs the control port is skipped, the handshakes still run', async () => {
    const wrong = join(work, 'wrong-password');
    const r = await both('healthy', ['curl', '--control-password-file', wrong], 'healthy');
    expect(r.lines[1]).toBe(
      `FAIL  authentication with the password in ${wrong} failed: Tor rejected it (515 Authentication failed: Password did not match HashedControlPassword value from configuration) -> put the password matching torrc's HashedControlPassword in ${wrong} (or use cookie authentication with --control-cookie FILE)`,
    );
    expect(r.lines[2]).toBe("skip  Tor's bootstrap: not checked (needs the control port)");
    expect(r.status('listener.default.live')).toBe('skip');
    expect(r.status('listener.default.flags')).toBe('skip');
    expect(r.status('listener.default.socks')).toBe('ok');
    expect(r.checks.filter((c) => c.status === 'fail').map((c) => c.id)).toEqual(['control.auth']);
    expect(r.exitCode).toBe(EXIT.checkFailed);
  });

  it('(f) Tor not running: the control-port FAIL line, and every SOCKS handshake FAILs', async () => {
    const r = await both('down', []);
    expect(r.lines[0]).toBe(
      `FAIL  Tor's control port ${CONTROL} is not reachable: nothing listens on ${CONTROL} -> start Tor, or give its ControlPort with --control ADDRESS:PORT (or control.address in listeners.yml)`,
    );
    expect(r.lines[1]).toBe('skip  authentication: not tried (needs the control port)');
    for (const [listener, port] of [
      ['default', 9050],
      ['tails', 9062],
      ['upgrader', 9063],
    ] as const) {
      const socks = r.checks.find((c) => c.id === `listener.${listener}.socks`)!;
      expect(socks.status).toBe('fail');
      expect(socks.message).toMatch(new RegExp(`: no SOCKS5 handshake: nothing listens on 127\\.0\\.0\\.1:${port}$`));
    }
    expect(r.exitCode).toBe(EXIT.checkFailed);
  });

  it('(g) a named profile whose application is missing: its FAIL line', async () => {
    const r = await both('healthy', ['lost', 'curl']);
    expect(r.lines).toContain(
      `FAIL  profile 'lost': application '/opt/nowhere/lost-app' not found at /opt/nowhere/lost-app -> install it, or fix 'command' in ${join(work, 'config-healthy', 'profiles', 'lost.yml')}`,
    );
    expect(r.status('profile.curl.application')).toBe('ok');
    expect(r.checks.filter((c) => c.status === 'fail').map((c) => c.id)).toEqual([
      'tor.bootstrap',
      'profile.lost.application',
    ]);
    expect(r.exitCode).toBe(EXIT.checkFailed);
  });

  it("jail ports: each listener's jail SocksPort is checked like the listener (open, flags with IsolateClientAddr, handshake), and the host side as root", async () => {
    const r = await both('jail', ['curl', 'tails-app', 'iuk']);
    const jail = r.checks.filter((c) => c.id.includes('.jail.'));
    const twin = (name: string, port: number) =>
      `jail port of listener '${name}' (127.0.0.1:${port}, used by its jails)`;
    expect(jail.map((c) => [c.id, c.status])).toEqual([
      ['listener.default.jail.live', 'ok'],
      ['listener.default.jail.flags', 'ok'],
      ['listener.default.jail.socks', 'ok'],
      ['listener.tails.jail.live', 'ok'],
      ['listener.tails.jail.flags', 'fail'],
      ['listener.tails.jail.socks', 'ok'],
      ['listener.upgrader.jail.live', 'fail'],
      ['listener.upgrader.jail.flags', 'fail'],
      ['listener.upgrader.jail.socks', 'fail'],
      ['listener.default.jail.host', 'fail'],
      ['listener.tails.jail.host', 'fail'],
      ['listener.upgrader.jail.host', 'fail'],
    ]);
    expect(r.lines).toContain(
      `ok    ${twin('default', 9150)}: Tor's SocksPort has the expected flags (127.0.0.1:9150 IsolateDestAddr IsolateDestPort IsolateClientAddr)`,
    );
    expect(r.lines).toContain(
      `FAIL  ${twin('tails', 9162)}: Tor's SocksPort differs: IsolateClientAddr should be on but is off (Tor has '127.0.0.1:9162 IsolateDestAddr IsolateDestPort NoIsolateClientAddr') -> use in torrc: SocksPort 127.0.0.1:9162 IsolateDestAddr IsolateDestPort IsolateClientAddr`,
    );
    expect(r.lines).toContain(
      `FAIL  ${twin('upgrader', 9163)}: Tor's configuration has no SocksPort 127.0.0.1:9163 -> add to torrc: SocksPort 127.0.0.1:9163 NoIsolateDestAddr NoIsolateDestPort NoIsolateClientProtocol IsolateClientAddr`,
    );
    // doctor runs as root here, in a namespace where 'jail setup' never ran.
    expect(r.lines).toContain(
      "FAIL  jail port of listener 'default' (127.0.0.1:9150): the jails' host side is not installed (no nftables table inet tails_launch_jails) -> run 'tails-launch jail setup' as root",
    );
    // The listeners themselves are as healthy as ever.
    for (const l of ['default', 'tails', 'upgrader'])
      for (const what of ['live', 'flags', 'socks']) expect(r.status(`listener.${l}.${what}`)).toBe('ok');
  });

  it('a profile with a user: the account is checked (ok, or FAIL when there is none); an unknown profile name is refused (66)', async () => {
    const placed = join(work, 'config-healthy', 'profiles', 'placed.yml');
    const lost = join(work, 'config-healthy', 'profiles', 'lost-user.yml');
    writeFileSync(placed, 'listener: default\nisolation: app\nbackend: torsocks\nuser: nobody\ncommand: /bin/true\n');
    writeFileSync(
      lost,
      'listener: default\nisolation: app\nbackend: torsocks\nuser: no-such-user-x\ncommand: /bin/true\n',
    );
    const r = await both('healthy', ['placed', 'lost-user']);
    expect(r.lines).toContain("ok    profile 'placed': user 'nobody' exists (uid 65534)");
    expect(r.lines).toContain(
      `FAIL  profile 'lost-user': user 'no-such-user-x' does not exist, so the profile cannot be launched -> create the account, or fix 'user' in ${lost}`,
    );
    expect(r.checks.filter((c) => c.status === 'fail').map((c) => c.id)).toEqual([
      'tor.bootstrap',
      'profile.lost-user.user',
    ]);
    rmSync(placed);
    rmSync(lost);
    const unknown = await doctor('healthy', ['no-such-profile']);
    expect(unknown.exitCode).toBe(EXIT.unknownProfile);
    expect(unknown.stdout).toBe('');
  });
});
