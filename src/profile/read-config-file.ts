// Reads one configuration file with cosmiconfig's loaders (js-yaml, JSON).
//
// We use cosmiconfig's loaders but never its explorer: creating an explorer
// (cosmiconfig 9) searches the CURRENT directory for a "meta config" and
// executes `.config/config.{js,cjs,mjs,ts}` found there, and it throws when
// the current directory has been deleted. A launcher started from any
// directory must do neither. Our layer paths are fixed, so there is nothing
// to search for. test/integration/hostile-cwd.test.ts keeps this true.
import { readFileSync } from 'node:fs';
import { defaultLoadersSync } from 'cosmiconfig';
import { ConfigError } from './config-error';

type Loader = (filepath: string, content: string) => unknown;

// Data formats only: a configuration file is never code.
const LOADERS: Record<string, Loader> = {
  '.yml': defaultLoadersSync['.yaml'] as Loader,
  '.yaml': defaultLoadersSync['.yaml'] as Loader,
  '.json': defaultLoadersSync['.json'] as Loader,
};

export const CONFIG_EXTENSIONS = Object.keys(LOADERS);

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
    // js-yaml errors carry a 0-based mark; JSON ones only a message.
    const e = error as { reason?: string; mark?: { line: number }; message: string };
    const reason = e.reason ?? e.message.split('\n').filter(Boolean).pop() ?? 'syntax error';
    throw new ConfigError([{ file, line: e.mark ? e.mark.line + 1 : undefined, message: `syntax error: ${reason}` }]);
  }
}
