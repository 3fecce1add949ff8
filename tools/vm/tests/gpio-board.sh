# passgate's own GPIO binding (board = gpio) on a gpio-sim chip, passgate the router's NAT: the button
# pressed through the line's pull (short, bouncy, long), the LEDs read from the lines' values and checked
# against passgatectl status (on, off, tunnel live, fault), the latency from the button's edge to the LED
# and to the switch, the lines released on stop, a busy line refused naming the key.
# vm-arch: amd64
# vm-plug: PASSGATE_JAVA_OPTS=-XX:TieredStopAtLevel=1 tools/vm/plug-passgate --lan-if br-lan --wan-if wan0 --wan-address 10.0.0.1 --set board=gpio --set board.gpio-chip=passgate-header --set board.button-pin=BUTTON --set board.led-system-pin=LED_SYS --set board.led-pptp-pin=22 --set board.led-ipsec-pin=23 --set board.led-l2tp-pin=24
. /plug/tools/vm/tests/board-lib.sh

t_start gpio-sim
# two chips: "auto" would not know which, so the config names the header chip by its label; the button
# and the system LED by line name, the protocol LEDs by number
sim_chip other other-gpio 8 || t_fail "gpio-sim chip 'other'"
sim_chip header passgate-header 32 17:BUTTON 27:LED_SYS 22:LED_PPTP || t_fail "gpio-sim chip 'header'"
BUTTON=17 LED_SYSTEM=27 LED_PPTP=22 LED_IPSEC=23 LED_L2TP=24
release
gpiodetect
BOARD_DESC="GPIO character device /dev/$SIM_CHIP [passgate-header, 32 lines]; button $SIM_CHIP line 17 (BUTTON)"
BUSY_ERROR="key 'board.led-pptp-pin': cannot use $SIM_CHIP line 22 (LED_PPTP) held by 'gpioset'.*EBUSY"
t_end "header chip $SIM_CHIP ($SIM)"

need_topology
board_suite
