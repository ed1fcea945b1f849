// `tails-launch desktop` on real files: the desktop entries and D-Bus
// services of Debian's own packages of the shipped profiles' applications
// (downloaded with apt-get, unpacked with dpkg-deb), checked with
// desktop-file-validate, and entries started the way GNOME starts them:
// `gio launch` (GLib's GDesktopAppInfo: field codes, quoting; it runs Exec
// even for a D-Bus activatable entry, so D-Bus activation itself is
// clean-image.test.ts's, with `gapplication launch`). Per-user installs
// here; the system-wide one (dpkg-divert, the package's postrm) is
// debian-package.test.ts's and clean-image.test.ts's.
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, LAUNCHER, runLauncher } from '../support/launcher';
import { startSocks5Server, type Socks5Server } from '../support/socks5-server';

// The shipped profiles' applications whose Debian packages have desktop entries or D-Bus services.
const PACKAGES = ['totem', 'pidgin', 'thunderbird', 'electrum', 'onionshare', 'system-config-printer-common'];
const EXPECTED = [
  'electrum: installed applications/electrum.desktop',
  'onionshare: installed applications/org.onionshare.OnionShare.desktop',
  'pidgin: installed applications/pidgin.desktop',
  'printing: installed dbus-1/services/org.fedoraproject.Config.Printing.service',
  'thunderbird: installed applications/thunderbird.desktop',
  'totem: installed applications/org.gnome.Totem.desktop',
  'totem: installed dbus-1/services/org.gnome.Totem.service',
];

interface DoctorCheck {
  id: string;
  status: string;
  message: string;
}

let work = '';
let system = ''; // the unpacked packages' usr/share: XDG_DATA_DIRS
let home = '';
let dataHome = '';
let dirs = ''; // a data dir of Debian's real pidgin and totem files, plus whatever a case adds
let userHome = ''; // a new one for each case (fresh)

const env = (extra: Record<string, string> = {}) =>
  cleanEnv({ HOME: home, XDG_DATA_DIRS: system, XDG_DATA_HOME: dataHome, ...extra });

const desktop = (args: string[], extra: Record<string, string> = {}) =>
  runLauncher(['desktop', ...args], { env: env(extra) });

/** Every file under DIR, relative, sorted. */
function tree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return (readdirSync(dir, { recursive: true }) as string[]).filter((p) => statSync(join(dir, p)).isFile()).sort();
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'tails-launch-desktop-'));
  chmodSync(work, 0o755); // apt-get download writes as _apt where it can
  const debs = join(work, 'debs');
  mkdirSync(debs);
  chmodSync(debs, 0o777);
  await execa('apt-get', ['download', '-q', ...PACKAGES], { cwd: debs, env: { ...process.env, LC_ALL: 'C' } });
  const root = join(work, 'root');
  for (const deb of readdirSync(debs).filter((f) => f.endsWith('.deb')))
    execFileSync('dpkg-deb', ['-x', join(debs, deb), root]);
  system = join(root, 'usr/share');
  home = join(work, 'home');
  dataHome = join(home, '.local/share');
  mkdirSync(home, { recursive: true });
  dirs = join(work, 'attack-share');
  mkdirSync(join(dirs, 'applications'), { recursive: true });
  for (const f of ['pidgin.desktop', 'org.gnome.Totem.desktop'])
    writeFileSync(join(dirs, 'applications', f), readFileSync(join(system, 'applications', f)));
}, 120_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** A shipped profile's isolation mode, as `list --json` says it. */
const isolationOf = (profile: string): string => {
  const listed = JSON.parse(
    execFileSync(LAUNCHER, ['list', '--json'], { env: cleanEnv(), encoding: 'utf8' }),
  ) as Array<{
    name: string;
    isolation?: string;
  }>;
  return listed.find((p) => p.name === profile)?.isolation ?? 'unknown';
};

