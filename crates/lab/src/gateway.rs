//! The lab's WireGuard gateway: a UDP socket, the tunnel core as responder, the firewall, and
//! the virtual hosts' interface, all on one thread.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use gatehouse_netstack::PacketDevice;
use gatehouse_profile::{Config, DnsEntry, Endpoint, Host, Interface, Key, Peer, Secret};
use gatehouse_tunnel::{Event, PeerConfig, Tunnel, TunnelConfig, UdpOutcome};
use ipnet::{IpNet, Ipv4Net};
use smoltcp::iface::{self, Interface as SmolInterface, PollIngressSingleResult, SocketSet};
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};

use crate::hosts::{HostStats, Hosts};
use crate::plan::{self, CLIENT_IP, GATEWAY_TUNNEL_IP, MTU, VPN_POOL};
use crate::rules::{Flow, Verdict};

/// The buffer for one datagram or packet (MTU + WireGuard overhead, with room to spare).
const BUF: usize = 2048;
/// Packets waiting for the virtual interface, each way.
const QUEUE: usize = 512;
/// Longest the loop sleeps without looking at timers.
const MAX_WAIT: Duration = Duration::from_millis(50);

/// Why the lab could not start.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// The UDP socket could not be bound.
    #[error("cannot bind the lab's UDP socket to {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error.
        source: io::Error,
    },
    /// The socket could not be configured.
    #[error("cannot configure the lab's UDP socket: {0}")]
    Socket(io::Error),
    /// The tunnel refused the configuration (not expected with generated keys).
    #[error("the lab's tunnel configuration was refused: {0}")]
    Tunnel(#[from] gatehouse_tunnel::ConfigError),
    /// The gateway thread could not be started.
    #[error("cannot start the lab's thread: {0}")]
    Thread(io::Error),
}

/// How to start the lab.
#[derive(Debug, Clone)]
pub struct LabOptions {
    /// Where the gateway's UDP socket listens (default `127.0.0.1:0`, an ephemeral port).
    pub listen: SocketAddr,
    /// The address written as the profile's `Endpoint` (default: `listen` as bound, with an
    /// unspecified IP replaced by 127.0.0.1).
    pub endpoint: Option<SocketAddr>,
}

impl Default for LabOptions {
    fn default() -> Self {
        LabOptions {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            endpoint: None,
        }
    }
}

/// Counters of a running lab.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LabStats {
    /// Completed handshakes with the client.
    pub handshakes: u64,
    /// Packets from the client delivered to a virtual host.
    pub delivered: u64,
    /// Packets to the client.
    pub sent: u64,
    /// Packets dropped by a security group (the "why not" case).
    pub blocked: u64,
    /// Packets to an address where no host lives.
    pub no_such_host: u64,
    /// The virtual hosts' counters.
    pub hosts: HostStats,
    /// Open connections on the virtual hosts.
    pub connections: usize,
}

