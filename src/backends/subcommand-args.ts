// Where an own-setting program's proxy arguments go among its arguments.
// Most programs take them anywhere: before the profile's and the caller's.
// Some parse options per subcommand: Electrum (commands.py get_parser) takes
// --proxy, --proxyuser and --proxypassword only after `gui` or `daemon`
// (`electrum --proxy X daemon` is a usage error), runs `gui` when the caller
// names no subcommand, and its other subcommands (getinfo, ...) take no proxy
// at all: they only talk to its daemon, over a Unix socket.

/** A profile's `proxy.subcommands`. */
export interface ProxySubcommands {
  /** The subcommands whose options include the proxy's. */
  withProxy: string[];
  /** What the program runs when the caller names no subcommand. */
  default: string;
}

/** A caller's word taken for a subcommand (schema's SUBCOMMAND_PATTERN, repeated here below it). */
const SUBCOMMAND = /^[a-z][a-z0-9_]{0,63}$/;

export interface ArrangedArgs {
  args: string[];
  /** Why the proxy arguments were left out, or null (explain prints it). */
  note: string | null;
}

/**
 * The program's arguments: the proxy's, the profile's and the caller's, in
 * the order its parser takes them. Pure.
 *  - no `subcommands`: proxy, profile, caller;
 *  - the caller names one of `withProxy`: profile, the caller's up to and
 *    including it, proxy, the rest;
 *  - the caller's first word is another subcommand: profile, caller (the
 *    subcommand takes no proxy; it talks to the program's daemon);
 *  - otherwise (nothing, an option, a URI): profile, `default`, proxy, caller.
 */
export function arrangeArgs(
  subcommands: ProxySubcommands | null,
  proxy: string[],
  profile: string[],
  caller: string[],
): ArrangedArgs {
  if (subcommands === null) return { args: [...proxy, ...profile, ...caller], note: null };
  const at = caller.findIndex((a) => subcommands.withProxy.includes(a));
  if (at >= 0) return { args: [...profile, ...caller.slice(0, at + 1), ...proxy, ...caller.slice(at + 1)], note: null };
  const first = caller[0];
  if (first !== undefined && SUBCOMMAND.test(first))
    return {
      args: [...profile, ...caller],
      note: `'${first}' takes no proxy arguments (only ${subcommands.withProxy.join(', ')} do): it only talks to the program's daemon, which its own launch told its listener`,
    };
  return { args: [...profile, subcommands.default, ...proxy, ...caller], note: null };
}
