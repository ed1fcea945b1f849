// Proof on clean images: the .deb on Debian bookworm (nodejs 18.20) and
// trixie (Tails 7's base, nodejs 20), each made here with `debootstrap
// --variant=minbase` and nothing else, as an image builder would use it:
//
//   1. `apt-get install ./tails-launch.deb` pulls Debian's own nodejs and
//      torsocks; the installed launcher answers --version, list, validate,
//      explain;
//   2. a real application of a shipped profile, Totem (Debian's package,
//      D-Bus activatable, with a session .service as Tails wraps it), is
//      installed and started the way a desktop does: `gio launch` of its
//      desktop entry (GLib's own launcher: field codes, Exec) and
//      `gapplication launch` (D-Bus activation of its bus name through
//      its .service). Before `desktop --install` it connects DIRECTLY (the
//      control: our listener at its URL's address sees the connection, the
//      SOCKS server nothing); after `tails-launch desktop --install --all`
//      both ways start it under tails-launch: torsocks' variables in its
//      /proc/PID/environ as `explain --json totem` states them, and its
//      connection arrives at our SOCKS server on Tor's 9050 with the
//      credentials explain states (torsocks-<its pid>:<time> / 0);
//   3. the caller against the privileged entry (issue 16): SIGUSR1, SIGUSR2
//      and SIGHUP sent to sudo, which relays them, from every millisecond of
//      a launch of a service account's profile, never open an inspector nor
//      run anything but the launch; a Node-as-root control does
//      (test/support/signal-attack-tests.ts);
//   4. `apt-get purge tails-launch` leaves nothing: every file it listed
//      gone, no diversion, Totem's entry and service back byte for byte
//      (`dpkg --verify totem` clean), sudoers drop-in and group gone.
//
// Nothing in an image reaches the network but apt-get (Debian's mirror):
// the launcher, Totem, the X server and the session bus run in a network
// namespace of the image's own, where our SOCKS5 server plays Tor on
// 127.0.0.1:9050 and a listener at 192.0.2.7 plays the Internet
// (test/support/clean-image.ts). Both images are built at the same time;
// every phase's duration is printed (docs/benchmarks.md, "Clean image").
//
// Needs root, debootstrap, unshare/nsenter, and Debian's mirror.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bundleSocksServer,
  CleanImage,
  INTERNET,
  startDirectListener,
  startSocksInImage,
  timed,
  type DirectListener,
  type SocksInImage,
  type Suite,
  type Timings,
} from '../support/clean-image';
import { buildPackage, PACKAGE, VERSION, which, type BuiltPackage } from '../support/debian-package';
import { signalAttackTests } from '../support/signal-attack-tests';

const IS_ROOT = process.getuid?.() === 0;
const TOOLS = ['debootstrap', 'unshare', 'nsenter', 'chroot'].filter((t) => !which(t));
const SKIP = !IS_ROOT || TOOLS.length > 0;
if (SKIP)
  console.warn(
    `clean-image.test.ts: SKIPPED: ${!IS_ROOT ? 'needs root (debootstrap, chroot, namespaces)' : `missing ${TOOLS.join(', ')} (scripts/setup.sh installs them)`}`,
  );

/** Not /tmp (possibly a small tmpfs): two images of about 600 MB each. */
const BASE = `/var/tmp/tails-launch-clean-image-${process.pid}`;

/** Debian's nodejs each suite must bring (bookworm's 18.20 is in bookworm-security). */
const NODE: Record<Suite, { version: RegExp; label: string }> = {
  bookworm: { version: /^18\.20\./, label: '18.20' },
  trixie: { version: /^20\./, label: '20' },
};

// The application: Totem, the shipped `totem` profile's. With it: an X
// server (Xvfb), a session bus (dbus), gio and gapplication (libglib2.0-bin),
// desktop-file-validate (desktop-file-utils).
const APP_PACKAGES = ['totem', 'xvfb', 'dbus', 'libglib2.0-bin', 'desktop-file-utils'];
const TOTEM = '/usr/bin/totem';
const APP_ID = 'org.gnome.Totem';
const ENTRY = `/usr/share/applications/${APP_ID}.desktop`;
const SERVICE = `/usr/share/dbus-1/services/${APP_ID}.service`;
const DIVERTED = '.tails-launch-orig';

