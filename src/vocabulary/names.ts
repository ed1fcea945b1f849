// Names that end up in file paths, SOCKS credentials and Tor's logs: keep
// them boring. A profile name is also a file name (profiles/NAME.yml), so
// this pattern is what keeps "../" and friends out of lookups.
export const NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** --identity values: account-like names (alice@example.org) are welcome. */
export const IDENTITY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$/;

/** Configuration files are data: YAML or JSON, never code. */
export const CONFIG_EXTENSIONS = ['.yml', '.yaml', '.json'];

export const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Subcommands; none of these may be a profile name. (`default` is not one:
 * it is the seed profile that `tails-launch default -- CMD` runs.)
 */
export const RESERVED_NAMES: ReadonlySet<string> = new Set([
  'run',
  'explain',
  'list',
  'validate',
  'torrc',
  'onion-grater',
  'doctor',
  'circuits',
  'new-identity',
  'desktop',
  'netns',
  'jail',
  'grants',
]);

export function isValidProfileName(name: string): boolean {
  return NAME_PATTERN.test(name) && !RESERVED_NAMES.has(name);
}
