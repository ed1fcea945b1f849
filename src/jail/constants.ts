// The user jail's fixed paths, decided at build time: never looked up on a PATH.

declare const __JAIL_PATH__: string;

/** The jail helper (src/jail/jail.c): /usr/lib/tails-launch/jail in the package, dist/jail in a checkout. */
export const JAIL_HELPER_PATH = typeof __JAIL_PATH__ === 'string' ? __JAIL_PATH__ : '/usr/lib/tails-launch/jail';

/** Debian's bubblewrap (not setuid: it needs user namespaces). */
export const BWRAP_PATH = '/usr/bin/bwrap';

/** Flatpak's filtering D-Bus proxy. */
export const XDG_DBUS_PROXY_PATH = '/usr/bin/xdg-dbus-proxy';
