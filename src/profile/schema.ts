// The configuration format, as zod/mini schemas (zod/mini: the same checks as
// zod at a fraction of the start-up cost; the launcher parses a profile on
// every application start). `npm run schema` publishes these as JSON Schema.
import * as z from 'zod/mini';
import { ENV_NAME_PATTERN, NAME_PATTERN } from '../vocabulary/names';
import { ACKNOWLEDGEMENTS, BACKEND_NAMES, ISOLATION_MODES } from '../vocabulary/modes';

/**
 * SocksPort flags as tor(1) spells them. Isolation flags take a `No` prefix;
 * `SessionGroup=N` joins listeners. Kept to what Tor accepts so that
 * `tails-launch torrc` can print them verbatim.
 */
const TOR_FLAG = new RegExp(
  '^(?:(?:No)?(?:IsolateClientAddr|IsolateSOCKSAuth|IsolateClientProtocol|IsolateDestPort|IsolateDestAddr|KeepAliveIsolateSOCKSAuth)' +
    '|ExtendedErrors|PreferSOCKSNoAuth|OnionTrafficOnly|NoIPv4Traffic|IPv6Traffic|NoDNSRequest|NoOnionTraffic|PreferIPv6' +
    '|CacheIPv4DNS|CacheIPv6DNS|CacheDNS|UseIPv4Cache|UseIPv6Cache|UseDNSCache|PreferIPv6Automap|SessionGroup=\\d+)$',
);

const name = z.string().check(z.regex(NAME_PATTERN, 'a name: lower-case letters, digits, ".", "_" or "-", at most 64'));

/** Who may start a profile: a user name, or %group (as sudoers writes them). */
export const CALLER_PATTERN = /^%?[a-z_][a-z0-9_-]{0,31}\$?$/;
const caller = z.string().check(z.regex(CALLER_PATTERN, 'a user name or %group'));
// torsocks takes numeric addresses only (FACTS §4), and so do we: a host name
// would need a DNS lookup outside Tor before the first byte reaches it.
const ipAddress = z.union([z.ipv4(), z.ipv6()]);
const port = z.int().check(z.minimum(1), z.maximum(65535));
const torFlag = z.string().check(z.regex(TOR_FLAG, 'a Tor SocksPort flag (see tor(1), SocksPort)'));

/**
 * What execve(2) can carry. Every argument and every NAME=value of the
 * environment is a C string, so a NUL byte cannot be passed (Node refuses
 * the whole call: the launch would die with 70 after `validate` said yes),
 * and Linux refuses any one string longer than MAX_ARG_STRLEN (32 pages:
 * 131072 bytes with its NUL on 4 KiB pages, the smallest) with E2BIG.
 * Refused here, so that validate and a launch agree (65, file:line: field).
 * (Names cannot hold `=` or NUL: ENV_NAME_PATTERN allows neither.)
 */
export const MAX_EXEC_STRING_BYTES = 131072 - 1;
const NUL_MESSAGE = 'contains a NUL byte, which execve cannot pass';

/** Why S cannot be given to execve as one string, or null. */
export function execStringProblem(s: string): string | null {
  if (s.includes('\0')) return NUL_MESSAGE;
  if (Buffer.byteLength(s) > MAX_EXEC_STRING_BYTES)
    return `is longer than execve accepts (${MAX_EXEC_STRING_BYTES} bytes)`;
  return null;
}

/** A string that reaches execve (an argument, an environment value). */
const execString = z.string().check(
  z.superRefine((s, ctx) => {
    const problem = execStringProblem(s);
    if (problem) ctx.issues.push({ code: 'custom', message: problem, input: s });
  }),
);

/** A string used as a path or an address: a NUL byte would make every file call throw. */
const noNul = (schema: z.ZodMiniString<string>) =>
  schema.check(z.refine((s) => !s.includes('\0'), 'contains a NUL byte'));

/**
 * What a listener is: one of Tor's SocksPorts (`socks`, the default), or a
 * control port (`control`: on Tails onion-grater's filter, 951) for programs
 * that only ask Tor things (Onion Circuits, Tor Connection) and open no SOCKS
 * session at all.
 */
