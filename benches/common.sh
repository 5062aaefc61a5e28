# Shell functions the benchmark scripts share (compare.sh, cluster.sh,
# stun_ab.sh, register_ab.sh source this file; it runs nothing itself).

# autogroup_nice: with autogroup scheduling (kernel.sched_autogroup_enabled=1)
# the CPU is shared fairly between sessions first, and a nice value only
# weighs within its session, so a plain `nice -n -20` does nothing against a
# compiler in another terminal. When NICE is not 0, this also sets the
# calling session's autogroup nice (as root) and keeps the old value in
# AUTOGROUP_WAS (empty when nothing was changed) for autogroup_restore.
autogroup_nice() {
    AUTOGROUP_WAS=
    if [ "${NICE:-0}" != 0 ] && [ -w "/proc/$$/autogroup" ]; then
        AUTOGROUP_WAS=$(sed -n 's/.* nice //p' "/proc/$$/autogroup")
        echo "$NICE" >"/proc/$$/autogroup" 2>/dev/null || AUTOGROUP_WAS=
    fi
}

# autogroup_restore: puts back what autogroup_nice changed (for the EXIT trap).
autogroup_restore() {
    if [ -n "${AUTOGROUP_WAS:-}" ]; then
        echo "$AUTOGROUP_WAS" >"/proc/$$/autogroup" 2>/dev/null || true
    fi
}

# pin_prefixes: the command prefixes that give the servers and the load
# generator their priority and, when pinning, a CPU each.
#
# In: NICE (a nice value), PIN (1, 0, or auto/unset: 1 on a machine with
# exactly 2 cores). Out: PIN (1 or 0), SRV and GEN (prefixes for servers
# and generator), GEN_ARGS (the generator's extra arguments).
#
# Why pin on 2 cores: the generator needs a core. Unpinned, the scheduler
# splits the two between the generator's threads and the server's, and the
# split depends on the server: one cheaper per answer drives the generator
# harder, which then takes the CPU that server would use (RESULTS.md, "run
# 6 (PIN=1) and run 7"). Pinned, each server has one core and the
# generator the other, as a server on its own machine would.
pin_prefixes() {
    PIN=${PIN:-auto}
    if [ "$PIN" = auto ]; then
        PIN=0
        [ "$(nproc)" = 2 ] && PIN=1
    fi
    SRV=(nice -n "$NICE")
    GEN=(nice -n "$NICE")
    GEN_ARGS=()
    if [ "$PIN" = 1 ]; then
        SRV+=(taskset -c 0)
        GEN+=(taskset -c 1)
        GEN_ARGS=(--threads 1)
    fi
}

# coturn_args PORT DIR: sets COTURN to coturn's command as every benchmark
# runs it: STUN only, on 127.0.0.1:PORT, its files in DIR.
coturn_args() {
    COTURN=(turnserver --stun-only -L 127.0.0.1 --listening-port "$1"
        --no-cli --no-tls --no-dtls --no-tcp --no-auth
        --log-file stdout --simple-log --no-stdout-log
        --pidfile "$2/turnserver-$1.pid" --userdb "$2/turndb-$1")
}
