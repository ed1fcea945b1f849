// `tails-launch doctor [NAME...] [--json]`: checks the live Tor and this
// system against the profiles (all of them, or NAMES). One line per check:
// ok, FAIL (with what to do), warn or skip. Exit 0 only when nothing FAILs.
import { closeSync, readFileSync, statSync } from 'node:fs';
import { BACKENDS } from '../../backends';
import { TORSOCKS_CONF_FILE } from '../../backends/torsocks';
import { hasFileCapabilities } from '../../preflight/file-capabilities';
import { findExecutable } from '../../preflight/find-executable';
import { resolveProgram } from '../../preflight/resolve-program';
import { ConfigError, formatProblem } from '../../profile/config-error';
import { configLayers } from '../../profile/layers';
import { listProfiles, loadControl, loadListeners } from '../../profile/load';
import { layerListenerProblems } from '../../profile/weaken';
import { NO_CACHE } from '../../profile/parsed-cache';
import { resolveProfile, UnknownProfileError, type ResolvedListener, type ResolvedProfile } from '../../profile/resolve';
import {
  ControlConnection,
  ControlError,
  escapeControlText,
  formatControlAddress,
  parseBootstrapPhase,
  parseControlAddress,
  splitQuotedList,
  type Authentication,
  type ControlAddress,
  type ProtocolInfo,
} from '../../tor/control-port';
import { matchListener, parseSocksPortValue, type SocksPortSpec } from '../../tor/socks-flags';
import { socks5Handshake } from '../../tor/socks5-handshake';
import { EXIT } from '../../errors/exit-codes';
import { writeAll } from '../output';
import type { Command } from '../parse-args';

export type CheckStatus = 'ok' | 'fail' | 'warn' | 'skip';

export interface DoctorCheck {
  id: string;
  status: CheckStatus;
  /** What was found. */
  message: string;
  /** What to do (FAIL, sometimes warn). */
  fix?: string;
}

const CONTROL_TIMEOUT_MS = 5000;
const SOCKS_TIMEOUT_MS = 3000;
const SYSTEM_TORSOCKS_CONF = '/etc/tor/torsocks.conf';
const NEEDS_CONTROL = 'needs the control port';

const hostPort = (address: string, port: number) => `${address.includes(':') ? `[${address}]` : address}:${port}`;
const socksPortLine = (l: ResolvedListener) => `SocksPort ${hostPort(l.address, l.port)}${l.flags.length ? ` ${l.flags.join(' ')}` : ''}`;

/** What doctor knows of Tor through its control port, or why it knows nothing. */
interface TorView {
  connection: ControlConnection | null;
}

class Report {
  readonly checks: DoctorCheck[] = [];
  /**
   * Messages quote what the control port sent (versions, error replies,
   * listeners, SocksPort values): escaped here, in one place, so that no
   * peer can forge a line of doctor's output or drive the terminal.
   */
  add(id: string, status: CheckStatus, message: string, fix?: string): void {
    message = escapeControlText(message);
    this.checks.push(fix === undefined ? { id, status, message } : { id, status, message, fix: escapeControlText(fix) });
  }
}

/**
 * Which authentication: a method given on the command line wins over the
 * configuration's; password before cookie. Cookie authentication is
 * SAFECOOKIE with the configured cookie file only: the COOKIEFILE that
 * PROTOCOLINFO names comes from whatever answers on the port, and doctor
 * runs as root, so it would read any file the peer chose (and plain COOKIE
 * would then send it over). A peer that offers only plain COOKIE is refused.
 */