export const LISTENER_KINDS = ['socks', 'control'] as const;
export type ListenerKind = (typeof LISTENER_KINDS)[number];

export const listenerSchema = z
  .strictObject({
    description: z.optional(z.string()),
    kind: z.optional(z.enum(LISTENER_KINDS)),
    address: ipAddress,
    port,
    flags: z.optional(z.array(torFlag)),
    /** The network namespace from which applications reach this listener. */
    netns: z.optional(name),
    /** Where applications connect, when it differs from address:port (from inside `netns`). */
    client_address: z.optional(ipAddress),
    client_port: z.optional(port),
    /**
     * The SocksPort of this listener's jails (src/jail/), on `address`: the
     * same flags, and Tor isolating by client address. A jailed application
     * reaches it as 127.0.0.1:PORT (or its client address) inside its jail.
     */
    jail_port: z.optional(port),
  })
  .check(
    z.superRefine((l, ctx) => {
      if (l.kind !== 'control') return;
      // A control port has no SOCKS flags, and a jail forwards SOCKS only.
      for (const field of ['flags', 'jail_port'] as const)
        if (l[field] !== undefined)
          ctx.issues.push({
            code: 'custom',
            message: `a control listener (kind: control) has no ${field}: it is not a SocksPort`,
            input: l[field],
            path: [field],
          });
    }),
  );
export type ListenerConfig = z.infer<typeof listenerSchema>;

/** Where `tails-launch doctor` reaches Tor's control port (overridable on its command line). */
export const controlSchema = z.strictObject({
  /** ADDRESS:PORT, [IPv6]:PORT or unix:/path. */
  address: noNul(z.string().check(z.minLength(1))),
  /** Cookie authentication: the file Tor writes (CookieAuthFile). */
  cookie_file: z.optional(noNul(z.string().check(z.minLength(1)))),
  /** Password authentication: a file holding the password (HashedControlPassword). */
  password_file: z.optional(noNul(z.string().check(z.minLength(1)))),
  /**
   * A filtered control port (Tails' onion-grater, 127.0.0.1:951) for the
   * callers other than root, who cannot read Tor's cookie: `circuits` and
   * `new-identity` go there, under its filter, with no credentials.
   */
  filtered_address: z.optional(noNul(z.string().check(z.minLength(1)))),
});
export type ControlConfig = z.infer<typeof controlSchema>;

/**
 * What the user layer may change after all (src/profile/weaken.ts). Honoured
 * only in the administrator's layer (/etc/tails-launch/listeners.yml); an
 * error in any other layer, so that no one can grant it to themselves.
 */
export const USER_OVERRIDES = ['listeners', 'profiles'] as const;
export type UserOverride = (typeof USER_OVERRIDES)[number];

/** An IPv4 network in CIDR notation, a /10 to a /20 (jails: 64 addresses per group, 16 jails of one group at once). */
const jailPool = z.string().check(
  z.regex(/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(1\d|20)$/, 'an IPv4 network, a /10 to a /20 (CIDR)'),
  z.refine(
    (s) =>
      s
        .split('/')[0]!
        .split('.')
        .every((o) => Number(o) <= 255),
    'an IPv4 network (octets 0-255)',
  ),
);

export const jailsSchema = z.strictObject({
  /**
   * The addresses of jails: each jail takes a /30 (its host side, its own),
   * each isolation group a /26 of them, the group's address being the /26's
   * first. Must not overlap any network the machine uses.
   */
  pool: jailPool,
  /** Who may have the privileged entry make a jail (users, %groups; root always may). Absent: root only. */
  callers: z.optional(z.array(caller)),
});
export type JailsConfig = z.infer<typeof jailsSchema>;

/**
 * The host's own firewall holds these users' sockets (Tails' ferm, a Whonix
 * workstation): their launches need no jail and no LD_PRELOAD to stay on Tor.
 * The shipped, admin and --config-dir layers only: a user cannot declare it.
 */
