//! The lab's internet: the public segment, hosts on it, and home routers
//! doing NAT in front of private hosts.
//!
//! Addresses: the public segment is 198.51.100.0/24, a bridge `br0` in the
//! core namespace; the server host is 198.51.100.2, every other host or
//! router WAN side gets the next address from 198.51.100.10. Home N is
//! 10.N.0.0/24: its router is 10.N.0.1 (a bridge `brlan`), its hosts
//! 10.N.0.2, 10.N.0.3, ...

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::atomic::{AtomicU32, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use peerd_shared::proto::PublicKey;

use super::error::{LabError, Result};
use super::machines::{drop_new_udp, install_loss_chain, source_nat, Host, Kind, Router};
use super::netns::{self, Netns};
use super::precheck::preflight;
use super::server::start_server;
use crate::support::Server;

/// Every namespace a lab creates is named `PREFIX-<pid>-<n>-<role>`.
pub const PREFIX: &str = "peerdlab";
/// The server host's address on the public segment.
pub const SERVER_IP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);
/// The UDP port `Lab::start_server` runs `peerd server` on.
pub const SERVER_PORT: u16 = 8080;
/// Public ports a cone router maps to. Private hosts pick ephemeral ports
/// from [`PRIVATE_EPHEMERAL`], outside this range, so a mapping never keeps
/// the private port and a new mapping (after a conntrack flush) gets a new
/// random port: that is what makes rebinding observable.
pub const CONE_PORTS: &str = "1024-60999";
/// `net.ipv4.ip_local_port_range` inside private hosts.
pub const PRIVATE_EPHEMERAL: &str = "61000 65000";

static NEXT_LAB: AtomicU32 = AtomicU32::new(0);

/// The namespaces of one lab, destroyed (processes killed first) on drop,
/// newest first.
struct Namespaces(Mutex<Vec<Netns>>);

impl Drop for Namespaces {
    fn drop(&mut self) {
        let all = std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()));
        for ns in all.iter().rev() {
            ns.kill_all();
        }
        if std::env::var_os("LAB_KEEP").is_some() {
            let names: Vec<&str> = all.iter().map(Netns::name).collect();
            eprintln!("LAB_KEEP: keeping namespaces {names:?} (the next lab run removes them)");
            return;
        }
        for ns in all.iter().rev() {
            if let Err(e) = ns.destroy() {
                eprintln!("lab teardown: {e}");
            }
        }
    }
}

/// A small internet in network namespaces; everything is removed on drop.
pub struct Lab {
    tag: String,
    core: Netns,
    next_public: AtomicU8,
    next_home: AtomicU8,
    server_host: Host,
    server: Mutex<Option<Server>>,
    server_db: tempfile::TempDir,
    // Declared last: dropped after the server process is gone.
    namespaces: Namespaces,
}

impl Lab {
    /// Builds the public segment with the server host on it (no server
    /// running yet: see [`Lab::start_server`]).
    pub fn new() -> Result<Self> {
        preflight()?;
        sweep_stale();
        let tag = format!(
            "{PREFIX}-{}-{}",
            std::process::id(),
            NEXT_LAB.fetch_add(1, Ordering::Relaxed)
        );
        // Registered namespaces are destroyed if any later step fails.
        let namespaces = Namespaces(Mutex::new(Vec::new()));
        let core = namespaces.create(&tag, "core")?;
        core.ip(&["link", "add", "br0", "type", "bridge"])?;
        core.ip(&["link", "set", "br0", "up"])?;
        let ns = namespaces.create(&tag, "server")?;
        attach_public(&core, &ns, SERVER_IP.octets()[3])?;
        install_loss_chain(&ns, &["INPUT -i wan", "OUTPUT -o wan"])?;
        let server_db = tempfile::tempdir().map_err(|e| LabError::io("server db dir", e))?;
        Ok(Self {
            tag,
            core,
            next_public: AtomicU8::new(10),
            next_home: AtomicU8::new(1),
            server_host: Host {
                ns,
                ip: SERVER_IP,
                kind: Kind::Public,
                router: None,
            },
            server: Mutex::new(None),
            server_db,
            namespaces,
        })
    }

    /// This lab's namespace name prefix (`peerdlab-<pid>-<n>`).
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// The names of the namespaces this lab created.
    pub fn namespace_names(&self) -> Vec<String> {
        let all = self.namespaces.0.lock().unwrap_or_else(|e| e.into_inner());
        all.iter().map(|n| n.name().to_owned()).collect()
    }