/** The session the user's applications see: X display, session bus. */
const DISPLAY = ':7';
const BUS_SOCKET = '/tmp/session-bus';
const SESSION = { DISPLAY, DBUS_SESSION_BUS_ADDRESS: `unix:path=${BUS_SOCKET}` };

/** One port per launch, so each launch's connection is told apart (all at 192.0.2.7). */
const PORT = { originalEntry: 8081, originalService: 8082, entry: 8083, service: 8084 };
const url = (port: number) => `http://${INTERNET}:${port}/video.ogv`;

interface Prepared {
  image: CleanImage;
  /** nodejs and torsocks were not in the image before `apt-get install tails-launch`. */
  before: { nodejs: boolean; torsocks: boolean };
  /** `dpkg -L tails-launch` right after the install. */
  listed: string[];
  /** sha256 of Totem's entry and service as its package installed them. */
  originals: Record<string, string>;
  /** `apt-cache policy nodejs` after the install. */
  nodePolicy: string;
}

const images: CleanImage[] = [];
const prepared = new Map<Suite, Promise<Prepared>>();
let work = '';
let socksMain = '';
let started = 0;
let builtPackage: Promise<BuiltPackage> | undefined;

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const installed = async (image: CleanImage, pkg: string) =>
  (await image.run(['dpkg-query', '-W', '-f=${Status}', pkg], { net: false })).stdout.startsWith(
    'install ok installed',
  );

/** Everything an image builder does before the hook: the base system, the package, the applications. */
async function prepare(suite: Suite, built: Promise<BuiltPackage>): Promise<Prepared> {
  const image = await CleanImage.create(suite, join(BASE, suite));
  images.push(image);
  await timed(image.timings, 'apt-get update', () => image.apt(['update']));
  const before = { nodejs: await installed(image, 'nodejs'), torsocks: await installed(image, 'torsocks') };
  const { deb } = await timed(image.timings, 'waiting for the .deb', () => built);
  const inImage = `/var/cache/tails-launch-test/${basename(deb)}`;
  image.copyIn(deb, inImage);
  const aptOutput = await timed(image.timings, 'apt-get install tails-launch.deb', () =>
    image.apt(['install', inImage]),
  );
  // Anything apt or the maintainer scripts warned about, for the log (a clean install says nothing).
  const warnings = aptOutput.split('\n').filter((l) => /^(W|E|N):|warning|error/i.test(l));
  if (warnings.length > 0)
    console.log(`clean image ${suite}: apt-get install tails-launch said:\n${warnings.join('\n')}`);
  await timed(image.timings, `apt-get install ${APP_PACKAGES.join(' ')}`, () =>
    image.apt(['install', ...APP_PACKAGES]),
  );
  await image.must(['useradd', '--create-home', '--uid', '1000', '--user-group', 'amnesia'], { net: false });
  const listed = (await image.must(['dpkg', '-L', PACKAGE], { net: false })).split('\n').filter((l) => l !== '');
  const originals = { [ENTRY]: sha256(image.path(ENTRY)), [SERVICE]: sha256(image.path(SERVICE)) };
  const nodePolicy = await image.must(['apt-cache', 'policy', 'nodejs'], { net: false });
  console.log(
    `clean image ${suite}: ${Object.entries(image.timings)
      .map(([phase, s]) => `${phase} ${s.toFixed(1)} s`)
      .join(', ')}`,
  );
  return { image, before, listed, originals, nodePolicy };
}

beforeAll(async () => {
  if (SKIP) return;
  started = Date.now();
  rmSync(BASE, { recursive: true, force: true });
  mkdirSync(BASE, { recursive: true });
  work = join(BASE, 'work');
  mkdirSync(work);
  socksMain = await bundleSocksServer(work);
  // The .deb builds while both images are debootstrapped; each image waits for it only to install it.
  const buildTimings: Timings = {};
  const built = timed(buildTimings, 'build', () => buildPackage());
  builtPackage = built;
  built.catch(() => {}); // reported by each suite
  for (const suite of ['bookworm', 'trixie'] as const) {
    const p = prepare(suite, built);
    p.catch(() => {}); // reported by the suite's own beforeAll
    prepared.set(suite, p);
  }
  built.then(
    (b) => console.log(`clean image: dpkg-buildpackage ${buildTimings.build!.toFixed(1)} s (${basename(b.deb)})`),
    () => {},
  );
});

