// Which inherited variables could route an application around its profile,
// and so are always removed before a launch, whatever the backend.
//
// `*_proxy` is matched case-insensitively on purpose: Python's urllib (and so
// requests) lower-cases every name and honours ANY `<scheme>_proxy`, so
// `Https_Proxy` or `gopher_proxy` would be obeyed by an env-backend app.
const SCRUBBED: RegExp[] = [
  /_proxy$/i, // http_proxy, HTTPS_PROXY, no_proxy, all_proxy, …
  /^socks5?_server$/i, // SOCKS_SERVER, SOCKS5_SERVER (Tails sets them in /etc/environment)
  /^SOCKS_VERSION$/,
  /^TORSOCKS_/, // would override the listener, the credentials or the config file
  /^PROXYCHAINS_/,
  /^TOR_SOCKS_/, // Tor Browser's proxy settings: only the listener may set them
  /^TOR_TRANSPROXY$/, // tells Tor Browser to use no proxy at all
  /^TOR_PROVIDER$/, // `none` makes Tor Browser connect without Tor
  /^TAILS_LAUNCH_/, // the front script's hand-over, never the app's business
  // The dynamic loader's variables. LD_PRELOAD and LD_AUDIT load code into
  // the program; torsocks' script even skips adding its own library when
  // LD_PRELOAD merely CONTAINS its path as a substring (so a caller's
  // LD_PRELOAD=/nonexistent/…/libtorsocks.so made it add nothing). LD_LIBRARY_PATH
  // (and the rest of LD_*: LD_ORIGIN_PATH, LD_BIND_NOT, LD_DEBUG_OUTPUT, …)
  // can substitute the libc or any library the preload library relies on.
  // The preload backends set LD_PRELOAD themselves; nothing else may.
  /^LD_/,
  // glibc loads iconv modules (code) from GCONV_PATH.
  /^GCONV_PATH$/,
  // Tails' own download code (Tails::Download::HTTPS, the IUK download) turns
  // its proxy OFF when either is set: a direct connection.
  /^DISABLE_PROXY$/,
  /^HARNESS_ACTIVE$/,
];

/** Profiles may not set these either: they belong to the backend, or would defeat the wrapper. */
const RESERVED_FOR_PROFILES: RegExp[] = [...SCRUBBED];

export function isScrubbed(name: string): boolean {
  return SCRUBBED.some((re) => re.test(name));
}

export function isReservedForProfiles(name: string): boolean {
  return RESERVED_FOR_PROFILES.some((re) => re.test(name));
}

/** The patterns, as `explain` shows them. */
export const SCRUBBED_PATTERNS: string[] = SCRUBBED.map(
  (re) => re.source + (re.flags.includes('i') ? ' (any case)' : ''),
);

export interface EnvironmentChanges {
  /** Every variable the launch sets, with its value. */
  set: Record<string, string>;
  /** Inherited variables the launch removes (scrubbed or unset by the profile). */
  removed: string[];
  /** Inherited variables whose value the launch replaces (their new value is in `set`). */
  replaced: string[];
}

/**
 * The application's complete environment: the inherited one, minus what the
 * policy scrubs and the profile unsets, plus the backend's variables and the
 * profile's. Pure: the inherited environment is an argument.
 */
export function buildEnvironment(
  inherited: Readonly<Record<string, string | undefined>>,
  backendSet: Readonly<Record<string, string>>,
  profileEnv: { set: Readonly<Record<string, string>>; unset: readonly string[]; keep?: readonly string[] | null },
  /** Set before the profile's variables (a placed application's HOME, USER, PATH...). */
  base: Readonly<Record<string, string>> = {},
): { env: Record<string, string>; changes: EnvironmentChanges } {
  const unset = new Set(profileEnv.unset);
  // An allow-list (env.keep): every other inherited variable is removed.
  const keep = profileEnv.keep ? new Set(profileEnv.keep) : null;
  const env: Record<string, string> = {};
  const removed: string[] = [];
  for (const [name, value] of Object.entries(inherited)) {
    if (value === undefined) continue;
    if (isScrubbed(name) || unset.has(name) || (keep !== null && !keep.has(name))) removed.push(name);
    else env[name] = value;
  }
  const set = { ...base, ...profileEnv.set, ...backendSet };
  Object.assign(env, set);
  const replaced = Object.keys(inherited).filter(
    (n) => inherited[n] !== undefined && n in set && inherited[n] !== set[n],
  );
  return { env, changes: { set, removed: removed.filter((n) => !(n in set)).sort(), replaced: replaced.sort() } };
}
