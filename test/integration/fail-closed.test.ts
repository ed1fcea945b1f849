// FAIL CLOSED, end to end: every way a launch can go wrong must leave the
// application unstarted and print ONE line on stderr, `tails-launch: ...`.
//
// The application is a shell script that first creates a marker file, then
// runs curl (through torsocks or the proxy variables) against the test SOCKS
// server: "did not start" is proven twice, by the missing marker and by the
// SOCKS server having seen no request. The first test is the control: the
// same setup with nothing wrong does create the marker and reach the server.
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cleanEnv, makeConfigDir, runLauncher, type LauncherResult, type ListenerSpec } from '../support/launcher';
import { useSocks5Server, useTempDirs } from '../support/fixtures';
import { startHttpServer } from '../support/socks5-server';
import { EXIT } from '../support/expected';

const DEFAULT_PROFILE = 'listener: default\nisolation: launch\nbackend: torsocks\n';

const socks = useSocks5Server();
const { make: tempDir, track } = useTempDirs();

/** A script that proves it ran: it writes `marker`, then makes one request through Tor. */
function markerApp(): { app: string; marker: string } {
  const dir = tempDir('app');
  const marker = join(dir, 'marker');
  const app = join(dir, 'app.sh');
  writeFileSync(
    app,
    `#!/bin/sh\necho started > '${marker}'\nexec /usr/bin/curl -s --max-time 5 http://example.test/\n`,
  );
  chmodSync(app, 0o755);
  return { app, marker };
}

/** A config dir whose `default` listener is the test SOCKS server (or LISTENER), plus PROFILES. */
function configWith(profiles: Record<string, string> = {}, listener: Partial<ListenerSpec> = {}): string {
  const dir = makeConfigDir({ default: { port: socks.port, ...listener } }, { default: DEFAULT_PROFILE, ...profiles });
  track(dir);
  return dir;
}

/** A TCP port on 127.0.0.1 that nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** After DELAY ms, listens on PORT and relays every connection to the test SOCKS server: "Tor comes up late". */
function relayLater(port: number, delayMs: number): { close(): Promise<void> } {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(socks.port, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => s.destroy());
      s.on('close', () => sockets.delete(s));
    }
    client.pipe(upstream).pipe(client);
  });
  const timer = setTimeout(() => server.listen(port, '127.0.0.1'), delayMs);
  return {
    close: () => {
      clearTimeout(timer);
      sockets.forEach((s) => s.destroy());
      return new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
    },
  };
}

/** The launcher refused: STATUS, exactly one `tails-launch: ` line, no stack, no marker, no SOCKS request. */
async function expectRefused(result: LauncherResult, status: number, marker: string, message?: RegExp): Promise<void> {
  expect({ exitCode: result.exitCode, stderr: result.stderr }).toMatchObject({ exitCode: status });
  const lines = result.stderr.split('\n');
  expect(lines, `stderr: ${result.stderr}`).toHaveLength(1);
  expect(lines[0]).toMatch(/^tails-launch: \S/);
  expect(result.stderr).not.toMatch(/^\s+at /m);
  expect(result.stderr).not.toMatch(/internal error/);
  if (message) expect(lines[0]).toMatch(message);
  expect(result.stdout).toBe('');
  // Give an application that did start (wrongly) the time to show it.
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect(existsSync(marker), 'the application started').toBe(false);
  expect(socks.records).toEqual([]);
}

