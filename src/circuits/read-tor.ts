// What `circuits` and `new-identity` ask Tor, over an authenticated control
// connection: its circuits and streams (GETINFO circuit-status and
// stream-status) and, for each relay on them, its nickname and address
// (GETINFO ns/id/FP) and country (GETINFO ip-to-country/IP). One key per
// GETINFO: onion-grater matches each command line against its filter whole.
import { readFileSync } from 'node:fs';
import { ownerOf } from '../isolation/owner';
import { parseCircuitLine, parseStreamLine, type CircuitLine } from '../tor/circuit-status';
import { ControlError, type ControlConnection } from '../tor/control-port';
import type { StreamState, TorState } from './attribute';

type RelayFacts = { nickname: string | null; address: string | null; country: string | null };
/** What is known of each relay, by fingerprint: asked once per command (or per watch). */
export type RelayCache = Map<string, RelayFacts>;

/** The lines of GETINFO KEY's value (an empty value: none). */
async function infoLines(connection: ControlConnection, key: string): Promise<string[]> {
  const value = (await connection.getInfo([key])).get(key) ?? '';
  return value.split('\n').filter((line) => line.trim() !== '');
}

/** Circuits and streams as Tor listed them (or as events left them). */
export interface Found {
  circuits: CircuitLine[];
  streams: StreamState[];
}

/** Tor's circuits and streams now; lines Tor would not write are dropped. */
export async function readCircuits(connection: ControlConnection): Promise<Found> {
  const circuits = (await infoLines(connection, 'circuit-status'))
    .map(parseCircuitLine)
    .filter((c): c is CircuitLine => c !== null);
  const streams = (await infoLines(connection, 'stream-status'))
    .map(parseStreamLine)
    .filter((s) => s !== null)
    .map((s): StreamState => ({ ...s, listener: null }));
  return { circuits, streams };
}

/** What Tor knows of relay FINGERPRINT; nulls for what it does not say (or its filter does not let us ask). */
export async function readRelay(
  connection: ControlConnection,
  fingerprint: string,
  countries: Map<string, string | null> = new Map(),
): Promise<RelayFacts> {
  const facts: RelayFacts = { nickname: null, address: null, country: null };
  try {
    // "r NICKNAME IDENTITY DIGEST DATE TIME IP ORPORT DIRPORT" (dir-spec), then more lines.
    const status = (await connection.getInfo([`ns/id/${fingerprint}`])).get(`ns/id/${fingerprint}`) ?? '';
    // A nickname is 1-19 letters and digits (dir-spec): anything else is not Tor's, and not shown.
    const r = /^r ([A-Za-z0-9]{1,19}) \S+ \S+ \S+ \S+ (\d{1,3}(?:\.\d{1,3}){3}) /m.exec(status);
    if (r) {
      facts.nickname = r[1]!;
      facts.address = r[2]!;
    }
  } catch (error) {
    if (!(error instanceof ControlError) || error.kind === 'closed' || error.kind === 'timeout') throw error;
  }
  if (facts.address === null) return facts;
  // Relays share addresses (a private network's are all 127.0.0.1): asked once each.
  if (countries.has(facts.address)) return { ...facts, country: countries.get(facts.address)! };
  try {
    const key = `ip-to-country/${facts.address}`;
    const country = (await connection.getInfo([key])).get(key) ?? '';
    // "??": no GeoIP data, or a private address.
    facts.country = /^[a-z]{2}$/.test(country) && country !== '??' ? country : null;
    countries.set(facts.address, facts.country);
  } catch (error) {
    if (!(error instanceof ControlError) || error.kind === 'closed' || error.kind === 'timeout') throw error;
  }
  return facts;
}

/** /proc/PID/comm, or null when the process is gone (or not ours to see). */
function programOf(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() || null;
  } catch {
    return null;
  }
}

/** Fills in the relays (and torsocks processes) of CIRCUITS that CACHE does not hold yet; returns the state. */
export async function completeState(
  connection: ControlConnection,
  found: Found,
  cache: RelayCache = new Map(),
): Promise<TorState> {
  const countries = new Map<string, string | null>();
  for (const circuit of found.circuits)
    for (const relay of circuit.path)
      if (!cache.has(relay.fingerprint))
        cache.set(relay.fingerprint, await readRelay(connection, relay.fingerprint, countries));
  const programs = new Map<number, string>();
  for (const circuit of found.circuits) {
    const owner = ownerOf(circuit.socks);
    if (owner.kind !== 'process' || programs.has(owner.pid)) continue;
    const program = programOf(owner.pid);
    if (program !== null) programs.set(owner.pid, program);
  }
  return { ...found, relays: cache, programs };
}
