// Which configuration is trusted (src/profile/trust.ts), on real directories
// with real owners and modes (the tests run as root: `nobody` stands for
// someone else). Every case uses fresh directories: the checker remembers
// the directories it has seen within one process, as a launch would.
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, lchownSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/profile/config-error';
import { checkLayerDirectory, ConfigReadError, readConfigText } from '../../src/profile/trust';
import { EXIT } from '../support/expected';

const NOBODY = 65534;
const isRoot = process.getuid?.() === 0;
let root: string;
let n = 0;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'tails-launch-trust-'));
  chmodSync(root, 0o755);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A fresh layer directory with listeners.yml and profiles/p.yml (0755 dirs, 0644 files). */
function layer(): { dir: string; listeners: string; profile: string } {
  const dir = join(root, `layer${n++}`);
  mkdirSync(join(dir, 'profiles'), { recursive: true, mode: 0o755 });
  writeFileSync(join(dir, 'listeners.yml'), 'listeners: {}\n', { mode: 0o644 });
  writeFileSync(join(dir, 'profiles', 'p.yml'), 'listener: default\n', { mode: 0o644 });
  return { dir, listeners: join(dir, 'listeners.yml'), profile: join(dir, 'profiles', 'p.yml') };
}

/** The one-line message of the ConfigError that reading FILE throws. */
function refusal(read: () => unknown): string {
  try {
    read();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).exitCode).toBe(EXIT.config);
    return (error as ConfigError).message;
  }
  throw new Error('it was trusted');
}

