#!/usr/bin/env bash
# Issue 21: several servers, one PostgreSQL, one broker, a real load balancer.
#
# Starts (or reuses) PostgreSQL and Mosquitto, builds the release server and
# fleet binaries, then runs the fleet's alert scenario three ways, in one
# run so the figures share the machine's state:
#   1. one replica                                   (the baseline)
#   2. two replicas behind haproxy                   (alert on glass, 2 replicas)
#   3. two replicas behind haproxy; replica B takes the urgent alert and is
#      killed (SIGKILL) as it answers: the alert must still reach every screen
# Each run prints its summary line; the script fails if any screen missed
# the alert. Replica A runs in the fleet process, replica B is a
# `ledcast-server serve` child process with an empty data_dir (keys and
# media come from the database, [replicas]); agents enroll through haproxy.
#
#   bench/replicas.sh                    # N=1000 screens, ROUNDS=3
#   N=5000 ROUNDS=1 bench/replicas.sh
# Environment: N, ROUNDS, PG (default postgres://postgres@127.0.0.1:5432/test),
# MQTT (default mqtt://127.0.0.1:1883), LOG (default target/replicas.log).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000}
ROUNDS=${ROUNDS:-3}
PG=${PG:-postgres://postgres@127.0.0.1:5432/test}
MQTT=${MQTT:-mqtt://127.0.0.1:1883}
LOG=${LOG:-target/replicas.log}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
need() {
    command -v "$1" >/dev/null 2>&1 && return 0
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${@:2}" >/dev/null
}
need haproxy haproxy
need mosquitto mosquitto
if ! port_open 127.0.0.1 5432; then
    need pg_ctlcluster postgresql
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start
fi
port_open 127.0.0.1 1883 || mosquitto -d -c /etc/mosquitto/mosquitto.conf
for _ in $(seq 1 30); do port_open 127.0.0.1 5432 && port_open 127.0.0.1 1883 && break; sleep 1; done

cargo build --release -p ledcast-server -p ledcast-tests --bin fleet --bin ledcast-server
fleet=target/release/fleet
mkdir -p "$(dirname "$LOG")"
: > "$LOG"
status=0
run() {
    echo "### fleet $*" >> "$LOG"
    if "$fleet" "$@" >> "$LOG" 2>> "$LOG.stderr"; then
        tail -n 1 "$LOG"
    else
        status=1
        echo "FAILED: fleet $*"
        tail -n 5 "$LOG"
    fi
}
common=(alert --agents "$N" --broker "$MQTT" --database-url "$PG" --no-floor)
run "${common[@]}" --rounds "$ROUNDS"
run "${common[@]}" --rounds "$ROUNDS" --replicas 2 --balancer
run "${common[@]}" --rounds 1 --replicas 2 --balancer --kill-replica
exit $status
