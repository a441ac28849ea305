//! The in-process engine: runs connections in this process with one state machine, one event
//! hub and one journal, whatever carries the packets:
//!
//! - [`Driver::Tun`]: a TUN device with addresses, routes, DNS and the kill switch (root) — the
//!   service (`gatehouse daemon`) serves exactly this over IPC, and a root `gatehouse up` runs
//!   it in the foreground ([`tun`]);
//! - [`Driver::NoRoot`]: the userspace network stack (SOCKS5/HTTP proxy and forwards on
//!   loopback), for `gatehouse up --no-root` and the app's no-root mode ([`noroot`]).
//!
//! Every host change is journaled before it is made, with the process that made it, so the
//! next engine to start (service or foreground) undoes what a killed one left behind.

mod host;
mod noroot;
mod tun;

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use gatehouse_device::{DeviceEvent, DeviceStats};
use gatehouse_ipc::{
    ConnectRequest, ConnectionState, ErrorKind, ErrorReply, Event, LogLevel, PeerStatus,
    StatusReport, TunnelStatus,
};
use gatehouse_netstack::{Netstack, NetstackOptions, NetstackStats};
use gatehouse_profile::Key;
use gatehouse_tunnel::{PeerStats, Tunnel};
use ipnet::IpNet;
use tokio::sync::{broadcast, oneshot};

use crate::convert;
use crate::hub::{Hub, Subscription};
use crate::journal::Journal;
use crate::machine::{Action, Input, Machine, MachineConfig};

/// How an [`Engine`] runs.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Journal, DNS backups and scratch files (`/var/lib/gatehouse` for the service and a
    /// foreground `gatehouse up`).
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
    /// Entries left alone: their process still runs, or runs in another network namespace.
    pub kept: Vec<String>,
    /// Undo steps or files that failed (text for the log).
    pub failures: Vec<String>,
}

/// What carries a connection's packets.
#[derive(Debug, Clone)]
pub enum Driver {
    /// A TUN device, its addresses, routes and DNS, journaled (needs root).
    Tun,
    /// The userspace network stack with these proxies and forwards (no root, no host change).
    NoRoot(NetstackOptions),
}

/// A running connection's driver counters.
#[derive(Debug, Clone)]
pub enum LinkStats {
    /// The TUN driver's.
    Tun(DeviceStats),
    /// The no-root stack's.
    NoRoot(NetstackStats),
}

impl LinkStats {
    /// Per-peer counters, in configuration order.
    pub fn peers(&self) -> &[PeerStats] {
        match self {
            LinkStats::Tun(s) => &s.peers,
            LinkStats::NoRoot(s) => &s.peers,
        }
    }

    /// Packets the user sent into the tunnel (read from the TUN device, or encrypted to the
    /// peers by the no-root stack).
    fn sent_packets(&self) -> u64 {
        match self {
            LinkStats::Tun(s) => s.io.tun_rx_packets,
            LinkStats::NoRoot(s) => s.peers.iter().map(|p| p.tx_packets).sum(),
        }
    }

    fn listen_port(&self) -> u16 {
        match self {
            LinkStats::Tun(s) => s.listen_port,
            LinkStats::NoRoot(_) => 0,
        }
    }
}

/// The interface name a no-root connection reports (it has no interface of its own).
pub const NO_ROOT_INTERFACE: &str = "no-root";

/// Runs connections in this process.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    opts: EngineOptions,
    journal: Journal,
    tunnels: Mutex<BTreeMap<String, Arc<Running>>>,
    /// Interfaces this engine created (left out of the network-change watch).
    ours: Mutex<HashSet<String>>,
    /// Serializes connect and disconnect (route checks, journal).
    ops: tokio::sync::Mutex<()>,
    hub: Hub,
}

/// What reads a running connection's counters.
enum Link {
    Tun(gatehouse_device::DeviceHandle),
    NoRoot(Arc<Netstack>),
}

impl Link {
    fn stats(&self) -> LinkStats {
        match self {
            Link::Tun(h) => LinkStats::Tun(h.stats()),
            Link::NoRoot(n) => LinkStats::NoRoot(n.stats()),
        }
    }
}

/// A connection brought up by a driver: its interface, counters, what tears it down, its
/// device events (TUN only) and the line that announces it.
type Brought = (
    String,
    Link,
    Teardown,
    Option<broadcast::Receiver<DeviceEvent>>,
    String,
);

