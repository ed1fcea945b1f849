// Exit statuses of tails-launch itself. Once execve succeeds the status is the
// application's own; these are only ever seen when nothing was launched.
// 64-78 follow sysexits.h so that scripts can tell the cases apart; 126/127
// follow the shell's convention for "cannot execute" and "not found".
export const EXIT = {
  /** `torrc --check` or `doctor` found a problem (each is reported on its own line). */
  checkFailed: 1,
  /** Bad command line: unknown option, missing profile name, bad --identity. */
  usage: 64,
  /** A configuration file is invalid (names file, line and field). */
  config: 65,
  /** No profile of that name in any configuration layer. */
  unknownProfile: 66,
  /** The profile's user (placement) does not exist (EX_NOUSER). */
  noUser: 67,
  /** The Tor SOCKS listener did not answer a SOCKS5 handshake. */
  torUnreachable: 69,
  /** A bug in tails-launch: reported in one line, never a stack trace. */
  internal: 70,
  /** The profile's network namespace (placement) does not exist (EX_OSFILE: /run/netns/NAME). */
  noNamespace: 72,
  /**
   * Not permitted (EX_NOPERM): sudo refuses the caller or asks for a
   * password, the privileged entry refuses the caller or the profile, or a
   * tool the launch needs (koffi, XDG_RUNTIME_DIR) is missing.
   */
  refused: 77,
  /**
   * The program would bypass an LD_PRELOAD wrapper (torsocks, proxychains):
   * a static or Go binary, or setuid/setgid.
   */
  wouldBypass: 78,
  /** The application or the wrapper exists but cannot be executed. */
  cannotExecute: 126,
  /** The application or the wrapper was not found. */
  notFound: 127,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];
