// A desktop entry or a D-Bus .service file, rewritten so that every way it
// starts the application goes through `tails-launch PROFILE --`. Pure: text
// in, text out (or a refusal that says why). src/desktop/install.ts decides
// where the text goes.
import type { CallerArgs } from '../profile/schema';
import {
  ExecError,
  formatDesktopExec,
  formatServiceExec,
  literalDesktopArg,
  parseDesktopExec,
  parseServiceExec,
} from './exec-line';
import {
  findGroup,
  getValue,
  glibBoolean,
  type Group,
  type KeyFile,
  KeyFileError,
  type KeyLine,
  parseKeyFile,
  removeKey,
  serializeKeyFile,
  setValue,
} from './key-file';
import { headerLines } from './marker';
import type { ProgramMatcher } from './program';

export type FileKind = 'entry' | 'service';

export interface RewriteProfile {
  name: string;
  /** The profile's command: what the file must run (absolute, or a name looked up on PATH). */
  command: string;
  callerArgs: CallerArgs;
  /**
   * Files the profile names in desktop_files: their program is replaced by
   * the launcher whatever it is (a wrapper script of the same program, as
   * system-config-printer's /usr/bin/scp-dbus-service).
   */
  named: readonly string[];
  /** Whether an Exec program runs the command (src/desktop/program.ts: by name or by file); by name alone when absent. */
  matches?: ProgramMatcher;
  /** The profile's group can be given a new circuit (`new-identity`: isolation app or launch): the entry gets an action for it. */
  newCircuit?: boolean;
}

/** The desktop action that runs `tails-launch new-identity PROFILE` (an action identifier: letters, digits and '-'). */
export const NEW_CIRCUIT_ACTION = 'tails-launch-new-circuit';

export interface RewriteInput {
  kind: FileKind;
  /** The desktop file ID (org.gnome.Totem.desktop) or service file name (org.gnome.Totem.service). */
  id: string;
  /** Where the text comes from (the header names it). */
  source: string;
  text: string;
  profile: RewriteProfile;
  /** The launcher the Exec lines call (absolute). */
  launcher: string;
}

/** Why a file cannot go through the launcher: nothing is written for it. */
export class DesktopRefusal extends Error {}

const basename = (path: string) => path.slice(path.lastIndexOf('/') + 1);

/**
 * Whether PROGRAM (an Exec line's first word) runs COMMAND: the same path,
 * or a bare name that a PATH lookup would take to it (by name: Tails puts
 * wrappers of the same name in /usr/local/bin, and the profile names the
 * real program).
 */
export function runsCommand(program: string, command: string): boolean {
  if (program === command) return true;
  if (!program.includes('/')) return program === basename(command);
  if (!command.includes('/')) return basename(program) === command;
  return false;
}

/** The Exec program of TEXT's main group, or null (not a file we read, no Exec). Used to find a profile's files. */
export function execProgram(kind: FileKind, text: string): string | null {
  try {
    const group = findGroup(parseKeyFile(text), kind === 'entry' ? 'Desktop Entry' : 'D-BUS Service');
    const exec = group && getValue(group, 'Exec');
    if (exec === undefined) return null;
    return (kind === 'entry' ? parseDesktopExec(exec) : parseServiceExec(exec))[0]!;
  } catch {
    return null;
  }
}

/**
 * Whether an entry is D-Bus activatable: its DBusActivatable read as GLib
 * reads a boolean (glibBoolean: `true` and `1`). A value GLib would reject
 * (`yes`) counts as activatable too: KDE reads `yes` and `on` as true, and
 * the check this answers is a safety one. A file we cannot read counts too.
 */
export function isDBusActivatable(text: string): boolean {
  try {
    const main = findGroup(parseKeyFile(text), 'Desktop Entry');
    const value = main && getValue(main, 'DBusActivatable');
    return value !== undefined && glibBoolean(value) !== false;
  } catch {
    return true;
  }
}

/**
 * What a file makes the desktop run, as one comparable string; null when it
 * is not a file we read. Entries: the type, the Exec of the entry and of each
 * action (split as the desktop splits them), whether D-Bus activation is on;
 * services: the bus name, Exec, User and SystemdService. Comments (our
 * marker too), translations and every other key are left out: a file is
 * judged by what it runs, never by what it says about itself.
 */
export function whatItRuns(kind: FileKind, text: string): string | null {
  try {
    const file = parseKeyFile(text);
    const value = (group: Group, key: string) => getValue(group, key) ?? null;
    if (kind === 'service') {
      const main = findGroup(file, 'D-BUS Service');
      if (!main) return null;
      const exec = value(main, 'Exec');
      const keys = ['Name', 'User', 'SystemdService'].map((key) => value(main, key));
      return JSON.stringify([exec === null ? null : parseServiceExec(exec), ...keys]);
    }
    const main = findGroup(file, 'Desktop Entry');
    if (!main) return null;
    const exec = (group: Group) => {
      const line = value(group, 'Exec');
      return line === null ? null : parseDesktopExec(line);
    };
    const activatable = value(main, 'DBusActivatable');
    const actions = file.groups.filter((g) => g.name.startsWith('Desktop Action ')).map((g) => [g.name, exec(g)]);
    const dbus = activatable === null ? false : (glibBoolean(activatable) ?? activatable);
    return JSON.stringify([value(main, 'Type'), exec(main), dbus, actions]);
  } catch {
    return null;
  }
}

