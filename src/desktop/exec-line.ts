// The Exec= value of a desktop entry and of a D-Bus .service file, split
// into arguments and written back. Strict on purpose: the rewrite moves the
// application's arguments behind `tails-launch PROFILE --`, and that is only
// safe when we read them exactly as the desktop (GLib, KDE, dbus-daemon)
// does. Anything where readers may disagree (single quotes, a backslash
// outside quotes, a field code inside quotes, `a"b"c`) is refused, not
// guessed: the entry is then not rewritten at all.
import { decodeString, encodeString, KeyFileError } from './key-file';

export class ExecError extends Error {}

/** Field codes the spec defines; %d %D %n %N %v %m are deprecated (launchers drop them) and kept as they are. */
const FIELD_CODES = new Set(['f', 'F', 'u', 'U', 'i', 'c', 'k', '%', 'd', 'D', 'n', 'N', 'v', 'm']);

/** Characters that need no quoting, in a desktop entry and for dbus-daemon alike. */
const PLAIN = /^[A-Za-z0-9_@%+=:,./-]+$/;

/**
 * The arguments of a desktop entry's Exec value (raw, as in the file). Each
 * argument keeps its %-sequences as written (`%U`, `%%`): they are the
 * launcher's to expand, never ours.
 */
export function parseDesktopExec(rawValue: string): string[] {
  let text: string;
  try {
    text = decodeString(rawValue);
  } catch (error) {
    throw new ExecError((error as KeyFileError).message);
  }
  const args: string[] = [];
  let i = 0;
  while (i < text.length) {
    if (text[i] === ' ') {
      i++;
      continue;
    }
    if (text[i] === '"') {
      let arg = '';
      i++;
      for (;;) {
        if (i >= text.length) throw new ExecError('a quoted argument is not closed');
        const c = text[i]!;
        if (c === '"') break;
        if (c === '\\') {
          const next = text[i + 1];
          if (next === undefined || !'"`$\\'.includes(next))
            throw new ExecError(`'\\${next ?? ''}' inside quotes: only \\", \\\`, \\$ and \\\\ are defined`);
          arg += next;
          i += 2;
          continue;
        }
        // The spec leaves a field code inside quotes undefined.
        if (c === '%') throw new ExecError('a % inside a quoted argument (a field code there is undefined)');
        arg += c;
        i++;
      }
      i++;
      if (i < text.length && text[i] !== ' ') throw new ExecError('a quoted argument runs into other text');
      args.push(arg);
      continue;
    }
    let arg = '';
    while (i < text.length && text[i] !== ' ') {
      const c = text[i]!;
      if (c === '%') {
        const code = text[i + 1];
        if (code === undefined || !FIELD_CODES.has(code)) throw new ExecError(`unknown field code '%${code ?? ''}'`);
        arg += c + code;
        i += 2;
        continue;
      }
      if (!/[A-Za-z0-9_@+=:,./\-\x80-\uffff]/.test(c))
        throw new ExecError(`'${c === '\t' ? '\\t' : c === '\n' ? '\\n' : c}' outside quotes (the spec reserves it)`);
      arg += c;
      i++;
    }
    args.push(arg);
  }
  if (args.length === 0) throw new ExecError('Exec is empty');
  if (args[0]!.includes('%')) throw new ExecError('the program is a field code');
  return args;
}

/** One argument as a desktop entry writes it (before the string escapes). */
function quoteDesktopArg(arg: string): string {
  if (PLAIN.test(arg)) return arg;
  if (arg.includes('%')) throw new ExecError(`argument '${arg}' would need quotes, and a % cannot be quoted`);
  return `"${arg.replace(/["`$\\]/g, '\\$&')}"`;
}

/** The Exec value (raw, for the file) for ARGS as parseDesktopExec returns them. */
export function formatDesktopExec(args: string[]): string {
  return encodeString(args.map(quoteDesktopArg).join(' '));
}

/** A literal word (a path, a profile name) as an argument of a desktop Exec: a % there is written %%. */
export function literalDesktopArg(word: string): string {
  return word.replace(/%/g, '%%');
}

/**
 * dbus-daemon's Exec: split as a shell would. Only plain words are taken
 * (no quotes, backslashes or other shell syntax): D-Bus service lines are
 * simple, and a word we might read differently from dbus-daemon is refused.
 */
export function parseServiceExec(value: string): string[] {
  const args = value.split(/[ \t]+/).filter((w) => w !== '');
  if (args.length === 0) throw new ExecError('Exec is empty');
  for (const arg of args)
    if (!PLAIN.test(arg))
      throw new ExecError(`'${arg}' is not a plain word (quotes and shell syntax are not rewritten)`);
  return args;
}

export function formatServiceExec(args: string[]): string {
  for (const arg of args)
    if (!PLAIN.test(arg)) throw new ExecError(`'${arg}' is not a plain word, which a D-Bus Exec line needs here`);
  return args.join(' ');
}