export const hostFirewallSchema = z.strictObject({
  /** What holds them, in one line (explain prints it). */
  description: z.string().check(z.minLength(1), z.maxLength(200)),
  /** Whose sockets it holds: users and %groups. */
  users: z.array(caller).check(z.minLength(1)),
});
export type HostFirewallConfig = z.infer<typeof hostFirewallSchema>;

/** A regular expression onion-grater matches (Python's `re`): one line, and one JavaScript can compile too. */
const controlPattern = z.string().check(
  z.maxLength(500),
  // Printable ASCII: YAML reads some other characters back as others (NEL as a space), and none is needed.
  z.refine((s) => /^[\x20-\x7e]*$/.test(s), 'printable ASCII on one line'),
  z.refine((s) => {
    try {
      new RegExp(s);
      return true;
    } catch {
      return false;
    }
  }, 'a regular expression'),
);
const controlWord = z.string().check(z.regex(/^[A-Z][A-Z0-9_]{0,63}$/, 'a control-port command or event, in capitals'));

/** An onion-grater filter's body (src/tor/onion-grater.ts). */
export const controlFilterSchema = z.strictObject({
  commands: z.optional(z.record(controlWord, z.array(controlPattern).check(z.minLength(1)))),
  confs: z.optional(
    z.record(
      z.string().check(z.regex(/^_{0,2}[A-Za-z][A-Za-z0-9_]{0,63}$/, 'a torrc option name')),
      z.nullable(z.array(controlPattern)),
    ),
  ),
  events: z.optional(z.record(controlWord, z.nullable(z.strictObject({ suppress: z.boolean() })))),
  /** onion-grater's tor-browser-mode: STREAM and CIRC events and circuit-status of the client's own streams only. */
  tor_browser_mode: z.optional(z.boolean()),
});

export const listenersFileSchema = z.strictObject({
  listeners: z.record(name, listenerSchema),
  host_firewall: z.optional(hostFirewallSchema),
  /** Jails (a network namespace per launch): where their addresses come from. */
  jails: z.optional(jailsSchema),
  control: z.optional(controlSchema),
  /** Admin layer only: let the user layer redefine these listeners / weaken these profiles. */
  user_may_override: z.optional(z.array(z.enum(USER_OVERRIDES))),
});
export type ListenersFile = z.infer<typeof listenersFileSchema>;

const envName = z.string().check(z.regex(ENV_NAME_PATTERN, 'an environment variable name'));

/** A subcommand as programs name them (Electrum's are Python identifiers): a caller's word like this is taken for one. */
export const SUBCOMMAND_PATTERN = /^[a-z][a-z0-9_]{0,63}$/;

/** Most permissive first: the user layer may only move right. */
export const CALLER_ARGS = ['any', 'non-options', 'none'] as const;

/** An option of the program's own (`--uri`), as the caller passes it: a value follows it. */
const optionName = z.string().check(z.regex(/^--?[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, 'an option such as --name'));

/**
 * What the caller may add after the profile's arguments: a keyword, exactly
 * one of some argument lists (`one_of`, as Tails' sudoers lists the
 * upgrader's), or only the program's own options, each once with a value
 * (`options`).
 */
export const callerArgsSchema = z.union([
  z.enum(CALLER_ARGS),
  z.strictObject({ one_of: z.array(z.array(execString)).check(z.minLength(1)) }),
  z.strictObject({ options: z.array(optionName).check(z.minLength(1)) }),
]);
export type CallerArgs = z.infer<typeof callerArgsSchema>;

export const SANDBOX_DISPLAYS = ['none', 'wayland', 'x11'] as const;

/** `~/PATH`, an absolute path, or `.` (the working directory); `:ro` at the end makes it read-only. */
export const SANDBOX_FILE_PATTERN = /^(\.|~|~\/[^\0:]+|\/[^\0:]+)(:ro)?$/;

/** A well-known D-Bus name, as xdg-dbus-proxy's --talk takes it (a trailing .* for a prefix). */
const busName = z
  .string()
  .check(
    z.regex(/^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)+(\.\*)?$/, 'a D-Bus name such as org.example.App'),
  );

