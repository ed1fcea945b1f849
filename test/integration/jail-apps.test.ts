// Debian's real applications, launched through the SHIPPED profiles (copied
// unchanged, with the repo's listeners.yml, into a --config-dir), held by the
// user jail the launcher makes (src/jail/jail.c, bubblewrap). Everything runs
// as an ordinary user (cloudsdk, uid 1000, through setpriv) inside the leak
// harness's namespace APP (test/support/leak-harness.ts): the only service
// there is the tests' SOCKS5 server on Tails' 127.0.0.1:9050 ("Tor"), and
// every packet that reaches WORLD is counted. APP's resolv.conf names a
// server in WORLD (/etc/netns/APP/resolv.conf), so a name lookup is a
// counted packet too; a dynamic nftables set in WORLD records each packet's
// destination, protocol and port, so a leak says what it was.
//
//   1. Pidgin (GTK 2, on Xvfb: the profile grants X11), its XMPP account's
//      server at WORLD's address:
//      a. Debian's defaults (no prefs.xml at all: no proxy): jailed, Pidgin
//         tries WORLD:5222 "with no proxy", the network is unreachable, 0
//         packets. Control: the same files, Pidgin run directly: the SYN
//         reaches WORLD.
//      b. UPnP and IP autodetection on (Pidgin's prefs map_ports, auto_ip;
//         off in Debian's 2.14 defaults): jailed, 0 packets. Control: the
//         SSDP M-SEARCH to 239.255.255.250:1900 reaches WORLD.
//      c. Tails' prefs.xml (socks5 127.0.0.1:9050, no credentials): jailed,
//         its connection reaches the SOCKS server (through the jail's
//         forwarder), 0 packets.
//   2. Thunderbird (--headless, a fresh profile in ~/.thunderbird, which the
//      profile grants), Debian's defaults (no proxy): jailed, it looks up
//      its services (MOZ_LOG shows the resolver at work), 0 packets. Control:
//      the same run directly sends DNS queries to WORLD.
//   3. Totem (`--jail totem URL`: torsocks in a user jail, a Wayland window,
//      the accessibility bus through its filtering proxy): a headless weston,
//      a private session bus and at-spi's bus, all the user's. The URL's name
//      exists nowhere but in "Tor": the SOCKS server resolves it and relays
//      the CONNECT to the real HTTP server, on a Unix socket only root can
//      reach. It plays: the SOCKS server saw the lookup and the connection,
//      the HTTP server served the whole file, weston saw Totem's toplevel
//      (app id "totem", titled after the file), and the accessibility
//      registry lists the application "totem" with that window and its
//      elapsed-time label moving; 0 packets in WORLD.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { oggClipPipeline, useTempDirs } from '../support/fixtures';
import { LAUNCHER, ROOT } from '../support/launcher';
import { useLeakHarness } from '../support/leak-harness';

const USER = 1000;
const AS_USER = ['/usr/bin/setpriv', `--reuid=${USER}`, `--regid=${USER}`, '--init-groups'];
const PROGRAMS = [
  '/usr/bin/pidgin',
  '/usr/bin/thunderbird',
  '/usr/bin/totem',
  '/usr/bin/weston',
  '/usr/bin/Xvfb',
  '/usr/bin/dbus-daemon',
  '/usr/libexec/at-spi-bus-launcher',
  '/usr/bin/gst-launch-1.0',
  '/usr/lib/python3/dist-packages/pyatspi/__init__.py',
  '/usr/bin/bwrap',
];
const usable = process.getuid?.() === 0 && PROGRAMS.every((p) => existsSync(p));

/** What the tests' SOCKS server answers every RESOLVE with (test/support/socks5-server.ts). */
const RESOLVED = '192.0.2.1';
const MEDIA_HOST = 'media.test';
const MEDIA_URL = `http://${MEDIA_HOST}/clip.ogg`;
/** The real HTTP server: a Unix socket in a directory only root (the SOCKS server) may enter. */
const SERVER_DIR = join(tmpdir(), `tails-launch-jail-apps-${process.pid}`);
const HTTP_SOCKET = join(SERVER_DIR, 'http.sock');

