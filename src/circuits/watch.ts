// `circuits --watch`: Tor's STREAM events keep the streams current, and each
// CIRC or STREAM event redraws the view (whose circuits come from
// circuit-status each time: Tor sends no CIRC event when a circuit's first
// stream marks it with its credentials). Events are subscribed to before
// the first snapshot is read, and those that arrive meanwhile are applied on
// top of it, so nothing between the two is lost. A stream's NEW event is the
// one place Tor says where it came from: its listener and client address are
// kept for as long as the stream lives.
import { parseStreamLine } from '../tor/circuit-status';
import { checkReply, type ControlConnection, type ControlError, type Reply } from '../tor/control-port';
import type { StreamState } from './attribute';
import type { Found } from './read-tor';

export interface LiveState {
  streams: Map<string, StreamState>;
}

const GONE = new Set(['CLOSED', 'FAILED']);

/** Applies one event (the text after "650 ") to STATE; true when something changed. */
export function applyEvent(state: LiveState, text: string, listenerOf: (source: string) => string | null): boolean {
  // A circuit's change: the next view reads the circuits again.
  if (text.startsWith('CIRC ')) return true;
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
  snapshot: () => Promise<Pick<Found, 'streams'>>,
  listenerOf: (source: string) => string | null,
  changed: (state: LiveState) => void,
): Promise<Watch> {
  const state: LiveState = { streams: new Map() };
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
