// tails-launch: argv -> profiles -> resolve -> plan -> preflight -> exec.
import { captureCallerState } from '../exec/caller-state';
import { run } from './commands/run';
import { EXIT } from './exit-codes';
import { HELP } from './help';
import { LaunchError } from './launch-error';
import { writeAll } from './output';
import { parseArgs } from './parse-args';

declare const __VERSION__: string;

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
  }
}

function report(error: unknown): never {
  if (error instanceof LaunchError) {
    writeAll(2, `tails-launch: ${error.message}\n`);
    process.exit(error.exitCode);
  }
  // A bug: still one line, never a stack trace, and never a launch.
  const message = error instanceof Error ? error.message : String(error);
  // TAILS_LAUNCH_DEBUG=1 is for developers only (the app never sees it: TAILS_LAUNCH_* is scrubbed).
  if (process.env.TAILS_LAUNCH_DEBUG === '1') writeAll(2, `${(error as Error)?.stack}\n`);
  writeAll(2, `tails-launch: internal error: ${message.split('\n')[0]} (please report this bug)\n`);
  process.exit(EXIT.internal);
}

main(process.argv.slice(2)).then((status) => process.exit(status), report);
