// Debian's real applications, configured as Tails 7 configures them, launched
// through the installed package's shipped profiles on a clean Debian trixie
// image (Tails 7's base), over a private Tor network of real tors:
//
//   - one network namespace (test/support/packet-trap.ts) holds the private
//     network (test/support/private-tor-network.ts: its client carries
//     Tails' SocksPorts 9050, 9062, 9063 on 127.0.0.1), the target servers
//     on 10.99.0.1 (the exit's enclave: test/fixtures/tails7/servers.mjs and
//     the image's own sshd), and the image (test/support/clean-image.ts,
//     entered at its root, so the launcher's jails run in it);
//   - the applications run as the image's amnesia (uid 1000), started by
//     `tails-launch PROFILE -- ARGS` as a desktop entry would;
//   - for every launch the test reads, on tor's side (its control port):
//     each stream's SocksPort (the kernel's socket table), the SOCKS
//     credentials tor recorded and its circuit, and checks them against
//     `explain --json` (torSees); two launches of one profile are compared
//     circuit by circuit as the profile's isolation claims; and every stream
//     of a launch goes to that application's own server (nothing else asked
//     of Tor: no name of the machine's own, no second destination);
//   - a packet trap counts every packet a non-root socket sends off loopback
//     (a direct connection, a DNS query, UPnP): 0 for every launch. Controls:
//     the same applications run directly (no launcher) are caught by it.
//
// Each application's Tails file is named where the test writes its settings.
// Needs root, debootstrap, Debian's mirror (apt-get only) and tor.
// TAILS_LAUNCH_TEST_IMAGE_DIR=DIR keeps the image in DIR between runs (a
// developer's loop; CI never sets it): the packages are then not installed
// again, only tails-launch.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CleanImage, MIRROR, timed, type RunResult, type Timings } from '../support/clean-image';
import { buildPackage, which, type BuiltPackage } from '../support/debian-package';
import {
  addTrap,
  clearTrapRecords,
  createTrappedNamespace,
  deleteTrappedNamespace,
  DNS_TRAP,
  readTrap,
} from '../support/packet-trap';
import { TAILS_SOCKS_PORTS } from '../support/isolated-tor';
import {
  startPrivateTorNetwork,
  StreamWatcher,
  TARGET_ADDRESS,
  waitForFirstStream,
  type PrivateTorNetwork,
  type StreamRecord,
} from '../support/private-tor-network';
import { expectTorSaw, type TorSees } from '../support/tor-sees';
import { oggClipPipeline } from '../support/fixtures';
import { ControlConnection } from '../../src/tor/control-port';
import type { Plan } from '../../src/plan/types';

const IS_ROOT = process.getuid?.() === 0;
const TOOLS = ['debootstrap', 'unshare', 'nsenter', 'tor', 'nft'].filter((t) => !which(t));
const SKIP = !IS_ROOT || TOOLS.length > 0;
if (SKIP)
  console.warn(
    `tails7-apps.test.ts: SKIPPED: ${!IS_ROOT ? 'needs root' : `missing ${TOOLS.join(', ')} (scripts/setup.sh installs them)`}`,
  );

const NS = `tl-t7-${process.pid}`;
const KEPT = process.env.TAILS_LAUNCH_TEST_IMAGE_DIR;
/** Not /tmp (possibly a small tmpfs): the image is about 1 GB. */
const BASE = KEPT ?? `/var/tmp/tails-launch-tails7-${process.pid}`;

/** The applications and what they need to run here (servers, the X server...), from Debian trixie. */
const PACKAGES = [
  ...['wget', 'curl', 'git', 'openssh-client', 'openssh-server', 'whois', 'ca-certificates'],
  ...['pidgin', 'xvfb', 'thunderbird', 'weston', 'onionshare-cli', 'gpg', 'gpg-agent', 'dirmngr', 'gpgsm'],
  ...['totem', 'gstreamer1.0-plugins-good', 'gstreamer1.0-tools', 'dbus'],
  ...['apt-transport-tor', 'apt-utils', 'flatpak', 'ostree'],
  // Onion Circuits, and what Tails' onion-grater imports.
  ...['onioncircuits', 'python3-stem', 'python3-psutil', 'python3-yaml'],
  // `tails-launch netns setup` (tbb, onioncircs, tca): the minimal image has neither.
  ...['iproute2', 'nftables'],
  // Tor Browser's Flatpak (its stand-in for firefox.real is Python).
  'python3',
  // The upgrader's stand-in opens the display (xdpyinfo); Tails' wrapper grants it (xhost); sudo.
  ...['x11-utils', 'x11-xserver-utils', 'xauth', 'sudo'],
];

/** The user, as Tails' amnesia, and the session the applications see. */
const HOME = '/home/amnesia';
/** Where launches start, as from a file manager: a directory inside the home (a jail may be given '.'). */
const DOWNLOADS = `${HOME}/Downloads`;
const SESSION = { HOME, XDG_RUNTIME_DIR: '/run/user/1000' };

/** `tor --hash-password passwd`: the password Tails' applications give onion-grater. */
const CONTROL_PASSWORD_HASH = '16:C48194BD4964DC836043A9CCE289823CC9555EE2EAF510DA30FDA72F2C';

/** One port per service: each stream is told apart by its target. */
const PORT = {
  wget: 8001,
  curl: 8002,
  gitHttp: 8003,
  whois: 43,
  ssh: 22,
  xmpp: 5222,
  electrum: 50001,
  imap: 143,
  hkp: 11371,
  media: 8004,
  apt: 8006,
  flatpak: 8007,
} as const;
const url = (port: number, path: string) => `http://${TARGET_ADDRESS}:${port}${path}`;

/** What the servers and the sshd were asked, as servers.mjs reports it. */
interface Connection {
  service: string;
  port: number;
  remote: string;
  request: string | null;
}

let image: CleanImage;
let network: PrivateTorNetwork | undefined;
let watcher: StreamWatcher | undefined;
let servers: ChildProcess | undefined;
let built: BuiltPackage | undefined;
let work = '';
const connections: Connection[] = [];
const timings: Timings = {};
const started = Date.now();

/** Runs ARGV in the image as amnesia, with the session's variables. */
const asUser = (argv: string[], timeout = 90_000): Promise<RunResult> =>
  image.run(argv, { user: true, env: SESSION, timeout, cwd: DOWNLOADS });

/** `tails-launch ARGS` as amnesia. */
const tl = (args: string[], timeout?: number) => asUser(['tails-launch', ...args], timeout);

