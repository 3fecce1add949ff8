#!/bin/bash
# Builds the emulated Raspberry Pi for the Pi4J board test: an aarch64 QEMU guest (machine "virt")
# booting Debian's arm64 kernel, with gpio-sim cross-built for it, in the same shape as
# ../shared/vm/build.sh builds the amd64 lab VM (and booted by tools/vm/run-arm64.sh with the same
# job protocol, so ../shared/vm/tests/lib.sh and its topology work unchanged).
#
#   $W/kernel/      Debian bookworm's linux-image-6.1.0-*-arm64 (the ABI the amd64 VM runs), extracted
#   $W/gpio-sim.ko  drivers/gpio/gpio-sim.c + kernel/irq/irq_sim.c from linux-source-6.1, cross-built
#                   with gcc-aarch64-linux-gnu (gcc 12, Debian's own compiler for that kernel) against
#                   linux-headers-*-arm64 and the host's linux-kbuild-6.1 (Debian does not build gpio-sim)
#   $W/rootfs/      debootstrap --arch=arm64 --variant=minbase trixie (second stage through
#                   qemu-user-static): trixie, because bookworm has no JDK >= 21 and passgate needs 21;
#                   openjdk-21-jre-headless is the guest's /opt/jdk
#   $W/rootfs.img   ext4 image (booted as /dev/vda, snapshot=on)
#   $W/initrd.gz    arm64 busybox initramfs that loads virtio/ext4 and switch_roots
# W = $PASSGATE_VM_ARM64_WORK (default /var/tmp/passgate-vm-arm64). Stages are skipped when done
# (FORCE=1 redoes them); custom, image and initrd always run (seconds).
#
# Usage: tools/vm/build-arm64.sh [stage...]   stages: hostdeps kernel gpiosim rootfs custom image initrd
# Needs root, a Debian 12 host, the Debian mirror of the host's apt sources (no other network).
set -euo pipefail
HERE=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
SHARED_VM=${PASSGATE_SHARED_VM:-$(cd "$HERE/../../.." && pwd)/shared/vm}
W=$(realpath -m "${PASSGATE_VM_ARM64_WORK:-/var/tmp/passgate-vm-arm64}")
mkdir -p "$W"
SUITE=trixie            # the guest's userland (JDK 21)
KSUITE=bookworm         # the guest's kernel: Debian 12's 6.1, built with gcc 12
PKGS=iproute2,nftables,iptables,kmod,iputils-ping,procps,gpiod,netcat-openbsd,util-linux,pptpd,pptp-linux,ppp,openjdk-21-jre-headless

log() { echo "[arm64 $(date +%T)] $*"; }
timed() { local t0=$SECONDS; "$@"; log "  -> '$1' took $((SECONDS - t0))s"; }

host_mirror() {   # the Debian mirror the host's apt already uses (as ../shared/vm/build.sh finds it)
    { sed -n 's/^deb \(\[[^]]*\] \)\?\(https\?:[^ ]*\) .*/\2/p' /etc/apt/sources.list 2>/dev/null
      sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | tr ' ' '\n'
    } | grep -E '/debian/?$' | head -1 || true
}
MIRROR=${MIRROR:-$(host_mirror)}
[ -n "$MIRROR" ] || { echo "build-arm64.sh: no Debian mirror in the apt sources; set MIRROR=URL" >&2; exit 1; }

# A private apt (own lists and cache under $W/apt) that sees bookworm and trixie for arm64 and amd64:
# the host's apt configuration and dpkg database are left alone.
A=$W/apt
APT_OPTS=(-o "APT::Architecture=amd64" -o "APT::Architectures::=amd64" -o "APT::Architectures::=arm64"
          -o "Dir::State::Lists=$A/lists" -o "Dir::Cache=$A/cache" -o "Dir::Etc::SourceList=$A/sources.list"
          -o "Dir::Etc::SourceParts=$A/none" -o "Dir::Etc::Preferences=$A/none"
          -o "Dir::Etc::PreferencesParts=$A/none" -o "Dir::State::status=$A/status" -o "Debug::NoLocking=1")
