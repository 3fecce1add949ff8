# passgate's resident memory on the emulated Raspberry Pi (aarch64 guest, Debian trixie's OpenJDK 21: the JVM a
# Pi running Debian gets), with the launcher's own JVM options (the default configuration): idle, then after a
# flood ping and a TCP transfer from client1 through passgate's NAT to the server; /proc/PID/status and the
# mappings that hold the most (smaps). A measurement, not a pass/fail bound (memory is shown by scripted runs,
# never asserted): `tools/bin/vm-test pi-memory` (manual: not in the default run). TCG emulates the CPU, so the
# traffic is slow; what it shows is the memory of the aarch64 JVM and passgate's tables, not speed. The guest
# has 512 MB, a Pi Zero 2 W's, so nat.max-flows = auto sizes the tables as it would there.
# vm-arch: arm64
# vm-manual: yes
# vm-mem: 512
# vm-plug: tools/vm/plug-passgate --lan-if br-lan --wan-if wan0 --wan-address 10.0.0.1
# vm-timeout: 1200
need_topology

pg_pid() { pgrep -f 'io.passgate.daemon.Main' | head -1; }
memline() { awk '/^(VmRSS|VmHWM|RssAnon|RssFile|Threads):/ {printf "%s %s%s; ", $1, $2, ($3 ? " " $3 : "")}' "/proc/$1/status"; }
top_maps() {
    awk '/^[0-9a-f]+-[0-9a-f]+ / {name = ($6 == "" ? "[anon]" : $6)} /^Rss:/ {rss[name] += $2}
         END {for (n in rss) if (rss[n] >= 512) printf "%d kB %s\n", rss[n], n}' "/proc/$1/smaps" | sort -rn | head -8
}

t_start pi-memory-idle
pid=$(pg_pid)
if [ -z "$pid" ]; then
    t_fail "no passgate process"
    t_end
else
    sleep 20   # start-up's compilations and the first status publications settle
    echo "java: $(readlink -f /proc/$pid/exe); $(tr '\0' ' ' < /proc/$pid/cmdline | grep -o -- '-Xm[sxn][0-9a-z]*\|-XX:[-+]TieredCompilation\|-XX:TieredStopAtLevel=[0-9]' | tr '\n' ' ')"
    echo "memory: $(grep MemTotal /proc/meminfo)"
    inns router sh -c 'cd /plug && tools/bin/passgate --lan-if br-lan --wan-if wan0 --wan-address 10.0.0.1 --check-config' \
        | grep '^nat.max-flows' || t_fail 'passgate --check-config'
    idle=$(memline "$pid")
    echo "idle: $idle"
    top_maps "$pid"
    t_end "$idle"

    t_start pi-memory-traffic
    inns server sh -c 'nc -l -p 5001 > /dev/null' &
    srv=$!
    sleep 1
    inns client1 ping -f -c 20000 -s 56 -W 1 10.0.0.2 | tail -2
    inns client1 sh -c 'head -c 100000000 /dev/zero | nc -N 10.0.0.2 5001' || t_fail "TCP transfer through passgate"
    kill "$srv" 2>/dev/null; wait "$srv" 2>/dev/null
    inns client1 ping -f -c 20000 -s 56 -W 1 10.0.0.2 | tail -1
    [ "$(pg_pid)" = "$pid" ] || t_fail "passgate restarted during the traffic"
    busy=$(memline "$pid")
    echo "after traffic: $busy"
    top_maps "$pid"
    t_end "$busy"
fi
