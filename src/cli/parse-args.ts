// The command line, parsed without side effects. Options come BEFORE the
// profile name: everything after it belongs to the application, so that
// `tails-launch curl --version` asks curl for its version.
import { EXIT } from '../errors/exit-codes';
import { LaunchError } from '../errors/launch-error';
import { netnsNameProblem } from '../placement/netns-setup-name';
import { IDENTITY_PATTERN, RESERVED_NAMES } from '../vocabulary/names';

export interface GlobalOptions {
  configDir?: string;
  identity: string | null;
  waitForTor?: number;
  /** Run this launch in a jail of its own (as the profile's `jail: true`). */
  jail?: boolean;
}

/** How doctor reaches Tor's control port; each overrides the configuration's `control` section. */
export interface ControlOptions {
  /** ADDRESS:PORT, [IPv6]:PORT or unix:/path. */
  address?: string;
  cookieFile?: string;
  /** A file holding the control password (never the password itself in argv). */
  passwordFile?: string;
}

export type Command =
  | { kind: 'run'; profile: string; args: string[]; options: GlobalOptions }
  | { kind: 'explain'; profile: string; args: string[]; json: boolean; options: GlobalOptions }
  /** names: one profile name per line (shell completion). */
  | { kind: 'list'; json: boolean; names: boolean; options: GlobalOptions }
  | { kind: 'validate'; files: string[]; options: GlobalOptions }
  /** Print the SocksPort lines of every listener, or check FILE (a torrc) against them. */
  | { kind: 'torrc'; check: string | null; options: GlobalOptions }
  /** Print PROFILE's onion-grater filter (its control_filter) as the file onion-grater reads. */
  | { kind: 'onion-grater'; profile: string; options: GlobalOptions }
  /** Check the live Tor against the profiles (all of them, or NAMES). */
  | { kind: 'doctor'; profiles: string[]; json: boolean; control: ControlOptions; options: GlobalOptions }
  /** Tor's live circuits grouped by what launched them (all, or those of PROFILES); --watch keeps the view current. */
  | {
      kind: 'circuits';
      profiles: string[];
      json: boolean;
      watch: boolean;
      control: ControlOptions;
      options: GlobalOptions;
    }
  /** Closes the circuits of PROFILE's group (--identity) and renews an app group's key. */
  | { kind: 'new-identity'; profile: string; json: boolean; control: ControlOptions; options: GlobalOptions }
  /** Make (setup) or remove (teardown) network namespace NAME of the listeners that declare it (root only). */
  | { kind: 'netns'; action: 'setup' | 'teardown'; name: string; options: GlobalOptions }
  /** Install (setup) or remove (teardown) the jails' host side: one nftables table and the pool's route (root only). */
  | { kind: 'jail'; action: 'setup' | 'teardown'; options: GlobalOptions }
  /**
   * The grants of the privileged entry, made from the system layers' profiles:
   * print the sudoers drop-in, write it to /etc/sudoers.d/tails-launch, or
   * check that the installed one is current (root for write).
   */
  | { kind: 'grants'; action: 'print' | 'write' | 'check'; options: GlobalOptions }
  /**
   * print: PROFILE's application's desktop entry (or D-Bus service) rewritten
   * to go through the launcher; install/remove: write or take back those
   * files for PROFILES (or all), system-wide or per user (src/desktop/).
   */
  | {
      kind: 'desktop';
      action: 'print' | 'install' | 'remove';
      profiles: string[];
      all: boolean;
      scope: 'system' | 'user' | null;
      entry: string | null;
      dbusService: boolean;
      options: GlobalOptions;
    }
  | { kind: 'help' }
  | { kind: 'version' };

const usage = (message: string) => new LaunchError(EXIT.usage, `${message} (see 'tails-launch --help')`);

/**
 * What has been parsed so far. Every option may be given once: a second
 * `--identity` silently winning (or losing) would put the application in an
 * isolation group the caller did not mean, so a repeat is a usage error.
 */
interface Parser {
  options: GlobalOptions;
  seen: Set<string>;
}

function once(parser: Parser, option: string): void {
  if (parser.seen.has(option)) throw usage(`option ${option} is given twice`);
  parser.seen.add(option);
}

/** `--name=value` -> [name, value]; anything else -> [word, undefined]. */
function splitInline(word: string): [string, string | undefined] {
  const eq = word.indexOf('=');
  return word.startsWith('--') && eq > 2 ? [word.slice(0, eq), word.slice(eq + 1)] : [word, undefined];
}

