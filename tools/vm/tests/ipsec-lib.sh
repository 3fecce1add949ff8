# Helpers for the IPsec VM tests (ipsec-xfrm.sh, ipsec-strongswan.sh), sourced inside the amd64 guest after
# ../shared/vm/tests/lib.sh. passgate is the router's NAT (tools/vm/plug-passgate); the clients and the
# server use the guest kernel's own ESP (esp4, XFRM).

PASSGATE_RUNTIME=/run/passgate
VM_JAVA_OPTS=-XX:TieredStopAtLevel=1   # as board-lib.sh: C1 only under TCG

# api JSON: one control-socket request (what passgatectl sends), the answer on stdout; no JVM start
api() { echo "$1" | inns router nc -N -U "$PASSGATE_RUNTIME/control.sock" 2>/dev/null; }
# ctl ARGS: passgatectl itself in the router namespace (a JVM: ~20 s under TCG)
ctl() { inns router bash -c "cd /plug && PASSGATE_JAVA_OPTS='$VM_JAVA_OPTS' tools/bin/passgatectl $*"; }
# counter NAME: one of passgate's counters (kebab-case, as passgatectl counters prints it), 0 when absent
counter() { api '{"cmd":"counters"}' | grep -o "\"$1\":[0-9]*" | head -1 | sed 's/.*://;s/^$/0/'; }
# counters_line NAME...: "name=value ..." for the report
counters_line() {
    local all n out=""; all=$(api '{"cmd":"counters"}')
    for n in "$@"; do out="$out $n=$(echo "$all" | grep -o "\"$n\":[0-9]*" | head -1 | sed 's/.*://')"; done
    echo "${out# }"
}

# rand_hex BYTES: random lower-case hex
rand_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
# rand_spi: a random SPI (8 hex digits, above the reserved 1-255 and below 0x80000000 so that nothing
# reads it as a negative number)
rand_spi() { printf '%08x' $(( (0x$(rand_hex 4) & 0x7fffffff) | 0x1000 )); }

# ---- captures: capture-lib.sh ----------------------------------------------------------------------
. /plug/tools/vm/tests/capture-lib.sh
# esp_spis NAME SRC DST: the SPIs (hex, no 0x) of the ESP packets from SRC to DST in the capture, with counts
# ("count spi" lines); plain ESP and ESP in UDP (tcpdump writes both as "ESP(spi=0x...,seq=...)")
esp_spis() {
    cap_read "$1" "src host $2 and dst host $3" | sed -n 's/.*ESP(spi=0x\([0-9a-f]*\),.*/\1/p' | sort | uniq -c \
        | awk '{print $1, $2}'
}

# ---- XFRM ---------------------------------------------------------------------------------------------
# sa_packets HOST SPI: packets the kernel counted on HOST's SA with SPI (hex, no 0x); empty if no such SA
sa_packets() {
    inns "$1" ip -s xfrm state | awk -v want="0x$2" '
        /^src / { spi = "" }
        $1 == "proto" && $3 == "spi" { spi = $4; sub(/\(.*/, "", spi) }   # -s adds "(decimal)"
        /lifetime current:/ { cur = 1; next }
        cur { cur = 0; if (spi == want) { gsub(/[^0-9]/, "", $2); print $2 } }'
}
# xfrm_errors HOST: the non-zero error counters of HOST's XFRM (/proc/net/xfrm_stat of its namespace)
xfrm_errors() { inns "$1" cat /proc/net/xfrm_stat | awk '$2 != 0 { printf "%s=%s ", $1, $2 }'; }

# ---- pings ----------------------------------------------------------------------------------------------
# ping_bg NAME HOST ARGS...: ping in HOST in the background, its output in $LAB/NAME.ping
ping_bg() { local n=$1 h=$2; shift 2; inns "$h" ping "$@" > "$LAB/$n.ping" 2>&1 & echo $! > "$LAB/$n.ppid"; }
# ping_wait NAME: waits for it (in this shell: a command substitution could not wait for it)
ping_wait() { wait "$(cat "$LAB/$1.ppid")" 2>/dev/null; }
# ping_got NAME: "received/transmitted" from its summary
ping_got() { sed -n 's/^\([0-9]*\) packets transmitted, \([0-9]*\) received.*/\2\/\1/p' "$LAB/$1.ping"; }
# ping_expect NAME COUNT WHAT: notes a failure unless all COUNT echo requests of ping NAME were answered
ping_expect() {
    local got; ping_wait "$1"; got=$(ping_got "$1")
    echo "ping $1 ($3): ${got:-no summary}"
    [ "$got" = "$2/$2" ] || { t_fail "$3: ${got:-no ping summary} replies, expected $2/$2"; sed 's/^/  | /' "$LAB/$1.ping" | tail -5; }
    PING_SUMMARY="${PING_SUMMARY:+$PING_SUMMARY, }$1 ${got:-?}"
}

# ---- concurrency on the wire ------------------------------------------------------------------------------
# esp_turns NAME SRC DST SPI1 SPI2: how often the stream of ESP packets from SRC to DST in the capture switches
# between SPI1 and SPI2 (other SPIs skipped). Two tunnels used one after the other switch once; two used at
# the same time switch about once per packet pair.
esp_turns() {
    cap_read "$1" "src host $2 and dst host $3" | sed -n 's/.*ESP(spi=0x\([0-9a-f]*\),.*/\1/p' \
        | awk -v a="$4" -v b="$5" '$1 == a || $1 == b { if (last != "" && $1 != last) n++; last = $1 } END { print n + 0 }'
}

# ---- passgate's tunnel listing and counters (passgatectl itself) ---------------------------------------------
# tunnels_text: passgatectl tunnels (the human listing), saved in $LAB/tunnels.txt
tunnels_text() { ctl tunnels > "$LAB/tunnels.txt" 2>&1; cat "$LAB/tunnels.txt"; }
# tunnel_row CLIENT: the listing's ipsec row of CLIENT (from $LAB/tunnels.txt)
tunnel_row() { grep -E "^ipsec +$1 " "$LAB/tunnels.txt"; }
# row_field ROW KEY: a "key=value" detail of a row
row_field() { echo "$1" | grep -o "\b$2=[^ ]*" | head -1 | cut -d= -f2; }
# row_packets ROW out|in: the row's PKTS-OUT or PKTS-IN column
row_packets() { echo "$1" | awk -v d="$2" '{ print (d == "out" ? $7 : $9) }'; }
# ctl_counters: passgatectl counters (the human listing, "name value" lines), saved in $LAB/counters.txt
ctl_counters() { ctl counters > "$LAB/counters.txt" 2>&1; }
# ctl_counter NAME: one counter from $LAB/counters.txt (empty when passgatectl did not list it)
ctl_counter() { awk -v n="$1" '$1 == n { print $2 }' "$LAB/counters.txt"; }
