//! `linux.netDevices` (runtime spec 1.3): host network interfaces moved into the container's
//! network namespace once its init is in it, renamed on the way when the config says so, with
//! their permanent global addresses (the kernel drops addresses on a move), as runc does it.
//! On delete of a container whose init still holds the namespace, husk hands each device back
//! to the host's namespace under its own name. When the namespace goes without husk (the
//! container stopped on its own), the kernel moves physical devices back and destroys virtual
//! ones (a veth with its peer): the spec leaves that to the kernel.
//!
//! rtnetlink by hand (about what runc's netlink library sends): RTM_GETLINK/RTM_NEWLINK for
//! the link, RTM_GETADDR/RTM_NEWADDR for the addresses.

use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use nix::sched::{setns, CloneFlags};
use nix::sys::socket::{
    recv, sendto, socket, AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType,
};
use oci_spec::runtime::LinuxNetDevice;

use crate::error::{fail, StepContext, SysError};

const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const RTM_NEWADDR: u16 = 20;
const RTM_GETADDR: u16 = 22;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const NLM_F_DUMP: u16 = 0x300;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const IFLA_IFNAME: u16 = 3;
const IFLA_NET_NS_FD: u16 = 28;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_FLAGS: u16 = 8;
const IFA_F_PERMANENT: u32 = 0x80;
const RT_SCOPE_UNIVERSE: u8 = 0;
const IFF_UP: u32 = 1;

/// Move every device of `devices` (host name → its name in the container) from husk's
/// network namespace into `target`'s (an fd of /proc/<init>/ns/net).
pub fn move_in(
    devices: &HashMap<String, LinuxNetDevice>,
    target: BorrowedFd<'_>,
) -> Result<(), SysError> {
    let mut names: Vec<_> = devices.iter().collect();
    names.sort_by_key(|(host, _)| host.as_str());
    let here = Rtnl::here()?;
    let there = Rtnl::in_namespace(target)?;
    for (host, d) in names {
        let name = d.name().clone().unwrap_or_else(|| host.clone());
        let what = || format!("linux.netDevices.{host}");
        move_one(&here, &there, host, &name, target).step(what)?;
    }
    Ok(())
}

/// Hand every device back from `container` (its network namespace) to husk's, under its host
/// name. A device that is no longer there (the container's own doing) is skipped.
pub fn move_back(
    devices: &HashMap<String, LinuxNetDevice>,
    container: BorrowedFd<'_>,
) -> Result<(), SysError> {
    let host_ns = std::fs::File::open("/proc/self/ns/net").step(|| "opening husk's netns")?;
    let here = Rtnl::here()?;
    let there = Rtnl::in_namespace(container)?;
    for (host, d) in devices {
        let name = d.name().clone().unwrap_or_else(|| host.clone());
        if there.index_of(&name).is_err() {
            tracing::debug!("linux.netDevices.{host}: {name} is gone from the container");
            continue;
        }
        move_one(&there, &here, &name, host, host_ns.as_fd())
            .step(|| format!("linux.netDevices.{host}: handing {name} back to the host"))?;
    }
    Ok(())
}

/// Bring up `lo` in the network namespace husk just made, as runc does for a new one (its
/// "loopback" network): a container can reach its own services on 127.0.0.1.
pub fn loopback_up() -> Result<(), SysError> {
    let rtnl = Rtnl::here()?;
    let index = rtnl.index_of("lo").step(|| "finding lo")?;
    rtnl.request(RTM_NEWLINK, 0, &ifinfo(index, IFF_UP, IFF_UP), &[])
        .step(|| "bringing lo up")?;
    Ok(())
}

