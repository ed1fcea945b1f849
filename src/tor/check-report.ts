// What doctor's checks report: one record per check, ok, FAIL (with what to
// do), warn or skip. The Tor checks (control-checks.ts, listener-checks.ts)
// add to a report; `tails-launch doctor` gathers and prints it.

export type CheckStatus = 'ok' | 'fail' | 'warn' | 'skip';

export interface DoctorCheck {
  id: string;
  status: CheckStatus;
  /** What was found. */
  message: string;
  /** What to do (FAIL, sometimes warn). */
  fix?: string;
}

/**
 * Where checks add their findings. Messages quote what the control port sent
 * (versions, error replies, listeners, SocksPort values) as they came: the
 * report escapes them (escapeControlText), in one place.
 */
export interface CheckReport {
  add(id: string, status: CheckStatus, message: string, fix?: string): void;
}

/** Why a check that asks Tor was skipped. */
export const NEEDS_CONTROL = 'needs the control port';
