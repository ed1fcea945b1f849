// `tails-launch desktop`: the applications' desktop entries and D-Bus
// services, rewritten to start them through the launcher (src/desktop/).
//
//   desktop PROFILE [--entry FILE] [--dbus-service]   print one rewritten file
//   desktop --install [--user|--system] (--all | PROFILE...)
//   desktop --remove  [--user|--system] (--all | PROFILE...)
//
// --install works out every file first and writes nothing when any of them
// cannot go through the launcher (each refusal is one line on stderr, exit 65).
import { EXIT } from '../../errors/exit-codes';
import { LaunchError } from '../../errors/launch-error';
import { appFiles, filesOf, suspectsOf, systemDataDirs, userDataHome, type AppFile } from '../../desktop/find';
import { install, type Outcome, type Placed, remove, type Scope, targetOf, targetProblem } from '../../desktop/install';
import { DesktopRefusal, rewrite } from '../../desktop/rewrite';
import { ConfigError } from '../../profile/config-error';
import { configLayers } from '../../profile/layers';
import { listProfiles, loadListeners } from '../../profile/load';
import { resolveProfile, type ResolvedProfile } from '../../profile/resolve';
import { FileReadError } from '../../profile/safe-read';
import { writeAll, writeError } from '../output';
import type { Command } from '../parse-args';

type DesktopCommand = Extract<Command, { kind: 'desktop' }>;

/** Set at build time (scripts/build.mjs): the launcher the rewritten Exec lines call (/usr/bin/tails-launch in the package). */
declare const __FRONT_PATH__: string;
const LAUNCHER = typeof __FRONT_PATH__ === 'string' ? __FRONT_PATH__ : '/usr/bin/tails-launch';

export async function desktop(command: DesktopCommand): Promise<number> {
  try {
    if (command.action === 'remove') return removeFiles(command);
    return command.action === 'print' ? await print(command) : await installFiles(command);
  } catch (error) {
    // An application's file we cannot read (a FIFO, a directory, no permission): one line, nothing written.
    if (error instanceof FileReadError) throw new LaunchError(EXIT.config, `cannot read ${error.message}`);
    throw error;
  }
}

function scopeOf(command: DesktopCommand): Scope {
  const root = process.geteuid?.() === 0;
  const scope = command.scope ?? (root ? 'system' : 'user');
  if (scope === 'system' && !root)
    throw new LaunchError(
      EXIT.refused,
      `desktop --${command.action} --system changes the applications' own files: run it as root, or use --user`,
    );
  return scope;
}

/**
 * The configuration the files are made from. System-wide, the user's layer
 * (root's ~/.config) is left out: an image's menu follows the shipped and
 * admin profiles only.
 */
function layersFor(command: DesktopCommand, scope: Scope) {
  const layers = configLayers(command.options.configDir, process.env);
  return scope === 'system' ? layers.filter((l) => l.name !== 'user') : layers;
}

/** What the rewrite needs of a profile; null when the profile names no command (it runs whatever follows --). */
function rewriteProfile(profile: ResolvedProfile) {
  if (profile.command === null) return null;
  return { name: profile.name, command: profile.command, callerArgs: profile.callerArgs, named: profile.desktopFiles };
}

async function print(command: DesktopCommand): Promise<number> {
  const layers = configLayers(command.options.configDir, process.env);
  const profile = await resolveProfile(layers, await loadListeners(layers), command.profiles[0]!);
  const subject = rewriteProfile(profile);
  if (subject === null)
    throw new LaunchError(
      EXIT.unknownProfile,
      `profile ${profile.name} names no command, so no application file calls it`,
    );
  const dirs = systemDataDirs(process.env);
  const all = filesOf(appFiles(dirs), subject.command, subject.named);
  const kind = command.entry?.endsWith('.service') || command.dbusService ? 'service' : 'entry';
  const what = kind === 'entry' ? 'desktop entry' : 'D-Bus service';
  const candidates = all.filter((f) => f.kind === kind && (command.entry === null || f.id === command.entry));
  if (candidates.length === 0) {
    const others = all.filter((f) => f.kind !== kind).map((f) => f.id);
    const hint = others.length
      ? ` (it has ${others.join(', ')}: ${kind === 'entry' ? 'add --dbus-service' : 'drop --dbus-service'})`
      : '';
    const named = command.entry === null ? '' : ` named ${command.entry}`;
    throw new LaunchError(
      EXIT.unknownProfile,
      `no ${what}${named} starts ${subject.command} in ${dirs.join(':')}${hint}`,
    );
  }
  if (candidates.length > 1)
    throw new LaunchError(
      EXIT.usage,
      `${candidates.length} ${what} files start ${subject.command} (${candidates.map((f) => f.id).join(', ')}): choose one with --entry FILE`,
    );
  const file = candidates[0]!;
  try {
    writeAll(1, rewrite({ ...file, source: file.path, profile: subject, launcher: LAUNCHER }));
  } catch (error) {
    if (error instanceof DesktopRefusal) throw refusal(profile.name, file, error);
    throw error;
  }
  return 0;
}

