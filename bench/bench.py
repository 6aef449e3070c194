#!/usr/bin/env python3
"""`make bench`: husk against runc and crun on the same busybox bundle, in the same run.

Each measurement runs every runtime once per round, the order rotating from round to round,
so machine noise falls on all of them alike. Times are whole-process wall clock (what a
caller pays), medians over --rounds rounds. Two views:

  host     the machine as it is: hybrid cgroups, runtimes on their cgroup v1 path (crun
           refuses hybrid hosts; it is tried and reported as such).
  cgroup2  this host with a plain cgroup2 mount at /sys/fs/cgroup, in a private mount namespace
           (the host's mounts are not touched), so that all runtimes take their cgroup v2
           path. On this hybrid host that hierarchy carries only hugetlb: no runtime sets up
           cpu, memory or pids there, so it is not what a real v2 host costs. crun gets an
           LD_PRELOAD shim for its RLIMIT_MEMLOCK raise (see memlock-shim.c).
  v2       a real cgroup v2 host, every controller enabled: the qemu guest of
           `make bench-cgroupv2` (integration/cgroupv2/bench.sh). The config sets memory, pids
           and cpu limits and device rules, so every runtime writes them and loads its device
           program. qemu emulates the CPU: compare ratios, not times.

Both views run in a private mount namespace with the runtimes' state roots on a tmpfs, as
/run is on the distributions that run containers (on this machine /run is on the disk, where
ext4 flushes a renamed-over state file at each rename and turns state writes into disk I/O).

Other runtimes (a newer runc or crun built locally) join with --runtime NAME=PATH; Debian's
runc and crun are always there.

Usage: bench.py --husk PATH [--runtime NAME=PATH]... [--view V] [--rounds N] [--out FILE]  (as root)
"""
import argparse, json, os, platform, resource, select, shutil, statistics, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
DEVNULL = subprocess.DEVNULL


# The limits of the v2 view: what a platform sets on every container.
LIMITS = {
    "memory": {"limit": 256 * 1024 * 1024},
    "pids": {"limit": 1024},
    "cpu": {"shares": 1024, "quota": 100000, "period": 100000},
}


def busybox_bundle(tmp, husk, limits):
    b = os.path.join(tmp, "bundle")
    rootfs = os.path.join(b, "rootfs")
    for d in ["bin", "proc", "sys", "dev", "tmp", "etc"]:
        os.makedirs(os.path.join(rootfs, d), exist_ok=True)
    bb = shutil.which("busybox")
    shutil.copy(bb, os.path.join(rootfs, "bin/busybox"))
    for a in subprocess.run([bb, "--list"], capture_output=True, text=True).stdout.split():
        if a != "busybox":
            os.symlink("busybox", os.path.join(rootfs, "bin", a))
    subprocess.run([husk, "spec", "--bundle", b], check=True)
    path = os.path.join(b, "config.json")
    c = json.load(open(path))
    c["process"]["terminal"] = False
    c["process"]["args"] = ["/bin/true"]
    # crun 1.8 refuses spec versions it does not know; all three take 1.0.2.
    c["ociVersion"] = "1.0.2"
    if limits:
        # husk's spec denies every device but the default ones, as runc's does: the rules give
        # each runtime a device program to load.
        c["linux"]["resources"] = dict(c["linux"].get("resources", {}), **LIMITS)
    json.dump(c, open(path, "w"))
    # A second bundle whose process stays, for exec, state and list.
    b2 = os.path.join(tmp, "bundle-sleep")
    os.makedirs(b2)
    c["root"]["path"] = rootfs
    c["process"]["args"] = ["/bin/sleep", "1000"]
    json.dump(c, open(os.path.join(b2, "config.json"), "w"))
    return b, b2


