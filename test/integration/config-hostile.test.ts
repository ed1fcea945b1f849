// Configuration that must be refused promptly, in one line, and never
// launched: files that are not regular files, files that stand for far more
// than they hold, values execve cannot carry, layers someone else can change,
// files we may not read. Through the built launcher, as a user would meet them.
//
// "Never launched" is checked for real: the launch command writes a marker
// file and the `default` listener is our SOCKS5 server, so an accepted
// configuration WOULD leave a marker (each group has a control that does).
// "Promptly": every launcher run here is killed after PROMPT ms, far below
// the test timeout, so a hang fails the test (killed: a signal, no status)
// instead of blocking the suite.
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { useSocks5Server, useTempDirs } from '../support/fixtures';
import { cleanEnv, launcherForAnyone, makeConfigDir, runLauncher, type LauncherResult } from '../support/launcher';
import { EXIT } from '../support/expected';

const PROMPT = 8_000;
const NOBODY = 65534;
const PROFILE = 'listener: default\nisolation: launch\nbackend: torsocks\n';

const socks = useSocks5Server();
const { make: tempDir, track } = useTempDirs();

function write(file: string, text: string, mode = 0o644): string {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text, { mode });
  chmodSync(file, mode);
  return file;
}

/** A --config-dir whose `default` listener is the test SOCKS server, with PROFILES (name -> YAML). */
function configDir(profiles: Record<string, string> = { default: PROFILE }): string {
  return track(makeConfigDir({ default: { port: socks.port } }, profiles));
}

/** Runs `tails-launch ARGS /bin/sh -c 'echo > MARKER'` (the profiles here have no command), PROMPT at most. */
async function attempt(
  args: string[],
  env: Record<string, string> = {},
): Promise<LauncherResult & { launched: boolean }> {
  const marker = join(tempDir('marker'), 'launched');
  const result = await runLauncher([...args, '/bin/sh', '-c', `echo launched > ${marker}`], {
    env: cleanEnv(env),
    timeout: PROMPT,
  });
  return { ...result, launched: existsSync(marker) };
}

/** The launcher refused ARGS promptly, with STATUS and exactly one stderr line matching MESSAGE, and started nothing. */
async function expectRefused(
  args: string[],
  message: RegExp | string,
  options: { env?: Record<string, string>; status?: number } = {},
): Promise<string> {
  const started = Date.now();
  const result = await attempt(args, options.env);
  expect(result.signal, `tails-launch ${args.join(' ')} hung (killed after ${PROMPT} ms)`).toBeUndefined();
  expect(Date.now() - started).toBeLessThan(PROMPT);
  expect(result.stderr.split('\n')).toHaveLength(1);
  if (typeof message === 'string') expect(result.stderr).toBe(message);
  else expect(result.stderr).toMatch(message);
  expect(result.exitCode).toBe(options.status ?? EXIT.config);
  expect(result.launched).toBe(false);
  expect(socks.records).toEqual([]);
  return result.stderr;
}

async function expectLaunched(args: string[], env: Record<string, string> = {}): Promise<void> {
  const result = await attempt(args, env);
  expect(result.stderr).toBe('');
  expect(result.exitCode).toBe(0);
  expect(result.launched).toBe(true);
}

function mkfifo(path: string): string {
  mkdirSync(dirname(path), { recursive: true });
  execFileSync('mkfifo', ['-m', '0644', path]);
  return path;
}