describe("Debian's own files of the shipped profiles' applications", () => {
  it("desktop --install --user --all writes one file per entry and service that starts a profile's command; profiles without one say so", async () => {
    const r = await desktop(['--install', '--user', '--all']);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const lines = r.stdout.split('\n').filter((l) => l !== '');
    expect(lines.filter((l) => l.includes(': installed ')).map((l) => l.replace(`${dataHome}/`, ''))).toEqual(EXPECTED);
    expect(lines).toContain('curl: no desktop entry or D-Bus service starts /usr/bin/curl');
    expect(lines).toContain('default: names no command');
    expect(tree(dataHome)).toEqual(EXPECTED.map((l) => l.split(' ').pop()!).sort());
  });

  it('every generated desktop entry passes desktop-file-validate, and each Exec line starts the launcher with the profile', () => {
    for (const file of readdirSync(join(dataHome, 'applications'))) {
      const path = join(dataHome, 'applications', file);
      const result = spawnSync('desktop-file-validate', [path], { encoding: 'utf8' });
      expect(`${result.stdout}${result.stderr}`, file).not.toMatch(/error:/);
      expect(result.status, file).toBe(0);
      const text = readFileSync(path, 'utf8');
      // Every Exec runs the launcher with the profile; the one action of ours runs new-identity with it.
      const [name] = /^Exec=\S+ ([a-z0-9-]+) --/m.exec(text)?.slice(1) ?? [];
      for (const exec of text.split('\n').filter((l) => l.startsWith('Exec=')))
        expect(exec, file).toMatch(new RegExp(`^Exec=${LAUNCHER} (${name} --( |$)|new-identity ${name}$)`));
      // The action "New Tor circuit for NAME" exactly where new-identity can work (isolation app or launch).
      expect(text.includes('[Desktop Action tails-launch-new-circuit]'), file).toBe(
        ['app', 'launch'].includes(isolationOf(name!)),
      );
      // Translations are kept: the originals have dozens.
      const original = readFileSync(join(system, 'applications', file), 'utf8');
      const localized = (t: string) => t.split('\n').filter((l) => /^[A-Za-z]+\[[^\]]+\]=/.test(l));
      expect(localized(text), file).toEqual(localized(original));
    }
  });

  it("Totem's entry no longer activates over D-Bus, and its D-Bus service goes through the launcher too", () => {
    const entry = readFileSync(join(dataHome, 'applications/org.gnome.Totem.desktop'), 'utf8');
    expect(entry).toContain('\nDBusActivatable=false\n');
    expect(entry).toContain(`\nExec=${LAUNCHER} totem -- %U\n`);
    expect(entry).toContain('\nTryExec=/usr/bin/totem\n');
    const service = readFileSync(join(dataHome, 'dbus-1/services/org.gnome.Totem.service'), 'utf8');
    expect(service).toContain(`\nExec=${LAUNCHER} totem -- --gapplication-service\n`);
    const printing = readFileSync(join(dataHome, 'dbus-1/services/org.fedoraproject.Config.Printing.service'), 'utf8');
    expect(printing).toContain(`\nExec=${LAUNCHER} printing --\n`);
  });

  it('a second --install changes nothing, byte for byte', async () => {
    const before = tree(dataHome).map((p) => readFileSync(join(dataHome, p), 'utf8'));
    const r = await desktop(['--install', '--user', '--all']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).not.toMatch(/: (installed|updated) /);
    expect(r.stdout.match(/: unchanged /g)).toHaveLength(EXPECTED.length);
    expect(tree(dataHome).map((p) => readFileSync(join(dataHome, p), 'utf8'))).toEqual(before);
  });

  it('desktop PROFILE prints what --install wrote; --dbus-service the service', async () => {
    const printed = await desktop(['totem']);
    expect(printed.exitCode).toBe(0);
    expect(`${printed.stdout}\n`).toBe(readFileSync(join(dataHome, 'applications/org.gnome.Totem.desktop'), 'utf8'));
    const service = await desktop(['printing', '--dbus-service']);
    expect(`${service.stdout}\n`).toBe(
      readFileSync(join(dataHome, 'dbus-1/services/org.fedoraproject.Config.Printing.service'), 'utf8'),
    );
    const none = await desktop(['curl']);
    expect(none).toMatchObject({ exitCode: 66, stdout: '' });
    expect(none.stderr).toMatch(/^tails-launch: no desktop entry starts \/usr\/bin\/curl in .*\n?$/);
  });

  it("--remove takes back one profile, then all; a file of the user's own stays", async () => {
    const mine = join(dataHome, 'applications/mine.desktop');
    writeFileSync(mine, '[Desktop Entry]\nType=Application\nName=Mine\nExec=totem\n');
    const one = await desktop(['--remove', '--user', 'totem']);
    expect(one.stdout.split('\n').filter((l) => l !== '')).toHaveLength(2);
    expect(existsSync(join(dataHome, 'applications/org.gnome.Totem.desktop'))).toBe(false);
    const all = await desktop(['--remove', '--user', '--all']);
    expect(all.exitCode).toBe(0);
    expect(tree(dataHome)).toEqual(['applications/mine.desktop']);
    rmSync(mine);
  });
});

describe('doctor', () => {
  const check = async (name: string) => {
    // No Tor here: doctor fails on that, and still reports the desktop files.
    const r = await runLauncher(['doctor', '--json', name], { env: env() });
    const checks = (JSON.parse(r.stdout) as { checks: { id: string; status: string; message: string }[] }).checks;
    return checks.find((c) => c.id === `profile.${name}.desktop`);
  };

  it('warns about an application file that starts the command without the launcher, and says all is well after --install', async () => {
    expect(await check('totem')).toMatchObject({
      status: 'warn',
      message: `profile 'totem': ${system}/applications/org.gnome.Totem.desktop, ${system}/dbus-1/services/org.gnome.Totem.service start /usr/bin/totem without the launcher`,
    });
    expect((await desktop(['--install', '--user', 'totem'])).exitCode).toBe(0);
    expect(await check('totem')).toMatchObject({ status: 'ok' });
    expect((await desktop(['--remove', '--user', 'totem'])).exitCode).toBe(0);
    expect(await check('curl')).toBeUndefined();
  });
});

