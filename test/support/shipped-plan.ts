// The plan of a shipped profile, computed by the pure pipeline from the
// repository's own listeners.yml and profiles/, with the outside world
// (PATH lookups, randomness, the exec method, the accounts) given as plain
// inputs. Used by the unit tests of the shipped profiles.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildPlan } from '../../src/plan/build-plan';
import type { Plan } from '../../src/plan/types';
import { loadListeners } from '../../src/profile/load';
import { resolveProfile } from '../../src/profile/resolve';
import type { Layer } from '../../src/profile/layers';
import { decidePlacement } from '../../src/placement/decide';
import type { Account } from '../../src/placement/account';
import { decideGuard } from '../../src/jail/guard';

/** The accounts of a Tails system, as the user database would give them (the lookups are tested on real ones elsewhere). */
export const ACCOUNTS: Record<string, Account> = {
  amnesia: { name: 'amnesia', uid: 1000, gid: 1000, groups: [1000, 998], home: '/home/amnesia', shell: '/bin/bash' },
  'tails-iuk-get-target-file': {
    name: 'tails-iuk-get-target-file',
    uid: 990,
    gid: 990,
    groups: [990],
    home: '/nonexistent',
    shell: '/usr/sbin/nologin',
  },
  'tails-upgrade-frontend': {
    name: 'tails-upgrade-frontend',
    uid: 991,
    gid: 991,
    groups: [991, 998],
    home: '/nonexistent',
    shell: '/usr/sbin/nologin',
  },
};

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const SHIPPED: Layer[] = [{ name: 'shipped', dir: ROOT }];
export const NAMES = readdirSync(join(ROOT, 'profiles'))
  .filter((f) => f.endsWith('.yml'))
  .map((f) => f.replace(/\.yml$/, ''))
  .sort();

export async function planOf(
  name: string,
  args: string[] = [],
  identity: string | null = null,
  environment: Record<string, string> = {},
  /** tails: Tails' ferm holds amnesia and the service accounts (host_firewall); debian: nothing does. */
  world: 'tails' | 'debian' = 'tails',
): Promise<Plan> {
  return (await launchOf(name, args, identity, environment, world)).plan;
}

/** The whole planned launch (the plan, and the environment execve gets); JAIL: --jail. */
export async function launchOf(
  name: string,
  args: string[] = [],
  identity: string | null = null,
  environment: Record<string, string> = {},
  world: 'tails' | 'debian' = 'tails',
  jail = false,
  /**
   * Who launches (default: amnesia, uid 1000; 0: root's own launch), with
   * which descriptors open, and whether the placed account may make user
   * namespaces (a namespace's launch then holds the session too).
   */
  caller: { uid: number; fds: number[]; session?: boolean } = { uid: 1000, fds: [0, 1, 2] },
): Promise<ReturnType<typeof buildPlan>> {
  const profile = await resolveProfile(SHIPPED, await loadListeners(SHIPPED), name);
  const decided = decideGuard({
    profile: name,
    backend: profile.backend,
    jailAsked: profile.jail || jail,
    netns: profile.placement.netns,
    hostOnly: profile.hostOnly,
    host: world === 'tails' ? { description: "Tails' ferm" } : null,
    rootJail: false,
    userNamespaces: null,
    ...(caller.session ? { sessionNamespaces: null } : {}),
  });
  if (!decided.ok) throw new Error(decided.problem);
  // Launched by amnesia (uid 1000), unprivileged, as on Tails.
  const placement = decidePlacement({
    profile: name,
    placement: profile.placement,
    uid: caller.uid,
    entryCaller: null,
    named: profile.placement.user === null ? null : (ACCOUNTS[profile.placement.user] ?? null),
    caller: caller.uid === 0 ? null : ACCOUNTS.amnesia!,
    notPassable: [],
  });
  return buildPlan({
    profile,
    placement,
    identity,
    args: profile.command === null && args.length === 0 ? ['/usr/bin/true'] : args,
    environment: { PATH: '/usr/bin:/bin', HOME: '/home/amnesia', ...environment },
    cwd: '/home/amnesia/Downloads',
    fds: caller.fds,
    execMethod: { method: 'execve', via: 'koffi' },
    randomHex: () => '0123456789abcdef0123456789abcdef',
    findExecutable: (command) => ({ status: 'ok', path: command.startsWith('/') ? command : `/usr/bin/${command}` }),
    // Every program is taken to be a native, dynamically linked ELF: what is followed is tested on real files elsewhere.
    followProgram: (path, argv) => ({ ok: true, file: path, argv, chain: [path] }),
    runtimeDir: '/run/user/1000',
    guard: decided.guard,
    sandboxFacts: { a11yBus: 'unix:path=/run/user/1000/at-spi/bus_0', launchKey: 'feedfacefeedface' },
  });
}
