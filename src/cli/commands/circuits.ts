// `tails-launch circuits [PROFILE...] [--json] [--watch]`: Tor's live
// circuits, grouped by what launched them (src/circuits/), from its control
// port (doctor's way in; onion-grater's filtered port for a user on Tails).
import { readFileSync } from 'node:fs';
import { groupCircuits, profilesOf, type AttributionContext } from '../../circuits/attribute';
import { openControl, refusedLine, withinDeadline } from '../../circuits/connect';
import { formatCircuits } from '../../circuits/format';
import type { CircuitsReport, ProfileFacts } from '../../circuits/model';
import { completeState, readCircuits, type Found, type RelayCache } from '../../circuits/read-tor';
import { listenerOfSource, type ListenerAddress } from '../../circuits/source-listener';
import { watchCircuits, type LiveState, type Watch } from '../../circuits/watch';
import { EXIT } from '../../errors/exit-codes';
import { LaunchError } from '../../errors/launch-error';
import { parsePool } from '../../jail/address';
import { ConfigError } from '../../profile/config-error';
import { configLayers, type Layer } from '../../profile/layers';
import { listProfiles, loadControl, loadJails, loadListeners } from '../../profile/load';
import { resolveProfile } from '../../profile/resolve';
import type { ControlConnection } from '../../tor/control-port';
import { namespaceClientAddress } from '../../tor/onion-grater';
import { writeAll } from '../output';
import type { Command } from '../parse-args';

/** Every profile the caller's layers hold (an invalid one is left out: it launches nothing), and the listeners. */
export async function profileFacts(
  layers: Layer[],
): Promise<{ profiles: ProfileFacts[]; listeners: ListenerAddress[] }> {
  const listenerConfig = await loadListeners(layers);
  const profiles: ProfileFacts[] = [];
  const listeners = new Map<string, ListenerAddress>();
  for (const name of [...listProfiles(layers).profiles.keys()].sort()) {
    try {
      const p = await resolveProfile(layers, listenerConfig, name);
      profiles.push({ name: p.name, isolation: p.isolation, listener: p.listener.name });
      listeners.set(p.listener.name, {
        name: p.listener.name,
        address: p.listener.address,
        port: p.listener.port,
        netnsClient: p.listener.netns === null ? null : namespaceClientAddress(p.listener.address),
      });
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
    }
  }
  return { profiles, listeners: [...listeners.values()] };
}

/** The attribution context: the profiles, the jails' pool (an app jail's address is per user), now. */
export async function attributionContext(layers: Layer[], profiles: ProfileFacts[]): Promise<AttributionContext> {
  const jails = await loadJails(layers);
  const uid = process.getuid?.() ?? -1;
  return { profiles, jail: jails?.pool ? { pool: parsePool(jails.pool), uid } : null, now: Date.now() };
}

function socketTable(): string {
  try {
    return readFileSync('/proc/net/tcp', 'latin1');
  } catch {
    return '';
  }
}

export async function circuits(command: Extract<Command, { kind: 'circuits' }>): Promise<number> {
  const layers = configLayers(command.options.configDir, process.env);
  const { profiles, listeners } = await profileFacts(layers);
  const unknown = command.profiles.find((name) => !profiles.some((p) => p.name === name));
  if (unknown !== undefined)
    throw new LaunchError(EXIT.unknownProfile, `no profile '${unknown}' ('tails-launch list' shows them)`);
  const context = await attributionContext(layers, profiles);
  const { connection, torVersion, filtered } = await openControl(
    command.control,
    await loadControl(layers),
    process.getuid?.() ?? -1,
  );
  const relays: RelayCache = new Map();
  const report = async (found: Found): Promise<CircuitsReport> => {
    const state = await withinDeadline(connection, 'describe the relays', completeState(connection, found, relays));
    const now = Date.now();
    const groups = groupCircuits(state, { ...context, now }).filter(
      (g) => command.profiles.length === 0 || profilesOf(g.owner).some((p) => command.profiles.includes(p)),
    );
    return { version: 1, tor: torVersion, time: new Date(now).toISOString(), groups };
  };
  // --watch --json: one report per line, as each change comes.
  const redraw = command.watch && !command.json && process.stdout.isTTY === true;
  const show = (r: CircuitsReport) =>
    writeAll(
      1,
      command.json
        ? `${JSON.stringify(r, null, command.watch ? undefined : 2)}\n`
        : `${redraw ? '\x1b[H\x1b[2J' : ''}${formatCircuits(r)}${command.watch && !redraw ? '\n' : ''}`,
    );
  try {
    if (!command.watch) {
      show(await report(await withinDeadline(connection, 'list the circuits', readCircuits(connection))));
      return 0;
    }
    return await watch(connection, listeners, report, show);
  } catch (error) {
    throw refusedLine(error, filtered) ?? error;
  } finally {
    await connection.quit();
  }
}

/** Until SIGINT, SIGTERM or SIGHUP (exit 0), or until Tor goes away (one line, 69). */
async function watch(
  connection: ControlConnection,
  listeners: ListenerAddress[],
  report: (found: Found) => Promise<CircuitsReport>,
  show: (r: CircuitsReport) => void,
): Promise<number> {
  // One view at a time (each may ask Tor about new relays); a change meanwhile redraws once more after it.
  let busy = false;
  let again: LiveState | null = null;
  let failed: unknown = null;
  let running: Watch | null = null;
  const draw = async (state: LiveState): Promise<void> => {
    if (busy) {
      again = state;
      return;
    }
    busy = true;
    try {
      // Tor sends no CIRC event when a stream's credentials mark a circuit (at its first stream):
      // the circuits come from circuit-status at each view, the streams (with what their NEW
      // event said) from the events.
      const { circuits: now } = await withinDeadline(connection, 'list the circuits', readCircuits(connection));
      show(await report({ circuits: now, streams: [...state.streams.values()] }));
    } finally {
      busy = false;
    }
    const next = again;
    again = null;
    if (next !== null) await draw(next);
  };
  const fail = (error: unknown) => {
    failed ??= error;
    running?.stop();
  };
  // Stopping is asked for from the start: a signal while the first view is read ends the watch as well.
  let stopAsked = false;
  const stop = () => {
    stopAsked = true;
    running?.stop();
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, stop);
  running = await watchCircuits(
    connection,
    () => readCircuits(connection),
    (source) => listenerOfSource(source, listeners, socketTable),
    (state) => void draw(state).catch(fail),
  );
  if (failed !== null) throw failed;
  if (stopAsked) running.stop();
  const why = await running.ended;
  if (failed !== null) throw failed;
  if (why !== null) throw new LaunchError(EXIT.torUnreachable, `${why.message}: the watch ended`);
  return 0;
}
