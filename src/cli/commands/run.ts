import { createSealedMemoryFile, execute, type CallerState } from '../../exec';
import { isExecveAvailable } from '../../exec/execve';
import { EXIT } from '../exit-codes';
import { LaunchError } from '../launch-error';
import { runPreflight } from '../../preflight/run-preflight';
import type { Command } from '../parse-args';
import { planLaunch } from '../plan-launch';

/** argv -> plan -> preflight -> exec. Returns only if the application could not be started. */
export async function run(command: Extract<Command, { kind: 'run' }>, caller: CallerState): Promise<never> {
  const method = isExecveAvailable();
  const { plan, env, files } = await planLaunch(command, caller, method);
  await runPreflight(plan, env);
  // Memory files (proxychains' configuration) need koffi: without it there is
  // no in-memory way to pass them, and a file on disk is not an option.
  if (files.length && method.method !== 'execve') {
    throw new LaunchError(EXIT.internal, `profile '${plan.profile.name}' passes its ${plan.backend} configuration in memory, which needs koffi: ${method.reason}`);
  }
  const fds = [...plan.fds];
  for (const file of files) {
    const fd = createSealedMemoryFile(file.name, file.content);
    env[file.variable] = `/proc/self/fd/${fd}`;
    fds.push(fd);
  }
  // Preflight proved both paths: a null file here is a bug, and execve('') fails (127).
  return execute({ file: plan.exec.file ?? '', argv: plan.exec.argv, env, fds }, caller);
}
