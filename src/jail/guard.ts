// What physically keeps a launch's sockets on Tor, decided once, as plan
// data (pure): the wrapper's library (preload), a namespace (jail), or the
// host's own firewall (host). A program that connects by itself (backends
// own-setting and env) is jailed unless the administrator says the host holds
// it; where no guard can be had the launch is refused, one line.
import type { BackendName } from '../vocabulary/modes';

export type GuardKind = 'preload' | 'jail' | 'host';

/**
 * preload: torsocks' or proxychains' library; netns: a namespace root made
 * (netns setup, Tails' tbb); root: a jail the privileged entry makes for the
 * launch (address isolation); user: a jail the launcher makes as the user
 * (user namespaces, no root); host: the firewall the administrator declared.
 */
export type GuardMechanism = 'torsocks' | 'proxychains' | 'netns' | 'root' | 'user' | 'host';

export interface Guard {
  kind: GuardKind;
  by: GuardMechanism;
  /** One line: what holds this launch. */
  description: string;
  /** What it holds, and what it does not. */
  holds: string;
  misses: string;
  /** The session is held too (bubblewrap: mount, PID and user namespaces; the profile's sandbox grants only). */
  session: boolean;
}

export interface GuardInput {
  profile: string;
  backend: BackendName;
  /** The profile's `jail: true`, or --jail. */
  jailAsked: boolean;
  /** The profile's `guard: host`: no jail can run its program. */
  hostOnly?: boolean;
  netns: string | null;
  /** The firewall the system layers declare for the account the program runs as; null: none. */
  host: { description: string } | null;
  /** The administrator configured root-made jails for this listener (jails.pool and its jail_port). */
  rootJail: boolean;
  /** Null: this process may make user namespaces; else why not. */
  userNamespaces: string | null;
  /**
   * A namespace root made (netns, a root jail): whether the account the
   * program runs as may make user namespaces (null: yes, the session is held
   * in it too), or why not; absent: not known here (the entry's preflight decides).
   */
  sessionNamespaces?: string | null;
  /** The program makes its own sandbox (profile's own_sandbox): it, not the launcher, holds the session. */
  ownSandbox?: 'flatpak' | null;
}

/** A refusal: `config` for a profile that can never be launched so, `refused` for what this machine lacks. */
export type GuardDecision = { ok: true; guard: Guard } | { ok: false; problem: string; status: 'config' | 'refused' };

const SESSION =
  'its own mount, PID, IPC and user namespaces (bubblewrap): no session bus, systemd --user, sound server or X11 unless the profile grants them, no other process of the user to ptrace';

const HOLDS: Record<GuardMechanism, { holds: string; misses: string }> = {
  torsocks: {
    holds: 'every TCP connection of a dynamically linked program and its children; UDP and IPv6 refused',
    misses:
      'a static or Go program, raw syscalls, a child that clears LD_PRELOAD, what it asks other programs (the session bus, systemd --user) to do',
  },
  proxychains: {
    holds: 'TCP connections of a dynamically linked program and its children',
    misses:
      'UDP (acknowledged), a static or Go program, raw syscalls, a child that clears LD_PRELOAD, what it asks other programs to do',
  },
  netns: {
    holds: "every socket: the namespace's one way out is its listener",
    misses:
      'what it asks programs outside to do over Unix sockets (the session bus, systemd --user), unless the profile is also sandboxed',
  },
  root: {
    holds:
      "every socket, whatever the program (static, Go, setuid): the jail's one way out is its listener; Tor isolates by the jail's address",
    misses: 'what it asks programs outside to do over Unix sockets (the session bus, systemd --user, X11)',
  },
  user: {
    holds: `every socket, whatever the program: the jail's one way out is a forwarder to its listener; and ${SESSION}`,
    misses:
      'what the profile grants (its sandbox: display, a11y, sound, files, session-bus names); Tor tells launches apart only by SOCKS credentials (every jail reaches Tor from 127.0.0.1)',
  },
  host: {
    holds: "what the administrator's firewall holds for this account",
    misses: 'nothing is checked at launch: doctor checks what it can of the declaration',
  },
};

const SESSION_HELD =
  ", and the session: its own mount, PID and user namespaces (bubblewrap), the profile's sandbox grants only";

function guard(kind: GuardKind, by: GuardMechanism, description: string, session = by === 'user'): GuardDecision {
  const h = HOLDS[by];
  return session && by !== 'user'
    ? {
        ok: true,
        guard: {
          kind,
          by,
          description,
          holds: h.holds + SESSION_HELD,
          misses: 'what the profile grants (its sandbox)',
          session,
        },
      }
    : { ok: true, guard: { kind, by, description, ...h, session } };
}

export function decideGuard(g: GuardInput): GuardDecision {
  if (g.netns !== null && g.jailAsked)
    return {
      ok: false,
      status: 'config',
      problem: `profile '${g.profile}' has netns ${g.netns}: a jail is a namespace of its own, one or the other`,
    };
  if (g.hostOnly && g.netns === null && !g.jailAsked) {
    if (g.host !== null) return guard('host', 'host', `the host's firewall: ${g.host.description}`);
    return {
      ok: false,
      status: 'refused',
      problem: `no guard for profile '${g.profile}': no jail can run its program (guard: host), and no host firewall is declared for its user: declare host_firewall in /etc/tails-launch/listeners.yml where a firewall holds it (Tails' ferm)`,
    };
  }
  const session = g.sessionNamespaces === null;
  if (g.netns !== null && g.ownSandbox)
    return {
      ok: true,
      guard: {
        kind: 'jail',
        by: 'netns',
        description: `network namespace '${g.netns}', made by root (netns setup); the session: the program's own sandbox (${g.ownSandbox})`,
        holds: `${HOLDS.netns.holds}; the session as ${g.ownSandbox} confines it (the application's permissions and the system's overrides), not the launcher`,
        misses: `what ${g.ownSandbox}'s sandbox lets it reach (its permissions: sockets, files, session-bus names), which the launcher neither sets nor checks`,
        session: false,
      },
    };
  if (g.netns !== null)
    return guard('jail', 'netns', `network namespace '${g.netns}', made by root (netns setup)`, session);
  const preload = g.backend === 'torsocks' || g.backend === 'proxychains';
  const mustJail = g.jailAsked || (!preload && g.host === null);
  if (!mustJail) {
    // The library is what the launcher relies on for these (a firewall may hold them too: it is not looked up).
    if (g.backend === 'torsocks') return guard('preload', 'torsocks', "torsocks' library (LD_PRELOAD)");
    if (g.backend === 'proxychains') return guard('preload', 'proxychains', "proxychains' library (LD_PRELOAD)");
    return guard('host', 'host', `the host's firewall: ${g.host!.description}`);
  }
  if (g.rootJail) return guard('jail', 'root', 'a jail made for this launch by the privileged entry (root)', session);
  if (g.userNamespaces === null)
    return guard('jail', 'user', 'a jail made for this launch by the launcher itself (user namespaces, bubblewrap)');
  const why = g.jailAsked
    ? `a jail was asked for`
    : `its program connects by itself (backend ${g.backend}), so only a jail or the host's firewall can hold it`;
  return {
    ok: false,
    status: 'refused',
    problem: `no guard for profile '${g.profile}': ${why}, and no jail can be made here (${g.userNamespaces}; no root jail is configured): turn user namespaces on (sysctl user.max_user_namespaces, and kernel.unprivileged_userns_clone where the kernel has it), or ask the administrator to declare jails or host_firewall in /etc/tails-launch/listeners.yml`,
  };
}
