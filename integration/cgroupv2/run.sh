#!/bin/sh
# The cgroup tests (tests/cgroups.rs, and tests/procfs.rs) on a pure cgroup v2 host: Debian's kernel booted under
# qemu (software emulation: /dev/kvm hangs on these machines) with cgroup_no_v1=all, from an
# initramfs holding husk, the test binary, the libraries they link and busybox.
#
#   integration/cgroupv2/run.sh [--systemd | --checkpoint] HUSK_BINARY TEST_BINARY [TEST ARGS...]
#
# With --systemd the guest boots the host's systemd as PID 1 (the machines here run none), and
# a unit runs the tests: the systemd cgroup driver talks to it as it would on a real host.
#
# With --checkpoint the guest also has what CRIU needs (make test-checkpoint): criu and the
# tools it runs (GNU tar, ip, iptables), loopback up, the socket diag modules, nf_tables and
# what it loads (crc32c), tun and veth; and containerd with its runc shim, ctr, overlayfs and a
# busybox image, for containerd's own checkpoint and restore. CRIU 3.17 cannot run on these machines' own kernel.
#
# Prints the guest's console and exits with the tests' exit code. The run counts only if the
# guest says so: with --systemd, that systemd is PID 1; and the test binary's result line
# names as many passed tests as it lists here, none failed.
set -eu

systemd=false
checkpoint=false
case "${1:-}" in
--systemd) systemd=true; shift ;;
--checkpoint) checkpoint=true; shift ;;
esac
husk=$1
tests=$2
shift 2
test_args="$*"
. "$(dirname "$0")/guest.sh"
guest_kernel
echo "cgroupv2: booting $kernel"
work=$(mktemp -d /tmp/husk-cgroupv2.XXXXXX)
trap 'rm -rf "$work"' EXIT
root=$work/root

mkdir -p "$root/bin" "$root/lib/modules" "$root/proc" "$root/sys" "$root/dev" "$root/tmp" \
    "$root/run" "$root/etc" "$root/newroot"
cp "$(command -v busybox)" "$root/bin/busybox"
cp "$husk" "$root/bin/husk"
cp "$tests" "$root/bin/cgroup-tests"
# The dynamic libraries both binaries link, at the paths the loader looks for them.
binaries="$husk $tests"
if $systemd; then
    for bin in /lib/systemd/systemd /usr/bin/systemctl; do
        mkdir -p "$root$(dirname "$bin")"
        cp "$bin" "$root$bin"
    done
    binaries="$binaries /lib/systemd/systemd /usr/bin/systemctl"
fi
if $checkpoint; then
    for tool in criu tar ip xtables-nft-multi flock containerd containerd-shim-runc-v2 ctr; do
        path=$(command -v "$tool" || true)
        if [ -z "$path" ]; then
            echo "cgroupv2: $tool is missing: run integration/deps.sh checkpoint" >&2
            exit 1
        fi
        mkdir -p "$root$(dirname "$path")"
        cp "$path" "$root$path"
        binaries="$binaries $path"
    done
    # iptables' own extensions (the mark match CRIU's network lock uses), loaded at run time.
    # (at the path built into iptables: /usr/lib, which the guest does not merge with /lib)
    xt=/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)/xtables
    mkdir -p "$root$xt"
    cp -a "$xt"/. "$root$xt/"
    for tool in iptables iptables-save iptables-restore ip6tables ip6tables-save \
        ip6tables-restore; do
        ln -sf xtables-nft-multi "$root/usr/sbin/$tool"
    done
    # The modules CRIU and iptables load, with modules.dep for busybox's modprobe.
    mods=/lib/modules/$kver
    for sub in kernel/net/unix kernel/net/ipv4 kernel/net/ipv6 kernel/net/netlink \
        kernel/net/packet kernel/net/netfilter kernel/net/core kernel/crypto \
        kernel/arch/x86/crypto kernel/lib kernel/drivers/net/tun.ko kernel/drivers/net/veth.ko \
        kernel/fs/overlayfs; do
        [ -e "$mods/$sub" ] || continue
        mkdir -p "$root$mods/$(dirname "$sub")"
        cp -a "$mods/$sub" "$root$mods/$(dirname "$sub")/"
    done
    # The stand-in CRIU of the checkpoint error tests (tests/bin/fake_criu.rs), built beside
    # the test binary.
    fake=$(dirname "$tests")/../fake-criu
    if [ -x "$fake" ]; then
        cp "$fake" "$root/bin/fake-criu"
        binaries="$binaries $fake"
    fi
    # containerd's checkpoint case imports a busybox image built here, as the client tests do.
    mkdir -p "$root/images"
    python3 "$(dirname "$0")/../clients/image.py" "$root/images/busybox.tar" \
        docker.io/library/husk-busybox:latest
    cp "$mods"/modules.dep "$mods"/modules.alias "$mods"/modules.builtin \
        "$mods"/modules.order "$mods"/modules.symbols "$root$mods/" 2>/dev/null || true
