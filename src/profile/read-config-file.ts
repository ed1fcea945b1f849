// Parses one configuration file with cosmiconfig's loaders (js-yaml, JSON).
// Reading it (trust, regular file, size bound) is ./trust's readConfigText,
// which stays off this module so that a shipped file loads no parser.
//
// We use cosmiconfig's loaders but never its explorer: creating an explorer
// (cosmiconfig 9) searches the CURRENT directory for a "meta config" and
// executes `.config/config.{js,cjs,mjs,ts}` found there, and it throws when
// the current directory has been deleted. A launcher started from any
// directory must do neither. Our layer paths are fixed, so there is nothing
// to search for. test/integration/config.test.ts keeps this true.
// The loaders module alone: cosmiconfig's index would also load its explorers.
import { loadJson, loadYaml } from 'cosmiconfig/dist/loaders.js';
import { ConfigError } from './config-error';
import { CONFIG_EXTENSIONS } from '../vocabulary/names';
import { MAX_ECHO, printable } from '../files/printable';
import { formatSize } from '../files/safe-read';
import { MAX_CONFIG_BYTES, readConfigText } from './trust';

type Loader = (filepath: string, content: string) => unknown;

// Data formats only: a configuration file is never code.
const LOADERS: Record<string, Loader> = {
  '.yml': loadYaml as Loader,
  '.yaml': loadYaml as Loader,
  '.json': loadJson as Loader,
};

export interface LoadedFile {
  file: string;
  text: string;
  data: unknown;
}

/**
 * How much parsed data a file may stand for, and how deep it may nest.
 *
 * YAML aliases (`&big` ... `*big`) let a small file stand for a huge one: a
 * 1 MB scalar referenced 3000 times is 3 GB once anything copies it (the
 * bundle's built-in data, the environment given to execve), and nested aliases grow
 * exponentially ("billion laughs"). js-yaml builds an alias as a second
 * REFERENCE to the same value, so parsing stays linear in the file; the
 * blow-up comes later, in whatever walks the data. So we walk it once
 * ourselves, right after parsing, and refuse it as soon as it stands for
 * more than a bound: at most MAX_EXPANDED steps whatever the file, a cycle
 * (`&a [*a]`) included. This guards what the rest of the launcher actually
 * handles, whatever the parser does with aliases and merge keys (`<<`), and
 * JSON alike. Aliases that stay small remain allowed: they cost nothing.
 *
 * The bound is twice the file bound: without aliases, parsed data is never
 * larger than its text (each node and character comes from the text), so an
 * ordinary file never comes near it. The depth bound is far above the
 * schema's (env.set.NAME is the deepest field, at 3) and keeps deeply nested
 * data from exhausting the stack of the code that reads it (JSON.parse
 * accepts any depth).
 */
export const MAX_EXPANDED = 2 * MAX_CONFIG_BYTES;
export const MAX_DEPTH = 64;

/** Null when DATA is within the bounds; else why not. Iterative: the depth of DATA cannot overflow our stack. */
export function expansionProblem(data: unknown): string | null {
  let size = 0;
  const stack: { value: unknown; depth: number }[] = [{ value: data, depth: 0 }];
  while (stack.length) {
    const { value, depth } = stack.pop()!;
    if (depth > MAX_DEPTH) return `nests deeper than ${MAX_DEPTH} levels`;
    // A node counts 1, a string or key its length: about the size of its text, without aliases.
    size += typeof value === 'string' ? Math.max(1, value.length) : 1;
    if (value !== null && typeof value === 'object') {
      for (const [key, child] of Object.entries(value as object)) {
        size += key.length;
        stack.push({ value: child, depth: depth + 1 });
      }
    }
    if (size > MAX_EXPANDED) {
      return `stands for more than ${formatSize(MAX_EXPANDED)} of data once its YAML aliases (*name) are expanded: write the values out instead of aliasing them`;
    }
  }
  return null;
}

/** FILE's TEXT parsed, and bounded as above. Syntax errors are ConfigErrors. */
export function parseConfigText(file: string, text: string): unknown {
  const extension = file.slice(file.lastIndexOf('.'));
  const loader = LOADERS[extension];
  if (!loader)
    throw new ConfigError([{ file, message: `unsupported file type (use ${CONFIG_EXTENSIONS.join(', ')})` }]);
  let data: unknown;
  try {
    // An empty file is an empty mapping, not "no configuration".
    data = text.trim() === '' ? {} : loader(file, text);
  } catch (error) {
    const e = error as { reason?: string; mark?: { line: number } };
    // js-yaml errors carry a 0-based mark; some reasons quote the file (an alias or tag name): cut them short.
    if (e.mark)
      throw new ConfigError([
        {
          file,
          line: e.mark.line + 1,
          message: `syntax error: ${printable(e.reason ?? 'invalid YAML', 2 * MAX_ECHO)}`,
        },
      ]);
    throw new ConfigError([{ file, ...jsonSyntaxError(text) }]);
  }
  const problem = expansionProblem(data);
  if (problem) throw new ConfigError([{ file, message: problem }]);
  return data;
}

/** Reads (see ./trust) and parses FILE; `null` when it does not exist. */
export function readConfigFile(file: string): LoadedFile | null {
  const text = readConfigText(file);
  return text === null ? null : { file, text, data: parseConfigText(file, text) };
}

/**
 * cosmiconfig's JSON loader wraps the error in a code frame; V8's own message
 * says it in one line, with the offset ("… in JSON at position 64 …").
 */
function jsonSyntaxError(text: string): { line?: number; message: string } {
  try {
    JSON.parse(text);
    return { message: 'syntax error: invalid JSON' };
  } catch (error) {
    const message = (error as Error).message;
    const position = /at position (\d+)/.exec(message);
    const reason = message.replace(/\s*(?:in JSON )?at position \d+.*$/s, '').replace(/ in JSON$/, '');
    const line = position ? text.slice(0, Number(position[1])).split('\n').length : undefined;
    // V8 quotes a piece of the text in some messages (Node 20: `"{"a": x..." is not valid JSON`).
    return { line, message: `syntax error: ${printable(reason, 2 * MAX_ECHO)}` };
  }
}
