#!/usr/bin/env bash
# Side-by-side daemon figures of two builds, in one run: alternate rounds of
# `peerbench daemon-throughput` and `daemon-latency` against build A and
# build B (the order flips every round, so neither always runs first), then
# the median of each figure per build and B's throughput relative to A's.
#
#   benches/daemon_ab.sh A_BIN_DIR B_BIN_DIR
#   ROUNDS=7 MESSAGES=100000 LATENCY_S=10 benches/daemon_ab.sh /tmp/prev/target/release target/release
#
# Each BIN_DIR holds that build's `peerd` and `peerctl`; the same peerbench
# (PEERBENCH, default target/release/peerbench) drives both, through their
# control sockets. Every benchmark starts its own server and daemons. Each
# run's CPU time (user + system of peerbench and of the server and daemons
# it started and reaped) is recorded too: on a machine others are using,
# CPU per message moves much less than messages per second.
# Raw JSON lines go to $OUT (printed at the end).
set -euo pipefail

A=${1:?usage: daemon_ab.sh A_BIN_DIR B_BIN_DIR}
B=${2:?usage: daemon_ab.sh A_BIN_DIR B_BIN_DIR}
ROUNDS=${ROUNDS:-5}
MESSAGES=${MESSAGES:-50000}
LATENCY_S=${LATENCY_S:-10}
PEERBENCH=${PEERBENCH:-target/release/peerbench}
OUT=${OUT:-$(mktemp -d /tmp/peerd-daemon-ab.XXXXXX)}
mkdir -p "$OUT"
RESULTS="$OUT/results.jsonl"
: >"$RESULTS"

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
for round in $(seq 1 "$ROUNDS"); do
    if ((round % 2)); then order=(A B); else order=(B A); fi
    for bench in throughput latency; do
        for build in "${order[@]}"; do
            dir=$A
            [ "$build" = B ] && dir=$B
            case $bench in
            throughput) args=(--messages "$MESSAGES") ;;
            latency) args=(--rate 100 --duration "$LATENCY_S") ;;
            esac
            TIMEFORMAT='%U %S'
            if { time json=$("$PEERBENCH" "daemon-$bench" --bin-dir "$dir" "${args[@]}" --json 2>>"$OUT/peerbench.err"); } 2>"$OUT/cpu"; then
                cpu=$(awk '{print $1 + $2}' "$OUT/cpu")
                echo "{\"round\":$round,\"build\":\"$build\",\"bench\":\"$bench\",\"cpu_s\":$cpu,\"run\":$json}" >>"$RESULTS"
                echo "round $round $build $bench: $json" >&2
            else
                echo "round $round $build $bench: peerbench failed (see $OUT/peerbench.err)" >&2
            fi
        done
    done
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

echo "command: ROUNDS=$ROUNDS MESSAGES=$MESSAGES LATENCY_S=$LATENCY_S benches/daemon_ab.sh $A $B"
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); load average at start: $LOAD_START; at end: $LOAD_END"
python3 - "$RESULTS" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def series(build, bench, key):
    if key == "cpu_us_per_msg":
        return [r["cpu_s"] * 1e6 / r["run"]["messages"] for r in rows
                if r["build"] == build and r["bench"] == bench]
    return [r["run"][key] for r in rows if r["build"] == build and r["bench"] == bench]
def med(xs):
    return statistics.median(xs) if xs else float("nan")
figures = [("throughput", "msgs_per_s", "msgs/s delivered"),
           ("throughput", "accepted_s", "s until all accepted"),
           ("throughput", "cpu_us_per_msg", "CPU us per message (all processes)"),
           ("latency", "p50_us", "follower p50 (us)"),
           ("latency", "p99_us", "follower p99 (us)"),
           ("latency", "max_us", "follower max (us)")]
print(f"| figure | A rounds | A median | B rounds | B median | B / A |")
print("|---|---|---:|---|---:|---:|")
for bench, key, name in figures:
    a, b = series("A", bench, key), series("B", bench, key)
    ratio = med(b) / med(a) if a and b and med(a) else float("nan")
    fmt = lambda xs: ", ".join(f"{x:,.0f}" if x >= 100 else f"{x:.3f}" for x in xs)
    print(f"| {name} | {fmt(a)} | {med(a):,.3f} | {fmt(b)} | {med(b):,.3f} | {ratio:.2f} |")
bad = [r for r in rows if r["bench"] == "throughput" and
       (r["run"]["errors"] or r["run"]["lost"] or r["run"]["duplicates"] or r["run"]["outbox_failed"])]
bad += [r for r in rows if r["bench"] == "latency" and
        (r["run"]["errors"] or r["run"]["lost"] or r["run"]["duplicates"])]
print(f"runs with errors, losses, duplicates or failures: {len(bad)}")
EOF
echo "raw results: $RESULTS" >&2
