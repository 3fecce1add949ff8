# IPsec passthrough with real strongSwan and the kernel's own ESP (issue 10): a charon on the server and one
# on each client (IKEv2, a pre-shared key per client identity, a virtual address from the server's pool),
# both clients connecting at the same moment through passgate. Both keep UDP 500 (the shared port, told apart
# by IKE SPI), detect the NAT and float to 4500: the first keeps 4500, the second gets another WAN port.
# Then pings both ways through both tunnels at once. Checked:
#  - both connections up; the server's charon shows two IKE SAs and two CHILD SAs from 10.0.0.1 with the two
#    identities, the server's kernel SAs encapsulated on two different ports, one of them 4500;
#  - every echo answered, counted per client and direction;
#  - on the router's wan0 (the WAN wire, after passgate): only UDP 500/4500 between 10.0.0.1 and 10.0.0.2,
#    never a LAN address nor plain ESP or ICMP; each client's IKE_SA_INIT (its initiator SPI, as the server
#    holds it) from 10.0.0.1:500 to 10.0.0.2:500 and answered to 10.0.0.1:500; the two clients' ESP
#    interleaves on the wire (both tunnels in use at the same time); each client received only its own SPI;
#  - each SA's count equal on both ends; no XFRM error;
#  - passgatectl counters: the IKE SPIs learnt, no IKE dropped as unknown, no plain ESP; passgatectl tunnels:
#    two IPsec tunnels with the WAN ports, IKE SPIs and ESP SPIs the peers use and the pings' packets.
# The guest has strongSwan's starter and stroke (ipsec.conf, `ipsec up`, `ipsec statusall`), not swanctl/vici.
# No plain-ESP variant: strongSwan (5.0 and later, Debian 12 has 5.9) always sends NAT-D and encapsulates
# ESP in UDP 4500 once it detects a NAT; it has no setting to turn NAT-T off (strongswan/strongswan#3130,
# open). The manual-key test ipsec-xfrm.sh covers plain ESP with the kernel's ESP.
# About 60 s in the VM.
# vm-arch: amd64
# vm-plug: PASSGATE_JAVA_OPTS=-XX:TieredStopAtLevel=1 tools/vm/plug-passgate --lan-if br-lan --wan-if wan0 --wan-address 10.0.0.1
# vm-timeout: 900
. /plug/tools/vm/tests/ipsec-lib.sh

need_topology
PINGS=20

# swan_conf HOST IPSEC_CONF SECRETS: the host's own /etc/ipsec.conf, ipsec.secrets and strongswan.conf
# (bind mounts in its mount namespace; /run is its own too: starter's pid file, charon's stroke socket)
swan_conf() {
    local h=$1 d=$LAB/swan-$1
    mkdir -p "$d"
    printf '%s\n' "$2" > "$d/ipsec.conf"
    printf '%s\n' "$3" > "$d/ipsec.secrets"; chmod 600 "$d/ipsec.secrets"
    cat > "$d/strongswan.conf" <<EOF
charon {
    # the kernel's ESP (kernel-netlink), no kernel-libipsec
    load = random nonce gmp aes sha1 sha2 hmac kdf pem pkcs1 x509 pubkey kernel-netlink socket-default stroke updown
    install_routes = yes
    filelog {
        charon {
            path = $d/charon.log
            time_format = %H:%M:%S
            default = 1
            ike = 2
            knl = 2
        }
    }
}
starter {
    load_warning = no
}
EOF
    bind "$h" "$d/ipsec.conf" /etc/ipsec.conf && bind "$h" "$d/ipsec.secrets" /etc/ipsec.secrets \
        && bind "$h" "$d/strongswan.conf" /etc/strongswan.conf
}
swan_log() { cat "$LAB/swan-$1/charon.log" 2>/dev/null; }
# xfrm_sas HOST: HOST's ESP SAs, one a line: "SRC DST SPI ENCAP-SPORT ENCAP-DPORT" ("-" without encapsulation)
xfrm_sas() {
    inns "$1" ip xfrm state | awk '
        function out() { if (spi != "") print src, dst, spi, sp, dp }
        /^src / { out(); src = $2; dst = $4; spi = ""; sp = "-"; dp = "-" }
        $1 == "proto" && $2 == "esp" { spi = substr($4, 3) }
        $1 == "encap" { sp = $5; dp = $7 }
        END { out() }'
}

