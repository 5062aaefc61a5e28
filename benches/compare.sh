#!/usr/bin/env bash
# peerd's performance comparison (issue "Performance"): one command, every figure.
# `peerd server` speaks protocol v2 (docs/protocol.md): every request below
# but STUN is authenticated (Noise IK handshakes, then TRANSPORT frames).
#
#   benches/compare.sh                 # 3 rounds, 5 s per run, scale at 100,000 peers
#   ROUNDS=5 DURATION=10 benches/compare.sh
#   SCALE_BIG=1000000 benches/compare.sh   # also the 1,000,000-peer memory figure
#   NICE=-10 benches/compare.sh            # servers and generator at higher priority (root):
#                                          # steadier figures on a machine others are using
#                                          # (also the nice of this session's autogroup, see below)
#   PIN=1 benches/compare.sh               # server on CPU 0, generator (1 thread) on CPU 1
#   PIN=0 benches/compare.sh               # no pinning (default: pinned on a 2-core machine, see below)
#   DAEMON_ONLY=1 benches/compare.sh       # only the daemon figures (peerbench daemon-*)
#   DAEMON_MESSAGES=100000 DAEMON_LATENCY_S=10 benches/compare.sh   # daemon run sizes
#   DAEMON=0 benches/compare.sh            # skip the daemon figures
#   JUNK_RATE=50000 JUNK_KA_RATE=10000 benches/compare.sh   # the junk run's rates
#
# What it does:
#   1. builds peerd and peerbench in release mode (the generator a second
#      time, with the portable AEAD back ends; see below);
#   2. per round, starts coturn (STUN only), udp-limit (the reference limit:
#      one thread, blocking recv_from/send_to) and `peerd server`, then runs
#      each load against each of them, the order of the servers rotating
#      every round; every figure is the median over the rounds (with the
#      lowest and highest round beside it):
#      - stun (all three), keepalive and mix (peerd) at 64 x 8 and 1000 x 1;
#      - junk: 1000 established peers sending JUNK_KA_RATE keepalives/s in
#        all while JUNK_RATE junk handshakes/s hit the server, once with a
#        wrong mac1 (`bad-mac1`) and once with a right one (`mac1`);
#      - register (a full handshake and a new durable id per request), on a
#        second `peerd server` with `--cookie-threshold 0` (cookies off),
#        then on the first one (cookies under load, the default);
#   3. the scale run: a fresh `peerd server`, its RSS empty and with SCALE
#      (and SCALE_BIG) registered online peers (each by handshake from its
#      own source address, so each holds a session), and LIST page latency;
#   3b. per round, the daemon benchmarks (`peerbench daemon-throughput`,
#      `daemon-latency`, `daemon-startup`), each with a fresh server and daemons;
#   4. prints the table with the ratios and PASS/FAIL per target.
#
# peerd runs with the limits meant for real networks off, in every run:
# `--rate-limit 0 --global-rate-limit 0 --handshake-limit 0`. The generator
# sends thousands of requests per second from each source (the per-source
# limit is 500/s), hundreds of thousands in all (the global cap is
# 1,000,000/s), and thousands of handshakes per second from 127.0.0.1 (the
# per-IP handshake limit is 50/s); the junk flood comes from 64 addresses.
# With these limits on, the server would drop most of the load unread, which
# is what they are for, and not what is measured here. Cookies stay at the
# server's default (`--cookie-threshold 1000`) except for the cookies-off
# register run. The server's key is read with `peerd server --print-key`
# and given to peerbench (`--server-key`).
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
DAEMON_ONLY=${DAEMON_ONLY:-0}
DAEMON_MESSAGES=${DAEMON_MESSAGES:-50000}
DAEMON_LATENCY_S=${DAEMON_LATENCY_S:-10}
DAEMON=${DAEMON:-1}
JUNK_RATE=${JUNK_RATE:-50000}
JUNK_KA_RATE=${JUNK_KA_RATE:-10000}
LIMITS_OFF=(--rate-limit 0 --global-rate-limit 0 --handshake-limit 0)
# Priority for servers and generator, and a CPU each when pinning (on
# exactly 2 cores unless PIN=0; the daemon benchmarks are never pinned:
# they start servers and daemons of their own).
# shellcheck source=benches/common.sh
. "$(dirname "$0")/common.sh"
pin_prefixes

