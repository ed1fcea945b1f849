// Reading processes from /proc for the residency benchmarks (no-resident.mjs,
// sudo-monitor.mjs): a process can go at any moment, so every reader returns
// null (or nothing) for one that is gone instead of throwing.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** FILE's text, or null when it cannot be read (the process is gone). */
export function readProc(file) {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/** The executable PID runs, or null. */
export function exeOf(pid) {
  try {
    return readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return null;
  }
}

/** A "Field:  N kB" line of /proc/PID/status or smaps_rollup, in kB (NaN when absent). */
export const kb = (text, field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text ?? '')?.[1] ?? NaN);

/** The thread IDs of PID (each thread has its own children file), or none once it is gone. */
function tasks(pid) {
  try {
    return readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
}

/** PID and all its descendants, parents first (children of every thread). */
export function tree(pid) {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    for (const tid of tasks(out[i])) {
      const children = readProc(`/proc/${out[i]}/task/${tid}/children`);
      if (children) out.push(...children.trim().split(/\s+/).filter(Boolean).map(Number));
    }
  }
  return out;
}
