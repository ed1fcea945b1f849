// The user jail as data (pure), the way Flatpak and bubblewrap describe
// confinement: the jail helper's arguments (its forwarder to the listener,
// its D-Bus proxies) and bubblewrap's (namespaces, the filesystem view, what
// of the session is bound in), the variables that change, and what each
// grant gives away. src/jail/jail.c carries it out.
import { EXIT } from '../errors/exit-codes';
import { LaunchError } from '../errors/launch-error';
import type { ResolvedSandbox } from '../profile/sandbox';
import { JAIL_HELPER_PATH } from './constants';

export interface SandboxFacts {
  /** The account's home and runtime directory ($XDG_RUNTIME_DIR; null: none, then no session socket is bound). */
  home: string;
  runtimeDir: string | null;
  cwd: string | null;
  /** The caller's display and buses, from its environment. */
  env: Readonly<Record<string, string | undefined>>;
  /** The accessibility bus's address (AT_SPI_BUS_ADDRESS, or at-spi's socket); null: none found. */
  a11yBus: string | null;
  /** The application's file: bound read-only at its path when outside the system's directories. */
  appPath: string | null;
  /** Files the backend's variables name (torsocks' configuration): bound read-only where outside the system's directories. */
  backendFiles?: readonly string[];
  /** A fresh name for this launch's directory of proxy sockets. */
  launchKey: string;
  /** $XAUTHORITY where it is a regular file of the user's (the edge looked); else null. */
  xauthority?: string | null;
  /**
   * A path with every symbolic link in it resolved, as far as it exists (the
   * edge looks; absent: paths are taken as they are). bubblewrap binds what a
   * path resolves to, so the doors are checked there too.
   */
  realPath?: (path: string) => string;
}

export interface SandboxPlan {
  /** The helper's argv up to and including bubblewrap's `--`: the application's argv follows. */
  argv: string[];
  file: string;
  /** Variables the application gets, and those removed (the session's doors it does not get). */
  set: Record<string, string>;
  unset: string[];
  /** Directories the profile's files need, created (0700) before the launch if missing. */
  create: string[];
  /** What the jail lets it reach of the session, one line each, with what that gives away. */
  grants: string[];
  /** The directory the helper makes for this launch's proxy sockets (removed with the jail). */
  rundir: string | null;
}

/** Read-only from the host: the system, never the user's. */
const SYSTEM_DIRS = ['/usr', '/etc', '/opt'];
const SYSTEM_LINKS = ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];
/** Caches the system keeps for every program (fonts), read-only. */
const SYSTEM_EXTRAS = ['/var/cache/fontconfig'];

/** Variables that name a door out of the jail: removed unless the profile grants it. */
export const SESSION_VARIABLES = [
  'DBUS_SESSION_BUS_ADDRESS',
  'DBUS_SYSTEM_BUS_ADDRESS',
  'AT_SPI_BUS_ADDRESS',
  'DISPLAY',
  'XAUTHORITY',
  'WAYLAND_DISPLAY',
  'PULSE_SERVER',
  'SESSION_MANAGER',
  'SSH_AUTH_SOCK',
  'GPG_AGENT_INFO',
  'GNOME_KEYRING_CONTROL',
  'IBUS_ADDRESS',
] as const;

/**
 * What an application may say on the accessibility bus: Flatpak's policy
 * (flatpak-run.c), registering with the registry and answering screen
 * readers, nothing that makes another program act.
 */
export const A11Y_POLICY = [
  '--filter',
  '--sloppy-names',
  '--call=org.a11y.atspi.Registry=org.a11y.atspi.Socket.Embed@/org/a11y/atspi/accessible/root',
  '--call=org.a11y.atspi.Registry=org.a11y.atspi.Socket.Unembed@/org/a11y/atspi/accessible/root',
  '--call=org.a11y.atspi.Registry=org.a11y.atspi.Registry.GetRegisteredEvents@/org/a11y/atspi/registry',
  '--call=org.a11y.atspi.Registry=org.a11y.atspi.DeviceEventController.GetKeystrokeListeners@/org/a11y/atspi/registry/deviceeventcontroller',
  '--call=org.a11y.atspi.Registry=org.a11y.atspi.DeviceEventController.GetDeviceEventListeners@/org/a11y/atspi/registry/deviceeventcontroller',
  '--call=org.a11y.atspi.Registry=org.a11y.atspi.DeviceEventController.NotifyListenersSync@/org/a11y/atspi/registry/deviceeventcontroller',
  '--call=org.a11y.atspi.Registry=org.a11y.atspi.DeviceEventController.NotifyListenersAsync@/org/a11y/atspi/registry/deviceeventcontroller',
];

