import { execute, type CallerState } from '../../exec';
import { isExecveAvailable } from '../../exec/execve';
import { runPreflight } from '../../preflight/run-preflight';
import type { Command } from '../parse-args';
import { planLaunch } from '../plan-launch';

/** argv -> plan -> preflight -> exec. Returns only if the application could not be started. */
export async function run(command: Extract<Command, { kind: 'run' }>, caller: CallerState): Promise<never> {
  const { plan, env } = await planLaunch(command, caller, isExecveAvailable());
  await runPreflight(plan, env);
  // Preflight proved both paths; a null here would be a bug, and execute() refuses it.
  return execute({ file: plan.exec.file ?? '', argv: plan.exec.argv, env, fds: plan.fds }, caller);
}
