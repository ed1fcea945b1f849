// tails-launch: argv -> profiles -> resolve -> plan -> preflight -> exec.
import { captureCallerState } from '../exec/caller-state';
import { run } from './commands/run';
import { HELP } from './help';
import { report } from './report';
import { writeAll } from './output';
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
  // Node answers SIGUSR1 by opening its inspector on 127.0.0.1:9229 to every
  // local account. A listener of its own keeps it shut (Node 18 and 20 alike):
  // the commands that stay (circuits --watch above all, doctor as root) must
  // not become anyone's debugger. A launch is left alone: it execs, and the
  // application takes the caller's SIGUSR1 disposition (captureCallerState).
  if (command.kind !== 'run') process.on('SIGUSR1', () => {});
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
    case 'onion-grater':
      return (await import('./commands/onion-grater')).onionGrater(command);
    case 'doctor':
      return (await import('./commands/doctor')).doctor(command);
    case 'circuits':
      return (await import('./commands/circuits')).circuits(command);
    case 'new-identity':
      return (await import('./commands/new-identity')).newIdentity(command);
    case 'netns':
      return (await import('./commands/netns')).netns(command);
    case 'jail':
      return (await import('./commands/jail')).jail(command);
    case 'grants':
      return (await import('./commands/grants')).grants(command);
    case 'desktop':
      return (await import('./commands/desktop')).desktop(command);
  }
}

main(process.argv.slice(2)).then((status) => process.exit(status), report);
