// tails-launch: argv -> profiles -> resolve -> plan -> preflight -> exec.
import { captureCallerState } from '../exec/caller-state';
import { run } from './commands/run';
import { EXIT } from '../errors/exit-codes';
import { HELP } from './help';
import { LaunchError } from '../errors/launch-error';
import { writeAll, writeError, writeRaw } from './output';
import { parseArgs } from './parse-args';

declare const __VERSION__: string;

// An error thrown outside main's promise chain (here at the top, in an event
// handler, a timer, a stream) would otherwise make Node print a stack trace
// and exit 1 or 7. Registering handlers touches neither stdio nor the environment.
process.on('uncaughtException', report);
process.on('unhandledRejection', report);

// First, before anything touches stdio or the environment: what the caller
// gave us (signals, limits, descriptors) must reach the application intact.
const caller = captureCallerState(process.env);

async function main(argv: string[]): Promise<number> {
  const command = parseArgs(argv);
  switch (command.kind) {
    case 'help':
      writeAll(1, HELP);
      return 0;
    case 'version':
      writeAll(1, `tails-launch ${typeof __VERSION__ === 'string' ? __VERSION__ : 'dev'}\n`);
      return 0;
    case 'run':
      return run(command, caller);
    // The inspection commands are off the launch path: loaded on demand.
    case 'explain':
      return (await import('./commands/explain')).explain(command, caller);
    case 'list':
      return (await import('./commands/list')).list(command);
    case 'validate':
      return (await import('./commands/validate')).validate(command);
    case 'torrc':
      return (await import('./commands/torrc')).torrc(command);
    case 'doctor':
      return (await import('./commands/doctor')).doctor(command);
    case 'netns':
      return (await import('./commands/netns')).netns(command);
  }
}

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
function report(error: unknown): never {
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

main(process.argv.slice(2)).then((status) => process.exit(status), report);
