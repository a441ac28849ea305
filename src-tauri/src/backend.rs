//! The app's back end: which profiles exist, which run (no-root mode: one
//! [`gatehouse_netstack::Netstack`] per connection), the demo lab, the log. The Tauri commands
//! are one-line forwards to the methods here; what they compute comes from the crates
//! (profile store and parser, netstack, lab, vpc).

use std::collections::{BTreeMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use gatehouse_lab::{Lab, LabOptions};
use gatehouse_netstack::{Netstack, NetstackOptions, Target};
use gatehouse_profile::store::{NameChoice, Store};
use gatehouse_profile::{Config, Key};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Mutex;

use crate::dto::{
    AppError, ConnectionView, ImportOutcome, ImportProblem, LogLine, OpenedService, Origin,
    PeerView, ServiceView, StateKind,
};
use crate::map;

/// The demo connection's name.
pub const DEMO: &str = "demo";
/// A handshake older than this makes a connection stale (WireGuard rekeys every 2 minutes).
const FRESH_HANDSHAKE: Duration = Duration::from_secs(180);
/// With no handshake for this long after starting, a connection is stale.
const FIRST_HANDSHAKE: Duration = Duration::from_secs(15);
/// Log lines kept.
const LOG_LINES: usize = 500;

/// Something the UI and the tray must hear about.
#[derive(Debug, Clone)]
pub enum Notice {
    /// The connections (state or counters) changed.
    Connections(Vec<ConnectionView>),
    /// A log line.
    Log(LogLine),
}

struct Running {
    netstack: Arc<Netstack>,
    origin: Origin,
    started: Instant,
}

#[derive(Default)]
struct Inner {
    running: BTreeMap<String, Running>,
    failed: BTreeMap<String, String>,
    lab: Option<Lab>,
}

/// The back end shared by the commands, the tray and the ticker.
pub struct Backend {
    inner: Mutex<Inner>,
    logs: StdMutex<VecDeque<LogLine>>,
    last: StdMutex<Vec<ConnectionView>>,
    notify: Box<dyn Fn(Notice) + Send + Sync>,
}

/// The state of a running connection from its handshake age and how long it has run.
pub fn derive_state(
    elapsed: Duration,
    handshake_age: Option<Duration>,
) -> (StateKind, Option<String>) {
    match handshake_age {
        Some(age) if age <= FRESH_HANDSHAKE => (StateKind::Connected, None),
        Some(age) => (
            StateKind::Stale,
            Some(format!("no handshake for {} s", age.as_secs())),
        ),
        None if elapsed < FIRST_HANDSHAKE => (StateKind::Connecting, None),
        None => (
            StateKind::Stale,
            Some(format!(
                "no handshake after {} s: is the endpoint reachable?",
                elapsed.as_secs()
            )),
        ),
    }
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

impl Backend {
    /// A back end that reports changes to `notify`.
    pub fn new(notify: impl Fn(Notice) + Send + Sync + 'static) -> Backend {
        Backend {
            inner: Mutex::new(Inner::default()),
            logs: StdMutex::new(VecDeque::new()),
            last: StdMutex::new(Vec::new()),
            notify: Box::new(notify),
        }
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

    /// Every profile (stored ones, then the demo when its lab runs) with its connection.
    pub async fn connections(&self) -> Vec<ConnectionView> {
        let stored: Vec<String> =
            match store().and_then(|s| s.list().map_err(|e| AppError::new(e.to_string()))) {
                Ok(list) => list.into_iter().map(|p| p.info.name).collect(),
                Err(e) => {
                    tracing::warn!("listing profiles: {e}");
                    Vec::new()
                }
            };
        let inner = self.inner.lock().await;
        let mut names: Vec<(String, Origin)> =
            stored.into_iter().map(|n| (n, Origin::Stored)).collect();
        if inner.lab.is_some() {
            names.push((DEMO.to_owned(), Origin::Demo));
        }
        for (name, r) in &inner.running {
            if !names.iter().any(|(n, _)| n == name) {
                names.push((name.clone(), r.origin));
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

    /// Recomputes the connections and reports them when they changed.
    pub async fn refresh(&self) {
        let views = self.connections().await;
        let changed = match self.last.lock() {
            Ok(mut last) if *last != views => {
                *last = views.clone();
                true
            }
            _ => false,
        };
        if changed {
            (self.notify)(Notice::Connections(views));
        }
    }

    /// Imports wg-quick text as a stored profile named `name`; a parse error comes back with
    /// its line and column.
    pub async fn import(&self, name: &str, text: &str) -> Result<ImportOutcome, AppError> {
        let label = if name.is_empty() { "pasted.conf" } else { name };
        let config = match gatehouse_profile::parse::parse(text, label) {
            Ok(c) => c,
            Err(e) => {
                return Ok(ImportOutcome::Invalid(ImportProblem {
                    line: u32::try_from(e.line).unwrap_or(u32::MAX),
                    col: u32::try_from(e.col).unwrap_or(u32::MAX),
                    message: e.kind.to_string(),
                    source_line: e.source_line.clone(),
                }))
            }
        };
        let stem = label.strip_suffix(".conf").unwrap_or(label);
        let profile = store()?
            .import(&config, stem, NameChoice::Suggested, Some(label))
            .map_err(|e| AppError::new(e.to_string()))?;
        self.log("info", Some(&profile.info.name), "profile imported");
        self.refresh().await;
        Ok(ImportOutcome::Imported {
            name: profile.info.name,
        })
    }

    /// Deletes a stored profile (disconnecting it first).
    pub async fn delete(&self, name: &str) -> Result<(), AppError> {
        self.disconnect(name).await?;
        store()?
            .delete(name)
            .map_err(|e| AppError::new(e.to_string()))?;
        self.log("info", Some(name), "profile deleted");
        self.refresh().await;
        Ok(())
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

    /// Connects a profile in no-root mode (a userspace network stack with local proxies).
    pub async fn connect(&self, name: &str) -> Result<(), AppError> {
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
            let profile = store()?
                .load(name, true)
                .map_err(|e| AppError::new(e.to_string()))?;
            (profile.config, Origin::Stored)
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
                inner.running.insert(
                    name.to_owned(),
                    Running {
                        netstack: ns.clone(),
                        origin,
                        started: Instant::now(),
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
                let msg = e.to_string();
                inner.failed.insert(name.to_owned(), msg.clone());
                drop(inner);
                self.log("error", Some(name), format!("cannot connect: {msg}"));
                self.refresh().await;
                Err(AppError::new(msg))
            }
        }
    }

    /// Disconnects a profile (no-op when it is not running).
    pub async fn disconnect(&self, name: &str) -> Result<(), AppError> {
        let taken = {
            let mut inner = self.inner.lock().await;
            inner.failed.remove(name);
            inner.running.remove(name)
        };
        if let Some(r) = taken {
            if let Ok(ns) = Arc::try_unwrap(r.netstack) {
                ns.shutdown().await;
            }
            self.log("info", Some(name), "disconnected");
        }
        self.refresh().await;
        Ok(())
    }

    /// Connects a disconnected profile, disconnects a running one.
    pub async fn toggle(&self, name: &str) -> Result<(), AppError> {
        let running = self.inner.lock().await.running.contains_key(name);
        if running {
            self.disconnect(name).await
        } else {
            self.connect(name).await
        }
    }

    /// Disconnects everything and stops the lab (before quitting).
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

    /// The VPC map of the demo network, verdicts from the demo connection's point of view.
    pub async fn demo_map(&self) -> Result<crate::dto::MapView, AppError> {
        let connected = self.inner.lock().await.running.contains_key(DEMO);
        map::demo_map(connected)
    }

    /// The demo's services, with the commands to reach them through the demo connection.
    pub async fn services(&self) -> Vec<ServiceView> {
        let inner = self.inner.lock().await;
        let socks = inner
            .running
            .get(DEMO)
            .and_then(|r| r.netstack.socks_addr());
        if inner.lab.is_none() {
            return Vec::new();
        }
        map::demo_services(socks)
    }

    /// Opens a local forward to `ip:port` through the demo connection; for a web server, also
    /// fetches the start of its front page.
    pub async fn open_service(&self, host: &str, port: u16) -> Result<OpenedService, AppError> {
        let (ns, target) = {
            let inner = self.inner.lock().await;
            let r = inner
                .running
                .get(DEMO)
                .ok_or_else(|| AppError::new("connect the demo network first"))?;
            let target = map::demo_target(host, port)
                .ok_or_else(|| AppError::new(format!("no service {host}:{port} in the demo")))?;
            (r.netstack.clone(), target)
        };
        let local = ns
            .open_forward(Target::Addr(target.addr))
            .await
            .map_err(|e| AppError::new(format!("cannot open a forward: {e}")))?;
        self.log(
            "info",
            Some(DEMO),
            format!("forward {local} → {}:{port}", target.host),
        );
        if !target.http {
            return Ok(OpenedService {
                local: local.to_string(),
                url: None,
                preview: None,
            });
        }
        let preview = http_preview(local, target.host)
            .await
            .map_err(|e| AppError::new(format!("{}:{port} did not answer: {e}", target.host)))?;
        Ok(OpenedService {
            local: local.to_string(),
            url: Some(format!("http://{local}/")),
            preview: Some(preview),
        })
    }
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
    let Some(r) = inner.running.get(&v.name) else {
        return v;
    };
    let stats = r.netstack.stats();
    let now = Instant::now();
    let mut freshest: Option<Duration> = None;
    for p in &stats.peers {
        let age = p.last_handshake.map(|t| now.saturating_duration_since(t));
        if let Some(a) = age {
            freshest = Some(freshest.map_or(a, |f| f.min(a)));
        }
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
    let (state, detail) = derive_state(now.saturating_duration_since(r.started), freshest);
    v.state = state;
    v.detail = detail;
    v.socks_proxy = r.netstack.socks_addr().map(|a| a.to_string());
    v.http_proxy = r.netstack.http_addr().map(|a| a.to_string());
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_follows_the_handshake_age() {
        let s =
            |e, h: Option<u64>| derive_state(Duration::from_secs(e), h.map(Duration::from_secs)).0;
        assert_eq!(s(1, None), StateKind::Connecting);
        assert_eq!(s(60, None), StateKind::Stale);
        assert_eq!(s(60, Some(5)), StateKind::Connected);
        assert_eq!(s(600, Some(181)), StateKind::Stale);
        let (_, why) = derive_state(Duration::from_secs(20), None);
        assert!(why.is_some_and(|w| w.contains("20 s")));
    }
}
