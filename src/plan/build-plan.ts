// argv + resolved profile -> plan. Pure: every input that comes from the
// outside world (environment, cwd, randomness, the executable lookup, the
// exec method) is an argument, so every shipped profile's plan is unit-tested.
import { BACKENDS } from '../backends';
import type { BackendStep } from '../backends/backend';
import { EXIT } from '../errors/exit-codes';
import { LaunchError } from '../errors/launch-error';
import type { ExecMethod } from '../exec/types';
import { socksAuth, type SocksAuth } from '../isolation/credentials';
import type { ResolvedProfile } from '../profile/resolve';
import { renderTemplate } from '../backends/own-setting';
import { CREDENTIAL_PLACEHOLDERS, placeholdersIn } from '../backends/placeholders';
import { arrangeArgs } from '../backends/subcommand-args';
import { ENTRY_PATH, PACKAGE_ENTRY_PATH, SUDO_PATH } from '../placement/constants';
import { callerArgsProblem } from '../profile/caller-args';
import type { PlacementDecision } from '../placement/decide';
import { accountVariables, allowedForPlacement } from '../placement/environment';
import { planJail, type JailDecision } from '../jail/plan-jail';
import { decideGuard, type Guard } from '../jail/guard';
import { BWRAP_PATH } from '../jail/constants';
import { planSandbox, type SandboxPlan } from '../jail/sandbox';
import { buildEnvironment } from './env-policy';
import { SCRUBBED_PATTERNS } from '../profile/reserved-env';
import { torSees } from './tor-sees';
import { describeFilter, namespaceClientAddress } from '../tor/onion-grater';
import type { Check, ExecutableCheck, ExecutableLookup, Plan, ProgramLookup } from './types';

export interface PlanInput {
  profile: ResolvedProfile;
  identity: string | null;
  /** The caller's renewal of this `app` group (`tails-launch new-identity`), read at the edge; null or absent: none. */
  renewal?: string | null;
  /** The user's arguments (after the profile name and an optional `--`). */
  args: string[];
  environment: Readonly<Record<string, string | undefined>>;
  /** Null when the current directory no longer exists. */
  cwd: string | null;
  fds: number[];
  execMethod: ExecMethod;
  randomHex: () => string;
  findExecutable: (name: string, pathVariable: string | undefined, cwd: string | null) => ExecutableLookup;
  /** Follows a program's #! and env chain to the program that will run (read-only; see preflight/resolve-program). */
  followProgram: (path: string, argv: string[], lookup: ProgramLookup) => ProgramFollowed;
  /** $XDG_RUNTIME_DIR when usable (absolute), else null. */
  runtimeDir: string | null;
  /** --wait-for-tor, overriding the profile's wait_for_tor. */
  waitForTor?: number;
  /** The profile's placement as decided for this caller (placement/decide.ts), or null without one. */
  placement?: PlacementDecision | null;
  /** Jailed (the profile's `jail: true` or --jail): the jails pool of listeners.yml (null: none declared). */
  jail?: { pool: string | null } | null;
  /** Whose launch this is (an app jail group is per user): this process's uid, or sudo's caller in the entry. */
  callerUid?: number;
  /** Root's own placed launch: the grant handed to the privileged entry (src/placement/grants.ts). */
  grant?: string | null;
  /** What holds the launch (src/jail/guard.ts); absent: decided here with no host firewall and user namespaces on. */
  guard?: Guard;
  /**
   * A jail's facts from the outside world: the accessibility bus, a fresh key
   * for its socket directory, and whether the runtime directory is there and
   * the account's (null: the jail gets nothing of it: no proxies, no sockets).
   */
  sandboxFacts?: {
    a11yBus: string | null;
    launchKey: string;
    runtimeDir?: string | null;
    /** The account's home from the user database (not $HOME: a variable must not move what is bound). */
    home?: string | null;
    xauthority?: string | null;
    /** A path with its symbolic links resolved (src/jail/sandbox.ts checks what bubblewrap will bind). */
    realPath?: (path: string) => string;
  } | null;
}

