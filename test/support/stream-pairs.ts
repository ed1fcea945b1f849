// Assertions about pairs of streams through the private Tor network
// (circuit-isolation.test.ts, profiles-tor.test.ts).
import { expect } from 'vitest';
import { TARGET, type StreamRecord } from './private-tor-network';

/** Both streams went to the target and were open at once: each succeeded before either closed. */
export function expectOpenTogether(x: StreamRecord, y: StreamRecord): void {
  expect(x.target).toBe(TARGET);
  expect(y.target).toBe(TARGET);
  expect(x.id).not.toBe(y.id);
  expect(Math.max(x.succeededAt!, y.succeededAt!)).toBeLessThan(Math.min(x.closedAt!, y.closedAt!));
}
