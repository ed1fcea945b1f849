// The environment of a placed application (another user, another network
// namespace): built from an allow-list, never inherited whole. Pure.
//
// The list is Tails' own for applications it runs in a namespace or as
// another user (tailslib/userenv.py ALLOWED_ENV_VARS: display, Wayland, the
// D-Bus session, the XDG runtime directory and desktop, locale, DEBUG,
// DESKTOP_STARTUP_ID), plus the rest of the locale (LANGUAGE, LC_*), the
// accessibility bus (AT_SPI_BUS_ADDRESS, NO_AT_BRIDGE, QT_ACCESSIBILITY: the
// netns launchers of Tails set them), TERM, and Tor Browser's
// TOR_BROWSER_SKIP_OFFLINE_WARNING (Tails' sudoers keeps it for the browser).
// INHERIT_FD is left out: sudo closes every descriptor above 2.
//
// Nothing here names code to load (no LD_*, GTK_MODULES, GIO_EXTRA_MODULES,
// PYTHONPATH...) or a proxy: the caller may be a different user from the one
// the application runs as. The shipped sudoers drop-in keeps exactly these
// names (debian/tails-launch.sudoers; a unit test compares the two), and the
// privileged entry filters again with this same list.
import type { Account } from './account';

export const PLACEMENT_ENV_NAMES = [
  'AT_SPI_BUS_ADDRESS',
  'DBUS_SESSION_BUS_ADDRESS',
  'DEBUG',
  'DESKTOP_STARTUP_ID',
  'DISPLAY',
  'LANG',
  'LANGUAGE',
  'NO_AT_BRIDGE',
  'QT_ACCESSIBILITY',
  'TERM',
  'TOR_BROWSER_SKIP_OFFLINE_WARNING',
  'WAYLAND_DISPLAY',
  'XAUTHORITY',
  'XDG_CURRENT_DESKTOP',
  'XDG_RUNTIME_DIR',
  'XDG_SESSION_TYPE',
] as const;

/** Name patterns (sudoers' syntax): every LC_ variable. */
export const PLACEMENT_ENV_PATTERNS = ['LC_*'] as const;

/** PATH of a placed application unless its profile sets one (Tails' wrappers use the same). */
export const PLACEMENT_PATH = '/usr/local/bin:/usr/bin:/bin';

export function isPlacementAllowed(name: string): boolean {
  return (PLACEMENT_ENV_NAMES as readonly string[]).includes(name) || /^LC_[A-Z]+$/.test(name);
}

/** The variables of ENV that a placed application may inherit. */
export function allowedForPlacement(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(env))
    if (value !== undefined && isPlacementAllowed(name)) kept[name] = value;
  return kept;
}

/**
 * What login(1) and runuser set for the account the application runs as
 * (never the caller's HOME: a service user must not write into it), and
 * PATH. The profile's own env.set comes after and may replace PATH.
 */
export function accountVariables(account: Account | null): Record<string, string> {
  if (account === null) return { PATH: PLACEMENT_PATH };
  return {
    HOME: account.home,
    LOGNAME: account.name,
    PATH: PLACEMENT_PATH,
    SHELL: account.shell,
    USER: account.name,
  };
}
