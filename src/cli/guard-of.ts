// A profile's guard for this caller (src/jail/guard.ts decides; this reads
// what it decides from): the host firewall the system layers declare, whether
// root jails are configured, whether this process may make user namespaces.
// Shared by the launch and `list`, so that both say the same.
import { accountNamed, accountOfUid, groupName } from '../placement/account';
import { isCaller } from '../profile/caller-args';
import type { Layer } from '../profile/layers';
import { loadHostFirewall } from '../profile/load';
import type { ParsedCache } from '../profile/parsed-cache';
import type { ResolvedProfile } from '../profile/resolve';
import type { JailsConfig } from '../profile/schema';
import { decideGuard, type GuardDecision } from '../jail/guard';
import { userNamespaceProblem } from '../jail/user-namespaces';

/** The firewall the system layers declare, if it holds ACCOUNT_UID's or the profile's user's sockets. */
async function hostHolding(
  layers: Layer[],
  cache: ParsedCache,
  profile: ResolvedProfile,
  callerUid: number,
): Promise<{ description: string } | null> {
  const declared = await loadHostFirewall(layers, cache);
  if (declared === null) return null;
  // The account whose sockets it uses: the one it lowers itself to, its placement's, or the caller's.
  const named = profile.connectsAs ?? profile.placement.user;
  const account = named !== null ? accountNamed(named) : accountOfUid(callerUid);
  if (account === null) return null;
  const groups = account.groups.map(groupName).filter((g): g is string => g !== null);
  return isCaller(declared.users, account.name, account.uid, groups) ? { description: declared.description } : null;
}

/** Only what the decision needs is looked up: a torsocks launch reads nothing more. */
export async function guardOf(
  profile: ResolvedProfile,
  jailAsked: boolean,
  jails: JailsConfig | null,
  layers: Layer[],
  cache: ParsedCache,
  callerUid: number,
): Promise<GuardDecision> {
  const preload = profile.backend === 'torsocks' || profile.backend === 'proxychains';
  const unplaced = profile.placement.netns === null;
  const host =
    (!preload || profile.hostOnly) && !jailAsked && unplaced
      ? await hostHolding(layers, cache, profile, callerUid)
      : null;
  const rootJail = jailAsked && jails?.pool != null && profile.listener.jailPort !== null;
  const userJail = !rootJail && unplaced && !profile.hostOnly && (jailAsked || (!preload && host === null));
  // A namespace root made holds the session too where the program's account may make user namespaces.
  const rootMade = !unplaced || rootJail;
  const appUid = profile.placement.user !== null ? (accountNamed(profile.placement.user)?.uid ?? -1) : callerUid;
  const sessionNamespaces = !rootMade
    ? undefined
    : appUid === 0
      ? 'the program runs as root, which bubblewrap cannot confine without capabilities'
      : appUid < 0
        ? 'its account does not exist'
        : userNamespaceProblem(appUid);
  return decideGuard({
    ownSandbox: profile.ownSandbox,
    sessionNamespaces,
    profile: profile.name,
    backend: profile.backend,
    jailAsked,
    hostOnly: profile.hostOnly,
    netns: profile.placement.netns,
    host,
    rootJail,
    userNamespaces: userJail ? userNamespaceProblem(process.getuid?.() ?? -1) : null,
  });
}
