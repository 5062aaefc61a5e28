#!/usr/bin/env bash
# peerd's performance comparison (issue "Performance"): one command, every figure.
#
#   benches/compare.sh                 # 3 rounds, 5 s per run, scale at 100,000 peers
#   ROUNDS=5 DURATION=10 benches/compare.sh
#   SCALE_BIG=1000000 benches/compare.sh   # also the 1,000,000-peer memory figure
#   NICE=-10 benches/compare.sh            # servers and generator at higher priority (root):
#                                          # steadier figures on a machine others are using
#   PIN=1 benches/compare.sh               # server on CPU 0, generator (1 thread) on CPU 1
#   DAEMON_ONLY=1 benches/compare.sh       # only the daemon figures (peerbench daemon-*)
#   DAEMON_MESSAGES=100000 DAEMON_LATENCY_S=10 benches/compare.sh   # daemon run sizes
#
# What it does:
#   1. builds peerd and peerbench in release mode;
#   2. per round, starts coturn (STUN only), udp-limit (the reference limit:
#      one thread, blocking recv_from/send_to) and `peerd server`, then runs
#      each load against each of them, the order of the servers rotating
#      every round; every figure is the median over the rounds;
#   3. the scale run: a fresh `peerd server`, its RSS empty and with SCALE
#      (and SCALE_BIG) registered online peers, and LIST page latency then;
#   3b. per round, the daemon benchmarks (`peerbench daemon-throughput`,
#      `daemon-latency`, `daemon-startup`), each with a fresh server and daemons;
#   4. prints the table with the ratios and PASS/FAIL per target.
#
# peerd runs with `--rate-limit 0 --global-rate-limit 0` for the load runs:
# the generator sends thousands of requests per second from each source,
# far above what the per-source limit (default 500/s) lets through. The
# scale run turns off only the per-source limit too: each registering
# source sends one REGISTER (the limit would never bite, and its buckets are
# dropped 2 s after a source's last datagram), but the LIST walk comes from
# one source at full speed. The global cap stays at its default.
#
# Needs: cargo, python3 (for the table), coturn's `turnserver` (installed
# with apt-get when missing and running as root; otherwise its column is
# skipped). Results and logs go to $OUT (default: a new temp directory).
set -euo pipefail

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
SCALE=${SCALE:-100000}
SCALE_BIG=${SCALE_BIG:-0}
OUT=${OUT:-$(mktemp -d /tmp/peerd-compare.XXXXXX)}
NICE=${NICE:-0}
PIN=${PIN:-0}
DAEMON_ONLY=${DAEMON_ONLY:-0}
DAEMON_MESSAGES=${DAEMON_MESSAGES:-50000}
DAEMON_LATENCY_S=${DAEMON_LATENCY_S:-10}
# Prefixes: priority for both sides, and a CPU each when pinning.
SRV=(nice -n "$NICE")
GEN=(nice -n "$NICE")
GEN_ARGS=()
if [ "$PIN" = 1 ]; then
    SRV+=(taskset -c 0)
    GEN+=(taskset -c 1)
    GEN_ARGS=(--threads 1)
fi

cd "$(dirname "$0")/.."
mkdir -p "$OUT"
RESULTS="$OUT/results.jsonl"
: >"$RESULTS"

echo "== building (release)" >&2
cargo build --release -p peerd -p peerctl -p peerbench >&2
BIN=target/release
PEERBENCH="$BIN/peerbench"

if ! command -v turnserver >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "== installing coturn" >&2
        apt-get install -y -qq coturn >&2 || (apt-get update -qq >&2 && apt-get install -y -qq coturn >&2)
    fi