    /// The namespace of the public segment: the bridge `br0` and one port
    /// `pN` per machine on it (a capture there sees the whole internet).
    pub fn core(&self) -> &Netns {
        &self.core
    }

    /// The host on the public segment that runs the server (198.51.100.2).
    pub fn server_host(&self) -> &Host {
        &self.server_host
    }

    /// Adds a host: `Public` on the segment, `Cone`/`Symmetric` behind a new
    /// home router of that kind.
    pub fn add_host(&self, kind: Kind) -> Result<Host> {
        match kind {
            Kind::Public => {
                let octet = self.next_public_octet()?;
                let ns = self.new_ns(&format!("p{octet}"))?;
                let ip = self.attach_public(&ns, octet)?;
                install_loss_chain(&ns, &["INPUT -i wan", "OUTPUT -o wan"])?;
                Ok(Host {
                    ns,
                    ip,
                    kind,
                    router: None,
                })
            }
            Kind::Cone | Kind::Symmetric => {
                let router = self.add_router(kind)?;
                self.add_host_behind(&router)
            }
        }
    }

    /// Adds a home router of `kind` (Cone or Symmetric) with no host yet.
    pub fn add_router(&self, kind: Kind) -> Result<Router> {
        if kind == Kind::Public {
            return Err(LabError::Unavailable(
                "a router must be Cone or Symmetric".into(),
            ));
        }
        let home = self.next_home.fetch_add(1, Ordering::Relaxed);
        if home == 0 {
            self.next_home.store(0, Ordering::Relaxed);
            return Err(LabError::Unavailable(
                "no home network left (10.1-255)".into(),
            ));
        }
        let ns = self.new_ns(&format!("r{home}"))?;
        let octet = self.next_public_octet()?;
        let wan_ip = self.attach_public(&ns, octet)?;
        let lan = format!("10.{home}.0.1/24");
        ns.ip(&["link", "add", "brlan", "type", "bridge"])?;
        ns.ip(&["addr", "add", &lan, "dev", "brlan"])?;
        ns.ip(&["link", "set", "brlan", "up"])?;
        ns.sysctl("net.ipv4.ip_forward=1")?;
        let udp_map: &[&str] = match kind {
            Kind::Cone => &["MASQUERADE", "--to-ports", CONE_PORTS],
            _ => &["MASQUERADE", "--random"],
        };
        let mut udp = vec!["-p", "udp", "-j"];
        udp.extend_from_slice(udp_map);
        source_nat(&ns, "wan", &udp)?;
        source_nat(&ns, "wan", &["-j", "MASQUERADE"])?;
        install_loss_chain(&ns, &["FORWARD -i wan", "FORWARD -o wan"])?;
        // New inbound UDP is dropped silently (cone filtering).
        drop_new_udp(&ns, "wan")?;
        Ok(Router {
            ns,
            wan_ip,
            home,
            kind,
            next_host: Arc::new(AtomicU8::new(2)),
        })
    }

    /// Makes `router` hairpin (RFC 4787 REQ-9): a host sending to the
    /// router's own public address reaches the host behind that mapping,
    /// seen from its public mapping, through the router's usual filtering.
    /// Off by default. See [`Router::install_hairpin`] for how.
    pub fn enable_hairpin(&self, router: &Router) -> Result<()> {
        let loop_ns = self.new_ns(&format!("x{}", router.home))?;
        router.install_hairpin(&loop_ns)
    }

    /// Adds another private host behind `router` (e.g. two peers behind the
    /// same cone router).
    pub fn add_host_behind(&self, router: &Router) -> Result<Host> {
        let k = router.next_host.fetch_add(1, Ordering::Relaxed);
        if !(2..=254).contains(&k) {
            router.next_host.store(255, Ordering::Relaxed);
            return Err(LabError::Unavailable("the home network is full".into()));
        }
        let ns = self.new_ns(&format!("h{}-{k}", router.home))?;
        let port = format!("l{k}");
        router.ns.add_veth(&port, "eth0", &ns)?;
        router
            .ns
            .ip(&["link", "set", &port, "master", "brlan", "up"])?;
        let ip = Ipv4Addr::new(10, router.home, 0, k);
        ns.ip(&["addr", "add", &format!("{ip}/24"), "dev", "eth0"])?;
        ns.ip(&["link", "set", "eth0", "up"])?;
        let gw = format!("10.{}.0.1", router.home);
        ns.ip(&["route", "add", "default", "via", &gw])?;
        ns.sysctl(&format!("net.ipv4.ip_local_port_range={PRIVATE_EPHEMERAL}"))?;
        Ok(Host {
            ns,
            ip,
            kind: router.kind,
            router: Some(router.clone()),
        })
    }

