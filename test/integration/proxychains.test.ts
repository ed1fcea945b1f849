// The proxychains backend with the real Debian proxychains4 against our own
// SOCKS5 server: what arrives, the sealed memfd that carries its
// configuration, no ./proxychains.conf ever read, and failing closed.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { BODY, CURL, METHOD_NONE, METHOD_USERPASS, URL, USERNAME, LAUNCH_KEY } from '../support/expected';
import { useSocks5Server, useTempDirs } from '../support/fixtures';
import { cleanEnv, makeConfigDir, runLauncher } from '../support/launcher';
import { parseProbe, probePath } from '../support/probe';
import { startSocks5Server } from '../support/socks5-server';

const socks = useSocks5Server();
const { make: tempDir, track } = useTempDirs();

const profile = (isolation: string, extra = '') => `listener: default\nisolation: ${isolation}\nbackend: proxychains\nacknowledge: [udp-leak]\n${extra}`;

function config(port = socks.port): string {
  return track(
    makeConfigDir(
      { default: { port } },
      { app: profile('app'), launch: profile('launch'), none: profile('none'), web: profile('launch', `command: ${CURL}\nargs: [-s]\n`) },
    ),
  );
}

describe('backend proxychains (real proxychains4)', () => {
  it('sends the hostname in CONNECT with the app group credentials, and curl gets its answer', async () => {
    const result = await runLauncher(['--config-dir', config(), 'app', '--', CURL, '-s', URL]);
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
    await runLauncher(['--config-dir', dir, 'web', URL]);
    await runLauncher(['--config-dir', dir, 'web', URL]);
    const [first, second] = socks.records;
    expect(first!.password).toMatch(LAUNCH_KEY('web'));
    expect(second!.password).toMatch(LAUNCH_KEY('web'));
    expect(first!.password).not.toBe(second!.password);
    socks.clear();
    const none = await runLauncher(['--config-dir', dir, 'none', '--', CURL, '-s', URL]);
    expect(none.stdout).toBe(BODY);
    expect(socks.records).toHaveLength(1);
    expect(socks.records[0]).toMatchObject({ auth: 'none', offeredMethods: [METHOD_NONE], host: 'example.test' });
  });

  it('passes the configuration as a sealed memfd, the one descriptor added, the process state otherwise as proxychains4 by hand', async () => {
    const probe = await probePath();
    const dir = config();
    // The same probe under proxychains4 run by hand, with a configuration file on disk.
    const onDisk = join(tempDir('pc'), 'proxychains.conf');
    writeFileSync(onDisk, `strict_chain\nproxy_dns\n[ProxyList]\nsocks5 127.0.0.1 ${socks.port}\n`);
    const direct = parseProbe((await execa('proxychains4', ['-q', '-f', onDisk, probe, 'report'], { env: cleanEnv(), stdin: 'ignore' })).stdout);
    const launched = await runLauncher(['--config-dir', dir, 'app', '--', probe, 'report']);
    expect(launched.stderr).toBe('');
    const report = parseProbe(launched.stdout);
    const added = report.fds.filter((fd) => !direct.fds.includes(fd));
    expect(added).toHaveLength(1);
    expect(report.fds.length).toBe(direct.fds.length + 1);
    expect(report.cloexec).not.toContain(added[0]);
    // Every other fix of the exec path holds under this backend too.
    expect([report.sigign, report.sigblk, report.nofile, report.nonblock, report.stdio]).toEqual([direct.sigign, direct.sigblk, direct.nofile, direct.nonblock, direct.stdio]);
    expect(report.caller_env).toBe(false);
    // What that descriptor is, seen by the application: an anonymous memfd.
    const env = await runLauncher(['--config-dir', dir, 'app', '--', '/bin/sh', '-c', 'echo "$PROXYCHAINS_CONF_FILE"; readlink "$PROXYCHAINS_CONF_FILE"']);
    const [variable, target] = env.stdout.split('\n');
    expect(variable).toMatch(/^\/proc\/self\/fd\/\d+$/);
    expect(target).toMatch(/^\/memfd:tails-launch:proxychains\.conf \(deleted\)$/);
  });

  it('the application can read the configuration but not change it (sealed)', async () => {
    const result = await runLauncher([
      '--config-dir', config(), 'app', '--', '/bin/sh', '-c',
      'if echo tampered >>"$PROXYCHAINS_CONF_FILE" 2>/dev/null; then echo wrote; else echo refused; fi; cat "$PROXYCHAINS_CONF_FILE"',
    ]);
    const [verdict, ...content] = result.stdout.split('\n');
    expect(verdict).toBe('refused');
    expect(content).toContain('strict_chain');
    expect(content).toContain(`socks5 127.0.0.1 ${socks.port} ${USERNAME} tails-launch/app/app`);
    expect(content.join('\n')).not.toContain('tampered');
  });

  it('never reads ./proxychains.conf from the current directory', async () => {
    const decoy = await startSocks5Server();
    try {
      const cwd = tempDir('hostile');
      writeFileSync(join(cwd, 'proxychains.conf'), `strict_chain\n[ProxyList]\nsocks5 127.0.0.1 ${decoy.port}\n`);
      mkdirSync(join(cwd, '.proxychains'));
      writeFileSync(join(cwd, '.proxychains', 'proxychains.conf'), `strict_chain\n[ProxyList]\nsocks5 127.0.0.1 ${decoy.port}\n`);
      const result = await runLauncher(['--config-dir', config(), 'app', '--', CURL, '-s', URL], { cwd, env: cleanEnv({ HOME: cwd }) });
      expect(result.stdout).toBe(BODY);
      expect(socks.records).toHaveLength(1);
      expect(decoy.records).toEqual([]);
    } finally {
      await decoy.close();
    }
  });

  it('fails closed without proxychains4: 127, one line, nothing sent', async () => {
    const bin = tempDir('bin');
    const result = await runLauncher(['--config-dir', config(), 'app', '--', CURL, '-s', URL], {
      env: cleanEnv({ PATH: bin, TAILS_LAUNCH_NODE: process.execPath }),
    });
    expect(result.exitCode).toBe(127);
    expect(result.stderr).toBe("tails-launch: wrapper 'proxychains4' not found on PATH: install the proxychains4 package (profile 'app' uses backend proxychains)");
    expect(result.stdout).toBe('');
    expect(socks.records).toEqual([]);
  });

  it('explain shows the generated configuration with the password masked, and the UDP warning', async () => {
    const dir = config();
    const text = await runLauncher(['--config-dir', dir, 'explain', 'app', '--', CURL]);
    expect(text.exitCode).toBe(0);
    expect(text.stdout).toContain('memory file proxychains.conf: sealed memfd, PROXYCHAINS_CONF_FILE=/proc/self/fd/N at exec');
    expect(text.stdout).toContain(`  | socks5 127.0.0.1 ${socks.port} ${USERNAME} ********`);
    expect(text.stdout).toContain('does not block UDP');
    const json = JSON.parse((await runLauncher(['--config-dir', dir, 'explain', '--json', 'app', '--', CURL])).stdout);
    expect(json.files).toEqual([
      { kind: 'memfd', name: 'proxychains.conf', variable: 'PROXYCHAINS_CONF_FILE', content: expect.stringContaining(`${USERNAME} ********`) },
    ]);
    expect(JSON.stringify(json.files)).not.toContain('tails-launch/app/app');
    expect(json.exec.argv).toEqual(['proxychains4', '-q', CURL]);
  });

  it('is refused without acknowledge: [udp-leak], before anything runs', async () => {
    const dir = track(makeConfigDir({ default: { port: socks.port } }, { silent: 'listener: default\nisolation: app\nbackend: proxychains\n' }));
    const marker = join(tempDir('marker'), 'ran');
    const result = await runLauncher(['--config-dir', dir, 'silent', '--', '/bin/sh', '-c', `touch ${marker}`]);
    expect(result.exitCode).toBe(65);
    expect(result.stderr).toMatch(/silent\.yml:3: backend: backend proxychains lets UDP out of Tor .*acknowledge: \[udp-leak\]/);
    expect(socks.records).toEqual([]);
    expect(existsSync(marker)).toBe(false);
  });
});
