// Placeholders: {socks.address} (numeric), {socks.host} (IPv6 in brackets),
// {socks.port}, {socks.username}, {socks.password} (empty without
// credentials), {socks.userinfo} (`user:password@`, percent-encoded, or
// empty), {socks.url} (socks5h://[userinfo]host:port); for a control
// listener, {control.address} and {control.port} instead.
//
// Own-setting programs (FACTS §2: Pidgin, Thunderbird, Electrum, ssh,
// OnionShare, WhisperBack, htpdate, the security check, the upgrader, the IUK
// download): they connect to Tor's SocksPort THEMSELVES, from their own
// settings. Under torsocks (AllowOutboundLocalhost 0) that very connection is
// refused ("Connection to a local address are denied"), and were it allowed,
// Tor would see the program's own credentials, not the group the launcher
// made. So this backend preloads nothing and sets no proxy variable: it hands
// the program its listener per launch, through the profile's `proxy`
// arguments and variables, rendered from the listener and the credentials.
//
// What Tor then sees is stated, never guessed:
//  - the templates carry the credentials ({socks.username}/{socks.password},
//    or {socks.url}): the profile's isolation group;
//  - they carry none (e.g. ssh's `nc -X 5`, which cannot authenticate):
//    isolation must be `none`;
//  - the program cannot be told its proxy per launch (Pidgin's prefs.xml,
//    Thunderbird's prefs): isolation `application`, and explain says that the
//    program's own settings decide.
//
// No guard catches the program's other sockets. torsocks would have to allow
// loopback (AllowOutboundLocalhost 1) for the program's own SOCKS session,
// which lets EVERY loopback TCP port through (Tor's TransPort and other
// listeners, any local proxy or daemon), and it cannot hold the programs that
// need a guard most: htpdate's HTTP client is Go, WhisperBack re-runs itself
// through sudo, which drops LD_PRELOAD. On Tails the firewall holds them; a
// network namespace (placement) is the real guard.
import type { Backend, SocksEndpoint } from './backend';
import type { SocksAuth } from '../isolation/credentials';
import { socksUrl } from './env';
import { bracketHost } from '../tor/address';
import { PLACEHOLDER, type Placeholder } from './placeholders';

/** TEMPLATE with every placeholder replaced. Pure. */
export function renderTemplate(template: string, endpoint: SocksEndpoint, auth: SocksAuth): string {
  const values: Record<Placeholder, string> = {
    'socks.address': endpoint.address,
    'socks.host': bracketHost(endpoint.address),
    'socks.port': String(endpoint.port),
    // Empty when there is nothing to send: Tor counts empty credentials as none (FACTS §3).
    'socks.username': auth.kind === 'userpass' ? auth.username : '',
    'socks.password': auth.kind === 'userpass' ? auth.password : '',
    // `user:password@`, percent-encoded for a URL (Go's url.Parse refuses a raw `<`), or nothing.
    'socks.userinfo':
      auth.kind === 'userpass' ? `${encodeURIComponent(auth.username)}:${encodeURIComponent(auth.password)}@` : '',
    'socks.url': socksUrl(endpoint, auth),
    'control.address': endpoint.address,
    'control.port': String(endpoint.port),
  };
  return template.replace(PLACEHOLDER, (whole, name: string) => values[name as Placeholder] ?? whole);
}

export const ownSettingBackend: Backend = {
  name: 'own-setting',
  mustAcknowledge: [],
  preloads: false,
  cannotIsolate: (mode) =>
    mode === 'process'
      ? 'isolation "process" needs backend torsocks: an own-setting program is handed one set of credentials for all its processes'
      : null,
  step() {
    return {
      preload: null,
      env: {},
      files: [],
      notes: [
        'The application connects to its listener itself, as told by the proxy arguments and variables above; its other sockets are held by the guard above, not by this backend.',
      ],
    };
  },
};