describe('started the way a desktop starts it (gio launch)', () => {
  let socks: Socks5Server;
  let config = '';
  let apps = ''; // an XDG data dir with our own applications' entries
  let out = '';

  beforeAll(async () => {
    socks = await startSocks5Server();
    // The profiles are the user's own (the Exec line carries no --config-dir): a listener
    // of their own at our SOCKS server (a user layer may add listeners, not change Tails').
    config = join(home, '.config/tails-launch');
    mkdirSync(join(config, 'profiles'), { recursive: true });
    writeFileSync(
      join(config, 'listeners.yml'),
      `listeners:\n  test-socks:\n    address: 127.0.0.1\n    port: ${socks.port}\n`,
    );
    writeFileSync(
      join(config, 'profiles/fetch.yml'),
      'command: /usr/bin/curl\nlistener: test-socks\nbackend: torsocks\nisolation: app\n',
    );
    writeFileSync(
      join(config, 'profiles/argv.yml'),
      'command: /usr/bin/python3\nlistener: test-socks\nbackend: torsocks\nisolation: launch\n',
    );
    apps = join(work, 'apps');
    out = join(work, 'out');
    mkdirSync(join(apps, 'applications'), { recursive: true });
    mkdirSync(out);
    // curl, as an application that takes a URL (%u); and python3 reporting its argv and
    // LD_PRELOAD, with arguments GLib must unquote (a space, an escaped quote, a dollar).
    writeFileSync(
      join(apps, 'applications/fetch.desktop'),
      `[Desktop Entry]\nType=Application\nName=Fetch\nName[de]=Holen\nExec=curl --silent --max-time 10 -o ${out}/fetched %u\n`,
    );
    const code = `import sys, os, json; open('${out}/argv.json', 'w').write(json.dumps([sys.argv, os.environ.get('LD_PRELOAD', '')]))`;
    writeFileSync(
      join(apps, 'applications/argv.desktop'),
      `[Desktop Entry]\nType=Application\nName=Argv\nExec=python3 -c "${code}" "a b \\\\"c\\\\" \\\\$d" --flag=1 %F\n`,
    );
  }, 30_000);

  afterAll(async () => {
    await socks?.close();
    if (config) rmSync(config, { recursive: true, force: true });
  });

  /** `gio launch FILE ARGS` as a session would run it; then waits for PATH to appear. */
  async function launch(file: string, args: string[], path: string): Promise<string | null> {
    rmSync(path, { force: true });
    await execa('gio', ['launch', file, ...args], {
      env: env({ XDG_DATA_DIRS: apps }),
      extendEnv: false,
      timeout: 20_000,
    });
    for (let i = 0; i < 100 && !existsSync(path); i++) await new Promise((r) => setTimeout(r, 100));
    return existsSync(path) ? readFileSync(path, 'utf8') : null;
  }

  it("the rewritten entry starts the application under tails-launch: curl's request reaches our SOCKS server with the profile's credentials", async () => {
    const install = await desktop(['--install', '--user', 'fetch'], { XDG_DATA_DIRS: apps });
    expect(install).toMatchObject({ exitCode: 0, stdout: `fetch: installed ${dataHome}/applications/fetch.desktop` });
    socks.clear();
    const body = await launch(
      join(dataHome, 'applications/fetch.desktop'),
      ['http://example.test/page'],
      join(out, 'fetched'),
    );
    expect(body).toBe('ok via socks5\n');
    // torsocks asks Tor to resolve the name (Tor's RESOLVE extension), then connects to
    // the address it got, both with the profile's credentials.
    const records = await socks.waitForRecords(2);
    const plan = JSON.parse((await runLauncher(['explain', '--json', 'fetch'], { env: env() })).stdout);
    expect(plan.torSees.credentials).toMatchObject({ kind: 'userpass', perLaunch: false });
    const { username, password } = plan.torSees.credentials as { username: string; password: string };
    expect(records.map((r) => [r.command, r.host])).toEqual([
      ['resolve', 'example.test'],
      ['connect', '192.0.2.1'],
    ]);
    expect(records[1]!.port).toBe(80);
    for (const r of records) expect([r.username, r.password]).toEqual([username, password]);
  });

  it("control: the application's own entry, started the same way, never reaches the SOCKS server", async () => {
    socks.clear();
    await launch(join(apps, 'applications/fetch.desktop'), ['http://example.test/page'], join(out, 'fetched'));
    expect(socks.records).toEqual([]);
  });

  it('field codes and quoting survive: the application gets the very argv its own entry gives it, plus torsocks', async () => {
    const install = await desktop(['--install', '--user', 'argv'], { XDG_DATA_DIRS: apps });
    expect(install.exitCode).toBe(0);
    const files = ['/tmp/x y', '/tmp/z'];
    const own = await launch(join(apps, 'applications/argv.desktop'), files, join(out, 'argv.json'));
    const ours = await launch(join(dataHome, 'applications/argv.desktop'), files, join(out, 'argv.json'));
    const expected = ['-c', 'a b "c" $d', '--flag=1', ...files];
    expect(JSON.parse(own!)).toEqual([expected, '']);
    const [argv, preload] = JSON.parse(ours!) as [string[], string];
    expect(argv).toEqual(expected);
    expect(preload).toMatch(/libtorsocks\.so/);
  });
});

