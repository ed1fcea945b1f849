// The proxychains backend with the real Debian libproxychains4 against our
// own SOCKS5 server: what arrives, the read-only file in XDG_RUNTIME_DIR that
// carries its configuration, no ./proxychains.conf ever read, and failing
// closed. (A child that closes its descriptors: leaks.test.ts.)
import { chmodSync, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { BODY, CURL, METHOD_NONE, METHOD_USERPASS, URL, USERNAME, LAUNCH_KEY, EXIT } from '../support/expected';
import { useSocks5Server, useTempDirs } from '../support/fixtures';
import { cleanEnv, makeConfigDir, runLauncher } from '../support/launcher';
import { parseProbe, probePath } from '../support/probe';
import { startSocks5Server } from '../support/socks5-server';

const socks = useSocks5Server();
const { make: tempDir, track } = useTempDirs();
/** A private XDG_RUNTIME_DIR, as a desktop session has: the backend needs one. */
let runtime = '';
const sessionEnv = (extra: Record<string, string> = {}) => {
  if (!runtime) {
    runtime = tempDir('runtime');
    chmodSync(runtime, 0o700);
  }
  return cleanEnv({ XDG_RUNTIME_DIR: runtime, ...extra });
};
const run = (args: string[], options: Parameters<typeof runLauncher>[1] = {}) =>
  runLauncher(args, { env: sessionEnv(), ...options });

const profile = (isolation: string, extra = '') =>
  `listener: default\nisolation: ${isolation}\nbackend: proxychains\nacknowledge: [udp-leak]\n${extra}`;

function config(port = socks.port): string {
  return track(
    makeConfigDir(
      { default: { port } },
      {
        app: profile('app'),
        launch: profile('launch'),
        none: profile('none'),
        web: profile('launch', `command: ${CURL}\nargs: [-s]\n`),
      },
    ),
  );
}

describe('backend proxychains (real proxychains4)', () => {
  it('sends the hostname in CONNECT with the app group credentials, and curl gets its answer', async () => {
    const result = await run(['--config-dir', config(), 'app', '--', CURL, '-s', URL]);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe(BODY);
    expect(result.exitCode).toBe(0);
    expect(socks.records).toHaveLength(1);
    expect(socks.records[0]).toMatchObject({
      serverPort: socks.port,
      command: 'connect',
      addressType: 'domain',
      host: 'example.test',
      port: 80,
      auth: 'userpass',
      username: USERNAME,
      password: 'tails-launch/app/app',
      // Like curl, proxychains offers no-auth too; Tor picks username/password
      // unless the port has PreferSOCKSNoAuth (which resolution refuses for app/launch).
      offeredMethods: [METHOD_NONE, METHOD_USERPASS],
    });
  });

  it('launch: a new group every launch; none: no authentication at all', async () => {
    const dir = config();
    await run(['--config-dir', dir, 'web', URL]);
    await run(['--config-dir', dir, 'web', URL]);
    const [first, second] = socks.records;
    expect(first!.password).toMatch(LAUNCH_KEY('web'));
    expect(second!.password).toMatch(LAUNCH_KEY('web'));
    expect(first!.password).not.toBe(second!.password);
    socks.clear();
    const none = await run(['--config-dir', dir, 'none', '--', CURL, '-s', URL]);
    expect(none.stdout).toBe(BODY);
    expect(socks.records).toHaveLength(1);
    expect(socks.records[0]).toMatchObject({ auth: 'none', offeredMethods: [METHOD_NONE], host: 'example.test' });
  });

  it("hands the configuration over as a read-only file of the user's, no descriptor added, the process state otherwise as proxychains4 by hand", async () => {
    const probe = await probePath();
    const dir = config();
    // The same probe under proxychains4 run by hand, with a configuration file on disk.
    const onDisk = join(tempDir('pc'), 'proxychains.conf');
    writeFileSync(onDisk, `strict_chain\nproxy_dns\n[ProxyList]\nsocks5 127.0.0.1 ${socks.port}\n`);
    const direct = parseProbe(
      (await execa('proxychains4', ['-q', '-f', onDisk, probe, 'report'], { env: cleanEnv(), stdin: 'ignore' })).stdout,
    );
    const launched = await run(['--config-dir', dir, 'app', '--', probe, 'report']);
    expect(launched.stderr).toBe('');
    const report = parseProbe(launched.stdout);
    expect(report.fds).toEqual(direct.fds);
    // Every other fix of the exec path holds under this backend too.
    expect([report.sigign, report.sigblk, report.nofile, report.nonblock, report.stdio]).toEqual([
      direct.sigign,
      direct.sigblk,
      direct.nofile,
      direct.nonblock,
      direct.stdio,
    ]);
    expect(report.caller_env).toBe(false);
    // The file: in the private runtime directory, read-only, named per profile and group.
    const env = await run([
      '--config-dir',
      dir,
      'app',
      '--',
      '/bin/sh',
      '-c',
      'echo "$PROXYCHAINS_CONF_FILE"; echo "$PROXYCHAINS_QUIET_MODE"; echo "$LD_PRELOAD"',
    ]);
    const [variable, quiet, preload] = env.stdout.split('\n');
    expect(variable).toBe(join(runtime, 'tails-launch', 'proxychains', 'app.app.conf'));
    expect(quiet).toBe('1');
    expect(preload).toBe('/usr/lib/x86_64-linux-gnu/libproxychains.so.4');
    expect(statSync(variable!).mode & 0o777).toBe(0o400);
    expect(statSync(join(runtime, 'tails-launch', 'proxychains')).mode & 0o777).toBe(0o700);
  });

  it('the application reads exactly the generated configuration', async () => {
    const result = await run(['--config-dir', config(), 'app', '--', '/bin/sh', '-c', 'cat "$PROXYCHAINS_CONF_FILE"']);
    const content = result.stdout.split('\n');
    expect(content).toContain('strict_chain');
    expect(content).toContain(`socks5 127.0.0.1 ${socks.port} ${USERNAME} tails-launch/app/app`);
  });

  it('refuses a runtime directory that other users can open: 126, one line, nothing sent', async () => {
    const open = tempDir('open-runtime');
    chmodSync(open, 0o777);
    const result = await runLauncher(['--config-dir', config(), 'app', '--', CURL, '-s', URL], {
      env: cleanEnv({ XDG_RUNTIME_DIR: open }),
    });
    expect(result.exitCode).toBe(EXIT.cannotExecute);
    expect(result.stderr).toMatch(
      /^tails-launch: cannot write .* is open to other users \(mode 0777\); check XDG_RUNTIME_DIR$/,
    );
    expect(socks.records).toEqual([]);
  });

  it('never reads ./proxychains.conf from the current directory', async () => {
    const decoy = await startSocks5Server();
    try {
      const cwd = tempDir('hostile');
      writeFileSync(join(cwd, 'proxychains.conf'), `strict_chain\n[ProxyList]\nsocks5 127.0.0.1 ${decoy.port}\n`);
      mkdirSync(join(cwd, '.proxychains'));
      writeFileSync(
        join(cwd, '.proxychains', 'proxychains.conf'),
        `strict_chain\n[ProxyList]\nsocks5 127.0.0.1 ${decoy.port}\n`,
      );
      const result = await run(['--config-dir', config(), 'app', '--', CURL, '-s', URL], {
        cwd,
        env: sessionEnv({ HOME: cwd }),
      });
      expect(result.stdout).toBe(BODY);
      expect(socks.records).toHaveLength(1);
      expect(decoy.records).toEqual([]);
    } finally {
      await decoy.close();
    }
  });

  it("does not use a proxychains4 found on the caller's PATH (a missing library: see leaks.test.ts for torsocks)", async () => {
    const bin = tempDir('bin');
    writeFileSync(join(bin, 'proxychains4'), '#!/bin/sh\nexit 99\n', { mode: 0o755 });
    const result = await run(['--config-dir', config(), 'app', '--', CURL, '-s', URL], {
      env: sessionEnv({ PATH: `${bin}:/usr/bin:/bin` }),
    });
    expect(result.stdout).toBe(BODY);
    expect(socks.records).toHaveLength(1);
  });

  it('explain shows the generated configuration with the password masked, and the UDP warning', async () => {
    const dir = config();
    const text = await run(['--config-dir', dir, 'explain', 'app', '--', CURL]);
    expect(text.exitCode).toBe(0);
    expect(text.stdout).toContain(
      `file ${join(runtime, 'tails-launch', 'proxychains', 'app.app.conf')}: read-only, written at exec, PROXYCHAINS_CONF_FILE names it`,
    );
    expect(text.stdout).toContain(`  | socks5 127.0.0.1 ${socks.port} ${USERNAME} ********`);
    expect(text.stdout).toContain('does not block UDP');
    const json = JSON.parse((await run(['--config-dir', dir, 'explain', '--json', 'app', '--', CURL])).stdout);
    expect(json.files).toEqual([
      {
        kind: 'runtime-file',
        path: join(runtime, 'tails-launch', 'proxychains', 'app.app.conf'),
        variable: 'PROXYCHAINS_CONF_FILE',
        content: expect.stringContaining(`${USERNAME} ********`),
      },
    ]);
    expect(JSON.stringify(json.files)).not.toContain('tails-launch/app/app');
    expect(json.exec.argv).toEqual([CURL]);
    expect(json.exec.preload).toBe('/usr/lib/x86_64-linux-gnu/libproxychains.so.4');
  });

  it('is refused without acknowledge: [udp-leak], before anything runs', async () => {
    const dir = track(
      makeConfigDir(
        { default: { port: socks.port } },
        { silent: 'listener: default\nisolation: app\nbackend: proxychains\n' },
      ),
    );
    const marker = join(tempDir('marker'), 'ran');
    const result = await run(['--config-dir', dir, 'silent', '--', '/bin/sh', '-c', `touch ${marker}`]);
    expect(result.exitCode).toBe(EXIT.config);
    expect(result.stderr).toMatch(
      /silent\.yml:3: backend: backend proxychains lets UDP out of Tor .*acknowledge: \[udp-leak\]/,
    );
    expect(socks.records).toEqual([]);
    expect(existsSync(marker)).toBe(false);
  });
});
