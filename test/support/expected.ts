// What the tests expect on the wire, stated here once and independently of
// src/ (a test that imported these from the code under test could not fail).

/** A real client, always present on the test machines. */
export const CURL = '/usr/bin/curl';
/** Never resolved locally: Tor (our test server) answers for it. */
export const URL = 'http://example.test/';
/** The test SOCKS5 server's HTTP body (execa strips the final newline). */
export const BODY = 'ok via socks5';
/** The only <torS0X> username tor 0.4.9 accepts: "the password is the isolation key". */
export const USERNAME = '<torS0X>0';
/** SOCKS5 methods (RFC 1928). */
export const METHOD_NONE = 0;
export const METHOD_USERPASS = 2;
/** A per-launch group key of PROFILE. */
export const LAUNCH_KEY = (profile: string) => new RegExp(`^tails-launch/launch/${profile}/[0-9a-f]{32}$`);
/**
 * tails-launch's own exit statuses, as README.md documents them (the code's
 * table is src/errors/exit-codes.ts; these are written out again on purpose).
 * Success is 0 and is the application's own, so it is not in here.
 */
export const EXIT = {
  /** `torrc --check` or `doctor` found a problem. */
  checkFailed: 1,
  usage: 64,
  config: 65,
  unknownProfile: 66,
  /** The profile's user (placement) does not exist. */
  noUser: 67,
  torUnreachable: 69,
  internal: 70,
  /** The profile's network namespace (placement) does not exist. */
  noNamespace: 72,
  refused: 77,
  wouldBypass: 78,
  cannotExecute: 126,
  notFound: 127,
} as const;

/** The shipped profiles, as the design names them (Tails' applications that reach Tor, FACTS §2), sorted. */
export const SHIPPED_PROFILE_NAMES = [
  'apt',
  'curl',
  'default',
  'dirmngr',
  'electrum',
  'flatpak',
  'git',
  'gpg-dirmngr',
  'htpdate',
  'onion-circuits',
  'onionshare',
  'onionshare-cli',
  'pidgin',
  'printing',
  'ssh',
  'tails-iuk-get-target-file',
  'tails-security-check',
  'tails-upgrade-frontend',
  'thunderbird',
  'tor-browser',
  'tor-connection',
  'totem',
  'wget',
  'whisperback',
  'whois',
];