/** '~/x', '/x' or '.' → the host path and whether it is read-only; null for '.' without a working directory. */
function hostPath(entry: string, facts: SandboxFacts): { path: string; readOnly: boolean } | null {
  const readOnly = entry.endsWith(':ro');
  const bare = readOnly ? entry.slice(0, -3) : entry;
  const path =
    bare === '.'
      ? facts.cwd
      : bare === '~'
        ? facts.home
        : bare.startsWith('~/')
          ? `${facts.home}/${bare.slice(2)}`
          : bare;
  return path === null ? null : { path: path.replace(/\/+$/, '') || '/', readOnly };
}

/**
 * What no jail reaches, whatever its files: say: the session's sockets (the
 * runtime directory: the session bus, systemd --user, the sound server,
 * Wayland; X11's and ICE's in /tmp; the system's under /run) and the host's
 * processes and devices. /var/run is a link to /run.
 */
function sessionDoors(runtimeDir: string | null): Array<[string, string]> {
  return [
    ...(runtimeDir === null
      ? []
      : [[runtimeDir, 'the session bus, systemd --user, the sound server, Wayland'] as [string, string]]),
    ['/run/user', "the users' runtime directories"],
    ['/run/dbus', 'the system bus'],
    ['/run/systemd', "systemd's sockets"],
    ['/var/run', "/run's sockets"],
    ['/tmp/.X11-unix', "X11's sockets: every window"],
    ['/tmp/.ICE-unix', "the session manager's sockets"],
    ['/proc', "the host's processes"],
    ['/sys', "the host's devices"],
    ['/dev', "the host's devices"],
  ];
}

/** The door binding PATH would give a jail (PATH is one, holds one, or is inside one), or null. */
export function sessionDoorOf(path: string, runtimeDir: string | null): string | null {
  for (const [door, what] of sessionDoors(runtimeDir))
    if (path === '/' || path === door || door.startsWith(`${path}/`) || path.startsWith(`${door}/`))
      return `${door} (${what})`;
  return null;
}

/** Directories of the home whose files other programs run, or read to know what to run. */
const STARTUP_DIRECTORIES = [
  'bin',
  '.local/bin',
  '.config/autostart',
  '.config/systemd',
  '.config/systemd/user',
  '.config/environment.d',
  '.local/share/dbus-1',
  '.local/share/dbus-1/services',
  '.local/share/systemd',
  '.local/share/systemd/user',
  '.local/share/applications',
];

/**
 * '.' read-write is never the home or above it (a jail that writes ~/.bashrc
 * runs code outside it at the next login), nor a hidden directory of the home
 * (~/.config, ~/.local, ~/.ssh...), an XDG directory, or where a start-up
 * directory leads or above it: start-up files and other programs' settings
 * live there (a D-Bus service, an autostart entry, a systemd unit written
 * there runs outside any jail). A profile may still name such a directory of
 * its own (~/.purple). CWD is the resolved working directory; the home and
 * those directories are checked as their links resolve too (a home under
 * /var/home, dotfiles kept elsewhere), and CWD also as $PWD names it.
 */
