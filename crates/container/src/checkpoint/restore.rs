//! `husk restore`: a container made again from a checkpoint. husk makes its state and its
//! cgroup (with the config's limits) as `create` does; CRIU, run inside that cgroup, brings
//! the processes back; the container is then husk's as any other (`state`, `exec`, `kill`,
//! `pause`, `delete`). Whatever fails, nothing half-restored is left.

use std::fs;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use husk_cgroups::Cgroup;
use husk_spec::{Bundle, Status};
use nix::mount::MsFlags;
use nix::sched::CloneFlags;
use oci_spec::runtime::Spec;

use super::criu::Criu;
use super::dump::{common_opts, config_file, open_dir, open_work_dir, too_old, Dirs};
use super::externals::{self, ExternalMount};
use super::proto::{Message, ReqType, Response};
use super::{CheckpointError, CriuOptions, ImageRecord, DESCRIPTORS, IMAGE_RECORD};
use crate::cgroup_driver::CgroupDriver;
use crate::create::{make_cgroup, write_pid_file, CreateOptions};
use crate::error::StepContext;
use crate::state::{owner_of, ContainerDir, Creator, Store, Stored};
use crate::{kill, process_info, Error};

/// The flags of `husk restore`.
#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    pub id: String,
    pub criu: CriuOptions,
    pub bundle: PathBuf,
    pub detach: bool,
    pub console_socket: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    /// Accepted as runc does: CRIU puts the root mount back as it was saved.
    pub no_pivot: bool,
    pub systemd_cgroup: bool,
}

/// Restore container `opts.id` from `opts.criu.image_path`; returns the restored init's pid.
pub fn restore(store: &Store, opts: &RestoreOptions) -> Result<i32, Error> {
    crate::state::validate_id(&opts.id)?;
    if crate::rootless::is_rootless() {
        return Err(Error::Rootless(
            "restore: CRIU needs root to restore a container".into(),
        ));
    }
    if store.root.join(&opts.id).exists() {
        return Err(crate::StateError::Exists(opts.id.clone()).into());
    }
    let bundle = Bundle::load(&opts.bundle)?;
    check_terminal(&bundle.spec, opts)?;
    let criu = Criu::new(opts.criu.criu.as_deref());
    let version = criu.version()?;
    check_namespaces(&bundle.spec, version)?;
    let images = opts.criu.image_path.clone();
    let dir = store.create(&opts.id)?;
    let mut r = Restoring::begin(dir, opts, bundle, images)?;
    r.check_image()?;
    let pid = r.run_criu(&criu, version)?;
    r.commit(pid)?;
    Ok(pid)
}

/// A terminal container comes back with a new pty whose master goes to --console-socket.
fn check_terminal(spec: &Spec, opts: &RestoreOptions) -> Result<(), Error> {
    let terminal = spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    if terminal && opts.console_socket.is_none() {
        return Err(Error::Terminal(
            "process.terminal is true but no --console-socket was given: the restored \
             terminal's master needs a console socket to go to",
        ));
    }
    if !terminal && opts.console_socket.is_some() {
        return Err(Error::Terminal(
            "--console-socket given, but the process has no terminal (process.terminal: false)",
        ));
    }
    Ok(())
}

/// Joined namespaces CRIU can take: net and pid as externals (3.11 and 3.15), the others
/// joined again; not a cgroup namespace.
fn check_namespaces(spec: &Spec, version: u32) -> Result<(), Error> {
    for (flag, path) in externals::joined_namespaces(spec) {
        match flag {
            CloneFlags::CLONE_NEWCGROUP => {
                return Err(CheckpointError::BadOption(format!(
                    "linux.namespaces: a joined cgroup namespace ({}) cannot be restored: \
                     CRIU cannot join one",
                    path.display()
                ))
                .into())
            }
            CloneFlags::CLONE_NEWNET if version < 31100 => {
                return Err(too_old(version, 31100, "a joined network namespace"))
            }
            CloneFlags::CLONE_NEWPID if version < 31500 => {
                return Err(too_old(version, 31500, "a joined pid namespace"))
            }
            _ => {}
        }
    }
    Ok(())
}