// What must not work, and how files are judged: the attack data dir and a home of its own each time.
const attackEnv = () => cleanEnv({ HOME: userHome, XDG_DATA_DIRS: dirs, XDG_DATA_HOME: join(userHome, 'share') });
const run = (args: string[]) => runLauncher(['desktop', ...args], { env: attackEnv(), timeout: 10_000 });

const fresh = () => {
  userHome = mkdtempSync(join(work, 'attack-home-'));
  mkdirSync(join(userHome, 'share/applications'), { recursive: true });
};

/** `doctor --json NAMES` on these directories (no Tor: it fails on that, exit 1, and still reports the rest). */
const doctor = async (names: string[]) => {
  const r = await runLauncher(['doctor', '--json', ...names], { env: attackEnv() });
  const checks = r.exitCode === 1 ? (JSON.parse(r.stdout) as { checks: DoctorCheck[] }).checks : [];
  return { ...r, checks, check: (id: string) => checks.find((c) => c.id === id) };
};

/** Writes FILES (name -> text) under the attack data dir for BODY, then removes them. */
async function withFiles(files: Record<string, string>, body: () => Promise<void>): Promise<void> {
  const paths = Object.keys(files).map((name) => join(dirs, name));
  try {
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(dirname(join(dirs, name)), { recursive: true });
      writeFileSync(join(dirs, name), text);
    }
    await body();
  } finally {
    for (const path of paths) rmSync(path, { force: true });
  }
}

describe('what must not work', () => {
  it('a FIFO where an entry should be: one line, at once, nothing written', async () => {
    fresh();
    const fifo = join(dirs, 'applications/zz-fifo.desktop');
    execFileSync('mkfifo', [fifo]);
    try {
      const r = await run(['--install', '--user', '--all']);
      expect(r.exitCode).toBe(65);
      expect(r.stderr).toBe(`tails-launch: cannot read ${fifo}: is not a regular file (a FIFO)`);
      expect(tree(join(userHome, 'share'))).toEqual([]);
    } finally {
      rmSync(fifo);
    }
  });

  it('a symbolic link planted where the per-user entry goes is not followed: the file it points to stays as it was', async () => {
    fresh();
    const victim = join(userHome, 'victim');
    writeFileSync(victim, 'untouched\n');
    symlinkSync(victim, join(userHome, 'share/applications/pidgin.desktop'));
    const r = await run(['--install', '--user', 'pidgin']);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(/pidgin\.desktop: is a symbolic link\n?$/);
    expect(readFileSync(victim, 'utf8')).toBe('untouched\n');
  });

  it("the user's own entry of the same ID is never overwritten", async () => {
    fresh();
    const own = join(userHome, 'share/applications/pidgin.desktop');
    writeFileSync(own, '[Desktop Entry]\nType=Application\nName=My Pidgin\nExec=pidgin --debug\n');
    const r = await run(['--install', '--user', 'pidgin']);
    expect(r.exitCode).toBe(65);
    expect(r.stderr).toContain(`${own} exists and was not written by tails-launch: move it away first`);
    expect(readFileSync(own, 'utf8')).toContain('Name=My Pidgin');
  });

  it('one entry the launcher cannot express (an action that runs another program) stops the whole install: nothing is half-written', async () => {
    fresh();
    const bad = join(dirs, 'applications/pidgin-extra.desktop');
    writeFileSync(
      bad,
      '[Desktop Entry]\nType=Application\nName=P\nExec=pidgin\nActions=x;\n\n[Desktop Action x]\nName=X\nExec=sh -c "pidgin --x"\n',
    );
    try {
      const r = await run(['--install', '--user', '--all']);
      expect(r.exitCode).toBe(65);
      expect(r.stderr.split('\n')[0]).toBe(
        `tails-launch: pidgin: cannot route ${bad} through the launcher: action 'x' runs sh, not /usr/bin/pidgin`,
      );
      expect(r.stderr).toMatch(/nothing was installed/);
      // Neither pidgin's other entry nor totem's were written.
      expect(tree(join(userHome, 'share'))).toEqual([]);
    } finally {
      rmSync(bad);
    }
  });

  it('a D-Bus activatable entry whose bus name starts another program is refused: D-Bus would start it without the launcher', async () => {
    fresh();
    const entry = join(dirs, 'applications/im.example.Pidgin.desktop');
    const service = join(dirs, 'dbus-1/services/im.example.Pidgin.service');
    mkdirSync(join(dirs, 'dbus-1/services'), { recursive: true });
    writeFileSync(entry, '[Desktop Entry]\nType=Application\nName=P\nExec=pidgin\nDBusActivatable=true\n');
    writeFileSync(service, '[D-BUS Service]\nName=im.example.Pidgin\nExec=/usr/libexec/pidgin-service\n');
    try {
      const r = await run(['--install', '--user', 'pidgin']);
      expect(r.exitCode).toBe(65);
      expect(r.stderr.split('\n')[0]).toBe(
        `tails-launch: pidgin: im.example.Pidgin.desktop is D-Bus activatable and its service ${service} does not run the profile's command: name im.example.Pidgin.service in the profile's desktop_files, or nothing would stop D-Bus starting it without the launcher`,
      );
      expect(tree(join(userHome, 'share'))).toEqual([]);
      // Named in desktop_files (a user profile extending pidgin), both go through the launcher.
      mkdirSync(join(userHome, '.config/tails-launch/profiles'), { recursive: true });
      writeFileSync(
        join(userHome, '.config/tails-launch/profiles/pidgin.yml'),
        'extends: pidgin\ndesktop_files: [im.example.Pidgin.service]\n',
      );
      const named = await run(['--install', '--user', 'pidgin']);
      expect(named.stderr).toBe('');
      expect(tree(join(userHome, 'share'))).toEqual([
        'applications/im.example.Pidgin.desktop',
        'applications/pidgin.desktop',
        'dbus-1/services/im.example.Pidgin.service',
      ]);
    } finally {
      rmSync(entry);
      rmSync(service);
    }
  });

  it("an entry that runs the command through sh -c (upstream Electrum's) cannot be rewritten: --install and doctor warn about it", async () => {
    fresh();
    const entry = join(dirs, 'applications/electrum.desktop');
    // Electrum's own electrum.desktop (Debian's package patches it to `electrum %u`).
    writeFileSync(
      entry,
      '[Desktop Entry]\nType=Application\nName=Electrum\nExec=sh -c "PATH=\\\\"\\\\$HOME/.local/bin:\\\\$PATH\\\\"; electrum %u"\n',
    );
    try {
      const r = await run(['--install', '--user', 'electrum']);
      expect(r.stderr).toBe(
        `tails-launch: warning: electrum: ${entry} names /usr/bin/electrum in an Exec line without running it as its program, so it may start it without the launcher: check it, and change or remove it if it does\ntails-launch: electrum: no desktop entry or D-Bus service starts /usr/bin/electrum\ntails-launch: nothing was installed: 1 file or profile above cannot go through the launcher\n`.trimEnd(),
      );
      expect((await doctor(['electrum'])).check('profile.electrum.desktop.other')).toMatchObject({ status: 'warn' });
    } finally {
      rmSync(entry);
    }
  });

  it('refuses bad command lines with one line: --system as a user, print without a profile, both --install and --remove', async () => {
    fresh();
    for (const [args, status] of [
      [['--install', '--all', 'pidgin'], 64],
      [['--install', '--remove', '--all'], 64],
      [[], 64],
      [['pidgin', 'totem'], 64],
      [['--install', '--user', '--all', '--entry', 'x.desktop'], 64],
      [['--bogus'], 64],
      [['no-such-profile'], 66],
    ] as const) {
      const r = await run([...args]);
      expect(r.exitCode, args.join(' ')).toBe(status);
      expect(
        r.stderr.split('\n').filter((l) => l !== ''),
        args.join(' '),
      ).toHaveLength(1);
    }
  });
});

