// `circuits --watch`: Tor's CIRC and STREAM events keep the circuits and
// streams current, and each change redraws the view. Events are subscribed
// to before the first snapshot is read, and those that arrive meanwhile are
// applied on top of it, so nothing between the two is lost. A stream's NEW
// event is the one place Tor says where it came from: its listener and
// client address are kept for as long as the stream lives.
import type { CircuitLine } from '../tor/circuit-status';
import { parseCircuitLine, parseStreamLine } from '../tor/circuit-status';
import { checkReply, type ControlConnection, type ControlError, type Reply } from '../tor/control-port';
import type { StreamState } from './attribute';
import type { Found } from './read-tor';

export interface LiveState {
  circuits: Map<string, CircuitLine>;
  streams: Map<string, StreamState>;
}

const GONE = new Set(['CLOSED', 'FAILED']);

/** Applies one event (the text after "650 ") to STATE; true when something changed. */
export function applyEvent(state: LiveState, text: string, listenerOf: (source: string) => string | null): boolean {
  if (text.startsWith('CIRC ')) {
    const circuit = parseCircuitLine(text.slice(5));
    if (circuit === null) return false;
    if (GONE.has(circuit.status)) return state.circuits.delete(circuit.id);
    state.circuits.set(circuit.id, circuit);
    return true;
  }
  if (text.startsWith('STREAM ')) {
    const stream = parseStreamLine(text.slice(7));
    if (stream === null) return false;
    if (GONE.has(stream.status)) return state.streams.delete(stream.id);
    const known = state.streams.get(stream.id);
    const source = stream.sourceAddress ?? known?.sourceAddress ?? null;
    state.streams.set(stream.id, {
      ...stream,
      sourceAddress: source,
      listener: known?.listener ?? (source === null ? null : listenerOf(source)),
    });
    return true;
  }
  return false;
}

export interface Watch {
  /** Resolves with why the watch ended: the connection failed (its error), or stop() was called (null). */
  ended: Promise<ControlError | null>;
  stop(): void;
}

/**
 * Subscribes CONNECTION to CIRC and STREAM, reads the first snapshot with
 * SNAPSHOT, and calls CHANGED (at most every 100 ms) while events change it.
 */
export async function watchCircuits(
  connection: ControlConnection,
  snapshot: () => Promise<Found>,
  listenerOf: (source: string) => string | null,
  changed: (state: LiveState) => void,
): Promise<Watch> {
  const state: LiveState = { circuits: new Map(), streams: new Map() };
  let early: string[] | null = [];
  let timer: NodeJS.Timeout | null = null;
  const schedule = () => {
    timer ??= setTimeout(() => {
      timer = null;
      changed(state);
    }, 100);
  };
  connection.onEvent = (reply: Reply) => {
    for (const line of reply.lines) {
      if (early !== null) early.push(line.text);
      else if (applyEvent(state, line.text, listenerOf)) schedule();
    }
  };
  let finish: (why: ControlError | null) => void = () => {};
  const ended = new Promise<ControlError | null>((resolve) => (finish = resolve));
  connection.onFailure = (error) => finish(error);
  checkReply(await connection.send('SETEVENTS CIRC STREAM'), 'SETEVENTS CIRC STREAM');
  const first = await snapshot();
  for (const c of first.circuits) if (!GONE.has(c.status)) state.circuits.set(c.id, c);
  for (const s of first.streams) state.streams.set(s.id, s);
  for (const text of early) applyEvent(state, text, listenerOf);
  early = null;
  changed(state);
  return {
    ended,
    stop() {
      if (timer) clearTimeout(timer);
      finish(null);
    },
  };
}