const net = useLeakHarness({ forward: { [`${RESOLVED}:80`]: HTTP_SOCKET } });
const { make: tempDir } = useTempDirs();
const started = Date.now();

let config = '';
let runtime = '';
let netnsEtc = '';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A directory of the user's own, as a login's home or XDG_RUNTIME_DIR. */
function userDir(path: string, mode = 0o700): string {
  mkdirSync(path, { recursive: true, mode });
  chmodSync(path, mode);
  chownSync(path, USER, USER);
  return path;
}

function userFile(path: string, text: string): void {
  writeFileSync(path, text, { mode: 0o600 });
  chownSync(path, USER, USER);
}

// ---- processes: ours, by PID ------------------------------------------------

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** PID and everything it started, deepest first. */
function treeOf(pid: number): number[] {
  return [...childrenOf(pid).flatMap(treeOf), pid];
}

function signalAll(pids: number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // gone already
    }
  }
}

interface Running {
  child: ChildProcess;
  pid: number;
  output: () => string;
  ended: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM to PID alone (a launch: the launcher's PID, where the jail helper passes it on), then the whole tree after GRACE ms. */
  stop: (graceMs?: number) => Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function start(file: string, args: string[], env: Record<string, string>, stdio?: StdioOptions): Running {
  const child = spawn(file, args, { env, stdio: stdio ?? ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (c: string) => (output += c));
  child.stderr?.setEncoding('utf8').on('data', (c: string) => (output += c));
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null)
      resolve({ code: child.exitCode, signal: child.signalCode });
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  const stop = async (graceMs = 10_000) => {
    if (child.exitCode === null && child.signalCode === null) {
      const tree = treeOf(child.pid!);
      signalAll([child.pid!], 'SIGTERM');
      const late = setTimeout(() => signalAll([...tree, ...treeOf(child.pid!)], 'SIGKILL'), graceMs);
      await ended;
      clearTimeout(late);
      // Whatever it left behind (a control's children), ours too.
      signalAll(
        tree.filter((p) => existsSync(`/proc/${p}`)),
        'SIGKILL',
      );
    }
    return ended;
  };
  return { child, pid: child.pid!, output: () => output, ended, stop };
}

/** ARGV as the user inside APP (`ip netns exec` and setpriv exec: the PID is ARGV's own, the launcher's). */
const inApp = (argv: string[], env: Record<string, string>): Running =>
  start('ip', ['netns', 'exec', net.appNs, ...AS_USER, ...argv], env);

/** ARGV as the user, outside APP (the session's services: they need no network). */
const asUser = (argv: string[], env: Record<string, string>, stdio?: StdioOptions): Running =>
  start(AS_USER[0]!, [...AS_USER.slice(1), ...argv], env, stdio);

const sessionProcesses: Running[] = [];

/** WHAT: a description, or a function giving one as things stand when the time is up. */
async function waitFor(
  what: string | (() => string),
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
    await sleep(100);
  }
}

const isSocket = (path: string) => {
  try {
    return statSync(path).isSocket();
  } catch {
    return false;
  }
};

// ---- what reached WORLD -----------------------------------------------------

/** Every packet's destination, protocol and port, as WORLD saw them ("10.250.N.1 tcp 5222"). */
async function seen(): Promise<string[]> {
  const out: string[] = [];
  for (const set of ['seen4', 'seen6']) {
    const r = await execa('ip', ['netns', 'exec', net.worldNs, 'nft', '-j', 'list', 'set', 'inet', 'tl_apps', set]);
    const parsed = JSON.parse(r.stdout) as { nftables: Array<{ set?: { elem?: Array<{ concat: unknown[] }> } }> };
    for (const entry of parsed.nftables)
      for (const e of entry.set?.elem ?? []) out.push(e.concat.map(String).join(' '));
  }
  return out.sort();
}

const leakReport = async () => ({ packets: net.trapped(), destinations: await seen() });

// ---- the session ------------------------------------------------------------

/** The user's variables for a launch: a clean environment, as a desktop session would give. */
function sessionEnv(home: string, extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: '/usr/bin:/bin', HOME: home, XDG_RUNTIME_DIR: runtime, LANG: 'C.UTF-8', USER: 'cloudsdk', ...extra };
}