cd "$(dirname "$0")/.."
mkdir -p "$OUT"
RESULTS="$OUT/results.jsonl"
: >"$RESULTS"

echo "== building (release)" >&2
cargo build --release -p peerd -p peerctl -p peerbench >&2
BIN=target/release
# The generator has a build of its own, with the portable ChaCha20 and
# Poly1305 back ends of the RustCrypto crates: for the small payloads of
# these loads they are about 5 x cheaper than the run-time AVX2 ones (0.42
# against 2.18 us per seal + open of a 5-byte payload, measured on the
# machine of RESULTS.md), and on 2 shared cores every microsecond the
# generator spends is one the server does not get. The workspace's
# .cargo/config.toml now sets the same flags for every build (peerd ships
# with them), so the two builds differ only when RUSTFLAGS is set outside.
echo "== building the generator (release, portable AEAD back ends)" >&2
RUSTFLAGS="${RUSTFLAGS:-} --cfg chacha20_force_soft --cfg poly1305_force_soft" \
    CARGO_TARGET_DIR=target/generator cargo build --release -p peerbench >&2
PEERBENCH=target/generator/release/peerbench

if ! command -v turnserver >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "== installing coturn" >&2
        apt-get install -y -qq coturn >&2 || (apt-get update -qq >&2 && apt-get install -y -qq coturn >&2)
    fi
fi
HAVE_COTURN=0
command -v turnserver >/dev/null 2>&1 && HAVE_COTURN=1

# NICE also sets this session's autogroup nice (common.sh), put back at exit.
autogroup_nice

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]:-}"; do
        [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    done
    autogroup_restore
}
trap cleanup EXIT

# start_server KIND -> sets SERVER_PID, SERVER_ADDR and (peerd) SERVER_KEY
start_server() {
    local kind=$1 port
    port=$("$PEERBENCH" free-port)
    SERVER_ADDR="127.0.0.1:$port"
    SERVER_KEY=
    case $kind in
    coturn)
        coturn_args "$port" "$OUT"
        "${SRV[@]}" "${COTURN[@]}" >"$OUT/coturn-$port.log" 2>&1 &
        ;;
    limit)
        "${SRV[@]}" "$BIN/udp-limit" --listen "$SERVER_ADDR" >"$OUT/limit-$port.log" 2>&1 &
        ;;
    peerd | peerd-nocookies)
        local extra=()
        [ "$kind" = peerd-nocookies ] && extra=(--cookie-threshold 0)
        SERVER_KEY=$("$BIN/peerd" server --print-key --db "$OUT/peerd-$port.sqlite3" 2>/dev/null)
        RUST_LOG=warn "${SRV[@]}" "$BIN/peerd" server --listen "$SERVER_ADDR" --db "$OUT/peerd-$port.sqlite3" \
            "${LIMITS_OFF[@]}" --keepalive 3600 "${extra[@]}" \
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

# run_load ROUND TARGET PID ADDR KEY MODE PEERS WINDOW [EXTRA ARGS...]
run_load() {
    local round=$1 target=$2 pid=$3 addr=$4 key=$5 mode=$6 peers=$7 window=$8 json
    shift 8
    local keyarg=()
    [ -n "$key" ] && [ "$mode" != stun ] && keyarg=(--server-key "$key")
    if ! json=$("${GEN[@]}" "$PEERBENCH" "$mode" --server "$addr" --server-pid "$pid" "${keyarg[@]}" \
        --peers "$peers" --window "$window" --duration "$DURATION" "${GEN_ARGS[@]}" "$@" --json \
        2>>"$OUT/peerbench.err"); then
        echo "   $target $mode ${peers}x$window: peerbench failed (see $OUT/peerbench.err)" >&2
        return 0
    fi
    echo "{\"round\":$round,\"target\":\"$target\",\"run\":$json}" >>"$RESULTS"
    python3 -c 'import json,sys; d=json.loads(sys.argv[1]); j=d.get("junk"); print("   %-15s %-9s %4dx%-2d %9.0f/s  p50 %7.1f us  p99 %8.1f us  errors %d  lost %d  answered %.2f%%  server CPU %3.0f%% %6.2f us/req waited %3.0f%%  gen CPU %3.0f%%%s" % (sys.argv[2], d["mode"], d["peers"], d["window"], d["rate_per_s"], d["p50_us"], d["p99_us"], d["errors"], d["lost"], d["answered_pct"], d["server_cpu_pct"] or 0, d["server_us_per_req"] or 0, d["server_wait_pct"] or 0, d["gen_cpu_pct"], "" if not j else "  junk %s %.0f/s (%d answers)" % (j["kind"], j["rate_per_s"], j["answers"])))' "$json" "$target" >&2
}

