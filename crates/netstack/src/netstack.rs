//! [`Netstack`]: the public handle. Starts the core, the SOCKS5 and HTTP proxy listeners and the
//! port forwards; opens forwards on demand; reports stats; shuts down.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gatehouse_profile::{Config, DnsEntry, Host};
use gatehouse_tunnel::{PeerConfig, PeerStats, Tunnel, TunnelConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{mpsc, oneshot, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;

use crate::bridge::relay;
use crate::dns::{self, ResolveError, Resolver};
use crate::http::{self, HttpError, ProxyRequest};
use crate::socks::{self, reply, Parsed, SocksError};
use crate::stack::{Command, ConnectError, SharedStats, Stack, StackTuning, TcpPipe, UdpPipe};
use crate::target::{Target, TargetError};

/// Default IP MTU when the profile sets none (as wg-quick).
pub const DEFAULT_MTU: usize = 1420;

/// Options of [`Netstack::start`].
#[derive(Debug, Clone)]
pub struct NetstackOptions {
    /// Where the SOCKS5 proxy listens (`None`: no SOCKS5 proxy). Port 0 picks a free port.
    pub socks_addr: Option<SocketAddr>,
    /// Where the HTTP proxy listens (`None`: none).
    pub http_addr: Option<SocketAddr>,
    /// Port forwards opened at start.
    pub forwards: Vec<ForwardSpec>,
    /// Client connections (proxy and forward) served at once; past it, clients get a clear
    /// error (SOCKS5 reply 0x01, HTTP 503) and are closed.
    pub max_connections: usize,
    /// A connection with no data in either direction for this long is closed.
    pub idle_timeout: Duration,
    /// A proxy client must finish its SOCKS5/HTTP request within this.
    pub handshake_timeout: Duration,
    /// Connecting to a host through the tunnel gives up after this.
    pub connect_timeout: Duration,
    /// Largest TCP window (smoltcp buffer per direction) of one connection.
    pub max_tcp_window: usize,
    /// Budget for the TCP buffers of all connections together: windows shrink (down to 16 KiB)
    /// as connections add up.
    pub tcp_buffer_budget: usize,
}

impl Default for NetstackOptions {
    fn default() -> Self {
        NetstackOptions {
            socks_addr: Some(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 1080)),
            http_addr: Some(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 8118)),
            forwards: Vec::new(),
            max_connections: 2048,
            idle_timeout: Duration::from_secs(300),
            handshake_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            max_tcp_window: 1024 * 1024,
            tcp_buffer_budget: 32 * 1024 * 1024,
        }
    }
}

/// TCP or UDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

/// A port forward: connections (TCP) or datagrams (UDP) to `listen` go to `target` inside the
/// tunnel.
///
/// Text form: `[udp/]LISTEN=TARGET`, LISTEN a port (on 127.0.0.1) or `addr:port`, TARGET
/// `host:port`: `8080=192.168.1.20:8080`, `udp/5353=10.20.0.2:53`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ForwardSpec {
    /// TCP or UDP.
    pub protocol: Protocol,
    /// Local address (port 0: any free port).
    pub listen: SocketAddr,
    /// Destination inside the tunnel.
    pub target: Target,
}

/// Why a forward's text form is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ForwardSpecError {
    /// No `=` between the local side and the target.
    #[error("expected [udp/]LISTEN=HOST:PORT, e.g. 8080=192.168.1.20:8080")]
    Syntax,
    /// The local side is neither a port nor `addr:port`.
    #[error("local side must be a port or addr:port")]
    BadListen,
    /// The target is invalid.
    #[error("target: {0}")]
    Target(#[from] TargetError),
}

impl FromStr for ForwardSpec {
    type Err = ForwardSpecError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (protocol, rest) = if let Some(r) = s.strip_prefix("udp/") {
            (Protocol::Udp, r)
        } else {
            (Protocol::Tcp, s.strip_prefix("tcp/").unwrap_or(s))
        };
        let (listen, target) = rest.split_once('=').ok_or(ForwardSpecError::Syntax)?;
        let listen = match listen.parse::<u16>() {
            Ok(port) => SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port),
            Err(_) => listen.parse().map_err(|_| ForwardSpecError::BadListen)?,
        };
        Ok(ForwardSpec {
            protocol,
            listen,
            target: target.parse()?,
        })
    }
}

/// A forward that is open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardInfo {
    /// TCP or UDP.
    pub protocol: Protocol,
    /// The bound local address.
    pub local: SocketAddr,
    /// Destination inside the tunnel.
    pub target: Target,
}