export type ProgramFollowed =
  { ok: true; file: string; argv: string[]; chain: string[] } | { ok: false; detail: string };

/** A file to write at exec time: where, and its real content (the plan shows it masked). */
export interface PlannedFile {
  path: string;
  content: string;
}

/** What exec needs beyond the printed plan: the full environment, the files' real content. */
export interface PlannedLaunch {
  plan: Plan;
  env: Record<string, string>;
  files: PlannedFile[];
}

/**
 * A runtime file's name: the same for every launch of one group (app, none:
 * rewritten in place with the same content), new for each `launch` group.
 */
function runtimeFileName(profile: string, identity: string | null, mode: string, launchKey: string | null): string {
  return `${profile}${identity === null ? '' : `@${identity}`}.${mode}${launchKey === null ? '' : `.${launchKey}`}.conf`;
}

const SOCKS_TIMEOUT_MS = 3000;

function executableCheck(name: string, found: ExecutableLookup): ExecutableCheck {
  return {
    kind: 'application',
    name,
    path: found.path,
    status: found.status,
    ...(found.status === 'not-executable' ? { reason: found.reason } : {}),
    description: `application '${name}' resolves to an executable file${name.includes('/') ? '' : " on the application's PATH"}`,
  };
}

/** Step 1: the isolation group: a jail's, the credentials, and what the program will send. */
function groupOf(input: PlanInput) {
  const { profile, identity } = input;
  const jailed = input.jail
    ? planJail(profile, identity, input.jail.pool, input.randomHex, input.callerUid ?? 0)
    : null;
  refuseIdentityWithoutGroup(profile, identity, jailed?.ok === true);
  const auth = socksAuth({
    mode: profile.isolation,
    profile: profile.name,
    identity,
    renewal: input.renewal ?? null,
    randomHex: input.randomHex,
  });
  // A jailed own-setting program told no credentials sends its own (none, on
  // Tails): the jail's address carries the group, so say what Tor really sees.
  const sentAuth: SocksAuth =
    jailed?.ok && profile.backend === 'own-setting' && !handsOverCredentials(profile) ? { kind: 'application' } : auth;
  return { jailed, auth, sentAuth };
}

/** Step 2: how the backend tells the program its listener: its step, the handed-over arguments, files and variables. */
function backendOf(input: PlanInput, userJail: boolean, auth: SocksAuth, userArgs: string[]) {
  const { profile } = input;
  // In a user jail the program reaches its listener at 127.0.0.1 (the forwarder), on the usual port.
  const endpoint = userJail ? { address: '127.0.0.1', port: profile.listener.connect.port } : profile.listener.connect;
  const step = BACKENDS[profile.backend].step(endpoint, auth);
  const handOver = listenerHandOver(profile, auth, endpoint);
  const arranged = arrangeArgs(profile.proxy.subcommands, handOver.args, profile.args, userArgs);
  const files = runtimeFiles(step, input);
  const backendEnv = { ...step.env, ...handOver.env };
  for (const f of files) backendEnv[f.variable] = f.path ?? '(needs XDG_RUNTIME_DIR)';
  // A placed application inherits only the allow-list (narrowed further by
  // the profile's env.keep), and gets its account's HOME, USER...
  const placement = input.placement ?? null;
  const profileEnv = placement
    ? {
        ...profile.env,
        keep: Object.keys(allowedForPlacement(input.environment)).filter(
          (name) => profile.env.keep === null || profile.env.keep.includes(name),
        ),
      }
    : profile.env;
  const base = placement ? accountVariables(placement.account) : {};
  return { step, arranged, files, backendEnv, profileEnv, base };
}

type Backended = ReturnType<typeof backendOf>;