describe('judged by what it runs, never by the marker line', () => {
  it('doctor judges a per-user entry by what it runs, not by its first line: our marker on a file that starts Totem directly is a warning', async () => {
    fresh();
    const marked = join(userHome, 'share/applications/org.gnome.Totem.desktop');
    const own = readFileSync(join(dirs, 'applications/org.gnome.Totem.desktop'), 'utf8');
    writeFileSync(
      marked,
      `# Generated by tails-launch for profile totem from ${dirs}/applications/org.gnome.Totem.desktop\n${own}`,
    );
    const before = await doctor(['totem']);
    expect(before.stderr).toBe('');
    expect(before.check('profile.totem.desktop')).toMatchObject({
      status: 'warn',
      message: `profile 'totem': ${marked} starts /usr/bin/totem without the launcher`,
    });
    // Ours by its marker, so --install may replace it; then doctor is content.
    expect((await run(['--install', '--user', 'totem'])).exitCode).toBe(0);
    expect((await doctor(['totem'])).check('profile.totem.desktop')).toMatchObject({ status: 'ok' });
  });

  it('a file in a data directory that starts with our marker is still judged by what it runs: --install rewrites it, doctor names it', async () => {
    fresh();
    const marked = join(dirs, 'applications/zz-marked.desktop');
    await withFiles(
      {
        'applications/zz-marked.desktop':
          '# Generated by tails-launch for profile pidgin from /nowhere\n[Desktop Entry]\nType=Application\nName=P\nExec=pidgin\n',
      },
      async () => {
        expect((await doctor(['pidgin'])).check('profile.pidgin.desktop')).toMatchObject({
          status: 'warn',
          message: `profile 'pidgin': ${dirs}/applications/pidgin.desktop, ${marked} start /usr/bin/pidgin without the launcher`,
        });
        const r = await run(['--install', '--user', 'pidgin']);
        expect(r.stderr).toBe('');
        expect(tree(join(userHome, 'share'))).toEqual([
          'applications/pidgin.desktop',
          'applications/zz-marked.desktop',
        ]);
        expect(readFileSync(join(userHome, 'share/applications/zz-marked.desktop'), 'utf8')).toContain(
          `\nExec=${LAUNCHER} pidgin --\n`,
        );
      },
    );
  });

  it('a FIFO, a file over 1 MiB and an unreadable per-user entry are one warning each in doctor, and the rest of the report as usual', async () => {
    fresh();
    const fifo = join(dirs, 'applications/zz-fifo.desktop');
    const big = join(dirs, 'applications/zz-big.desktop');
    const userFifo = join(userHome, 'share/applications/pidgin.desktop');
    execFileSync('mkfifo', [fifo, userFifo]);
    writeFileSync(big, `[Desktop Entry]\nType=Application\nName=Big\nExec=totem\n${'#'.repeat(1024 * 1024)}\n`);
    try {
      const r = await doctor(['totem', 'pidgin']);
      expect(r.stderr).toBe('');
      expect(r.exitCode).toBe(1); // Tor is not there; never 70
      const warned = (path: string) => r.checks.filter((c) => c.status === 'warn' && c.message.includes(path));
      expect(warned(fifo)).toHaveLength(1);
      expect(warned(fifo)[0]!.message).toContain('is not a regular file (a FIFO)');
      expect(warned(big)).toHaveLength(1);
      expect(warned(big)[0]!.message).toContain('is larger than 1 MiB');
      expect(warned(userFifo)).toHaveLength(1);
      expect(r.check('profile.totem.desktop')).toMatchObject({ status: 'warn' });
      expect(r.check('profile.pidgin.desktop')).toBeUndefined();
    } finally {
      rmSync(fifo);
      rmSync(big);
    }
  });
});