afterAll(async () => {
  if (SKIP) return;
  // Whatever is still starting finishes first: then nothing is left running in an image.
  await Promise.allSettled(prepared.values());
  const built = await builtPackage?.catch(() => undefined);
  if (built) rmSync(built.work, { recursive: true, force: true });
  const failures: string[] = [];
  for (const image of images) {
    try {
      await image.destroy();
    } catch (e) {
      failures.push(String(e));
    }
  }
  if (failures.length === 0) rmSync(BASE, { recursive: true, force: true });
  console.log(`clean image: the whole file took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  if (failures.length > 0) throw new Error(failures.join('\n'));
}, 120_000);

for (const suite of ['bookworm', 'trixie'] as const) {
  describe.skipIf(SKIP)(`a clean Debian ${suite} image (debootstrap --variant=minbase)`, () => {
    let p: Prepared;
    let image: CleanImage;
    let socks: SocksInImage;
    let direct: DirectListener;
    let plan: {
      torSees: { address: string; port: number; credentials: { kind: string } };
      backend: string;
      env: { set: Record<string, string> };
    };

    /** The launcher, as root unless USER, in the image's network. */
    const tl = (args: string[], user = false) => image.run(['tails-launch', ...args], { user });

    /** A session bus of the user's for BODY (then it and every Totem are gone): as a fresh desktop login. */
    async function withSession<T>(body: () => Promise<T>): Promise<T> {
      rmSync(image.path(BUS_SOCKET), { force: true });
      const bus = image.start(
        ['dbus-daemon', '--session', '--nofork', `--address=${SESSION.DBUS_SESSION_BUS_ADDRESS}`, '--print-address=1'],
        { user: true, env: { DISPLAY } },
        true,
      );
      try {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('the session bus did not start')), 15_000);
          bus.stdout!.once('data', () => {
            clearTimeout(timer);
            resolve();
          });
          bus.once('exit', (code) => reject(new Error(`dbus-daemon exited ${code}`)));
        });
        return await body();
      } finally {
        await image.kill(TOTEM);
        bus.kill('SIGTERM');
      }
    }

    /** Starts Totem on URL as the user's desktop would: `gio launch ENTRY URL`, or D-Bus activation of its bus name. */
    async function launch(how: 'entry' | 'service', target: string): Promise<number> {
      const argv = how === 'entry' ? ['gio', 'launch', ENTRY, target] : ['gapplication', 'launch', APP_ID, target];
      // Its output to a file: the application it starts inherits it, and would hold a pipe of ours open.
      const logged = ['sh', '-c', 'exec "$@" >>/tmp/launches.log 2>&1', 'sh', ...argv];
      const r = await image.run(logged, { user: true, env: SESSION, timeout: 40_000 });
      expect(r.exitCode, `${argv.join(' ')}:\n${r.stdout}\n${r.stderr}`).toBe(0);
      return image.waitForProcess(TOTEM).catch((e: unknown) => {
        const log = existsSync(image.path('/tmp/launches.log'))
          ? readFileSync(image.path('/tmp/launches.log'), 'utf8')
          : '';
        throw new Error(`${String(e)}\n/tmp/launches.log:\n${log.split('\n').slice(-30).join('\n')}`);
      });
    }

    beforeAll(async () => {
      p = await prepared.get(suite)!;
      image = p.image;
      socks = await startSocksInImage(image, socksMain, [9050]);
      direct = await startDirectListener(image, Object.values(PORT));
      // The X server: as root, in the image's network (its sockets are the namespace's).
      image.start(['Xvfb', DISPLAY, '-nolisten', 'tcp']);
      const deadline = Date.now() + 15_000;
      while (!existsSync(image.path(`/tmp/.X11-unix/X${DISPLAY.slice(1)}`))) {
        if (Date.now() > deadline) throw new Error('Xvfb did not start');
        await new Promise((r) => setTimeout(r, 100));
      }
    }, 900_000);

    afterAll(() => {
      socks?.stop();
      direct?.stop();
    });

    it(`apt-get install of the .deb pulls Debian's own nodejs (${NODE[suite].label}) and torsocks`, async () => {
      expect(p.before, 'the minbase image had them already: the test proves nothing').toEqual({
        nodejs: false,
        torsocks: false,
      });
      for (const pkg of ['nodejs', 'torsocks', PACKAGE]) expect(await installed(image, pkg), pkg).toBe(true);
      const version = (await image.must(['dpkg-query', '-W', '-f=${Version}', 'nodejs'], { net: false })).trim();
      console.log(`clean image ${suite}: nodejs ${version}\n${p.nodePolicy}`);
      expect(version).toMatch(NODE[suite].version);
      const node = (await image.must(['/usr/bin/node', '--version'])).trim();
      expect(node.slice(1)).toMatch(NODE[suite].version);
      // The front runs Debian's node by its absolute path.
      expect(readFileSync(image.path('/usr/bin/tails-launch'), 'utf8')).toMatch(/^NODE=\/usr\/bin\/node$/m);
    });

    it('the installed launcher: --version, list, validate, explain pidgin, explain --json totem', async () => {
      const version = await tl(['--version']);
      expect(version.exitCode, version.stderr).toBe(0);
      expect(version.stdout).toContain(VERSION);
      const list = await tl(['list'], true);
      expect(list.exitCode, list.stderr).toBe(0);
      expect(list.stdout).toMatch(/^totem\b/m);
      expect(list.stdout).toMatch(/^pidgin\b/m);
      const validate = await tl(['validate'], true);
      expect(validate.exitCode, `${validate.stdout}\n${validate.stderr}`).toBe(0);
      const pidgin = await tl(['explain', 'pidgin'], true);
      expect(pidgin.exitCode, pidgin.stderr).toBe(0);
      expect(pidgin.stdout).toContain('/usr/share/tails-launch/profiles/pidgin.yml');
      const json = await tl(['explain', '--json', 'totem'], true);
      expect(json.exitCode, json.stderr).toBe(0);
      plan = JSON.parse(json.stdout) as typeof plan;
      expect(plan.backend).toBe('torsocks');
      expect(plan.torSees).toMatchObject({ address: '127.0.0.1', port: 9050, credentials: { kind: 'per-process' } });
      expect(plan.env.set.LD_PRELOAD).toMatch(/\/libtorsocks\.so$/);
      expect(existsSync(image.path(plan.env.set.LD_PRELOAD!)), `${plan.env.set.LD_PRELOAD} in the image`).toBe(true);
    });

    it("control: Totem's own entry and service start it directly, outside the launcher", async () => {
      for (const how of ['entry', 'service'] as const) {
        const port = how === 'entry' ? PORT.originalEntry : PORT.originalService;
        await withSession(async () => {
          const pid = await launch(how, url(port));
          const env = CleanImage.environ(pid);
          expect(env.LD_PRELOAD, `${how}: Totem ${pid} has no preload`).toBeUndefined();
          expect(Object.keys(env).filter((k) => k.startsWith('TORSOCKS_'))).toEqual([]);
          // It connects straight to the address (our listener sees it), and "Tor" sees nothing.
          expect(await direct.waitFor((c) => c.port === port)).not.toEqual([]);
          expect(socks.records.filter((r) => r.port === port)).toEqual([]);
        });
      }
    }, 120_000);

    it('desktop --install --all rewrites the entry and the service in place (dpkg-divert), valid for desktop-file-validate', async () => {
      const install = await tl(['desktop', '--install', '--all']);
      console.log(`clean image ${suite}: desktop --install --all:\n${install.stdout}${install.stderr}`);
      expect(install.exitCode, install.stderr).toBe(0);
      expect(install.stdout).toMatch(new RegExp(`^totem: installed .*${ENTRY.replace(/\./g, '\\.')}$`, 'm'));
      expect(install.stdout).toMatch(new RegExp(`^totem: installed .*${SERVICE.replace(/\./g, '\\.')}$`, 'm'));
      const diversions = await image.must(['dpkg-divert', '--list'], { net: false });
      for (const file of [ENTRY, SERVICE]) {
        expect(diversions).toContain(`diversion of ${file} to ${file}${DIVERTED} by ${PACKAGE}`);
        // The application's own file, kept aside unchanged.
        expect(sha256(image.path(file + DIVERTED))).toBe(p.originals[file]);
      }
      const entry = readFileSync(image.path(ENTRY), 'utf8');
      expect(entry).toMatch(/^Exec=\/usr\/bin\/tails-launch totem -- %U$/m);
      expect(entry).toMatch(/^DBusActivatable=false$/m);
      expect(readFileSync(image.path(SERVICE), 'utf8')).toMatch(
        /^Exec=\/usr\/bin\/tails-launch totem -- --gapplication-service$/m,
      );
      const validate = await image.run(['desktop-file-validate', ENTRY]);
      expect(validate.exitCode, `${validate.stdout}\n${validate.stderr}`).toBe(0);
      if (validate.stdout.trim() !== '')
        console.log(`clean image ${suite}: desktop-file-validate:\n${validate.stdout}`);
      // Run again (as an image build's hook would on a rebuild): nothing changes.
      const again = await tl(['desktop', '--install', '--all']);
      expect(again.exitCode, again.stderr).toBe(0);
      expect(again.stdout).not.toMatch(/: installed /);
    });

    for (const how of ['entry', 'service'] as const) {
      it(`${how === 'entry' ? 'gio launch of the rewritten entry' : 'D-Bus activation through the rewritten service'} starts Totem under tails-launch: its connection reaches "Tor" with explain's credentials`, async () => {
        expect(plan, 'explain --json totem ran').toBeDefined();
        const port = how === 'entry' ? PORT.entry : PORT.service;
        await withSession(async () => {
          const pid = await launch(how, url(port));
          // The launcher's variables, exactly as explain states them (it exec'd Totem in its own process).
          const env = CleanImage.environ(pid);
          for (const [key, value] of Object.entries(plan.env.set)) expect(env[key], key).toBe(value);
          const seen = await socks.waitFor((r) => r.port === port);
          expect(seen.length, JSON.stringify(socks.records)).toBeGreaterThan(0);
          for (const r of seen) {
            expect(r).toMatchObject({ command: 'connect', host: INTERNET, port, serverPort: plan.torSees.port });
            // torsocks' per-process credentials, made in Totem's own process.
            expect(r.auth).toBe('userpass');
            expect(r.username).toMatch(new RegExp(`^torsocks-${pid}:\\d+$`));
            expect(r.password).toBe('0');
          }
          expect(
            direct.connections.filter((c) => c.port === port),
            'a direct connection',
          ).toEqual([]);
        });
      }, 120_000);
    }

    // The caller against the privileged entry, through sudo's signal relay
    // (issue 16): every file it adds is gone again before the purge below.
    signalAttackTests(suite, () => ({ image, work }));

    it("apt-get purge leaves nothing of tails-launch; Totem's own files are back", async () => {
      await image.apt(['purge', PACKAGE], 300_000);
      const status = await image.run(['dpkg-query', '-W', '-f=${Status}', PACKAGE], { net: false });
      expect(status.stdout.includes('installed') && !status.stdout.includes('not-installed')).toBe(false);
      // Every path the package listed is gone, but directories other packages own.
      const left = p.listed.filter((path) => path !== '/.' && existsSync(image.path(path)));
      const owners = left.length ? (await image.run(['dpkg-query', '-S', ...left], { net: false })).stdout : '';
      for (const path of left)
        expect(owners, `${path} is left and no other package owns it`).toMatch(
          new RegExp(`: ${path.replace(/[.+]/g, '\\$&')}$`, 'm'),
        );
      const diversions = await image.must(['dpkg-divert', '--list'], { net: false });
      expect(diversions).not.toContain(`by ${PACKAGE}`);
      for (const file of [ENTRY, SERVICE]) {
        expect(sha256(image.path(file)), file).toBe(p.originals[file]);
        expect(existsSync(image.path(file + DIVERTED)), file + DIVERTED).toBe(false);
      }
      const verify = await image.run(['dpkg', '--verify', 'totem'], { net: false });
      expect(verify.exitCode).toBe(0);
      expect(verify.stdout).toBe('');
      for (const path of [
        '/etc/sudoers.d/tails-launch',
        '/var/lib/tails-launch',
        '/etc/tails-launch',
        '/usr/lib/tails-launch',
        '/usr/share/tails-launch',
      ])
        expect(existsSync(image.path(path)), path).toBe(false);
      const group = await image.run(['getent', 'group', PACKAGE], { net: false });
      console.log(
        `clean image ${suite}: group ${PACKAGE} after purge: ${group.exitCode === 0 ? group.stdout.trim() : 'none'}`,
      );
      expect(group.exitCode, 'the purge deletes the group (README)').toBe(2);
    }, 300_000);
  });
}
