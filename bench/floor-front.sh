#!/bin/sh
# NOT the launcher: the "front execs" floor of bench/floor-launch.mjs. Node
# runs as this script's child, prints the exports and the exec line, exits;
# then this shell (the process the caller started) execs the application.
# The caller's signal dispositions, mask, limits and descriptors were never
# Node's to change, so nothing needs restoring. Usage: floor-front.sh PORT APP...
port=$1
shift
plan=$(node "${0%/*}/floor-launch.mjs" "$port" print "$@") || exit
eval "$plan"
