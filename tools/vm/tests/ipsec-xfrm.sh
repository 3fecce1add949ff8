# IPsec passthrough with the kernel's own ESP and manual keys (issue 10): client1 and client2 each have a
# tunnel-mode SA pair (ip xfrm state/policy) to the server, keyed by hand, plain ESP (IP 50) through passgate,
# no IKE at all (so passgate has nothing but the first ESP packets to bind the inbound SPIs by). The server
# sees both as the router's WAN address 10.0.0.1, so it tells them apart by SPI (inbound) and by the
# policies' inner selectors and reqids (outbound): client1's inner net 172.16.1.0/24, client2's
# 172.16.2.0/24, the server's 10.99.0.0/24 (its srvlan). Both clients start at once, then pings run both
# ways for both clients at the same time. Checked:
#  - every echo answered, counted per client and direction;
#  - on the router's wan0 (the WAN wire, after passgate): only ESP between 10.0.0.1 and 10.0.0.2 with the
#    four SPIs, never a LAN address, a plain ICMP or any UDP; every ESP packet a client sent left from
#    10.0.0.1 with its SPI, every one the server sent on a client's SA reached that client and only it;
#    the two clients' ESP interleaves on the wire (both tunnels in use at the same time);
#  - each SA's packet count equal on both ends; no XFRM error on any host;
#  - passgatectl counters: two inbound SPIs bound, none dropped as unknown, ESP packets in and out equal to
#    the SAs' counts; passgatectl tunnels: two IPsec tunnels 192.168.1.x -> 10.0.0.2 via 10.0.0.1 with the
#    right SPIs and packet counts;
#  - a new SA answered only after the client's wait ran out is bound when the client sends on it again
#    (IPSEC_WAITS_AGAIN), while the other client's tunnel goes on undisturbed.
# About 75 s in the VM.
# vm-arch: amd64
# vm-plug: PASSGATE_JAVA_OPTS=-XX:TieredStopAtLevel=1 tools/vm/plug-passgate --lan-if br-lan --wan-if wan0 --wan-address 10.0.0.1
# vm-timeout: 900
. /plug/tools/vm/tests/ipsec-lib.sh

need_topology

# ---- keys and SPIs: random per run (nothing can pass by a stale or guessed value) -----------------------
# C<n>OUT: client n -> server (the server's inbound SA), C<n>IN: server -> client n
C1OUT=$(rand_spi) C1IN=$(rand_spi) C2OUT=$(rand_spi) C2IN=$(rand_spi)
while [ "$(printf '%s\n' $C1OUT $C1IN $C2OUT $C2IN | sort -u | wc -l)" != 4 ]; do C2IN=$(rand_spi); done
declare -A ENC AUTH
for s in $C1OUT $C1IN $C2OUT $C2IN; do ENC[$s]=0x$(rand_hex 16); AUTH[$s]=0x$(rand_hex 32); done
PINGS=20

# sa HOST SRC DST SPI REQID: one tunnel-mode ESP SA (AES-CBC, HMAC-SHA256)
sa() {
    inns "$1" ip xfrm state add src "$2" dst "$3" proto esp spi "0x$4" reqid "$5" mode tunnel replay-window 32 \
        enc 'cbc(aes)' "${ENC[$4]}" auth-trunc 'hmac(sha256)' "${AUTH[$4]}" 128
}
# pol HOST DIR SRCNET DSTNET TSRC TDST REQID: a policy; "in" ones make the kernel refuse the inner
# traffic unless it came through the SA
pol() {
    inns "$1" ip xfrm policy add src "$3" dst "$4" dir "$2" \
        tmpl src "$5" dst "$6" proto esp reqid "$7" mode tunnel
}