TARGETS=(limit peerd)
[ "$HAVE_COTURN" = 1 ] && TARGETS=(coturn limit peerd)
SERVER_ROUNDS=$ROUNDS
[ "$DAEMON_ONLY" = 1 ] && SERVER_ROUNDS=0

for round in $(seq 1 "$SERVER_ROUNDS"); do
    echo "== round $round of $ROUNDS" >&2
    declare -A PID ADDR KEY
    for t in "${TARGETS[@]}"; do
        start_server "$t"
        PID[$t]=$SERVER_PID
        ADDR[$t]=$SERVER_ADDR
        KEY[$t]=$SERVER_KEY
    done
    # Rotate the order every round so no server always runs first or last.
    n=${#TARGETS[@]}
    order=()
    for i in $(seq 0 $((n - 1))); do order+=("${TARGETS[$(((i + round) % n))]}"); done
    for shape in "64 8" "1000 1"; do
        set -- $shape
        for t in "${order[@]}"; do run_load "$round" "$t" "${PID[$t]}" "${ADDR[$t]}" "${KEY[$t]}" stun "$1" "$2"; done
        for mode in keepalive mix; do
            run_load "$round" peerd "${PID[peerd]}" "${ADDR[peerd]}" "${KEY[peerd]}" "$mode" "$1" "$2"
        done
    done
    for kind in bad-mac1 mac1; do
        run_load "$round" peerd "${PID[peerd]}" "${ADDR[peerd]}" "${KEY[peerd]}" junk 1000 8 \
            --rate "$JUNK_KA_RATE" --junk-rate "$JUNK_RATE" --junk-kind "$kind"
    done
    # New ids, cookies off: a server of its own (the threshold is a flag).
    start_server peerd-nocookies
    run_load "$round" peerd-nocookies "$SERVER_PID" "$SERVER_ADDR" "$SERVER_KEY" register 64 8
    stop_server "$SERVER_PID"
    # Last: it fills peerd's registry with tens of thousands of ids.
    run_load "$round" peerd "${PID[peerd]}" "${ADDR[peerd]}" "${KEY[peerd]}" register 64 8
    for t in "${TARGETS[@]}"; do stop_server "${PID[$t]}"; done
    unset PID ADDR KEY
done

# ---- scale: memory per online peer and LIST latency at that size ----------
SCALE_FILE="$OUT/scale.jsonl"
: >"$SCALE_FILE"
for n in $SCALE $SCALE_BIG; do
    [ "$n" -gt 0 ] && [ "$DAEMON_ONLY" != 1 ] || continue
    echo "== scale: $n registered peers" >&2
    port=$("$PEERBENCH" free-port)
    key=$("$BIN/peerd" server --print-key --db "$OUT/scale-$n.sqlite3" 2>/dev/null)
    RUST_LOG=warn "${SRV[@]}" "$BIN/peerd" server --listen "127.0.0.1:$port" --db "$OUT/scale-$n.sqlite3" \
        "${LIMITS_OFF[@]}" --keepalive 3600 >"$OUT/scale-$n.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    "$PEERBENCH" wait --server "127.0.0.1:$port" --timeout-s 30
    empty=$(rss_kib "$pid")
    json=$("${GEN[@]}" "$PEERBENCH" populate --server "127.0.0.1:$port" --server-key "$key" --peers "$n" --json)
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
DAEMON_ROUNDS=$ROUNDS
[ "$DAEMON" = 1 ] || DAEMON_ROUNDS=0
for round in $(seq 1 "$DAEMON_ROUNDS"); do
    echo "== daemon round $round of $ROUNDS" >&2
    for bench in throughput latency startup; do
        case $bench in
        throughput) args=(--messages "$DAEMON_MESSAGES") ;;
        latency) args=(--rate 100 --duration "$DAEMON_LATENCY_S") ;;
        startup) args=(--starts 20 --ids 200) ;;
        esac
        if json=$(nice -n "$NICE" "$PEERBENCH" "daemon-$bench" --bin-dir "$BIN" "${args[@]}" --json 2>>"$OUT/peerbench.err"); then
            echo "{\"round\":$round,\"bench\":\"$bench\",\"run\":$json}" >>"$DAEMON_FILE"
            echo "   daemon-$bench: $json" >&2
        else
            echo "   daemon-$bench: peerbench failed (see $OUT/peerbench.err)" >&2
        fi
    done
