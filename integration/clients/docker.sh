#!/bin/bash
# Docker (Debian's docker.io 20.10) running containers on husk, beside runc on the same rows.
# Usage: docker.sh /abs/path/to/husk     (as root)
#
# A private dockerd (own data root, exec root and socket; the cgroupfs driver; no iptables,
# no bridge) is started with husk added as a runtime, and runc (Debian's) as the default. The
# busybox image is built here (image.py) and loaded with `docker load`. Every row runs once
# with --runtime runc and once with --runtime husk; the result counts husk's rows, and a row
# where the two differ is printed as such. dockerd is started with SIGHUP ignored, as under
# nohup: a container must not inherit that.
#
# One "ok"/"FAIL" line per row for husk, then a cargo-style "test result:" line for .ci/run.
set -u
HUSK=${1:?usage: docker.sh /path/to/husk}
HERE=$(cd "$(dirname "$0")" && pwd)
IMAGE=husk-busybox:latest
T=$(mktemp -d /tmp/husk-docker.XXXXXX)
chmod 755 "$T"
DOCKER="/usr/bin/docker -H unix://$T/docker.sock"
pass=0; fail=0; same=0; differ=()

cleanup() {
    $DOCKER rm -f $($DOCKER ps -aq 2>/dev/null) >/dev/null 2>&1
    [ -n "${DOCKERD_PID:-}" ] && kill "$DOCKERD_PID" 2>/dev/null && wait "$DOCKERD_PID" 2>/dev/null
    pkill -f "containerd.*$T" 2>/dev/null
    grep " $T/" /proc/self/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT

# husk's state root under this dockerd: the runc v2 shim's --root for a runtime added with
# --add-runtime is <exec-root>/runtime-<name>/<containerd namespace>.
HROOT=$T/exec/runtime-husk/moby

(
    trap '' HUP
    exec dockerd --data-root "$T/data" --exec-root "$T/exec" --host "unix://$T/docker.sock" \
        --pidfile "$T/docker.pid" --iptables=false --ip-masq=false --bridge=none \
        --exec-opt native.cgroupdriver=cgroupfs --storage-driver overlay2 \
        --add-runtime "husk=$HUSK" --default-runtime runc --default-ulimit nofile=1024:1024 \
        > "$T/dockerd.log" 2>&1
) &
DOCKERD_PID=$!
for _ in $(seq 300); do $DOCKER version >/dev/null 2>&1 && break; sleep 0.1; done
if ! $DOCKER version >/dev/null 2>&1; then
    echo "FAIL - dockerd starts"; tail -20 "$T/dockerd.log" | sed 's/^/       /'
    echo "test result: FAILED. 0 passed; 1 failed (docker)"
    exit 1
fi
python3 "$HERE/image.py" "$T/busybox.tar" "docker.io/library/$IMAGE"
$DOCKER load -i "$T/busybox.tar" >/dev/null

# --- the rows: each prints nothing and returns 0 when it holds, or prints why not ------
RT=runc
run() { timeout 60 $DOCKER run --runtime "$RT" "$@"; }
inside() { run --rm "$IMAGE" sh -c "$1" 2>&1; }
expect() { # expect WANT GOT: GOT contains WANT
    case "$2" in *"$1"*) return 0 ;; *) printf 'want %q, got %q\n' "$1" "$2"; return 1 ;; esac
}
code_of() { run --rm "$IMAGE" "$@" >/dev/null 2>&1; echo $?; }
cid() { $DOCKER ps -aq --no-trunc --filter "name=^$1\$"; }
cgroup_file() { # cgroup_file NAME CONTROLLER FILE: the container's cgroup file on the host
    cat "/sys/fs/cgroup/$2/docker/$(cid "$1")/$3" 2>&1
}
rm_f() { $DOCKER rm -f "$@" >/dev/null 2>&1; }

