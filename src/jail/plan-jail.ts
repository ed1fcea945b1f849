// What a jailed launch will be, as plan data (pure): the pool, the isolation
// group and its address (what Tor will see as the client address), and the
// one endpoint the jail reaches. What cannot be jailed says why.
import type { ResolvedProfile } from '../profile/resolve';
import {
  appGroup,
  appGroupKey,
  groupCount,
  launchGroup,
  noneGroup,
  parsePool,
  SLOTS_PER_GROUP,
  type JailGroup,
} from './address';

export interface PlanJail {
  /** The listener whose jails' SocksPort the jail reaches. */
  listener: string;
  pool: string;
  group: JailGroup;
  /** Inside: where the application connects, redirected to the jails' SocksPort through the host end of its veth. */
  connect: { address: string; port: number };
  socksPort: { address: string; port: number };
  /** How many jails of the group may run at once. */
  slots: number;
  /** Stable groups are hashed: the chance that two different keys share one. */
  collision: string | null;
}

export type JailDecision = { ok: true; jail: PlanJail } | { ok: false; problem: string };

export function planJail(
  profile: ResolvedProfile,
  identity: string | null,
  pool: string | null,
  randomHex: () => string,
  callerUid: number,
): JailDecision {
  const listener = profile.listener;
  if (profile.placement.netns !== null)
    return {
      ok: false,
      problem: `profile '${profile.name}' has netns ${profile.placement.netns}: a jail is a namespace of its own, one or the other`,
    };
  if (listener.jailPort === null)
    return {
      ok: false,
      problem: `listener '${listener.name}' has no jail_port: declare one in /etc/tails-launch/listeners.yml, add the SocksPort line 'tails-launch torrc' prints, and run 'tails-launch jail setup'`,
    };
  if (pool === null)
    return {
      ok: false,
      problem: `no jails pool in listeners.yml: declare jails: { pool: CIDR } in /etc/tails-launch/listeners.yml`,
    };
  const p = parsePool(pool);
  let group: JailGroup;
  switch (profile.isolation) {
    case 'none':
      group = noneGroup(p);
      break;
    case 'app':
    case 'application':
      // One group for every launch of the profile (and identity) by this
      // user: the jail gives it even to a program whose own settings send no credentials.
      group = appGroup(p, appGroupKey(callerUid, profile.name, identity));
      break;
    case 'launch':
    case 'process':
      group = launchGroup(p, randomHex());
      break;
  }
  const stable = group.kind === 'app' ? groupCount(p) / 2 - 1 : null;
  return {
    ok: true,
    jail: {
      listener: listener.name,
      pool,
      group,
      connect: listener.connect,
      socksPort: { address: listener.address, port: listener.jailPort },
      slots: group.kind === 'launch' ? 1 : SLOTS_PER_GROUP,
      collision:
        stable === null
          ? null
          : `1 in ${stable} that another of this user's app groups shares this address; while another user's jails hold it, the next group is taken`,
    },
  };
}
