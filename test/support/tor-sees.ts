// What `explain --json` states Tor will see of a launch (its torSees), and
// the check that a stream tor recorded matches it: shared by the files that
// launch through the private Tor network.
import { expect } from 'vitest';
import { LAUNCH_KEY, USERNAME } from './expected';
import type { StreamRecord } from './private-tor-network';

export interface TorSees {
  listener: string;
  port: number;
  credentials:
    | { kind: 'userpass'; username: string; password: string; perLaunch: boolean }
    | { kind: 'none' | 'per-process' | 'application' };
}

/**
 * On tor's side, STREAM arrived on the SocksPort explain names, with the
 * credentials it states. OWN: for isolation application, the credentials the
 * program's own settings give (none by default, as Tails' settings give most
 * programs; Tor Browser sends its own).
 */
export function expectTorSaw(
  stream: StreamRecord,
  sees: TorSees,
  name: string,
  own: { username: string | null; password: string | null } = { username: null, password: null },
): void {
  expect(stream.listenerPort, `the SocksPort stream ${stream.id} arrived on`).toBe(sees.port);
  const seen = { username: stream.socksUsername, password: stream.socksPassword };
  switch (sees.credentials.kind) {
    case 'userpass':
      expect(seen.username).toBe(sees.credentials.username);
      expect(seen.username).toBe(USERNAME);
      // A per-launch key is a sample in explain: the same shape, a new key each launch.
      if (sees.credentials.perLaunch) {
        expect(sees.credentials.password).toMatch(LAUNCH_KEY(name));
        expect(seen.password).toMatch(LAUNCH_KEY(name));
      } else expect(seen.password).toBe(sees.credentials.password);
      break;
    case 'per-process':
      // torsocks --isolate's: made in each process.
      expect(seen.username).toMatch(/^torsocks-\d+:\d+$/);
      expect(seen.password).toBe('0');
      break;
    case 'application':
      // The program's own settings decide.
      expect(seen).toEqual(own);
      break;
    case 'none':
      expect(seen).toEqual({ username: null, password: null });
      break;
  }
}
