//! `checkpoint` and `restore`: runc's flags turned into husk-container's options.

use anyhow::{bail, Context, Result};
use husk_container::checkpoint::{
    self, empty_ns_flag, CgroupsMode, CheckpointOptions, CriuOptions, RestoreOptions,
};
use husk_container::state::Store;
use husk_container::{delete, wait};

use crate::args::{CheckpointArgs, Cli, CriuArgs, RestoreArgs};

fn criu_options(cli: &Cli, a: &CriuArgs) -> Result<CriuOptions> {
    let image_path = match &a.image_path {
        Some(p) => p.clone(),
        None => std::env::current_dir()
            .context("the current directory (for ./checkpoint)")?
            .join("checkpoint"),
    };
    let mut empty_ns = 0;
    for ns in &a.empty_ns {
        empty_ns |= empty_ns_flag(ns)?;
    }
    Ok(CriuOptions {
        criu: cli.criu.clone(),
        image_path,
        work_path: a.work_path.clone(),
        tcp_established: a.tcp_established,
        ext_unix_sk: a.ext_unix_sk,
        shell_job: a.shell_job,
        file_locks: a.file_locks,
        manage_cgroups_mode: a
            .manage_cgroups_mode
            .as_deref()
            .map(CgroupsMode::parse)
            .transpose()?,
        empty_ns,
        auto_dedup: a.auto_dedup,
        lazy_pages: a.lazy_pages,
    })
}

/// `ADDRESS:PORT`, as runc reads it.
fn page_server(s: &str) -> Result<(String, i32)> {
    let Some((address, port)) = s.rsplit_once(':') else {
        bail!("--page-server {s:?}: use --page-server ADDRESS:PORT to specify page server");
    };
    let address = address.trim_start_matches('[').trim_end_matches(']');
    if address.is_empty() || port.is_empty() {
        bail!("--page-server {s:?}: use --page-server ADDRESS:PORT to specify page server");
    }
    let port = port
        .parse()
        .with_context(|| format!("--page-server {s:?}: invalid port number"))?;
    Ok((address.to_string(), port))
}

pub fn checkpoint_cmd(cli: &Cli, store: &Store, a: &CheckpointArgs) -> Result<i32> {
    let id = &a.id;
    let opts = CheckpointOptions {
        id: id.clone(),
        criu: criu_options(cli, &a.criu).with_context(|| format!("checkpoint {id}"))?,
        parent_path: a.parent_path.clone(),
        leave_running: a.leave_running,
        pre_dump: a.pre_dump,
        page_server: a.page_server.as_deref().map(page_server).transpose()?,
        status_fd: (a.status_fd >= 0).then_some(a.status_fd),
        tcp_skip_in_flight: a.tcp_skip_in_flight,
        link_remap: a.link_remap,
    };
    checkpoint::checkpoint(store, &opts).with_context(|| format!("checkpoint {id}"))?;
    Ok(0)
}

pub fn restore_cmd(cli: &Cli, store: &Store, a: &RestoreArgs) -> Result<i32> {
    let id = &a.id;
    if a.lsm_profile.is_some() || a.lsm_mount_context.is_some() {
        bail!(
            "restore {id}: --lsm-profile and --lsm-mount-context: this host has no AppArmor \
             or SELinux, and husk applies no labels it cannot enforce"
        );
    }
    let opts = RestoreOptions {
        id: id.clone(),
        criu: criu_options(cli, &a.criu).with_context(|| format!("restore {id}"))?,
        bundle: a.bundle.clone(),
        detach: a.detach,
        console_socket: a.console_socket.clone(),
        pid_file: a.pid_file.clone(),
        no_pivot: a.no_pivot,
        systemd_cgroup: cli.systemd_cgroup,
    };
    if !a.detach && !a.no_subreaper {
        wait::become_subreaper()?;
    }
    let pid = checkpoint::restore(store, &opts).with_context(|| format!("restore {id}"))?;
    if a.detach {
        return Ok(0);
    }
    let code = wait::wait_for_exit(pid, None)?;
    delete(store, id, true).with_context(|| format!("restore {id}: delete"))?;
    Ok(code)
}