/** Step 3: the program found on its PATH, the sandbox around it, the environment, and what is executed. */
function programOf(input: PlanInput, guard: Guard, command: string, b: Backended) {
  const userJail = guard.by === 'user';
  const { step, files, backendEnv, profileEnv, base } = b;
  const appArgs = b.arranged.args;
  // The application's PATH: what the new image would search.
  const app = input.findExecutable(
    command,
    buildEnvironment(input.environment, backendEnv, profileEnv, base).env.PATH,
    input.cwd,
  );
  // A user jail always; a namespace root made, where the session can be held in it too.
  const sandbox =
    userJail || guard.session
      ? sandboxOf(input, app.path, userJail, [
          // The wrapper's configuration, and the files handed over (proxychains'): visible inside, read-only.
          ...(backendEnv.TORSOCKS_CONF_FILE === undefined ? [] : [backendEnv.TORSOCKS_CONF_FILE]),
          ...files.flatMap((f) => (f.path === null ? [] : [f.path])),
        ])
      : null;
  const { env, changes } = buildEnvironment(
    input.environment,
    { ...backendEnv, ...sandbox?.set },
    sandbox ? { ...profileEnv, unset: [...profileEnv.unset, ...sandbox.unset] } : profileEnv,
    base,
  );
  // In a user jail the preload is the application's alone: bubblewrap sets it
  // (--setenv) for the program it starts. The helper and bubblewrap run without
  // it, or ld.so would load the wrapper into them too (torsocks then refuses the
  // helper's own sockets: the jail's loopback, the forwarder's connection to Tor).
  const jailPreload = sandbox ? env.LD_PRELOAD : undefined;
  if (jailPreload !== undefined) delete env.LD_PRELOAD;
  const { exec, followed } = sandbox
    ? {
        exec: {
          file: sandbox.file,
          argv: [
            ...sandbox.argv.slice(0, -1),
            ...(jailPreload === undefined ? [] : ['--setenv', 'LD_PRELOAD', jailPreload]),
            '--',
            app.path ?? command,
            ...appArgs,
          ],
          chain: [],
        },
        followed: null,
      }
    : programToRun(input, step, command, app, appArgs, env);
  return { app, appArgs, sandbox, env, changes, exec, followed };
}

/** The listener as the plan states it. */
function listenerStatement(listener: ResolvedProfile['listener']): Plan['listener'] {
  return {
    name: listener.name,
    kind: listener.kind,
    source: listener.file,
    layer: listener.layer,
    address: listener.address,
    port: listener.port,
    flags: listener.flags,
    netns: listener.netns,
    connect: listener.connect,
    jailPort: listener.jailPort,
  };
}

/**
 * argv + resolved profile -> the plan, in named steps: the group and its
 * credentials, how the program is told its listener, the program that will
 * really run and its environment, then the plan with its checks and notes.
 */
