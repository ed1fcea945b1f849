// The command line, through the built launcher: --help/--version, where
// options stop and the application's arguments begin, `run`, reserved words,
// and the inspection commands explain, list and validate.
import { chmodSync, cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, LAUNCHER, makeConfigDir, ROOT, runLauncher, type LauncherResult } from '../support/launcher';
import { useSocks5Server, useTempDirs } from '../support/fixtures';
import { startHttpServer } from '../support/socks5-server';
import { EXIT, SHIPPED_PROFILE_NAMES } from '../support/expected';

const VERSION = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version as string;
const SHIPPED_NAMES = SHIPPED_PROFILE_NAMES;

const socks = useSocks5Server();
/** listener `default` -> the test SOCKS server; `default` (torsocks, launch) and `web` (env, app) profiles. */
let config: string;
const { make: tempDir, track } = useTempDirs();

/** A copy of the repository's listeners.yml and profiles/, as an installed configuration. */
function shippedCopy(): string {
  const dir = tempDir('shipped');
  cpSync(join(ROOT, 'profiles'), join(dir, 'profiles'), { recursive: true });
  cpSync(join(ROOT, 'listeners.yml'), join(dir, 'listeners.yml'));
  return dir;
}

/** A script that writes a marker when it runs. */
function markerApp(): { app: string; marker: string } {
  const dir = tempDir('app');
  const marker = join(dir, 'marker');
  const app = join(dir, 'app.sh');
  writeFileSync(app, `#!/bin/sh\necho started > '${marker}'\n`);
  chmodSync(app, 0o755);
  return { app, marker };
}

/** A script that prints each of its arguments as [ARG], one a line. */
function argvPrinter(): string {
  const file = join(tempDir('argv'), 'argv.sh');
  writeFileSync(file, '#!/bin/sh\nprintf \'[%s]\\n\' "$@"\n');
  chmodSync(file, 0o755);
  return file;
}

function tl(args: string[], env: Record<string, string> = {}): Promise<LauncherResult> {
  return runLauncher(['--config-dir', config, ...args], { env: cleanEnv(env) });
}

function expectUsageError(result: LauncherResult, message: RegExp): void {
  expect(result.exitCode).toBe(EXIT.usage);
  expect(result.stdout).toBe('');
  expect(result.stderr.split('\n')).toHaveLength(1);
  expect(result.stderr).toMatch(/^tails-launch: /);
  expect(result.stderr).toMatch(message);
}

beforeAll(() => {
  config = makeConfigDir(
    { default: { port: socks.port } },
    {
      default: 'listener: default\nisolation: launch\nbackend: torsocks\n',
      web: 'extends: default\ncommand: /usr/bin/curl\nargs: [-s]\nisolation: app\nbackend: env\n',
    },
  );
  track(config);
});

describe('--help and --version', () => {
  it('--help exits 0 and mentions every command and exit status', async () => {
    const result = await runLauncher(['--help']);
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toBe('');
    for (const word of [
      'run PROFILE',
      'explain PROFILE',
      'list',
      'validate',
      'default -- COMMAND',
      '--config-dir',
      '--identity',
      '--wait-for-tor',
    ]) {
      expect(result.stdout).toContain(word);
    }
    for (const status of [
      EXIT.usage,
      EXIT.config,
      EXIT.unknownProfile,
      EXIT.torUnreachable,
      EXIT.internal,
      EXIT.refused,
      EXIT.cannotExecute,
      EXIT.notFound,
    ])
      expect(result.stdout).toMatch(new RegExp(`\\b${status} `));
  });

  it('-h prints the same help', async () => {
    const [long, short] = await Promise.all([runLauncher(['--help']), runLauncher(['-h'])]);
    expect(short.exitCode).toBe(0);
    expect(short.stdout).toBe(long.stdout);
  });

  it('--version and -V print the package.json version', async () => {
    for (const flag of ['--version', '-V']) {
      const result = await runLauncher([flag]);
      expect(result.exitCode).toBe(0);
      expect(result.stdout).toBe(`tails-launch ${VERSION}`);
    }
  });
});

