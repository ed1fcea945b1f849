// In the privileged entry's preflight (src/cli/placed.ts): the entry has
// applied the placement before this process started. What it can see of it
// is checked again: the account (real, effective and saved IDs) and the
// network namespace (the same one /run/netns/NAME names). A jail leaves
// nothing to compare: it is anonymous, and the SOCKS check that follows can
// only pass through its one way out.
import { readFileSync, statSync } from 'node:fs';
import { EXIT } from '../errors/exit-codes';
import { LaunchError } from '../errors/launch-error';
import type { PlacementCheck } from '../plan/types';

function ids(status: string, field: 'Uid' | 'Gid'): number[] {
  const line = status.split('\n').find((l) => l.startsWith(`${field}:`)) ?? '';
  return line.split(/\s+/).slice(1, 4).map(Number);
}

export function verifyPlacement(check: PlacementCheck): void {
  if (check.problem) throw new LaunchError(check.problem.status, check.problem.message);
  const status = readFileSync('/proc/self/status', 'utf8');
  const account = check.account;
  const uid = account?.uid ?? 0;
  if (ids(status, 'Uid').some((u) => u !== uid) || (account && ids(status, 'Gid').some((g) => g !== account.gid)))
    throw new LaunchError(
      EXIT.internal,
      `the privileged entry did not run this preflight as '${account?.name ?? 'root'}': refusing to launch`,
    );
  if (check.netns === null) return;
  let here;
  let there;
  try {
    here = statSync('/proc/self/ns/net');
    there = statSync(`/run/netns/${check.netns}`);
  } catch (error) {
    throw new LaunchError(EXIT.noNamespace, `cannot compare network namespaces: ${(error as Error).message}`);
  }
  if (here.ino !== there.ino || here.dev !== there.dev)
    throw new LaunchError(
      EXIT.internal,
      `the preflight is not in network namespace '${check.netns}': refusing to launch`,
    );
}
