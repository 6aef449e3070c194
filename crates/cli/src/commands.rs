//! One function per command: parse nothing, call the library, print what runc prints.

use std::io::Write;

use anyhow::{bail, Context, Result};
use husk_container::state::{status_of, Store};
use husk_container::{
    create, delete, events, exec, kill, parse_signal, pause, resume, start, update, wait,
    CreateOptions, ExecOptions,
};

use crate::args::{Cli, Command, CreateArgs, ExecArgs, ListFormat, PsFormat};

pub fn dispatch(cli: &Cli) -> Result<i32> {
    let Some(command) = &cli.command else {
        bail!("no command given; see husk --help");
    };
    // spec and features touch no state: they work without a state root.
    let root = match command {
        Command::Spec { .. } | Command::Features => std::path::PathBuf::new(),
        _ => cli.state_root()?,
    };
    let store = Store::new(&root);
    if matches!(command, Command::Exec(_)) {
        // Before anything enters a container: never expose the binary itself (CVE-2019-5736).
        // create and run decide for themselves, once they have read the config (create.rs,
        // protect_husk_binary).
        husk_container::sealed_exe::reexec_from_sealed_copy()
            .context("protecting the husk binary")?;
    }
    match command {
        Command::Create(a) => {
            create(&store, &create_options(a, cli)).with_context(|| format!("create {}", a.id))?;
        }
        Command::Start { id } => start(&store, id).with_context(|| format!("start {id}"))?,
        Command::Run(r) => return run_cmd(&store, r, cli),
        Command::State { id } => {
            let stored = store.peek(id)?;
            let status = status_of(&root.join(id), &stored);
            println!("{}", serde_json::to_string_pretty(&stored.public(status))?);
        }
        Command::Kill { all, id, signal } => {
            let sig = parse_signal(signal)?;
            kill(&store, id, sig, *all).with_context(|| format!("kill {id}"))?;
        }
        Command::Delete { force, id } => {
            delete(&store, id, *force).with_context(|| format!("delete {id}"))?
        }
        Command::List { format, quiet } => {
            // As runc: a --root that does not exist is an error; the default root not existing
            // yet is an empty list.
            if cli.root.is_some() && !root.is_dir() {
                bail!("list: --root {}: no such directory", root.display());
            }
            list(&store, *format, *quiet)?
        }
        Command::Pause { id } => pause(&store, id).with_context(|| format!("pause {id}"))?,
        Command::Resume { id } => resume(&store, id).with_context(|| format!("resume {id}"))?,
        Command::Update(u) => {
            let changes = crate::update::resources(u)?;
            update(&store, &u.id, &changes).with_context(|| format!("update {}", u.id))?;
        }
        Command::Events {
            stats,
            interval,
            id,
        } => events_cmd(&store, id, interval, *stats)?,
        Command::Exec(a) => return exec_cmd(&store, a),
        Command::Ps {
            format,
            id,
            ps_args,
        } => ps(&store, id, *format, ps_args)?,
        Command::Checkpoint(a) => return crate::checkpoint::checkpoint_cmd(cli, &store, a),
        Command::Restore(a) => return crate::checkpoint::restore_cmd(cli, &store, a),
        Command::Features => {
            let f = husk_container::features::features();
            println!("{}", serde_json::to_string_pretty(&f)?);
        }
        Command::Spec { bundle, rootless } => spec(bundle, *rootless)?,
        Command::Procfs => husk_container::procfs::serve(&store).context("procfs")?,
    }
    Ok(0)
}

/// events: JSON lines on stdout, every --interval (or one with --stats).
fn events_cmd(store: &Store, id: &str, interval: &str, stats: bool) -> Result<()> {
    let interval = crate::update::parse_duration(interval)
        .with_context(|| format!("--interval {interval:?}"))?;
    let mut out = std::io::stdout().lock();
    events(store, id, interval, stats, |e| {
        serde_json::to_writer(&mut out, e)?;
        writeln!(out)?;
        out.flush()
    })
    .with_context(|| format!("events {id}"))
}

fn create_options(a: &CreateArgs, cli: &Cli) -> CreateOptions {
    CreateOptions {
        id: a.id.clone(),
        bundle: a.bundle.clone(),
        pid_file: a.pid_file.clone(),
        console_socket: a.console_socket.clone(),
        pidfd_socket: a.pidfd_socket.clone(),
        no_pivot: a.no_pivot,
        no_new_keyring: a.no_new_keyring,
        preserve_fds: a.preserve_fds,
        listen_fds: listen_fds(),
        foreground: false,
        systemd_cgroup: cli.systemd_cgroup,
        procfs_all: cli.procfs,
    }
}

