//! `gatehouse status`, and the status socket a foreground `gatehouse up` serves: one socket
//! per interface in the run directory, answering one JSON line (the engine's status of the
//! tunnel plus the driver's counters).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use gatehouse_profile::Key;
use gatehouse_session::engine::LinkStats;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

/// Arguments of `gatehouse status`.
#[derive(clap::Args)]
pub struct StatusArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// The Gatehouse service's socket; its tunnels are listed too when it answers.
    #[arg(long, env = "GATEHOUSE_SOCKET", default_value = gatehouse_ipc::DEFAULT_SOCKET)]
    pub socket: PathBuf,
}

/// The directory of the status sockets: `$GATEHOUSE_RUN_DIR`, else `/run/gatehouse` for root,
/// else `$XDG_RUNTIME_DIR/gatehouse`, else `/tmp/gatehouse-UID`.
pub fn run_dir() -> PathBuf {
    run_dir_from(
        std::env::var_os("GATEHOUSE_RUN_DIR").map(PathBuf::from),
        euid(),
        std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from),
    )
}

fn run_dir_from(explicit: Option<PathBuf>, uid: u32, xdg: Option<PathBuf>) -> PathBuf {
    if let Some(d) = explicit.filter(|d| !d.as_os_str().is_empty()) {
        return d;
    }
    if uid == 0 {
        return PathBuf::from("/run/gatehouse");
    }
    match xdg.filter(|d| !d.as_os_str().is_empty()) {
        Some(x) => x.join("gatehouse"),
        None => std::env::temp_dir().join(format!("gatehouse-{uid}")),
    }
}

fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// One running tunnel, as `up` reports it. Holds no secret.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct TunnelStatus {
    interface: String,
    pid: u32,
    /// The profile name or file path it was started from.
    source: String,
    public_key: String,
    listen_port: u16,
    uptime_secs: u64,
    peers: Vec<PeerStatus>,
    /// Packets and datagrams the core dropped, all reasons.
    drops_total: u64,
    /// Non-zero drop counters by reason.
    drops: BTreeMap<String, u64>,
    /// Driver I/O counters.
    io: serde_json::Value,
}

/// One peer of a [`TunnelStatus`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct PeerStatus {
    public_key: String,
    endpoint: Option<String>,
    allowed_ips: Vec<String>,
    /// Seconds since the last completed handshake; `None`: never.
    latest_handshake_secs: Option<u64>,
    rx_bytes: u64,
    tx_bytes: u64,
    rx_packets: u64,
    tx_packets: u64,
    handshake_attempts: u32,
}

/// What `status --json` prints.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct StatusReport {
    tunnels: Vec<TunnelStatus>,
    /// The tunnels of the Gatehouse service, when it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    service: Option<gatehouse_ipc::StatusReport>,
}

/// What a foreground tunnel's status socket reports: the engine's view of it plus the
/// driver's counters.
pub struct StatusContext {
    /// The engine running it.
    pub engine: gatehouse_session::Engine,
    /// The profile name in the engine.
    pub name: String,
    /// The profile name or file path it was started from.
    pub label: String,
}

impl StatusContext {
    fn status(&self) -> Option<TunnelStatus> {
        let report = self.engine.status();
        let t = report.tunnels.into_iter().find(|t| t.name == self.name)?;
        let stats = self.engine.stats(&self.name);
        let (drops, io, peers) = match &stats {
            Some(LinkStats::Tun(d)) => (
                Some(&d.drops),
                serde_json::to_value(&d.io).unwrap_or(serde_json::Value::Null),
                d.peers.as_slice(),
            ),
            Some(other) => (None, serde_json::Value::Null, other.peers()),
            None => (None, serde_json::Value::Null, &[][..]),
        };
        let peers = t
            .peers
            .into_iter()
            .map(|p| {
                let raw = peers
                    .iter()
                    .find(|r| Key(r.public_key).to_string() == p.public_key);
                PeerStatus {
                    public_key: p.public_key,
                    endpoint: p.endpoint,
                    allowed_ips: p.allowed_ips,
                    latest_handshake_secs: p.latest_handshake_secs,
                    rx_bytes: p.rx_bytes,
                    tx_bytes: p.tx_bytes,
                    rx_packets: raw.map_or(0, |r| r.rx_packets),
                    tx_packets: raw.map_or(0, |r| r.tx_packets),
                    handshake_attempts: raw.map_or(0, |r| r.handshake_attempts),
                }
            })
            .collect();
        Some(TunnelStatus {
            interface: t.interface,
            pid: std::process::id(),
            source: self.label.clone(),
            public_key: t.public_key,
            listen_port: t.listen_port,
            uptime_secs: t.uptime_secs,
            peers,
            drops_total: drops.map_or(0, |d| d.total()),
            drops: drops
                .map(|d| {
                    d.iter()
                        .filter(|(_, n)| *n > 0)
                        .map(|(r, n)| (r.name().to_owned(), n))
                        .collect()
                })
                .unwrap_or_default(),
            io,
        })
    }
}