/**
 * Splits `--opt=value`, takes the value from the next word otherwise. For a
 * file or directory (FREE_FORM), a next word that looks like an option is not
 * taken as the value: `--config-dir --identity x pidgin` would otherwise read
 * a directory named "--identity" and launch with no identity. Such a value
 * can still be given as `--opt=-value`. The other options check their value
 * against a pattern that says more than "needs a value" (`--wait-for-tor -1`).
 * An empty value is never meaningful here.
 */
function takeValue(
  words: string[],
  index: number,
  option: string,
  inline: string | undefined,
  freeForm = true,
): [string, number] {
  if (inline !== undefined) {
    if (inline === '') throw usage(`option ${option} needs a value, not an empty one`);
    return [inline, index];
  }
  const value = words[index + 1];
  if (value === undefined) throw usage(`option ${option} needs a value`);
  if (freeForm && value.length > 1 && value.startsWith('-')) {
    throw usage(
      `option ${option} needs a value, not the option-like '${value}' (write ${option}=VALUE for a value that starts with '-')`,
    );
  }
  if (value === '') throw usage(`option ${option} needs a value, not an empty one`);
  return [value, index + 1];
}

/** Tries WORDS[i] as a global option; returns the index of its last word, or -1. */
function globalOption(words: string[], i: number, parser: Parser): number {
  const [name, inline] = splitInline(words[i]!);
  const { options } = parser;
  switch (name) {
    case '--config-dir': {
      once(parser, name);
      const [value, last] = takeValue(words, i, name, inline);
      options.configDir = value;
      return last;
    }
    case '--identity': {
      once(parser, name);
      const [value, last] = takeValue(words, i, name, inline, false);
      if (!IDENTITY_PATTERN.test(value)) {
        throw usage(
          `--identity '${value}' is not valid: 1-64 letters, digits, '.', '_', '@', '+' or '-', starting with a letter or digit`,
        );
      }
      options.identity = value;
      return last;
    }
    case '--jail': {
      once(parser, name);
      if (inline !== undefined) throw usage('--jail takes no value');
      options.jail = true;
      return i;
    }
    case '--wait-for-tor': {
      once(parser, name);
      const [value, last] = takeValue(words, i, name, inline, false);
      if (!/^\d{1,3}$/.test(value) || Number(value) > 600)
        throw usage(`--wait-for-tor takes whole seconds from 0 to 600, not '${value}'`);
      options.waitForTor = Number(value);
      return last;
    }
    default:
      return -1;
  }
}

/** A word in the place of an option that is none we know (a lone '-' is not an option word either). */
function unknownOption(word: string, kind?: string): LaunchError {
  const where = kind ? ` for '${kind}'` : '';
  return usage(`unknown option '${word}'${where}`);
}

/**
 * A word where a profile name must be. An empty one is a usage error (64),
 * not an unknown profile (66): no profile can have that name, and `tails-launch
 * ""` is usually an unset shell variable. Other names that cannot exist stay
 * "unknown profile", found when no file of that name is there.
 */
function profileName(word: string, command?: 'run' | 'explain' | 'onion-grater' | 'new-identity'): string {
  if (word === '')
    throw usage(
      command
        ? `'${command}' was given an empty profile name`
        : 'the profile name is empty: tails-launch PROFILE [--] [ARGS...]',
    );
  return word;
}

/** After a profile name: an optional `--`, then the application's arguments. */
function appArgs(rest: string[]): string[] {
  return rest[0] === '--' ? rest.slice(1) : rest;
}

