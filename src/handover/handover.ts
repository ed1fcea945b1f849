// A placement or a jail is the privileged entry's (src/place/place.c). This
// process checks what it can first (the namespace exists; the jail can be
// made; for an unprivileged caller, that sudo lets it run the entry for this
// profile without a password), then replaces itself with the entry: through
// `sudo -n` for an unprivileged caller, directly for root, which hands the
// entry its grant and its plan in a memfd (root's own configuration, even
// --config-dir's). Each refusal is one line with its own status; the
// application never starts.
import { spawnSync } from 'node:child_process';
import { fchmodSync, fstatSync, statSync, writeSync } from 'node:fs';
import { userInfo } from 'node:os';
import { EXIT } from '../errors/exit-codes';
import { LaunchError } from '../errors/launch-error';
import { execute, type CallerState } from '../exec';
import { errorText, loadLibc } from '../exec/libc';
import type { PlannedLaunch } from '../plan/build-plan';
import type { JailCheck, Plan, PlacementCheck } from '../plan/types';
import { ENTRY_PATH, PACKAGE_ENTRY_PATH, SUDO_PATH } from '../placement/constants';
import { missingNamespace, netnsPath } from '../placement/netns';
import { encodeLaunch, type RawBytes } from './placed-launch';

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

/** A refusal decided while planning (placement/decide.ts) ends the launch here. */
export function refuseIfProblem(check: PlacementCheck): void {
  if (check.problem) throw new LaunchError(check.problem.status, check.problem.message);
}

/** A configuration that cannot be jailed (decided while planning): 65, before sudo or anything else. */
export function refuseUnjailable(check: JailCheck): void {
  if (check.problem !== null || check.jail === null)
    throw new LaunchError(EXIT.config, check.problem ?? 'this launch cannot be jailed');
}

/** What can be known before the entry: the refusals decided while planning, the namespace, the jails' host side (root). */
async function checkBeforeEntry(plan: Plan): Promise<void> {
  if (plan.sandbox !== null) refuseDirectories(plan.fds.filter((fd) => fd > 2));
  for (const check of plan.checks) {
    if (check.kind === 'placement') {
      refuseIfProblem(check);
      if (check.netns !== null && !exists(netnsPath(check.netns))) throw missingNamespace(check.netns);
    } else if (check.kind === 'jail') {
      refuseUnjailable(check);
      // Only root can read the host's firewall; the entry checks it for anyone else.
      if (process.geteuid?.() === 0) await checkHostSide(check);
    }
  }
}

/** Descriptors handed into a jail (sandbox.inherit_fds): a directory would reach every file under it. */
function refuseDirectories(fds: number[]): void {
  for (const fd of fds) {
    const st = fstatSync(fd);
    if (st.isDirectory() || st.isSymbolicLink())
      throw new LaunchError(
        EXIT.refused,
        `descriptor ${fd}, which the profile hands into its jail, is a directory: refusing to launch (give it the file or socket it expects)`,
      );
  }
}

async function checkHostSide(check: JailCheck): Promise<void> {
  const jail = check.jail!;
  const { hostSideProblem } = await import('../jail/host-side-system');
  const problem = hostSideProblem(
    { name: jail.listener, address: jail.socksPort.address, jailPort: jail.socksPort.port },
    { pool: jail.pool },
  );
  if (problem !== null) throw new LaunchError(EXIT.noNamespace, problem);
}

/** sudo -n -l: does sudo let this user run exactly this command line, without a password? */
function checkSudo(argv: string[], profile: string): void {
  if (!exists(SUDO_PATH))
    throw new LaunchError(
      EXIT.notFound,
      `placement needs sudo, which is not installed (${SUDO_PATH}): install the sudo package`,
    );
  if (!exists(PACKAGE_ENTRY_PATH))
    throw new LaunchError(
      EXIT.notFound,
      `the privileged entry ${PACKAGE_ENTRY_PATH} is missing: placement needs the installed tails-launch package`,
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
  const how = `the administrator must name ${user} in the profile's callers (/etc/tails-launch/profiles/${profile}.yml), or in jails: callers for --jail, and run 'tails-launch grants --write'`;
  if (/password is required/.test(listed.stderr ?? ''))
    throw new LaunchError(
      EXIT.refused,
      `sudo asks ${user} for a password to run the privileged entry for profile '${profile}' with these arguments, and a launch never waits for one: ${how}`,
    );
  throw new LaunchError(
    EXIT.refused,
    `sudo does not let ${user} run the privileged entry for profile '${profile}' with these arguments: ${how}`,
  );
}

/** Root's grant and plan for the entry, in a memfd on FD (read-only, root's, unlinked: the entry checks all three). */
function grantMemfd(fd: number, grant: string, payload: Buffer): void {
  const r = loadLibc();
  if ('error' in r) throw new LaunchError(EXIT.refused, `cannot hand the launch to the privileged entry: ${r.error}`);
  const { libc } = r;
  const memfd = libc.memfd_create('tails-launch-grant', 0);
  if (memfd < 0) throw new LaunchError(EXIT.internal, `memfd_create: ${errorText(libc, libc.koffi.errno())}`);
  const bytes = Buffer.concat([Buffer.from(`${grant}\n`), payload]);
  for (let done = 0; done < bytes.length;) done += writeSync(memfd, bytes, done);
  fchmodSync(memfd, 0o400);
  if (memfd !== fd && libc.dup2(memfd, fd) < 0)
    throw new LaunchError(EXIT.internal, `dup2: ${errorText(libc, libc.koffi.errno())}`);
}

/** Replaces this process with the privileged entry (sudo's, or root's own). */
export async function handOver(launch: PlannedLaunch, raw: RawBytes, caller: CallerState): Promise<never> {
  const { plan } = launch;
  const handover = plan.handover!;
  await checkBeforeEntry(plan);
  if (handover.file === SUDO_PATH) {
    checkSudo(handover.argv, plan.profile.name);
    return execute({ file: handover.file, argv: handover.argv, env: handover.env, fds: plan.fds }, caller);
  }
  if (!exists(ENTRY_PATH))
    throw new LaunchError(EXIT.notFound, `the privileged entry ${ENTRY_PATH} is missing: reinstall tails-launch`);
  if (handover.grant === null) throw new LaunchError(EXIT.internal, 'root launch without a grant');
  const fd = Number(handover.argv[2]);
  grantMemfd(fd, handover.grant, encodeLaunch(launch, raw));
  return execute({ file: handover.file, argv: handover.argv, env: handover.env, fds: [...plan.fds, fd] }, caller);
}
