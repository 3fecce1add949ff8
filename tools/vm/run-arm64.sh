#!/bin/bash
# Boots the emulated Raspberry Pi (aarch64 QEMU guest built by tools/vm/build-arm64.sh into
# $PASSGATE_VM_ARM64_WORK, default /var/tmp/passgate-vm-arm64) and runs SCRIPT inside it, with exactly the
# job protocol of ../shared/vm/run.sh: ../shared/vm/tests/ is copied in as /job/tests, lib.sh is sourced,
# --plug/--plug-dir/--plug-ready mean the same, results come back in $W/runs/<time>-<name>/.
#
# Usage: tools/vm/run-arm64.sh [--plug-dir DIR] [--plug CMD] [--plug-ready CMD] SCRIPT
# Environment: MEM=2048 (MiB), SMP=2, CPU=cortex-a72 (the Pi 4's core; cheaper to emulate than "max"),
#              TIMEOUT=1800 (s, whole VM run; the script gets 60 s less), PLUG_WAIT=180.
set -uo pipefail
HERE=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
SHARED_VM=${PASSGATE_SHARED_VM:-$(cd "$HERE/../../.." && pwd)/shared/vm}
PLUG="" PLUG_DIR="" PLUG_READY=""
usage() { sed -n '2,11p' "$0"; exit 2; }
while [ $# -gt 0 ]; do
    case $1 in
        --plug) PLUG=$2; shift 2 ;;
        --plug-dir) PLUG_DIR=$(realpath -e "$2") || { echo "no such folder: $2"; exit 2; }; shift 2 ;;
        --plug-ready) PLUG_READY=$2; shift 2 ;;
        -h|--help) usage ;;
        --*) echo "unknown option $1"; usage ;;
        *) break ;;
    esac
done
[ -n "$PLUG_DIR" ] && [ -z "$PLUG" ] && { echo "--plug-dir needs --plug CMD"; exit 2; }
[ $# -ge 1 ] && [ -f "$1" ] || usage
SCRIPT=$(realpath -e "$1")
W=$(realpath -m "${PASSGATE_VM_ARM64_WORK:-/var/tmp/passgate-vm-arm64}")
for f in "$W/vmlinuz" "$W/initrd.gz" "$W/rootfs.img"; do
    [ -e "$f" ] || { echo "missing $f: run tools/vm/build-arm64.sh first"; exit 2; }
done
MEM=${MEM:-2048}; SMP=${SMP:-2}; CPU=${CPU:-cortex-a72}; TIMEOUT=${TIMEOUT:-1800}
name=$(basename "$SCRIPT" .sh)
RUN=$W/runs/$(date +%Y%m%d-%H%M%S)-$name
mkdir -p "$RUN"
cp -r "$SHARED_VM/tests" "$RUN/tests"
chmod -R u+w "$RUN/tests"
cp "$SCRIPT" "$RUN/job-script"
{   printf 'PLUG=%q\n' "$PLUG"
    printf 'PLUG_SHARED=%s\n' "$([ -n "$PLUG_DIR" ] && echo 1 || echo 0)"
    printf 'PLUG_READY=%q\n' "$PLUG_READY"
    printf 'PLUG_WAIT=%q\n' "${PLUG_WAIT:-180}"
} > "$RUN/plug.env"
# the job, as ../shared/vm/run.sh writes it
cat > "$RUN/job.sh" <<'EOF'
cd /job/tests || exit 1
export RESULTS=/job/results.txt
: > "$RESULTS"
. ./lib.sh
job_prepare
trap 'job_finish' EXIT
. /job/job-script
src=$?
trap - EXIT
job_finish
grep -q '^FAIL' "$RESULTS" && exit 1
exit $src
EOF
share=()
[ -n "$PLUG_DIR" ] && share=(-fsdev "local,id=plug,path=$PLUG_DIR,security_model=none,readonly=on"
                              -device virtio-9p-pci,fsdev=plug,mount_tag=plug)
echo "[run-arm64] $SCRIPT: aarch64 virt cpu=$CPU mem=${MEM}M smp=$SMP -> $RUN"
[ -n "$PLUG" ] && echo "[run-arm64] plug: ${PLUG_DIR:+$PLUG_DIR (read-only at /plug): }$PLUG"
t0=$(date +%s.%N)
timeout --foreground -k 10 "$TIMEOUT" qemu-system-aarch64 -M virt -accel tcg,thread=multi -cpu "$CPU" \
    -m "$MEM" -smp "$SMP" \
    -kernel "$W/vmlinuz" -initrd "$W/initrd.gz" \
    -append "console=ttyAMA0 quiet panic=-1 JOB_TIMEOUT=$((TIMEOUT - 60))" \
    -drive "file=$W/rootfs.img,format=raw,if=none,id=root,snapshot=on" -device virtio-blk-pci,drive=root \
    -fsdev "local,id=job,path=$RUN,security_model=none" \
    -device virtio-9p-pci,fsdev=job,mount_tag=job \
    "${share[@]}" \
    -nic none -nographic -no-reboot < /dev/null 2>&1 | tee "$RUN/console.log"
qrc=${PIPESTATUS[0]}
t1=$(date +%s.%N)
wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')
rc=$(cat "$RUN/rc" 2>/dev/null || echo 99)
echo "[run-arm64] qemu exit=$qrc, script rc=$rc, wall ${wall}s, output in $RUN"
[ "$qrc" = 124 ] && echo "[run-arm64] TIMEOUT after ${TIMEOUT}s"
exit "$rc"