export function parseArgs(words: string[]): Command {
  const parser: Parser = { options: { identity: null }, seen: new Set() };
  // `run` may stand before the profile name once; options are read on both sides of it.
  let afterRun = false;
  let i = 0;
  for (; i < words.length; i++) {
    const word = words[i]!;
    if (word === '--help' || word === '-h') return { kind: 'help' };
    if (word === '--version' || word === '-V') return { kind: 'version' };
    if (word === '--') {
      throw usage(`'--' must follow a profile name, as in 'tails-launch ${afterRun ? 'run ' : ''}default -- COMMAND'`);
    }
    const last = globalOption(words, i, parser);
    if (last >= 0) {
      i = last;
      continue;
    }
    if (word.startsWith('-') && word !== '-') throw unknownOption(word);
    if (word === 'run' && !afterRun) {
      afterRun = true;
      continue;
    }
    break;
  }
  const { options } = parser;
  const first = words[i];
  if (first === undefined) {
    if (afterRun)
      throw usage("'run' needs a profile name: tails-launch [OPTIONS] run [OPTIONS] PROFILE [--] [ARGS...]");
    throw usage('no profile given: tails-launch PROFILE [--] [ARGS...]');
  }
  const rest = words.slice(i + 1);

  if (afterRun) {
    // `run explain x` is a command where a profile name must be: no profile may be called that.
    if (RESERVED_NAMES.has(first))
      throw usage(`'run' needs a profile name, and '${first}' is a command, not a profile`);
    return { kind: 'run', profile: profileName(first, 'run'), args: appArgs(rest), options };
  }
  switch (first) {
    case 'explain':
    case 'list':
    case 'validate':
    case 'torrc':
    case 'doctor':
    case 'onion-grater':
    case 'circuits':
    case 'new-identity':
      return parseInspection(first, rest, parser);
    case 'netns':
      return parseNetns(rest, parser);
    case 'jail':
      return parseJail(rest, parser);
    case 'grants':
      return parseGrants(rest, parser);
    case 'desktop':
      return parseDesktop(rest, parser);
    default:
      if (RESERVED_NAMES.has(first)) throw usage(`'${first}' is not available in this version of tails-launch`);
      return { kind: 'run', profile: profileName(first), args: appArgs(rest), options };
  }
}

type InspectionKind =
  'explain' | 'list' | 'validate' | 'torrc' | 'doctor' | 'onion-grater' | 'circuits' | 'new-identity';

/** The commands that talk to Tor's control port take doctor's --control options. */
const TALKS_TO_CONTROL: ReadonlySet<InspectionKind> = new Set(['doctor', 'circuits', 'new-identity']);

/** explain/list/validate/torrc/doctor/circuits/new-identity start nothing, so their options may come anywhere (before `--`). */
/** What an inspection command's words said: its flags, the control options, the names and the words after `--`. */
interface InspectionWords {
  json: boolean;
  names: boolean;
  watch: boolean;
  check: string | null;
  control: ControlOptions;
  positional: string[];
  app: string[];
}

/** The control-port options, for the commands that talk to Tor's control port; the index of the value's word, or -1. */
function controlOption(
  kind: InspectionKind,
  words: string[],
  i: number,
  control: ControlOptions,
  parser: Parser,
): number {
  const [name, inline] = splitInline(words[i]!);
  if (!TALKS_TO_CONTROL.has(kind)) return -1;
  if (name !== '--control' && name !== '--control-cookie' && name !== '--control-password-file') return -1;
  once(parser, name);
  const [value, last] = takeValue(words, i, name, inline);
  if (name === '--control') control.address = value;
  else if (name === '--control-cookie') control.cookieFile = value;
  else control.passwordFile = value;
  return last;
}

/** Reads WORDS for KIND: null when they ask for help (nothing runs). */
function readInspectionWords(kind: InspectionKind, words: string[], parser: Parser): InspectionWords | null {
  const read: InspectionWords = {
    json: false,
    names: false,
    watch: false,
    check: null,
    control: {},
    positional: [],
    app: [],
  };
  const flags: Record<string, { allowed: boolean; set: () => void }> = {
    '--json': {
      allowed: kind !== 'validate' && kind !== 'torrc' && kind !== 'onion-grater',
      set: () => (read.json = true),
    },
    '--watch': { allowed: kind === 'circuits', set: () => (read.watch = true) },
    '--names': { allowed: kind === 'list', set: () => (read.names = true) },
  };
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    if (word === '--') {
      read.app = words.slice(i + 1);
      break;
    }
    // Help is what someone who typed `explain -h` wants; nothing runs.
    if (word === '--help' || word === '-h') return null;
    const flag = flags[word];
    if (flag?.allowed) {
      once(parser, word);
      flag.set();
      continue;
    }
    const [name, inline] = splitInline(word);
    if (kind === 'torrc' && name === '--check') {
      once(parser, name);
      [read.check, i] = takeValue(words, i, name, inline);
      continue;
    }
    let last = controlOption(kind, words, i, read.control, parser);
    if (last < 0) last = globalOption(words, i, parser);
    if (last >= 0) {
      i = last;
      continue;
    }
    if (word.startsWith('-') && word !== '-') throw unknownOption(word, kind);
    read.positional.push(word);
  }
  return read;
}