/// Why the netstack could not start or do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum NetstackError {
    /// The profile cannot be used (no private key, no address, bad peer).
    #[error("profile: {0}")]
    Config(String),
    /// A local listener or the UDP socket could not be bound.
    #[error("cannot bind {what} on {addr}: {source}")]
    Bind {
        /// Which listener.
        what: &'static str,
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// A forward's target name did not resolve.
    #[error("resolving {target}: {source}")]
    Resolve {
        /// The target.
        target: Target,
        /// Why.
        source: ResolveError,
    },
    /// The netstack has stopped.
    #[error("the netstack has stopped")]
    Stopped,
}

/// Counters of a running [`Netstack`].
#[derive(Debug, Clone, Default)]
pub struct NetstackStats {
    /// Client connections being served (proxy handshakes, relays, forwards).
    pub clients_active: usize,
    /// Clients turned away because [`NetstackOptions::max_connections`] were being served.
    pub clients_refused: u64,
    /// Proxy clients closed for a malformed or unsupported request.
    pub clients_bad_request: u64,
    /// TCP connections inside the tunnel (connecting or open).
    pub tcp_active: usize,
    /// TCP connections that completed their handshake.
    pub tcp_opened: u64,
    /// TCP connects that failed (refused, timed out, unroutable).
    pub tcp_failed: u64,
    /// Connections closed for idleness.
    pub tcp_idle_closed: u64,
    /// UDP sockets inside the tunnel.
    pub udp_sockets: usize,
    /// TCP payload bytes sent into the tunnel.
    pub bytes_to_tunnel: u64,
    /// TCP payload bytes received from the tunnel.
    pub bytes_from_tunnel: u64,
    /// Packets dropped because the stack's receive queue was full.
    pub stack_rx_dropped: u64,
    /// Packets and datagrams the tunnel core dropped (all reasons).
    pub tunnel_drops: u64,
    /// Per-peer statistics (refreshed twice a second).
    pub peers: Vec<PeerStats>,
}

struct Inner {
    commands: mpsc::Sender<Command>,
    resolver: Resolver,
    limit: Arc<Semaphore>,
    max_connections: usize,
    /// Rejections being answered (bounded so a flood costs little).
    rejecting: Arc<Semaphore>,
    handshake_timeout: Duration,
    idle_timeout: Duration,
    stats: Arc<SharedStats>,
    refused: AtomicU64,
    bad_request: AtomicU64,
}

/// A running no-root network stack. Dropping it without [`Netstack::shutdown`] stops it too
/// (tasks are aborted).
pub struct Netstack {
    inner: Arc<Inner>,
    socks_addr: Option<SocketAddr>,
    http_addr: Option<SocketAddr>,
    forwards: Mutex<Vec<(ForwardInfo, JoinHandle<()>)>>,
    listeners: Vec<JoinHandle<()>>,
    core: Option<JoinHandle<()>>,
    shutdown: Arc<Notify>,
}

impl std::fmt::Debug for Netstack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Netstack")
            .field("socks_addr", &self.socks_addr)
            .field("http_addr", &self.http_addr)
            .finish_non_exhaustive()
    }
}

/// A profile without a `PrivateKey` cannot drive a tunnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the [Interface] section has no PrivateKey")]
pub struct NoPrivateKey;

/// The tunnel core's configuration from a profile with its keys. The one conversion every driver
/// uses: this no-root stack, the TUN path of `gatehouse up` and the session's in-process engine.
pub fn tunnel_config(config: &Config) -> Result<TunnelConfig, NoPrivateKey> {
    let private = config.interface.private_key.as_ref().ok_or(NoPrivateKey)?;
    let peers = config
        .peers
        .iter()
        .map(|p| PeerConfig {
            public_key: p.public_key.0,
            preshared_key: p.preshared_key.as_ref().map(|k| *k.expose()),
            allowed_ips: p.allowed_ips.clone(),
            endpoint: p.endpoint.as_ref().map(|e| match &e.host {
                Host::Ip(ip) => gatehouse_tunnel::Endpoint::Addr(SocketAddr::new(*ip, e.port)),
                Host::Name(n) => gatehouse_tunnel::Endpoint::Name {
                    host: n.clone(),
                    port: e.port,
                },
            }),
            persistent_keepalive: p.persistent_keepalive,
        })
        .collect();
    Ok(TunnelConfig {
        private_key: *private.expose(),
        peers,
    })
}

