//! The machines of the lab: hosts (a namespace with one address) and home
//! routers (a namespace doing NAT), with the iptables rules that inject
//! loss and the counters that show what the rules dropped.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::AtomicU8;
use std::sync::Arc;

use super::error::{LabError, Result};
use super::netns::Netns;
use crate::support::Proc;

/// The iptables chain (in routers and public hosts) holding the loss rule.
const LOSS_CHAIN: &str = "LAB_LOSS";

/// How a host is connected to the public segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Directly on the public segment, no NAT.
    Public,
    /// Behind MASQUERADE (endpoint-independent mapping) with a firewall
    /// dropping new inbound UDP (address-and-port-dependent filtering).
    Cone,
    /// Behind MASQUERADE `--random` (a new public port per destination).
    Symmetric,
}

/// A machine of the lab: a namespace with one address.
#[derive(Clone, Debug)]
pub struct Host {
    pub(super) ns: Netns,
    pub(super) ip: Ipv4Addr,
    pub(super) kind: Kind,
    pub(super) router: Option<Router>,
}

impl Host {
    /// The host's own address (public, or 10.N.0.k behind a router).
    pub fn ip(&self) -> Ipv4Addr {
        self.ip
    }

    /// `ip():port`.
    pub fn addr(&self, port: u16) -> SocketAddr {
        SocketAddr::from((self.ip, port))
    }

    /// How the host is connected.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The home router in front of the host (`None` for public hosts).
    pub fn router(&self) -> Option<&Router> {
        self.router.as_ref()
    }

    /// The host's namespace.
    pub fn ns(&self) -> &Netns {
        &self.ns
    }

    /// Binds a UDP socket on the host's address (`port` 0: ephemeral).
    pub fn bind_udp(&self, port: u16) -> Result<UdpSocket> {
        self.ns.bind_udp(self.addr(port))
    }

    /// A `Command` running `program` on this host (`ip netns exec`).
    pub fn command(&self, program: impl AsRef<Path>) -> Command {
        self.ns.command(&program.as_ref().to_string_lossy())
    }

    /// Spawns `program args` on this host; killed when the guard drops (and
    /// in any case when the lab drops).
    pub fn spawn(&self, program: impl AsRef<Path>, args: &[&str]) -> Result<Proc> {
        let mut cmd = self.command(program.as_ref());
        cmd.args(args);
        let name = format!("{} on {}", program.as_ref().display(), self.ns.name());
        Proc::start(&name, &mut cmd).map_err(|e| LabError::io(format!("cannot spawn {name}"), e))
    }

    /// Drops a random fraction `p` of the datagrams on the host's uplink,
    /// both directions: its router's WAN side, or its own interface for a
    /// public host. `p = 0` removes the loss.
    pub fn set_loss(&self, p: f64) -> Result<()> {
        match &self.router {
            Some(r) => r.set_loss(p),
            None => set_loss(&self.ns, p),
        }
    }

    /// Datagrams dropped so far by the loss rule on the host's uplink.
    pub fn loss_drops(&self) -> Result<u64> {
        match &self.router {
            Some(r) => r.loss_drops(),
            None => drops(&self.ns, LOSS_CHAIN, ""),
        }
    }
}

/// A home router doing NAT between its home 10.N.0.0/24 and the public segment.
#[derive(Clone, Debug)]
pub struct Router {
    pub(super) ns: Netns,
    pub(super) wan_ip: Ipv4Addr,
    /// N of the home network 10.N.0.0/24.
    pub(super) home: u8,
    pub(super) kind: Kind,
    /// Last octet of the next host behind the router.
    pub(super) next_host: Arc<AtomicU8>,
}

impl Router {
    /// The router's public address (what peers behind it look like).
    pub fn wan_ip(&self) -> Ipv4Addr {
        self.wan_ip
    }

    /// Cone or Symmetric.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The router's namespace.
    pub fn ns(&self) -> &Netns {
        &self.ns
    }

    /// Drops a random fraction `p` of the datagrams crossing the WAN side,
    /// both directions (`iptables -m statistic`); `p = 0` removes the loss.
    pub fn set_loss(&self, p: f64) -> Result<()> {
        set_loss(&self.ns, p)
    }

    /// Datagrams dropped so far by the loss rule.
    pub fn loss_drops(&self) -> Result<u64> {
        drops(&self.ns, LOSS_CHAIN, "")
    }

    /// New inbound UDP dropped so far by the firewall (unsolicited datagrams).
    pub fn filter_drops(&self) -> Result<u64> {
        Ok(drops(&self.ns, "FORWARD", "ctstate NEW")? + drops(&self.ns, "INPUT", "ctstate NEW")?)
    }

    /// Forgets every NAT mapping (`conntrack -F`): the next datagram out
    /// gets a new public port, as after a NAT rebinding.
    pub fn flush_conntrack(&self) -> Result<()> {
        self.ns.exec("conntrack", &["-F"]).map(drop)
    }

    /// How long an idle UDP mapping lives, in seconds: `unreplied` while
    /// only one direction was seen (and for a short-lived exchange),
    /// `answered` once traffic has flowed both ways for a while
    /// (`nf_conntrack_udp_timeout` / `_stream`, Linux defaults 30 and 120).
    pub fn set_mapping_timeout(&self, unreplied: u32, answered: u32) -> Result<()> {
        self.ns.sysctl(&format!(
            "net.netfilter.nf_conntrack_udp_timeout={unreplied}"
        ))?;
        self.ns.sysctl(&format!(
            "net.netfilter.nf_conntrack_udp_timeout_stream={answered}"
        ))
    }

    /// How many UDP mappings the router holds now.
    pub fn udp_mappings(&self) -> Result<usize> {
        Ok(self
            .conntrack_table()?
            .lines()
            .filter(|l| l.starts_with("udp"))
            .count())
    }