/** What only a launch takes means nothing to circuits and new-identity: said, not silently ignored. */
function refuseLaunchOptions(kind: 'circuits' | 'new-identity', options: GlobalOptions): void {
  const launchOnly = [
    kind === 'circuits' && options.identity !== null && '--identity',
    options.jail && '--jail',
    options.waitForTor !== undefined && '--wait-for-tor',
  ].find((o): o is string => typeof o === 'string');
  if (launchOnly !== undefined) throw usage(`'${kind}' takes no ${launchOnly}`);
}

/** explain/list/validate/torrc/doctor/circuits/new-identity start nothing, so their options may come anywhere (before `--`). */
function parseInspection(kind: InspectionKind, words: string[], parser: Parser): Command {
  const { options } = parser;
  const read = readInspectionWords(kind, words, parser);
  if (read === null) return { kind: 'help' };
  const { json, names, watch, check, control, positional, app } = read;
  const named = [...positional, ...app];
  switch (kind) {
    case 'validate':
      // An empty file name is a slip (an unset variable), not a file that is missing.
      if (named.includes('')) throw usage("'validate' was given an empty file name");
      return { kind, files: named, options };
    case 'torrc':
      if (named.length) throw usage("'torrc' takes no arguments besides --check FILE");
      return { kind, check, options };
    case 'doctor':
      if (named.includes('')) throw usage("'doctor' was given an empty profile name");
      return { kind, profiles: named, json, control, options };
    case 'circuits':
      refuseLaunchOptions(kind, options);
      if (named.includes('')) throw usage("'circuits' was given an empty profile name");
      return { kind, profiles: named, json, watch, control, options };
    case 'new-identity':
      refuseLaunchOptions(kind, options);
      if (named.length !== 1)
        throw usage("'new-identity' takes one profile name: tails-launch new-identity PROFILE [--identity NAME]");
      return { kind, profile: profileName(named[0]!, 'new-identity'), json, control, options };
    case 'onion-grater':
      if (named.length !== 1) throw usage("'onion-grater' takes one profile name: tails-launch onion-grater PROFILE");
      return { kind, profile: profileName(named[0]!, 'onion-grater'), options };
    case 'list':
      if (named.length) throw usage("'list' takes no arguments");
      if (json && names) throw usage("'list' takes --json or --names, not both");
      return { kind, json, names, options };
    case 'explain': {
      const [profile, ...args] = positional;
      if (profile === undefined)
        throw usage(
          `'explain' needs a profile name${app.length ? ' before --' : ''}: tails-launch explain PROFILE [--json] [-- ARGS...]`,
        );
      return { kind, profile: profileName(profile, 'explain'), args: [...args, ...app], json, options };
    }
  }
}

const NETNS_USAGE = 'tails-launch [--config-dir DIR] netns setup|teardown NAME';
const JAIL_USAGE = 'tails-launch [--config-dir DIR] jail setup|teardown';

/**
 * `COMMAND setup|teardown [ARGS]` (netns, jail): the global options may come
 * anywhere (nothing runs as an application). Returns the action and the rest.
 */
function parseSetupCommand(
  command: 'netns' | 'jail',
  commandUsage: string,
  words: string[],
  parser: Parser,
): { action: 'setup' | 'teardown'; rest: string[] } | { help: true } {
  const positional: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    if (word === '--help' || word === '-h') return { help: true };
    const last = globalOption(words, i, parser);
    if (last >= 0) {
      i = last;
      continue;
    }
    if (word.startsWith('-') && word !== '-') throw unknownOption(word, command);
    positional.push(word);
  }
  const [action, ...rest] = positional;
  if (action !== 'setup' && action !== 'teardown') {
    throw usage(
      action === undefined
        ? `'${command}' needs an action: ${commandUsage}`
        : `'${command}' knows 'setup' and 'teardown', not '${action}': ${commandUsage}`,
    );
  }
  return { action, rest };
}

/** `netns setup NAME`, `netns teardown NAME`. */
function parseNetns(words: string[], parser: Parser): Command {
  const parsed = parseSetupCommand('netns', NETNS_USAGE, words, parser);
  if ('help' in parsed) return { kind: 'help' };
  const { action, rest } = parsed;
  const [name, ...extra] = rest;
  if (name === undefined) throw usage(`'netns ${action}' needs a namespace name: ${NETNS_USAGE}`);
  if (extra.length) throw usage(`'netns ${action}' takes one namespace name: ${NETNS_USAGE}`);
  // NAME becomes /run/netns/NAME and part of an interface name: refused here, before anything reads it.
  const problem = netnsNameProblem(name);
  if (problem !== null) throw usage(`netns ${action}: ${problem}`);
  return { kind: 'netns', action, name, options: parser.options };
}

