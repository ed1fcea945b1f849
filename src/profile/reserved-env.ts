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
