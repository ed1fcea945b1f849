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

/** A dotted-quad IPv4 address (no leading zeros, each part 0-255) as its four numbers, or null. */
export function parseIPv4(address: string): [number, number, number, number] | null {
  const parts = address.split('.');
  if (parts.length !== 4) return null;
  const numbers = parts.map((p) => (/^(?:0|[1-9]\d{0,2})$/.test(p) ? Number(p) : NaN));
  if (numbers.some((n) => !(n >= 0 && n <= 255))) return null;
  return numbers as [number, number, number, number];
}
