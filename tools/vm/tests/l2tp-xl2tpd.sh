# L2TP passthrough on a real kernel: two xl2tpd LACs (client1, client2), both from UDP 1701, to one xl2tpd LNS
# (server) through passgate, with kernel L2TP (l2tp_ppp) and PPP: both PPP links up at once, pings over each,
# the LNS sees each tunnel from 10.0.0.1 port 1701, no LAN address on the WAN, passgatectl lists both tunnels.
# The LNS runs xl2tpd's user-space data path ("force userspace"): in kernel mode xl2tpd gives each tunnel a UDP
# socket connected to its peer, and two tunnels from one address and port (two clients behind one NAT, both
# kept on 1701) get two sockets with the same four-tuple; Debian 12's kernel (6.1) then hands both tunnels'
# data to one socket, whose tunnel does not have the other's session: that PPP never comes up (measured here,
# and the reason for l2tp.keep-port = first; see the README). The clients use kernel L2TP.
# vm-arch: amd64
# vm-plug: PASSGATE_JAVA_OPTS=-XX:TieredStopAtLevel=1 tools/vm/plug-passgate --lan-if br-lan --wan-if wan0 --wan-address 10.0.0.1
# vm-timeout: 900

need_topology
D=$LAB/l2tp
mkdir -p $D
ctl() { inns router bash -c "cd /plug && PASSGATE_JAVA_OPTS=-XX:TieredStopAtLevel=1 tools/bin/passgatectl $*"; }
counter() { ctl counters | awk -v k="$1" '$1==k{print $2}'; }

t_start l2tp-xl2tpd-setup
cat > $D/lns.conf <<EOF
[global]
listen-addr = $SERVER_IP
port = 1701
force userspace = yes
[lns default]
ip range = 10.200.0.10-10.200.0.20
local ip = 10.200.0.1
require authentication = no
refuse pap = yes
refuse chap = yes
length bit = yes
pppoptfile = $D/lns.ppp
EOF
printf 'noauth\nnodefaultroute\nmtu 1400\nmru 1400\nlcp-echo-interval 0\n' > $D/lns.ppp
printf 'noauth\nnodefaultroute\nmtu 1400\nmru 1400\nlcp-echo-interval 0\n' > $D/lac.ppp
for c in 1 2; do
    cat > $D/lac$c.conf <<EOF
[global]
port = 1701
[lac server]
lns = $SERVER_IP
autodial = yes
redial = no
length bit = yes
require authentication = no
pppoptfile = $D/lac.ppp
EOF
done
# a capture on the WAN side of the router: every packet's source must be the WAN address
. /plug/tools/vm/tests/capture-lib.sh
cap_start router wan0 wan udp port 1701 or ip proto 115
inns server xl2tpd -D -c $D/lns.conf -p /run/xl2tpd/lns.pid -C /run/xl2tpd/lns.ctl > $D/lns.log 2>&1 &
wait_for 10 grep -q "Listening on IP address" $D/lns.log || t_fail "the LNS did not start: $(tail -3 $D/lns.log)"
inns client1 xl2tpd -D -c $D/lac1.conf -p /run/xl2tpd/lac.pid -C /run/xl2tpd/l2tp-control > $D/lac1.log 2>&1 &
inns client2 xl2tpd -D -c $D/lac2.conf -p /run/xl2tpd/lac.pid -C /run/xl2tpd/l2tp-control > $D/lac2.log 2>&1 &
t_end "LNS on $SERVER_IP, LACs in client1 and client2"

t_start l2tp-two-clients-ppp-up
for c in client1 client2; do
    n=${c#client}
    if ! wait_for 90 sh -c "nsenter --net=/run/netns/$c ip -4 addr show dev ppp0 | grep -q inet"; then
        t_fail "$c: no PPP link: $(tail -5 $D/lac$n.log | tr '\n' ' ')"
    fi
done
for c in client1 client2; do
    inns $c ip -4 addr show dev ppp0 2>/dev/null | sed "s/^/$c| /"
done
# both links up at once: ping the LNS's end over each
ok=0
for c in client1 client2; do
    got=$(ping_count $c -c 5 -i 0.3 -W 2 -I ppp0 10.200.0.1)
    echo "$c over PPP: $got"
    [ "${got%/*}" -ge 4 ] 2>/dev/null && ok=$((ok+1)) || t_fail "$c: pings over PPP: $got"
done
est=$(grep -c "Connection established to $WAN_IP, 1701" $D/lns.log)
calls=$(grep -c "Call established with $WAN_IP" $D/lns.log)
other=$(grep "Connection established to" $D/lns.log | grep -vc "to $WAN_IP, 1701")
[ "$est" = 2 ] || t_fail "the LNS saw $est tunnels from $WAN_IP port 1701 (want 2): $(grep 'Connection established' $D/lns.log | tr '\n' ' ')"
[ "$calls" = 2 ] || t_fail "the LNS has $calls calls from $WAN_IP (want 2)"
[ "$other" = 0 ] || t_fail "$other tunnels from elsewhere than $WAN_IP:1701"
tunnels=$(ctl tunnels)
echo "$tunnels"
rows=$(echo "$tunnels" | grep -c '^l2tp')
[ "$rows" = 2 ] || t_fail "passgatectl tunnels lists $rows L2TP tunnels (want 2)"
echo "$tunnels" | grep '^l2tp' | grep -q 'sessions=1' || t_fail "no tunnel shows its session"
t_end "PPP up over both (pings $ok/2), LNS: $est tunnels and $calls calls from $WAN_IP:1701, passgatectl: $rows tunnels"

t_start l2tp-no-lan-address-on-wan
sleep 1
cap_stop wan
total=$(cap_read wan | wc -l)
leaks=$(cap_read wan | grep -c ' 192\.168\.1\.')
sources=$(cap_read wan 'src host 10.0.0.1' | grep -c '10\.0\.0\.1\.1701 >')
echo "wan0: $total L2TP packets, $sources from 10.0.0.1:1701, $leaks with a LAN address"
[ "$total" -ge 20 ] || t_fail "only $total L2TP packets captured on wan0"
[ "$leaks" = 0 ] || t_fail "$leaks packets with a LAN address on wan0"
[ "$sources" -ge 10 ] || t_fail "only $sources packets from 10.0.0.1:1701"
t_end "$total packets on wan0, $sources from 10.0.0.1:1701, 0 LAN addresses"

t_start l2tp-teardown
kill_in client1 xl2tpd
kill_in client2 xl2tpd
for i in $(seq 1 20); do [ "$(counter l2tp-stopccn)" -ge 2 ] 2>/dev/null && break; sleep 1; done
counters=$(ctl counters | grep -E '^(l2tp-|drop-l2tp-|tunnels-l2tp)')
echo "$counters"
stop=$(echo "$counters" | awk '$1=="l2tp-stopccn"{print $2}')
mal=$(echo "$counters" | awk '$1=="drop-l2tp-malformed"{print $2}')
[ "${stop:-0}" -ge 2 ] || t_fail "StopCCN seen ${stop:-0} times (want 2)"
[ "${mal:-0}" = 0 ] || t_fail "$mal malformed L2TP drops"
kill_in server xl2tpd
t_end "StopCCN x${stop:-0}, malformed drops ${mal:-0}"