export const sandboxSchema = z.strictObject({
  /** How it shows windows: none (default), wayland, or x11 (which lets it read and type into every X11 window). */
  display: z.optional(z.enum(SANDBOX_DISPLAYS)),
  /** The accessibility bus, through a filtering proxy (default: on when it has a display). */
  a11y: z.optional(z.boolean()),
  /** The user's PulseAudio/PipeWire socket (a sound server can be asked to connect elsewhere: off by default). */
  sound: z.optional(z.boolean()),
  /** What it sees of the user's files, read-write unless `:ro`; everything else of $HOME is an empty tmpfs. */
  files: z.optional(
    z.array(z.string().check(z.regex(SANDBOX_FILE_PATTERN, "'~/PATH', '/PATH' or '.', with ':ro' for read-only"))),
  ),
  /** Session-bus names it may talk to, through a filtering proxy (absent: no session bus at all). */
  session_bus: z.optional(z.array(busName)),
  /**
   * Descriptors above 2 that root's own launch hands into the jail as it
   * opened them (Tails' tca wrapper: its state file and portal socket, 3
   * and 4). Every other one is closed, and any caller's but root's (sudo
   * closes them); a directory among them is refused.
   */
  inherit_fds: z.optional(z.array(z.int().check(z.minimum(3), z.maximum(1023))).check(z.maxLength(8))),
});
export type SandboxConfig = z.infer<typeof sandboxSchema>;

