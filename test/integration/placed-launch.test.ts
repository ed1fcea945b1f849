// Placement end to end, as a Tails system runs it: the real .deb installed
// with dpkg (its privileged entry /usr/lib/tails-launch/place, the sudoers
// drop-in `tails-launch grants --write` generates from the profiles, its
// group), real sudo, real users, real network namespaces.
//
// Everything happens in a private world (test/support/placement-world.ts):
// its own network namespace plays the host (only lo, the browser's veth, a
// dummy interface with a trap address), its own users stand in for amnesia
// and the service users, its admin layer (/etc/tails-launch) points the
// shipped profiles at a stand-in (test/fixtures/standins/placed.py) that
// reports who and where it runs and what it can reach. `tails-launch netns
// setup tbb` builds Tor Browser's namespace in it; the tests' SOCKS server,
// then a real tor (not bootstrapped, DisableNetwork), listen at the browser
// listener's 10.200.1.1:9050 on the host side and on 127.0.0.1:9062/9063.
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appGroup, appGroupKey, parsePool } from '../../src/jail/address';
import { buildPackage, installPackage, type Uninstall } from '../support/debian-package';
import { EXIT } from '../support/expected';
import { ROOT } from '../support/launcher';
import { PlacementWorld, type WorldRun } from '../support/placement-world';
import type { SocksRequestRecord } from '../support/socks5-server';

const IS_ROOT = process.getuid?.() === 0;
const LAUNCHER = '/usr/bin/tails-launch';
const PLACE = '/usr/lib/tails-launch/place';
const TARGET = 'example.test:80';
/** Where a placed program must never get: the host's own address (another port), a trap address, and 127.0.0.1 of its own namespace. */
const DIRECT = ['10.200.1.1:8080', '10.99.0.1:80', '127.0.0.1:8080'];

interface Report {
  argv: string[];
  uid: number;
  euid: number;
  suid: number;
  gid: number;
  groups: number[];
  capEff: string;
  capPrm: string;
  user: string;
  netns: string;
  env: Record<string, string>;
  proxy: string | null;
  socks: string | null;
  direct: Record<string, string>;
}

let built: { deb: string; work: string } | undefined;
let uninstall: Uninstall | undefined;
let world: PlacementWorld | undefined;
let work = '';
let program = '';
const daemons: WorldRun[] = [];
const records: (SocksRequestRecord & { at: number })[] = [];
let trapCount = 0;

