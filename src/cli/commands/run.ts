import { execute, type CallerState } from '../../exec';
import { isExecveAvailable } from '../../exec/execve';
import { readRawBytes } from '../../exec/raw-bytes';
import type { ExecRequest } from '../../exec/types';
import type { Plan } from '../../plan/types';
import { runPreflight } from '../../preflight/run-preflight';
import type { Command } from '../parse-args';
import { planLaunch } from '../plan-launch';

/** argv -> plan -> preflight -> exec. Returns only if the application could not be started. */
export async function run(command: Extract<Command, { kind: 'run' }>, caller: CallerState): Promise<never> {
  const planned = await planLaunch(command, caller, isExecveAvailable());
  const { plan, env, files } = planned;
  const raw = rawBytes(plan, command.args, env);
  // A placement or a jail: the privileged entry takes it from here (through sudo for an unprivileged caller).
  if (plan.handover) return (await import('../../handover/handover')).handOver(planned, raw, caller);
  // The preflight returns the program it judged: by a path only root can
  // change, or still open, to be executed through that descriptor.
  const target = await runPreflight(plan, env);
  return execute({ file: target.file, fd: target.fd, argv: plan.exec.argv, env, fds: plan.fds, files, raw }, caller);
}

/**
 * The caller's exact bytes for the user's arguments and inherited variables
 * that are not UTF-8. The user's arguments end argv (after the command, when
 * the command is the first of them), in order.
 */
export function rawBytes(plan: Plan, userArgs: string[], env: Record<string, string>): NonNullable<ExecRequest['raw']> {
  const raw = readRawBytes(process.argv.slice(2));
  const all = process.argv.length - 2;
  const argv = new Map<number, Buffer>();
  const first = plan.application.from === 'arguments' ? 1 : 0;
  for (let j = first; j < userArgs.length; j++) {
    const bytes = raw.args.get(all - userArgs.length + j);
    const at = plan.exec.argv.length - (userArgs.length - j);
    if (bytes && plan.exec.argv[at] === userArgs[j]) argv.set(at, bytes);
  }
  const vars = new Map<string, Buffer>();
  // Only a variable passed on unchanged: one the launch set or replaced is its own string.
  for (const [name, { decodedValue, entry }] of raw.env)
    if (env[name] === decodedValue && !(name in plan.env.set)) vars.set(name, entry);
  return { argv, env: vars };
}