PROPOSALS='    keyexchange=ikev2
    ike=aes128-sha256-modp2048!
    esp=aes128-sha256!
    leftauth=psk
    rightauth=psk
    dpdaction=none'
PSK1=$(rand_hex 16) PSK2=$(rand_hex 16)

t_start swan-start
swan_conf server "conn rw
$PROPOSALS
    left=$SERVER_IP
    leftid=@server
    leftsubnet=$SRVLAN_IP/32
    right=%any
    rightsourceip=10.99.1.0/24
    auto=add" "@server @client1 : PSK \"$PSK1\"
@server @client2 : PSK \"$PSK2\"" || t_fail "server: configuration"
for n in 1 2; do
    psk=PSK$n
    swan_conf client$n "conn home
$PROPOSALS
    left=%defaultroute
    leftid=@client$n
    leftsourceip=%config
    right=$SERVER_IP
    rightid=@server
    rightsubnet=$SRVLAN_IP/32
    auto=add" "@client$n @server : PSK \"${!psk}\"" || t_fail "client$n: configuration"
done
for h in server client1 client2; do
    inns $h ipsec start > "$LAB/swan-$h/start.out" 2>&1 || t_fail "$h: ipsec start: $(cat "$LAB/swan-$h/start.out")"
done
for h in server client1 client2; do
    # up = the stroke socket answers and the connection is loaded
    wait_for 60 sh -c "nsenter --net=/run/netns/$h --mount=/run/mntns/$h -- ipsec statusall 2>/dev/null | grep -qE '^ +(rw|home):'" \
        || t_fail "$h: charon not up with its connection after 60 s: $(tail -3 "$LAB/swan-$h/charon.log" 2>/dev/null | tr '\n' ' ')"
done
inns server ipsec statusall | sed -n '1,/^Security Associations/p' | sed 's/^/  server| /'
t_end "three charons (kernel-netlink), IKEv2 PSK, identities server, client1, client2"

# ---- both clients connect at the same moment ---------------------------------------------------------
t_start swan-connect
# the WAN wire on the router's wan0 (the server's eth0 would also show the decrypted inner packets)
cap_start router wan0 wan
cap_start client1 eth0 c1
cap_start client2 eth0 c2
t0=$(uptime_s)
for n in 1 2; do
    inns client$n ipsec up home > "$LAB/up$n.out" 2>&1 &
    echo $! > "$LAB/up$n.pid"
done
for n in 1 2; do
    wait "$(cat "$LAB/up$n.pid")"; rc=$?
    if grep -q "connection 'home' established successfully" "$LAB/up$n.out"; then
        echo "client$n: connection established ($(since "$t0") s after the start)"
    else
        t_fail "client$n: ipsec up home did not establish (rc $rc)"; tail -15 "$LAB/up$n.out" | sed "s/^/  up$n| /"
    fi
done
for n in 1 2; do
    grep -qiE 'local host is behind NAT' "$LAB/swan-client$n/charon.log" || t_fail "client$n's charon did not detect the NAT"
    VIP[$n]=$(inns client$n ip -4 -o addr show dev eth0 | sed -n 's/.* inet \(10\.99\.1\.[0-9]*\)\/.*/\1/p' | head -1)
    [ -n "${VIP[$n]}" ] || t_fail "client$n has no virtual address from the pool"
done
echo "virtual addresses: client1 ${VIP[1]:-none}, client2 ${VIP[2]:-none}"
t_end "both up in $(since "$t0") s; virtual addresses ${VIP[1]:-?}, ${VIP[2]:-?}"