function refuseWorkingDirectory(cwd: string, facts: SandboxFacts, realPath: (path: string) => string): void {
  const inside = (dir: string) => cwd === dir || cwd.startsWith(`${dir}/`);
  const holds = (dir: string) => dir === cwd || dir.startsWith(`${cwd === '/' ? '' : cwd}/`);
  const homes = [...new Set([facts.home, realPath(facts.home)])];
  if (homes.some(holds))
    throw new LaunchError(
      EXIT.refused,
      `the jail would get the working directory ${cwd} read-write (sandbox files: '.'), and with it the home directory, whose start-up files run outside any jail: run it from a directory inside your home`,
    );
  const xdg = ['XDG_CONFIG_HOME', 'XDG_DATA_HOME', 'XDG_STATE_HOME']
    .map((name) => facts.env[name])
    .flatMap((dir) => (dir !== undefined && dir.startsWith('/') ? [dir.replace(/\/+$/, ''), realPath(dir)] : []))
    .some((dir) => dir !== '' && inside(dir));
  // The directory as the shell reached it ($PWD, when it is this directory): through a link too.
  const pwd = facts.env.PWD;
  const spellings = [cwd, ...(pwd !== undefined && pwd.startsWith('/') && realPath(pwd) === cwd ? [pwd] : [])];
  const hidden = homes.some((home) =>
    spellings.some(
      (dir) =>
        dir.startsWith(`${home}/`) &&
        dir
          .slice(home.length + 1)
          .split('/')
          .some((part) => part.startsWith('.')),
    ),
  );
  const startup = homes.some((home) =>
    STARTUP_DIRECTORIES.some((dir) => {
      const real = realPath(`${home}/${dir}`);
      return inside(real) || holds(real);
    }),
  );
  if (xdg || hidden || startup)
    throw new LaunchError(
      EXIT.refused,
      `the jail would get the working directory ${cwd} read-write (sandbox files: '.'), a directory of settings and start-up files (a D-Bus service or an autostart entry written there runs outside any jail): run it from another directory`,
    );
}

/**
 * A display's or sound server's socket, bound only as itself: a link there
 * (the sticky /tmp/.X11-unix takes anyone's, the runtime directory the
 * user's programs') would bind its target, the session bus for one.
 */
function ownSocket(path: string, what: string, realPath: (path: string) => string): string {
  const real = realPath(path);
  if (real !== path)
    throw new LaunchError(
      EXIT.refused,
      `${path} (${what}) is a link to ${real}: a jail binds a display's or sound server's own socket only; refusing to launch (remove the link)`,
    );
  return path;
}

const underSystem = (path: string) =>
  [...SYSTEM_DIRS, ...SYSTEM_LINKS].some((d) => path === d || path.startsWith(`${d}/`));

/** X11's display number, from DISPLAY (":0", ":1.0", "unix:0"); null for a remote or odd one. */
export function x11Display(display: string | undefined): number | null {
  const m = /^(?:unix)?:(\d{1,5})(?:\.\d+)?$/.exec(display ?? '');
  return m ? Number(m[1]) : null;
}

/** The jail being put together: bubblewrap's and the helper's arguments, the variables, what it grants. */
interface JailBuild {
  bw: string[];
  helper: string[];
  set: Record<string, string>;
  unset: Set<string>;
  grants: string[];
  create: string[];
  /** The runtime directory (null: none), and the jail's own directory in it. */
  run: string | null;
  rundir: string | null;
  realPath: (path: string) => string;
}

/** Step 1: the namespaces, the system read-only, a fresh /proc, /dev, /tmp, /run, home and runtime directory. */
function baseJail(
  listener: { address: string; port: number } | null,
  insidePort: number,
  facts: SandboxFacts,
): JailBuild {
  const run = facts.runtimeDir;
  const bw: string[] = [
    '--unshare-user',
    '--unshare-pid',
    '--unshare-ipc',
    '--unshare-uts',
    '--unshare-cgroup-try',
    '--disable-userns',
    '--die-with-parent',
    '--as-pid-1',
    '--cap-drop',
    'ALL',
  ];
  for (const d of SYSTEM_DIRS) bw.push('--ro-bind-try', d, d);
  for (const d of [...SYSTEM_LINKS, ...SYSTEM_EXTRAS]) bw.push('--ro-bind-try', d, d);
  bw.push('--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp', '--tmpfs', '/run', '--dir', '/var/tmp');
  bw.push('--dir', facts.home);
  if (run !== null) bw.push('--perms', '0700', '--dir', run);
  const helper: string[] = [JAIL_HELPER_PATH];
  const rundir = run === null ? null : `${run}/tails-launch/jail-${facts.launchKey}`;
  if (rundir !== null) helper.push('--rundir', rundir);
  if (listener === null) helper.push('--share-net');
  else
    helper.push(
      '--forward',
      `${insidePort}=${listener.address.includes(':') ? `[${listener.address}]` : listener.address}:${listener.port}`,
    );
  // What bubblewrap binds is named by its resolved path, which the helper opens without following
  // any link (--bind-fd PATH: a link put there since the plan is refused, not followed).
  const realPath = facts.realPath ?? ((path: string) => path);
  return { bw, helper, set: {}, unset: new Set(SESSION_VARIABLES), grants: [], create: [], run, rundir, realPath };
}

