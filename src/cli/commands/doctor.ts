// `tails-launch doctor [NAME...] [--json]`: checks the live Tor and this
// system against the profiles (all of them, or NAMES). One line per check:
// ok, FAIL (with what to do), warn or skip. Exit 0 only when nothing FAILs.
import { closeSync, existsSync, readFileSync, statSync } from 'node:fs';
import { BACKENDS } from '../../backends';
import { TORSOCKS_CONF_FILE } from '../../backends/torsocks';
import { hasFileCapabilities } from '../../preflight/file-capabilities';
import { findExecutable } from '../../preflight/find-executable';
import { resolveProgram } from '../../preflight/resolve-program';
import { ConfigError, formatProblem } from '../../profile/config-error';
import type { JailsConfig } from '../../profile/schema';
import { configLayers } from '../../profile/layers';
import { listProfiles, loadControl, loadJails, loadListeners } from '../../profile/load';
import { layerListenerProblems } from '../../profile/weaken';
import { NO_CACHE } from '../../profile/parsed-cache';
import {
  resolveProfile,
  UnknownProfileError,
  type ResolvedListener,
  type ResolvedProfile,
} from '../../profile/resolve';
import type { CheckReport, CheckStatus, DoctorCheck } from '../../tor/check-report';
import { checkBootstrap, checkControlPort } from '../../tor/control-checks';
import { escapeControlText } from '../../tor/control-port';
import { checkListeners } from '../../tor/listener-checks';
import { socksPortLine } from '../../tor/listener';
import { EXIT } from '../../errors/exit-codes';
import { LaunchError } from '../../errors/launch-error';
import { loadLibc } from '../../exec/libc';
import { hostSideProblem } from '../../jail/host-side-system';
import { accountNamed } from '../../placement/account';
import { netnsPath, withNetns } from '../../placement/netns';
import { hostPort } from '../../tor/address';
import { socks5Handshake } from '../../tor/socks5-handshake';
import { desktopChecks } from './doctor-desktop';
import { writeAll } from '../output';
import type { Command } from '../parse-args';

const SYSTEM_TORSOCKS_CONF = '/etc/tor/torsocks.conf';

class Report implements CheckReport {
  readonly checks: DoctorCheck[] = [];
  /**
   * Messages quote what the control port sent (versions, error replies,
   * listeners, SocksPort values): escaped here, in one place, so that no
   * peer can forge a line of doctor's output or drive the terminal.
   */
  add(id: string, status: CheckStatus, message: string, fix?: string): void {
    message = escapeControlText(message);
    this.checks.push(
      fix === undefined ? { id, status, message } : { id, status, message, fix: escapeControlText(fix) },
    );
  }
}

