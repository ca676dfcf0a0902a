#!/usr/bin/env bash
# Runs the README's test command with the wall clock moved ahead, to prove that
# no test depends on the day it runs (a date written into a test or a sample
# fails here months before it would fail on main):
#
#   tests/run-ahead.sh            # +30, +180 and +400 days
#   tests/run-ahead.sh 365        # one year ahead only
#
# Needs libfaketime (apt-get install faketime). Only the wall clock moves:
# monotonic clocks (timers, timeouts) stay real, so the suite runs at its
# usual speed. Extra arguments after `--` go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v faketime >/dev/null || { echo "tests/run-ahead.sh needs faketime (apt-get install faketime)"; exit 1; }
days=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do days+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
[ ${#days[@]} -gt 0 ] || days=(30 180 400)
# Build at the real date, so cargo's freshness checks see real file times.
cargo test --workspace --no-run "$@" >/dev/null
for d in "${days[@]}"; do
    printf '\n=== cargo test --workspace, wall clock +%s days (%s)\n' "$d" "$(faketime -f "+${d}d" date -u +%F)"
    FAKETIME_DONT_FAKE_MONOTONIC=1 faketime -f "+${d}d" cargo test --workspace "$@"
done
