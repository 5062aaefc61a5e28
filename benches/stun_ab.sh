#!/usr/bin/env bash
# STUN answers per second of two `peerd server` builds side by side, with
# coturn in the same rounds: the three alternate, round after round,
# against the same generator.
#
#   benches/stun_ab.sh A/peerd B/peerd               # 5 rounds of 5 s, 64 x 8 and 1000 x 1
#   ROUNDS=3 DURATION=10 NICE=-20 benches/stun_ab.sh A/peerd B/peerd
#   PIN=1 benches/stun_ab.sh A/peerd B/peerd         # servers on CPU 0, generator (1 thread) on CPU 1
#   PIN=0 ...                                        # no pinning (default: pinned on exactly 2 cores, as compare.sh)
#
# Each round starts coturn (`turnserver --stun-only`, as compare.sh) and
# both builds (the limits meant for real networks off, as compare.sh),
# runs `peerbench stun` at 64 x 8 and 1000 x 1 against each (the order
# rotating every round), prints one line per load, and at the end the
# medians with each build's ratio to coturn. The generator is
# target/release/peerbench (built first). Logs go to $OUT.
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
OUT=${OUT:-$(mktemp -d /tmp/peerd-stun-ab.XXXXXX)}
cd "$(dirname "$0")/.."
cargo build --release -p peerbench >&2
GEN_BIN=target/release/peerbench
command -v turnserver >/dev/null || { echo "needs coturn's turnserver (apt-get install coturn)" >&2; exit 2; }
# shellcheck source=benches/common.sh
. benches/common.sh
pin_prefixes
autogroup_nice
PIDS=()
trap 'for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done; autogroup_restore' EXIT
mkdir -p "$OUT"
RESULTS=$OUT/results.txt
: >"$RESULTS"

declare -A PID ADDR
for r in $(seq 1 "$ROUNDS"); do
    for t in coturn A B; do
        port=$("$GEN_BIN" free-port)
        ADDR[$t]=127.0.0.1:$port
        case $t in
        coturn)
            coturn_args "$port" "$OUT"
            "${SRV[@]}" "${COTURN[@]}" >"$OUT/coturn-$r.log" 2>&1 &
            ;;
        *)
            bin=$A
            [ "$t" = B ] && bin=$B
            RUST_LOG=warn "${SRV[@]}" "$bin" server --listen "${ADDR[$t]}" --db "$OUT/$t-$r.sqlite3" \
                --rate-limit 0 --global-rate-limit 0 --handshake-limit 0 --keepalive 3600 \
                >"$OUT/$t-$r.log" 2>&1 &
            ;;
        esac
        PID[$t]=$!
        PIDS+=("${PID[$t]}")
        "$GEN_BIN" wait --server "${ADDR[$t]}" --timeout-s 30
    done
    targets=(coturn A B)
    order=()
    for i in 0 1 2; do order+=("${targets[$(((i + r) % 3))]}"); done
    for shape in "64 8" "1000 1"; do
        set -- $shape
        for t in "${order[@]}"; do
            json=$("${GEN[@]}" "$GEN_BIN" stun --server "${ADDR[$t]}" --server-pid "${PID[$t]}" \
                --peers "$1" --window "$2" --duration "$DURATION" "${GEN_ARGS[@]}" --json \
                2>>"$OUT/peerbench.err")
            python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print("%s %s %s %.0f %d %d %.2f %.0f %.0f" % (sys.argv[2], sys.argv[3], sys.argv[4], d["rate_per_s"], d["errors"], d["lost"], d["server_us_per_req"] or 0, d["server_cpu_pct"] or 0, d["gen_cpu_pct"]))' \
                "$json" "$r" "$t" "$1x$2" | tee -a "$RESULTS" |
                awk '{printf "round %s %-6s %-6s %8d/s errors %d lost %d server %5.2f us/answer CPU %d%% generator CPU %d%%\n", $1, $2, $3, $4, $5, $6, $7, $8, $9}'
        done
    done
    for t in coturn A B; do
        kill "${PID[$t]}" 2>/dev/null || true
        wait "${PID[$t]}" 2>/dev/null || true
    done
    PIDS=()
done

python3 - "$RESULTS" "$A" "$B" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
names = {"A": sys.argv[2], "B": sys.argv[3], "coturn": "coturn"}
print("\nmedians over the rounds (lowest-highest); ratio = per-round answers/s over coturn's in the same round:")
for shape in ("64x8", "1000x1"):
    cot = {x[0]: float(x[3]) for x in rows if x[1] == "coturn" and x[2] == shape}
    for t in ("coturn", "A", "B"):
        mine = [x for x in rows if x[1] == t and x[2] == shape]
        r = [float(x[3]) for x in mine]
        us = [float(x[6]) for x in mine]
        line = f"  {shape:7} {t:6} {names[t]}: {statistics.median(r):,.0f}/s ({min(r):,.0f}-{max(r):,.0f}), {statistics.median(us):.2f} us/answer"
        if t != "coturn":
            ratios = [float(x[3]) / cot[x[0]] for x in mine if cot.get(x[0])]
            line += f", x coturn {statistics.median(ratios):.3f} (rounds {' '.join(f'{q:.2f}' for q in ratios)})"
        print(line)
PY
echo "PIN=$PIN; results: $OUT" >&2
