//! The in-process back end: runs tunnels (TUN device, host changes, driver, state machine) in
//! this process. The daemon serves exactly this over IPC; a root CLI can use it directly.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use gatehouse_device::{Device, DeviceConfig, DeviceEvent, DeviceHandle, TunDevice};
use gatehouse_ipc::{
    ConnectRequest, ConnectionState, ErrorKind, ErrorReply, Event, LogLevel, PeerStatus,
    StatusReport, TunnelStatus,
};
use gatehouse_profile::{Config, Host, Key};
use gatehouse_tunnel::Tunnel;
use ipnet::IpNet;
use tokio::sync::oneshot;

use crate::convert;
use crate::hub::{Hub, Subscription};
use crate::journal::{Entry, Journal, Phase};
use crate::killswitch::{self, KillSwitch};
use crate::machine::{Action, Input, Machine, MachineConfig};

/// How an [`Engine`] runs.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Journal, DNS backups and scratch files (`/var/lib/gatehouse` for the service).
    pub state_dir: PathBuf,
    /// Timing of the connection state machine.
    pub machine: MachineConfig,
    /// How often counters are sampled, [`Event::Stats`] published and timers checked.
    pub tick: Duration,
}

impl EngineOptions {
    /// Defaults with the given state directory.
    pub fn new(state_dir: PathBuf) -> EngineOptions {
        EngineOptions {
            state_dir,
            machine: MachineConfig::default(),
            tick: Duration::from_secs(1),
        }
    }
}

/// What [`Engine::recover`] found and undid.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recovery {
    /// Journal entries replayed (profile names).
    pub replayed: Vec<String>,
    /// Undo steps or files that failed (text for the log).
    pub failures: Vec<String>,
}

/// Runs tunnels in this process.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    opts: EngineOptions,
    journal: Journal,
    tunnels: Mutex<BTreeMap<String, Arc<Running>>>,
    /// Interfaces this engine created (left out of the network-change watch).
    ours: Mutex<std::collections::HashSet<String>>,
    /// Serializes connect and disconnect (route checks, journal).
    ops: tokio::sync::Mutex<()>,
    hub: Hub,
}

struct Running {
    name: String,
    interface: String,
    kill_switch: bool,
    public_key: String,
    allowed: Vec<IpNet>,
    peer_allowed: BTreeMap<String, Vec<String>>,
    started: SystemTime,
    state: Mutex<ConnectionState>,
    handle: DeviceHandle,
    stop: Mutex<Option<oneshot::Sender<()>>>,
    task: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

fn err(kind: ErrorKind, message: impl Into<String>) -> ErrorReply {
    ErrorReply::new(kind, message)
}

fn boot_clock() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_BOOTTIME exists on every Linux we run on.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        u64::try_from(ts.tv_sec).unwrap_or(0),
        u32::try_from(ts.tv_nsec).unwrap_or(0),
    )
}

/// The interface name for a profile: its name when usable and free, else `gh%d`.
fn interface_for(name: &str) -> String {
    if gatehouse_device::valid_interface_name(name)
        && !name.contains('%')
        && !std::path::Path::new("/sys/class/net").join(name).exists()
    {
        name.to_owned()
    } else {
        "gh%d".to_owned()
    }
}

fn valid_profile_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || " _-.+@=".contains(c))
}

async fn resolve_endpoints(config: &Config) -> (Vec<SocketAddr>, Vec<String>) {
    let mut addrs = Vec::new();
    let mut warnings = Vec::new();
    for peer in &config.peers {
        let Some(e) = &peer.endpoint else { continue };
        match &e.host {
            Host::Ip(ip) => addrs.push(SocketAddr::new(*ip, e.port)),
            Host::Name(n) => match tokio::net::lookup_host((n.as_str(), e.port)).await {
                Ok(found) => addrs.extend(found),
                Err(error) => warnings.push(format!("cannot resolve endpoint {n}: {error}")),
            },
        }
    }
    let mut seen = std::collections::HashSet::new();
    addrs.retain(|a| seen.insert(*a));
    (addrs, warnings)
}