/** Step 2: the program and the wrapper's files, where they are not system files already. */
function bindProgram(j: JailBuild, facts: SandboxFacts): void {
  if (facts.appPath !== null && !underSystem(facts.appPath)) {
    j.bw.push('--ro-bind-fd', j.realPath(facts.appPath), facts.appPath);
    j.grants.push(`its program ${facts.appPath}, read-only`);
  }
  for (const file of facts.backendFiles ?? []) {
    if (underSystem(file)) continue;
    j.bw.push('--ro-bind-fd', j.realPath(file), file);
    j.grants.push(`its wrapper's file ${file}, read-only`);
  }
}

/** Step 3: the profile's files, none of which may bring a door of the session in. */
function bindProfileFiles(j: JailBuild, sandbox: ResolvedSandbox, facts: SandboxFacts): void {
  for (const entry of sandbox.files) {
    const f = hostPath(entry, facts);
    if (f === null) continue;
    // What bubblewrap will bind: a link (~/.thunderbird -> the runtime directory, a $HOME that is one)
    // binds its target.
    const real = j.realPath(f.path);
    // '.' is wherever the caller happens to be: /, /tmp or the runtime directory would bring the session in.
    const door = sessionDoorOf(f.path, j.run) ?? sessionDoorOf(real, j.run);
    if (door !== null)
      throw new LaunchError(
        EXIT.refused,
        entry === '.'
          ? `the jail would get the working directory ${f.path} (sandbox files: '.'), and with it ${door}, which no jail reaches: run it from another directory`
          : `the jail would get ${f.path}${real === f.path ? '' : ` (a link to ${real})`} (sandbox files: '${entry}'), and with it ${door}, which no jail reaches: ${real === f.path ? "narrow the profile's sandbox files" : 'replace the link with a directory'}`,
      );
    if (entry === '.' && !f.readOnly) refuseWorkingDirectory(real, facts, j.realPath);
    // The target checked above, at the path the program knows.
    j.bw.push(f.readOnly ? '--ro-bind-fd' : '--bind-fd', real, f.path);
    if (!f.readOnly && entry !== '.' && entry !== '~') j.create.push(f.path);
    j.grants.push(`${f.path}${f.readOnly ? ', read-only' : ', read-write'}`);
  }
}

/** A socket of the session bound in at SOCKET, and the variable that names it to the program. */
function shareSocket(j: JailBuild, socket: string, variable: string, value: string, grant: string): void {
  j.bw.push('--ro-bind-fd', `?${socket}`, socket);
  j.set[variable] = value;
  j.unset.delete(variable);
  j.grants.push(grant);
}

/** Step 4: the display the profile grants (Wayland, or X11 and its cookie), and the sound server. */
function shareDisplayAndSound(j: JailBuild, sandbox: ResolvedSandbox, facts: SandboxFacts): void {
  // Only a compositor's socket by its usual name, in the runtime directory: a variable that names
  // another socket there (the session bus) or a path would bind that instead.
  const wayland = facts.env.WAYLAND_DISPLAY;
  if (
    sandbox.display === 'wayland' &&
    j.run !== null &&
    wayland !== undefined &&
    /^wayland-[A-Za-z0-9_.-]{1,64}$/.test(wayland)
  ) {
    const socket = ownSocket(`${j.run}/${wayland}`, 'WAYLAND_DISPLAY', j.realPath);
    shareSocket(j, socket, 'WAYLAND_DISPLAY', socket, `the Wayland display ${socket} (its own windows only)`);
  }
  const n = sandbox.display === 'x11' ? x11Display(facts.env.DISPLAY) : null;
  if (n !== null) {
    const socket = ownSocket(`/tmp/.X11-unix/X${n}`, 'DISPLAY', j.realPath);
    j.bw.push('--ro-bind-fd', `?${socket}`, socket);
    j.set.DISPLAY = `:${n}`;
    j.unset.delete('DISPLAY');
    // The cookie file the edge found to be a regular file of the user's (never a socket it names).
    const xauth = facts.xauthority ?? null;
    if (xauth !== null) {
      j.bw.push('--ro-bind-fd', `?${xauth}`, xauth);
      j.set.XAUTHORITY = xauth;
      j.unset.delete('XAUTHORITY');
    }
    j.grants.push(
      `the X11 display :${n}: X11 lets it read and type into every other window on that display (keystrokes, screenshots), which can make another program connect`,
    );
  }
  if (sandbox.sound && j.run !== null) {
    const pulse = ownSocket(`${j.run}/pulse/native`, 'the sound server', j.realPath);
    shareSocket(
      j,
      pulse,
      'PULSE_SERVER',
      `unix:${pulse}`,
      `the sound server ${pulse}: it can be asked to load modules, some of which connect elsewhere`,
    );
  }
}

