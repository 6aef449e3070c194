//! `process`: user, groups, umask, cwd, env, noNewPrivileges, the exec of `args`, and the
//! order in which privileges are dropped before it.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use nix::sys::prctl;
use nix::sys::stat::Mode;
use nix::unistd::{setgroups, setresgid, setresuid, Gid, Uid};
use oci_spec::runtime::Process;

use crate::capabilities::CapPlan;
use crate::error::{fail, StepContext, SysError};
use crate::exec_stub::ExecStub;

pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Everything needed to become the container's process, built before the last steps so that
/// nothing is parsed after privileges are gone.
#[derive(Debug, Clone)]
pub struct ExecPlan {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: PathBuf,
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub umask: u32,
    pub no_new_privs: bool,
    pub caps: CapPlan,
}

impl ExecPlan {
    pub fn from_process(p: &Process) -> Result<ExecPlan, SysError> {
        Ok(ExecPlan {
            args: p.args().clone().unwrap_or_default(),
            env: p.env().clone().unwrap_or_default(),
            cwd: p.cwd().clone(),
            uid: p.user().uid(),
            gid: p.user().gid(),
            groups: p.user().additional_gids().clone().unwrap_or_default(),
            umask: p.user().umask().unwrap_or(0o022),
            no_new_privs: p.no_new_privileges().unwrap_or(false),
            caps: CapPlan::from_spec(p.capabilities().as_ref())?,
        })
    }

    /// Each variable once, its last value winning, in the order of those last occurrences
    /// (runc's prepareEnv); then HOME from the container's /etc/passwd when the config does
    /// not set it to something non-empty (as runc).
    pub fn finish_env(&mut self) {
        self.env = dedup_env(&self.env);
        let home_set = self
            .env
            .iter()
            .any(|e| e.strip_prefix("HOME=").is_some_and(|h| !h.is_empty()));
        if home_set {
            return;
        }
        let home = std::fs::read_to_string("/etc/passwd")
            .ok()
            .and_then(|p| {
                p.lines().find_map(|l| {
                    let f: Vec<&str> = l.split(':').collect();
                    (f.len() > 5 && f[2].parse() == Ok(self.uid)).then(|| f[5].to_string())
                })
            })
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "/".into());
        let entry = format!("HOME={home}");
        match self.env.iter_mut().find(|e| e.starts_with("HOME=")) {
            Some(e) => *e = entry,
            None => self.env.push(entry),
        }
    }

    fn path_var(&self) -> String {
        self.env
            .iter()
            .find_map(|e| e.strip_prefix("PATH="))
            .unwrap_or(DEFAULT_PATH)
            .to_string()
    }

    /// Find args[0] in the container (after pivot_root): as given if it has a slash, else in
    /// PATH. The errors carry runc's words, which clients match: Docker turns "no such file
    /// or directory" and "executable file not found" into exit code 127 and "permission
    /// denied" into 126.
    pub fn find_executable(&self) -> Result<PathBuf, SysError> {
        let arg0 = self.args.first().map(String::as_str).unwrap_or_default();
        let step = || format!("exec: {arg0:?}");
        if arg0.contains('/') {
            let p = if Path::new(arg0).is_absolute() {
                PathBuf::from(arg0)
            } else {
                self.cwd.join(arg0)
            };
            return match executable(&p) {
                Ok(()) => Ok(PathBuf::from(arg0)),
                Err(why) => Err(fail(step(), why)),
            };
        }
        for dir in self.path_var().split(':') {
            let dir = if dir.is_empty() { "." } else { dir };
            let p = Path::new(dir).join(arg0);
            if executable(&p).is_ok() {
                return Ok(p);
            }
        }
        Err(fail(step(), "executable file not found in $PATH"))
    }

    /// Drop to the configured identity: bounding set, then groups/gid/uid with keep-caps, then
    /// the capability sets, then no_new_privs.
    pub fn become_user(&self) -> Result<(), SysError> {
        self.caps.apply_bounding()?;
        prctl::set_keepcaps(true).step(|| "prctl(PR_SET_KEEPCAPS)")?;
        let groups: Vec<Gid> = self.groups.iter().map(|g| Gid::from_raw(*g)).collect();
        match setgroups(&groups) {
            Ok(()) => {}
            // setgroups is denied in some user namespaces; only a failure that loses groups the
            // config asked for is an error.
            Err(e) if groups.is_empty() => tracing::debug!("setgroups([]): {e}"),
            Err(e) => return Err(e).step(|| format!("setgroups({:?})", self.groups)),
        }
        let gid = Gid::from_raw(self.gid);
        setresgid(gid, gid, gid).step(|| format!("setresgid({})", self.gid))?;
        let uid = Uid::from_raw(self.uid);
        setresuid(uid, uid, uid).step(|| format!("setresuid({})", self.uid))?;
        prctl::set_keepcaps(false).step(|| "prctl(PR_SET_KEEPCAPS, 0)")?;
        self.caps.apply_sets()?;
        if self.no_new_privs {
            prctl::set_no_new_privs().step(|| "prctl(PR_SET_NO_NEW_PRIVS)")?;
        }
        Ok(())
    }

    /// Open the working directory inside the container's root without magic links: a cwd of
    /// `/proc/self/fd/N` cannot reach a directory husk still holds open on the host
    /// (CVE-2024-21626). Done before seccomp is loaded, so the filter need not allow openat2.
    pub fn open_cwd(&self) -> Result<OwnedFd, SysError> {
        let step = || format!("process.cwd {}", self.cwd.display());
        let root = crate::resolve::Root::open(Path::new("/")).map_err(|e| fail(step(), e))?;
        root.open_path(&self.cwd, libc::O_PATH | libc::O_DIRECTORY)
            .step(step)
    }

    /// Enter the working directory opened by `open_cwd` while still root, as runc does, so
    /// that a cwd the user could not search but the runtime can (/root, mode 0700) works. The
    /// bool says whether it is done; if root itself may not enter it (a directory only the
    /// container's user owns, rootless), `enter_cwd_as_user` does it after the user switch.
    pub fn enter_cwd_early(&self, dir: &OwnedFd) -> Result<bool, SysError> {
        match nix::unistd::fchdir(dir.as_raw_fd()) {
            Ok(()) => Ok(true),
            Err(nix::Error::EACCES) => Ok(false),
            Err(e) => Err(e).step(|| format!("chdir to process.cwd {}", self.cwd.display())),
        }
    }

    /// Enter the working directory as the user, when `enter_cwd_early` could not.
    pub fn enter_cwd_as_user(&self, dir: &OwnedFd) -> Result<(), SysError> {
        nix::unistd::fchdir(dir.as_raw_fd())
            .step(|| format!("chdir to process.cwd {}", self.cwd.display()))
    }

    pub fn apply_umask(&self) {
        nix::sys::stat::umask(Mode::from_bits_truncate(self.umask));
    }

    /// execve, through husk's exec stub when there is one (exec_stub.rs); returns only on
    /// failure.
    pub fn exec(&self, path: &Path, stub: Option<&ExecStub>) -> SysError {
        let all = |what: &str, list: &[String]| -> Result<Vec<CString>, SysError> {
            list.iter()
                .map(|s| crate::error::c_string(what, s.as_bytes()))
                .collect()
        };
        let c_strings = (
            all("process.args", &self.args),
            all("process.env", &self.env),
            crate::error::c_string(path.display(), path.as_os_str().as_bytes()),
        );
        let (argv, envp, cpath) = match c_strings {
            (Ok(a), Ok(e), Ok(p)) => (a, e, p),
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return e,
        };
        let err = match stub {
            Some(stub) => stub.exec(&cpath, &argv, &envp),
            None => nix::unistd::execve(&cpath, &argv, &envp).unwrap_err(),
        };
        let err = std::io::Error::from_raw_os_error(err as i32);
        fail(
            format!("exec {}", path.display()),
            crate::error::errno_text(&err),
        )
    }
}

