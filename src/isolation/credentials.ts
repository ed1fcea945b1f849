// Isolation groups as SOCKS5 credentials (FACTS §3).
//
// Under IsolateSOCKSAuth Tor puts two streams on one circuit only if their
// username AND password are byte-equal, and EMPTY credentials count as none.
// Tor 0.4.9 (proposal 351) reserves usernames starting with `<torS0X>`: the
// exact username `<torS0X>0` means "the password is the isolation key" and any
// other `<torS0X>…` is rejected; tor 0.4.8 and Arti take it as an ordinary
// username. So: always `<torS0X>0`, and the group key as the password.
import type { IsolationMode } from '../vocabulary/modes';

export const SOCKS_USERNAME = '<torS0X>0';
/** RFC 1929: one length byte. */
export const SOCKS_FIELD_MAX = 255;

export type SocksAuth =
  | { kind: 'none' }
  | { kind: 'userpass'; username: string; password: string }
  /** torsocks computes `torsocks-<pid>:<time>` in every process itself. */
  | { kind: 'per-process' }
  /** The application's own settings decide (an own-setting program that cannot be handed credentials). */
  | { kind: 'application' };

export interface GroupRequest {
  mode: IsolationMode;
  profile: string;
  identity: string | null;
  /**
   * An `app` group renewed by `tails-launch new-identity` (16 hex digits,
   * src/cli/renewal.ts), or null: a renewed group's key is new, so its next
   * launches build circuits Tor has never used for the group before.
   */
  renewal?: string | null;
  /** 128 random bits as hex; called only for `launch`. */
  randomHex: () => string;
}

/** The group key, or null for the modes that send no key of ours. */
export function groupKey({ mode, profile, identity, renewal, randomHex }: GroupRequest): string | null {
  const suffix = identity === null ? '' : `/identity/${identity}`;
  switch (mode) {
    case 'app':
      return `tails-launch/app/${profile}${renewal ? `/renewed/${renewal}` : ''}${suffix}`;
    case 'launch':
      return `tails-launch/launch/${profile}/${randomHex()}${suffix}`;
    case 'process':
    case 'none':
    case 'application':
      return null;
  }
}

export function socksAuth(request: GroupRequest): SocksAuth {
  if (request.mode === 'none') return { kind: 'none' };
  if (request.mode === 'process') return { kind: 'per-process' };
  if (request.mode === 'application') return { kind: 'application' };
  const password = groupKey(request) as string;
  // Names are length-limited by schema, so this is a bug check, not input validation.
  if (Buffer.byteLength(password) > SOCKS_FIELD_MAX || password.length === 0) {
    throw new Error(`isolation key of ${Buffer.byteLength(password)} bytes does not fit SOCKS5`);
  }
  return { kind: 'userpass', username: SOCKS_USERNAME, password };
}