export function buildPlan(input: PlanInput): PlannedLaunch {
  const { profile, identity } = input;
  const guard = input.guard ?? defaultGuard(input);
  const userJail = guard.by === 'user';
  const { jailed, auth, sentAuth } = groupOf(input);
  const { command, userArgs } = commandOf(profile, input.args);
  const backended = backendOf(input, userJail, auth, userArgs);
  const { step, arranged, files } = backended;
  const { app, appArgs, sandbox, env, changes, exec, followed } = programOf(input, guard, command, backended);
  const plan: Plan = {
    schema: 2,
    profile: {
      name: profile.name,
      description: profile.description,
      sources: profile.sources,
      fieldSources: profile.fieldSources,
    },
    identity,
    listener: listenerStatement(profile.listener),
    isolation: { mode: profile.isolation, socks: socksStatement(auth, profile.isolation) },
    torSees: torSees(
      profile.listener,
      profile.isolation,
      sentAuth,
      profile.backend,
      jailed?.ok
        ? { port: jailed.jail.socksPort.port, clientAddress: jailed.jail.group.address }
        : userJail
          ? { port: profile.listener.port, clientAddress: '127.0.0.1' }
          : null,
    ),
    controlFilter: controlFilterOf(profile),
    backend: profile.backend,
    placement: placementStatement(input),
    handover: handoverOf(input),
    jail: jailed?.ok ? jailed.jail : null,
    guard,
    sandbox: sandbox && {
      helper: sandbox.file,
      rundir: sandbox.rundir,
      create: sandbox.create,
      grants: sandbox.grants,
    },
    application: { command, path: app.path, args: appArgs, from: profile.command !== null ? 'profile' : 'arguments' },
    exec: { ...exec, method: input.execMethod, preload: step.preload?.library ?? null },
    env: { set: changes.set, removed: changes.removed, replaced: changes.replaced, scrubPolicy: SCRUBBED_PATTERNS },
    fds: descriptorsOf(input, sandbox !== null),
    files: files.map((f) => ({
      kind: 'runtime-file' as const,
      path: f.path,
      variable: f.variable,
      content: f.display,
    })),
    checks: checksOf({
      input,
      step,
      command,
      app,
      followed,
      hasFiles: files.length > 0,
      auth: sentAuth,
      jailed,
      sandbox,
    }),
    notes: [...notesOf(input, step, guard), ...(arranged.note === null ? [] : [arranged.note])],
  };
  return { plan, env, files: files.flatMap((f) => (f.path === null ? [] : [{ path: f.path, content: f.content }])) };
}

function placementStatement(input: PlanInput): Plan['placement'] {
  const p = input.placement ?? null;
  if (p === null) return { netns: null, user: null, via: null, account: null };
  const a = p.account;
  return {
    netns: p.netns,
    user: p.user,
    via: p.via,
    account: a && { name: a.name, uid: a.uid, gid: a.gid, groups: a.groups, home: a.home },
  };
}

/** The descriptor root's launcher hands the grant on: the lowest above 2 that is not the caller's. */
export function grantDescriptor(fds: number[]): number {
  let fd = 3;
  while (fds.includes(fd)) fd++;
  return fd;
}

/**
 * A placement or a jail starts with the privileged entry (src/place/place.c):
 * through sudo for an unprivileged caller (the profile's name, --jail,
 * --identity and the arguments, nothing else), directly for root, with the
 * grant on a descriptor of its own.
 */
function handoverOf(input: PlanInput): Plan['handover'] {
  const via = input.placement?.via;
  if (via !== 'sudo' && via !== 'self') return null;
  const request = [
    input.profile.name,
    ...(input.jail && !input.profile.jail ? ['--jail'] : []),
    ...(input.identity !== null ? ['--identity', input.identity] : []),
    '--',
    ...input.args,
  ];
  // What sudo may pass (its env_keep is at most this list): the entry filters again.
  const env = allowedForPlacement(input.environment);
  if (via === 'sudo')
    return { file: SUDO_PATH, argv: [SUDO_PATH, '-n', '--', PACKAGE_ENTRY_PATH, ...request], env, grant: null };
  const fd = grantDescriptor(input.fds);
  return {
    file: ENTRY_PATH,
    argv: [ENTRY_PATH, '--grant-fd', String(fd), ...request],
    env,
    grant: input.grant ?? null,
  };
}

/** Whether the profile's proxy templates hand the program the group's credentials. */
function handsOverCredentials(profile: ResolvedProfile): boolean {
  return [...profile.proxy.args, ...Object.values(profile.proxy.env)].some((t) =>
    placeholdersIn(t).known.some((p) => CREDENTIAL_PLACEHOLDERS.includes(p)),
  );
}

