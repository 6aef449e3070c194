#!/usr/bin/env python3
"""The conformance suite: one bundle per rule of the runtime spec, run by each runtime under
test; inside, the checker (checker/) prints a TAP line per rule it checks. Lifecycle rules of
the runtime document are checked here, from outside, through the runtime's command line.

Usage: run.py --checker PATH --runtime husk=/path/to/husk [--runtime runc=/usr/sbin/runc]
              [--table FILE.md]      (as root)
The first runtime is the one under test: the exit code is 1 if any of its checks fail.
"""
import argparse, copy, json, os, shutil, signal, subprocess, sys, tempfile, time

MIB = 1 << 20


class Case:
    def __init__(self, name, section, tweak=None, lifecycle=None):
        self.name, self.section, self.tweak, self.lifecycle = name, section, tweak, lifecycle


class Holder:
    """Processes holding namespaces for the "joined by path" cases."""

    def __init__(self):
        self.procs = []

    def spawn(self, flags):
        p = subprocess.Popen(["unshare", *flags, "--fork", "--kill-child", "sleep", "1000"])
        self.procs.append(p)
        # The namespaces are the child's (for pid) or the unshare process's own.
        for _ in range(100):
            kids = open(f"/proc/{p.pid}/task/{p.pid}/children").read().split()
            if kids:
                return int(kids[0])
            time.sleep(0.02)
        raise RuntimeError("unshare did not start its child")

    def close(self):
        for p in self.procs:
            p.kill()
            p.wait()


def set_ns(c, typ, path=None, present=True):
    ns = [n for n in c["linux"]["namespaces"] if n["type"] != typ]
    if present:
        ns.append({"type": typ, **({"path": path} if path else {})})
    c["linux"]["namespaces"] = ns


def caps(c, names):
    c["process"]["capabilities"] = {k: list(names) for k in ["bounding", "effective", "permitted", "inheritable", "ambient"]}


