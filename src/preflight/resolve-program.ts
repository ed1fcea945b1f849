// Which program will really run when PATH is executed with ARGV, followed
// the way the kernel and env(1) follow it, and judged for an LD_PRELOAD
// wrapper: the launcher then executes that final program itself, through
// the very descriptor it judged (or by a path only root can change), with
// the argv the kernel and env would have built. So:
//  - a `#!` chain is followed as binfmt_script does (interpreter, its one
//    optional argument, the script's path, the rest of argv);
//  - `#!/usr/bin/env NAME` and `#!/usr/bin/env -S WORDS` are followed as
//    env does, NAME looked up on the APPLICATION's PATH: a static NAME
//    earlier on PATH, or `-S /path/static`, is judged and refused, where
//    judging only /usr/bin/env let it run unwrapped;
//  - nothing is looked up again after it was judged: a symlink swapped
//    between inspection and exec cannot change what runs.
// Whatever env feature is not reproduced exactly (options, variables,
// quoting) is refused: fail closed.
import { closeSync, constants, fstatSync, openSync, type Stats } from 'node:fs';
import { basename } from 'node:path';
import { findExecutable } from './find-executable';
import { errorCode, inspectDescriptor, through, type RefusalReason } from './inspect-binary';
import type { ProgramLookup } from '../plan/types';

/** As the kernel (BINPRM_MAX_RECURSION): at most 4 levels of interpreters; env counts as one. */
const MAX_INTERPRETERS = 4;
/** A FIFO or device must not block the open; the descriptor must not become our controlling tty. */
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY;

export interface ResolvedProgram {
  ok: true;
  /** The ELF program that will run (the path it was opened by). */
  file: string;
  /** Its argv, as the kernel and env would have built it. */
  argv: string[];
  /** Every file followed: the program as named, its interpreters, the final program. */
  chain: string[];
  /** The final program, open (close-on-exec): what was judged is what runs. */
  fd: number;
  stats: Stats;
}

export interface ProgramRefusal {
  ok: false;
  reason: RefusalReason;
  /** The program as named by the profile or the user. */
  path: string;
  detail: string;
}

export type ProgramResolution = ResolvedProgram | ProgramRefusal;

/** Follows PATH (executed with ARGV) to the program that will run. The caller closes `fd` of a success. */
export function resolveProgram(path: string, argv: string[], lookup: ProgramLookup): ProgramResolution {
  const chain = [path];
  let file = path;
  let args = argv;
  for (;;) {
    const refuse = (reason: RefusalReason, detail: string): ProgramRefusal => ({
      ok: false,
      reason,
      path,
      detail: through(chain) + detail,
    });
    let fd: number;
    try {
      fd = openSync(file, OPEN_FLAGS);
    } catch (error) {
      const code = errorCode(error);
      return refuse(code === 'ENOENT' || code === 'ENOTDIR' ? 'not-found' : 'unreadable', `cannot be opened (${code})`);
    }
    let stats: Stats;
    try {
      stats = fstatSync(fd);
    } catch (error) {
      closeSync(fd);
      return refuse('unreadable', `cannot be read (${errorCode(error)})`);
    }
    const verdict = inspectDescriptor(fd, stats);
    if (verdict.kind === 'elf') return { ok: true, file, argv: args, chain, fd, stats };
    closeSync(fd);
    if (verdict.kind === 'refused') return refuse(verdict.reason, verdict.detail);
    if (chain.length > MAX_INTERPRETERS)
      return refuse('unknown-format', `has more than ${MAX_INTERPRETERS} levels of #! interpreters`);

    // binfmt_script: argv[0] is replaced by the script's path, and the
    // interpreter and its one optional argument go in front.
    const scriptArgs = [file, ...args.slice(1)];
    if (basename(verdict.interpreter) !== 'env') {
      file = verdict.interpreter;
      args = [verdict.interpreter, ...(verdict.argument === null ? [] : [verdict.argument]), ...scriptArgs];
      chain.push(file);
      continue;
    }
    // env itself only looks the command up and execs it: we do the same.
    const env = findExecutable(verdict.interpreter, undefined, null);
    if (env.status !== 'ok')
      return refuse(
        env.status === 'not-found' ? 'not-found' : 'unreadable',
        `needs ${verdict.interpreter}, which ${env.status === 'not-found' ? 'does not exist' : 'cannot be executed'}`,
      );
    const words = envWords(verdict.interpreter, verdict.argument);
    if (typeof words === 'string') return refuse('unknown-format', words);
    const [command, ...commandArgs] = words as [string, ...string[]];
    const found = findExecutable(command, lookup.pathVariable, lookup.cwd);
    chain.push(verdict.interpreter);
    if (found.status !== 'ok') {
      return {
        ok: false,
        reason: found.status === 'not-found' ? 'not-found' : 'unreadable',
        path,
        detail: `${through(chain)}finds no executable '${command}' on the application's PATH`,
      };
    }
    file = found.path;
    args = [command, ...commandArgs, ...scriptArgs];
    chain.push(file);
  }
}

/**
 * The command words env(1) (GNU coreutils 9) would run for a `#!ENV ARGUMENT`
 * line, or why tails-launch will not reproduce it. The kernel passes
 * ARGUMENT as one word: without -S, env takes it whole as the command name
 * (spaces included); with `-S`/`--split-string=`, it splits it at blanks.
 */
export function envWords(env: string, argument: string | null): string[] | string {
  const unsupported = (what: string) =>
    `uses ${what} in '#!${env}${argument === null ? '' : ` ${argument}`}', which tails-launch does not reproduce: name the interpreter by its absolute path`;
  if (argument === null) return unsupported('env without a command');
  if (!argument.startsWith('-')) {
    // VAR=VALUE would set a variable and then run the script itself again.
    return argument.includes('=') ? unsupported('a variable assignment') : [argument];
  }
  const split = /^(?:-S|--split-string=)(.*)$/s.exec(argument);
  if (!split) return unsupported('env options');
  // GNU env -S also knows quotes, backslash escapes, ${VAR} and # comments:
  // refused rather than half-reproduced.
  if (/[\\$'"#]/.test(split[1]!)) return unsupported('quoting, escapes, variables or comments');
  const words = split[1]!.split(/[ \t\n\v\f\r]+/).filter((w) => w !== '');
  if (words.length === 0) return unsupported('env -S without a command');
  if (words[0]!.startsWith('-')) return unsupported('env options');
  if (words[0]!.includes('=')) return unsupported('a variable assignment');
  return words;
}

/** The verdict alone, for `doctor` and the tests: the chain followed, or the refusal. */
export function inspectForPreload(
  path: string,
  lookup: ProgramLookup = { pathVariable: process.env.PATH, cwd: null },
  argv: string[] = [path],
): { ok: true; chain: string[]; file: string; argv: string[]; stats: Stats } | ProgramRefusal {
  const resolved = resolveProgram(path, argv, lookup);
  if (!resolved.ok) return resolved;
  closeSync(resolved.fd);
  return { ok: true, chain: resolved.chain, file: resolved.file, argv: resolved.argv, stats: resolved.stats };
}
