// Guards for pure plan tests: what a Tails system declares (its ferm holds the
// user's sockets), so a test of another concern plans the program unjailed.
import { decideGuard, type Guard } from '../../src/jail/guard';

export function hostGuard(profile: string): Guard {
  const d = decideGuard({
    profile,
    backend: 'own-setting',
    jailAsked: false,
    netns: null,
    host: { description: "Tails' ferm (a test's declaration)" },
    rootJail: false,
    userNamespaces: null,
  });
  if (!d.ok) throw new Error(d.problem);
  return d.guard;
}
