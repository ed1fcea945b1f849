// An unprivileged caller's placement: check that sudo will run the privileged
// entry (the namespace and the account exist, sudo permits it without a
// password), then replace this process with `sudo -n -- ENTRY PROFILE -- ARGS`.
// Each refusal is one line with its own status; the application never starts.
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { userInfo } from 'node:os';
import { EXIT } from '../errors/exit-codes';
import { LaunchError } from '../errors/launch-error';
import { execute, type CallerState } from '../exec';
import type { Plan, PlacementCheck } from '../plan/types';
import { ENTRY_PATH, PLACEMENT_GROUP, SUDO_PATH } from './constants';
import { refuseUnjailable } from '../jail/enter-jail';
import { refuseIfProblem } from './enter';
import { missingNamespace, netnsPath } from './netns';

const SUDO_CHECK_TIMEOUT_MS = 10_000;

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

function whoAmI(): string {
  try {
    return userInfo().username;
  } catch {
    return `uid ${process.getuid?.()}`;
  }
}

/** What can be known before sudo: the refusals decided while planning, and the namespace. */
function checkPlacement(check: PlacementCheck): void {
  refuseIfProblem(check);
  if (check.netns !== null && !exists(netnsPath(check.netns))) throw missingNamespace(check.netns);
}

/** sudo -n -l: does sudo let this user run exactly this command line, without a password? */
function checkSudo(argv: string[]): void {
  if (!exists(SUDO_PATH))
    throw new LaunchError(
      EXIT.notFound,
      `placement needs sudo, which is not installed (${SUDO_PATH}): install the sudo package`,
    );
  if (!exists(ENTRY_PATH))
    throw new LaunchError(
      EXIT.notFound,
      `the privileged entry ${ENTRY_PATH} is missing: placement needs the installed tails-launch package`,
    );
  // argv is [sudo, -n, --, ENTRY, ...]: list mode asks about the same command line.
  const listed = spawnSync(SUDO_PATH, ['-n', '-l', '--', ...argv.slice(3)], {
    // sudo's messages in English, whatever the caller's locale: they are read below.
    env: { LC_ALL: 'C', PATH: '/usr/bin:/bin' },
    stdio: ['ignore', 'ignore', 'pipe'],
    timeout: SUDO_CHECK_TIMEOUT_MS,
    encoding: 'utf8',
  });
  if (listed.status === 0) return;
  const user = whoAmI();
  if (/password is required/.test(listed.stderr ?? ''))
    throw new LaunchError(
      EXIT.refused,
      `sudo asks ${user} for a password to run the privileged entry, and a launch never waits for one: the administrator must add ${user} to group ${PLACEMENT_GROUP} (adduser ${user} ${PLACEMENT_GROUP}), whose rule needs none`,
    );
  throw new LaunchError(
    EXIT.refused,
    `sudo does not let ${user} run the privileged entry ${ENTRY_PATH}: the administrator must add ${user} to group ${PLACEMENT_GROUP} (adduser ${user} ${PLACEMENT_GROUP}; then log in again)`,
  );
}

export async function handOver(plan: Plan, caller: CallerState): Promise<never> {
  const handover = plan.handover!;
  for (const check of plan.checks) {
    if (check.kind === 'placement') checkPlacement(check);
    else if (check.kind === 'jail') refuseUnjailable(check);
  }
  checkSudo(handover.argv);
  return execute({ file: handover.file, argv: handover.argv, env: handover.env, fds: plan.fds }, caller);
}
