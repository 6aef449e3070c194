#!/bin/bash
# Kubernetes' side of containerd: its CRI plugin driven over its socket by a small CRI client
# (integration/clients/cri, husk-cri-check), as kubelet drives it, with one runtime handler
# for husk and one for runc (Debian's), the same checks for each.
# Usage: cri.sh /abs/path/to/husk /abs/path/to/husk-cri-check     (as root)
#
# A private containerd (own root, state and socket) with the CRI plugin: handlers "husk" and
# "runc" through the runc v2 shim, each with its own state root; a pause image built here as
# the sandbox image; restrict_oom_score_adj (these machines forbid lowering oom_score_adj);
# pods in the host's network namespace (no CNI here). Prints the client's lines and a
# "test result:" line; fails if any check fails for either handler.
set -u
HUSK=${1:?usage: cri.sh /path/to/husk /path/to/husk-cri-check}
CHECK=${2:?usage: cri.sh /path/to/husk /path/to/husk-cri-check}
HERE=$(cd "$(dirname "$0")" && pwd)
IMAGE=docker.io/library/husk-busybox:latest
PAUSE=docker.io/library/husk-pause:latest
T=$(mktemp -d /tmp/husk-cri.XXXXXX)
chmod 755 "$T"
SOCK=$T/containerd.sock
CTR="ctr -a $SOCK -n k8s.io"

cleanup() {
    for t in $($CTR task ls -q 2>/dev/null); do $CTR task kill -s SIGKILL "$t" >/dev/null 2>&1; done
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
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE"
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$T/cni/bin"
    conf_dir = "$T/cni/conf"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.husk]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.husk.options]
        BinaryName = "$HUSK"
        Root = "$T/husk-root"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "$(command -v runc)"
        Root = "$T/runc-root"
TOML
containerd --config "$T/config.toml" > "$T/containerd.log" 2>&1 &
CTD_PID=$!
for _ in $(seq 100); do [ -S "$SOCK" ] && $CTR version >/dev/null 2>&1 && break; sleep 0.1; done
for _ in $(seq 100); do grep -q "Start cri plugin" "$T/containerd.log" && break; sleep 0.1; done
python3 "$HERE/image.py" "$T/busybox.tar" "$IMAGE"
python3 "$HERE/image.py" "$T/pause.tar" "$PAUSE" /bin/sleep inf
$CTR image import "$T/busybox.tar" >/dev/null && $CTR image import "$T/pause.tar" >/dev/null

rc=0
for handler in runc husk; do
    # The shim's --root is the handler's Root joined with the containerd namespace.
    timeout 300 "$CHECK" "$SOCK" "$handler" "$IMAGE" "$T/$handler-root/k8s.io" > "$T/$handler.out" 2>&1 || rc=1
    cat "$T/$handler.out" | grep -v '^test result:'
done
passed=$(cat "$T"/*.out | grep -c '^ok ')
failed=$(cat "$T"/*.out | grep -c '^FAIL ')
[ "$rc" = 0 ] && [ "$failed" = 0 ] && [ "$passed" -gt 0 ] || {
    echo "containerd's log, last lines:"; tail -15 "$T/containerd.log" | cut -c1-300 | sed 's/^/  /'
}
if [ "$failed" = 0 ] && [ "$rc" = 0 ]; then r=ok; else r=FAILED; fi
echo "test result: $r. $passed passed; $failed failed (CRI, containerd $(containerd --version | awk '{print $3}'))"
[ "$r" = ok ]
