#!/usr/bin/env bash
# run-tests.sh - build everything with AddressSanitizer + UBSan and run the
# whole test suite (unit, simulation, system, fuzz smoke) through ctest.
#
# Works on a fresh Debian 12 as root with nothing installed: the packages
# that are missing are installed with apt-get (non-interactively; the
# package lists are refreshed only when something is missing). Needs no
# standard input, so CI runs it as is. Exits with ctest's status.
#
#   tools/run-tests.sh               install what is missing, build, test
#   tools/run-tests.sh --deps-only   only install what is missing
#   tools/run-tests.sh -R system     extra arguments go to ctest
#
# Environment: BUILD_DIR (default build-asan), CTEST_TIMEOUT (seconds per
# test, default 600), JOBS (build parallelism, default 2).
#
# It does not touch build/ (the release build of tools/demo.sh) and it does
# not start anything that outlives it: the system tests stop their daemons.
set -euo pipefail

# iptables: the fault suite (tests/fault) cuts nodes apart with DROP rules
# inside its own network namespace; it never touches the host's rules.
# libmicrohttpd-dev: dhtd --metrics-listen and dht-viz --serve;
# python3-prometheus-client: tests/system/test_metrics.py parses the
# scrapes with the real parser. iproute2: the multi-host test
# (tests/system/test_multihost.py) makes network namespaces and a bridge
# with `ip`. man-db, groff-base: test_manpages renders every page.
PACKAGES=(build-essential cmake pkg-config libuv1-dev libssl-dev
          libcmocka-dev clang python3 jq libxml2-utils graphviz chromium
          iptables libmicrohttpd-dev python3-prometheus-client iproute2
          man-db groff-base)

# Install the packages of PACKAGES that dpkg does not list as installed.
install_missing() {
    local missing=() p
    for p in "${PACKAGES[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
            grep -q 'install ok installed'; then
            missing+=("$p")
        fi
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        return 0
    fi
    echo "run-tests: installing missing packages: ${missing[*]}"
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "run-tests: apt-get not found; install by hand: ${missing[*]}" >&2
        return 1
    fi
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
            sudo=(sudo)
        else
            echo "run-tests: not root and no sudo; install: ${missing[*]}" >&2
            return 1
        fi
    fi
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -q </dev/null
    "${sudo[@]}" apt-get install -y -q --no-install-recommends \
        "${missing[@]}" </dev/null
}

cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "run-tests: not a Debian system; assuming the packages are there:" \
        "${PACKAGES[*]}"
else
    install_missing
fi
if [ "${1:-}" = "--deps-only" ]; then
    exit 0
fi

BUILD_DIR=${BUILD_DIR:-build-asan}
CTEST_TIMEOUT=${CTEST_TIMEOUT:-600}
JOBS=${JOBS:-2}

echo "run-tests: configuring $BUILD_DIR (sanitizers on)"
if ! cmake -S . -B "$BUILD_DIR" -DCHORD_SANITIZE=ON -DCHORD_TESTS=ON \
    </dev/null; then
    echo "run-tests: cmake configuration failed" >&2
    exit 1
fi
echo "run-tests: building with -j$JOBS"
if ! cmake --build "$BUILD_DIR" -j"$JOBS" </dev/null; then
    echo "run-tests: the build failed (see the errors above)" >&2
    exit 1
fi

# Sanitizer reports must fail the test that triggers them.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

echo "run-tests: running ctest (timeout ${CTEST_TIMEOUT}s per test)"
status=0
(cd "$BUILD_DIR" &&
    ctest --output-on-failure --timeout "$CTEST_TIMEOUT" "$@" </dev/null) ||
    status=$?
if [ "$status" -eq 0 ]; then
    echo "run-tests: all tests passed"
else
    echo "run-tests: ctest failed (status $status)" >&2
fi
exit "$status"