/// `name` (in `from`'s namespace) down, moved to `to_ns` as `new_name`, its permanent global
/// addresses added again there.
fn move_one(
    from: &Rtnl,
    to: &Rtnl,
    name: &str,
    new_name: &str,
    to_ns: BorrowedFd<'_>,
) -> std::io::Result<()> {
    let index = from.index_of(name)?;
    // Down first, as runc: nothing on the host side depends on it mid-move.
    from.request(RTM_NEWLINK, 0, &ifinfo(index, 0, IFF_UP), &[])?;
    let addresses = from.permanent_global_addresses(index)?;
    let fd = (to_ns.as_raw_fd() as u32).to_ne_bytes();
    let attrs = [
        (IFLA_IFNAME, c_bytes(new_name)),
        (IFLA_NET_NS_FD, fd.to_vec()),
    ];
    from.request(RTM_NEWLINK, 0, &ifinfo(index, 0, 0), &attrs)?;
    let moved = to.index_of(new_name)?;
    for a in addresses {
        let mut msg = a.header.clone();
        msg[4..8].copy_from_slice(&(moved as u32).to_ne_bytes());
        let attrs = [(IFA_LOCAL, a.address.clone()), (IFA_ADDRESS, a.address)];
        to.request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, &msg, &attrs)?;
    }
    Ok(())
}

/// struct ifinfomsg: AF_UNSPEC, the link's index, its flags and which of them change.
fn ifinfo(index: i32, flags: u32, change: u32) -> Vec<u8> {
    let mut m = vec![0u8; 16];
    m[4..8].copy_from_slice(&index.to_ne_bytes());
    m[8..12].copy_from_slice(&flags.to_ne_bytes());
    m[12..16].copy_from_slice(&change.to_ne_bytes());
    m
}