t_start xfrm-setup
echo "SPIs: client1 out $C1OUT in $C1IN, client2 out $C2OUT in $C2IN"
for n in 1 2; do
    h=client$n; ip=192.168.1.$((n + 1)); inner=172.16.$n
    out=C${n}OUT; in=C${n}IN
    inns $h ip link add inner type dummy && inns $h ip addr add $inner.1/24 dev inner && inns $h ip link set inner up \
        || t_fail "$h: inner dummy"
    # the client's own view: its LAN address to the server's real address
    sa $h $ip $SERVER_IP ${!out} $n && sa $h $SERVER_IP $ip ${!in} $n || t_fail "$h: xfrm state add"
    pol $h out $inner.0/24 10.99.0.0/24 $ip $SERVER_IP $n && pol $h in 10.99.0.0/24 $inner.0/24 $SERVER_IP $ip $n \
        || t_fail "$h: xfrm policy add"
    # the server's view: both clients are the WAN address; reqid n ties client n's policies to its SAs
    sa server $WAN_IP $SERVER_IP ${!out} $n && sa server $SERVER_IP $WAN_IP ${!in} $n || t_fail "server: xfrm state add ($h)"
    pol server out 10.99.0.0/24 $inner.0/24 $SERVER_IP $WAN_IP $n && pol server in $inner.0/24 10.99.0.0/24 $WAN_IP $SERVER_IP $n \
        || t_fail "server: xfrm policy add ($h)"
done
# the server routes the clients' inner nets towards the router (the xfrm policy then takes the packets);
# the router has no route to 172.16.0.0/16 or 10.99.0.0/24: a packet that escaped ESP would go nowhere
inns server ip route add 172.16.0.0/16 via $WAN_IP || t_fail "server: route to the inner nets"
inns router ip route get 172.16.1.1 >/dev/null 2>&1 && t_fail "the router has a route to the clients' inner nets"
inns router ip route get 10.99.0.1 >/dev/null 2>&1 && t_fail "the router has a route to the server's inner net"
for h in client1 client2 server; do
    c=$(inns $h ip xfrm state count | grep -o '[0-9]*$'); p=$(inns $h ip xfrm policy count | grep -o '[0-9]*$')
    echo "$h: $c SAs, $p policies"; inns $h ip xfrm policy | grep -E '^src|tmpl' | sed "s/^/  $h| /"
done
[ "$(inns server ip xfrm state count | grep -o '[0-9]*$')" = 4 ] || t_fail "the server does not have 4 SAs"
# the WAN wire is captured on the router's wan0 (the other end of the server's eth0): on the server's eth0
# tcpdump also shows each inbound ESP packet's decrypted inner packet, which the kernel re-injects there
cap_start router wan0 wan
cap_start client1 eth0 c1
cap_start client2 eth0 c2
t_end "4 random SPIs, AES-CBC + HMAC-SHA256, tunnel mode; captures on the WAN (router wan0) and both clients' eth0"

# ---- 1: both clients' first packets at once ----------------------------------------------------------
# Neither inbound SPI is known to passgate yet: the first client to send waits on the server and takes the
# first unknown SPI from it; the other client's first ESP is held meanwhile (or comes after the binding).
t_start xfrm-first-contact
PING_SUMMARY=
ping_bg c1 client1 -c 10 -i 0.2 -W 5 -I 172.16.1.1 $SRVLAN_IP
ping_bg c2 client2 -c 10 -i 0.2 -W 5 -I 172.16.2.1 $SRVLAN_IP
ping_expect c1 10 "client1 -> 10.99.0.1 through its SA"
ping_expect c2 10 "client2 -> 10.99.0.1 through its SA"
echo "passgate: $(counters_line ipsec-esp-sas ipsec-esp-bound ipsec-esp-bound-only-client ipsec-held ipsec-released ipsec-waits-expired drop-esp-unknown-spi)"
t_end "both clients started at once: $PING_SUMMARY"

# ---- 2: pings both ways for both clients, all four at once --------------------------------------------
t_start xfrm-both-ways
PING_SUMMARY=
ping_bg c1-s client1 -c $PINGS -i 0.2 -W 5 -I 172.16.1.1 $SRVLAN_IP
ping_bg c2-s client2 -c $PINGS -i 0.2 -W 5 -I 172.16.2.1 $SRVLAN_IP
ping_bg s-c1 server -c $PINGS -i 0.2 -W 5 -I $SRVLAN_IP 172.16.1.1
ping_bg s-c2 server -c $PINGS -i 0.2 -W 5 -I $SRVLAN_IP 172.16.2.1
ping_expect c1-s $PINGS "client1 -> server"
ping_expect c2-s $PINGS "client2 -> server"
ping_expect s-c1 $PINGS "server -> client1"
ping_expect s-c2 $PINGS "server -> client2"
t_end "$PING_SUMMARY"