function checkWrappers(profiles: ResolvedProfile[], report: Report): void {
  const users = new Map<string, string[]>();
  const libraries = new Map<string, string>();
  for (const p of profiles) {
    const preload = BACKENDS[p.backend].step(p.listener.connect, { kind: 'none' }).preload;
    if (preload === null) continue;
    users.set(preload.wrapper, [...(users.get(preload.wrapper) ?? []), p.name]);
    libraries.set(preload.wrapper, preload.library);
  }
  for (const [wrapper, names] of [...users].sort(([a], [b]) => a.localeCompare(b))) {
    // The launcher preloads the wrapper's library itself, from a path fixed at build time.
    const library = libraries.get(wrapper)!;
    const used = `(used by ${names.length > 4 ? `${names.slice(0, 3).join(', ')} and ${names.length - 3} more` : names.join(', ')})`;
    const pkg = wrapper === 'proxychains4' ? 'libproxychains4' : wrapper;
    let stats = null;
    try {
      stats = statSync(library);
    } catch {
      // missing
    }
    if (stats === null)
      report.add(
        `wrapper.${wrapper}`,
        'fail',
        `${wrapper}'s library ${library} is not installed ${used}`,
        `install the ${pkg} package`,
      );
    else if (!stats.isFile() || stats.uid !== 0 || stats.mode & 0o022)
      report.add(
        `wrapper.${wrapper}`,
        'fail',
        `${wrapper}'s library ${library} is not a root-owned file only root can write ${used}`,
        `reinstall the ${pkg} package`,
      );
    else report.add(`wrapper.${wrapper}`, 'ok', `${wrapper}'s library is installed at ${library} ${used}`);
  }
  if (!users.has('torsocks')) return;
  // torsocks 2.4 exits 1 without a word on an empty configuration file.
  let size = -1;
  try {
    size = statSync(TORSOCKS_CONF_FILE).size;
  } catch {
    // missing
  }
  if (size > 0)
    report.add('torsocks.conf', 'ok', `tails-launch's own torsocks configuration ${TORSOCKS_CONF_FILE} is in place`);
  else {
    report.add(
      'torsocks.conf',
      'fail',
      `tails-launch's own torsocks configuration ${TORSOCKS_CONF_FILE} is ${size === 0 ? 'empty (torsocks exits 1 on an empty file)' : 'missing'}`,
      'reinstall tails-launch (it ships this file beside its bundle)',
    );
  }
  let system: string | null = null;
  try {
    system = readFileSync(SYSTEM_TORSOCKS_CONF, 'utf8');
  } catch {
    // none
  }
  const isolatePid = system !== null && /^\s*IsolatePID\s+1\s*$/im.test(system);
  report.add(
    'torsocks.system-conf',
    'ok',
    system === null
      ? `no system ${SYSTEM_TORSOCKS_CONF}; tails-launch gives torsocks its own (TORSOCKS_CONF_FILE) anyway`
      : isolatePid
        ? `the system ${SYSTEM_TORSOCKS_CONF} sets IsolatePID 1, which cannot interfere: tails-launch gives torsocks its own configuration (TORSOCKS_CONF_FILE) and sets the isolation mode itself`
        : `the system ${SYSTEM_TORSOCKS_CONF} is not used: tails-launch gives torsocks its own configuration (TORSOCKS_CONF_FILE)`,
  );
}

function checkApplication(profile: ResolvedProfile, report: Report): void {
  const id = `profile.${profile.name}.application`;
  if (profile.command === null) {
    return report.add(
      id,
      'skip',
      `profile '${profile.name}' takes its command from its arguments: no application to check`,
    );
  }
  const pathVariable = profile.env.set.PATH ?? process.env.PATH;
  const found = findExecutable(profile.command, pathVariable, null);
  const fixCommand = `install it, or fix 'command' in ${profile.sources[0]}`;
  if (found.status === 'not-found') {
    return report.add(
      id,
      'fail',
      `profile '${profile.name}': application '${profile.command}' not found${found.path ? ` at ${found.path}` : ' on PATH'}`,
      fixCommand,
    );
  }
  if (found.status === 'not-executable') {
    return report.add(
      id,
      'fail',
      `profile '${profile.name}': application ${found.path} cannot be executed: ${found.reason}`,
      fixCommand,
    );
  }
  if (BACKENDS[profile.backend].preloads) {
    const verdict = resolveProgram(found.path, [found.path], { pathVariable, cwd: null });
    const bypass = `${profile.backend} could not see its connections`;
    const fix = 'a proxy-aware program can use a profile with backend env';
    if (!verdict.ok)
      return report.add(
        id,
        'fail',
        `profile '${profile.name}': ${found.path} ${verdict.detail}: ${bypass}, so the launch is refused`,
        fix,
      );
    const capable = hasFileCapabilities(verdict.fd);
    closeSync(verdict.fd);
    if (capable !== false) {
      const what = capable ? 'has file capabilities' : 'cannot be checked for file capabilities (koffi does not load)';
      return report.add(
        id,
        'fail',
        `profile '${profile.name}': ${verdict.file} ${what}: ${bypass}, so the launch is refused`,
        fix,
      );
    }
  }
  report.add(
    id,
    'ok',
    `profile '${profile.name}': application ${found.path} is present and executable${BACKENDS[profile.backend].preloads ? ` (and ${profile.backend} can wrap it)` : ''}`,
  );
}

