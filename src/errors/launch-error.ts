import type { ExitCode } from './exit-codes';

/**
 * The only error tails-launch reports to a user: one line that says what is
 * wrong and how to fix it, and the exit status that goes with it. Anything
 * else that escapes is a bug and is reported as such (still one line).
 */
export class LaunchError extends Error {
  constructor(
    readonly exitCode: ExitCode,
    message: string,
  ) {
    super(message);
    this.name = 'LaunchError';
  }
}
