// The launch cache of validated configuration (src/profile/parsed-cache.ts):
// it must make no launch differ from an uncached one, never serve edited
// content, and never trust a file it does not own alone.
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useSocks5Server, useTempDirs } from '../support/fixtures';
import { cleanEnv, makeConfigDir, runLauncher } from '../support/launcher';
import { EXIT } from '../support/expected';

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
  const result = await runLauncher(['--config-dir', config, 'explain', '--json', 'default', '--', '/bin/true'], {
    env,
  });
  expect(result.stderr).toBe('');
  expect(result.exitCode).toBe(0);
  return JSON.parse(result.stdout);
}

async function launch(config: string, runtime: string) {
  return runLauncher(['--config-dir', config, 'default', '--', '/bin/sh', '-c', 'echo launched'], {
    env: cleanEnv({ XDG_RUNTIME_DIR: runtime }),
  });
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
    expect(Object.keys(JSON.parse(readFileSync(cache!, 'utf8')).entries).sort()).toEqual([
      join(config, 'listeners.yml'),
      join(config, 'profiles/default.yml'),
    ]);
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
    const explainSsh = async () => JSON.parse((await runLauncher(['explain', '--json', 'ssh'], { env })).stdout);
    expect((await explainSsh()).isolation.mode).toBe('launch');
    mkdirSync(join(home, 'xdg/tails-launch/profiles'), { recursive: true });
    writeFileSync(join(home, 'xdg/tails-launch/profiles/ssh.yml'), 'extends: ssh\nisolation: process\n');
    expect((await explainSsh()).isolation.mode).toBe('process');
  });

  it('never caches an error: a fixed file launches', async () => {
    const config = track(
      makeConfigDir(
        { default: { port: socks.port } },
        { default: 'listener: default\nisolation: sometimes\nbackend: torsocks\n' },
      ),
    );
    const runtime = runtimeDir();
    const broken = await launch(config, runtime);
    expect(broken.exitCode).toBe(EXIT.config);
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
    const result = await runLauncher(['--config-dir', config, 'default', '--', '/bin/sh', '-c', 'echo launched'], {
      env: cleanEnv({ XDG_RUNTIME_DIR: 'run' }),
      cwd: relative,
    });
    expect(result.stdout).toBe('launched');
    expect(existsSync(join(relative, 'run'))).toBe(false);
  });
});

describe('what the launch cache accepts', () => {
  /** The cache file's path, after a first launch has written it. */
  async function primedCache(config: string, runtime: string): Promise<string> {
    await explain(config, runtime);
    const [cache] = cacheFiles(runtime);
    expect(cache).toBeDefined();
    return cache!;
  }

  it('keys entries by content: a same-size edit within the second on a filesystem with one-second timestamps', async () => {
    // ext2 with 128-byte inodes stores whole seconds only: an edit within the
    // same second keeps device, inode, size, mtime AND ctime, the old key.
    const work = tempDir('ext2');
    const image = join(work, 'fs.img');
    const mnt = join(work, 'mnt');
    mkdirSync(mnt);
    execFileSync('truncate', ['-s', '4M', image]);
    execFileSync('mkfs.ext2', ['-q', '-I', '128', '-F', image], { stdio: 'ignore' });
    execFileSync('mount', ['-o', 'loop', image, mnt]);
    try {
      const config = join(mnt, 'cfg');
      mkdirSync(join(config, 'profiles'), { recursive: true, mode: 0o755 });
      writeFileSync(
        join(config, 'listeners.yml'),
        `listeners:\n  default:\n    address: 127.0.0.1\n    port: ${socks.port}\n`,
      );
      const file = join(config, 'profiles', 'default.yml');
      const torsocks = 'listener: default\nisolation: app\nbackend: torsocks\n';
      const env = 'listener: default\nisolation: app\nbackend: env\n#'.padEnd(torsocks.length, '#');
      const runtime = runtimeDir();
      let sameSecond = false;
      for (let attempt = 0; attempt < 5 && !sameSecond; attempt++) {
        // Start just after a second begins, so that write, launch and edit fit in it.
        await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 20));
        writeFileSync(file, torsocks);
        const before = statSync(file, { bigint: true });
        expect((await explain(config, runtime)).backend).toBe('torsocks');
        writeFileSync(file, env);
        const after = statSync(file, { bigint: true });
        sameSecond =
          after.mtimeNs === before.mtimeNs &&
          after.ctimeNs === before.ctimeNs &&
          after.ino === before.ino &&
          after.size === before.size;
        if (!sameSecond) continue;
        // Every stat field is as it was when the cache was written: only the content tells.
        expect((await explain(config, runtime)).backend).toBe('env');
      }
      expect(sameSecond, 'no attempt fitted in one second').toBe(true);
    } finally {
      execFileSync('umount', [mnt]);
    }
  });

  it('a FIFO at the cache path: ignored at once, the launch goes on', async () => {
    const config = track(makeConfigDir({ default: { port: socks.port } }, { default: PROFILE }));
    const runtime = runtimeDir();
    const cache = await primedCache(config, runtime);
    rmSync(cache);
    execFileSync('mkfifo', ['-m', '0600', cache]);
    const started = Date.now();
    const result = await runLauncher(['--config-dir', config, 'default', '--', '/bin/sh', '-c', 'echo launched'], {
      env: cleanEnv({ XDG_RUNTIME_DIR: runtime }),
      timeout: 8_000,
    });
    expect(result.signal, 'the launcher hung on the FIFO').toBeUndefined();
    expect(Date.now() - started).toBeLessThan(8_000);
    expect(result.stdout).toBe('launched');
    expect(result.exitCode).toBe(0);
  });

  it('a cache file that is not exactly 0600 (0640), or a symlink, is not trusted', async () => {
    const config = track(makeConfigDir({ default: { port: socks.port } }, { default: PROFILE }));
    const runtime = runtimeDir();
    const cache = await primedCache(config, runtime);
    const forged = readFileSync(cache, 'utf8').replace(`"port":${socks.port}`, '"port":1');
    // Control: a forged 0600 file of ours IS served (so the refusals below are real).
    writeFileSync(cache, forged);
    expect((await explain(config, runtime)).listener.port).toBe(1);
    writeFileSync(cache, forged);
    chmodSync(cache, 0o640);
    expect((await explain(config, runtime)).listener.port).toBe(socks.port);
    // A symlink to a forged 0600 file of ours elsewhere: not followed.
    const elsewhere = join(tempDir('forged'), 'parsed.json');
    writeFileSync(elsewhere, forged, { mode: 0o600 });
    rmSync(cache);
    symlinkSync(elsewhere, cache);
    expect((await explain(config, runtime)).listener.port).toBe(socks.port);
  });

  it('keeps every entry parsed from the text it holds (text and data side by side)', async () => {
    const config = track(makeConfigDir({ default: { port: socks.port } }, { default: PROFILE }));
    const runtime = runtimeDir();
    const cache = await primedCache(config, runtime);
    const { entries } = JSON.parse(readFileSync(cache, 'utf8'));
    expect(entries[join(config, 'profiles/default.yml')]).toMatchObject({
      kind: 'profile',
      text: PROFILE,
      data: { listener: 'default', isolation: 'app', backend: 'torsocks' },
    });
  });
});
