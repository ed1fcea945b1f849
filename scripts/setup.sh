#!/bin/sh
# Sets up a fresh Debian machine (as root) to build, demonstrate and test
# tails-launch: Debian's torsocks, proxychains4, tor and friends, Node.js if
# there is none, and the npm dependencies. Safe to run again.
set -eu
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq

# Installing tor on a systemd machine starts tor.service, which would reach
# out to the public Tor network: deny service starts during the install
# (unless a policy is already in place) and put things back afterwards.
policy=/usr/sbin/policy-rc.d
own_policy=
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	own_policy=1
fi
# torsocks, tor, proxychains4, curl, wget: the real components the tests use.
# gcc/libc6-dev: the exec-fidelity probe is a small C program.
# iproute2: network namespaces; file: ELF inspection; strace: which files
# koffi loads, and the benchmark timeline; time: max RSS in the benchmarks;
# libcap2-bin: setcap, for the file-capability refusal test;
# hyperfine: benchmarks; dpkg-dev, debhelper, lintian: the .deb,
# built, checked and installed by the tests; nftables: the leak harness's
# packet trap; python3: a parent that starts children with their descriptors
# closed (subprocess), as the leak tests need; e2fsprogs: mkfs.ext2 for
# the launch-cache test on a filesystem with one-second timestamps; git,
# openssh-client, netcat-openbsd: git over SSH under the git profile, with a
# ProxyCommand like Tails' (/bin/nc -X 5); desktop-file-utils: every generated
# desktop entry is checked with desktop-file-validate; libglib2.0-bin: `gio
# launch` starts an entry as a GNOME desktop would; bash-completion: the
# completion test loads it; debootstrap: the clean bookworm/trixie images
# the package is installed in (debian-archive-keyring signs both);
# bubblewrap, xdg-dbus-proxy: what the rootless jail helper runs;
# dbus-daemon, dbus-bin: a private session bus and dbus-send, for its
# D-Bus proxy test; xvfb, xdotool, xterm: an X server, a program that types
# into windows and a terminal to type into, for the jail's X11 tests;
# python3-gi: a program of the session that owns a bus name
# (jail-session.test.ts). pidgin, thunderbird, totem: Debian's real applications
# run jailed through the shipped profiles (jail-apps.test.ts), with weston
# (a headless Wayland compositor for Totem), at-spi2-core and python3-pyatspi
# (the accessibility bus, and asking its registry what runs),
# gstreamer1.0-tools and -plugins-base/-good (the test's media file, made with
# gst-launch-1.0; Vorbis, Ogg and HTTP for Totem). tmux: a terminal for
# `circuits --watch` (circuits.test.ts).
apt-get install -y -qq --no-install-recommends \
	torsocks tor proxychains4 curl wget ca-certificates iproute2 gcc libc6-dev file procps strace hyperfine time libcap2-bin \
	nftables python3 e2fsprogs git openssh-client netcat-openbsd \
	dpkg-dev debhelper lintian sudo \
	desktop-file-utils libglib2.0-bin bash-completion debootstrap debian-archive-keyring \
	bubblewrap xdg-dbus-proxy dbus-daemon dbus-bin xvfb xdotool xterm python3-gi \
	pidgin thunderbird totem weston at-spi2-core python3-pyatspi \
	gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good tmux >/dev/null
command -v node >/dev/null || apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
[ -n "$own_policy" ] && rm -f "$policy"

# Never with --omit=optional: koffi's prebuilt binaries are optional dependencies.
npm ci --no-audit --no-fund --loglevel=error
node scripts/build.mjs