/** profile.NAME.user: the account a placed profile runs as exists (getpwnam, as the launch looks it up). */
function checkUser(profile: ResolvedProfile, report: Report): void {
  const { user } = profile.placement;
  if (!user) return;
  const id = `profile.${profile.name}.user`;
  const libc = loadLibc();
  if ('error' in libc)
    return report.add(id, 'skip', `profile '${profile.name}': user '${user}' not checked (${libc.error})`);
  const account = accountNamed(user);
  if (account === null)
    return report.add(
      id,
      'fail',
      `profile '${profile.name}': user '${user}' does not exist, so the profile cannot be launched`,
      `create the account, or fix 'user' in ${profile.sources[0]}`,
    );
  report.add(id, 'ok', `profile '${profile.name}': user '${user}' exists (uid ${account.uid})`);
}

const NETNS_SOCKS_TIMEOUT_MS = 3000;

/**
 * profile.NAME.netns: a profile placed in a network namespace reaches its
 * listener only from inside it, so that is where the check looks: the
 * namespace exists, and from inside it the listener's client address
 * completes a SOCKS5 handshake (through the namespace's redirection to Tor).
 * Entering a namespace needs root: as anyone else the check is skipped.
 */
async function checkNamespace(profile: ResolvedProfile, report: Report): Promise<void> {
  const netns = profile.placement.netns;
  if (!netns) return;
  const id = `profile.${profile.name}.netns`;
  const setup = `run 'tails-launch netns setup ${netns}' as root`;
  if (process.geteuid?.() !== 0)
    return report.add(id, 'skip', `profile '${profile.name}': network namespace '${netns}' not checked (needs root)`);
  if (!existsSync(netnsPath(netns)))
    return report.add(id, 'fail', `profile '${profile.name}': network namespace '${netns}' does not exist`, setup);
  const { listener } = profile;
  const where = hostPort(listener.connect.address, listener.connect.port);
  let result;
  try {
    // The socket is made inside the namespace (sockets belong to the namespace they are created in).
    result = await withNetns(netns, () =>
      socks5Handshake({
        address: listener.connect.address,
        port: listener.connect.port,
        auth: { kind: 'none' },
        timeoutMs: NETNS_SOCKS_TIMEOUT_MS,
      }),
    );
  } catch (error) {
    if (!(error instanceof LaunchError)) throw error;
    return report.add(id, 'fail', `profile '${profile.name}': ${error.message}`, setup);
  }
  if (result.ok)
    report.add(
      id,
      'ok',
      `profile '${profile.name}': inside network namespace '${netns}', listener '${listener.name}' completes a SOCKS5 handshake at ${where}`,
    );
  else
    report.add(
      id,
      'fail',
      `profile '${profile.name}': inside network namespace '${netns}', listener '${listener.name}' gives no SOCKS5 handshake: ${result.reason}`,
      `${setup}, and start Tor with '${socksPortLine(listener)}' in torrc`,
    );
}

/**
 * listener.NAME.jail.host: a listener with a jail_port needs the jails' host
 * side (`tails-launch jail setup`): its table, with this listener's
 * redirection for the configured pool, and the pool's route. Reading the
 * firewall needs root: as anyone else the check is skipped.
 */
function checkJailHostSide(listener: ResolvedListener, jails: JailsConfig | null, report: Report): void {
  if (listener.jailPort === null) return;
  const id = `listener.${listener.name}.jail.host`;
  const name = `jail port of listener '${listener.name}' (${hostPort(listener.address, listener.jailPort)})`;
  if (process.geteuid?.() !== 0)
    return report.add(id, 'skip', `${name}: the jails' host side not checked (needs root)`);
  const problem = hostSideProblem(listener, jails);
  if (problem === null) report.add(id, 'ok', `${name}: the jails' host side leads jails to it`);
  else {
    // The problem says what to do for a launch's refusal; here that is the fix.
    const fix = "run 'tails-launch jail setup' as root";
    report.add(id, 'fail', `${name}: ${problem.replace(`: ${fix}`, '')}`, fix);
  }
}

