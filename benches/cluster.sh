#!/usr/bin/env bash
# peerd's cluster benchmarks (issue "Cluster", docs/cluster.md): a cluster
# of three nodes on PostgreSQL and NATS against one single server with its
# SQLite, in one run, on this machine's loopback.
#
#   benches/cluster.sh                      # 3 rounds, 5 s per load run, 50,000 peers for memory
#   ROUNDS=5 DURATION=10 MEMORY_PEERS=100000 benches/cluster.sh
#   NICE=-10 benches/cluster.sh             # everything at higher priority (root), also the
#                                           # session's autogroup (as compare.sh does)
#   PG_FSYNC=off benches/cluster.sh         # PostgreSQL without fsync (default: on, durable)
#   PERF=1 benches/cluster.sh               # perf record of n1 during the first cluster register run
#   PEERD=target/profiling/peerd PERF=1 benches/cluster.sh   # the same with symbols
#                                           # (`cargo build --profile profiling -p peerd` first)
#
# What it does:
#   1. builds peerd and peerbench in release mode;
#   2. starts PostgreSQL (initdb in a temp dir, run as `nobody` when root,
#      on a free port, fsync on unless PG_FSYNC=off) and nats-server (free
#      port), three nodes n1..n3 sharing one key file (`--cluster-db`,
#      `--cluster-bus`, `--node`) and one single `peerd server` (SQLite);
#      every server with the limits meant for real networks off
#      (`--rate-limit 0 --global-rate-limit 0 --handshake-limit 0`, as
#      compare.sh) and `--keepalive 3600` (registered peers stay online);
#   3. per round:
#      - `peerbench cluster-connect`: CONNECT to INTRO latency, the target
#        on the asker's node and on another node, alternating request by
#        request (the pair of nodes rotating every round);
#      - keepalive: one `peerbench keepalive` per node, the three at once,
#        and one against the single server (which of the two goes first
#        alternates every round); requests/s summed over the nodes;
#      - register (a new key, so a new id from PostgreSQL, per request):
#        the same way;
#   4. memory: RSS of n2 and n3, then `peerbench populate` of MEMORY_PEERS
#      peers on n1, then a LIST walk on n2 and n3 until every peer is
#      there (the replica is complete), then their RSS again;
#   5. prints the table with PASS/FAIL per target; stops everything (trap).
#
# All of this shares the machine's cores: three nodes, the single server,
# PostgreSQL, NATS and the generators. Results and logs go to $OUT.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
CONNECTS=${CONNECTS:-2000}
MEMORY_PEERS=${MEMORY_PEERS:-50000}
KA_PEERS=${KA_PEERS:-64}
KA_WINDOW=${KA_WINDOW:-8}
NICE=${NICE:-0}
PG_FSYNC=${PG_FSYNC:-on}
PERF=${PERF:-0}
OUT=${OUT:-$(mktemp -d /tmp/peerd-cluster.XXXXXX)}
LIMITS_OFF=(--rate-limit 0 --global-rate-limit 0 --handshake-limit 0)
RUN=(nice -n "$NICE")

cd "$(dirname "$0")/.."
mkdir -p "$OUT"
RESULTS="$OUT/results.jsonl"
: >"$RESULTS"

echo "== building (release)" >&2
cargo build --release -p peerd -p peerbench >&2
BIN=$PWD/target/release
PEERBENCH=$BIN/peerbench
PEERD=${PEERD:-$BIN/peerd}