let display = '';

beforeAll(async () => {
  if (!usable) return;
  // The shipped profiles and listeners, unchanged; readable by the user, writable by root alone.
  config = tempDir('jail-apps-config');
  cpSync(join(ROOT, 'profiles'), join(config, 'profiles'), { recursive: true });
  cpSync(join(ROOT, 'listeners.yml'), join(config, 'listeners.yml'));
  chmodSync(config, 0o755);
  chmodSync(join(config, 'profiles'), 0o755);
  runtime = userDir(join(tempDir('jail-apps-run'), 'run'));
  chmodSync(join(runtime, '..'), 0o755);

  // A name lookup inside APP goes to WORLD, where it is counted.
  netnsEtc = join('/etc/netns', net.appNs);
  mkdirSync(netnsEtc, { recursive: true });
  writeFileSync(join(netnsEtc, 'resolv.conf'), `nameserver ${net.worldV4}\nnameserver ${net.worldV6}\n`);

  // WORLD records what arrives over its link (loopback aside): destination, protocol, port.
  await execa('ip', ['netns', 'exec', net.worldNs, 'nft', '-f', '-'], {
    input: [
      'table inet tl_apps {',
      '  set seen4 { type ipv4_addr . inet_proto . inet_service; flags dynamic; size 4096; }',
      '  set seen6 { type ipv6_addr . inet_proto . inet_service; flags dynamic; size 4096; }',
      '  chain seen {',
      '    type filter hook prerouting priority -450; policy accept;',
      '    iifname "lo" accept',
      '    meta l4proto { tcp, udp } meta nfproto ipv4 add @seen4 { ip daddr . meta l4proto . th dport }',
      '    meta l4proto { tcp, udp } meta nfproto ipv6 add @seen6 { ip6 daddr . meta l4proto . th dport }',
      '  }',
      '}',
    ].join('\n'),
  });

  // An X server for Pidgin (GTK 2: X11 only). It picks a free display and tells us which.
  const xvfb = start('/usr/bin/Xvfb', ['-displayfd', '3', '-nolisten', 'tcp', '-screen', '0', '1024x768x24'], {}, [
    'ignore',
    'ignore',
    'pipe',
    'pipe',
  ]);
  sessionProcesses.push(xvfb);
  display = await new Promise<string>((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error('Xvfb did not start')), 15_000);
    (xvfb.child.stdio[3] as NodeJS.ReadableStream).setEncoding('utf8');
    (xvfb.child.stdio[3] as NodeJS.ReadableStream).on('data', (c: string) => {
      text += c;
      if (text.includes('\n')) {
        clearTimeout(timer);
        resolve(`:${text.trim()}`);
      }
    });
  });
}, 60_000);

beforeEach(async () => {
  if (!usable) return;
  for (const set of ['seen4', 'seen6'])
    await execa('ip', ['netns', 'exec', net.worldNs, 'nft', 'flush', 'set', 'inet', 'tl_apps', set]);
});

afterAll(async () => {
  for (const p of sessionProcesses.reverse()) await p.stop(3000);
  if (netnsEtc) rmSync(netnsEtc, { recursive: true, force: true });
  rmSync(SERVER_DIR, { recursive: true, force: true });
  console.log(`jail-apps: the whole file took ${((Date.now() - started) / 1000).toFixed(1)} s`);
}, 30_000);

/** `tails-launch --config-dir CONFIG ARGS` as the user inside APP. */
const launch = (args: string[], env: Record<string, string>): Running =>
  inApp([LAUNCHER, '--config-dir', config, ...args], env);

// ---- 1. Pidgin ----------------------------------------------------------------

const PIDGIN_DEBIAN_UPNP = `<?xml version='1.0' encoding='UTF-8' ?>
<pref version='1' name='/'>
	<pref name='purple'>
		<pref name='network'>
			<pref name='map_ports' type='bool' value='1'/>
			<pref name='auto_ip' type='bool' value='1'/>
		</pref>
	</pref>
</pref>
`;