    /// Starts `peerd server` on the server host at 198.51.100.2:8080 (its
    /// database survives restarts within the lab). `keepalive` in seconds.
    pub fn start_server(&self, keepalive: Option<u64>) -> Result<SocketAddr> {
        let mut slot = self.server.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = slot.as_ref() {
            return Ok(s.addr);
        }
        let db = self.server_db.path().join("server.db");
        let server = start_server(&self.server_host, SERVER_PORT, &db, keepalive)?;
        let addr = server.addr;
        *slot = Some(server);
        Ok(addr)
    }

    /// Stops the server started by [`Lab::start_server`] (SIGKILL).
    pub fn stop_server(&self) {
        let server = self.server.lock().unwrap_or_else(|e| e.into_inner()).take();
        drop(server);
    }

    /// The public key of the server started by [`Lab::start_server`] (from
    /// its `server key KEY` log line), or why there is none.
    pub fn server_key(&self) -> Result<PublicKey> {
        let slot = self.server.lock().unwrap_or_else(|e| e.into_inner());
        let server = slot
            .as_ref()
            .ok_or_else(|| LabError::Unavailable("the lab's server is not running".into()))?;
        Ok(server.key())
    }

    /// The process id of the server started by [`Lab::start_server`].
    pub fn server_pid(&self) -> Option<u32> {
        let slot = self.server.lock().unwrap_or_else(|e| e.into_inner());
        slot.as_ref().map(|s| s.proc.pid())
    }

    /// The directory holding the server's database and its key file
    /// (`server.key`); it lives as long as the lab.
    pub fn server_dir(&self) -> &Path {
        self.server_db.path()
    }

    /// Log lines of the running server, if any.
    pub fn server_log(&self) -> Vec<String> {
        let slot = self.server.lock().unwrap_or_else(|e| e.into_inner());
        slot.as_ref().map(Server::logs).unwrap_or_default()
    }

    /// Where [`Lab::start_server`] runs the server.
    pub fn server_addr(&self) -> SocketAddr {
        SocketAddr::from((SERVER_IP, SERVER_PORT))
    }

    /// The next free address on the public segment (198.51.100.10-254).
    fn next_public_octet(&self) -> Result<u8> {
        match self.next_public.fetch_add(1, Ordering::Relaxed) {
            octet @ 10..=254 => Ok(octet),
            _ => {
                self.next_public.store(255, Ordering::Relaxed);
                Err(LabError::Unavailable("the public segment is full".into()))
            }
        }
    }

    fn new_ns(&self, role: &str) -> Result<Netns> {
        self.namespaces.create(&self.tag, role)
    }

    fn attach_public(&self, ns: &Netns, octet: u8) -> Result<Ipv4Addr> {
        attach_public(&self.core, ns, octet)
    }
}

impl Namespaces {
    /// Creates the namespace `TAG-ROLE`, registered for teardown.
    fn create(&self, tag: &str, role: &str) -> Result<Netns> {
        let ns = Netns::create(&format!("{tag}-{role}"))?;
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(ns.clone());
        Ok(ns)
    }
}

/// Connects `ns` to the public segment (the bridge in `core`) as
/// 198.51.100.`octet` on its interface `wan`.
fn attach_public(core: &Netns, ns: &Netns, octet: u8) -> Result<Ipv4Addr> {
    let port = format!("p{octet}");
    core.add_veth(&port, "wan", ns)?;
    core.ip(&["link", "set", &port, "master", "br0", "up"])?;
    let ip = Ipv4Addr::new(198, 51, 100, octet);
    ns.ip(&["addr", "add", &format!("{ip}/24"), "dev", "wan"])?;
    ns.ip(&["link", "set", "wan", "up"])?;
    Ok(ip)
}

/// Deletes namespaces left by lab processes that died without cleaning up
/// (killed by a timeout, SIGKILL): `PREFIX-<pid>-...` whose pid is gone.
fn sweep_stale() {
    let Ok(names) = netns::list_all() else { return };
    for name in names {
        let Some(rest) = name.strip_prefix(&format!("{PREFIX}-")) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = Netns::adopt(&name).destroy();
        }
    }
}
