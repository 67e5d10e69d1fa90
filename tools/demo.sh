#!/usr/bin/env bash
# demo.sh - the first thing to run: build the release binaries, start a
# five-node ring on 127.0.0.1:7000..7004, store and read a few keys, show
# where keys live and the route a lookup takes, print the ring, draw it
# with dht-viz (an SVG and a self-contained HTML page, with the lookup of
# one key traced), stop it.
#
#   tools/demo.sh          the whole tour; the ring is stopped at the end
#   tools/demo.sh --keep   leave the ring running afterwards (it says how
#                          to stop it)
#
# Works on a fresh Debian 12 as root: missing packages are installed the
# same way tools/run-tests.sh does it. The ring is stopped on any failure
# or interruption (trap). It builds into build/ and keeps its run state,
# and the drawings, in run/ring5/; it does not touch build-asan/.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
KEEP=0
case "${1:-}" in
"") ;;
--keep) KEEP=1 ;;
*)
    echo "usage: tools/demo.sh [--keep]" >&2
    exit 2
    ;;
esac

TOPO=topologies/ring5
DHT=build/dht
RING_UP=0

# On failure or interruption, stop the ring if this script started it.
cleanup() {
    local rc=$?
    if [ "$RING_UP" -eq 1 ] && { [ "$rc" -ne 0 ] || [ "$KEEP" -eq 0 ]; }; then
        echo
        echo "== stopping the ring"
        DHT_BIN=build tools/dht-topo down "$TOPO" || true
    fi
    if [ "$rc" -ne 0 ]; then
        echo "demo: failed (status $rc)" >&2
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Show a command, then run it.
show() {
    local a line="\$"
    for a in "$@"; do
        case "$a" in
        *" "*) line+=" \"$a\"" ;;
        *) line+=" ${a#build/}" ;;
        esac
    done
    echo "$line"
    "$@"
}

echo "== checking packages"
tools/run-tests.sh --deps-only

echo "== building the release binaries in build/"
mkdir -p build
if ! { cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCHORD_TESTS=OFF &&
    cmake --build build -j2 --target dhtd dht dht-viz; } </dev/null \
    >build/demo-build.log 2>&1; then
    tail -n 30 build/demo-build.log >&2
    echo "demo: the build failed (full log: build/demo-build.log)" >&2
    exit 1
fi
echo "built build/dhtd, build/dht and build/dht-viz"

echo
echo "== starting $TOPO"
DHT_BIN=build tools/dht-topo up "$TOPO" || {
    echo "demo: could not start the ring (see above)" >&2
    exit 1
}
RING_UP=1

echo
echo "== storing keys through different nodes"
N=127.0.0.1
show $DHT --node $N:7000 put apple "red, crisp"
show $DHT --node $N:7001 put banana "yellow, curved"
show $DHT --node $N:7002 put cherry "dark, with a stone"
echo "small, purple, many seeds" | show $DHT --node $N:7003 put fig -

echo
echo "== reading them back through other nodes (get prints the bytes as stored)"
for k in apple banana cherry fig; do
    show $DHT --node $N:7004 get "$k"
    echo
done
set +e
show $DHT --node $N:7002 get durian
rc=$?
set -e
echo "(exit code $rc: not found)"

echo
echo "== who owns a key, and the route the lookup took from 127.0.0.1:7002"
for k in apple banana cherry fig; do
    show $DHT --node $N:7002 lookup "$k"
done

echo
echo "== the same lookup as JSON: the path lists every node the query visited"
show $DHT --node $N:7002 lookup cherry --json

echo
echo "== the ring, walking successors from 127.0.0.1:7000"
show $DHT --node $N:7000 ring

echo
echo "== drawing the ring with dht-viz (the lookup of 'cherry' from 127.0.0.1:7002 traced)"
OUT=run/ring5
show build/dht-viz --node $N:7002 --key cherry --output $OUT/ring5.svg
show build/dht-viz --node $N:7002 --key cherry --output $OUT/ring5.html
echo "wrote $PWD/$OUT/ring5.svg"
echo "  and $PWD/$OUT/ring5.html (one self-contained page: click a node to"
echo "      see its fingers, successor list, replica set and peers)"

echo
echo "== deleting a key"
show $DHT --node $N:7001 del banana
set +e
show $DHT --node $N:7003 get banana
rc=$?
set -e
echo "(exit code $rc: not found)"

if [ "$KEEP" -eq 1 ]; then
    echo
    echo "The ring is still running (logs in run/ring5/). Try:"
    echo "  build/dht --node 127.0.0.1:7000 status"
    echo "  build/dht-viz --node 127.0.0.1:7000 --output run/ring5/live.html --watch 2"
    echo "  tools/dht-topo kill topologies/ring5 3; build/dht-viz --node 127.0.0.1:7000"
    echo "Stop it with:"
    echo "  tools/dht-topo down $TOPO"
else
    echo
    echo "(run tools/demo.sh --keep to leave the ring running)"
fi
