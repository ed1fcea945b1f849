// The checks of `tails-launch doctor` on each listener the profiles use:
// open in Tor (GETINFO net/listeners/socks), with the expected flags in
// effect (GETCONF SocksPort), and answering a SOCKS5 handshake; the same of
// a listener's jails' SocksPort when it declares a jail_port.
import { hostPort } from './address';
import { NEEDS_CONTROL, type CheckReport } from './check-report';
import { splitQuotedList } from './control-port';
import type { TorView } from './control-checks';
import { jailSocksPort } from './jail-socksport';
import { controlHello } from './control-hello';
import { socksPortLine, type Listener, type SocksPortOf } from './listener';
import { matchListener, parseSocksPortValue, type SocksPortSpec } from './socks-flags';
import { socks5Handshake } from './socks5-handshake';

const SOCKS_TIMEOUT_MS = 3000;

/** Tor's SOCKS listeners, open and configured: null when not asked (no control connection), the Error when asking failed. */
interface TorListeners {
  live: string[] | Error | null;
  conf: SocksPortSpec[] | Error | null;
}

/** What Tor says of its SOCKS listeners: the open ones and the configured ones, or why it cannot say. */
async function readTorListeners(tor: TorView): Promise<TorListeners> {
  if (!tor.connection) return { live: null, conf: null };
  let live: string[] | Error;
  let conf: SocksPortSpec[] | Error;
  try {
    live = splitQuotedList((await tor.connection.getInfo(['net/listeners/socks'])).get('net/listeners/socks') ?? '');
  } catch (error) {
    live = error as Error;
  }
  try {
    conf = (await tor.connection.getConf('SocksPort'))
      .map(parseSocksPortValue)
      .filter((s): s is SocksPortSpec => s !== null);
  } catch (error) {
    conf = error as Error;
  }
  return { live, conf };
}

/**
 * listener.NAME.live, .flags and .socks: is LISTENER open in Tor, with its
 * flags in effect, and does it complete a SOCKS5 handshake? A listener
 * reached only from a network namespace is skipped. A listener with a
 * jail_port gets the same three checks of its jails' SocksPort
 * (listener.NAME.jail.live, .flags, .socks), which the host reaches directly.
 */
async function checkListener(
  listener: Listener,
  users: string[],
  tor: TorListeners,
  report: CheckReport,
): Promise<void> {
  const where = hostPort(listener.address, listener.port);
  const usedBy = users.length > 4 ? `${users.slice(0, 3).join(', ')} and ${users.length - 3} more` : users.join(', ');
  const name = `listener '${listener.name}' (${where}, used by ${usedBy})`;
  const id = `listener.${listener.name}`;
  if (listener.netns) {
    report.add(id, 'skip', `${name}: reachable only from network namespace '${listener.netns}', not checked from here`);
  } else if (listener.kind === 'control') {
    const hello = await controlHello({ ...listener.connect, timeoutMs: 5000 });
    report.add(
      `${id}.control`,
      hello.ok ? 'ok' : 'fail',
      hello.ok ? `${name}: a control port answers PROTOCOLINFO` : `${name}: ${hello.reason}`,
      hello.ok ? undefined : 'start onion-grater (Tails) or give Tor that ControlPort',
    );
  } else {
    await checkSocksPort(listener, listener.connect, name, id, tor, report);
  }
  const twin = jailSocksPort(listener);
  if (twin === null) return;
  const twinName = `jail port of listener '${listener.name}' (${hostPort(twin.address, twin.port)}, used by its jails)`;
  await checkSocksPort(twin, twin, twinName, `${id}.jail`, tor, report);
}

/** ID.live, ID.flags, ID.socks of the SocksPort PORT, reached at CONNECT; NAME says which it is. */
async function checkSocksPort(
  port: SocksPortOf,
  connect: { address: string; port: number },
  name: string,
  id: string,
  tor: TorListeners,
  report: CheckReport,
): Promise<void> {
  const where = hostPort(port.address, port.port);
  if (tor.live === null)
    report.add(`${id}.live`, 'skip', `${name}: not checked whether Tor has it open (${NEEDS_CONTROL})`);
  else if (tor.live instanceof Error)
    report.add(
      `${id}.live`,
      'fail',
      `${name}: GETINFO net/listeners/socks failed: ${tor.live.message}`,
      'run doctor as root against the real ControlPort',
    );
  else if (tor.live.includes(where)) report.add(`${id}.live`, 'ok', `${name} is open in Tor`);
  else {
    report.add(
      `${id}.live`,
      'fail',
      `${name} is not open in Tor (Tor's SOCKS listeners: ${tor.live.join(' ') || 'none'})`,
      `add '${socksPortLine(port)}' to torrc (see 'tails-launch torrc') and reload Tor`,
    );
  }

  if (tor.conf === null)
    report.add(`${id}.flags`, 'skip', `${name}: not checked whether Tor's SocksPort has its flags (${NEEDS_CONTROL})`);
  else if (tor.conf instanceof Error)
    report.add(
      `${id}.flags`,
      'fail',
      `${name}: GETCONF SocksPort failed: ${tor.conf.message}`,
      'run doctor as root against the real ControlPort',
    );
  else {
    const match = matchListener(port, tor.conf);
    if (match.status === 'equal')
      report.add(`${id}.flags`, 'ok', `${name}: Tor's SocksPort has the expected flags (${match.spec.text})`);
    else if (match.status === 'missing') {
      report.add(
        `${id}.flags`,
        'fail',
        `${name}: Tor's configuration has no SocksPort ${where}`,
        `add to torrc: ${socksPortLine(port)}`,
      );
    } else {
      report.add(
        `${id}.flags`,
        'fail',
        `${name}: Tor's SocksPort differs: ${match.differences.join(', ')} (Tor has '${match.spec.text}')`,
        `use in torrc: ${socksPortLine(port)}`,
      );
    }
  }

  const result = await socks5Handshake({
    address: connect.address,
    port: connect.port,
    auth: { kind: 'none' },
    timeoutMs: SOCKS_TIMEOUT_MS,
  });
  if (result.ok) report.add(`${id}.socks`, 'ok', `${name} completes a SOCKS5 handshake`);
  else
    report.add(
      `${id}.socks`,
      'fail',
      `${name}: no SOCKS5 handshake: ${result.reason}`,
      `start Tor with '${socksPortLine(port)}' in torrc`,
    );
}

/** Checks each listener in USES (with the profiles that use it) against what Tor says of its SOCKS listeners. */
export async function checkListeners(
  tor: TorView,
  uses: Iterable<{ listener: Listener; users: string[] }>,
  report: CheckReport,
): Promise<void> {
  const torListeners = await readTorListeners(tor);
  for (const { listener, users } of uses) await checkListener(listener, users, torListeners, report);
}