pg_bin() {
    if command -v "$1" >/dev/null 2>&1; then
        command -v "$1"
    else
        ls -d /usr/lib/postgresql/*/bin/"$1" 2>/dev/null | sort -V | tail -1
    fi
}
for p in initdb postgres; do
    [ -n "$(pg_bin $p)" ] || { echo "$p not found: install postgresql" >&2; exit 1; }
done
command -v nats-server >/dev/null || { echo "nats-server not found: install nats-server" >&2; exit 1; }

# PostgreSQL refuses to run as root: as `nobody` then.
AS_PG=()
if [ "$(id -u)" = 0 ]; then
    AS_PG=(setpriv --reuid=65534 --regid=65534 --clear-groups)
fi

tcp_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_log FILE TEXT WHAT: polls FILE for TEXT, 30 s at most.
wait_log() {
    local deadline=$((SECONDS + 30))
    until grep -q "$2" "$1" 2>/dev/null; do
        if [ $SECONDS -ge $deadline ]; then
            echo "$3 did not start; its log:" >&2
            tail -20 "$1" >&2
            exit 1
        fi
        sleep 0.1
    done
}

# shellcheck source=benches/common.sh
. benches/common.sh
autogroup_nice

PIDS=()
PGDATA=
cleanup() {
    for pid in "${PIDS[@]:-}"; do
        [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]:-}"; do
        [ -n "$pid" ] && wait "$pid" 2>/dev/null || true
    done
    autogroup_restore
    [ -n "$PGDATA" ] && rm -rf "$PGDATA"
}
trap cleanup EXIT

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
DATE_START=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
echo "== $DATE_START, load $LOAD_START" >&2

# ---- engines -------------------------------------------------------------
PGDATA=$(mktemp -d /tmp/peerd-cluster-pg.XXXXXX)
[ "$(id -u)" = 0 ] && chown 65534:65534 "$PGDATA"
HOME=$PGDATA "${AS_PG[@]}" "$(pg_bin initdb)" -U postgres -A trust -E UTF8 --locale=C --no-sync \
    -D "$PGDATA/data" >"$OUT/initdb.log" 2>&1
PG_PORT=$(tcp_port)
HOME=$PGDATA "${RUN[@]}" "${AS_PG[@]}" "$(pg_bin postgres)" -D "$PGDATA/data" -h 127.0.0.1 -p "$PG_PORT" \
    -k "$PGDATA" -c max_connections=50 -c "fsync=$PG_FSYNC" >"$OUT/postgres.log" 2>&1 &
PIDS+=($!)
PG_PID=$!
wait_log "$OUT/postgres.log" "ready to accept connections" postgres
NATS_PORT=$(tcp_port)
"${RUN[@]}" nats-server -a 127.0.0.1 -p "$NATS_PORT" >"$OUT/nats.log" 2>&1 &
PIDS+=($!)
NATS_PID=$!
wait_log "$OUT/nats.log" "Server is ready" nats-server

# ---- servers -------------------------------------------------------------
KEY=$("$PEERD" server --key-file "$OUT/cluster.key" --print-key 2>/dev/null)
declare -A NODE_PID NODE_ADDR
for n in n1 n2 n3; do
    port=$("$PEERBENCH" free-port)
    NODE_ADDR[$n]=127.0.0.1:$port
    RUST_LOG=warn "${RUN[@]}" "$PEERD" server --listen "${NODE_ADDR[$n]}" --key-file "$OUT/cluster.key" \
        --cluster-db "postgres://postgres@127.0.0.1:$PG_PORT/postgres" \
        --cluster-bus "nats://127.0.0.1:$NATS_PORT" --node "$n" \
        "${LIMITS_OFF[@]}" --keepalive 3600 >"$OUT/node-$n.log" 2>&1 &
    NODE_PID[$n]=$!
    PIDS+=($!)
    "$PEERBENCH" wait --server "${NODE_ADDR[$n]}" --timeout-s 30
done
SINGLE_KEY=$("$PEERD" server --db "$OUT/single.sqlite3" --print-key 2>/dev/null)
port=$("$PEERBENCH" free-port)
SINGLE_ADDR=127.0.0.1:$port
RUST_LOG=warn "${RUN[@]}" "$PEERD" server --listen "$SINGLE_ADDR" --db "$OUT/single.sqlite3" \
    "${LIMITS_OFF[@]}" --keepalive 3600 >"$OUT/single.log" 2>&1 &
SINGLE_PID=$!
PIDS+=($!)
"$PEERBENCH" wait --server "$SINGLE_ADDR" --timeout-s 30
echo "== postgres :$PG_PORT (fsync $PG_FSYNC), nats :$NATS_PORT, nodes ${NODE_ADDR[n1]} ${NODE_ADDR[n2]} ${NODE_ADDR[n3]}, single $SINGLE_ADDR" >&2

rss_kib() {
    awk '/^VmRSS:/ {print $2}' "/proc/$1/status"
}

# record ROUND WHAT TARGET JSON
record() {
    echo "{\"round\":$1,\"bench\":\"$2\",\"target\":\"$3\",\"run\":$4}" >>"$RESULTS"
}

# load ROUND MODE TARGET PID ADDR KEY EXTRA... -> one peerbench run, recorded
load() {
    local round=$1 mode=$2 target=$3 pid=$4 addr=$5 key=$6 json
    shift 6
    json=$("${RUN[@]}" "$PEERBENCH" "$mode" --server "$addr" --server-key "$key" --server-pid "$pid" \
        --duration "$DURATION" --json "$@" 2>>"$OUT/peerbench.err") || {
        echo "   $target $mode: peerbench failed (see $OUT/peerbench.err)" >&2
        return 0
    }
    record "$round" "$mode" "$target" "$json"
    python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print("   %-7s %-9s %9.0f/s  p50 %7.1f us  p99 %8.1f us  errors %d  lost %d  server CPU %3.0f%%" % (sys.argv[2], d["mode"], d["rate_per_s"], d["p50_us"], d["p99_us"], d["errors"], d["lost"], d["server_cpu_pct"] or 0))' "$json" "$target" >&2
}

# ticks PID...: CPU time (user + system, clock ticks) of the processes and
# of their children (PostgreSQL's backends are children of the postmaster).
ticks() {
    local p all=()
    for p in "$@"; do
        all+=("$p")
        all+=($(pgrep -P "$p" || true))
    done
    for p in "${all[@]}"; do
        awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || true
    done | awk '{s += $1} END {print s + 0}'
}
HZ=$(getconf CLK_TCK)

# cluster_load ROUND MODE EXTRA...: the three nodes at once, one generator
# each; also the CPU PostgreSQL and NATS used meanwhile.
PERF_DONE=0
cluster_load() {
    local round=$1 mode=$2 n pg0 nats0 t0
    shift 2
    local jobs=()
    pg0=$(ticks "$PG_PID")
    nats0=$(ticks "$NATS_PID")
    t0=$(date +%s.%N)
    for n in n1 n2 n3; do
        load "$round" "$mode" "$n" "${NODE_PID[$n]}" "${NODE_ADDR[$n]}" "$KEY" --threads 1 "$@" 2>"$OUT/load-$n.err" &
        jobs+=($!)
    done
    local perf_pid=
    if [ "$PERF" = 1 ] && [ "$mode" = register ] && [ "$PERF_DONE" = 0 ] && command -v perf >/dev/null; then
        # Only n1's samples: it is idle while the generators prepare.
        perf record -F 999 -g -p "${NODE_PID[n1]}" -o "$OUT/perf-n1.data" >"$OUT/perf.log" 2>&1 &
        perf_pid=$!
        PERF_DONE=1
    fi
    for j in "${jobs[@]}"; do wait "$j"; done
    if [ -n "$perf_pid" ]; then
        kill -INT "$perf_pid" 2>/dev/null || true
        wait "$perf_pid" 2>/dev/null || true
    fi
    for n in n1 n2 n3; do cat "$OUT/load-$n.err" >&2; done
    awk -v r="$round" -v m="$mode" -v w="$(date +%s.%N)" -v t0="$t0" -v pg="$(ticks "$PG_PID")" -v pg0="$pg0" \
        -v na="$(ticks "$NATS_PID")" -v na0="$nats0" -v hz="$HZ" 'BEGIN {
        printf "{\"round\":%d,\"bench\":\"engines\",\"mode\":\"%s\",\"wall_s\":%.3f,\"pg_cpu_s\":%.2f,\"nats_cpu_s\":%.2f}\n",
            r, m, w - t0, (pg - pg0) / hz, (na - na0) / hz }' >>"$RESULTS"
}

single_load() {
    local round=$1 mode=$2
    shift 2
    load "$round" "$mode" single "$SINGLE_PID" "$SINGLE_ADDR" "$SINGLE_KEY" "$@"
}

NODES=(n1 n2 n3)
for round in $(seq 1 "$ROUNDS"); do
    echo "== round $round of $ROUNDS (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
    near=${NODES[$(((round - 1) % 3))]}
    far=${NODES[$((round % 3))]}
    if json=$("${RUN[@]}" "$PEERBENCH" cluster-connect --near "${NODE_ADDR[$near]}" --far "${NODE_ADDR[$far]}" \
        --server-key "$KEY" --requests "$CONNECTS" --json 2>>"$OUT/peerbench.err"); then
        record "$round" connect "$near-$far" "$json"
        python3 -c 'import json,sys; d=json.loads(sys.argv[1])
for k in ("same_node","cross_node"):
    s=d[k]; print("   connect %s->%s %-10s INTRO p50 %6.0f us p99 %6.0f us max %6.0f us lost %d; ACK p50 %6.0f us p99 %6.0f us" % (sys.argv[2], sys.argv[3], k, s["intro_p50_us"], s["intro_p99_us"], s["intro_max_us"], s["intro_lost"], s["ack_p50_us"], s["ack_p99_us"]))' "$json" "$near" "$far" >&2
    else
        echo "   cluster-connect failed (see $OUT/peerbench.err)" >&2
    fi
    for mode in keepalive register; do
        extra=(--peers "$KA_PEERS" --window "$KA_WINDOW")
        if [ $((round % 2)) = 1 ]; then
            cluster_load "$round" "$mode" "${extra[@]}"
            single_load "$round" "$mode" "${extra[@]}"
        else
            single_load "$round" "$mode" "${extra[@]}"
            cluster_load "$round" "$mode" "${extra[@]}"
        fi
    done
done

# ---- PostgreSQL alone: new keys per second in transactions like a node's ----
# (a table of its own; three clients, as three nodes; BATCH keys per transaction)
if command -v pgbench >/dev/null && command -v psql >/dev/null; then
    echo "== PostgreSQL alone (pgbench)" >&2
    PGURL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
    psql -q "$PGURL" -c "CREATE TABLE IF NOT EXISTS bench_keys (id BIGSERIAL PRIMARY KEY, key BYTEA NOT NULL UNIQUE, created TIMESTAMPTZ NOT NULL DEFAULT now(), last_ts BIGINT NOT NULL DEFAULT 0)" >&2
    cat >"$OUT/claim.sql" <<'SQL'
BEGIN;
INSERT INTO bench_keys (key) SELECT decode(md5(random()::text) || md5(random()::text), 'hex') FROM generate_series(1, :batch) ON CONFLICT (key) DO NOTHING;
COMMIT;
SQL
    for batch in 1 100; do
        tps=$("${RUN[@]}" pgbench -n -h 127.0.0.1 -p "$PG_PORT" -U postgres -c 3 -j 3 -T "$DURATION" -D batch=$batch \
            -f "$OUT/claim.sql" postgres 2>>"$OUT/pgbench.err" | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -1)
        [ -n "$tps" ] || { echo "   pgbench failed (see $OUT/pgbench.err)" >&2; continue; }
        echo "   batch $batch: $tps transactions/s" >&2
        echo "{\"bench\":\"pgbench\",\"batch\":$batch,\"tps\":$tps}" >>"$RESULTS"
    done
fi

# ---- memory per replicated peer --------------------------------------------
echo "== memory: $MEMORY_PEERS peers registered on n1" >&2
RSS1_BEFORE=$(rss_kib "${NODE_PID[n1]}")
# The peers already online (the load runs' and their walkers) count too.
base=$("$PEERBENCH" populate --server "${NODE_ADDR[n2]}" --server-key "$KEY" --peers 0 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["list_peers"])')
RSS2_BEFORE=$(rss_kib "${NODE_PID[n2]}")
RSS3_BEFORE=$(rss_kib "${NODE_PID[n3]}")
"${RUN[@]}" "$PEERBENCH" populate --server "${NODE_ADDR[n1]}" --server-key "$KEY" --peers "$MEMORY_PEERS" --json \
    >"$OUT/populate.json" 2>>"$OUT/peerbench.err"
want=$((base + MEMORY_PEERS))
for n in n2 n3; do
    deadline=$((SECONDS + 60))
    while :; do
        seen=$("$PEERBENCH" populate --server "${NODE_ADDR[$n]}" --server-key "$KEY" --peers 0 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["list_peers"])')
        # Each walk registers its walker (one more peer).
        [ "$seen" -ge "$want" ] && break
        if [ $SECONDS -ge $deadline ]; then
            echo "   $n lists $seen peers of $want after 60 s" >&2
            break
        fi
        sleep 0.5
    done
    echo "   $n lists $seen peers (wanted $want)" >&2
done
RSS1_AFTER=$(rss_kib "${NODE_PID[n1]}")
RSS2_AFTER=$(rss_kib "${NODE_PID[n2]}")
RSS3_AFTER=$(rss_kib "${NODE_PID[n3]}")
echo "{\"bench\":\"memory\",\"peers\":$MEMORY_PEERS,\"n1\":[$RSS1_BEFORE,$RSS1_AFTER],\"n2\":[$RSS2_BEFORE,$RSS2_AFTER],\"n3\":[$RSS3_BEFORE,$RSS3_AFTER],\"populate\":$(cat "$OUT/populate.json")}" >>"$RESULTS"

LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== done $(date -u '+%Y-%m-%d %H:%M:%S UTC'), load $LOAD_END" >&2

python3 - "$RESULTS" "$DATE_START" "$LOAD_START" "$LOAD_END" "$PG_FSYNC" <<'PY'
import json, statistics, sys
from collections import defaultdict
path, date, load0, load1, fsync = sys.argv[1:]
rows = [json.loads(l) for l in open(path)]
def med(xs):
    return statistics.median(xs) if xs else None
def fmt(x, f="{:,.0f}"):
    return "-" if x is None else f.format(x)

print(f"\ncluster benchmarks, {date}; load average {load0} -> {load1}; PostgreSQL fsync {fsync}\n")
conn = [r for r in rows if r.get("bench") == "connect"]
print("| CONNECT -> INTRO (us) | rounds (p50 / p99) | median p50 | median p99 | lost |")
print("|---|---|---:|---:|---:|")
side = {}
for k, label in (("same_node", "same node"), ("cross_node", "cross node")):
    ps = [r["run"][k] for r in conn]
    p50 = med([s["intro_p50_us"] for s in ps]); p99 = med([s["intro_p99_us"] for s in ps])
    side[k] = (p50, p99)
    print(f"| {label} | {', '.join('%.0f / %.0f' % (s['intro_p50_us'], s['intro_p99_us']) for s in ps)} | "
          f"{fmt(p50)} | {fmt(p99)} | {sum(s['intro_lost'] for s in ps)} |")
added = [r["run"]["cross_node"]["intro_p99_us"] - r["run"]["same_node"]["intro_p99_us"] for r in conn]
added50 = [r["run"]["cross_node"]["intro_p50_us"] - r["run"]["same_node"]["intro_p50_us"] for r in conn]
print(f"| added by the cross-node hop (per round) | p50: {', '.join('%.0f' % a for a in added50)}; p99: {', '.join('%.0f' % a for a in added)} | {fmt(med(added50))} | {fmt(med(added))} | |")

def rates(bench, target):
    by = defaultdict(float)
    errs = 0
    for r in rows:
        if r.get("bench") == bench and (r["target"] == target or (target == "cluster" and r["target"] in ("n1", "n2", "n3"))):
            by[r["round"]] += r["run"]["rate_per_s"]
            errs += r["run"]["errors"] + r["run"]["lost"]
    return [by[k] for k in sorted(by)], errs
print("\n| requests/s | three nodes (sum, per round) | median | one server (per round) | median | three / one | errors + lost (3 / 1) |")
print("|---|---|---:|---|---:|---:|---|")
figs = {}
for bench in ("keepalive", "register"):
    c, ce = rates(bench, "cluster"); s, se = rates(bench, "single")
    figs[bench] = (med(c), med(s), ce, se)
    ratio = med(c) / med(s) if c and s else None
    print(f"| {bench} | {', '.join(fmt(x) for x in c)} | {fmt(med(c))} | {', '.join(fmt(x) for x in s)} | {fmt(med(s))} | {fmt(ratio, '{:.2f}')} | {ce} / {se} |")

eng = [r for r in rows if r.get("bench") == "engines"]
if eng:
    print("\nCPU of the engines while the three nodes ran (seconds, whole cluster run incl. the generators' preparation):\n")
    print("| load | rounds: PostgreSQL / NATS CPU s over wall s |")
    print("|---|---|")
    for mode in ("keepalive", "register"):
        print(f"| {mode} | {'; '.join('%.2f / %.2f over %.1f' % (r['pg_cpu_s'], r['nats_cpu_s'], r['wall_s']) for r in eng if r['mode'] == mode)} |")
pgb = [r for r in rows if r.get("bench") == "pgbench"]
for r in pgb:
    print(f"\nPostgreSQL alone (pgbench, 3 clients, {r['batch']} new keys per transaction): {r['tps']:,.0f} transactions/s = {r['tps'] * r['batch']:,.0f} new keys/s")

mem = [r for r in rows if r.get("bench") == "memory"]
per = None
if mem:
    m = mem[-1]
    n = m["peers"]
    print("\n| memory | RSS before (KiB) | RSS after (KiB) | bytes per peer |")
    print("|---|---:|---:|---:|")
    for node, what in (("n1", "n1 (home of the peers)"), ("n2", "n2 (replica)"), ("n3", "n3 (replica)")):
        b, a = m[node]
        print(f"| {what}, {n:,} peers | {b:,} | {a:,} | {(a - b) * 1024 / n:.0f} |")
    per = med([(m[x][1] - m[x][0]) * 1024 / n for x in ("n2", "n3")])
    print(f"\npopulate on n1: {m['populate']['register_per_s']:,.0f} registrations/s")

def verdict(ok):
    return "-" if ok is None else ("PASS" if ok else "FAIL")
print("\n| target | measured | result |")
print("|---|---|---|")
a = med(added)
print(f"| cross-node CONNECT -> INTRO adds <= 0.5 ms at p99 | {fmt(a)} us (same {fmt(side['same_node'][1])}, cross {fmt(side['cross_node'][1])} us at p99) | {verdict(None if a is None else a <= 500)} |")
c, s, ce, se = figs["register"]
print(f"| new-key registrations through PostgreSQL, three nodes: >= 10,000/s | {fmt(c)}/s ({ce} errors + lost); one server with SQLite {fmt(s)}/s | {verdict(None if c is None else c >= 10000 and ce == 0)} |")
c, s, ce, se = figs["keepalive"]
print(f"| keepalives/s, three nodes against one (no target) | {fmt(c)}/s against {fmt(s)}/s | - |")
print(f"| resident memory per replicated peer (no target) | {fmt(per)} B | - |")
PY
echo "results: $OUT" >&2