describe('the application gets everything after the profile name', () => {
  // GNU /bin/echo answers a lone --help/--version itself: a script that prints its argv shows what arrived.
  it('`default -- ARGV-PRINTER --help` gives the application --help', async () => {
    const result = await tl(['default', '--', argvPrinter(), '--help']);
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe('[--help]');
  });

  it('`default ARGV-PRINTER --version` (no --) gives the application --version', async () => {
    const result = await tl(['default', argvPrinter(), '--version']);
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe('[--version]');
  });

  it('`default -- /bin/echo --help` runs echo with --help (GNU echo then prints its own help)', async () => {
    const result = await tl(['default', '--', '/bin/echo', '--help']);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/^Usage: \/bin\/echo /);
  });

  it("launcher options after the profile name are the application's too", async () => {
    const result = await tl(['default', argvPrinter(), '--config-dir', '/nonexistent', '--identity', 'a b', '--', 'x']);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe('[--config-dir]\n[/nonexistent]\n[--identity]\n[a b]\n[--]\n[x]');
  });

  it('`run PROFILE` behaves exactly like the bare form', async () => {
    const bare = await tl(['web', 'http://example.test/']);
    const viaRun = await tl(['run', 'web', '--', 'http://example.test/']);
    expect(bare.exitCode).toBe(0);
    expect(viaRun.exitCode).toBe(0);
    expect(viaRun.stdout).toBe(bare.stdout);
    expect(bare.stdout).toBe('ok via socks5');
    const [first, second] = socks.records.filter((r) => r.command === 'connect');
    expect(first).toMatchObject({ auth: 'userpass', username: '<torS0X>0', password: 'tails-launch/app/web' });
    expect(second).toMatchObject({
      username: first!.username,
      password: first!.password,
      host: first!.host,
      port: first!.port,
    });
  });
});

describe('usage errors', () => {
  it("'desktop' is a command, not a profile: without a profile name, 64", async () => {
    expectUsageError(await tl(['desktop']), /'desktop' prints the files of one profile/);
  });

  it('`run` without a profile name: 64', async () => {
    expectUsageError(await tl(['run']), /'run' needs a profile name/);
  });

  it('an unknown option of list: 64', async () => {
    expectUsageError(await tl(['list', '--long']), /unknown option '--long' for 'list'/);
  });

  it('an empty profile name is a usage error (64), not an unknown profile (66)', async () => {
    expectUsageError(await tl(['']), /the profile name is empty/);
    expectUsageError(await tl(['run', '']), /'run' was given an empty profile name/);
  });

  it('an option given twice: 64, whichever side of run', async () => {
    expectUsageError(
      await tl(['--identity', 'a', 'run', '--identity', 'b', 'default']),
      /option --identity is given twice/,
    );
    // tl() already gives --config-dir once.
    expectUsageError(await tl(['explain', 'default', '--config-dir', '/tmp']), /option --config-dir is given twice/);
  });

  it('an option without its value at the end, or followed by another option: 64', async () => {
    expectUsageError(await tl(['run', '--identity']), /option --identity needs a value/);
    expectUsageError(
      await runLauncher(['--config-dir', '--identity', 'x', 'default']),
      /option --config-dir needs a value, not the option-like '--identity'/,
    );
  });
});

describe('options after run', () => {
  it('`run --identity x web URL` launches web with identity x', async () => {
    const result = await tl(['run', '--identity', 'x', 'web', 'http://example.test/']);
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe('ok via socks5');
    const [connect] = socks.records.filter((r) => r.command === 'connect');
    expect(connect).toMatchObject({ auth: 'userpass', password: 'tails-launch/app/web/identity/x' });
  });
});

describe('whatever an error quotes, it is one line without terminal escapes', () => {
  /** No raw control character (C0, DEL, C1), line separator or bidi control but the final newline. */
  const UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

  it('a profile name with a newline, ESC, a C1 CSI and a bidi override: 66, escaped visibly', async () => {
    const name = 'evil\ntails-launch: all good\x1b[2J\u009b31m\u202eolleh';
    const result = await tl([name]);
    expect(result.exitCode).toBe(EXIT.unknownProfile);
    expect(result.stderr.split('\n')).toHaveLength(1);
    expect(result.stderr).not.toMatch(UNSAFE);
    expect(result.stderr).toContain("no profile named 'evil\\ntails-launch: all good\\x1b[2J\\x9b31m\\u{202e}olleh'");
  });

  it('an --identity with a carriage return: 64, escaped', async () => {
    const result = await tl(['--identity', 'alice\rtails-launch: ok', 'default']);
    expectUsageError(result, /--identity 'alice\\rtails-launch: ok' is not valid/);
    expect(result.stderr).not.toMatch(UNSAFE);
  });

  it('validate FILE with a newline in its name: one escaped line per problem', async () => {
    const bad = join(tempDir('nl'), 'bad\nname\x1b]0;title\x07.yml');
    writeFileSync(bad, 'isolation: sometimes\nfrobnicate: 1\n');
    const result = await runLauncher(['validate', bad]);
    expect(result.exitCode).toBe(EXIT.config);
    const lines = result.stderr.split('\n');
    expect(lines).toHaveLength(2);
    for (const line of lines) {
      expect(line).toMatch(/^tails-launch: .*bad\\nname\\x1b\]0;title\\x07\.yml:\d+: /);
      expect(line).not.toMatch(UNSAFE);
    }
  });

  it('a very long argument makes a bounded line', async () => {
    const result = await tl([`${'p'.repeat(100_000)}`]);
    expect(result.exitCode).toBe(EXIT.unknownProfile);
    expect(result.stderr.split('\n')).toHaveLength(1);
    expect(result.stderr.length).toBeLessThan(4300);
    expect(result.stderr).toMatch(/characters left out .*'tails-launch list' shows the profiles$/);
  });
});

