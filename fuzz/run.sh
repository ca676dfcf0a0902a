#!/usr/bin/env bash
# Fuzz ledcast-media's `ingest` (and the render/preview of what it accepts).
# Needs a nightly toolchain and cargo-fuzz:
#   rustup toolchain install nightly    # once
#   cargo install cargo-fuzz            # once
#   fuzz/run.sh [SECONDS]               # default 60
# Not part of CI. Seeds come from the committed samples under media/.
# Crashes land in fuzz/artifacts/ingest/; reproduce one with
#   cargo +nightly fuzz run ingest fuzz/artifacts/ingest/crash-…
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-60}
if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "no nightly toolchain: rustup toolchain install nightly" >&2
    exit 2
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz missing: cargo install cargo-fuzz" >&2
    exit 2
fi
mkdir -p corpus/ingest
# Small seeds only: every text, the smallest posters, the short video.
cp ../media/texts/*.txt corpus/ingest/ 2>/dev/null || true
find ../media/posters -name '*.png' -size -40k -exec cp {} corpus/ingest/ \; 2>/dev/null || true
cargo +nightly fuzz build ingest
cargo +nightly fuzz run ingest corpus/ingest -- -max_total_time="$seconds" -rss_limit_mb=1024 -max_len=1048576
