// The command line, parsed without side effects. Options come BEFORE the
// profile name: everything after it belongs to the application, so that
// `tails-launch curl --version` asks curl for its version.
import { EXIT } from './exit-codes';
import { LaunchError } from './launch-error';
import { IDENTITY_PATTERN, RESERVED_NAMES } from '../profile/names';

export interface GlobalOptions {
  configDir?: string;
  identity: string | null;
  waitForTor?: number;
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
  | { kind: 'list'; json: boolean; options: GlobalOptions }
  | { kind: 'validate'; files: string[]; options: GlobalOptions }
  /** Print the SocksPort lines of every listener, or check FILE (a torrc) against them. */
  | { kind: 'torrc'; check: string | null; options: GlobalOptions }
  /** Check the live Tor against the profiles (all of them, or NAMES). */
  | { kind: 'doctor'; profiles: string[]; json: boolean; control: ControlOptions; options: GlobalOptions }
  | { kind: 'help' }
  | { kind: 'version' };

const usage = (message: string) => new LaunchError(EXIT.usage, `${message} (see 'tails-launch --help')`);

/** Splits `--opt=value`, takes the value from the next word otherwise. */
function takeValue(words: string[], index: number, option: string, inline: string | undefined): [string, number] {
  if (inline !== undefined) return [inline, index];
  const value = words[index + 1];
  if (value === undefined) throw usage(`option ${option} needs a value`);
  return [value, index + 1];
}

/** Tries WORDS[i] as a global option; returns the index of its last word, or -1. */
function globalOption(words: string[], i: number, options: GlobalOptions): number {
  const word = words[i]!;
  const eq = word.indexOf('=');
  const [name, inline] = word.startsWith('--') && eq > 0 ? [word.slice(0, eq), word.slice(eq + 1)] : [word, undefined];
  switch (name) {
    case '--config-dir': {
      const [value, last] = takeValue(words, i, name, inline);
      if (value === '') throw usage('--config-dir needs a directory');
      options.configDir = value;
      return last;
    }
    case '--identity': {
      const [value, last] = takeValue(words, i, name, inline);
      if (!IDENTITY_PATTERN.test(value)) {
        throw usage(`--identity '${value}' is not valid: 1-64 letters, digits, '.', '_', '@', '+' or '-', starting with a letter or digit`);
      }
      options.identity = value;
      return last;
    }
    case '--wait-for-tor': {
      const [value, last] = takeValue(words, i, name, inline);
      if (!/^\d{1,3}$/.test(value) || Number(value) > 600) throw usage(`--wait-for-tor takes whole seconds from 0 to 600, not '${value}'`);
      options.waitForTor = Number(value);
      return last;
    }
    default:
      return -1;
  }
}

/** After a profile name: an optional `--`, then the application's arguments. */
function appArgs(rest: string[]): string[] {
  return rest[0] === '--' ? rest.slice(1) : rest;
}

export function parseArgs(words: string[]): Command {
  const options: GlobalOptions = { identity: null };
  let i = 0;
  for (; i < words.length; i++) {
    const word = words[i]!;
    if (word === '--help' || word === '-h') return { kind: 'help' };
    if (word === '--version' || word === '-V') return { kind: 'version' };
    if (word === '--') {
      throw usage("'--' must follow a profile name, as in 'tails-launch default -- COMMAND'");
    }
    const last = globalOption(words, i, options);
    if (last >= 0) {
      i = last;
      continue;
    }
    if (word.startsWith('-')) throw usage(`unknown option '${word}'`);
    break;
  }
  const first = words[i];
  if (first === undefined) throw usage('no profile given: tails-launch PROFILE [--] [ARGS...]');
  const rest = words.slice(i + 1);

  switch (first) {
    case 'run': {
      const profile = rest[0];
      if (profile === undefined || profile.startsWith('-')) throw usage("'run' needs a profile name: tails-launch run PROFILE [--] [ARGS...]");
      return { kind: 'run', profile, args: appArgs(rest.slice(1)), options };
    }
    case 'explain':
    case 'list':
    case 'validate':
    case 'torrc':
    case 'doctor':
      return parseInspection(first, rest, options);
    default:
      if (RESERVED_NAMES.has(first)) throw usage(`'${first}' is not available in this version of tails-launch`);
      return { kind: 'run', profile: first, args: appArgs(rest), options };
  }
}

/** explain/list/validate do nothing, so their options may come anywhere (before `--`). */
function parseInspection(kind: 'explain' | 'list' | 'validate' | 'torrc' | 'doctor', words: string[], options: GlobalOptions): Command {
  let json = false;
  let check: string | null = null;
  const control: ControlOptions = {};
  const positional: string[] = [];
  let app: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    if (word === '--') {
      app = words.slice(i + 1);
      break;
    }
    if (word === '--json' && kind !== 'validate' && kind !== 'torrc') {
      json = true;
      continue;
    }
    const eq = word.indexOf('=');
    const [name, inline] = word.startsWith('--') && eq > 0 ? [word.slice(0, eq), word.slice(eq + 1)] : [word, undefined];
    if (kind === 'torrc' && name === '--check') {
      [check, i] = takeValue(words, i, name, inline);
      continue;
    }
    if (kind === 'doctor' && (name === '--control' || name === '--control-cookie' || name === '--control-password-file')) {
      const [value, last] = takeValue(words, i, name, inline);
      if (name === '--control') control.address = value;
      else if (name === '--control-cookie') control.cookieFile = value;
      else control.passwordFile = value;
      i = last;
      continue;
    }
    const last = globalOption(words, i, options);
    if (last >= 0) {
      i = last;
      continue;
    }
    if (word.startsWith('-')) throw usage(`unknown option '${word}' for '${kind}'`);
    positional.push(word);
  }
  if (kind === 'validate') return { kind, files: [...positional, ...app], options };
  if (kind === 'torrc') {
    if (positional.length || app.length) throw usage("'torrc' takes no arguments besides --check FILE");
    return { kind, check, options };
  }
  if (kind === 'doctor') return { kind, profiles: [...positional, ...app], json, control, options };
  if (kind === 'list') {
    if (positional.length || app.length) throw usage("'list' takes no arguments");
    return { kind, json, options };
  }
  const [profile, ...args] = positional;
  if (profile === undefined) throw usage("'explain' needs a profile name: tails-launch explain PROFILE [--json] [-- ARGS...]");
  return { kind, profile, args: [...args, ...app], json, options };
}