describe('explain', () => {
  it('--json prints the plan as JSON, schema 2', async () => {
    const result = await tl(['explain', 'default', '--json', '--', '/bin/echo', 'hello'], {
      http_proxy: 'http://127.0.0.1:3128',
      TORSOCKS_CONF_FILE: '/tmp/evil.conf',
    });
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toBe('');
    const plan = JSON.parse(result.stdout);
    for (const key of ['schema', 'profile', 'listener', 'isolation', 'backend', 'exec', 'env', 'fds', 'checks'])
      expect(plan).toHaveProperty(key);
    expect(plan.schema).toBe(2);
    expect(plan.profile).toMatchObject({ name: 'default', sources: [join(config, 'profiles', 'default.yml')] });
    expect(plan.listener).toMatchObject({ name: 'default', address: '127.0.0.1', port: socks.port });
    expect(plan.isolation.mode).toBe('launch');
    expect(plan.backend).toBe('torsocks');
    // /bin/echo itself, torsocks' library preloaded by the launcher (never a wrapper found on PATH).
    expect(plan.exec).toMatchObject({
      file: '/bin/echo',
      argv: ['/bin/echo', 'hello'],
      chain: ['/bin/echo'],
      preload: expect.stringMatching(/\/torsocks\/libtorsocks\.so$/),
    });
    expect(['execve', 'spawn']).toContain(plan.exec.method.method);
    expect(plan.env.set).toMatchObject({ TORSOCKS_TOR_ADDRESS: '127.0.0.1', TORSOCKS_TOR_PORT: String(socks.port) });
    expect(plan.env.set.TORSOCKS_CONF_FILE).not.toBe('/tmp/evil.conf');
    expect(plan.env.removed).toEqual(['http_proxy']);
    expect(plan.fds).toEqual(expect.arrayContaining([0, 1, 2]));
    expect(plan.checks.map((c: { kind: string }) => c.kind)).toEqual([
      'exec-method',
      'library',
      'application',
      'preloadable',
      'socks5',
    ]);
  });

  it('does not launch, nor even connect to the listener, and works with Tor down', async () => {
    const { app, marker } = markerApp();
    const notTor = await startHttpServer();
    try {
      const dir = makeConfigDir(
        { default: { port: notTor.port } },
        { default: 'listener: default\nisolation: launch\nbackend: torsocks\n' },
      );
      track(dir);
      const json = await runLauncher(['--config-dir', dir, 'explain', '--json', 'default', '--', app]);
      const text = await runLauncher(['--config-dir', dir, 'explain', 'default', '--', app]);
      expect(json.exitCode).toBe(0);
      expect(text.exitCode).toBe(0);
      expect(JSON.parse(json.stdout).exec.argv).toEqual(['/bin/sh', app]);
      expect(text.stdout).toMatch(/^profile\s+default/);
      expect(text.stdout).toMatch(/at run\s+SOCKS5 handshake \(userpass\) with 127\.0\.0\.1:\d+/);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(existsSync(marker)).toBe(false);
      expect(notTor.connections).toBe(0);
    } finally {
      await notTor.close();
    }
  });
});

