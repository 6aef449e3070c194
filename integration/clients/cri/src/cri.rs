//! The CRI calls the checks make, over containerd's unix socket.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use hyper_util::rt::TokioIo;
use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use k8s_cri::v1::*;
use tokio::net::UnixStream;
use tonic::transport::{Channel, Endpoint, Uri};

pub struct Cri {
    pub runtime: RuntimeServiceClient<Channel>,
    pub images: ImageServiceClient<Channel>,
}

impl Cri {
    pub async fn connect(socket: &str) -> Result<Cri> {
        let socket = socket.to_string();
        let channel =
            Endpoint::try_from("http://[::]:50051")?
                .connect_with_connector(tower::service_fn(move |_: Uri| {
                    let socket = socket.clone();
                    async move {
                        Ok::<_, std::io::Error>(TokioIo::new(UnixStream::connect(socket).await?))
                    }
                }))
                .await?;
        Ok(Cri {
            runtime: RuntimeServiceClient::new(channel.clone()),
            images: ImageServiceClient::new(channel),
        })
    }

    pub async fn version(&mut self) -> Result<VersionResponse> {
        let r = self.runtime.version(VersionRequest::default()).await?;
        Ok(r.into_inner())
    }

    pub async fn image_present(&mut self, image: &str) -> Result<bool> {
        let r = self
            .images
            .image_status(ImageStatusRequest {
                image: Some(ImageSpec {
                    image: image.into(),
                    ..Default::default()
                }),
                verbose: false,
            })
            .await?;
        Ok(r.into_inner().image.is_some())
    }

    pub async fn run_pod(&mut self, config: &PodSandboxConfig, handler: &str) -> Result<String> {
        let r = self
            .runtime
            .run_pod_sandbox(RunPodSandboxRequest {
                config: Some(config.clone()),
                runtime_handler: handler.into(),
            })
            .await?;
        Ok(r.into_inner().pod_sandbox_id)
    }

    pub async fn pod_state(&mut self, id: &str) -> Result<i32> {
        let r = self
            .runtime
            .pod_sandbox_status(PodSandboxStatusRequest {
                pod_sandbox_id: id.into(),
                verbose: false,
            })
            .await?;
        Ok(r.into_inner().status.context("no status")?.state)
    }

    pub async fn create(
        &mut self,
        pod: &str,
        config: ContainerConfig,
        pod_config: &PodSandboxConfig,
    ) -> Result<String> {
        let r = self
            .runtime
            .create_container(CreateContainerRequest {
                pod_sandbox_id: pod.into(),
                config: Some(config),
                sandbox_config: Some(pod_config.clone()),
            })
            .await?;
        Ok(r.into_inner().container_id)
    }

    pub async fn start(&mut self, id: &str) -> Result<()> {
        self.runtime
            .start_container(StartContainerRequest {
                container_id: id.into(),
            })
            .await?;
        Ok(())
    }

    /// The container's status and, from the verbose info, its init's host pid.
    pub async fn status(&mut self, id: &str) -> Result<(ContainerStatus, Option<i64>)> {
        let r = self
            .runtime
            .container_status(ContainerStatusRequest {
                container_id: id.into(),
                verbose: true,
            })
            .await?
            .into_inner();
        let pid = r
            .info
            .get("info")
            .and_then(|i| serde_json::from_str::<serde_json::Value>(i).ok())
            .and_then(|v| v["pid"].as_i64());
        Ok((r.status.context("no status")?, pid))
    }

    pub async fn pid(&mut self, id: &str) -> Result<i64> {
        match self.status(id).await?.1 {
            Some(pid) if pid > 0 => Ok(pid),
            other => bail!("no pid for container {id}: {other:?}"),
        }
    }

    /// Wait until the container has exited; its final status.
    pub async fn wait_exited(&mut self, id: &str, within: Duration) -> Result<ContainerStatus> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let (st, _) = self.status(id).await?;
            if st.state == ContainerState::ContainerExited as i32 {
                return Ok(st);
            }
            if tokio::time::Instant::now() > deadline {
                bail!(
                    "container {id} still in state {} after {within:?}",
                    st.state
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn exec_sync(&mut self, id: &str, cmd: &[&str]) -> Result<ExecSyncResponse> {
        let r = self
            .runtime
            .exec_sync(ExecSyncRequest {
                container_id: id.into(),
                cmd: cmd.iter().map(|s| s.to_string()).collect(),
                timeout: 30,
            })
            .await?;
        Ok(r.into_inner())
    }

    /// ExecSync that must exit 0; its stdout.
    pub async fn sh(&mut self, id: &str, script: &str) -> Result<String> {
        let r = self.exec_sync(id, &["sh", "-c", script]).await?;
        if r.exit_code != 0 {
            bail!(
                "`{script}` exited {}: {}",
                r.exit_code,
                String::from_utf8_lossy(&r.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&r.stdout).into_owned())
    }

    /// The streaming server's URL for an exec of `cmd`.
    pub async fn exec_url(&mut self, id: &str, cmd: &[&str]) -> Result<String> {
        let r = self
            .runtime
            .exec(ExecRequest {
                container_id: id.into(),
                cmd: cmd.iter().map(|s| s.to_string()).collect(),
                tty: false,
                stdin: false,
                stdout: true,
                stderr: true,
            })
            .await?;
        Ok(r.into_inner().url)
    }

    pub async fn stats(&mut self, id: &str) -> Result<ContainerStats> {
        let r = self
            .runtime
            .container_stats(ContainerStatsRequest {
                container_id: id.into(),
            })
            .await?;
        r.into_inner().stats.context("no stats")
    }

    pub async fn update(&mut self, id: &str, resources: LinuxContainerResources) -> Result<()> {
        self.runtime
            .update_container_resources(UpdateContainerResourcesRequest {
                container_id: id.into(),
                linux: Some(resources),
                ..Default::default()
            })
            .await?;
        Ok(())
    }

    pub async fn stop(&mut self, id: &str, timeout: i64) -> Result<()> {
        self.runtime
            .stop_container(StopContainerRequest {
                container_id: id.into(),
                timeout,
            })
            .await?;
        Ok(())
    }

    pub async fn remove(&mut self, id: &str) -> Result<()> {
        self.runtime
            .remove_container(RemoveContainerRequest {
                container_id: id.into(),
            })
            .await?;
        Ok(())
    }

    pub async fn containers(&mut self) -> Result<Vec<Container>> {
        let r = self
            .runtime
            .list_containers(ListContainersRequest { filter: None })
            .await?;
        Ok(r.into_inner().containers)
    }

    pub async fn stop_pod(&mut self, id: &str) -> Result<()> {
        self.runtime
            .stop_pod_sandbox(StopPodSandboxRequest {
                pod_sandbox_id: id.into(),
            })
            .await?;
        Ok(())
    }

    pub async fn remove_pod(&mut self, id: &str) -> Result<()> {
        self.runtime
            .remove_pod_sandbox(RemovePodSandboxRequest {
                pod_sandbox_id: id.into(),
            })
            .await?;
        Ok(())
    }

    pub async fn pods(&mut self) -> Result<Vec<PodSandbox>> {
        let r = self
            .runtime
            .list_pod_sandbox(ListPodSandboxRequest { filter: None })
            .await?;
        Ok(r.into_inner().items)
    }
}
