//! The checks, in the order kubelet makes the calls: a pod, its containers, exec, stats, a
//! resource update, a second container sharing the pod's namespaces, an OOM kill, and the
//! teardown.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use k8s_cri::v1::*;

use crate::{host, stream, Ctx};

pub type Outcome = (&'static str, Result<()>);

const MIB: i64 = 1 << 20;

/// Every check, in order; a check whose prerequisite failed fails with the reason.
pub async fn all(ctx: &mut Ctx) -> Vec<Outcome> {
    let mut out = Vec::new();
    out.push(("Version names containerd", version(ctx).await));
    out.push(("the image is there (ImageStatus)", image(ctx).await));
    let pod = pod_config(&ctx.handler);
    let pod_id = match ctx.cri.run_pod(&pod, &ctx.handler).await {
        Ok(id) => id,
        Err(e) => {
            out.push(("RunPodSandbox with the handler", Err(e)));
            return out;
        }
    };
    out.push((
        "RunPodSandbox: the pod is READY",
        pod_ready(ctx, &pod_id).await,
    ));
    let main = ctx
        .cri
        .create(&pod_id, sleeper(ctx, "main", true), &pod)
        .await;
    let main = match main {
        Ok(id) => id,
        Err(e) => {
            out.push(("CreateContainer", Err(e)));
            out.extend(teardown_pod(ctx, &pod_id).await);
            return out;
        }
    };
    out.push((
        "CreateContainer, StartContainer: RUNNING",
        start(ctx, &main).await,
    ));
    out.extend(in_container(ctx, &main).await);
    out.extend(shared_namespaces(ctx, &pod_id, &pod, &main).await);
    out.push((
        "an OOM-killed container is reported OOMKilled, 137",
        oom(ctx, &pod_id, &pod).await,
    ));
    out.push((
        "StopContainer, RemoveContainer",
        stop_remove(ctx, &main).await,
    ));
    out.extend(teardown_pod(ctx, &pod_id).await);
    out
}

async fn version(ctx: &mut Ctx) -> Result<()> {
    let v = ctx.cri.version().await?;
    ensure!(
        v.runtime_name == "containerd",
        "runtime {:?}",
        v.runtime_name
    );
    Ok(())
}

async fn image(ctx: &mut Ctx) -> Result<()> {
    ensure!(
        ctx.cri.image_present(&ctx.image).await?,
        "{} not found",
        ctx.image
    );
    Ok(())
}

/// A pod in the host's network namespace (no CNI here) with its own ipc and pid namespaces,
/// shared by its containers.
fn pod_config(handler: &str) -> PodSandboxConfig {
    PodSandboxConfig {
        metadata: Some(PodSandboxMetadata {
            name: format!("cri-check-{handler}"),
            uid: format!("cri-check-{handler}-{}", std::process::id()),
            namespace: "default".into(),
            attempt: 0,
        }),
        linux: Some(LinuxPodSandboxConfig {
            security_context: Some(LinuxSandboxSecurityContext {
                namespace_options: Some(NamespaceOption {
                    network: NamespaceMode::Node as i32,
                    pid: NamespaceMode::Pod as i32,
                    ipc: NamespaceMode::Pod as i32,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A busybox container that sleeps; `limited` gives it memory and CPU limits and
/// /dev/loop0 as a read-only /dev/xloop.
fn sleeper(ctx: &Ctx, name: &str, limited: bool) -> ContainerConfig {
    let mut c = ContainerConfig {
        metadata: Some(ContainerMetadata {
            name: name.into(),
            attempt: 0,
        }),
        image: Some(ImageSpec {
            image: ctx.image.clone(),
            ..Default::default()
        }),
        command: vec!["sleep".into(), "3600".into()],
        ..Default::default()
    };
    if limited {
        c.linux = Some(LinuxContainerConfig {
            resources: Some(LinuxContainerResources {
                memory_limit_in_bytes: 64 * MIB,
                cpu_period: 100_000,
                cpu_quota: 50_000,
                cpu_shares: 512,
                ..Default::default()
            }),
            ..Default::default()
        });
        c.devices = vec![Device {
            container_path: "/dev/xloop".into(),
            host_path: "/dev/loop0".into(),
            permissions: "r".into(),
        }];
    }
    c
}

async fn pod_ready(ctx: &mut Ctx, pod: &str) -> Result<()> {
    let state = ctx.cri.pod_state(pod).await?;
    ensure!(
        state == PodSandboxState::SandboxReady as i32,
        "state {state}"
    );
    Ok(())
}

async fn start(ctx: &mut Ctx, id: &str) -> Result<()> {
    ctx.cri.start(id).await?;
    let (st, pid) = ctx.cri.status(id).await?;
    ensure!(
        st.state == ContainerState::ContainerRunning as i32,
        "state {}",
        st.state
    );
    ensure!(pid.is_some_and(|p| p > 0), "no pid in the verbose status");
    Ok(())
}

/// ExecSync, a streaming exec, stats, the device's permissions and an update.
async fn in_container(ctx: &mut Ctx, id: &str) -> Vec<Outcome> {
    vec![
        ("ExecSync: output and exit codes", exec_sync(ctx, id).await),
        (
            "Exec: a streaming exec over the streaming server",
            exec_stream(ctx, id).await,
        ),
        ("ContainerStats: memory and CPU", stats(ctx, id).await),
        (
            "limits in the cgroup: memory, CPU quota and shares",
            limits(ctx, id).await,
        ),
        (
            "a device with permissions \"r\" stays read-only",
            device_read_only(ctx, id).await,
        ),
        (
            "UpdateContainerResources (containerd sends the device list too)",
            update(ctx, id).await,
        ),
    ]
}

async fn exec_sync(ctx: &mut Ctx, id: &str) -> Result<()> {
    let r = ctx
        .cri
        .exec_sync(id, &["sh", "-c", "echo hello; exit 3"])
        .await?;
    ensure!(r.exit_code == 3, "exit code {}", r.exit_code);
    ensure!(
        String::from_utf8_lossy(&r.stdout) == "hello\n",
        "stdout {:?}",
        r.stdout
    );
    let comm = ctx.cri.sh(id, "cat /proc/1/comm").await?;
    ensure!(
        comm.trim() == "pause" || comm.trim() == "sleep",
        "pid 1 is {comm:?}"
    );
    Ok(())
}

async fn exec_stream(ctx: &mut Ctx, id: &str) -> Result<()> {
    let url = ctx
        .cri
        .exec_url(id, &["sh", "-c", "echo streamed $((6 * 7))"])
        .await?;
    let out = tokio::task::spawn_blocking(move || stream::exec(&url)).await??;
    ensure!(out.stdout == "streamed 42\n", "stdout {:?}", out.stdout);
    ensure!(out.status.contains("Success"), "status {:?}", out.status);
    Ok(())
}

async fn stats(ctx: &mut Ctx, id: &str) -> Result<()> {
    let s = ctx.cri.stats(id).await?;
    let mem = s.memory.and_then(|m| m.working_set_bytes).map(|v| v.value);
    ensure!(mem.is_some_and(|m| m > 0), "memory working set {mem:?}");
    ensure!(s.cpu.is_some(), "no cpu stats");
    Ok(())
}

async fn limits(ctx: &mut Ctx, id: &str) -> Result<()> {
    let pid = ctx.cri.pid(id).await?;
    let mem = host::cgroup_file(pid, "memory", "memory.limit_in_bytes")?;
    ensure!(mem == (64 * MIB).to_string(), "memory.limit_in_bytes {mem}");
    let quota = host::cgroup_file(pid, "cpu", "cpu.cfs_quota_us")?;
    ensure!(quota == "50000", "cpu.cfs_quota_us {quota}");
    let shares = host::cgroup_file(pid, "cpu", "cpu.shares")?;
    ensure!(shares == "512", "cpu.shares {shares}");
    Ok(())
}

async fn device_read_only(ctx: &mut Ctx, id: &str) -> Result<()> {
    let pid = ctx.cri.pid(id).await?;
    let list = host::cgroup_file(pid, "devices", "devices.list")?;
    ensure!(
        list.lines().any(|l| l == "b 7:0 r"),
        "devices.list has no \"b 7:0 r\": {list}"
    );
    ctx.cri.sh(id, "head -c 1 /dev/xloop >/dev/null").await?;
    let w = ctx
        .cri
        .exec_sync(id, &["sh", "-c", "echo x > /dev/xloop"])
        .await?;
    ensure!(w.exit_code != 0, "/dev/xloop opened for writing");
    Ok(())
}

async fn update(ctx: &mut Ctx, id: &str) -> Result<()> {
    let pid = ctx.cri.pid(id).await?;
    ctx.cri
        .update(
            id,
            LinuxContainerResources {
                memory_limit_in_bytes: 96 * MIB,
                cpu_period: 100_000,
                cpu_quota: 30_000,
                cpu_shares: 256,
                ..Default::default()
            },
        )
        .await
        .context("UpdateContainerResources")?;
    let mem = host::cgroup_file(pid, "memory", "memory.limit_in_bytes")?;
    ensure!(mem == (96 * MIB).to_string(), "memory.limit_in_bytes {mem}");
    let quota = host::cgroup_file(pid, "cpu", "cpu.cfs_quota_us")?;
    ensure!(quota == "30000", "cpu.cfs_quota_us {quota}");
    let inside = ctx
        .cri
        .sh(id, "cat /sys/fs/cgroup/memory/memory.limit_in_bytes")
        .await?;
    ensure!(inside.trim() == (96 * MIB).to_string(), "inside: {inside}");
    // The device rule containerd sent again is unchanged.
    let list = host::cgroup_file(pid, "devices", "devices.list")?;
    ensure!(list.lines().any(|l| l == "b 7:0 r"), "devices.list: {list}");
    Ok(())
}

/// A second container in the pod sees the first's ipc and pid namespaces (the pod's).
async fn shared_namespaces(
    ctx: &mut Ctx,
    pod_id: &str,
    pod: &PodSandboxConfig,
    main: &str,
) -> Vec<Outcome> {
    let result = async {
        let second = ctx
            .cri
            .create(pod_id, sleeper(ctx, "second", false), pod)
            .await?;
        ctx.cri.start(&second).await?;
        let (a, b) = (ctx.cri.pid(main).await?, ctx.cri.pid(&second).await?);
        for ns in ["ipc", "pid", "net"] {
            let (x, y) = (host::namespace(a, ns)?, host::namespace(b, ns)?);
            ensure!(x == y, "{ns}: {x} and {y}");
        }
        ensure!(
            host::namespace(a, "pid")? != host::namespace(std::process::id().into(), "pid")?,
            "the pod's pid namespace is the host's"
        );
        let ps = ctx.cri.sh(&second, "ps -o comm").await?;
        ensure!(
            ps.matches("sleep").count() >= 2,
            "the pod's processes: {ps}"
        );
        ctx.cri.stop(&second, 0).await?;
        ctx.cri.remove(&second).await
    }
    .await;
    vec![("a second container shares the pod's namespaces", result)]
}

async fn oom(ctx: &mut Ctx, pod_id: &str, pod: &PodSandboxConfig) -> Result<()> {
    let mut c = sleeper(ctx, "oom", false);
    c.command = vec![
        "sh".into(),
        "-c".into(),
        "x=a; while :; do x=$x$x; done".into(),
    ];
    c.linux = Some(LinuxContainerConfig {
        resources: Some(LinuxContainerResources {
            memory_limit_in_bytes: 16 * MIB,
            memory_swap_limit_in_bytes: 16 * MIB,
            ..Default::default()
        }),
        ..Default::default()
    });
    let id = ctx.cri.create(pod_id, c, pod).await?;
    ctx.cri.start(&id).await?;
    let st = ctx.cri.wait_exited(&id, Duration::from_secs(60)).await?;
    ctx.cri.remove(&id).await?;
    ensure!(st.exit_code == 137, "exit code {}", st.exit_code);
    ensure!(st.reason == "OOMKilled", "reason {:?}", st.reason);
    Ok(())
}

async fn stop_remove(ctx: &mut Ctx, id: &str) -> Result<()> {
    ctx.cri.stop(id, 2).await?;
    let (st, _) = ctx.cri.status(id).await?;
    ensure!(
        st.state == ContainerState::ContainerExited as i32,
        "state {}",
        st.state
    );
    ctx.cri.remove(id).await?;
    if ctx.cri.containers().await?.iter().any(|c| c.id == id) {
        bail!("still listed after RemoveContainer");
    }
    Ok(())
}

async fn teardown_pod(ctx: &mut Ctx, pod_id: &str) -> Vec<Outcome> {
    let result = async {
        ctx.cri.stop_pod(pod_id).await?;
        let state = ctx.cri.pod_state(pod_id).await?;
        ensure!(
            state == PodSandboxState::SandboxNotready as i32,
            "state {state}"
        );
        ctx.cri.remove_pod(pod_id).await?;
        if ctx.cri.pods().await?.iter().any(|p| p.id == pod_id) {
            bail!("still listed after RemovePodSandbox");
        }
        Ok(())
    }
    .await;
    let left = leftovers(ctx);
    vec![
        ("StopPodSandbox, RemovePodSandbox", result),
        ("nothing left in the runtime's state root", left),
    ]
}

fn leftovers(ctx: &Ctx) -> Result<()> {
    let left: HashMap<String, ()> = std::fs::read_dir(&ctx.state_root)
        .map(|d| {
            d.flatten()
                .map(|e| (e.file_name().to_string_lossy().into_owned(), ()))
                .collect()
        })
        .unwrap_or_default();
    ensure!(
        left.is_empty(),
        "left in {}: {:?}",
        ctx.state_root.display(),
        left.keys()
    );
    Ok(())
}
