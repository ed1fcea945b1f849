// A profile's `sandbox:` block with its defaults: what a jail lets the
// program reach of the session. The jail's arguments are src/jail/sandbox.ts'.
import type { SandboxConfig } from './schema';

export interface ResolvedSandbox {
  display: SandboxConfig['display'] & string;
  a11y: boolean;
  sound: boolean;
  /** As written: '~/PATH', '/PATH' or '.', maybe ending in ':ro'. */
  files: string[];
  /** Names it may talk to on the session bus through the proxy; null: no session bus. */
  sessionBus: string[] | null;
  /** Descriptors above 2 root's own launch hands into the jail. */
  inheritFds: number[];
}

/** An absent block: nothing of the session. */
export function resolveSandbox(s: SandboxConfig | undefined): ResolvedSandbox {
  const display = s?.display ?? 'none';
  return {
    display,
    a11y: s?.a11y ?? display !== 'none',
    sound: s?.sound ?? false,
    files: s?.files ?? [],
    sessionBus: s?.session_bus ?? null,
    inheritFds: s?.inherit_fds ?? [],
  };
}
