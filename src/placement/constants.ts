// Placement's fixed paths and names, decided at build time: never looked up
// on a PATH or taken from the environment (sudo runs exactly these).

declare const __ENTRY_PATH__: string;

/**
 * The one privileged entry point (src/place/place.c; sudoers:
 * /etc/sudoers.d/tails-launch): /usr/lib/tails-launch/place in the package, the
 * checkout's dist/place in a checkout (root's own launches only).
 */
export const ENTRY_PATH = typeof __ENTRY_PATH__ === 'string' ? __ENTRY_PATH__ : '/usr/lib/tails-launch/place';

/** Where the package installs the entry: what the sudoers drop-in names, whatever the build. */
export const PACKAGE_ENTRY_PATH = '/usr/lib/tails-launch/place';

/** The sudoers drop-in that holds the grants (src/placement/grants.ts). */
export const SUDOERS_DROP_IN = '/etc/sudoers.d/tails-launch';

/** visudo, which checks a drop-in before it is installed. */
export const VISUDO = '/usr/sbin/visudo';

/** Members of this group may run placement profiles through the entry (the package's postinst creates it). */
export const PLACEMENT_GROUP = 'tails-launch';

/** sudo, by its Debian path. */
export const SUDO_PATH = '/usr/bin/sudo';

/** Where `ip netns` keeps named network namespaces (bind mounts of nsfs files). */
export const NETNS_DIR = '/run/netns';
