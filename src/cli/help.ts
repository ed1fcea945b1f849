export const HELP = `Usage: tails-launch [OPTIONS] PROFILE [--] [ARGS...]
       tails-launch [OPTIONS] run PROFILE [--] [ARGS...]
       tails-launch [OPTIONS] default -- COMMAND [ARGS...]
       tails-launch [OPTIONS] explain PROFILE [--json] [-- ARGS...]
       tails-launch [OPTIONS] list [--json | --names]
       tails-launch [OPTIONS] validate [FILE...]
       tails-launch [OPTIONS] torrc [--check TORRC]
       tails-launch [OPTIONS] onion-grater PROFILE
       tails-launch [OPTIONS] doctor [PROFILE...] [--json] [--control ADDR:PORT]
                    [--control-cookie FILE] [--control-password-file FILE]
       tails-launch [OPTIONS] circuits [PROFILE...] [--json] [--watch] [--control ...]
       tails-launch [OPTIONS] new-identity PROFILE [--identity NAME] [--json] [--control ...]
       tails-launch [--config-dir DIR] netns setup|teardown NAME
       tails-launch [--config-dir DIR] jail setup|teardown
       tails-launch [--config-dir DIR] grants [--write | --check]
       tails-launch [--config-dir DIR] desktop PROFILE [--entry FILE] [--dbus-service]
       tails-launch [--config-dir DIR] desktop --install|--remove [--user|--system]
                    (--all | PROFILE...)

Runs an application through Tor with the SOCKS listener, isolation group and
backend of its profile, after checking that Tor answers. tails-launch then
replaces itself with the application; it never starts one outside Tor.

Options (before PROFILE, on either side of 'run', anywhere before '--' for
the other commands; each at most once; everything after PROFILE goes to the
application; --OPTION=VALUE for a value that starts with '-'):
  --config-dir DIR      read only DIR (listeners.yml, profiles/), not the
                        shipped, admin and user layers
  --identity NAME       fold NAME into the isolation group: instances with
                        different identities never share a circuit
  --wait-for-tor SECS   keep trying Tor's SOCKS listener for up to SECS seconds
  --jail                run this launch in a network namespace of its own whose
                        only way out is the listener's jail SocksPort (needs
                        'jail setup'; Tor isolates it by its address)
  -h, --help            show this help
  -V, --version         show the version

torrc prints the SocksPort lines Tor needs for every listener (and the jail
SocksPort of each listener with a jail_port), or with --check compares a
torrc with them by effect. doctor checks the running Tor (control port,
bootstrap, every listener's flags and SOCKS5 handshake, jail SocksPorts
alike; as root, the jails' host side) and what each profile needs; both exit
1 when something is wrong. onion-grater prints the filter (Tails'
/etc/onion-grater.d/) that lets a profile's namespace ask Tor's control port
what its control_filter lists, and nothing else.

circuits lists Tor's live circuits grouped by what launched them: the
profile, identity and isolation of the groups tails-launch made (from the
credentials Tor reports), Tor Browser's by site, the rest by listener or as
not launched by tails-launch; each with its relays, age and streams. --watch
redraws it as Tor's events come, until interrupted. new-identity closes the
circuits of PROFILE's group (and no other), and for isolation app renews the
group's key for the caller's next launches. Both use doctor's control port
options, or as a user other than root the configuration's filtered_address
(Tails' onion-grater).

A profile with netns or user runs its application in that network namespace
or as that user; a jail (jail: true, or --jail) in a namespace made for the
launch, gone with its last process. The privileged entry
/usr/lib/tails-launch/place (a small C program, never Node) applies it:
root runs it directly, anyone else through 'sudo -n', for the profiles whose
callers name them (jails: callers for --jail). It then runs the checks as
the application's account, where it will run, and executes the application.

grants prints the sudoers drop-in made from the shipped and admin profiles:
each profile's grant (callers, caller_args, placement) as the entry reads it,
and the sudo rules made from it. grants --write (root) installs it as
/etc/sudoers.d/tails-launch after visudo accepts it; run it after changing
/etc/tails-launch (a launch whose grant is out of date is refused). grants
--check exits 1 when the installed one is not current.

netns setup NAME (root only) makes network namespace NAME as Tails does for
Tor Browser, from the listeners that declare 'netns: NAME': a veth pair
veth-NAME ADDRESS/30 here, veth0 ADDRESS+1/30 inside, each listener's
client_address:client_port inside redirected to its address:port, and a
firewall inside that lets nothing else out. Run again, it fixes what is
missing and re-applies the firewall. netns teardown NAME removes it (and
succeeds when it is gone). Either exits 1 when ip, sysctl or nft fails.

jail setup (root only) installs the host side of jails, from the listeners
that declare a jail_port and the jails.pool of the shipped and admin
layers: one nftables table (inet tails_launch_jails) that leads each jail
port, from a jail's link (tlj*), to that listener's jail SocksPort with the
jail's isolation group as source, and drops everything else from jails, IPv6
included; nothing is forwarded to or from a jail; and the route POOL dev lo.
Run again, it replaces the table atomically. jail teardown removes both (and
succeeds when they are gone). Either exits 1 when nft or ip fails.

desktop PROFILE prints the desktop entry of PROFILE's application (found in
$XDG_DATA_DIRS, default /usr/local/share:/usr/share: an entry whose Exec runs
the profile's command, or a file its desktop_files names) with every Exec
line going through 'tails-launch PROFILE --', field codes kept, TryExec
naming the real program and D-Bus activation off; --dbus-service prints its
session D-Bus service the same way, --entry FILE picks one of several.
desktop --install writes them for PROFILE... or --all: as root (--system)
in the applications' own places, whose files dpkg-divert keeps aside (removing
the package puts them back); otherwise (--user) in $XDG_DATA_HOME
(~/.local/share). Run again, it changes nothing. When any file cannot go
through the launcher, nothing is written (65). desktop --remove takes them back.

Exit status: the application's own once it runs; 1 torrc --check, doctor or
grants --check found a problem, or a tool failed; 64 usage error, 65 invalid
configuration, 66 unknown profile, 67 the profile's user does not exist,
69 Tor not reachable, 70 internal error, 72 the profile's network namespace
does not exist, 77 not permitted (sudo refuses or asks for a password, the
privileged entry refuses: the profile's callers do not name the caller;
netns, jail or grants --write as non-root; koffi or XDG_RUNTIME_DIR missing
where the backend needs them), 78 the program would bypass an LD_PRELOAD
wrapper (static, Go, setuid, capabilities), 126 cannot execute, 127 not found.
`;
