// A listener: one of Tor's SocksPorts as tails-launch expects Tor to have it
// (listeners.yml), and where applications reach it. Declared once here;
// the profile's resolved listener adds where it was defined
// (src/profile/resolve.ts), the plan shows that (src/plan/types.ts).
import { hostPort } from './address';

export interface Listener {
  name: string;
  /** A SocksPort, or a control port (onion-grater's, on Tails) for programs that open no SOCKS session. */
  kind: 'socks' | 'control';
  /** Where Tor listens: a numeric address (torsocks takes no names). */
  address: string;
  port: number;
  /** Tor SocksPort flags the listener must carry, as tor(1) spells them. */
  flags: string[];
  /** The network namespace from which applications reach it, or null. */
  netns: string | null;
  /** Where applications connect (client_address/port, else address/port). */
  connect: { address: string; port: number };
  /** The jails' SocksPort (on `address`), or null when the listener has no jails. */
  jailPort: number | null;
}

/** What Tor itself must have open for LISTENER: its SocksPort. */
export type SocksPortOf = Pick<Listener, 'address' | 'port' | 'flags'>;

/** The torrc line that declares LISTENER: `SocksPort ADDRESS:PORT FLAG...`. */
export function socksPortLine(listener: SocksPortOf): string {
  return ['SocksPort', hostPort(listener.address, listener.port), ...listener.flags].join(' ');
}
