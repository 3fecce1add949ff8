# Packet captures for the VM tests, sourced inside the guest after ../shared/vm/tests/lib.sh: tcpdump started
# so that $! is tcpdump itself (a background shell function would leave it running, orphaned, when its
# subshell is killed: its capture then never flushed, and its stdout holding the job's output pipe, which keeps
# the guest from powering off), written per packet (-U), and stopped with its counts checked.

# cap_start HOST IF NAME [FILTER...]: tcpdump on HOST's IF into $LAB/NAME.pcap, in the background
cap_start() {
    local h=$1 i=$2 n=$3; shift 3
    rm -f "$LAB/$n.pcap" "$LAB/$n.err"
    # exec: $! is tcpdump itself (nsenter execs it), not a subshell that would ignore the signal
    ( exec nsenter --net=/run/netns/"$h" --mount=/run/mntns/"$h" -- \
        tcpdump -n -U -s 256 -i "$i" -w "$LAB/$n.pcap" "$@" > /dev/null 2> "$LAB/$n.err" ) &
    echo $! > "$LAB/$n.pid"
    wait_for 20 grep -q 'listening on' "$LAB/$n.err" || t_fail "tcpdump in $h on $i did not start: $(cat "$LAB/$n.err")"
}
# exited PID: the process is gone or a zombie (not reaped yet)
exited() { ! kill -0 "$1" 2>/dev/null || grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
# cap_stop NAME: stops the capture (tcpdump flushes and prints its counts)
cap_stop() {
    local n=$1 p; p=$(cat "$LAB/$n.pid" 2>/dev/null) || return 0
    kill -TERM "$p" 2>/dev/null
    wait_for 10 exited "$p" || { t_fail "tcpdump $n still running 10 s after SIGTERM"; kill -KILL "$p"; }
    wait "$p" 2>/dev/null
    grep -E 'packets (captured|dropped by kernel)' "$LAB/$n.err" | sed "s/^/  $n: /"
    if grep -qE '^[1-9][0-9]* packets dropped by kernel' "$LAB/$n.err"; then
        t_fail "tcpdump $n dropped packets: the capture is not complete"
    fi
}
# cap_read NAME [FILTER]: the capture as text, one packet a line
cap_read() { local n=$1; shift; tcpdump -n -r "$LAB/$n.pcap" "$@" 2>/dev/null; }
