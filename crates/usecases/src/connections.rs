//! The connections: which profiles exist and where their connections run, the demo lab.
//!
//! - service mode: `gatehouse_session` with the daemon (connect with the keys read from the
//!   keyring and the kill switch setting, disconnect, status, events);
//! - no-root mode (and the demo): the session's in-process [`Engine`] with its no-root
//!   driver — the same engine, state machine and events as the service and `gatehouse up`.
//!
//! The other use cases get what they need through [`Connections::active_profile`],
//! [`Connections::netstack_of`], [`Connections::runs`] and [`Connections::lab_profile`].

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex as StdMutex};

use gatehouse_lab::{Lab, LabOptions};
use gatehouse_netstack::{Netstack, NetstackOptions, Target};
use gatehouse_profile::Config;
use gatehouse_session::engine::Driver;
use gatehouse_session::{ConnectionState, Engine, EngineOptions, StatusReport, TunnelStatus};
use tokio::sync::Mutex;

use crate::demo::{DEMO, DEMO_PROBE_HOST};
use crate::logs::Log;
use crate::notices::{alerts, Notice};
use crate::profiles::store;
use crate::service;
use crate::settings::{choose_mode, ModePreference, SettingsCell};
use crate::views::{err, AppError, ConnectionMode, ConnectionView, Origin, PeerView, StateKind};

#[derive(Default)]
struct Inner {
    /// The no-root connections the app started on its engine, and where they come from.
    running: BTreeMap<String, Origin>,
    /// The service's tunnels as last read.
    service: BTreeMap<String, TunnelStatus>,
    failed: BTreeMap<String, String>,
    lab: Option<Lab>,
}

/// The connections, in the app (no-root, the demo) and in the Gatehouse service.
pub struct Connections {
    inner: Mutex<Inner>,
    last: StdMutex<Vec<ConnectionView>>,
    socket: PathBuf,
    settings: Arc<SettingsCell>,
    log: Arc<Log>,
    /// The in-process engine of the no-root connections (or why it could not start).
    engine: Result<Engine, String>,
}

/// The no-root engine's state directory: nothing on the host changes in no-root mode, so
/// its journal stays empty; it lives in the runtime directory.
fn engine_dir() -> PathBuf {
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    // SAFETY: geteuid has no preconditions and cannot fail.
    base.join(format!("gatehouse-app-{}", unsafe { libc::geteuid() }))
}

