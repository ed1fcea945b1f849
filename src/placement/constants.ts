// Placement's fixed paths and names, decided at build time: never looked up
// on a PATH or taken from the environment (sudo runs exactly these).

/** The one privileged entry point (sudoers: /etc/sudoers.d/tails-launch). */
export const ENTRY_PATH = '/usr/lib/tails-launch/place';

/** Members of this group may run placement profiles through the entry (the package's postinst creates it). */
export const PLACEMENT_GROUP = 'tails-launch';

/** sudo, by its Debian path. */
export const SUDO_PATH = '/usr/bin/sudo';

/** Where `ip netns` keeps named network namespaces (bind mounts of nsfs files). */
export const NETNS_DIR = '/run/netns';