/// The socket-activation fds systemd passed to husk itself (LISTEN_PID is husk's pid).
fn listen_fds() -> u32 {
    let for_us = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        == Some(std::process::id());
    if !for_us {
        return 0;
    }
    std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// create + start, then (unless --detach) wait, delete, and exit with the container's code.
fn run_cmd(store: &Store, r: &crate::args::RunArgs, cli: &Cli) -> Result<i32> {
    let id = &r.create.id;
    if !r.detach && !r.no_subreaper {
        wait::become_subreaper()?;
    }
    let opts = CreateOptions {
        foreground: !r.detach,
        ..create_options(&r.create, cli)
    };
    let created = create(store, &opts).with_context(|| format!("run {id}: create"))?;
    if let Err(e) = start(store, id) {
        let _ = delete(store, id, true);
        return Err(e).with_context(|| format!("run {id}: start"));
    }
    if r.detach {
        return Ok(0);
    }
    let code = wait::wait_for_exit(created.pid, created.console)?;
    if !r.keep {
        delete(store, id, true).with_context(|| format!("run {id}: delete"))?;
    }
    Ok(code)
}

/// exec: build the process, start it, and (unless --detach) wait for its exit code.
fn exec_cmd(store: &Store, a: &ExecArgs) -> Result<i32> {
    let id = &a.id;
    let stored = store.peek(id).with_context(|| format!("exec {id}"))?;
    let process = crate::exec_process::process(a, stored.config.process().as_ref())
        .with_context(|| format!("exec {id}"))?;
    if !a.detach {
        wait::become_subreaper()?;
    }
    let opts = ExecOptions {
        id: id.clone(),
        process,
        detach: a.detach,
        pid_file: a.pid_file.clone(),
        console_socket: a.console_socket.clone(),
        pidfd_socket: a.pidfd_socket.clone(),
        preserve_fds: a.preserve_fds,
        sub_cgroups: a.cgroup.clone(),
        ignore_paused: a.ignore_paused,
    };
    let started = exec(store, &opts).with_context(|| format!("exec {id}"))?;
    if a.detach {
        return Ok(0);
    }
    Ok(wait::wait_for_exit(started.pid, started.console)?)
}

/// ps: the container's pids as JSON, or ps(1)'s table cut down to them.
fn ps(store: &Store, id: &str, format: PsFormat, ps_args: &[String]) -> Result<()> {
    let stored = store.peek(id).with_context(|| format!("ps {id}"))?;
    let pids = match &stored.cgroup {
        Some(cg) => cg.pids().with_context(|| format!("ps {id}"))?,
        // Rootless, without a cgroup: the processes of its pid namespace.
        None => husk_container::process_info::pids_in_pid_namespace_of(stored.pid),
    };
    let mut out = std::io::stdout().lock();
    if format == PsFormat::Json {
        writeln!(out, "{}", serde_json::to_string(&pids)?)?;
        return Ok(());
    }
    let args: Vec<String> = if ps_args.is_empty() {
        vec!["-ef".into()]
    } else {
        ps_args.to_vec()
    };
    let output = std::process::Command::new("ps")
        .args(&args)
        .output()
        .context("running ps")?;
    if !output.status.success() {
        bail!(
            "ps {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let Some(pid_col) = header.split_whitespace().position(|h| h == "PID") else {
        bail!("ps {}: its output has no PID column", args.join(" "));
    };
    writeln!(out, "{header}")?;
    for line in lines {
        let pid = line
            .split_whitespace()
            .nth(pid_col)
            .and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            writeln!(out, "{line}")?;
        }
    }
    Ok(())
}

fn list(store: &Store, format: ListFormat, quiet: bool) -> Result<()> {
    let mut states = Vec::new();
    for id in store.ids()? {
        // A directory without readable state is a create in progress or a crashed one.
        let Ok(stored) = store.peek(&id) else {
            continue;
        };
        let status = status_of(&store.root.join(&id), &stored);
        states.push(stored.public(status));
    }
    // One write for the whole listing, not one per line.
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if quiet {
        for s in &states {
            writeln!(out, "{}", s.id)?;
        }
        return Ok(out.flush()?);
    }
    if format == ListFormat::Json {
        writeln!(out, "{}", serde_json::to_string(&states)?)?;
        return Ok(out.flush()?);
    }
    let mut rows = vec![["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
        .map(String::from)
        .to_vec()];
    for s in &states {
        rows.push(vec![
            s.id.clone(),
            s.pid.to_string(),
            s.status.to_string(),
            s.bundle.display().to_string(),
            s.created.clone(),
            s.owner.clone(),
        ]);
    }
    // runc's tabwriter: columns at least 12 wide, 3 spaces of padding.
    let widths: Vec<usize> = (0..6)
        .map(|c| {
            rows.iter()
                .map(|r| r[c].len() + 3)
                .max()
                .unwrap_or(0)
                .max(12)
        })
        .collect();
    for r in rows {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate() {
            if c == 5 {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$}", w = widths[c]));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(out.flush()?)
}

fn spec(bundle: &std::path::Path, rootless: bool) -> Result<()> {
    let path = bundle.join("config.json");
    if path.exists() {
        bail!("File {} exists. Remove it first", path.display());
    }
    let value = husk_container::spec::default_config(rootless);
    std::fs::write(&path, serde_json::to_string_pretty(&value)? + "\n")
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