/// The request `status` sends.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct StatusRequest {
    request: String,
}

/// The status socket of one interface; removed on [`StatusServer::stop`].
pub struct StatusServer {
    path: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

fn socket_path(dir: &Path, interface: &str) -> PathBuf {
    dir.join(format!("{interface}.sock"))
}

fn ensure_private_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot restrict {}", dir.display()))?;
    Ok(())
}

impl StatusServer {
    /// Serves `ctx` on `RUN_DIR/INTERFACE.sock` (0600).
    pub async fn start(interface: &str, ctx: StatusContext) -> anyhow::Result<StatusServer> {
        let dir = run_dir();
        ensure_private_dir(&dir)?;
        let path = socket_path(&dir, interface);
        if path.exists() {
            if tokio::net::UnixStream::connect(&path).await.is_ok() {
                bail!("{} is in use by another gatehouse", path.display());
            }
            let _ = std::fs::remove_file(&path);
        }
        let listener = tokio::net::UnixListener::bind(&path)
            .with_context(|| format!("cannot listen on {}", path.display()))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("cannot restrict {}", path.display()))?;
        let ctx = std::sync::Arc::new(ctx);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let ctx = std::sync::Arc::clone(&ctx);
                tokio::spawn(async move {
                    let _ =
                        tokio::time::timeout(Duration::from_secs(2), serve_status(stream, &ctx))
                            .await;
                });
            }
        });
        Ok(StatusServer { path, task })
    }

    /// Stops serving and removes the socket.
    pub fn stop(self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

async fn serve_status(stream: tokio::net::UnixStream, ctx: &StatusContext) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    let mut reader = tokio::io::BufReader::new(read).take(4096);
    reader.read_line(&mut line).await?;
    let reply = match serde_json::from_str::<StatusRequest>(line.trim()) {
        Ok(r) if r.request == "status" => match ctx.status() {
            Some(s) => serde_json::to_string(&s),
            None => serde_json::to_string(&serde_json::json!({"error": "the tunnel is down"})),
        },
        _ => serde_json::to_string(&serde_json::json!({"error": "unknown request"})),
    }
    .map_err(std::io::Error::other)?;
    write.write_all(reply.as_bytes()).await?;
    write.write_all(b"\n").await?;
    write.shutdown().await
}

/// Asks one socket for its status; `None` when nobody answers (stale socket).
fn query(path: &Path) -> Option<TunnelStatus> {
    let mut stream = match std::os::unix::net::UnixStream::connect(path) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            eprintln!(
                "note: cannot query {}: permission denied (the tunnel runs as another user; try sudo)",
                path.display()
            );
            return None;
        }
        Err(_) => return None,
    };
    stream.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    stream
        .set_write_timeout(Some(Duration::from_secs(3)))
        .ok()?;
    let request = serde_json::to_string(&StatusRequest {
        request: "status".into(),
    })
    .ok()?;
    stream.write_all(request.as_bytes()).ok()?;
    stream.write_all(b"\n").ok()?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).ok()?;
    serde_json::from_str(line.trim()).ok()
}

/// Every tunnel answering in `dir`, by interface name.
fn collect_status(dir: &Path) -> anyhow::Result<Vec<TunnelStatus>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", dir.display())),
    };
    let mut tunnels: Vec<TunnelStatus> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "sock"))
        .filter_map(|p| query(&p))
        .collect();
    tunnels.sort_by(|a, b| a.interface.cmp(&b.interface));
    Ok(tunnels)
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.2} {}", UNITS[unit])
    }
}

fn human_age(secs: u64) -> String {
    match secs {
        0..=59 => format!("{secs} s ago"),
        60..=3599 => format!("{} min {} s ago", secs / 60, secs % 60),
        _ => format!("{} h {} min ago", secs / 3600, (secs % 3600) / 60),
    }
}

fn render_text(tunnels: &[TunnelStatus]) -> String {
    if tunnels.is_empty() {
        return "no tunnel is running\n".into();
    }
    let mut out = String::new();
    for t in tunnels {
        out.push_str(&format!(
            "interface: {} ({}, pid {})\n  public key: {}\n  listening port: {}\n  up for: {} s\n",
            t.interface, t.source, t.pid, t.public_key, t.listen_port, t.uptime_secs
        ));
        if t.drops_total > 0 {
            out.push_str(&format!("  dropped: {}\n", t.drops_total));
        }
        for p in &t.peers {
            out.push_str(&format!("\npeer: {}\n", p.public_key));
            if let Some(e) = &p.endpoint {
                out.push_str(&format!("  endpoint: {e}\n"));
            }
            out.push_str(&format!("  allowed ips: {}\n", p.allowed_ips.join(", ")));
            match p.latest_handshake_secs {
                Some(s) => out.push_str(&format!("  latest handshake: {}\n", human_age(s))),
                None => out.push_str("  latest handshake: none yet\n"),
            }
            out.push_str(&format!(
                "  transfer: {} received, {} sent\n",
                human_bytes(p.rx_bytes),
                human_bytes(p.tx_bytes)
            ));
        }
        out.push('\n');
    }
    out
}