/// A digest of the host's interfaces (up/running flags and addresses), leaving out loopback
/// and `exclude` (our own tunnels): it changes when the network does.
fn network_fingerprint(exclude: &std::collections::HashSet<String>) -> u64 {
    use nix::net::if_::InterfaceFlags;
    use std::hash::{Hash, Hasher};
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
        return 0;
    };
    let mut items: Vec<String> = addrs
        .filter(|a| a.interface_name != "lo" && !exclude.contains(&a.interface_name))
        .map(|a| {
            let flags = a.flags & (InterfaceFlags::IFF_UP | InterfaceFlags::IFF_RUNNING);
            let addr = a
                .address
                .and_then(|s| {
                    s.as_sockaddr_in()
                        .map(|v4| v4.ip().to_string())
                        .or_else(|| s.as_sockaddr_in6().map(|v6| v6.ip().to_string()))
                })
                .unwrap_or_default();
            format!("{} {:x} {addr}", a.interface_name, flags.bits())
        })
        .collect();
    items.sort();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    items.hash(&mut h);
    h.finish()
}

/// An address inside `net` to nudge a handshake towards.
fn probe_target(net: &IpNet) -> IpAddr {
    match net {
        IpNet::V4(n) if n.prefix_len() == 0 => IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
        IpNet::V6(n) if n.prefix_len() == 0 => {
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1))
        }
        IpNet::V4(n) if n.prefix_len() < 31 => {
            IpAddr::V4(Ipv4Addr::from(u32::from(n.network()).wrapping_add(1)))
        }
        IpNet::V6(n) if n.prefix_len() < 127 => {
            IpAddr::V6(Ipv6Addr::from(u128::from(n.network()).wrapping_add(1)))
        }
        other => other.addr(),
    }
}

/// Sends one small datagram into the tunnel (bound to its interface): the core then starts a
/// handshake if it has no fresh session.
fn nudge(interface: &str, allowed: &[IpNet]) {
    let Some(net) = allowed.first() else { return };
    let target = SocketAddr::new(probe_target(net), 9);
    let domain = if target.is_ipv4() {
        socket2::Domain::IPV4
    } else {
        socket2::Domain::IPV6
    };
    let Ok(sock) = socket2::Socket::new(domain, socket2::Type::DGRAM, None) else {
        return;
    };
    if sock.bind_device(Some(interface.as_bytes())).is_err() {
        return;
    }
    let _ = sock.send_to(b"gatehouse", &target.into());
}

impl Engine {
    /// An engine keeping its journal under `opts.state_dir`. Call [`Engine::recover`] before
    /// the first connect when the previous process may have crashed.
    pub fn new(opts: EngineOptions) -> Result<Engine, ErrorReply> {
        let journal =
            Journal::open(&opts.state_dir).map_err(|e| err(ErrorKind::Failed, e.to_string()))?;
        Ok(Engine {
            inner: Arc::new(Inner {
                opts,
                journal,
                tunnels: Mutex::new(BTreeMap::new()),
                ours: Mutex::new(std::collections::HashSet::new()),
                ops: tokio::sync::Mutex::new(()),
                hub: Hub::default(),
            }),
        })
    }