/** The selected profiles, resolved; the ones that do not resolve are FAIL lines. */
async function selectProfiles(
  command: Extract<Command, { kind: 'doctor' }>,
  report: Report,
): Promise<{ profiles: ResolvedProfile[]; layers: ReturnType<typeof configLayers> }> {
  const layers = configLayers(command.options.configDir, process.env);
  const listeners = await loadListeners(layers);
  // A user listeners.yml may not redefine a system listener: the same rule as a launch.
  for (const problem of await layerListenerProblems(layers, listeners, NO_CACHE))
    report.add('listeners', 'fail', formatProblem(problem), 'remove the redefinition from your listeners.yml');
  let names = command.profiles;
  if (names.length === 0) {
    const { profiles, problems } = listProfiles(layers);
    for (const problem of problems) report.add('profiles', 'fail', formatProblem(problem), 'rename or remove the file');
    names = [...profiles.keys()].sort();
  }
  const profiles: ResolvedProfile[] = [];
  for (const name of [...new Set(names)]) {
    try {
      profiles.push(await resolveProfile(layers, listeners, name));
    } catch (error) {
      if (error instanceof UnknownProfileError) throw error;
      if (!(error instanceof ConfigError)) throw error;
      report.add(
        `profile.${name}`,
        'fail',
        `profile '${name}' is invalid: ${formatProblem(error.problems[0]!)}`,
        "fix it ('tails-launch validate' lists every problem)",
      );
    }
  }
  return { profiles, layers };
}

const LABEL: Record<CheckStatus, string> = { ok: 'ok  ', fail: 'FAIL', warn: 'warn', skip: 'skip' };

export function formatCheck(check: DoctorCheck): string {
  return `${LABEL[check.status]}  ${check.message}${check.fix ? ` -> ${check.fix}` : ''}`;
}

export async function doctor(command: Extract<Command, { kind: 'doctor' }>): Promise<number> {
  const report = new Report();
  const { profiles, layers } = await selectProfiles(command, report);
  const control = await loadControl(layers);

  // Each listener once, with the profiles that use it.
  const listeners = new Map<string, { listener: ResolvedListener; users: string[] }>();
  for (const p of profiles) {
    const entry = listeners.get(p.listener.name) ?? { listener: p.listener, users: [] };
    entry.users.push(p.name);
    listeners.set(p.listener.name, entry);
  }

  const tor = await checkControlPort(command.control, control, report);
  try {
    await checkBootstrap(tor, report);
    await checkListeners(tor, listeners.values(), report);
  } finally {
    await tor.connection?.quit();
  }
  const jails = await loadJails(layers);
  for (const { listener } of listeners.values()) checkJailHostSide(listener, jails, report);
  checkWrappers(profiles, report);
  const { checkGuards, checkHostFirewall } = await import('./doctor-guard');
  await checkHostFirewall(layers, report);
  await checkGuards(profiles, layers, report);
  for (const name of command.profiles) {
    const profile = profiles.find((p) => p.name === name);
    if (profile) checkApplication(profile, report);
  }
  if (command.options.configDir === undefined) await (await import('./grants')).checkGrants(report);
  const checkDesktop = desktopChecks(report);
  for (const profile of profiles) {
    checkUser(profile, report);
    await checkNamespace(profile, report);
    checkDesktop(profile);
  }

  const passed = !report.checks.some((c) => c.status === 'fail');
  if (command.json) writeAll(1, `${JSON.stringify({ passed, checks: report.checks }, null, 2)}\n`);
  else {
    const count = (s: CheckStatus) => report.checks.filter((c) => c.status === s).length;
    const summary = `${passed ? 'all checks passed' : `${count('fail')} check${count('fail') === 1 ? '' : 's'} failed`} (${count('ok')} ok, ${count('fail')} FAIL, ${count('warn')} warn, ${count('skip')} skip)`;
    writeAll(1, `${report.checks.map(formatCheck).join('\n')}\n${summary}\n`);
  }
  return passed ? 0 : EXIT.checkFailed;
}