/// `env` with each name once: the last occurrence of each, in their original order.
fn dedup_env(env: &[String]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    let mut out: Vec<String> = env
        .iter()
        .rev()
        .filter(|e| seen.insert(e.split_once('=').map_or(e.as_str(), |(k, _)| k)))
        .cloned()
        .collect();
    out.reverse();
    out
}

/// Whether `p` can be exec'd: a file with an execute bit. The error is Go's exec.LookPath's,
/// as runc reports it: the stat error ("stat /x: no such file or directory"), or "permission
/// denied" for a directory or a file without an execute bit.
fn executable(p: &Path) -> Result<(), String> {
    match std::fs::metadata(p) {
        Err(e) => Err(format!(
            "stat {}: {}",
            p.display(),
            crate::error::errno_text(&e)
        )),
        Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => Ok(()),
        Ok(_) => Err("permission denied".into()),
    }
}

/// `process.scheduler`, `process.ioPriority`, `linux.personality` and `linux.memoryPolicy`:
/// set just before the privileges are dropped (real-time scheduling needs CAP_SYS_NICE), for
/// the init and for every exec'd process.
pub fn apply_scheduling(p: &Process, linux: &oci_spec::runtime::Linux) -> Result<(), SysError> {
    let personality = linux.personality().as_ref();
    if let Some(mp) = linux.memory_policy() {
        crate::memory_policy::apply(mp)?;
    }
    if let Some(s) = p.scheduler() {
        let cpus = linux
            .resources()
            .as_ref()
            .and_then(|r| r.cpu().as_ref())
            .and_then(|c| c.cpus().as_deref());
        crate::scheduler::apply(s, cpus)?;
    }
    if let Some(io) = p.io_priority() {
        crate::io_priority::apply(io)?;
    }
    if let Some(per) = personality {
        crate::personality::apply(per)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_variable_given_twice_is_set_once_to_its_last_value() {
        let env: Vec<String> = ["ONE=two", "PATH=/bin", "ONE=", "TWO=2", "TWO=3"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(dedup_env(&env), ["PATH=/bin", "ONE=", "TWO=3"]);
    }

    #[test]
    fn plan_takes_defaults_from_the_spec() {
        let p: Process =
            serde_json::from_str(r#"{"args":["sh"],"cwd":"/","user":{"uid":1,"gid":2}}"#).unwrap();
        let plan = ExecPlan::from_process(&p).unwrap();
        assert_eq!((plan.uid, plan.gid, plan.umask), (1, 2, 0o022));
        assert_eq!(plan.path_var(), DEFAULT_PATH);
        assert!(!plan.no_new_privs);
    }
}