    /// Undoes whatever the journal describes (left by a process that died without cleaning
    /// up), then deletes the entries. Entries that cannot be read are kept and reported.
    pub async fn recover(&self) -> Recovery {
        let mut rec = Recovery::default();
        let entries = match self.inner.journal.entries() {
            Ok(e) => e,
            Err(e) => {
                rec.failures.push(e.to_string());
                return rec;
            }
        };
        for (path, entry) in entries {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    rec.failures.push(e.to_string());
                    continue;
                }
            };
            tracing::warn!(profile = %entry.name, interface = %entry.interface,
                "undoing host changes left by a previous run");
            if let Err(e) = gatehouse_os_revert(&entry.undo_actions()).await {
                rec.failures.push(format!("{}: {e}", entry.name));
            }
            if entry.kill_switch {
                if let Err(e) = killswitch::remove().await {
                    rec.failures.push(format!("{}: {e}", entry.name));
                }
            }
            if let Err(e) = self.inner.journal.remove(&entry.interface) {
                rec.failures.push(e.to_string());
            }
            let _ = path;
            rec.replayed.push(entry.name);
        }
        rec
    }

    /// A new event subscription (state changes, stats, log lines) holding at most `capacity`
    /// unread events.
    pub fn subscribe(&self, capacity: usize) -> Subscription {
        self.inner.hub.subscribe(capacity)
    }

    fn publish(&self, event: Event) {
        self.inner.hub.publish(event);
    }

    fn log(&self, name: Option<&str>, level: LogLevel, message: String) {
        match level {
            LogLevel::Info => tracing::info!(profile = name, "{message}"),
            LogLevel::Warn => tracing::warn!(profile = name, "{message}"),
            LogLevel::Error => tracing::error!(profile = name, "{message}"),
        }
        self.publish(Event::Log {
            name: name.map(str::to_owned),
            level,
            message,
        });
    }

    /// The running tunnels.
    pub fn status(&self) -> StatusReport {
        let running: Vec<Arc<Running>> = self
            .inner
            .tunnels
            .lock()
            .map(|t| t.values().cloned().collect())
            .unwrap_or_default();
        let now = gatehouse_tunnel::Instant::now();
        StatusReport {
            tunnels: running
                .iter()
                .map(|r| {
                    let stats = r.handle.stats();
                    TunnelStatus {
                        name: r.name.clone(),
                        interface: r.interface.clone(),
                        state: r
                            .state
                            .lock()
                            .map(|s| s.clone())
                            .unwrap_or(ConnectionState::Disconnected),
                        kill_switch: r.kill_switch,
                        public_key: r.public_key.clone(),
                        listen_port: stats.listen_port,
                        uptime_secs: r.started.elapsed().map(|d| d.as_secs()).unwrap_or(0),
                        peers: stats
                            .peers
                            .iter()
                            .map(|p| {
                                let key = Key(p.public_key).to_string();
                                PeerStatus {
                                    allowed_ips: r
                                        .peer_allowed
                                        .get(&key)
                                        .cloned()
                                        .unwrap_or_default(),
                                    public_key: key,
                                    endpoint: p.endpoint.map(|e| e.to_string()),
                                    latest_handshake_secs: p
                                        .last_handshake
                                        .map(|t| now.saturating_duration_since(t).as_secs()),
                                    rx_bytes: p.rx_bytes,
                                    tx_bytes: p.tx_bytes,
                                }
                            })
                            .collect(),
                    }
                })
                .collect(),
        }
    }

    /// Brings a profile up. Returns the interface. The state goes Connecting, then Connected
    /// at the first handshake (see the events).
    pub async fn connect(&self, req: ConnectRequest) -> Result<String, ErrorReply> {
        let _op = self.inner.ops.lock().await;
        let name = req.name.clone();
        if !valid_profile_name(&name) {
            return Err(err(
                ErrorKind::BadRequest,
                format!("invalid profile name {name:?} (1–64 letters, digits, space or _-.+@=)"),
            ));
        }
        let config = convert::config_of(&req)?;
        let allowed = convert::allowed_ips(&config);
        {
            let tunnels = self
                .inner
                .tunnels
                .lock()
                .map_err(|_| err(ErrorKind::Failed, "internal lock poisoned"))?;
            if tunnels.contains_key(&name) {
                return Err(err(
                    ErrorKind::AlreadyConnected,
                    format!("{name} is already connected"),
                ));
            }
            for other in tunnels.values() {
                if let Some((mine, theirs)) = convert::overlap(&allowed, &other.allowed) {
                    return Err(err(
                        ErrorKind::RouteConflict,
                        format!(
                            "{name} cannot connect: its AllowedIPs {mine} overlap {theirs} of the \
                             running profile {} ({}); disconnect it first",
                            other.name, other.interface
                        ),
                    ));
                }
            }
        }
        if req.kill_switch && !convert::is_full_tunnel(&config) {
            return Err(err(
                ErrorKind::BadRequest,
                format!(
                    "{name}: the kill switch needs a full-tunnel profile (AllowedIPs with 0.0.0.0/0 \
                     or ::/0)"
                ),
            ));
        }
        let tunnel_cfg = convert::tunnel_config(&name, &config)?;
        let tunnel = Tunnel::new(tunnel_cfg, gatehouse_tunnel::Instant::now())
            .map_err(|e| err(ErrorKind::BadRequest, format!("{name}: {e}")))?;
        let public_key = Key(tunnel.public_key()).to_string();

        self.set_state_event(&name, ConnectionState::Connecting);
        match self
            .bring_up(&name, &req, &config, tunnel, allowed, public_key)
            .await
        {
            Ok(interface) => Ok(interface),
            Err(e) => {
                self.publish(Event::State {
                    name: name.clone(),
                    state: ConnectionState::Error {
                        message: e.message.clone(),
                    },
                });
                self.log(Some(&name), LogLevel::Error, e.message.clone());
                Err(e)
            }
        }
    }

    fn set_state_event(&self, name: &str, state: ConnectionState) {
        self.publish(Event::State {
            name: name.to_owned(),
            state,
        });
    }

    async fn bring_up(
        &self,
        name: &str,
        req: &ConnectRequest,
        config: &Config,
        tunnel: Tunnel,
        allowed: Vec<IpNet>,
        public_key: String,
    ) -> Result<String, ErrorReply> {
        let mtu = config
            .interface
            .mtu
            .unwrap_or(gatehouse_device::DEFAULT_MTU);
        let tun = TunDevice::create(Some(&interface_for(name)), mtu)
            .map_err(|e| err(ErrorKind::Failed, format!("{name}: {e}")))?;
        let interface = tun.name().to_owned();
        self.mark_ours(&interface, true);
        let result = self
            .bring_up_on(name, req, config, tunnel, allowed, public_key, tun, mtu)
            .await;
        if result.is_err() {
            self.mark_ours(&interface, false);
        }
        result
    }

    fn mark_ours(&self, interface: &str, ours: bool) {
        if let Ok(mut set) = self.inner.ours.lock() {
            if ours {
                set.insert(interface.to_owned());
            } else {
                set.remove(interface);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn bring_up_on(
        &self,
        name: &str,
        req: &ConnectRequest,
        config: &Config,
        tunnel: Tunnel,
        allowed: Vec<IpNet>,
        public_key: String,
        tun: TunDevice,
        mtu: u16,
    ) -> Result<String, ErrorReply> {
        let interface = tun.name().to_owned();
        let (endpoints, warnings) = resolve_endpoints(config).await;
        for w in warnings {
            self.log(Some(name), LogLevel::Warn, w);
        }
        let mut host = convert::host_config(
            config,
            &interface,
            endpoints.iter().map(|a| a.ip()).collect(),
        )?;
        host.endpoints.dedup();
        let journal = &self.inner.journal;
        // Journal first, then the change.
        journal
            .write(&Entry::planned(name, &host, req.kill_switch))
            .map_err(|e| err(ErrorKind::Failed, e.to_string()))?;
        let fail = |message: String| err(ErrorKind::Failed, format!("{name}: {message}"));
        if req.kill_switch {
            let ks = KillSwitch {
                interface: interface.clone(),
                endpoints: endpoints.clone(),
                dns: convert::dns_servers(config),
            };
            if let Err(e) = ks.install(&self.inner.opts.state_dir).await {
                let _ = journal.remove(&interface);
                return Err(fail(e.to_string()));
            }
        }
        let options = gatehouse_os::ApplyOptions {
            state_dir: Some(self.inner.opts.state_dir.clone()),
            ..Default::default()
        };
        let applied = match gatehouse_os::apply(&host, &options).await {
            Ok(a) => a,
            Err(e) => {
                if req.kill_switch {
                    let _ = killswitch::remove().await;
                }
                let _ = journal.remove(&interface);
                return Err(fail(format!("cannot configure {interface}: {e}")));
            }
        };
        let entry = Entry {
            phase: Phase::Applied {
                applied: applied.clone(),
            },
            ..Entry::planned(name, &host, req.kill_switch)
        };
        if let Err(e) = journal.write(&entry) {
            self.log(Some(name), LogLevel::Error, e.to_string());
        }
        let device_cfg = DeviceConfig {
            listen_port: config.interface.listen_port,
            fwmark: applied.fwmark().or(config.interface.fwmark),
        };
        let device = match Device::start(tun, tunnel, device_cfg) {
            Ok(d) => d,
            Err(e) => {
                self.undo(name, &interface, &applied, req.kill_switch).await;
                return Err(fail(format!("cannot start the tunnel: {e}")));
            }
        };
        let (stop_tx, stop_rx) = oneshot::channel();
        let running = Arc::new(Running {
            name: name.to_owned(),
            interface: interface.clone(),
            kill_switch: req.kill_switch,
            public_key,
            peer_allowed: config
                .peers
                .iter()
                .map(|p| {
                    (
                        p.public_key.to_string(),
                        p.allowed_ips.iter().map(|n| n.to_string()).collect(),
                    )
                })
                .collect(),
            allowed,
            started: SystemTime::now(),
            state: Mutex::new(ConnectionState::Connecting),
            handle: device.handle(),
            stop: Mutex::new(Some(stop_tx)),
            task: tokio::sync::Mutex::new(None),
        });
        if let Ok(mut t) = self.inner.tunnels.lock() {
            t.insert(name.to_owned(), Arc::clone(&running));
        }
        let engine = self.clone();
        let run = Arc::clone(&running);
        let task = tokio::spawn(async move {
            engine.run_tunnel(run, device, applied, stop_rx).await;
        });
        *running.task.lock().await = Some(task);
        self.log(
            Some(name),
            LogLevel::Info,
            format!(
                "{interface} up ({} peer{}), MTU {}",
                config.peers.len(),
                if config.peers.len() == 1 { "" } else { "s" },
                host.mtu.unwrap_or(u32::from(mtu))
            ),
        );
        Ok(interface)
    }

    async fn undo(&self, name: &str, interface: &str, applied: &gatehouse_os::Applied, ks: bool) {
        if let Err(e) = applied.revert().await {
            self.log(
                Some(name),
                LogLevel::Warn,
                format!("some host changes could not be undone: {e}"),
            );
        }
        if ks {
            if let Err(e) = killswitch::remove().await {
                self.log(Some(name), LogLevel::Warn, e.to_string());
            }
        }
        if let Err(e) = self.inner.journal.remove(interface) {
            self.log(Some(name), LogLevel::Warn, e.to_string());
        }
    }

    async fn run_tunnel(
        &self,
        run: Arc<Running>,
        device: Device,
        applied: gatehouse_os::Applied,
        mut stop: oneshot::Receiver<()>,
    ) {
        let name = run.name.clone();
        let mut machine = Machine::new(self.inner.opts.machine);
        let mut events = device.subscribe();
        let mut tick = tokio::time::interval(self.inner.opts.tick);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let apply =
            |machine: &mut Machine, input: Input| -> (Option<ConnectionState>, Vec<Action>) {
                machine.handle(input, Instant::now())
            };
        let mut pending = vec![apply(&mut machine, Input::Started)];
        let mut last_rx_tx = (u64::MAX, u64::MAX);
        let mut last_handshake = None;
        let mut last_network: Option<u64> = None;
        loop {
            for (changed, actions) in pending.drain(..) {
                if let Some(state) = changed {
                    self.set_state(&run, state);
                }
                self.act(&run, &actions);
            }
            tokio::select! {
                _ = &mut stop => break,
                ev = events.recv() => match ev {
                    Ok(DeviceEvent::Tunnel(gatehouse_tunnel::Event::HandshakeCompleted { .. })) => {
                        pending.push(apply(&mut machine, Input::Handshake));
                    }
                    Ok(DeviceEvent::Stopped { error }) => {
                        pending.push(apply(&mut machine, Input::Failed(error)));
                        for (changed, _) in pending.drain(..) {
                            if let Some(state) = changed {
                                self.set_state(&run, state);
                            }
                        }
                        break;
                    }
                    Ok(other) => self.report(&name, &other),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        self.log(Some(&name), LogLevel::Warn, format!("{n} device events skipped"));
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                        pending.push(apply(&mut machine, Input::Failed("the device stopped".into())));
                        break;
                    }
                },
                _ = tick.tick() => {
                    let stats = run.handle.stats();
                    pending.push(apply(&mut machine, Input::Sent(stats.io.tun_rx_packets)));
                    pending.push(apply(
                        &mut machine,
                        Input::Received(stats.peers.iter().map(|p| p.rx_bytes).sum()),
                    ));
                    pending.push(apply(&mut machine, Input::Clock { boot: boot_clock() }));
                    let ours = self.inner.ours.lock().map(|s| s.clone()).unwrap_or_default();
                    let network = network_fingerprint(&ours);
                    if last_network.is_some_and(|prev| prev != network) {
                        pending.push(apply(&mut machine, Input::NetworkChanged));
                    }
                    last_network = Some(network);
                    let now = gatehouse_tunnel::Instant::now();
                    // Handshakes also seen through the counters, in case events were skipped.
                    let newest = stats.peers.iter().filter_map(|p| p.last_handshake).max();
                    if newest.is_some() && newest != last_handshake {
                        last_handshake = newest;
                        pending.push(apply(&mut machine, Input::Handshake));
                    }
                    let rx: u64 = stats.peers.iter().map(|p| p.rx_bytes).sum();
                    let tx: u64 = stats.peers.iter().map(|p| p.tx_bytes).sum();
                    if (rx, tx) != last_rx_tx {
                        last_rx_tx = (rx, tx);
                        self.publish(Event::Stats {
                            name: name.clone(),
                            rx_bytes: rx,
                            tx_bytes: tx,
                            latest_handshake_secs: stats
                                .peers
                                .iter()
                                .filter_map(|p| p.last_handshake)
                                .map(|t| now.saturating_duration_since(t).as_secs())
                                .min(),
                        });
                    }
                }
            }
        }
        for (changed, _) in pending.drain(..) {
            if let Some(state) = changed {
                self.set_state(&run, state);
            }
        }
        let (changed, _) = machine.handle(Input::Disconnect, Instant::now());
        if let Some(state) = changed {
            self.set_state(&run, state);
        }
        device.shutdown().await;
        self.undo(&name, &run.interface, &applied, run.kill_switch)
            .await;
        if let Ok(mut t) = self.inner.tunnels.lock() {
            t.remove(&name);
        }
        self.mark_ours(&run.interface, false);
        let (changed, _) = machine.handle(Input::Stopped, Instant::now());
        if let Some(state) = changed {
            self.set_state(&run, state);
        }
        self.log(
            Some(&name),
            LogLevel::Info,
            format!("{} down", run.interface),
        );
    }

    fn set_state(&self, run: &Running, state: ConnectionState) {
        if let Ok(mut s) = run.state.lock() {
            *s = state.clone();
        }
        self.set_state_event(&run.name, state);
    }

    fn act(&self, run: &Running, actions: &[Action]) {
        for a in actions {
            match a {
                Action::ReResolve => self.log(
                    Some(&run.name),
                    LogLevel::Info,
                    "re-resolving endpoints and re-handshaking".into(),
                ),
                Action::Rehandshake => nudge(&run.interface, &run.allowed),
            }
        }
    }

    fn report(&self, name: &str, ev: &DeviceEvent) {
        let key = |k: &[u8; 32]| Key(*k).to_string();
        let (level, message) = match ev {
            DeviceEvent::Tunnel(gatehouse_tunnel::Event::PeerStale { peer }) => (
                LogLevel::Warn,
                format!("peer {}: no reply for too long, session dropped", key(peer)),
            ),
            DeviceEvent::Tunnel(gatehouse_tunnel::Event::EndpointChanged { peer, from, to }) => {
                let Some(from) = from else { return };
                (
                    LogLevel::Info,
                    format!("peer {}: endpoint moved {from} -> {to}", key(peer)),
                )
            }
            DeviceEvent::Tunnel(gatehouse_tunnel::Event::Error { peer, error }) => {
                (LogLevel::Warn, format!("peer {}: {error}", key(peer)))
            }
            DeviceEvent::EndpointResolved { peer, host, addr } => (
                LogLevel::Info,
                format!("peer {}: {host} is {addr}", key(peer)),
            ),
            DeviceEvent::ResolveFailed { peer, host, error } => (
                LogLevel::Warn,
                format!("peer {}: cannot resolve {host}: {error}", key(peer)),
            ),
            _ => return,
        };
        self.log(Some(name), level, message);
    }

    /// Brings a profile down: Disconnecting, driver stopped, every host change undone,
    /// Disconnected.
    pub async fn disconnect(&self, name: &str) -> Result<(), ErrorReply> {
        let _op = self.inner.ops.lock().await;
        let running = self
            .inner
            .tunnels
            .lock()
            .ok()
            .and_then(|t| t.get(name).cloned());
        let Some(running) = running else {
            return Err(err(
                ErrorKind::NotFound,
                format!("no running profile named {name:?}"),
            ));
        };
        self.stop(&running).await;
        Ok(())
    }

    async fn stop(&self, running: &Running) {
        if let Some(tx) = running.stop.lock().ok().and_then(|mut s| s.take()) {
            let _ = tx.send(());
        }
        let task = running.task.lock().await.take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }

    /// Disconnects everything (service shutdown).
    pub async fn shutdown(&self) {
        let _op = self.inner.ops.lock().await;
        let all: Vec<Arc<Running>> = self
            .inner
            .tunnels
            .lock()
            .map(|t| t.values().cloned().collect())
            .unwrap_or_default();
        for r in all {
            self.stop(&r).await;
        }
    }

    /// Names of the running profiles.
    pub fn running(&self) -> Vec<String> {
        self.inner
            .tunnels
            .lock()
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Event subscribers attached right now.
    pub fn subscribers(&self) -> usize {
        self.inner.hub.subscribers()
    }
}

async fn gatehouse_os_revert(actions: &[gatehouse_os::UndoAction]) -> Result<(), String> {
    let applied = gatehouse_os::Applied {
        interface: String::new(),
        mtu: 0,
        plan: gatehouse_os::Plan::compute(&empty_host(), |_| false),
        actions: actions.to_vec(),
    };
    applied.revert().await.map_err(|e| e.to_string())
}

fn empty_host() -> gatehouse_os::HostConfig {
    gatehouse_os::HostConfig {
        interface: String::new(),
        addresses: Vec::new(),
        mtu: None,
        allowed_ips: Vec::new(),
        table: gatehouse_os::Table::Off,
        fwmark: None,
        endpoints: Vec::new(),
        dns: gatehouse_os::DnsConfig::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_targets_stay_inside_the_network() {
        let n = |s: &str| s.parse::<IpNet>().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(probe_target(&n("10.202.0.0/24")).to_string(), "10.202.0.1");
        assert_eq!(probe_target(&n("10.202.0.7/32")).to_string(), "10.202.0.7");
        assert_eq!(probe_target(&n("0.0.0.0/0")).to_string(), "192.0.2.1");
        assert_eq!(probe_target(&n("fd00:202::/64")).to_string(), "fd00:202::1");
        for t in ["10.202.0.0/24", "0.0.0.0/0", "fd00::/8", "::/0"] {
            assert!(n(t).contains(&probe_target(&n(t))));
        }
    }

    #[test]
    fn network_fingerprint_ignores_excluded_interfaces() {
        let none = std::collections::HashSet::new();
        let a = network_fingerprint(&none);
        assert_eq!(a, network_fingerprint(&none));
        let all: std::collections::HashSet<String> = nix::ifaddrs::getifaddrs()
            .map(|i| i.map(|a| a.interface_name).collect())
            .unwrap_or_default();
        let empty = network_fingerprint(&all);
        let mut h = std::collections::hash_map::DefaultHasher::new();
        std::hash::Hash::hash(&Vec::<String>::new(), &mut h);
        assert_eq!(empty, std::hash::Hasher::finish(&h));
    }

    #[test]
    fn names() {
        assert!(valid_profile_name("home office"));
        assert!(!valid_profile_name(""));
        assert!(!valid_profile_name("a/b"));
        assert!(!valid_profile_name(&"x".repeat(65)));
        assert_eq!(interface_for("a very long profile name"), "gh%d");
        assert_eq!(interface_for("lo"), "gh%d");
        assert_eq!(interface_for("ghtest9"), "ghtest9");
    }

    #[test]
    fn empty_journal_recovers_nothing() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let engine = Engine::new(EngineOptions::new(dir.path().to_path_buf()))
            .unwrap_or_else(|e| panic!("{e}"));
        let rec = rt.block_on(engine.recover());
        assert_eq!(rec, Recovery::default());
        assert!(engine.status().tunnels.is_empty());
        let e = rt.block_on(engine.disconnect("nope")).err().map(|e| e.kind);
        assert_eq!(e, Some(ErrorKind::NotFound));
    }
}
