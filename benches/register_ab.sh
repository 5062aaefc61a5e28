#!/usr/bin/env bash
# New registrations per second (full handshakes, a new id each) of two
# `peerd server` builds side by side: the builds alternate, round after
# round, against the same generator.
#
#   benches/register_ab.sh A/peerd B/peerd            # 5 rounds of 5 s
#   ROUNDS=3 DURATION=10 NICE=-20 benches/register_ab.sh A/peerd B/peerd
#
# Each round starts each build twice (cookies at the default threshold, and
# `--cookie-threshold 0`), with the limits meant for real networks off (as
# in compare.sh), runs `peerbench register --peers 64 --window 8`, and
# prints one line per load; the medians are printed at the end. The
# generator is target/release/peerbench (built first). Logs go to $OUT.
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: $0 PEERD_A PEERD_B" >&2
    exit 2
fi
A=$1
B=$2
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-5}
NICE=${NICE:-0}
OUT=${OUT:-$(mktemp -d /tmp/peerd-register-ab.XXXXXX)}
cd "$(dirname "$0")/.."
cargo build --release -p peerbench >&2
GEN=target/release/peerbench
# shellcheck source=benches/common.sh
. benches/common.sh
autogroup_nice
PID=
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; autogroup_restore' EXIT
mkdir -p "$OUT"
RESULTS=$OUT/results.txt
: >"$RESULTS"

for r in $(seq 1 "$ROUNDS"); do
    if [ $((r % 2)) = 1 ]; then order=(A B); else order=(B A); fi
    for which in "${order[@]}"; do
        bin=$A
        [ "$which" = B ] && bin=$B
        for cookies in default off; do
            port=$("$GEN" free-port)
            addr=127.0.0.1:$port
            db=$OUT/$which-$r-$cookies.sqlite3
            extra=()
            [ "$cookies" = off ] && extra=(--cookie-threshold 0)
            key=$("$bin" server --print-key --db "$db" 2>/dev/null)
            RUST_LOG=warn nice -n "$NICE" "$bin" server --listen "$addr" --db "$db" \
                --rate-limit 0 --global-rate-limit 0 --handshake-limit 0 --keepalive 3600 \
                "${extra[@]}" >"$OUT/$which-$r-$cookies.log" 2>&1 &
            PID=$!
            "$GEN" wait --server "$addr" --timeout-s 30
            json=$(nice -n "$NICE" "$GEN" register --server "$addr" --server-pid "$PID" \
                --server-key "$key" --peers 64 --window 8 --duration "$DURATION" --json \
                2>>"$OUT/peerbench.err")
            kill "$PID"
            wait "$PID" 2>/dev/null || true
            PID=
            python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print("%s %s %s %.0f %d %d %.1f %.0f" % (sys.argv[2], sys.argv[3], sys.argv[4], d["rate_per_s"], d["errors"], d["lost"], d["server_us_per_req"] or 0, d["gen_cpu_pct"]))' \
                "$json" "$r" "$which" "$cookies" | tee -a "$RESULTS" |
                awk '{printf "round %s %s cookies %-7s %6d/s errors %d lost %d server %6.1f us/registration generator CPU %d%%\n", $1, $2, $3, $4, $5, $6, $7, $8}'
        done
    done
done

python3 - "$RESULTS" "$A" "$B" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
print("\nmedians over the rounds (lowest-highest):")
for which, path in (("A", sys.argv[2]), ("B", sys.argv[3])):
    for cookies in ("default", "off"):
        r = [float(x[3]) for x in rows if x[1] == which and x[2] == cookies]
        us = [float(x[6]) for x in rows if x[1] == which and x[2] == cookies]
        print(f"  {which} {path}, cookies {cookies}: {statistics.median(r):,.0f}/s ({min(r):,.0f}-{max(r):,.0f}), "
              f"{statistics.median(us):.0f} us/registration")
PY
echo "results: $OUT" >&2