describe('only regular files of bounded size are read', () => {
  it('control: the same directory launches with a regular profile', async () => {
    await expectLaunched(['--config-dir', configDir(), 'default']);
  });

  it('a FIFO as a profile: refused at once (it used to block forever in open)', async () => {
    const dir = configDir();
    const fifo = mkfifo(join(dir, 'profiles', 'fifo.yml'));
    await expectRefused(
      ['--config-dir', dir, 'fifo'],
      `tails-launch: invalid configuration: ${fifo}: is not a regular file (a FIFO)`,
    );
  });

  it('a symlink to /dev/zero as a profile: refused at once (it used to read forever)', async () => {
    const dir = configDir();
    const zero = join(dir, 'profiles', 'zero.yml');
    symlinkSync('/dev/zero', zero);
    await expectRefused(
      ['--config-dir', dir, 'zero'],
      `tails-launch: invalid configuration: ${zero}: is not a regular file (a character device)`,
    );
  });

  it('a FIFO as listeners.yml: refused at once', async () => {
    const dir = configDir();
    rmSync(join(dir, 'listeners.yml'));
    const fifo = mkfifo(join(dir, 'listeners.yml'));
    await expectRefused(
      ['--config-dir', dir, 'default'],
      `tails-launch: invalid configuration: ${fifo}: is not a regular file (a FIFO)`,
    );
  });

  it('a symlink to a regular file is still fine (the final file counts)', async () => {
    const dir = configDir({});
    const elsewhere = write(join(tempDir('elsewhere'), 'real.yml'), PROFILE);
    symlinkSync(elsewhere, join(dir, 'profiles', 'default.yml'));
    await expectLaunched(['--config-dir', dir, 'default']);
  });

  it('a 30 MB profile with one unknown field: refused by its size, in one short line', async () => {
    const dir = configDir();
    const huge = write(join(dir, 'profiles', 'huge.yml'), `${PROFILE}${'u'.repeat(30_000_000)}: 1\n`);
    const line = await expectRefused(
      ['--config-dir', dir, 'huge'],
      `tails-launch: invalid configuration: ${huge}: is larger than 1 MiB`,
    );
    expect(line.length).toBeLessThan(300);
  });

  it('an unknown field of 900 KB (under the bound): named in a short line, not echoed whole', async () => {
    const dir = configDir();
    write(join(dir, 'profiles', 'longkey.yml'), `${PROFILE}${'u'.repeat(900_000)}: 1\n`);
    const line = await expectRefused(['--config-dir', dir, 'longkey'], /unknown field 'u{80}…\(900000 characters\)'$/);
    expect(line.length).toBeLessThan(600);
  });
});

describe('a YAML alias bomb', () => {
  // The case: a 1 MB scalar referenced 3000 times (3 GB once copied).
  const bomb = `${PROFILE}description: &big ${'x'.repeat(1_000_000)}\nargs: [${Array(3000).fill('*big').join(', ')}]\n`;
  const message =
    /^tails-launch: invalid configuration: .*bomb\.yml: stands for more than 2 MiB of data once its YAML aliases \(\*name\) are expanded/;

  it('is refused by a launch with 65 and one line (it used to die of heap exhaustion, 134)', async () => {
    const dir = configDir({ default: PROFILE, bomb });
    await expectRefused(['--config-dir', dir, 'bomb'], message);
  });

  it('does not validate either', async () => {
    const dir = configDir({ default: PROFILE, bomb });
    const result = await runLauncher(['--config-dir', dir, 'validate', join(dir, 'profiles', 'bomb.yml')], {
      timeout: PROMPT,
    });
    expect(result.signal).toBeUndefined();
    expect(result.exitCode).toBe(EXIT.config);
    expect(result.stderr).toMatch(/bomb\.yml: stands for more than 2 MiB/);
    expect(result.stderr.split('\n')).toHaveLength(1);
  });
});

describe('values execve cannot carry', () => {
  it('a NUL byte in args: refused by validate and by a launch (65, file:line: field), never 70', async () => {
    const dir = configDir({ default: PROFILE, nul: `${PROFILE}args: ["-c", "echo a\\0b"]\n` });
    const file = join(dir, 'profiles', 'nul.yml');
    await expectRefused(
      ['--config-dir', dir, 'nul'],
      `tails-launch: invalid configuration: ${file}:4: args.1: contains a NUL byte, which execve cannot pass`,
    );
    const validate = await runLauncher(['validate', file], { timeout: PROMPT });
    expect(validate.exitCode).toBe(EXIT.config);
    expect(validate.stderr).toBe(`tails-launch: ${file}:4: args.1: contains a NUL byte, which execve cannot pass`);
  });

  it('a NUL byte in an env value (JSON \\u0000): refused with 65', async () => {
    const dir = configDir({ default: PROFILE });
    const file = write(
      join(dir, 'profiles', 'nulenv.json'),
      `{\n  "extends": "default",\n  "env": { "set": { "GREETING": "hi\\u0000there" } }\n}\n`,
    );
    await expectRefused(
      ['--config-dir', dir, 'nulenv'],
      `tails-launch: invalid configuration: ${file}:3: env.set.GREETING: contains a NUL byte, which execve cannot pass`,
    );
  });

  it("an env name with '=': refused with 65", async () => {
    const dir = configDir({ default: PROFILE });
    const file = write(
      join(dir, 'profiles', 'eqname.json'),
      `{\n  "extends": "default",\n  "env": { "set": { "A=B": "x" } }\n}\n`,
    );
    await expectRefused(
      ['--config-dir', dir, 'eqname'],
      `tails-launch: invalid configuration: ${file}:3: env.set.A=B: must be an environment variable name`,
    );
  });
});

