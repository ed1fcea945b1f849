// The checks of `tails-launch doctor` that talk to Tor's control port:
// reaching it, choosing and proving an authentication (control.reachable,
// control.auth), and Tor's bootstrap (tor.bootstrap). Messages are added raw:
// the report escapes what the peer sent (check-report.ts).
import { NEEDS_CONTROL, type CheckReport } from './check-report';
import {
  ControlConnection,
  ControlError,
  formatControlAddress,
  parseBootstrapPhase,
  parseControlAddress,
  type Authentication,
  type ControlAddress,
  type ProtocolInfo,
} from './control-port';

const CONTROL_TIMEOUT_MS = 5000;

/** What doctor knows of Tor through its control port, or why it knows nothing. */
export interface TorView {
  connection: ControlConnection | null;
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

type ControlCli = { address?: string; cookieFile?: string; passwordFile?: string };
type ControlConfigShape = { address: string; cookie_file?: string; password_file?: string };

/** control.reachable failed: the rest is skipped. */
function unreachable(report: CheckReport, message: string, fix: string): TorView {
  report.add('control.reachable', 'fail', message, fix);
  report.add('control.auth', 'skip', `authentication: not tried (${NEEDS_CONTROL})`);
  return { connection: null };
}

/** Step 1: the address to reach (the command line's, else the configuration's), or the failure. */
function controlAddress(
  cli: ControlCli,
  config: ControlConfigShape | null,
  report: CheckReport,
): ControlAddress | TorView {
  const addressText = cli.address ?? config?.address;
  if (addressText === undefined)
    return unreachable(
      report,
      'no control port is configured',
      'set control.address in listeners.yml or give --control ADDRESS:PORT',
    );
  try {
    return parseControlAddress(addressText);
  } catch (error) {
    return unreachable(report, (error as ControlError).message, 'fix control.address in listeners.yml or --control');
  }
}

/** Step 2: connected, and PROTOCOLINFO answered like Tor; or the failure. */
async function reach(
  address: ControlAddress,
  report: CheckReport,
  maxReplyBytes: number | undefined,
): Promise<{ connection: ControlConnection; info: ProtocolInfo } | TorView> {
  const where = formatControlAddress(address);
  let connection: ControlConnection;
  try {
    connection = await ControlConnection.connect(address, { timeoutMs: CONTROL_TIMEOUT_MS, maxReplyBytes });
  } catch (error) {
    return unreachable(
      report,
      `Tor's control port ${where} is not reachable: ${(error as ControlError).message}`,
      'start Tor, or give its ControlPort with --control ADDRESS:PORT (or control.address in listeners.yml)',
    );
  }
  try {
    const info = await connection.protocolInfo();
    report.add(
      'control.reachable',
      'ok',
      `Tor${info.torVersion ? ` ${info.torVersion}` : ''} answers on its control port ${where}`,
    );
    return { connection, info };
  } catch (error) {
    connection.close();
    return unreachable(
      report,
      `${where} does not answer like Tor's control port: ${(error as Error).message}`,
      "check that --control names Tor's ControlPort",
    );
  }
}

/** What to do when AUTHENTICATE with AUTH failed with E (the kind of failure says which). */
function authenticationFix(e: ControlError, auth: Authentication, where: string, info: ProtocolInfo): string {
  const cookieFix = `give Tor's current CookieAuthFile with --control-cookie FILE${info.cookieFile ? ` (this control port says ${info.cookieFile})` : ''}`;
  const fixes: Record<string, string> = {
    // The file could not be opened: permissions, most likely.
    file: 'run as a user who may read it (root in Tails)',
    // The peer does not know the cookie: another Tor, a stale file, or not Tor at all.
    challenge: `check that ${where} is this Tor's ControlPort, and ${cookieFix}`,
    'file-content': auth.kind === 'password' ? 'name a regular file that holds only the password' : cookieFix,
  };
  return (
    fixes[e.kind] ??
    (auth.kind === 'password'
      ? `put the password matching torrc's HashedControlPassword in ${auth.file} (or use cookie authentication with --control-cookie FILE)`
      : auth.kind === 'cookie'
        ? cookieFix
        : 'configure control.cookie_file or control.password_file')
  );
}

/**
 * Reaches the control port (the command line's address, else the
 * configuration's) and authenticates: checks control.reachable and
 * control.auth. The connection, when both pass, is the caller's to quit.
 * CLI is doctor's --control options, CONFIG the `control` section of
 * listeners.yml (typed by shape: src/tor/ imports nothing from above it).
 */
export async function checkControlPort(
  cli: ControlCli,
  config: ControlConfigShape | null,
  report: CheckReport,
  /** The largest reply to take (`circuits` reads many circuits); doctor's default otherwise. */
  maxReplyBytes?: number,
): Promise<TorView> {
  const address = controlAddress(cli, config, report);
  if ('connection' in address) return address;
  const reached = await reach(address, report, maxReplyBytes);
  if (!('info' in reached)) return reached;
  const { connection, info } = reached;
  const where = formatControlAddress(address);
  // The configuration's cookie and password belong to its address: a password is sent as it is, so
  // never to another port the command line names (the cookie goes by SAFECOOKIE, proven first).
  const configAuth = cli.address === undefined || cli.address === config?.address ? config : null;
  const auth = chooseAuthentication(cli, configAuth, info);
  if ('error' in auth) {
    connection.close();
    report.add('control.auth', 'fail', `authentication to ${where}: ${auth.error}`, auth.fix);
    return { connection: null };
  }
  const how =
    auth.kind === 'none'
      ? 'without credentials (Tor allows it)'
      : auth.kind === 'cookie'
        ? `with SAFECOOKIE and the cookie ${auth.file}`
        : `with the password in ${auth.file}`;
  try {
    await connection.authenticate(auth);
  } catch (error) {
    connection.close();
    const e = error as ControlError;
    const message =
      e.kind === 'auth'
        ? `authentication ${how} failed: Tor rejected it (${e.message.replace(/^AUTHENTICATE: Tor answered /, '')})`
        : `authentication ${how} failed: ${e.message}`;
    report.add('control.auth', 'fail', message, authenticationFix(e, auth, where, info));
    return { connection: null };
  }
  report.add('control.auth', 'ok', `authenticated ${how}`);
  return { connection };
}

/** tor.bootstrap: has Tor finished connecting to the Tor network? */
export async function checkBootstrap(tor: TorView, report: CheckReport): Promise<void> {
  if (!tor.connection) return report.add('tor.bootstrap', 'skip', `Tor's bootstrap: not checked (${NEEDS_CONTROL})`);
  try {
    const value = (await tor.connection.getInfo(['status/bootstrap-phase'])).get('status/bootstrap-phase') ?? '';
    const phase = parseBootstrapPhase(value);
    if (!phase)
      return report.add(
        'tor.bootstrap',
        'fail',
        `Tor's bootstrap phase cannot be read: ${JSON.stringify(value)}`,
        'report this bug with your Tor version',
      );
    const what = `${phase.progress}% (${phase.tag ?? '?'}): ${phase.summary ?? ''}${phase.warning ? `; warning: ${phase.warning}` : ''}`;
    if (phase.progress === 100) return report.add('tor.bootstrap', 'ok', `Tor is bootstrapped: ${what}`);
    report.add(
      'tor.bootstrap',
      'fail',
      `Tor is not bootstrapped: ${what}`,
      "wait for Tor to connect to the Tor network; if it stays there, check the network connection, the clock and Tor's log",
    );
  } catch (error) {
    report.add(
      'tor.bootstrap',
      'fail',
      `GETINFO status/bootstrap-phase failed: ${(error as Error).message}`,
      'check that the control port allows GETINFO (onion-grater does not: run doctor as root)',
    );
  }
}