/** --identity needs credentials of ours to carry it, or a jail's address. */
function refuseIdentityWithoutGroup(profile: ResolvedProfile, identity: string | null, jailed: boolean): void {
  if (identity === null || jailed) return;
  if (profile.isolation === 'none') {
    throw new LaunchError(
      EXIT.usage,
      `--identity cannot be honoured: profile '${profile.name}' uses isolation "none" (no SOCKS credentials to carry an identity)`,
    );
  }
  if (profile.isolation === 'application') {
    throw new LaunchError(
      EXIT.usage,
      `--identity cannot be honoured: profile '${profile.name}' uses isolation "application" (its program's own settings decide the credentials Tor sees, not tails-launch)`,
    );
  }
}

/** The command and the user's own arguments: a profile without a command runs the first argument (`default -- CMD`). */
function commandOf(profile: ResolvedProfile, args: string[]): { command: string; userArgs: string[] } {
  const [command, userArgs] = profile.command !== null ? [profile.command, args] : [args[0], args.slice(1)];
  // Tails' Tor Browser launcher takes URLs, never options (#19595): through
  // a privileged entry, an option could change what the browser loads or runs.
  const problem = callerArgsProblem(profile.callerArgs, userArgs) ?? handedOverOption(profile, userArgs);
  if (problem !== null) throw new LaunchError(EXIT.usage, `profile '${profile.name}' ${problem}`);
  if (command === undefined || command === '') {
    throw new LaunchError(
      EXIT.usage,
      `profile '${profile.name}' has no command: give one, as in 'tails-launch ${profile.name} -- COMMAND [ARGS...]'`,
    );
  }
  return { command, userArgs };
}

/**
 * One of the program's own proxy options (the profile's `proxy.options`)
 * given by the caller (Electrum's `gui --proxy none`): the program would take
 * the caller's (the last one wins) and Tor would not see what explain says.
 */
function handedOverOption(profile: ResolvedProfile, userArgs: string[]): string | null {
  const options = profile.proxy.options;
  // Long options as getopt_long and argparse read them: `--opt`, `--opt=V`, and any prefix of one (`--proxyu`).
  const long = (a: string) => {
    const word = a.split('=')[0]!;
    return word.length > 2 && word.startsWith('--') && options.some((o) => o.startsWith('--') && o.startsWith(word));
  };
  // A short one, alone or with its value attached (`-pnone`).
  const short = (a: string) => options.some((o) => !o.startsWith('--') && a.startsWith(o));
  const given = userArgs.find((a) => long(a) || short(a));
  return given === undefined
    ? null
    : `sets its program's proxy itself (${options.join(', ')}): the caller may not give '${given}' (it would replace what Tor is told)`;
}

/** Own-setting programs are told their listener by arguments (before the profile's own) and variables, rendered from it and the credentials. */
function listenerHandOver(
  profile: ResolvedProfile,
  auth: SocksAuth,
  endpoint: { address: string; port: number },
): { args: string[]; env: Record<string, string> } {
  const render = (template: string) => renderTemplate(template, endpoint, auth);
  return {
    args: profile.proxy.args.map(render),
    env: Object.fromEntries(Object.entries(profile.proxy.env).map(([name, template]) => [name, render(template)])),
  };
}

/** The backend's files, each with its place in the runtime directory (null without one). */
function runtimeFiles(step: BackendStep, input: PlanInput): (BackendStep['files'][number] & { path: string | null })[] {
  const { profile, identity } = input;
  return step.files.map((f) => ({
    ...f,
    path:
      input.runtimeDir === null
        ? null
        : `${input.runtimeDir}/tails-launch/${f.dir}/${runtimeFileName(profile.name, identity, profile.isolation, profile.isolation === 'launch' ? input.randomHex() : null)}`,
  }));
}

/**
 * What execve runs: under an LD_PRELOAD backend the program the #! and env
 * chain leads to (the preflight executes that very file); otherwise the
 * application as it is.
 */