/// A running lab: the gateway thread and the client profile it hands out. Dropping it stops
/// the gateway.
pub struct Lab {
    local_addr: SocketAddr,
    profile: Config,
    stop: Arc<AtomicBool>,
    stats: Arc<Mutex<LabStats>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Lab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lab")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

fn v4net(net: (Ipv4Addr, u8)) -> IpNet {
    // Prefix lengths in the plan are constants ≤ 32.
    IpNet::V4(Ipv4Net::new(net.0, net.1.min(32)).unwrap_or_default())
}

/// The client profile for a gateway with `gateway_key` reached at `endpoint`.
pub fn client_profile(client_key: Secret, gateway_key: Key, endpoint: SocketAddr) -> Config {
    Config {
        interface: Interface {
            private_key: Some(client_key),
            addresses: vec![v4net((CLIENT_IP, 32))],
            dns: vec![
                DnsEntry::Server(IpAddr::V4(plan::DNS_IP)),
                DnsEntry::Search(plan::DNS_DOMAIN.to_owned()),
            ],
            mtu: Some(MTU),
            ..Interface::default()
        },
        peers: vec![Peer {
            public_key: gateway_key,
            preshared_key: None,
            allowed_ips: plan::routed_networks().into_iter().map(v4net).collect(),
            endpoint: Some(Endpoint {
                host: Host::Ip(endpoint.ip()),
                port: endpoint.port(),
            }),
            persistent_keepalive: Some(25),
        }],
    }
}

impl Lab {
    /// Generates the gateway's and the client's keys, binds the UDP socket and starts the
    /// gateway thread.
    pub fn start(options: LabOptions) -> Result<Lab, LabError> {
        let socket = UdpSocket::bind(options.listen).map_err(|source| LabError::Bind {
            addr: options.listen,
            source,
        })?;
        let local_addr = socket.local_addr().map_err(LabError::Socket)?;
        let endpoint = options.endpoint.unwrap_or_else(|| {
            let mut a = local_addr;
            if a.ip().is_unspecified() {
                a.set_ip(IpAddr::V4(Ipv4Addr::LOCALHOST));
            }
            a
        });
        let gateway_key = Secret::generate();
        let client_key = Secret::generate();
        let client_public = client_key.public_key();
        let profile = client_profile(client_key, gateway_key.public_key(), endpoint);
        let tunnel = Tunnel::new(
            TunnelConfig {
                private_key: *gateway_key.expose(),
                peers: vec![PeerConfig {
                    public_key: *client_public.as_bytes(),
                    preshared_key: None,
                    allowed_ips: vec![v4net((CLIENT_IP, 32))],
                    endpoint: None,
                    persistent_keepalive: None,
                }],
            },
            gatehouse_tunnel::Instant::now(),
        )?;
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(Mutex::new(LabStats::default()));
        let mut gateway = Gateway::new(socket, tunnel, stats.clone());
        let stop2 = stop.clone();
        let thread = std::thread::Builder::new()
            .name("gh-lab".into())
            .spawn(move || gateway.run(&stop2))
            .map_err(LabError::Thread)?;
        Ok(Lab {
            local_addr,
            profile,
            stop,
            stats,
            thread: Some(thread),
        })
    }

    /// The gateway's UDP address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The client profile (with the client's private key) that connects to this lab.
    pub fn profile(&self) -> &Config {
        &self.profile
    }

    /// The counters so far.
    pub fn stats(&self) -> LabStats {
        self.stats.lock().map(|s| *s).unwrap_or_default()
    }

    /// Stops the gateway and waits for its thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.shutdown();
    }
}

struct Gateway {
    socket: UdpSocket,
    tunnel: Tunnel,
    device: PacketDevice,
    iface: SmolInterface,
    sockets: SocketSet<'static>,
    hosts: Hosts,
    stats: Arc<Mutex<LabStats>>,
    local: LabStats,
    rx: Vec<u8>,
    out: Vec<u8>,
}

fn smol_now() -> smoltcp::time::Instant {
    smoltcp::time::Instant::now()
}

impl Gateway {
    fn new(socket: UdpSocket, tunnel: Tunnel, stats: Arc<Mutex<LabStats>>) -> Gateway {
        let mut device = PacketDevice::new(usize::from(MTU), QUEUE, QUEUE);
        // Packets from the tunnel are authenticated by WireGuard; loopback ones are ours.
        device.set_verify_rx_checksums(false);
        let mut config = iface::Config::new(HardwareAddress::Ip);
        config.random_seed = u64::from(std::process::id()) ^ 0x6c61_6221;
        let mut iface = SmolInterface::new(config, &mut device, smol_now());
        iface.update_ip_addrs(|addrs| {
            let _ = addrs.push(IpCidr::new(IpAddress::Ipv4(GATEWAY_TUNNEL_IP), VPN_POOL.1));
        });
        let _ = iface.routes_mut().add_default_ipv4_route(GATEWAY_TUNNEL_IP);
        // Every lab address is ours: the firewall in front decides which ones exist.
        iface.set_any_ip(true);
        let mut sockets = SocketSet::new(Vec::new());
        let hosts = Hosts::new(&mut sockets);
        Gateway {
            socket,
            tunnel,
            device,
            iface,
            sockets,
            hosts,
            stats,
            local: LabStats::default(),
            rx: vec![0; BUF],
            out: vec![0; BUF],
        }
    }

