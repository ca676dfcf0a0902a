#!/usr/bin/env bash
# Runs the embedded-broker fleet scenarios on two fleet binaries, A then B
# for each scenario and size, so both see the same machine at nearly the
# same time (the broker comparison in bench/README.md: A = rumqttd build,
# B = rmqtt build). Prints each run's summary line, prefixed with its label.
#   bench/broker-ab.sh BIN_A BIN_B
# Environment: SIZES (default "1000 5000"), ROUNDS (fanout/alert rounds,
# default 5), REPEAT (runs of each pair, default 1), SCENARIOS (default
# "fanout alert storm ingest"), LOG (default target/broker-ab.log).
set -u
[ $# -eq 2 ] || { echo "usage: $0 BIN_A BIN_B" >&2; exit 2; }
A=$1
B=$2
SIZES=${SIZES:-"1000 5000"}
ROUNDS=${ROUNDS:-5}
REPEAT=${REPEAT:-1}
SCENARIOS=${SCENARIOS:-"fanout alert storm ingest"}
LOG=${LOG:-target/broker-ab.log}
: > "$LOG"
status=0
run() {
    local label=$1 bin=$2
    shift 2
    echo "### $label fleet $*" >> "$LOG"
    if "$bin" "$@" >> "$LOG" 2> "$LOG.stderr"; then
        echo "$label $(tail -n 1 "$LOG")"
    else
        status=1
        echo "$label FAILED: fleet $*: $(tail -n 3 "$LOG.stderr" | tr '\n' ' ')"
        tail -n 20 "$LOG.stderr" >> "$LOG"
    fi
}
for n in $SIZES; do
    for scenario in $SCENARIOS; do
        args=("$scenario" --agents "$n")
        case $scenario in
            fanout|alert) args+=(--rounds "$ROUNDS") ;;
            ingest) args+=(--records $((100000 / n))) ;;
        esac
        for _ in $(seq "$REPEAT"); do
            run A "$A" "${args[@]}"
            run B "$B" "${args[@]}"
        done
    done
done
exit $status
