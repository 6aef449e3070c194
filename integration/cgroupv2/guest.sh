# Shared by run.sh (the tests) and bench.sh (the benchmark): the pure cgroup v2 guest's kernel,
# its initramfs and its boot. Sourced, not run.

# Debian 12's own kernel series (6.1, from linux-image-amd64; integration/deps.sh guest),
# the newest of it when there are several, whatever else /boot holds.
guest_kernel() {
    kernel=$(ls /boot/vmlinuz-6.1.* 2>/dev/null | sort -V | tail -1)
    if [ -z "$kernel" ]; then
        echo "cgroupv2: no Debian 12 kernel (/boot/vmlinuz-6.1.*): run integration/deps.sh guest" >&2
        exit 1
    fi
    kver=${kernel#/boot/vmlinuz-}
}

# copy_libs ROOT BINARY...: the dynamic libraries the binaries link, at the paths the loader
# looks for them.
copy_libs() {
    libs_root=$1
    shift
    for bin in "$@"; do
        ldd "$bin" 2>/dev/null | grep -o '/[^ ]*' | while read -r lib; do
            mkdir -p "$libs_root$(dirname "$lib")"
            cp -L "$lib" "$libs_root$lib"
        done
    done
}

# boot_guest WORK ROOT MEMORY_MIB TIMEOUT_S KERNEL_ARGS: packs ROOT as the initramfs and boots it under
# qemu (software emulation: /dev/kvm hangs on these machines) with cgroup_no_v1=all; the
# console is shown and kept in WORK/console.txt.
boot_guest() {
    (cd "$2" && find . | cpio -o -H newc --quiet | gzip -1) > "$1/initramfs.gz"
    timeout "$4" qemu-system-x86_64 -cpu max -m "$3" -smp 2 -nographic -no-reboot \
        -kernel "$kernel" -initrd "$1/initramfs.gz" \
        -append "console=ttyS0 cgroup_no_v1=all panic=-1 quiet $5" </dev/null | tee "$1/console" | tr -d '\r'
    tr -d '\r' < "$1/console" > "$1/console.txt"
}

# write_mounts ROOT: ROOT/bin/guest-mounts, which stage two runs to mount what a host has:
# proc, sysfs, devtmpfs, devpts, /dev/shm, tmpfs /tmp and /run, and the cgroup2 hierarchy.
write_mounts() {
    cat > "$1/bin/guest-mounts" <<'MOUNTS'
#!/bin/busybox sh
mkdir -p /proc /sys /dev /tmp /run /root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t cgroup2 cgroup2 /sys/fs/cgroup
MOUNTS
    chmod +x "$1/bin/guest-mounts"
}