export function chooseAuthentication(
  cli: { cookieFile?: string; passwordFile?: string },
  config: { cookie_file?: string; password_file?: string } | null,
  info: ProtocolInfo,
): Authentication | { error: string; fix: string } {
  const methods = new Set(info.methods);
  const offered = info.methods.join(', ') || 'none';
  const password = cli.passwordFile ?? (cli.cookieFile === undefined ? config?.password_file : undefined);
  const cookie = cli.cookieFile ?? (cli.passwordFile === undefined ? config?.cookie_file : undefined);
  if (methods.has('NULL')) return { kind: 'none' };
  if (password !== undefined && methods.has('HASHEDPASSWORD')) return { kind: 'password', file: password };
  if (methods.has('SAFECOOKIE')) {
    if (cookie !== undefined) return { kind: 'cookie', file: cookie };
    return {
      error: `Tor offers cookie authentication (${offered}) but no cookie file is configured; doctor never reads the file the control port names${info.cookieFile ? ` (${info.cookieFile})` : ''}`,
      fix: `give Tor's CookieAuthFile with --control-cookie FILE, or set control.cookie_file in listeners.yml${methods.has('HASHEDPASSWORD') ? ' (or a password with --control-password-file FILE)' : ''}`,
    };
  }
  if (methods.has('COOKIE')) {
    return {
      error: `the control port offers cookie authentication only as plain COOKIE (${offered}), which would hand the cookie itself to whatever answers there; doctor uses SAFECOOKIE only`,
      fix: "check that this is really Tor's ControlPort (every Tor since 0.2.3.13 offers SAFECOOKIE with CookieAuthentication 1), or use HashedControlPassword with --control-password-file FILE",
    };
  }
  if (methods.has('HASHEDPASSWORD')) {
    return {
      error: `Tor wants a control password (it offers ${offered}) and none is configured`,
      fix: "give the password's file with --control-password-file FILE, or set control.password_file in listeners.yml",
    };
  }
  return {
    error: `no authentication method tails-launch can use (Tor offers ${offered})`,
    fix: 'enable CookieAuthentication 1 or HashedControlPassword in torrc',
  };
}

async function checkControlPort(command: Extract<Command, { kind: 'doctor' }>, config: Awaited<ReturnType<typeof loadControl>>, report: Report): Promise<TorView> {
  const addressText = command.control.address ?? config?.address;
  if (addressText === undefined) {
    report.add('control.reachable', 'fail', 'no control port is configured', 'set control.address in listeners.yml or give --control ADDRESS:PORT');
    report.add('control.auth', 'skip', `authentication: not tried (${NEEDS_CONTROL})`);
    return { connection: null };
  }
  let address: ControlAddress;
  try {
    address = parseControlAddress(addressText);
  } catch (error) {
    report.add('control.reachable', 'fail', (error as ControlError).message, 'fix control.address in listeners.yml or --control');
    report.add('control.auth', 'skip', `authentication: not tried (${NEEDS_CONTROL})`);
    return { connection: null };
  }
  const where = formatControlAddress(address);
  let connection: ControlConnection;
  let info: ProtocolInfo;
  try {
    connection = await ControlConnection.connect(address, { timeoutMs: CONTROL_TIMEOUT_MS });
  } catch (error) {
    report.add(
      'control.reachable',
      'fail',
      `Tor's control port ${where} is not reachable: ${(error as ControlError).message}`,
      'start Tor, or give its ControlPort with --control ADDRESS:PORT (or control.address in listeners.yml)',
    );
    report.add('control.auth', 'skip', `authentication: not tried (${NEEDS_CONTROL})`);
    return { connection: null };
  }
  try {
    info = await connection.protocolInfo();
  } catch (error) {
    connection.close();
    report.add('control.reachable', 'fail', `${where} does not answer like Tor's control port: ${(error as Error).message}`, "check that --control names Tor's ControlPort");
    report.add('control.auth', 'skip', `authentication: not tried (${NEEDS_CONTROL})`);
    return { connection: null };
  }
  report.add('control.reachable', 'ok', `Tor${info.torVersion ? ` ${info.torVersion}` : ''} answers on its control port ${where}`);

  const auth = chooseAuthentication(command.control, config, info);
  if ('error' in auth) {
    connection.close();
    report.add('control.auth', 'fail', `authentication to ${where}: ${auth.error}`, auth.fix);
    return { connection: null };
  }
  const how =
    auth.kind === 'none' ? 'without credentials (Tor allows it)' : auth.kind === 'cookie' ? `with SAFECOOKIE and the cookie ${auth.file}` : `with the password in ${auth.file}`;
  try {
    await connection.authenticate(auth);
  } catch (error) {
    connection.close();
    const e = error as ControlError;
    const cookieFix = `give Tor's current CookieAuthFile with --control-cookie FILE${info.cookieFile ? ` (this control port says ${info.cookieFile})` : ''}`;
    const fixes: Record<string, string> = {
      // The file could not be opened: permissions, most likely.
      file: 'run as a user who may read it (root in Tails)',
      // The peer does not know the cookie: another Tor, a stale file, or not Tor at all.
      challenge: `check that ${where} is this Tor's ControlPort, and ${cookieFix}`,
      'file-content': auth.kind === 'password' ? 'name a regular file that holds only the password' : cookieFix,
    };
    const fix =
      fixes[e.kind] ??
      (auth.kind === 'password'
        ? `put the password matching torrc's HashedControlPassword in ${auth.file} (or use cookie authentication with --control-cookie FILE)`
        : auth.kind === 'cookie'
          ? cookieFix
          : 'configure control.cookie_file or control.password_file');
    const message = e.kind === 'auth' ? `authentication ${how} failed: Tor rejected it (${e.message.replace(/^AUTHENTICATE: Tor answered /, '')})` : `authentication ${how} failed: ${e.message}`;
    report.add('control.auth', 'fail', message, fix);
    return { connection: null };
  }
  report.add('control.auth', 'ok', `authenticated ${how}`);
  return { connection };
}

