import { EXIT } from '../exit-codes';
import { LaunchError } from '../launch-error';
import type { Command } from '../parse-args';

// Placeholder until issue 4 lands: refuses exactly as the reserved word did.
export async function torrc(_command: Extract<Command, { kind: 'torrc' }>): Promise<number> {
  throw new LaunchError(EXIT.usage, "'torrc' is not available in this version of tails-launch (see 'tails-launch --help')");
}