/// Runs `gatehouse status`.
pub fn status(args: StatusArgs) -> anyhow::Result<()> {
    let dir = run_dir();
    let tunnels = collect_status(&dir)?;
    let service = crate::daemon_cmd::service_status(&args.socket);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&StatusReport { tunnels, service })?
        );
    } else {
        match &service {
            Some(report) if tunnels.is_empty() && !report.tunnels.is_empty() => {}
            _ => print!("{}", render_text(&tunnels)),
        }
        if let Some(report) = service.filter(|r| !r.tunnels.is_empty()) {
            println!("through the Gatehouse service ({}):", args.socket.display());
            print!("{}", crate::daemon_cmd::render_service(&report));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_dir_choice() {
        let x = Some(PathBuf::from("/run/user/1000"));
        assert_eq!(
            run_dir_from(Some("/tmp/t".into()), 0, x.clone()),
            PathBuf::from("/tmp/t")
        );
        assert_eq!(
            run_dir_from(None, 0, x.clone()),
            PathBuf::from("/run/gatehouse")
        );
        assert_eq!(
            run_dir_from(None, 1000, x),
            PathBuf::from("/run/user/1000/gatehouse")
        );
        assert!(run_dir_from(Some("".into()), 1000, None).ends_with("gatehouse-1000"));
    }

    fn sample_status() -> TunnelStatus {
        TunnelStatus {
            interface: "wg0".into(),
            pid: 42,
            source: "home".into(),
            public_key: "pub".into(),
            listen_port: 51820,
            uptime_secs: 5,
            peers: vec![PeerStatus {
                public_key: "peerkey".into(),
                endpoint: Some("192.0.2.1:51820".into()),
                allowed_ips: vec!["10.0.0.0/24".into()],
                latest_handshake_secs: Some(3),
                rx_bytes: 2048,
                tx_bytes: 10,
                rx_packets: 2,
                tx_packets: 1,
                handshake_attempts: 0,
            }],
            drops_total: 1,
            drops: BTreeMap::from([("malformed".to_string(), 1)]),
            io: serde_json::json!({"tun_rx_packets": 1}),
        }
    }

    #[test]
    fn status_json_round_trips_and_renders() {
        let s = sample_status();
        let text = serde_json::to_string(&StatusReport {
            tunnels: vec![s.clone()],
            service: None,
        })
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(text.contains("\"latest_handshake_secs\":3"));
        assert!(text.contains("\"drops_total\":1"));
        let back: StatusReport = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back.tunnels, vec![s.clone()]);
        let rendered = render_text(&[s]);
        assert!(rendered.contains("latest handshake: 3 s ago"));
        assert!(rendered.contains("2.00 KiB received, 10 B sent"));
        assert_eq!(render_text(&[]), "no tunnel is running\n");
    }

    #[test]
    fn status_skips_stale_sockets_and_missing_dirs() {
        let dir = std::env::temp_dir().join(format!("gh-status-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        assert!(collect_status(&dir).map(|v| v.is_empty()).unwrap_or(false));
        ensure_private_dir(&dir).unwrap_or_else(|e| panic!("{e}"));
        // A socket file nobody listens on.
        let stale = socket_path(&dir, "gone0");
        drop(std::os::unix::net::UnixListener::bind(&stale).unwrap_or_else(|e| panic!("{e}")));
        std::fs::write(dir.join("notes.txt"), "x").unwrap_or_else(|e| panic!("{e}"));
        assert!(collect_status(&dir).map(|v| v.is_empty()).unwrap_or(false));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_live_socket_answers_a_status_request() {
        let dir = std::env::temp_dir().join(format!("gh-live-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        ensure_private_dir(&dir).unwrap_or_else(|e| panic!("{e}"));
        let path = socket_path(&dir, "wg0");
        let listener =
            std::os::unix::net::UnixListener::bind(&path).unwrap_or_else(|e| panic!("{e}"));
        let expected = sample_status();
        let reply = serde_json::to_string(&expected).unwrap_or_else(|e| panic!("{e}"));
        let server = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap_or_else(|e| panic!("{e}"));
            let mut line = String::new();
            let mut reader = BufReader::new(stream.try_clone().unwrap_or_else(|e| panic!("{e}")));
            reader
                .read_line(&mut line)
                .unwrap_or_else(|e| panic!("{e}"));
            let req: StatusRequest =
                serde_json::from_str(line.trim()).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(req.request, "status");
            let mut w = stream;
            w.write_all(reply.as_bytes())
                .unwrap_or_else(|e| panic!("{e}"));
            w.write_all(b"\n").unwrap_or_else(|e| panic!("{e}"));
        });
        let got = collect_status(&dir).unwrap_or_else(|e| panic!("{e}"));
        let _ = server.join();
        assert_eq!(got, vec![expected]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn human_formats() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1536), "1.50 KiB");
        assert_eq!(human_age(61), "1 min 1 s ago");
        assert_eq!(human_age(7260), "2 h 1 min ago");
    }
}
