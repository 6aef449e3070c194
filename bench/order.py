#!/usr/bin/env python3
"""`make order`: remake crates/cli/link/husk.order, the functions husk's commands run, in the
order they first run, for the release link (crates/cli/link/ordered-cc; docs/performance.md).

Builds the release binary with its symbols (target/order), runs create, start, state, exec,
delete and run on a busybox bundle under bench/build/steptrace, which single-steps them, and
maps each executed address to the function holding it: on this host, the cgroup v1 and hybrid
paths. Then the same commands run in the pure cgroup v2 guest (integration/cgroupv2/bench.sh)
with memory, pids and cpu limits and device rules, for the v2 paths: there, single-stepping
under emulation would take an hour, so steptrace --pages takes the pages each process had
mapped when it exited, with the kernel's fault-around off (page-exact, so a touched page's
neighbouring functions come along). create comes first: its peak resident size is what the
ordering is for. About 20 minutes; run it when the start path has changed much (a stale list
costs memory, never a build).

Usage: order.py --steptrace PATH [--out FILE]      (as root)
       order.py --in-guest --steptrace PATH --husk PATH --out FILE   (bench.sh's guest)
"""
import argparse, bisect, json, os, shutil, subprocess, sys, tempfile

from bench import LIMITS  # bench.py, beside this script

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
TARGET = "x86_64-unknown-linux-gnu"


def build_with_symbols():
    """The release build as `make release` makes it, but not stripped: the same code (symbols
    are not mapped), and the same symbol names, hashes included (-C strip is not part of the
    profile, which the hashes take in)."""
    flags = subprocess.run(["make", "-s", "-C", TOP, "print-release-rustflags"], capture_output=True,
                           text=True, check=True).stdout.strip()
    env = dict(os.environ, RUSTFLAGS=flags)
    subprocess.run(["cargo", "build", "--release", "-p", "husk", "--target", TARGET,
                    "--target-dir", os.path.join(TOP, "target", "order")], cwd=TOP, env=env, check=True)
    return os.path.join(TOP, "target", "order", TARGET, "release", "husk")


def bundles(tmp, husk, limits=False):
    rootfs = os.path.join(tmp, "rootfs")
    for d in ["bin", "proc", "sys", "dev", "tmp", "etc"]:
        os.makedirs(os.path.join(rootfs, d))
    shutil.copy(shutil.which("busybox"), os.path.join(rootfs, "bin", "busybox"))
    for applet in ["true", "sleep", "sh"]:
        os.symlink("busybox", os.path.join(rootfs, "bin", applet))
    out = {}
    for name, args in [("true", ["/bin/true"]), ("sleep", ["/bin/sleep", "1000"])]:
        b = os.path.join(tmp, name)
        os.makedirs(b)
        subprocess.run([husk, "spec", "--bundle", b], check=True)
        path = os.path.join(b, "config.json")
        c = json.load(open(path))
        c["root"]["path"] = rootfs
        c["process"].update(terminal=False, args=args)
        if limits:
            c["linux"]["resources"] = dict(c["linux"].get("resources", {}), **LIMITS)
        json.dump(c, open(path, "w"))
        out[name] = b
    return out


