import { execute, type CallerState } from '../../exec';
import { isExecveAvailable } from '../../exec/execve';
import { writeRuntimeFile } from '../../exec/runtime-file';
import { runPreflight } from '../../preflight/run-preflight';
import type { Command } from '../parse-args';
import { planLaunch } from '../plan-launch';

/** argv -> plan -> preflight -> exec. Returns only if the application could not be started. */
export async function run(command: Extract<Command, { kind: 'run' }>, caller: CallerState): Promise<never> {
  const { plan, env, files } = await planLaunch(command, caller, isExecveAvailable());
  // The preflight returns the program it judged: by a path only root can
  // change, or still open, to be executed through that descriptor.
  const target = await runPreflight(plan, env);
  // Handed over by path (proxychains' configuration), for every descendant.
  for (const file of files) writeRuntimeFile(file.path, file.content);
  return execute({ file: target.file, fd: target.fd, argv: plan.exec.argv, env, fds: plan.fds }, caller);
}