done

# ---- the table -------------------------------------------------------------
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
echo "command: ROUNDS=$ROUNDS DURATION=$DURATION SCALE=$SCALE SCALE_BIG=$SCALE_BIG NICE=$NICE PIN=$PIN DAEMON=$DAEMON DAEMON_ONLY=$DAEMON_ONLY DAEMON_MESSAGES=$DAEMON_MESSAGES DAEMON_LATENCY_S=$DAEMON_LATENCY_S JUNK_RATE=$JUNK_RATE JUNK_KA_RATE=$JUNK_KA_RATE benches/compare.sh"
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(uname -r)"
echo "load average (1/5/15 min) at start: $LOAD_START; at end: $LOAD_END"
echo "scheduling: nice $NICE for servers and generator$([ -n "$AUTOGROUP_WAS" ] && echo ", and for this session's autogroup"); PIN=$PIN"
echo "peerd server flags (every run): RUST_LOG=warn ${LIMITS_OFF[*]} --keepalive 3600" \
    "(the limits meant for real networks off); cookies at the default threshold (1000 handshakes/s)" \
    "but for the peerd-nocookies register run (--cookie-threshold 0)"
python3 - "$RESULTS" "$SCALE_FILE" "$ROUNDS" "$DURATION" "$DAEMON_FILE" "$JUNK_RATE" <<'PY'
import json, statistics, sys
from collections import defaultdict

results, scale_file, rounds, duration, daemon_file, junk_rate = sys.argv[1:7]
junk_rate = float(junk_rate)
runs = defaultdict(list)
for line in open(results):
    r = json.loads(line)
    d = r["run"]
    mode = d["mode"]
    if d.get("junk"):
        mode = "junk " + d["junk"]["kind"]
    runs[(r["target"], mode, d["peers"], d["window"])].append(d)

def vals(target, mode, peers, window, key="rate_per_s"):
    return [d[key] for d in runs.get((target, mode, peers, window), []) if d.get(key) is not None]

def med(target, mode, peers, window, key="rate_per_s"):
    xs = vals(target, mode, peers, window, key)
    return statistics.median(xs) if xs else None

def spread(target, mode, peers, window, key="rate_per_s", spec="{:,.0f}"):
    xs = vals(target, mode, peers, window, key)
    return "-" if not xs else (spec + "-" + spec).format(min(xs), max(xs))

def total(target, mode, peers, window, key):
    return sum(d[key] for d in runs.get((target, mode, peers, window), []))

def fmt(x, spec="{:,.0f}"):
    return "-" if x is None else spec.format(x)

def ratio(a, b):
    return None if a is None or b in (None, 0) else a / b

def round_ratios(mode, peers, window, other):
    """peerd's rate over `other`'s STUN rate, round by round."""
    by_round = defaultdict(dict)
    for line in open(results):
        r = json.loads(line)
        d = r["run"]
        if (d["peers"], d["window"]) != (peers, window):
            continue
        if r["target"] == "peerd" and d["mode"] == mode and not d.get("junk"):
            by_round[r["round"]]["p"] = d["rate_per_s"]
        if r["target"] == other and d["mode"] == "stun":
            by_round[r["round"]]["o"] = d["rate_per_s"]
    return [v["p"] / v["o"] for k, v in sorted(by_round.items()) if "p" in v and v.get("o")]