    fn run(&mut self, stop: &AtomicBool) {
        tracing::info!(addr = ?self.socket.local_addr().ok(), "lab gateway listening");
        while !stop.load(Ordering::Relaxed) {
            let wait = self.wait_time();
            if self.socket.set_read_timeout(Some(wait)).is_err() {
                std::thread::sleep(wait);
            }
            // One blocking receive, then whatever else is waiting, without blocking.
            let mut received = 0;
            while received < 64 {
                match self.socket.recv_from(&mut self.rx) {
                    Ok((n, from)) => {
                        received += 1;
                        self.on_datagram(from, n);
                        if received == 1 {
                            let _ = self.socket.set_nonblocking(true);
                        }
                    }
                    Err(e) => {
                        if !matches!(
                            e.kind(),
                            io::ErrorKind::WouldBlock
                                | io::ErrorKind::TimedOut
                                | io::ErrorKind::Interrupted
                                | io::ErrorKind::ConnectionRefused
                        ) {
                            tracing::warn!("lab socket: {e}");
                        }
                        break;
                    }
                }
            }
            if received > 0 {
                let _ = self.socket.set_nonblocking(false);
            }
            let now = gatehouse_tunnel::Instant::now();
            if self.tunnel.poll_timeout().is_some_and(|t| t <= now) {
                self.tunnel.handle_timeout(now);
            }
            self.pump();
            self.flush_tunnel();
            self.publish();
        }
        tracing::info!("lab gateway stopped");
    }

    fn wait_time(&mut self) -> Duration {
        let now = gatehouse_tunnel::Instant::now();
        let tunnel = self
            .tunnel
            .poll_timeout()
            .map_or(MAX_WAIT, |t| t.saturating_duration_since(now));
        let smol = self
            .iface
            .poll_delay(smol_now(), &self.sockets)
            .map_or(MAX_WAIT, Duration::from);
        tunnel.min(smol).min(MAX_WAIT).max(Duration::from_millis(1))
    }

    fn on_datagram(&mut self, from: SocketAddr, n: usize) {
        let now = gatehouse_tunnel::Instant::now();
        let Some(datagram) = self.rx.get(..n) else {
            return;
        };
        match self
            .tunnel
            .handle_udp_datagram(from, datagram, &mut self.out, now)
        {
            UdpOutcome::TunPacket(packet) => {
                let packet = packet.to_vec();
                self.deliver(&packet);
            }
            UdpOutcome::Reply { dst, datagram } => {
                let _ = self.socket.send_to(datagram, dst);
            }
            UdpOutcome::Nothing | UdpOutcome::Dropped(_) => {}
        }
        self.flush_tunnel();
    }

    /// A packet for the lab's networks: through the firewall into the interface.
    fn deliver(&mut self, packet: &[u8]) {
        let Some(flow) = Flow::parse(packet) else {
            return;
        };
        tracing::trace!(?flow, verdict = %flow.verdict(), "in");
        match flow.verdict() {
            Verdict::Admit => {
                if let Some(reply) = crate::icmp::echo_reply(packet) {
                    self.local.delivered += 1;
                    self.route_out(&reply);
                } else if self.device.push_rx(packet) {
                    self.local.delivered += 1;
                }
            }
            Verdict::NoSuchHost => self.local.no_such_host += 1,
            Verdict::Blocked { group } => {
                self.local.blocked += 1;
                tracing::debug!(
                    "dropped {}→{}:{:?} ({group})",
                    flow.src,
                    flow.dst,
                    flow.dst_port
                );
            }
        }
    }

    /// Runs the interface and the hosts until nothing moves; routes what the interface sends
    /// (to the tunnel, or looped back to another virtual host).
    fn pump(&mut self) {
        for _ in 0..64 {
            let now = smol_now();
            // Ingress one packet at a time, re-arming listeners in between.
            for _ in 0..QUEUE {
                let r = self
                    .iface
                    .poll_ingress_single(now, &mut self.device, &mut self.sockets);
                if r == PollIngressSingleResult::None {
                    break;
                }
                self.hosts
                    .rearm(self.iface.context(), &mut self.sockets, now);
            }
            self.iface.poll(now, &mut self.device, &mut self.sockets);
            let busy = self.hosts.run(self.iface.context(), &mut self.sockets, now);
            self.iface.poll(now, &mut self.device, &mut self.sockets);
            let mut looped = false;
            while let Some(packet) = self.device.pop_tx() {
                looped |= self.route_out(&packet);
                self.device.recycle_tx(packet);
            }
            if !busy && !looped {
                break;
            }
        }
    }