    /// Hairpinning through `loop_ns`, a namespace that only sends packets
    /// back. Linux delivers a packet for the router's own address locally,
    /// where no NAT mapping applies; so packets from the home to the WAN
    /// address are policy-routed out of `hp0` instead, source-NATed there
    /// exactly like on `wan` (the same mapping is reused: endpoint
    /// independence), turned around by `loop_ns`, and come back in on
    /// `hp1` as if from outside: conntrack maps them to the inside host
    /// whose mapping they address, or the firewall drops them as new.
    pub fn install_hairpin(&self, loop_ns: &Netns) -> Result<()> {
        let (wan, ns) = (self.wan_ip.to_string(), &self.ns);
        for (mine, theirs, net) in [("hp0", "xa", "169.254.1"), ("hp1", "xb", "169.254.2")] {
            ns.add_veth(mine, theirs, loop_ns)?;
            ns.ip(&["addr", "add", &format!("{net}.1/30"), "dev", mine])?;
            ns.ip(&["link", "set", mine, "up"])?;
            loop_ns.ip(&["addr", "add", &format!("{net}.2/30"), "dev", theirs])?;
            loop_ns.ip(&["link", "set", theirs, "up"])?;
        }
        loop_ns.sysctl("net.ipv4.ip_forward=1")?;
        for conf in ["all", "xa"] {
            loop_ns.sysctl(&format!("net.ipv4.conf.{conf}.rp_filter=0"))?;
        }
        loop_ns.ip(&[
            "route",
            "add",
            &format!("{wan}/32"),
            "via",
            "169.254.2.1",
            "dev",
            "xb",
        ])?;
        // From the home to the WAN address: out of hp0, before the local table.
        ns.ip(&[
            "route",
            "add",
            "default",
            "via",
            "169.254.1.2",
            "dev",
            "hp0",
            "table",
            "100",
        ])?;
        ns.ip(&[
            "rule",
            "add",
            "pref",
            "100",
            "iif",
            "brlan",
            "to",
            &format!("{wan}/32"),
            "lookup",
            "100",
        ])?;
        ns.ip(&["rule", "add", "pref", "200", "lookup", "local"])?;
        ns.ip(&["rule", "del", "pref", "0"])?;
        // Coming back in with our own address as source is expected on hp1.
        for conf in ["all", "hp1"] {
            ns.sysctl(&format!("net.ipv4.conf.{conf}.rp_filter=0"))?;
        }
        ns.sysctl("net.ipv4.conf.hp1.accept_local=1")?;
        let snat = match self.kind {
            Kind::Cone => format!("{wan}:{}", super::topology::CONE_PORTS),
            _ => wan.clone(),
        };
        let mut rule = vec!["-p", "udp", "-j", "SNAT", "--to-source", &snat];
        if self.kind != Kind::Cone {
            rule.push("--random");
        }
        source_nat(ns, "hp0", &rule)?;
        drop_new_udp(ns, "hp1")?;
        Ok(())
    }

    /// The router's connection-tracking table (`conntrack -L`), for diagnostics.
    pub fn conntrack_table(&self) -> Result<String> {
        self.ns.exec("conntrack", &["-L"])
    }
}

/// Appends `iptables -t nat -A POSTROUTING -o IFACE RULE...`: source NAT
/// of what leaves through `iface`.
pub(super) fn source_nat(ns: &Netns, iface: &str, rule: &[&str]) -> Result<()> {
    let mut args = vec!["-t", "nat", "-A", "POSTROUTING", "-o", iface];
    args.extend_from_slice(rule);
    ns.iptables(&args).map(drop)
}

/// Drops new inbound UDP arriving on `iface` (the firewall of a router),
/// whether it would be forwarded or is for the router itself.
pub(super) fn drop_new_udp(ns: &Netns, iface: &str) -> Result<()> {
    for chain in ["FORWARD", "INPUT"] {
        ns.iptables(&[
            "-A",
            chain,
            "-i",
            iface,
            "-p",
            "udp",
            "-m",
            "conntrack",
            "--ctstate",
            "NEW",
            "-j",
            "DROP",
        ])?;
    }
    Ok(())
}

/// Creates the loss chain and jumps to it from each `"CHAIN -i/-o IFACE"` hook.
pub(super) fn install_loss_chain(ns: &Netns, hooks: &[&str]) -> Result<()> {
    ns.iptables(&["-N", LOSS_CHAIN])?;
    for hook in hooks {
        let mut args = vec!["-A"];
        args.extend(hook.split_whitespace());
        args.extend(["-j", LOSS_CHAIN]);
        ns.iptables(&args)?;
    }
    Ok(())
}

fn set_loss(ns: &Netns, p: f64) -> Result<()> {
    if !(0.0..=1.0).contains(&p) {
        return Err(LabError::Unavailable(format!(
            "loss {p} is not a probability"
        )));
    }
    ns.iptables(&["-F", LOSS_CHAIN])?;
    if p > 0.0 {
        let p = format!("{p}");
        ns.iptables(&[
            "-A",
            LOSS_CHAIN,
            "-m",
            "statistic",
            "--mode",
            "random",
            "--probability",
            &p,
            "-j",
            "DROP",
        ])?;
    }
    Ok(())
}

/// Sum of the packet counters of the DROP rules in `chain` whose line
/// contains `matching`.
fn drops(ns: &Netns, chain: &str, matching: &str) -> Result<u64> {
    let out = ns.iptables(&["-L", chain, "-v", "-x", "-n"])?;
    Ok(out
        .lines()
        .filter(|l| l.contains("DROP") && l.contains(matching))
        .filter_map(|l| l.split_whitespace().next()?.parse::<u64>().ok())
        .sum())
}