impl Netstack {
    /// Starts the stack for `config` (a profile with its keys): binds the UDP socket, the
    /// proxies and the forwards of `options`. Must be called within a tokio runtime.
    pub async fn start(
        config: &Config,
        options: NetstackOptions,
    ) -> Result<Netstack, NetstackError> {
        let tcfg = tunnel_config(config).map_err(|e| NetstackError::Config(e.to_string()))?;
        if config.interface.addresses.is_empty() {
            return Err(NetstackError::Config(
                "the [Interface] section has no Address".into(),
            ));
        }
        let v6_peer = config.peers.iter().any(|p| {
            matches!(
                p.endpoint.as_ref().map(|e| &e.host),
                Some(Host::Ip(IpAddr::V6(_)))
            )
        });
        let tunnel = Tunnel::new(tcfg, std::time::Instant::now())
            .map_err(|e| NetstackError::Config(e.to_string()))?;
        let bind: SocketAddr = if v6_peer {
            (
                std::net::Ipv6Addr::UNSPECIFIED,
                config.interface.listen_port.unwrap_or(0),
            )
                .into()
        } else {
            (
                Ipv4Addr::UNSPECIFIED,
                config.interface.listen_port.unwrap_or(0),
            )
                .into()
        };
        let udp = bind_udp(bind)?;
        let mtu = config
            .interface
            .mtu
            .map(usize::from)
            .unwrap_or(DEFAULT_MTU)
            .clamp(1280, 9000);
        let tuning = StackTuning {
            max_tcp_buffer: options.max_tcp_window,
            min_tcp_buffer: 16 * 1024,
            tcp_buffer_budget: options.tcp_buffer_budget,
            idle_timeout: options.idle_timeout,
            connect_timeout: options.connect_timeout,
            verify_checksums: false,
        };
        let (cmd_tx, cmd_rx) = mpsc::channel(1024);
        let notify = Arc::new(Notify::new());
        let stats = Arc::new(SharedStats::default());
        let shutdown = Arc::new(Notify::new());
        let want_v6 = config
            .interface
            .addresses
            .iter()
            .any(|a| a.addr().is_ipv6());
        let stack = Stack::new(
            tunnel,
            udp,
            &config.interface.addresses,
            mtu,
            tuning,
            cmd_rx,
            cmd_tx.downgrade(),
            notify,
            stats.clone(),
            shutdown.clone(),
        );
        let core = tokio::spawn(stack.run());

        // DNS: the first server of the profile, asked inside the tunnel.
        let server = config.interface.dns.iter().find_map(|d| match d {
            DnsEntry::Server(ip) => Some(SocketAddr::new(*ip, 53)),
            DnsEntry::Search(_) => None,
        });
        let search = config.interface.dns.iter().find_map(|d| match d {
            DnsEntry::Search(s) => Some(s.clone()),
            DnsEntry::Server(_) => None,
        });
        let pipe = match server {
            Some(_) => Some(
                bind_pipe(&cmd_tx)
                    .await
                    .map_err(|_| NetstackError::Stopped)?,
            ),
            None => None,
        };
        let resolver = dns::spawn(pipe, server, search, want_v6);

        let inner = Arc::new(Inner {
            commands: cmd_tx,
            resolver,
            limit: Arc::new(Semaphore::new(options.max_connections)),
            max_connections: options.max_connections,
            rejecting: Arc::new(Semaphore::new(256)),
            handshake_timeout: options.handshake_timeout,
            idle_timeout: options.idle_timeout,
            stats,
            refused: AtomicU64::new(0),
            bad_request: AtomicU64::new(0),
        });
        let mut listeners = Vec::new();
        let mut socks_addr = None;
        if let Some(addr) = options.socks_addr {
            let l = TcpListener::bind(addr)
                .await
                .map_err(|source| NetstackError::Bind {
                    what: "the SOCKS5 proxy",
                    addr,
                    source,
                })?;
            socks_addr = l.local_addr().ok();
            listeners.push(tokio::spawn(accept_loop(l, inner.clone(), Service::Socks)));
        }
        let mut http_addr = None;
        if let Some(addr) = options.http_addr {
            let l = TcpListener::bind(addr)
                .await
                .map_err(|source| NetstackError::Bind {
                    what: "the HTTP proxy",
                    addr,
                    source,
                })?;
            http_addr = l.local_addr().ok();
            listeners.push(tokio::spawn(accept_loop(l, inner.clone(), Service::Http)));
        }
        let ns = Netstack {
            inner,
            socks_addr,
            http_addr,
            forwards: Mutex::new(Vec::new()),
            listeners,
            core: Some(core),
            shutdown,
        };
        for f in options.forwards {
            ns.open_forward_spec(f).await?;
        }
        Ok(ns)
    }