export const profileFileSchema = z.strictObject({
  description: z.optional(z.string()),
  /** Another profile whose fields this one starts from. */
  extends: z.optional(name),
  /** Absolute path, or a name looked up on PATH. Absent: the command is the first argument. */
  command: z.optional(
    z.string().check(
      z.minLength(1),
      z.refine((c) => !c.includes('\0'), 'contains a NUL byte'),
    ),
  ),
  /** Arguments put before the user's own. */
  args: z.optional(z.array(execString)),
  /**
   * What the caller may add after the profile's arguments: any argument
   * (default), only arguments that do not start with '-' (Tails' Tor Browser
   * takes URLs, never options: #19595), or nothing.
   */
  caller_args: z.optional(callerArgsSchema),
  /**
   * Who may start it (users, %groups; root always may). Absent: anyone for a
   * profile that runs as its caller, root only for one with a placement
   * (netns, user): the privileged entry runs it for exactly these callers
   * (`tails-launch grants` writes them into the sudoers drop-in).
   */
  callers: z.optional(z.array(caller)),
  /**
   * Desktop entries (ID.desktop) and session D-Bus services (NAME.service)
   * that start this profile's application through a program of another name
   * (a wrapper script): `tails-launch desktop` rewrites them for this profile
   * too. Files whose Exec runs `command` itself are found without this.
   */
  desktop_files: z.optional(
    z.array(
      z
        .string()
        .check(
          z.regex(
            /^[A-Za-z0-9][A-Za-z0-9._+@-]{0,250}\.(desktop|service)$/,
            'a file name ending in .desktop or .service',
          ),
        ),
    ),
  ),
  listener: z.optional(name),
  isolation: z.optional(z.enum(ISOLATION_MODES)),
  backend: z.optional(z.enum(BACKEND_NAMES)),
  /** Weaknesses of the backend this profile accepts knowingly (proxychains: `udp-leak`). */
  acknowledge: z.optional(z.array(z.enum(ACKNOWLEDGEMENTS))),
  /**
   * backend own-setting: how the application is told its listener on each
   * launch. Arguments (put before `args`) and variables whose values may hold
   * {socks.address}, {socks.host}, {socks.port}, {socks.username},
   * {socks.password} and {socks.url} (src/backends/own-setting.ts).
   */
  proxy: z.optional(
    z.strictObject({
      args: z.optional(z.array(execString)),
      env: z.optional(z.record(envName, execString)),
      /**
       * A program whose parser takes the proxy options only after some of
       * its subcommands (Electrum: `electrum daemon --proxy ...`): the
       * arguments go right after the first caller argument that is one of
       * `with_proxy`; with no subcommand, after `default`, put first.
       */
      /**
       * The program's options that set its proxy (Electrum: --proxy, -p,
       * --proxyuser, --proxypassword): the caller may give none of them (nor
       * `--opt=V`, an abbreviation of a long one, or a short one with its
       * value attached), whose value would replace the profile's.
       */
      options: z.optional(
        z.array(
          z.string().check(z.regex(/^(-[A-Za-z0-9]|--[A-Za-z0-9][A-Za-z0-9-]*)$/, 'an option such as -p or --proxy')),
        ),
      ),
      subcommands: z.optional(
        z.strictObject({
          with_proxy: z.array(z.string().check(z.regex(SUBCOMMAND_PATTERN, 'a subcommand name'))).check(z.minLength(1)),
          default: z.string().check(z.regex(SUBCOMMAND_PATTERN, 'a subcommand name')),
        }),
      ),
    }),
  ),
  env: z.optional(
    z.strictObject({
      set: z.optional(
        z.record(envName, execString).check(
          // The kernel's bound is on the whole NAME=value string.
          z.superRefine((set, ctx) => {
            for (const [variable, value] of Object.entries(set)) {
              if (Buffer.byteLength(variable) + 1 + Buffer.byteLength(value) > MAX_EXEC_STRING_BYTES) {
                ctx.issues.push({
                  code: 'custom',
                  message: `NAME=value is longer than execve accepts (${MAX_EXEC_STRING_BYTES} bytes)`,
                  input: value,
                  path: [variable],
                });
              }
            }
          }),
        ),
      ),
      unset: z.optional(z.array(envName)),
      /**
       * An allow-list: only these inherited variables reach the application
       * (plus what the profile and the backend set), as Tails' run-with-env
       * does for Tor Browser. A child profile's list replaces its parent's.
       */
      keep: z.optional(z.array(envName)),
    }),
  ),
  /** Seconds to wait for Tor's SocksPort before giving up (default 0: check once). */
  wait_for_tor: z.optional(z.int().check(z.minimum(0), z.maximum(600))),
  /** Placement: run inside this network namespace. */
  netns: z.optional(name),
  /**
   * Run every launch in a network namespace made for it, whose only way out
   * is the listener's jail SocksPort; Tor isolates by the jail's address.
   */
  jail: z.optional(z.boolean()),
  /**
   * `host`: no jail can run this program (it needs privileges a namespace
   * takes away: htpdate sets the clock as root; or connections a jail's one
   * way out cannot carry: Tor reaching OnionShare's web server), so only a
   * declared host firewall may hold it; elsewhere it is refused.
   */
  guard: z.optional(z.literal('host')),
  /**
   * The account whose sockets carry the program's connections, where it
   * lowers itself to one (htpdate: started as root, connects as htp): the
   * host firewall is looked up for it. The shipped and admin layers only.
   */
  connects_as: z.optional(z.string().check(z.regex(/^[a-z_][a-z0-9_-]*\$?$/, 'a user name'))),
  /**
   * The program makes its own sandbox (`flatpak run`): in its network
   * namespace (netns) the launcher adds no bubblewrap of its own, which
   * could not nest (the launcher's forbids user namespaces inside), and
   * explain names Flatpak as what holds the session. Only with netns.
   */
  own_sandbox: z.optional(z.enum(['flatpak'])),
  /** What a jail lets the program reach of the session (src/jail/sandbox.ts); the whole block replaces a parent's. */
  sandbox: z.optional(sandboxSchema),
  /**
   * What the program asks of Tor's control port, as an onion-grater filter
   * (src/tor/onion-grater.ts): `tails-launch onion-grater PROFILE` prints the
   * file the package ships for Tails. Needs a netns (onion-grater tells
   * namespaces apart by address). The whole block replaces a parent's.
   */
  control_filter: z.optional(controlFilterSchema),
  /** Placement: run as this user. */
  user: z.optional(z.string().check(z.regex(/^[a-z_][a-z0-9_-]*\$?$/, 'a user name'))),
});
export type ProfileFile = z.infer<typeof profileFileSchema>;
