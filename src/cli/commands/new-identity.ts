// `tails-launch new-identity PROFILE [--identity NAME]`: a new circuit for
// one group and no other. Tor closes the circuits whose credentials are the
// group's (Tor puts only that group's streams on them: IsolateSOCKSAuth), so
// running instances build new ones on their next streams; an `app` group is
// also renewed (src/cli/renewal.ts): the caller's next launches send a key
// Tor never saw, and build new circuits too. Said, one line per circuit.
import { openControl, refusedLine, withinDeadline } from '../../circuits/connect';
import { ownerOf } from '../../isolation/owner';
import { randomHex } from '../../isolation/random';
import { EXIT } from '../../errors/exit-codes';
import { LaunchError } from '../../errors/launch-error';
import { configLayers } from '../../profile/layers';
import { loadControl, loadListeners } from '../../profile/load';
import { resolveProfile, type ResolvedProfile } from '../../profile/resolve';
import type { CircuitLine } from '../../tor/circuit-status';
import { checkReply } from '../../tor/control-port';
import { completeState, readCircuits } from '../../circuits/read-tor';
import { writeAll } from '../output';
import type { Command } from '../parse-args';
import { renewalFile, writeRenewal } from '../renewal';

/** Why PROFILE's circuits cannot be told from others' (null: they can: isolation app or launch). */
function cannotRenew(profile: ResolvedProfile): string | null {
  const name = `profile '${profile.name}'`;
  switch (profile.isolation) {
    case 'app':
    case 'launch':
      return null;
    case 'application':
      return `${name} uses isolation "application": its program's own credentials choose its circuits, and tails-launch cannot tell them from another program's -> use the application's own (Tor Browser: New Tor circuit for this site)`;
    case 'process':
      return `${name} uses isolation "process": every process is its own group already, and a new launch gets new circuits -> restart the application`;
    case 'none':
      return `${name} uses isolation "none": it sends no credentials, so its circuits are shared with whatever else uses listener ${profile.listener.name} -> give it isolation app or launch`;
  }
}

/** Whether CIRCUIT's credentials are PROFILE's group (IDENTITY's), under any renewal or launch key. */
function isGroups(circuit: CircuitLine, profile: ResolvedProfile, identity: string | null): boolean {
  const owner = ownerOf(circuit.socks);
  return (
    owner.kind === 'group' &&
    owner.profile === profile.name &&
    owner.identity === identity &&
    owner.mode === profile.isolation &&
    circuit.status !== 'CLOSED' &&
    circuit.status !== 'FAILED'
  );
}

export async function newIdentity(command: Extract<Command, { kind: 'new-identity' }>): Promise<number> {
  const layers = configLayers(command.options.configDir, process.env);
  const profile = await resolveProfile(layers, await loadListeners(layers), command.profile);
  const identity = command.options.identity;
  const refusal = cannotRenew(profile);
  if (refusal !== null) throw new LaunchError(EXIT.refused, refusal);
  const uid = process.getuid?.() ?? -1;
  const file = profile.isolation === 'app' ? renewalFile(process.env, profile.name, identity) : null;
  if (profile.isolation === 'app' && file === null)
    throw new LaunchError(
      EXIT.refused,
      'neither $XDG_STATE_HOME nor $HOME is an absolute path: nowhere to keep the renewed group key -> set HOME',
    );
  const { connection, filtered } = await openControl(command.control, await loadControl(layers), uid);
  try {
    // Renewed first: a launch that starts while its old circuits close already takes the new key.
    const renewal = file === null ? null : randomHex().slice(0, 16);
    if (file !== null) writeRenewal(file, renewal!);
    const found = await withinDeadline(connection, 'list the circuits', readCircuits(connection));
    const mine = found.circuits.filter((c) => isGroups(c, profile, identity));
    const state = await withinDeadline(
      connection,
      'describe the relays',
      completeState(connection, { circuits: mine, streams: found.streams }),
    );
    const closed: Array<{ id: string; path: string[]; streams: number }> = [];
    for (const circuit of mine) {
      const reply = await connection.send(`CLOSECIRCUIT ${circuit.id}`);
      // 552: gone meanwhile (Tor closed it itself): nothing left to close.
      if (reply.status === 552) continue;
      checkReply(reply, `CLOSECIRCUIT ${circuit.id}`);
      closed.push({
        id: circuit.id,
        path: circuit.path.map(
          (r) => state.relays.get(r.fingerprint)?.nickname ?? r.nickname ?? r.fingerprint.slice(0, 8),
        ),
        streams: found.streams.filter((s) => s.circuit === circuit.id).length,
      });
    }
    const group = `${profile.name}${identity === null ? '' : ` (identity ${identity})`}`;
    const placedElsewhere =
      renewal !== null && uid !== 0 && (profile.placement.netns !== null || profile.placement.user !== null);
    if (command.json) {
      writeAll(
        1,
        `${JSON.stringify({ profile: profile.name, identity, isolation: profile.isolation, closed, renewal, renewalFile: file, renewalApplies: renewal !== null && !placedElsewhere }, null, 2)}\n`,
      );
      return 0;
    }
    const lines = closed.map(
      (c) =>
        `closed circuit ${c.id} of ${group}: ${c.path.join(' > ') || '(no relays yet)'}, ${c.streams} stream${c.streams === 1 ? '' : 's'}`,
    );
    if (closed.length === 0) lines.push(`${group} has no open circuit: nothing to close`);
    lines.push(
      renewal === null
        ? `running launches of ${profile.name} get new circuits on their next streams; each new launch has its own group anyway (isolation launch)`
        : placedElsewhere
          ? `running launches of ${profile.name} get new circuits on their next streams; its launches go through the privileged entry, which keeps the group's usual key (it reads no user's file)`
          : `running launches of ${group} get new circuits on their next streams, and its next launches use a new group key (renewed ${renewal})`,
    );
    writeAll(1, `${lines.join('\n')}\n`);
    return 0;
  } catch (error) {
    throw refusedLine(error, filtered) ?? error;
  } finally {
    await connection.quit();
  }
}