def traces(steptrace, husk, tmp, limits=False, pages=False):
    """Executed file offsets per command, create's first."""
    b = bundles(tmp, husk, limits)
    mode = ["--pages"] if pages else []
    root = os.path.join(tmp, "state")
    plain = lambda *a: subprocess.run([husk, "--root", root, *a], stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    steps = [("create", ["create", "--bundle", b["sleep"], "o1"]), ("start", ["start", "o1"]),
             ("state", ["state", "o1"]), ("exec", ["exec", "o1", "/bin/true"]),
             ("delete", ["delete", "--force", "o1"]), ("run", ["run", "--bundle", b["true"], "o2"])]
    out = []
    for name, args in steps:
        path = os.path.join(tmp, name + ".addrs")
        print(f"order: tracing {name}", file=sys.stderr, flush=True)
        with open(os.path.join(tmp, name + ".err"), "w") as err:
            subprocess.run([steptrace, *mode, path, husk, "--root", root, *args], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=err, check=True)
        # 16-byte granules: functions are 16-byte aligned, and the guest's console carries less
        out.append(sorted({int(line, 16) >> 4 << 4 for line in open(path)}))
    plain("delete", "--force", "o2")
    return out


def guest_traces(husk, steptrace):
    """The same commands in the pure cgroup v2 guest, with limits (bench.sh runs this script
    there with --in-guest)."""
    out = os.path.join(tempfile.mkdtemp(prefix="husk-order-guest-"), "runs.json")
    env = dict(os.environ, BENCH_GUEST_COMMAND="python3 /bench/order.py --in-guest --husk "
               "/opt/runtimes/husk --steptrace /bench/build/steptrace --out /tmp/bench.json")
    subprocess.run(["sh", os.path.join(TOP, "integration", "cgroupv2", "bench.sh"), husk, out],
                   env=env, check=True)
    runs = json.load(open(out))["runs"]
    shutil.rmtree(os.path.dirname(out), ignore_errors=True)
    return runs


def functions(binary):
    """(start, size, name) of every function, by file offset of its first byte."""
    text = next(l.split() for l in subprocess.run(["readelf", "-lW", binary], capture_output=True,
                text=True, check=True).stdout.splitlines() if l.split()[:1] == ["LOAD"] and "E" in l.split()[6:-1])
    shift = int(text[2], 16) - int(text[1], 16)  # vaddr - offset
    syms = []
    for line in subprocess.run(["nm", "-n", "-S", "--defined-only", binary], capture_output=True,
                               text=True, check=True).stdout.splitlines():
        p = line.split()
        if len(p) == 4 and p[2] in "tTwW":
            syms.append((int(p[0], 16) - shift, int(p[1], 16), p[3]))
    return sorted(syms)


def ordered_names(binary, runs):
    syms = functions(binary)
    starts = [s[0] for s in syms]
    names, seen, size = [], set(), 0
    for offsets in runs:
        for off in offsets:
            i = bisect.bisect_right(starts, off) - 1
            if i >= 0 and off < syms[i][0] + max(syms[i][1], 1) and syms[i][2] not in seen:
                seen.add(syms[i][2])
                names.append(syms[i][2])
                size += syms[i][1]
    return names, size


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steptrace", required=True)
    ap.add_argument("--out", default=os.path.join(TOP, "crates", "cli", "link", "husk.order"))
    ap.add_argument("--reuse-host", action="store_true", help="the host's traces of the last run")
    ap.add_argument("--in-guest", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--husk", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("order.py: needs root")
    if args.in_guest:
        # The guest's own kernel: fault-around off, so that a process maps only what it touches.
        os.makedirs("/sys/kernel/debug", exist_ok=True)
        subprocess.run(["mount", "-t", "debugfs", "debugfs", "/sys/kernel/debug"], check=True)
        with open("/sys/kernel/debug/fault_around_bytes", "w") as f:
            f.write("4096")
        tmp = tempfile.mkdtemp(prefix="husk-order-")
        runs = traces(args.steptrace, args.husk, tmp, limits=True, pages=True)
        json.dump({"runs": runs}, open(args.out, "w"))
        return
    husk = build_with_symbols()
    # The host's traces are kept beside the binary: --reuse-host takes them again (after a
    # failure in the guest, say) as long as the binary is the same.
    saved = husk + ".host-traces.json"
    if args.reuse_host and os.path.exists(saved) and os.path.getmtime(saved) > os.path.getmtime(husk):
        host = json.load(open(saved))
    else:
        tmp = tempfile.mkdtemp(prefix="husk-order-")
        try:
            host = traces(args.steptrace, husk, tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        json.dump(host, open(saved, "w"))
    guest = guest_traces(husk, args.steptrace)
    # create on both, then the other commands on both
    names, size = ordered_names(husk, [host[0], guest[0]] + [r for pair in zip(host[1:], guest[1:]) for r in pair])
    with open(args.out, "w") as f:
        f.write("\n".join(names) + "\n")
    print(f"order: {len(names)} functions, {size // 1024} KiB, written to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
