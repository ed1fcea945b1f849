// Who a placed application runs as, how the placement is applied, and what
// forbids it. Pure: the accounts are looked up by the caller (account.ts)
// and passed in, so every rule here is unit-tested.
import { EXIT, type ExitCode } from '../errors/exit-codes';
import { isSystemAccount, type Account } from './account';

export interface PlacementDecision {
  netns: string | null;
  user: string | null;
  /** A jail (src/jail/) is made for the launch: like a placement, it needs root. */
  jail: boolean;
  /**
   * self: root hands the launch to the privileged entry itself; sudo: an
   * unprivileged caller, through sudo; applied: the entry has applied it, and
   * this is its preflight planning the rest.
   */
  via: 'self' | 'sudo' | 'applied';
  /** The account the application runs as; null when this process keeps its own (root, namespace only). */
  account: Account | null;
  /** Why the placement cannot be applied: the launch is refused with this. */
  problem: { status: ExitCode; message: string } | null;
}

export interface PlacementContext {
  profile: string;
  placement: { netns: string | null; user: string | null };
  /** The launch is jailed (the profile's `jail: true`, or --jail). */
  jail?: boolean;
  /** This process's real UID. */
  uid: number;
  /** In the entry's preflight: the UID that called the entry (sudo's SUDO_UID, or 0); else null. */
  entryCaller: number | null;
  /** The profile's user, looked up (null when the profile names none, or it does not exist). */
  named: Account | null;
  /** The caller's own account (null when unknown). */
  caller: Account | null;
  /** For a hand-over: what the privileged entry would not see or accept (options, --config-dir, user-layer fields). */
  notPassable: string[];
}

export function decidePlacement(c: PlacementContext): PlacementDecision | null {
  const { netns, user } = c.placement;
  const jail = c.jail ?? false;
  if (netns === null && user === null && !jail) return null;
  const via = c.entryCaller !== null ? 'applied' : c.uid === 0 ? 'self' : 'sudo';
  // Whose launch this is: sudo's caller inside the entry, else this process's user.
  const callerUid = c.entryCaller ?? c.uid;
  // A namespace alone keeps the caller's own account (root launching for itself keeps root).
  const account = user !== null ? c.named : callerUid === 0 ? null : c.caller;
  const decision = { netns, user, jail, via, account } as const;
  const refuse = (status: ExitCode, message: string): PlacementDecision => ({
    ...decision,
    problem: { status, message },
  });

  if (user !== null && c.named === null)
    return refuse(
      EXIT.noUser,
      `profile '${c.profile}' runs as user '${user}', which does not exist on this system: create it, or ask the administrator`,
    );
  if (user === null && callerUid !== 0 && c.caller === null)
    return refuse(EXIT.noUser, `the calling user (uid ${callerUid}) has no account in the user database`);
  if (callerUid !== 0 && account !== null) {
    // The privileged step never makes root, and never makes another person:
    // only the caller itself or a system account (a service user).
    if (account.uid === 0)
      return refuse(
        EXIT.refused,
        `profile '${c.profile}' would run as root: placement never runs an application as root for another user`,
      );
    if (account.uid !== callerUid && !isSystemAccount(account.uid))
      return refuse(
        EXIT.refused,
        `profile '${c.profile}' runs as '${account.name}', another person's account: only '${account.name}' (or root) may launch it`,
      );
  }
  if (via === 'sudo' && c.notPassable.length > 0)
    return refuse(
      EXIT.refused,
      `profile '${c.profile}' is launched through the privileged entry (placement), which reads only the system configuration and takes only the profile name and the application's arguments: ${c.notPassable.join('; ')}`,
    );
  return { ...decision, problem: null };
}