/**
 * A D-Bus activatable entry's bus name (its file ID without .desktop) can be
 * activated by anyone on the session bus (gapplication, a file manager, a
 * portal): when that name's .service runs something we do not rewrite, the
 * application would start without the launcher. Such an entry is refused.
 */
function unwrappedServices(profile: string, own: AppFile[], files: AppFile[]): string[] {
  const problems: string[] = [];
  for (const entry of own) {
    if (entry.kind !== 'entry' || !/^DBusActivatable[ \t]*=[ \t]*true[ \t]*$/m.test(entry.text)) continue;
    const id = entry.id.replace(/\.desktop$/, '.service');
    const service = files.find((f) => f.kind === 'service' && f.id === id);
    if (service && !own.includes(service))
      problems.push(
        `${profile}: ${entry.id} is D-Bus activatable and its service ${service.source} does not run the profile's command: name ${id} in the profile's desktop_files, or nothing would stop D-Bus starting it without the launcher`,
      );
  }
  return problems;
}

function refusal(profile: string, file: AppFile, error: DesktopRefusal): LaunchError {
  return new LaunchError(EXIT.config, `${profile}: cannot route ${file.source} through the launcher: ${error.message}`);
}

async function installFiles(command: DesktopCommand): Promise<number> {
  const scope = scopeOf(command);
  const layers = layersFor(command, scope);
  const listeners = await loadListeners(layers);
  const names = command.all ? [...listProfiles(layers).profiles.keys()].sort() : command.profiles;
  const files = appFiles(systemDataDirs(process.env));
  const dataHome = userDataHome(process.env);
  const placed: Placed[] = [];
  const problems: string[] = [];
  const notes: string[] = [];
  const warnings: string[] = [];
  for (const name of names) {
    let profile: ResolvedProfile;
    try {
      profile = await resolveProfile(layers, listeners, name);
    } catch (error) {
      if (!(error instanceof ConfigError) || !command.all) throw error;
      problems.push(`${name}: ${error.message}`);
      continue;
    }
    const subject = rewriteProfile(profile);
    const own = subject === null ? [] : filesOf(files, subject.command, subject.named);
    if (subject !== null)
      for (const f of suspectsOf(files, subject.command, subject.named))
        warnings.push(
          `warning: ${name}: ${f.path} names ${subject.command} in an Exec line without running it as its program, so it may start it without the launcher: check it, and change or remove it if it does`,
        );
    if (subject === null || own.length === 0) {
      const why = subject === null ? 'names no command' : `no desktop entry or D-Bus service starts ${subject.command}`;
      // Named on the command line, a profile without files is a mistake to report; under --all it is only news.
      if (command.all) notes.push(`${name}: ${why}\n`);
      else problems.push(`${name}: ${why}`);
      continue;
    }
    problems.push(...unwrappedServices(name, own, files));
    for (const file of own) {
      try {
        // The header names where the application's file belongs (FILE.path), not
        // where it is kept meanwhile: a second install must write the same bytes.
        const text = rewrite({ ...file, source: file.path, profile: subject, launcher: LAUNCHER });
        const item = { profile: name, file, target: targetOf(scope, file, dataHome), text };
        const problem = targetProblem(scope, item);
        if (problem === null) placed.push(item);
        else problems.push(`${name}: cannot write ${file.id}: ${problem}`);
      } catch (error) {
        if (!(error instanceof DesktopRefusal)) throw error;
        problems.push(refusal(name, file, error).message);
      }
    }
  }
  // Two profiles may not both claim one file: which one a menu ran would depend on the order.
  const claimed = new Map<string, string>();
  for (const item of placed) {
    const other = claimed.get(item.target);
    if (other !== undefined) problems.push(`${item.target} starts the command of both ${other} and ${item.profile}`);
    claimed.set(item.target, item.profile);
  }
  for (const warning of warnings) writeError(warning);
  if (problems.length) {
    for (const problem of problems) writeError(problem);
    throw new LaunchError(
      EXIT.config,
      `nothing was installed: ${problems.length} file${problems.length > 1 ? 's' : ''} or profile${problems.length > 1 ? 's' : ''} above cannot go through the launcher`,
    );
  }
  writeAll(1, notes.join('') + describe(install(scope, placed)));
  return 0;
}

function removeFiles(command: DesktopCommand): number {
  const scope = scopeOf(command);
  const outcomes = remove(scope, command.all ? 'all' : new Set(command.profiles), userDataHome(process.env));
  if (outcomes.length === 0)
    writeAll(1, `nothing of tails-launch's was installed ${scope === 'system' ? 'system-wide' : 'for this user'}\n`);
  else writeAll(1, describe(outcomes));
  return 0;
}

function describe(outcomes: Outcome[]): string {
  return outcomes.map((o) => `${o.profile}: ${o.status} ${o.target}\n`).join('');
}