/** Tails' /etc/skel/.purple/prefs.xml, its proxy part: socks5 on 9050, empty credentials. */
const PIDGIN_TAILS = `<?xml version='1.0' encoding='UTF-8' ?>
<pref version='1' name='/'>
	<pref name='purple'>
		<pref name='proxy'>
			<pref name='type' type='string' value='socks5'/>
			<pref name='host' type='string' value='127.0.0.1'/>
			<pref name='port' type='int' value='9050'/>
			<pref name='username' type='string' value=''/>
			<pref name='password' type='string' value=''/>
		</pref>
	</pref>
</pref>
`;

/** A fresh home with ~/.purple: an XMPP account whose server is WORLD's address, enabled; PREFS or none (Debian's defaults). */
function pidginHome(prefs: string | null): string {
  const home = userDir(tempDir('jail-apps-pidgin'));
  const purple = userDir(join(home, '.purple'));
  userFile(
    join(purple, 'accounts.xml'),
    `<?xml version='1.0' encoding='UTF-8' ?>
<account version='1.0'>
 <account>
  <protocol>prpl-jabber</protocol>
  <name>tester@chat.example/Home</name>
  <password>secret</password>
  <settings>
   <setting name='connect_server' type='string'>${net.worldV4}</setting>
   <setting name='port' type='int'>5222</setting>
  </settings>
  <settings ui='gtk-gaim'>
   <setting name='auto-login' type='bool'>1</setting>
  </settings>
 </account>
</account>
`,
  );
  if (prefs !== null) userFile(join(purple, 'prefs.xml'), prefs);
  return home;
}

/**
 * Lets RUN go on for at least LEAST ms and until UNTIL holds (its evidence:
 * what it tried, what arrived), at most MOST ms; then SIGTERM to its PID.
 * Its output, how it ended, and whether it ended by itself before.
 */
async function runFor(
  run: Running,
  { least, most, until = () => true }: { least: number; most: number; until?: () => boolean | Promise<boolean> },
) {
  const t0 = Date.now();
  const running = () => run.child.exitCode === null && run.child.signalCode === null;
  while (running() && Date.now() - t0 < most && !(Date.now() - t0 >= least && (await until()))) await sleep(200);
  const exitedEarly = !running();
  const end = await run.stop();
  return { ...end, exitedEarly, ranMs: Date.now() - t0, output: run.output() };
}