row_run_output() { expect "hello from $RT" "$(inside "echo hello from $RT")"; }
row_exit_code() { expect 3 "$(code_of sh -c 'exit 3')"; }
row_exit_126_not_executable() { expect 126 "$(code_of /etc/passwd)"; }
row_exit_127_not_found() { expect 127 "$(code_of /no/such/program)"; }
row_exit_127_not_in_path() { expect 127 "$(code_of no-such-program)"; }
row_exit_137_killed() {
    run -d --name "k9-$RT" "$IMAGE" sleep 100 >/dev/null || return 1
    $DOCKER kill "k9-$RT" >/dev/null
    local code; code=$(timeout 10 $DOCKER wait "k9-$RT" 2>&1); rm_f "k9-$RT"
    expect 137 "$code"
}
row_tty() {
    local out
    out=$(timeout 60 script -qec "$DOCKER run --runtime $RT --rm -it $IMAGE sh -c 'tty; test -t 0 && echo on-a-tty'" /dev/null < /dev/null 2>&1)
    expect "on-a-tty" "$out" && expect /dev/pts/0 "$out"
}
row_detach_and_logs() {
    run -d --name "logs-$RT" "$IMAGE" sh -c 'echo from-logs; sleep 100' >/dev/null || return 1
    sleep 0.5
    local out; out=$($DOCKER logs "logs-$RT" 2>&1); rm_f "logs-$RT"
    expect from-logs "$out"
}
row_exec() {
    run -d --name "exec-$RT" "$IMAGE" sleep 100 >/dev/null || return 1
    local out code
    out=$(timeout 60 $DOCKER exec "exec-$RT" sh -c 'echo in-exec; exit 5' 2>&1); code=$?
    rm_f "exec-$RT"
    expect in-exec "$out" && expect 5 "$code"
}
row_exec_tty() {
    run -d --name "exectty-$RT" "$IMAGE" sleep 100 >/dev/null || return 1
    local out
    out=$(timeout 60 script -qec "$DOCKER exec -it exectty-$RT sh -c 'tty'" /dev/null < /dev/null 2>&1)
    rm_f "exectty-$RT"
    expect /dev/pts/ "$out"
}
row_oom_killed() {
    run --name "oom-$RT" --memory 16m --memory-swap 16m "$IMAGE" \
        sh -c 'x=a; while :; do x=$x$x; done' >/dev/null 2>&1
    local code oom
    code=$($DOCKER inspect -f '{{.State.ExitCode}}' "oom-$RT")
    oom=$($DOCKER inspect -f '{{.State.OOMKilled}}' "oom-$RT")
    rm_f "oom-$RT"
    expect 137 "$code" && expect true "$oom"
}
row_cpus() {
    run -d --name "cpus-$RT" --cpus 0.5 "$IMAGE" sleep 100 >/dev/null || return 1
    local q; q=$(cgroup_file "cpus-$RT" cpu cpu.cfs_quota_us); rm_f "cpus-$RT"
    expect 50000 "$q"
}
row_pids_limit() {
    run -d --name "pids-$RT" --pids-limit 42 "$IMAGE" sleep 100 >/dev/null || return 1
    local v; v=$(cgroup_file "pids-$RT" pids pids.max); rm_f "pids-$RT"
    expect 42 "$v"
}
row_read_only() {
    expect "Read-only file system" "$(run --rm --read-only "$IMAGE" sh -c 'touch /x' 2>&1)"
}
row_tmpfs() {
    expect "tmpfs /run tmpfs rw,nosuid,nodev,noexec,relatime,size=1024k" \
        "$(run --rm --tmpfs /run:rw,noexec,nosuid,size=1m "$IMAGE" grep ' /run ' /proc/mounts 2>&1)"
}
row_caps() {
    # CAP_NET_BIND_SERVICE alone is bit 10: 0x400.
    expect "CapEff:	0000000000000400" \
        "$(run --rm --cap-drop ALL --cap-add NET_BIND_SERVICE "$IMAGE" grep CapEff /proc/self/status 2>&1)"
}
row_no_new_privileges() {
    expect "NoNewPrivs:	1" \
        "$(run --rm --security-opt no-new-privileges "$IMAGE" grep NoNewPrivs /proc/self/status 2>&1)"
}
row_user() { expect "uid=1000 gid=1000" "$(run --rm --user 1000:1000 "$IMAGE" id 2>&1)"; }
row_device_read_only() {
    # Read works, write is denied by the device cgroup; the host shows exactly "b 7:0 r".
    run -d --name "dev-$RT" --device /dev/loop0:/dev/xloop:r "$IMAGE" sleep 100 >/dev/null || return 1
    local list rd wr
    list=$(cgroup_file "dev-$RT" devices devices.list)
    rd=$($DOCKER exec "dev-$RT" sh -c 'head -c 1 /dev/xloop >/dev/null && echo read-ok' 2>&1)
    wr=$($DOCKER exec "dev-$RT" sh -c 'echo x > /dev/xloop && echo write-ok' 2>&1)
    rm_f "dev-$RT"
    echo "$list" | grep -qx "b 7:0 r" || { echo "devices.list has no line \"b 7:0 r\": $list"; return 1; }
    expect read-ok "$rd" && expect "Operation not permitted" "$wr"
}
row_bind_rw() {
    mkdir -p "$T/vol-$RT"
    run --rm -v "$T/vol-$RT:/data" "$IMAGE" sh -c 'echo written > /data/f' >/dev/null 2>&1
    expect written "$(cat "$T/vol-$RT/f" 2>&1)"
}
row_bind_ro() {
    mkdir -p "$T/volro-$RT"
    expect "Read-only file system" "$(run --rm -v "$T/volro-$RT:/data:ro" "$IMAGE" sh -c 'touch /data/f' 2>&1)"
}
row_sysctl() {
    expect 1 "$(run --rm --network none --sysctl net.ipv4.ip_forward=1 "$IMAGE" cat /proc/sys/net/ipv4/ip_forward 2>&1)"
}
row_ulimit() {
    expect "100 200" "$(run --rm --ulimit nofile=100:200 "$IMAGE" sh -c 'echo $(ulimit -Sn) $(ulimit -Hn)' 2>&1)"
}
row_init() { expect docker-init "$(run --rm --init "$IMAGE" cat /proc/1/comm 2>&1)"; }
row_top() {
    run -d --name "top-$RT" "$IMAGE" sleep 123 >/dev/null || return 1
    local out; out=$(timeout 60 $DOCKER top "top-$RT" 2>&1); rm_f "top-$RT"
    expect "sleep 123" "$out"
}
row_stats() {
    run -d --name "stats-$RT" --memory 64m "$IMAGE" sleep 100 >/dev/null || return 1
    local out; out=$(timeout 60 $DOCKER stats --no-stream --format '{{.MemUsage}} {{.PIDs}}' "stats-$RT" 2>&1)
    rm_f "stats-$RT"
    expect "/ 64MiB 1" "$out"
}
row_pause_unpause() {
    run -d --name "pause-$RT" "$IMAGE" sleep 100 >/dev/null || return 1
    $DOCKER pause "pause-$RT" >/dev/null
    local paused frozen unpaused
    paused=$($DOCKER inspect -f '{{.State.Status}}' "pause-$RT")
    frozen=$(cgroup_file "pause-$RT" freezer freezer.state)
    $DOCKER unpause "pause-$RT" >/dev/null
    unpaused=$($DOCKER inspect -f '{{.State.Status}}' "pause-$RT")
    rm_f "pause-$RT"
    expect paused "$paused" && expect FROZEN "$frozen" && expect running "$unpaused"
}
row_update() {
    run -d --name "upd-$RT" --memory 64m "$IMAGE" sleep 100 >/dev/null || return 1
    local out v
    out=$(timeout 60 $DOCKER update --memory 96m --memory-swap 96m --cpu-shares 512 "upd-$RT" 2>&1)
    v="$(cgroup_file "upd-$RT" memory memory.limit_in_bytes) $(cgroup_file "upd-$RT" cpu cpu.shares)"
    rm_f "upd-$RT"
    expect "$((96 << 20)) 512" "$v" || { echo "$out"; return 1; }
}
row_restart() {
    run -d --name "rs-$RT" "$IMAGE" sleep 100 >/dev/null || return 1
    local before after
    before=$($DOCKER inspect -f '{{.State.Pid}}' "rs-$RT")
    timeout 60 $DOCKER restart -t 1 "rs-$RT" >/dev/null
    after=$($DOCKER inspect -f '{{.State.Pid}} {{.State.Status}}' "rs-$RT")
    rm_f "rs-$RT"
    expect running "$after" && [ "${after% *}" != "$before" ] || { echo "pid $before -> $after"; return 1; }
}
row_stop_term() {
    run -d --name "st-$RT" "$IMAGE" sh -c 'trap "exit 0" TERM; while :; do sleep 0.1; done' >/dev/null || return 1
    timeout 60 $DOCKER stop -t 10 "st-$RT" >/dev/null
    local code; code=$($DOCKER inspect -f '{{.State.ExitCode}}' "st-$RT"); rm_f "st-$RT"
    expect 0 "$code"
}
row_stop_kill_after_timeout() {
    run -d --name "sk-$RT" "$IMAGE" sh -c 'trap "" TERM; while :; do sleep 0.1; done' >/dev/null || return 1
    timeout 60 $DOCKER stop -t 1 "sk-$RT" >/dev/null
    local code; code=$($DOCKER inspect -f '{{.State.ExitCode}}' "sk-$RT"); rm_f "sk-$RT"
    expect 137 "$code"
}
row_kill_signal() {
    run -d --name "ks-$RT" "$IMAGE" sh -c 'trap "echo got-USR1" USR1; while :; do sleep 0.1; done' >/dev/null || return 1
    sleep 0.3
    $DOCKER kill -s USR1 "ks-$RT" >/dev/null; sleep 0.5
    local out; out=$($DOCKER logs "ks-$RT" 2>&1); rm_f "ks-$RT"
    expect got-USR1 "$out"
}
row_hup_not_inherited_ignored() {
    # dockerd runs with SIGHUP ignored: the container's processes must start with the default
    # dispositions (SigIgn empty), so docker kill -s HUP, which docker-init (--init) passes
    # on, ends a plain sleep (128+1).
    run -d --init --name "hup-$RT" "$IMAGE" sleep 100 >/dev/null || return 1
    local ign code
    ign=$($DOCKER exec "hup-$RT" sh -c 'grep SigIgn /proc/$(pidof sleep)/status' 2>&1)
    $DOCKER kill -s HUP "hup-$RT" >/dev/null
    code=$(timeout 10 $DOCKER wait "hup-$RT" 2>&1)
    rm_f "hup-$RT"
    expect "SigIgn:	0000000000000000" "$ign" && expect 129 "$code"
}
row_rm_force() {
    run -d --name "rmf-$RT" "$IMAGE" sleep 100 >/dev/null || return 1
    $DOCKER rm -f "rmf-$RT" >/dev/null
    [ -z "$(cid "rmf-$RT")" ] || { echo "still listed"; return 1; }
}
row_healthcheck() {
    run -d --name "hc-$RT" --health-cmd 'true' --health-interval 1s "$IMAGE" sleep 100 >/dev/null || return 1
    local h=""
    for _ in $(seq 30); do
        h=$($DOCKER inspect -f '{{.State.Health.Status}}' "hc-$RT"); [ "$h" = healthy ] && break; sleep 0.5
    done
    rm_f "hc-$RT"
    expect healthy "$h"
}
row_events() {
    local since; since=$(date +%s)
    run --rm --name "ev-$RT" "$IMAGE" true >/dev/null 2>&1
    sleep 1
    local out; out=$(timeout 10 $DOCKER events --since "$since" --until "$(date +%s)" --filter "container=ev-$RT" --format '{{.Action}}' 2>&1)
    expect start "$out" && expect die "$out"
}
row_nothing_left_after_rm() {
    # Runs last for each runtime: every earlier row removed its containers.
    local left; left=$(ls "$T/exec/runtime-$RT/moby" 2>/dev/null)
    local cgroups; cgroups=$(find /sys/fs/cgroup/*/docker -mindepth 1 -maxdepth 1 -type d 2>/dev/null)
    [ -z "$left" ] && [ -z "$cgroups" ] || { echo "left: $left $cgroups"; return 1; }
}

ROWS="$(declare -F | awk '{print $3}' | grep '^row_' | grep -v '^row_nothing_left_after_rm$') row_nothing_left_after_rm"
declare -A RESULT
for RT in runc husk; do
    for row in $ROWS; do
        if why=$("$row" 2>&1); then RESULT[$RT,$row]=ok; else RESULT[$RT,$row]="FAIL: $why"; fi
    done
done
for row in $ROWS; do
    name=${row#row_}; name=${name//_/ }
    h=${RESULT[husk,$row]}; r=${RESULT[runc,$row]}
    if [ "$h" = ok ]; then
        echo "ok   - $name"; pass=$((pass+1))
    else
        echo "FAIL - $name"; printf '%s\n' "${h#FAIL: }" | sed 's/^/       husk: /'; fail=$((fail+1))
    fi
    if [ "${h%%:*}" = "${r%%:*}" ]; then
        same=$((same+1))
    else
        differ+=("$name: husk ${h%%:*}, runc $r")
    fi
done
echo "$same of $(echo "$ROWS" | wc -w) rows give the same result with runc"
for d in "${differ[@]}"; do echo "differs from runc: $d" | cut -c1-300; done
if [ "$fail" = 0 ]; then r=ok; else r=FAILED; fi
echo "test result: $r. $pass passed; $fail failed (docker $(dockerd --version | awk '{print $3}' | tr -d ,))"
[ "$fail" = 0 ]
