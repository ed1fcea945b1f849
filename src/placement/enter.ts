// Applying a plan's placement in this process (root: directly, or the
// privileged entry): first the network namespace (entering one needs
// CAP_SYS_ADMIN, which the switch of user drops), then the account. Every
// later step (the preflight's checks, the exec) then happens where, and as
// whom, the application will run.
import { LaunchError } from '../errors/launch-error';
import type { PlacementCheck } from '../plan/types';
import { enterNetns } from './netns';
import { switchUser } from './switch-user';

/** A refusal decided while planning (placement/decide.ts) ends the launch here. */
export function refuseIfProblem(check: PlacementCheck): void {
  if (check.problem) throw new LaunchError(check.problem.status, check.problem.message);
}

export function enterPlacement(check: PlacementCheck): void {
  refuseIfProblem(check);
  if (check.via !== 'self') return;
  if (check.netns !== null) enterNetns(check.netns);
  if (check.account !== null) switchUser(check.account);
}