fi
HAVE_COTURN=0
command -v turnserver >/dev/null 2>&1 && HAVE_COTURN=1

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]:-}"; do
        [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT

# start_server KIND -> sets SERVER_PID and SERVER_ADDR
start_server() {
    local kind=$1 port
    port=$("$PEERBENCH" free-port)
    SERVER_ADDR="127.0.0.1:$port"
    case $kind in
    coturn)
        "${SRV[@]}" turnserver --stun-only -L 127.0.0.1 --listening-port "$port" \
            --no-cli --no-tls --no-dtls --no-tcp --no-auth \
            --log-file stdout --simple-log --no-stdout-log \
            --pidfile "$OUT/turnserver-$port.pid" --userdb "$OUT/turndb-$port" \
            >"$OUT/coturn-$port.log" 2>&1 &
        ;;
    limit)
        "${SRV[@]}" "$BIN/udp-limit" --listen "$SERVER_ADDR" >"$OUT/limit-$port.log" 2>&1 &
        ;;
    peerd)
        RUST_LOG=warn "${SRV[@]}" "$BIN/peerd" server --listen "$SERVER_ADDR" --db "$OUT/peerd-$port.sqlite3" \
            --rate-limit 0 --global-rate-limit 0 --keepalive 3600 \
            >"$OUT/peerd-$port.log" 2>&1 &
        ;;
    esac
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    "$PEERBENCH" wait --server "$SERVER_ADDR" --timeout-s 30
}

stop_server() {
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

rss_kib() {
    awk '/^VmRSS:/ {print $2}' "/proc/$1/status"
}

# run_load ROUND TARGET PID ADDR MODE PEERS WINDOW
run_load() {
    local round=$1 target=$2 pid=$3 addr=$4 mode=$5 peers=$6 window=$7 json
    if ! json=$("${GEN[@]}" "$PEERBENCH" "$mode" --server "$addr" --server-pid "$pid" \
        --peers "$peers" --window "$window" --duration "$DURATION" "${GEN_ARGS[@]}" --json \
        2>>"$OUT/peerbench.err"); then
        echo "   $target $mode ${peers}x$window: peerbench failed (see $OUT/peerbench.err)" >&2
        return 0
    fi
    echo "{\"round\":$round,\"target\":\"$target\",\"run\":$json}" >>"$RESULTS"
    python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print("   %-6s %-9s %4dx%-2d %9.0f/s  p50 %7.1f us  p99 %8.1f us  errors %d  lost %d  server CPU %3.0f%% %5.2f us/req  gen CPU %3.0f%%" % (sys.argv[2], d["mode"], d["peers"], d["window"], d["rate_per_s"], d["p50_us"], d["p99_us"], d["errors"], d["lost"], d["server_cpu_pct"] or 0, d["server_us_per_req"] or 0, d["gen_cpu_pct"]))' "$json" "$target" >&2
}

TARGETS=(limit peerd)
[ "$HAVE_COTURN" = 1 ] && TARGETS=(coturn limit peerd)
SERVER_ROUNDS=$ROUNDS
[ "$DAEMON_ONLY" = 1 ] && SERVER_ROUNDS=0

for round in $(seq 1 "$SERVER_ROUNDS"); do
    echo "== round $round of $ROUNDS" >&2
    declare -A PID ADDR
    for t in "${TARGETS[@]}"; do
        start_server "$t"
        PID[$t]=$SERVER_PID
        ADDR[$t]=$SERVER_ADDR
    done
    # Rotate the order every round so no server always runs first or last.
    n=${#TARGETS[@]}
    order=()
    for i in $(seq 0 $((n - 1))); do order+=("${TARGETS[$(((i + round) % n))]}"); done
    for shape in "64 8" "1000 1"; do
        set -- $shape
        for t in "${order[@]}"; do run_load "$round" "$t" "${PID[$t]}" "${ADDR[$t]}" stun "$1" "$2"; done
        for mode in keepalive mix; do
            run_load "$round" peerd "${PID[peerd]}" "${ADDR[peerd]}" "$mode" "$1" "$2"
        done
    done
    # Last: it fills peerd's registry with hundreds of thousands of ids.
    run_load "$round" peerd "${PID[peerd]}" "${ADDR[peerd]}" register 64 8
    for t in "${TARGETS[@]}"; do stop_server "${PID[$t]}"; done
    unset PID ADDR
done

# ---- scale: memory per online peer and LIST latency at that size ----------
SCALE_FILE="$OUT/scale.jsonl"
: >"$SCALE_FILE"
for n in $SCALE $SCALE_BIG; do
    [ "$n" -gt 0 ] && [ "$DAEMON_ONLY" != 1 ] || continue
    echo "== scale: $n registered peers" >&2
    port=$("$PEERBENCH" free-port)
    RUST_LOG=warn "$BIN/peerd" server --listen "127.0.0.1:$port" --db "$OUT/scale-$n.sqlite3" \
        --rate-limit 0 --keepalive 3600 >"$OUT/scale-$n.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    "$PEERBENCH" wait --server "127.0.0.1:$port" --timeout-s 30
    empty=$(rss_kib "$pid")
    json=$("$PEERBENCH" populate --server "127.0.0.1:$port" --peers "$n" --json)
    full=$(rss_kib "$pid")
    echo "{\"peers\":$n,\"rss_empty_kib\":$empty,\"rss_full_kib\":$full,\"run\":$json}" >>"$SCALE_FILE"
    echo "   RSS empty $empty KiB, with $n peers $full KiB; $json" >&2
    stop_server "$pid"
done

# ---- daemon figures --------------------------------------------------------
# Two `peerd start` daemons and a `peerd server` on loopback, fresh for every
# run: messages/s delivered end to end (stored on both sides), follower
# latency at 100 msg/s, `peerd start` to registered, the `peerctl id` round trip.
DAEMON_FILE="$OUT/daemon.jsonl"
: >"$DAEMON_FILE"
for round in $(seq 1 "$ROUNDS"); do
    echo "== daemon round $round of $ROUNDS" >&2
    for bench in throughput latency startup; do
        case $bench in
        throughput) args=(--messages "$DAEMON_MESSAGES") ;;
        latency) args=(--rate 100 --duration "$DAEMON_LATENCY_S") ;;
        startup) args=(--starts 20 --ids 200) ;;
        esac
        if json=$("${GEN[@]}" "$PEERBENCH" "daemon-$bench" "${args[@]}" --json 2>>"$OUT/peerbench.err"); then
            echo "{\"round\":$round,\"bench\":\"$bench\",\"run\":$json}" >>"$DAEMON_FILE"
            echo "   daemon-$bench: $json" >&2
        else
            echo "   daemon-$bench: peerbench failed (see $OUT/peerbench.err)" >&2
        fi
    done