    /// The SOCKS5 proxy's address, if it runs.
    pub fn socks_addr(&self) -> Option<SocketAddr> {
        self.socks_addr
    }

    /// The HTTP proxy's address, if it runs.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }

    /// Opens a TCP forward from a free port on 127.0.0.1 to `target`; returns the local
    /// address. An already open TCP forward to the same target is reused.
    pub async fn open_forward(&self, target: Target) -> Result<SocketAddr, NetstackError> {
        if let Ok(f) = self.forwards.lock() {
            if let Some((info, _)) = f
                .iter()
                .find(|(i, _)| i.target == target && i.protocol == Protocol::Tcp)
            {
                return Ok(info.local);
            }
        }
        self.open_forward_spec(ForwardSpec {
            protocol: Protocol::Tcp,
            listen: SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 0),
            target,
        })
        .await
        .map(|i| i.local)
    }

    /// Opens a forward as described; returns what was bound.
    pub async fn open_forward_spec(&self, spec: ForwardSpec) -> Result<ForwardInfo, NetstackError> {
        let task =
            match spec.protocol {
                Protocol::Tcp => {
                    let l = TcpListener::bind(spec.listen).await.map_err(|source| {
                        NetstackError::Bind {
                            what: "a TCP forward",
                            addr: spec.listen,
                            source,
                        }
                    })?;
                    let local = l.local_addr().map_err(|source| NetstackError::Bind {
                        what: "a TCP forward",
                        addr: spec.listen,
                        source,
                    })?;
                    let task = tokio::spawn(accept_loop(
                        l,
                        self.inner.clone(),
                        Service::Forward(spec.target.clone()),
                    ));
                    (local, task)
                }
                Protocol::Udp => {
                    let sock = UdpSocket::bind(spec.listen).await.map_err(|source| {
                        NetstackError::Bind {
                            what: "a UDP forward",
                            addr: spec.listen,
                            source,
                        }
                    })?;
                    let local = sock.local_addr().map_err(|source| NetstackError::Bind {
                        what: "a UDP forward",
                        addr: spec.listen,
                        source,
                    })?;
                    let dst = self.inner.resolve(&spec.target).await.map_err(|source| {
                        NetstackError::Resolve {
                            target: spec.target.clone(),
                            source,
                        }
                    })?;
                    let pipe = bind_pipe(&self.inner.commands)
                        .await
                        .map_err(|_| NetstackError::Stopped)?;
                    (local, tokio::spawn(udp_forward(sock, pipe, dst)))
                }
            };
        let info = ForwardInfo {
            protocol: spec.protocol,
            local: task.0,
            target: spec.target,
        };
        if let Ok(mut f) = self.forwards.lock() {
            f.push((info.clone(), task.1));
        }
        Ok(info)
    }

    /// Closes the forward bound to `local` (connections already relayed continue). Returns
    /// whether there was one.
    pub fn close_forward(&self, local: SocketAddr) -> bool {
        let Ok(mut f) = self.forwards.lock() else {
            return false;
        };
        let before = f.len();
        f.retain(|(info, task)| {
            if info.local == local {
                task.abort();
                false
            } else {
                true
            }
        });
        f.len() != before
    }

    /// The forwards that are open.
    pub fn forwards(&self) -> Vec<ForwardInfo> {
        self.forwards
            .lock()
            .map(|f| f.iter().map(|(i, _)| i.clone()).collect())
            .unwrap_or_default()
    }

    /// Current counters.
    pub fn stats(&self) -> NetstackStats {
        let s = &self.inner.stats;
        NetstackStats {
            clients_active: self.inner.max_connections - self.inner.limit.available_permits(),
            clients_refused: self.inner.refused.load(Ordering::Relaxed),
            clients_bad_request: self.inner.bad_request.load(Ordering::Relaxed),
            tcp_active: s.tcp_active.load(Ordering::Relaxed),
            tcp_opened: s.tcp_opened.load(Ordering::Relaxed),
            tcp_failed: s.tcp_failed.load(Ordering::Relaxed),
            tcp_idle_closed: s.tcp_idle_closed.load(Ordering::Relaxed),
            udp_sockets: s.udp_sockets.load(Ordering::Relaxed),
            bytes_to_tunnel: s.bytes_to_tunnel.load(Ordering::Relaxed),
            bytes_from_tunnel: s.bytes_from_tunnel.load(Ordering::Relaxed),
            stack_rx_dropped: s.device_rx_dropped.load(Ordering::Relaxed),
            tunnel_drops: s.tunnel_drops.load(Ordering::Relaxed),
            peers: s.peers.lock().map(|p| p.clone()).unwrap_or_default(),
        }
    }

    /// Resolves `target` as the proxies do: a name through the profile's DNS server inside the
    /// tunnel (the system resolver when the profile has none).
    pub async fn resolve(&self, target: &Target) -> Result<SocketAddr, NetstackError> {
        self.inner
            .resolve(target)
            .await
            .map_err(|source| NetstackError::Resolve {
                target: target.clone(),
                source,
            })
    }

    /// Opens a TCP connection to `addr` through the tunnel (what the proxies do for a client),
    /// for in-process users such as the prober. Dropping the pipe aborts the connection.
    pub async fn connect_tcp(&self, addr: SocketAddr) -> Result<TcpPipe, ConnectError> {
        self.inner.connect(addr).await
    }

    /// Stops listening, closes every connection and stops the core.
    pub async fn shutdown(mut self) {
        self.stop();
        if let Some(core) = self.core.take() {
            let _ = tokio::time::timeout(Duration::from_secs(2), core).await;
        }
    }

    fn stop(&mut self) {
        for l in &self.listeners {
            l.abort();
        }
        if let Ok(mut f) = self.forwards.lock() {
            for (_, t) in f.drain(..) {
                t.abort();
            }
        }
        self.shutdown.notify_one();
    }
}