/** Starts a long-running program in the world; resolves with its first stdout line, then calls onLine for the rest. */
async function daemon(argv: string[], onLine: (line: string) => void = () => {}): Promise<{ child: WorldRun }> {
  const child = world!.root(argv, { timeout: 0, stdin: 'pipe' });
  daemons.push(child);
  const lines = createInterface({ input: child.stdout! });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${argv.join(' ')} did not start`)), 20_000);
    void child.then((r) => reject(new Error(`${argv.join(' ')} exited ${r.exitCode}: ${r.stderr}`)));
    lines.once('line', () => {
      clearTimeout(timer);
      lines.on('line', onLine);
      resolve();
    });
  });
  // Wrapped: awaiting the child itself would wait for its end.
  return { child };
}

async function stopDaemon(child: WorldRun): Promise<void> {
  child.stdin?.end();
  if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGTERM');
  await child;
}

/** The SOCKS records since BEFORE, once there are COUNT (the server reports them every 20 ms). */
async function recordsSince(before: number, count: number): Promise<SocksRequestRecord[]> {
  const deadline = Date.now() + 5_000;
  while (records.length < before + count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  return records.slice(before);
}

function reportOf(stdout: unknown): Report {
  return JSON.parse(String(stdout)) as Report;
}

/** A refusal: its status, one line on stderr, nothing on stdout (the stand-in never ran), nothing sent to any listener. */
async function expectRefused(run: WorldRun, status: number, message: RegExp): Promise<void> {
  const before = records.length;
  const r = await run;
  expect({ status: r.exitCode, stdout: r.stdout }, String(r.stderr)).toEqual({ status, stdout: '' });
  expect(String(r.stderr)).toMatch(/^tails-launch: [^\n]+$/);
  expect(String(r.stderr)).toMatch(message);
  expect(records.length).toBe(before);
}

/** The inode of network namespace NAME of the world (as /proc/PID/ns/net shows it). */
async function netnsInode(name: string | null): Promise<string> {
  const r = name
    ? await world!.root(['stat', '-L', '-c', '%i', `/run/netns/${name}`])
    : await world!.root(['stat', '-L', '-c', '%i', '/proc/self/ns/net']);
  expect(r.exitCode, String(r.stderr)).toBe(0);
  return `net:[${String(r.stdout).trim()}]`;
}

const AMNESIA_ENV = {
  DISPLAY: ':7',
  LANG: 'C.UTF-8',
  LC_TIME: 'C',
  XDG_RUNTIME_DIR: '/run/user/4242',
  TOR_BROWSER_SKIP_OFFLINE_WARNING: '1',
  // None of these may reach a placed application.
  http_proxy: 'http://10.99.0.1:80',
  ALL_PROXY: 'socks5h://10.99.0.1:80',
  // Harmless to the caller's own launcher (its process, its choice), but they must not reach the entry or the application.
  LD_PRELOAD: 'libm.so.6',
  NODE_OPTIONS: '--max-old-space-size=200',
  GTK_MODULES: '/nonexistent/evil',
  XDG_CONFIG_HOME: '/nonexistent',
  FOO: 'bar',
};

/**
 * sh -c BUS_ATTACK sh CANARY BUS: plants a D-Bus service whose program is
 * CANARY in $HOME, then asks the bus (from the environment, then BUS named
 * explicitly) to start it. One line per step; whether it started, the canary tells.
 */
const BUS_ATTACK = `
canary=$1 bus=$2
svc=$HOME/.local/share/dbus-1/services
mkdir -p "$svc" && printf '[D-BUS Service]\\nName=org.example.Planted\\nExec=%s\\n' "$canary" > "$svc/org.example.Planted.service" && echo planted
echo "env \${DBUS_SESSION_BUS_ADDRESS:-unset}"
for b in --session "--bus=$bus"; do
  if dbus-send "$b" --print-reply --reply-timeout=3000 --dest=org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.GetId >/dev/null 2>&1; then echo "$b reachable"; else echo "$b unreachable"; fi
  # Whether the bus started it is told by what the canary does, not by the reply.
  dbus-send "$b" --print-reply --reply-timeout=3000 --dest=org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.StartServiceByName string:org.example.Planted uint32:0 >/dev/null 2>&1
done
exit 0
`;

/** For the tests that run sudo themselves: the caller's own variables, none that sudo (setuid) would complain of. */
const SUDO_ENV = { DISPLAY: ':7', LANG: 'C.UTF-8' };

describe.skipIf(!IS_ROOT)('placement through sudo and the privileged entry (the installed package)', () => {
  beforeAll(async () => {
    built = await buildPackage();
    uninstall = await installPackage(built.deb);
    // After dpkg -i: the world's copies then hold the package's group and drop-in.
    world = await PlacementWorld.create();
    // amnesia is in the group as on Tails: it grants her jails (jails: callers below), nothing else.
    world.addUser('amnesia', { groups: ['tails-launch'] });
    world.addUser('tl-bob');
    world.addUser('tl-carol', { groups: ['tails-launch'] });
    world.addUser('tl-mallory');
    world.addUser('tails-upgrade-frontend', { system: true, groups: ['tails-launch'] });
    world.addUser('tails-iuk-get-target-file', { system: true });
    world.addUser('htp', { system: true });
    // Mallory has a sudoers rule of her own for the entry (any arguments), but no grant.
    await world.addSudoers('tl-mallory', `tl-mallory ALL = (root) NOPASSWD: ${PLACE}\n`);

    program = join(world.programs, 'placed.py');
    copyFileSync(join(ROOT, 'test/fixtures/standins/placed.py'), program);
    chmodSync(program, 0o755);
    // The administrator's layer: the shipped profiles, their commands replaced by the stand-in.
    const admin = (name: string, text: string) =>
      writeFileSync(join(world!.adminLayer, 'profiles', `${name}.yml`), text);
    admin(
      'tor-browser',
      // The stand-in plays what Flatpak runs: Tails' /usr/bin/tor-browser, which tells firefox.real its
      // SocksPort (127.0.0.1:9050 in tbb), and the browser's own SOCKS session.
      `extends: tor-browser\ncommand: ${program}\nargs: []\nproxy:\n  env: { TOR_SOCKS_HOST: "{socks.address}", TOR_SOCKS_PORT: "{socks.port}" }\nenv:\n  set:\n    STANDIN_TARGET: "${TARGET}"\n    STANDIN_DIRECT: "${DIRECT.join(' ')}"\n    STANDIN_SOCKS_USER: "example.test:0"\n    STANDIN_SOCKS_TIMEOUT: "3"\n`,
    );
    admin(
      'tails-iuk-get-target-file',
      `extends: tails-iuk-get-target-file\ncommand: ${program}\nenv:\n  set:\n    STANDIN_TARGET: "${TARGET}"\n    STANDIN_OWN_SETTINGS: "socks5 127.0.0.1 9063"\n`,
    );
    admin(
      'tails-upgrade-frontend',
      `extends: tails-upgrade-frontend\ncommand: ${program}\nenv:\n  set:\n    STANDIN_TARGET: "${TARGET}"\n    STANDIN_OWN_SETTINGS: "socks5 127.0.0.1 9062"\n`,
    );
    admin('htpdate', `extends: htpdate\ncommand: ${program}\n`);
    admin('tl-ghost', `extends: tails-iuk-get-target-file\nuser: tl-ghost\n`);
    // Jails: the administrator gives the default listener a jail port and a pool.
    writeFileSync(
      join(world.adminLayer, 'listeners.yml'),
      'listeners:\n  default: { address: 127.0.0.1, port: 9050, flags: [IsolateDestAddr, IsolateDestPort], jail_port: 9250 }\njails:\n  pool: 10.240.0.0/12\n  callers: ["%tails-launch"]\n' +
        // As Tails declares its ferm for its service accounts (htp: htpdate, which no jail can run, connects
        // as htp); amnesia's programs are not declared: they are jailed.
        'host_firewall: { description: "Tails\' ferm (the test\'s declaration)", users: [root, htp, tails-upgrade-frontend, tails-iuk-get-target-file] }\n',
    );
    admin(
      'tl-jailed',
      `listener: default\nisolation: application\nbackend: own-setting\ncommand: ${program}\nenv:\n  set:\n    STANDIN_TARGET: "jailed.test:80"\n    STANDIN_OWN_SETTINGS: "socks5 127.0.0.1 9050"\n    STANDIN_DIRECT: "10.99.0.1:80 127.0.0.1:8080"\n`,
    );
    admin(
      'tl-jailed-app',
      `listener: default\nisolation: app\nbackend: own-setting\ncommand: ${program}\nproxy:\n  env: { STANDIN_OWN_SETTINGS: "socks5 {socks.host} {socks.port} {socks.username} {socks.password}" }\nenv:\n  set:\n    STANDIN_TARGET: "app.test:80"\n    STANDIN_LINGER: "4"\n`,
    );
    // Tor Browser's placement (tbb, amnesia), its session held by the launcher's own sandbox (Tails 6's
    // tor-browser had it; Tails 7's is Flatpak's), running an attack on the session bus instead of a browser.
    admin(
      'tl-tbb-bus',
      `listener: browser\nbackend: own-setting\nisolation: application\nnetns: tbb\nuser: amnesia\ncallers: [amnesia]\n` +
        `sandbox:\n  display: wayland\n  files: [~/.tor-browser]\ncommand: /bin/sh\nargs:\n  - -c\n  - |\n${BUS_ATTACK.trim()
          .split('\n')
          .map((line) => `    ${line}`)
          .join('\n')}\n  - sh\n`,
    );
    // The grants, from the shipped profiles and this admin layer, as the administrator makes them.
    const grants = await world.root([LAUNCHER, 'grants', '--write']);
    expect(grants.exitCode, `${grants.stdout}\n${grants.stderr}`).toBe(0);
    const jails = await world.root([LAUNCHER, 'jail', 'setup']);
    expect(jails.exitCode, `${jails.stdout}\n${jails.stderr}`).toBe(0);

    // Tor Browser's namespace, made by the installed launcher as Tails' tails-create-netns would.
    const setup = await world.root([LAUNCHER, 'netns', 'setup', 'tbb']);
    expect(setup.exitCode, `${setup.stdout}\n${setup.stderr}`).toBe(0);
    // A trap address on the host side, and traps on it and on the host's veth address.
    for (const argv of [
      ['ip', 'link', 'add', 'tl0', 'type', 'dummy'],
      ['ip', 'addr', 'add', '10.99.0.1/32', 'dev', 'tl0'],
      ['ip', 'link', 'set', 'tl0', 'up'],
    ]) {
      const r = await world.root(argv);
      if (r.exitCode !== 0 && argv[5] === 'dummy') {
        expect((await world.root(['ip', 'link', 'add', 'tl0', 'type', 'bridge'])).exitCode).toBe(0);
      } else expect(r.exitCode, `${argv.join(' ')}: ${r.stderr}`).toBe(0);
    }
    work = mkdtempSync(join(tmpdir(), 'tails-launch-placed-'));
    chmodSync(work, 0o755);
    const socksMain = join(work, 'socks5-server.mjs');
    await build({
      entryPoints: [join(ROOT, 'test/support/socks5-server-main.ts')],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      outfile: socksMain,
      logLevel: 'error',
    });
    const trap = join(work, 'trap.mjs');
    writeFileSync(
      trap,
      "import net from 'node:net';\n" +
        "for (const [host, port] of [['10.200.1.1', 8080], ['10.99.0.1', 80], ['127.0.0.1', 8080]])\n" +
        "  net.createServer((s) => { console.log('connection'); s.destroy(); }).listen(port, host);\n" +
        "console.log('listening');\n" +
        "process.stdin.on('end', () => process.exit(0)); process.stdin.resume();\n",
    );
    // Tails' firewall (ferm.conf): only the IUK user may reach 9063, root included
    // in the refusal. So the IUK launch below passes its preflight only if the
    // preflight runs as that user, as the application will.
    const iuk = world.user('tails-iuk-get-target-file');
    const ferm = await world.root(['nft', '-f', '-'], {
      input: `table inet tl_ferm {\n  chain output {\n    type filter hook output priority 0;\n    ip daddr 127.0.0.1 tcp dport 9063 meta skuid != ${iuk.uid} reject with tcp reset\n  }\n}\n`,
    });
    expect(ferm.exitCode, String(ferm.stderr)).toBe(0);
    await daemon([process.execPath, trap], () => trapCount++);
    await daemon([process.execPath, socksMain, '10.200.1.1:9050', '9062', '9063', '9250'], (line) =>
      records.push({ ...(JSON.parse(line) as SocksRequestRecord), at: Date.now() }),
    );
  }, 180_000);

  afterAll(async () => {
    for (const child of daemons) await stopDaemon(child);
    await world?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
    await uninstall?.();
    if (built) rmSync(built.work, { recursive: true, force: true });
  }, 120_000);

  it('tor-browser, launched by amnesia through the shipped drop-in: as amnesia, in tbb, with exactly the allow-listed environment; its SOCKS session comes from the namespace side; nothing else is reachable', async () => {
    const amnesia = world!.user('amnesia');
    const explained = await world!.as(
      'amnesia',
      [LAUNCHER, 'explain', '--json', 'tor-browser', 'https://example.org/'],
      {
        env: AMNESIA_ENV,
      },
    );
    expect(explained.exitCode, String(explained.stderr)).toBe(0);
    const plan = JSON.parse(String(explained.stdout));
    expect(plan.handover.argv).toEqual([
      '/usr/bin/sudo',
      '-n',
      '--',
      PLACE,
      'tor-browser',
      '--',
      'https://example.org/',
    ]);

    const before = records.length;
    const trapBefore = trapCount;
    const r = await world!.as('amnesia', [LAUNCHER, 'tor-browser', 'https://example.org/'], { env: AMNESIA_ENV });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const report = reportOf(r.stdout);
    expect(report.argv).toEqual([program, 'https://example.org/']);
    expect([report.uid, report.euid, report.suid, report.gid]).toEqual([
      amnesia.uid,
      amnesia.uid,
      amnesia.uid,
      amnesia.gid,
    ]);
    expect(report.user).toBe('amnesia');
    // No privilege left: no capability, effective or permitted.
    expect([report.capEff, report.capPrm]).toEqual(['0000000000000000', '0000000000000000']);
    expect(report.netns).toBe(await netnsInode('tbb'));
    expect(report.netns).not.toBe(await netnsInode(null));
    // Exactly what explain said: its variables, and the allow-listed ones the profile keeps, nothing else.
    const kept = Object.fromEntries(
      Object.entries(AMNESIA_ENV).filter(([name]) =>
        ['DISPLAY', 'LANG', 'XDG_RUNTIME_DIR', 'WAYLAND_DISPLAY', 'DBUS_SESSION_BUS_ADDRESS'].includes(name),
      ),
    );
    // Its session is Flatpak's (own_sandbox): no bubblewrap of the launcher's, and explain says so.
    for (const name of plan.env.removed) delete kept[name];
    expect(plan.guard).toMatchObject({ kind: 'jail', by: 'netns', session: false });
    expect(plan.guard.description).toMatch(/the program's own sandbox \(flatpak\)/);
    expect(report.env).toEqual({ ...kept, ...plan.env.set });
    expect(report.env).toMatchObject({
      HOME: amnesia.home,
      USER: 'amnesia',
      TOR_SOCKS_HOST: '127.0.0.1',
      TOR_SOCKS_PORT: '9050',
    });
    // Its own SOCKS session, with its own credentials, arriving from inside tbb (10.200.1.2) at 10.200.1.1:9050.
    expect(report.socks).toMatch(/^reply: HTTP\/1\.[01] 200/);
    const mine = await recordsSince(before, 1);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({
      serverPort: 9050,
      clientAddress: '10.200.1.2',
      username: 'example.test:0',
      host: 'example.test',
    });
    // Nothing else: the host's address on another port, another address, the namespace's own loopback.
    for (const target of DIRECT) expect(report.direct[target], target).toMatch(/^(refused|error: .*)$/);
    expect(trapCount - trapBefore).toBe(0);
  }, 60_000);

  it('from tbb, its session held: the session bus cannot be asked to start a program outside (control: the same attack in tbb without the jail makes the bus start one that connects)', async () => {
    const amnesia = world!.user('amnesia');
    // amnesia's session: a runtime directory (a tmpfs in the world only) and a session bus, whose
    // activation runs programs in the host's namespace, as the desktop's does.
    const runtime = `/run/user/${amnesia.uid}`;
    for (const argv of [
      ['mount', '-t', 'tmpfs', '-o', 'mode=0755', 'tmpfs', '/run/user'],
      ['install', '-d', '-m', '0700', '-o', String(amnesia.uid), '-g', String(amnesia.gid), runtime],
    ]) {
      const r = await world!.root(argv);
      expect(r.exitCode, `${argv.join(' ')}: ${r.stderr}`).toBe(0);
    }
    const conf = join(work, 'bus.conf');
    writeFileSync(
      conf,
      '<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"\n' +
        ' "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">\n' +
        `<busconfig><type>session</type><listen>unix:path=${runtime}/bus</listen><auth>EXTERNAL</auth>` +
        '<standard_session_servicedirs/><policy context="default"><allow send_destination="*" eavesdrop="true"/>' +
        '<allow eavesdrop="true"/><allow own="*"/></policy></busconfig>\n',
      { mode: 0o644 },
    );
    // The canary, run by the bus if it is asked to: connects to the trap address outside.
    const canaryProgram = join(work, 'canary.py');
    writeFileSync(
      canaryProgram,
      "#!/usr/bin/python3\nimport socket\nsocket.create_connection(('10.99.0.1', 80), timeout=3).close()\n",
      { mode: 0o755 },
    );
    const session = { XDG_RUNTIME_DIR: runtime, DBUS_SESSION_BUS_ADDRESS: `unix:path=${runtime}/bus` };
    const asAmnesia = ['setpriv', '--reuid', String(amnesia.uid), '--regid', String(amnesia.gid), '--init-groups'];
    // The directory the bus reads services from (as a desktop session's has it), empty.
    const services = join(amnesia.home, '.local/share/dbus-1/services');
    const made = await world!.root([...asAmnesia, 'mkdir', '-p', services]);
    expect(made.exitCode, String(made.stderr)).toBe(0);
    const { child: bus } = await daemon([
      ...asAmnesia,
      'env',
      `HOME=${amnesia.home}`,
      `XDG_DATA_HOME=${amnesia.home}/.local/share`,
      `XDG_RUNTIME_DIR=${runtime}`,
      'dbus-daemon',
      '--nofork',
      '--print-address',
      `--config-file=${conf}`,
    ]);
    const planted = join(services, 'org.example.Planted.service');
    const settle = () => new Promise((r) => setTimeout(r, 1_500));
    try {
      const trapBefore = trapCount;
      const r = await world!.as('amnesia', [LAUNCHER, 'tl-tbb-bus', canaryProgram, `unix:path=${runtime}/bus`], {
        env: { ...AMNESIA_ENV, ...session },
      });
      expect(r.exitCode, String(r.stderr)).toBe(0);
      // It wrote its service file into its own home, a tmpfs; the bus is nowhere it can reach.
      expect(String(r.stdout).trim().split('\n')).toEqual([
        'planted',
        'env unset',
        '--session unreachable',
        `--bus=unix:path=${runtime}/bus unreachable`,
      ]);
      await settle();
      expect(trapCount - trapBefore).toBe(0);
      expect((await world!.root(['test', '-e', planted])).exitCode).not.toBe(0);

      // Control: the same program as amnesia in tbb, without the jail (what the namespace alone held).
      const control = await world!.root([
        'ip',
        'netns',
        'exec',
        'tbb',
        ...asAmnesia,
        'env',
        `HOME=${amnesia.home}`,
        ...Object.entries(session).map(([k, v]) => `${k}=${v}`),
        '/bin/sh',
        '-c',
        BUS_ATTACK,
        'sh',
        canaryProgram,
        `unix:path=${runtime}/bus`,
      ]);
      expect(String(control.stdout).trim().split('\n'), String(control.stderr)).toEqual([
        'planted',
        `env unix:path=${runtime}/bus`,
        '--session reachable',
        `--bus=unix:path=${runtime}/bus reachable`,
      ]);
      // The bus ran the planted program in the host's namespace, and it connected.
      await settle();
      expect(trapCount - trapBefore).toBeGreaterThanOrEqual(1);
    } finally {
      await stopDaemon(bus);
      daemons.splice(daemons.indexOf(bus), 1);
      await world!.root(['rm', '-rf', join(amnesia.home, '.local')]);
      await world!.root(['umount', '/run/user']);
    }
  }, 90_000);

  it('the IUK download, started by the upgrader frontend user, runs as its own user on 9063 without credentials, in the host namespace, with only the locale; its preflight runs as that user (the only one the firewall lets reach 9063)', async () => {
    // Control: nobody else gets through to 9063, root included.
    const probe = await world!.root([
      'python3',
      '-c',
      "import socket; socket.create_connection(('127.0.0.1', 9063), timeout=3)",
    ]);
    expect(probe.exitCode).not.toBe(0);
    const iuk = world!.user('tails-iuk-get-target-file');
    const before = records.length;
    const r = await world!.as(
      'tails-upgrade-frontend',
      [LAUNCHER, 'tails-iuk-get-target-file', '--uri', 'https://x/'],
      {
        env: { ...AMNESIA_ENV, LANG: 'de_DE.UTF-8' },
      },
    );
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const report = reportOf(r.stdout);
    expect([report.uid, report.euid, report.suid]).toEqual([iuk.uid, iuk.uid, iuk.uid]);
    expect(report.groups).toEqual([iuk.gid]);
    expect([report.capEff, report.capPrm]).toEqual(['0000000000000000', '0000000000000000']);
    expect(report.netns).toBe(await netnsInode(null));
    expect(report.argv).toEqual([program, '--uri', 'https://x/']);
    expect(Object.keys(report.env).sort()).toEqual(
      ['HOME', 'LANG', 'LOGNAME', 'PATH', 'SHELL', 'STANDIN_OWN_SETTINGS', 'STANDIN_TARGET', 'USER'].sort(),
    );
    expect(report.env.LANG).toBe('de_DE.UTF-8');
    expect(report.env.HOME).toBe(iuk.home);
    expect(report.socks).toMatch(/^reply: HTTP/);
    expect(await recordsSince(before, 1)).toMatchObject([{ serverPort: 9063, auth: 'none' }]);
  }, 60_000);

  it('the upgrader frontend, launched by amnesia, runs as its user on 9062; it takes no argument, or exactly --report-no-upgrade (Tails 7)', async () => {
    const frontend = world!.user('tails-upgrade-frontend');
    const before = records.length;
    const r = await world!.as('amnesia', [LAUNCHER, 'tails-upgrade-frontend'], { env: AMNESIA_ENV });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const report = reportOf(r.stdout);
    expect([report.uid, report.euid, report.suid]).toEqual([frontend.uid, frontend.uid, frontend.uid]);
    // The display and the locale only: never amnesia's runtime directory.
    expect(report.env).toMatchObject({ DISPLAY: ':7', LANG: 'C.UTF-8', USER: 'tails-upgrade-frontend' });
    expect(report.env.XDG_RUNTIME_DIR).toBeUndefined();
    expect(await recordsSince(before, 1)).toMatchObject([{ serverPort: 9062, auth: 'none' }]);
    const before2 = records.length;
    const report2 = await world!.as('amnesia', [LAUNCHER, 'tails-upgrade-frontend', '--report-no-upgrade'], {
      env: AMNESIA_ENV,
    });
    expect(report2.exitCode, String(report2.stderr)).toBe(0);
    expect(reportOf(report2.stdout).argv).toEqual([program, '--report-no-upgrade']);
    expect(await recordsSince(before2, 1)).toMatchObject([{ serverPort: 9062 }]);
    for (const args of [['x'], ['--report-no-upgrade', 'x'], ['--no-wait']])
      await expectRefused(
        world!.as('amnesia', [LAUNCHER, 'tails-upgrade-frontend', ...args], { env: AMNESIA_ENV }),
        EXIT.usage,
        /takes only these argument lists from the caller: \(none\); --report-no-upgrade/,
      );
    // The same through sudo itself: its rules name exactly the two argument lists.
    const direct = await world!.as(
      'amnesia',
      ['/usr/bin/sudo', '-n', '--', PLACE, 'tails-upgrade-frontend', '--', 'x'],
      {
        env: SUDO_ENV,
      },
    );
    expect([direct.exitCode, String(direct.stderr)]).toEqual([1, 'sudo: a password is required']);
  }, 60_000);

  it('htpdate, started by root as systemd does, keeps root as its real user and lowers only its effective user to htp; nobody else may start it', async () => {
    const htp = world!.user('htp');
    const r = await world!.root([LAUNCHER, 'htpdate']);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const report = reportOf(r.stdout);
    expect([report.uid, report.euid, report.suid]).toEqual([0, htp.uid, 0]);
    expect(report.argv).toEqual([
      program,
      '--proxy',
      '%3CtorS0X%3E0:tails-launch%2Fapp%2Fhtpdate@127.0.0.1:9062',
      '--user',
      'htp',
    ]);
    await expectRefused(
      world!.as('amnesia', [LAUNCHER, 'htpdate'], { env: AMNESIA_ENV }),
      EXIT.refused,
      /amnesia may not start profile 'htpdate': its callers are root/,
    );
  }, 60_000);

  it('refuses, in one line and with its own status, before anything starts: a caller the grant does not name (the group grants nothing), another person, options, --config-dir, a user-layer file, a missing user', async () => {
    // amnesia is in group tails-launch, as the Tor Browser user: that no longer lets her run the IUK downloader as its account.
    for (const user of ['amnesia', 'tl-bob'])
      await expectRefused(
        world!.as(user, [LAUNCHER, 'tails-iuk-get-target-file', '--uri', 'https://x/'], { env: AMNESIA_ENV }),
        EXIT.refused,
        new RegExp(`${user} may not start profile 'tails-iuk-get-target-file': its callers are tails-upgrade-frontend`),
      );
    // Nor through sudo itself: no rule names her for it.
    const direct = await world!.as(
      'amnesia',
      ['/usr/bin/sudo', '-n', '--', PLACE, 'tails-iuk-get-target-file', '--', '--uri', 'https://x/'],
      { env: SUDO_ENV },
    );
    expect([direct.exitCode, String(direct.stderr)]).toEqual([1, 'sudo: a password is required']);
    // The frontend's account: the downloader's own options only, each once with a value.
    for (const args of [['--evil', 'x'], ['--uri'], ['--uri', 'a', '--uri', 'b'], ['--uri', '--size']])
      await expectRefused(
        world!.as('tails-upgrade-frontend', [LAUNCHER, 'tails-iuk-get-target-file', ...args], { env: AMNESIA_ENV }),
        EXIT.usage,
        /takes only its program's own options from the caller/,
      );
    await expectRefused(
      world!.as(
        'tails-upgrade-frontend',
        ['/usr/bin/sudo', '-n', '--', PLACE, 'tails-iuk-get-target-file', '--', '--evil', 'x'],
        {
          env: SUDO_ENV,
        },
      ),
      EXIT.usage,
      /privileged entry: profile 'tails-iuk-get-target-file' takes only its program's own options/,
    );
    // Tor Browser is amnesia's: bob may not launch it.
    await expectRefused(
      world!.as('tl-bob', [LAUNCHER, 'tor-browser'], { env: AMNESIA_ENV }),
      EXIT.refused,
      /tl-bob may not start profile 'tor-browser': its callers are amnesia/,
    );
    // URLs only, never options (Tails #19595).
    await expectRefused(
      world!.as('amnesia', [LAUNCHER, 'tor-browser', '--profile=/tmp/evil'], { env: AMNESIA_ENV }),
      EXIT.usage,
      /no options from the caller/,
    );
    await expectRefused(
      world!.as('amnesia', [LAUNCHER, '--config-dir', '/usr/share/tails-launch', 'tor-browser'], { env: AMNESIA_ENV }),
      EXIT.refused,
      /--config-dir/,
    );
    await expectRefused(
      world!.as('amnesia', [LAUNCHER, '--wait-for-tor', '5', 'tails-upgrade-frontend'], { env: AMNESIA_ENV }),
      EXIT.refused,
      /--wait-for-tor is not passed on/,
    );
    // A user-layer file for a placement profile: the entry would not see it, so the launch is refused.
    const amnesia = world!.user('amnesia');
    const mkdir = await world!.as('amnesia', ['mkdir', '-p', `${amnesia.home}/.config/tails-launch/profiles`]);
    expect(mkdir.exitCode).toBe(0);
    const userFile = `${amnesia.home}/.config/tails-launch/profiles/tails-upgrade-frontend.yml`;
    expect(
      (
        await world!.as('amnesia', [
          'sh',
          '-c',
          `printf 'extends: tails-upgrade-frontend\\ndescription: mine\\n' > ${userFile}`,
        ])
      ).exitCode,
    ).toBe(0);
    await expectRefused(
      // (AMNESIA_ENV's XDG_CONFIG_HOME would move the user layer elsewhere.)
      world!.as('amnesia', [LAUNCHER, 'tails-upgrade-frontend'], {
        env: { ...AMNESIA_ENV, XDG_CONFIG_HOME: undefined },
      }),
      EXIT.refused,
      /user layer's .*tails-upgrade-frontend\.yml changes it/,
    );
    expect((await world!.as('amnesia', ['rm', userFile])).exitCode).toBe(0);
    // A user that does not exist.
    await expectRefused(
      world!.as('tails-upgrade-frontend', [LAUNCHER, 'tl-ghost'], { env: AMNESIA_ENV }),
      EXIT.noUser,
      /runs as user 'tl-ghost', which does not exist/,
    );
  }, 120_000);

  it("--jail through sudo and the entry: the caller's own program in a jail of its own, its group address at the jail port, nothing else reachable, nothing left", async () => {
    const amnesia = world!.user('amnesia');
    const explained = await world!.as('amnesia', [LAUNCHER, 'explain', '--json', '--jail', 'tl-jailed'], {
      env: AMNESIA_ENV,
    });
    expect(explained.exitCode, String(explained.stderr)).toBe(0);
    const plan = JSON.parse(String(explained.stdout));
    expect(plan.handover.argv).toEqual(['/usr/bin/sudo', '-n', '--', PLACE, 'tl-jailed', '--jail', '--']);
    const before = records.length;
    const trapBefore = trapCount;
    const r = await world!.as('amnesia', [LAUNCHER, '--jail', 'tl-jailed'], { env: AMNESIA_ENV });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const report = reportOf(r.stdout);
    expect([report.uid, report.euid, report.suid]).toEqual([amnesia.uid, amnesia.uid, amnesia.uid]);
    expect([report.capEff, report.capPrm]).toEqual(['0000000000000000', '0000000000000000']);
    expect(report.netns).not.toBe(await netnsInode(null));
    expect(report.socks).toMatch(/^reply: HTTP/);
    const mine = (await recordsSince(before, 2)).filter((rec) => rec.host === 'jailed.test');
    expect(mine).toMatchObject([{ serverPort: 9250, auth: 'none', clientAddress: plan.torSees.clientAddress }]);
    for (const target of ['10.99.0.1:80', '127.0.0.1:8080'])
      expect(report.direct[target], target).toMatch(/^(refused|error: .*)$/);
    expect(trapCount - trapBefore).toBe(0);
    // Gone with its last process: no jail link left on the host side.
    const links = await world!.root(['ip', '-br', 'link']);
    expect(String(links.stdout)).not.toMatch(/^tlj/m);
    // --identity goes through the entry too (it only picks the group): alice and bob, two addresses, as explain says.
    const addresses: string[] = [];
    for (const who of ['alice', 'bob']) {
      const explainedWho = JSON.parse(
        String(
          (
            await world!.as('amnesia', [LAUNCHER, 'explain', '--json', '--jail', '--identity', who, 'tl-jailed'], {
              env: AMNESIA_ENV,
            })
          ).stdout,
        ),
      );
      expect(explainedWho.handover.argv).toEqual([
        '/usr/bin/sudo',
        '-n',
        '--',
        PLACE,
        'tl-jailed',
        '--jail',
        '--identity',
        who,
        '--',
      ]);
      const at = records.length;
      const run = await world!.as('amnesia', [LAUNCHER, '--jail', '--identity', who, 'tl-jailed'], {
        env: AMNESIA_ENV,
      });
      expect(run.exitCode, String(run.stderr)).toBe(0);
      const seen = (await recordsSince(at, 2)).filter((rec) => rec.host === 'jailed.test');
      expect(seen).toMatchObject([{ clientAddress: explainedWho.torSees.clientAddress }]);
      addresses.push(seen[0]!.clientAddress);
    }
    expect(new Set([...addresses, plan.torSees.clientAddress]).size).toBe(3);
    // Not named by jails: callers (bob is not in the group): refused before sudo, and by sudo and the entry.
    await expectRefused(
      world!.as('tl-bob', [LAUNCHER, '--jail', 'tl-jailed'], { env: AMNESIA_ENV }),
      EXIT.refused,
      /tl-bob may not have jails made/,
    );
    const direct = await world!.as('tl-bob', ['/usr/bin/sudo', '-n', '--', PLACE, 'tl-jailed', '--jail', '--'], {
      env: SUDO_ENV,
    });
    expect([direct.exitCode, String(direct.stderr)]).toEqual([1, 'sudo: a password is required']);
    await expectRefused(
      world!.as('tl-mallory', ['/usr/bin/sudo', '-n', '--', PLACE, 'tl-jailed', '--jail', '--'], { env: SUDO_ENV }),
      EXIT.refused,
      /privileged entry: tl-mallory may not make jails/,
    );
  }, 60_000);

  it("one user's jails never touch another's: an app group is per user, and a group another user's live jail holds is not shared even when the hash says so", async () => {
    const explainAs = async (user: string, identity: string | null) => {
      const r = await world!.as(
        user,
        [LAUNCHER, 'explain', '--json', '--jail', ...(identity ? ['--identity', identity] : []), 'tl-jailed-app'],
        { env: AMNESIA_ENV },
      );
      expect(r.exitCode, String(r.stderr)).toBe(0);
      return JSON.parse(String(r.stdout)) as { torSees: { clientAddress: string }; jail: { group: { index: number } } };
    };
    const amnesiaPlan = await explainAs('amnesia', null);
    // The same profile, another user: another group.
    expect((await explainAs('tl-carol', null)).torSees.clientAddress).not.toBe(amnesiaPlan.torSees.clientAddress);
    // An identity of carol's that hashes onto amnesia's group (found the way anyone could: the hash is public).
    const pool = parsePool('10.240.0.0/12');
    const carol = world!.user('tl-carol');
    let collide = '';
    for (let i = 0; collide === ''; i++)
      if (appGroup(pool, appGroupKey(carol.uid, 'tl-jailed-app', `x${i}`)).index === amnesiaPlan.jail.group.index)
        collide = `x${i}`;
    expect((await explainAs('tl-carol', collide)).torSees.clientAddress).toBe(amnesiaPlan.torSees.clientAddress);
    // amnesia's jail lives (the stand-in lingers); carol launches into "her" group meanwhile.
    const before = records.length;
    const held = world!.as('amnesia', [LAUNCHER, '--jail', 'tl-jailed-app'], { env: AMNESIA_ENV });
    const first = await recordsSince(before, 1);
    expect(first[0]?.clientAddress).toBe(amnesiaPlan.torSees.clientAddress);
    const r = await world!.as('tl-carol', [LAUNCHER, '--jail', '--identity', collide, 'tl-jailed-app'], {
      env: AMNESIA_ENV,
    });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const seen = (await recordsSince(before, 2)).slice(1);
    expect(seen).toHaveLength(1);
    // Not amnesia's address: the entry took the next group.
    expect(seen[0]!.clientAddress).not.toBe(amnesiaPlan.torSees.clientAddress);
    expect((await held).exitCode).toBe(0);
  }, 60_000);

  it("the caller's limits and signals never reach root's work, and reach the application: RLIMIT_NOFILE 50, RLIMIT_FSIZE 1, SIGCHLD ignored, a stderr nobody reads: the group's owner record is never truncated, the jail lock never held", async () => {
    const amnesia = world!.user('amnesia');
    const helper = join(work, 'caller-state.py');
    writeFileSync(
      helper,
      [
        'import fcntl, os, resource, signal, sys, time',
        '# As the attacker: limits and dispositions of her choosing, then sudo and the entry.',
        'mode, argv = sys.argv[1], sys.argv[2:]',
        'resource.setrlimit(resource.RLIMIT_NOFILE, (50, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))',
        'signal.signal(signal.SIGCHLD, signal.SIG_IGN)',
        'if mode == "fsize":',
        '    # sudo lifts a soft file-size limit itself; a hard one only root with CAP_SYS_RESOURCE can.',
        '    resource.setrlimit(resource.RLIMIT_FSIZE, (1, 1))',
        'if mode == "stuck":',
        '    # stdout and stderr: a full pipe whose reader (this process) never reads.',
        '    r, w = os.pipe()',
        '    fcntl.fcntl(w, fcntl.F_SETFL, os.O_NONBLOCK)',
        '    try:',
        '        while True: os.write(w, b"x" * 4096)',
        '    except BlockingIOError: pass',
        '    fcntl.fcntl(w, fcntl.F_SETFL, 0)',
        '    if os.fork() == 0:',
        '        os.dup2(w, 1); os.dup2(w, 2); os.execv(argv[0], argv)',
        '    print("holding", flush=True)',
        '    time.sleep(60)',
        'else:',
        '    os.execv(argv[0], argv)',
        '',
      ].join('\n'),
    );
    chmodSync(helper, 0o755);
    const sudoJail = ['/usr/bin/sudo', '-n', '--', PLACE, 'tl-jailed-app', '--jail', '--'];
    const plan = JSON.parse(
      String(
        (await world!.as('amnesia', [LAUNCHER, 'explain', '--json', '--jail', 'tl-jailed-app'], { env: AMNESIA_ENV }))
          .stdout,
      ),
    ) as { jail: { group: { index: number } } };
    const ownerRecord = async () =>
      String((await world!.root(['cat', `/run/tails-launch/groups/${plan.jail.group.index}`])).stdout);
    // Root's work is done whatever her limits; the application has her limits and dispositions back.
    let before = records.length;
    const r = await world!.as('amnesia', ['python3', helper, 'plain', ...sudoJail], { env: SUDO_ENV });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const report = reportOf(r.stdout) as Report & { nofile: string; sigIgn: string };
    expect(report.nofile).toBe('50');
    // SIGCHLD (17) is the one disposition a jail that holds the session cannot hand back: bubblewrap 0.8
    // hangs when it inherits it ignored (bubblewrap#705), so the jail helper gives it the default.
    expect((BigInt(`0x${report.sigIgn}`) >> 16n) & 1n).toBe(0n);
    await recordsSince(before, 1);
    expect(await ownerRecord()).toBe(String(amnesia.uid));
    // A hard file-size limit: her whole uid recorded (root lifted it), or one line and nothing launched; never a truncated record.
    before = records.length;
    const f = await world!.as('amnesia', ['python3', helper, 'fsize', ...sudoJail], { env: SUDO_ENV });
    if (f.exitCode === 0) await recordsSince(before, 1);
    else
      expect(String(f.stderr)).toMatch(
        /^tails-launch: privileged entry: cannot record the owner of jail group \d+: File too large$/,
      );
    expect(await ownerRecord()).toBe(String(amnesia.uid));
    // A stderr that blocks: carol's jail is made all the same (before: the entry died holding the lock, and waited on the pipe).
    const stuck = world!.as('amnesia', ['python3', helper, 'stuck', ...sudoJail], { env: SUDO_ENV, stdin: 'ignore' });
    try {
      await new Promise<void>((resolve) => stuck.stdout!.once('data', () => resolve()));
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const carol = await world!.as('tl-carol', ['timeout', '20', LAUNCHER, '--jail', 'tl-jailed-app'], {
        env: AMNESIA_ENV,
      });
      expect(carol.exitCode, String(carol.stderr)).toBe(0);
    } finally {
      if (stuck.pid !== undefined) process.kill(stuck.pid, 'SIGKILL');
      await stuck.catch(() => undefined);
    }
  }, 90_000);

  it('grants left behind a changed configuration are refused until grants --write, and grants --check says so', async () => {
    const file = join(world!.adminLayer, 'profiles', 'tails-upgrade-frontend.yml');
    const original = readFileSync(file, 'utf8');
    writeFileSync(file, `${original}caller_args: none\n`);
    try {
      const check = await world!.root([LAUNCHER, 'grants', '--check']);
      expect(check.exitCode).toBe(1);
      expect(String(check.stderr)).toMatch(/is not what the profiles grant now: run 'tails-launch grants --write'/);
      const doctor = await world!.root([LAUNCHER, 'doctor', '--json']);
      const grantsCheck = (
        JSON.parse(String(doctor.stdout)) as { checks: { id: string; status: string }[] }
      ).checks.find((c) => c.id === 'grants');
      expect(grantsCheck?.status, String(doctor.stdout)).toBe('fail');
      await expectRefused(
        world!.as('amnesia', [LAUNCHER, 'tails-upgrade-frontend'], { env: AMNESIA_ENV }),
        EXIT.config,
        /the grant of profile 'tails-upgrade-frontend' in \/etc\/sudoers\.d\/tails-launch is not what the configuration says now/,
      );
      expect((await world!.root([LAUNCHER, 'grants', '--write'])).exitCode).toBe(0);
      const before = records.length;
      const r = await world!.as('amnesia', [LAUNCHER, 'tails-upgrade-frontend'], { env: AMNESIA_ENV });
      expect(r.exitCode, String(r.stderr)).toBe(0);
      expect(await recordsSince(before, 1)).toMatchObject([{ serverPort: 9062 }]);
    } finally {
      writeFileSync(file, original);
      expect((await world!.root([LAUNCHER, 'grants', '--write'])).exitCode).toBe(0);
    }
  }, 60_000);

  it('a missing namespace is refused (72) before sudo, and by the entry itself', async () => {
    expect((await world!.root([LAUNCHER, 'netns', 'teardown', 'tbb'])).exitCode).toBe(0);
    try {
      await expectRefused(
        world!.as('amnesia', [LAUNCHER, 'tor-browser'], { env: AMNESIA_ENV }),
        EXIT.noNamespace,
        /network namespace 'tbb' does not exist.*netns setup tbb/,
      );
      await expectRefused(
        world!.as('amnesia', ['/usr/bin/sudo', '-n', '--', PLACE, 'tor-browser', '--'], { env: SUDO_ENV }),
        EXIT.noNamespace,
        /network namespace 'tbb' does not exist/,
      );
    } finally {
      expect((await world!.root([LAUNCHER, 'netns', 'setup', 'tbb'])).exitCode).toBe(0);
    }
  }, 60_000);

  it('the privileged entry, called through sudo directly (mallory has a sudoers rule of her own for it): refuses a profile without a grant, a profile of the user layer, a caller its grant does not name, a grant of her own, and anything but PROFILE [--jail] [--identity NAME] -- ARGS', async () => {
    const sudoPlace = (user: string, ...args: string[]) =>
      world!.as(user, ['/usr/bin/sudo', '-n', '--', PLACE, ...args], { env: SUDO_ENV });
    await expectRefused(
      sudoPlace('tl-mallory', 'curl', '--', '-s', 'http://x/'),
      EXIT.refused,
      /privileged entry: profile 'curl' has no placement/,
    );
    // A profile of amnesia's own layer, naming a service user: the entry reads only the system layers.
    const amnesia = world!.user('amnesia');
    const dir = `${amnesia.home}/.config/tails-launch/profiles`;
    expect((await world!.as('amnesia', ['mkdir', '-p', dir])).exitCode).toBe(0);
    expect(
      (
        await world!.as('amnesia', [
          'sh',
          '-c',
          `printf 'listener: upgrader\\nisolation: application\\nbackend: own-setting\\ncommand: /bin/sh\\nuser: tails-iuk-get-target-file\\n' > ${dir}/evil.yml`,
        ])
      ).exitCode,
    ).toBe(0);
    await expectRefused(sudoPlace('tl-mallory', 'evil', '--'), EXIT.refused, /no grant for profile 'evil'/);
    await expectRefused(
      sudoPlace('tl-mallory', 'tails-iuk-get-target-file', '--'),
      EXIT.refused,
      /tl-mallory may not start profile 'tails-iuk-get-target-file'/,
    );
    // A grant of her own: the descriptor form is root's alone.
    await expectRefused(
      sudoPlace('tl-mallory', '--grant-fd', '3', 'tor-browser', '--'),
      EXIT.refused,
      /--grant-fd is root's own/,
    );
    const usage = /usage: place PROFILE \[--jail\] \[--identity NAME\] -- /;
    await expectRefused(sudoPlace('tl-mallory', '--config-dir', '/tmp', 'tor-browser', '--'), EXIT.usage, usage);
    // --jail takes no program the caller names: root would look it up (default has no command: no grant).
    await expectRefused(
      sudoPlace('tl-mallory', 'default', '--jail', '--', '/root/.bashrc'),
      EXIT.refused,
      /no grant for profile 'default'/,
    );
    await expectRefused(sudoPlace('tl-mallory', 'tl-jailed', '--identity', 'a b', '--'), EXIT.usage, usage);
    await expectRefused(sudoPlace('tl-mallory', 'tor-browser'), EXIT.usage, usage);
    await expectRefused(sudoPlace('amnesia', 'tor-browser', '--', '-P'), EXIT.usage, /no options from the caller/);
  }, 60_000);

  it('with a real tor (not bootstrapped, its only authority a closed port on loopback) at 10.200.1.1:9050: the launch passes its preflight inside tbb, Tor refuses the stream, and doctor sees the listener from inside', async () => {
    // The tests' SOCKS server leaves 10.200.1.1:9050 to tor.
    const socksServer = daemons.pop()!;
    await stopDaemon(socksServer);
    // Nothing listens at 10.200.1.1:9050 now: the preflight, run inside tbb, refuses (69) before the browser starts.
    await expectRefused(
      world!.as('amnesia', [LAUNCHER, 'tor-browser'], { env: AMNESIA_ENV }),
      EXIT.torUnreachable,
      /Tor is not reachable.*127\.0\.0\.1:9050.*'browser'/,
    );
    const torDir = join(work, 'tor');
    // tor wants its control socket's directory private.
    mkdirSync(torDir, { mode: 0o700 });
    const torrc = join(work, 'torrc');
    writeFileSync(
      torrc,
      [
        `DataDirectory ${torDir}`,
        'SocksPort 10.200.1.1:9050 IsolateSOCKSAuth KeepAliveIsolateSOCKSAuth ExtendedErrors',
        'SocksPort 127.0.0.1:9062 IsolateDestAddr IsolateDestPort',
        `ControlPort unix:${join(torDir, 'control')}`,
        // Never bootstrapped: its one directory authority is a closed port on
        // loopback (DisableNetwork would close the SocksPorts too).
        `DirAuthority placeholder orport=7 no-v2 v3ident=${'0'.repeat(40)} 127.0.0.1:7 ${'0'.repeat(40)}`,
        'UseDefaultFallbackDirs 0',
        'Log notice stdout',
        'RunAsDaemon 0',
        '',
      ].join('\n'),
    );
    const torLog: string[] = [];
    const { child: tor } = await daemon(['tor', '-f', torrc], (line) => torLog.push(line));
    try {
      // tor prints its first notice before it listens: wait for the handshake to work from inside.
      const deadline = Date.now() + 20_000;
      let r: Awaited<WorldRun>;
      for (;;) {
        r = await world!.as('amnesia', [LAUNCHER, 'tor-browser'], { env: AMNESIA_ENV });
        if (r.exitCode !== EXIT.torUnreachable || Date.now() > deadline) break;
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
      expect(r.exitCode, `${r.stderr}\ntor: ${torLog.join('\n')}`).toBe(0);
      const report = reportOf(r.stdout);
      expect(report.netns).toBe(await netnsInode('tbb'));
      // Tor answered the handshake (the preflight passed) and took the CONNECT, which it cannot carry
      // out without a network: it holds the stream (until the stand-in gives up) or refuses it.
      expect(report.socks).toMatch(/^failed: (timed out|CONNECT refused)/);
      const doctor = await world!.root([LAUNCHER, 'doctor', 'tor-browser', '--json']);
      const checks = JSON.parse(String(doctor.stdout)) as { checks: { id: string; status: string }[] };
      expect(checks.checks.find((c) => c.id === 'profile.tor-browser.netns')?.status, String(doctor.stdout)).toBe('ok');
    } finally {
      await stopDaemon(tor);
    }
  }, 90_000);
});
