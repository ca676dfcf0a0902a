#!/usr/bin/env bash
# Runs every fleet scenario at N = 1,000 and 5,000 on the embedded broker and
# on Mosquitto (ingest also on SQLite and PostgreSQL), one after another, and
# prints each run's summary line. Full output goes to $LOG (default
# target/fleet-all.log). Needs a release build of the fleet binary:
#   cargo build --release -p ledcast-tests --bin fleet
# Environment: MQTT (default mqtt://127.0.0.1:1883), PG (default
# postgres://postgres@127.0.0.1:5432/test), SIZES (default "1000 5000"),
# ROUNDS (fanout/alert rounds, default 5).
set -u
cd "$(dirname "$0")/.."
BIN=target/release/fleet
MQTT=${MQTT:-mqtt://127.0.0.1:1883}
PG=${PG:-postgres://postgres@127.0.0.1:5432/test}
SIZES=${SIZES:-"1000 5000"}
ROUNDS=${ROUNDS:-5}
LOG=${LOG:-target/fleet-all.log}
[ -x "$BIN" ] || { echo "build first: cargo build --release -p ledcast-tests --bin fleet" >&2; exit 2; }
: > "$LOG"
status=0
run() {
    echo "### fleet $*" >> "$LOG"
    if "$BIN" "$@" >> "$LOG" 2> "$LOG.stderr"; then
        tail -n 1 "$LOG"
    else
        status=1
        echo "FAILED: fleet $*: $(grep -v 'rmqtt' "$LOG.stderr" | tail -n 3)"
        tail -n 20 "$LOG.stderr" >> "$LOG"
    fi
}
for n in $SIZES; do
    records=$((100000 / n))
    for broker in embedded mosquitto; do
        b=(); [ "$broker" = mosquitto ] && b=(--broker "$MQTT")
        run fanout --agents "$n" --rounds "$ROUNDS" "${b[@]}"
        run alert --agents "$n" --rounds "$ROUNDS" "${b[@]}"
        run storm --agents "$n" "${b[@]}"
        run ingest --agents "$n" --records "$records" "${b[@]}"
        run ingest --agents "$n" --records "$records" --database-url "$PG" "${b[@]}"
    done
done
exit $status