async function explain(profile: string, args: string[] = []): Promise<{ torSees: TorSees; guard: { kind: string } }> {
  const r = await tl(['explain', '--json', profile, '--', ...args]);
  expect(r.exitCode, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { torSees: TorSees; guard: { kind: string } };
}

let hostname = '';
let keyFingerprint = '';
const TAILS_HOSTS = () => `127.0.0.1       localhost localhost.localdomain ${hostname}\n`;

/**
 * BODY on a machine whose /etc/hosts does not name it (a cloud image's, or a
 * Debian without 127.0.1.1): what git then does with its host name. Tails'
 * hosts file is back afterwards.
 */
async function withoutOwnName<T>(body: () => Promise<T>): Promise<T> {
  writeFileSync(image.path('/etc/hosts'), '127.0.0.1       localhost\n');
  try {
    return await body();
  } finally {
    writeFileSync(image.path('/etc/hosts'), TAILS_HOSTS());
  }
}

/**
 * What the image builder does: the package, the applications, amnesia, and
 * Tails 7's settings of the applications (each file named).
 */
async function provision(deb: Promise<BuiltPackage>): Promise<void> {
  const fresh = !existsSync(image.path('/home/amnesia'));
  // Tails 7 takes Electrum from trixie-backports (config/chroot_apt/preferences: src:electrum pinned there).
  const backports = image.path('/etc/apt/sources.list.d/backports.sources');
  if (fresh || !existsSync(backports)) {
    writeFileSync(backports, `Types: deb\nURIs: ${MIRROR}\nSuites: trixie-backports\nComponents: main\n`);
    await timed(timings, 'apt-get update', () => image.apt(['update']));
  }
  await timed(timings, 'apt-get install (applications)', () => image.apt(['install', ...PACKAGES], 1_200_000));
  await timed(timings, 'apt-get install electrum (trixie-backports)', () =>
    image.apt(['install', '-t', 'trixie-backports', 'electrum'], 1_200_000),
  );
  if (fresh) await image.must(['useradd', '--create-home', '--uid', '1000', '--user-group', 'amnesia'], { net: false });
  await image.must(['install', '-d', '-o', 'amnesia', '-g', 'amnesia', DOWNLOADS]);
  built = await timed(timings, 'waiting for the .deb', () => deb);
  const inImage = `/var/cache/tails-launch-test/${basename(built.deb)}`;
  image.copyIn(built.deb, inImage);
  await timed(timings, 'apt-get install tails-launch.deb', () =>
    image.apt(['install', '--reinstall', '--allow-downgrades', inImage]),
  );
  await image.must(['install', '-d', '-o', 'amnesia', '-g', 'amnesia', '-m', '0700', SESSION.XDG_RUNTIME_DIR]);
  // Any name looked up outside Tor goes to the trap's address.
  writeFileSync(image.path('/etc/resolv.conf'), `nameserver ${DNS_TRAP}\n`);
  // Tails 7: I/lib/live/config/9000-hosts-file (the machine's own name is local: Thunderbird looks it up).
  hostname = (await image.must(['hostname'])).trim();
  writeFileSync(image.path('/etc/hosts'), TAILS_HOSTS());
  // Tails 7: config/chroot_local-includes/etc/gitconfig.
  writeFileSync(image.path('/etc/gitconfig'), '[color]\n\tui = auto\n[transfer]\n\tfsckObjects = true\n');
  // Tails 7: I/etc/ssh/ssh_config (the LAN goes direct; everything else through 9050 with nc).
  writeFileSync(
    image.path('/etc/ssh/ssh_config'),
    [
      'Host 192.168.* 10.* 172.16.* 172.17.* 172.18.* 172.19.* 172.20.* 172.21.* 172.22.* 172.23.* 172.24.* 172.25.* 172.26.* 172.27.* 172.28.* 172.29.* 172.30.* 172.31.*',
      'ProxyCommand none',
      'Host *',
      'ProxyCommand /bin/nc -X 5 -x 127.0.0.1:9050 %h %p',
      'Compression yes',
      'ForwardX11 no',
      'ForwardX11Trusted no',
      'User root',
      'HashKnownHosts yes',
      '',
    ].join('\n'),
  );
  // Tails 7: H/09-torsocks-configuration (AllowOutboundLocalhost 2, for Git over SSH).
  await image.must([
    'sed',
    '-i',
    '-E',
    's,^#?AllowOutboundLocalhost\\s+.*,AllowOutboundLocalhost 2,',
    '/etc/tor/torsocks.conf',
  ]);
  await provisionServers();
}

/** The git repository (bare, served by the static server and sshd) and sshd's keys and settings. */
async function provisionServers(): Promise<void> {
  const repo = '/srv/git/repo.git';
  if (!existsSync(image.path(repo))) {
    const script = [
      'set -e',
      'd=$(mktemp -d)',
      'git -C "$d" init -q -b main',
      'echo "tails-launch over Tor" > "$d/README"',
      'git -C "$d" add README',
      'git -C "$d" -c user.name=T -c user.email=t@example.org commit -q -m first',
      `git clone -q --bare "$d" ${repo}`,
      `git -C ${repo} update-server-info`,
      // The server side of git over SSH runs as amnesia: its repository.
      `chown -R amnesia:amnesia /srv/git`,
      `chmod -R a+rX /srv/git`,
      'rm -rf "$d"',
    ].join('\n');
    await image.must(['sh', '-c', script]);
  }
  // The key our keyserver serves, as KEY_FINGERPRINT.asc.
  if (!existsSync(image.path('/srv/keys/fingerprint'))) {
    const script = [
      'set -e',
      'export GNUPGHOME=$(mktemp -d)',
      "gpg -q --batch --passphrase '' --quick-gen-key 'Tails Launch Test <test@example.org>' ed25519 sign never",
      "fpr=$(gpg --with-colons --list-keys | awk -F: '/^fpr/ { print $10; exit }')",
      'mkdir -p /srv/keys',
      'gpg --armor --export "$fpr" > /srv/keys/"$fpr".asc',
      'echo "$fpr" > /srv/keys/fingerprint',
      'gpgconf --kill all',
      'rm -rf "$GNUPGHOME"',
    ].join('\n');
    await image.must(['sh', '-c', script]);
  }
  keyFingerprint = readFileSync(image.path('/srv/keys/fingerprint'), 'utf8').trim();
  // An APT repository (flat, no package, a Release file) and an OSTree repository (Flatpak's), ours to serve.
  await image.must([
    'sh',
    '-c',
    [
      'set -e',
      'mkdir -p /srv/apt && cd /srv/apt && apt-ftparchive packages . > Packages && apt-ftparchive release . > Release',
      'rm -rf /srv/flatpak && mkdir -p /srv/flatpak',
      'ostree init --mode=archive --repo=/srv/flatpak/repo && ostree summary -u --repo=/srv/flatpak/repo',
      'chmod -R a+rX /srv/apt /srv/flatpak',
    ].join('\n'),
  ]);
  await image.must(['ssh-keygen', '-A']);
  await image.must(['install', '-d', '-m', '0755', '/run/sshd']);
  writeFileSync(
    image.path('/etc/ssh/sshd_config.d/tails-launch-test.conf'),
    `ListenAddress ${TARGET_ADDRESS}\nUseDNS no\n`,
  );
  const ssh = `${HOME}/.ssh`;
  await asUser([
    'sh',
    '-c',
    `mkdir -p -m 0700 ${ssh} && rm -f ${ssh}/id_ed25519* && ssh-keygen -q -t ed25519 -N '' -f ${ssh}/id_ed25519 && cp ${ssh}/id_ed25519.pub ${ssh}/authorized_keys`,
  ]);
}

/** Starts the servers (host Node, in the namespace) and the image's sshd; resolves once all listen. */
async function startServers(): Promise<void> {
  const main = new URL('../fixtures/tails7/servers.mjs', import.meta.url).pathname;
  const files = join(work, 'www');
  mkdirSync(files, { recursive: true });
  writeFileSync(join(files, 'file.txt'), 'tails-launch over Tor\n');
  // 10 s of Vorbis in Ogg, made by the image's GStreamer (Totem's own).
  await image.must(['gst-launch-1.0', ...oggClipPipeline('/tmp/clip.ogg')]);
  writeFileSync(join(files, 'clip.ogg'), readFileSync(image.path('/tmp/clip.ogg')));
  servers = image.startInNetwork([
    process.execPath,
    main,
    TARGET_ADDRESS,
    `wget=${PORT.wget}:static:${files}`,
    `curl=${PORT.curl}:static:${files}`,
    `git-http=${PORT.gitHttp}:static:${image.path('/srv/git')}`,
    `whois=${PORT.whois}:whois`,
    `xmpp=${PORT.xmpp}:tcp`,
    `electrum=${PORT.electrum}:tcp`,
    `imap=${PORT.imap}:banner:* OK IMAP4rev1 tails-launch test server ready`,
    `keys=${PORT.hkp}:hkp:${image.path('/srv/keys')}`,
    `media=${PORT.media}:static:${files}`,
    `apt=${PORT.apt}:static:${image.path('/srv/apt')}`,
    `flatpak=${PORT.flatpak}:static:${image.path('/srv/flatpak')}`,
  ]);
  const lines = createInterface({ input: servers.stdout! });
  await new Promise<void>((resolve, reject) => {
    servers!.once('exit', (code) => reject(new Error(`servers.mjs exited ${code}`)));
    lines.on('line', (line) => {
      const record = JSON.parse(line) as Connection & { ready?: boolean };
      if (record.ready) resolve();
      else connections.push(record);
    });
  });
  image.start(['/usr/sbin/sshd', '-D', '-e']);
  await image.must([
    'sh',
    '-c',
    `for i in $(seq 100); do ssh-keyscan -T 2 ${TARGET_ADDRESS} >/tmp/known 2>/dev/null && [ -s /tmp/known ] && exit 0; sleep 0.1; done; exit 1`,
  ]);
  await image.must([
    'sh',
    '-c',
    `cp /tmp/known ${HOME}/.ssh/known_hosts && chown amnesia:amnesia ${HOME}/.ssh/known_hosts`,
  ]);
}

/** Tor's first stream through the network, as root (the trap does not count root). */
async function firstStream(): Promise<void> {
  await waitForFirstStream(async () => {
    const r = await image.run(
      ['curl', '-sS', '--max-time', '10', '--socks5-hostname', '127.0.0.1:9050', url(PORT.curl, '/file.txt')],
      { timeout: 20_000 },
    );
    return { ok: r.exitCode === 0, detail: `${r.exitCode} ${r.stderr}` };
  }, watcher!);
}

beforeAll(async () => {
  if (SKIP) return;
  work = mkdtempSync(join(tmpdir(), 'tails-launch-tails7-'));
  chmodSync(work, 0o755);
  deleteTrappedNamespace(NS);
  createTrappedNamespace(NS);
  const deb = timed(timings, 'dpkg-buildpackage', () => buildPackage());
  deb.catch(() => {});
  const tor = timed(timings, 'private Tor network', () =>
    startPrivateTorNetwork(NS, join(work, 'tor'), 120_000, {
      socksPorts: Object.values(TAILS_SOCKS_PORTS),
      // Where Tails' applications find the control port: onion-grater's 127.0.0.1:951. onion-grater
      // (Tails-only) takes any password; this tor takes Tails' "passwd".
      // Tails' own ControlPort (127.0.0.1:9052, cookie) is where onion-grater takes everything else.
      clientLines: [
        'ControlPort 127.0.0.1:951',
        'ControlPort 127.0.0.1:9052',
        `HashedControlPassword ${CONTROL_PASSWORD_HASH}`,
      ],
    }),
  );
  tor.catch(() => {});
  if (!KEPT) rmSync(BASE, { recursive: true, force: true });
  mkdirSync(BASE, { recursive: true });
  image = await timed(timings, 'debootstrap', () =>
    CleanImage.create('trixie', join(BASE, 'root'), { netns: NS, reuse: KEPT !== undefined }),
  );
  await provision(deb);
  // The applications' versions, for the record (the closing table of issue 18 quotes them).
  const versions = await image.run([
    'dpkg-query',
    '-W',
    '-f=${Package} ${Version}\\n',
    ...PACKAGES,
    'electrum',
    'tails-launch',
  ]);
  console.log(`tails7 apps: versions:\n${versions.stdout}`);
  network = await tor;
  watcher = await StreamWatcher.open(network.controlSocket, network.cookieFile, {
    tcpTable: `/proc/${network.clientPid}/net/tcp`,
  });
  await startServers();
  await startX();
  await firstStream();
  console.log(
    `tails7 apps: ${Object.entries(timings)
      .map(([phase, s]) => `${phase} ${s.toFixed(1)} s`)
      .join(', ')}`,
  );
}, 1_800_000);

afterAll(async () => {
  if (SKIP) return;
  watcher?.close();
  servers?.stdin?.end();
  for (const grater of graters) grater.kill('SIGTERM');
  await image?.destroy(KEPT !== undefined).catch((e: unknown) => console.log(String(e)));
  await network?.stop();
  deleteTrappedNamespace(NS);
  if (built) rmSync(built.work, { recursive: true, force: true });
  if (work) rmSync(work, { recursive: true, force: true });
  if (!KEPT) rmSync(BASE, { recursive: true, force: true });
  console.log(`tails7 apps: ${((Date.now() - started) / 1000).toFixed(1)} s in all`);
}, 120_000);

/**
 * Every stream a client opened while BODY ran (and their closing events,
 * which may trail it): its connections (PURPOSE USER) and name lookups
 * (DNS_REQUEST); tor's own directory fetches (DIR_FETCH, DIR_UPLOAD) are not
 * a client's.
 */
async function streamsDuring(body: () => Promise<void>): Promise<StreamRecord[]> {
  const from = watcher!.events.length;
  await body();
  // The last events of a stream can come a moment after the program exits.
  const deadline = Date.now() + 5000;
  const mine = () => [...watcher!.streams.values()].filter((s) => s.openedAt >= from && !s.purpose?.startsWith('DIR_'));
  while (mine().some((s) => s.closedAt === null) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return mine();
}

/**
 * The traps' reading before and after BODY: the packets they counted
 * meanwhile, and what they were for. NAMESPACES: NS's, and those of
 * namespaces made in the image (tbb) that have one.
 */
async function trapped<T>(
  body: () => Promise<T>,
  namespaces: string[] = [NS],
): Promise<{ result: T; packets: number; seen: string[] }> {
  for (const ns of namespaces) clearTrapRecords(ns);
  const before = namespaces.map(readTrap);
  const result = await body();
  const after = namespaces.map(readTrap);
  const packets = after.reduce((sum, a, i) => sum + a.packets - before[i]!.packets, 0);
  return { result, packets, seen: after.flatMap((a) => a.seen) };
}

interface AppCase {
  /** The shipped profile. */
  profile: string;
  /** What this case runs. */
  title: string;
  /** The caller's arguments, for launch number I (0 or 1). */
  args: (i: number) => string[];
  /** Where its streams go (every one of them). */
  target: string;
  /** Checks the launch's output. */
  check: (r: RunResult, i: number) => void | Promise<void>;
}

const CASES: AppCase[] = [
  {
    profile: 'wget',
    title: 'wget fetches a file (Tails 7: H/70-wget runs it under torsocks --isolate with --passive-ftp)',
    args: (i) => ['-q', '-O', `${HOME}/wget-${i}.txt`, url(PORT.wget, '/file.txt')],
    target: `${TARGET_ADDRESS}:${PORT.wget}`,
    check: (r, i) => {
      expect(r.exitCode, r.stderr).toBe(0);
      expect(readFile(`${HOME}/wget-${i}.txt`)).toBe('tails-launch over Tor\n');
    },
  },
  {
    profile: 'curl',
    title: 'curl fetches a file (Tails 7: I/usr/local/bin/curl sets ALL_PROXY socks5h with a random user)',
    args: () => ['-sS', '--max-time', '60', url(PORT.curl, '/file.txt')],
    target: `${TARGET_ADDRESS}:${PORT.curl}`,
    check: (r) => {
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stdout).toBe('tails-launch over Tor');
    },
  },
  {
    profile: 'git',
    title: 'git clones over HTTP (Tails 7: I/usr/local/bin/git, torsocks --isolate; I/etc/gitconfig)',
    args: (i) => ['clone', '-q', url(PORT.gitHttp, '/repo.git'), `${HOME}/http-${i}`],
    target: `${TARGET_ADDRESS}:${PORT.gitHttp}`,
    check: (r, i) => {
      expect(r.exitCode, r.stderr).toBe(0);
      expect(readFile(`${HOME}/http-${i}/README`)).toBe('tails-launch over Tor\n');
    },
  },
  {
    profile: 'git',
    title: 'git clones over SSH (its ssh told ProxyCommand=none, under torsocks like git)',
    args: (i) => ['clone', '-q', `amnesia@${TARGET_ADDRESS}:/srv/git/repo.git`, `${HOME}/ssh-${i}`],
    target: `${TARGET_ADDRESS}:${PORT.ssh}`,
    check: (r, i) => {
      expect(r.exitCode, r.stderr).toBe(0);
      expect(readFile(`${HOME}/ssh-${i}/README`)).toBe('tails-launch over Tor\n');
    },
  },
  {
    profile: 'ssh',
    title:
      'ssh runs a command on a server (Tails 7: I/etc/ssh/ssh_config; the profile: ProxyCommand=none under torsocks)',
    args: () => [`amnesia@${TARGET_ADDRESS}`, 'echo tails-launch-ssh-ok'],
    target: `${TARGET_ADDRESS}:${PORT.ssh}`,
    check: (r) => {
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stdout).toBe('tails-launch-ssh-ok');
    },
  },
  {
    profile: 'whois',
    title: 'whois asks a server (Tails 7: I/usr/local/bin/whois, torsocks --isolate)',
    args: () => ['-h', TARGET_ADDRESS, 'example.org'],
    target: `${TARGET_ADDRESS}:${PORT.whois}`,
    check: (r) => {
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stdout).toContain('tails-launch whois: example.org');
    },
  },
];

function readFile(inside: string): string {
  return existsSync(image.path(inside)) ? readFileSync(image.path(inside), 'utf8') : '';
}

/** The circuits of two launches, as the claim has them: one for a group of the application's, one per launch or process otherwise. */
function expectCircuitsAsClaimed(first: StreamRecord[], second: StreamRecord[], sees: TorSees): void {
  const circuits = (streams: StreamRecord[]) => new Set(streams.map((s) => s.circuit));
  const [a, b] = [circuits(first), circuits(second)];
  const shared = [...a].filter((c) => b.has(c));
  if (sees.credentials.kind === 'application' || (sees.credentials.kind === 'userpass' && !sees.credentials.perLaunch))
    expect(
      shared.length,
      "one group for every launch: the second launch reuses the first one's circuit",
    ).toBeGreaterThan(0);
  else expect(shared, 'a group per launch (or process): no circuit of the first launch serves the second').toEqual([]);
}

describe.skipIf(SKIP)(
  "Debian trixie's real applications, configured as Tails 7, through the shipped profiles on a private Tor network",
  () => {
    it.each(CASES)(
      '$title',
      async (c) => {
        const plan = await explain(c.profile, c.args(0));
        const launches: StreamRecord[][] = [];
        for (const i of [0, 1]) {
          // What an earlier run of a kept image left.
          await asUser(['sh', '-c', `rm -rf ${HOME}/*-${i} ${HOME}/*-${i}.txt`]);
          let result: RunResult | undefined;
          const {
            packets,
            seen,
            result: streams,
          } = await trapped(() =>
            streamsDuring(async () => {
              const launch = async () => {
                result = await tl([c.profile, '--', ...c.args(i)]);
              };
              // git: where its host name is not in /etc/hosts, the case its profile is made for.
              await (c.profile === 'git' ? withoutOwnName(launch) : launch());
            }),
          );
          await c.check(result!, i);
          expect({ packets, seen }, 'packets that skipped Tor').toEqual({ packets: 0, seen: [] });
          // The launcher's preflight (a SOCKS5 greeting and authentication, no
          // request) is a connection tor reports as a stream to ":0" that never
          // gets a circuit; everything else is the application's.
          const preflight = streams.filter((s) => s.target === ':0');
          expect(preflight.map((s) => s.circuit)).toEqual(preflight.map(() => null));
          const requests = streams.filter((s) => s.target !== ':0');
          expect(requests.length, 'the launch reached its server through Tor').toBeGreaterThan(0);
          expect(
            requests.map((s) => s.target),
            'every stream of the launch goes to its server',
          ).toEqual(requests.map(() => c.target));
          for (const s of requests) {
            expect(s.circuit, `stream ${s.id} succeeded`).not.toBeNull();
            expectTorSaw(s, plan.torSees, c.profile);
          }
          launches.push(requests);
        }
        expectCircuitsAsClaimed(launches[0]!, launches[1]!, plan.torSees);
      },
      240_000,
    );

    it("CONTROL: git without the profile's identity (the default profile: torsocks alone) asks Tor for the machine's own name", async () => {
      await asUser(['rm', '-rf', `${HOME}/control-clone`]);
      const streams = await streamsDuring(() =>
        withoutOwnName(async () => {
          const r = await tl([
            'default',
            '--',
            'git',
            'clone',
            '-q',
            url(PORT.gitHttp, '/repo.git'),
            `${HOME}/control-clone`,
          ]);
          expect(r.exitCode, r.stderr).toBe(0);
        }),
      );
      expect(streams.map((s) => s.target.replace(/:\d+$/, ''))).toContain(hostname);
    }, 60_000);

    it('CONTROL: the trap counts the same applications run directly (no launcher): wget, git, whois', async () => {
      const { packets, seen } = await trapped(async () => {
        await asUser(['wget', '-q', '-O', '/dev/null', '--timeout', '3', '--tries', '1', url(PORT.wget, '/file.txt')]);
        await asUser(['whois', '-h', 'whois.example.org', 'example.org'], 20_000);
      });
      expect(packets).toBeGreaterThan(0);
      expect(seen).toContain(`${TARGET_ADDRESS} tcp ${PORT.wget}`);
      expect(seen).toContain(`${DNS_TRAP} udp 53`);
    }, 60_000);
  },
);

// ---- applications with windows ---------------------------------------------

/** The X server (Xvfb, as root in the image: its socket in the image's /tmp/.X11-unix). */
const DISPLAY = ':7';

