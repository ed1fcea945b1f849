// The launch cache of validated configuration (src/profile/parsed-cache.ts):
// it must make no launch differ from an uncached one, never serve edited
// content, and never trust a file it does not own alone.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useSocks5Server, useTempDirs } from '../support/fixtures';
import { cleanEnv, makeConfigDir, runLauncher } from '../support/launcher';

const socks = useSocks5Server();
const { make: tempDir, track } = useTempDirs();
const PROFILE = 'listener: default\nisolation: app\nbackend: torsocks\n';

/** A private runtime directory, as logind makes /run/user/UID. */
function runtimeDir(mode = 0o700): string {
  const dir = tempDir('runtime');
  chmodSync(dir, mode);
  return dir;
}

function cacheFiles(runtime: string): string[] {
  const dir = join(runtime, 'tails-launch');
  return existsSync(dir) ? readdirSync(dir).map((f) => join(dir, f)) : [];
}

async function explain(config: string, runtime: string | null) {
  const env = cleanEnv(runtime ? { XDG_RUNTIME_DIR: runtime } : {});
  const result = await runLauncher(['--config-dir', config, 'explain', '--json', 'default', '--', '/bin/true'], { env });
  expect(result.stderr).toBe('');
  expect(result.exitCode).toBe(0);
  return JSON.parse(result.stdout);
}

async function launch(config: string, runtime: string) {
  return runLauncher(['--config-dir', config, 'default', '--', '/bin/sh', '-c', 'echo launched'], { env: cleanEnv({ XDG_RUNTIME_DIR: runtime }) });
}

describe('the launch cache of validated configuration', () => {
  it('is written on the first launch (0600 in a 0700 dir) and gives the same plan as no cache', async () => {
    const config = track(makeConfigDir({ default: { port: socks.port } }, { default: PROFILE }));
    const runtime = runtimeDir();
    const uncached = await explain(config, null);
    const first = await explain(config, runtime);
    const [cache] = cacheFiles(runtime);
    expect(cache).toMatch(/parsed-[0-9a-f]{16}\.json$/);
    expect(statSync(cache!).mode & 0o777).toBe(0o600);
    expect(statSync(join(runtime, 'tails-launch')).mode & 0o777).toBe(0o700);
    expect(Object.keys(JSON.parse(readFileSync(cache!, 'utf8')).entries).sort()).toEqual([join(config, 'listeners.yml'), join(config, 'profiles/default.yml')]);
    const second = await explain(config, runtime);
    expect(first).toEqual(uncached);
    expect(second).toEqual(uncached);
  });

  it('is really consulted: a hit serves the cached content (proving the checks below can fail)', async () => {
    const config = track(makeConfigDir({ default: { port: socks.port } }, { default: PROFILE }));
    const runtime = runtimeDir();
    await explain(config, runtime);
    const [cache] = cacheFiles(runtime);
    const text = readFileSync(cache!, 'utf8');
    writeFileSync(cache!, text.replace(`"port":${socks.port}`, '"port":1'));
    expect((await explain(config, runtime)).listener.port).toBe(1);
  });

  it('never serves a file that was edited, even to the same size and back-dated', async () => {
    const config = track(makeConfigDir({ default: { port: socks.port } }, { default: PROFILE }));
    const runtime = runtimeDir();
    const file = join(config, 'profiles/default.yml');
    // A whole second, so that putting it back below restores mtime to the nanosecond.
    const when = 1_700_000_000;
    utimesSync(file, when, when);
    expect((await explain(config, runtime)).backend).toBe('torsocks');
    const before = statSync(file, { bigint: true });
    // Same inode, same size, new content (backend env, padded with a comment line).
    writeFileSync(file, 'listener: default\nisolation: app\nbackend: env\n#'.padEnd(PROFILE.length, '#'));
    utimesSync(file, when, when);
    const after = statSync(file, { bigint: true });
    expect([after.ino, after.size, after.mtimeNs]).toEqual([before.ino, before.size, before.mtimeNs]);
    // Only the change time (which no one can set back) tells.
    expect(after.ctimeNs).not.toBe(before.ctimeNs);
    expect((await explain(config, runtime)).backend).toBe('env');
  });

  it('sees a new override in a higher layer at once', async () => {
    const home = tempDir('home');
    const runtime = runtimeDir();
    const env = cleanEnv({ HOME: home, XDG_CONFIG_HOME: join(home, 'xdg'), XDG_RUNTIME_DIR: runtime });
    const explainPidgin = async () => JSON.parse((await runLauncher(['explain', '--json', 'pidgin'], { env })).stdout);
    expect((await explainPidgin()).isolation.mode).toBe('app');
    mkdirSync(join(home, 'xdg/tails-launch/profiles'), { recursive: true });
    writeFileSync(join(home, 'xdg/tails-launch/profiles/pidgin.yml'), 'extends: pidgin\nisolation: launch\n');
    expect((await explainPidgin()).isolation.mode).toBe('launch');
  });

  it('never caches an error: a fixed file launches', async () => {
    const config = track(makeConfigDir({ default: { port: socks.port } }, { default: 'listener: default\nisolation: sometimes\nbackend: torsocks\n' }));
    const runtime = runtimeDir();
    const broken = await launch(config, runtime);
    expect(broken.exitCode).toBe(65);
    writeFileSync(join(config, 'profiles/default.yml'), PROFILE);
    const fixed = await launch(config, runtime);
    expect(fixed.stdout).toBe('launched');
    expect(fixed.exitCode).toBe(0);
  });

  it('ignores a cache file others can write, and a corrupt one', async () => {
    const config = track(makeConfigDir({ default: { port: socks.port } }, { default: PROFILE }));
    const runtime = runtimeDir();
    await explain(config, runtime);
    const [cache] = cacheFiles(runtime);
    writeFileSync(cache!, readFileSync(cache!, 'utf8').replace(`"port":${socks.port}`, '"port":1'));
    chmodSync(cache!, 0o666);
    expect((await explain(config, runtime)).listener.port).toBe(socks.port);
    writeFileSync(cache!, '{ not json');
    chmodSync(cache!, 0o600);
    expect((await explain(config, runtime)).listener.port).toBe(socks.port);
    const relaunch = await launch(config, runtime);
    expect(relaunch.stdout).toBe('launched');
  });

  it('is not used at all without a private XDG_RUNTIME_DIR', async () => {
    const config = track(makeConfigDir({ default: { port: socks.port } }, { default: PROFILE }));
    const shared = runtimeDir(0o755);
    mkdirSync(join(shared, 'tails-launch'), { mode: 0o755 });
    expect((await launch(config, shared)).stdout).toBe('launched');
    expect(cacheFiles(shared)).toEqual([]);
    const relative = mkdtempSync(join(tmpdir(), 'tails-launch-cwd-'));
    track(relative);
    const result = await runLauncher(['--config-dir', config, 'default', '--', '/bin/sh', '-c', 'echo launched'], { env: cleanEnv({ XDG_RUNTIME_DIR: 'run' }), cwd: relative });
    expect(result.stdout).toBe('launched');
    expect(existsSync(join(relative, 'run'))).toBe(false);
  });
});