fi
# shellcheck disable=SC2086 # a list of paths
copy_libs "$root" $binaries
# A ram disk gives the block I/O and device tests a block device; fuse gives husk's procfs
# daemon (tests/procfs.rs) /dev/fuse.
cp "/lib/modules/$kver/kernel/drivers/block/brd.ko" "$root/lib/modules/"
cp "/lib/modules/$kver/kernel/fs/fuse/fuse.ko" "$root/lib/modules/"
# veth for linux.netDevices (tests/container_env.rs); overlayfs, which husk seals its binary
# with (tests/security.rs).
cp "/lib/modules/$kver/kernel/drivers/net/veth.ko" "$root/lib/modules/"
cp "/lib/modules/$kver/kernel/fs/overlayfs/overlay.ko" "$root/lib/modules/"
# procps's free (tests/procfs.rs) and iproute2's ip (veth pairs, tests/container_env.rs),
# with their libraries.
for tool in free ip; do
    path=$(command -v "$tool" || true)
    [ -n "$path" ] || continue
    mkdir -p "$root$(dirname "$path")"
    cp "$path" "$root$path"
    copy_libs "$root" "$path"
done
write_mounts "$root"
echo 'root:x:0:0:root:/root:/bin/sh' > "$root/etc/passwd"
echo 'root:x:0:' > "$root/etc/group"

# Stage one moves everything onto a tmpfs and switches to it: pivot_root, which every
# container does, does not work from the initramfs's own root.
cat > "$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox mount -t tmpfs -o size=900m tmpfs /newroot
/bin/busybox cp -a /bin /lib /lib64 /etc /usr /stage2 /tests /images /newroot/ 2>/dev/null
/bin/busybox mkdir -p /newroot/sbin
exec /bin/busybox switch_root /newroot /stage2
INIT
# The tests, run by stage two directly or, with --systemd, by a unit.
cat > "$root/tests" <<'TESTS'
#!/bin/busybox sh
export PATH=/bin:/usr/bin:/sbin:/usr/sbin
insmod /lib/modules/brd.ko rd_nr=1 rd_size=8192
insmod /lib/modules/fuse.ko
insmod /lib/modules/veth.ko
insmod /lib/modules/overlay.ko
if [ -d /lib/modules/$(uname -r)/kernel/net ]; then
    echo /bin/modprobe > /proc/sys/kernel/modprobe
    for m in unix_diag inet_diag tcp_diag udp_diag netlink_diag af_packet_diag nf_tables \
        nft_compat nft_chain_nat nf_conntrack xt_mark tun veth overlay; do
        modprobe "$m" || echo "guest: modprobe $m failed"
    done
    ip link set lo up
    echo "guest: $(criu --version | head -1), lo $(cat /sys/class/net/lo/operstate)"
fi
echo "guest: $(uname -r), cgroup.controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
echo "guest: PID 1 is $(cat /proc/1/comm), /run/systemd/system $(test -d /run/systemd/system && echo present || echo absent)"
[ -x /bin/fake-criu ] && export HUSK_FAKE_CRIU=/bin/fake-criu
[ -f /images/busybox.tar ] && export HUSK_CTR_IMAGE=/images/busybox.tar
HUSK_BIN=/bin/husk RUST_BACKTRACE=1 /bin/cgroup-tests --test-threads=1 @TEST_ARGS@
echo "HUSK-CGROUPV2-EXIT=$?"
sync
poweroff -f
TESTS
if $systemd; then
    mkdir -p "$root/etc/systemd/system"
    cat > "$root/etc/systemd/system/husk-tests.target" <<'UNIT'
[Unit]
Description=husk tests
DefaultDependencies=no
AllowIsolate=yes
Wants=husk-tests.service
UNIT
    cat > "$root/etc/systemd/system/husk-tests.service" <<'UNIT'
[Unit]
Description=husk tests
DefaultDependencies=no

[Service]
Type=simple
ExecStart=/tests
StandardOutput=tty
StandardError=inherit
TTYPath=/dev/ttyS0
UNIT
    # systemd mounts /proc, /sys, /dev and the cgroup2 hierarchy itself.
    cat > "$root/stage2" <<'STAGE2'
#!/bin/busybox sh
/bin/busybox --install -s /bin
exec /lib/systemd/systemd
STAGE2
    boot_args="systemd.unit=husk-tests.target systemd.show_status=false"
else
    cat > "$root/stage2" <<'STAGE2'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin:/usr/bin:/sbin:/usr/sbin
# The real tools copied in (GNU tar, iproute2's ip: CRIU needs their options) over the applets.
for tool in tar ip; do
    if [ -x /usr/bin/$tool ] || [ -x /usr/sbin/$tool ]; then rm -f /bin/$tool; fi
done
/bin/guest-mounts
exec /tests
STAGE2
    boot_args=""
fi
sed -i "s|@TEST_ARGS@|$test_args|" "$root/tests"
chmod +x "$root/init" "$root/stage2" "$root/tests"

boot_guest "$work" "$root" 1024 1200 "$boot_args"
code=$(sed -n 's/^HUSK-CGROUPV2-EXIT=//p' "$work/console.txt" | tail -1)
if [ -z "$code" ]; then
    echo "cgroupv2: the guest did not report a result" >&2
    exit 1
fi
[ "$code" = 0 ] || exit "$code"
if $systemd && ! grep -q '^guest: PID 1 is systemd, /run/systemd/system present' "$work/console.txt"; then
    echo "cgroupv2: systemd did not come up as PID 1 in the guest" >&2
    exit 1
fi
# shellcheck disable=SC2086 # the test arguments are words
expected=$("$tests" --list $test_args 2>/dev/null | grep -c ': test$')
if ! grep -q "^test result: ok\. $expected passed; 0 failed" "$work/console.txt"; then
    echo "cgroupv2: expected $expected tests to pass in the guest, the console says:" >&2
    grep '^test result:' "$work/console.txt" >&2
    exit 1
fi