/** The arguments after the program, checked against what the profile lets a caller add. */
function callerPart(args: string[], input: RewriteInput, where: string): string[] {
  const { profile } = input;
  const program = args[0]!;
  // A file of ours whose original is gone (the application removed): wrapping it again would run the launcher twice.
  if (runsCommand(program, input.launcher))
    throw new DesktopRefusal(`${where} runs the launcher already (the application's own file is gone?)`);
  const runs = profile.matches ?? ((p: string) => runsCommand(p, profile.command));
  if (!profile.named.includes(input.id) && !runs(program))
    throw new DesktopRefusal(`${where} runs ${program}, not ${profile.command}`);
  const rest = args.slice(1);
  if (profile.callerArgs === 'none' && rest.length)
    throw new DesktopRefusal(`${where} passes arguments (${rest.join(' ')}), and profile ${profile.name} takes none`);
  if (profile.callerArgs === 'non-options') {
    const option = rest.find((a) => a.startsWith('-'));
    if (option !== undefined)
      throw new DesktopRefusal(`${where} passes the option ${option}, and profile ${profile.name} takes no options`);
  }
  return rest;
}

function rewriteEntry(input: RewriteInput): string {
  const file = parseKeyFile(input.text);
  const main = findGroup(file, 'Desktop Entry');
  if (!main) throw new DesktopRefusal('it has no [Desktop Entry] group');
  const type = getValue(main, 'Type');
  if (type !== 'Application') throw new DesktopRefusal(`it is of Type ${type ?? '(none)'}, not Application`);
  const launcher = literalDesktopArg(input.launcher);
  const rewriteExec = (group: Group, where: string) => {
    const exec = getValue(group, 'Exec');
    // Without Exec, only D-Bus activation starts it: nothing the launcher can stand in front of.
    if (exec === undefined) throw new DesktopRefusal(`${where} has no Exec (it is started over D-Bus only)`);
    const rest = callerPart(parseDesktopExec(exec), input, where);
    setValue(group, 'Exec', formatDesktopExec([launcher, input.profile.name, '--', ...rest]));
  };
  rewriteExec(main, 'Exec');
  for (const group of file.groups)
    if (group.name.startsWith('Desktop Action ')) rewriteExec(group, `action '${group.name.slice(15)}'`);
  if (input.profile.newCircuit) addNewCircuitAction(file, main, input);
  // The entry shows only where the application itself is installed (TryExec
  // names the real program; the launcher is always there).
  if (getValue(main, 'TryExec') === undefined)
    setValue(main, 'TryExec', formatDesktopExec([literalDesktopArg(input.profile.command)]));
  // A D-Bus activatable entry is started by activating its bus name, whose
  // .service file runs the program: Exec would never be used.
  if (getValue(main, 'DBusActivatable') !== undefined) setValue(main, 'DBusActivatable', 'false');
  file.head.unshift(...headerLines(input.profile.name, input.source));
  return serializeKeyFile({ ...file, finalNewline: true });
}

/**
 * The action "New Tor circuit for NAME" (desktop entry spec: an identifier
 * in Actions=, a [Desktop Action ID] group with Name and Exec), which the
 * desktop offers beside the application: `tails-launch new-identity PROFILE`.
 */
function addNewCircuitAction(file: KeyFile, main: Group, input: RewriteInput): void {
  const groupName = `Desktop Action ${NEW_CIRCUIT_ACTION}`;
  if (findGroup(file, groupName)) throw new DesktopRefusal(`it has an action '${NEW_CIRCUIT_ACTION}' of its own`);
  const actions = (getValue(main, 'Actions') ?? '').split(';').filter((a) => a !== '');
  setValue(main, 'Actions', `${[...actions, NEW_CIRCUIT_ACTION].join(';')};`);
  // Name is a localestring: the application's own (escaped) text goes in as it is.
  const name = getValue(main, 'Name') ?? input.profile.name;
  const last = file.groups.at(-1)!;
  if (last.lines.at(-1)?.raw !== '') last.lines.push({ kind: 'other', raw: '' });
  const line = (key: string, value: string): KeyLine => ({
    kind: 'key',
    key,
    locale: null,
    value,
    raw: `${key}=${value}`,
  });
  file.groups.push({
    name: groupName,
    raw: `[${groupName}]`,
    lines: [
      line('Name', `New Tor circuit for ${name}`),
      line('Exec', formatDesktopExec([literalDesktopArg(input.launcher), 'new-identity', input.profile.name])),
    ],
  });
}

function rewriteService(input: RewriteInput): string {
  const file = parseKeyFile(input.text);
  const main = findGroup(file, 'D-BUS Service');
  if (!main) throw new DesktopRefusal('it has no [D-BUS Service] group');
  // User= is for the system bus (a service started as that user): not a session's application.
  if (getValue(main, 'User') !== undefined) throw new DesktopRefusal('it is a system bus service (User=)');
  const exec = getValue(main, 'Exec');
  if (exec === undefined) throw new DesktopRefusal('it has no Exec');
  const rest = callerPart(parseServiceExec(exec), input, 'Exec');
  setValue(main, 'Exec', formatServiceExec([input.launcher, input.profile.name, '--', ...rest]));
  // With SystemdService=, the bus asks systemd to start that unit, whose
  // ExecStart would run the program without the launcher.
  removeKey(main, 'SystemdService');
  file.head.unshift(...headerLines(input.profile.name, input.source));
  return serializeKeyFile({ ...file, finalNewline: true });
}

/** The rewritten text; DesktopRefusal (one line) when the file cannot go through the launcher. */
export function rewrite(input: RewriteInput): string {
  try {
    return input.kind === 'entry' ? rewriteEntry(input) : rewriteService(input);
  } catch (error) {
    if (error instanceof DesktopRefusal) throw error;
    if (error instanceof ExecError || error instanceof KeyFileError) throw new DesktopRefusal(error.message);
    throw error;
  }
}