async function checkBootstrap(tor: TorView, report: Report): Promise<void> {
  if (!tor.connection) return report.add('tor.bootstrap', 'skip', `Tor's bootstrap: not checked (${NEEDS_CONTROL})`);
  try {
    const value = (await tor.connection.getInfo(['status/bootstrap-phase'])).get('status/bootstrap-phase') ?? '';
    const phase = parseBootstrapPhase(value);
    if (!phase) return report.add('tor.bootstrap', 'fail', `Tor's bootstrap phase cannot be read: ${JSON.stringify(value)}`, 'report this bug with your Tor version');
    const what = `${phase.progress}% (${phase.tag ?? '?'}): ${phase.summary ?? ''}${phase.warning ? `; warning: ${phase.warning}` : ''}`;
    if (phase.progress === 100) return report.add('tor.bootstrap', 'ok', `Tor is bootstrapped: ${what}`);
    report.add(
      'tor.bootstrap',
      'fail',
      `Tor is not bootstrapped: ${what}`,
      "wait for Tor to connect to the Tor network; if it stays there, check the network connection, the clock and Tor's log",
    );
  } catch (error) {
    report.add('tor.bootstrap', 'fail', `GETINFO status/bootstrap-phase failed: ${(error as Error).message}`, 'check that the control port allows GETINFO (onion-grater does not: run doctor as root)');
  }
}

/** What Tor says of its SOCKS listeners: the open ones and the configured ones, or why it cannot say. */
async function readTorListeners(tor: TorView): Promise<{ live: string[] | Error | null; conf: SocksPortSpec[] | Error | null }> {
  if (!tor.connection) return { live: null, conf: null };
  let live: string[] | Error;
  let conf: SocksPortSpec[] | Error;
  try {
    live = splitQuotedList((await tor.connection.getInfo(['net/listeners/socks'])).get('net/listeners/socks') ?? '');
  } catch (error) {
    live = error as Error;
  }
  try {
    conf = (await tor.connection.getConf('SocksPort')).map(parseSocksPortValue).filter((s): s is SocksPortSpec => s !== null);
  } catch (error) {
    conf = error as Error;
  }
  return { live, conf };
}