/// What the connection's task owns and tears down at the end.
enum Teardown {
    Tun(Box<tun::Up>),
    NoRoot,
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
    link: Mutex<Option<Link>>,
    stop: Mutex<Option<oneshot::Sender<()>>>,
    task: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Running {
    fn stats(&self) -> Option<LinkStats> {
        self.link
            .lock()
            .ok()
            .and_then(|l| l.as_ref().map(Link::stats))
    }

    fn is_tun(&self) -> bool {
        self.link
            .lock()
            .map(|l| matches!(*l, Some(Link::Tun(_))))
            .unwrap_or(false)
    }
}

fn err(kind: ErrorKind, message: impl Into<String>) -> ErrorReply {
    ErrorReply::new(kind, message)
}

/// Per-peer status lines from the driver's counters.
fn peer_status(stats: &[PeerStats], allowed: &BTreeMap<String, Vec<String>>) -> Vec<PeerStatus> {
    let now = gatehouse_tunnel::Instant::now();
    stats
        .iter()
        .map(|p| {
            let key = Key(p.public_key).to_string();
            PeerStatus {
                allowed_ips: allowed.get(&key).cloned().unwrap_or_default(),
                public_key: key,
                endpoint: p.endpoint.map(|e| e.to_string()),
                latest_handshake_secs: p
                    .last_handshake
                    .map(|t| now.saturating_duration_since(t).as_secs()),
                rx_bytes: p.rx_bytes,
                tx_bytes: p.tx_bytes,
            }
        })
        .collect()
}

impl Engine {
    /// An engine keeping its journal under `opts.state_dir`. Call [`Engine::recover`] before
    /// the first connect when a previous process may have crashed.
    pub fn new(opts: EngineOptions) -> Result<Engine, ErrorReply> {
        let journal =
            Journal::open(&opts.state_dir).map_err(|e| err(ErrorKind::Failed, e.to_string()))?;
        Ok(Engine {
            inner: Arc::new(Inner {
                opts,
                journal,
                tunnels: Mutex::new(BTreeMap::new()),
                ours: Mutex::new(HashSet::new()),
                ops: tokio::sync::Mutex::new(()),
                hub: Hub::default(),
            }),
        })
    }

    /// Undoes whatever the journal describes that a process now gone left behind in this
    /// network namespace (the service or a foreground `gatehouse up`, killed), then deletes
    /// those entries. Entries of live processes are kept; unreadable ones are reported.
    pub async fn recover(&self) -> Recovery {
        tun::recover(&self.inner.journal).await
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

    fn all(&self) -> Vec<Arc<Running>> {
        self.inner
            .tunnels
            .lock()
            .map(|t| t.values().cloned().collect())
            .unwrap_or_default()
    }

    fn get(&self, name: &str) -> Option<Arc<Running>> {
        self.inner
            .tunnels
            .lock()
            .ok()
            .and_then(|t| t.get(name).cloned())
    }

    /// The running connections.
    pub fn status(&self) -> StatusReport {
        StatusReport {
            tunnels: self
                .all()
                .iter()
                .map(|r| {
                    let stats = r.stats();
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
                        listen_port: stats.as_ref().map_or(0, LinkStats::listen_port),
                        uptime_secs: r.started.elapsed().map(|d| d.as_secs()).unwrap_or(0),
                        peers: stats
                            .as_ref()
                            .map(|s| peer_status(s.peers(), &r.peer_allowed))
                            .unwrap_or_default(),
                    }
                })
                .collect(),
        }
    }

    /// The driver counters of a running connection (drops by reason, I/O, proxy clients).
    pub fn stats(&self, name: &str) -> Option<LinkStats> {
        self.get(name).and_then(|r| r.stats())
    }

    /// The no-root stack of a running no-root connection (to dial, resolve or forward through
    /// it).
    pub fn netstack(&self, name: &str) -> Option<Arc<Netstack>> {
        let r = self.get(name)?;
        let link = r.link.lock().ok()?;
        match link.as_ref()? {
            Link::NoRoot(n) => Some(Arc::clone(n)),
            Link::Tun(_) => None,
        }
    }

