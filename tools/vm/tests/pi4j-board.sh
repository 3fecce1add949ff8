# The pi4j provider on an emulated Raspberry Pi 4 (aarch64 guest, tools/vm/run-arm64.sh): a gpio-sim chip
# labelled as the Pi 4's header chip (pinctrl-bcm2711, 58 lines named GPIO0..GPIO57), and passgate's mount
# namespace shows /proc/cpuinfo with a Pi 4's revision and the Pi 4's device-tree model, so Pi4J's
# BoardInfoHelper recognises the board and board = auto picks pi4j. Then the same suite as gpio-board.sh, and
# a short run of board = gpio (passgate's own binding on aarch64) on the same chip.
# vm-arch: arm64
# vm-plug: PASSGATE_JAVA_OPTS=-XX:TieredStopAtLevel=1 tools/vm/plug-passgate --as-pi 'Raspberry Pi 4 Model B Rev 1.4' c03114 --lan-if br-lan --wan-if wan0 --wan-address 10.0.0.1 --set board=auto
. /plug/tools/vm/tests/board-lib.sh

t_start gpio-sim
names=(); for i in $(seq 0 57); do names+=("$i:GPIO$i"); done
sim_chip header pinctrl-bcm2711 58 "${names[@]}" || t_fail "gpio-sim chip pinctrl-bcm2711"
BUTTON=17 LED_SYSTEM=27 LED_PPTP=22 LED_IPSEC=23 LED_L2TP=24
release
gpiodetect
BOARD_DESC="Raspberry Pi 4 Model B Rev 1.4 (profile pi4, Pi4J GpioD; button BCM 17"
BUSY_EXTRA="--set board=pi4j"
BUSY_ERROR="key 'board.led-pptp-pin': Pi4J cannot open BCM 22"
ALSO_GPIO=1   # and passgate's own binding (board = gpio) on aarch64, on the same chip
t_end "Pi 4 header chip $SIM_CHIP ($SIM)"

need_topology
board_suite
