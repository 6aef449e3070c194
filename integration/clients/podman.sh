#!/bin/bash
# podman (Debian's package) running containers with husk as its OCI runtime.
# Usage: podman.sh /abs/path/to/husk     (as root)
# Private storage.conf and containers.conf under a temporary directory; the busybox image is
# built locally and loaded with `podman load`. One "ok"/"FAIL" line per check, then a
# cargo-style "test result:" line for .ci/run.
set -u
HUSK=${1:?usage: podman.sh /path/to/husk}
HERE=$(cd "$(dirname "$0")" && pwd)
IMAGE=docker.io/library/husk-busybox:latest
T=$(mktemp -d /tmp/husk-podman.XXXXXX)
pass=0; fail=0
ok()  { echo "ok   - $1"; pass=$((pass+1)); }
bad() { echo "FAIL - $1"; [ $# -gt 1 ] && printf '%s\n' "$2" | sed 's/^/       /'; fail=$((fail+1)); }

cat > "$T/storage.conf" <<CONF
[storage]
driver = "overlay"
runroot = "$T/runroot"
graphroot = "$T/graphroot"
CONF
# podman's default ulimits (1048576 open files and processes) are above the hard limits that
# root cannot raise on these machines (no CAP_SYS_RESOURCE); runc fails on them the same way.
cat > "$T/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
[engine]
runtime = "husk"
[engine.runtimes]
husk = ["$HUSK"]
CONF
export CONTAINERS_STORAGE_CONF=$T/storage.conf CONTAINERS_CONF=$T/containers.conf
PM="podman --root $T/graphroot --runroot $T/runroot --runtime $HUSK"
cleanup() {
    $PM rm -af -t 0 >/dev/null 2>&1
    $PM system reset -f >/dev/null 2>&1
    grep " $T/" /proc/self/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT

python3 "$HERE/image.py" "$T/busybox.tar" "$IMAGE"
out=$($PM load -i "$T/busybox.tar" 2>&1)
$PM image exists "$IMAGE" && ok "podman load of a locally built busybox image" || bad "podman load" "$out"

state() { $PM inspect -f '{{.State.Status}}' "$1" 2>&1; }

# 1. Output and exit code, under podman's own seccomp profile.
out=$(timeout 60 $PM run --rm "$IMAGE" sh -c 'echo hello from husk; grep "^Seccomp:" /proc/self/status; exit 6' 2>&1); rc=$?
[ "$rc" = 6 ] && echo "$out" | grep -q "hello from husk" && ok "podman run --rm: output and exit code (6)" || bad "podman run" "rc=$rc $out"
echo "$out" | grep -q "Seccomp:.2" && ok "podman's default seccomp profile is applied (Seccomp: 2)" || bad "seccomp applied" "$out"
# personality(PER_LINUX32|ADDR_NO_RANDOMIZE) needs no capability, so without a filter it
# works; podman's profile allows personality only with a few listed values and answers any
# other syscall with ENOSYS: only the filter can make it fail.
out=$(timeout 60 $PM run --rm --security-opt seccomp=unconfined "$IMAGE" sh -c 'linux32 -R true && echo personality-ok' 2>&1)
echo "$out" | grep -q "personality-ok" && ok "without a filter the container may set that personality" || bad "personality unconfined" "$out"
out=$(timeout 60 $PM run --rm "$IMAGE" sh -c 'linux32 -R true && echo personality-ok' 2>&1)
echo "$out" | grep -q "Function not implemented" && ! echo "$out" | grep -q personality-ok && ok "a syscall podman's profile denies fails with its errno (ENOSYS)" || bad "seccomp denies personality" "$out"

# 2. -it: a terminal (podman needs one of its own: script gives it one). podman 4.3.1 with
# conmon loses the last output of a -it container that exits at once, with runc too (3 runs
# in 10 lost it with runc, 5 with husk): the container lingers a moment before it exits.
out=$(timeout 60 script -qec "$PM run --rm -it $IMAGE sh -c 'tty; test -t 0 && echo on-a-tty; sleep 0.5; exit 3'" /dev/null < /dev/null 2>&1); rc=$?
echo "$out" | grep -q "/dev/pts/0" && echo "$out" | grep -q "on-a-tty" && [ "$rc" = 3 ] && ok "podman run -it: a pty, exit code 3" || bad "podman run -it" "rc=$rc $out"

# 3. A detached container: exec, top, pause/unpause, stop.
$PM run -d --name p1 "$IMAGE" sleep 1000 >/dev/null 2>&1
[ "$(state p1)" = running ] && ok "podman run -d: running" || bad "podman run -d" "$(state p1)"
pid=$($PM inspect -f '{{.State.Pid}}' p1)
"$HUSK" --root "$T/runroot/husk" state "$($PM inspect -f '{{.Id}}' p1)" 2>/dev/null | grep -q "\"pid\": $pid" \
  || "$HUSK" --root /run/husk state "$($PM inspect -f '{{.Id}}' p1)" 2>/dev/null | grep -q "\"pid\": $pid"
[ $? = 0 ] && ok "husk runs it: husk state shows pid $pid" || bad "husk state of the podman container"
out=$(timeout 60 $PM exec p1 sh -c 'echo in-exec $(cat /proc/1/comm); exit 4' 2>&1); rc=$?
[ "$rc" = 4 ] && echo "$out" | grep -q "in-exec sleep" && ok "podman exec: output and exit code (4), inside the container" || bad "podman exec" "rc=$rc $out"
out=$(timeout 60 script -qec "$PM exec -it p1 sh -c 'tty; sleep 0.5'" /dev/null < /dev/null 2>&1)
echo "$out" | grep -q "/dev/pts/" && ok "podman exec -it" || bad "podman exec -it" "$out"
out=$($PM top p1 2>&1)
echo "$out" | grep -q "sleep 1000" && ok "podman top" || bad "podman top" "$out"
$PM pause p1 >/dev/null 2>&1
[ "$(state p1)" = paused ] && ok "podman pause: paused" || bad "podman pause" "$(state p1)"
$PM unpause p1 >/dev/null 2>&1
[ "$(state p1)" = running ] && ok "podman unpause: running" || bad "podman unpause" "$(state p1)"
# sleep as pid 1 ignores SIGTERM: podman waits -t seconds, then SIGKILL.
start=$(date +%s)
out=$($PM stop -t 2 p1 2>&1)
took=$(( $(date +%s) - start ))
code=$($PM inspect -f '{{.State.ExitCode}}' p1)
[ "$(state p1)" = exited ] && [ "$code" = 137 ] && [ "$took" -ge 2 ] && ok "podman stop: SIGTERM, then SIGKILL after 2 s (exit 137)" || bad "podman stop" "state=$(state p1) code=$code took=${took}s $out"
$PM rm p1 >/dev/null 2>&1 && ok "podman rm" || bad "podman rm"

# A container that handles SIGTERM stops at once.
$PM run -d --name p2 "$IMAGE" sh -c 'trap "exit 0" TERM; while true; do sleep 0.1; done' >/dev/null 2>&1
sleep 0.5
$PM stop -t 10 p2 >/dev/null 2>&1
code=$($PM inspect -f '{{.State.ExitCode}}' p2)
[ "$(state p2)" = exited ] && [ "$code" = 0 ] && ok "podman stop: SIGTERM reaches the container (exit 0)" || bad "podman stop with a TERM handler" "$(state p2) $code"
$PM rm p2 >/dev/null 2>&1

# 4. An error reaches podman's user.
out=$(timeout 60 $PM run --rm "$IMAGE" no-such-program 2>&1); rc=$?
[ "$rc" != 0 ] && echo "$out" | grep -q "no-such-program" && ok "a failing start shows husk's error through podman" || bad "error passing" "rc=$rc $out"

if [ "$fail" = 0 ]; then r=ok; else r=FAILED; fi
echo "test result: $r. $pass passed; $fail failed (podman $(podman --version | awk '{print $3}'))"
[ "$fail" = 0 ]