impl Drop for Netstack {
    fn drop(&mut self) {
        self.stop();
    }
}

fn bind_udp(addr: SocketAddr) -> Result<UdpSocket, NetstackError> {
    let err = |source| NetstackError::Bind {
        what: "the WireGuard UDP socket",
        addr,
        source,
    };
    let domain = socket2::Domain::for_address(addr);
    let s = socket2::Socket::new(domain, socket2::Type::DGRAM, Some(socket2::Protocol::UDP))
        .map_err(err)?;
    // Large kernel buffers absorb bursts between two polls (capped by net.core.*mem_max).
    let _ = s.set_recv_buffer_size(4 << 20);
    let _ = s.set_send_buffer_size(4 << 20);
    s.set_nonblocking(true).map_err(err)?;
    s.bind(&addr.into()).map_err(err)?;
    UdpSocket::from_std(s.into()).map_err(err)
}

async fn bind_pipe(commands: &mpsc::Sender<Command>) -> Result<UdpPipe, ConnectError> {
    let (reply, rx) = oneshot::channel();
    commands
        .send(Command::BindUdp { reply })
        .await
        .map_err(|_| ConnectError::Stopped)?;
    rx.await.map_err(|_| ConnectError::Stopped)?
}

/// Why a proxied connection could not be opened.
#[derive(Debug)]
enum OpenError {
    Resolve(ResolveError),
    Connect(ConnectError),
}

impl OpenError {
    fn socks_code(&self) -> u8 {
        match self {
            OpenError::Resolve(ResolveError::Stopped)
            | OpenError::Connect(ConnectError::Stopped) => reply::GENERAL_FAILURE,
            OpenError::Resolve(_) => reply::HOST_UNREACHABLE,
            OpenError::Connect(ConnectError::Refused) => reply::CONNECTION_REFUSED,
            OpenError::Connect(ConnectError::TimedOut) => reply::HOST_UNREACHABLE,
            OpenError::Connect(ConnectError::Unreachable) => reply::NETWORK_UNREACHABLE,
        }
    }

    fn http_status(&self) -> &'static str {
        match self {
            OpenError::Connect(ConnectError::TimedOut)
            | OpenError::Resolve(ResolveError::TimedOut(_)) => "504 Gateway Timeout",
            _ => "502 Bad Gateway",
        }
    }
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenError::Resolve(e) => write!(f, "{e}"),
            OpenError::Connect(e) => write!(f, "{e}"),
        }
    }
}

impl Inner {
    async fn resolve(&self, target: &Target) -> Result<SocketAddr, ResolveError> {
        match target {
            Target::Addr(a) => Ok(*a),
            Target::Name(name, port) => {
                let addrs = self.resolver.resolve(name).await?;
                addrs
                    .first()
                    .map(|ip| SocketAddr::new(*ip, *port))
                    .ok_or(ResolveError::NotFound)
            }
        }
    }