sleep 1
cap_stop wan; cap_stop c1; cap_stop c2

# ---- the wire: what the server saw, what each client received ----------------------------------------
t_start xfrm-wire
total=$(cap_read wan | wc -l)
lan=$(cap_read wan 'net 192.168.1.0/24' | wc -l)
plain=$(cap_read wan 'icmp or net 172.16.0.0/16 or net 10.99.0.0/24' | wc -l)
other=$(cap_read wan 'ip and not esp' | wc -l)
echo "WAN (router wan0): $total packets; LAN addresses $lan; plain ICMP or inner addresses $plain; IPv4 not ESP $other"
[ "$lan" = 0 ] || { t_fail "$lan packets with a LAN address on the WAN"; cap_read wan 'net 192.168.1.0/24' | head -5; }
[ "$plain" = 0 ] || { t_fail "$plain plain ICMP or inner-address packets on the WAN (not inside ESP)"; cap_read wan 'icmp or net 172.16.0.0/16 or net 10.99.0.0/24' | head -5; }
[ "$other" = 0 ] || { t_fail "$other IPv4 packets on the WAN that are not ESP"; cap_read wan 'ip and not esp' | head -5; }
up=$(esp_spis wan $WAN_IP $SERVER_IP); down=$(esp_spis wan $SERVER_IP $WAN_IP)
echo "ESP 10.0.0.1 -> 10.0.0.2 (count spi): $(echo $up)"; echo "ESP 10.0.0.2 -> 10.0.0.1 (count spi): $(echo $down)"
[ "$(echo "$up" | awk '{print $2}' | sort | xargs)" = "$(printf '%s\n' $C1OUT $C2OUT | sort | xargs)" ] \
    || t_fail "the SPIs from 10.0.0.1 are '$(echo "$up" | awk '{print $2}' | xargs)', expected $C1OUT and $C2OUT"
[ "$(echo "$down" | awk '{print $2}' | sort | xargs)" = "$(printf '%s\n' $C1IN $C2IN | sort | xargs)" ] \
    || t_fail "the SPIs to 10.0.0.1 are '$(echo "$down" | awk '{print $2}' | xargs)', expected $C1IN and $C2IN"
esp_other=$(cap_read wan esp | grep -vcE "^[0-9:.]+ IP ($WAN_IP > $SERVER_IP|$SERVER_IP > $WAN_IP): ESP")
[ "$esp_other" = 0 ] || t_fail "$esp_other ESP packets not between $WAN_IP and $SERVER_IP"
detail=""
for n in 1 2; do
    ip=192.168.1.$((n + 1)); in=C${n}IN; out=C${n}OUT; other_in=C$((3 - n))IN
    got=$(esp_spis c$n $SERVER_IP $ip); sent=$(esp_spis c$n $ip $SERVER_IP)
    echo "client$n eth0: received (count spi) $(echo $got); sent $(echo $sent)"
    [ "$(echo "$got" | awk '{print $2}' | xargs)" = "${!in}" ] \
        || t_fail "client$n received ESP with SPIs '$(echo "$got" | awk '{print $2}' | xargs)', expected only ${!in}"
    echo "$got" | grep -q " ${!other_in}$" && t_fail "client$n received client$((3 - n))'s SPI ${!other_in}: ESP crossed"
    [ "$(echo "$sent" | awk '{print $2}' | xargs)" = "${!out}" ] || t_fail "client$n sent SPIs '$(echo "$sent" | awk '{print $2}' | xargs)'"
    # every ESP packet the server sent on client n's SA reached client n (none lost, none elsewhere)
    s_sent=$(echo "$down" | awk -v s=${!in} '$2 == s {print $1}'); c_got=$(echo "$got" | awk -v s=${!in} '$2 == s {print $1}')
    [ -n "$s_sent" ] && [ "$s_sent" = "$c_got" ] || t_fail "server sent ${s_sent:-0} ESP on ${!in}, client$n received ${c_got:-0}"
    # and every ESP packet client n sent left the router from 10.0.0.1 with its SPI
    c_sent=$(echo "$sent" | awk -v s=${!out} '$2 == s {print $1}'); w_out=$(echo "$up" | awk -v s=${!out} '$2 == s {print $1}')
    [ -n "$c_sent" ] && [ "$c_sent" = "$w_out" ] || t_fail "client$n sent ${c_sent:-0} ESP on ${!out}, ${w_out:-0} left $WAN_IP"
    detail="$detail client$n sent ${c_sent:-0} on ${!out}, got ${c_got:-0} on ${!in};"