function programToRun(
  input: PlanInput,
  step: BackendStep,
  command: string,
  app: ExecutableLookup,
  appArgs: string[],
  env: Record<string, string>,
) {
  const appPath = app.path ?? command;
  const followed =
    step.preload && app.status === 'ok'
      ? input.followProgram(appPath, [appPath, ...appArgs], { pathVariable: env.PATH, cwd: input.cwd })
      : null;
  const exec = followed?.ok
    ? { file: followed.file, argv: followed.argv, chain: followed.chain }
    : { file: app.path, argv: [appPath, ...appArgs], chain: step.preload ? [appPath] : [] };
  return { exec, followed };
}

/** What the checks are made from (checksOf's inputs, named). */
interface CheckFacts {
  input: PlanInput;
  step: BackendStep;
  command: string;
  app: ExecutableLookup;
  followed: ProgramFollowed | null;
  hasFiles: boolean;
  auth: SocksAuth;
  jailed: JailDecision | null;
  sandbox: SandboxPlan | null;
  /** A user jail holds any program: LD_PRELOAD then only carries the credentials. */
  judged: boolean;
}

/** The hand-over to the privileged entry, through sudo or by root itself. */
function handoverChecks({ input }: CheckFacts): Check[] {
  const p = input.placement ?? null;
  if (p?.via === 'sudo')
    return [
      {
        kind: 'handover',
        sudo: SUDO_PATH,
        entry: PACKAGE_ENTRY_PATH,
        description: `sudo lets this user run ${PACKAGE_ENTRY_PATH} for this profile without a password (the grants in /etc/sudoers.d/tails-launch); the entry checks the grant again, applies the placement, and runs the checks below as the application's account, where it will run`,
      },
    ];
  if (p?.via === 'self')
    return [
      {
        kind: 'handover',
        sudo: null,
        entry: ENTRY_PATH,
        description: `root hands the launch to the privileged entry ${ENTRY_PATH}, which applies the placement and runs the checks below as the application's account, where it will run`,
      },
    ];
  return [];
}

/** The jail before the placement (making it needs root, which the switch of user drops), then the placement. */
function placementChecks({ input, jailed }: CheckFacts): Check[] {
  const p = input.placement ?? null;
  const checks: Check[] = [];
  if (jailed !== null)
    checks.push({
      kind: 'jail',
      jail: jailed.ok ? jailed.jail : null,
      problem: jailed.ok ? null : jailed.problem,
      // Root keeping root (no account to switch to): no capability may come along into the jail.
      dropCapabilities: p !== null && p.via !== 'sudo' && (p.account === null || p.account.uid === 0),
      description: 'the host side of jails is installed; the jail is made, and every later check runs inside it',
    });
  if (p !== null) {
    const where = [p.netns && `network namespace '${p.netns}'`, p.account && `user '${p.account.name}'`]
      .filter(Boolean)
      .join(' as ');
    checks.push({
      kind: 'placement',
      netns: p.netns,
      user: p.user,
      via: p.via,
      account: p.account && { name: p.account.name, uid: p.account.uid, gid: p.account.gid, groups: p.account.groups },
      problem: p.problem,
      description: `the launch enters ${where || 'its placement'}; every later check runs there`,
    });
  }
  return checks;
}

/** koffi, the wrapper's library, the program, and whether the wrapper can see its connections. */
function programChecks({ input, step, command, app, followed, sandbox, judged }: CheckFacts): Check[] {
  const { profile } = input;
  const checks: Check[] = [];
  if (sandbox !== null && !(judged && step.preload))
    checks.push({
      kind: 'exec-method',
      description: 'koffi loads: a jail replaces the launcher (its helper supervises the application at this PID)',
    });
  if (judged && step.preload) {
    checks.push({
      kind: 'exec-method',
      description: `koffi loads: ${profile.backend} needs it to check file capabilities and to execute exactly the file it checked`,
    });
    checks.push({
      kind: 'library',
      wrapper: step.preload.wrapper,
      path: step.preload.library,
      description: `${step.preload.wrapper}'s library ${step.preload.library} is installed, root's, and writable by nobody else`,
    });
  }
  checks.push(executableCheck(command, app));
  if (judged)
    checks.push({
      kind: 'preloadable',
      path: app.path,
      verdict: followed === null || followed.ok ? { ok: true } : { ok: false, detail: followed.detail },
      description: `the program that runs (after #! and env) is dynamically linked, native, not Go, not setuid/setgid, without file capabilities (else ${profile.backend} could not see its connections)`,
    });
  return checks;
}