describe('layers someone else can change are refused (as root: only root-owned)', () => {
  /** A fake home whose user layer adds listener `mine` (the test SOCKS server) and profile `mine`. */
  function userLayer(): { home: string; xdg: string; layer: string; env: Record<string, string> } {
    const home = tempDir('home');
    chmodSync(home, 0o755);
    const xdg = join(home, 'xdg');
    const layer = join(xdg, 'tails-launch');
    write(join(layer, 'listeners.yml'), `listeners:\n  mine:\n    address: 127.0.0.1\n    port: ${socks.port}\n`);
    write(join(layer, 'profiles', 'mine.yml'), 'listener: mine\nisolation: launch\nbackend: torsocks\n');
    return { home, xdg, layer, env: { HOME: home, XDG_CONFIG_HOME: xdg } };
  }

  it('control: the user layer launches when root owns it and only root can write it', async () => {
    const { env } = userLayer();
    await expectLaunched(['mine'], env);
  });

  it('an XDG_CONFIG_HOME owned by nobody', async () => {
    const { xdg, env } = userLayer();
    chownSync(xdg, NOBODY, NOBODY);
    await expectRefused(
      ['mine'],
      `tails-launch: invalid configuration: ${xdg}: is owned by uid ${NOBODY}, not by root: chown it to root or remove it`,
      { env },
    );
  });

  it('a profile file that others can write (0666)', async () => {
    const { layer, env } = userLayer();
    const file = join(layer, 'profiles', 'mine.yml');
    chmodSync(file, 0o666);
    await expectRefused(
      ['mine'],
      `tails-launch: invalid configuration: ${file}: is writable by others (mode 0666): make it 0644 or remove it`,
      { env },
    );
  });

  it('a profile file owned by nobody, even with mode 0644', async () => {
    const { layer, env } = userLayer();
    const file = join(layer, 'profiles', 'mine.yml');
    chownSync(file, NOBODY, NOBODY);
    await expectRefused(
      ['mine'],
      `tails-launch: invalid configuration: ${file}: is owned by uid ${NOBODY}, not by root: chown it to root or remove it`,
      { env },
    );
  });

  it('a group-writable profiles/ directory, also for a profile the layer does not hold', async () => {
    const { layer, env } = userLayer();
    chmodSync(join(layer, 'profiles'), 0o775);
    const line = `tails-launch: invalid configuration: ${join(layer, 'profiles')}: is writable by its group (mode 0775): make it 0755 or remove it`;
    await expectRefused(['mine'], line, { env });
    // The layer is refused as a whole: a shipped profile does not launch past it either.
    const result = await runLauncher(['explain', 'pidgin'], { env: cleanEnv(env), timeout: PROMPT });
    expect([result.exitCode, result.stderr]).toEqual([EXIT.config, line]);
  });

  it('--config-dir too: a directory others can write', async () => {
    const dir = configDir();
    chmodSync(dir, 0o777);
    await expectRefused(
      ['--config-dir', dir, 'default'],
      `tails-launch: invalid configuration: ${dir}: is writable by others (mode 0777): make it 0755 or remove it`,
    );
  });

  it('--config-dir below a sticky world-writable directory (/tmp-like) is fine', async () => {
    const sticky = tempDir('sticky');
    chmodSync(sticky, 0o1777);
    const dir = join(sticky, 'cfg');
    mkdirSync(join(dir, 'profiles'), { recursive: true, mode: 0o755 });
    write(join(dir, 'listeners.yml'), `listeners:\n  default:\n    address: 127.0.0.1\n    port: ${socks.port}\n`);
    write(join(dir, 'profiles', 'default.yml'), PROFILE);
    await expectLaunched(['--config-dir', dir, 'default']);
  });
});