describe('the command is a file, and a boolean what GLib reads', () => {
  it('a D-Bus activatable entry is one whatever GLib reads as true (`1`, trailing blanks): refused the same way', async () => {
    for (const value of ['1', 'true  ']) {
      fresh();
      await withFiles(
        {
          'applications/im.example.Pidgin.desktop': `[Desktop Entry]\nType=Application\nName=P\nExec=pidgin\nDBusActivatable=${value}\n`,
          'dbus-1/services/im.example.Pidgin.service':
            '[D-BUS Service]\nName=im.example.Pidgin\nExec=/usr/libexec/pidgin-service\n',
        },
        async () => {
          const r = await run(['--install', '--user', 'pidgin']);
          expect(r.exitCode, value).toBe(65);
          expect(r.stderr.split('\n')[0], value).toMatch(
            /^tails-launch: pidgin: im\.example\.Pidgin\.desktop is D-Bus activatable /,
          );
          expect(tree(join(userHome, 'share')), value).toEqual([]);
        },
      );
    }
  });

  it('an Exec program is the command when it is the same file: /bin/curl is /usr/bin/curl (merged /usr), rewritten; what runs it and cannot be rewritten is warned about', async () => {
    fresh();
    // This system has a merged /usr: /bin/curl is /usr/bin/curl, the shipped curl profile's command.
    expect(statSync('/bin/curl').ino).toBe(statSync('/usr/bin/curl').ino);
    const plain = join(dirs, 'applications/zz-fetch.desktop');
    const viaEnv = join(dirs, 'applications/zz-env-fetch.desktop');
    const action = join(dirs, 'applications/zz-action-fetch.desktop');
    await withFiles(
      {
        'applications/zz-fetch.desktop': '[Desktop Entry]\nType=Application\nName=Fetch\nExec=/bin/curl --silent %u\n',
        'applications/zz-env-fetch.desktop': '[Desktop Entry]\nType=Application\nName=Env\nExec=env A=1 /bin/curl %u\n',
        'applications/zz-action-fetch.desktop':
          '[Desktop Entry]\nType=Application\nName=A\nExec=/bin/curl\nActions=x;\n\n[Desktop Action x]\nName=X\nExec=sh -c /bin/curl\n',
      },
      async () => {
        const before = await doctor(['curl']);
        expect(before.check('profile.curl.desktop')).toMatchObject({
          status: 'warn',
          message: `profile 'curl': ${plain} starts /usr/bin/curl without the launcher`,
        });
        expect(before.check('profile.curl.desktop.other')?.message).toContain(viaEnv);
        expect(before.check('profile.curl.desktop.refused')).toMatchObject({
          status: 'warn',
          message: `profile 'curl': cannot route ${action} through the launcher: action 'x' runs sh, not /usr/bin/curl`,
        });
        rmSync(action);
        const r = await run(['--install', '--user', 'curl']);
        expect(r.stderr).toContain(`warning: curl: ${viaEnv} names /usr/bin/curl in an Exec line`);
        expect(r).toMatchObject({
          exitCode: 0,
          stdout: `curl: installed ${join(userHome, 'share/applications/zz-fetch.desktop')}`,
        });
        expect(readFileSync(join(userHome, 'share/applications/zz-fetch.desktop'), 'utf8')).toContain(
          `\nExec=${LAUNCHER} curl -- --silent %u\n`,
        );
        expect((await doctor(['curl'])).check('profile.curl.desktop')).toMatchObject({ status: 'ok' });
      },
    );
  });
});

