// For proxy-aware applications that must not be LD_PRELOADed (Tor Browser,
// curl): only the environment tells them where Tor is. Nothing enforces it,
// so profiles use it only for applications known to honour these variables
// (or confined by a network namespace whose only way out is Tor).
import type { Backend, SocksEndpoint } from './backend';
import type { SocksAuth } from '../isolation/credentials';
import { hostPort } from '../tor/address';

/** socks5h: names are resolved by Tor, never locally. */
export function socksUrl(endpoint: SocksEndpoint, auth: SocksAuth): string {
  const userinfo =
    auth.kind === 'userpass' ? `${encodeURIComponent(auth.username)}:${encodeURIComponent(auth.password)}@` : '';
  return `socks5h://${userinfo}${hostPort(endpoint.address, endpoint.port)}`;
}

export const envBackend: Backend = {
  name: 'env',
  mustAcknowledge: [],
  preloads: false,
  cannotIsolate: (mode) =>
    mode === 'application'
      ? 'isolation "application" (the program\'s own settings decide its credentials) is for backend own-setting: env hands the program the launcher\'s own'
      : mode === 'process'
        ? 'isolation "process" needs backend torsocks: environment variables are inherited by child processes'
        : null,
  step(endpoint, auth) {
    const url = socksUrl(endpoint, auth);
    const server = hostPort(endpoint.address, endpoint.port);
    return {
      preload: null,
      env: {
        ALL_PROXY: url,
        all_proxy: url,
        // Also the scheme-specific ones: a program that reads only these then
        // uses Tor, or fails on the socks5h scheme, instead of going direct.
        http_proxy: url,
        https_proxy: url,
        HTTPS_PROXY: url,
        SOCKS_SERVER: server,
        SOCKS5_SERVER: server,
        TOR_SOCKS_HOST: endpoint.address,
        TOR_SOCKS_PORT: String(endpoint.port),
      },
      files: [],
      notes: [
        'The env backend only sets proxy variables: the application must honour them. Use it only for proxy-aware applications or inside a network namespace that leads only to Tor.',
      ],
    };
  },
};
