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
import {
  type AppFile,
  appFiles,
  type DataSource,
  filesOf,
  sessionSource,
  suspectsOf,
  systemSource,
  userDataHome,
} from '../../desktop/find';
import { install, type Outcome, type Placed, remove, type Scope, targetOf, targetProblem } from '../../desktop/install';
import { SYSTEM_PATH } from '../../desktop/program';
import { DesktopRefusal, isDBusActivatable, rewrite } from '../../desktop/rewrite';
import { LAUNCHER, rewriteProfile, type Subject } from '../../desktop/subject';
import { ConfigError } from '../../profile/config-error';
import { configLayers } from '../../profile/layers';
import { listProfiles, loadListeners } from '../../profile/load';
import { resolveProfile, type ResolvedProfile } from '../../profile/resolve';
import { FileReadError } from '../../files/safe-read';
import { writeAll, writeError } from '../output';
import type { Command } from '../parse-args';

type DesktopCommand = Extract<Command, { kind: 'desktop' }>;

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

/**
 * Where a scope reads applications' files, and the PATH their bare Exec
 * names are looked up on. System-wide: the system's own directories and
 * only what root alone can change (src/desktop/find.ts), names on a fixed
 * PATH; never the caller's XDG_DATA_DIRS or PATH. Per user: the session's.
 */
function sourceOf(scope: Scope | 'print'): { source: DataSource; pathVariable: string } {
  if (scope === 'system') return { source: systemSource(), pathVariable: SYSTEM_PATH };
  return { source: sessionSource(process.env), pathVariable: process.env.PATH ?? SYSTEM_PATH };
}

async function print(command: DesktopCommand): Promise<number> {
  const layers = configLayers(command.options.configDir, process.env);
  const profile = await resolveProfile(layers, await loadListeners(layers), command.profiles[0]!);
  const { source, pathVariable } = sourceOf('print');
  const subject = rewriteProfile(profile, pathVariable);
  if (subject === null)
    throw new LaunchError(
      EXIT.unknownProfile,
      `profile ${profile.name} names no command, so no application file calls it`,
    );
  const all = filesOf(appFiles(source), subject.matches, subject.named);
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
      `no ${what}${named} starts ${subject.command} in ${source.dirs.join(':')}${hint}`,
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
    if (entry.kind !== 'entry' || !isDBusActivatable(entry.text)) continue;
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

/** What --install works out before writing anything. */
interface Plan {
  scope: Scope;
  files: AppFile[];
  dataHome: string;
  placed: Placed[];
  problems: string[];
  notes: string[];
  warnings: string[];
}

/** PROFILE's files, rewritten, into PLAN (or why they cannot be). */
function planProfile(profile: ResolvedProfile, subject: Subject | null, all: boolean, plan: Plan): void {
  const { name } = profile;
  const { files } = plan;
  const own = subject === null ? [] : filesOf(files, subject.matches, subject.named);
  if (subject !== null)
    for (const f of suspectsOf(files, subject.matches, subject.named, LAUNCHER))
      plan.warnings.push(
        `warning: ${name}: ${f.path} names ${subject.command} in an Exec line without running it as its program, so it may start it without the launcher: check it, and change or remove it if it does`,
      );
  if (subject === null || own.length === 0) {
    const why = subject === null ? 'names no command' : `no desktop entry or D-Bus service starts ${subject.command}`;
    // Named on the command line, a profile without files is a mistake to report; under --all it is only news.
    if (all) plan.notes.push(`${name}: ${why}\n`);
    else plan.problems.push(`${name}: ${why}`);
    return;
  }
  plan.problems.push(...unwrappedServices(name, own, files));
  for (const file of own) {
    try {
      // The header names where the application's file belongs (FILE.path), not
      // where it is kept meanwhile: a second install must write the same bytes.
      const text = rewrite({ ...file, source: file.path, profile: subject, launcher: LAUNCHER });
      const item = { profile: name, file, target: targetOf(plan.scope, file, plan.dataHome), text };
      const problem = targetProblem(plan.scope, item);
      if (problem === null) plan.placed.push(item);
      else plan.problems.push(`${name}: cannot write ${file.id}: ${problem}`);
    } catch (error) {
      if (!(error instanceof DesktopRefusal)) throw error;
      plan.problems.push(refusal(name, file, error).message);
    }
  }
}

async function installFiles(command: DesktopCommand): Promise<number> {
  const scope = scopeOf(command);
  const layers = layersFor(command, scope);
  const listeners = await loadListeners(layers);
  const names = command.all ? [...listProfiles(layers).profiles.keys()].sort() : command.profiles;
  const { source, pathVariable } = sourceOf(scope);
  const plan: Plan = {
    scope,
    files: appFiles(source),
    dataHome: userDataHome(process.env),
    placed: [],
    problems: [],
    notes: [],
    warnings: [],
  };
  for (const name of names) {
    let profile: ResolvedProfile;
    try {
      profile = await resolveProfile(layers, listeners, name);
    } catch (error) {
      if (!(error instanceof ConfigError) || !command.all) throw error;
      plan.problems.push(`${name}: ${error.message}`);
      continue;
    }
    planProfile(profile, rewriteProfile(profile, pathVariable), command.all, plan);
  }
  const { placed, problems } = plan;
  // Two profiles may not both claim one file: which one a menu ran would depend on the order.
  const claimed = new Map<string, string>();
  for (const item of placed) {
    const other = claimed.get(item.target);
    if (other !== undefined) problems.push(`${item.target} starts the command of both ${other} and ${item.profile}`);
    claimed.set(item.target, item.profile);
  }
  for (const warning of plan.warnings) writeError(warning);
  if (problems.length) {
    for (const problem of problems) writeError(problem);
    throw new LaunchError(
      EXIT.config,
      `nothing was installed: ${problems.length} file${problems.length > 1 ? 's' : ''} or profile${problems.length > 1 ? 's' : ''} above cannot go through the launcher`,
    );
  }
  writeAll(1, plan.notes.join('') + describe(install(scope, placed)));
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
