// The name a namespace made by `tails-launch netns setup NAME` may have, and
// the names derived from it. Kept apart from the rest of netns-setup so that
// the command-line parser (on every launch's path) loads only this.
import { NAME_PATTERN } from '../vocabulary/names';

/**
 * Linux interface names hold at most 15 characters (IFNAMSIZ 16 with its
 * NUL); the host end is `veth-NAME`, 5 of them, so NAME gets 10 (Tails'
 * tails-create-netns refuses the same).
 */
export const MAX_NETNS_NAME_LENGTH = 10;

/** The host end of namespace NAME's veth pair (Tails: veth-tbb). */
export function hostVethName(name: string): string {
  return `veth-${name}`;
}

/** The end inside every namespace (Tails: veth0). Only its namespace sees it, so the name is the same in each. */
export const INSIDE_VETH = 'veth0';

/** Why NAME cannot be the name of such a namespace, or null. */
export function netnsNameProblem(name: string): string | null {
  // NAME is a path component (/run/netns/NAME) and part of an interface name: a plain name only.
  if (!NAME_PATTERN.test(name))
    return `'${name}' is not a valid namespace name: lower-case letters, digits, '.', '_' or '-', starting with a letter or digit`;
  if (name.length > MAX_NETNS_NAME_LENGTH)
    return `'${name}' is too long for a namespace name: at most ${MAX_NETNS_NAME_LENGTH} characters, so that its veth '${hostVethName(name)}' fits Linux's 15`;
  return null;
}
