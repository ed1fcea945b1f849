// torsocks 2.4 (FACTS §4): the `torsocks` script exports its variables,
// prepends libtorsocks.so to LD_PRELOAD and execs the program. We set the
// same variables and LD_PRELOAD ourselves and exec the inspected program
// directly (why: ./libraries.ts).
import { fileURLToPath } from 'node:url';
import type { Backend } from './backend';
import { TORSOCKS_LIBRARY } from './libraries';

/** Next to this module in the source tree and next to the bundle in dist/ (scripts/build.mjs copies it). */
export const TORSOCKS_CONF_FILE = fileURLToPath(new URL('./torsocks.conf', import.meta.url));

export const torsocksBackend: Backend = {
  name: 'torsocks',
  mustAcknowledge: [],
  preloads: true,
  cannotIsolate: (mode) =>
    mode === 'application'
      ? 'isolation "application" (the program\'s own settings decide its credentials) is for backend own-setting: torsocks sends the launcher\'s own'
      : null,
  step(endpoint, auth) {
    const env: Record<string, string> = {
      // The only preload: every inherited LD_* variable has been scrubbed.
      LD_PRELOAD: TORSOCKS_LIBRARY,
      TORSOCKS_TOR_ADDRESS: endpoint.address,
      TORSOCKS_TOR_PORT: String(endpoint.port),
      // The launcher owns torsocks' whole configuration (see torsocks.conf).
      TORSOCKS_CONF_FILE,
      // Explicit either way, so the mode never depends on a config file.
      TORSOCKS_ISOLATE_PID: auth.kind === 'per-process' ? '1' : '0',
    };
    if (auth.kind === 'userpass') {
      // torsocks uses them only when BOTH are set.
      env.TORSOCKS_USERNAME = auth.username;
      env.TORSOCKS_PASSWORD = auth.password;
    }
    return {
      preload: { wrapper: 'torsocks', library: TORSOCKS_LIBRARY },
      env,
      files: [],
      notes: [
        'torsocks refuses UDP, IPv6 sockets and connections to local addresses, and cannot catch static binaries, raw syscalls or setuid programs (Go programs bypass it).',
        "No proxy variables are set: torsocks would refuse the application's own connection to a loopback proxy.",
      ],
    };
  },
};