// System-wide (root, an image build): the launcher reads only the system's
// data directories, /usr/local/share and /usr/share, whatever XDG_DATA_DIRS
// says. To try it on them without touching this machine's, each run is in a
// mount namespace of its own (unshare --mount) where directories of the test
// are bound over /usr/local/share, /usr/share/applications,
// /usr/share/dbus-1/services and dpkg's database /var/lib/dpkg (so that the
// real dpkg-divert records its diversions in a database of the test's).
const AS_ROOT = process.getuid?.() === 0;
const SYSTEM_BIND = [
  'set -e',
  'mount --bind "$1" /usr/local/share',
  'mount --bind "$2" /usr/share/applications',
  'mount --bind "$3" /usr/share/dbus-1/services',
  'mount --bind "$4" /var/lib/dpkg',
  'shift 4',
  'exec "$@"',
].join('\n');
const SYSTEM_ENTRY = '[Desktop Entry]\nType=Application\nName=Fetch\nExec=curl --silent %u\n';
const SYSTEM_SERVICE = '[D-BUS Service]\nName=org.example.TlFetch\nExec=/usr/bin/curl --silent\n';
const SYSTEM_TARGET = '/usr/local/share/applications/tl-fetch.desktop';
let sysRoot = ''; // each case's: sysLocal/ (/usr/local/share), usr-applications/, usr-services/, dpkg/
let sysLocal = '';

const freshSystem = () => {
  sysRoot = mkdtempSync(join(work, 'system-'));
  sysLocal = join(sysRoot, 'local');
  for (const dir of ['local/applications', 'local/dbus-1/services', 'usr-applications', 'usr-services', 'dpkg'])
    mkdirSync(join(sysRoot, dir), { recursive: true, mode: 0o755 });
  chmodSync(sysRoot, 0o755);
  writeFileSync(join(sysLocal, 'applications/tl-fetch.desktop'), SYSTEM_ENTRY);
};

const systemWide = (args: string[], extra: Record<string, string> = {}) =>
  runLauncher(
    [
      '--mount',
      '--',
      'sh',
      '-c',
      SYSTEM_BIND,
      'sh',
      sysLocal,
      join(sysRoot, 'usr-applications'),
      join(sysRoot, 'usr-services'),
      join(sysRoot, 'dpkg'),
      LAUNCHER,
      'desktop',
      ...args,
    ],
    { env: cleanEnv({ HOME: sysRoot, ...extra }) },
    'unshare',
  );

/** The diversions recorded in this test's dpkg database. */
const diversions = () =>
  execFileSync('dpkg-divert', ['--admindir', join(sysRoot, 'dpkg'), '--list'], { encoding: 'utf8' }).trim();

describe.skipIf(!AS_ROOT)('system-wide, as root: only what root owns', () => {
  it("XDG_DATA_DIRS is not read: a user's copy that comes first stays hers, the system's entry is rewritten in its place (diverted), and --remove puts it back", async () => {
    freshSystem();
    // The user's own data directory, first in the administrator's XDG_DATA_DIRS (flatpak's exports do that).
    const user = join(sysRoot, 'user-share');
    mkdirSync(join(user, 'applications'), { recursive: true });
    mkdirSync(join(user, 'dbus-1/services'), { recursive: true });
    const mine = SYSTEM_ENTRY.replace('Name=Fetch', 'Name=Mine');
    const unit = `${SYSTEM_SERVICE}\n[Service]\nExecStart=/bin/sh -c "echo owned"\n`;
    writeFileSync(join(user, 'applications/tl-fetch.desktop'), mine);
    writeFileSync(join(user, 'dbus-1/services/tl-evil.service'), unit);
    execFileSync('chown', ['-R', 'nobody:nogroup', user]);
    const env = { XDG_DATA_DIRS: `${user}:/usr/local/share:/usr/share` };

    const first = await systemWide(['--install', 'curl'], env);
    expect(first.stderr).toBe('');
    expect(first).toMatchObject({ exitCode: 0, stdout: `curl: installed ${SYSTEM_TARGET}` });
    expect(tree(user)).toEqual(['applications/tl-fetch.desktop', 'dbus-1/services/tl-evil.service']);
    expect(readFileSync(join(user, 'applications/tl-fetch.desktop'), 'utf8')).toBe(mine);
    expect(readFileSync(join(user, 'dbus-1/services/tl-evil.service'), 'utf8')).toBe(unit);
    expect(readFileSync(join(sysLocal, 'applications/tl-fetch.desktop.tails-launch-orig'), 'utf8')).toBe(SYSTEM_ENTRY);
    expect(readFileSync(join(sysLocal, 'applications/tl-fetch.desktop'), 'utf8')).toContain(
      `\nExec=${LAUNCHER} curl -- --silent %u\n`,
    );
    expect(diversions()).toBe(`diversion of ${SYSTEM_TARGET} to ${SYSTEM_TARGET}.tails-launch-orig by tails-launch`);

    expect(await systemWide(['--install', 'curl'], env)).toMatchObject({
      exitCode: 0,
      stdout: `curl: unchanged ${SYSTEM_TARGET}`,
    });
    expect(await systemWide(['--remove', '--all'], env)).toMatchObject({
      exitCode: 0,
      stdout: `curl: removed ${SYSTEM_TARGET}`,
    });
    expect(tree(sysLocal)).toEqual(['applications/tl-fetch.desktop']);
    expect(readFileSync(join(sysLocal, 'applications/tl-fetch.desktop'), 'utf8')).toBe(SYSTEM_ENTRY);
    expect(diversions()).toBe('');
  });

  it('a data directory or file that someone besides root can change is not read: one line, nothing diverted or written', async () => {
    for (const [what, change, named] of [
      ['group-writable', () => chmodSync(join(sysLocal, 'applications'), 0o775), '/usr/local/share/applications'],
      [
        'owned by nobody',
        () => execFileSync('chown', ['nobody', join(sysLocal, 'applications/tl-fetch.desktop')]),
        SYSTEM_TARGET,
      ],
    ] as const) {
      freshSystem();
      change();
      const r = await systemWide(['--install', 'curl']);
      expect(r.exitCode, what).toBe(65);
      expect(r.stderr, what).toMatch(
        new RegExp(
          `^tails-launch: cannot read ${named}: is (writable by its group|owned by uid \\d+, not by root)[^\\n]*$`,
        ),
      );
      expect(tree(sysLocal), what).toEqual(['applications/tl-fetch.desktop']);
      expect(diversions(), what).toBe('');
    }
  });
});

