// Reads one configuration file with cosmiconfig's loaders (js-yaml, JSON).
//
// We use cosmiconfig's loaders but never its explorer: creating an explorer
// (cosmiconfig 9) searches the CURRENT directory for a "meta config" and
// executes `.config/config.{js,cjs,mjs,ts}` found there, and it throws when
// the current directory has been deleted. A launcher started from any
// directory must do neither. Our layer paths are fixed, so there is nothing
// to search for. test/integration/config.test.ts keeps this true.
import { readFileSync } from 'node:fs';
// The loaders module alone: cosmiconfig's index would also load its explorers.
import { loadJson, loadYaml } from 'cosmiconfig/dist/loaders.js';
import { ConfigError } from './config-error';
import { CONFIG_EXTENSIONS } from './names';

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

/** Reads and parses FILE; `null` when it does not exist. Syntax errors are ConfigErrors. */
export function readConfigFile(file: string): LoadedFile | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw new ConfigError([{ file, message: `cannot read: ${(error as Error).message}` }]);
  }
  const extension = file.slice(file.lastIndexOf('.'));
  const loader = LOADERS[extension];
  if (!loader) throw new ConfigError([{ file, message: `unsupported file type (use ${CONFIG_EXTENSIONS.join(', ')})` }]);
  try {
    // An empty file is an empty mapping, not "no configuration".
    return { file, text, data: text.trim() === '' ? {} : loader(file, text) };
  } catch (error) {
    const e = error as { reason?: string; mark?: { line: number } };
    // js-yaml errors carry a 0-based mark.
    if (e.mark) throw new ConfigError([{ file, line: e.mark.line + 1, message: `syntax error: ${e.reason ?? 'invalid YAML'}` }]);
    throw new ConfigError([{ file, ...jsonSyntaxError(text) }]);
  }
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
    return { line, message: `syntax error: ${reason}` };
  }
}