    async fn connect(&self, addr: SocketAddr) -> Result<TcpPipe, ConnectError> {
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(Command::ConnectTcp {
                target: addr,
                reply,
            })
            .await
            .map_err(|_| ConnectError::Stopped)?;
        rx.await.map_err(|_| ConnectError::Stopped)?
    }

    async fn open(&self, target: &Target) -> Result<TcpPipe, OpenError> {
        let addr = self.resolve(target).await.map_err(OpenError::Resolve)?;
        self.connect(addr).await.map_err(OpenError::Connect)
    }
}

#[derive(Clone)]
enum Service {
    Socks,
    Http,
    Forward(Target),
}

async fn accept_loop(listener: TcpListener, inner: Arc<Inner>, service: Service) {
    loop {
        let (stream, _peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        match inner.limit.clone().try_acquire_owned() {
            Ok(permit) => {
                let inner = inner.clone();
                let service = service.clone();
                tokio::spawn(serve(stream, inner, service, permit));
            }
            Err(_) => {
                inner.refused.fetch_add(1, Ordering::Relaxed);
                if let Ok(p) = inner.rejecting.clone().try_acquire_owned() {
                    let inner = inner.clone();
                    let service = service.clone();
                    tokio::spawn(async move {
                        let _p = p;
                        let _ = tokio::time::timeout(
                            Duration::from_secs(2),
                            reject(stream, &service, inner.max_connections),
                        )
                        .await;
                    });
                }
                // Else: dropped at once (closed) — a flood must stay cheap.
            }
        }
    }
}

/// Tells a client past the connection cap why it is turned away.
async fn reject(mut stream: TcpStream, service: &Service, max: usize) {
    let text = format!("gatehouse: too many connections (limit {max}), try again later");
    match service {
        Service::Http => {
            let _ = stream
                .write_all(&http::error_response("503 Service Unavailable", &text))
                .await;
        }
        Service::Socks => {
            let mut buf = Vec::with_capacity(64);
            if read_until(&mut stream, &mut buf, parse_greeting_len)
                .await
                .is_some()
            {
                let _ = stream.write_all(&[5, 0]).await;
                buf.clear();
                if read_until(&mut stream, &mut buf, |b| match socks::parse_request(b) {
                    Ok(Parsed::Done(_, n)) => Some(Ok(n)),
                    Ok(Parsed::Incomplete) => None,
                    Err(e) => Some(Err(e)),
                })
                .await
                .is_some()
                {
                    let mut out = [0u8; 22];
                    let n = socks::write_reply(reply::GENERAL_FAILURE, unspecified(), &mut out);
                    let _ = stream.write_all(&out[..n]).await;
                }
            }
        }
        Service::Forward(_) => {}
    }
    let _ = stream.shutdown().await;
}

fn parse_greeting_len(b: &[u8]) -> Option<Result<usize, SocksError>> {
    match socks::parse_greeting(b) {
        Ok(Parsed::Done((), n)) => Some(Ok(n)),
        Ok(Parsed::Incomplete) => None,
        Err(e) => Some(Err(e)),
    }
}

fn unspecified() -> SocketAddr {
    SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0)
}

