//! The app's back end: which profiles exist, where their connections run, the demo lab, the
//! settings, the log. The Tauri commands are one-line forwards to the methods here; what they
//! compute comes from the crates:
//!
//! - service mode: `gatehouse_session` with the daemon (connect with the keys read from the
//!   keyring and the kill switch setting, disconnect, status, events);
//! - no-root mode (and the demo): one [`gatehouse_netstack::Netstack`] per connection, its
//!   state from the session's connection state machine ([`gatehouse_session::machine`]);
//! - profiles: `gatehouse_profile` (store, parser, writer, QR);
//! - maps: [`crate::map`] over `gatehouse_vpc`.

use std::collections::{BTreeMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use gatehouse_ipc::LogLevel;
use gatehouse_lab::{Lab, LabOptions};
use gatehouse_netstack::{Netstack, NetstackOptions, Target};
use gatehouse_probe::{Dialer, Timeouts};
use gatehouse_profile::store::{NameChoice, Store};
use gatehouse_profile::{Config, Key};
use gatehouse_session::machine::{Input, Machine, MachineConfig};
use gatehouse_session::{
    ConnectionState, DaemonClient, Event, Session, SessionError, StatusReport, TunnelStatus,
};
use gatehouse_vpc::probe::{Limits, ProbeResult};
use gatehouse_vpc::Topology;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Mutex;

use crate::dto::{
    AppError, ConnectionMode, ConnectionView, ImportOutcome, ImportProblem, LogLine, MapView,
    OpenedService, Origin, PeerView, ScanProgress, ServiceView, StateKind,
};
use crate::map;
use crate::settings::{self, ServiceInfo, Settings, SettingsStore};

/// The demo connection's name.
pub const DEMO: &str = "demo";
/// Log lines kept.
const LOG_LINES: usize = 500;
/// How long the service may take to answer the handshake of a status probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);
/// Service scans: probes in flight at most.
pub const SCAN_CONCURRENCY: usize = 64;
/// Service scans: probe starts per second to one address at most.
const SCAN_RATE_PER_HOST: f64 = 20.0;
/// Service scans: connect timeout (the exchange after connecting gets as long).
const SCAN_TIMEOUT: Duration = Duration::from_millis(1500);

/// Something the UI, the tray or the desktop must hear about.
#[derive(Debug, Clone)]
pub enum Notice {
    /// The connections (state or counters) changed.
    Connections(Vec<ConnectionView>),
    /// A log line.
    Log(LogLine),
    /// A desktop notification (only sent when the settings allow them).
    Alert {
        /// The title.
        title: String,
        /// The text.
        body: String,
    },
}

/// Where the back end keeps its settings and finds the service.
#[derive(Debug, Clone)]
pub struct BackendOptions {
    /// The settings file.
    pub settings: SettingsStore,
    /// The daemon's socket.
    pub socket: PathBuf,
}

impl BackendOptions {
    /// The settings in the config directory, the socket from `$GATEHOUSE_SOCKET` or the
    /// default.
    pub fn from_env() -> Result<BackendOptions, AppError> {
        Ok(BackendOptions {
            settings: SettingsStore::open_default()?,
            socket: gatehouse_session::socket_path(),
        })
    }
}

/// A no-root connection: its network stack and its state machine.
struct Running {
    netstack: Arc<Netstack>,
    origin: Origin,
    machine: Machine,
    /// The freshest handshake fed to the machine.
    handshake: Option<Instant>,
}

#[derive(Default)]
struct Inner {
    /// No-root connections.
    running: BTreeMap<String, Running>,
    /// The service's tunnels as last read.
    service: BTreeMap<String, TunnelStatus>,
    failed: BTreeMap<String, String>,
    lab: Option<Lab>,
    /// The topology of the last map the user opened (file, AWS, DigitalOcean) and its label:
    /// what a scan of a connection other than the demo probes.
    topology: Option<(String, Topology)>,
    /// Each connection's last scan.
    scans: BTreeMap<String, Scanned>,
}

/// A finished scan of one connection's network.
struct Scanned {
    /// Every probe (the map's reach probes).
    results: Vec<ProbeResult>,
    /// The open ports as Services rows.
    services: Vec<ServiceView>,
}

/// Marks the scan finished if its future is dropped before the end.
struct ScanGuard<'a>(&'a StdMutex<ScanProgress>);

impl Drop for ScanGuard<'_> {
    fn drop(&mut self) {
        if let Ok(mut p) = self.0.lock() {
            if p.running {
                p.running = false;
                p.error = Some("the scan was cancelled".into());
            }
        }
    }
}

/// The back end shared by the commands, the tray and the ticker.
pub struct Backend {
    inner: Mutex<Inner>,
    logs: StdMutex<VecDeque<LogLine>>,
    last: StdMutex<Vec<ConnectionView>>,
    settings: StdMutex<Settings>,
    scan: StdMutex<ScanProgress>,
    options: BackendOptions,
    notify: Box<dyn Fn(Notice) + Send + Sync>,
}

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as f64)
        .unwrap_or(0.0)
}