async function checkListener(listener: ResolvedListener, users: string[], tor: Awaited<ReturnType<typeof readTorListeners>>, report: Report): Promise<void> {
  const where = hostPort(listener.address, listener.port);
  const usedBy = users.length > 4 ? `${users.slice(0, 3).join(', ')} and ${users.length - 3} more` : users.join(', ');
  const name = `listener '${listener.name}' (${where}, used by ${usedBy})`;
  const id = `listener.${listener.name}`;
  if (listener.netns) {
    return report.add(id, 'skip', `${name}: reachable only from network namespace '${listener.netns}', not checked from here`);
  }
  if (tor.live === null) report.add(`${id}.live`, 'skip', `${name}: not checked whether Tor has it open (${NEEDS_CONTROL})`);
  else if (tor.live instanceof Error) report.add(`${id}.live`, 'fail', `${name}: GETINFO net/listeners/socks failed: ${tor.live.message}`, 'run doctor as root against the real ControlPort');
  else if (tor.live.includes(where)) report.add(`${id}.live`, 'ok', `${name} is open in Tor`);
  else {
    report.add(
      `${id}.live`,
      'fail',
      `${name} is not open in Tor (Tor's SOCKS listeners: ${tor.live.join(' ') || 'none'})`,
      `add '${socksPortLine(listener)}' to torrc (see 'tails-launch torrc') and reload Tor`,
    );
  }

  if (tor.conf === null) report.add(`${id}.flags`, 'skip', `${name}: not checked whether Tor's SocksPort has its flags (${NEEDS_CONTROL})`);
  else if (tor.conf instanceof Error) report.add(`${id}.flags`, 'fail', `${name}: GETCONF SocksPort failed: ${tor.conf.message}`, 'run doctor as root against the real ControlPort');
  else {
    const match = matchListener(listener, tor.conf);
    if (match.status === 'equal') report.add(`${id}.flags`, 'ok', `${name}: Tor's SocksPort has the expected flags (${match.spec.text})`);
    else if (match.status === 'missing') {
      report.add(`${id}.flags`, 'fail', `${name}: Tor's configuration has no SocksPort ${where}`, `add to torrc: ${socksPortLine(listener)}`);
    } else {
      report.add(
        `${id}.flags`,
        'fail',
        `${name}: Tor's SocksPort differs: ${match.differences.join(', ')} (Tor has '${match.spec.text}')`,
        `use in torrc: ${socksPortLine(listener)}`,
      );
    }
  }

  const result = await socks5Handshake({ address: listener.connect.address, port: listener.connect.port, auth: { kind: 'none' }, timeoutMs: SOCKS_TIMEOUT_MS });
  if (result.ok) report.add(`${id}.socks`, 'ok', `${name} completes a SOCKS5 handshake`);
  else report.add(`${id}.socks`, 'fail', `${name}: no SOCKS5 handshake: ${result.reason}`, `start Tor with '${socksPortLine(listener)}' in torrc`);
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
    if (stats === null) report.add(`wrapper.${wrapper}`, 'fail', `${wrapper}'s library ${library} is not installed ${used}`, `install the ${pkg} package`);
    else if (!stats.isFile() || stats.uid !== 0 || stats.mode & 0o022) report.add(`wrapper.${wrapper}`, 'fail', `${wrapper}'s library ${library} is not a root-owned file only root can write ${used}`, `reinstall the ${pkg} package`);
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
  if (size > 0) report.add('torsocks.conf', 'ok', `tails-launch's own torsocks configuration ${TORSOCKS_CONF_FILE} is in place`);
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
    return report.add(id, 'skip', `profile '${profile.name}' takes its command from its arguments: no application to check`);
  }
  const pathVariable = profile.env.set.PATH ?? process.env.PATH;
  const found = findExecutable(profile.command, pathVariable, null);
  const fixCommand = `install it, or fix 'command' in ${profile.sources[0]}`;
  if (found.status === 'not-found') {
    return report.add(id, 'fail', `profile '${profile.name}': application '${profile.command}' not found${found.path ? ` at ${found.path}` : ' on PATH'}`, fixCommand);
  }
  if (found.status === 'not-executable') {
    return report.add(id, 'fail', `profile '${profile.name}': application ${found.path} cannot be executed: ${found.reason}`, fixCommand);
  }
  if (BACKENDS[profile.backend].preloads) {
    const verdict = resolveProgram(found.path, [found.path], { pathVariable, cwd: null });
    const bypass = `${profile.backend} could not see its connections`;
    const fix = 'a proxy-aware program can use a profile with backend env';
    if (!verdict.ok) return report.add(id, 'fail', `profile '${profile.name}': ${found.path} ${verdict.detail}: ${bypass}, so the launch is refused`, fix);
    const capable = hasFileCapabilities(verdict.fd);
    closeSync(verdict.fd);
    if (capable !== false) {
      const what = capable ? 'has file capabilities' : 'cannot be checked for file capabilities (koffi does not load)';
      return report.add(id, 'fail', `profile '${profile.name}': ${verdict.file} ${what}: ${bypass}, so the launch is refused`, fix);
    }
  }
  report.add(id, 'ok', `profile '${profile.name}': application ${found.path} is present and executable${BACKENDS[profile.backend].preloads ? ` (and ${profile.backend} can wrap it)` : ''}`);
}