    /// Returns true when the packet was looped back into the interface.
    fn route_out(&mut self, packet: &[u8]) -> bool {
        let Some(flow) = Flow::parse(packet) else {
            return false;
        };
        tracing::trace!(?flow, "out");
        if plan::in_net(flow.dst, VPN_POOL) {
            let now = gatehouse_tunnel::Instant::now();
            if let gatehouse_tunnel::TunOutcome::Send { dst, datagram } =
                self.tunnel.handle_tun_packet(packet, &mut self.out, now)
            {
                let _ = self.socket.send_to(datagram, dst);
                self.local.sent += 1;
            }
            self.flush_tunnel();
            false
        } else if plan::host_by_ip(flow.dst).is_some() {
            self.deliver(packet);
            true
        } else {
            false
        }
    }

    fn flush_tunnel(&mut self) {
        while let Some((dst, n)) = self.tunnel.poll_transmit(&mut self.out) {
            if let Some(d) = self.out.get(..n) {
                let _ = self.socket.send_to(d, dst);
            }
        }
        while let Some(ev) = self.tunnel.poll_event() {
            match ev {
                Event::HandshakeCompleted { .. } => {
                    self.local.handshakes += 1;
                    tracing::info!("lab: handshake with the client completed");
                }
                Event::EndpointChanged { to, .. } => {
                    tracing::info!("lab: client endpoint {to}");
                }
                other => tracing::debug!("lab: {other:?}"),
            }
        }
    }