/// Reads into `buf` until `done` decides (Some), the peer closes or `buf` reaches 16 KiB + 1.
/// Returns `None` when the peer closed or failed first.
async fn read_until<T, E>(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    mut done: impl FnMut(&[u8]) -> Option<Result<T, E>>,
) -> Option<Result<T, E>> {
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(r) = done(buf) {
            return Some(r);
        }
        if buf.len() > http::MAX_HEAD {
            return None;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

async fn serve(
    stream: TcpStream,
    inner: Arc<Inner>,
    service: Service,
    permit: OwnedSemaphorePermit,
) {
    let _permit = permit;
    match service {
        Service::Forward(target) => match inner.open(&target).await {
            Ok(pipe) => relay(stream, pipe, Vec::new()).await,
            Err(e) => tracing::debug!("forward to {target}: {e}"),
        },
        Service::Socks => serve_socks(stream, &inner).await,
        Service::Http => serve_http(stream, &inner).await,
    }
}

async fn serve_socks(mut stream: TcpStream, inner: &Inner) {
    let mut buf = Vec::with_capacity(64);
    let handshake = async {
        match read_until(&mut stream, &mut buf, parse_greeting_len).await {
            Some(Ok(n)) => {
                buf.drain(..n);
            }
            Some(Err(SocksError::NoAcceptableMethod)) => {
                let _ = stream.write_all(&[5, 0xFF]).await;
                return Err(SocksError::NoAcceptableMethod);
            }
            Some(Err(e)) => return Err(e),
            None => return Err(SocksError::Malformed),
        }
        stream
            .write_all(&[5, 0])
            .await
            .map_err(|_| SocksError::Malformed)?;
        match read_until(&mut stream, &mut buf, |b| match socks::parse_request(b) {
            Ok(Parsed::Done(r, n)) => Some(Ok((r, n))),
            Ok(Parsed::Incomplete) => None,
            Err(e) => Some(Err(e)),
        })
        .await
        {
            Some(Ok((r, n))) => {
                buf.drain(..n);
                Ok(r)
            }
            Some(Err(e)) => {
                if let Some(code) = e.reply_code() {
                    let mut out = [0u8; 22];
                    let n = socks::write_reply(code, unspecified(), &mut out);
                    let _ = stream.write_all(&out[..n]).await;
                }
                Err(e)
            }
            None => Err(SocksError::Malformed),
        }
    };
    let request = match tokio::time::timeout(inner.handshake_timeout, handshake).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            inner.bad_request.fetch_add(1, Ordering::Relaxed);
            tracing::debug!("socks client: {e}");
            return;
        }
        Err(_) => {
            inner.bad_request.fetch_add(1, Ordering::Relaxed);
            return;
        }
    };
    if request.command == socks::Command::UdpAssociate {
        udp_associate(stream, inner).await;
        return;
    }
    let opened = tokio::time::timeout(
        inner.handshake_timeout + Duration::from_secs(20),
        inner.open(&request.target),
    )
    .await
    .unwrap_or(Err(OpenError::Connect(ConnectError::TimedOut)));
    let mut out = [0u8; 22];
    match opened {
        Ok(pipe) => {
            let n = socks::write_reply(reply::SUCCEEDED, unspecified(), &mut out);
            if stream.write_all(&out[..n]).await.is_ok() {
                relay(stream, pipe, buf).await;
            }
        }
        Err(e) => {
            tracing::debug!("socks connect {}: {e}", request.target);
            let n = socks::write_reply(e.socks_code(), unspecified(), &mut out);
            let _ = stream.write_all(&out[..n]).await;
        }
    }
}

async fn serve_http(mut stream: TcpStream, inner: &Inner) {
    let mut buf = Vec::with_capacity(1024);
    let parsed = tokio::time::timeout(
        inner.handshake_timeout,
        read_until(&mut stream, &mut buf, |b| {
            http::parse_request(b).transpose()
        }),
    )
    .await;
    let (request, head_len) = match parsed {
        Ok(Some(Ok(r))) => r,
        Ok(Some(Err(e))) => {
            inner.bad_request.fetch_add(1, Ordering::Relaxed);
            let _ = stream
                .write_all(&http::error_response(e.status(), &e.to_string()))
                .await;
            return;
        }
        Ok(None) => {
            inner.bad_request.fetch_add(1, Ordering::Relaxed);
            if buf.len() > http::MAX_HEAD {
                let e = HttpError::TooLarge;
                let _ = stream
                    .write_all(&http::error_response(e.status(), &e.to_string()))
                    .await;
            }
            return;
        }
        Err(_) => {
            inner.bad_request.fetch_add(1, Ordering::Relaxed);
            let _ = stream
                .write_all(&http::error_response(
                    "408 Request Timeout",
                    "request head not received in time",
                ))
                .await;
            return;
        }
    };
    let rest = buf.split_off(head_len);
    let (target, initial, connect) = match request {
        ProxyRequest::Connect { target } => (target, rest, true),
        ProxyRequest::Forward { target, mut head } => {
            head.extend_from_slice(&rest);
            (target, head, false)
        }
    };
    match inner.open(&target).await {
        Ok(pipe) => {
            if connect
                && stream
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .await
                    .is_err()
            {
                return;
            }
            relay(stream, pipe, initial).await;
        }
        Err(e) => {
            let text = format!("gatehouse: cannot reach {target}: {e}");
            let _ = stream
                .write_all(&http::error_response(e.http_status(), &text))
                .await;
        }
    }
}