function checkPlacement(profile: ResolvedProfile, report: Report): void {
  const { netns, user } = profile.placement;
  if (!netns && !user) return;
  const what = [netns && `network namespace '${netns}'`, user && `user '${user}'`].filter(Boolean).join(' and ');
  report.add(`profile.${profile.name}.placement`, 'warn', `profile '${profile.name}' must run in ${what}: this version of tails-launch refuses to launch it`);
}

/** The selected profiles, resolved; the ones that do not resolve are FAIL lines. */
async function selectProfiles(command: Extract<Command, { kind: 'doctor' }>, report: Report): Promise<{ profiles: ResolvedProfile[]; layers: ReturnType<typeof configLayers> }> {
  const layers = configLayers(command.options.configDir, process.env);
  const listeners = await loadListeners(layers);
  // A user listeners.yml may not redefine a system listener: the same rule as a launch.
  for (const problem of await layerListenerProblems(layers, listeners, NO_CACHE)) report.add('listeners', 'fail', formatProblem(problem), 'remove the redefinition from your listeners.yml');
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
      report.add(`profile.${name}`, 'fail', `profile '${name}' is invalid: ${formatProblem(error.problems[0]!)}`, "fix it ('tails-launch validate' lists every problem)");
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

  const tor = await checkControlPort(command, control, report);
  try {
    await checkBootstrap(tor, report);
    const torListeners = await readTorListeners(tor);
    const listeners = new Map<string, { listener: ResolvedListener; users: string[] }>();
    for (const p of profiles) {
      const entry = listeners.get(p.listener.name) ?? { listener: p.listener, users: [] };
      entry.users.push(p.name);
      listeners.set(p.listener.name, entry);
    }
    for (const { listener, users } of listeners.values()) await checkListener(listener, users, torListeners, report);
  } finally {
    await tor.connection?.quit();
  }
  checkWrappers(profiles, report);
  for (const name of command.profiles) {
    const profile = profiles.find((p) => p.name === name);
    if (profile) checkApplication(profile, report);
  }
  for (const profile of profiles) checkPlacement(profile, report);

  const passed = !report.checks.some((c) => c.status === 'fail');
  if (command.json) writeAll(1, `${JSON.stringify({ passed, checks: report.checks }, null, 2)}\n`);
  else {
    const count = (s: CheckStatus) => report.checks.filter((c) => c.status === s).length;
    const summary = `${passed ? 'all checks passed' : `${count('fail')} check${count('fail') === 1 ? '' : 's'} failed`} (${count('ok')} ok, ${count('fail')} FAIL, ${count('warn')} warn, ${count('skip')} skip)`;
    writeAll(1, `${report.checks.map(formatCheck).join('\n')}\n${summary}\n`);
  }
  return passed ? 0 : EXIT.checkFailed;
}