print(f"\nrequests/s, median of {rounds} rounds of {duration} s each (lowest-highest round); servers alternated\n")
print("| load | peers x window | coturn | limit | peerd | peerd rounds | peerd/coturn | peerd/limit | peerd p50 / p99 us | peerd errors / lost | peerd CPU | peerd waited | generator CPU |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
rows = []
shapes = ((64, 8), (1000, 1), (1000, 8))
for target, mode in (("peerd", "stun"), ("peerd", "keepalive"), ("peerd", "mix"),
                     ("peerd", "junk bad-mac1"), ("peerd", "junk mac1"),
                     ("peerd-nocookies", "register"), ("peerd", "register")):
    for peers, window in shapes:
        if not runs.get((target, mode, peers, window)):
            continue
        c = med("coturn", "stun", peers, window) if mode == "stun" else None
        l = med("limit", "stun", peers, window) if mode in ("stun", "keepalive", "mix") else None
        p = med(target, mode, peers, window)
        errs = total(target, mode, peers, window, "errors")
        lost = total(target, mode, peers, window, "lost")
        label = mode if target == "peerd" or mode != "register" else "register, cookies off"
        if mode == "register" and target == "peerd":
            label = "register, cookies under load"
        rows.append((target, mode, label, peers, window, c, l, p, errs, lost))
        print(f"| {label} | {peers} x {window} | {fmt(c)} | {fmt(l)} | {fmt(p)} | {spread(target, mode, peers, window)} | "
              f"{fmt(ratio(p, c), '{:.2f}')} | {fmt(ratio(p, l), '{:.2f}')} | "
              f"{fmt(med(target, mode, peers, window, 'p50_us'), '{:.0f}')} / "
              f"{fmt(med(target, mode, peers, window, 'p99_us'), '{:.0f}')} | {errs} / {lost} | "
              f"{fmt(med(target, mode, peers, window, 'server_cpu_pct'), '{:.0f}%')} | "
              f"{fmt(med(target, mode, peers, window, 'server_wait_pct'), '{:.0f}%')} | "
              f"{fmt(med(target, mode, peers, window, 'gen_cpu_pct'), '{:.0f}%')} |")

print("\nlimit and coturn columns are STUN Binding at the same peers x window (they speak only STUN);")
print("CPU columns are percent of one core over the measured interval (the machine's cores are shared by both);")
print("'waited' is the time peerd's threads spent ready to run but waiting for a CPU (other work on the machine).")
print("junk rows: requests/s are the established peers' keepalives, paced; see the junk table.")

print("\nserver CPU per answered request (user+system, all threads; microseconds, median, lowest-highest round).\n")
print("| load | peers x window | coturn | limit | peerd | peerd rounds | limit/peerd |")
print("|---|---|---:|---:|---:|---:|---:|")
for target, mode, label, peers, window, *_ in rows:
    c = med("coturn", "stun", peers, window, "server_us_per_req") if mode == "stun" else None
    l = med("limit", "stun", peers, window, "server_us_per_req") if mode in ("stun", "keepalive", "mix") else None
    p = med(target, mode, peers, window, "server_us_per_req")
    print(f"| {label} | {peers} x {window} | {fmt(c, '{:.2f}')} | {fmt(l, '{:.2f}')} | {fmt(p, '{:.2f}')} | "
          f"{spread(target, mode, peers, window, 'server_us_per_req', '{:.2f}')} | {fmt(ratio(l, p), '{:.2f}')} |")

print("\nper-round ratios (each round runs every server back to back)\n")
print("| ratio | rounds | median |")
print("|---|---|---:|")
for mode, other in (("stun", "coturn"), ("stun", "limit"), ("keepalive", "limit"), ("mix", "limit")):
    for peers, window in shapes[:2]:
        rs = round_ratios(mode, peers, window, other)
        if rs:
            print(f"| {mode} {peers} x {window}, peerd/{other} | {' '.join('%.2f' % x for x in rs)} | {statistics.median(rs):.2f} |")

junks = [r for r in rows if r[1].startswith("junk")]
if junks:
    print("\njunk: established peers' keepalives answered under a flood of junk handshakes (median, lowest-highest round)\n")
    print("| junk | keepalives asked/s | answered | junk asked/s | junk achieved/s | answers to junk/s | kernel drops at server | keepalive p50 / p99 us |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for target, mode, label, peers, window, *_ in junks:
        ds = runs[(target, mode, peers, window)]
        ask = statistics.median([(d["sent"] + d["unsent"]) / d["duration_s"] for d in ds])
        ach = [d["junk"]["rate_per_s"] for d in ds]
        ans = [d["junk"]["answers"] / d["duration_s"] for d in ds]
        drops = [d.get("server_drops") or 0 for d in ds]
        print(f"| {mode[5:]} | {ask:,.0f} | {med(target, mode, peers, window, 'answered_pct'):.2f}% ({spread(target, mode, peers, window, 'answered_pct', '{:.2f}')}) | "
              f"{ds[0]['junk']['target_per_s']:,.0f} | {statistics.median(ach):,.0f} ({min(ach):,.0f}-{max(ach):,.0f}) | "
              f"{statistics.median(ans):,.0f} | {statistics.median(drops):,.0f} | "
              f"{fmt(med(target, mode, peers, window, 'p50_us'), '{:.0f}')} / {fmt(med(target, mode, peers, window, 'p99_us'), '{:.0f}')} |")

print("\n| scale | RSS empty | RSS with peers | bytes / peer | register/s | cookie replies | LIST pages | LIST p50 / p99 / max us |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
scale = [json.loads(l) for l in open(scale_file)]
for s in scale:
    r = s["run"]
    per = (s["rss_full_kib"] - s["rss_empty_kib"]) * 1024 / s["peers"]
    s["per_peer"] = per
    print(f"| {s['peers']:,} peers | {s['rss_empty_kib']:,} KiB | {s['rss_full_kib']:,} KiB | {per:.0f} | "
          f"{r['register_per_s']:,.0f} | {r.get('cookies', 0):,} | {r['list_pages']:,} | {r['list_p50_us']:.0f} / {r['list_p99_us']:.0f} / {r['list_max_us']:.0f} |")

print("\n| target (protocol v2) | measured | result |")
print("|---|---|---|")
def verdict(ok):
    return "-" if ok is None else ("PASS" if ok else "FAIL")
for target, mode, label, peers, window, c, l, p, errs, lost in rows:
    shape = f"{peers} x {window}"
    if mode == "stun":
        rc = ratio(p, c)
        print(f"| STUN {shape}: >= 1.5 x coturn, zero errors | {fmt(rc, '{:.3f}')} x ({fmt(p)} vs {fmt(c)}/s), {errs} errors, {lost} lost | {verdict(None if rc is None else rc >= 1.5 and errs == 0)} |")
    elif mode == "keepalive":
        rl = ratio(p, l)
        print(f"| authenticated keepalives {shape}: >= 60% of limit, zero errors | {fmt(None if rl is None else 100 * rl, '{:.1f}%')}, {errs} errors, {lost} lost | "
              f"{verdict(None if rl is None else rl >= 0.60 and errs == 0)} |")
    elif mode == "register":
        print(f"| new registrations (full handshakes), {label[10:]}: >= 5,000/s | {fmt(p)}/s ({spread(target, mode, peers, window)}), {errs} errors, {lost} lost | "
              f"{verdict(None if p is None else p >= 5000 and errs == 0)} |")
    elif mode.startswith("junk"):
        ds = runs[(target, mode, peers, window)]
        ach = statistics.median([d["junk"]["rate_per_s"] for d in ds])
        a = med(target, mode, peers, window, "answered_pct")
        ok = None if ach < 0.95 * junk_rate else a >= 99.0
        note = "" if ok is not None else f" (junk reached only {ach:,.0f}/s: not a test of the target)"
        print(f"| under {junk_rate:,.0f} junk handshakes/s ({mode[5:]}): >= 99% of keepalives answered | {a:.2f}% at {ach:,.0f} junk/s{note} | {verdict(ok)} |")
big = [s for s in scale if s["peers"] >= 1_000_000]
if big:
    s = big[-1]
    print(f"| memory at {s['peers']:,} online peers: <= 400 B/peer | {s['per_peer']:.0f} B/peer | {verdict(s['per_peer'] <= 400)} |")
else:
    for s in scale:
        print(f"| memory at {s['peers']:,} peers (target is at 1,000,000): <= 400 B/peer | {s['per_peer']:.0f} B/peer | {verdict(s['per_peer'] <= 400)} (indicative) |")
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
if daemon:
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
