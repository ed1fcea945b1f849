// Which listener a stream came in on, from the client address Tor reports
// when the stream opens (SOURCE_ADDR of its NEW event): a network
// namespace's client address names its listener (Tails numbers them: the
// address after the listener's); a loopback client's connection is in this
// network namespace's socket table (/proc/net/tcp), where its peer is the
// SocksPort. Tor's own SESSION_GROUP would say it too, but its numbers depend
// on how often Tor read its configuration (measured: -4, -5, -6 for three
// SocksPorts): not a name.

export interface ListenerAddress {
  name: string;
  address: string;
  port: number;
  /** The client's address in the listener's network namespace (the address after the listener's), or null. */
  netnsClient: string | null;
}

/** "0100007F:1F9A" (little-endian IPv4, hex port) -> "127.0.0.1:8090". */
function decode(hex: string): string | null {
  const m = /^([0-9A-F]{8}):([0-9A-F]{4})$/.exec(hex);
  if (!m) return null;
  const n = Number.parseInt(m[1]!, 16);
  const address = [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24].join('.');
  return `${address}:${Number.parseInt(m[2]!, 16)}`;
}

/**
 * The peers of the connections whose local end is LOCAL in TABLE
 * (/proc/net/tcp's text). More than one: the 4-tuples differ, the local
 * port can be the same (a program's other connection from that port).
 */
export function peersIn(table: string, local: string): string[] {
  const peers: string[] = [];
  for (const line of table.split('\n').slice(1)) {
    const [, localHex, remoteHex] = line.trim().split(/\s+/);
    if (localHex === undefined || remoteHex === undefined || decode(localHex) !== local) continue;
    const peer = decode(remoteHex);
    if (peer !== null) peers.push(peer);
  }
  return peers;
}

/** The listener SOURCE (ADDRESS:PORT, as Tor reports it) came in on, or null. TABLE: /proc/net/tcp, read only for loopback clients. */
export function listenerOfSource(
  source: string,
  listeners: readonly ListenerAddress[],
  table: () => string,
): string | null {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(source);
  if (!m) return null;
  const address = m[1]!;
  const inNamespace = listeners.find((l) => l.netnsClient === address);
  if (inNamespace) return inNamespace.name;
  if (!address.startsWith('127.')) return null;
  // Of the connections from that address and port, the one to a listener.
  const peers = peersIn(table(), source);
  return listeners.find((l) => peers.includes(`${l.address}:${l.port}`))?.name ?? null;
}
