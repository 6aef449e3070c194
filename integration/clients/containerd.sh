#!/bin/bash
# containerd (Debian's package) driving husk through its runc v2 shim, as Kubernetes does.
# Usage: containerd.sh /abs/path/to/husk     (as root)
# A private containerd (own config, root, state and socket under a temporary directory) is
# started, a busybox OCI image built here is imported, and each client operation is checked.
# Prints one "ok"/"FAIL" line per check and a cargo-style "test result:" line for .ci/run.
set -u
HUSK=${1:?usage: containerd.sh /path/to/husk}
HERE=$(cd "$(dirname "$0")" && pwd)
IMAGE=docker.io/library/husk-busybox:latest
T=$(mktemp -d /tmp/husk-containerd.XXXXXX)
SOCK=$T/containerd.sock
NS=husk-test
HROOT=/run/containerd/runc/$NS   # the shim's --root for husk: its default, per namespace
pass=0; fail=0
CTR="ctr -a $SOCK -n $NS"

ok()   { echo "ok   - $1"; pass=$((pass+1)); }
bad()  { echo "FAIL - $1"; [ $# -gt 1 ] && printf '%s\n' "$2" | sed 's/^/       /'; fail=$((fail+1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }

cleanup() {
    for t in $($CTR task ls -q 2>/dev/null); do $CTR task kill -s SIGKILL "$t" >/dev/null 2>&1; done
    sleep 0.5
    for t in $($CTR task ls -q 2>/dev/null); do $CTR task delete -f "$t" >/dev/null 2>&1; done
    for c in $($CTR container ls -q 2>/dev/null); do $CTR container delete "$c" >/dev/null 2>&1; done
    [ -n "${CTD_PID:-}" ] && kill "$CTD_PID" 2>/dev/null && wait "$CTD_PID" 2>/dev/null
    grep " $T/" /proc/self/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT

cat > "$T/config.toml" <<TOML
version = 2
root = "$T/root"
state = "$T/state"
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
# A RuntimeClass "husk" for Kubernetes (and the default): the runc v2 shim, husk as its binary.
[plugins."io.containerd.grpc.v1.cri".containerd]
  default_runtime_name = "husk"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.husk]
  runtime_type = "io.containerd.runc.v2"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.husk.options]
  BinaryName = "$HUSK"
TOML
containerd --config "$T/config.toml" > "$T/containerd.log" 2>&1 &
CTD_PID=$!
for _ in $(seq 100); do [ -S "$SOCK" ] && $CTR version >/dev/null 2>&1 && break; sleep 0.1; done
if ! $CTR version >/dev/null 2>&1; then
    bad "containerd starts" "$(tail -20 "$T/containerd.log")"
    echo "test result: FAILED. $pass passed; $fail failed"
    exit 1
fi
ok "containerd starts"
# The CRI plugin took the RuntimeClass entry (driving it needs a CRI client such as crictl,
# which Debian 12 does not package; ctr below passes the same BinaryName per task).
for _ in $(seq 50); do grep -q "Start cri plugin" "$T/containerd.log" && break; sleep 0.1; done
if grep -q "Runtimes:map\[husk:{Type:io.containerd.runc.v2" "$T/containerd.log" && grep -q "BinaryName:$HUSK\]" "$T/containerd.log"; then
    ok "containerd's CRI plugin loaded the husk runtime entry (runc v2 shim, BinaryName husk)"
else
    bad "the husk runtime entry is loaded" "$(grep -o 'Runtimes:map[^]]*]' "$T/containerd.log" | head -2)"
fi

python3 "$HERE/image.py" "$T/busybox.tar" "$IMAGE"
out=$($CTR image import "$T/busybox.tar" 2>&1)
$CTR image ls -q | grep -qx "$IMAGE" && ok "ctr image import of a locally built busybox image" || bad "ctr image import" "$out"

RUN="$CTR run --runc-binary $HUSK"

# 1. A command's output and exit code come back.
out=$(timeout 60 $RUN --rm "$IMAGE" c-out sh -c 'echo hello from husk; exit 7' 2>&1); rc=$?
[ "$rc" = 7 ] && echo "$out" | grep -q "hello from husk" && ok "ctr run: output and exit code (7)" || bad "ctr run: output and exit code" "rc=$rc $out"

# 2. A --tty container (ctr needs a terminal of its own: script gives it one).
out=$(timeout 60 script -qec "$RUN --rm -t $IMAGE c-tty sh -c 'tty; test -t 0 && echo on-a-tty; sleep 0.5; exit 3'" /dev/null < /dev/null 2>&1); rc=$?
echo "$out" | grep -q "/dev/pts/0" && echo "$out" | grep -q "on-a-tty" && [ "$rc" = 3 ] && ok "ctr run --tty: a pty as stdio, exit code 3" || bad "ctr run --tty" "rc=$rc $out"

# 3. A long-running task: exec, ps, pause/resume, metrics, kill, delete.
$RUN -d "$IMAGE" c-task sleep 1000 >/dev/null 2>&1
status() { $CTR task ls 2>/dev/null | awk -v t="$1" '$1==t {print $3}'; }
[ "$(status c-task)" = RUNNING ] && ok "ctr run -d: task RUNNING" || bad "ctr run -d" "$($CTR task ls 2>&1)"
pid=$($CTR task ls | awk '$1=="c-task" {print $2}')
# husk, not runc, runs it: husk's own state for the task names the same pid.
state=$("$HUSK" --root "$HROOT" state c-task 2>&1)
echo "$state" | grep -q "\"pid\": $pid" && ok "husk runs the task: husk state shows its pid $pid" || bad "husk state" "$state"

out=$(timeout 60 $CTR task exec --exec-id e1 c-task sh -c 'echo in-exec $(cat /proc/1/comm); exit 4' 2>&1); rc=$?
[ "$rc" = 4 ] && echo "$out" | grep -q "in-exec sleep" && ok "ctr task exec: output and exit code (4), inside the task" || bad "ctr task exec" "rc=$rc $out"
out=$(timeout 60 script -qec "$CTR task exec -t --exec-id e2 c-task sh -c 'tty; sleep 0.5'" /dev/null < /dev/null 2>&1)
echo "$out" | grep -q "/dev/pts/" && ok "ctr task exec --tty" || bad "ctr task exec --tty" "$out"

out=$($CTR task ps c-task 2>&1)
echo "$out" | grep -q "^$pid " && ok "ctr task ps lists the task's pid" || bad "ctr task ps" "$out"

$CTR task pause c-task
[ "$(status c-task)" = PAUSED ] && ok "ctr task pause: PAUSED" || bad "ctr task pause" "$($CTR task ls 2>&1)"
fz=$("$HUSK" --root "$HROOT" state c-task | grep -c '"paused"')
[ "$fz" = 1 ] && ok "husk state: paused" || bad "husk state paused"
$CTR task resume c-task
[ "$(status c-task)" = RUNNING ] && ok "ctr task resume: RUNNING" || bad "ctr task resume" "$($CTR task ls 2>&1)"

out=$(timeout 60 $CTR task metrics c-task 2>&1)
echo "$out" | grep -Eq "pids.current +1" && echo "$out" | grep -Eq "memory" && ok "ctr task metrics: memory and pids of the task" || bad "ctr task metrics" "$out"

$CTR task kill c-task
sleep 0.5
[ "$(status c-task)" = RUNNING ] && ok "ctr task kill (SIGTERM): ignored by sleep as pid 1, as with runc" || bad "SIGTERM"
$CTR task kill -s SIGKILL c-task
for _ in $(seq 50); do [ "$(status c-task)" = STOPPED ] && break; sleep 0.1; done
[ "$(status c-task)" = STOPPED ] && ok "ctr task kill -s SIGKILL: STOPPED" || bad "ctr task kill -s SIGKILL" "$($CTR task ls 2>&1)"
$CTR task delete c-task >/dev/null 2>&1 && ok "ctr task delete" || bad "ctr task delete"
$CTR container delete c-task && ok "ctr container delete" || bad "ctr container delete"
[ ! -e "$HROOT/c-task" ] && ok "husk's state for the task is gone" || bad "husk state left behind"

# 4. An error reaches the client: a command that does not exist in the image.
out=$(timeout 60 $RUN --rm "$IMAGE" c-err no-such-program 2>&1); rc=$?
[ "$rc" != 0 ] && echo "$out" | grep -q "no-such-program" && ok "a failing start shows husk's error through ctr" || bad "error passing" "rc=$rc $out"
$CTR container delete c-err >/dev/null 2>&1

# Nothing is left in husk's state root. (containerd 1.6's dead-shim cleanup sometimes logs
# "failed to remove runc container ... exit status 255" after a task is gone; it does so with
# runc too, and a wrapper around husk showed husk exiting 0 in those runs, so the log line
# is shown, not counted.)
left=$("$HUSK" --root "$HROOT" list -q 2>&1)
[ -z "$left" ] && ok "no container left in husk's state root" || bad "containers left behind" "$left"
grep "failed to remove runc container" "$T/containerd.log" | sed 's/^/note: /' | cut -c1-220

if [ "$fail" = 0 ]; then r=ok; else r=FAILED; fi
echo "test result: $r. $pass passed; $fail failed (containerd $(containerd --version | awk '{print $3}'))"
[ "$fail" = 0 ]