done
# both tunnels at the same time, not one after the other: the two clients' ESP interleave on the WAN
turns_up=$(esp_turns wan $WAN_IP $SERVER_IP $C1OUT $C2OUT); turns_down=$(esp_turns wan $SERVER_IP $WAN_IP $C1IN $C2IN)
echo "ESP on the WAN switches between the two clients' SAs $turns_up times outbound, $turns_down times inbound"
[ "$turns_up" -ge 10 ] && [ "$turns_down" -ge 10 ] \
    || t_fail "the two tunnels' ESP switched only $turns_up (out) and $turns_down (in) times on the WAN: not carried at the same time"
t_end "only 10.0.0.1<->10.0.0.2 ESP on the WAN ($total packets, no LAN address, no UDP);$detail interleaved $turns_up/$turns_down times"

# ---- the kernels' view: each SA's count on both ends, no XFRM error anywhere ------------------------
t_start xfrm-sa-counters
detail=""
for n in 1 2; do
    out=C${n}OUT; in=C${n}IN
    a=$(sa_packets client$n ${!out}); b=$(sa_packets server ${!out})
    c=$(sa_packets server ${!in}); d=$(sa_packets client$n ${!in})
    echo "client$n: SA ${!out} sent $a, server received $b; SA ${!in} server sent $c, client$n received $d"
    [ -n "$a" ] && [ "$a" -gt 0 ] && [ "$a" = "$b" ] || t_fail "SA ${!out} (client$n -> server): client sent '$a', server got '$b'"
    [ -n "$c" ] && [ "$c" -gt 0 ] && [ "$c" = "$d" ] || t_fail "SA ${!in} (server -> client$n): server sent '$c', client got '$d'"
    # client n's ESP: 10 + 2 x PINGS echo requests or replies each way at least
    [ -n "$a" ] && [ "$a" -ge $((10 + 2 * PINGS)) ] || t_fail "SA ${!out}: $a packets, expected at least $((10 + 2 * PINGS))"
    SENT[$n]=$a RECEIVED[$n]=$d
    detail="$detail client$n ${a:-?}/${b:-?} out, ${c:-?}/${d:-?} in;"
done
for h in client1 client2 server; do
    e=$(xfrm_errors $h); echo "$h xfrm_stat: ${e:-all zero}"
    [ -z "$e" ] || t_fail "$h XFRM errors: $e"
done
t_end "packets sent/received per SA:$detail no XFRM errors"

