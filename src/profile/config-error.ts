import { EXIT } from '../errors/exit-codes';
import { LaunchError } from '../errors/launch-error';
import { escapeControl } from '../errors/escape-control';

/** One thing wrong in one configuration file. */
export interface ConfigProblem {
  file: string;
  /** 1-based; absent when the file could not be parsed far enough to tell. */
  line?: number;
  /** Dotted path of the field, e.g. `listeners.default.port`. */
  field?: string;
  message: string;
}

export function formatProblem(p: ConfigProblem): string {
  const where = p.line === undefined ? p.file : `${p.file}:${p.line}`;
  // One line whatever a path or field name holds: problems are printed on stdout too (list).
  return escapeControl(p.field ? `${where}: ${p.field}: ${p.message}` : `${where}: ${p.message}`);
}

/** Invalid configuration: exit 65, the first problem on the one error line. */
export class ConfigError extends LaunchError {
  constructor(readonly problems: ConfigProblem[]) {
    const first = problems[0] ? formatProblem(problems[0]) : 'invalid configuration';
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more: run 'tails-launch validate')` : '';
    super(EXIT.config, `invalid configuration: ${first}${more}`);
    this.name = 'ConfigError';
  }
}
