// Tor's circuits and streams as its control port reports them: the lines of
// GETINFO circuit-status and stream-status, and the CIRC and STREAM events
// (control-spec 4.1.1, 4.1.2; tor 0.4.9). Pure: `tails-launch circuits`
// reads them and groups them by what launched them (src/isolation/owner.ts).
import { parseArguments } from './control-port';

export interface Relay {
  /** 40 hex digits, upper case. */
  fingerprint: string;
  nickname: string | null;
}

export interface CircuitLine {
  id: string;
  /** LAUNCHED, BUILT, GUARD_WAIT, EXTENDED, FAILED, CLOSED. */
  status: string;
  path: Relay[];
  purpose: string | null;
  /** ISO 8601 as Tor writes it (UTC, no zone), or null. */
  created: string | null;
  /** The SOCKS credentials the circuit is isolated by (Tor has them since 0.3.x), or null. */
  socks: { username: string; password: string } | null;
}

export interface StreamLine {
  id: string;
  /** NEW, NEWRESOLVE, REMAP, SENTCONNECT, SENTRESOLVE, SUCCEEDED, FAILED, CLOSED, DETACHED. */
  status: string;
  /** "0" when not attached to a circuit. */
  circuit: string;
  /** HOST:PORT as the client asked for it. */
  target: string;
  /** STREAM events only: the client's address and port, its purpose and credentials. */
  sourceAddress: string | null;
  purpose: string | null;
  socks: { username: string; password: string } | null;
}

const ID = /^[A-Za-z0-9]{1,16}$/;
/** `$FINGERPRINT`, then `~NICK` or `=NICK` (or neither). */
const LONG_NAME = /^\$([0-9A-Fa-f]{40})(?:[~=]([A-Za-z0-9]{1,19}))?$/;

function relaysOf(path: string): Relay[] | null {
  const relays: Relay[] = [];
  for (const hop of path.split(',')) {
    const m = LONG_NAME.exec(hop);
    if (!m) return null;
    relays.push({ fingerprint: m[1]!.toUpperCase(), nickname: m[2] ?? null });
  }
  return relays;
}

function socksOf(args: Map<string, string>): { username: string; password: string } | null {
  const username = args.get('SOCKS_USERNAME');
  const password = args.get('SOCKS_PASSWORD');
  return username === undefined && password === undefined
    ? null
    : { username: username ?? '', password: password ?? '' };
}

/** One circuit-status line, or the text after `650 CIRC `; null when it is not one. */
export function parseCircuitLine(line: string): CircuitLine | null {
  const [id, status, rest = ''] = splitWords(line, 2);
  if (id === undefined || status === undefined || !ID.test(id) || !/^[A-Z_]+$/.test(status)) return null;
  // The path is the first word when it is long names ($FP~nick,...: `=` may be in it); a LAUNCHED circuit has none.
  const [first = '', after = ''] = splitWords(rest, 1);
  const hasPath = first.startsWith('$');
  // Neither a path of long names nor KEY=VALUE: not Tor's (or a tor too old for VERBOSE_NAMES).
  if (!hasPath && first !== '' && !first.includes('=')) return null;
  const path = hasPath ? relaysOf(first) : [];
  if (path === null) return null;
  const args = parseArguments(hasPath ? after : rest);
  return {
    id,
    status,
    path,
    purpose: args.get('PURPOSE') ?? null,
    created: args.get('TIME_CREATED') ?? null,
    socks: socksOf(args),
  };
}

/** One stream-status line, or the text after `650 STREAM `; null when it is not one. */
export function parseStreamLine(line: string): StreamLine | null {
  const [id, status, circuit, target, rest = ''] = splitWords(line, 4);
  if (id === undefined || status === undefined || circuit === undefined || target === undefined) return null;
  if (!ID.test(id) || !/^[A-Z_]+$/.test(status) || !/^[A-Za-z0-9]{1,16}$/.test(circuit)) return null;
  const args = parseArguments(rest);
  return {
    id,
    status,
    circuit,
    target,
    sourceAddress: args.get('SOURCE_ADDR') ?? null,
    purpose: args.get('PURPOSE') ?? null,
    socks: socksOf(args),
  };
}

/** The first N words of LINE and the rest (trimmed), as an array of N + 1 strings at most. */
function splitWords(line: string, n: number): string[] {
  const out: string[] = [];
  let rest = line.trim();
  while (out.length < n && rest) {
    const space = rest.search(/\s/);
    out.push(space < 0 ? rest : rest.slice(0, space));
    rest = space < 0 ? '' : rest.slice(space).trimStart();
  }
  if (rest) out.push(rest);
  return out;
}
