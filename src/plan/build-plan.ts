// argv + resolved profile -> plan. Pure: every input that comes from the
// outside world (environment, cwd, randomness, the executable lookup, the
// exec method) is an argument, so every shipped profile's plan is unit-tested.
import { BACKENDS } from '../backends';
import { EXIT } from '../cli/exit-codes';
import { LaunchError } from '../cli/launch-error';
import type { ExecMethod } from '../exec/types';
import { socksAuth } from '../isolation/credentials';
import type { ExecutableLookup } from '../preflight/find-executable';
import type { MemoryFile } from '../backends/backend';
import type { ResolvedProfile } from '../profile/resolve';
import { buildEnvironment, SCRUBBED_PATTERNS } from './env-policy';
import type { Check, ExecutableCheck, Plan } from './types';

export interface PlanInput {
  profile: ResolvedProfile;
  identity: string | null;
  /** The user's arguments (after the profile name and an optional `--`). */
  args: string[];
  environment: Readonly<Record<string, string | undefined>>;
  /** Null when the current directory no longer exists. */
  cwd: string | null;
  fds: number[];
  execMethod: ExecMethod;
  randomHex: () => string;
  findExecutable: (name: string, pathVariable: string | undefined, cwd: string | null) => ExecutableLookup;
  /** --wait-for-tor, overriding the profile's wait_for_tor. */
  waitForTor?: number;
}

/** What exec needs beyond the printed plan: the full environment, the memory files' real content. */
export interface PlannedLaunch {
  plan: Plan;
  env: Record<string, string>;
  files: MemoryFile[];
}

const SOCKS_TIMEOUT_MS = 3000;

function executableCheck(kind: 'wrapper' | 'application', name: string, found: ExecutableLookup): ExecutableCheck {
  return {
    kind,
    name,
    path: found.path,
    status: found.status,
    ...(found.status === 'not-executable' ? { reason: found.reason } : {}),
    description: `${kind} '${name}' resolves to an executable file on the application's PATH`,
  };
}

export function buildPlan(input: PlanInput): PlannedLaunch {
  const { profile, identity } = input;
  const backend = BACKENDS[profile.backend];

  if (identity !== null && profile.isolation === 'none') {
    throw new LaunchError(
      EXIT.usage,
      `--identity cannot be honoured: profile '${profile.name}' uses isolation "none" (no SOCKS credentials to carry an identity)`,
    );
  }

  // A profile without a command runs the first argument (`default -- CMD`).
  const [command, userArgs] =
    profile.command !== null ? [profile.command, input.args] : [input.args[0], input.args.slice(1)];
  if (command === undefined || command === '') {
    throw new LaunchError(EXIT.usage, `profile '${profile.name}' has no command: give one, as in 'tails-launch ${profile.name} -- COMMAND [ARGS...]'`);
  }
  const appArgs = [...profile.args, ...userArgs];

  const auth = socksAuth({ mode: profile.isolation, profile: profile.name, identity, randomHex: input.randomHex });
  const step = backend.step(profile.listener.connect, auth);
  const { env, changes } = buildEnvironment(input.environment, step.env, profile.env);

  // Both lookups use the application's PATH: what the new image would search.
  const app = input.findExecutable(command, env.PATH, input.cwd);
  const wrapper = step.wrapper === null ? null : input.findExecutable(step.wrapper, env.PATH, input.cwd);
  const appPath = app.path ?? command;
  const file = wrapper ? wrapper.path : app.path;
  const argv = step.wrapper ? [step.wrapper, ...step.wrapperArgs, appPath, ...appArgs] : [appPath, ...appArgs];

  const checks: Check[] = [];
  const { netns, user } = profile.placement;
  if (netns !== null || user !== null) {
    checks.push({ kind: 'placement', netns, user, description: 'placement (network namespace, user) is applied' });
  }
  if (wrapper && step.wrapper) checks.push(executableCheck('wrapper', step.wrapper, wrapper));
  checks.push(executableCheck('application', command, app));
  if (backend.preloads) {
    checks.push({
      kind: 'preloadable',
      path: app.path,
      description: `the application is a dynamically linked, non-Go, non-setuid program (else ${profile.backend} could not see its connections)`,
    });
  }
  checks.push({
    kind: 'socks5',
    address: profile.listener.connect.address,
    port: profile.listener.connect.port,
    auth: auth.kind === 'userpass' ? 'userpass' : 'none',
    waitSeconds: input.waitForTor ?? profile.waitForTor,
    timeoutMs: SOCKS_TIMEOUT_MS,
    description: `Tor's SOCKS listener '${profile.listener.name}' completes a SOCKS5 handshake`,
  });

  const notes = [...step.notes];
  if (identity !== null && profile.isolation === 'process') notes.push('--identity adds nothing here: every process is its own group already.');
  if (input.execMethod.method === 'spawn') {
    notes.push(
      step.files.length
        ? `execve is unavailable (${input.execMethod.reason}): the launch will be refused, since the ${profile.backend} configuration can only be passed in memory through koffi.`
        : `execve is unavailable (${input.execMethod.reason}): tails-launch will stay resident and wait for the application.`,
    );
  }

  const plan: Plan = {
    schema: 1,
    profile: { name: profile.name, description: profile.description, sources: profile.sources },
    identity,
    listener: {
      name: profile.listener.name,
      source: profile.listener.file,
      address: profile.listener.address,
      port: profile.listener.port,
      flags: profile.listener.flags,
      netns: profile.listener.netns,
      connect: profile.listener.connect,
    },
    isolation: {
      mode: profile.isolation,
      socks:
        auth.kind === 'userpass'
          ? { auth: 'userpass', username: auth.username, password: auth.password, perLaunch: profile.isolation === 'launch' }
          : auth.kind === 'per-process'
            ? { auth: 'per-process', description: 'torsocks sends torsocks-<pid>:<time> / 0, computed in each process' }
            : { auth: 'none' },
    },
    backend: profile.backend,
    placement: profile.placement,
    application: { command, path: app.path, args: appArgs },
    exec: { file, argv, method: input.execMethod },
    env: { set: changes.set, removed: changes.removed, replaced: changes.replaced, scrubPolicy: SCRUBBED_PATTERNS },
    fds: input.fds,
    files: step.files.map((f) => ({ kind: 'memfd' as const, name: f.name, variable: f.variable, content: f.display })),
    checks,
    notes,
  };
  return { plan, env, files: step.files };
}
