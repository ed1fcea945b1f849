export const HELP = `Usage: tails-launch [OPTIONS] PROFILE [--] [ARGS...]
       tails-launch [OPTIONS] run PROFILE [--] [ARGS...]
       tails-launch [OPTIONS] default -- COMMAND [ARGS...]
       tails-launch [OPTIONS] explain PROFILE [--json] [-- ARGS...]
       tails-launch [OPTIONS] list [--json]
       tails-launch [OPTIONS] validate [FILE...]

Runs an application through Tor with the SOCKS listener, isolation group and
wrapper of its profile, after checking that Tor answers. tails-launch then
replaces itself with the application; it never starts one outside Tor.

Options (before PROFILE; everything after PROFILE goes to the application):
  --config-dir DIR      read only DIR (listeners.yml, profiles/), not the
                        shipped, admin and user layers
  --identity NAME       fold NAME into the isolation group: instances with
                        different identities never share a circuit
  --wait-for-tor SECS   keep trying Tor's SOCKS listener for up to SECS seconds
  -h, --help            show this help
  -V, --version         show the version

Exit status: the application's own once it runs; 64 usage error, 65 invalid
configuration, 66 unknown profile, 69 Tor not reachable, 70 internal error,
77 launch refused (placement not supported), 78 the program would bypass
an LD_PRELOAD wrapper (static, Go, setuid), 126 cannot execute, 127 not found.
`;