papt() { apt-get "${APT_OPTS[@]}" "$@"; }
papt_cache() { apt-cache "${APT_OPTS[@]}" "$@"; }
apt_private() {
    mkdir -p "$A/lists/partial" "$A/cache/archives/partial" "$A/none"
    : > "$A/status"
    cat > "$A/sources.list" <<EOF
deb [arch=amd64,arm64] $MIRROR $KSUITE main
deb [arch=arm64] $MIRROR $SUITE main
EOF
    if [ -z "$(find "$A/lists" -name '*Packages*' -mmin -720 2>/dev/null | head -1)" ]; then
        timed papt update -q >/dev/null
    fi
}

stage_hostdeps() {
    local need=() p
    for p in qemu-system-arm qemu-user-static binfmt-support debootstrap gcc-aarch64-linux-gnu busybox-static \
             cpio e2fsprogs kmod make xz-utils; do
        dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
    done
    if [ ${#need[@]} -gt 0 ]; then
        log "installing host packages: ${need[*]}"
        apt-get update -q
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "${need[@]}"
    fi
    # debootstrap's second stage runs arm64 binaries through qemu-user-static: binfmt_misc must be
    # mounted (containers and CI machines often do not mount it) and the qemu-aarch64 entry enabled
    if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
        mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
    fi
    if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
        update-binfmts --enable qemu-aarch64 || update-binfmts --import qemu-aarch64
    fi
    grep -q enabled /proc/sys/fs/binfmt_misc/qemu-aarch64 || { echo "binfmt qemu-aarch64 not enabled"; exit 1; }
    log "host packages present; binfmt qemu-aarch64 enabled"
}

kver() {  # e.g. 6.1.0-57-arm64: what bookworm's linux-image-arm64 points to
    papt_cache depends "linux-image-arm64:arm64/$KSUITE" 2>/dev/null \
        | sed -n 's/.*Depends: linux-image-\([^:]*\).*$/\1/p' | head -1
}

stage_kernel() {
    if [ -e "$W/kernel/.done" ] && [ "${FORCE:-0}" != 1 ]; then log "kernel: done ($(cat "$W/kernel/.done"))"; return; fi
    apt_private
    local KV; KV=$(kver); [ -n "$KV" ] || { echo "cannot resolve bookworm's linux-image-arm64"; exit 1; }
    local ABI=${KV%-arm64} MAJ; MAJ=$(echo "$KV" | cut -d. -f1-2)
    log "kernel: $KV"
    rm -rf "$W/debs" "$W/kernel" "$W/hdr" && mkdir -p "$W/debs" "$W/kernel" "$W/hdr"
    chmod 777 "$W/debs"
    # linux-kbuild is the build machine's (amd64: fixdep, modpost); busybox-static the guest's initramfs
    (cd "$W/debs" && timed papt download -q "linux-image-$KV:arm64/$KSUITE" "linux-headers-$KV:arm64/$KSUITE" \
        "linux-headers-$ABI-common/$KSUITE" "linux-kbuild-$MAJ:amd64/$KSUITE" "linux-source-$MAJ/$KSUITE" \
        "busybox-static:arm64/$KSUITE")
    dpkg-deb -x "$W"/debs/linux-image-"$KV"_*.deb "$W/kernel"
    for d in "$W"/debs/linux-headers-*.deb "$W"/debs/linux-kbuild-*.deb; do dpkg-deb -x "$d" "$W/hdr"; done
    sed -i "s|^include /usr/src/linux-headers-$ABI-common/Makefile|include ../linux-headers-$ABI-common/Makefile|" \
        "$W/hdr/usr/src/linux-headers-$KV/Makefile"
    depmod -b "$W/kernel" "$KV"
    cp "$W/kernel/boot/vmlinuz-$KV" "$W/vmlinuz"
    local cfg=$W/kernel/boot/config-$KV c
    for c in CONFIG_GPIO_CDEV CONFIG_GPIO_CDEV_V1 CONFIG_CONFIGFS_FS CONFIG_GPIO_SIM CONFIG_IRQ_SIM; do
        log "kernel: $(grep -E "^$c=|^# $c is not set" "$cfg" || echo "$c absent")"
    done
    echo "$KV" > "$W/kernel/.done"
}

stage_gpiosim() {
    if [ -e "$W/gpio-sim.ko" ] && [ "${FORCE:-0}" != 1 ]; then log "gpio-sim: done"; return; fi
    local KV; KV=$(cat "$W/kernel/.done"); local MAJ; MAJ=$(echo "$KV" | cut -d. -f1-2)
    local B=$W/gpiosim-build
    rm -rf "$B" "$W/gpiosim-src" && mkdir -p "$B" "$W/gpiosim-src"
    dpkg-deb --fsys-tarfile "$W"/debs/linux-source-"$MAJ"_*.deb \
        | tar -x -O "./usr/src/linux-source-$MAJ.tar.xz" \
        | tar -xJ -C "$W/gpiosim-src" --wildcards '*/drivers/gpio/gpio-sim.c' '*/drivers/gpio/gpiolib.h' \
              '*/kernel/irq/irq_sim.c'
    local S=$W/gpiosim-src/linux-source-$MAJ
    cp "$S/drivers/gpio/gpio-sim.c" "$B/gpio-sim-core.c"
    cp "$S/drivers/gpio/gpiolib.h" "$S/kernel/irq/irq_sim.c" "$B/"
    cp "$SHARED_VM/gpio-sim/Kbuild" "$B/Kbuild"
    chmod u+w "$B"/*
    # as ../shared/vm/build.sh: irq_to_desc() is not exported to modules; generic_handle_irq() does the
    # same dispatch (the sim irqchip's handler is handle_simple_irq)
    sed -i 's/handle_simple_irq(irq_to_desc(irqnum));/generic_handle_irq(irqnum);/' "$B/irq_sim.c"
    grep -q 'generic_handle_irq(irqnum)' "$B/irq_sim.c" || { echo "irq_sim.c patch did not apply"; exit 1; }
    timed make -s -C "$W/hdr/usr/src/linux-headers-$KV" M="$B" ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- modules
    cp "$B/gpio-sim.ko" "$W/gpio-sim.ko"
    modinfo "$W/gpio-sim.ko" | grep -E '^(name|vermagic|depends)'
}

stage_rootfs() {
    if [ -e "$W/rootfs/.done" ] && [ "${FORCE:-0}" != 1 ]; then
        if [ "$(cat "$W/rootfs/.done")" = "$SUITE $PKGS" ]; then log "rootfs: done"; return; fi
        log "rootfs: package list changed -> debootstrap again"
    fi
    rm -rf "$W/rootfs" && mkdir -p "$W/rootfs"
    log "rootfs: debootstrap --arch=arm64 --variant=minbase $SUITE from $MIRROR (second stage under qemu-user)"
    local t0=$SECONDS
    timeout 3600 debootstrap --arch=arm64 --variant=minbase --include="$PKGS" "$SUITE" "$W/rootfs" "$MIRROR" \
        > "$W/debootstrap.log" 2>&1 || { tail -20 "$W/debootstrap.log"; exit 1; }
    log "rootfs: debootstrap took $((SECONDS - t0))s, $(du -sh "$W/rootfs" | cut -f1)"
    echo "$SUITE $PKGS" > "$W/rootfs/.done"
}

stage_custom() {
    local R=$W/rootfs KV; KV=$(cat "$W/kernel/.done")
    rm -rf "$R"/var/cache/apt/archives/*.deb "$R"/var/cache/apt/*.bin "$R"/var/lib/apt/lists/*_Packages \
           "$R"/usr/share/doc/* "$R"/usr/share/man/* "$R"/usr/share/locale/* "$R"/usr/share/info/*
    local M=lib/modules/$KV
    rm -rf "${R:?}/$M" "${R:?}/usr/$M" && mkdir -p "$R/usr/$M/kernel/drivers/net" "$R/usr/$M/extra"
    [ -L "$R/lib" ] || { echo "expected a merged-/usr rootfs"; exit 1; }
    cp -a "$W/kernel/$M"/modules.builtin* "$W/kernel/$M/modules.order" "$R/usr/$M/"
    for d in arch block crypto fs lib mm net virt; do
        [ -d "$W/kernel/$M/kernel/$d" ] && cp -a "$W/kernel/$M/kernel/$d" "$R/usr/$M/kernel/"
    done
    for d in virtio block gpio char crypto; do
        [ -d "$W/kernel/$M/kernel/drivers/$d" ] && cp -a "$W/kernel/$M/kernel/drivers/$d" "$R/usr/$M/kernel/drivers/"
    done
    (cd "$W/kernel/$M/kernel/drivers/net" && tar -c --exclude=./wireless --exclude=./ethernet --exclude=./usb .) \
        | tar -x -C "$R/usr/$M/kernel/drivers/net"
    cp "$W/gpio-sim.ko" "$R/usr/$M/extra/"
    depmod -b "$R/usr" "$KV" 2>/dev/null || depmod -b "$R" "$KV"
    # the same stage-2 init as the amd64 lab VM: mounts /job (9p), runs job.sh, powers off
    install -m 755 "$SHARED_VM/guest/vm-init" "$R/sbin/vm-init"
    echo labpi > "$R/etc/hostname"
    echo "127.0.0.1 localhost labpi" > "$R/etc/hosts"
    printf '#!/bin/sh\nexit 101\n' > "$R/usr/sbin/policy-rc.d"; chmod 755 "$R/usr/sbin/policy-rc.d"
    # vm-init sets JAVA_HOME=/opt/jdk
    local jdk; jdk=$(cd "$R" && ls -d usr/lib/jvm/java-21-openjdk-arm64 2>/dev/null || true)
    [ -n "$jdk" ] || { echo "no JDK 21 in the rootfs"; exit 1; }
    ln -sfn "/$jdk" "$R/opt/jdk"
    log "rootfs: customized, $(du -sh "$R" | cut -f1)"
}

stage_image() {
    local used size; used=$(du -sm "$W/rootfs" | cut -f1); size=$(( used * 12 / 10 + 512 ))
    rm -f "$W/rootfs.img"
    timed mkfs.ext4 -q -F -L labroot -d "$W/rootfs" "$W/rootfs.img" "${size}M"
    log "image: $W/rootfs.img ${size}M"
}

stage_initrd() {
    local KV; KV=$(cat "$W/kernel/.done") I=$W/initrd
    rm -rf "$I" && mkdir -p "$I/bin" "$I/modules" "$W/busybox"
    dpkg-deb -x "$W"/debs/busybox-static_*_arm64.deb "$W/busybox"
    cp "$W/busybox/bin/busybox" "$I/bin/busybox"
    install -m 755 "$SHARED_VM/guest/initramfs-init" "$I/init"
    : > "$I/modules/load.order"
    local mod b
    for mod in virtio_pci virtio_blk crc32c_generic ext4; do
        modprobe -d "$W/kernel" -S "$KV" --show-depends "$mod" 2>/dev/null || true
    done | awk '$1=="insmod"{print $2}' | while read -r f; do
            b=$(basename "$f")
            grep -qx "$b" "$I/modules/load.order" && continue
            cp "$f" "$I/modules/$b"; echo "$b" >> "$I/modules/load.order"
        done
    (cd "$I" && find . | cpio -o -H newc --quiet) | gzip -6 > "$W/initrd.gz"
    log "initrd: $(du -h "$W/initrd.gz" | cut -f1), modules: $(tr '\n' ' ' < "$I/modules/load.order")"
}

stages=("$@"); [ ${#stages[@]} -eq 0 ] && stages=(hostdeps kernel gpiosim rootfs custom image initrd)
T0=$SECONDS
for s in "${stages[@]}"; do log "== $s"; "stage_$s"; done
log "all done in $((SECONDS - T0))s"