describe('as another user (nobody, through setpriv)', () => {
  /**
   * The launcher as nobody can run it: the checkout may sit below a directory
   * only root may enter (a clone in a 0700 temporary directory). Its front and
   * bundle are copied under a 0755 directory; without koffi, explain still
   * plans (these tests only read configuration).
   */
  let launcher = '';
  beforeAll(() => {
    launcher = launcherForAnyone(tempDir('nobody-launcher'));
  });

  /** explain as nobody: the invoking (real) user is 65534. */
  function explainAsNobody(dir: string): Promise<LauncherResult> {
    const home = tempDir('nobody-home');
    chmodSync(home, 0o755);
    return runLauncher(
      [
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        launcher,
        '--config-dir',
        dir,
        'explain',
        'default',
        '--',
        '/bin/true',
      ],
      { env: cleanEnv({ HOME: home }), timeout: PROMPT },
      'setpriv',
    );
  }

  /** A config dir readable by everyone, under a 0755 parent, owned by UID. */
  function sharedConfig(uid: number): string {
    const parent = tempDir('shared');
    chmodSync(parent, 0o755);
    const dir = join(parent, 'cfg');
    write(join(dir, 'listeners.yml'), `listeners:\n  default:\n    address: 127.0.0.1\n    port: ${socks.port}\n`);
    write(join(dir, 'profiles', 'default.yml'), PROFILE);
    for (const path of [dir, join(dir, 'profiles'), join(dir, 'listeners.yml'), join(dir, 'profiles', 'default.yml')])
      chownSync(path, uid, uid);
    return dir;
  }

  it('reads a layer owned by the invoking user, and one owned by root', async () => {
    for (const uid of [NOBODY, 0]) {
      const result = await explainAsNobody(sharedConfig(uid));
      expect(result.stderr).toBe('');
      expect(result.exitCode).toBe(0);
    }
  });

  it('refuses a layer owned by a third user', async () => {
    const dir = sharedConfig(4242);
    const result = await explainAsNobody(dir);
    expect([result.exitCode, result.stderr]).toEqual([
      EXIT.config,
      `tails-launch: invalid configuration: ${dir}: is owned by uid 4242, not by root or you (uid ${NOBODY}): chown it to you or remove it`,
    ]);
  });

  it('says "cannot read FILE: permission denied" for a profile it may not read (not "invalid configuration")', async () => {
    const dir = sharedConfig(0);
    const file = join(dir, 'profiles', 'default.yml');
    chmodSync(file, 0o600);
    const result = await explainAsNobody(dir);
    expect([result.exitCode, result.stderr]).toEqual([
      EXIT.config,
      `tails-launch: cannot read ${file}: permission denied`,
    ]);
  });

  it('does not fall back past a profiles/ directory it may not search', async () => {
    const dir = sharedConfig(0);
    chmodSync(join(dir, 'profiles'), 0o700);
    const result = await explainAsNobody(dir);
    expect([result.exitCode, result.stderr]).toEqual([
      EXIT.config,
      `tails-launch: cannot read ${join(dir, 'profiles')}: permission denied`,
    ]);
  });
});

describe('messages stay one line', () => {
  it("list's table on stdout: an unknown key holding a newline cannot add a row", async () => {
    const dir = configDir({ default: PROFILE });
    write(
      join(dir, 'profiles', 'forged.json'),
      JSON.stringify({ extends: 'default', 'x\nfake      default 127.0.0.1:9050  app  torsocks': 1 }),
    );
    const result = await runLauncher(['--config-dir', dir, 'list'], { timeout: PROMPT });
    expect(result.exitCode).toBe(EXIT.config);
    const rows = result.stdout.split('\n');
    expect(rows).toHaveLength(3); // the header, default, forged
    expect(rows[2]).toMatch(/^forged\s+INVALID\b.*unknown field 'x\\nfake/);
    expect(result.stderr.split('\n')).toHaveLength(1);
  });
});

describe('torrc --check reads only regular files', () => {
  async function check(text: string): Promise<LauncherResult> {
    const torrc = write(join(tempDir('torrc'), 'torrc'), text);
    return runLauncher(['--config-dir', configDir(), 'torrc', '--check', torrc], { timeout: PROMPT });
  }

  it('`%include /dev/zero`: an ERROR line at once (it used to read forever)', async () => {
    const result = await check(`SocksPort 127.0.0.1:${socks.port}\n%include /dev/zero\n`);
    expect(result.signal).toBeUndefined();
    expect(result.exitCode).toBe(EXIT.checkFailed);
    expect(result.stdout).toMatch(
      /^ERROR +\S+torrc:2: cannot read included file \/dev\/zero: is not a regular file \(a character device\)$/m,
    );
  });

  it('an included FIFO: an ERROR line at once (it used to block forever)', async () => {
    const fifo = mkfifo(join(tempDir('fifo'), 'fifo'));
    const result = await check(`SocksPort 127.0.0.1:${socks.port}\n%include ${fifo}\n`);
    expect(result.signal).toBeUndefined();
    expect(result.exitCode).toBe(EXIT.checkFailed);
    expect(result.stdout).toContain(`cannot read included file ${fifo}: is not a regular file (a FIFO)`);
  });

  it('a FIFO as the torrc: one error line at once', async () => {
    const fifo = mkfifo(join(tempDir('fifo'), 'torrc'));
    const result = await runLauncher(['--config-dir', configDir(), 'torrc', '--check', fifo], { timeout: PROMPT });
    expect(result.signal).toBeUndefined();
    expect([result.exitCode, result.stderr]).toEqual([
      EXIT.checkFailed,
      `tails-launch: torrc --check: cannot read ${fifo}: is not a regular file (a FIFO)`,
    ]);
  });
});
