// `tails-launch onion-grater PROFILE`: the onion-grater filter of PROFILE's
// control_filter, as the file onion-grater reads (/etc/onion-grater.d/ on
// Tails). The package ships these for Tails (debian/rules), made by this
// command from the shipped profiles: the filter is the profile's, by
// construction. The plan says the same (explain --json: controlFilter).
import { configLayers } from '../../profile/layers';
import { loadListeners } from '../../profile/load';
import { resolveProfile } from '../../profile/resolve';
import { namespaceClientAddress, onionGraterFile } from '../../tor/onion-grater';
import { EXIT } from '../../errors/exit-codes';
import { LaunchError } from '../../errors/launch-error';
import { writeAll } from '../output';
import type { Command } from '../parse-args';

export async function onionGrater(command: Extract<Command, { kind: 'onion-grater' }>): Promise<number> {
  const layers = configLayers(command.options.configDir, process.env);
  const profile = await resolveProfile(layers, await loadListeners(layers), command.profile);
  const netns = profile.listener.netns;
  if (profile.controlFilter === null || netns === null)
    throw new LaunchError(
      EXIT.config,
      `profile '${profile.name}' has no control_filter: it asks nothing of Tor's control port, and onion-grater gives it nothing (no file needed)`,
    );
  const origin = profile.fieldSources.control_filter?.file ?? profile.sources[0]!;
  writeAll(
    1,
    onionGraterFile(profile.name, [namespaceClientAddress(profile.listener.address)], profile.controlFilter, origin),
  );
  return 0;
}
