#!/bin/sh
# What the demo, the tests and the benchmarks need from Debian, installed when missing.
#
#   integration/deps.sh GROUP...
#
# Groups: base (busybox-static, uidmap), guest (qemu, Debian 12's 6.1 kernel, cpio), systemd,
# clients (containerd, podman, docker.io, script), bench (runc, crun, gcc), lxcfs.
#
# Each group checks for its commands first and touches apt only when one is missing, so a
# machine that already has everything is left alone, and running it twice does nothing.
#
# qemu comes from bookworm-backports: the machine image ships qemu-utils 10 from there, whose
# Breaks on qemu-system-common 7.2 make apt refuse Debian 12's own qemu-system-x86 (or remove
# the image's qemu-utils). The backports qemu-system-x86 matches it. The backports line is added
# to apt's sources when it is missing. The guests' kernel stays Debian 12's own (6.1, the
# linux-image-amd64 of bookworm): integration/cgroupv2/run.sh boots it and says which.
set -eu

updated=false
apt_update() {
    if ! $updated; then
        apt-get update -qq
        updated=true
    fi
}

apt_install() {
    apt_update
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

have() {
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 || return 1
    done
}

# The bookworm-backports suite, from the same mirror as the main suite.
ensure_backports() {
    if grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
        return
    fi
    cat > /etc/apt/sources.list.d/bookworm-backports.sources <<'SOURCES'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
    updated=false
}

# Debian 12's kernel series, the one the guests boot.
guest_kernel_installed() {
    ls /boot/vmlinuz-6.1.* >/dev/null 2>&1
}

group_base() {
    have busybox newuidmap newgidmap || apt_install busybox-static uidmap
}

group_guest() {
    group_base
    if ! have qemu-system-x86_64; then
        ensure_backports
        apt_update
        apt_install -t bookworm-backports qemu-system-x86
    fi
    # Without -t: bookworm's own kernel (6.1; backports' is pinned below it by default).
    guest_kernel_installed || apt_install linux-image-amd64
    have cpio || apt_install cpio
}

# The systemd guest's PID 1 and systemctl come from the host's systemd package (installed,
# never started: it is not this machine's init).
group_systemd() {
    group_guest
    { test -x /lib/systemd/systemd && have systemctl; } || apt_install systemd
}

# containerd (with ctr and the runc v2 shim), podman, docker.io (dockerd, and the docker
# client at /usr/bin/docker), and script(1) to give --tty runs a terminal.
group_clients() {
    group_base
    have containerd podman script || apt_install containerd podman bsdutils
    test -x /usr/sbin/dockerd || apt_install docker.io
}

group_bench() {
    group_base
    have runc crun gcc || apt_install runc crun gcc libc6-dev
}

group_lxcfs() {
    have lxcfs || apt_install lxcfs
}

for group in "$@"; do
    case $group in
    base | guest | systemd | clients | bench | lxcfs) "group_$group" ;;
    *)
        echo "deps.sh: unknown group '$group' (base, guest, systemd, clients, bench, lxcfs)" >&2
        exit 2
        ;;
    esac
done
