// How an address and a port are written next to each other, for Tor
// (SocksPort, ControlPort, net/listeners/socks), URLs and messages alike:
// an IPv6 address goes in brackets, or its colons would run into the port's.

/** ADDRESS as the host part of HOST:PORT: `[::1]` for IPv6, anything else as it is. */
export function bracketHost(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

/** ADDRESS:PORT, IPv6 in brackets: `127.0.0.1:9050`, `[::1]:9050`. */
export function hostPort(address: string, port: number | string): string {
  return `${bracketHost(address)}:${port}`;
}