fn loopback_any() -> Option<SocketAddr> {
    Some(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
}

/// The state a card shows for a session state, and why (for stale and error).
pub fn state_of(s: &ConnectionState) -> (StateKind, Option<String>) {
    match s {
        ConnectionState::Disconnected => (StateKind::Disconnected, None),
        ConnectionState::Connecting => (StateKind::Connecting, None),
        ConnectionState::Connected => (StateKind::Connected, None),
        ConnectionState::Stale { reason } => (StateKind::Stale, Some(reason.to_string())),
        ConnectionState::Error { message } => (StateKind::Error, Some(message.clone())),
        ConnectionState::Disconnecting => (StateKind::Connecting, Some("disconnecting".into())),
    }
}

impl Connections {
    /// No connection yet; the service is the one at `socket`.
    pub fn new(socket: PathBuf, settings: Arc<SettingsCell>, log: Arc<Log>) -> Connections {
        Connections {
            inner: Mutex::new(Inner::default()),
            last: StdMutex::new(Vec::new()),
            socket,
            settings,
            log,
            engine: Engine::new(EngineOptions::new(engine_dir())).map_err(|e| e.message),
        }
    }

    fn engine(&self) -> Result<&Engine, AppError> {
        self.engine
            .as_ref()
            .map_err(|e| AppError::new(format!("the in-process engine could not start: {e}")))
    }

    /// Reads the service's tunnels (none when it is not used or does not answer).
    async fn read_service(&self) -> Option<StatusReport> {
        if self.settings.get().mode == ModePreference::NoRoot {
            return None;
        }
        service::status(&self.socket).await
    }

    /// Every profile (stored ones, the demo when its lab runs, the service's other tunnels)
    /// with its connection.
    pub async fn connections(&self) -> Vec<ConnectionView> {
        let stored: Vec<String> = match store().and_then(|s| s.list().map_err(err)) {
            Ok(list) => list.into_iter().map(|p| p.info.name).collect(),
            Err(e) => {
                tracing::warn!("listing profiles: {e}");
                Vec::new()
            }
        };
        let service = self.read_service().await;
        let mut inner = self.inner.lock().await;
        inner.service = service
            .map(|s| s.tunnels.into_iter().map(|t| (t.name.clone(), t)).collect())
            .unwrap_or_default();
        let mine = match &self.engine {
            Ok(e) => e.status(),
            Err(_) => StatusReport::default(),
        };
        let mut names: Vec<(String, Origin)> =
            stored.into_iter().map(|n| (n, Origin::Stored)).collect();
        if inner.lab.is_some() {
            names.push((DEMO.to_owned(), Origin::Demo));
        }
        let extra: Vec<(String, Origin)> = inner
            .running
            .iter()
            .map(|(n, o)| (n.clone(), *o))
            .chain(inner.service.keys().map(|n| (n.clone(), Origin::Stored)))
            .collect();
        for (name, origin) in extra {
            if !names.iter().any(|(n, _)| *n == name) {
                names.push((name, origin));
            }
        }
        names
            .into_iter()
            .map(|(name, origin)| {
                let ns = self.engine.as_ref().ok().and_then(|e| e.netstack(&name));
                view(&inner, &mine, ns.as_deref(), name, origin)
            })
            .collect()
    }

    /// The connections as last reported.
    pub fn last_reported(&self) -> Vec<ConnectionView> {
        self.last.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Recomputes the connections and reports them when they changed (and the notifications
    /// their changes deserve, when the settings allow them).
    pub async fn refresh(&self) {
        let views = self.connections().await;
        let prev = match self.last.lock() {
            Ok(mut last) if *last != views => Some(std::mem::replace(&mut *last, views.clone())),
            _ => None,
        };
        let Some(prev) = prev else {
            return;
        };
        if self.settings.get().notifications {
            for (title, body) in alerts(&prev, &views) {
                self.log.notify(Notice::Alert { title, body });
            }
        }
        self.log.notify(Notice::Connections(views));
    }

    /// Connects a profile: through the service when the settings and the service allow it,
    /// else in the app without root. The demo always runs in the app.
    pub async fn connect(&self, name: &str) -> Result<(), AppError> {
        let mode = if name == DEMO {
            ConnectionMode::NoRoot
        } else {
            let info = if self.settings.get().mode == ModePreference::NoRoot {
                None
            } else {
                Some(service::info(&self.socket).await)
            };
            match info {
                None => ConnectionMode::NoRoot,
                Some(info) => match choose_mode(self.settings.get().mode, &info) {
                    Ok(m) => m,
                    Err(e) => return self.failed(name, e.message).await,
                },
            }
        };
        match mode {
            ConnectionMode::Service => self.connect_service(name).await,
            ConnectionMode::NoRoot => self.connect_no_root(name).await,
        }
    }

    async fn failed(&self, name: &str, msg: String) -> Result<(), AppError> {
        self.inner
            .lock()
            .await
            .failed
            .insert(name.to_owned(), msg.clone());
        self.log
            .add("error", Some(name), format!("cannot connect: {msg}"));
        self.refresh().await;
        Err(AppError::new(msg))
    }

    async fn connect_service(&self, name: &str) -> Result<(), AppError> {
        if self.inner.lock().await.service.contains_key(name) {
            return Ok(());
        }
        let config = match store().and_then(|mut s| s.load(name, true).map_err(err)) {
            Ok(p) => p.config,
            Err(e) => return self.failed(name, e.message).await,
        };
        let kill_switch = self.settings.get().kill_switch;
        let req = match gatehouse_session::convert::connect_request(name, &config, kill_switch) {
            Ok(r) => r,
            Err(e) => return self.failed(name, e.message).await,
        };
        self.inner.lock().await.failed.remove(name);
        self.log.add(
            "info",
            Some(name),
            format!(
                "connecting through the Gatehouse service{}",
                if kill_switch { " (kill switch on)" } else { "" }
            ),
        );
        match service::session(&self.socket).connect(req).await {
            Ok(interface) => {
                self.log
                    .add("info", Some(name), format!("interface {interface} is up"));
                self.refresh().await;
                Ok(())
            }
            Err(e) => self.failed(name, e.to_string()).await,
        }
    }

    async fn connect_no_root(&self, name: &str) -> Result<(), AppError> {
        let mut inner = self.inner.lock().await;
        if inner.running.contains_key(name) {
            return Ok(());
        }
        let (config, origin): (Config, Origin) = if name == DEMO {
            match &inner.lab {
                Some(lab) => (lab.profile().clone(), Origin::Demo),
                None => return Err(AppError::new("the demo lab is not running")),
            }
        } else {
            match store().and_then(|mut s| s.load(name, true).map_err(err)) {
                Ok(p) => (p.config, Origin::Stored),
                Err(e) => {
                    drop(inner);
                    return self.failed(name, e.message).await;
                }
            }
        };
        let options = NetstackOptions {
            socks_addr: loopback_any(),
            http_addr: loopback_any(),
            ..NetstackOptions::default()
        };
        inner.failed.remove(name);
        drop(inner);
        let engine = self.engine()?;
        let req = gatehouse_session::convert::connect_request(name, &config, false);
        let started = match req {
            Ok(req) => engine.connect_with(req, Driver::NoRoot(options)).await,
            Err(e) => Err(e),
        };
        if let Err(e) = started {
            return self.failed(name, e.message).await;
        }
        self.inner
            .lock()
            .await
            .running
            .insert(name.to_owned(), origin);
        self.log
            .add("info", Some(name), "connecting (no-root mode)");
        if let (Origin::Demo, Some(ns)) = (origin, engine.netstack(name)) {
            // A first packet starts the handshake: ask the lab's DNS for a host.
            let probe = Target::Name(DEMO_PROBE_HOST.to_owned(), 80);
            tokio::spawn(async move {
                if let Err(e) = ns.resolve(&probe).await {
                    tracing::warn!("demo probe: {e}");
                }
            });
        }
        self.refresh().await;
        Ok(())
    }

    /// Disconnects a profile wherever it runs (no-op when it is not running).
    pub async fn disconnect(&self, name: &str) -> Result<(), AppError> {
        let (taken, in_service) = {
            let mut inner = self.inner.lock().await;
            inner.failed.remove(name);
            (inner.running.remove(name), inner.service.contains_key(name))
        };
        if taken.is_some() {
            if let Ok(engine) = self.engine() {
                let _ = engine.disconnect(name).await;
            }
            self.log.add("info", Some(name), "disconnected");
        } else if in_service {
            if let Err(e) = service::session(&self.socket).disconnect(name).await {
                self.log
                    .add("error", Some(name), format!("cannot disconnect: {e}"));
                self.refresh().await;
                return Err(err(e));
            }
            self.log
                .add("info", Some(name), "disconnected (Gatehouse service)");
        }
        self.refresh().await;
        Ok(())
    }

    /// Connects a disconnected profile, disconnects a running one.
    pub async fn toggle(&self, name: &str) -> Result<(), AppError> {
        let running = {
            let inner = self.inner.lock().await;
            inner.running.contains_key(name) || inner.service.contains_key(name)
        };
        if running {
            self.disconnect(name).await
        } else {
            self.connect(name).await
        }
    }

    /// Disconnects the app's own connections and stops the lab (before quitting). The
    /// service's tunnels keep running: they outlive the app by design.
    pub async fn shutdown(&self) {
        let lab = {
            let mut inner = self.inner.lock().await;
            inner.running.clear();
            inner.lab.take()
        };
        if let Ok(engine) = self.engine() {
            engine.shutdown().await;
        }
        if let Some(lab) = lab {
            lab.stop();
        }
    }

    /// Starts the demo lab (if not running) and connects to it.
    pub async fn start_demo(&self) -> Result<(), AppError> {
        {
            let mut inner = self.inner.lock().await;
            if inner.lab.is_none() {
                let lab = Lab::start(LabOptions::default())
                    .map_err(|e| AppError::new(format!("cannot start the demo lab: {e}")))?;
                self.log.add(
                    "info",
                    Some(DEMO),
                    format!("demo lab listening on {}", lab.local_addr()),
                );
                inner.lab = Some(lab);
            }
        }
        self.connect(DEMO).await
    }

    /// A profile's configuration (the running lab's for the demo), keys included when
    /// `secrets`.
    pub async fn profile_config(&self, name: &str, secrets: bool) -> Result<Config, AppError> {
        if name == DEMO {
            if let Some(lab) = &self.inner.lock().await.lab {
                return Ok(lab.profile().clone());
            }
        }
        Ok(store()?.load(name, secrets).map_err(err)?.config)
    }

    /// The active profile (the first running one) and its configuration without keys.
    pub async fn active_profile(&self) -> Option<(String, Config)> {
        let active = self.last_reported().into_iter().find(|v| {
            matches!(
                v.state,
                StateKind::Connected | StateKind::Stale | StateKind::Connecting
            )
        })?;
        match self.profile_config(&active.name, false).await {
            Ok(c) => Some((active.name, c)),
            Err(e) => {
                tracing::warn!("{}: {e}", active.name);
                None
            }
        }
    }

    /// The no-root stack of a connection running in the app.
    pub async fn netstack_of(&self, name: &str) -> Option<Arc<Netstack>> {
        self.engine.as_ref().ok()?.netstack(name)
    }

    /// Whether a connection runs (in the app or in the service).
    pub async fn runs(&self, name: &str) -> bool {
        let inner = self.inner.lock().await;
        inner.running.contains_key(name) || inner.service.contains_key(name)
    }

    /// The names of the connections that run (in the app or in the service).
    pub async fn running(&self) -> Vec<String> {
        let inner = self.inner.lock().await;
        inner
            .running
            .keys()
            .chain(inner.service.keys())
            .cloned()
            .collect()
    }

    /// The running demo lab's client profile.
    pub async fn lab_profile(&self) -> Option<Config> {
        self.inner
            .lock()
            .await
            .lab
            .as_ref()
            .map(|l| l.profile().clone())
    }
}

/// Fills a view's state, peers and counters from a tunnel's status.
fn fill(v: &mut ConnectionView, t: &TunnelStatus, mode: ConnectionMode) {
    (v.state, v.detail) = state_of(&t.state);
    v.mode = Some(mode);
    for p in &t.peers {
        v.rx_bytes += p.rx_bytes as f64;
        v.tx_bytes += p.tx_bytes as f64;
        v.peers.push(PeerView {
            public_key: p.public_key.clone(),
            endpoint: p.endpoint.clone(),
            handshake_age_secs: p.latest_handshake_secs.map(|s| s as f64),
            rx_bytes: p.rx_bytes as f64,
            tx_bytes: p.tx_bytes as f64,
        });
    }
}

fn view(
    inner: &Inner,
    mine: &StatusReport,
    ns: Option<&Netstack>,
    name: String,
    origin: Origin,
) -> ConnectionView {
    let mut v = ConnectionView {
        name,
        origin,
        state: StateKind::Disconnected,
        mode: None,
        detail: None,
        peers: Vec::new(),
        rx_bytes: 0.0,
        tx_bytes: 0.0,
        socks_proxy: None,
        http_proxy: None,
    };
    if let Some(msg) = inner.failed.get(&v.name) {
        v.state = StateKind::Error;
        v.detail = Some(msg.clone());
    }
    if let Some(t) = inner.service.get(&v.name) {
        fill(&mut v, t, ConnectionMode::Service);
        return v;
    }
    if !inner.running.contains_key(&v.name) {
        return v;
    }
    if let Some(t) = mine.tunnels.iter().find(|t| t.name == v.name) {
        fill(&mut v, t, ConnectionMode::NoRoot);
    }
    v.socks_proxy = ns.and_then(|n| n.socks_addr()).map(|a| a.to_string());
    v.http_proxy = ns.and_then(|n| n.http_addr()).map(|a| a.to_string());
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_ipc::StaleReason;

    #[test]
    fn session_states_in_the_cards_words() {
        assert_eq!(
            state_of(&ConnectionState::Connected).0,
            StateKind::Connected
        );
        let (s, why) = state_of(&ConnectionState::Stale {
            reason: StaleReason::NetworkChanged,
        });
        assert_eq!(s, StateKind::Stale);
        assert_eq!(why.as_deref(), Some("the network changed"));
        let (s, why) = state_of(&ConnectionState::Error {
            message: "tun gone".into(),
        });
        assert_eq!((s, why.as_deref()), (StateKind::Error, Some("tun gone")));
    }
}