/// A restore under way: what was made, taken back on drop unless committed.
struct Restoring<'a> {
    opts: &'a RestoreOptions,
    bundle: Bundle,
    images: PathBuf,
    dir: Option<ContainerDir>,
    path: PathBuf,
    stored: Stored,
    cgroup: CgroupDriver,
    made_cgroup: Option<Cgroup>,
    pid: Option<i32>,
}

impl<'a> Restoring<'a> {
    /// The state directory and the cgroup with the config's limits, as `create` makes them.
    fn begin(
        dir: ContainerDir,
        opts: &'a RestoreOptions,
        bundle: Bundle,
        images: PathBuf,
    ) -> Result<Restoring<'a>, Error> {
        let mut stored = Stored {
            id: opts.id.clone(),
            pid: 0,
            pid_start: 0,
            bundle: bundle.dir.clone(),
            rootfs: bundle.rootfs.clone(),
            created: husk_spec::time::now_rfc3339_nanos(),
            owner: owner_of(&dir.path),
            config: bundle.spec.clone(),
            cgroup: None,
            creating: Creator::me(),
            host_mounts_on_rootfs: None,
            procfs: Vec::new(),
        };
        dir.save(&stored)?;
        let path = dir.path.clone();
        let mut r = Restoring {
            opts,
            bundle,
            images,
            dir: Some(dir),
            path,
            stored: stored.clone(),
            cgroup: CgroupDriver::Without { shown: None },
            made_cgroup: None,
            pid: None,
        };
        let create = CreateOptions {
            id: opts.id.clone(),
            systemd_cgroup: opts.systemd_cgroup,
            ..Default::default()
        };
        let linux = r.bundle.spec.linux().as_ref().expect("validated");
        let dir = r.dir.as_ref().expect("held");
        let cgroup = make_cgroup(linux, &create, false, dir, &mut stored)?;
        r.stored = stored;
        r.made_cgroup = cgroup.clone();
        r.cgroup = CgroupDriver::of(cgroup, false);
        r.cgroup.before_fork(&r.bundle.spec)?;
        Ok(r)
    }

    /// The image directory holds a checkpoint (not a pre-dump) of a container with this
    /// bundle's rootfs and external mounts.
    fn check_image(&self) -> Result<(), Error> {
        let dir = &self.images;
        let bad = |why: String| -> Error {
            CheckpointError::BadImage {
                dir: dir.clone(),
                why,
            }
            .into()
        };
        if !dir.join("inventory.img").exists() {
            return Err(bad("holds no checkpoint (no inventory.img): is it the \
                            --image-path of a `checkpoint`?"
                .into()));
        }
        let Ok(text) = fs::read(dir.join(IMAGE_RECORD)) else {
            return Ok(()); // made by another runtime: CRIU checks what it can
        };
        let record: ImageRecord = serde_json::from_slice(&text)
            .map_err(|e| bad(format!("{IMAGE_RECORD} is corrupt: {e}")))?;
        if record.kind != "checkpoint" {
            return Err(bad(format!(
                "holds a {} of container {}, not a checkpoint: restore from the image \
                 directory of the final checkpoint",
                record.kind, record.id
            )));
        }
        let rootfs = fs::canonicalize(&self.bundle.rootfs).unwrap_or(self.bundle.rootfs.clone());
        if record.rootfs != rootfs {
            return Err(bad(format!(
                "is a checkpoint of container {} with the rootfs {}, not of this bundle's \
                 rootfs {}",
                record.id,
                record.rootfs.display(),
                rootfs.display()
            )));
        }
        let ours: Vec<String> = self.external_mounts().into_iter().map(|m| m.key).collect();
        if let Some(missing) = record.external_mounts.iter().find(|k| !ours.contains(k)) {
            return Err(bad(format!(
                "is a checkpoint of container {} which had a mount on {missing} from \
                 outside its rootfs; this bundle's config.json has none there",
                record.id
            )));
        }
        Ok(())
    }

    fn external_mounts(&self) -> Vec<ExternalMount> {
        let masked = self
            .bundle
            .spec
            .linux()
            .as_ref()
            .and_then(|l| l.masked_paths().clone())
            .unwrap_or_default();
        let mut mounts = externals::mounts(
            &self.bundle.spec,
            &self.bundle.dir,
            &self.bundle.rootfs,
            self.made_cgroup.as_ref(),
            &[],
        );
        if !masked.is_empty() {
            mounts.push(ExternalMount {
                mountpoint: "/dev/null".into(),
                key: "/dev/null".into(),
                source: "/dev/null".into(),
            });
        }
        mounts
    }

    /// CRIU, in the container's cgroup, brings the processes back; the restored init's pid.
    fn run_criu(&mut self, criu: &Criu, version: u32) -> Result<i32, Error> {
        let o = &self.opts.criu;
        let root = self.path.join("criu-root");
        let _root = CriuRoot::mount(
            &self.bundle.spec,
            &self.bundle.dir,
            &self.bundle.rootfs,
            &root,
        )?;
        let images = open_dir(&self.images, "--image-path")?;
        let work = open_work_dir(o)?;
        let ns_files = self.external_namespace_files()?;
        // The namespaces are CRIU's own fds (inherit_fd), from 4 on.
        let fds: Vec<RawFd> = ns_files.iter().map(|(_, f)| f.as_raw_fd()).collect();
        let dirs = Dirs::of(&images, work.as_ref());
        let mut req = self.request(o, dirs, &root, &ns_files, 4)?;
        let mut session = criu.spawn(fds, true)?;
        self.cgroup
            .after_hello(session.pid(), false, &self.bundle.spec)?;
        add_cgroup_roots(&mut req, session.pid(), version)?;
        let mut msg = Message::new();
        msg.uint32(1, ReqType::Restore as u32).message(2, &req);
        let result = session.request(&msg, &mut |n, fd| self.on_notify(n, fd));
        let _ = session.wait();
        let log_dir = o.work_path.as_deref().unwrap_or(&self.images);
        match result {
            // The pid of the post-restore notification first (runc takes it from there),
            // the answer's only when there was none.
            Ok(resp) => self
                .pid
                .or(resp.restored_pid.filter(|pid| *pid > 0))
                .ok_or_else(|| Error::Init("CRIU did not say which process it restored".into())),
            Err(e) => {
                super::quote_criu_log(log_dir, "restore.log");
                Err(e)
            }
        }
    }

    /// The net and pid namespaces the config joins, open for CRIU (inherit_fd).
    fn external_namespace_files(&self) -> Result<Vec<(CloneFlags, OwnedFd)>, Error> {
        let mut out = Vec::new();
        for (flag, path) in externals::joined_namespaces(&self.bundle.spec) {
            if flag == CloneFlags::CLONE_NEWNET || flag == CloneFlags::CLONE_NEWPID {
                let f = fs::File::open(&path)
                    .step(|| format!("opening the namespace {}", path.display()))?;
                out.push((flag, OwnedFd::from(f)));
            }
        }
        Ok(out)
    }

    fn request(
        &self,
        o: &CriuOptions,
        dirs: Dirs,
        root: &Path,
        ns_files: &[(CloneFlags, OwnedFd)],
        first_ns_fd: i32,
    ) -> Result<Message, Error> {
        let mut req = common_opts(o, dirs, "restore.log");
        req.bool(6, true)
            .bool(26, true)
            .string(13, &root.to_string_lossy());
        config_file(&mut req, &self.bundle.spec);
        for (i, (flag, _)) in ns_files.iter().enumerate() {
            let mut inherit = Message::new();
            inherit
                .string(1, externals::external_ns_key(*flag))
                .int32(2, first_ns_fd + i as i32);
            req.message(27, &inherit);
        }
        for (flag, path) in externals::joined_namespaces(&self.bundle.spec) {
            if flag != CloneFlags::CLONE_NEWNET && flag != CloneFlags::CLONE_NEWPID {
                let mut join = Message::new();
                join.string(1, externals::ns_name(flag))
                    .string(2, &path.to_string_lossy());
                req.message(39, &join);
            }
        }
        for m in self.external_mounts() {
            let mut map = Message::new();
            map.string(1, &m.key).string(2, &m.source.to_string_lossy());
            req.message(23, &map);
        }
        for (fd, key) in self.inherited_pipes()? {
            let mut inherit = Message::new();
            inherit.string(1, &key).int32(2, fd);
            req.message(27, &inherit);
        }
        Ok(req)
    }

    /// The pipes the saved init had as stdio become husk's own stdio (runc's descriptors.json).
    fn inherited_pipes(&self) -> Result<Vec<(i32, String)>, Error> {
        let path = self.images.join(DESCRIPTORS);
        let text = match fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).step(|| format!("reading {}", path.display()))?,
        };
        let fds: Vec<String> =
            serde_json::from_slice(&text).map_err(|e| CheckpointError::BadImage {
                dir: self.images.clone(),
                why: format!("{DESCRIPTORS} is corrupt: {e}"),
            })?;
        Ok(fds
            .into_iter()
            .enumerate()
            .filter(|(_, s)| s.contains("pipe:"))
            .map(|(i, s)| (i as i32, s))
            .collect())
    }

    /// CRIU's steps husk acts on: the runtime hooks once the namespaces exist, the pid once
    /// restored, the new terminal's master to the console socket.
    fn on_notify(&mut self, n: &Response, fd: Option<OwnedFd>) -> Result<(), Error> {
        match n.notify_script.as_deref() {
            Some("setup-namespaces") => self.runtime_hooks(n.notify_pid.unwrap_or(0))?,
            Some("post-restore") => {
                let pid = n.notify_pid.unwrap_or(0);
                self.pid = Some(pid);
            }
            Some("orphan-pts-master") => {
                if let (Some(master), Some(socket)) = (fd, &self.opts.console_socket) {
                    crate::terminal::send_to_console_socket(socket, master.as_fd())?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// prestart and createRuntime, as `create` runs them, with the restored init's pid.
    fn runtime_hooks(&self, pid: i32) -> Result<(), Error> {
        let mut state = self.stored.public(Status::Creating);
        state.pid = pid;
        crate::create::run_runtime_hooks(&self.bundle.spec, &state)?;
        Ok(())
    }

    /// The container is running under husk's state: its pid, the pids limit, the pid file.
    fn commit(mut self, pid: i32) -> Result<(), Error> {
        self.pid = Some(pid);
        self.stored.pid = pid;
        self.stored.pid_start = process_info::start_time(pid)
            .ok_or_else(|| Error::Init("the restored process exited during restore".into()))?;
        self.stored.created = husk_spec::time::now_rfc3339_nanos();
        self.stored.creating = None;
        self.stored.cgroup = self.cgroup.cgroup().cloned();
        self.cgroup.after_init(&self.bundle.spec)?;
        let dir = self.dir.as_ref().expect("held");
        dir.save(&self.stored)?;
        if let Some(pid_file) = &self.opts.pid_file {
            write_pid_file(pid_file, pid)?;
        }
        self.dir = None;
        self.made_cgroup = None;
        self.pid = None;
        Ok(())
    }
}

impl Drop for Restoring<'_> {
    fn drop(&mut self) {
        if self.dir.is_none() {
            return; // committed
        }
        if let Some(pid) = self.pid {
            kill::kill_and_wait(pid);
        }
        if let Some(cg) = self.cgroup.cgroup() {
            let _ = cg.signal_all(nix::sys::signal::Signal::SIGKILL);
            if let Err(e) = cg.remove() {
                tracing::warn!("cleaning up after a failed restore: {e}");
            }
        }
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// CRIU's cgroup roots: the cgroups CRIU itself was put in (the container's), so that the
/// restored processes land there whatever cgroup they were saved from (as runc).
fn add_cgroup_roots(req: &mut Message, criu_pid: i32, _version: u32) -> Result<(), Error> {
    let path = format!("/proc/{criu_pid}/cgroup");
    let text = fs::read_to_string(&path).step(|| format!("reading {path}"))?;
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, ctrl, cg_path) = (parts.next(), parts.next(), parts.next());
        let (Some(ctrl), Some(cg_path)) = (ctrl, cg_path) else {
            continue;
        };
        let mut root = Message::new();
        root.string(1, ctrl).string(2, cg_path);
        req.message(25, &root);
    }
    Ok(())
}

/// CRIU wants the root to be a mount point whose parent is not over-mounted: the rootfs is
/// bound onto the state directory's criu-root, in a mount namespace of husk's own so that
/// nothing is left on the host whatever happens to husk.
struct CriuRoot {
    path: PathBuf,
}

impl CriuRoot {
    fn mount(
        spec: &Spec,
        bundle_dir: &Path,
        rootfs: &Path,
        path: &Path,
    ) -> Result<CriuRoot, Error> {
        fs::create_dir_all(path).step(|| format!("creating {}", path.display()))?;
        nix::sched::unshare(CloneFlags::CLONE_NEWNS)
            .step(|| "restore: a mount namespace for CRIU's root")?;
        nix::mount::mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_REC | MsFlags::MS_SLAVE,
            None::<&str>,
        )
        .step(|| "restore: making / a slave")?;
        prepare_mountpoints(spec, bundle_dir, rootfs)?;
        nix::mount::mount(
            Some(rootfs),
            path,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .step(|| format!("bind-mounting {} on {}", rootfs.display(), path.display()))?;
        Ok(CriuRoot {
            path: path.to_path_buf(),
        })
    }
}

impl Drop for CriuRoot {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.path, nix::mount::MntFlags::MNT_DETACH);
        let _ = fs::remove_dir(&self.path);
    }
}

