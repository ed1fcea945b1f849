// A listener's twin for its jails: the SocksPort on the listener's address at
// its jail_port, with the listener's flags and Tor isolating by client
// address, the only thing that tells one jail group from another (jails
// send no SOCKS credentials of the launcher's). `torrc` prints it, `torrc
// --check` and `doctor` compare Tor's with it.
import type { Listener, SocksPortOf } from './listener';

/** IsolateClientAddr in any spelling tor accepts: case-insensitive, `No` prefix, plural `s`. */
const CLIENT_ADDR_FLAG = /^(?:no)?isolateclientaddrs?$/i;

/** The jails' SocksPort of LISTENER, or null when it declares no jail_port. */
export function jailSocksPort(listener: Pick<Listener, 'address' | 'flags' | 'jailPort'>): SocksPortOf | null {
  if (listener.jailPort === null) return null;
  // The listener's own choice about client addresses (NoIsolateClientAddr) would merge all jails into one group.
  const flags = listener.flags.filter((f) => !CLIENT_ADDR_FLAG.test(f));
  return { address: listener.address, port: listener.jailPort, flags: [...flags, 'IsolateClientAddr'] };
}