done

# ---- the table -------------------------------------------------------------
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
echo "command: ROUNDS=$ROUNDS DURATION=$DURATION SCALE=$SCALE SCALE_BIG=$SCALE_BIG NICE=$NICE PIN=$PIN DAEMON_ONLY=$DAEMON_ONLY DAEMON_MESSAGES=$DAEMON_MESSAGES DAEMON_LATENCY_S=$DAEMON_LATENCY_S benches/compare.sh"
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(uname -r)"
echo "load average (1/5/15 min) at start: $LOAD_START; at end: $LOAD_END"
echo "peerd server flags: load runs RUST_LOG=warn --rate-limit 0 --global-rate-limit 0 --keepalive 3600" \
    "(rate limits off: the generator sends far more per source than the default 500/s);" \
    "scale runs RUST_LOG=warn --rate-limit 0 --keepalive 3600 (the LIST walk is one source)"
python3 - "$RESULTS" "$SCALE_FILE" "$ROUNDS" "$DURATION" "$DAEMON_FILE" <<'PY'
import json, statistics, sys
from collections import defaultdict

results, scale_file, rounds, duration, daemon_file = sys.argv[1:6]
runs = defaultdict(list)
for line in open(results):
    r = json.loads(line)
    d = r["run"]
    runs[(r["target"], d["mode"], d["peers"], d["window"])].append(d)

def med(target, mode, peers, window, key="rate_per_s"):
    xs = [d[key] for d in runs.get((target, mode, peers, window), []) if d.get(key) is not None]
    return statistics.median(xs) if xs else None

def total(target, mode, peers, window, key):
    return sum(d[key] for d in runs.get((target, mode, peers, window), []))

def fmt(x, spec="{:,.0f}"):
    return "-" if x is None else spec.format(x)

def ratio(a, b):
    return None if a is None or b in (None, 0) else a / b