/** Waits until PATH (in the image) exists: the socket of a server WHAT started, 15 s at most. */
async function waitForPath(path: string, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!existsSync(image.path(path))) {
    if (Date.now() > deadline) throw new Error(`${what} did not start`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function startX(): Promise<void> {
  image.start(['Xvfb', DISPLAY, '-nolisten', 'tcp']);
  await waitForPath(`/tmp/.X11-unix/X${DISPLAY.slice(1)}`, 'Xvfb');
}

/** The connections SERVICE's server saw since index FROM. */
const connectionsTo = (service: string, from: number) => connections.slice(from).filter((c) => c.service === service);

/**
 * `tails-launch PROFILE -- ARGS` as amnesia in the session (ENV on top),
 * left running until UNTIL holds (at least LEAST ms, at most MOST ms), then
 * SIGTERM to its PID (the application's: the launcher exec'd it, or its
 * jail's helper, which passes it on). Its output and how it ended.
 */
async function runWindowed(
  profile: string,
  args: string[],
  env: Record<string, string>,
  until: () => boolean,
  { least = 3000, most = 60_000 } = {},
): Promise<{ output: string; code: number | null; signal: NodeJS.Signals | null; untilHeld: boolean }> {
  const child = image.spawn(['tails-launch', profile, '--', ...args], {
    user: true,
    env: { ...SESSION, ...env },
    cwd: DOWNLOADS,
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  let exited = false;
  void ended.then(() => (exited = true));
  const start = Date.now();
  while (!exited && Date.now() - start < most && !(Date.now() - start >= least && until()))
    await new Promise((r) => setTimeout(r, 100));
  const untilHeld = until();
  if (!exited) child.kill('SIGTERM');
  const late = setTimeout(() => child.kill('SIGKILL'), 10_000);
  const end = await ended;
  clearTimeout(late);
  return { output, ...end, untilHeld };
}

/** Tails 7's I/etc/skel/.purple/prefs.xml, its network and proxy parts (socks5 127.0.0.1:9050, no credentials, no UPnP). */
const pidginPrefs = (upnp: boolean) => `<?xml version='1.0' encoding='UTF-8' ?>
<pref version='1' name='/'>
	<pref name='purple'>
		<pref name='network'>
			<pref name='auto_ip' type='bool' value='${upnp ? 1 : 0}'/>
			<pref name='map_ports' type='bool' value='${upnp ? 1 : 0}'/>
			<pref name='ports_range_use' type='bool' value='0'/>
			<pref name='stun_server' type='string' value=''/>
		</pref>
		<pref name='proxy'>
			<pref name='type' type='string' value='socks5'/>
			<pref name='host' type='string' value='127.0.0.1'/>
			<pref name='port' type='int' value='9050'/>
			<pref name='username' type='string' value=''/>
			<pref name='password' type='string' value=''/>
			<pref name='socks4_remotedns' type='bool' value='1'/>
		</pref>
	</pref>
</pref>
`;

/** An XMPP account whose server is ours, logged in at start. */
const PIDGIN_ACCOUNTS = `<?xml version='1.0' encoding='UTF-8' ?>
<account version='1.0'>
 <account>
  <protocol>prpl-jabber</protocol>
  <name>amnesia@chat.example/Tails</name>
  <password>secret</password>
  <settings>
   <setting name='connect_server' type='string'>${TARGET_ADDRESS}</setting>
   <setting name='port' type='int'>${PORT.xmpp}</setting>
  </settings>
  <settings ui='gtk-gaim'>
   <setting name='auto-login' type='bool'>1</setting>
  </settings>
 </account>
</account>
`;

async function pidginSettings(upnp: boolean): Promise<void> {
  await asUser(['sh', '-c', `rm -rf ${HOME}/.purple && mkdir -m 0700 ${HOME}/.purple`]);
  for (const [file, text] of [
    ['prefs.xml', pidginPrefs(upnp)],
    ['accounts.xml', PIDGIN_ACCOUNTS],
  ] as const) {
    writeFileSync(image.path(`${HOME}/.purple/${file}`), text, { mode: 0o600 });
    await image.must(['chown', 'amnesia:amnesia', `${HOME}/.purple/${file}`]);
  }
}

describe.skipIf(SKIP)('Pidgin (trixie), X11 on Xvfb, through the shipped profile', () => {
  it.each([false, true])(
    "Tails' prefs (UPnP and IP autodetection %s): its XMPP connection reaches the server through Tor as explain says; 0 packets skip Tor",
    async (upnp) => {
      const plan = await explain('pidgin');
      // Off Tails nothing but the jail holds a program that connects by itself (Tails: its ferm).
      expect(plan.guard.kind).toBe('jail');
      const launches: StreamRecord[][] = [];
      for (const i of [0, 1]) {
        await pidginSettings(upnp);
        const from = connections.length;
        const { packets, seen, result } = await trapped(() =>
          streamsDuring(async () => {
            const run = await runWindowed('pidgin', [], { DISPLAY }, () => connectionsTo('xmpp', from).length > 0, {
              least: upnp ? 8000 : 2000,
            });
            expect(run.untilHeld, `Pidgin reached its server (launch ${i}):\n${run.output}`).toBe(true);
          }),
        );
        // Its first bytes: the XML declaration of its XMPP stream.
        expect(connectionsTo('xmpp', from)[0]?.request).toMatch(/^<\?xml version=/);
        expect({ packets, seen }, 'packets that skipped Tor').toEqual({ packets: 0, seen: [] });
        const requests = result.filter((s) => s.target !== ':0');
        // One stream, or more when it tries again (our server never answers): all to its server.
        expect(requests.length).toBeGreaterThan(0);
        expect(
          [...new Set(requests.map((s) => s.target))],
          `its streams: ${JSON.stringify(requests.map((s) => [s.target, s.statuses]))}`,
        ).toEqual([`${TARGET_ADDRESS}:${PORT.xmpp}`]);
        for (const s of requests) expectTorSaw(s, plan.torSees, 'pidgin');
        launches.push(requests);
      }
      expectCircuitsAsClaimed(launches[0]!, launches[1]!, plan.torSees);
    },
    180_000,
  );

  it('CONTROL: the same files with UPnP on, Pidgin run directly (no launcher): the trap sees its SSDP search', async () => {
    await pidginSettings(true);
    const { seen } = await trapped(async () => {
      const child = image.spawn(['pidgin'], { user: true, env: { ...SESSION, DISPLAY }, cwd: DOWNLOADS });
      await new Promise((r) => setTimeout(r, 8000));
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    });
    expect(seen).toContain('239.255.255.250 udp 1900');
  }, 60_000);
});

// ---- Electrum ----------------------------------------------------------------

/**
 * Tails 7's I/etc/skel/.electrum/config, the server it is to use here (ours,
 * plain TCP, that one only), and the terms of use accepted (Electrum 4.7+
 * asks once, on the first start, before it goes online).
 */
const ELECTRUM_CONFIG = JSON.stringify(
  {
    terms_of_use_accepted: 1,
    auto_connect: false,
    check_updates: false,
    proxy: 'socks5:localhost:9050',
    server: `${TARGET_ADDRESS}:${PORT.electrum}:t`,
    oneserver: true,
  },
  null,
  4,
);

/** BIP 32's first test vector, as a watch-only wallet: no seed, no password. */
const XPUB =
  'xpub661MyMwAqRbcFtXgS5sYJABqqG9YLmC4Q1Rdap9gSE8NqtwybGhePY2gZ29ESFjqJoCu1Rupje8YtGqsefD265TMg7usUDFdp6W1EGMcet8';

/** Tails' config, and (WALLET) a default wallet made offline through the profile: the GUI then opens it and goes online. */
async function electrumSettings(wallet = false): Promise<void> {
  await asUser(['sh', '-c', `rm -rf ${HOME}/.electrum && mkdir -m 0700 ${HOME}/.electrum`]);
  writeFileSync(image.path(`${HOME}/.electrum/config`), ELECTRUM_CONFIG, { mode: 0o600 });
  await image.must(['chown', 'amnesia:amnesia', `${HOME}/.electrum/config`]);
  if (wallet) {
    // A subcommand that is not gui or daemon: no proxy arguments, and offline (-o) it opens no connection.
    const r = await tl(['electrum', '--', 'restore', '-o', XPUB]);
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
  }
}

/** Electrum's streams in one run: every one to our server, each as explain states. */
function expectElectrumStreams(streams: StreamRecord[], sees: TorSees): StreamRecord[] {
  // Electrum 4.6+ first asks whether its proxy is Tor: a SOCKS RESOLVE of
  // 0.0.0.0, which tor answers itself (no circuit; electrum/network.py).
  const probes = streams.filter((s) => s.target === '0.0.0.0:0');
  expect(probes.map((s) => [s.statuses[0], s.circuit])).toEqual(probes.map(() => ['NEWRESOLVE', null]));
  const requests = streams.filter((s) => s.target !== ':0' && s.target !== '0.0.0.0:0');
  expect(requests.length, 'Electrum reached its server through Tor').toBeGreaterThan(0);
  expect(
    [...new Set(requests.map((s) => s.target))],
    `its streams: ${JSON.stringify(requests.map((s) => [s.target, s.statuses]))}`,
  ).toEqual([`${TARGET_ADDRESS}:${PORT.electrum}`]);
  for (const s of requests) expectTorSaw(s, sees, 'electrum');
  return requests;
}

describe.skipIf(SKIP)('Electrum (trixie-backports, as Tails 7), through the shipped profile', () => {
  it('the GUI (Qt on X11): its server connection goes through Tor with the app group; twice, one circuit; 0 packets skip Tor', async () => {
    const plan = await explain('electrum');
    expect(plan.guard.kind).toBe('jail');
    const launches: StreamRecord[][] = [];
    for (const i of [0, 1]) {
      await electrumSettings(true);
      const from = connections.length;
      const { packets, seen, result } = await trapped(() =>
        streamsDuring(async () => {
          const run = await runWindowed('electrum', [], { DISPLAY }, () => connectionsTo('electrum', from).length > 0, {
            most: 90_000,
          });
          expect(run.untilHeld, `Electrum reached its server (launch ${i}):\n${run.output}`).toBe(true);
        }),
      );
      // Electrum's first words to a server: a TLS ClientHello (4.8's GUI asks for TLS even of a ':t' server).
      expect(connectionsTo('electrum', from)[0]?.request).toMatch(/^\x16\x03|server\.version/);
      expect({ packets, seen }, 'packets that skipped Tor').toEqual({ packets: 0, seen: [] });
      launches.push(expectElectrumStreams(result, plan.torSees));
    }
    expectCircuitsAsClaimed(launches[0]!, launches[1]!, plan.torSees);
  }, 240_000);

  it('subcommands: `daemon` gets the proxy after it and connects; `getinfo` (no proxy) asks that daemon; 0 packets skip Tor', async () => {
    await electrumSettings();
    const plan = await explain('electrum', ['daemon']);
    const from = connections.length;
    const { packets, seen, result } = await trapped(() =>
      streamsDuring(async () => {
        const daemon = runWindowed('electrum', ['daemon'], {}, () => false, { least: 1_000_000, most: 150_000 });
        const deadline = Date.now() + 60_000;
        while (connectionsTo('electrum', from).length === 0 && Date.now() < deadline)
          await new Promise((r) => setTimeout(r, 200));
        expect(connectionsTo('electrum', from).length, 'the daemon reached its server').toBeGreaterThan(0);
        const info = await tl(['electrum', '--', 'getinfo']);
        expect(info.exitCode, `${info.stdout}\n${info.stderr}`).toBe(0);
        // The daemon's own state: the server it was told, through the proxy it was told.
        expect(info.stdout).toContain(TARGET_ADDRESS);
        const stop = await tl(['electrum', '--', 'stop']);
        expect(stop.exitCode, stop.stderr).toBe(0);
        const ended = await daemon;
        expect(ended.code, ended.output).toBe(0);
      }),
    );
    expect({ packets, seen }, 'packets that skipped Tor').toEqual({ packets: 0, seen: [] });
    expectElectrumStreams(result, plan.torSees);
  }, 180_000);
});

// ---- Thunderbird -------------------------------------------------------------

/** The user's Wayland compositor: a headless weston, as amnesia (Tails 7's desktop is Wayland). */
const WAYLAND = 'wayland-1';
let weston: ChildProcess | undefined;

async function startWeston(): Promise<void> {
  if (weston) return;
  weston = image.spawn(['weston', '--backend=headless', `--socket=${WAYLAND}`, '--idle-time=0'], {
    user: true,
    env: SESSION,
  });
  weston.stdout!.resume();
  weston.stderr!.resume();
  await waitForPath(`${SESSION.XDG_RUNTIME_DIR}/${WAYLAND}`, 'weston');
}

const TB_PROFILE = `${HOME}/.thunderbird/profile.default`;

/** An IMAP account on our server, logged in at start, and the update timers sooner (user.js: the user's own prefs, not Tails'). */
const TB_ACCOUNT = [
  ['mail.accountmanager.accounts', '"account1"'],
  ['mail.accountmanager.defaultaccount', '"account1"'],
  ['mail.account.account1.server', '"server1"'],
  ['mail.account.account1.identities', '"id1"'],
  ['mail.identity.id1.useremail', '"amnesia@example.org"'],
  ['mail.server.server1.type', '"imap"'],
  ['mail.server.server1.name', '"test"'],
  ['mail.server.server1.hostname', `"${TARGET_ADDRESS}"`],
  ['mail.server.server1.port', String(PORT.imap)],
  ['mail.server.server1.socketType', '0'],
  ['mail.server.server1.userName', '"amnesia"'],
  ['mail.server.server1.login_at_startup', 'true'],
  ['mail.server.server1.check_new_mail', 'true'],
  ['mail.shell.checkDefaultClient', 'false'],
  // Sooner, not otherwise: the update timers (remote settings' among them) first fire 30 s after
  // the start and then one per 120 s; here 1 s and 1 s, so that the control sees the request.
  ['app.update.timerFirstInterval', '1000'],
  ['app.update.timerMinimumDelay', '1'],
]
  .map(([name, value]) => `user_pref("${name}", ${value});`)
  .join('\n');

/** Tails 7's aa_tails.js (I/etc/thunderbird/pref/), and a fresh profile where Tails keeps it. */
async function thunderbirdSettings(): Promise<void> {
  writeFileSync(
    image.path('/etc/thunderbird/pref/aa_tails.js'),
    readFileSync(new URL('../fixtures/tails7/aa_tails.js', import.meta.url)),
  );
  await asUser(['sh', '-c', `rm -rf ${HOME}/.thunderbird && mkdir -p -m 0700 ${TB_PROFILE}`]);
  writeFileSync(image.path(`${TB_PROFILE}/user.js`), `${TB_ACCOUNT}\n`, { mode: 0o600 });
  await image.must(['chown', 'amnesia:amnesia', `${TB_PROFILE}/user.js`]);
}

/**
 * As on Tails, for BODY: the package's Tails admin layer in /etc/tails-launch
 * (its host_firewall declares Tails' ferm for amnesia), and a firewall that
 * does what ferm does for amnesia here: drops every packet a non-root socket
 * sends off loopback (after the trap has counted it). Both gone afterwards.
 */
async function asOnTails<T>(body: () => Promise<T>): Promise<T> {
  await image.must(['sh', '-c', 'cp -r /usr/share/tails-launch/tails/etc/. /etc/']);
  const nft = (args: string[], input?: string) =>
    execFileSync('ip', ['netns', 'exec', NS, 'nft', ...args], {
      input,
      stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
  nft(
    ['-f', '-'],
    [
      'table inet tl_ferm {',
      '  chain out {',
      '    type filter hook output priority 10; policy accept;',
      '    meta skuid 0 accept',
      '    ip daddr 127.0.0.0/8 accept',
      '    ip6 daddr ::1 accept',
      '    meta skuid != 0 drop',
      '  }',
      '}',
    ].join('\n'),
  );
  try {
    return await body();
  } finally {
    nft(['delete', 'table', 'inet', 'tl_ferm']);
    await image.must([
      'sh',
      '-c',
      'rm -rf /etc/tails-launch /etc/gnupg/gpg.conf /etc/gnupg/gpgsm.conf /etc/gnupg/dirmngr.conf',
    ]);
  }
}

/** Thunderbird's remote settings (services.settings.server's default on Thunderbird). */
const TB_REMOTE_SETTINGS = 'thunderbird-settings.thunderbird.net:443';
/** Its in-app notifications and start page, which Tails' prefs leave on (through Tor). */
const TB_LIVE = 'live.thunderbird.net:443';

describe.skipIf(SKIP)(
  "Thunderbird (trixie's ESR), Wayland, configured as Tails 7 and run as on Tails (its ferm)",
  () => {
    // In a jail (off Tails) Thunderbird finds no network link (only loopback)
    // and never asks for its remote settings at all: the claim is tested
    // where it matters, unjailed behind the firewall, as Tails runs it.
    it('logs in to its IMAP server through Tor as explain says; no remote-settings request; twice, one circuit; 0 packets skip Tor', async () => {
      await startWeston();
      await asOnTails(async () => {
        const plan = await explain('thunderbird', ['--profile', TB_PROFILE]);
        expect(plan.guard.kind).toBe('host');
        const launches: StreamRecord[][] = [];
        for (const i of [0, 1]) {
          await thunderbirdSettings();
          const from = connections.length;
          const { packets, seen, result } = await trapped(() =>
            streamsDuring(async () => {
              const run = await runWindowed(
                'thunderbird',
                ['--profile', TB_PROFILE],
                { WAYLAND_DISPLAY: WAYLAND },
                () => connectionsTo('imap', from).length > 0,
                // Longer than the control takes to ask for the remote settings.
                { least: 30_000, most: 120_000 },
              );
              expect(run.untilHeld, `Thunderbird reached its IMAP server (launch ${i}):\n${run.output}`).toBe(true);
            }),
          );
          expect({ packets, seen }, 'packets that skipped Tor').toEqual({ packets: 0, seen: [] });
          const requests = result.filter((s) => s.target !== ':0');
          const targets = [...new Set(requests.map((s) => s.target))];
          console.log(`thunderbird launch ${i}: streams to ${JSON.stringify(targets)}`);
          expect(targets).toContain(`${TARGET_ADDRESS}:${PORT.imap}`);
          expect(targets.filter((t) => t !== `${TARGET_ADDRESS}:${PORT.imap}` && t !== TB_LIVE)).toEqual([]);
          for (const s of requests) expectTorSaw(s, plan.torSees, 'thunderbird');
          launches.push(requests.filter((s) => s.target === `${TARGET_ADDRESS}:${PORT.imap}`));
        }
        expectCircuitsAsClaimed(launches[0]!, launches[1]!, plan.torSees);
      });
    }, 360_000);

    it("CONTROL: run directly with Tails' prefs but without MOZ_REMOTE_SETTINGS_DEVTOOLS, it asks for its remote settings", async () => {
      await startWeston();
      await thunderbirdSettings();
      const { result: streams, seen } = await asOnTails(() =>
        trapped(() =>
          streamsDuring(async () => {
            const child = image.spawn(['thunderbird', '--profile', TB_PROFILE], {
              user: true,
              env: { ...SESSION, WAYLAND_DISPLAY: WAYLAND, MOZ_ENABLE_WAYLAND: '1' },
              cwd: DOWNLOADS,
            });
            child.stdout!.resume();
            child.stderr!.resume();
            const started = Date.now();
            const asked = () => [...watcher!.streams.values()].some((s) => s.target === TB_REMOTE_SETTINGS);
            while (Date.now() - started < 30_000 && !asked()) await new Promise((r) => setTimeout(r, 200));
            // What it does once that request has failed (the exit cannot resolve the name).
            await new Promise((r) => setTimeout(r, 5000));
            child.kill('SIGTERM');
            await new Promise((r) => child.once('exit', r));
          }),
        ),
      );
      console.log(
        `thunderbird without MOZ_REMOTE_SETTINGS_DEVTOOLS: streams to ${JSON.stringify([...new Set(streams.map((s) => s.target))])}; the trap saw ${JSON.stringify(seen)}`,
      );
      expect(streams.map((s) => s.target)).toContain(TB_REMOTE_SETTINGS);
    }, 120_000);
  },
);

// ---- OnionShare ----------------------------------------------------------------

/** Tails 7's I/etc/skel/.config/onionshare/onionshare.json (its Tor part), with the password our tor takes. */
const ONIONSHARE_SETTINGS = JSON.stringify({
  version: '2.2',
  connection_type: 'control_port',
  control_port_address: '127.0.0.1',
  control_port_port: 951,
  socks_address: '127.0.0.1',
  socks_port: 9050,
  socket_file_path: '/var/run/tor/control',
  auth_type: 'password',
  auth_password: 'passwd',
  close_after_first_download: true,
  use_autoupdate: false,
  data_dir: DOWNLOADS,
  auto_connect: true,
  bridges_enabled: false,
});

describe.skipIf(SKIP)(
  "OnionShare's command line (trixie), configured as Tails 7 and run as on Tails (its ferm)",
  () => {
    it('off Tails (no firewall declared) it is refused, one line: no jail can run it', async () => {
      const r = await tl(['onionshare-cli', '--', '--public', `${HOME}/share.txt`]);
      expect(r.exitCode).toBe(77);
      expect(r.stderr).toMatch(/^tails-launch: no guard for profile 'onionshare-cli': no jail can run its program/);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    });

    it('shares a file over an onion service that a visitor fetches; its own settings: no SOCKS credentials; 0 packets skip Tor', async () => {
      await asUser(['sh', '-c', `rm -rf ${HOME}/.config/onionshare && mkdir -p ${HOME}/.config/onionshare`]);
      writeFileSync(image.path(`${HOME}/.config/onionshare/onionshare.json`), ONIONSHARE_SETTINGS, { mode: 0o600 });
      writeFileSync(image.path(`${HOME}/share.txt`), 'shared over an onion service\n');
      await image.must(['chown', '-R', 'amnesia:amnesia', `${HOME}/.config`, `${HOME}/share.txt`]);
      await asOnTails(async () => {
        const plan = await explain('onionshare-cli', ['--public', `${HOME}/share.txt`]);
        expect(plan.guard.kind).toBe('host');
        expect(plan.torSees.credentials.kind).toBe('application');
        const { packets, seen, result } = await trapped(async () => {
          const child = image.spawn(['tails-launch', 'onionshare-cli', '--', '--public', `${HOME}/share.txt`], {
            user: true,
            env: SESSION,
            cwd: DOWNLOADS,
          });
          let output = '';
          child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
          child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
          try {
            const deadline = Date.now() + 180_000;
            let onion: string | undefined;
            while (!(onion = /http:\/\/([a-z2-7]{56}\.onion)/.exec(output)?.[1]) && Date.now() < deadline)
              await new Promise((r) => setTimeout(r, 250));
            expect(onion, `OnionShare printed its address:\n${output}`).toBeDefined();
            // A visitor elsewhere on Tor (root here: the trap counts the applications' users only).
            let fetched: RunResult | undefined;
            for (let attempt = 0; attempt < 6; attempt++) {
              fetched = await image.run(
                ['curl', '-sS', '--max-time', '60', '--socks5-hostname', '127.0.0.1:9050', `http://${onion}/download`],
                { timeout: 90_000 },
              );
              if (fetched.exitCode === 0) break;
              await new Promise((r) => setTimeout(r, 5000));
            }
            return { fetched: fetched!, output };
          } finally {
            child.kill('SIGTERM');
            await new Promise((r) => child.once('exit', r));
          }
        });
        expect(result.fetched.exitCode, `${result.fetched.stderr}\n${result.output}`).toBe(0);
        expect(result.fetched.stdout).toBe('shared over an onion service');
        expect({ packets, seen }, 'packets that skipped Tor').toEqual({ packets: 0, seen: [] });
      });
    }, 400_000);
  },
);

// ---- Onion Circuits and Tor Connection: the control port only, through onion-grater ----

/**
 * Tails' onion-grater (test/fixtures/tails7/onion-grater, unchanged) in
 * front of the client's ControlPort 127.0.0.1:9052 with its cookie, as
 * Tails' onion-grater.service runs it (root), reading the filters the
 * package ships for Tails (copied to /etc/onion-grater.d as Tails' build
 * copies them). Tails listens on 0.0.0.0:951; here our tor has
 * 127.0.0.1:951 (OnionShare's stand-in for onion-grater), so one instance
 * listens on each namespace's host end. Its --debug log holds every command
 * and answer, by client and filter.
 */
const graters: ChildProcess[] = [];
let graterLog = '';
const LOOPBACK_GRATER_PORT = '952';
/**
 * onion-grater, unchanged, with one difference a kernel makes: it knows a
 * loopback client by /proc/PID/attr/current, which on Tails (AppArmor on)
 * reads "unconfined" for a process without a profile, and then takes its
 * /proc/PID/exe. This machine's kernel has no AppArmor and answers EINVAL
 * to that read: this shim gives the exe for that error, as AppArmor's
 * "unconfined" would. Arguments: the script, then onion-grater's own.
 */
const APPARMOR_FALLBACK = [
  'import sys, psutil',
  'path = sys.argv[1]',
  "g = {'__name__': 'onion_grater', '__file__': path}",
  "exec(compile(open(path).read(), path, 'exec'), g)",
  "profile_of = g['apparmor_profile_of_pid']",
  'def aa(pid):',
  '    try:',
  '        return profile_of(pid)',
  '    except OSError:',
  '        return psutil.Process(pid).exe()',
  "g['apparmor_profile_of_pid'] = aa",
  'sys.argv = sys.argv[1:]',
  "g['main']()",
].join('\n');
async function startOnionGraters(): Promise<void> {
  if (graters.length) return;
  for (const ns of ['onioncircs', 'tca']) await image.must(['tails-launch', 'netns', 'setup', ns]);
  await image.must([
    'sh',
    '-c',
    'rm -rf /etc/onion-grater.d && cp -r /usr/share/tails-launch/tails/etc/onion-grater.d /etc/',
  ]);
  image.copyIn(
    fileURLToPath(new URL('../fixtures/tails7/onion-grater', import.meta.url)),
    '/usr/local/lib/onion-grater',
  );
  // The client's cookie where onion-grater (in the image) reads it: the same path as on the host.
  image.copyIn(network!.cookieFile, network!.cookieFile);
  // The third, on the image's loopback, for amnesia's own programs (tails-launch circuits): Tails' is on
  // 0.0.0.0:951, whose 127.0.0.1:951 our tor holds here (OnionShare's stand-in), so it listens on 952.
  for (const [address, port] of [
    ['10.200.1.5', '951'],
    ['10.200.1.9', '951'],
    ['127.0.0.1', LOOPBACK_GRATER_PORT],
  ]) {
    const grater = image.spawn([
      'python3',
      '-Iu',
      ...(address === '127.0.0.1' ? ['-c', APPARMOR_FALLBACK] : []),
      '/usr/local/lib/onion-grater',
      '--listen-address',
      address!,
      '--listen-port',
      port!,
      '--control-cookie-path',
      network!.cookieFile,
      '--debug',
    ]);
    grater.stdout!.on('data', (d: Buffer) => (graterLog += d.toString()));
    grater.stderr!.on('data', (d: Buffer) => (graterLog += d.toString()));
    graters.push(grater);
  }
  const deadline = Date.now() + 30_000;
  while ((graterLog.match(/Tor control port filter started/g) ?? []).length < 3) {
    if (Date.now() > deadline) throw new Error(`onion-grater did not start:\n${graterLog}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Lines CLIENT (its namespace's address) sent onion-grater since FROM, and what became of them. */
const graterLines = (client: string, from: number) =>
  graterLog
    .slice(from)
    .split('\n')
    .filter((l) => l.startsWith(`${client}:`));

/**
 * Speaks the control protocol from inside network namespace NS as amnesia,
 * to 127.0.0.1:951 (onion-grater, by the namespace's redirection): LINES
 * after AUTHENTICATE; every reply line.
 */
async function controlFrom(ns: string, lines: string[]): Promise<string> {
  const script = [
    'import socket, sys',
    's = socket.create_connection(("127.0.0.1", 951), timeout=10)',
    'f = s.makefile("rwb")',
    'for line in ["AUTHENTICATE"] + sys.argv[1:] + ["QUIT"]:',
    '    f.write(line.encode() + b"\\r\\n"); f.flush()',
    '    while True:',
    '        reply = f.readline().decode().rstrip()',
    '        print(reply)',
    '        if not reply or reply[3] == " ": break',
  ].join('\n');
  const r = await image.run([
    'ip',
    'netns',
    'exec',
    ns,
    'setpriv',
    '--reuid=1000',
    '--regid=1000',
    '--init-groups',
    'python3',
    '-c',
    script,
    ...lines,
  ]);
  return `${r.stdout}${r.stderr}`;
}

describe.skipIf(SKIP)(
  "Onion Circuits (trixie) and Tor Connection: the control port only, through Tails' onion-grater and the filters the package ships",
  () => {
    it("Onion Circuits in netns onioncircs reads Tor's circuits through its filter, nothing refused; explain: no SOCKS session", async () => {
      await startOnionGraters();
      const plan = (await explain('onion-circuits')) as unknown as Plan;
      expect(plan.torSees.credentials.kind).toBe('control');
      expect(plan.controlFilter?.hosts).toEqual(['10.200.1.6']);
      const from = graterLog.length;
      const asked = () => {
        const lines = graterLines('10.200.1.6', from);
        return (
          lines.some((l) => /: -> GETINFO circuit-status$/.test(l)) &&
          lines.some((l) => /: -> SETEVENTS .*\bCIRC\b/.test(l))
        );
      };
      await startWeston();
      const run = await runWindowed('onion-circuits', [], { WAYLAND_DISPLAY: WAYLAND }, asked, {
        least: 3000,
        most: 90_000,
      });
      const lines = graterLines('10.200.1.6', from);
      expect(run.untilHeld, `Onion Circuits asked for the circuits:\n${run.output}\n${lines.join('\n')}`).toBe(true);
      // The filter that matched is the package's file (Tails' name for it), and it refused nothing.
      expect(readFile('/etc/onion-grater.d/onioncircuits.yml')).toContain("tails-launch's profile 'onion-circuits'");
      expect(lines.join('\n')).toMatch(
        /^10\.200\.1\.6:\d+ \(filter: onioncircuits\) connected: loaded filter: onioncircuits$/m,
      );
      expect(
        lines.filter((l) => l.includes('command filtered')),
        'commands refused',
      ).toEqual([]);
      console.log(`onion-circuits asked onion-grater:\n${lines.filter((l) => / -> /.test(l)).join('\n')}`);
    }, 180_000);

    it('CONTROL: from the same namespace, what the filter does not list is refused (510), what it lists is answered', async () => {
      await startOnionGraters();
      const out = await controlFrom('onioncircs', ['GETINFO version', 'GETCONF SocksPort', 'SETCONF DisableNetwork=1']);
      expect(out).toMatch(/^250-version=/m);
      expect(out.match(/^510 Command filtered$/gm), out).toHaveLength(2);
    });

    it('CONTROL: the namespace holds the rest: no SocksPort, no server, no other control port from onioncircs', async () => {
      const r = await image.run([
        'ip',
        'netns',
        'exec',
        'onioncircs',
        'setpriv',
        '--reuid=1000',
        '--regid=1000',
        '--init-groups',
        'sh',
        '-c',
        `for t in 127.0.0.1:9050 ${TARGET_ADDRESS}:${PORT.curl} 10.200.1.5:9052; do curl -s -o /dev/null --max-time 5 http://$t/ ; echo "$t $?"; done`,
      ]);
      // 7: refused (nothing there in the namespace), 28: timed out (dropped): never 0 or 52 (something answered).
      for (const line of r.stdout.trim().split('\n')) expect(line).toMatch(/ (7|28)$/);
    });

    it("Tor Connection (a stand-in for Tails' tca, which no Debian package has): root's launch, as amnesia in netns tca, with the descriptor Tails' wrapper opened; its filter lets it read the bootstrap and set DisableNetwork, nothing else", async () => {
      await startOnionGraters();
      // What tca/torutils.py asks (Tails 7.6.2): GETINFO status/bootstrap-phase, SETCONF DisableNetwork.
      const standIn = [
        '#!/usr/bin/python3',
        '# Stand-in for Tails tca/application.py: the control-port requests of tca/torutils.py.',
        'import os, stem.control',
        'print("uid", os.getuid(), "state", os.read(3, 100).decode().strip())',
        'c = stem.control.Controller.from_port(os.environ["TOR_CONTROL_ADDRESS"], int(os.environ["TOR_CONTROL_PORT"]))',
        'c.authenticate()',
        'print("bootstrap", c.get_info("status/bootstrap-phase"))',
        'c.set_conf("DisableNetwork", "0")',
        'print("DisableNetwork set")',
        'try:',
        '    c.get_conf("SocksPort")',
        '    print("SocksPort read")',
        'except Exception as e:',
        '    print("SocksPort refused:", e)',
      ].join('\n');
      const path = '/usr/lib/python3/dist-packages/tca/application.py';
      mkdirSync(image.path('/usr/lib/python3/dist-packages/tca'), { recursive: true });
      writeFileSync(image.path(path), `${standIn}\n`, { mode: 0o755 });
      const from = graterLog.length;
      const r = await image.run([
        'sh',
        '-c',
        // Tails' /usr/local/bin/tca, its first half: the state file as descriptor 3 (inherit-fd), then the launcher.
        'mkdir -p -m 0700 /run/tca && echo tca-state > /run/tca/tca.state && exec 3</run/tca/tca.state && exec tails-launch tor-connection',
      ]);
      const lines = graterLines('10.200.1.10', from);
      expect(r.exitCode, `${r.stdout}\n${r.stderr}\n${lines.join('\n')}`).toBe(0);
      expect(r.stdout).toMatch(/^uid 1000 state tca-state$/m);
      expect(r.stdout).toMatch(/^bootstrap NOTICE BOOTSTRAP PROGRESS=100 /m);
      expect(r.stdout).toMatch(/^DisableNetwork set$/m);
      expect(r.stdout).toMatch(/^SocksPort refused: [^]*Command filtered$/m);
      expect(lines.join('\n')).toMatch(
        /\(filter: tor-connection-assistant\) connected: loaded filter: tor-connection-assistant$/m,
      );
    }, 120_000);

    it('ATTACK: root handing a directory as descriptor 3 into the jail (it would reach every file under it): refused, one line, nothing runs', async () => {
      const r = await image.run(['sh', '-c', 'exec 3</etc && exec tails-launch tor-connection']);
      expect(r.exitCode).toBe(77);
      expect(r.stderr).toMatch(
        /^tails-launch: descriptor 3, which the profile hands into its jail, is a directory: refusing to launch/,
      );
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stdout).toBe('');
    });
  },
);

describe.skipIf(SKIP)(
  "circuits and new-identity as amnesia, through Tails' onion-grater and the package's tails-launch.yml",
  () => {
    /** ARGV as amnesia with the program onion-grater will see (/usr/bin/node for tails-launch), on Tails' admin layer. */
    const graterClient = (from: number) =>
      graterLog
        .slice(from)
        .split('\n')
        .filter((l) => l.includes('user: amnesia') || l.includes('user: nobody'));
    const onTailsLayer = async () => {
      await image.must(['sh', '-c', 'cp -r /usr/share/tails-launch/tails/etc/. /etc/']);
      // Our tor holds 127.0.0.1:951 (see startOnionGraters): the loopback onion-grater is on 952.
      await image.must([
        'sed',
        '-i',
        `s/^  filtered_address: 127.0.0.1:951$/  filtered_address: 127.0.0.1:${LOOPBACK_GRATER_PORT}/`,
        '/etc/tails-launch/listeners.yml',
      ]);
      expect(readFile('/etc/tails-launch/listeners.yml')).toContain(
        `filtered_address: 127.0.0.1:${LOOPBACK_GRATER_PORT}`,
      );
    };

    it("lists the circuits with curl's launch on the circuit Tor names, closes exactly them, and onion-grater refuses nothing", async () => {
      await startOnionGraters();
      await onTailsLayer();
      try {
        const streams = await streamsDuring(async () => {
          const r = await tl(['curl', '--', '-sS', '--max-time', '60', '-o', '/dev/null', url(PORT.curl, '/file.txt')]);
          expect(r.exitCode, r.stderr).toBe(0);
        });
        const curl = streams.find((s) => s.socksPassword?.startsWith('tails-launch/launch/curl/') && s.circuit);
        expect(curl, JSON.stringify(streams)).toBeDefined();
        const from = graterLog.length;
        const listed = await tl(['circuits', '--json']);
        expect(listed.stderr, graterLog.slice(from)).toBe('');
        expect(listed.exitCode).toBe(0);
        const report = JSON.parse(listed.stdout) as import('../../src/circuits/model').CircuitsReport;
        const group = report.groups.find(
          (g) =>
            g.owner.kind === 'profile' &&
            g.owner.profile === 'curl' &&
            curl!.socksPassword!.endsWith(g.owner.launchKey ?? '-'),
        );
        expect(
          group?.circuits.map((c) => c.id),
          JSON.stringify(report.groups.map((g) => g.label)),
        ).toContain(curl!.circuit);

        const renewed = await tl(['new-identity', 'curl']);
        expect(renewed.stderr).toBe('');
        expect(renewed.exitCode).toBe(0);
        expect(renewed.stdout).toMatch(new RegExp(`^closed circuit ${curl!.circuit} of curl: `, 'm'));
        const after = JSON.parse((await tl(['circuits', '--json', 'curl'])).stdout) as typeof report;
        expect(after.groups.flatMap((g) => g.circuits.map((c) => c.id))).not.toContain(curl!.circuit);

        // --watch: SETEVENTS through the filter, one report per line, ended by SIGINT with status 0.
        const watch = await asUser([
          'timeout',
          '--preserve-status',
          '-s',
          'INT',
          '3',
          'tails-launch',
          'circuits',
          '--watch',
          '--json',
        ]);
        expect(watch.stderr).toBe('');
        expect(watch.exitCode).toBe(0);
        expect(JSON.parse(watch.stdout.trim().split('\n')[0]!)).toMatchObject({ version: 1 });
        const lines = graterClient(from);
        expect(lines.some((l) => / -> SETEVENTS CIRC STREAM$/.test(l))).toBe(true);
        console.log(`tails-launch asked onion-grater:\n${lines.filter((l) => / -> /.test(l)).join('\n')}`);
        // Matched by its user and program, under the package's filter; nothing refused.
        expect(lines.join('\n')).toMatch(
          /^\/usr\/bin\/node \(pid: \d+, user: amnesia, port: \d+, filter: tails-launch\) connected: loaded filter: tails-launch$/m,
        );
        expect(lines.some((l) => / -> CLOSECIRCUIT \d+$/.test(l))).toBe(true);
        expect(lines.filter((l) => l.includes('command filtered'))).toEqual([]);
      } finally {
        await image.must(['rm', '-rf', '/etc/tails-launch']);
      }
    }, 180_000);

    it("the filter is amnesia's node programs': another user, or amnesia's python, is refused; tails-launch says so in one line", async () => {
      await startOnionGraters();
      await onTailsLayer();
      try {
        const other = await image.run([
          'setpriv',
          '--reuid=65534',
          '--regid=65534',
          '--clear-groups',
          'env',
          'HOME=/nonexistent',
          'tails-launch',
          'circuits',
        ]);
        expect(other.exitCode).toBe(77);
        expect(other.stdout).toBe('');
        expect(other.stderr.trim().split('\n'), other.stderr).toHaveLength(1);
        expect(other.stderr).toMatch(/510 Command filtered -> .*onion-grater\.d\/tails-launch\.yml/);
        const script = [
          'import socket',
          `s = socket.create_connection(("127.0.0.1", ${LOOPBACK_GRATER_PORT}), timeout=10)`,
          'f = s.makefile("rwb")',
          'for line in ["AUTHENTICATE", "GETINFO circuit-status", "QUIT"]:',
          '    f.write(line.encode() + b"\\r\\n"); f.flush()',
          '    print(f.readline().decode().rstrip())',
        ].join('\n');
        const python = await asUser(['python3', '-c', script]);
        expect(python.stdout.split('\n')[1]).toBe('510 Command filtered');
      } finally {
        await image.must(['rm', '-rf', '/etc/tails-launch']);
      }
    });
  },
);

// ---- GnuPG -------------------------------------------------------------------

/** The image's dirmngr processes: their command lines. */
function dirmngrs(): string[] {
  return image
    .pidsOf('/usr/bin/dirmngr')
    .map((pid) => readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').filter(Boolean).join(' '));
}

/**
 * Our keyserver as an onion service, as Tails' keyserver is one
 * (I/etc/skel/.gnupg/dirmngr.conf: hkp://zkaan...onion): ADD_ONION on the
 * client's control port, its virtual port 11371 to our server. Once.
 */
let keyserverOnion: string | undefined;
async function onionKeyserver(): Promise<string> {
  if (keyserverOnion) return keyserverOnion;
  const control = await ControlConnection.connect({ kind: 'unix', path: network!.controlSocket }, { timeoutMs: 5000 });
  try {
    await control.authenticate({ kind: 'cookie', file: network!.cookieFile });
    const reply = await control.send(
      `ADD_ONION NEW:ED25519-V3 Flags=DiscardPK,Detach Port=${PORT.hkp},${TARGET_ADDRESS}:${PORT.hkp}`,
    );
    const id = reply.lines.map((l) => /^ServiceID=([a-z2-7]{56})$/.exec(l.text)?.[1]).find(Boolean);
    if (reply.status !== 250 || !id)
      throw new Error(`ADD_ONION: ${reply.status} ${reply.lines.map((l) => l.text).join(' ')}`);
    // Published and reachable before any test counts on it: a fetch through Tor (as root) answers.
    const deadline = Date.now() + 120_000;
    for (;;) {
      const r = await image.run(
        [
          'curl',
          '-s',
          '-o',
          '/dev/null',
          '--max-time',
          '20',
          '--socks5-hostname',
          '127.0.0.1:9050',
          `http://${id}.onion:${PORT.hkp}/`,
        ],
        { timeout: 30_000 },
      );
      if (r.exitCode === 0) break;
      if (Date.now() > deadline) throw new Error(`the keyserver's onion service is not reachable: curl ${r.exitCode}`);
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
    keyserverOnion = `${id}.onion`;
    return keyserverOnion;
  } finally {
    control.close();
  }
}

/** `gpg --recv-keys` of our key from our keyserver (an onion service), as amnesia with a fresh ~/.gnupg; dirmngr killed after. */
async function receiveKey(): Promise<{ result: RunResult; started: string[] }> {
  const keyserver = `hkp://${await onionKeyserver()}`;
  await asUser([
    'sh',
    '-c',
    `gpgconf --kill dirmngr; rm -rf ${HOME}/.gnupg /tmp/dirmngr.log && mkdir -m 0700 ${HOME}/.gnupg && printf 'log-file /tmp/dirmngr.log\\n' > ${HOME}/.gnupg/dirmngr.conf`,
  ]);
  try {
    const result = await asUser(['gpg', '--batch', '--keyserver', keyserver, '--recv-keys', keyFingerprint]);
    const log = existsSync(image.path('/tmp/dirmngr.log')) ? readFileSync(image.path('/tmp/dirmngr.log'), 'utf8') : '';
    return { result: { ...result, stderr: `${result.stderr}\ndirmngr's log:\n${log}` }, started: dirmngrs() };
  } finally {
    await asUser(['gpgconf', '--kill', 'dirmngr']);
  }
}

describe.skipIf(SKIP)(
  "GnuPG (trixie): gpg's own dirmngr, through the launcher where Tails' /etc/gnupg names it",
  () => {
    it("gpg --recv-keys starts dirmngr as `tails-launch gpg-dirmngr` (Tails' gpg.conf); the key comes from our keyserver through Tor; 0 packets skip Tor", async () => {
      await asOnTails(async () => {
        const plan = await explain('gpg-dirmngr', ['--homedir', `${HOME}/.gnupg`, '--daemon']);
        expect(plan.guard.kind).toBe('host');
        await onionKeyserver();
        const from = connections.length;
        let got: Awaited<ReturnType<typeof receiveKey>> | undefined;
        const { packets, seen, result } = await trapped(() =>
          streamsDuring(async () => {
            got = await receiveKey();
          }),
        );
        expect(got!.result.exitCode, got!.result.stderr).toBe(0);
        expect(got!.result.stderr).toContain('imported: 1');
        // The daemon gpg started is the profile's: its --use-tor came from the launcher.
        expect(got!.started).toEqual([`/usr/bin/dirmngr --use-tor --homedir ${HOME}/.gnupg --daemon`]);
        expect(connectionsTo('keys', from).map((c) => c.request)).toEqual([
          expect.stringMatching(new RegExp(`^GET /pks/lookup\\?op=get&options=mr&search=0x${keyFingerprint} `)),
        ]);
        expect({ packets, seen }, 'packets that skipped Tor').toEqual({ packets: 0, seen: [] });
        const requests = result.filter((s) => s.target !== ':0');
        expect([...new Set(requests.map((s) => s.target))]).toEqual([`${keyserverOnion}:${PORT.hkp}`]);
        for (const s of requests) expectTorSaw(s, plan.torSees, 'gpg-dirmngr');
      });
    }, 120_000);

    it("CONTROL: without Tails' /etc/gnupg/gpg.conf, gpg starts dirmngr itself, not through the launcher", async () => {
      await asOnTails(async () => {
        await image.must(['rm', '-f', '/etc/gnupg/gpg.conf']);
        const { started } = await receiveKey();
        expect(started).toHaveLength(1);
        expect(started[0]).toMatch(new RegExp(`dirmngr --homedir ${HOME}/\\.gnupg --daemon$`));
        expect(started[0]).not.toContain('--use-tor');
      });
    }, 120_000);
  },
);

// ---- Totem -------------------------------------------------------------------

/** The user's session bus (dbus-daemon --session, as amnesia): Totem is a GApplication. */
const BUS = `${SESSION.XDG_RUNTIME_DIR}/bus`;
let bus: ChildProcess | undefined;

async function startSessionBus(): Promise<void> {
  if (bus) return;
  bus = image.spawn(['dbus-daemon', '--session', '--nofork', `--address=unix:path=${BUS}`], {
    user: true,
    env: SESSION,
  });
  bus.stdout!.resume();
  bus.stderr!.resume();
  await waitForPath(BUS, 'the session bus');
}

describe.skipIf(SKIP)(
  'Totem (trixie), X11 on Xvfb, through the shipped profile (torsocks, as Tails 7: I/usr/local/bin/totem)',
  () => {
    it('plays a stream from our server through Tor with per-process credentials; two launches, two circuits; 0 packets skip Tor', async () => {
      await startSessionBus();
      const media = url(PORT.media, '/clip.ogg');
      const plan = await explain('totem', [media]);
      expect(plan.guard.kind).toBe('preload');
      const launches: StreamRecord[][] = [];
      for (const i of [0, 1]) {
        const from = connections.length;
        const { packets, seen, result } = await trapped(() =>
          streamsDuring(async () => {
            const run = await runWindowed(
              'totem',
              [media],
              { DISPLAY, DBUS_SESSION_BUS_ADDRESS: `unix:path=${BUS}` },
              () => connectionsTo('media', from).length > 0,
              { least: 3000, most: 60_000 },
            );
            expect(run.untilHeld, `Totem asked our server for the stream (launch ${i}):\n${run.output}`).toBe(true);
          }),
        );
        expect(connectionsTo('media', from)[0]?.request).toMatch(/^GET \/clip\.ogg HTTP\/1\.1$/);
        expect({ packets, seen }, 'packets that skipped Tor').toEqual({ packets: 0, seen: [] });
        const requests = result.filter((s) => s.target !== ':0');
        expect([...new Set(requests.map((s) => s.target))]).toEqual([`${TARGET_ADDRESS}:${PORT.media}`]);
        for (const s of requests) expectTorSaw(s, plan.torSees, 'totem');
        launches.push(requests);
      }
      expectCircuitsAsClaimed(launches[0]!, launches[1]!, plan.torSees);
    }, 180_000);
  },
);

// ---- APT and Flatpak -----------------------------------------------------------

/** APT told to use our repository alone, as a tor+http source (Tails rewrites its sources to tor+https). */
const APT_SOURCES = '/etc/apt/tails-launch-test.list';
const aptArgs = (list: string) => [
  '-o',
  `Dir::Etc::SourceList=${list}`,
  '-o',
  'Dir::Etc::SourceParts=/nonexistent',
  '-o',
  'Dir::State::Lists=/var/lib/apt/tails-launch-test-lists',
  'update',
];

describe.skipIf(SKIP)('APT (trixie, apt-transport-tor) as root, downloading as _apt, as on Tails (its ferm)', () => {
  it("apt-get update from a tor+http source: _apt's streams carry APT's own per-server credentials, as explain says; 0 packets skip Tor", async () => {
    writeFileSync(image.path(APT_SOURCES), `deb [trusted=yes] tor+http://${TARGET_ADDRESS}:${PORT.apt}/ ./\n`);
    await image.must(['mkdir', '-p', '/var/lib/apt/tails-launch-test-lists/partial']);
    await asOnTails(async () => {
      const explained = await image.run(['tails-launch', 'explain', '--json', 'apt', '--', ...aptArgs(APT_SOURCES)]);
      expect(explained.exitCode, explained.stderr).toBe(0);
      const plan = JSON.parse(explained.stdout) as { torSees: TorSees; guard: { kind: string } };
      expect(plan.guard.kind).toBe('host');
      expect(plan.torSees.credentials.kind).toBe('application');
      const from = connections.length;
      const { packets, seen, result } = await trapped(() =>
        streamsDuring(async () => {
          const r = await image.run(['tails-launch', 'apt', '--', ...aptArgs(APT_SOURCES)], { timeout: 120_000 });
          expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
        }),
      );
      expect(connectionsTo('apt', from).map((c) => c.request)).toContainEqual(
        expect.stringMatching(/^GET \/(\.\/)?(InRelease|Release) HTTP\/1\.1$/),
      );
      expect({ packets, seen }, 'packets that skipped Tor').toEqual({ packets: 0, seen: [] });
      const requests = result.filter((s) => s.target !== ':0');
      expect([...new Set(requests.map((s) => s.target))]).toEqual([`${TARGET_ADDRESS}:${PORT.apt}`]);
      for (const s of requests) {
        expect(s.listenerPort).toBe(plan.torSees.port);
        // apt's own (basehttp.cc AddProxyAuth): the user the proxy option names, the server's host name as password.
        expect([s.socksUsername, s.socksPassword]).toEqual(['apt-transport-tor', TARGET_ADDRESS.replace(/\./g, '')]);
      }
    });
  }, 180_000);

  it('CONTROL: the same update from a plain http:// source, without the launcher: _apt connects directly, the trap counts it', async () => {
    const plain = '/etc/apt/tails-launch-test-plain.list';
    writeFileSync(image.path(plain), `deb [trusted=yes] http://${TARGET_ADDRESS}:${PORT.apt}/ ./\n`);
    const { packets, seen } = await trapped(() => image.run(['apt-get', ...aptArgs(plain)], { timeout: 60_000 }));
    expect(packets).toBeGreaterThan(0);
    expect(seen).toContain(`${TARGET_ADDRESS} tcp ${PORT.apt}`);
  }, 90_000);
});

describe.skipIf(SKIP)(
  "Flatpak (trixie), the user's installation, through the shipped profile (env, in its jail)",
  () => {
    it("remote-add fetches the remote's summary through Tor with the launch's credentials; remote-ls, another launch, another circuit; 0 packets skip Tor", async () => {
      await asUser(['sh', '-c', `rm -rf ${HOME}/.local/share/flatpak ${HOME}/.cache/flatpak`]);
      const steps = [
        ['remote-add', '--user', '--no-gpg-verify', 'test', url(PORT.flatpak, '/repo')],
        ['remote-ls', '--user', 'test'],
      ];
      const plan = await explain('flatpak', steps[0]!);
      expect(plan.guard.kind).toBe('jail');
      const launches: StreamRecord[][] = [];
      for (const args of steps) {
        const from = connections.length;
        const { packets, seen, result } = await trapped(() =>
          streamsDuring(async () => {
            const r = await tl(['flatpak', '--', ...args]);
            expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
          }),
        );
        expect(connectionsTo('flatpak', from).map((c) => c.request)).toContainEqual(
          expect.stringMatching(/^GET \/repo\/summary/),
        );
        expect({ packets, seen }, 'packets that skipped Tor').toEqual({ packets: 0, seen: [] });
        const requests = result.filter((s) => s.target !== ':0');
        expect([...new Set(requests.map((s) => s.target))]).toEqual([`${TARGET_ADDRESS}:${PORT.flatpak}`]);
        for (const s of requests) expectTorSaw(s, plan.torSees, 'flatpak');
        launches.push(requests);
      }
      expectCircuitsAsClaimed(launches[0]!, launches[1]!, plan.torSees);
    }, 180_000);
  },
);

// ---- Tor Browser in Flatpak ------------------------------------------------------

/** Tails 7's files for Tor Browser's Flatpak, as written in the image (each from the Tails tree named). */
const TAILS_FLATPAK = {
  // I/etc/flatpak/installations.d/tails.conf
  installation: '[Installation "tails"]\nPath=/var/lib/flatpak-tails/\nDisplayName=Tails internal Flatpaks\n',
  // I/usr/share/tails/build/flatpak/org.boum.tails.Platform/metadata (its [Environment], as Tails has it)
  platform: [
    '[Runtime]',
    'name = org.boum.tails.Platform',
    'runtime = org.boum.tails.Platform/x86_64/stable',
    '',
    '[Environment]',
    'GI_TYPELIB_PATH = /app/lib/girepository-1.0',
    'GST_PLUGIN_SYSTEM_PATH = /app/lib/gstreamer-1.0:/usr/lib/extensions/gstreamer-1.0:/usr/lib/x86_64-linux-gnu/gstreamer-1.0',
    'XDG_DATA_DIRS = /app/share:/usr/share:/usr/share/runtime/share:/run/host/user-share:/run/host/share',
    'ALSA_CONFIG_DIR = /usr/share/alsa',
    'ALSA_CONFIG_PATH = /usr/share/alsa/alsa-flatpak.conf',
    '__EGL_EXTERNAL_PLATFORM_CONFIG_DIRS = /etc/egl/egl_external_platform.d:/usr/lib/x86_64-linux-gnu/GL/egl/egl_external_platform.d:/usr/share/egl/egl_external_platform.d',
    'PYTHONUSERBASE = /var/data/python',
    '',
  ].join('\n'),
  // I/usr/share/tails/build/flatpak/org.boum.tails.TorBrowser/metadata (its [Extension] and [Build]: debug symbols, left out)
  app: [
    '[Application]',
    'name=org.boum.tails.TorBrowser',
    'runtime=org.boum.tails.Platform/x86_64/stable',
    'sdk=org.boum.tails.Platform/x86_64/stable',
    'command=/usr/bin/tor-browser',
    '',
    '[Context]',
    'shared=network;ipc;',
    'sockets=x11;wayland;pulseaudio;fallback-x11;',
    'devices=dri;',
    'filesystems=xdg-config/kdeglobals:ro;',
    '',
    '[Session Bus Policy]',
    'com.canonical.AppMenu.Registrar=talk',
    'org.kde.kconfig.notify=talk',
    'org.kde.KGlobalSettings=talk',
    'org.a11y.Bus=talk',
    '',
    '[Environment]',
    'GTK_USE_PORTAL=1',
    '',
  ].join('\n'),
  // I/var/lib/flatpak/overrides/org.boum.tails.TorBrowser (its settings; Tails' comments left out)
  overrides: [
    '[Context]',
    'filesystems=!host:reset;!host;xdg-run/speech-dispatcher:ro;xdg-documents;xdg-download;xdg-music;xdg-pictures;xdg-videos;/run/tor-has-bootstrapped;~/.mozilla:create;~/.tor-browser:create;',
    'sockets=!x11;!fallback-x11;cups;',
    '',
    '[Session Bus Policy]',
    'com.canonical.AppMenu.Registrar=none',
    'org.kde.kconfig.notify=none',
    'org.kde.KGlobalSettings=none',
    'org.mozilla.firefox.*=own',
    '',
  ].join('\n'),
};

/**
 * The admin layer of a Debian that installs Tails' Flatpak: Debian's flatpak
 * has no --allow=unconfined (Tails' patch, config/chroot_local-packages/
 * flatpak_*tails1*.deb: it lets the app run unconfined by AppArmor), so the
 * administrator drops it; everything else is the shipped profile's.
 */
const TOR_BROWSER_ADMIN = [
  "# Debian's flatpak refuses --allow=unconfined (a Tails patch): the shipped args without it.",
  'extends: tor-browser',
  'args:',
  '  - --installation=tails',
  '  - run',
  '  - --file-forwarding',
  '  - --command=tor-browser',
  '  - org.boum.tails.TorBrowser',
  '',
].join('\n');

/**
 * Tor Browser's Flatpak as Tails 7 makes it: the installation "tails", the
 * runtime org.boum.tails.Platform built empty and its files/ the host's /usr
 * (H/30-flatpak, then at boot I/usr/local/lib/tails-flatpak-runtime --create:
 * an overlay of /usr on the installed runtime's files/), the app
 * org.boum.tails.TorBrowser (Tails' metadata, no files of its own: its
 * command /usr/bin/tor-browser is the runtime's) and Tails' overrides.
 * Without flatpak-builder: build-export of the two directories H/30-flatpak
 * and flatpak-builder make. The stand-ins of /usr/bin/tor-browser and
 * firefox.real in /usr (so in the runtime).
 */
async function provisionTorBrowser(): Promise<void> {
  const files: [string, string][] = [
    ['/etc/flatpak/installations.d/tails.conf', TAILS_FLATPAK.installation],
    ['/var/lib/flatpak/overrides/org.boum.tails.TorBrowser', TAILS_FLATPAK.overrides],
    ['/var/cache/tails-launch-test/flatpak/platform.metadata', TAILS_FLATPAK.platform],
    ['/var/cache/tails-launch-test/flatpak/app.metadata', TAILS_FLATPAK.app],
    ['/etc/tails-launch/profiles/tor-browser.yml', TOR_BROWSER_ADMIN],
  ];
  for (const [path, text] of files) {
    mkdirSync(image.path(join(path, '..')), { recursive: true });
    writeFileSync(image.path(path), text);
  }
  const fixture = (name: string) => new URL(`../fixtures/tails7/${name}`, import.meta.url).pathname;
  image.copyIn(fixture('tor-browser'), '/usr/bin/tor-browser');
  image.copyIn(fixture('firefox-stand-in'), '/usr/local/lib/tails-launch-test/firefox-stand-in');
  const runtimeFiles = '/var/lib/flatpak-tails/runtime/org.boum.tails.Platform/$(uname -m)/stable/active/files';
  const overlay = '/run/tails-flatpak-runtime-overlay';
  await image.must(
    [
      'sh',
      '-c',
      [
        'set -e',
        'chmod 0755 /usr/bin/tor-browser /usr/local/lib/tails-launch-test/firefox-stand-in',
        'm=/var/cache/tails-launch-test/flatpak',
        'rm -rf $m/repo $m/platform $m/app',
        'ostree init --mode archive-z2 --repo=$m/repo',
        // A runtime's build directory has usr/ (H/30-flatpak makes it; build-export reads it).
        'mkdir -p $m/platform/export $m/platform/files $m/platform/usr $m/app/export $m/app/files',
        'cp $m/platform.metadata $m/platform/metadata',
        'cp $m/app.metadata $m/app/metadata',
        // Tails' metadata names x86_64 (its refs, its multiarch paths): this machine's architecture instead.
        'sed -i "s/x86_64/$(uname -m)/g" $m/platform/metadata $m/app/metadata',
        'flatpak build-export $m/repo $m/platform stable >/dev/null',
        'flatpak build-export $m/repo $m/app stable >/dev/null',
        'flatpak --installation=tails remote-delete --force platform-origin 2>/dev/null || true',
        'flatpak --installation=tails remote-add --no-gpg-verify platform-origin $m/repo',
        'flatpak --installation=tails install --reinstall --noninteractive -y platform-origin org.boum.tails.Platform org.boum.tails.TorBrowser',
        'flatpak --installation=tails remote-delete --force platform-origin',
        // I/usr/local/lib/tails-flatpak-runtime --create (in the image's mount namespace: gone with it).
        `rm -rf ${overlay} && install -d ${overlay}/upper/usr ${overlay}/work/usr`,
        `mount -t overlay overlay -o lowerdir=/usr,upperdir=${overlay}/upper/usr,workdir=${overlay}/work/usr ${runtimeFiles}`,
        `install --mode=0644 /dev/null ${runtimeFiles}/.ref`,
        // The grants, with the admin layer's profile.
        'tails-launch grants --write >/dev/null',
      ].join('\n'),
    ],
    { net: false, timeout: 180_000 },
  );
}

/**
 * Netns tbb as Tails makes it (the package's `netns setup`: veth-tbb
 * 10.200.1.1/30, inside 127.0.0.1:9050 redirected there), and the client's
 * SocksPorts as `tails-launch torrc` prints them: Tails' three and the
 * browser listener 10.200.1.1:9050 (SETCONF SocksPort replaces them all).
 */
async function setUpTbb(): Promise<void> {
  await image.must(['tails-launch', 'netns', 'setup', 'tbb']);
  const torrc = await image.must(['tails-launch', 'torrc']);
  const lines = torrc
    .split('\n')
    .filter((l) => l.startsWith('SocksPort '))
    .map((l) => l.slice('SocksPort '.length));
  const control = await ControlConnection.connect({ kind: 'unix', path: network!.controlSocket }, { timeoutMs: 5000 });
  try {
    await control.authenticate({ kind: 'cookie', file: network!.cookieFile });
    const before = await control.getConf('SocksPort');
    // What the client has (Tails' three), and the browser's added: all `torrc` prints.
    expect(before).toEqual(Object.values(TAILS_SOCKS_PORTS).map((l) => l.slice('SocksPort '.length)));
    expect(lines).toEqual([...before, '10.200.1.1:9050 IsolateSOCKSAuth KeepAliveIsolateSOCKSAuth ExtendedErrors']);
    const reply = await control.send(`SETCONF ${lines.map((l) => `SocksPort="${l}"`).join(' ')}`);
    expect(reply.status, reply.lines.map((l) => l.text).join(' ')).toBe(250);
  } finally {
    await control.quit();
  }
  // A trap in tbb too (NS's does not see tbb's sockets): every packet a user's socket sends there but to
  // loopback and the browser listener, counted before tbb's own firewall (priority 0) refuses it.
  addTrap(image.netnsPath('tbb'), { priority: -10, allow: ['ip daddr 10.200.1.1 tcp dport 9050'] });
}

/** The stand-in's report of one launch: the Flatpak it ran in, the credentials it sent, the pages. */
function standInSaw(stdout: string): { flatpak: string[]; credentials: { username: string; password: string }[] } {
  const lines = stdout.split('\n');
  return {
    flatpak: lines.filter((l) => l.startsWith('flatpak-')),
    credentials: lines
      .filter((l) => l.startsWith('socks-credentials: '))
      .map((l) => {
        const [username, password] = l.slice('socks-credentials: '.length).split(' ');
        return { username: username!, password: password! };
      }),
  };
}

describe.skipIf(SKIP)(
  'Tor Browser as Tails 7 starts it: `flatpak run` of org.boum.tails.TorBrowser in netns tbb as amnesia, through the shipped profile',
  () => {
    // Tor Browser is not in Debian: /usr/bin/tor-browser and firefox.real are
    // STAND-INS (test/fixtures/tails7/tor-browser, firefox-stand-in) that do
    // what Tails' script and Tor Browser do on the network. Everything around
    // them is real: Debian's flatpak and bubblewrap run them in a Flatpak
    // sandbox made as Tails 7 makes it, in the netns the package builds.
    const pages = [url(PORT.wget, '/file.txt'), url(PORT.curl, '/file.txt')];

    beforeAll(async () => {
      await timed(timings, 'Tor Browser Flatpak', provisionTorBrowser);
      await setUpTbb();
      await startSessionBus();
    }, 300_000);

    afterAll(async () => {
      if (!image) return;
      await image.run(['tails-launch', 'netns', 'teardown', 'tbb']);
      await image.run(['sh', '-c', 'rm -f /etc/tails-launch/profiles/tor-browser.yml && tails-launch grants --write']);
    }, 60_000);

    it("loads two pages of one site in Flatpak's sandbox; Tor sees them on the browser listener from tbb with Tor Browser's own <site>:<container> credentials, one circuit; a new start, a new circuit; 0 packets skip Tor", async () => {
      const plan = (await explain('tor-browser', pages)) as Awaited<ReturnType<typeof explain>> & {
        guard: { kind: string; by: string };
      };
      console.log(`tor-browser: explain --json: ${JSON.stringify({ torSees: plan.torSees, guard: plan.guard })}`);
      expect(plan.torSees).toMatchObject({ listener: 'browser', address: '10.200.1.1', port: 9050 });
      expect(plan.torSees.credentials.kind).toBe('application');
      expect([plan.guard.kind, plan.guard.by]).toEqual(['jail', 'netns']);
      const launches: StreamRecord[][] = [];
      for (const i of [0, 1]) {
        let result: RunResult | undefined;
        const {
          packets,
          seen,
          result: streams,
        } = await trapped(
          () =>
            streamsDuring(async () => {
              result = await image.run(['tails-launch', 'tor-browser', '--', ...pages], {
                user: true,
                env: { ...SESSION, DBUS_SESSION_BUS_ADDRESS: `unix:path=${BUS}` },
                cwd: DOWNLOADS,
                timeout: 120_000,
              });
            }),
          [NS, image.netnsPath('tbb')],
        );
        const r = result!;
        console.log(`tor-browser launch ${i}: exit ${r.exitCode}\n${r.stdout}\n${r.stderr}`);
        expect(r.exitCode, r.stderr).toBe(0);
        const saw = standInSaw(r.stdout);
        // The stand-in found /.flatpak-info: Flatpak's sandbox, of Tails' app.
        // Tails' overrides in force (no X11: the app's metadata asks for it), as amnesia.
        expect(saw.flatpak).toEqual([
          'flatpak-info: yes',
          'flatpak-app: org.boum.tails.TorBrowser',
          'flatpak-sockets: wayland;pulseaudio;cups;',
          'flatpak-uid: 1000',
        ]);
        expect(r.stdout.match(/^tails-launch over Tor$/gm), 'both pages').toHaveLength(2);
        expect({ packets, seen }, 'packets that skipped Tor').toEqual({ packets: 0, seen: [] });
        const requests = streams.filter((s) => s.target !== ':0');
        expect(requests.map((s) => s.target).sort()).toEqual(
          [`${TARGET_ADDRESS}:${PORT.wget}`, `${TARGET_ADDRESS}:${PORT.curl}`].sort(),
        );
        // One site: one set of credentials, as Tor Browser keeps them for its session.
        expect(saw.credentials).toHaveLength(2);
        const own = { username: saw.credentials[0]!.username, password: saw.credentials[0]!.password };
        expect(saw.credentials[1]).toEqual(own);
        expect(own.username).toBe(`${TARGET_ADDRESS}:0`);
        for (const s of requests) {
          expect(s.circuit, `stream ${s.id} succeeded`).not.toBeNull();
          // From inside tbb: the namespace's end of the veth, to the browser listener (not the 127.0.0.1:9050 of the host).
          expect(s.sourceAddr).toMatch(/^10\.200\.1\.2:\d+$/);
          expect(s.listenerAddress, 'the SocksPort, by the kernel').toBe('10.200.1.1:9050');
          expectTorSaw(s, plan.torSees, 'tor-browser', own);
        }
        expect(new Set(requests.map((s) => s.circuit)).size, 'one site, one circuit').toBe(1);
        launches.push(requests);
      }
      // Another start: another nonce (the password), so IsolateSOCKSAuth gives it another circuit.
      expect(launches[1]![0]!.circuit).not.toBe(launches[0]![0]!.circuit);
    }, 300_000);

    it("CONTROL: the shipped args as they are (no admin layer): Debian's flatpak refuses Tails' --allow=unconfined", async () => {
      const admin = '/etc/tails-launch/profiles/tor-browser.yml';
      await image.must(['sh', '-c', `mv ${admin} ${admin}.off && tails-launch grants --write >/dev/null`]);
      try {
        const r = await image.run(['tails-launch', 'tor-browser', '--', pages[0]!], {
          user: true,
          env: SESSION,
          cwd: DOWNLOADS,
        });
        expect(r.exitCode).toBe(1);
        expect(r.stderr).toContain('error: Unknown feature type unconfined');
        expect(r.stdout).toBe('');
      } finally {
        await image.must(['sh', '-c', `mv ${admin}.off ${admin} && tails-launch grants --write >/dev/null`]);
      }
    });

    it("CONTROL: in tbb, a user's connection anywhere but the browser listener (the host end's port 8001) is counted by tbb's trap and refused by tbb's firewall", async () => {
      const { packets, seen, result } = await trapped(
        () =>
          image.run([
            'ip',
            'netns',
            'exec',
            'tbb',
            'setpriv',
            '--reuid=1000',
            '--regid=1000',
            '--clear-groups',
            'curl',
            '-sS',
            '--max-time',
            '3',
            `http://10.200.1.1:${PORT.wget}/file.txt`,
          ]),
        [NS, image.netnsPath('tbb')],
      );
      expect(result.exitCode, result.stderr).toBe(7);
      expect(packets).toBeGreaterThan(0);
      expect(seen).toEqual([`10.200.1.1 tcp ${PORT.wget}`]);
    });

    it("CONTROL: the stand-in run outside Flatpak refuses, as Tails' /usr/bin/tor-browser does", async () => {
      const r = await asUser(['tor-browser', pages[0]!]);
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toContain('Error: Must be run in flatpak');
    });

    it("CONTROL: the same Flatpak app run directly (no launcher, not in tbb): Flatpak's sandbox shares the network (shared=network), and the trap counts its direct connection", async () => {
      const { packets, seen, result } = await trapped(() =>
        asUser(
          [
            'flatpak',
            '--installation=tails',
            'run',
            '--command=curl',
            'org.boum.tails.TorBrowser',
            '-sS',
            '--max-time',
            '3',
            url(PORT.wget, '/file.txt'),
          ],
          60_000,
        ),
      );
      console.log(`flatpak run curl directly: exit ${result.exitCode}; the trap saw ${JSON.stringify(seen)}`);
      expect(packets).toBeGreaterThan(0);
      expect(seen).toContain(`${TARGET_ADDRESS} tcp ${PORT.wget}`);
    }, 90_000);
  },
);

// ---- the upgrader ------------------------------------------------------------

/**
 * An X server that keeps others out, as Tails' Xwayland does: only a client
 * with amnesia's cookie, or a user `xhost +si:localuser:` granted, gets in.
 */
const UPGRADER_DISPLAY = ':9';
/** Amnesia's cookie, where Tails 7's GNOME (mutter's Xwayland) keeps it: 0600, amnesia's. */
const AMNESIA_XAUTHORITY = `${SESSION.XDG_RUNTIME_DIR}/.mutter-Xwaylandauth.TEST`;
/** Tails 7's config/chroot_local-hooks/06-adduser_tails-upgrade-frontend. */
const UPGRADER = { name: 'tails-upgrade-frontend', uid: 118, gid: 126 };
/** A user of the machine who is not amnesia (the profile's callers: amnesia alone). */
const VISITOR = { name: 'visitor', uid: 1001 };
/** The session's variables Tails' wrapper runs with: the display, its cookie, the locale. */
/** Xvfb's audit log: each client's uid, and the cookie it showed if any. */
const X_LOG = '/root/x9.log';
/** The audit lines Xvfb wrote since FROM characters. */
const xAudit = (from: number): string => readFile(X_LOG).slice(from).trim();
const UPGRADER_ENV = { DISPLAY: UPGRADER_DISPLAY, XAUTHORITY: AMNESIA_XAUTHORITY, LANG: 'C.UTF-8' };

/** `xhost ARGS` by amnesia on the upgrader's display, as Tails' wrapper runs it. */
async function xhost(args: string[]): Promise<string> {
  const r = await asUser(['env', ...Object.entries(UPGRADER_ENV).map(([k, v]) => `${k}=${v}`), 'xhost', ...args]);
  expect(r.exitCode, r.stderr).toBe(0);
  return `${r.stdout}${r.stderr}`.trim();
}

/** `xdpyinfo` on the upgrader's display as UID (root's setpriv, no launcher), with ENV: whether it got in. */
async function xdpyinfoAs(uid: number, env: Record<string, string>): Promise<boolean> {
  const r = await image.run([
    'setpriv',
    `--reuid=${uid}`,
    `--regid=${uid === UPGRADER.uid ? UPGRADER.gid : uid}`,
    '--init-groups',
    'env',
    '-i',
    `DISPLAY=${UPGRADER_DISPLAY}`,
    ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
    'xdpyinfo',
  ]);
  return r.exitCode === 0;
}

/** The stand-in's report: its lines as KEY: VALUE. */
/**
 * `tails-launch tails-upgrade-frontend TAIL` as amnesia in the upgrader's
 * session: its result, what Xvfb's audit log says of it, the packet trap's
 * count and the streams Tor saw (its own, not Tor's directory fetches).
 */
async function launchUpgrader(tail: string[]) {
  const mark = readFile(X_LOG).length;
  let result: RunResult | undefined;
  const {
    packets,
    seen,
    result: streams,
  } = await trapped(() =>
    streamsDuring(async () => {
      result = await asUser([
        'env',
        ...Object.entries(UPGRADER_ENV).map(([k, v]) => `${k}=${v}`),
        'tails-launch',
        'tails-upgrade-frontend',
        ...tail,
      ]);
    }),
  );
  return { r: result!, audit: xAudit(mark), packets, seen, requests: streams.filter((s) => s.target !== ':0') };
}

function upgraderSaw(stdout: string): Record<string, string> {
  const saw: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const m = /^([A-Za-z-]+): (.*)$/.exec(line);
    if (m) saw[m[1]!] = m[2]!;
  }
  return saw;
}

describe.skipIf(SKIP)(
  "Tails upgrader (tails-upgrade-frontend) as Tails 7's wrapper starts it: its own user, through sudo, what Tails' sudoers allows, the display by the xhost grant",
  () => {
    // /usr/local/bin/tails-upgrade-frontend is a STAND-IN
    // (test/fixtures/tails7/tails-upgrade-frontend): the real one is Tails-only
    // Perl. It reports its user and arguments, opens the display it is given
    // and fetches a page through 127.0.0.1:9062 as the real one's libcurl does.
    // Tails' I/usr/local/bin/tails-upgrade-frontend-wrapper runs `xhost
    // +si:localuser:tails-upgrade-frontend; sudo -u tails-upgrade-frontend
    // /usr/local/bin/tails-upgrade-frontend ARGS; xhost -si:...`: here the sudo
    // line is `tails-launch tails-upgrade-frontend -- ARGS`, run by amnesia.
    let x: ChildProcess | undefined;

    beforeAll(async () => {
      const fixture = new URL('../fixtures/tails7/tails-upgrade-frontend', import.meta.url).pathname;
      image.copyIn(fixture, '/usr/local/bin/tails-upgrade-frontend');
      await image.must(
        [
          'sh',
          '-c',
          [
            'set -e',
            'chmod 0755 /usr/local/bin/tails-upgrade-frontend',
            // Tails 7's 06-adduser_tails-upgrade-frontend.
            `getent group ${UPGRADER.name} >/dev/null || addgroup --system --quiet --gid ${UPGRADER.gid} ${UPGRADER.name}`,
            `getent passwd ${UPGRADER.name} >/dev/null || adduser --system --quiet --uid ${UPGRADER.uid} --gid ${UPGRADER.gid} --home /var/lib/${UPGRADER.name} ${UPGRADER.name}`,
            `getent passwd ${VISITOR.name} >/dev/null || useradd --create-home --uid ${VISITOR.uid} --user-group ${VISITOR.name}`,
            'tails-launch grants --write >/dev/null',
            // The server's cookie, and amnesia's copy of it (mutter's file for Xwayland).
            'cookie=$(mcookie)',
            'rm -f /root/x9.auth && xauth -q -f /root/x9.auth add :9 MIT-MAGIC-COOKIE-1 "$cookie"',
            `rm -f ${AMNESIA_XAUTHORITY} && setpriv --reuid=1000 --regid=1000 --init-groups sh -c 'umask 077 && xauth -q -f ${AMNESIA_XAUTHORITY} add :9 MIT-MAGIC-COOKIE-1 '"$cookie"`,
            'rm -f /tmp/.X11-unix/X9 /tmp/.X9-lock',
          ].join('\n'),
        ],
        { net: false },
      );
      // -noreset: an X server resets when its last client leaves, and forgets xhost's grants with it
      // (Tails' Xwayland always has mutter as a client). -audit 4: who connected, with what.
      x = image.start([
        'sh',
        '-c',
        `exec Xvfb ${UPGRADER_DISPLAY} -nolisten tcp -noreset -audit 4 -auth /root/x9.auth 2>${X_LOG}`,
      ]);
      await waitForPath('/tmp/.X11-unix/X9', 'Xvfb :9');
      console.log(
        `upgrader: grants: ${await image.must(['sh', '-c', "grep -A6 '^# tails-upgrade-frontend' /etc/sudoers.d/tails-launch"])}`,
      );
    }, 120_000);

    afterAll(async () => {
      x?.kill('SIGTERM');
      await image?.run(['rm', '-f', '/root/x9.auth', X_LOG, AMNESIA_XAUTHORITY]);
    });

    it("CONTROL: the display keeps others out: amnesia's cookie gets in; without it, or as the upgrader's user or another, nobody does until amnesia's xhost grant lets the upgrader's user in", async () => {
      console.log(`upgrader: xhost on ${UPGRADER_DISPLAY}: ${await xhost([])}`);
      expect(await xdpyinfoAs(1000, { XAUTHORITY: AMNESIA_XAUTHORITY }), 'amnesia, its cookie').toBe(true);
      expect(await xdpyinfoAs(1000, { XAUTHORITY: '/nonexistent' }), 'amnesia, no cookie').toBe(false);
      expect(await xdpyinfoAs(UPGRADER.uid, { XAUTHORITY: '/nonexistent' }), 'the upgrader, no grant').toBe(false);
      await xhost([`+si:localuser:${UPGRADER.name}`]);
      try {
        expect(await xdpyinfoAs(UPGRADER.uid, { XAUTHORITY: '/nonexistent' }), 'the upgrader, granted').toBe(true);
        expect(await xdpyinfoAs(VISITOR.uid, { XAUTHORITY: '/nonexistent' }), 'another user, not granted').toBe(false);
      } finally {
        await xhost([`-si:localuser:${UPGRADER.name}`]);
      }
      expect(await xdpyinfoAs(UPGRADER.uid, { XAUTHORITY: '/nonexistent' }), 'the upgrader, grant taken back').toBe(
        false,
      );
      // What a cookie of amnesia's would do if the launch handed one over: let it in without the grant.
      await image.must(['sh', '-c', `install -m 0644 ${AMNESIA_XAUTHORITY} /tmp/amnesia-cookie-copy`]);
      try {
        expect(
          await xdpyinfoAs(UPGRADER.uid, { XAUTHORITY: '/tmp/amnesia-cookie-copy' }),
          "the upgrader, with a copy of amnesia's cookie",
        ).toBe(true);
      } finally {
        await image.must(['rm', '-f', '/tmp/amnesia-cookie-copy']);
      }
      // And amnesia's own file, where the session keeps it: out of the upgrader's reach (/run/user/1000 is 0700).
      expect(
        await xdpyinfoAs(UPGRADER.uid, { XAUTHORITY: AMNESIA_XAUTHORITY }),
        "the upgrader, amnesia's cookie file by its path",
      ).toBe(false);
    }, 60_000);

    it("with the wrapper's grant: `tails-launch tails-upgrade-frontend` and `-- --report-no-upgrade` run it as tails-upgrade-frontend, it opens the display, its page arrives at Tor on 9062 as explain says; 0 packets skip Tor", async () => {
      const plans = [];
      for (const args of [[], ['--report-no-upgrade']]) {
        const r = await asUser([
          'env',
          ...Object.entries(UPGRADER_ENV).map(([k, v]) => `${k}=${v}`),
          'tails-launch',
          'explain',
          '--json',
          'tails-upgrade-frontend',
          '--',
          ...args,
        ]);
        expect(r.exitCode, r.stderr).toBe(0);
        plans.push(JSON.parse(r.stdout) as { torSees: TorSees; guard: { kind: string; by?: string } });
      }
      const plan = plans[0]!;
      console.log(`upgrader: explain --json: ${JSON.stringify({ torSees: plan.torSees, guard: plan.guard })}`);
      expect(plans[1]!.torSees).toEqual(plan.torSees);
      expect(plan.torSees).toMatchObject({ listener: 'tails', address: '127.0.0.1', port: 9062 });
      expect(plan.torSees.credentials.kind).toBe('application');
      await xhost([`+si:localuser:${UPGRADER.name}`]);
      try {
        for (const args of [[], ['--report-no-upgrade']]) {
          const { r, audit, packets, seen, requests } = await launchUpgrader(['--', ...args]);
          console.log(`upgrader launch [${args.join(' ')}]: exit ${r.exitCode}\n${r.stdout}\n${r.stderr}`);
          const saw = upgraderSaw(r.stdout);
          expect(saw.uid, 'its own user').toBe(`${UPGRADER.uid} ${UPGRADER.name}`);
          expect(saw.args).toBe(`${args.length} [${args.join(' ')}]`);
          expect(saw.display, 'the display, through the grant').toMatch(/^open /);
          // The X server saw the upgrader's uid, and no cookie (no "Auth name" line): the grant let it in.
          console.log(`upgrader launch [${args.join(' ')}]: Xvfb's audit:\n${audit}`);
          expect(audit).toMatch(new RegExp(`client \\d+ connected from local host \\( uid=${UPGRADER.uid} `));
          expect(audit).not.toContain('Auth name');
          expect(saw.page).toBe('tails-launch over Tor');
          expect(r.exitCode, r.stderr).toBe(0);
          expect({ packets, seen }, 'packets that skipped Tor').toEqual({ packets: 0, seen: [] });
          expect(requests.map((s) => s.target)).toEqual([`${TARGET_ADDRESS}:${PORT.curl}`]);
          for (const s of requests) {
            expect(s.circuit, `stream ${s.id} succeeded`).not.toBeNull();
            expectTorSaw(s, plan.torSees, 'tails-upgrade-frontend');
          }
        }
      } finally {
        await xhost([`-si:localuser:${UPGRADER.name}`]);
      }
    }, 180_000);

    it("CONTROL: without the grant the same launch cannot open the display: the launcher hands it no cookie of amnesia's", async () => {
      const mark = readFile(X_LOG).length;
      const r = await asUser([
        'env',
        ...Object.entries(UPGRADER_ENV).map(([k, v]) => `${k}=${v}`),
        'tails-launch',
        'tails-upgrade-frontend',
      ]);
      console.log(`upgrader launch without the grant: exit ${r.exitCode}\n${r.stdout}\n${r.stderr}`);
      const saw = upgraderSaw(r.stdout);
      expect(saw.uid).toBe(`${UPGRADER.uid} ${UPGRADER.name}`);
      expect(saw.display).toMatch(/^refused/);
      const audit = xAudit(mark);
      console.log(`upgrader launch without the grant: Xvfb's audit:\n${audit}`);
      expect(audit).toMatch(new RegExp(`client \\d+ rejected from local host \\( uid=${UPGRADER.uid} `));
      expect(audit).not.toContain('Auth name');
      expect(saw.XAUTHORITY, "amnesia's cookie file is not given").toBe('unset');
      expect(saw.page, 'the rest works').toBe('tails-launch over Tor');
      expect(r.exitCode).toBe(1);
    }, 120_000);

    it("Tails' wrapper's own line, its sudo replaced (`xhost +si:...; tails-launch tails-upgrade-frontend -- ARGS; xhost -si:...` by /bin/sh from /, as the wrapper execs it): the display opens, and the grant is gone afterwards", async () => {
      for (const args of [[], ['--report-no-upgrade']]) {
        // I/usr/local/bin/tails-upgrade-frontend-wrapper: os.chdir("/"), then os.execv("/bin/sh", ["/bin/sh", "-c", LINE]).
        const line = [
          `xhost +si:localuser:${UPGRADER.name}`,
          `tails-launch ${UPGRADER.name} -- ${args.join(' ')}`,
          `xhost -si:localuser:${UPGRADER.name}`,
        ].join(';');
        const r = await image.run(['/bin/sh', '-c', line], {
          user: true,
          env: { ...SESSION, ...UPGRADER_ENV },
          cwd: '/',
          timeout: 120_000,
        });
        console.log(
          `upgrader through the wrapper's line [${args.join(' ')}]: exit ${r.exitCode}\n${r.stdout}\n${r.stderr}`,
        );
        const saw = upgraderSaw(r.stdout);
        expect(saw.uid).toBe(`${UPGRADER.uid} ${UPGRADER.name}`);
        expect(saw.args).toBe(`${args.length} [${args.join(' ')}]`);
        expect(saw.display).toMatch(/^open /);
        expect(saw.page).toBe('tails-launch over Tor');
        expect(r.exitCode, r.stderr).toBe(0);
        expect(await xhost([]), 'the grant, taken back').not.toContain(`SI:localuser:${UPGRADER.name}`);
      }
    }, 180_000);

    it("as on Tails (the admin layer declares Tails' ferm; a ferm-like firewall): unjailed, guarded by the firewall; with the grant it opens the display and its page arrives on 9062; without it, refused (XAUTHORITY kept, as sudo keeps it, but amnesia's file is out of its reach)", async () => {
      await asOnTails(async () => {
        const r = await asUser([
          'env',
          ...Object.entries(UPGRADER_ENV).map(([k, v]) => `${k}=${v}`),
          'tails-launch',
          'explain',
          '--json',
          'tails-upgrade-frontend',
        ]);
        expect(r.exitCode, r.stderr).toBe(0);
        const plan = JSON.parse(r.stdout) as { torSees: TorSees; guard: { kind: string; by?: string } };
        console.log(
          `upgrader on Tails: explain --json: ${JSON.stringify({ torSees: plan.torSees, guard: plan.guard })}`,
        );
        expect(plan.guard.kind).toBe('host');
        expect(plan.torSees).toMatchObject({ listener: 'tails', address: '127.0.0.1', port: 9062 });
        for (const granted of [true, false]) {
          if (granted) await xhost([`+si:localuser:${UPGRADER.name}`]);
          try {
            const { r, audit, packets, seen, requests } = await launchUpgrader([]);
            console.log(
              `upgrader on Tails (${granted ? 'granted' : 'no grant'}): exit ${r.exitCode}\n${r.stdout}\n${r.stderr}\nXvfb's audit:\n${audit}`,
            );
            const saw = upgraderSaw(r.stdout);
            expect(saw.uid).toBe(`${UPGRADER.uid} ${UPGRADER.name}`);
            expect(saw.XAUTHORITY, "sudo keeps it, as Tails' sudo does").toBe(AMNESIA_XAUTHORITY);
            expect(saw.display).toMatch(granted ? /^open / : /^refused/);
            expect(audit).toMatch(
              new RegExp(`client \\d+ ${granted ? 'connected' : 'rejected'} from local host \\( uid=${UPGRADER.uid} `),
            );
            expect(audit).not.toContain('Auth name');
            expect(saw.page).toBe('tails-launch over Tor');
            expect({ packets, seen }, 'packets that skipped Tor').toEqual({ packets: 0, seen: [] });
            expect(requests.map((s) => s.target)).toEqual([`${TARGET_ADDRESS}:${PORT.curl}`]);
            for (const s of requests) expectTorSaw(s, plan.torSees, 'tails-upgrade-frontend');
          } finally {
            if (granted) await xhost([`-si:localuser:${UPGRADER.name}`]);
          }
        }
      });
    }, 180_000);

    it('refuses, with one line and nothing run, any other argument, and any caller but amnesia', async () => {
      const env = Object.entries(UPGRADER_ENV).map(([k, v]) => `${k}=${v}`);
      await xhost([`+si:localuser:${UPGRADER.name}`]);
      try {
        const cases: Array<{ who: string; argv: string[] }> = [
          { who: 'amnesia -- --foo', argv: ['env', ...env, 'tails-launch', 'tails-upgrade-frontend', '--', '--foo'] },
          {
            who: 'amnesia -- --report-no-upgrade --foo',
            argv: ['env', ...env, 'tails-launch', 'tails-upgrade-frontend', '--', '--report-no-upgrade', '--foo'],
          },
          { who: 'amnesia -- x', argv: ['env', ...env, 'tails-launch', 'tails-upgrade-frontend', '--', 'x'] },
        ];
        for (const c of cases) {
          const from = connections.length;
          const streams = await streamsDuring(async () => {
            const r = await asUser(c.argv);
            console.log(`upgrader refusal (${c.who}): exit ${r.exitCode}: ${r.stderr}`);
            expect(r.exitCode, c.who).not.toBe(0);
            expect(r.stdout, c.who).toBe('');
            expect(r.stderr.trim().split('\n'), c.who).toHaveLength(1);
          });
          expect(
            streams.filter((s) => s.target !== ':0'),
            c.who,
          ).toEqual([]);
          expect(connectionsTo('curl', from), c.who).toEqual([]);
        }
        for (const args of [[], ['--report-no-upgrade']]) {
          const from = connections.length;
          const r = await image.run(
            [
              'setpriv',
              `--reuid=${VISITOR.uid}`,
              `--regid=${VISITOR.uid}`,
              '--init-groups',
              'env',
              '-i',
              `HOME=/home/${VISITOR.name}`,
              `USER=${VISITOR.name}`,
              `LOGNAME=${VISITOR.name}`,
              'PATH=/usr/local/bin:/usr/bin:/bin',
              ...env,
              'tails-launch',
              'tails-upgrade-frontend',
              '--',
              ...args,
            ],
            { cwd: '/' },
          );
          console.log(`upgrader refusal (visitor [${args.join(' ')}]): exit ${r.exitCode}: ${r.stderr}`);
          expect(r.exitCode).not.toBe(0);
          expect(r.stdout).toBe('');
          expect(r.stderr.trim().split('\n')).toHaveLength(1);
          expect(connectionsTo('curl', from)).toEqual([]);
        }
      } finally {
        await xhost([`-si:localuser:${UPGRADER.name}`]);
      }
    }, 120_000);
  },
);