# ---- the server's view: two IKE SAs and two CHILD SAs, NAT-T on two ports ------------------------------
t_start swan-server-sas
st=$(inns server ipsec statusall); echo "$st" | sed -n '/^Security Associations/,$p' | sed 's/^/  server| /'
ike=$(echo "$st" | grep -cE "rw\[[0-9]+\]: ESTABLISHED .*$SERVER_IP\[server\]\.\.\.$WAN_IP\[client[12]\]")
child=$(echo "$st" | grep -cE 'rw\{[0-9]+\}: +INSTALLED, TUNNEL, reqid [0-9]+, ESP in UDP SPIs')
[ "$ike" = 2 ] || t_fail "the server shows $ike established IKE SAs from $WAN_IP, expected 2"
[ "$child" = 2 ] || t_fail "the server shows $child installed CHILD SAs (ESP in UDP), expected 2"
for n in 1 2; do
    echo "$st" | grep -qE "ESTABLISHED .*\.\.\.$WAN_IP\[client$n\]" || t_fail "no IKE SA of client$n (identity @client$n from $WAN_IP)"
done
# the IKE SPIs the server holds for each client (its IKE SA named by the client's identity)
for n in 1 2; do
    ikesa=$(echo "$st" | sed -n "s/^ *rw\[\([0-9]*\)\]: ESTABLISHED .*\.\.\.$WAN_IP\[client$n\]\$/\1/p" | head -1)
    spis=$(echo "$st" | sed -n "s/^ *rw\[$ikesa\]: IKEv2 SPIs: \([0-9a-f]*\)_i\*\? \([0-9a-f]*\)_r.*/\1 \2/p" | head -1)
    IKE_I[$n]=${spis% *} IKE_R[$n]=${spis#* }
    echo "server: client$n's IKE SA rw[${ikesa:-?}], SPIs initiator ${IKE_I[$n]:-?} responder ${IKE_R[$n]:-?}"
    [ -n "$spis" ] || t_fail "no IKE SPIs of client$n in the server's statusall"
done
inns server ip xfrm state | sed 's/^/  server xfrm| /' | grep -E 'src|spi|encap'
SRV_SAS=$(xfrm_sas server); echo "$SRV_SAS" | sed 's/^/  server SA: /'
in_ports=$(echo "$SRV_SAS" | awk -v w=$WAN_IP '$1 == w {print $4}' | sort -n | xargs)
out_ports=$(echo "$SRV_SAS" | awk -v w=$WAN_IP '$2 == w {print $5}' | sort -n | xargs)
echo "server kernel: encapsulation source ports of the inbound SAs: $in_ports; destination ports outbound: $out_ports"
[ "$(echo $in_ports | wc -w)" = 2 ] || t_fail "the server has $(echo $in_ports | wc -w) inbound SAs from $WAN_IP, expected 2"
[ "$in_ports" = "$out_ports" ] || t_fail "inbound ports '$in_ports' and outbound ports '$out_ports' differ"
echo " $in_ports " | grep -q ' 4500 ' || t_fail "no client kept port 4500 ($in_ports)"
[ "$(echo $in_ports | tr ' ' '\n' | sort -u | wc -l)" = 2 ] || t_fail "both clients on the same WAN port ($in_ports)"
echo "$SRV_SAS" | awk '$4 == "-"' | grep -q . && t_fail "an SA without UDP encapsulation on the server"
t_end "2 IKE SAs, 2 CHILD SAs (ESP in UDP) from $WAN_IP; WAN ports $in_ports"

# ---- pings both ways through both tunnels at once ---------------------------------------------------
t_start swan-pings
PING_SUMMARY=
ping_bg c1-s client1 -c $PINGS -i 0.2 -W 5 $SRVLAN_IP
ping_bg c2-s client2 -c $PINGS -i 0.2 -W 5 $SRVLAN_IP
ping_bg s-c1 server -c $PINGS -i 0.2 -W 5 -I $SRVLAN_IP "${VIP[1]:-10.99.1.250}"
ping_bg s-c2 server -c $PINGS -i 0.2 -W 5 -I $SRVLAN_IP "${VIP[2]:-10.99.1.251}"
ping_expect c1-s $PINGS "client1 -> server"
ping_expect c2-s $PINGS "client2 -> server"
ping_expect s-c1 $PINGS "server -> client1 (${VIP[1]:-})"
ping_expect s-c2 $PINGS "server -> client2 (${VIP[2]:-})"
t_end "$PING_SUMMARY"

sleep 1
cap_stop wan; cap_stop c1; cap_stop c2

# ---- the wire and the kernels -------------------------------------------------------------------------
t_start swan-wire
total=$(cap_read wan | wc -l)
lan=$(cap_read wan 'net 192.168.1.0/24' | wc -l)
plain=$(cap_read wan 'icmp or esp or net 10.99.0.0/16' | wc -l)
other=$(cap_read wan "ip and not (udp and host $WAN_IP and host $SERVER_IP and (port 500 or port 4500))" | wc -l)
echo "WAN (router wan0): $total packets; LAN addresses $lan; plain ICMP, plain ESP or inner addresses $plain; other IPv4 $other"
[ "$lan" = 0 ] || { t_fail "$lan packets with a LAN address on the WAN"; cap_read wan 'net 192.168.1.0/24' | head -5; }
[ "$plain" = 0 ] || { t_fail "$plain packets of plain ICMP, plain ESP or inner addresses on the WAN"; cap_read wan 'icmp or esp or net 10.99.0.0/16' | head -5; }
[ "$other" = 0 ] || { t_fail "$other IPv4 packets on the WAN other than UDP 500/4500 between $WAN_IP and $SERVER_IP"; cap_read wan "ip and not (udp and host $WAN_IP and host $SERVER_IP and (port 500 or port 4500))" | head -5; }
# both clients kept port 500 (IKE_SA_INIT, before the float): at least one request each way per client
ike_out=$(cap_read wan "udp and src host $WAN_IP and src port 500 and dst port 500" | wc -l)
ike_in=$(cap_read wan "udp and src host $SERVER_IP and src port 500 and dst host $WAN_IP and dst port 500" | wc -l)
ike_moved=$(cap_read wan "udp and src host $WAN_IP and dst port 500 and not src port 500" | wc -l)
echo "IKE on port 500: $ike_out from $WAN_IP:500, $ike_in to $WAN_IP:500, $ike_moved to 500 from another WAN port"
[ "$ike_out" -ge 2 ] && [ "$ike_in" -ge 2 ] || t_fail "IKE 500<->500: $ike_out out, $ike_in in, expected at least 2 each (both clients keep 500)"
[ "$ike_moved" = 0 ] || t_fail "$ike_moved IKE packets to 500 from another WAN port: a client lost port 500"
# each client's own IKE_SA_INIT (its initiator SPI, as the server holds it) left from 10.0.0.1:500 to
# 10.0.0.2:500 and the answer came back to 10.0.0.1:500 (tcpdump -vv prints the SPIs as "cookie I->R")
for n in 1 2; do
    i=${IKE_I[$n]:-none} r=${IKE_R[$n]:-none}
    o=$(cap_read wan -vv "udp and src host $WAN_IP and src port 500 and dst host $SERVER_IP and dst port 500" | grep -c "cookie $i->")
    b=$(cap_read wan -vv "udp and src host $SERVER_IP and src port 500 and dst host $WAN_IP and dst port 500" | grep -c "cookie $i->$r")
    echo "client$n IKE SPIs $i/$r: $o messages from $WAN_IP:500, $b answers to $WAN_IP:500"
    [ "$o" -ge 1 ] && [ "$b" -ge 1 ] || t_fail "client$n's IKE (SPI $i) did not go $WAN_IP:500 <-> $SERVER_IP:500 ($o out, $b in)"
done
detail=""
for n in 1 2; do
    ip=192.168.1.$((n + 1))
    sas=$(xfrm_sas client$n); echo "$sas" | sed "s/^/  client$n SA: /"
    out_spi=$(echo "$sas" | awk -v a=$ip '$1 == a {print $3}'); in_spi=$(echo "$sas" | awk -v a=$ip '$2 == a {print $3}')
    OUT_SPI[$n]=$out_spi IN_SPI[$n]=$in_spi
    [ "$(echo $out_spi | wc -w)" = 1 ] && [ "$(echo $in_spi | wc -w)" = 1 ] || { t_fail "client$n has SAs out '$out_spi' in '$in_spi', expected one each"; continue; }
    # the server's SA with the client's outbound SPI: its port is the client's WAN port
    port=$(echo "$SRV_SAS" | awk -v s=$out_spi '$3 == s {print $4}')
    PORT[$n]=$port
    [ -n "$port" ] || t_fail "the server has no SA with client$n's SPI $out_spi"
    [ "$(echo "$SRV_SAS" | awk -v s=$in_spi '$3 == s {print $5}')" = "$port" ] \
        || t_fail "the server sends client$n's SA $in_spi to another port than $port"
    got=$(esp_spis c$n $SERVER_IP $ip)
    echo "client$n (WAN port ${port:-?}): out SPI $out_spi, in SPI $in_spi; received ESP in UDP (count spi) $(echo $got)"
    [ "$(echo "$got" | awk '{print $2}' | xargs)" = "$in_spi" ] \
        || t_fail "client$n received ESP with SPIs '$(echo "$got" | awk '{print $2}' | xargs)', expected only $in_spi"
    on_wire=$(esp_spis wan $SERVER_IP $WAN_IP | awk -v s=$in_spi '$2 == s {print $1}')
    to_port=$(cap_read wan "udp and src host $SERVER_IP and dst port ${port:-0}" | grep -c "spi=0x$in_spi,")
    c_got=$(echo "$got" | awk -v s=$in_spi '$2 == s {print $1}')
    [ -n "$on_wire" ] && [ "$on_wire" = "$c_got" ] && [ "$to_port" = "$on_wire" ] \
        || t_fail "SA $in_spi: the server sent ${on_wire:-0} (${to_port:-0} to port ${port:-?}), client$n received ${c_got:-0}"
    a=$(sa_packets client$n $out_spi); b=$(sa_packets server $out_spi); c=$(sa_packets server $in_spi); d=$(sa_packets client$n $in_spi)
    echo "client$n: SA $out_spi sent $a, server received $b; SA $in_spi server sent $c, client$n received $d"
    [ -n "$a" ] && [ "$a" -ge $((2 * PINGS)) ] && [ "$a" = "$b" ] || t_fail "SA $out_spi (client$n -> server): sent '$a', received '$b' (at least $((2 * PINGS)) expected)"
    [ -n "$c" ] && [ "$c" -ge $((2 * PINGS)) ] && [ "$c" = "$d" ] || t_fail "SA $in_spi (server -> client$n): sent '$c', received '$d'"
    detail="$detail client$n port ${port:-?} ${a:-?}/${b:-?} out ${c:-?}/${d:-?} in;"
done
# both tunnels at the same time, not one after the other: the two clients' ESP interleaves on the WAN
turns_up=$(esp_turns wan $WAN_IP $SERVER_IP "${OUT_SPI[1]:-x}" "${OUT_SPI[2]:-x}")
turns_down=$(esp_turns wan $SERVER_IP $WAN_IP "${IN_SPI[1]:-x}" "${IN_SPI[2]:-x}")
echo "ESP in UDP on the WAN switches between the two clients' SAs $turns_up times outbound, $turns_down times inbound"
[ "$turns_up" -ge 10 ] && [ "$turns_down" -ge 10 ] \
    || t_fail "the two tunnels' ESP switched only $turns_up (out) and $turns_down (in) times on the WAN: not carried at the same time"
for h in client1 client2 server; do
    e=$(xfrm_errors $h); echo "$h xfrm_stat: ${e:-all zero}"
    [ -z "$e" ] || t_fail "$h XFRM errors: $e"
done
t_end "only UDP 500/4500 on the WAN ($total packets), IKE_SA_INIT of each client 500<->500;$detail interleaved $turns_up/$turns_down times; no XFRM errors"

# ---- passgate's listing ----------------------------------------------------------------------------------
t_start passgate-ipsec-tunnels
tunnels_text
ctl_counters
sed 's/^/  passgatectl counters| /' "$LAB/counters.txt" | grep -E ' (ipsec|drop-ike|drop-esp|drop-ipsec)'
learnt=$(ctl_counter ipsec-ike-spis-learnt); unknown=$(ctl_counter drop-ike-unknown-spi); plain=$(ctl_counter ipsec-esp-sas)
[ -n "$learnt" ] && [ -n "$unknown" ] && [ -n "$plain" ] || t_fail "passgatectl counters did not list the IPsec counters: $(head -3 "$LAB/counters.txt")"
[ "${learnt:-0}" -ge 4 ] || t_fail "passgate learnt ${learnt:-0} IKE SPIs, expected at least 4 (each client's initiator and responder SPI)"
[ "$unknown" = 0 ] || t_fail "passgate dropped $unknown IKE messages with unknown SPIs"
# strongSwan floats to 4500 behind a NAT: every ESP packet is in UDP, passgate saw no plain ESP
[ "$plain" = 0 ] || t_fail "passgate saw $plain plain ESP security associations, expected none (all ESP in UDP)"
[ "$(grep -cE '^ipsec ' "$LAB/tunnels.txt")" = 2 ] || t_fail "passgatectl tunnels lists $(grep -cE '^ipsec ' "$LAB/tunnels.txt") IPsec tunnels, expected 2"
for n in 1 2; do
    ip=192.168.1.$((n + 1)); row=$(tunnel_row $ip)
    [ -n "$row" ] || { t_fail "no IPsec tunnel listed for $ip"; continue; }
    echo "$row" | grep -qE "^ipsec +$ip +[^ ]+ +$SERVER_IP " || t_fail "client$n's row is not to $SERVER_IP: $row"
    wan=$(echo "$row" | grep -oE "$WAN_IP:[0-9]+" | head -1 | cut -d: -f2)
    [ -n "${PORT[$n]:-}" ] && [ "$wan" = "${PORT[$n]}" ] || t_fail "client$n's row shows WAN port ${wan:-none}, the server's kernel uses ${PORT[$n]:-?}"
    [ "$(row_field "$row" esp-out-spi)" = "${OUT_SPI[$n]:-}" ] || t_fail "client$n's row shows esp-out-spi=$(row_field "$row" esp-out-spi), the kernel's is ${OUT_SPI[$n]:-?}"
    [ "$(row_field "$row" esp-in-spi)" = "${IN_SPI[$n]:-}" ] || t_fail "client$n's row shows esp-in-spi=$(row_field "$row" esp-in-spi), the kernel's is ${IN_SPI[$n]:-?}"
    [ "$(row_field "$row" ike-initiator-spi)" = "${IKE_I[$n]:-}" ] && [ "$(row_field "$row" ike-responder-spi)" = "${IKE_R[$n]:-}" ] \
        || t_fail "client$n's row shows IKE SPIs $(row_field "$row" ike-initiator-spi)/$(row_field "$row" ike-responder-spi), the server's are ${IKE_I[$n]:-?}/${IKE_R[$n]:-?}"
    po=$(row_packets "$row" out); pi=$(row_packets "$row" in)
    [ "${po:-0}" -ge $((2 * PINGS)) ] && [ "${pi:-0}" -ge $((2 * PINGS)) ] \
        || t_fail "client$n's row counts ${po:-?} packets out and ${pi:-?} in, expected at least $((2 * PINGS)) each (the pings)"
done
t_end "passgatectl: two IPsec tunnels, WAN ports ${PORT[1]:-?} and ${PORT[2]:-?}, IKE and ESP SPIs as the peers have them; ipsec-ike-spis-learnt=$learnt, no plain ESP"

for h in client1 client2 server; do inns $h ipsec stop >/dev/null 2>&1; done