print(f"\nrequests/s, median of {rounds} rounds of {duration} s each; servers alternated\n")
print("| load | peers x window | coturn | limit | peerd | peerd/coturn | peerd/limit | peerd p50 / p99 us | peerd errors / lost | peerd CPU | generator CPU |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
rows = []
for mode in ("stun", "keepalive", "mix", "register"):
    for peers, window in ((64, 8), (1000, 1)):
        if not runs.get(("peerd", mode, peers, window)):
            continue
        c = med("coturn", "stun", peers, window) if mode == "stun" else None
        l = med("limit", "stun", peers, window) if mode != "register" else None
        p = med("peerd", mode, peers, window)
        errs = total("peerd", mode, peers, window, "errors")
        lost = total("peerd", mode, peers, window, "lost")
        rows.append((mode, peers, window, c, l, p, errs, lost))
        print(f"| {mode} | {peers} x {window} | {fmt(c)} | {fmt(l)} | {fmt(p)} | {fmt(ratio(p, c), '{:.2f}')} | "
              f"{fmt(ratio(p, l), '{:.2f}')} | {fmt(med('peerd', mode, peers, window, 'p50_us'), '{:.0f}')} / "
              f"{fmt(med('peerd', mode, peers, window, 'p99_us'), '{:.0f}')} | {errs} / {lost} | "
              f"{fmt(med('peerd', mode, peers, window, 'server_cpu_pct'), '{:.0f}%')} | "
              f"{fmt(med('peerd', mode, peers, window, 'gen_cpu_pct'), '{:.0f}%')} |")

print("\nlimit and coturn columns are STUN Binding at the same peers x window (the limit speaks only STUN);")
print("CPU columns are percent of one core over the measured interval (the machine's cores are shared by both).")

print("\nserver CPU per answered request (user+system, all threads; microseconds, median). Less sensitive")
print("than rates to other load on the machine: a server that is slower per request is slower, whoever")
print("else runs. 'limit/peerd' > 1 would mean peerd spends less CPU per request than the limit.\n")
print("| load | peers x window | coturn | limit | peerd | peerd vs coturn (coturn/peerd) | peerd vs limit (limit/peerd) |")
print("|---|---|---:|---:|---:|---:|---:|")
for mode, peers, window, *_ in rows:
    c = med("coturn", "stun", peers, window, "server_us_per_req") if mode == "stun" else None
    l = med("limit", "stun", peers, window, "server_us_per_req") if mode != "register" else None
    p = med("peerd", mode, peers, window, "server_us_per_req")
    print(f"| {mode} | {peers} x {window} | {fmt(c, '{:.2f}')} | {fmt(l, '{:.2f}')} | {fmt(p, '{:.2f}')} | "
          f"{fmt(ratio(c, p), '{:.2f}')} | {fmt(ratio(l, p), '{:.2f}')} |")

print("\n| scale | RSS empty | RSS with peers | bytes / peer | register/s | LIST pages | LIST p50 / p99 / max us |")
print("|---|---:|---:|---:|---:|---:|---:|")
scale = [json.loads(l) for l in open(scale_file)]
for s in scale:
    r = s["run"]
    per = (s["rss_full_kib"] - s["rss_empty_kib"]) * 1024 / s["peers"]
    s["per_peer"] = per
    print(f"| {s['peers']:,} peers | {s['rss_empty_kib']:,} KiB | {s['rss_full_kib']:,} KiB | {per:.0f} | "
          f"{r['register_per_s']:,.0f} | {r['list_pages']:,} | {r['list_p50_us']:.0f} / {r['list_p99_us']:.0f} / {r['list_max_us']:.0f} |")

print("\n| target | measured | result |")
print("|---|---|---|")
def verdict(ok):
    return "-" if ok is None else ("PASS" if ok else "FAIL")
for mode, peers, window, c, l, p, errs, lost in rows:
    shape = f"{peers} x {window}"
    if mode == "stun":
        rc, rl = ratio(p, c), ratio(p, l)
        print(f"| STUN {shape}: >= 1.5 x coturn | {fmt(rc, '{:.2f}')} x | {verdict(None if rc is None else rc >= 1.5)} |")
        print(f"| STUN {shape}: >= 85% of limit | {fmt(None if rl is None else 100 * rl, '{:.0f}%')} | {verdict(None if rl is None else rl >= 0.85)} |")
        print(f"| STUN {shape}: zero errors | {errs} errors, {lost} lost | {verdict(errs == 0)} |")
    elif mode in ("keepalive", "mix"):
        rl = ratio(p, l)
        print(f"| {mode} {shape}: >= 60% of limit, zero errors | {fmt(None if rl is None else 100 * rl, '{:.0f}%')}, {errs} errors, {lost} lost | "
              f"{verdict(None if rl is None else rl >= 0.60 and errs == 0)} |")
    elif mode == "register":
        print(f"| register (new ids, durable) {shape}: >= 20,000/s | {fmt(p)}/s, {errs} errors | {verdict(None if p is None else p >= 20000 and errs == 0)} |")
big = [s for s in scale if s["peers"] >= 1_000_000]
if big:
    s = big[-1]
    print(f"| memory at {s['peers']:,} peers: <= 200 B/peer | {s['per_peer']:.0f} B/peer | {verdict(s['per_peer'] <= 200)} |")
else:
    for s in scale:
        print(f"| memory at {s['peers']:,} peers (target is at 1,000,000): <= 200 B/peer | {s['per_peer']:.0f} B/peer | {verdict(s['per_peer'] <= 200)} (indicative) |")
daemon = defaultdict(list)
for line in open(daemon_file):
    r = json.loads(line)
    daemon[r["bench"]].append(r["run"])
def dmed(bench, key):
    xs = [d[key] for d in daemon.get(bench, []) if d.get(key) is not None]
    return statistics.median(xs) if xs else None
def dsum(bench, *keys):
    return sum(d.get(k, 0) for d in daemon.get(bench, []) for k in keys)
def dn(bench):
    return len(daemon.get(bench, []))
tp, p50, p99 = dmed("throughput", "msgs_per_s"), dmed("latency", "p50_us"), dmed("latency", "p99_us")
st, ctl = dmed("startup", "start_to_registered_ms"), dmed("startup", "peerctl_id_ms")
tp_bad = dsum("throughput", "errors", "lost", "duplicates", "outbox_failed")
lat_bad = dsum("latency", "errors", "lost", "duplicates")
st_bad = dsum("startup", "errors")
def ok(x, cond, bad):
    return None if x is None else (cond and bad == 0)
print(f"| daemon: >= 20,000 msgs/s delivered (median of {dn('throughput')}) | {fmt(tp)} msgs/s "
      f"({fmt(dmed('throughput', 'messages'))} msgs, {fmt(dmed('throughput', 'elapsed_s'), '{:.2f}')} s), "
      f"{tp_bad} errors/lost/duplicates/failed | {verdict(ok(tp, tp is not None and tp >= 20000, tp_bad))} |")
print(f"| daemon: follower p50 < 1 ms at 100 msgs/s (median of {dn('latency')}) | {fmt(p50, '{:.0f}')} us | "
      f"{verdict(ok(p50, p50 is not None and p50 < 1000, lat_bad))} |")
print(f"| daemon: follower p99 < 5 ms at 100 msgs/s | {fmt(p99, '{:.0f}')} us (max {fmt(dmed('latency', 'max_us'), '{:.0f}')} us), "
      f"{lat_bad} errors/lost/duplicates | {verdict(ok(p99, p99 is not None and p99 < 5000, lat_bad))} |")
print(f"| start-up: peerd start to registered < 100 ms (median of {dn('startup')} x 20 starts) | {fmt(st, '{:.1f}')} ms | "
      f"{verdict(ok(st, st is not None and st < 100, st_bad))} |")
print(f"| start-up: peerctl id round trip < 5 ms (process spawn included, 200 runs) | {fmt(ctl, '{:.2f}')} ms "
      f"(raw socket: new connection {fmt(dmed('startup', 'socket_id_ms'), '{:.3f}')} ms, kept "
      f"{fmt(dmed('startup', 'socket_id_kept_ms'), '{:.3f}')} ms) | {verdict(ok(ctl, ctl is not None and ctl < 5, st_bad))} |")
PY
echo "results: $OUT" >&2