fn c_bytes(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

/// An address to carry across: its struct ifaddrmsg and the address bytes.
struct Address {
    header: Vec<u8>,
    address: Vec<u8>,
}

/// A NETLINK_ROUTE socket, bound to the network namespace it was made in.
struct Rtnl {
    fd: OwnedFd,
}

impl Rtnl {
    fn here() -> Result<Rtnl, SysError> {
        let fd = socket(
            AddressFamily::Netlink,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkRoute,
        )
        .step(|| "opening a netlink socket")?;
        Ok(Rtnl { fd })
    }

    /// A socket in `ns`: made after a setns into it, husk back in its own namespace after
    /// (husk is single-threaded; a socket keeps the namespace it was made in).
    fn in_namespace(ns: BorrowedFd<'_>) -> Result<Rtnl, SysError> {
        let own = std::fs::File::open("/proc/self/ns/net").step(|| "opening husk's netns")?;
        setns(ns, CloneFlags::CLONE_NEWNET).step(|| "entering the container's netns")?;
        let made = Rtnl::here();
        setns(own.as_fd(), CloneFlags::CLONE_NEWNET).step(|| "returning to husk's netns")?;
        made
    }

    /// Send one request and read its answers: the messages of a dump (until NLMSG_DONE), or
    /// the acknowledgement (an error number, 0 for success).
    fn request(
        &self,
        kind: u16,
        flags: u16,
        body: &[u8],
        attrs: &[(u16, Vec<u8>)],
    ) -> std::io::Result<Vec<(u16, Vec<u8>)>> {
        let mut msg = vec![0u8; 16];
        msg.extend_from_slice(body);
        for (t, data) in attrs {
            let len = 4 + data.len();
            msg.extend_from_slice(&(len as u16).to_ne_bytes());
            msg.extend_from_slice(&t.to_ne_bytes());
            msg.extend_from_slice(data);
            msg.resize(msg.len().div_ceil(4) * 4, 0);
        }
        let total = msg.len() as u32;
        msg[0..4].copy_from_slice(&total.to_ne_bytes());
        msg[4..6].copy_from_slice(&kind.to_ne_bytes());
        // A dump ends with NLMSG_DONE; anything else is asked to end with its acknowledgement.
        let dump = flags & NLM_F_DUMP == NLM_F_DUMP;
        let all = NLM_F_REQUEST | flags | if dump { 0 } else { NLM_F_ACK };
        msg[6..8].copy_from_slice(&all.to_ne_bytes());
        msg[8..12].copy_from_slice(&1u32.to_ne_bytes());
        sendto(
            self.fd.as_raw_fd(),
            &msg,
            &NetlinkAddr::new(0, 0),
            MsgFlags::empty(),
        )?;
        self.answers()
    }

    /// Every answer to the request just sent, up to its end: NLMSG_DONE after a dump, the
    /// acknowledgement (NLMSG_ERROR) otherwise, which may come in a later datagram than the
    /// reply itself. Nothing of one request is left for the next to read.
    fn answers(&self) -> std::io::Result<Vec<(u16, Vec<u8>)>> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 65536];
        loop {
            let n = recv(self.fd.as_raw_fd(), &mut buf, MsgFlags::empty())?;
            let mut at = 0;
            while at + 16 <= n {
                let len = u32::from_ne_bytes(buf[at..at + 4].try_into().unwrap_or_default());
                let kind = u16::from_ne_bytes(buf[at + 4..at + 6].try_into().unwrap_or_default());
                let len = (len as usize).clamp(16, n - at);
                let body = buf[at + 16..at + len].to_vec();
                match kind {
                    NLMSG_DONE => return Ok(out),
                    NLMSG_ERROR => {
                        let code = i32::from_ne_bytes(body[..4].try_into().unwrap_or_default());
                        return match code {
                            0 => Ok(out),
                            e => Err(std::io::Error::from_raw_os_error(-e)),
                        };
                    }
                    _ => out.push((kind, body)),
                }
                at += len.div_ceil(4) * 4;
            }
        }
    }

    /// The index of the interface named `name` in this socket's namespace.
    fn index_of(&self, name: &str) -> std::io::Result<i32> {
        let answers = self.request(
            RTM_GETLINK,
            0,
            &ifinfo(0, 0, 0),
            &[(IFLA_IFNAME, c_bytes(name))],
        )?;
        answers
            .iter()
            .find(|(kind, body)| *kind == RTM_NEWLINK && body.len() >= 16)
            .map(|(_, body)| i32::from_ne_bytes(body[4..8].try_into().unwrap_or_default()))
            .ok_or_else(|| std::io::Error::other(format!("no network interface {name}")))
    }

    /// The permanent addresses of global scope on link `index` (runc moves those only: the
    /// others are the host's own or expire).
    fn permanent_global_addresses(&self, index: i32) -> std::io::Result<Vec<Address>> {
        let dump = self.request(RTM_GETADDR, NLM_F_DUMP, &[0u8; 8], &[])?;
        let mut out = Vec::new();
        for (kind, body) in dump {
            if kind != RTM_NEWADDR || body.len() < 8 {
                continue;
            }
            let (scope, on) = (
                body[3],
                u32::from_ne_bytes(body[4..8].try_into().unwrap_or_default()),
            );
            let mut flags = u32::from(body[2]);
            let mut address = None;
            for (t, data) in attributes(&body[8..]) {
                match t {
                    IFA_FLAGS if data.len() >= 4 => {
                        flags = u32::from_ne_bytes(data[..4].try_into().unwrap_or_default())
                    }
                    IFA_LOCAL => address = Some(data.to_vec()),
                    IFA_ADDRESS if address.is_none() => address = Some(data.to_vec()),
                    _ => {}
                }
            }
            let wanted = on as i32 == index && scope == RT_SCOPE_UNIVERSE;
            if let (true, true, Some(address)) = (wanted, flags & IFA_F_PERMANENT != 0, address) {
                out.push(Address {
                    header: body[..8].to_vec(),
                    address,
                });
            }
        }
        Ok(out)
    }
}

/// The rtattrs of a message body: (type, data).
fn attributes(mut b: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    while b.len() >= 4 {
        let len = u16::from_ne_bytes([b[0], b[1]]) as usize;
        let t = u16::from_ne_bytes([b[2], b[3]]) & 0x3fff;
        if len < 4 || len > b.len() {
            break;
        }
        out.push((t, &b[4..len]));
        b = &b[(len.div_ceil(4) * 4).min(b.len())..];
    }
    out
}

/// The container's network namespace, by its init's pid, as an fd.
pub fn namespace_of(pid: i32) -> Result<OwnedFd, SysError> {
    let path = format!("/proc/{pid}/ns/net");
    std::fs::File::open(&path)
        .map(OwnedFd::from)
        .step(|| format!("opening {path}"))
}

/// Why a config's devices cannot be moved before anything is made: each must exist on the
/// host (in husk's network namespace).
pub fn check_present(devices: &HashMap<String, LinuxNetDevice>) -> Result<(), SysError> {
    let here = Rtnl::here()?;
    for host in devices.keys() {
        if here.index_of(host).is_err() {
            return Err(fail(
                format!("linux.netDevices.{host}"),
                format!("no network interface {host} on the host"),
            ));
        }
    }
    Ok(())
}
