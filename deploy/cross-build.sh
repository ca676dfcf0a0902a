#!/usr/bin/env bash
# Agent binaries for LED controller boxes, from any x86_64 Linux with Rust:
#
#   deploy/cross-build.sh            # aarch64 (static, musl) and armv7 (glibc >= 2.17)
#   deploy/cross-build.sh --server   # also the server for amd64 and arm64 (glibc >= 2.31)
#   LEDCAST_QUICK_SERVER=1 deploy/cross-build.sh --server   # CI: a quicker, unshippable server build
#
# Output: target/aarch64-unknown-linux-musl/agent-release/ledcast-agent,
#         target/armv7-unknown-linux-gnueabihf/agent-release/ledcast-agent,
#         target/x86_64-unknown-linux-musl/agent-release/ledcast-agent,
#         (--server) target/{x86_64,aarch64}-unknown-linux-gnu/release/ledcast-server.
# It installs what it needs: the Rust targets (rustup) and cargo-zigbuild
# with Zig as the cross linker (PyPI). armv7 links glibc because rustup
# offers no armv7-unknown-linux-musleabihf standard library here; where it
# does, `--target armv7-unknown-linux-musleabihf` gives a static one.
set -euo pipefail
cd "$(dirname "$0")/.."

AGENT_TARGETS=(aarch64-unknown-linux-musl armv7-unknown-linux-gnueabihf x86_64-unknown-linux-musl)
# CI builds only the ARM agents (LEDCAST_AGENT_TARGETS="…"); its amd64
# package wraps the debug agent `cargo test` built.
if [ -n "${LEDCAST_AGENT_TARGETS:-}" ]; then read -r -a AGENT_TARGETS <<<"$LEDCAST_AGENT_TARGETS"; fi
SERVER_TARGETS=(x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu)
# Zig picks the glibc version from a suffix on the target name.
zig_target() {
    case "$1" in
        armv7-unknown-linux-gnueabihf) echo "$1.2.17" ;;
        *-linux-gnu) echo "$1.2.31" ;;
        *) echo "$1" ;;
    esac
}

with_server=""
[ "${1:-}" = "--server" ] && with_server=1

command -v cargo-zigbuild >/dev/null 2>&1 && python3 -c 'import ziglang' 2>/dev/null \
    || python3 -m pip install --quiet 'cargo-zigbuild==0.24.*' 'ziglang==0.17.*'
targets=("${AGENT_TARGETS[@]}")
[ -n "$with_server" ] && targets+=("${SERVER_TARGETS[@]}")
rustup target add "${targets[@]}" >/dev/null

args=()
for t in "${AGENT_TARGETS[@]}"; do args+=(--target "$(zig_target "$t")"); done
cargo zigbuild --locked --profile agent-release -p ledcast-agent "${args[@]}"

if [ -n "$with_server" ]; then
    args=()
    for t in "${SERVER_TARGETS[@]}"; do args+=(--target "$(zig_target "$t")"); done
    if [ -n "${LEDCAST_QUICK_SERVER:-}" ]; then
        # CI checks the packaging, not the optimiser: the release profile
        # without LTO at opt-level 1 builds in about half the time.
        echo "LEDCAST_QUICK_SERVER: server built without LTO at opt-level 1 (not for shipping)"
        CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_OPT_LEVEL=1 CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
            cargo zigbuild --locked --release -p ledcast-server "${args[@]}"
    else
        cargo zigbuild --locked --release -p ledcast-server "${args[@]}"
    fi
fi

for t in "${AGENT_TARGETS[@]}"; do
    ls -l "target/$t/agent-release/ledcast-agent"
done
if [ -n "$with_server" ]; then
    for t in "${SERVER_TARGETS[@]}"; do ls -l "target/$t/release/ledcast-server"; done
fi
