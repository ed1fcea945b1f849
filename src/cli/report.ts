// The end of every failure of tails-launch and of its privileged entry.
import { EXIT } from '../errors/exit-codes';
import { LaunchError } from '../errors/launch-error';
import { writeError, writeRaw } from './output';

/** The error's message, whatever was thrown (even an object whose toString throws). */
function describe(error: unknown): string {
  try {
    return error instanceof Error ? error.message : String(error);
  } catch {
    return 'an unprintable value was thrown';
  }
}

/**
 * The end of every failure: one line on stderr (writeError escapes whatever
 * the message quotes, so it stays one line without terminal escapes), and the
 * status that goes with it. Never a launch, never a stack trace.
 */
export function report(error: unknown): never {
  // A stderr that cannot be written (closed by the caller) must not turn the
  // refusal into a crash with another status: the status still says what happened.
  try {
    if (error instanceof LaunchError) {
      writeError(error.message);
    } else {
      // TAILS_LAUNCH_DEBUG=1 is for developers only (the app never sees it: TAILS_LAUNCH_* is scrubbed).
      if (process.env.TAILS_LAUNCH_DEBUG === '1') writeRaw(2, `${(error as Error)?.stack}\n`);
      // A bug: still one line, never a stack trace, and never a launch.
      writeError(`internal error: ${describe(error)} (please report this bug)`);
    }
  } catch {
    // Nothing more can be said.
  }
  process.exit(error instanceof LaunchError ? error.exitCode : EXIT.internal);
}
