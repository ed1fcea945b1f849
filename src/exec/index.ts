import type { CallerState } from './caller-state';
import { isExecveAvailable, replaceProcess } from './execve';
import { writeRuntimeFile } from './runtime-file';
import type { ExecRequest } from './types';

export { CALLER_ENV, captureCallerState, signalsInMask, type CallerState } from './caller-state';
export { isExecveAvailable, replaceProcess } from './execve';
export type { ExecMethod, ExecRequest } from './types';

/**
 * Hands over to the application: replaces this process with execve when
 * koffi loads (the normal case: nothing of Node remains, same PID), else runs
 * it as a child and exits the way it did. Never returns; throws LaunchError
 * (126/127, one line) when the program cannot be started.
 */
export async function execute(req: ExecRequest, caller: CallerState): Promise<never> {
  // Handed over by path, for the program and every descendant (after the preflight: never for a refused launch).
  for (const file of req.files ?? []) writeRuntimeFile(file.path, file.content);
  if (isExecveAvailable().method === 'execve') replaceProcess(req, caller);
  // The fallback (and execa with it) is loaded only on this path.
  const { spawnAndWait } = await import('./spawn-fallback');
  return spawnAndWait(req, caller);
}