describe.skipIf(!AS_ROOT)('system-wide, as root: no link is followed on the way to what is written', () => {
  it('a symbolic link where a directory should be is not followed on the way to what is written (a directory swapped for a link to /etc/systemd/system): one line, nothing diverted or written there', async () => {
    freshSystem();
    // Where the link leads (as /etc/systemd/system would): a service there that runs curl.
    const elsewhere = join(sysRoot, 'etc-systemd-system');
    mkdirSync(elsewhere, { mode: 0o755 });
    writeFileSync(join(elsewhere, 'tl-fetch.service'), SYSTEM_SERVICE);
    rmSync(join(sysLocal, 'dbus-1/services'), { recursive: true });
    symlinkSync(elsewhere, join(sysLocal, 'dbus-1/services'));
    const r = await systemWide(['--install', 'curl']);
    expect(r.exitCode).toBe(65);
    expect(r.stderr.split('\n')).toEqual([
      'tails-launch: curl: cannot write tl-fetch.service: /usr/local/share/dbus-1/services is a symbolic link: system-wide, tails-launch follows none on the way to what it changes',
      'tails-launch: nothing was installed: 1 file or profile above cannot go through the launcher',
    ]);
    expect(readdirSync(elsewhere)).toEqual(['tl-fetch.service']);
    expect(readFileSync(join(elsewhere, 'tl-fetch.service'), 'utf8')).toBe(SYSTEM_SERVICE);
    expect(lstatSync(join(sysLocal, 'dbus-1/services')).isSymbolicLink()).toBe(true);
    expect(readdirSync(join(sysLocal, 'applications'))).toEqual(['tl-fetch.desktop']);
    expect(diversions()).toBe('');
  });

  it('a racing swap of the directory and a link to elsewhere, while installs run, never puts anything there; each run is one line at most, or done', async () => {
    freshSystem();
    const elsewhere = join(sysRoot, 'etc-systemd-system');
    mkdirSync(elsewhere, { mode: 0o755 });
    writeFileSync(join(elsewhere, 'unit.service'), '[Unit]\n');
    const apps = join(sysLocal, 'applications');
    symlinkSync(elsewhere, `${apps}.link`);
    // Root's own swapping (only root can change these directories at all): the real directory and the link
    // trade places over and over, each swap atomic (renameat2 RENAME_EXCHANGE), so the name is always one or the other.
    const exchange = [
      'import ctypes, os, sys',
      'libc = ctypes.CDLL(None, use_errno=True)',
      'a, b = sys.argv[1].encode(), sys.argv[2].encode()',
      'while libc.renameat2(-100, a, -100, b, 2) == 0: pass',
      'sys.exit(os.strerror(ctypes.get_errno()))',
    ].join('\n');
    const swapper = execa('python3', ['-c', exchange, apps, `${apps}.link`], { reject: false, stdio: 'ignore' });
    const outcomes = new Set<string>();
    try {
      for (let i = 0; i < 15; i++) {
        const r = await systemWide(['--install', 'curl']);
        outcomes.add(String(r.exitCode));
        expect([0, 1, 65], r.stderr).toContain(r.exitCode);
        expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
        expect(readdirSync(elsewhere)).toEqual(['unit.service']);
      }
      expect(swapper.exitCode, 'the swapper stopped').toBeNull();
    } finally {
      swapper.kill('SIGKILL');
      await swapper;
    }
    expect(readdirSync(elsewhere)).toEqual(['unit.service']);
    console.log(`racing swap: exit statuses ${[...outcomes].sort().join(', ')}`);
  }, 60_000);
});
