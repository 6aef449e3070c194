#!/usr/bin/env python3
"""`make bench-procfs`: husk's procfs daemon against lxcfs, in the same run.

One husk container (run.husk.procfs: true, a 64 MiB memory limit) with lxcfs's mount bound in
at /lxcfs. In it, bench/build/procread opens, reads to the end and closes a file N times and
prints the median time of one read; each round reads /proc/meminfo (husk's daemon) and
/lxcfs/proc/meminfo (lxcfs), the order alternating. Then the resident memory of both daemons
(VmRSS, and VmHWM: the peak), read from /proc.

Usage: procfs.py --husk PATH --procread PATH [--rounds N] [--reads N] [--out FILE]   (as root)
"""
import argparse, json, os, shutil, statistics, subprocess, tempfile, time


def status(pid, key):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def lxcfs_version():
    out = subprocess.run(["lxcfs", "--version"], capture_output=True, text=True)
    return (out.stdout + out.stderr).strip()


def bundle(tmp, husk, procread, lxcfs_mnt):
    b = os.path.join(tmp, "bundle")
    rootfs = os.path.join(b, "rootfs")
    for d in ["bin", "proc", "sys", "dev", "tmp", "lxcfs"]:
        os.makedirs(os.path.join(rootfs, d), exist_ok=True)
    shutil.copy(shutil.which("busybox"), os.path.join(rootfs, "bin/busybox"))
    os.symlink("busybox", os.path.join(rootfs, "bin/sleep"))
    shutil.copy(procread, os.path.join(rootfs, "bin/procread"))
    subprocess.run([husk, "spec", "--bundle", b], check=True)
    path = os.path.join(b, "config.json")
    c = json.load(open(path))
    c["process"]["terminal"] = False
    c["process"]["args"] = ["/bin/sleep", "100000"]
    c["annotations"] = {"run.husk.procfs": "true"}
    c["linux"]["resources"] = {"memory": {"limit": 64 << 20}}
    c["mounts"].append({"type": "bind", "source": lxcfs_mnt, "destination": "/lxcfs",
                        "options": ["rbind", "ro"]})
    json.dump(c, open(path, "w"))
    return b


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--husk", required=True)
    ap.add_argument("--procread", required=True)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--reads", type=int, default=5000)
    ap.add_argument("--out")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="husk-bench-procfs-")
    root, mnt = os.path.join(tmp, "root"), os.path.join(tmp, "lxcfs")
    os.makedirs(mnt)
    lxcfs = subprocess.Popen(["lxcfs", "-f", "-l", "--enable-cfs", "-p",
                              os.path.join(tmp, "lxcfs.pid"), mnt],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    husk = [args.husk, "--root", root]
    cid = "bench-procfs"
    try:
        while not os.path.exists(os.path.join(mnt, "proc/meminfo")):
            time.sleep(0.05)
        b = bundle(tmp, args.husk, args.procread, mnt)
        subprocess.run(husk + ["run", "-d", "-b", b, cid], check=True, stdin=subprocess.DEVNULL)
        daemon = int(open(os.path.join(root, "@procfs.pid")).read())
        times = {"husk": [], "lxcfs": []}
        files = {"husk": "/proc/meminfo", "lxcfs": "/lxcfs/proc/meminfo"}
        for r in range(args.rounds):
            order = ["husk", "lxcfs"] if r % 2 == 0 else ["lxcfs", "husk"]
            for name in order:
                out = subprocess.run(husk + ["exec", cid, "/bin/procread", files[name],
                                             str(args.reads)],
                                     check=True, capture_output=True, text=True).stdout
                times[name].append(int(out))
        res = {
            "reads_per_round": args.reads,
            "rounds": args.rounds,
            "read_ns": {k: statistics.median(v) for k, v in times.items()},
            "rss_kib": {"husk": status(daemon, "VmRSS"), "lxcfs": status(lxcfs.pid, "VmRSS")},
            "peak_rss_kib": {"husk": status(daemon, "VmHWM"), "lxcfs": status(lxcfs.pid, "VmHWM")},
            "lxcfs": lxcfs_version(),
        }
    finally:
        subprocess.run(husk + ["delete", "--force", cid], stderr=subprocess.DEVNULL)
        pid_file = os.path.join(root, "@procfs.pid")
        if os.path.exists(pid_file):
            os.kill(int(open(pid_file).read()), 15)
            for _ in range(100):
                if not os.path.exists(pid_file):
                    break
                time.sleep(0.05)
        lxcfs.terminate()
        lxcfs.wait()
        subprocess.run(["umount", "-l", mnt], stderr=subprocess.DEVNULL)
    t, m, p = res["read_ns"], res["rss_kib"], res["peak_rss_kib"]
    print(f"procfs: one read of /proc/meminfo in a container (median of {args.rounds} rounds "
          f"of {args.reads}), and the daemons' memory")
    print("| | husk's daemon | lxcfs " + res["lxcfs"] + " | husk / lxcfs |")
    print("| --- | --- | --- | --- |")
    print(f"| read | {t['husk'] / 1000:.1f} µs | {t['lxcfs'] / 1000:.1f} µs | "
          f"{t['husk'] / t['lxcfs']:.2f} |")
    print(f"| RSS after the reads | {m['husk']} KiB | {m['lxcfs']} KiB | {m['husk'] / m['lxcfs']:.2f} |")
    print(f"| peak RSS | {p['husk']} KiB | {p['lxcfs']} KiB | {p['husk'] / p['lxcfs']:.2f} |")
    if args.out:
        os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
        json.dump(res, open(args.out, "w"), indent=2)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