/** `jail setup`, `jail teardown`: one host side for every jail, nothing to name. */
function parseJail(words: string[], parser: Parser): Command {
  const parsed = parseSetupCommand('jail', JAIL_USAGE, words, parser);
  if ('help' in parsed) return { kind: 'help' };
  if (parsed.rest.length) throw usage(`'jail ${parsed.action}' takes no arguments: ${JAIL_USAGE}`);
  return { kind: 'jail', action: parsed.action, options: parser.options };
}

const GRANTS_USAGE = 'tails-launch [--config-dir DIR] grants [--write | --check]';

/** `grants`, `grants --write`, `grants --check`. */
function parseGrants(words: string[], parser: Parser): Command {
  let action: 'print' | 'write' | 'check' = 'print';
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    if (word === '--help' || word === '-h') return { kind: 'help' };
    const [name, inline] = splitInline(word);
    if (name === '--write' || name === '--check') {
      once(parser, '--write/--check');
      if (inline !== undefined) throw usage(`${name} takes no value`);
      action = name === '--write' ? 'write' : 'check';
      continue;
    }
    const last = globalOption(words, i, parser);
    if (last >= 0) {
      i = last;
      continue;
    }
    if (word.startsWith('-') && word !== '-') throw unknownOption(word, 'grants');
    throw usage(`'grants' takes no arguments: ${GRANTS_USAGE}`);
  }
  return { kind: 'grants', action, options: parser.options };
}

const DESKTOP_USAGE =
  'tails-launch desktop PROFILE [--entry FILE] [--dbus-service] | desktop --install|--remove [--user|--system] (--all | PROFILE...)';

/** `desktop PROFILE`, `desktop --install ...`, `desktop --remove ...`: nothing runs as an application, options anywhere. */
function parseDesktop(words: string[], parser: Parser): Command {
  let action: 'print' | 'install' | 'remove' = 'print';
  let all = false;
  let scope: 'system' | 'user' | null = null;
  let entry: string | null = null;
  let dbusService = false;
  const profiles: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    if (word === '--help' || word === '-h') return { kind: 'help' };
    const [name, inline] = splitInline(word);
    switch (name) {
      case '--install':
      case '--remove':
        once(parser, '--install/--remove');
        if (inline !== undefined) throw usage(`${name} takes no value`);
        action = name === '--install' ? 'install' : 'remove';
        continue;
      case '--all':
      case '--dbus-service':
        once(parser, name);
        if (inline !== undefined) throw usage(`${name} takes no value`);
        if (name === '--all') all = true;
        else dbusService = true;
        continue;
      case '--user':
      case '--system':
        once(parser, '--user/--system');
        if (inline !== undefined) throw usage(`${name} takes no value`);
        scope = name === '--user' ? 'user' : 'system';
        continue;
      case '--entry': {
        once(parser, name);
        const [value, last] = takeValue(words, i, name, inline);
        if (!/^[A-Za-z0-9][A-Za-z0-9._+@-]*\.(desktop|service)$/.test(value))
          throw usage(
            `--entry takes a desktop file ID or a D-Bus service file name (org.gnome.Totem.desktop), not '${value}'`,
          );
        entry = value;
        i = last;
        continue;
      }
    }
    const last = globalOption(words, i, parser);
    if (last >= 0) {
      i = last;
      continue;
    }
    if (word.startsWith('-') && word !== '-') throw unknownOption(word, 'desktop');
    if (word === '') throw usage("'desktop' was given an empty profile name");
    profiles.push(word);
  }
  if (action === 'print') {
    if (all || scope !== null)
      throw usage(`--all, --user and --system go with --install or --remove: ${DESKTOP_USAGE}`);
    if (profiles.length !== 1) throw usage(`'desktop' prints the files of one profile: ${DESKTOP_USAGE}`);
  } else {
    if (entry !== null || dbusService)
      throw usage(`--entry and --dbus-service choose what 'desktop PROFILE' prints: ${DESKTOP_USAGE}`);
    if (all === profiles.length > 0)
      throw usage(`'desktop --${action}' takes profile names or --all (one of the two): ${DESKTOP_USAGE}`);
  }
  return { kind: 'desktop', action, profiles, all, scope, entry, dbusService, options: parser.options };
}
