// The privileged entry's preflight: src/place/place.c runs this, after it
// applied the placement, as the application's account, in its network
// namespace or jail, in a session of its own (neither sudo's relay nor the
// caller, another uid, can signal it; it dies with the entry). It plans the
// launch, runs the checks where and as whom the application will run, and
// tells the entry on descriptor 3 what to execute (src/exec/request.ts).
//
//   placed.mjs PROFILE [--identity NAME] -- [ARGS...]   (sudo's caller)
//     plans from the system layers only, and refuses when the grant the
//     entry applied is not the one they make now (stale grants);
//   placed.mjs --plan-fd PROFILE ...                     (root's own launch)
//     takes the plan root made, after the grant line on descriptor 4.
//
// The entry tells it what it did in TAILS_LAUNCH_PLACED
// (v=1;caller=UID;uid=UID;netns=NAME|-;jail=ADDRESS|-) and the grant it
// applied in TAILS_LAUNCH_GRANT; both are removed before anything else.
import { fstatSync, readSync } from 'node:fs';
import { EXIT } from '../errors/exit-codes';
import { LaunchError } from '../errors/launch-error';
import { captureCallerState } from '../exec/caller-state';
import { isExecveAvailable } from '../exec/execve';
import { sendRequest } from '../exec/request';
import { decodeLaunch, type RawBytes } from '../handover/placed-launch';
import type { PlannedLaunch } from '../plan/build-plan';
import { runPreflight } from '../preflight/run-preflight';
import { configLayers } from '../profile/layers';
import { IDENTITY_PATTERN, isValidProfileName } from '../vocabulary/names';
import { rawBytes } from './commands/run';
import { planLaunch } from './plan-launch';
import { report } from './report';

process.on('uncaughtException', report);
process.on('unhandledRejection', report);
const caller = captureCallerState(process.env);

interface Facts {
  caller: number;
  uid: number;
  netns: string | null;
  jail: string | null;
}

function takeFacts(): { facts: Facts; grant: string } {
  const text = process.env.TAILS_LAUNCH_PLACED ?? '';
  const grant = process.env.TAILS_LAUNCH_GRANT ?? '';
  delete process.env.TAILS_LAUNCH_PLACED;
  delete process.env.TAILS_LAUNCH_GRANT;
  const fields = Object.fromEntries(text.split(';').map((kv) => kv.split('=', 2) as [string, string]));
  if (fields.v !== '1' || !/^\d+$/.test(fields.caller ?? '') || !/^\d+$/.test(fields.uid ?? ''))
    throw new LaunchError(EXIT.internal, 'placed preflight: run only by the privileged entry');
  const orNull = (v: string | undefined) => (v === undefined || v === '-' ? null : v);
  return {
    facts: {
      caller: Number(fields.caller),
      uid: Number(fields.uid),
      netns: orNull(fields.netns),
      jail: orNull(fields.jail),
    },
    grant,
  };
}

/** The document root wrote after the grant line on descriptor 4 (read by position: the memfd is root's, 0400). */
function readPlanFd(): { launch: PlannedLaunch; raw: RawBytes } {
  const size = fstatSync(4).size;
  const bytes = Buffer.alloc(size);
  for (let done = 0; done < size;) {
    const n = readSync(4, bytes, done, size - done, done);
    if (n === 0) break;
    done += n;
  }
  return decodeLaunch(bytes);
}

/** The caller's launch, planned again from the system layers; the entry's grant must be the one they make now. */
async function planFromSystem(
  argv: string[],
  facts: Facts,
  grant: string,
): Promise<{ launch: PlannedLaunch; raw: RawBytes }> {
  const usage = new LaunchError(EXIT.usage, 'placed preflight: usage: PROFILE [--identity NAME] -- [ARGS...]');
  let rest = argv;
  const profile = rest.shift() ?? '';
  let identity: string | null = null;
  if (rest[0] === '--identity') {
    identity = rest[1] ?? '';
    if (!IDENTITY_PATTERN.test(identity)) throw usage;
    rest = rest.slice(2);
  }
  if (!isValidProfileName(profile) || rest[0] !== '--') throw usage;
  const args = rest.slice(1);
  const layers = configLayers(undefined, {}).filter((layer) => layer.name !== 'user');
  const options = { identity, jail: facts.jail !== null };
  const planned = await planLaunch({ profile, args, options }, caller, isExecveAvailable(), {
    layers,
    callerUid: facts.caller,
  });
  if (planned.systemGrant !== grant)
    throw new LaunchError(
      EXIT.config,
      `the grant of profile '${profile}' in /etc/sudoers.d/tails-launch is not what the configuration says now: the administrator must run 'tails-launch grants --write'`,
    );
  const { placement } = planned.plan;
  if (facts.jail === null && (placement.netns ?? null) !== facts.netns)
    throw new LaunchError(
      EXIT.internal,
      `the entry placed profile '${profile}' elsewhere than its plan: refusing to launch`,
    );
  return { launch: planned, raw: rawBytes(planned.plan, args, planned.env) };
}

async function main(argv: string[]): Promise<never> {
  const { facts, grant } = takeFacts();
  const { launch, raw } = argv[0] === '--plan-fd' ? readPlanFd() : await planFromSystem(argv, facts, grant);
  const { plan, env, files } = launch;
  const account = plan.placement.account;
  if ((account?.uid ?? facts.uid) !== facts.uid)
    throw new LaunchError(
      EXIT.internal,
      `the entry runs this launch as uid ${facts.uid}, its plan as ${account?.name}: refusing to launch`,
    );
  const target = await runPreflight(plan, env, true);
  sendRequest({ file: target.file, fd: target.fd, argv: plan.exec.argv, env, fds: plan.fds, files, raw });
  process.exit(0);
}

main(process.argv.slice(2)).catch(report);