    /// Brings a profile up on a TUN device (the service's connect). Returns the interface.
    pub async fn connect(&self, req: ConnectRequest) -> Result<String, ErrorReply> {
        self.connect_with(req, Driver::Tun).await
    }

    /// Brings a profile up on `driver`. Returns the interface ([`NO_ROOT_INTERFACE`] for the
    /// no-root stack). The state goes Connecting, then Connected at the first handshake (see
    /// the events).
    pub async fn connect_with(
        &self,
        req: ConnectRequest,
        driver: Driver,
    ) -> Result<String, ErrorReply> {
        let _op = self.inner.ops.lock().await;
        let name = req.name.clone();
        if !host::valid_profile_name(&name) {
            return Err(err(
                ErrorKind::BadRequest,
                format!("invalid profile name {name:?} (1–64 letters, digits, space or _-.+@=)"),
            ));
        }
        let config = convert::config_of(&req)?;
        let allowed = convert::allowed_ips(&config);
        if self.get(&name).is_some() {
            return Err(err(
                ErrorKind::AlreadyConnected,
                format!("{name} is already connected"),
            ));
        }
        if matches!(driver, Driver::Tun) {
            // Routes only collide between interfaces: no-root stacks route nothing.
            for other in self.all().iter().filter(|o| o.is_tun()) {
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
        if req.kill_switch {
            if matches!(driver, Driver::NoRoot(_)) {
                return Err(err(
                    ErrorKind::BadRequest,
                    format!(
                        "{name}: the kill switch needs a TUN connection (the Gatehouse service \
                         or root); the no-root mode changes nothing on the host"
                    ),
                ));
            }
            if !convert::is_full_tunnel(&config) {
                return Err(err(
                    ErrorKind::BadRequest,
                    format!(
                        "{name}: the kill switch needs a full-tunnel profile (AllowedIPs with \
                         0.0.0.0/0 or ::/0)"
                    ),
                ));
            }
        }
        if let Some(i) = &req.interface {
            if !gatehouse_device::valid_interface_name(i) {
                return Err(err(
                    ErrorKind::BadRequest,
                    format!("{name}: {i:?} is not a valid interface name"),
                ));
            }
        }
        let tunnel_cfg = convert::tunnel_config(&name, &config)?;
        let tunnel = Tunnel::new(tunnel_cfg, gatehouse_tunnel::Instant::now())
            .map_err(|e| err(ErrorKind::BadRequest, format!("{name}: {e}")))?;
        let public_key = Key(tunnel.public_key()).to_string();

        self.set_state_event(&name, ConnectionState::Connecting);
        let brought = match driver {
            Driver::Tun => self.tun_up(&name, &req, &config, tunnel).await,
            Driver::NoRoot(options) => noroot::up(&name, &config, options).await,
        };
        let (interface, link, teardown, events, summary) = match brought {
            Ok(b) => b,
            Err(e) => {
                self.publish(Event::State {
                    name: name.clone(),
                    state: ConnectionState::Error {
                        message: e.message.clone(),
                    },
                });
                self.log(Some(&name), LogLevel::Error, e.message.clone());
                return Err(e);
            }
        };
        let (stop_tx, stop_rx) = oneshot::channel();
        let running = Arc::new(Running {
            name: name.clone(),
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
            link: Mutex::new(Some(link)),
            stop: Mutex::new(Some(stop_tx)),
            task: tokio::sync::Mutex::new(None),
        });
        if let Ok(mut t) = self.inner.tunnels.lock() {
            t.insert(name.clone(), Arc::clone(&running));
        }
        let engine = self.clone();
        let run = Arc::clone(&running);
        let task = tokio::spawn(async move {
            engine.run(run, teardown, events, stop_rx).await;
        });
        *running.task.lock().await = Some(task);
        self.log(Some(&name), LogLevel::Info, summary);
        Ok(interface)
    }

    async fn tun_up(
        &self,
        name: &str,
        req: &ConnectRequest,
        config: &gatehouse_profile::Config,
        tunnel: Tunnel,
    ) -> Result<Brought, ErrorReply> {
        let ctx = tun::Context {
            journal: &self.inner.journal,
            state_dir: &self.inner.opts.state_dir,
            ours: &self.inner.ours,
            warn: &|m: String| self.log(Some(name), LogLevel::Warn, m),
        };
        let up = ctx.bring_up(name, req, config, tunnel).await?;
        let link = Link::Tun(up.device.handle());
        let events = Some(up.device.subscribe());
        let interface = up.interface.clone();
        let summary = up.summary.clone();
        Ok((
            interface,
            link,
            Teardown::Tun(Box::new(up)),
            events,
            summary,
        ))
    }

    fn set_state_event(&self, name: &str, state: ConnectionState) {
        self.publish(Event::State {
            name: name.to_owned(),
            state,
        });
    }

    async fn run(
        &self,
        run: Arc<Running>,
        teardown: Teardown,
        mut events: Option<broadcast::Receiver<DeviceEvent>>,
        mut stop: oneshot::Receiver<()>,
    ) {
        let name = run.name.clone();
        let mut machine = Machine::new(self.inner.opts.machine);
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
                ev = next_event(&mut events) => match ev {
                    Ok(DeviceEvent::Tunnel(gatehouse_tunnel::Event::HandshakeCompleted { .. })) => {
                        pending.push(apply(&mut machine, Input::Handshake));
                    }
                    Ok(DeviceEvent::Stopped { error }) => {
                        pending.push(apply(&mut machine, Input::Failed(error)));
                        break;
                    }
                    Ok(other) => self.report(&name, &other),
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        self.log(Some(&name), LogLevel::Warn, format!("{n} device events skipped"));
                    }
                    Err(broadcast::error::RecvError::Closed) => {
                        pending.push(apply(&mut machine, Input::Failed("the device stopped".into())));
                        break;
                    }
                },
                _ = tick.tick() => {
                    let Some(stats) = run.stats() else { continue };
                    let peers = stats.peers();
                    pending.push(apply(&mut machine, Input::Sent(stats.sent_packets())));
                    pending.push(apply(
                        &mut machine,
                        Input::Received(peers.iter().map(|p| p.rx_bytes).sum()),
                    ));
                    pending.push(apply(&mut machine, Input::Clock { boot: host::boot_clock() }));
                    let ours = self.inner.ours.lock().map(|s| s.clone()).unwrap_or_default();
                    let network = host::network_fingerprint(&ours);
                    if last_network.is_some_and(|prev| prev != network) {
                        pending.push(apply(&mut machine, Input::NetworkChanged));
                    }
                    last_network = Some(network);
                    // Handshakes also seen through the counters (the only way for the no-root
                    // stack, and in case device events were skipped).
                    let newest = peers.iter().filter_map(|p| p.last_handshake).max();
                    if newest.is_some() && newest != last_handshake {
                        last_handshake = newest;
                        pending.push(apply(&mut machine, Input::Handshake));
                    }
                    let rx: u64 = peers.iter().map(|p| p.rx_bytes).sum();
                    let tx: u64 = peers.iter().map(|p| p.tx_bytes).sum();
                    if (rx, tx) != last_rx_tx {
                        last_rx_tx = (rx, tx);
                        let now = gatehouse_tunnel::Instant::now();
                        self.publish(Event::Stats {
                            name: name.clone(),
                            rx_bytes: rx,
                            tx_bytes: tx,
                            latest_handshake_secs: peers
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
        let link = run.link.lock().ok().and_then(|mut l| l.take());
        match (teardown, link) {
            (Teardown::Tun(up), _) => {
                let warn = |m: String| self.log(Some(&name), LogLevel::Warn, m);
                tun::tear_down(*up, &self.inner.journal, &self.inner.ours, &warn).await;
            }
            (Teardown::NoRoot, Some(Link::NoRoot(ns))) => noroot::down(ns).await,
            (Teardown::NoRoot, _) => {}
        }
        if let Ok(mut t) = self.inner.tunnels.lock() {
            t.remove(&name);
        }
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
                Action::Rehandshake => match self.netstack(&run.name) {
                    Some(ns) => noroot::nudge(ns, &run.allowed),
                    None => host::nudge(&run.interface, &run.allowed),
                },
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
        let Some(running) = self.get(name) else {
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

    /// Disconnects everything (service shutdown, app quit).
    pub async fn shutdown(&self) {
        let _op = self.inner.ops.lock().await;
        for r in self.all() {
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

/// The next device event; never for a driver without events.
async fn next_event(
    events: &mut Option<broadcast::Receiver<DeviceEvent>>,
) -> Result<DeviceEvent, broadcast::error::RecvError> {
    match events {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests;