    fn publish(&mut self) {
        self.local.hosts = self.hosts.stats();
        self.local.connections = self.hosts.connections();
        if let Ok(mut s) = self.stats.lock() {
            *s = self.local;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpStream;

    use gatehouse_netstack::{Netstack, NetstackOptions};

    use super::*;

    fn exchange(addr: SocketAddr, request: &[u8]) -> std::io::Result<Vec<u8>> {
        let mut s = TcpStream::connect(addr)?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        s.write_all(request)?;
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    out.extend_from_slice(&buf[..n]);
                    // Redis keeps the connection open: one reply is enough.
                    if out.ends_with(b"\r\n") && !out.starts_with(b"HTTP/") {
                        break;
                    }
                }
                Err(e) if out.is_empty() => return Err(e),
                Err(_) => break,
            }
        }
        Ok(out)
    }

    /// The whole path without root: the lab's profile in the no-root client, forwards by name
    /// (resolved by the lab's DNS), HTTP directly and through the load balancer, RESP, and the
    /// replica dropped by its security group.
    #[test]
    fn the_no_root_client_reaches_the_hosts_through_the_gateway() {
        let lab = Lab::start(LabOptions::default()).expect("lab starts");
        let profile = lab.profile().clone();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let options = NetstackOptions {
            socks_addr: None,
            http_addr: None,
            forwards: [
                "0=web-2.internal:80",
                "0=lb.internal:80",
                "0=cache.internal:6379",
            ]
            .iter()
            .map(|s| s.parse().expect("forward spec"))
            .collect(),
            connect_timeout: Duration::from_secs(2),
            ..NetstackOptions::default()
        };
        let ns = rt
            .block_on(Netstack::start(&profile, options))
            .expect("netstack starts");
        let fwd: Vec<SocketAddr> = ns.forwards().iter().map(|f| f.local).collect();
        assert_eq!(fwd.len(), 3);

        let page = exchange(fwd[0], b"GET / HTTP/1.1\r\nHost: web-2.internal\r\n\r\n")
            .expect("web-2 answers");
        let page = String::from_utf8_lossy(&page);
        assert!(page.starts_with("HTTP/1.1 200 OK"), "{page}");
        assert!(
            page.contains("<title>web-2 - Gatehouse demo shop</title>"),
            "{page}"
        );

        let mut served = Vec::new();
        for _ in 0..2 {
            let page = exchange(fwd[1], b"GET / HTTP/1.1\r\nHost: lb.internal\r\n\r\n")
                .expect("lb answers");
            let page = String::from_utf8_lossy(&page).into_owned();
            served.push(if page.contains("Hello from web-1") {
                "web-1"
            } else if page.contains("Hello from web-2") {
                "web-2"
            } else {
                "?"
            });
        }
        served.sort_unstable();
        assert_eq!(served, ["web-1", "web-2"]);

        let pong = exchange(fwd[2], b"*1\r\n$4\r\nPING\r\n").expect("cache answers");
        assert_eq!(pong, b"+PONG\r\n");

        // Garbage gets a protocol error (and the connection closes); the others go on.
        let junk: Vec<u8> = (0..20_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let mut bad = b"*9999999\r\n".to_vec();
        bad.extend_from_slice(&junk);
        let reply = exchange(fwd[2], &bad).expect("cache answers garbage");
        assert!(
            reply.starts_with(b"-ERR Protocol error"),
            "{:?}",
            String::from_utf8_lossy(&reply)
        );
        let reply = exchange(fwd[0], &junk).expect("web-2 answers garbage");
        assert!(
            reply.starts_with(b"HTTP/1.1 400") || reply.starts_with(b"HTTP/1.1 431"),
            "{:?}",
            String::from_utf8_lossy(&reply)
        );
        let pong = exchange(fwd[2], b"PING\r\n").expect("cache still answers");
        assert_eq!(pong, b"+PONG\r\n");

        // The replica: the connection through the tunnel never completes.
        let replica = rt
            .block_on(ns.open_forward("db-replica.internal:5432".parse().expect("target")))
            .expect("forward opens");
        let answer = exchange(replica, b"\0\0\0\x08\x04\xd2\x16\x2f");
        assert!(
            answer.as_ref().map_or(true, Vec::is_empty),
            "the replica answered: {answer:?}"
        );
        let stats = lab.stats();
        assert!(stats.blocked >= 1, "{stats:?}");
        assert_eq!(stats.handshakes, 1, "{stats:?}");
        assert!(stats.hosts.lb_proxied.iter().all(|&n| n >= 1), "{stats:?}");
        assert!(stats.hosts.dns_queries >= 4, "{stats:?}");
        rt.block_on(ns.shutdown());
        lab.stop();
    }

    /// 256 clients at once through the load balancer: every one gets its page, and the lab's
    /// sockets are all released afterwards.
    #[test]
    fn concurrent_connections_through_the_load_balancer() {
        let lab = Lab::start(LabOptions::default()).expect("lab starts");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let options = NetstackOptions {
            socks_addr: None,
            http_addr: None,
            forwards: vec!["0=10.20.0.10:80".parse().expect("forward spec")],
            ..NetstackOptions::default()
        };
        let ns = rt
            .block_on(Netstack::start(lab.profile(), options))
            .expect("netstack starts");
        let lb = ns.forwards()[0].local;
        let threads: Vec<_> = (0..256)
            .map(|_| {
                std::thread::spawn(move || {
                    exchange(lb, b"GET / HTTP/1.1\r\nHost: lb.internal\r\n\r\n")
                        .map(|p| String::from_utf8_lossy(&p).contains("Hello from web-"))
                })
            })
            .collect();
        let mut failures = Vec::new();
        for t in threads {
            match t.join() {
                Ok(Ok(true)) => {}
                other => failures.push(format!("{other:?}")),
            }
        }
        assert!(
            failures.is_empty(),
            "{} failed: {:?}",
            failures.len(),
            failures.first()
        );
        let stats = lab.stats();
        assert_eq!(stats.hosts.lb_proxied.iter().sum::<u64>(), 256, "{stats:?}");
        assert!(
            stats.hosts.lb_proxied.iter().all(|&n| n == 128),
            "{stats:?}"
        );
        // Every connection's sockets go away once both sides have closed.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while lab.stats().connections > 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(lab.stats().connections, 0, "{:?}", lab.stats());
        rt.block_on(ns.shutdown());
        lab.stop();
    }
}