# ---- passgate's view: the bindings and the listing -------------------------------------------------------
t_start passgate-ipsec-tunnels
tunnels_text
ctl_counters
sed 's/^/  passgatectl counters| /' "$LAB/counters.txt" | grep -E ' (ipsec|drop-esp|drop-ipsec)'
bound=$(ctl_counter ipsec-esp-bound); only=$(ctl_counter ipsec-esp-bound-only-client); unknown=$(ctl_counter drop-esp-unknown-spi)
esp_out=$(ctl_counter ipsec-esp-out); esp_in=$(ctl_counter ipsec-esp-in)
[ -n "$bound" ] && [ -n "$only" ] && [ -n "$unknown" ] && [ -n "$esp_out" ] || t_fail "passgatectl counters did not list the IPsec counters: $(head -3 "$LAB/counters.txt")"
[ $((bound + only)) = 2 ] || t_fail "passgate bound $((bound + only)) inbound SPIs ($bound to a waiting client, $only to an only client), expected 2"
[ "$unknown" = 0 ] || t_fail "passgate dropped $unknown inbound ESP packets with an unknown SPI"
[ "${esp_out:-0}" = $(( ${SENT[1]:-0} + ${SENT[2]:-0} )) ] || t_fail "passgate translated ${esp_out:-0} ESP packets outbound, the clients' SAs sent $(( ${SENT[1]:-0} + ${SENT[2]:-0} ))"
[ "${esp_in:-0}" = $(( ${RECEIVED[1]:-0} + ${RECEIVED[2]:-0} )) ] || t_fail "passgate translated ${esp_in:-0} ESP packets inbound, the clients' SAs received $(( ${RECEIVED[1]:-0} + ${RECEIVED[2]:-0} ))"
[ "$(grep -cE '^ipsec ' "$LAB/tunnels.txt")" = 2 ] || t_fail "passgatectl tunnels lists $(grep -cE '^ipsec ' "$LAB/tunnels.txt") IPsec tunnels, expected 2"
for n in 1 2; do
    ip=192.168.1.$((n + 1)); out=C${n}OUT; in=C${n}IN
    row=$(tunnel_row $ip)
    [ -n "$row" ] || { t_fail "no IPsec tunnel listed for $ip"; continue; }
    echo "$row" | grep -qE "^ipsec +$ip +[^ ]+ +$SERVER_IP +[^ ]+ +$WAN_IP:" || t_fail "client$n's row is not $WAN_IP to $SERVER_IP: $row"
    [ "$(row_field "$row" esp-out-spi)" = "${!out}" ] || t_fail "client$n's row shows esp-out-spi=$(row_field "$row" esp-out-spi), expected ${!out}"
    [ "$(row_field "$row" esp-in-spi)" = "${!in}" ] || t_fail "client$n's row shows esp-in-spi=$(row_field "$row" esp-in-spi), expected ${!in}"
    [ "$(row_packets "$row" out)" = "${SENT[$n]:-}" ] && [ "$(row_packets "$row" in)" = "${RECEIVED[$n]:-}" ] \
        || t_fail "client$n's row counts $(row_packets "$row" out) packets out and $(row_packets "$row" in) in, its SAs ${SENT[$n]:-?} and ${RECEIVED[$n]:-?}"
done
t_end "passgatectl: two IPsec tunnels with their SPIs and packet counts; ipsec-esp-bound=$bound ipsec-esp-bound-only-client=$only ipsec-esp-out=$esp_out ipsec-esp-in=$esp_in ipsec-held=$(ctl_counter ipsec-held)"

# ---- 3: a new SA whose first answer comes late ---------------------------------------------------------
# client1 re-keys by hand (a new SA pair, same policies); the server answers the new SA only after 4 s (its
# firewall drops client1's echo requests at first), i.e. after client1's 3 s wait for the first inbound ESP
# ran out, while client2 has a tunnel to the same server. passgate must bind the late inbound SPI to client1
# when client1 sends on the still unanswered SA again ("dropped ... until the client sends on that SA"), not
# drop it for good. client2 pings meanwhile and must not be disturbed.
t_start xfrm-late-answer
N1OUT=$(rand_spi) N1IN=$(rand_spi)
for s in $N1OUT $N1IN; do ENC[$s]=0x$(rand_hex 16); AUTH[$s]=0x$(rand_hex 32); done
echo "client1's new SPIs: out $N1OUT in $N1IN (old $C1OUT $C1IN)"
bound0=$(counter ipsec-esp-bound); unknown0=$(counter drop-esp-unknown-spi); expired0=$(counter ipsec-waits-expired)
again0=$(counter ipsec-waits-again)
inns server nft -f - <<'NFT' || t_fail "server: nft drop rule"
table ip late {
    chain input {
        type filter hook input priority filter; policy accept;
        ip saddr 172.16.1.0/24 icmp type echo-request counter drop
    }
}
NFT
for h in client1 server; do
    [ $h = client1 ] && a=192.168.1.2 || a=$WAN_IP
    inns $h ip xfrm state del src $a dst $SERVER_IP proto esp spi 0x$C1OUT && inns $h ip xfrm state del src $SERVER_IP dst $a proto esp spi 0x$C1IN \
        && sa $h $a $SERVER_IP $N1OUT 1 && sa $h $SERVER_IP $a $N1IN 1 || t_fail "$h: client1's SA pair not replaced"
