#!/bin/sh
# `make bench-cgroupv2`: bench/bench.py's v2 view, in the pure cgroup v2 guest of run.sh (every
# controller enabled; the config sets memory, pids and cpu limits and device rules).
#
#   integration/cgroupv2/bench.sh HUSK_BINARY OUT_JSON [NAME=PATH]...
#
# husk, Debian's runc and crun, and any NAME=PATH runtimes (a newer runc or crun built
# locally) run in the same guest, in the same rounds. qemu emulates the CPU, so times are
# several times the host's: the ratios are what counts. Writes bench.py's JSON to OUT_JSON.
#
# With BENCH_GUEST_COMMAND the guest runs that instead of bench.py; it writes /tmp/bench.json
# (bench/order.py traces husk's commands on this v2 host that way).
set -eu
husk=$1
out=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/guest.sh"
guest_kernel
echo "cgroupv2 bench: booting $kernel"
work=$(mktemp -d /tmp/husk-cgroupv2-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root/bin" "$root/usr/bin" "$root/proc" "$root/sys" "$root/dev" "$root/tmp" \
    "$root/run" "$root/etc" "$root/newroot" "$root/bench/build" "$root/runtimes"

# The runtimes go to a mount of their own in the guest (stage2), as on a host: the initramfs's
# root cannot be an overlay's lower layer, which husk (and runc since 1.2) use to keep their
# binary from the container.
cp "$(command -v busybox)" "$root/bin/busybox"
cp "$husk" "$root/runtimes/husk"
cp "$(command -v runc)" "$root/runtimes/runc"
cp "$(command -v crun)" "$root/runtimes/crun"
python=$(readlink -f /usr/bin/python3)
cp "$python" "$root/usr/bin/python3"
binaries="$husk $(command -v runc) $(command -v crun) $python"
runtimes=""
for spec in "$@"; do
    name=${spec%%=*}
    cp "${spec#*=}" "$root/runtimes/$name"
    binaries="$binaries ${spec#*=}"
    runtimes="$runtimes --runtime=$name=/opt/runtimes/$name"
done
# shellcheck disable=SC2086 # a list of paths
copy_libs "$root" $binaries
# Python's standard library, without what bench.py never imports.
pylib=$(/usr/bin/python3 -c 'import sysconfig; print(sysconfig.get_path("stdlib"))')
mkdir -p "$root$pylib"
(cd "$pylib" && tar cf - --exclude=test --exclude=idlelib --exclude=tkinter --exclude=ensurepip \
    --exclude=lib2to3 --exclude=pydoc_data --exclude=__pycache__ --exclude='config-*' .) |
    (cd "$root$pylib" && tar xf -)
for lib in "$root$pylib"/lib-dynload/*.so; do copy_libs "$root" "$lib"; done
cp "$top/bench/bench.py" "$top/bench/order.py" "$root/bench/"
cp "$top/bench/build/rss" "$top/bench/build/floor" "$root/bench/build/"
if [ -f "$top/bench/build/steptrace" ]; then cp "$top/bench/build/steptrace" "$root/bench/build/"; fi
mkdir -p "$root/tests/fixtures"
cp "$top/tests/fixtures/docker-default.json" "$root/tests/fixtures/"
# overlayfs, as every container host has: without it husk keeps its binary from the
# container (CVE-2019-5736) by re-executing a sealed copy, which emulation makes slow.
mkdir -p "$root/lib/modules"
cp "/lib/modules/$kver/kernel/fs/overlayfs/overlay.ko" "$root/lib/modules/"
write_mounts "$root"
echo 'root:x:0:0:root:/root:/bin/sh' > "$root/etc/passwd"
echo 'root:x:0:' > "$root/etc/group"

cat > "$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox mount -t tmpfs -o size=1800m tmpfs /newroot
/bin/busybox cp -a /bin /lib /lib64 /etc /usr /bench /tests /runtimes /stage2 /newroot/ 2>/dev/null
exec /bin/busybox switch_root /newroot /stage2
INIT
cat > "$root/stage2" <<STAGE2
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin:/usr/bin:/sbin:/usr/sbin
/bin/guest-mounts
insmod /lib/modules/overlay.ko
mkdir -p /opt/runtimes
mount -t tmpfs tmpfs /opt/runtimes
cp -a /runtimes/. /opt/runtimes/
export PATH=/opt/runtimes:\$PATH
echo "guest: \$(uname -r), cgroup.controllers: \$(cat /sys/fs/cgroup/cgroup.controllers)"
${BENCH_GUEST_COMMAND:-python3 /bench/bench.py --husk /opt/runtimes/husk --view v2 --no-many \
    --rounds ${BENCH_ROUNDS:-10} $runtimes --out /tmp/bench.json}
echo "HUSK-BENCH-EXIT=\$?"
echo "HUSK-BENCH-JSON-BEGIN"
cat /tmp/bench.json
echo
echo "HUSK-BENCH-JSON-END"
sync
poweroff -f
STAGE2
chmod +x "$root/init" "$root/stage2"

boot_guest "$work" "$root" 3072 3600 ""
code=$(sed -n 's/^HUSK-BENCH-EXIT=//p' "$work/console.txt" | tail -1)
if [ -z "$code" ]; then
    echo "cgroupv2 bench: the guest's bench.py did not finish" >&2
    exit 1
elif [ "$code" != 0 ]; then
    echo "cgroupv2 bench: the guest's bench.py exited $code" >&2
    exit 1
fi
mkdir -p "$(dirname "$out")"
sed -n '/^HUSK-BENCH-JSON-BEGIN$/,/^HUSK-BENCH-JSON-END$/p' "$work/console.txt" | sed '1d;$d' > "$out"
echo "written: $out"
