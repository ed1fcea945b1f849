import { EXIT } from '../exit-codes';
import { LaunchError } from '../launch-error';
import type { Command } from '../parse-args';

// Placeholder until issue 4 lands: refuses exactly as the reserved word did.
export async function doctor(_command: Extract<Command, { kind: 'doctor' }>): Promise<number> {
  throw new LaunchError(EXIT.usage, "'doctor' is not available in this version of tails-launch (see 'tails-launch --help')");
}