describe.skipIf(!isRoot)('trusted configuration (as root)', () => {
  it('reads a layer of root-owned 0644 files in 0755 directories under sticky /tmp', () => {
    const { dir, listeners, profile } = layer();
    expect(() => checkLayerDirectory(dir)).not.toThrow();
    expect(readConfigText(listeners)).toBe('listeners: {}\n');
    expect(readConfigText(profile)).toBe('listener: default\n');
  });

  it('refuses a file writable by others (0666) or by its group (0664), saying how to fix it', () => {
    const { profile, listeners } = layer();
    chmodSync(profile, 0o666);
    expect(refusal(() => readConfigText(profile))).toBe(
      `invalid configuration: ${profile}: is writable by others (mode 0666): make it 0644 or remove it`,
    );
    chmodSync(listeners, 0o664);
    expect(refusal(() => readConfigText(listeners))).toBe(
      `invalid configuration: ${listeners}: is writable by its group (mode 0664): make it 0644 or remove it`,
    );
  });

  it('refuses a file owned by someone else: root reads only what root owns', () => {
    const { profile } = layer();
    chownSync(profile, NOBODY, NOBODY);
    expect(refusal(() => readConfigText(profile))).toBe(
      `invalid configuration: ${profile}: is owned by uid ${NOBODY}, not by root: chown it to root or remove it`,
    );
  });

  it('refuses a group-writable profiles/ and layer directory, even when sticky', () => {
    const a = layer();
    chmodSync(join(a.dir, 'profiles'), 0o775);
    expect(refusal(() => readConfigText(a.profile))).toContain(
      `${join(a.dir, 'profiles')}: is writable by its group (mode 0775): make it 0755`,
    );
    expect(refusal(() => checkLayerDirectory(a.dir))).toContain(`${join(a.dir, 'profiles')}: is writable by its group`);
    const b = layer();
    chmodSync(b.dir, 0o1777);
    expect(refusal(() => checkLayerDirectory(b.dir))).toContain(
      `${b.dir}: is writable by others (mode 1777): make it 1755`,
    );
    expect(refusal(() => readConfigText(b.listeners))).toContain(`${b.dir}: is writable by others`);
  });

  it('refuses a layer below a directory owned by someone else (an XDG_CONFIG_HOME owned by nobody)', () => {
    const home = join(root, `home${n++}`);
    mkdirSync(home, { mode: 0o755 });
    const xdg = join(home, 'xdg');
    mkdirSync(join(xdg, 'tails-launch', 'profiles'), { recursive: true, mode: 0o755 });
    writeFileSync(join(xdg, 'tails-launch', 'profiles', 'p.yml'), 'x: 1\n', { mode: 0o644 });
    chownSync(xdg, NOBODY, NOBODY);
    expect(refusal(() => checkLayerDirectory(join(xdg, 'tails-launch')))).toBe(
      `invalid configuration: ${xdg}: is owned by uid ${NOBODY}, not by root: chown it to root or remove it`,
    );
    expect(refusal(() => readConfigText(join(xdg, 'tails-launch', 'profiles', 'p.yml')))).toContain(
      `${xdg}: is owned by uid ${NOBODY}`,
    );
  });

  it('treats a missing layer or file as absent, even below an untrusted directory (nothing is read)', () => {
    const untrusted = join(root, `untrusted${n++}`);
    mkdirSync(untrusted, { mode: 0o777 });
    chmodSync(untrusted, 0o777);
    expect(() => checkLayerDirectory(join(untrusted, 'tails-launch'))).not.toThrow();
    expect(readConfigText(join(untrusted, 'tails-launch', 'listeners.yml'))).toBeNull();
    expect(readConfigText(join(root, 'no-such-layer', 'listeners.yml'))).toBeNull();
  });

  it('accepts a sticky world-writable ancestor, refuses a non-sticky one', () => {
    const sticky = join(root, `sticky${n++}`);
    mkdirSync(sticky);
    chmodSync(sticky, 0o1777);
    mkdirSync(join(sticky, 'cfg'), { mode: 0o755 });
    writeFileSync(join(sticky, 'cfg', 'listeners.yml'), 'ok: 1\n', { mode: 0o644 });
    expect(readConfigText(join(sticky, 'cfg', 'listeners.yml'))).toBe('ok: 1\n');
    const open = join(root, `open${n++}`);
    mkdirSync(open);
    chmodSync(open, 0o777);
    mkdirSync(join(open, 'cfg'), { mode: 0o755 });
    writeFileSync(join(open, 'cfg', 'listeners.yml'), 'ok: 1\n', { mode: 0o644 });
    expect(refusal(() => readConfigText(join(open, 'cfg', 'listeners.yml')))).toContain(
      `${open}: is writable by others (mode 0777)`,
    );
  });

  it('follows symlinks, checking the link and everything on the way to its target', () => {
    const { dir, profile } = layer();
    // A root-owned link to a trusted file: fine.
    const good = join(dir, 'profiles', 'good.yml');
    symlinkSync(profile, good);
    expect(readConfigText(good)).toBe('listener: default\n');
    // A link to a file in a directory someone else controls: refused there.
    const elsewhere = join(root, `elsewhere${n++}`);
    mkdirSync(elsewhere, { mode: 0o755 });
    writeFileSync(join(elsewhere, 'x.yml'), 'x: 1\n', { mode: 0o644 });
    chownSync(elsewhere, NOBODY, NOBODY);
    const bad = join(dir, 'profiles', 'bad.yml');
    symlinkSync(join(elsewhere, 'x.yml'), bad);
    expect(refusal(() => readConfigText(bad))).toContain(`${elsewhere}: is owned by uid ${NOBODY}`);
    // A link owned by someone else in a sticky directory (its owner can replace it there): refused.
    const sticky = join(root, `sticky${n++}`);
    mkdirSync(sticky);
    chmodSync(sticky, 0o1777);
    const link = join(sticky, 'link');
    symlinkSync(dir, link);
    lchownSync(link, NOBODY, NOBODY);
    expect(refusal(() => readConfigText(join(link, 'listeners.yml')))).toContain(`${link}: is owned by uid ${NOBODY}`);
  });

  it('refuses a FIFO and a link to /dev/zero as configuration files, at once', () => {
    const { dir } = layer();
    const zero = join(dir, 'profiles', 'zero.yml');
    symlinkSync('/dev/zero', zero);
    expect(refusal(() => readConfigText(zero))).toBe(
      `invalid configuration: ${zero}: is not a regular file (a character device)`,
    );
    const fifo = join(dir, 'profiles', 'fifo.yml');
    execFileSync('mkfifo', ['-m', '0644', fifo]);
    expect(refusal(() => readConfigText(fifo))).toBe(`invalid configuration: ${fifo}: is not a regular file (a FIFO)`);
  });

  it('refuses a file larger than 1 MiB', () => {
    const { dir } = layer();
    const big = join(dir, 'profiles', 'big.yml');
    writeFileSync(big, `# ${'x'.repeat(1024 * 1024)}\n`, { mode: 0o644 });
    expect(refusal(() => readConfigText(big))).toBe(`invalid configuration: ${big}: is larger than 1 MiB`);
  });

  it('says "cannot read FILE" (not "invalid") when the system refuses, e.g. a loop of symlinks', () => {
    const { dir } = layer();
    const loop = join(dir, 'profiles', 'loop.yml');
    symlinkSync(loop, loop);
    const message = refusal(() => readConfigText(loop));
    expect(message).toBe(`cannot read ${loop}: too many levels of symbolic links`);
    expect(() => readConfigText(loop)).toThrow(ConfigReadError);
  });
});
