// The control connection of `circuits` and `new-identity`: doctor's way in
// (src/tor/control-checks.ts: the command line's --control options, else
// listeners.yml's `control`), except that a caller other than root goes to
// the configuration's filtered_address when there is one (Tails'
// onion-grater: only root may read Tor's cookie there). A failure is one line.
import { EXIT } from '../errors/exit-codes';
import { LaunchError } from '../errors/launch-error';
import type { ControlConfig } from '../profile/schema';
import type { CheckStatus } from '../tor/check-report';
import { checkControlPort } from '../tor/control-checks';
import { ControlError, escapeControlText, parseControlAddress, type ControlConnection } from '../tor/control-port';

/** Replies of a few hundred circuits and streams (Tor Browser opens many): more than doctor's small answers. */
export const CIRCUITS_MAX_REPLY_BYTES = 4 * 1024 * 1024;

export interface ControlRequest {
  address?: string;
  cookieFile?: string;
  passwordFile?: string;
}

/** Which control port, and with which configuration, for UID. */
export function controlTarget(
  cli: ControlRequest,
  config: ControlConfig | null,
  uid: number,
): { cli: ControlRequest; config: ControlConfig | null; filtered: boolean } {
  // A caller who names Tor's cookie or password means Tor's own port: those never go to the filter.
  const ownCredentials = cli.cookieFile !== undefined || cli.passwordFile !== undefined;
  if (
    cli.address !== undefined ||
    config === null ||
    config.filtered_address === undefined ||
    uid === 0 ||
    ownCredentials
  )
    return { cli, config, filtered: false };
  // onion-grater offers no authentication (its filter decides): no cookie or password of Tor's goes there.
  return { cli, config: { address: config.filtered_address }, filtered: true };
}

/** An authenticated connection, or a LaunchError with doctor's first failure (what, then how to fix it). */
export async function openControl(
  cli: ControlRequest,
  config: ControlConfig | null,
  uid: number,
): Promise<{ connection: ControlConnection; torVersion: string | null; filtered: boolean }> {
  if (cli.address !== undefined) {
    try {
      parseControlAddress(cli.address);
    } catch (error) {
      throw new LaunchError(EXIT.usage, escapeControlText(`--control: ${(error as Error).message}`));
    }
  }
  const target = controlTarget(cli, config, uid);
  const found: Array<{ status: CheckStatus; message: string; fix?: string }> = [];
  const report = {
    add: (_id: string, status: CheckStatus, message: string, fix?: string) => found.push({ status, message, fix }),
  };
  const { connection } = await checkControlPort(target.cli, target.config, report, CIRCUITS_MAX_REPLY_BYTES);
  const failure = found.find((c) => c.status === 'fail');
  if (connection === null || failure) {
    connection?.close();
    const what = failure ?? { message: "Tor's control port could not be used", fix: undefined };
    const unreachable = /not reachable|no control port|does not answer/.test(what.message);
    throw new LaunchError(
      unreachable ? EXIT.torUnreachable : EXIT.refused,
      escapeControlText(`${what.message}${what.fix ? ` -> ${what.fix}` : ''}`),
    );
  }
  const version = /^Tor (\S+) answers/.exec(found.find((c) => c.status === 'ok')?.message ?? '');
  return { connection, torVersion: version ? escapeControlText(version[1]!) : null, filtered: target.filtered };
}

/**
 * One line for what went wrong once connected: a command Tor (or its filter)
 * refused (onion-grater answers 510 "Command filtered"): 77; the connection
 * lost, timed out or not speaking the protocol: 69. Null: not a control error.
 */
export function refusedLine(error: unknown, filtered: boolean): LaunchError | null {
  if (!(error instanceof ControlError)) return null;
  const e = error;
  if (typeof e.status !== 'number')
    return new LaunchError(
      EXIT.torUnreachable,
      escapeControlText(`${e.message} -> check that Tor runs and that its control port is the one configured`),
    );
  const fix =
    e.status === 510 && filtered
      ? "the control port's filter does not allow it: on Tails, install the package's /usr/share/tails-launch/tails/etc/onion-grater.d/tails-launch.yml as /etc/onion-grater.d/tails-launch.yml and restart onion-grater"
      : e.status === 510
        ? "this control port filters commands: use Tor's own ControlPort (--control ADDRESS:PORT with --control-cookie FILE)"
        : "check that --control names this Tor's ControlPort";
  return new LaunchError(EXIT.refused, escapeControlText(`${e.message ?? 'Tor refused'} -> ${fix}`));
}

/** How long a whole view (or new-identity's work) may take: each command has 5 s, a hostile port many commands. */
export const VIEW_DEADLINE_MS = 60_000;

/** WORK, or one line (69) and the connection closed when it takes longer than MS. */
export async function withinDeadline<T>(
  connection: ControlConnection,
  what: string,
  work: Promise<T>,
  ms = VIEW_DEADLINE_MS,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      connection.close();
      reject(new LaunchError(EXIT.torUnreachable, `Tor's control port took longer than ${ms / 1000} s to ${what}`));
    }, ms);
  });
  work.catch(() => {});
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}
