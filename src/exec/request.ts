// The end of a placed launch's preflight (src/cli/placed.ts): instead of
// execve, it tells the privileged entry what to execute, on descriptor 3,
// and exits; the entry (src/place/place.c, parse_request) executes it in its
// own process, so that the application is sudo's command as before. The
// format is the entry's: "tails-launch-exec 1", FILE, ARGC, ARGV..., ENVC,
// ENV..., each NUL-terminated; arguments and variables that were not UTF-8
// go as the caller's exact bytes.
import { writeSync } from 'node:fs';
import { EXIT } from '../errors/exit-codes';
import { LaunchError } from '../errors/launch-error';
import type { ExecRequest } from './types';
import { writeRuntimeFile } from './runtime-file';

export const REQUEST_FD = 3;

function cString(s: string | Buffer): Buffer {
  const bytes = typeof s === 'string' ? Buffer.from(s) : s;
  if (bytes.includes(0))
    throw new LaunchError(EXIT.internal, 'cannot execute: an argument or environment entry contains a NUL byte');
  return Buffer.concat([bytes, Buffer.from([0])]);
}

export function encodeRequest(req: ExecRequest): Buffer {
  const argv = req.argv.map((a, i) => req.raw?.argv.get(i) ?? a);
  const env = Object.entries(req.env).map(([k, v]) => req.raw?.env.get(k) ?? `${k}=${v}`);
  return Buffer.concat(
    ['tails-launch-exec 1', req.file, String(argv.length), ...argv, String(env.length), ...env].map(cString),
  );
}

/** Writes the files handed over by path, then the request; the entry executes it once this process has exited 0. */
export function sendRequest(req: ExecRequest): void {
  if (req.fd !== undefined)
    throw new LaunchError(
      EXIT.wouldBypass,
      `${req.file} is at a path someone other than root could change, and a placed or jailed program is executed by its path: install it where only root can write (under /usr)`,
    );
  for (const file of req.files ?? []) writeRuntimeFile(file.path, file.content);
  const bytes = encodeRequest(req);
  for (let done = 0; done < bytes.length;) done += writeSync(REQUEST_FD, bytes, done);
}
