// The plan of every shipped profile, computed by the pure pipeline from the
// repository's own listeners.yml and profiles/, with the outside world
// (PATH lookups, randomness, the exec method) given as plain inputs.
import { describe, expect, it } from 'vitest';
import { SHIPPED_PROFILE_NAMES } from '../support/expected';
import { ACCOUNTS, launchOf, NAMES, planOf, SHIPPED } from '../support/shipped-plan';
import { buildPlan } from '../../src/plan/build-plan';
import { loadListeners } from '../../src/profile/load';
import { resolveProfile } from '../../src/profile/resolve';
import { decidePlacement } from '../../src/placement/decide';
import { decideGuard } from '../../src/jail/guard';

/** Tails 7's tails-run-tor-browser-in-flatpak, its last line: what the tor-browser profile runs. */
const TAILS_FLATPAK_RUN = [
  '/usr/bin/flatpak',
  '--installation=tails',
  'run',
  '--allow=unconfined',
  '--file-forwarding',
  '--command=tor-browser',
  'org.boum.tails.TorBrowser',
];

describe('the guard of every shipped profile', () => {
  const EXPECTED: Record<string, string> = {
    apt: 'refused',
    curl: 'jail/user',
    default: 'preload/torsocks',
    dirmngr: 'jail/user',
    electrum: 'jail/user',
    flatpak: 'jail/user',
    git: 'preload/torsocks',
    'gpg-dirmngr': 'refused',
    htpdate: 'refused',
    // Control-port programs: their namespace's one way out is onion-grater.
    'onion-circuits': 'jail/netns',
    onionshare: 'refused',
    'onionshare-cli': 'refused',
    pidgin: 'jail/user',
    printing: 'preload/torsocks',
    ssh: 'preload/torsocks',
    'tails-iuk-get-target-file': 'jail/user',
    'tails-security-check': 'jail/user',
    'tails-upgrade-frontend': 'jail/user',
    thunderbird: 'jail/user',
    'tor-browser': 'jail/netns',
    'tor-connection': 'jail/netns',
    totem: 'preload/torsocks',
    wget: 'preload/torsocks',
    whisperback: 'jail/user',
    whois: 'preload/torsocks',
  };

  it('off Tails: every program that connects by itself is jailed, the rest held by torsocks, Tor Browser by tbb', async () => {
    const found: Record<string, string> = {};
    for (const name of NAMES) {
      const plan = await planOf(name, [], null, {}, 'debian').catch((e: Error) => e);
      if (plan instanceof Error) {
        // htpdate sets the clock as root, Tor must reach OnionShare's web server (guard: host): no jail can
        // run them, so off Tails they are refused, one line.
        expect(plan.message).toMatch(
          /^no guard for profile '(apt|htpdate|onionshare|onionshare-cli|gpg-dirmngr)': no jail can run its program/,
        );
        found[name] = 'refused';
        continue;
      }
      found[name] = `${plan.guard.kind}/${plan.guard.by}`;
      if (plan.guard.by === 'user') {
        expect(plan.exec.file).toMatch(/jail$/);
        expect(plan.exec.argv.at(-1 - plan.application.args.length)).toBe(plan.application.path);
        expect(plan.env.removed.concat(Object.keys(plan.env.set))).not.toContain('DBUS_SESSION_BUS_ADDRESS_KEPT');
        expect(plan.sandbox).not.toBeNull();
      } else expect(plan.sandbox).toBeNull();
    }
    expect(found).toEqual(EXPECTED);
  });

  it('on Tails (ferm declared for amnesia and the service accounts): the own-setting programs are held by the host', async () => {
    for (const name of NAMES) {
      const plan = await planOf(name, [], null, {}, 'tails');
      expect(`${plan.guard.kind}/${plan.guard.by}`).toBe(
        EXPECTED[name] === 'jail/user' || EXPECTED[name] === 'refused' ? 'host/host' : EXPECTED[name],
      );
    }
  });

  it('tor-browser in tbb: Flatpak holds its session (own_sandbox), so the launcher adds no bubblewrap of its own; explain names it', async () => {
    const profile = await resolveProfile(SHIPPED, await loadListeners(SHIPPED), 'tor-browser');
    expect(profile.ownSandbox).toBe('flatpak');
    const d = decideGuard({
      profile: 'tor-browser',
      backend: profile.backend,
      jailAsked: false,
      netns: 'tbb',
      host: null,
      rootJail: false,
      userNamespaces: null,
      sessionNamespaces: null,
      ownSandbox: profile.ownSandbox,
    });
    expect(d).toMatchObject({ ok: true, guard: { kind: 'jail', by: 'netns', session: false } });
    if (d.ok) {
      expect(d.guard.description).toMatch(/the session: the program's own sandbox \(flatpak\)/);
      expect(d.guard.misses).toMatch(/flatpak's sandbox lets it reach/);
    }
    const placement = decidePlacement({
      profile: 'tor-browser',
      placement: profile.placement,
      uid: 1000,
      entryCaller: 1000,
      named: ACCOUNTS.amnesia!,
      caller: ACCOUNTS.amnesia!,
      notPassable: [],
    });
    const { plan } = buildPlan({
      profile,
      placement,
      identity: null,
      args: ['https://example.org/'],
      environment: {
        PATH: '/usr/bin:/bin',
        HOME: '/home/amnesia',
        WAYLAND_DISPLAY: 'wayland-0',
        DBUS_SESSION_BUS_ADDRESS: 'unix:path=/run/user/1000/bus',
        http_proxy: 'http://elsewhere:3128',
      },
      cwd: '/home/amnesia',
      fds: [0, 1, 2],
      execMethod: { method: 'execve', via: 'koffi' },
      randomHex: () => '0123456789abcdef0123456789abcdef',
      findExecutable: (command) => ({ status: 'ok', path: command }),
      followProgram: (path, argv) => ({ ok: true, file: path, argv, chain: [path] }),
      runtimeDir: '/run/user/1000',
      guard: d.ok ? d.guard : undefined,
      sandboxFacts: { a11yBus: null, launchKey: 'feedfacefeedface' },
    });
    // Tails 7's tails-run-tor-browser-in-flatpak, its last line: flatpak itself, no bubblewrap around it.
    expect(plan.exec.argv).toEqual([...TAILS_FLATPAK_RUN, 'https://example.org/']);
    expect(plan.sandbox).toBeNull();
    // Tails' allow-list (tailslib/userenv.py): the session bus and display pass (Flatpak filters them), proxies never.
    expect(plan.env.set.FLATPAK_FANCY_OUTPUT).toBe('0');
    expect(plan.env.removed).toContain('http_proxy');
    expect(plan.env.removed).not.toContain('DBUS_SESSION_BUS_ADDRESS');
    expect(plan.env.removed).not.toContain('WAYLAND_DISPLAY');
  });

  it("pidgin off Tails: X11 (GTK 2), ~/.purple, no session bus; explain's Tor sees the forwarder's address", async () => {
    const plan = await planOf(
      'pidgin',
      [],
      null,
      { DISPLAY: ':0', DBUS_SESSION_BUS_ADDRESS: 'unix:path=/run/user/1000/bus' },
      'debian',
    );
    expect(plan.env.removed).toContain('DBUS_SESSION_BUS_ADDRESS');
    expect(plan.env.set.DISPLAY).toBe(':0');
    expect(plan.sandbox!.grants.join('\n')).toMatch(/\/home\/amnesia\/\.purple, read-write[\s\S]*X11 display :0/);
    expect(plan.torSees).toMatchObject({
      port: 9050,
      clientAddress: '127.0.0.1',
      credentials: { kind: 'application' },
    });
    expect(plan.checks.map((c) => c.kind)).toEqual(['exec-method', 'application', 'sandbox', 'socks5']);
  });

  it("totem --jail: torsocks inside a user jail preloads into totem alone (bubblewrap's --setenv), never into the helper or bwrap; its cache is writable", async () => {
    const { plan, env } = await launchOf(
      'totem',
      ['http://media.test/clip.ogg'],
      null,
      { WAYLAND_DISPLAY: 'wayland-0' },
      'debian',
      true,
    );
    expect(`${plan.guard.kind}/${plan.guard.by}`).toBe('jail/user');
    // The helper's own sockets (the jail's loopback, the forwarder's connection to Tor) are not torsocks'.
    expect(env.LD_PRELOAD).toBeUndefined();
    const argv = plan.exec.argv;
    const setenv = argv.indexOf('--setenv');
    expect(argv.slice(setenv, setenv + 3)).toEqual(['--setenv', 'LD_PRELOAD', plan.exec.preload]);
    // bubblewrap's options end right after it: then totem and its URL.
    expect(argv.slice(setenv + 3)).toEqual(['--', '/usr/bin/totem', 'http://media.test/clip.ogg']);
    // explain still says what totem gets; the rest of torsocks' variables pass through the helper.
    expect(plan.env.set.LD_PRELOAD).toBe(plan.exec.preload);
    expect(env.TORSOCKS_TOR_ADDRESS).toBe('127.0.0.1');
    // Its files: ~ read-only, then its cache (GStreamer's download buffer) read-write on top.
    expect(argv.join(' ')).toContain(
      '--ro-bind-fd /home/amnesia /home/amnesia --bind-fd /home/amnesia/.cache/totem /home/amnesia/.cache/totem',
    );
    expect(plan.sandbox!.create).toEqual(['/home/amnesia/.cache/totem']);
    // A checkout's torsocks.conf is outside /usr: bound read-only, so torsocks reads the launcher's own file.
    const conf = env.TORSOCKS_CONF_FILE!;
    if (!conf.startsWith('/usr/')) expect(argv.join(' ')).toContain(`--ro-bind-fd ${conf} ${conf}`);
  });
});

describe('shipped profiles', () => {
  it('are exactly the set the design names', () => {
    expect(NAMES).toEqual(SHIPPED_PROFILE_NAMES);
  });

  // Tails' own test suite (features/tor_stream_isolation.feature) asserts these.
  it.each([
    ['htpdate', 9062],
    ['tails-security-check', 9062],
    ['tails-upgrade-frontend', 9062],
    ['whisperback', 9062],
    ['tails-iuk-get-target-file', 9063],
    ['ssh', 9050],
    ['pidgin', 9050],
    ['thunderbird', 9050],
    ['curl', 9050],
  ])('%s uses SocksPort %i', async (name, port) => {
    const plan = await planOf(name);
    expect(plan.listener.port).toBe(port);
    expect(plan.listener.address).toBe('127.0.0.1');
    expect(plan.checks.find((c) => c.kind === 'socks5')).toMatchObject({ address: '127.0.0.1', port });
  });

  it('the IUK download goes to 9063 without isolation flags; its own LWP settings decide (no credentials), as its own user', async () => {
    const plan = await planOf('tails-iuk-get-target-file');
    expect(plan.listener.flags).toEqual(['NoIsolateDestAddr', 'NoIsolateDestPort', 'NoIsolateClientProtocol']);
    expect(plan.backend).toBe('own-setting');
    expect(plan.torSees).toMatchObject({ listener: 'upgrader', port: 9063, credentials: { kind: 'application' } });
    expect(plan.placement).toMatchObject({ user: 'tails-iuk-get-target-file', via: 'sudo', account: { uid: 990 } });
    // amnesia hands over to sudo; the entry then becomes the service user before any other check.
    expect(plan.checks.slice(0, 2)).toMatchObject([
      { kind: 'handover' },
      { kind: 'placement', user: 'tails-iuk-get-target-file', problem: null },
    ]);
    // Only the locale: never amnesia's session, HOME or runtime directory.
    const withSession = await planOf('tails-iuk-get-target-file', [], null, {
      DISPLAY: ':0',
      LANG: 'de_DE.UTF-8',
      XDG_RUNTIME_DIR: '/run/user/1000',
      DBUS_SESSION_BUS_ADDRESS: 'unix:path=/run/user/1000/bus',
    });
    expect(withSession.handover?.env).toEqual({
      DISPLAY: ':0',
      LANG: 'de_DE.UTF-8',
      XDG_RUNTIME_DIR: '/run/user/1000',
      DBUS_SESSION_BUS_ADDRESS: 'unix:path=/run/user/1000/bus',
    });
    expect(Object.keys(withSession.env.set).sort()).toEqual(['HOME', 'LOGNAME', 'PATH', 'SHELL', 'USER']);
    expect(withSession.env.set.HOME).toBe('/nonexistent');
    expect(withSession.env.removed).toEqual(['DBUS_SESSION_BUS_ADDRESS', 'DISPLAY', 'XDG_RUNTIME_DIR']);
  });

  it('Tor Browser: 10.200.1.1:9050 reached as 127.0.0.1:9050 in netns tbb; told by TOR_SOCKS_*, isolating per site itself; an allow-listed environment', async () => {
    const plan = await planOf('tor-browser', [], null, {
      http_proxy: 'http://10.0.0.1:3128',
      SOME_VARIABLE: 'x',
      DISPLAY: ':0',
      LANG: 'C.UTF-8',
    });
    expect(plan.listener).toMatchObject({
      address: '10.200.1.1',
      port: 9050,
      netns: 'tbb',
      connect: { address: '127.0.0.1', port: 9050 },
    });
    expect(plan.listener.flags).toEqual(['IsolateSOCKSAuth', 'KeepAliveIsolateSOCKSAuth', 'ExtendedErrors']);
    expect(plan.backend).toBe('own-setting');
    expect(plan.torSees).toMatchObject({ address: '10.200.1.1', port: 9050, credentials: { kind: 'application' } });
    expect(plan.placement).toMatchObject({ netns: 'tbb', user: 'amnesia', via: 'sudo', account: { uid: 1000 } });
    expect(plan.exec.argv).toEqual([...TAILS_FLATPAK_RUN]);
    // sudo runs the entry with the profile's name and the arguments, nothing else; it passes descriptors 0-2 only.
    expect(plan.handover).toEqual({
      file: '/usr/bin/sudo',
      argv: ['/usr/bin/sudo', '-n', '--', '/usr/lib/tails-launch/place', 'tor-browser', '--'],
      env: { DISPLAY: ':0', LANG: 'C.UTF-8' },
      grant: null,
    });
    expect(plan.fds).toEqual([0, 1, 2]);
    // The TOR_SOCKS_* and TOR_CONTROL_* variables are set inside the sandbox by Tails' /usr/bin/tor-browser.
    expect(plan.env.set).toEqual({
      HOME: '/home/amnesia',
      LOGNAME: 'amnesia',
      SHELL: '/bin/bash',
      USER: 'amnesia',
      FLATPAK_FANCY_OUTPUT: '0',
      PATH: '/usr/local/bin:/usr/bin:/bin',
    });
    // userenv.py's allow-list: DISPLAY and LANG pass, anything else does not (HOME is the account's); no proxy variable at all.
    expect(plan.env.removed).toEqual(expect.arrayContaining(['SOME_VARIABLE', 'http_proxy']));
    expect(plan.env.removed).not.toContain('DISPLAY');
  });

  it('curl: env backend, a per-launch <torS0X>0 group in a socks5h URL, no torsocks', async () => {
    const plan = await planOf('curl', ['-s', 'https://example.org/']);
    // -q first: curl reads no .curlrc, whose `noproxy = "*"` would send it direct.
    expect(plan.exec).toMatchObject({
      file: '/usr/bin/curl',
      argv: ['/usr/bin/curl', '-q', '-s', 'https://example.org/'],
    });
    const url =
      'socks5h://%3CtorS0X%3E0:tails-launch%2Flaunch%2Fcurl%2F0123456789abcdef0123456789abcdef@127.0.0.1:9050';
    expect(plan.env.set).toMatchObject({
      ALL_PROXY: url,
      all_proxy: url,
      https_proxy: url,
      SOCKS_SERVER: '127.0.0.1:9050',
    });
    expect(plan.checks.map((c) => c.kind)).toEqual(['application', 'socks5']);
  });

  it('pidgin: own-setting; its prefs decide the credentials (Tails: none), --identity refused; GNOME session id emptied', async () => {
    const plan = await planOf('pidgin');
    expect(plan.backend).toBe('own-setting');
    expect(plan.exec).toMatchObject({ file: '/usr/bin/pidgin', argv: ['/usr/bin/pidgin'], preload: null });
    expect(plan.env.set).toEqual({ GNOME_DESKTOP_SESSION_ID: '' });
    expect(plan.torSees).toMatchObject({
      listener: 'default',
      port: 9050,
      credentials: { kind: 'application' },
      carriedBy: 'the application, from its own settings',
    });
    await expect(planOf('pidgin', [], 'alice@example.org')).rejects.toThrow(/--identity cannot be honoured/);
  });

  it('electrum: own-setting, handed its listener and the app group by --proxy/--proxyuser/--proxypassword; --identity reaches Tor', async () => {
    const plan = await planOf('electrum', [], 'alice');
    const proxy = [
      '--proxy',
      'socks5:127.0.0.1:9050',
      '--proxyuser',
      '<torS0X>0',
      '--proxypassword',
      'tails-launch/app/electrum/identity/alice',
    ];
    // No subcommand: Electrum's default, gui, named so that the proxy options follow it.
    expect(plan.exec.argv).toEqual(['/usr/bin/electrum', 'gui', ...proxy]);
    expect(plan.torSees.credentials).toEqual({
      kind: 'userpass',
      username: '<torS0X>0',
      password: 'tails-launch/app/electrum/identity/alice',
      perLaunch: false,
    });
    const argv = async (args: string[]) => (await planOf('electrum', args, 'alice')).exec.argv.slice(1);
    // Electrum's parser takes them only after gui or daemon (commands.py get_parser).
    expect(await argv(['daemon', '-d'])).toEqual(['daemon', ...proxy, '-d']);
    expect(await argv(['--testnet', 'daemon'])).toEqual(['--testnet', 'daemon', ...proxy]);
    expect(await argv(['bitcoin:1BoatSLRHtKNngkdXEeobR76b53LETtpyT'])).toEqual([
      'gui',
      ...proxy,
      'bitcoin:1BoatSLRHtKNngkdXEeobR76b53LETtpyT',
    ]);
    expect(await argv(['-v'])).toEqual(['gui', ...proxy, '-v']);
    // The caller may not give the proxy options again (the last one wins in Electrum's parser): found by the attacker pass.
    for (const args of [
      ['gui', '--proxy', 'none'],
      ['daemon', '--proxy=none'],
      ['-p', 'none'],
      ['gui', '-pnone'],
      ['--proxyu', 'me'],
      ['--proxypassword', 'x'],
    ])
      await expect(planOf('electrum', args, 'alice'), args.join(' ')).rejects.toThrow(
        /^profile 'electrum' sets its program's proxy itself \(--proxy, -p, --proxyuser, --proxypassword\): the caller may not give '/,
      );
    // Its other subcommands only talk to the daemon: no proxy, and explain says why.
    const getinfo = await planOf('electrum', ['getinfo'], 'alice');
    expect(getinfo.exec.argv.slice(1)).toEqual(['getinfo']);
    expect(getinfo.notes.join('\n')).toContain("'getinfo' takes no proxy arguments (only gui, daemon do)");
  });

  it('htpdate: own-setting on 9062, its Go client handed the group in the --proxy URL (percent-encoded); it lowers itself to user htp', async () => {
    const plan = await planOf('htpdate');
    expect(plan.exec.argv).toEqual([
      '/usr/local/sbin/htpdate',
      '--proxy',
      '%3CtorS0X%3E0:tails-launch%2Fapp%2Fhtpdate@127.0.0.1:9062',
      '--user',
      'htp',
    ]);
    expect(plan.torSees).toMatchObject({
      port: 9062,
      credentials: { kind: 'userpass', password: 'tails-launch/app/htpdate' },
    });
    // Started as root by systemd, it lowers only its effective user itself: no placement.
    expect(plan.placement).toEqual({ netns: null, user: null, via: null, account: null });
    expect(plan.handover).toBeNull();
  });

  it('caller_args: Tor Browser takes URLs but no option (Tails #19595); the upgrader frontend takes nothing', async () => {
    const plan = await planOf('tor-browser', ['https://example.org/', 'x']);
    expect(plan.exec.argv.slice(-3)).toEqual(['org.boum.tails.TorBrowser', 'https://example.org/', 'x']);
    expect(plan.handover?.argv.slice(4)).toEqual(['tor-browser', '--', 'https://example.org/', 'x']);
    await expect(planOf('tor-browser', ['https://example.org/', '--profile=/tmp/x'])).rejects.toMatchObject({
      exitCode: 64,
      message: expect.stringContaining("'--profile=/tmp/x'"),
    });
    await expect(planOf('tails-upgrade-frontend', ['x'])).rejects.toMatchObject({ exitCode: 64 });
    expect((await planOf('tails-upgrade-frontend')).exec.argv).toEqual(['/usr/local/bin/tails-upgrade-frontend']);
  });

  it('ssh: told ProxyCommand=none, so torsocks carries it with the group', async () => {
    const plan = await planOf('ssh', ['host.example']);
    expect(plan.exec.argv).toEqual(['/usr/bin/ssh', '-o', 'ProxyCommand=none', 'host.example']);
    expect(plan.backend).toBe('torsocks');
    expect(plan.torSees.credentials).toMatchObject({ kind: 'userpass', perLaunch: true });
  });

  it("wget: Debian's binary, with --passive-ftp as Tails' wrapper adds; git: its ssh told ProxyCommand=none", async () => {
    expect((await planOf('wget', ['https://example.org/'])).exec.argv).toEqual([
      '/usr/bin/wget',
      '--passive-ftp',
      'https://example.org/',
    ]);
    const git = (await planOf('git')).env.set;
    expect(git.GIT_SSH_COMMAND).toBe('ssh -o ProxyCommand=none');
    // An identity for reflogs without the host-name lookup; commits still need a configured one.
    expect([git.EMAIL, git.GIT_CONFIG_COUNT, git.GIT_CONFIG_KEY_0, git.GIT_CONFIG_VALUE_0]).toEqual([
      'nobody@invalid',
      '1',
      'user.useConfigOnly',
      'true',
    ]);
  });

  it.each([
    'pidgin',
    'thunderbird',
    'onionshare',
    'onionshare-cli',
    'whisperback',
    'tails-security-check',
    'tails-upgrade-frontend',
    'tails-iuk-get-target-file',
    'tor-browser',
    'dirmngr',
    'gpg-dirmngr',
  ])('%s: its own settings decide what Tor sees, and explain says so', async (name) => {
    const plan = await planOf(name);
    expect(plan.backend).toBe('own-setting');
    expect(plan.isolation.mode).toBe('application');
    expect(plan.torSees.credentials.kind).toBe('application');
  });

  it.each(['wget', 'git', 'totem', 'whois'])("%s isolates per process like Tails' torsocks --isolate", async (name) => {
    const plan = await planOf(name);
    expect(plan.isolation.mode).toBe('process');
    expect(plan.env.set.TORSOCKS_ISOLATE_PID).toBe('1');
    expect(plan.env.set).not.toHaveProperty('TORSOCKS_PASSWORD');
  });

  it('default runs the first argument, on the default listener, a group per launch', async () => {
    const plan = await planOf('default', ['wget', '-q', 'https://example.org/']);
    expect(plan.application).toEqual({
      command: 'wget',
      from: 'arguments',
      path: '/usr/bin/wget',
      args: ['-q', 'https://example.org/'],
    });
    expect(plan.exec.argv).toEqual(['/usr/bin/wget', '-q', 'https://example.org/']);
    expect(plan.isolation.mode).toBe('launch');
  });

  it.each(NAMES)(
    '%s: never sets or keeps a proxy variable under torsocks or own-setting, always removes inherited ones',
    async (name) => {
      const plan = await planOf(name, [], null, { http_proxy: 'http://10.0.0.1:3128', TORSOCKS_TOR_PORT: '1' });
      if (plan.backend === 'torsocks') {
        expect(plan.env.removed).toContain('http_proxy');
        expect(Object.keys(plan.env.set).filter((n) => /_proxy$/i.test(n))).toEqual([]);
        expect(plan.env.set.TORSOCKS_TOR_PORT).toBe(String(plan.listener.connect.port));
      } else if (plan.backend === 'own-setting') {
        // Told by their own settings and the proxy arguments: no proxy variable at all.
        expect(plan.env.removed).toContain('http_proxy');
        expect(
          Object.keys(plan.env.set).filter(
            (n) => /_proxy$/i.test(n) || n.startsWith('TORSOCKS_') || n === 'LD_PRELOAD',
          ),
        ).toEqual([]);
      } else {
        // Replaced, not kept: the env backend points it at Tor.
        expect(plan.env.set.http_proxy).toBe(plan.env.set.ALL_PROXY);
        expect(plan.env.set.ALL_PROXY).toMatch(/^socks5h:\/\//);
      }
      expect(plan.exec.file).toMatch(/^\//);
      expect(plan.fds).toEqual([0, 1, 2]);
      expect(JSON.parse(JSON.stringify(plan))).toEqual(plan);
    },
  );
});