/** Step 5: the buses the profile grants, each through a filtering proxy the helper runs. */
function shareBuses(j: JailBuild, sandbox: ResolvedSandbox, facts: SandboxFacts): void {
  const { run, rundir } = j;
  if (sandbox.a11y && rundir !== null && facts.a11yBus !== null) {
    const outside = `${rundir}/a11y`;
    const inside = `${run}/at-spi/bus`;
    j.helper.push('--dbus-proxy', String(2 + A11Y_POLICY.length), facts.a11yBus, outside, ...A11Y_POLICY);
    j.bw.push('--bind-fd', outside, inside);
    j.set.AT_SPI_BUS_ADDRESS = `unix:path=${inside}`;
    j.unset.delete('AT_SPI_BUS_ADDRESS');
    j.grants.push(
      "the accessibility bus, through a filtering proxy (Flatpak's policy: it registers with the registry and answers screen readers)",
    );
  }
  if (sandbox.sessionBus !== null && rundir !== null && facts.env.DBUS_SESSION_BUS_ADDRESS) {
    const outside = `${rundir}/bus`;
    const inside = `${run}/bus`;
    const talk = sandbox.sessionBus.map((n) => `--talk=${n}`);
    j.helper.push(
      '--dbus-proxy',
      String(3 + talk.length),
      facts.env.DBUS_SESSION_BUS_ADDRESS,
      outside,
      '--filter',
      ...talk,
    );
    j.bw.push('--bind-fd', outside, inside);
    j.set.DBUS_SESSION_BUS_ADDRESS = `unix:path=${inside}`;
    j.unset.delete('DBUS_SESSION_BUS_ADDRESS');
    j.grants.push(
      `the session bus, through a filtering proxy: it may talk to ${sandbox.sessionBus.length ? sandbox.sessionBus.join(', ') : 'nobody but the bus itself'}`,
    );
  }
}

/**
 * The user jail for LISTENER (the address and port Tor listens on) reached
 * inside as 127.0.0.1:INSIDE_PORT, with the profile's SANDBOX grants. A null
 * LISTENER: the network namespace is root's already (netns, a root jail), the
 * helper makes none (--share-net) and only the session is confined here.
 */
export function planSandbox(
  sandbox: ResolvedSandbox,
  listener: { address: string; port: number } | null,
  insidePort: number,
  facts: SandboxFacts,
): SandboxPlan {
  const j = baseJail(listener, insidePort, facts);
  bindProgram(j, facts);
  bindProfileFiles(j, sandbox, facts);
  shareDisplayAndSound(j, sandbox, facts);
  shareBuses(j, sandbox, facts);
  const inCwd = facts.cwd !== null && sandbox.files.some((f) => f.replace(/:ro$/, '') === '.');
  j.bw.push('--chdir', inCwd ? facts.cwd! : facts.home);
  if (j.grants.length === 0) j.grants.push('nothing of the session');
  return {
    file: JAIL_HELPER_PATH,
    argv: [...j.helper, '--', ...j.bw, '--'],
    set: j.set,
    unset: [...j.unset].filter((n) => !(n in j.set)).sort(),
    create: j.create,
    grants: j.grants,
    rundir: j.rundir,
  };
}