describe.skipIf(!usable)('Pidgin (Debian 2.14), the shipped profile: jailed as the user, on X11', () => {
  // Pidgin's own variable, as the profile (and Tails' wrapper) sets it for the control too.
  const env = (home: string) => sessionEnv(home, { DISPLAY: display, GNOME_DESKTOP_SESSION_ID: '' });

  it("Debian's defaults (no proxy): tries WORLD's server directly, reaches nothing; 0 packets", async () => {
    const home = pidginHome(null);
    const run = launch(['pidgin', '-d'], env(home));
    const r = await runFor(run, {
      least: 10_000,
      most: 30_000,
      until: () => /Network is unreachable/.test(run.output()),
    });
    expect(r.exitedEarly, r.output.slice(-3000)).toBe(false);
    // It did try, on its own, with no proxy: the jail has no route.
    expect(r.output).toContain(`Connecting to ${net.worldV4}:5222 with no proxy`);
    expect(r.output).toMatch(/Connection attempt failed: Network is unreachable/);
    expect(await leakReport()).toEqual({ packets: 0, destinations: [] });
    expect(net.records()).toEqual([]);
  }, 40_000);

  it("CONTROL: the same files, Pidgin run directly (no launcher): the SYN reaches WORLD's server", async () => {
    const home = pidginHome(null);
    const r = await runFor(inApp(['/usr/bin/pidgin', '-d'], env(home)), {
      least: 0,
      most: 30_000,
      until: async () => (await seen()).includes(`${net.worldV4} tcp 5222`),
    });
    expect(r.output).toContain(`Connecting to ${net.worldV4}:5222 with no proxy`);
    expect(net.trapped()).toBeGreaterThan(0);
    expect(await seen()).toContain(`${net.worldV4} tcp 5222`);
  }, 40_000);

  it('UPnP and IP autodetection on (map_ports, auto_ip): no SSDP, nothing at all leaves the jail', async () => {
    const home = pidginHome(PIDGIN_DEBIAN_UPNP);
    const run = launch(['pidgin', '-d'], env(home));
    const r = await runFor(run, {
      least: 10_000,
      most: 30_000,
      until: () => /Network is unreachable/.test(run.output()),
    });
    expect(r.exitedEarly, r.output.slice(-3000)).toBe(false);
    expect(r.output).toContain(`Connecting to ${net.worldV4}:5222 with no proxy`);
    expect(await leakReport()).toEqual({ packets: 0, destinations: [] });
  }, 40_000);

  it('CONTROL: the same files run directly: the SSDP M-SEARCH (239.255.255.250:1900) and the SYN reach WORLD', async () => {
    const home = pidginHome(PIDGIN_DEBIAN_UPNP);
    await runFor(inApp(['/usr/bin/pidgin', '-d'], env(home)), {
      least: 0,
      most: 30_000,
      until: async () => {
        const s = await seen();
        return s.includes('239.255.255.250 udp 1900') && s.includes(`${net.worldV4} tcp 5222`);
      },
    });
    expect(net.trapped()).toBeGreaterThan(0);
    expect(await seen()).toEqual(expect.arrayContaining(['239.255.255.250 udp 1900', `${net.worldV4} tcp 5222`]));
  }, 40_000);

  it("Tails' prefs (socks5 127.0.0.1:9050): its connection reaches the SOCKS server through the jail's forwarder; 0 packets", async () => {
    const home = pidginHome(PIDGIN_TAILS);
    const r = await runFor(launch(['pidgin', '-d'], env(home)), {
      least: 10_000,
      most: 30_000,
      until: () => net.records().length > 0,
    });
    expect(r.exitedEarly, r.output.slice(-3000)).toBe(false);
    expect(r.output).toContain(`Connecting to ${net.worldV4}:5222 via 127.0.0.1:9050 using SOCKS5`);
    const records = await net.waitForRecords(1, 1000);
    expect(records).toContainEqual(
      expect.objectContaining({ command: 'connect', host: net.worldV4, port: 5222, serverPort: 9050 }),
    );
    // Its own settings decide its credentials: Tails' are empty.
    expect(records.every((x) => (x.username ?? '') === '' && (x.password ?? '') === '')).toBe(true);
    expect(await leakReport()).toEqual({ packets: 0, destinations: [] });
  }, 40_000);
});

// ---- 2. Thunderbird -----------------------------------------------------------

/** A lookup of one of Mozilla's or Thunderbird's own services, as MOZ_LOG=nsHostResolver:5 prints it. */
const LOOKUP = /Resolving host \[[a-z0-9.-]+\.(?:net|com|org|io)\]/;

describe.skipIf(!usable)("Thunderbird (Debian's ESR), the shipped profile: jailed as the user, headless", () => {
  function thunderbirdHome(): { home: string; profile: string } {
    const home = userDir(tempDir('jail-apps-thunderbird'));
    const profile = userDir(join(userDir(join(home, '.thunderbird')), 'jail-test'));
    return { home, profile };
  }
  const env = (home: string) => sessionEnv(home, { MOZ_LOG: 'nsHostResolver:5' });
  const args = (profile: string) => ['--headless', '-profile', profile];

  it("Debian's defaults (no proxy): it looks its services up, nothing reaches WORLD (no DNS either); 0 packets", async () => {
    const { home, profile } = thunderbirdHome();
    const run = launch(['thunderbird', ...args(profile)], env(home));
    let firstLookup = 0;
    // Until it has been trying for 8 s (Debian's defaults: sentry.io, live.thunderbird.net, ...), at most 45 s.
    const r = await runFor(run, {
      least: 10_000,
      most: 45_000,
      until: () => {
        if (!firstLookup && LOOKUP.test(run.output())) firstLookup = Date.now();
        return firstLookup > 0 && Date.now() - firstLookup > 8000;
      },
    });
    expect(r.exitedEarly, r.output.slice(-3000)).toBe(false);
    expect(r.output).toMatch(LOOKUP);
    // It ran in its profile, which the shipped profile's files grant (~/.thunderbird).
    expect(existsSync(join(profile, 'prefs.js'))).toBe(true);
    expect(await leakReport()).toEqual({ packets: 0, destinations: [] });
    expect(net.records()).toEqual([]);
  }, 80_000);

  it('CONTROL: the same run directly (no launcher): its DNS queries reach WORLD', async () => {
    const { home, profile } = thunderbirdHome();
    await runFor(inApp(['/usr/bin/thunderbird', ...args(profile)], env(home)), {
      least: 0,
      most: 45_000,
      until: async () => (await seen()).some((d) => / udp 53$/.test(d)),
    });
    expect(net.trapped()).toBeGreaterThan(0);
    expect((await seen()).filter((d) => / udp 53$/.test(d)).length).toBeGreaterThan(0);
  }, 80_000);
});

