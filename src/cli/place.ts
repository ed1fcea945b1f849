// tails-launch's privileged entry: the one program sudo runs as root for
// members of group tails-launch (/etc/sudoers.d/tails-launch, installed as
// /usr/lib/tails-launch/place). It exists to apply a profile's placement (a
// network namespace, another user) that an unprivileged caller cannot, and
// nothing else:
//
//  - it takes exactly `[--jail] [--identity NAME] PROFILE -- ARGS...`: no
//    other option, no configuration directory (an identity only picks the
//    isolation group, a jail is made here);
//  - it reads only the system layers (shipped and admin, root's files),
//    never the caller's user layer, cache or environment for configuration;
//  - it runs only profiles with a placement, as their account (never root;
//    another person's account only for that person: placement/decide.ts),
//    with an environment built from an allow-list (placement/environment.ts);
//  - its caller must be root or a member of group tails-launch, whatever
//    sudoers says.
// Then the ordinary pipeline runs: plan, placement (setns, the switch of
// user), the preflight as that user in that namespace, execve.
import { EXIT } from '../errors/exit-codes';
import { LaunchError } from '../errors/launch-error';
import { captureCallerState } from '../exec/caller-state';
import { accountOfUid, groupId } from '../placement/account';
import { PLACEMENT_GROUP } from '../placement/constants';
import { configLayers } from '../profile/layers';
import { IDENTITY_PATTERN, isValidProfileName } from '../profile/names';
import { run } from './commands/run';
import { report } from './report';

process.on('uncaughtException', report);
process.on('unhandledRejection', report);
const caller = captureCallerState(process.env);

const refuse = (message: string) => new LaunchError(EXIT.refused, `privileged entry: ${message}`);

/** Who called sudo: SUDO_UID, which sudo sets and a caller cannot (env_reset); root running the entry itself is 0. */
function callerUid(): number {
  const value = process.env.SUDO_UID;
  if (value === undefined) return 0;
  if (!/^(0|[1-9][0-9]{0,9})$/.test(value)) throw refuse(`SUDO_UID is not a user ID: run it through sudo`);
  return Number(value);
}

function checkCaller(uid: number): void {
  if (uid === 0) return;
  const account = accountOfUid(uid);
  const group = groupId(PLACEMENT_GROUP);
  if (account === null) throw refuse(`the calling user (uid ${uid}) has no account`);
  if (group === null || !account.groups.includes(group))
    throw refuse(
      `${account.name} is not in group ${PLACEMENT_GROUP}: the administrator must add ${account.name} to it (adduser ${account.name} ${PLACEMENT_GROUP})`,
    );
}

async function main(argv: string[]): Promise<never> {
  if (process.getuid?.() !== 0 || process.geteuid?.() !== 0)
    throw refuse(`it must run as root, through sudo ('tails-launch PROFILE' does that)`);
  const usage = new LaunchError(
    EXIT.usage,
    `privileged entry: usage: place [--jail] [--identity NAME] PROFILE -- [ARGS...] (run it as 'tails-launch [--jail] [--identity NAME] PROFILE [ARGS...]')`,
  );
  // In this order, each at most once: what the hand-over passes (plan/build-plan.ts).
  let rest = argv;
  const jail = rest[0] === '--jail';
  if (jail) rest = rest.slice(1);
  let identity: string | null = null;
  if (rest[0] === '--identity') {
    identity = rest[1] ?? '';
    if (!IDENTITY_PATTERN.test(identity)) throw usage;
    rest = rest.slice(2);
  }
  const [profile, separator, ...args] = rest;
  if (profile === undefined || separator !== '--' || !isValidProfileName(profile)) throw usage;
  const uid = callerUid();
  checkCaller(uid);
  // The shipped and admin layers: root's files, at fixed places.
  const layers = configLayers(undefined, {}).filter((layer) => layer.name !== 'user');
  const options = jail ? { identity, jail } : { identity };
  return run({ kind: 'run', profile, args, options }, caller, { layers, callerUid: uid });
}

main(process.argv.slice(2)).catch(report);