done
PING_SUMMARY=
ping_bg late client1 -c 24 -i 0.5 -W 2 -I 172.16.1.1 $SRVLAN_IP
ping_bg c2-late client2 -c 24 -i 0.5 -W 2 -I 172.16.2.1 $SRVLAN_IP
sleep 4.5
dropped=$(inns server nft list table ip late | grep -o 'packets [0-9]*' | cut -d' ' -f2)
inns server nft delete table ip late
echo "server: dropped ${dropped:-?} echo requests of client1 in the first 4.5 s; answering from now on"
ping_wait late; got=$(ping_got late); r=${got%/*}
ping_expect c2-late 24 "client2 -> server while client1 re-keys"
echo "ping late (client1 -> server, answered only after 4.5 s): ${got:-no summary}"
sed 's/^/  | /' "$LAB/late.ping" | grep -E 'icmp_seq' | head -3
echo "passgate: $(counters_line ipsec-esp-sas ipsec-esp-bound ipsec-esp-bound-only-client ipsec-waits-expired ipsec-waits-again drop-esp-unknown-spi)"
[ "${dropped:-0}" -ge 5 ] || t_fail "the server's firewall dropped ${dropped:-0} echo requests, expected at least 5 (the late answer not staged)"
[ "$(counter ipsec-waits-expired)" -gt "$expired0" ] || t_fail "client1's wait did not run out before the answer (the case not staged)"
# 24 requests over ~12 s, about 9 dropped by the server's firewall in the first 4.5 s. Once the server
# answers, client1 must get every answer: the first answered request comes right after the dropped ones
# (one more may fall in the window between two nft commands) and none after it is lost.
seqs=$(sed -n '/bytes from/s/.*icmp_seq=\([0-9]*\) .*/\1/p' "$LAB/late.ping" | sort -n | uniq)
first=$(echo "$seqs" | head -1); last_sent=24
answered=$(echo "$seqs" | grep -c .)
echo "client1's first answered request: icmp_seq=${first:-none}; $answered answered, $(( last_sent - ${first:-25} + 1 )) sent from it on"
[ -n "$first" ] && [ "$first" -le $(( ${dropped:-0} + 2 )) ] \
    || t_fail "client1's first answer was icmp_seq=${first:-none}, the server dropped ${dropped:-?}: the late inbound SPI $N1IN was not bound at once ($(( $(counter drop-esp-unknown-spi) - unknown0 )) inbound ESP dropped as unknown)"
[ -n "$first" ] && [ "$answered" = $(( last_sent - first + 1 )) ] \
    || t_fail "client1 got $answered answers from icmp_seq=${first:-?} to $last_sent, expected all $(( last_sent - ${first:-25} + 1 ))"
[ "$(counter ipsec-waits-again)" -gt "${again0:-0}" ] || t_fail "client1 did not wait again on its unanswered SA (ipsec-waits-again $(counter ipsec-waits-again))"
[ "$(counter ipsec-esp-bound)" = $((bound0 + 1)) ] || t_fail "passgate bound $(( $(counter ipsec-esp-bound) - bound0 )) inbound SPIs to a waiting client, expected 1"
d1=$(sa_packets client1 $N1IN); echo "client1 received $d1 packets on $N1IN"
t_end "client1's late-answered SA: ${got:-?} replies, all from icmp_seq=${first:-?} on, after the server's ${dropped:-?} drops; client2 ${PING_SUMMARY#c2-late }"