/** The user jail's helper and directories, and the runtime directory for the files handed over. */
function sandboxChecks({ input, sandbox, hasFiles }: CheckFacts): Check[] {
  const { profile } = input;
  const checks: Check[] = [];
  if (sandbox !== null)
    checks.push({
      kind: 'sandbox',
      helper: sandbox.file,
      bwrap: BWRAP_PATH,
      rundir: sandbox.rundir,
      create: sandbox.create,
      description: `the jail helper and bubblewrap are installed, root's; the profile's directories exist (made 0700 if missing); the helper makes the jail, whose one way out is a forwarder to ${profile.listener.address}:${profile.listener.port}`,
    });
  if (hasFiles)
    checks.push({
      kind: 'runtime-files',
      dir: input.runtimeDir,
      description: "the user's private runtime directory ($XDG_RUNTIME_DIR) holds the files handed over",
    });
  return checks;
}

/** Last, Tor itself: the control port answers PROTOCOLINFO, or the SocksPort a SOCKS5 handshake. */
function torCheck({ input, auth }: CheckFacts): Check {
  const { profile } = input;
  const { address, port } = profile.listener.connect;
  const waitSeconds = input.waitForTor ?? profile.waitForTor;
  if (profile.listener.kind === 'control')
    return {
      kind: 'control',
      address,
      port,
      waitSeconds,
      timeoutMs: SOCKS_TIMEOUT_MS,
      description: `Tor's control port '${profile.listener.name}' answers PROTOCOLINFO (on Tails: onion-grater, its filter)`,
    };
  return {
    kind: 'socks5',
    address,
    port,
    auth: auth.kind === 'userpass' ? 'userpass' : 'none',
    waitSeconds,
    timeoutMs: SOCKS_TIMEOUT_MS,
    description: `Tor's SOCKS listener '${profile.listener.name}' completes a SOCKS5 handshake`,
  };
}

/** The preflight's checks, in the order it runs them (cheapest first). */
function checksOf(facts: Omit<CheckFacts, 'judged'>): Check[] {
  const f: CheckFacts = { ...facts, judged: facts.step.preload !== null && facts.sandbox === null };
  return [...handoverChecks(f), ...placementChecks(f), ...programChecks(f), ...sandboxChecks(f), torCheck(f)];
}

/**
 * The caller's descriptors the application receives. sudo closes every one
 * above 2 (its closefrom default); so does a jail: a directory or a socket
 * the caller left open would be a way out of it. Root's own launch alone may
 * hand it the ones the profile names (sandbox.inherit_fds), as Tails' tca
 * wrapper opens its state file and portal socket for Tor Connection.
 */
function descriptorsOf(input: PlanInput, jailed: boolean): number[] {
  const via = input.placement?.via;
  if (via === 'sudo') return input.fds.filter((fd) => fd <= 2);
  if (!jailed) return input.fds;
  const inherit = via === 'self' ? input.profile.sandbox.inheritFds : [];
  return input.fds.filter((fd) => fd <= 2 || inherit.includes(fd));
}

/** The profile's onion-grater filter, for clients from its namespace (the address after its listener's, as Tails numbers them). */
function controlFilterOf(profile: ResolvedProfile): Plan['controlFilter'] {
  if (profile.controlFilter === null) return null;
  const hosts = profile.listener.netns === null ? [] : [namespaceClientAddress(profile.listener.address)];
  return { hosts, filter: profile.controlFilter, allows: describeFilter(profile.controlFilter) };
}

