# tools/bin/bench on Debian's own kernel, which has the flowtable (nf_flow_table) this development machine's
# kernel lacks: plain forwarding, kernel masquerade, passgate forward, passgate NAT, passgate NAT + offload (its
# default offload.flowtable = auto takes the flowtable) and passgate NAT + offload with offload.flowtable = off
# (conntrack alone), 1 and 4 TCP streams, 64-byte UDP, two clients' plain ESP; 3 interleaved rounds of 5 s.
# bench builds its own lab namespaces in the guest (not the harness's topology). TCG emulates the CPU: the
# absolute figures are the emulator's, the ratios between setups of the same run are what it shows.
# passgate runs with PASSGATE_JIT=c1 (C2's compilations take minutes under TCG). A measurement, not a
# pass/fail bound: `tools/bin/vm-test bench-flowtable` (manual: not in the default run; about 12 minutes).
# vm-arch: amd64
# vm-manual: yes
# vm-plug: sleep 3000
# vm-timeout: 2400

t_start bench-flowtable
export PASSGATE_JIT=c1
out=/tmp/bench-flowtable.txt
( cd /plug && timeout 2000 tools/bin/bench --runs 3 --seconds 5 --interleave ) > "$out" 2>&1
rc=$?
cat "$out"
grep -q '^kernel flowtable: yes' "$out" || t_fail "bench did not find the kernel's flowtable: $(grep '^kernel flowtable' "$out")"
grep -q '^passgate NAT + offload, no flowtable' "$out" || t_fail "no line for offload without the flowtable"
[ "$rc" = 0 ] || t_fail "bench exited with $rc: $(tail -5 "$out" | tr '\n' ' ')"
t_end "$(grep '^passgate NAT + offload ' "$out" | head -1 | tr -s ' ')"
