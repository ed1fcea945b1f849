// The guard of a launch (src/jail/guard.ts) and the user jail as data
// (src/jail/sandbox.ts): pure decisions, every case.
import { describe, expect, it } from 'vitest';
import { decideGuard, type GuardInput } from '../../src/jail/guard';
import { planSandbox, SESSION_VARIABLES, x11Display, A11Y_POLICY } from '../../src/jail/sandbox';
import { LaunchError } from '../../src/errors/launch-error';
import { resolveSandbox } from '../../src/profile/sandbox';
import { findWeakenings } from '../../src/profile/weaken';

const base: GuardInput = {
  profile: 'p',
  backend: 'own-setting',
  jailAsked: false,
  netns: null,
  host: null,
  rootJail: false,
  userNamespaces: null,
};

describe('the guard of a launch', () => {
  it('torsocks and proxychains are held by their library', () => {
    expect(decideGuard({ ...base, backend: 'torsocks' })).toMatchObject({
      ok: true,
      guard: { kind: 'preload', by: 'torsocks' },
    });
    expect(decideGuard({ ...base, backend: 'proxychains' })).toMatchObject({
      ok: true,
      guard: { kind: 'preload', by: 'proxychains' },
    });
  });

  it('a program that connects by itself (own-setting, env) is jailed by the launcher, no root needed', () => {
    for (const backend of ['own-setting', 'env'] as const)
      expect(decideGuard({ ...base, backend })).toMatchObject({ ok: true, guard: { kind: 'jail', by: 'user' } });
  });

  it('unless the administrator declares that the host firewall holds it', () => {
    const d = decideGuard({ ...base, host: { description: "Tails' ferm" } });
    expect(d).toMatchObject({
      ok: true,
      guard: { kind: 'host', by: 'host', description: "the host's firewall: Tails' ferm" },
    });
  });

  it('a jail asked for is made even where a firewall or a library would hold: by root where configured, else by the user', () => {
    expect(decideGuard({ ...base, jailAsked: true, host: { description: 'x' } })).toMatchObject({
      guard: { by: 'user' },
    });
    expect(decideGuard({ ...base, backend: 'torsocks', jailAsked: true })).toMatchObject({ guard: { by: 'user' } });
    expect(decideGuard({ ...base, jailAsked: true, rootJail: true })).toMatchObject({
      guard: { kind: 'jail', by: 'root' },
    });
  });

  it("a named namespace is root's jail; a profile cannot ask for both", () => {
    expect(decideGuard({ ...base, netns: 'tbb' })).toMatchObject({ guard: { kind: 'jail', by: 'netns' } });
    expect(decideGuard({ ...base, netns: 'tbb', jailAsked: true })).toMatchObject({ ok: false, status: 'config' });
  });

  it('guard: host (a program no jail can run): only a declared firewall holds it, else refused', () => {
    expect(decideGuard({ ...base, hostOnly: true, host: { description: 'ferm' } })).toMatchObject({
      guard: { kind: 'host' },
    });
    const d = decideGuard({ ...base, hostOnly: true });
    expect(d).toMatchObject({ ok: false, status: 'refused' });
    if (!d.ok) expect(d.problem).toMatch(/no jail can run its program .*declare host_firewall/);
  });

  it('where no guard can be had, one line says why and how to get one', () => {
    const d = decideGuard({ ...base, userNamespaces: 'user namespaces are off (user.max_user_namespaces = 0)' });
    expect(d.ok).toBe(false);
    if (d.ok) return;
    expect(d.status).toBe('refused');
    expect(d.problem).not.toContain('\n');
    expect(d.problem).toMatch(/^no guard for profile 'p': its program connects by itself \(backend own-setting\)/);
    expect(d.problem).toMatch(/user\.max_user_namespaces = 0/);
    expect(d.problem).toMatch(/host_firewall/);
    // A library-held program needs no namespace.
    expect(decideGuard({ ...base, backend: 'torsocks', userNamespaces: 'off' })).toMatchObject({ ok: true });
  });
});

