//! [`Backend`]: the product's state (the log, the settings, the connections, the scans) and
//! its use cases, each a few lines over the modules that hold them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use gatehouse_ipc::LogLevel;
use gatehouse_session::Event;
use gatehouse_vpc::Topology;

use crate::connections::Connections;
use crate::demo::DEMO;
use crate::logs::Log;
use crate::maps;
use crate::notices::Notice;
use crate::profiles;
use crate::scans::Scans;
use crate::service;
use crate::services;
use crate::settings::{ModePreference, ServiceInfo, Settings, SettingsCell, SettingsStore};
use crate::views::{
    err, AppError, ConnectionView, ImportOutcome, LogLine, MapView, OpenedService, ScanProgress,
    ServiceView,
};

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

/// The back end shared by a front end's commands, its tray and its ticker.
pub struct Backend {
    log: Arc<Log>,
    settings: Arc<SettingsCell>,
    connections: Connections,
    scans: Scans,
    socket: PathBuf,
}

impl Backend {
    /// A back end that reports changes to `notify`.
    pub fn new(
        options: BackendOptions,
        notify: impl Fn(Notice) + Send + Sync + 'static,
    ) -> Backend {
        let log = Arc::new(Log::new(Arc::new(notify)));
        let settings = Arc::new(SettingsCell::load(options.settings, &log));
        Backend {
            connections: Connections::new(options.socket.clone(), settings.clone(), log.clone()),
            log,
            settings,
            scans: Scans::default(),
            socket: options.socket,
        }
    }

    // ---- logs and settings -------------------------------------------------------------

    /// Adds a log line and reports it.
    pub fn log(&self, level: &str, connection: Option<&str>, message: impl Into<String>) {
        self.log.add(level, connection, message)
    }

    /// The log so far, oldest first.
    pub fn logs(&self) -> Vec<LogLine> {
        self.log.lines()
    }

    /// The settings now.
    pub fn settings(&self) -> Settings {
        self.settings.get()
    }

    /// Saves `new`; when start at login changes, `autostart` turns it on or off first (a
    /// failure there changes nothing).
    pub fn set_settings(
        &self,
        new: Settings,
        autostart: impl FnOnce(bool) -> Result<(), AppError>,
    ) -> Result<Settings, AppError> {
        self.settings.set(new, autostart, &self.log)
    }

    // ---- the service -------------------------------------------------------------------

    /// The daemon's socket.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Whether the Gatehouse service answers on its socket.
    pub async fn service_info(&self) -> ServiceInfo {
        service::info(&self.socket).await
    }