fn loopback_any() -> Option<SocketAddr> {
    Some(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
}

fn store() -> Result<Store, AppError> {
    Store::open_default().map_err(|e| AppError::new(e.to_string()))
}

fn err(e: impl std::fmt::Display) -> AppError {
    AppError::new(e.to_string())
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

/// The desktop notifications a change from `prev` to `next` deserves: connected, disconnected,
/// failed.
pub fn alerts(prev: &[ConnectionView], next: &[ConnectionView]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for v in next {
        let before = prev
            .iter()
            .find(|p| p.name == v.name)
            .map_or(StateKind::Disconnected, |p| p.state);
        let live = |s| {
            matches!(
                s,
                StateKind::Connecting | StateKind::Connected | StateKind::Stale
            )
        };
        match v.state {
            StateKind::Connected if !matches!(before, StateKind::Connected | StateKind::Stale) => {
                out.push(("Connected".to_owned(), format!("{} is connected.", v.name)))
            }
            StateKind::Error if before != StateKind::Error => out.push((
                "Connection failed".to_owned(),
                format!(
                    "{}: {}",
                    v.name,
                    v.detail.as_deref().unwrap_or("the connection failed")
                ),
            )),
            StateKind::Disconnected if live(before) => out.push((
                "Disconnected".to_owned(),
                format!("{} is disconnected.", v.name),
            )),
            _ => {}
        }
    }
    out
}

impl Backend {
    /// A back end that reports changes to `notify`.
    pub fn new(
        options: BackendOptions,
        notify: impl Fn(Notice) + Send + Sync + 'static,
    ) -> Backend {
        let (settings, why) = options.settings.load();
        let backend = Backend {
            inner: Mutex::new(Inner::default()),
            logs: StdMutex::new(VecDeque::new()),
            last: StdMutex::new(Vec::new()),
            settings: StdMutex::new(settings),
            scan: StdMutex::new(ScanProgress::default()),
            options,
            notify: Box::new(notify),
        };
        if let Some(why) = why {
            tracing::warn!("settings: {why}");
            backend.log("warn", None, format!("settings: {why}"));
        }
        backend
    }

    /// Adds a log line and reports it.
    pub fn log(&self, level: &str, connection: Option<&str>, message: impl Into<String>) {
        let line = LogLine {
            at_ms: now_ms(),
            level: level.to_owned(),
            connection: connection.map(str::to_owned),
            message: message.into(),
        };
        if let Ok(mut logs) = self.logs.lock() {
            if logs.len() == LOG_LINES {
                logs.pop_front();
            }
            logs.push_back(line.clone());
        }
        (self.notify)(Notice::Log(line));
    }

    /// The log so far, oldest first.
    pub fn logs(&self) -> Vec<LogLine> {
        self.logs
            .lock()
            .map(|l| l.iter().cloned().collect())
            .unwrap_or_default()
    }

    // ---- settings and the service ------------------------------------------------------

    /// The settings now.
    pub fn settings(&self) -> Settings {
        self.settings.lock().map(|s| *s).unwrap_or_default()
    }

    /// Saves `new`; when start at login changes, `autostart` turns it on or off first (a
    /// failure there changes nothing).
    pub fn set_settings(
        &self,
        new: Settings,
        autostart: impl FnOnce(bool) -> Result<(), AppError>,
    ) -> Result<Settings, AppError> {
        let old = self.settings();
        if new.start_at_login != old.start_at_login {
            autostart(new.start_at_login)?;
        }
        self.options.settings.save(&new)?;
        if let Ok(mut s) = self.settings.lock() {
            *s = new;
        }
        if new.mode != old.mode {
            self.log(
                "info",
                None,
                format!("connection mode: {}", mode_words(new.mode)),
            );
        }
        Ok(new)
    }

    /// The daemon's socket.
    pub fn socket(&self) -> &std::path::Path {
        &self.options.socket
    }

    /// Whether the Gatehouse service answers on its socket.
    pub async fn service_info(&self) -> ServiceInfo {
        let socket = self.options.socket.display().to_string();
        let probe =
            tokio::time::timeout(PROBE_TIMEOUT, DaemonClient::connect(&self.options.socket));
        let (available, detail) = match probe.await {
            Ok(Ok(_)) => (
                true,
                format!(
                    "The Gatehouse service answers at {socket}: connections get a network \
                     interface of their own."
                ),
            ),
            Ok(Err(SessionError::Unreachable { .. })) => (
                false,
                format!(
                    "The Gatehouse service is not running at {socket}: connections run in the \
                     app without root, through a SOCKS5/HTTP proxy on 127.0.0.1."
                ),
            ),
            Ok(Err(e)) => (
                false,
                format!("The Gatehouse service at {socket} refused: {e}."),
            ),
            Err(_) => (
                false,
                format!("The Gatehouse service at {socket} did not answer in time."),
            ),
        };
        ServiceInfo {
            available,
            socket,
            detail,
        }
    }

    fn session(&self) -> Session {
        Session::Daemon {
            socket: self.options.socket.clone(),
        }
    }

    /// Reads the service's tunnels (none when it is not used or does not answer).
    async fn read_service(&self) -> Option<StatusReport> {
        if self.settings().mode == settings::ModePreference::NoRoot {
            return None;
        }
        match tokio::time::timeout(PROBE_TIMEOUT, self.session().status()).await {
            Ok(Ok(s)) => Some(s),
            Ok(Err(e)) => {
                tracing::debug!("service status: {e}");
                None
            }
            Err(_) => None,
        }
    }

    /// Follows the service's events (state changes and log lines) until it goes away; returns
    /// when the stream ends or cannot be opened (the caller retries).
    pub async fn follow_service(&self) -> Result<(), AppError> {
        if self.settings().mode == settings::ModePreference::NoRoot {
            return Ok(());
        }
        let mut events = self.session().subscribe().await.map_err(err)?;
        while let Some(frame) = events.recv().await.map_err(err)? {
            match frame.event {
                Event::State { .. } => self.refresh().await,
                Event::Log {
                    name,
                    level,
                    message,
                } => {
                    let level = match level {
                        LogLevel::Info => "info",
                        LogLevel::Warn => "warn",
                        LogLevel::Error => "error",
                    };
                    self.log(level, name.as_deref(), format!("service: {message}"));
                }
                Event::Stats { .. } => {}
            }
        }
        Ok(())
    }

    // ---- connections -------------------------------------------------------------------

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
        let now = Instant::now();
        for r in inner.running.values_mut() {
            step_machine(r, now);
        }
        let mut names: Vec<(String, Origin)> =
            stored.into_iter().map(|n| (n, Origin::Stored)).collect();
        if inner.lab.is_some() {
            names.push((DEMO.to_owned(), Origin::Demo));
        }
        let extra: Vec<(String, Origin)> = inner
            .running
            .iter()
            .map(|(n, r)| (n.clone(), r.origin))
            .chain(inner.service.keys().map(|n| (n.clone(), Origin::Stored)))
            .collect();
        for (name, origin) in extra {
            if !names.iter().any(|(n, _)| *n == name) {
                names.push((name, origin));
            }
        }
        names
            .into_iter()
            .map(|(name, origin)| view(&inner, name, origin))
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
        if self.settings().notifications {
            for (title, body) in alerts(&prev, &views) {
                (self.notify)(Notice::Alert { title, body });
            }
        }
        (self.notify)(Notice::Connections(views));
    }

    /// Connects a profile: through the service when the settings and the service allow it,
    /// else in the app without root. The demo always runs in the app.
    pub async fn connect(&self, name: &str) -> Result<(), AppError> {
        let mode = if name == DEMO {
            ConnectionMode::NoRoot
        } else {
            let info = if self.settings().mode == settings::ModePreference::NoRoot {
                None
            } else {
                Some(self.service_info().await)
            };
            match info {
                None => ConnectionMode::NoRoot,
                Some(info) => match settings::choose_mode(self.settings().mode, &info) {
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
        self.log("error", Some(name), format!("cannot connect: {msg}"));
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
        let kill_switch = self.settings().kill_switch;
        let req = match gatehouse_session::convert::connect_request(name, &config, kill_switch) {
            Ok(r) => r,
            Err(e) => return self.failed(name, e.message).await,
        };
        self.inner.lock().await.failed.remove(name);
        self.log(
            "info",
            Some(name),
            format!(
                "connecting through the Gatehouse service{}",
                if kill_switch { " (kill switch on)" } else { "" }
            ),
        );
        match self.session().connect(req).await {
            Ok(interface) => {
                self.log("info", Some(name), format!("interface {interface} is up"));
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
        match Netstack::start(&config, options).await {
            Ok(ns) => {
                let ns = Arc::new(ns);
                let mut machine = Machine::new(MachineConfig::default());
                machine.handle(Input::Started, Instant::now());
                inner.running.insert(
                    name.to_owned(),
                    Running {
                        netstack: ns.clone(),
                        origin,
                        machine,
                        handshake: None,
                    },
                );
                drop(inner);
                self.log("info", Some(name), "connecting (no-root mode)");
                if origin == Origin::Demo {
                    // A first packet starts the handshake: ask the lab's DNS for a host.
                    let probe = Target::Name(map::DEMO_PROBE_HOST.to_owned(), 80);
                    tokio::spawn(async move {
                        if let Err(e) = ns.resolve(&probe).await {
                            tracing::warn!("demo probe: {e}");
                        }
                    });
                }
                self.refresh().await;
                Ok(())
            }
            Err(e) => {
                drop(inner);
                self.failed(name, e.to_string()).await
            }
        }
    }

    /// Disconnects a profile wherever it runs (no-op when it is not running).
    pub async fn disconnect(&self, name: &str) -> Result<(), AppError> {
        let (taken, in_service) = {
            let mut inner = self.inner.lock().await;
            inner.failed.remove(name);
            (inner.running.remove(name), inner.service.contains_key(name))
        };
        if let Some(r) = taken {
            if let Ok(ns) = Arc::try_unwrap(r.netstack) {
                ns.shutdown().await;
            }
            self.log("info", Some(name), "disconnected");
        } else if in_service {
            if let Err(e) = self.session().disconnect(name).await {
                self.log("error", Some(name), format!("cannot disconnect: {e}"));
                self.refresh().await;
                return Err(err(e));
            }
            self.log("info", Some(name), "disconnected (Gatehouse service)");
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
        let (running, lab) = {
            let mut inner = self.inner.lock().await;
            (std::mem::take(&mut inner.running), inner.lab.take())
        };
        for (_, r) in running {
            if let Ok(ns) = Arc::try_unwrap(r.netstack) {
                ns.shutdown().await;
            }
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
                self.log(
                    "info",
                    Some(DEMO),
                    format!("demo lab listening on {}", lab.local_addr()),
                );
                inner.lab = Some(lab);
            }
        }
        self.connect(DEMO).await
    }

    // ---- profiles ----------------------------------------------------------------------

    /// Imports wg-quick text as a stored profile named `name`; a parse error comes back with
    /// its line and column.
    pub async fn import(&self, name: &str, text: &str) -> Result<ImportOutcome, AppError> {
        let label = if name.is_empty() { "pasted.conf" } else { name };
        let config = match gatehouse_profile::parse::parse(text, label) {
            Ok(c) => c,
            Err(e) => return Ok(problem(&e)),
        };
        let stem = label.strip_suffix(".conf").unwrap_or(label);
        let profile = store()?
            .import(&config, stem, NameChoice::Suggested, Some(label))
            .map_err(err)?;
        self.log("info", Some(&profile.info.name), "profile imported");
        self.refresh().await;
        Ok(ImportOutcome::Imported {
            name: profile.info.name,
        })
    }

    /// Imports the profile in a QR-code picture (PNG or JPEG bytes).
    pub async fn import_qr_image(
        &self,
        name: &str,
        image: &[u8],
    ) -> Result<ImportOutcome, AppError> {
        let label = if name.is_empty() { "qr-code" } else { name };
        let text = gatehouse_profile::qr::decode_image(image, label).map_err(err)?;
        self.import(label, &text).await
    }

    /// The full wg-quick text of a profile, keys included (for the editor).
    pub async fn profile_text(&self, name: &str) -> Result<String, AppError> {
        Ok(gatehouse_profile::write::write(
            &self.profile_config(name, true).await?,
        ))
    }

    async fn profile_config(&self, name: &str, secrets: bool) -> Result<Config, AppError> {
        if name == DEMO {
            if let Some(lab) = &self.inner.lock().await.lab {
                return Ok(lab.profile().clone());
            }
        }
        Ok(store()?.load(name, secrets).map_err(err)?.config)
    }

    /// Replaces a stored profile's configuration with `text`. Invalid text comes back with its
    /// line and column and changes nothing; a running connection keeps its old configuration
    /// until reconnected.
    pub async fn update_profile(&self, name: &str, text: &str) -> Result<ImportOutcome, AppError> {
        let config = match gatehouse_profile::parse::parse(text, name) {
            Ok(c) => c,
            Err(e) => return Ok(problem(&e)),
        };
        let mut store = store()?;
        let before = store.find(name).map_err(err)?;
        let after = store.replace(name, &config).map_err(err)?;
        if before.info.hooks_enabled && !after.info.hooks_enabled {
            // Edited hook commands must not run unseen: the user turns them on again.
            self.log(
                "warn",
                Some(name),
                "hook commands changed and are off after the edit; turn them on again to run them",
            );
        }
        self.log("info", Some(name), "profile updated");
        self.refresh().await;
        Ok(ImportOutcome::Imported {
            name: name.to_owned(),
        })
    }

    /// Writes a profile's wg-quick text (keys included) to `path`, mode 0600, atomically.
    pub async fn export_profile(&self, name: &str, path: &str) -> Result<String, AppError> {
        let text = self.profile_text(name).await?;
        let target = expand_home(path)?;
        if target.is_dir() {
            return Err(AppError::new(format!("{path}: is a directory")));
        }
        gatehouse_profile::store::write_atomic(&target, text.as_bytes())
            .map_err(|e| AppError::new(format!("{path}: cannot write: {e}")))?;
        self.log("info", Some(name), format!("profile exported to {path}"));
        Ok(target.display().to_string())
    }

    /// A profile's QR code (the wg-quick text, keys included) as an SVG document.
    pub async fn profile_qr(&self, name: &str) -> Result<String, AppError> {
        let text = self.profile_text(name).await?;
        gatehouse_profile::qr::to_svg(&text).map_err(err)
    }

    /// Deletes a stored profile (disconnecting it first).
    pub async fn delete(&self, name: &str) -> Result<(), AppError> {
        self.disconnect(name).await?;
        store()?.delete(name).map_err(err)?;
        self.log("info", Some(name), "profile deleted");
        self.refresh().await;
        Ok(())
    }

    // ---- maps and services -------------------------------------------------------------

    /// The VPC map of the demo network, verdicts from the demo profile.
    pub async fn demo_map(&self) -> Result<MapView, AppError> {
        let inner = self.inner.lock().await;
        let connected = inner.running.contains_key(DEMO);
        let profile = map::demo_profile(inner.lab.as_ref().map(|l| l.profile()));
        let probes = inner
            .scans
            .get(DEMO)
            .map(|s| s.results.clone())
            .unwrap_or_default();
        drop(inner);
        map::demo_map(&profile, connected, &probes)
    }

    /// The active profile (the first running one) and its configuration without keys.
    async fn active_profile(&self) -> Option<(String, Config)> {
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

    /// The map of a Terraform state the user opened, seen from the active profile.
    pub async fn map_from_file(&self, name: &str, text: &str) -> Result<MapView, AppError> {
        let (label, topo) = map::topology_from_file(name, text)?;
        Ok(self.keep_map(label, topo).await)
    }

    /// The map of a topology the user opened, seen from the active profile with its last
    /// scan's probes; the topology is kept for the next scan.
    async fn keep_map(&self, label: String, topo: Topology) -> MapView {
        let active = self.active_profile().await;
        let mut inner = self.inner.lock().await;
        // The demo's probes are of the lab's addresses, not of this network.
        let probes = active
            .as_ref()
            .filter(|(n, _)| n != DEMO)
            .and_then(|(n, _)| inner.scans.get(n))
            .map(|s| s.results.as_slice())
            .unwrap_or_default();
        let view = map::map_of(
            &label,
            &topo,
            active.as_ref().map(|(n, c)| (n.as_str(), c)),
            probes,
        );
        inner.topology = Some((label, topo));
        view
    }

    /// The map of an AWS account, read live (credentials as the AWS CLI finds them), seen from
    /// the active profile.
    pub async fn map_from_aws(
        &self,
        profile: Option<String>,
        regions: Vec<String>,
    ) -> Result<MapView, AppError> {
        self.live_map(move || {
            let env = gatehouse_cloud::aws::Env::from_process();
            map::topology_from_aws(&env, profile, regions)
        })
        .await
    }

    /// The map of the DigitalOcean account whose token is in the keyring, read live.
    pub async fn map_from_digitalocean(&self) -> Result<MapView, AppError> {
        self.live_map(|| {
            let base = gatehouse_cloud::digitalocean::api_url(None);
            map::topology_from_digitalocean(&base)
        })
        .await
    }

    /// Reads a live topology with `read` (blocking HTTP) off the async threads, keeps it as the
    /// map and logs what came.
    async fn live_map(
        &self,
        read: impl FnOnce() -> Result<(String, Topology), AppError> + Send + 'static,
    ) -> Result<MapView, AppError> {
        let (source, topo) = tokio::task::spawn_blocking(read).await.map_err(err)??;
        let map = self.keep_map(source, topo).await;
        self.log(
            "info",
            None,
            format!("{}: {} hosts", map.source, map.hosts.len()),
        );
        Ok(map)
    }

    /// Keeps a DigitalOcean API token in the OS keyring (never in a file or the log).
    pub async fn set_digitalocean_token(&self, token: String) -> Result<(), AppError> {
        let token = zeroize::Zeroizing::new(token);
        tokio::task::spawn_blocking(move || {
            let t = gatehouse_cloud::digitalocean::Token::new(&token).map_err(err)?;
            gatehouse_cloud::digitalocean::save_token(&t).map_err(err)
        })
        .await
        .map_err(err)??;
        self.log("info", None, "DigitalOcean token saved in the keyring");
        Ok(())
    }

    /// The services found by the last scan of each running connection.
    pub async fn services(&self) -> Vec<ServiceView> {
        let inner = self.inner.lock().await;
        inner
            .scans
            .iter()
            .filter(|(name, _)| {
                inner.running.contains_key(*name) || inner.service.contains_key(*name)
            })
            .flat_map(|(_, s)| s.services.iter().cloned())
            .collect()
    }

    /// The running scan's progress, or the last scan's figures.
    pub fn scan_progress(&self) -> ScanProgress {
        self.scan.lock().map(|p| p.clone()).unwrap_or_default()
    }

    fn set_progress(&self, f: impl FnOnce(&mut ScanProgress)) {
        if let Ok(mut p) = self.scan.lock() {
            f(&mut p);
        }
    }

    /// Scans the active connection's network: the demo's VPC and home LAN for the demo, else
    /// the topology of the last map opened (hosts on the ports their rules name). Probes go
    /// through the connection's userspace stack (no-root) or the OS's sockets (service mode).
    /// The open ports come back as Services rows; every result is kept as the map's probes.
    pub async fn scan_services(&self) -> Result<Vec<ServiceView>, AppError> {
        let views = self.connections().await;
        let Some(active) = views.into_iter().find(|v| {
            matches!(
                v.state,
                StateKind::Connected | StateKind::Stale | StateKind::Connecting
            )
        }) else {
            return Err(AppError::new(
                "No connection is up: connect one (or try the demo network) to scan its services.",
            ));
        };
        let name = active.name;
        let (dialer, socks, scope) = {
            let inner = self.inner.lock().await;
            let (dialer, socks) = match inner.running.get(&name) {
                Some(r) => (Dialer::Tunnel(r.netstack.clone()), r.netstack.socks_addr()),
                None => (Dialer::Os, None),
            };
            let scope = if name == DEMO {
                map::ScanScope::demo()?
            } else {
                match &inner.topology {
                    Some((_, t)) => map::ScanScope::of(t.clone()),
                    None => {
                        return Err(AppError::new(format!(
                            "Open {name}'s map first (a Terraform state, AWS or DigitalOcean): \
                             the scan probes its hosts."
                        )))
                    }
                }
            };
            (dialer, socks, scope)
        };
        let targets = scope.targets();
        if targets.is_empty() {
            return Err(AppError::new(
                "The map has no host with an address to probe.",
            ));
        }
        let total = u32::try_from(targets.len()).unwrap_or(u32::MAX);
        {
            let mut p = self.scan.lock().map_err(err)?;
            if p.running {
                return Err(AppError::new("A scan is already running."));
            }
            *p = ScanProgress {
                running: true,
                connection: Some(name.clone()),
                total,
                concurrency: SCAN_CONCURRENCY as u32,
                ..ScanProgress::default()
            };
        }
        let _guard = ScanGuard(&self.scan);
        self.log(
            "info",
            Some(&name),
            format!("scanning {total} ports (concurrency {SCAN_CONCURRENCY})"),
        );
        let began = Instant::now();
        let limits = Limits {
            concurrency: SCAN_CONCURRENCY,
            per_host_per_s: SCAN_RATE_PER_HOST,
            timeout: Duration::ZERO,
        };
        let report = gatehouse_probe::scan(
            &dialer,
            targets,
            limits,
            Timeouts::both(SCAN_TIMEOUT),
            |done, _| {
                let elapsed = began.elapsed().as_millis() as f64;
                self.set_progress(|p| {
                    p.done = u32::try_from(done).unwrap_or(u32::MAX);
                    p.elapsed_ms = elapsed;
                });
            },
        )
        .await;
        let tunnel = self
            .profile_config(&name, false)
            .await
            .ok()
            .map(|c| map::tunnel_of(&c, &name));
        let services = scope.views(&name, &report.results, tunnel.as_ref(), socks);
        let secs = report.elapsed.as_secs_f64();
        self.set_progress(|p| {
            p.running = false;
            p.done = u32::try_from(report.results.len()).unwrap_or(u32::MAX);
            p.found = u32::try_from(services.len()).unwrap_or(u32::MAX);
            p.elapsed_ms = report.elapsed.as_millis() as f64;
            p.peak_in_flight = u32::try_from(report.peak_in_flight).unwrap_or(u32::MAX);
        });
        self.log(
            "info",
            Some(&name),
            format!(
                "scan: {} open of {} probed in {secs:.1} s (peak {} in flight)",
                services.len(),
                report.results.len(),
                report.peak_in_flight
            ),
        );
        if name != DEMO {
            // The user's own network: `gatehouse reach` takes these as its last probes too.
            match gatehouse_vpc::store::SnapshotStore::open_default() {
                Ok(store) => keep_probes(&store, &name, &dialer, &report.results),
                Err(e) => {
                    tracing::warn!(connection = %name, "the scan's results are not kept: {e}")
                }
            }
        }
        self.inner.lock().await.scans.insert(
            name,
            Scanned {
                results: report.results,
                services: services.clone(),
            },
        );
        Ok(services)
    }

    /// Opens a service the last scan found (or a demo service): in no-root mode a local
    /// forward through its connection's userspace stack, in service mode its private address
    /// as it is; for a web server, also fetches the start of its front page.
    pub async fn open_service(&self, host: &str, port: u16) -> Result<OpenedService, AppError> {
        let (ns, addr, name, http, connection) = {
            let inner = self.inner.lock().await;
            let found = inner.scans.iter().find_map(|(conn, s)| {
                s.services
                    .iter()
                    .find(|v| (v.host == host || v.ip == host || v.fqdn == host) && v.port == port)
                    .map(|v| (conn.clone(), v.clone()))
            });
            match found {
                Some((conn, v)) => {
                    let ip: std::net::IpAddr =
                        v.ip.parse()
                            .map_err(|_| AppError::new(format!("{}: not an address", v.ip)))?;
                    let ns = inner.running.get(&conn).map(|r| r.netstack.clone());
                    if ns.is_none() && !inner.service.contains_key(&conn) {
                        return Err(AppError::new(format!("{conn} is not connected")));
                    }
                    (
                        ns,
                        SocketAddr::new(ip, port),
                        v.fqdn.clone(),
                        v.kind == "http",
                        conn,
                    )
                }
                None => {
                    let r = inner.running.get(DEMO).ok_or_else(|| {
                        AppError::new(format!("no service {host}:{port} found: scan first"))
                    })?;
                    let target = map::demo_target(host, port).ok_or_else(|| {
                        AppError::new(format!("no service {host}:{port} found: scan first"))
                    })?;
                    (
                        Some(r.netstack.clone()),
                        target.addr,
                        target.host.to_owned(),
                        target.http,
                        DEMO.to_owned(),
                    )
                }
            }
        };
        let local = match ns {
            Some(ns) => {
                let local = ns
                    .open_forward(Target::Addr(addr))
                    .await
                    .map_err(|e| AppError::new(format!("cannot open a forward: {e}")))?;
                self.log(
                    "info",
                    Some(&connection),
                    format!("forward {local} → {name}:{port}"),
                );
                local
            }
            // Service mode: the tunnel routes the private address itself.
            None => addr,
        };
        if !http {
            return Ok(OpenedService {
                local: local.to_string(),
                url: None,
                preview: None,
            });
        }
        let preview = http_preview(local, &name)
            .await
            .map_err(|e| AppError::new(format!("{name}:{port} did not answer: {e}")))?;
        Ok(OpenedService {
            local: local.to_string(),
            url: Some(format!("http://{local}/")),
            preview: Some(preview),
        })
    }
}

fn mode_words(m: settings::ModePreference) -> &'static str {
    match m {
        settings::ModePreference::Auto => "the Gatehouse service when it runs, else no-root",
        settings::ModePreference::Service => "the Gatehouse service",
        settings::ModePreference::NoRoot => "no-root (in the app)",
    }
}

fn problem(e: &gatehouse_profile::parse::ParseError) -> ImportOutcome {
    ImportOutcome::Invalid(ImportProblem {
        line: u32::try_from(e.line).unwrap_or(u32::MAX),
        col: u32::try_from(e.col).unwrap_or(u32::MAX),
        message: e.kind.to_string(),
        source_line: e.source_line.clone(),
    })
}

/// Feeds a no-root connection's counters and handshakes to its state machine.
fn step_machine(r: &mut Running, now: Instant) {
    let stats = r.netstack.stats();
    let freshest = stats.peers.iter().filter_map(|p| p.last_handshake).max();
    if freshest.is_some() && freshest > r.handshake {
        r.handshake = freshest;
        r.machine.handle(Input::Handshake, now);
    }
    let sent: u64 = stats.peers.iter().map(|p| p.tx_packets).sum();
    let received: u64 = stats.peers.iter().map(|p| p.rx_bytes).sum();
    r.machine.handle(Input::Sent(sent), now);
    r.machine.handle(Input::Received(received), now);
    r.machine.poll(now);
}

/// `GET /` through a local forward; the first 4 KiB of the answer's body.
async fn http_preview(local: SocketAddr, host: &str) -> std::io::Result<String> {
    let fetch = async {
        let mut s = tokio::net::TcpStream::connect(local).await?;
        s.write_all(
            format!("GET / HTTP/1.0\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await?;
        let mut buf = Vec::new();
        s.take(64 * 1024).read_to_end(&mut buf).await?;
        Ok::<_, std::io::Error>(buf)
    };
    let buf = tokio::time::timeout(Duration::from_secs(15), fetch)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "timed out"))??;
    let text = String::from_utf8_lossy(&buf);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or(&text);
    Ok(body.chars().take(4096).collect())
}

fn view(inner: &Inner, name: String, origin: Origin) -> ConnectionView {
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
        (v.state, v.detail) = state_of(&t.state);
        v.mode = Some(ConnectionMode::Service);
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
        return v;
    }
    let Some(r) = inner.running.get(&v.name) else {
        return v;
    };
    let stats = r.netstack.stats();
    let now = Instant::now();
    for p in &stats.peers {
        let age = p.last_handshake.map(|t| now.saturating_duration_since(t));
        v.rx_bytes += p.rx_bytes as f64;
        v.tx_bytes += p.tx_bytes as f64;
        v.peers.push(PeerView {
            public_key: Key(p.public_key).to_string(),
            endpoint: p.endpoint.map(|e| e.to_string()),
            handshake_age_secs: age.map(|a| a.as_secs() as f64),
            rx_bytes: p.rx_bytes as f64,
            tx_bytes: p.tx_bytes as f64,
        });
    }
    (v.state, v.detail) = state_of(r.machine.state());
    v.mode = Some(ConnectionMode::NoRoot);
    v.socks_proxy = r.netstack.socks_addr().map(|a| a.to_string());
    v.http_proxy = r.netstack.http_addr().map(|a| a.to_string());
    v
}

/// Keeps a scan's results where `gatehouse reach` reads its last probes; a failure is logged.
fn keep_probes(
    store: &gatehouse_vpc::store::SnapshotStore,
    name: &str,
    dialer: &Dialer,
    results: &[gatehouse_vpc::probe::ProbeResult],
) {
    let log = gatehouse_vpc::store::ProbeLog {
        unix: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        path: match dialer {
            Dialer::Os => "os",
            Dialer::Tunnel(_) => "no-root",
        }
        .to_owned(),
        results: results.to_vec(),
    };
    if let Err(e) = store.save_probes(&log) {
        tracing::warn!(
            connection = name,
            "the scan's results are not kept for reach: {e}"
        );
    }
}

/// `path` with a leading `~/` (or a lone `~`) replaced by the home directory, as a shell would;
/// other paths as they are. A relative path is refused: it would land wherever the app runs.
fn expand_home(path: &str) -> Result<PathBuf, AppError> {
    let home = || {
        std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from)
            .ok_or_else(|| AppError::new(format!("{path}: HOME is not set")))
    };
    if path == "~" {
        return home();
    }
    if let Some(rest) = path.strip_prefix("~/") {
        return Ok(home()?.join(rest));
    }
    let p = PathBuf::from(path);
    if p.is_relative() {
        return Err(AppError::new(format!(
            "{path}: give a full path (/… or ~/…)"
        )));
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scan_of_your_own_network_is_kept_for_reach() {
        use gatehouse_vpc::probe::{Outcome, ProbeResult, Target};
        let dir = tempfile::tempdir().expect("tempdir");
        let store = gatehouse_vpc::store::SnapshotStore::open(dir.path());
        let results = vec![ProbeResult {
            target: Target {
                ip: "10.20.1.10".parse().expect("ip"),
                port: 5432,
                name: None,
            },
            outcome: Outcome::Refused,
            elapsed_ms: 3,
        }];
        keep_probes(&store, "work", &Dialer::Os, &results);
        let log = store.latest_probes().expect("read").expect("kept");
        assert_eq!(log.path, "os");
        assert_eq!(log.results, results);
    }

    #[test]
    fn export_paths_expand_home_and_refuse_relative_ones() {
        let home = PathBuf::from(std::env::var_os("HOME").expect("HOME"));
        assert_eq!(expand_home("~/work.conf").unwrap(), home.join("work.conf"));
        assert_eq!(expand_home("~").unwrap(), home);
        assert_eq!(
            expand_home("/tmp/x.conf").unwrap(),
            PathBuf::from("/tmp/x.conf")
        );
        let e = expand_home("work.conf").unwrap_err();
        assert!(e.message.contains("full path"), "{}", e.message);
        assert!(expand_home("~user/x")
            .unwrap_err()
            .message
            .contains("full path"));
    }
    use gatehouse_ipc::StaleReason;

    fn conn(name: &str, state: StateKind) -> ConnectionView {
        ConnectionView {
            name: name.into(),
            origin: Origin::Stored,
            state,
            mode: None,
            detail: Some("handshake timed out".into()),
            peers: Vec::new(),
            rx_bytes: 0.0,
            tx_bytes: 0.0,
            socks_proxy: None,
            http_proxy: None,
        }
    }

    const CONF: &str = "[Interface]
PrivateKey = aDdT5AJB8+hX/TKw1g9h6uzegJqyscnkbVzmmieLikw=
Address = 10.13.13.2/32

[Peer]
PublicKey = c2K39PDbDBiNYpXduD7twBeAREk16QToeeHV38LTZQY=
Endpoint = 192.0.2.1:51820
AllowedIPs = 10.13.13.0/24
";

    /// Profile commands against a real store (keys in the vault: no Secret Service needed).
    #[test]
    fn profile_text_update_export_and_qr() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = dir.path().join("config");
        std::env::set_var(gatehouse_profile::store::CONFIG_DIR_ENV, &cfg);
        std::env::set_var(
            gatehouse_profile::vault::PASSPHRASE_ENV,
            "unit test passphrase",
        );
        Store::open(&cfg)
            .and_then(|mut s| {
                s.switch_backend(gatehouse_profile::secrets::Backend::Vault(
                    gatehouse_profile::vault::Vault::new(&cfg),
                ))
            })
            .expect("vault");
        let backend = Backend::new(
            BackendOptions {
                settings: SettingsStore::at(cfg.join(crate::settings::FILE_NAME)),
                socket: dir.path().join("no-daemon.sock"),
            },
            |_| {},
        );
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let out = backend.import("work.conf", CONF).await.expect("import");
            assert_eq!(
                out,
                ImportOutcome::Imported {
                    name: "work".into()
                }
            );
            let text = backend.profile_text("work").await.expect("text");
            assert!(text.contains("PrivateKey = aDdT5AJB8"), "{text}");

            // Invalid text: where, and nothing changes.
            let broken = CONF.replace("Address = 10.13.13.2/32", "Address = 10.13.13.2/99");
            match backend
                .update_profile("work", &broken)
                .await
                .expect("update")
            {
                ImportOutcome::Invalid(p) => assert_eq!(p.line, 3, "{p:?}"),
                other => panic!("accepted: {other:?}"),
            }
            assert_eq!(backend.profile_text("work").await.expect("text"), text);

            // Valid text replaces it under the same name, keys included.
            let edited = CONF.replace("10.13.13.2/32", "10.13.13.9/32");
            let out = backend
                .update_profile("work", &edited)
                .await
                .expect("update");
            assert_eq!(
                out,
                ImportOutcome::Imported {
                    name: "work".into()
                }
            );
            let now = backend.profile_text("work").await.expect("text");
            assert!(
                now.contains("10.13.13.9/32") && now.contains("PrivateKey"),
                "{now}"
            );
            let names: Vec<String> = store()
                .and_then(|s| s.list().map_err(err))
                .expect("list")
                .into_iter()
                .map(|p| p.info.name)
                .collect();
            assert_eq!(names, vec!["work".to_owned()]);

            // Export: 0600, the same profile back.
            let path = dir.path().join("out.conf");
            let written = backend
                .export_profile("work", &path.display().to_string())
                .await
                .expect("export");
            assert_eq!(written, path.display().to_string());
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            let back = std::fs::read_to_string(&path).expect("read");
            assert_eq!(back, now);
            let err = backend
                .export_profile("work", &dir.path().display().to_string())
                .await
                .expect_err("a directory");
            assert!(err.message.contains("is a directory"), "{err}");

            // QR: an SVG out; a picture of a QR code in.
            let svg = backend.profile_qr("work").await.expect("qr");
            assert!(svg.contains("<svg"), "{svg}");
            let png = gatehouse_profile::qr::to_png(CONF, 4).expect("png");
            let out = backend
                .import_qr_image("phone", &png)
                .await
                .expect("qr import");
            assert_eq!(
                out,
                ImportOutcome::Imported {
                    name: "phone".into()
                }
            );
            let err = backend
                .import_qr_image("junk", b"not a picture")
                .await
                .expect_err("junk");
            assert!(err.message.starts_with("junk: not a readable"), "{err}");
            let png = gatehouse_profile::qr::to_png("hello", 4).expect("png");
            match backend
                .import_qr_image("hello", &png)
                .await
                .expect("parsed")
            {
                ImportOutcome::Invalid(p) => assert_eq!(p.line, 1, "{p:?}"),
                other => panic!("accepted: {other:?}"),
            }
        });
    }

    /// The demo's lab, connected without root and scanned: every TCP service of the lab comes
    /// back with the kind its fingerprint says, the progress counts every probe, the map's
    /// verdicts carry the probes, and a found web server opens.
    #[test]
    fn demo_scan_finds_every_lab_service() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::env::set_var(
            gatehouse_profile::store::CONFIG_DIR_ENV,
            dir.path().join("config"),
        );
        let backend = Backend::new(
            BackendOptions {
                settings: SettingsStore::at(dir.path().join(crate::settings::FILE_NAME)),
                socket: dir.path().join("no-daemon.sock"),
            },
            |_| {},
        );
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let before = backend
                .scan_services()
                .await
                .expect_err("nothing connected");
            assert!(before.message.contains("No connection"), "{before}");
            backend.start_demo().await.expect("demo");
            let t0 = Instant::now();
            while !backend
                .connections()
                .await
                .iter()
                .any(|v| v.name == DEMO && v.state == StateKind::Connected)
            {
                assert!(
                    t0.elapsed() < Duration::from_secs(20),
                    "the demo never connected"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let began = Instant::now();
            let rows = backend.scan_services().await.expect("scan");
            let took = began.elapsed();
            let progress = backend.scan_progress();
            eprintln!(
                "demo scan: {} services, {} probes in {took:?}, peak {} in flight",
                rows.len(),
                progress.total,
                progress.peak_in_flight
            );
            for r in &rows {
                eprintln!(
                    "  {}:{} {} {} | {}",
                    r.host, r.port, r.kind, r.detail, r.command
                );
            }
            assert!(!progress.running && progress.done == progress.total && progress.total > 0);
            assert_eq!(progress.found as usize, rows.len());
            for h in gatehouse_lab::plan::HOSTS {
                for s in h
                    .services
                    .iter()
                    .filter(|s| s.proto == gatehouse_lab::plan::Proto::Tcp)
                {
                    let want = match format!("{:?}", s.kind).to_ascii_lowercase().as_str() {
                        "http" | "loadbalancer" => "http",
                        "tls" => "https",
                        "ssh" => "ssh",
                        "redis" => "redis",
                        "postgres" => "postgres",
                        "mysql" => "mysql",
                        _ => "tcp",
                    };
                    let row = rows.iter().find(|r| r.host == h.name && r.port == s.port);
                    // The replica's security group drops the client: the lab does too.
                    if h.name == "db-replica" {
                        assert!(row.is_none(), "{row:?}");
                        continue;
                    }
                    let row = row.unwrap_or_else(|| panic!("{}:{} not found", h.name, s.port));
                    assert_eq!(row.kind, want, "{row:?}");
                    assert_eq!(row.fqdn, h.fqdn);
                    assert_eq!(row.verdict, crate::dto::Verdict::Reachable, "{row:?}");
                }
            }
            let web = rows.iter().find(|r| r.host == "web-1").expect("web-1");
            assert!(web.detail.starts_with("HTTP 200"), "{web:?}");
            assert!(
                web.command.contains("--proxy socks5h://127.0.0.1:"),
                "{web:?}"
            );
            assert_eq!(backend.services().await, rows);
            // The map's verdicts now come from the probes.
            let m = backend.demo_map().await.expect("map");
            let db = m.hosts.iter().find(|h| h.name == "db").expect("db");
            assert!(db.codes.iter().any(|c| c == "probe-open"), "{:?}", db.codes);
            let replica = m
                .hosts
                .iter()
                .find(|h| h.name == "db-replica")
                .expect("replica");
            assert!(
                replica.codes.iter().any(|c| c == "probe-closed"),
                "{:?}",
                replica.codes
            );
            let opened = backend.open_service("web-1", 80).await.expect("open");
            assert!(opened.preview.unwrap_or_default().contains("web-1"));
            backend.shutdown().await;
        });
    }

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

    #[test]
    fn notifications_on_connect_disconnect_and_failure_only() {
        use StateKind::*;
        let none: Vec<(String, String)> = Vec::new();
        let a = |p: &[(&str, StateKind)], n: &[(&str, StateKind)]| {
            let p: Vec<_> = p.iter().map(|(n, s)| conn(n, *s)).collect();
            let n: Vec<_> = n.iter().map(|(n, s)| conn(n, *s)).collect();
            alerts(&p, &n)
        };
        assert_eq!(a(&[("home", Disconnected)], &[("home", Connecting)]), none);
        assert_eq!(
            a(&[("home", Connecting)], &[("home", Connected)]),
            vec![("Connected".to_owned(), "home is connected.".to_owned())]
        );
        // Stale → Connected again is not news; Connected → Stale neither.
        assert_eq!(a(&[("home", Stale)], &[("home", Connected)]), none);
        assert_eq!(a(&[("home", Connected)], &[("home", Stale)]), none);
        assert_eq!(
            a(&[("home", Connected)], &[("home", Disconnected)]),
            vec![(
                "Disconnected".to_owned(),
                "home is disconnected.".to_owned()
            )]
        );
        assert_eq!(
            a(&[("home", Connecting)], &[("home", Error)]),
            vec![(
                "Connection failed".to_owned(),
                "home: handshake timed out".to_owned()
            )]
        );
        // A profile seen for the first time counts as coming from Disconnected.
        assert_eq!(a(&[], &[("work", Connected)]).len(), 1);
        assert_eq!(a(&[], &[("work", Disconnected)]), none);
    }
}
