// Where the LD_PRELOAD backends' libraries are. Fixed when the launcher is
// built (scripts/build.mjs, from DEB_HOST_MULTIARCH in the Debian build),
// never looked up on a PATH or in a variable the caller or a profile controls:
// a fake `torsocks` earlier on PATH (`exec "$@"`) once replaced the wrapper.
//
// tails-launch sets LD_PRELOAD to these libraries itself instead of exec'ing
// the `torsocks` script or the `proxychains4` binary. Those wrappers only set
// the same variables and LD_PRELOAD, and then exec the program BY NAME again
// (`which "$1"`, execvp), which reopens what the preflight closed: the program
// could be swapped after it was inspected, or found on another PATH. The
// torsocks script also skips its library when LD_PRELOAD merely contains its
// path as a substring. Going without them, the launcher execs exactly the file
// it inspected (see preflight/resolve-program.ts).

/** Debian's multiarch triplet of the build (e.g. x86_64-linux-gnu); set by scripts/build.mjs. */
declare const __MULTIARCH__: string;
const MULTIARCH = typeof __MULTIARCH__ === 'string' ? __MULTIARCH__ : 'x86_64-linux-gnu';

/** Debian torsocks (2.4): the library its /usr/bin/torsocks script preloads. */
export const TORSOCKS_LIBRARY = `/usr/lib/${MULTIARCH}/torsocks/libtorsocks.so`;
/** Debian libproxychains4 (4.16): the library /usr/bin/proxychains4 preloads. */
export const PROXYCHAINS_LIBRARY = `/usr/lib/${MULTIARCH}/libproxychains.so.4`;
