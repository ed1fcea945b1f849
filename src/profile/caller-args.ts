// What a caller may add after a profile's own arguments (the profile's
// `caller_args`), checked the same way by the launcher, explain and the
// privileged entry (src/place/place.c reads the grant's form of it). Pure.
import type { CallerArgs } from './schema';

/** Why ARGS do not fit RULE (one clause, to follow "profile 'X' "), or null when they do. */
export function callerArgsProblem(rule: CallerArgs, args: readonly string[]): string | null {
  if (rule === 'any') return null;
  if (rule === 'none') return args.length === 0 ? null : 'takes no arguments from the caller (caller_args: none)';
  if (rule === 'non-options') {
    const option = args.find((a) => a.startsWith('-'));
    return option === undefined
      ? null
      : `takes no options from the caller, only other arguments such as URLs (caller_args: non-options): '${option}'`;
  }
  if ('one_of' in rule) {
    const fits = rule.one_of.some((list) => list.length === args.length && list.every((a, i) => a === args[i]));
    return fits
      ? null
      : `takes only these argument lists from the caller: ${rule.one_of.map((l) => (l.length ? l.join(' ') : '(none)')).join('; ')}`;
  }
  return optionsProblem(rule.options, args);
}

/** `options`: the program's own options, each at most once and each followed by a value that is not an option. */
function optionsProblem(options: readonly string[], args: readonly string[]): string | null {
  const seen = new Set<string>();
  for (let i = 0; i < args.length; i += 2) {
    const option = args[i]!;
    const value = args[i + 1];
    if (!options.includes(option) || seen.has(option) || value === undefined || value.startsWith('-'))
      return `takes only its program's own options from the caller, each once and each with a value (${options.join(', ')}): '${option}'`;
    seen.add(option);
  }
  return null;
}

/** Whether a caller with this NAME and these group names is one of CALLERS (users, %groups); root always is. */
export function isCaller(callers: readonly string[], name: string, uid: number, groups: readonly string[]): boolean {
  if (uid === 0) return true;
  return callers.some((c) => (c.startsWith('%') ? groups.includes(c.slice(1)) : c === name));
}
