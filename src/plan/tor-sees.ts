// What Tor will see from a launch, stated once for explain and the tests:
// on which SocksPort, with which SOCKS5 credentials, and who puts them on
// the SOCKS session. Pure.
import type { SocksAuth } from '../isolation/credentials';
import type { BackendName, IsolationMode } from '../vocabulary/modes';

export interface TorSees {
  /** The listener's name and its SocksPort (or control port) as torrc has it (not where the program connects, if that differs). */
  listener: string;
  address: string;
  port: number;
  credentials:
    | { kind: 'userpass'; username: string; password: string; perLaunch: boolean }
    | { kind: 'none' }
    | { kind: 'per-process'; description: string }
    | { kind: 'application'; description: string }
    | { kind: 'control'; description: string };
  /** Who sends them. */
  carriedBy: string;
  /** Jailed: the client address Tor sees, the jail group's (Tor isolates by it); else null. */
  clientAddress: string | null;
}

const CARRIED_BY: Record<BackendName, string> = {
  torsocks: "torsocks' library, in every process of the application",
  proxychains: 'libproxychains, in every process of the application',
  env: 'the application, from the proxy variables tails-launch sets',
  'own-setting': 'the application, from the proxy arguments and variables tails-launch hands it',
};

export function torSees(
  listener: { name: string; kind: 'socks' | 'control'; address: string; port: number },
  mode: IsolationMode,
  auth: SocksAuth,
  backend: BackendName,
  /** Jailed: the jails' SocksPort and the group's address. */
  jail: { port: number; clientAddress: string } | null = null,
): TorSees {
  if (listener.kind === 'control')
    return {
      listener: listener.name,
      address: listener.address,
      port: listener.port,
      credentials: {
        kind: 'control',
        description: "no SOCKS session: the application only asks Tor's control port, as its filter allows",
      },
      carriedBy: 'nobody: no SOCKS session',
      clientAddress: null,
    };
  const credentials: TorSees['credentials'] =
    auth.kind === 'userpass'
      ? { kind: 'userpass', username: auth.username, password: auth.password, perLaunch: mode === 'launch' }
      : auth.kind === 'per-process'
        ? { kind: 'per-process', description: 'torsocks-<pid>:<time> / 0, made in each process' }
        : auth.kind === 'application'
          ? {
              kind: 'application',
              description: 'whatever the application itself sends: its own settings decide, not tails-launch',
            }
          : { kind: 'none' };
  return {
    listener: listener.name,
    address: listener.address,
    port: jail?.port ?? listener.port,
    credentials,
    carriedBy: auth.kind === 'application' ? 'the application, from its own settings' : CARRIED_BY[backend],
    clientAddress: jail?.clientAddress ?? null,
  };
}
