// The preflight's jail step (root): refuse what cannot be jailed, check that
// the host side is there, then make the jail; this thread is inside it from
// here on, so the remaining checks (the SOCKS handshake, through the jail's
// one way out) and the exec happen where the application will run.
import { EXIT } from '../errors/exit-codes';
import { LaunchError } from '../errors/launch-error';
import type { JailCheck } from '../plan/types';
import { parsePool } from './address';
import { hostSideProblem } from './host-side-system';
import { dropAllCapabilities } from './drop-capabilities';
import { makeJail } from './make-jail';

/** A configuration that cannot be jailed (decided while planning): 65, before sudo or anything else. */
export function refuseUnjailable(check: JailCheck): void {
  if (check.problem !== null || check.jail === null)
    throw new LaunchError(EXIT.config, check.problem ?? 'this launch cannot be jailed');
}

export function enterJail(check: JailCheck): void {
  refuseUnjailable(check);
  const jail = check.jail!;
  // From the host's namespace, before the jail exists: its one way out must be there.
  const problem = hostSideProblem(
    { name: jail.listener, address: jail.socksPort.address, jailPort: jail.socksPort.port },
    { pool: jail.pool },
  );
  if (problem !== null) throw new LaunchError(EXIT.noNamespace, problem);
  makeJail(parsePool(jail.pool), jail.group, { connect: jail.connect, jailPort: jail.socksPort.port });
  if (check.dropCapabilities) dropAllCapabilities();
}