def scaling_bundles(tmp, bundle):
    """Bundles for how create's cost grows: the busybox one with 100 tmpfs mounts, and with
    Docker's default seccomp profile (tests/fixtures/docker-default.json)."""
    c = json.load(open(os.path.join(bundle, "config.json")))
    c["root"]["path"] = os.path.join(bundle, "rootfs")
    out = {}
    mounts = dict(c, mounts=c["mounts"] + [
        {"destination": f"/tmp/m{i}", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev"]}
        for i in range(100)])
    profile = json.load(open(os.path.join(HERE, "..", "tests", "fixtures", "docker-default.json")))
    seccomp = dict(c, linux=dict(c["linux"], seccomp=profile))
    for name, config in [("mounts100", mounts), ("seccomp", seccomp)]:
        d = os.path.join(tmp, "bundle-" + name)
        os.makedirs(d)
        json.dump(config, open(os.path.join(d, "config.json"), "w"))
        out[name] = d
    return out


class Runtime:
    def __init__(self, name, binary, tmp, env=None):
        self.name, self.binary = name, binary
        self.root = os.path.join(os.environ.get("BENCH_STATE", tmp), "root-" + name)
        os.makedirs(self.root, exist_ok=True)
        self.env = env
        self.n = 0

    def cmd(self, *args):
        return [self.binary, "--root", self.root, *args]

    def call(self, *args, check=True):
        # stderr through a file, not a pipe: a container made by create/run -d inherits the
        # runtime's stdio and would hold a pipe open.
        with tempfile.TemporaryFile() as err:
            r = subprocess.run(self.cmd(*args), stdout=DEVNULL, stderr=err, env=self.env)
            if check and r.returncode != 0:
                err.seek(0)
                raise RuntimeError(f"{self.name} {' '.join(args)}: {err.read().decode().strip()}")
        return r

    def timed(self, *args, check=True):
        t = time.perf_counter()
        self.call(*args, check=check)
        return time.perf_counter() - t

    def new_id(self):
        # The name too: without a cgroupsPath, runc and crun take the id as the cgroup's name,
        # and two runcs would share it.
        self.n += 1
        return f"b{os.getpid()}-{self.name}-{self.n}"

    def pid_of(self, cid, pid_file):
        with open(pid_file) as f:
            return int(f.read())


def wait_pid_gone(pid):
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        select.select([fd], [], [], 10)
    finally:
        os.close(fd)


def measure(rt, what, bundle, sleeper, tmp):
    """One sample of `what` for runtime `rt`, in seconds (or KiB for rss)."""
    cid = rt.new_id()
    if what == "run":
        return rt.timed("run", "--bundle", bundle, cid)
    if what == "lifecycle":
        pidf = os.path.join(tmp, cid + ".pid")
        t = time.perf_counter()
        rt.call("create", "--bundle", bundle, "--pid-file", pidf, cid)
        pid = rt.pid_of(cid, pidf)
        fd = os.pidfd_open(pid)
        rt.call("start", cid)
        select.select([fd], [], [], 10)
        os.close(fd)
        rt.call("delete", cid)
        return time.perf_counter() - t
    if what in ("create", "create_mounts100", "create_seccomp"):
        b = {"create": bundle}.get(what) or rt.scaling[what.split("_", 1)[1]]
        d = rt.timed("create", "--bundle", b, cid)
        rt.call("delete", "--force", cid)
        return d
    if what == "start":
        pidf = os.path.join(tmp, cid + ".pid")
        rt.call("create", "--bundle", bundle, "--pid-file", pidf, cid)
        pid = rt.pid_of(cid, pidf)
        d = rt.timed("start", cid)
        wait_pid_gone(pid)
        rt.call("delete", "--force", cid)
        return d
    if what == "exec":
        return rt.timed("exec", rt.sleeper, "/bin/true")
    if what == "state":
        return rt.timed("state", rt.sleeper)
    if what == "rss":
        # Peak resident memory of the runtime's process tree during create: wait4's rusage,
        # taken by the small static rss helper (see rss.c).
        with tempfile.TemporaryFile() as err:
            subprocess.run([rt.rss, *rt.cmd("create", "--bundle", bundle, cid)], stdout=DEVNULL, stderr=err, env=rt.env)
            err.seek(0)
            text = err.read().decode()
        rt.call("delete", "--force", cid)
        return int(text.rsplit("maxrss_kib=", 1)[1].split()[0])  # KiB
    raise ValueError(what)


def parallel(rt, bundle, n):
    """n containers created and started at once (`run`), until all are deleted."""
    t = time.perf_counter()
    procs = [subprocess.Popen(rt.cmd("run", "--bundle", bundle, rt.new_id()), stdout=DEVNULL, stderr=DEVNULL, env=rt.env)
             for _ in range(n)]
    codes = [p.wait() for p in procs]
    d = time.perf_counter() - t
    if any(codes):
        raise RuntimeError(f"{rt.name}: {sum(1 for c in codes if c)} of {n} parallel runs failed")
    return d


def floor_run(floor, rootfs):
    t = time.perf_counter()
    subprocess.run([floor, rootfs], check=True)
    return time.perf_counter() - t


def floor_times(args, bundle):
    floor = os.path.join(args.build, "floor")
    if not os.path.exists(floor):
        return []
    return [floor_run(floor, os.path.join(bundle, "rootfs")) for _ in range(args.rounds)]


def works(rt, bundle):
    try:
        rt.call("run", "--bundle", bundle, rt.new_id())
        return True, [""]
    except RuntimeError as e:
        return False, str(e).strip().splitlines()[-1:] or [""]


def bench_view(view, args):
    tmp = tempfile.mkdtemp(prefix="husk-bench-")
    try:
        bundle, sleeper_bundle = busybox_bundle(tmp, args.husk, limits=view == "v2")
        shim = os.path.join(args.build, "memlock-shim.so")
        crun_env = dict(os.environ, LD_PRELOAD=shim) if view == "cgroup2" and os.path.exists(shim) else None
        candidates = [Runtime(name, path, tmp, env=crun_env if name.startswith("crun") else None)
                      for name, path in runtimes_of(args)]
        runtimes, refused = [], {}
        for rt in candidates:
            ok, why = works(rt, bundle)
            if ok:
                runtimes.append(rt)
            else:
                refused[rt.name] = why[0]
        scaling = scaling_bundles(tmp, bundle)
        for rt in runtimes:
            rt.scaling = scaling
            rt.rss = os.path.join(args.build, "rss")
            rt.sleeper = rt.new_id()
            rt.call("run", "--detach", "--bundle", sleeper_bundle, rt.sleeper)
        results = {rt.name: {} for rt in runtimes}
        whats = ["run", "lifecycle", "create", "start", "exec", "state", "rss", "create_mounts100",
                 "create_seccomp"]
        for i in range(args.rounds):
            order = runtimes[i % len(runtimes):] + runtimes[:i % len(runtimes)]
            for what in whats:
                for rt in order:
                    results[rt.name].setdefault(what, []).append(measure(rt, what, bundle, sleeper_bundle, tmp))
        if not args.many:  # the guest: 1,000 emulated creates per runtime would take an hour
            for rt in runtimes:
                rt.call("delete", "--force", rt.sleeper)
            return view_result(view, args, refused, results, floor_times(args, bundle))
        # list with 100 containers present (created, not started)
        for rt in runtimes:
            ids = [rt.new_id() for _ in range(100)]
            for cid in ids:
                rt.call("create", "--bundle", sleeper_bundle, cid)
            rt.ids100 = ids
        for i in range(args.rounds):
            for rt in runtimes[i % len(runtimes):] + runtimes[:i % len(runtimes)]:
                results[rt.name].setdefault("list100", []).append(rt.timed("list"))
        # list and ps with 1,000 containers present (900 more)
        for rt in runtimes:
            more = [rt.new_id() for _ in range(900)]
            for cid in more:
                rt.call("create", "--bundle", sleeper_bundle, cid)
            rt.ids100 += more
        for i in range(args.rounds):
            for rt in runtimes[i % len(runtimes):] + runtimes[:i % len(runtimes)]:
                results[rt.name].setdefault("list1000", []).append(rt.timed("list"))
                results[rt.name].setdefault("ps1000", []).append(rt.timed("ps", rt.ids100[0]))
        for rt in runtimes:
            for cid in rt.ids100:
                rt.call("delete", "--force", cid)
        for i in range(args.parallel_rounds):
            for rt in runtimes[i % len(runtimes):] + runtimes[:i % len(runtimes)]:
                results[rt.name].setdefault("parallel50", []).append(parallel(rt, bundle, 50))
        for rt in runtimes:
            rt.call("delete", "--force", rt.sleeper)
        return view_result(view, args, refused, results, floor_times(args, bundle))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def view_result(view, args, refused, results, floor_times):
    return {"view": view, "rounds": args.rounds, "refused": refused,
            "median": {n: {w: statistics.median(v) for w, v in r.items()} for n, r in results.items()},
            "samples": results, "floor_run": statistics.median(floor_times) if floor_times else None}


def runtimes_of(args):
    """husk, Debian's runc and crun, and the --runtime NAME=PATH ones."""
    out = [("husk", args.husk), ("runc", shutil.which("runc") or "/usr/sbin/runc"),
           ("crun", shutil.which("crun") or "/usr/bin/crun")]
    for spec in args.runtime:
        name, _, path = spec.partition("=")
        if not path or not os.access(path, os.X_OK):
            sys.exit(f"bench.py: --runtime {spec}: want NAME=PATH of an executable")
        out.append((name, path))
    return out


def version_of(path):
    r = subprocess.run([path, "--version"], capture_output=True, text=True)
    return r.stdout.split("\n")[0] if r.returncode == 0 else f"{path}: --version failed"


ROWS = [("run", "run of busybox true", "ms"), ("lifecycle", "create+start+wait+delete", "ms"),
        ("create", "create alone", "ms"), ("start", "start alone", "ms"), ("exec", "exec /bin/true", "ms"),
        ("state", "state", "ms"), ("list100", "list, 100 containers", "ms"),
        ("list1000", "list, 1,000 containers", "ms"), ("ps1000", "ps of one, 1,000 containers", "ms"),
        ("create_mounts100", "create, 100 more mounts", "ms"),
        ("create_seccomp", "create, Docker's seccomp profile", "ms"),
        ("parallel50", "50 x run in parallel", "s"), ("rss", "peak RSS during create", "MiB")]


def fmt(v, unit):
    if v is None:
        return "-"
    return {"ms": f"{v * 1000:.1f} ms", "s": f"{v:.2f} s", "MiB": f"{v / 1024:.1f} MiB"}[unit]


VIEWS = {"host": "this host as it is (hybrid: cgroup v1 controllers)",
         "cgroup2": "a cgroup2 mount on this hybrid host (only hugetlb: no cpu, memory or pids state)",
         "v2": "a real cgroup v2 host (qemu guest, all controllers, memory/pids/cpu limits, device rules)"}


def table(res):
    med = res["median"]
    names = list(med)
    others = [n for n in names if n != "husk"]
    lines = [f"### view: {VIEWS[res['view']]}, medians of {res['rounds']} rounds", ""]
    head = "| | " + " | ".join(names) + " | " + " | ".join(f"husk/{n}" for n in others) + " |"
    lines += [head, "|" + " --- |" * (len(names) + len(others) + 1)]
    for key, label, unit in ROWS:
        if not any(key in med[n] for n in names):
            continue
        cells = [fmt(med[n].get(key), unit) for n in names]
        def ratio(other):
            if "husk" in med and med["husk"].get(key) and med[other].get(key):
                return f"{med['husk'][key] / med[other][key]:.2f}"
            return "-"
        lines.append(f"| {label} | " + " | ".join(cells + [ratio(n) for n in others]) + " |")
    if res.get("floor_run"):
        lines.append(f"| floor (unshare, pivot_root, default mounts, exec true) | {fmt(res['floor_run'], 'ms')} |"
                     + " |" * (len(names) + len(others) - 1))
    for n, why in res["refused"].items():
        lines.append(f"\n{n} did not run in this view: {why}")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--husk", required=True)
    ap.add_argument("--build", default=os.path.join(HERE, "build"))
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--parallel-rounds", type=int, default=5)
    ap.add_argument("--out")
    ap.add_argument("--runtime", action="append", default=[], metavar="NAME=PATH")
    ap.add_argument("--view", choices=["host", "cgroup2", "both", "v2"], default="both")
    ap.add_argument("--no-many", dest="many", action="store_false",
                    help="leave out list/ps with 100 and 1,000 containers and the parallel runs")
    ap.add_argument("--inner-json", help=argparse.SUPPRESS)
    ap.add_argument("--inner-view", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench.py: needs root")
    if args.inner_json:  # one view, already inside its mount namespace
        json.dump(bench_view(args.inner_view, args), open(args.inner_json, "w"))
        return
    out = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "kernel": platform.release(),
           "versions": {name: version_of(path) for name, path in runtimes_of(args)}, "views": []}
    for name, version in out["versions"].items():
        print(f"{name}: {version}")
    views = ["host", "cgroup2"] if args.view == "both" else [args.view]
    for view in views:
        # the v2 guest is a real v2 host already, its /run a tmpfs
        out["views"].append(bench_view(view, args) if view == "v2" else in_private_mounts(view, args))
        print(("\n" if view != views[0] else "") + table(out["views"][-1]), flush=True)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        for v in out["views"]:
            v.pop("samples", None) if not os.environ.get("BENCH_SAMPLES") else None
        json.dump(out, open(args.out, "w"), indent=2)
        print(f"\nwritten: {args.out}")


def in_private_mounts(view, args):
    """Run one view in a private mount namespace: state roots on a tmpfs at $BENCH_STATE, and
    for cgroup2 a plain cgroup2 mount at /sys/fs/cgroup. The host's mounts are not touched."""
    inner = tempfile.mktemp(prefix="husk-bench-" + view + "-", suffix=".json")
    state = tempfile.mkdtemp(prefix="husk-bench-state-")
    script = 'mount -t tmpfs -o size=256m tmpfs "$BENCH_STATE" && '
    if view == "cgroup2":
        script += "umount -l /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup && "
    script += 'exec "$@"'
    cmd = ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "inns", sys.executable,
           os.path.abspath(__file__), "--husk", args.husk, "--build", args.build, "--rounds", str(args.rounds),
           "--parallel-rounds", str(args.parallel_rounds), "--inner-json", inner, "--inner-view", view,
           *(f"--runtime={r}" for r in args.runtime), *([] if args.many else ["--no-many"])]
    try:
        subprocess.run(cmd, check=True, env=dict(os.environ, BENCH_STATE=state))
        result = json.load(open(inner))
    finally:
        for p in (inner,):
            if os.path.exists(p):
                os.unlink(p)
        shutil.rmtree(state, ignore_errors=True)
    return result


if __name__ == "__main__":
    main()