const facts = {
  home: '/home/amnesia',
  runtimeDir: '/run/user/1000',
  cwd: '/home/amnesia/work',
  env: {
    WAYLAND_DISPLAY: 'wayland-0',
    DISPLAY: ':0',
    XAUTHORITY: '/run/user/1000/.mutter-Xwaylandauth.X1',
    DBUS_SESSION_BUS_ADDRESS: 'unix:path=/run/user/1000/bus',
  },
  a11yBus: 'unix:path=/run/user/1000/at-spi/bus_0',
  appPath: '/usr/bin/pidgin',
  launchKey: 'feedfacefeedface',
};
const LISTENER = { address: '127.0.0.1', port: 9050 };

/** bubblewrap's arguments, between the helper's `--` and the application. */
function bwrapArgs(argv: string[]): string[] {
  return argv.slice(argv.indexOf('--') + 1, -1);
}

/** The SRC DST pairs bound with OPTION. */
function binds(args: string[], option: string): string[] {
  return args.flatMap((a, i) => (a === option ? [args[i + 2]!] : []));
}

describe('the user jail as data', () => {
  it('nothing of the session by default: every door variable removed, no socket bound, home an empty tmpfs', () => {
    const s = planSandbox(resolveSandbox(undefined), LISTENER, 9050, facts);
    const bw = bwrapArgs(s.argv);
    expect(s.argv.slice(0, 6)).toEqual([
      expect.stringMatching(/jail$/),
      '--rundir',
      '/run/user/1000/tails-launch/jail-feedfacefeedface',
      '--forward',
      '9050=127.0.0.1:9050',
      '--',
    ]);
    expect(s.argv.at(-1)).toBe('--');
    for (const flag of [
      '--unshare-user',
      '--unshare-pid',
      '--unshare-ipc',
      '--disable-userns',
      '--die-with-parent',
      '--as-pid-1',
    ])
      expect(bw).toContain(flag);
    // The network namespace is the helper's (its one way out is the forwarder): bubblewrap must not make another.
    expect(bw).not.toContain('--unshare-net');
    expect(bw).not.toContain('--share-net');
    expect(
      [...binds(bw, '--bind-fd'), ...binds(bw, '--ro-bind-fd'), ...binds(bw, '--ro-bind-try')].filter(
        (d) => d.startsWith('/run') || d.startsWith('/tmp') || d.startsWith('/home'),
      ),
    ).toEqual([]);
    expect(s.unset).toEqual([...SESSION_VARIABLES].sort());
    expect(s.set).toEqual({});
    expect(s.grants).toEqual(['nothing of the session']);
    expect(bw.slice(bw.indexOf('--chdir'), bw.indexOf('--chdir') + 2)).toEqual(['--chdir', '/home/amnesia']);
  });

  it('wayland: only the Wayland socket; x11: the X socket and its cookie, and says what X11 gives away', () => {
    const w = planSandbox(resolveSandbox({ display: 'wayland', a11y: false }), LISTENER, 9050, facts);
    // Bound by the helper from a descriptor it opens without following a link ('?': if it exists).
    const wb = bwrapArgs(w.argv);
    const at = wb.indexOf('/run/user/1000/wayland-0');
    expect(wb.slice(at - 2, at + 1)).toEqual(['--ro-bind-fd', '?/run/user/1000/wayland-0', '/run/user/1000/wayland-0']);
    expect(w.set).toEqual({ WAYLAND_DISPLAY: '/run/user/1000/wayland-0' });
    expect(w.unset).toContain('DISPLAY');
    const x = planSandbox(resolveSandbox({ display: 'x11', a11y: false }), LISTENER, 9050, {
      ...facts,
      xauthority: facts.env.XAUTHORITY,
    });
    expect(binds(bwrapArgs(x.argv), '--ro-bind-fd')).toEqual(
      expect.arrayContaining(['/tmp/.X11-unix/X0', facts.env.XAUTHORITY]),
    );
    expect(x.set).toEqual({ DISPLAY: ':0', XAUTHORITY: facts.env.XAUTHORITY });
    expect(x.unset).toContain('WAYLAND_DISPLAY');
    expect(x.grants.join('\n')).toMatch(/read and type into every other window/);
    expect(x11Display('unix:3.0')).toBe(3);
    expect(x11Display('remote:0')).toBeNull();
  });

  it("a11y through Flatpak's filtering proxy; the session bus only with session_bus, filtered to its names", () => {
    const a = planSandbox(resolveSandbox({ display: 'wayland' }), LISTENER, 9050, facts);
    const i = a.argv.indexOf('--dbus-proxy');
    expect(a.argv.slice(i, i + 4)).toEqual([
      '--dbus-proxy',
      String(2 + A11Y_POLICY.length),
      facts.a11yBus,
      '/run/user/1000/tails-launch/jail-feedfacefeedface/a11y',
    ]);
    expect(a.argv.slice(i + 4, i + 4 + A11Y_POLICY.length)).toEqual(A11Y_POLICY);
    expect(a.set.AT_SPI_BUS_ADDRESS).toBe('unix:path=/run/user/1000/at-spi/bus');
    expect(a.unset).toContain('DBUS_SESSION_BUS_ADDRESS');
    expect(a.argv.filter((x) => x === '--dbus-proxy')).toHaveLength(1);
    const b = planSandbox(resolveSandbox({ session_bus: ['org.freedesktop.Notifications'] }), LISTENER, 9050, facts);
    const j = b.argv.indexOf('--dbus-proxy');
    expect(b.argv.slice(j, j + 6)).toEqual([
      '--dbus-proxy',
      '4',
      'unix:path=/run/user/1000/bus',
      '/run/user/1000/tails-launch/jail-feedfacefeedface/bus',
      '--filter',
      '--talk=org.freedesktop.Notifications',
    ]);
    expect(b.set.DBUS_SESSION_BUS_ADDRESS).toBe('unix:path=/run/user/1000/bus');
  });

  it("files: the profile's paths read-write (made if missing) or read-only; '.' is the working directory and the jail starts there", () => {
    const s = planSandbox(resolveSandbox({ files: ['~/.purple', '/srv/x:ro', '.', '~:ro'] }), LISTENER, 9050, facts);
    const bw = bwrapArgs(s.argv);
    expect(binds(bw, '--bind-fd')).toEqual(['/home/amnesia/.purple', '/home/amnesia/work']);
    expect(binds(bw, '--ro-bind-fd')).toEqual(['/srv/x', '/home/amnesia']);
    expect(s.create).toEqual(['/home/amnesia/.purple']);
    expect(bw.slice(bw.indexOf('--chdir'), bw.indexOf('--chdir') + 2)).toEqual(['--chdir', '/home/amnesia/work']);
  });

  it("files: never a path that is, holds or is inside the session's doors ('.' from /, /tmp, the runtime directory): refused, 77", () => {
    const plan = (files: string[], cwd: string, home = facts.home) =>
      planSandbox(resolveSandbox({ files }), LISTENER, 9050, { ...facts, cwd, home });
    const refused = (files: string[], cwd: string, message: RegExp, home?: string) => {
      let error: unknown = null;
      try {
        plan(files, cwd, home);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(LaunchError);
      expect((error as LaunchError).exitCode).toBe(77);
      expect((error as LaunchError).message).toMatch(message);
    };
    refused(['.'], '/', /working directory \/ .*run it from another directory/);
    refused(['.'], '/tmp', /working directory \/tmp .*\/tmp\/\.X11-unix/);
    refused(['.'], '/run/user/1000', /\/run\/user\/1000 \(the session bus, systemd --user/);
    refused(['.'], '/run/user/1000/systemd', /the session bus/);
    refused(['.'], '/run', /\/run\/user/);
    refused(['.'], '/proc/self', /\/proc \(the host's processes\)/);
    refused(['/var'], facts.cwd, /sandbox files: '\/var'.*\/var\/run/);
    refused(['~:ro'], facts.cwd, /sandbox files: '~:ro'.*narrow the profile's sandbox files/, '/');
    // A home that holds the runtime directory.
    expect(() =>
      planSandbox(resolveSandbox({ files: ['~'] }), LISTENER, 9050, { ...facts, runtimeDir: '/home/amnesia/run' }),
    ).toThrow(LaunchError);
    // Elsewhere in /tmp and /run: what the user put there.
    expect(binds(bwrapArgs(plan(['.'], '/tmp/build').argv), '--bind-fd')).toEqual(['/tmp/build']);
    expect(binds(bwrapArgs(plan(['/run/media/amnesia'], facts.cwd).argv), '--bind-fd')).toEqual(['/run/media/amnesia']);
  });

  it("the caller's variables cannot move what is bound: WAYLAND_DISPLAY names only a wayland-N socket, XAUTHORITY only what the edge found a file, '.' never the home", () => {
    for (const bad of ['bus', '../1000/bus', '/run/user/1000/bus', 'pulse/native'])
      expect(
        planSandbox(resolveSandbox({ display: 'wayland' }), LISTENER, 9050, {
          ...facts,
          env: { ...facts.env, WAYLAND_DISPLAY: bad },
        }).set,
      ).not.toHaveProperty('WAYLAND_DISPLAY');
    const x = planSandbox(resolveSandbox({ display: 'x11' }), LISTENER, 9050, {
      ...facts,
      env: { ...facts.env, XAUTHORITY: '/run/user/1000/bus' },
    });
    expect(x.argv).not.toContain('/run/user/1000/bus');
    expect(() => planSandbox(resolveSandbox({ files: ['.'] }), LISTENER, 9050, { ...facts, cwd: facts.home })).toThrow(
      /the home directory/,
    );
    expect(() => planSandbox(resolveSandbox({ files: ['.'] }), LISTENER, 9050, { ...facts, cwd: '/home' })).toThrow(
      /the home directory/,
    );
  });

  it("'.' read-write is never a directory of settings or start-up files: a hidden directory of the home, or an XDG directory", () => {
    const dot = (cwd: string, env: Record<string, string> = {}) =>
      planSandbox(resolveSandbox({ files: ['.'] }), LISTENER, 9050, { ...facts, cwd, env: { ...facts.env, ...env } });
    for (const cwd of [
      `${facts.home}/.local/share/dbus-1/services`,
      `${facts.home}/.config/autostart`,
      `${facts.home}/.config`,
      `${facts.home}/.ssh`,
      `${facts.home}/Documents/.git/hooks`,
    ])
      expect(() => dot(cwd), cwd).toThrow(/a directory of settings and start-up files .*run it from another directory/);
    expect(() => dot('/srv/xdg/autostart', { XDG_CONFIG_HOME: '/srv/xdg' })).toThrow(/settings and start-up files/);
    // A home under a link (/home -> /var/home): the working directory is the resolved one.
    const linkedHome = (cwd: string) =>
      planSandbox(resolveSandbox({ files: ['.'] }), LISTENER, 9050, {
        ...facts,
        cwd,
        realPath: (path: string) => path.replace(/^\/home\//, '/var/home/'),
      });
    expect(() => linkedHome('/var/home/amnesia/.config/autostart')).toThrow(/settings and start-up files/);
    expect(() => linkedHome('/var/home/amnesia')).toThrow(/and with it the home directory/);
    expect(() => linkedHome('/var/home')).toThrow(/and with it the home directory/);
    // Dotfiles kept elsewhere (stow): ~/.local/share/dbus-1/services -> ~/dotfiles/dbus, entered by either name.
    const stow = (cwd: string, pwd?: string) =>
      planSandbox(resolveSandbox({ files: ['.'] }), LISTENER, 9050, {
        ...facts,
        cwd,
        env: { ...facts.env, ...(pwd === undefined ? {} : { PWD: pwd }) },
        realPath: (path: string) =>
          path.replace(/^\/home\/amnesia\/\.local\/share\/dbus-1\/services(?=\/|$)/, '/home/amnesia/dotfiles/dbus'),
      });
    expect(() => stow('/home/amnesia/dotfiles/dbus')).toThrow(/settings and start-up files/);
    // Nor the folder that holds it.
    expect(() => stow('/home/amnesia/dotfiles')).toThrow(/settings and start-up files/);
    expect(() => stow('/home/amnesia/dotfiles/dbus', '/home/amnesia/.local/share/dbus-1/services')).toThrow(
      /settings and start-up files/,
    );
    // ~/bin: its files run as commands.
    expect(() => dot(`${facts.home}/bin`)).toThrow(/settings and start-up files/);
    // $PWD that is another directory is not believed (a caller's variable cannot make a directory refused or allowed).
    expect(
      binds(bwrapArgs(dot(`${facts.home}/Downloads`, { PWD: `${facts.home}/.config` }).argv), '--bind-fd'),
    ).toEqual([`${facts.home}/Downloads`]);
    expect(binds(bwrapArgs(linkedHome('/var/home/amnesia/Downloads').argv), '--bind-fd')).toEqual([
      '/var/home/amnesia/Downloads',
    ]);
    // Controls: an ordinary directory of the home, or outside it, is granted; and read-only anywhere there.
    expect(binds(bwrapArgs(dot(`${facts.home}/Downloads`).argv), '--bind-fd')).toEqual([`${facts.home}/Downloads`]);
    expect(binds(bwrapArgs(dot('/srv/build').argv), '--bind-fd')).toEqual(['/srv/build']);
    const ro = planSandbox(resolveSandbox({ files: ['.:ro'] }), LISTENER, 9050, {
      ...facts,
      cwd: `${facts.home}/.config`,
    });
    expect(binds(bwrapArgs(ro.argv), '--ro-bind-fd')).toContain(`${facts.home}/.config`);
  });

  it('what a link resolves to is what is checked and bound: a granted directory or $HOME that links to a door is refused; a socket reached through a link is refused', () => {
    const links: Record<string, string> = {
      '/home/amnesia/.thunderbird': '/run/user/1000',
      '/home/amnesia/Persistent': '/live/persistence/TailsData_unlocked/Persistent',
      '/home/link': '/run/user/1000',
      '/run/user/1000/wayland-0': '/run/user/1000/bus',
      '/tmp/.X11-unix/X0': '/run/user/1000/bus',
    };
    const realPath = (path: string) => {
      for (const [link, target] of Object.entries(links))
        if (path === link || path.startsWith(`${link}/`)) return target + path.slice(link.length);
      return path;
    };
    const plan = (sandbox: Parameters<typeof resolveSandbox>[0], more: Partial<typeof facts> = {}) =>
      planSandbox(resolveSandbox(sandbox), LISTENER, 9050, { ...facts, realPath, ...more });
    expect(() => plan({ files: ['~/.thunderbird'] })).toThrow(
      /\/home\/amnesia\/\.thunderbird \(a link to \/run\/user\/1000\) .*the session bus.*replace the link with a directory/,
    );
    expect(() => plan({ files: ['~:ro'] }, { home: '/home/link' })).toThrow(/a link to \/run\/user\/1000/);
    expect(() => plan({ display: 'wayland' })).toThrow(
      /wayland-0 \(WAYLAND_DISPLAY\) is a link to \/run\/user\/1000\/bus/,
    );
    expect(() => plan({ display: 'x11' })).toThrow(/X11-unix\/X0 \(DISPLAY\) is a link/);
    // Control: Tails' ~/Persistent, a link to the persistent volume, is bound from its target at the path the program knows.
    const persistent = plan({ files: ['~/Persistent/Tor Browser'] });
    const bw = bwrapArgs(persistent.argv);
    const at = bw.indexOf('/home/amnesia/Persistent/Tor Browser');
    expect(bw.slice(at - 2, at + 1)).toEqual([
      '--bind-fd',
      '/live/persistence/TailsData_unlocked/Persistent/Tor Browser',
      '/home/amnesia/Persistent/Tor Browser',
    ]);
    // And without links, paths bind as themselves.
    expect(binds(bwrapArgs(plan({ files: ['~/.purple'] }).argv), '--bind-fd')).toEqual(['/home/amnesia/.purple']);
  });

  it("a program outside the system's directories is bound read-only at its path; the listener may be IPv6", () => {
    const s = planSandbox(resolveSandbox(undefined), { address: '::1', port: 9150 }, 9050, {
      ...facts,
      appPath: '/opt2/app',
    });
    expect(binds(bwrapArgs(s.argv), '--ro-bind-fd')).toEqual(['/opt2/app']);
    expect(s.argv).toContain('9050=[::1]:9150');
  });

  it('the user layer may narrow a system sandbox, never widen it', () => {
    // An empty session_bus where the system profile has none is a filtered bus where there was no bus at all.
    expect(findWeakenings({ sandbox: {} }, { sandbox: { session_bus: [] } })).toMatchObject([
      { field: 'sandbox', user: 'a session bus' },
    ]);
    expect(
      findWeakenings({ sandbox: { display: 'wayland', files: ['~/.a'] } }, { sandbox: { display: 'none' } }),
    ).toEqual([]);
    expect(findWeakenings({ sandbox: { display: 'wayland' } }, { sandbox: { display: 'x11' } })).toMatchObject([
      { field: 'sandbox', kind: 'wider', user: 'display x11' },
    ]);
    expect(findWeakenings({}, { sandbox: { files: ['~'], session_bus: ['org.x.Y'] } })).toMatchObject([
      { field: 'sandbox', user: 'file ~, a session bus, session bus org.x.Y' },
    ]);
  });
});