/// The mount points of the config's bind mounts, made again in the rootfs as `create` made
/// them (CRIU mounts onto them but makes none), nested ones too: each bind is mounted, in
/// husk's own mount namespace, for the ones inside it to be made, then all are undone. A
/// mount point under a tmpfs is left to CRIU, which restores the tmpfs's content.
fn prepare_mountpoints(spec: &Spec, bundle_dir: &Path, rootfs: &Path) -> Result<(), Error> {
    let root = crate::resolve::Root::open(rootfs)?;
    let mounts = spec.mounts().clone().unwrap_or_default();
    let tmpfs: Vec<&Path> = mounts
        .iter()
        .filter(|m| m.typ().as_deref() == Some("tmpfs"))
        .map(|m| m.destination().as_path())
        .collect();
    let mut bound: Vec<PathBuf> = Vec::new();
    let result = (|| -> Result<(), Error> {
        for m in &mounts {
            let dest = m.destination();
            let Some(source) = crate::mounts::bind_source(m, bundle_dir) else {
                continue;
            };
            if tmpfs.iter().any(|t| dest.starts_with(t) && dest != *t) {
                continue;
            }
            let target = if source.is_dir() {
                root.mkdir_all(dest, 0o755)?
            } else {
                root.mkfile(dest)?
            };
            let target = crate::resolve::fd_path(target.as_fd());
            let real = fs::read_link(&target).step(|| format!("resolving {}", dest.display()))?;
            nix::mount::mount(
                Some(&source),
                &target,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
            .step(|| {
                format!(
                    "restore: bind-mounting {} to make the mount points in it",
                    source.display()
                )
            })?;
            bound.push(real);
        }
        Ok(())
    })();
    for b in bound.iter().rev() {
        let _ = nix::mount::umount2(b, nix::mount::MntFlags::MNT_DETACH);
    }
    result
}