def config_cases(holder_pid):
    C = []
    add = lambda name, section, tweak=None: C.append(Case(name, section, tweak))
    add("the default config", "all")
    add("root.readonly true", "root", lambda c: c["root"].update(readonly=True))
    add("hostname", "hostname", lambda c: c.update(hostname="conformance-host"))
    add("domainname", "domainname", lambda c: c.update(domainname="conformance.example"))
    add("hostname and domainname", "hostname", lambda c: c.update(hostname="h2", domainname="d2"))
    add("a new user namespace with mappings", "linux.namespaces", lambda c: (set_ns(c, "user"),
        c["linux"].update(uidMappings=[{"containerID": 0, "hostID": 100000, "size": 65536}],
                          gidMappings=[{"containerID": 0, "hostID": 100000, "size": 65536}])))
    add("a new cgroup namespace", "linux.namespaces", lambda c: set_ns(c, "cgroup"))
    add("a new time namespace with offsets", "linux.timeOffsets", lambda c: (set_ns(c, "time"),
        c["linux"].update(timeOffsets={"monotonic": {"secs": 3600, "nanosecs": 0}, "boottime": {"secs": 7200, "nanosecs": 0}})))
    for typ, proc in [("network", "net"), ("ipc", "ipc"), ("uts", "uts"), ("pid", "pid")]:
        add(f"{typ} namespace joined by path", "linux.namespaces",
            lambda c, typ=typ, proc=proc: (set_ns(c, typ, f"/proc/{holder_pid}/ns/{proc}"), c.pop("hostname", None) if typ == "uts" else None))
    for typ in ["network", "ipc", "uts", "pid"]:
        add(f"no {typ} namespace: the runtime's is inherited", "linux.namespaces",
            lambda c, typ=typ: (set_ns(c, typ, present=False), c.pop("hostname", None) if typ == "uts" else None,
                                c["linux"].pop("sysctl", None)))
    add("a tmpfs mount with options", "mounts", lambda c: c["mounts"].append(
        {"destination": "/conformance/tmpfs", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "noexec", "mode=700"]}))
    add("a read-only bind mount", "mounts", lambda c: c["mounts"].append(
        {"destination": "/conformance/bind", "type": "bind", "source": "/etc", "options": ["bind", "ro"]}))
    add("an rbind mount", "mounts", lambda c: c["mounts"].append(
        {"destination": "/conformance/rbind", "type": "none", "source": "/dev", "options": ["rbind", "nosuid"]}))
    add("mounts in config order", "mounts", lambda c: c["mounts"].extend([
        {"destination": "/conformance/m1", "type": "tmpfs", "source": "tmpfs", "options": ["nodev"]},
        {"destination": "/conformance/m2", "type": "tmpfs", "source": "tmpfs", "options": ["ro"]},
        {"destination": "/conformance/m1/nested", "type": "tmpfs", "source": "tmpfs", "options": ["noexec"]}]))
    add("a char device node", "linux.devices", lambda c: c["linux"].setdefault("devices", []).append(
        {"path": "/dev/conformance-null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o640, "uid": 1000, "gid": 1001}))
    add("a block device node", "linux.devices", lambda c: c["linux"].setdefault("devices", []).append(
        {"path": "/dev/conformance-loop", "type": "b", "major": 7, "minor": 200, "fileMode": 0o600}))
    add("a fifo device node", "linux.devices", lambda c: c["linux"].setdefault("devices", []).append(
        {"path": "/dev/conformance-fifo", "type": "p", "major": 0, "minor": 0}))
    add("masked paths", "linux.maskedPaths", lambda c: c["linux"]["maskedPaths"].extend(["/etc/group", "/conformance/masked-dir"]))
    add("read-only paths", "linux.readonlyPaths", lambda c: c["linux"]["readonlyPaths"].extend(["/etc", "/conformance/ro-dir"]))
    add("user, groups and umask", "process.user", lambda c: c["process"].update(
        user={"uid": 1000, "gid": 1001, "additionalGids": [2000, 2001], "umask": 0o077}))
    add("umask alone", "process.user", lambda c: c["process"]["user"].update(umask=0o027))
    add("cwd", "process.cwd", lambda c: c["process"].update(cwd="/tmp"))
    add("env", "process.env", lambda c: c["process"]["env"].extend(["CONFORMANCE=yes", "EMPTY=", "SPACES=a b c"]))
    add("args", "process.args", lambda c: c["process"]["args"].extend(["--flag", "two words", ""]))
    add("capabilities: CAP_KILL only", "process.capabilities", lambda c: caps(c, ["CAP_KILL"]))
    add("capabilities: none", "process.capabilities", lambda c: c["process"].update(capabilities={}))
    add("capabilities of a non-root user with ambient", "process.capabilities", lambda c: (
        caps(c, ["CAP_KILL", "CAP_NET_BIND_SERVICE"]), c["process"].update(user={"uid": 1000, "gid": 1000})))
    add("rlimits: NOFILE", "process.rlimits", lambda c: c["process"].update(rlimits=[{"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1024}]))
    add("rlimits: several", "process.rlimits", lambda c: c["process"].update(rlimits=[
        {"type": "RLIMIT_CORE", "soft": 0, "hard": 1 << 20}, {"type": "RLIMIT_NPROC", "soft": 500, "hard": 1000},
        {"type": "RLIMIT_CPU", "soft": 100, "hard": 200}, {"type": "RLIMIT_MSGQUEUE", "soft": 8192, "hard": 8192}]))
    add("noNewPrivileges false", "process.noNewPrivileges", lambda c: c["process"].update(noNewPrivileges=False))
    add("noNewPrivileges true", "process.noNewPrivileges", lambda c: c["process"].update(noNewPrivileges=True))
    add("oomScoreAdj", "process.oomScoreAdj", lambda c: c["process"].update(oomScoreAdj=500))
    add("sysctl (ipc and net)", "linux.sysctl", lambda c: c["linux"].update(sysctl={"kernel.shmmax": "123456789", "net.ipv4.ip_forward": "1"}))
    add("memory limit and reservation", "linux.resources.memory", lambda c: c["linux"].setdefault("resources", {}).update(
        memory={"limit": 64 * MIB, "reservation": 32 * MIB}))
    add("cpu shares, quota and period", "linux.resources.cpu", lambda c: c["linux"].setdefault("resources", {}).update(
        cpu={"shares": 512, "quota": 20000, "period": 100000}))
    add("cpuset cpus and mems", "linux.resources.cpu", lambda c: c["linux"].setdefault("resources", {}).update(cpu={"cpus": "0", "mems": "0"}))
    add("pids limit", "linux.resources.pids", lambda c: c["linux"].setdefault("resources", {}).update(pids={"limit": 42}))
    add("hugepage limits", "linux.resources.hugepageLimits", lambda c: c["linux"].setdefault("resources", {}).update(
        hugepageLimits=[{"pageSize": "2MB", "limit": 4 * MIB}]))
    # /dev/fuse (10:229): not in the default allowances, and root opens it with no capability,
    # so only the device cgroup decides whether it opens.
    add("device cgroup rules: allow", "linux.resources.devices", lambda c: (
        c["linux"].setdefault("resources", {}).update(devices=[{"allow": False, "access": "rwm"},
            {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rwm"}]),
        [c["process"]["capabilities"][s].append("CAP_MKNOD") for s in ["bounding", "effective", "permitted"]]))
    add("device cgroup rules: deny", "linux.resources.devices", lambda c: (
        c["linux"].setdefault("resources", {}).update(devices=[{"allow": True, "access": "rwm"},
            {"allow": False, "type": "c", "major": 10, "minor": 229, "access": "rw"}]),
        [c["process"]["capabilities"][s].append("CAP_MKNOD") for s in ["bounding", "effective", "permitted"]]))
    add("seccomp: an errno rule", "linux.seccomp", lambda c: c["linux"].update(seccomp={
        "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}))
    add("seccomp: default errno", "linux.seccomp", lambda c: c["linux"].update(seccomp={
        "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["uname"], "action": "SCMP_ACT_ERRNO"}]}))
    add("seccomp: Docker's default profile", "linux.seccomp", lambda c: c["linux"].update(
        seccomp=json.load(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../tests/fixtures/docker-default.json")))))
    add("personality LINUX32", "linux.personality", lambda c: c["linux"].update(personality={"domain": "LINUX32"}))
    add("personality LINUX", "linux.personality", lambda c: c["linux"].update(personality={"domain": "LINUX"}))
    add("ioPriority best-effort 4", "process.ioPriority", lambda c: c["process"].update(ioPriority={"class": "IOPRIO_CLASS_BE", "priority": 4}))
    add("ioPriority idle", "process.ioPriority", lambda c: c["process"].update(ioPriority={"class": "IOPRIO_CLASS_IDLE", "priority": 0}))
    add("scheduler batch, nice 3", "process.scheduler", lambda c: c["process"].update(scheduler={"policy": "SCHED_BATCH", "nice": 3}))
    add("scheduler idle", "process.scheduler", lambda c: c["process"].update(scheduler={"policy": "SCHED_IDLE"}))
    add("a relative cgroupsPath", "linux.cgroupsPath", lambda c: (c["linux"].update(cgroupsPath=f"conformance-{os.getpid()}/x"),
        c["linux"].setdefault("resources", {}).update(pids={"limit": 77})))
    add("rootfsPropagation private", "linux.rootfsPropagation", lambda c: c["linux"].update(rootfsPropagation="private"))
    add("rootfsPropagation slave", "linux.rootfsPropagation", lambda c: c["linux"].update(rootfsPropagation="slave"))
    add("unknown annotations and properties are accepted", "annotations", lambda c: (
        c.update(annotations={"org.example.unknown": "v"}), c.update({"org.example.extension": {"x": 1}})))
    add("a non-root user with a read-only root", "process.user", lambda c: (c["process"].update(user={"uid": 65534, "gid": 65534}),
        c["root"].update(readonly=True)))
    return C


# --- lifecycle rules, checked through the runtime's command line -------------------------

def lifecycle_cases():
    return [Case(n, "runtime.md", lifecycle=f) for n, f in [
        ("state of a created container", lc_state_created),
        ("start runs the process; state goes created, running, stopped", lc_transitions),
        ("create on an existing id fails and leaves the first", lc_create_twice),
        ("start on a running container fails", lc_start_running),
        ("start on a stopped container fails", lc_start_stopped),
        ("kill of a created container stops it", lc_kill_created),
        ("kill of a stopped container fails", lc_kill_stopped),
        ("delete of a created container removes it", lc_delete_created),
        ("delete of a running container fails", lc_delete_running),
        ("state of an unknown container fails", lc_state_unknown),
        ("hooks run in order with the state on stdin", lc_hooks),
        ("createContainer hooks run in the container's mount namespace", lc_hook_namespaces),
        ("a failing prestart hook stops creation", lambda r, b: lc_failing_hook(r, b, "prestart")),
        ("a failing createRuntime hook stops creation", lambda r, b: lc_failing_hook(r, b, "createRuntime")),
        ("poststop runs on delete", lc_poststop),
        ("an invalid config is refused and leaves nothing", lc_invalid),
    ]]


IDS = [0]


class RT:
    def __init__(self, name, path, tmp):
        self.name, self.path, self.tmp = name, path, tmp
        self.root = os.path.join(tmp, "state-" + name)
        os.makedirs(self.root, exist_ok=True)

    def new_id(self):
        IDS[0] += 1
        return f"conf-{os.getpid()}-{IDS[0]}"

    def __call__(self, *args, timeout=60):
        # Output through files, not pipes: a created container inherits the runtime's stdio
        # and would hold a pipe open.
        with tempfile.TemporaryFile(mode="w+") as out, tempfile.TemporaryFile(mode="w+") as err:
            r = subprocess.run([self.path, "--root", self.root, *args], stdin=subprocess.DEVNULL,
                               stdout=out, stderr=err, timeout=timeout)
            out.seek(0)
            err.seek(0)
            return subprocess.CompletedProcess(r.args, r.returncode, out.read(), err.read())

    def state(self, cid):
        r = self("state", cid)
        return json.loads(r.stdout) if r.returncode == 0 else None

    def wait_status(self, cid, want, secs=10):
        end = time.time() + secs
        while time.time() < end:
            s = self.state(cid)
            if s and s["status"] == want:
                return True
            time.sleep(0.05)
        return False


def sleeper(bundle):
    c = json.load(open(os.path.join(bundle, "config.json")))
    c["process"]["args"] = ["/bin/sleep", "1000"]
    json.dump(c, open(os.path.join(bundle, "config.json"), "w"))


def lc_state_created(rt, b):
    sleeper(b)
    cid = rt.new_id()
    r = rt("create", "--bundle", b, cid)
    checks = [("create succeeds", r.returncode == 0, r.stderr)]
    s = rt.state(cid) or {}
    for f in ["ociVersion", "id", "status", "pid", "bundle"]:
        checks.append((f"state has {f}", f in s, s))
    checks.append(("state.status is created", s.get("status") == "created", s.get("status")))
    checks.append(("state.id is the id", s.get("id") == cid, s.get("id")))
    checks.append(("state.bundle is the bundle's absolute path", s.get("bundle") == os.path.abspath(b), s.get("bundle")))
    checks.append(("state.pid is the process's pid", s.get("pid", 0) > 0 and os.path.exists(f"/proc/{s.get('pid')}"), s.get("pid")))
    rt("delete", "--force", cid)
    return checks


def lc_transitions(rt, b):
    c = json.load(open(os.path.join(b, "config.json")))
    c["process"]["args"] = ["/bin/sh", "-c", "sleep 0.5"]
    json.dump(c, open(os.path.join(b, "config.json"), "w"))
    cid = rt.new_id()
    rt("create", "--bundle", b, cid)
    r = rt("start", cid)
    checks = [("start succeeds", r.returncode == 0, r.stderr),
              ("running after start", (rt.state(cid) or {}).get("status") == "running", rt.state(cid)),
              ("stopped after the process exits", rt.wait_status(cid, "stopped"), rt.state(cid))]
    r = rt("delete", cid)
    checks.append(("delete of a stopped container succeeds", r.returncode == 0, r.stderr))
    checks.append(("state fails after delete", rt.state(cid) is None, ""))
    return checks


def lc_create_twice(rt, b):
    sleeper(b)
    cid = rt.new_id()
    rt("create", "--bundle", b, cid)
    r = rt("create", "--bundle", b, cid)
    s = rt.state(cid) or {}
    checks = [("the second create fails", r.returncode != 0, r.stdout), ("the first is still created", s.get("status") == "created", s)]
    rt("delete", "--force", cid)
    return checks


def lc_start_running(rt, b):
    sleeper(b)
    cid = rt.new_id()
    rt("create", "--bundle", b, cid)
    rt("start", cid)
    r = rt("start", cid)
    checks = [("start on running fails", r.returncode != 0, ""), ("still running", (rt.state(cid) or {}).get("status") == "running", "")]
    rt("delete", "--force", cid)
    return checks


def lc_start_stopped(rt, b):
    cid = rt.new_id()
    c = json.load(open(os.path.join(b, "config.json")))
    c["process"]["args"] = ["/bin/true"]
    json.dump(c, open(os.path.join(b, "config.json"), "w"))
    rt("create", "--bundle", b, cid)
    rt("start", cid)
    rt.wait_status(cid, "stopped")
    r = rt("start", cid)
    checks = [("start on stopped fails", r.returncode != 0, "")]
    rt("delete", "--force", cid)
    return checks


def lc_kill_created(rt, b):
    sleeper(b)
    cid = rt.new_id()
    rt("create", "--bundle", b, cid)
    r = rt("kill", cid, "KILL")
    checks = [("kill of a created container succeeds", r.returncode == 0, r.stderr),
              ("it is stopped", rt.wait_status(cid, "stopped"), rt.state(cid))]
    rt("delete", "--force", cid)
    return checks


def lc_kill_stopped(rt, b):
    sleeper(b)
    cid = rt.new_id()
    rt("create", "--bundle", b, cid)
    rt("kill", cid, "KILL")
    rt.wait_status(cid, "stopped")
    r = rt("kill", cid, "KILL")
    checks = [("kill of a stopped container fails", r.returncode != 0, "")]
    rt("delete", "--force", cid)
    return checks


def lc_delete_created(rt, b):
    sleeper(b)
    cid = rt.new_id()
    rt("create", "--bundle", b, cid)
    pid = (rt.state(cid) or {}).get("pid", 0)
    r = rt("delete", "--force", cid)
    time.sleep(0.1)
    gone = not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split(")")[1].split()[0] == "Z"
    return [("delete of a created container succeeds", r.returncode == 0, r.stderr), ("its process is gone", gone, pid),
            ("its state is gone", rt.state(cid) is None, "")]


def lc_delete_running(rt, b):
    sleeper(b)
    cid = rt.new_id()
    rt("create", "--bundle", b, cid)
    rt("start", cid)
    r = rt("delete", cid)
    checks = [("delete of a running container fails", r.returncode != 0, ""),
              ("it is still running", (rt.state(cid) or {}).get("status") == "running", "")]
    rt("delete", "--force", cid)
    return checks


def lc_state_unknown(rt, b):
    r = rt("state", "no-such-container-conformance")
    return [("state of an unknown id fails", r.returncode != 0, r.stdout)]


def hook(log, name, extra=""):
    # Appends "name status mnt-namespace" to the log.
    script = f'st=$(cat | tr -d " " | grep -o \'"status":"[a-z]*"\' | cut -d\\" -f4); echo "{name} $st $(readlink /proc/self/ns/mnt)" >> {log}{extra}'
    return {"path": "/bin/sh", "args": ["sh", "-c", script]}


def lc_hooks(rt, b):
    log = os.path.join(b, "rootfs", "hooks.log")
    c = json.load(open(os.path.join(b, "config.json")))
    c["process"]["args"] = ["/bin/true"]
    c["hooks"] = {"prestart": [hook(log, "prestart")], "createRuntime": [hook(log, "createRuntime")],
                  "createContainer": [hook(log, "createContainer")], "startContainer": [hook("/hooks.log", "startContainer")],
                  "poststart": [hook(log, "poststart")], "poststop": [hook(log, "poststop")]}
    json.dump(c, open(os.path.join(b, "config.json"), "w"))
    cid = rt.new_id()
    rt("create", "--bundle", b, cid)
    rt("start", cid)
    rt.wait_status(cid, "stopped")
    rt("delete", cid)
    lines = [l.split() for l in open(log).read().splitlines()] if os.path.exists(log) else []
    names = [l[0] for l in lines]
    status = {l[0]: (l[1] if len(l) > 1 else "") for l in lines}
    want = ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]
    return [("every hook ran, in the lifecycle's order", names == want, names),
            ("createRuntime gets the state (creating)", status.get("createRuntime") in ("creating", "created"), status),
            ("startContainer gets the state (created)", status.get("startContainer") == "created", status),
            ("poststart gets the state (running)", status.get("poststart") in ("running", "stopped"), status),
            ("poststop gets the state (stopped)", status.get("poststop") == "stopped", status)]


def lc_hook_namespaces(rt, b):
    log = os.path.join(b, "rootfs", "hooks.log")
    c = json.load(open(os.path.join(b, "config.json")))
    c["process"]["args"] = ["/bin/true"]
    c["hooks"] = {"prestart": [hook(log, "prestart")], "createContainer": [hook(log, "createContainer")]}
    json.dump(c, open(os.path.join(b, "config.json"), "w"))
    cid = rt.new_id()
    rt("create", "--bundle", b, cid)
    pid = (rt.state(cid) or {}).get("pid", 0)
    cmnt = os.readlink(f"/proc/{pid}/ns/mnt") if pid else "?"
    rt("delete", "--force", cid)
    lines = {l.split()[0]: l.split()[-1] for l in open(log).read().splitlines()} if os.path.exists(log) else {}
    host = os.readlink("/proc/self/ns/mnt")
    return [("prestart runs in the runtime's mount namespace", lines.get("prestart") == host, lines),
            ("createContainer runs in the container's mount namespace", lines.get("createContainer") == cmnt, (lines, cmnt))]


def lc_failing_hook(rt, b, kind):
    log = os.path.join(b, "rootfs", "hooks.log")
    c = json.load(open(os.path.join(b, "config.json")))
    c["hooks"] = {kind: [{"path": "/bin/sh", "args": ["sh", "-c", "exit 3"]}], "createContainer": [hook(log, "createContainer")]}
    json.dump(c, open(os.path.join(b, "config.json"), "w"))
    cid = rt.new_id()
    r = rt("create", "--bundle", b, cid)
    checks = [(f"create fails when {kind} fails", r.returncode != 0, ""),
              ("no container is left", rt.state(cid) is None, rt.state(cid)),
              ("the later hooks did not run", not os.path.exists(log), "")]
    rt("delete", "--force", cid)
    return checks


def lc_poststop(rt, b):
    log = os.path.join(b, "poststop.log")
    c = json.load(open(os.path.join(b, "config.json")))
    c["process"]["args"] = ["/bin/sleep", "1000"]
    c["hooks"] = {"poststop": [{"path": "/bin/sh", "args": ["sh", "-c", f"echo ran >> {log}"]}]}
    json.dump(c, open(os.path.join(b, "config.json"), "w"))
    cid = rt.new_id()
    rt("create", "--bundle", b, cid)
    before = os.path.exists(log)
    rt("delete", "--force", cid)
    return [("poststop has not run before delete", not before, ""), ("poststop ran on delete", os.path.exists(log), "")]


def lc_invalid(rt, b):
    c = json.load(open(os.path.join(b, "config.json")))
    c["process"]["cwd"] = "relative/path"
    json.dump(c, open(os.path.join(b, "config.json"), "w"))
    cid = rt.new_id()
    r = rt("create", "--bundle", b, cid)
    checks = [("create refuses a relative process.cwd", r.returncode != 0, ""), ("no container is left", rt.state(cid) is None, "")]
    rt("delete", "--force", cid)
    return checks


# --- running ------------------------------------------------------------------------------

def make_bundle(tmp, base_rootfs, base_config, checker, name):
    b = tempfile.mkdtemp(prefix=name[:20].replace(" ", "-").replace("/", "-") + "-", dir=tmp)
    os.chmod(b, 0o755)
    subprocess.run(["cp", "-a", base_rootfs, os.path.join(b, "rootfs")], check=True)
    os.makedirs(os.path.join(b, "rootfs/conformance/masked-dir"), exist_ok=True)
    open(os.path.join(b, "rootfs/conformance/masked-dir/secret"), "w").write("secret\n")
    os.makedirs(os.path.join(b, "rootfs/conformance/ro-dir"), exist_ok=True)
    shutil.copy(checker, os.path.join(b, "rootfs/conformance/checker"))
    json.dump(base_config, open(os.path.join(b, "config.json"), "w"))
    return b


def run_config_case(rt, case, b, expect):
    c = json.load(open(os.path.join(b, "config.json")))
    if case.tweak:
        case.tweak(c)
    json.dump(c, open(os.path.join(b, "config.json"), "w"))
    json.dump(c, open(os.path.join(b, "rootfs/conformance/config.json"), "w"))
    json.dump(expect, open(os.path.join(b, "rootfs/conformance/expect.json"), "w"))
    cid = rt.new_id()
    try:
        r = rt("run", "--bundle", b, cid, timeout=60)
    except subprocess.TimeoutExpired:
        rt("delete", "--force", cid)
        return [("the runtime runs the container", False, "timed out")]
    rt("delete", "--force", cid)
    checks = []
    for line in r.stdout.splitlines():
        if line.startswith("ok ") or line.startswith("not ok "):
            ok = line.startswith("ok ")
            rest = line.split(" - ", 1)[1] if " - " in line else line
            name, _, detail = rest.partition(" # ")
            checks.append((name, ok, detail))
    if not checks:
        err = (r.stderr.strip().splitlines() or [""])[-1]
        checks.append(("the runtime runs the container", False, err))
    return checks


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--checker", required=True)
    ap.add_argument("--runtime", action="append", required=True, help="name=path")
    ap.add_argument("--table")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    runtimes = [tuple(r.split("=", 1)) for r in args.runtime]
    tmp = tempfile.mkdtemp(prefix="husk-conformance-")
    os.chmod(tmp, 0o755)  # a user namespace's root must reach the bundles
    holder = Holder()
    try:
        rootfs = os.path.join(tmp, "rootfs")
        for d in ["bin", "proc", "sys", "dev", "tmp", "etc", "root", "conformance", "mnt"]:
            os.makedirs(os.path.join(rootfs, d), exist_ok=True)
        bb = shutil.which("busybox")
        shutil.copy(bb, os.path.join(rootfs, "bin/busybox"))
        for a in subprocess.run([bb, "--list"], capture_output=True, text=True).stdout.split():
            if a != "busybox":
                os.symlink("busybox", os.path.join(rootfs, "bin", a))
        open(os.path.join(rootfs, "etc/passwd"), "w").write("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n")
        open(os.path.join(rootfs, "etc/group"), "w").write("root:x:0:\nnogroup:x:65534:\n")
        spec_dir = os.path.join(tmp, "spec")
        os.makedirs(spec_dir)
        subprocess.run([dict(runtimes)["husk"] if "husk" in dict(runtimes) else runtimes[0][1], "spec", "--bundle", spec_dir], check=True)
        base = json.load(open(os.path.join(spec_dir, "config.json")))
        base["process"]["terminal"] = False
        base["process"]["args"] = ["/conformance/checker"]
        base["root"]["readonly"] = False
        holder_pid = holder.spawn(["--net", "--ipc", "--uts", "--pid", "--mount-proc"])
        expect = {"host_ns": {n: os.readlink(f"/proc/self/ns/{n}") for n in ["pid", "net", "mnt", "ipc", "uts", "user", "cgroup", "time"]
                              if os.path.exists(f"/proc/self/ns/{n}")},
                  "joined": {f"/proc/{holder_pid}/ns/{n}": os.readlink(f"/proc/{holder_pid}/ns/{n}") for n in ["net", "ipc", "uts", "pid"]}}
        cases = config_cases(holder_pid) + lifecycle_cases()
        results = {name: [] for name, _ in runtimes}
        for case in cases:
            for name, path in runtimes:
                rt = RT(name, path, tmp)
                b = make_bundle(tmp, rootfs, base, args.checker, case.name)
                try:
                    if case.lifecycle:
                        checks = case.lifecycle(rt, b)
                    else:
                        checks = run_config_case(rt, case, b, expect)
                except Exception as e:  # a crash of the driver on one case is that case's failure
                    checks = [("the case ran", False, repr(e))]
                finally:
                    shutil.rmtree(b, ignore_errors=True)
                results[name].append((case, checks))
                if args.verbose or name == runtimes[0][0]:
                    for chk, ok, detail in checks:
                        if not ok:
                            print(f"{name}: not ok - {case.name}: {chk} # {str(detail)[:200]}")
        # Side by side.
        names = [n for n, _ in runtimes]
        lines = ["| case | section | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
        for i, case in enumerate(cases):
            cells = []
            for n in names:
                checks = results[n][i][1]
                ok = sum(1 for c in checks if c[1])
                cells.append(f"{ok}/{len(checks)}" + ("" if ok == len(checks) else " ✗"))
            lines.append(f"| {case.name} | {case.section} | " + " | ".join(cells) + " |")
        totals = {}
        for n in names:
            allc = [c for _, checks in results[n] for c in checks]
            totals[n] = (sum(1 for c in allc if c[1]), sum(1 for c in allc if not c[1]))
        lines.append("| **total checks** | | " + " | ".join(f"{p} passed, {f} failed" for p, f in totals.values()) + " |")
        table = "\n".join(lines)
        print(table)
        diff = []
        for i, case in enumerate(cases):
            if len(names) > 1:
                a = {c[0]: c[1] for c in results[names[0]][i][1]}
                b2 = {c[0]: c[1] for c in results[names[1]][i][1]}
                for k in sorted(set(a) | set(b2)):
                    if a.get(k) != b2.get(k):
                        detail = [c[2] for c in results[names[1]][i][1] if c[0] == k and not c[1]] or [c[2] for c in results[names[0]][i][1] if c[0] == k and not c[1]]
                        diff.append(f"- {case.name}: {k}: {names[0]} {'ok' if a.get(k) else 'not ok' if k in a else 'absent'}, "
                                    f"{names[1]} {'ok' if b2.get(k) else 'not ok' if k in b2 else 'absent'} ({str(detail[0])[:160] if detail else ''})")
        if diff:
            print("\nWhere they differ:\n" + "\n".join(diff))
        if args.table:
            open(args.table, "w").write(table + ("\n\nWhere they differ:\n" + "\n".join(diff) if diff else "") + "\n")
        print(f"\n{len(cases)} cases")
        p, f = totals[names[0]]
        print(f"test result: {'ok' if f == 0 else 'FAILED'}. {p} passed; {f} failed ({names[0]} conformance)")
        sys.exit(0 if f == 0 else 1)
    finally:
        holder.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