describe('list', () => {
  it('shows every profile in a table', async () => {
    const result = await runLauncher(['--config-dir', shippedCopy(), 'list']);
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toBe('');
    const lines = result.stdout.split('\n');
    expect(lines[0]).toMatch(/^PROFILE\s+LISTENER\s+ISOLATION\s+BACKEND\s+GUARD\s+DESCRIPTION$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual(SHIPPED_NAMES);
    expect(lines.find((l) => l.startsWith('tor-browser '))).toMatch(
      /browser 10\.200\.1\.1:9050\s+application\s+own-setting\s+jail \(netns\)\s+Tor Browser/,
    );
    // Off Tails (no host_firewall declared), a program that connects by itself is jailed by the launcher.
    expect(lines.find((l) => l.startsWith('pidgin '))).toMatch(/own-setting\s+jail \(user\)\s+Pidgin/);
    expect(lines.find((l) => l.startsWith('wget '))).toMatch(/torsocks\s+preload \(torsocks\)\s+GNU Wget/);
  });

  it('--json prints an array of every profile', async () => {
    const result = await runLauncher(['--config-dir', shippedCopy(), 'list', '--json']);
    expect(result.exitCode).toBe(0);
    const entries = JSON.parse(result.stdout);
    expect(Array.isArray(entries)).toBe(true);
    expect(entries.map((e: { name: string }) => e.name)).toEqual(SHIPPED_NAMES);
    expect(entries.find((e: { name: string }) => e.name === 'curl')).toMatchObject({
      backend: 'env',
      isolation: 'launch',
      listener: { name: 'default', port: 9050 },
    });
  });

  it('exits 65 when one profile is invalid, and still lists the others', async () => {
    const dir = shippedCopy();
    writeFileSync(join(dir, 'profiles', 'broken.yml'), 'extends: default\nisolation: sometimes\n');
    const result = await runLauncher(['--config-dir', dir, 'list']);
    expect(result.exitCode).toBe(EXIT.config);
    expect(result.stderr).not.toMatch(/^\s+at /m);
    const rows = result.stdout.split('\n').slice(1);
    expect(rows.map((l) => l.split(/\s+/)[0])).toEqual([...SHIPPED_NAMES, 'broken'].sort());
    expect(rows.find((l) => l.startsWith('broken '))).toMatch(/INVALID.*broken\.yml:2: isolation: must be one of/);
    const json = await runLauncher(['--config-dir', dir, 'list', '--json']);
    expect(json.exitCode).toBe(EXIT.config);
    expect(JSON.parse(json.stdout)).toHaveLength(SHIPPED_NAMES.length + 1);
  });

  it('says nothing when its reader goes away (`tails-launch list | head -1`)', async () => {
    // Enough output (about 400 kB) that the launcher is still writing when head exits.
    const long = 'x'.repeat(2000);
    const profiles = Object.fromEntries(
      Array.from({ length: 200 }, (_, i) => [`p${i}`, `extends: default\ndescription: ${long}\n`]),
    );
    const dir = makeConfigDir(
      { default: { port: 9050 } },
      { default: 'listener: default\nisolation: launch\nbackend: torsocks\n', ...profiles },
    );
    track(dir);
    const status = join(tempDir('status'), 'status');
    const result = await execa(
      '/bin/sh',
      ['-c', 's=$1; shift; { "$@"; echo $? >"$s"; } | head -n 1', 'sh', status, LAUNCHER, '--config-dir', dir, 'list'],
      {
        reject: false,
        extendEnv: false,
        env: cleanEnv(),
        stdin: 'ignore',
        timeout: 20_000,
      },
    );
    expect(result.stdout).toMatch(/^PROFILE\s+LISTENER/);
    expect(result.stderr).toBe('');
    expect(readFileSync(status, 'utf8').trim()).toBe('0');
  });
});

describe('validate', () => {
  it('accepts the installed configuration (a copy of the shipped one)', async () => {
    const result = await runLauncher(['--config-dir', shippedCopy(), 'validate']);
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe(`${SHIPPED_NAMES.length} profiles valid`);
  });

  it('rejects a bad file with `file:line: field: message` lines', async () => {
    const bad = join(tempDir('bad'), 'bad.yml');
    writeFileSync(
      bad,
      'extends: default\nisolation: sometimes\nfrobnicate: 1\nenv:\n  set:\n    LD_PRELOAD: /tmp/x.so\n',
    );
    const result = await runLauncher(['validate', bad]);
    expect(result.exitCode).toBe(EXIT.config);
    expect(result.stdout).toBe('');
    const lines = result.stderr.split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const line of lines)
      expect(line).toMatch(new RegExp(`^tails-launch: ${bad.replace(/[.]/g, '\\.')}:\\d+: [\\w.]+: \\S`));
    expect(result.stderr).toContain(`${bad}:2: isolation: must be one of`);
    expect(result.stderr).toContain(`${bad}:3: frobnicate: unknown field`);
  });

  it('accepts a good profile file and a listeners.yml', async () => {
    const dir = shippedCopy();
    const result = await runLauncher(['validate', join(dir, 'profiles', 'pidgin.yml'), join(dir, 'listeners.yml')]);
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe('2 files valid');
  });

  it('rejects a file that does not exist', async () => {
    const missing = join(tempDir('missing'), 'nothing.yml');
    const result = await runLauncher(['validate', missing]);
    expect(result.exitCode).toBe(EXIT.config);
    expect(result.stderr).toBe(`tails-launch: ${missing}: no such file`);
  });
});