/** `tails-launch --config-dir DIR ARGS...` */
function launch(dir: string, args: string[], env: Record<string, string> = {}): Promise<LauncherResult> {
  return runLauncher(['--config-dir', dir, ...args], { env: cleanEnv(env) });
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('control', () => {
  it('launches the marker application when nothing is wrong (so the refusals below are meaningful)', async () => {
    const { app, marker } = markerApp();
    const result = await launch(configWith(), ['default', '--', app]);
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe('ok via socks5');
    expect(existsSync(marker)).toBe(true);
    expect(socks.records.length).toBeGreaterThan(0);
    expect(socks.records.every((r) => r.auth === 'userpass')).toBe(true);
  });
});

describe('Tor not reachable -> 69', () => {
  it('refuses when nothing listens on the listener port', async () => {
    const { app, marker } = markerApp();
    const port = await closedPort();
    const result = await launch(configWith({}, { port }), ['default', '--', app]);
    await expectRefused(
      result,
      EXIT.torUnreachable,
      marker,
      new RegExp(`Tor is not reachable: nothing listens on 127\\.0\\.0\\.1:${port} .*--wait-for-tor`),
    );
  });

  it('refuses when the port answers but is not SOCKS5 (an HTTP server)', async () => {
    const { app, marker } = markerApp();
    const http = await startHttpServer();
    try {
      const result = await launch(configWith({}, { port: http.port }), ['default', '--', app]);
      await expectRefused(
        result,
        EXIT.torUnreachable,
        marker,
        /Tor is not reachable: .*(does not speak SOCKS5|closed the connection)/,
      );
      expect(http.connections).toBeGreaterThan(0);
    } finally {
      await http.close();
    }
  });

  it('--wait-for-tor 2 keeps trying for about 2 s, then refuses', async () => {
    const { app, marker } = markerApp();
    const port = await closedPort();
    const started = Date.now();
    const result = await launch(configWith({}, { port }), ['--wait-for-tor', '2', 'default', '--', app]);
    const elapsed = Date.now() - started;
    await expectRefused(
      result,
      EXIT.torUnreachable,
      marker,
      /Tor is not reachable after waiting 2 s: nothing listens on/,
    );
    expect(elapsed).toBeGreaterThanOrEqual(1900);
    expect(elapsed).toBeLessThan(6000);
  });

  it('--wait-for-tor 2 launches once a SOCKS server starts listening after 1 s', async () => {
    const { app, marker } = markerApp();
    const port = await closedPort();
    const relay = relayLater(port, 1000);
    try {
      const started = Date.now();
      const result = await launch(configWith({}, { port }), ['--wait-for-tor', '2', 'default', '--', app]);
      expect(result.stderr).toBe('');
      expect(result.exitCode).toBe(0);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
      expect(existsSync(marker)).toBe(true);
      expect(result.stdout).toBe('ok via socks5');
    } finally {
      await relay.close();
    }
  });
});

describe('wrapper or application cannot be executed -> 127 / 126', () => {
  it("does not depend on the caller's PATH for torsocks: a PATH without it still launches wrapped (a missing library: leaks.test.ts)", async () => {
    const { app, marker } = markerApp();
    const emptyBin = tempDir('bin');
    const result = await launch(configWith(), ['default', '--', app], {
      PATH: emptyBin,
      TAILS_LAUNCH_NODE: process.execPath,
    });
    expect(result.exitCode).toBe(0);
    expect(existsSync(marker)).toBe(true);
  });

  it('refuses with 127 when the application does not exist', async () => {
    const { marker } = markerApp();
    const missing = join(tempDir('missing'), 'no-such-app');
    const result = await launch(configWith(), ['default', '--', missing]);
    await expectRefused(result, EXIT.notFound, marker, new RegExp(`application '${escape(missing)}' not found`));
  });

  it('refuses with 127 when a bare application name is not on the PATH', async () => {
    const { marker } = markerApp();
    const result = await launch(configWith(), ['default', '--', 'no-such-app-tails-launch-test']);
    await expectRefused(
      result,
      EXIT.notFound,
      marker,
      /application 'no-such-app-tails-launch-test' not found on the application's PATH: check the command's name/,
    );
  });

  it('refuses with 126 when the application is not executable (mode 0644)', async () => {
    const { app, marker } = markerApp();
    chmodSync(app, 0o644);
    const result = await launch(configWith(), ['default', '--', app]);
    await expectRefused(result, EXIT.cannotExecute, marker, /cannot be executed: not executable/);
  });

  it('refuses with 126 when the application is a directory', async () => {
    const { marker } = markerApp();
    const dir = tempDir('appdir');
    const result = await launch(configWith(), ['default', '--', dir]);
    await expectRefused(result, EXIT.cannotExecute, marker, /cannot be executed: not a regular file/);
  });
});

describe('invalid profile -> 65, naming file:LINE and the field', () => {
  const cases: Array<[string, string, number, string]> = [
    ['an unknown field', 'extends: default\nfrobnicate: 1\n', 2, 'frobnicate'],
    ['a field of the wrong type', 'extends: default\nwait_for_tor: soon\n', 2, 'wait_for_tor'],
    ['a bad isolation value', 'extends: default\nisolation: sometimes\n', 2, 'isolation'],
    [
      'http_proxy in env.set',
      'extends: default\nenv:\n  set:\n    http_proxy: http://127.0.0.1:3128\n',
      4,
      'env.set.http_proxy',
    ],
    [
      'LD_PRELOAD in env.set',
      'extends: default\nenv:\n  set:\n    LD_PRELOAD: /tmp/evil.so\n',
      4,
      'env.set.LD_PRELOAD',
    ],
    ['a missing listener', 'extends: default\nlistener: nowhere\n', 2, 'listener'],
    ['isolation process with backend env', 'extends: default\nbackend: env\nisolation: process\n', 3, 'isolation'],
  ];
  for (const [what, text, line, field] of cases) {
    it(`refuses ${what}`, async () => {
      const { app, marker } = markerApp();
      const dir = configWith({ bad: text });
      const result = await launch(dir, ['bad', '--', app]);
      await expectRefused(
        result,
        EXIT.config,
        marker,
        new RegExp(`${escape(join(dir, 'profiles/bad.yml'))}:${line}: ${escape(field)}: `),
      );
    });
  }

  it('refuses a listener address that is a host name (listeners.yml:LINE)', async () => {
    const { app, marker } = markerApp();
    const dir = configWith({}, { address: 'localhost' });
    const result = await launch(dir, ['default', '--', app]);
    await expectRefused(
      result,
      EXIT.config,
      marker,
      new RegExp(`${escape(join(dir, 'listeners.yml'))}:3: listeners\\.default\\.address: .*no host names`),
    );
  });

  it('refuses an extends cycle', async () => {
    const { app, marker } = markerApp();
    const dir = configWith({ one: 'extends: two\n', two: 'extends: one\n' });
    const result = await launch(dir, ['one', '--', app]);
    await expectRefused(result, EXIT.config, marker, /profiles\/(one|two)\.yml.*extends.*cycle/);
  });

  it('refuses a YAML syntax error, naming its line', async () => {
    const { app, marker } = markerApp();
    const dir = configWith({ broken: 'extends: default\nisolation: launch\n  backend: torsocks\n' });
    const result = await launch(dir, ['broken', '--', app]);
    await expectRefused(
      result,
      EXIT.config,
      marker,
      new RegExp(`${escape(join(dir, 'profiles/broken.yml'))}:3: syntax error: `),
    );
  });

  it('refuses an empty config dir (no listeners.yml)', async () => {
    const { app, marker } = markerApp();
    const dir = tempDir('empty-config');
    const result = await launch(dir, ['default', '--', app]);
    await expectRefused(result, EXIT.config, marker, /listeners\.yml: no listener is defined/);
  });
});

describe('unknown profile -> 66', () => {
  it('refuses a profile that no layer defines', async () => {
    const { app, marker } = markerApp();
    const result = await launch(configWith(), ['nosuch', '--', app]);
    await expectRefused(result, EXIT.unknownProfile, marker, /no profile named 'nosuch'/);
  });

  it('refuses a profile name with ../ even when the file it points at is a valid profile', async () => {
    const { app, marker } = markerApp();
    const dir = configWith();
    writeFileSync(join(dir, 'outside.yml'), DEFAULT_PROFILE);
    mkdirSync(join(dir, 'profiles', 'sub'));
    writeFileSync(join(dir, 'profiles', 'sub', 'inner.yml'), DEFAULT_PROFILE);
    for (const name of ['../outside', 'sub/inner', `${dir}/outside`]) {
      socks.clear();
      const result = await launch(dir, [name, '--', app]);
      await expectRefused(result, EXIT.unknownProfile, marker, /no profile named/);
    }
  });
});

describe('usage errors -> 64', () => {
  it('refuses an unknown option before the profile', async () => {
    const { app, marker } = markerApp();
    const result = await launch(configWith(), ['--bogus', 'default', '--', app]);
    await expectRefused(result, EXIT.usage, marker, /unknown option '--bogus'/);
  });

  it('refuses an --identity with spaces', async () => {
    const { app, marker } = markerApp();
    const result = await launch(configWith(), ['--identity', 'alice smith', 'default', '--', app]);
    await expectRefused(result, EXIT.usage, marker, /--identity 'alice smith' is not valid/);
  });

  it('refuses no arguments at all', async () => {
    const { marker } = markerApp();
    const result = await runLauncher([]);
    await expectRefused(result, EXIT.usage, marker, /no profile given/);
  });

  it('refuses `default` without a command', async () => {
    const { marker } = markerApp();
    const result = await launch(configWith(), ['default']);
    await expectRefused(
      result,
      EXIT.usage,
      marker,
      /profile 'default' has no command: .*tails-launch default -- COMMAND/,
    );
  });
});

describe('placement that cannot be applied here -> 67, 72, 65', () => {
  it('refuses a profile whose network namespace does not exist (72)', async () => {
    const { app, marker } = markerApp();
    const result = await launch(configWith({ boxed: `extends: default\nnetns: tl-absent\ncommand: ${app}\n` }), [
      'boxed',
    ]);
    await expectRefused(
      result,
      EXIT.noNamespace,
      marker,
      /network namespace 'tl-absent' does not exist.*netns setup tl-absent/,
    );
  });

  it('refuses a profile whose user does not exist (67)', async () => {
    const { app, marker } = markerApp();
    const result = await launch(configWith({ other: `extends: default\nuser: tl-no-such-user\ncommand: ${app}\n` }), [
      'other',
    ]);
    await expectRefused(result, EXIT.noUser, marker, /runs as user 'tl-no-such-user', which does not exist/);
  });

  it('refuses a placed profile without a command of its own: the caller would choose what runs as that user (65)', async () => {
    const { app, marker } = markerApp();
    const result = await launch(configWith({ other: 'extends: default\nuser: nobody\n' }), ['other', '--', app]);
    await expectRefused(result, EXIT.config, marker, /must name its command/);
  });
});
