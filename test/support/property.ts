// Shared by the property-based tests (test/property/): one seed per test run,
// printed with the number of cases each property ran, and the checks every
// run of the real launcher must pass whatever it was given.
import fc from 'fast-check';
import { expect } from 'vitest';
import type { LauncherResult } from './launcher';
import { EXIT } from './expected';

/**
 * The seed of this run: FC_SEED=N replays one (fast-check also prints the
 * seed and the counterexample's path when a property fails). Random
 * otherwise, so that every run explores new cases.
 */
export const SEED = process.env.FC_SEED ? Number(process.env.FC_SEED) : Math.floor(Math.random() * 2 ** 31);

/** FC_SCALE=N runs every property N times as many cases (and gives it N times the time): for a longer hunt by hand. */
export const SCALE = Math.max(1, Number(process.env.FC_SCALE) || 1);

/**
 * Runs PROPERTY for NUM_RUNS cases and prints one summary line with the
 * count, for the report. TIME_LIMIT_MS bounds runs and shrinking together
 * (a launcher case costs tens of ms, shrinking one can take hundreds of
 * them); running out of time is a failure, never a silent pass.
 */
export async function checkProperty<T>(
  name: string,
  property: fc.IAsyncPropertyWithHooks<T> | fc.IPropertyWithHooks<T>,
  numRuns: number,
  timeLimitMs?: number,
  tally?: Tally,
): Promise<void> {
  const started = Date.now();
  const details = await fc.check(property as fc.IAsyncProperty<T>, {
    numRuns: numRuns * SCALE,
    seed: SEED,
    plugins: timeLimitMs ? [fc.interruptAfterTimeLimit(timeLimitMs * SCALE, { failOnInterrupt: true })] : [],
  });
  // The same report fc.assert would throw, with the seed and the path to replay it.
  if (details.failed || details.interrupted) {
    const report = (await fc.asyncDefaultReportMessage(details)) ?? `property '${name}' failed`;
    const cause = details.errorInstance instanceof Error ? `\n${details.errorInstance.message}` : '';
    throw new Error(`${report}${cause}`);
  }
  const outcomes = tally
    ? `; outcomes: ${[...tally.counts]
        .sort((a, b) => b[1] - a[1])
        .map(([k, n]) => `${k} x${n}`)
        .join(', ')}`
    : '';
  console.log(
    `[property] ${name}: ${details.numRuns} cases passed (seed ${SEED}, ${Date.now() - started} ms)${outcomes}`,
  );
}

/** Counts of what the cases ended in, printed with the summary: shows what a run actually exercised. */
export class Tally {
  readonly counts = new Map<string, number>();
  add(outcome: string): void {
    this.counts.set(outcome, (this.counts.get(outcome) ?? 0) + 1);
  }
}

/**
 * Exit statuses README.md documents for tails-launch itself, 70 (a bug)
 * left out: a property run must never hit one. 0 is also an application's.
 */
export const DOCUMENTED_STATUSES = new Set([
  0,
  EXIT.checkFailed,
  EXIT.usage,
  EXIT.config,
  EXIT.unknownProfile,
  EXIT.noUser,
  EXIT.torUnreachable,
  EXIT.noNamespace,
  EXIT.refused,
  EXIT.wouldBypass,
  EXIT.cannotExecute,
  EXIT.notFound,
]);

/** A raw control character (C0 but newline, DEL, C1), line separator or bidi control. */
export const UNSAFE_CHARACTER =
  /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

/**
 * What tails-launch's own stderr must look like, whatever it was given:
 * `tails-launch: ...` lines only (ONE for a refusal), nothing a terminal
 * would interpret, never a stack frame or a message from Node itself.
 * Not for a status the application itself returned (its stderr is its own).
 */
export function expectCleanStderr(result: LauncherResult, refusal: boolean): void {
  // What went wrong, in the failure report: the status and (the start of) stderr, escaped.
  const seen = `status ${result.exitCode}, stderr ${JSON.stringify(result.stderr.slice(0, 2000))}`;
  expect(result.signal, `killed by a signal: ${seen}`).toBeUndefined();
  expect(DOCUMENTED_STATUSES.has(result.exitCode ?? -1), `undocumented status: ${seen}`).toBe(true);
  if (result.stderr === '') return;
  const lines = result.stderr.split('\n');
  if (refusal) expect(lines.length, `a refusal is one line: ${seen}`).toBe(1);
  for (const line of lines) {
    expect(line, seen).toMatch(/^tails-launch: /);
    expect(line, seen).not.toMatch(UNSAFE_CHARACTER);
  }
  expect(result.stderr, seen).not.toMatch(/^\s+at /m);
  expect(result.stderr, seen).not.toMatch(/node:internal|\bat (?:async )?[\w.<>]+ \(|^\w*Error: /m);
}
