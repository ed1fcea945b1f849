// `tails-launch grants [--write | --check]`: the grants of the privileged
// entry (src/placement/grants.ts), made from the shipped and admin layers'
// profiles. Printed, written (root) to the sudoers drop-in after visudo
// accepted it, or compared with the installed one (exit 1 when it is stale:
// the entry would still run the old grants, and the launcher refuses a
// launch whose grant differs from the configuration's).
import {
  closeSync,
  constants,
  existsSync,
  fchmodSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { spawnSync } from 'node:child_process';
import { EXIT } from '../../errors/exit-codes';
import { LaunchError } from '../../errors/launch-error';
import { PACKAGE_ENTRY_PATH, SUDOERS_DROP_IN, VISUDO } from '../../placement/constants';
import { GRANT_MARK, sudoersDropIn } from '../../placement/grants';
import type { CheckReport } from '../../tor/check-report';
import { ConfigError } from '../../profile/config-error';
import { configLayers } from '../../profile/layers';
import { listProfiles, loadJails, loadListeners } from '../../profile/load';
import { resolveProfile, type ResolvedProfile } from '../../profile/resolve';
import { writeAll } from '../output';
import type { Command } from '../parse-args';

type GrantsCommand = Extract<Command, { kind: 'grants' }>;

/** The drop-in the system layers (or --config-dir) make: every profile must resolve, or nothing is granted. */
export async function grantsText(configDir: string | undefined): Promise<string> {
  const layers = configLayers(configDir, process.env).filter((l) => l.name !== 'user');
  const listeners = await loadListeners(layers);
  const { profiles: names, problems } = listProfiles(layers);
  if (problems.length) throw new ConfigError(problems);
  const profiles: ResolvedProfile[] = [];
  for (const name of [...names.keys()].sort()) profiles.push(await resolveProfile(layers, listeners, name));
  return sudoersDropIn(
    PACKAGE_ENTRY_PATH,
    profiles,
    await loadJails(layers),
    layers.map((l) => l.dir),
  );
}

export async function grants(command: GrantsCommand): Promise<number> {
  if (command.action !== 'print' && command.options.configDir !== undefined)
    throw new LaunchError(
      EXIT.usage,
      `grants --${command.action} works on the system configuration: drop --config-dir`,
    );
  if (command.action === 'write' && process.geteuid?.() !== 0)
    throw new LaunchError(EXIT.refused, `grants --write changes ${SUDOERS_DROP_IN}: run it as root`);
  const text = await grantsText(command.options.configDir);
  if (command.action === 'print') {
    writeAll(1, text);
    return 0;
  }
  if (command.action === 'check') return check(text);
  install(text);
  writeAll(1, `wrote ${SUDOERS_DROP_IN}\n`);
  return 0;
}

/** doctor's check: is the installed drop-in what the profiles grant now? (root: the file is 0440) */
export async function checkGrants(report: CheckReport): Promise<void> {
  if (process.geteuid?.() !== 0)
    return report.add('grants', 'skip', `the grants in ${SUDOERS_DROP_IN} not checked (needs root)`);
  let text: string;
  try {
    text = await grantsText(undefined);
  } catch (error) {
    return report.add(
      'grants',
      'fail',
      `the grants cannot be made: ${(error as Error).message.split('\n')[0]}`,
      'fix the configuration',
    );
  }
  const granted = text.includes(GRANT_MARK);
  let installed: string | null = null;
  try {
    installed = readFileSync(SUDOERS_DROP_IN, 'utf8');
  } catch {
    // Nothing installed: fine when nothing is granted.
  }
  if (installed === text || (installed === null && !granted))
    return report.add('grants', 'ok', `the grants in ${SUDOERS_DROP_IN} are what the profiles say`);
  // Missing fails closed (only root can start placed profiles): a warning; stale grants are a failure.
  report.add(
    'grants',
    installed === null ? 'warn' : 'fail',
    installed === null
      ? `${SUDOERS_DROP_IN} is missing: no placed profile can be started by anyone but root`
      : `${SUDOERS_DROP_IN} is not what the profiles grant now: the privileged entry refuses launches whose grant changed`,
    "run 'tails-launch grants --write' as root",
  );
}

function check(text: string): number {
  let installed: string;
  try {
    installed = readFileSync(SUDOERS_DROP_IN, 'utf8');
  } catch (error) {
    throw new LaunchError(
      EXIT.checkFailed,
      `cannot read ${SUDOERS_DROP_IN} (${(error as NodeJS.ErrnoException).code}): run 'tails-launch grants --write' as root`,
    );
  }
  if (installed === text) {
    writeAll(1, `${SUDOERS_DROP_IN} is current\n`);
    return 0;
  }
  throw new LaunchError(
    EXIT.checkFailed,
    `${SUDOERS_DROP_IN} is not what the profiles grant now: run 'tails-launch grants --write' as root`,
  );
}

/**
 * Beside the drop-in under a name sudo skips (it has a dot), checked by
 * visudo, then renamed over it. Without sudo (no /etc/sudoers.d, no visudo:
 * a minimal image that installs it later) the directory is made as sudo's
 * package makes it, and the file written unchecked: sudo will find it.
 */
function install(text: string): void {
  mkdirSync(dirname(SUDOERS_DROP_IN), { recursive: true, mode: 0o750 });
  const temporary = `${SUDOERS_DROP_IN}.${process.pid}.tmp`;
  rmSync(temporary, { force: true });
  const fd = openSync(
    temporary,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o440,
  );
  try {
    const bytes = Buffer.from(text);
    for (let done = 0; done < bytes.length;) done += writeSync(fd, bytes, done);
    fchmodSync(fd, 0o440);
  } finally {
    closeSync(fd);
  }
  const visudo = existsSync(VISUDO)
    ? spawnSync(VISUDO, ['-c', '-q', '-f', temporary], { encoding: 'utf8', env: { PATH: '/usr/sbin:/usr/bin' } })
    : null;
  if (visudo !== null && visudo.status !== 0) {
    rmSync(temporary, { force: true });
    throw new LaunchError(
      EXIT.internal,
      `visudo refuses the drop-in made from the profiles (${(visudo.stderr || visudo.stdout || String(visudo.error)).trim().split('\n')[0]}): nothing was changed`,
    );
  }
  renameSync(temporary, SUDOERS_DROP_IN);
}