/// SOCKS5 UDP ASSOCIATE (RFC 1928 §7): a relay socket on the proxy's loopback address; the
/// association lasts while the control connection is open (and datagrams flow within the
/// idle timeout). Only datagrams from the control connection's host are relayed; fragments
/// are dropped.
async fn udp_associate(mut stream: TcpStream, inner: &Inner) {
    let mut out = [0u8; 22];
    let local_ip = stream
        .local_addr()
        .map(|a| a.ip())
        .unwrap_or(Ipv4Addr::LOCALHOST.into());
    let client_ip = stream.peer_addr().map(|a| a.ip()).ok();
    let relay = match UdpSocket::bind(SocketAddr::new(local_ip, 0)).await {
        Ok(s) => s,
        Err(_) => {
            let n = socks::write_reply(reply::GENERAL_FAILURE, unspecified(), &mut out);
            let _ = stream.write_all(&out[..n]).await;
            return;
        }
    };
    let (Ok(bound), Ok(pipe)) = (relay.local_addr(), bind_pipe(&inner.commands).await) else {
        let n = socks::write_reply(reply::GENERAL_FAILURE, unspecified(), &mut out);
        let _ = stream.write_all(&out[..n]).await;
        return;
    };
    let n = socks::write_reply(reply::SUCCEEDED, bound, &mut out);
    if stream.write_all(&out[..n]).await.is_err() {
        return;
    }
    let UdpPipe { tx, mut rx, notify } = pipe;
    let mut client: Option<SocketAddr> = None;
    let mut buf = vec![0u8; 65536];
    let mut control = [0u8; 64];
    let idle = inner.idle_timeout;
    loop {
        tokio::select! {
            r = stream.read(&mut control) => match r {
                Ok(0) | Err(_) => return,
                Ok(_) => {} // nothing is expected on the control connection
            },
            r = relay.recv_from(&mut buf) => {
                let Ok((n, from)) = r else { continue };
                if client_ip.is_some_and(|ip| ip != from.ip()) {
                    continue;
                }
                client = Some(from);
                let Ok((target, off)) = socks::parse_udp_header(&buf[..n]) else { continue };
                let Ok(dst) = inner.resolve(&target).await else { continue };
                if tx.try_send((dst, buf[off..n].to_vec())).is_ok() {
                    notify.notify_one();
                }
            }
            m = rx.recv() => {
                let Some((from, data)) = m else { return };
                notify.notify_one();
                if let Some(c) = client {
                    let mut head = [0u8; 22];
                    let h = socks::write_udp_header(from, &mut head);
                    let mut dg = Vec::with_capacity(h + data.len());
                    dg.extend_from_slice(&head[..h]);
                    dg.extend_from_slice(&data);
                    let _ = relay.send_to(&dg, c).await;
                }
            }
            _ = tokio::time::sleep(idle) => return,
        }
    }
}

/// Relays datagrams between local clients and `dst` inside the tunnel; answers go to the
/// client that sent last.
async fn udp_forward(sock: UdpSocket, pipe: UdpPipe, dst: SocketAddr) {
    let UdpPipe { tx, mut rx, notify } = pipe;
    let mut client: Option<SocketAddr> = None;
    let mut buf = vec![0u8; 65536];
    loop {
        tokio::select! {
            r = sock.recv_from(&mut buf) => {
                let Ok((n, from)) = r else { continue };
                client = Some(from);
                if tx.try_send((dst, buf[..n].to_vec())).is_ok() {
                    notify.notify_one();
                }
            }
            m = rx.recv() => {
                let Some((from, data)) = m else { return };
                notify.notify_one();
                if from != dst { continue; }
                if let Some(c) = client {
                    let _ = sock.send_to(&data, c).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_specs() {
        assert_eq!(
            "8080=192.168.1.20:8080".parse(),
            Ok(ForwardSpec {
                protocol: Protocol::Tcp,
                listen: "127.0.0.1:8080".parse().expect("a"),
                target: Target::Addr("192.168.1.20:8080".parse().expect("a")),
            })
        );
        assert_eq!(
            "udp/0.0.0.0:5353=dns.internal:53".parse(),
            Ok(ForwardSpec {
                protocol: Protocol::Udp,
                listen: "0.0.0.0:5353".parse().expect("a"),
                target: Target::Name("dns.internal".into(), 53),
            })
        );
        assert_eq!("8080".parse::<ForwardSpec>(), Err(ForwardSpecError::Syntax));
        assert_eq!(
            "x=1.2.3.4:5".parse::<ForwardSpec>(),
            Err(ForwardSpecError::BadListen)
        );
        assert_eq!(
            "1=1.2.3.4".parse::<ForwardSpec>(),
            Err(ForwardSpecError::Target(TargetError::MissingPort))
        );
    }
}