    /// Follows the service's events (state changes and log lines) until it goes away; returns
    /// when the stream ends or cannot be opened (the caller retries).
    pub async fn follow_service(&self) -> Result<(), AppError> {
        if self.settings.get().mode == ModePreference::NoRoot {
            return Ok(());
        }
        let mut events = service::session(&self.socket)
            .subscribe()
            .await
            .map_err(err)?;
        while let Some(frame) = events.recv().await.map_err(err)? {
            match frame.event {
                Event::State { .. } => self.connections.refresh().await,
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
        self.connections.connections().await
    }

    /// The connections as last reported.
    pub fn last_reported(&self) -> Vec<ConnectionView> {
        self.connections.last_reported()
    }

    /// Recomputes the connections and reports them when they changed (and the notifications
    /// their changes deserve, when the settings allow them).
    pub async fn refresh(&self) {
        self.connections.refresh().await
    }

    /// Connects a profile: through the service when the settings and the service allow it,
    /// else in the app without root. The demo always runs in the app.
    pub async fn connect(&self, name: &str) -> Result<(), AppError> {
        self.connections.connect(name).await
    }

    /// Disconnects a profile wherever it runs (no-op when it is not running).
    pub async fn disconnect(&self, name: &str) -> Result<(), AppError> {
        self.connections.disconnect(name).await
    }

    /// Connects a disconnected profile, disconnects a running one.
    pub async fn toggle(&self, name: &str) -> Result<(), AppError> {
        self.connections.toggle(name).await
    }

    /// Disconnects the app's own connections and stops the lab (before quitting). The
    /// service's tunnels keep running: they outlive the app by design.
    pub async fn shutdown(&self) {
        self.connections.shutdown().await
    }

    /// Starts the demo lab (if not running) and connects to it.
    pub async fn start_demo(&self) -> Result<(), AppError> {
        self.connections.start_demo().await
    }

    // ---- profiles ----------------------------------------------------------------------

    /// Reports the connections again when `out` stored a profile.
    async fn refreshed(&self, out: ImportOutcome) -> ImportOutcome {
        if let ImportOutcome::Imported { .. } = out {
            self.refresh().await;
        }
        out
    }

    /// Imports wg-quick text as a stored profile named `name`; a parse error comes back with
    /// its line and column.
    pub async fn import(&self, name: &str, text: &str) -> Result<ImportOutcome, AppError> {
        let out = profiles::import(name, text, &self.log)?;
        Ok(self.refreshed(out).await)
    }

    /// Imports the profile in a QR-code picture (PNG or JPEG bytes).
    pub async fn import_qr_image(
        &self,
        name: &str,
        image: &[u8],
    ) -> Result<ImportOutcome, AppError> {
        let (label, text) = profiles::read_qr(name, image)?;
        self.import(&label, &text).await
    }

    /// The full wg-quick text of a profile, keys included (for the editor).
    pub async fn profile_text(&self, name: &str) -> Result<String, AppError> {
        let config = self.connections.profile_config(name, true).await?;
        Ok(profiles::text(&config))
    }

    /// Replaces a stored profile's configuration with `text`. Invalid text comes back with its
    /// line and column and changes nothing; a running connection keeps its old configuration
    /// until reconnected.
    pub async fn update_profile(&self, name: &str, text: &str) -> Result<ImportOutcome, AppError> {
        let out = profiles::update(name, text, &self.log)?;
        Ok(self.refreshed(out).await)
    }

    /// Writes a profile's wg-quick text (keys included) to `path`, mode 0600, atomically.
    pub async fn export_profile(&self, name: &str, path: &str) -> Result<String, AppError> {
        let text = self.profile_text(name).await?;
        profiles::export(name, &text, path, &self.log)
    }

    /// A profile's QR code (the wg-quick text, keys included) as an SVG document.
    pub async fn profile_qr(&self, name: &str) -> Result<String, AppError> {
        profiles::qr_svg(&self.profile_text(name).await?)
    }

    /// Deletes a stored profile (disconnecting it first).
    pub async fn delete(&self, name: &str) -> Result<(), AppError> {
        self.disconnect(name).await?;
        profiles::delete(name, &self.log)?;
        self.refresh().await;
        Ok(())
    }

    // ---- maps --------------------------------------------------------------------------

    /// Writes an exported map (see [`maps::export_map`]) and logs where.
    pub async fn export_map(&self, path: &str, data: &str) -> Result<String, AppError> {
        let written = maps::export_map(path, data)?;
        self.log
            .add("info", None, format!("map exported to {written}"));
        Ok(written)
    }

    /// The VPC map of the demo network, verdicts from the demo profile.
    pub async fn demo_map(&self) -> Result<MapView, AppError> {
        let connected = self.connections.netstack_of(DEMO).await.is_some();
        let lab = self.connections.lab_profile().await;
        let profile = crate::demo::demo_profile(lab.as_ref());
        let map = maps::demo_map(&profile, connected, &self.scans.probes(DEMO))?;
        let topo = maps::demo_topology()?;
        self.scans
            .keep_declared("demo", services::declared_views(DEMO, &topo, &map));
        Ok(map)
    }

    /// The map of a Terraform state the user opened, seen from the active profile.
    pub async fn map_from_file(&self, name: &str, text: &str) -> Result<MapView, AppError> {
        let (label, topo) = maps::topology_from_file(name, text)?;
        Ok(self.keep_map(label, topo).await)
    }

    /// The map of a topology the user opened, seen from the active profile with its last
    /// scan's probes; the topology is kept for the next scan.
    async fn keep_map(&self, label: String, topo: Topology) -> MapView {
        let active = self.connections.active_profile().await;
        // The demo's probes are of the lab's addresses, not of this network.
        let probes = match &active {
            Some((n, _)) if n != DEMO => self.scans.probes(n),
            _ => Vec::new(),
        };
        let seen_from = active.as_ref().map(|(n, c)| (n.as_str(), c));
        let view = maps::map_of(&label, &topo, seen_from, &probes);
        let connection = active.as_ref().map(|(n, _)| n.as_str()).unwrap_or("");
        self.scans
            .keep_declared("opened", services::declared_views(connection, &topo, &view));
        self.scans.keep_topology(label, topo);
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
            maps::topology_from_aws(&env, profile, regions)
        })
        .await
    }

    /// The map of the DigitalOcean account whose token is in the keyring, read live.
    pub async fn map_from_digitalocean(&self) -> Result<MapView, AppError> {
        self.live_map(|| {
            let base = gatehouse_cloud::digitalocean::api_url(None);
            maps::topology_from_digitalocean(&base)
        })
        .await
    }

    /// Reads a live topology with `read` (blocking HTTP) off the async threads, keeps it as the
    /// map and logs what came.
    async fn live_map(
        &self,
        read: impl FnOnce() -> Result<(String, Topology), AppError> + Send + 'static,
    ) -> Result<MapView, AppError> {
        let (source, topo) = maps::read_live(read).await?;
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
        maps::set_digitalocean_token(token).await?;
        self.log("info", None, "DigitalOcean token saved in the keyring");
        Ok(())
    }

    // ---- scans and services ------------------------------------------------------------

    /// The services found by the last scan of each running connection, then the managed
    /// services of the maps opened that no scan has confirmed yet.
    pub async fn services(&self) -> Vec<ServiceView> {
        self.scans.services(&self.connections.running().await)
    }

    /// The running scan's progress, or the last scan's figures.
    pub fn scan_progress(&self) -> ScanProgress {
        self.scans.progress()
    }

    /// Scans the active connection's network (see [`Scans::scan`]).
    pub async fn scan_services(&self) -> Result<Vec<ServiceView>, AppError> {
        let views = self.connections().await;
        let Some(active) = views.into_iter().find(|v| v.state.is_live()) else {
            return Err(AppError::new(
                "No connection is up: connect one (or try the demo network) to scan its services.",
            ));
        };
        let name = active.name;
        let netstack = self.connections.netstack_of(&name).await;
        let config = self.connections.profile_config(&name, false).await;
        let tunnel = config.ok().map(|c| maps::tunnel_of(&c, &name));
        self.scans.scan(&name, netstack, tunnel, &self.log).await
    }

    /// Opens a service the last scan found (or a demo service): in no-root mode a local
    /// forward through its connection's userspace stack, in service mode its private address
    /// as it is; for a web server, also fetches the start of its front page.
    pub async fn open_service(&self, host: &str, port: u16) -> Result<OpenedService, AppError> {
        let place = services::locate(host, port, self.scans.find(host, port))?;
        let netstack = self.connections.netstack_of(&place.connection).await;
        let runs = self.connections.runs(&place.connection).await;
        services::open(host, place, netstack, runs, &self.log).await
    }
}

#[cfg(test)]
mod tests;
