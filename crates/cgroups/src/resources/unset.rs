//! The zeros runc reads as "not set". Clients rely on it: Docker on cgroup v1 puts
//! `"blockIO": {"weight": 0}` and `"cpu": {"shares": 0}` in every config, and containerd
//! sends a container's whole resources on every update, unset fields as zeros. runc skips
//! each of these fields when it is 0 (its cgroup managers test `!= 0` before writing); so does
//! husk, in this one place, before anything is written.

use oci_spec::runtime::{
    LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxNetwork, LinuxResources, LinuxWeightDevice,
    LinuxWeightDeviceBuilder,
};

/// `r` without the fields runc ignores when they are zero.
pub fn without_unset_zeros(r: &LinuxResources) -> LinuxResources {
    let mut r = r.clone();
    if let Some(m) = *r.memory() {
        r.set_memory(Some(memory(m)));
    }
    if let Some(c) = r.cpu().clone() {
        r.set_cpu(Some(cpu(c)));
    }
    if let Some(b) = r.block_io().clone() {
        r.set_block_io(Some(block_io(b)));
    }
    if let Some(n) = r.network().clone() {
        r.set_network(Some(network(n)));
    }
    r
}

fn nonzero<T: Default + PartialEq>(v: Option<T>) -> Option<T> {
    v.filter(|v| *v != T::default())
}

/// limit, reservation, swap, kernel and kernelTCP: 0 is unset. swappiness 0 is a value.
fn memory(mut m: LinuxMemory) -> LinuxMemory {
    m.set_limit(nonzero(m.limit()));
    m.set_reservation(nonzero(m.reservation()));
    m.set_swap(nonzero(m.swap()));
    m.set_kernel(nonzero(m.kernel()));
    m.set_kernel_tcp(nonzero(m.kernel_tcp()));
    m
}

/// shares, quota, period and the realtime pair: 0 is unset; so are empty cpus and mems.
/// burst and idle are written whatever their value, as runc does.
fn cpu(mut c: LinuxCpu) -> LinuxCpu {
    c.set_shares(nonzero(c.shares()));
    c.set_quota(nonzero(c.quota()));
    c.set_period(nonzero(c.period()));
    c.set_realtime_runtime(nonzero(c.realtime_runtime()));
    c.set_realtime_period(nonzero(c.realtime_period()));
    c.set_cpus(c.cpus().clone().filter(|s| !s.is_empty()));
    c.set_mems(c.mems().clone().filter(|s| !s.is_empty()));
    c
}

/// weight and leafWeight, globally and per device: 0 is unset (a device entry left with
/// neither is dropped). A throttle rate of 0 is a value: it removes the limit.
fn block_io(mut b: LinuxBlockIo) -> LinuxBlockIo {
    b.set_weight(nonzero(b.weight()));
    b.set_leaf_weight(nonzero(b.leaf_weight()));
    if let Some(devices) = b.weight_device().clone() {
        let kept: Vec<_> = devices.iter().filter_map(weight_device).collect();
        b.set_weight_device(Some(kept));
    }
    b
}

/// A weight device without its zero weights, or None if nothing is left.
fn weight_device(d: &LinuxWeightDevice) -> Option<LinuxWeightDevice> {
    let (weight, leaf) = (nonzero(d.weight()), nonzero(d.leaf_weight()));
    if weight.is_none() && leaf.is_none() {
        return None;
    }
    let mut b = LinuxWeightDeviceBuilder::default()
        .major(d.major())
        .minor(d.minor());
    if let Some(w) = weight {
        b = b.weight(w);
    }
    if let Some(w) = leaf {
        b = b.leaf_weight(w);
    }
    b.build().ok()
}

/// classID 0 is unset.
fn network(mut n: LinuxNetwork) -> LinuxNetwork {
    n.set_class_id(nonzero(n.class_id()));
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> LinuxResources {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn dockers_zeros_are_dropped() {
        let r = without_unset_zeros(&parse(
            r#"{"blockIO": {"weight": 0}, "cpu": {"shares": 0, "quota": 0, "period": 0, "cpus": "", "mems": ""},
                "memory": {"limit": 0, "reservation": 0, "swap": 0, "kernel": 0, "kernelTCP": 0, "swappiness": 0}}"#,
        ));
        assert_eq!(r.block_io().as_ref().unwrap().weight(), None);
        let c = r.cpu().as_ref().unwrap();
        assert_eq!((c.shares(), c.quota(), c.period()), (None, None, None));
        assert_eq!((c.cpus().clone(), c.mems().clone()), (None, None));
        let m = r.memory().as_ref().unwrap();
        assert_eq!((m.limit(), m.reservation(), m.swap()), (None, None, None));
        assert_eq!((m.kernel(), m.kernel_tcp()), (None, None));
        assert_eq!(m.swappiness(), Some(0), "swappiness 0 is a value");
    }

    #[test]
    fn values_and_meaningful_zeros_are_kept() {
        let r = without_unset_zeros(&parse(
            r#"{"blockIO": {"weight": 300, "weightDevice": [{"major": 8, "minor": 0, "weight": 0},
                                                         {"major": 8, "minor": 16, "weight": 200}],
                           "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 0}]},
                "cpu": {"shares": 512, "burst": 0, "idle": 0}, "network": {"classID": 0}}"#,
        ));
        let b = r.block_io().as_ref().unwrap();
        assert_eq!(b.weight(), Some(300));
        let devices = b.weight_device().as_ref().unwrap();
        assert_eq!(devices.len(), 1);
        assert_eq!(devices[0].minor(), 16);
        assert_eq!(b.throttle_read_bps_device().as_ref().unwrap()[0].rate(), 0);
        let c = r.cpu().as_ref().unwrap();
        assert_eq!(
            (c.shares(), c.burst(), c.idle()),
            (Some(512), Some(0), Some(0))
        );
        assert_eq!(r.network().as_ref().unwrap().class_id(), None);
    }
}