/** What the user should know about this launch. */
function notesOf(input: PlanInput, step: BackendStep, guard: Guard): string[] {
  const { profile, identity } = input;
  const notes = [...step.notes];
  if (input.placement?.via === 'sudo')
    notes.push(
      "sudo runs the privileged entry and stays resident while the application runs (its monitor process, as for Tails' own launchers); it passes descriptors 0-2 only, and a pseudo-terminal when started from one (use_pty).",
    );
  if (input.placement?.via === 'sudo' || input.placement?.via === 'self')
    notes.push(
      "The preflight runs as a process of its own, as the application's account, in its namespace and in a session of its own (nobody else can signal it); the entry then executes what it judged, in its own process.",
    );
  if (guard.by === 'user')
    notes.push(
      "In its jail the application is the first process of a PID namespace; the jail helper stays as its parent (small, C): it passes on the signals sent to it and exits with the application's status, and a forwarder outside the jail relays its connections to Tor. Both end with it.",
    );
  if (identity !== null && profile.isolation === 'process')
    notes.push('--identity adds nothing here: every process is its own group already.');
  if (input.execMethod.method === 'spawn') {
    notes.push(
      step.preload
        ? `execve is unavailable (${input.execMethod.reason}): the launch will be refused, since ${profile.backend} needs koffi to check the program and to execute exactly what it checked.`
        : `execve is unavailable (${input.execMethod.reason}): tails-launch will stay resident and wait for the application.`,
    );
  }
  return notes;
}

/** Without a decision from the edge (unit tests, doctor): no host firewall, user namespaces on. */
function defaultGuard(input: PlanInput): Guard {
  const p = input.profile;
  const jailAsked = p.jail || (input.jail !== null && input.jail !== undefined);
  const d = decideGuard({
    profile: p.name,
    backend: p.backend,
    jailAsked,
    hostOnly: p.hostOnly,
    netns: p.placement.netns,
    host: null,
    rootJail: input.jail !== null && input.jail !== undefined,
    userNamespaces: null,
    ownSandbox: p.ownSandbox,
  });
  if (!d.ok) throw new LaunchError(EXIT[d.status], d.problem);
  return d.guard;
}

/** The user jail's helper and bubblewrap arguments for this launch (src/jail/sandbox.ts). */
function sandboxOf(input: PlanInput, appPath: string | null, ownNetwork: boolean, backendFiles: string[]): SandboxPlan {
  const { profile } = input;
  const home = input.placement?.account?.home ?? input.sandboxFacts?.home ?? input.environment.HOME ?? '/';
  return planSandbox(
    profile.sandbox,
    ownNetwork ? { address: profile.listener.address, port: profile.listener.port } : null,
    profile.listener.connect.port,
    {
      home,
      runtimeDir: input.sandboxFacts?.runtimeDir !== undefined ? input.sandboxFacts.runtimeDir : input.runtimeDir,
      cwd: input.cwd,
      env: input.environment,
      a11yBus: input.sandboxFacts?.a11yBus ?? null,
      appPath,
      backendFiles,
      xauthority: input.sandboxFacts?.xauthority ?? null,
      realPath: input.sandboxFacts?.realPath,
      launchKey: input.sandboxFacts?.launchKey ?? input.randomHex().slice(0, 16),
    },
  );
}

/** The credentials of the group, as the plan states them. */
function socksStatement(auth: SocksAuth, mode: ResolvedProfile['isolation']): Plan['isolation']['socks'] {
  switch (auth.kind) {
    case 'userpass':
      return { auth: 'userpass', username: auth.username, password: auth.password, perLaunch: mode === 'launch' };
    case 'per-process':
      return { auth: 'per-process', description: 'torsocks sends torsocks-<pid>:<time> / 0, computed in each process' };
    case 'application':
      return {
        auth: 'application',
        description: "the application's own settings decide its credentials, not tails-launch",
      };
    case 'none':
      return { auth: 'none' };
  }
}