// ---- 3. Totem -------------------------------------------------------------------

/** What the accessibility registry says of Totem: its windows' names, its labels, as JSON. */
const A11Y_QUERY = `
import json, pyatspi
apps = []
def walk(a, labels, depth=0):
    if depth > 40: return
    for c in a:
        if c is None: continue
        if c.getRoleName() == 'label' and c.name: labels.append(c.name)
        walk(c, labels, depth + 1)
for app in pyatspi.Registry.getDesktop(0):
    if app is None or app.name.lower() != 'totem': continue
    labels = []
    walk(app, labels)
    apps.append({'name': app.name, 'windows': [w.name for w in app if w is not None], 'labels': labels})
print(json.dumps(apps))
`;

interface A11yApp {
  name: string;
  windows: string[];
  labels: string[];
}

/** Seconds of an elapsed-time label ("0:03"), the largest one Totem shows. */
const elapsed = (apps: A11yApp[]): number =>
  Math.max(
    -1,
    ...apps.flatMap((a) =>
      a.labels.flatMap((l) => {
        const m = /^(\d+):(\d\d)$/.exec(l);
        return m ? [Number(m[1]) * 60 + Number(m[2])] : [];
      }),
    ),
  );

describe.skipIf(!usable)('Totem (Debian 43), `--jail totem URL`: plays through Tor from inside its jail', () => {
  let home = '';
  let logs = '';
  let waylandName = '';
  let media: Buffer;
  let http: Server;
  const served: Array<{ url: string; host: string; bytes: number; complete: boolean }> = [];
  const a11yBus = () => join(runtime, 'at-spi', 'bus');

  beforeAll(async () => {
    if (!usable) return;
    home = userDir(tempDir('jail-apps-totem'), 0o755);
    logs = userDir(tempDir('jail-apps-session'));
    // The media: 10 s of Vorbis in Ogg, made by GStreamer.
    mkdirSync(SERVER_DIR, { recursive: true, mode: 0o700 });
    const clip = join(SERVER_DIR, 'clip.ogg');
    await execa('gst-launch-1.0', oggClipPipeline(clip));
    media = readFileSync(clip);
    // The real server: reachable only through the SOCKS server's relay (root's directory, no address).
    http = createServer((req, res) => {
      const entry = { url: req.url ?? '', host: req.headers.host ?? '', bytes: 0, complete: false };
      served.push(entry);
      res.writeHead(200, { 'Content-Type': 'audio/ogg', 'Content-Length': media.length });
      res.end(req.method === 'HEAD' ? undefined : media, () => {
        entry.bytes = req.method === 'HEAD' ? 0 : media.length;
        entry.complete = true;
      });
    });
    await new Promise<void>((resolve, reject) => http.once('error', reject).listen(HTTP_SOCKET, resolve));

    // The user's session: a session bus, at-spi's accessibility bus, a headless Wayland compositor.
    const env = sessionEnv(logs);
    sessionProcesses.push(
      asUser(['/usr/bin/dbus-daemon', '--session', '--nofork', `--address=unix:path=${join(runtime, 'bus')}`], env),
    );
    await waitFor('the session bus', () => isSocket(join(runtime, 'bus')), 10_000);
    sessionProcesses.push(
      asUser(['/usr/libexec/at-spi-bus-launcher', '--launch-immediately'], {
        ...env,
        DBUS_SESSION_BUS_ADDRESS: `unix:path=${join(runtime, 'bus')}`,
      }),
    );
    await waitFor("at-spi's bus", () => isSocket(a11yBus()), 10_000);
    waylandName = `wayland-tl-${process.pid}`;
    sessionProcesses.push(
      asUser(
        [
          '/usr/bin/weston',
          '--backend=headless-backend.so',
          `--socket=${waylandName}`,
          '--idle-time=0',
          '--logger-scopes=log,proto',
          `--log=${join(logs, 'weston.log')}`,
        ],
        env,
      ),
    );
    await waitFor('weston', () => isSocket(join(runtime, waylandName)), 15_000);
  }, 60_000);

  afterAll(async () => {
    await new Promise<void>((resolve) => (http ? http.close(() => resolve()) : resolve()));
  });

  /** The registry's view of Totem, asked on the accessibility bus as the user (outside the jail). */
  async function a11y(): Promise<A11yApp[]> {
    const r = await execa(AS_USER[0]!, [...AS_USER.slice(1), '/usr/bin/python3', '-c', A11Y_QUERY], {
      env: sessionEnv(logs, { AT_SPI_BUS_ADDRESS: `unix:path=${a11yBus()}` }),
      extendEnv: false,
      reject: false,
      timeout: 10_000,
    });
    try {
      return JSON.parse(r.stdout) as A11yApp[];
    } catch {
      return [];
    }
  }

  it("plays the stream: SOCKS saw it, HTTP served it, weston shows its window, the a11y registry lists 'totem' playing; 0 packets", async () => {
    const env = sessionEnv(home, {
      WAYLAND_DISPLAY: waylandName,
      DBUS_SESSION_BUS_ADDRESS: `unix:path=${join(runtime, 'bus')}`,
    });
    const run = launch(['--jail', 'totem', MEDIA_URL], env);
    let apps: A11yApp[] = [];
    let firstElapsed = -1;
    try {
      // Playing: its window is named after the file and the elapsed time moves.
      await waitFor(
        () => `Totem playing (a11y: ${JSON.stringify(apps)}; output: ${run.output().slice(-2000)})`,
        async () => {
          if (run.child.exitCode !== null || run.child.signalCode !== null)
            throw new Error(`totem ended: ${run.output().slice(-3000)}`);
          apps = await a11y();
          const t = elapsed(apps);
          if (firstElapsed < 0 && t >= 0) firstElapsed = t;
          return apps.some((a) => a.windows.includes('clip.ogg')) && t > firstElapsed && t >= 2;
        },
        45_000,
      );
    } finally {
      await run.stop();
    }
    // The registry: the application "totem", its window, no error dialog ("The movie could not be read").
    expect(apps.map((a) => a.name)).toContain('totem');
    expect(apps.flatMap((a) => a.windows)).toContain('clip.ogg');
    expect(apps.flatMap((a) => a.labels)).not.toContain('An error occurred');
    // Tor's side: the name was resolved by "Tor" and the connection went through it, with torsocks' credentials.
    const records = net.records();
    expect(records).toContainEqual(expect.objectContaining({ command: 'resolve', host: MEDIA_HOST, serverPort: 9050 }));
    expect(records).toContainEqual(
      expect.objectContaining({ command: 'connect', host: RESOLVED, port: 80, serverPort: 9050 }),
    );
    expect(records.every((x) => x.auth === 'userpass' && /^torsocks-/.test(x.username ?? ''))).toBe(true);
    // The server sent the whole file, to Totem.
    expect(served).toContainEqual({ url: '/clip.ogg', host: MEDIA_HOST, bytes: media.length, complete: true });
    // The compositor: Totem's toplevel, titled after the file.
    const weston = readFileSync(join(logs, 'weston.log'), 'utf8');
    expect(weston).toMatch(/xdg_toplevel@\d+\.set_app_id\("totem"\)/);
    expect(weston).toMatch(/xdg_toplevel@\d+\.set_title\("clip\.ogg"\)/);
    expect(await leakReport()).toEqual({ packets: 0, destinations: [] });
  }, 90_000);
});
