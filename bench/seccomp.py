#!/usr/bin/env python3
"""`make bench-seccomp`: the cost of a system call in a container under Docker's default
profile, husk's filter against libseccomp's (runc's and crun's), in the same run.

Each runtime runs bench/build/syscall as the container's process under Docker's profile
(tests/fixtures/docker-default.json), and husk runs it once more without a filter: the
difference is what the filter adds to every call. Three calls, at different places in a filter:
getpid (39), getppid (110), close_range (436). Medians over --rounds rounds, the runtimes'
order rotating.

Usage: seccomp.py --husk PATH --syscall PATH [--runtime NAME=PATH]... [--rounds N] [--calls N]
                  [--out FILE]  (as root)
"""
import argparse, json, os, shutil, statistics, subprocess, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PROFILE = os.path.join(HERE, "..", "tests", "fixtures", "docker-default.json")


def bundle(tmp, husk, program, calls, seccomp):
    name = "docker" if seccomp else "none"
    b = os.path.join(tmp, name)
    rootfs = os.path.join(b, "rootfs")
    for d in ["bin", "proc", "sys", "dev", "tmp"]:
        os.makedirs(os.path.join(rootfs, d), exist_ok=True)
    shutil.copy(program, os.path.join(rootfs, "bin/syscall"))
    subprocess.run([husk, "spec", "--bundle", b], check=True)
    path = os.path.join(b, "config.json")
    c = json.load(open(path))
    c["process"]["terminal"] = False
    c["process"]["args"] = ["/bin/syscall", str(calls)]
    c["ociVersion"] = "1.0.2"
    if seccomp:
        c["linux"]["seccomp"] = json.load(open(PROFILE))
    json.dump(c, open(path, "w"))
    return b


def run(binary, root, b, n):
    out = subprocess.run([binary, "--root", root, "run", "-b", b, f"bench-{n}"],
                         capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if out.returncode != 0:
        return None
    return {k: int(v) for k, v in (l.split() for l in out.stdout.split("\n") if l.strip())}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--husk", required=True)
    ap.add_argument("--syscall", required=True)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--calls", type=int, default=1000000)
    ap.add_argument("--out")
    ap.add_argument("--runtime", action="append", default=[], metavar="NAME=PATH",
                    help="another runtime under Docker's profile (a newer runc or crun)")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="husk-bench-seccomp-")
    docker = bundle(tmp, args.husk, args.syscall, args.calls, True)
    none = bundle(tmp, args.husk, args.syscall, args.calls, False)
    runs = [("husk", args.husk, docker), ("husk, no filter", args.husk, none)]
    for name in ["runc", "crun"]:
        path = shutil.which(name)
        if path:
            runs.append((name, path, docker))
    for spec in args.runtime:
        name, _, path = spec.partition("=")
        runs.append((name, path, docker))
    results = {name: [] for name, _, _ in runs}
    n = 0
    for r in range(args.rounds):
        for name, binary, b in runs[r % len(runs):] + runs[:r % len(runs)]:
            n += 1
            got = run(binary, os.path.join(tmp, "root-" + name.split(",")[0]), b, n)
            if got is not None:
                results[name].append(got)
    table = {}
    for name, got in results.items():
        if got:
            table[name] = {k: statistics.median(g[k] for g in got) / 1000 for k in got[0]}
    calls = ["getpid", "getppid", "close_range"]
    print(f"seccomp: one system call in a container, ns (median of {args.rounds} rounds of "
          f"{args.calls} calls each); Docker's default profile")
    print("| runtime | " + " | ".join(calls) + " |")
    print("| --- |" + " --- |" * len(calls))
    for name, t in table.items():
        print(f"| {name} | " + " | ".join(f"{t[c]:.1f}" for c in calls) + " |")
    base = table.get("husk, no filter")
    if base:
        print("\nwhat the filter adds to each call, ns:")
        for name, t in table.items():
            if name != "husk, no filter":
                print(f"| {name} | " + " | ".join(f"{t[c] - base[c]:+.1f}" for c in calls) + " |")
    skipped = [name for name, got in results.items() if not got]
    if skipped:
        print("could not run here: " + ", ".join(skipped))
    if args.out:
        os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
        json.dump({"calls": args.calls, "rounds": args.rounds, "ns": table,
                   "could_not_run": skipped}, open(args.out, "w"), indent=2)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
