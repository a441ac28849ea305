//! `gatehouse up` and `gatehouse status`.
//!
//! `up` runs one tunnel in the foreground: it loads a saved profile (with its secrets) or parses a
//! `.conf` file, creates the TUN interface, lets `gatehouse-os` configure the host, runs the
//! `gatehouse-device` driver, prints what happens, and on Ctrl-C / SIGTERM undoes everything.
//! While up, it answers status requests on a Unix socket `RUN_DIR/IFACE.sock` (one JSON line
//! in, one JSON line out; no secrets), which `status` queries.

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{bail, Context};
use gatehouse_device::{Device, DeviceConfig, DeviceEvent, DeviceHandle, TunDevice};
use gatehouse_profile::{Config, Host, Key};
use gatehouse_tunnel::{Event, Tunnel, TunnelConfig};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

/// Arguments of `gatehouse up`.
#[derive(clap::Args)]
pub struct UpArgs {
    /// A saved profile (name or id), or the path of a wg-quick `.conf` file.
    pub profile: String,
    /// Interface name (default: the profile or file name, as wg-quick does, when it is a valid
    /// interface name; else `gh0`, `gh1`…).
    #[arg(long)]
    pub name: Option<String>,
    /// Print events as JSON lines (one object per line) instead of text.
    #[arg(long)]
    pub json_events: bool,
    /// Run the tunnel in this process (in the foreground) even when the Gatehouse service
    /// answers.
    #[arg(long)]
    pub foreground: bool,
    /// Block all traffic outside the tunnel while connecting and connected (full-tunnel
    /// profiles, through the Gatehouse service).
    #[arg(long)]
    pub kill_switch: bool,
    /// The Gatehouse service's socket: when it answers, `up` hands the profile to the service
    /// and returns (`gatehouse down NAME` disconnects).
    #[arg(long, env = "GATEHOUSE_SOCKET", default_value = gatehouse_ipc::DEFAULT_SOCKET)]
    pub socket: PathBuf,
    /// Without root: no TUN; reach the private network through a SOCKS5/HTTP proxy and port
    /// forwards on 127.0.0.1 (userspace network stack).
    #[arg(long)]
    pub no_root: bool,
    #[command(flatten)]
    pub noroot: crate::noroot_cmd::NoRootArgs,
}

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

/// Where the tunnel's configuration comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    /// A wg-quick file: hooks are never run.
    File(PathBuf),
    /// A saved profile, by name or id.
    Profile(String),
}

/// A path that exists, or anything ending in `.conf` or holding a `/`, is a file; else a
/// profile name.
fn resolve_source(arg: &str) -> Source {
    let path = Path::new(arg);
    if arg.ends_with(".conf") || arg.contains('/') || path.is_file() {
        Source::File(path.to_path_buf())
    } else {
        Source::Profile(arg.to_owned())
    }
}

/// wg-quick names the interface after the file; we do the same when the name is usable.
fn default_interface_name(source: &Source) -> String {
    let stem = match source {
        Source::File(p) => p
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        Source::Profile(n) => n.clone(),
    };
    if gatehouse_device::valid_interface_name(&stem) && !stem.contains('%') {
        stem
    } else {
        "gh%d".to_owned()
    }
}

/// The directory of the status sockets: `$GATEHOUSE_RUN_DIR`, else `/run/gatehouse` for root,
/// else `$XDG_RUNTIME_DIR/gatehouse`, else `/tmp/gatehouse-UID`.
fn run_dir() -> PathBuf {
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

/// Everything `up` needs from a profile or file.
struct Loaded {
    config: Config,
    /// What to call it in messages and status (profile name or file path).
    label: String,
    /// Whether PreUp/PostUp/PreDown/PostDown may run.
    hooks: bool,
}

fn load(source: &Source) -> anyhow::Result<Loaded> {
    match source {
        Source::File(path) => {
            let config = gatehouse_profile::parse::parse_file(path)?;
            if config.interface.has_hooks() {
                println!(
                    "note: {} has PreUp/PostUp/PreDown/PostDown commands; they are not run for a \
                     .conf file (import it as a profile and enable hooks to run them)",
                    path.display()
                );
            }
            Ok(Loaded {
                config,
                label: path.display().to_string(),
                hooks: false,
            })
        }
        Source::Profile(name) => {
            let mut store = gatehouse_profile::store::Store::open_default()
                .context("cannot open the profile store")?;
            let profile = store
                .load(name, true)
                .with_context(|| format!("cannot load profile {name:?} with its keys"))?;
            let hooks = profile.info.hooks_enabled;
            if !hooks && profile.config.interface.has_hooks() {
                println!(
                    "note: profile {:?} has PreUp/PostUp/PreDown/PostDown commands; hooks are \
                     disabled for it, so they are not run",
                    profile.info.name
                );
            }
            Ok(Loaded {
                config: profile.config,
                label: profile.info.name,
                hooks,
            })
        }
    }
}

/// The tunnel core's configuration from a wg-quick one (the shared conversion).
fn tunnel_config(config: &Config) -> anyhow::Result<TunnelConfig> {
    Ok(gatehouse_netstack::tunnel_config(config)?)
}

/// The endpoint IPs, host names resolved now (the driver resolves them again on its own).
async fn endpoint_ips(config: &Config) -> Vec<IpAddr> {
    let mut ips = Vec::new();
    for peer in &config.peers {
        let Some(e) = &peer.endpoint else { continue };
        match &e.host {
            Host::Ip(ip) => ips.push(*ip),
            Host::Name(n) => match tokio::net::lookup_host((n.as_str(), e.port)).await {
                Ok(addrs) => ips.extend(addrs.map(|a| a.ip())),
                Err(err) => println!("warning: cannot resolve endpoint {n}: {err}"),
            },
        }
    }
    let mut seen = HashSet::new();
    ips.retain(|ip| seen.insert(*ip));
    ips
}

fn host_config(
    config: &Config,
    interface: &str,
    endpoints: Vec<IpAddr>,
) -> anyhow::Result<gatehouse_os::HostConfig> {
    gatehouse_session::convert::host_config(config, interface, endpoints)
        .map_err(|e| anyhow::anyhow!("{}", e.message))
}

/// Runs wg-quick style hook commands (`%i` is the interface) with `sh -c`.
fn run_hooks(phase: &str, commands: &[String], interface: &str) -> anyhow::Result<()> {
    for cmd in commands {
        let line = cmd.replace("%i", interface);
        println!("[{phase}] {line}");
        let status = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(&line)
            .status()
            .with_context(|| format!("{phase}: cannot run /bin/sh"))?;
        if !status.success() {
            bail!("{phase} command failed ({status}): {line}");
        }
    }
    Ok(())
}

fn warn_hooks(phase: &str, commands: &[String], interface: &str) {
    if let Err(e) = run_hooks(phase, commands, interface) {
        println!("warning: {e:#}");
    }
}

/// Runs `gatehouse up`.
pub fn up(args: UpArgs) -> anyhow::Result<()> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();

    if args.no_root {
        let loaded = load(&resolve_source(&args.profile))?;
        return crate::noroot_cmd::run(loaded.config, &loaded.label, &args.noroot);
    }
    if !args.foreground && crate::daemon_cmd::service_answers(&args.socket) {
        if args.name.is_some() || args.json_events {
            bail!(
                "--name and --json-events apply to a foreground tunnel: add --foreground, or \
                 follow the service's events with `gatehouse daemon status`"
            );
        }
        return crate::daemon_cmd::connect_through(
            &args.socket,
            &args.profile,
            args.kill_switch,
            20,
        );
    }
    if args.kill_switch {
        bail!(
            "--kill-switch needs the Gatehouse service (`sudo gatehouse service install`, or \
             `sudo gatehouse daemon`)"
        );
    }
    let source = resolve_source(&args.profile);
    let loaded = load(&source)?;
    let tunnel_cfg = tunnel_config(&loaded.config)
        .with_context(|| format!("{}: cannot start the tunnel", loaded.label))?;
    let tunnel = Tunnel::new(tunnel_cfg, gatehouse_tunnel::Instant::now())
        .with_context(|| format!("{}: invalid configuration", loaded.label))?;
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| default_interface_name(&source));

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(run_up(args, loaded, tunnel, name))
}

async fn run_up(args: UpArgs, loaded: Loaded, tunnel: Tunnel, name: String) -> anyhow::Result<()> {
    let iface_cfg = &loaded.config.interface;
    let public_key = Key(tunnel.public_key());
    if loaded.hooks {
        run_hooks("PreUp", &iface_cfg.pre_up, &name)?;
    }

    let mtu = iface_cfg.mtu.unwrap_or(gatehouse_device::DEFAULT_MTU);
    let tun = TunDevice::create(Some(&name), mtu).map_err(|e| match &e {
        gatehouse_device::DeviceError::TunCreate { source, .. }
            if source.kind() == std::io::ErrorKind::PermissionDenied =>
        {
            anyhow::anyhow!(
                "{e}\ngatehouse up needs root (CAP_NET_ADMIN) to create the interface and its \
                 routes: run it with sudo"
            )
        }
        _ => anyhow::Error::new(e),
    })?;
    let interface = tun.name().to_owned();

    let endpoints = endpoint_ips(&loaded.config).await;
    let host = host_config(&loaded.config, &interface, endpoints)?;
    let applied = gatehouse_os::apply(&host, &gatehouse_os::ApplyOptions::default())
        .await
        .with_context(|| format!("cannot configure {interface}"))?;

    let device_cfg = DeviceConfig {
        listen_port: iface_cfg.listen_port,
        fwmark: applied.fwmark().or(iface_cfg.fwmark),
    };
    let device = match Device::start(tun, tunnel, device_cfg) {
        Ok(d) => d,
        Err(e) => {
            revert(&applied).await;
            return Err(e).context("cannot start the tunnel");
        }
    };

    let mut events = device.subscribe();
    let status_ctx = StatusContext {
        handle: device.handle(),
        label: loaded.label.clone(),
        public_key: public_key.to_string(),
        allowed_ips: loaded
            .config
            .peers
            .iter()
            .map(|p| {
                (
                    p.public_key.to_string(),
                    p.allowed_ips.iter().map(|n| n.to_string()).collect(),
                )
            })
            .collect(),
        started: SystemTime::now(),
    };
    let server = match StatusServer::start(&interface, status_ctx).await {
        Ok(s) => Some(s),
        Err(e) => {
            println!("warning: no status socket: {e:#}");
            None
        }
    };

    if loaded.hooks {
        if let Err(e) = run_hooks("PostUp", &iface_cfg.post_up, &interface) {
            teardown(device, &applied, server, &loaded, &interface).await;
            return Err(e);
        }
    }

    let peers = loaded.config.peers.len();
    let listen_port = device.listen_port();
    if args.json_events {
        emit_json(&serde_json::json!({
            "event": "up",
            "interface": interface,
            "listen_port": listen_port,
            "public_key": public_key.to_string(),
            "peers": peers,
        }));
    } else {
        say(&format!(
            "{interface} up: {} ({peers} peer{}), listening on UDP port {listen_port}, MTU {}; \
             Ctrl-C to disconnect",
            loaded.label,
            if peers == 1 { "" } else { "s" },
            applied.mtu,
        ));
    }

    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot watch SIGTERM")?;
    let mut sighup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .context("cannot watch SIGHUP")?;
    let mut connected: HashSet<[u8; 32]> = HashSet::new();
    let failure = loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break None,
            _ = sigterm.recv() => break None,
            _ = sighup.recv() => break None,
            ev = events.recv() => match ev {
                Ok(DeviceEvent::Stopped { error }) => break Some(error),
                Ok(ev) => report(&ev, args.json_events, &mut connected),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!("{n} events skipped");
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                    break Some("the device stopped".into());
                }
            },
        }
    };

    if args.json_events {
        emit_json(&serde_json::json!({"event": "down", "interface": interface}));
    } else {
        say(&format!("{interface}: disconnecting"));
    }
    teardown(device, &applied, server, &loaded, &interface).await;
    match failure {
        None => Ok(()),
        Some(error) => bail!("{interface}: {error}"),
    }
}

async fn teardown(
    device: Device,
    applied: &gatehouse_os::Applied,
    server: Option<StatusServer>,
    loaded: &Loaded,
    interface: &str,
) {
    if loaded.hooks {
        warn_hooks("PreDown", &loaded.config.interface.pre_down, interface);
    }
    if let Some(s) = server {
        s.stop();
    }
    device.shutdown().await;
    revert(applied).await;
    if loaded.hooks {
        warn_hooks("PostDown", &loaded.config.interface.post_down, interface);
    }
}

async fn revert(applied: &gatehouse_os::Applied) {
    if let Err(e) = applied.revert().await {
        println!("warning: some host changes could not be undone: {e}");
    }
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for `t` (UTC), so event lines can be timed from a log.
fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

/// Prints one line on stdout, prefixed with the time.
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{} {line}", rfc3339(SystemTime::now()));
    let _ = out.flush();
}

fn emit_json(v: &serde_json::Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}");
    let _ = out.flush();
}

fn key_str(k: &[u8; 32]) -> String {
    Key(*k).to_string()
}

/// Prints one event (text or JSON line). The first handshake with each peer is announced;
/// later ones (rekeys every two minutes) only after the peer went stale.
fn report(ev: &DeviceEvent, json: bool, connected: &mut HashSet<[u8; 32]>) {
    let (value, text): (serde_json::Value, Option<String>) = match ev {
        DeviceEvent::Tunnel(Event::HandshakeCompleted { peer }) => {
            let first = connected.insert(*peer);
            (
                serde_json::json!({"event": "handshake", "peer": key_str(peer), "first": first}),
                first
                    .then(|| format!("connected: handshake with peer {} completed", key_str(peer))),
            )
        }
        DeviceEvent::Tunnel(Event::PeerStale { peer }) => {
            connected.remove(peer);
            (
                serde_json::json!({"event": "peer_stale", "peer": key_str(peer)}),
                Some(format!(
                    "peer {}: no reply for too long, session dropped",
                    key_str(peer)
                )),
            )
        }
        DeviceEvent::Tunnel(Event::EndpointChanged { peer, from, to }) => (
            serde_json::json!({"event": "endpoint_changed", "peer": key_str(peer),
                "from": from.map(|a| a.to_string()), "to": to.to_string()}),
            from.map(|f| format!("peer {}: endpoint moved {f} -> {to}", key_str(peer))),
        ),
        DeviceEvent::Tunnel(Event::ResolveEndpoint { .. }) => return,
        DeviceEvent::Tunnel(Event::Error { peer, error }) => (
            serde_json::json!({"event": "peer_error", "peer": key_str(peer),
                "error": error.to_string()}),
            Some(format!("peer {}: {error}", key_str(peer))),
        ),
        DeviceEvent::EndpointResolved { peer, host, addr } => (
            serde_json::json!({"event": "endpoint_resolved", "peer": key_str(peer),
                "host": host, "addr": addr.to_string()}),
            Some(format!("peer {}: {host} is {addr}", key_str(peer))),
        ),
        DeviceEvent::ResolveFailed { peer, host, error } => (
            serde_json::json!({"event": "resolve_failed", "peer": key_str(peer),
                "host": host, "error": error}),
            Some(format!(
                "peer {}: cannot resolve {host}: {error}",
                key_str(peer)
            )),
        ),
        DeviceEvent::Stopped { error } => (
            serde_json::json!({"event": "stopped", "error": error}),
            Some(format!("stopped: {error}")),
        ),
    };
    if json {
        emit_json(&value);
    } else if let Some(t) = text {
        say(&t);
    }
}

// ---------------------------------------------------------------------------------------------
// Status: the socket served by `up`, and `status`.

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

struct StatusContext {
    handle: DeviceHandle,
    label: String,
    public_key: String,
    allowed_ips: BTreeMap<String, Vec<String>>,
    started: SystemTime,
}

impl StatusContext {
    fn status(&self) -> TunnelStatus {
        let stats = self.handle.stats();
        let now = gatehouse_tunnel::Instant::now();
        let peers = stats
            .peers
            .iter()
            .map(|p| {
                let key = key_str(&p.public_key);
                PeerStatus {
                    allowed_ips: self.allowed_ips.get(&key).cloned().unwrap_or_default(),
                    public_key: key,
                    endpoint: p.endpoint.map(|e| e.to_string()),
                    latest_handshake_secs: p
                        .last_handshake
                        .map(|t| now.saturating_duration_since(t).as_secs()),
                    rx_bytes: p.rx_bytes,
                    tx_bytes: p.tx_bytes,
                    rx_packets: p.rx_packets,
                    tx_packets: p.tx_packets,
                    handshake_attempts: p.handshake_attempts,
                }
            })
            .collect();
        TunnelStatus {
            interface: stats.interface,
            pid: std::process::id(),
            source: self.label.clone(),
            public_key: self.public_key.clone(),
            listen_port: stats.listen_port,
            uptime_secs: self.started.elapsed().map(|d| d.as_secs()).unwrap_or(0),
            peers,
            drops_total: stats.drops.total(),
            drops: stats
                .drops
                .iter()
                .filter(|(_, n)| *n > 0)
                .map(|(r, n)| (r.name().to_owned(), n))
                .collect(),
            io: serde_json::to_value(&stats.io).unwrap_or(serde_json::Value::Null),
        }
    }
}

/// The request `status` sends.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct StatusRequest {
    request: String,
}

/// The status socket of one interface; removed on [`StatusServer::stop`].
struct StatusServer {
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
    async fn start(interface: &str, ctx: StatusContext) -> anyhow::Result<StatusServer> {
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

    fn stop(self) {
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
        Ok(r) if r.request == "status" => serde_json::to_string(&ctx.status()),
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
    fn source_resolution() {
        assert_eq!(
            resolve_source("wg0.conf"),
            Source::File(PathBuf::from("wg0.conf"))
        );
        assert_eq!(
            resolve_source("/etc/wireguard/home"),
            Source::File(PathBuf::from("/etc/wireguard/home"))
        );
        assert_eq!(resolve_source("home"), Source::Profile("home".into()));
        let dir = std::env::temp_dir().join(format!("gh-src-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let file = dir.join("office");
        std::fs::write(&file, "").unwrap_or_else(|e| panic!("{e}"));
        let arg = file.to_string_lossy().into_owned();
        assert_eq!(resolve_source(&arg), Source::File(file.clone()));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn interface_names_follow_wg_quick() {
        let f = |s: &str| default_interface_name(&resolve_source(s));
        assert_eq!(f("/etc/wireguard/wg0.conf"), "wg0");
        assert_eq!(f("home"), "home");
        assert_eq!(f("a very long profile name.conf"), "gh%d");
        assert_eq!(f("/tmp/x%d.conf"), "gh%d");
    }

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

    fn config(text: &str) -> Config {
        gatehouse_profile::parse::parse(text, "test.conf").unwrap_or_else(|e| panic!("{e}"))
    }

    const CONF: &str = "[Interface]\n\
        PrivateKey = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\n\
        Address = 10.0.0.2/32\n\
        DNS = 10.0.0.1, corp.example\n\
        Table = off\n\
        PostUp = echo hi\n\
        \n\
        [Peer]\n\
        PublicKey = xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=\n\
        AllowedIPs = 10.0.0.0/24, fd00::/64\n\
        Endpoint = vpn.example.com:51820\n\
        PersistentKeepalive = 25\n\
        \n\
        [Peer]\n\
        PublicKey = TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0=\n\
        AllowedIPs = 192.168.1.0/24\n\
        Endpoint = 192.0.2.7:51820\n";

    #[test]
    fn tunnel_and_host_configs_from_a_profile() {
        let c = config(CONF);
        let t = tunnel_config(&c).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.peers.len(), 2);
        assert_eq!(
            t.peers[0].endpoint,
            Some(gatehouse_tunnel::Endpoint::Name {
                host: "vpn.example.com".into(),
                port: 51820
            })
        );
        assert_eq!(
            t.peers[1].endpoint,
            Some(gatehouse_tunnel::Endpoint::Addr(
                "192.0.2.7:51820".parse().unwrap_or_else(|_| unreachable!())
            ))
        );
        assert_eq!(t.peers[0].persistent_keepalive, Some(25));

        let h = host_config(
            &c,
            "wg9",
            vec!["192.0.2.7".parse().unwrap_or_else(|_| unreachable!())],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(h.interface, "wg9");
        assert_eq!(h.allowed_ips.len(), 3);
        assert_eq!(h.table, gatehouse_os::Table::Off);
        assert_eq!(h.dns.search, vec!["corp.example".to_string()]);
        assert_eq!(h.dns.servers.len(), 1);

        let mut no_key = c.clone();
        no_key.interface.private_key = None;
        let err = tunnel_config(&no_key).err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("PrivateKey")));
    }

    #[test]
    fn named_tables_resolve_or_fail_clearly() {
        let mut c = Config::default();
        c.interface.table = Some(gatehouse_profile::Table::Named("no-such-table-xyz".into()));
        let err = host_config(&c, "wg9", vec![]).err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("no-such-table-xyz")));
        c.interface.table = Some(gatehouse_profile::Table::Id(7));
        let ok = host_config(&c, "wg9", vec![]).map(|h| h.table).ok();
        assert_eq!(ok, Some(gatehouse_os::Table::Id(7)));
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
    fn timestamps_are_rfc3339_utc() {
        let t = std::time::UNIX_EPOCH + Duration::from_millis(1_795_667_445_123);
        assert_eq!(rfc3339(t), "2026-11-26T04:30:45.123Z");
        assert_eq!(rfc3339(std::time::UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let leap = std::time::UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn human_formats() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1536), "1.50 KiB");
        assert_eq!(human_age(61), "1 min 1 s ago");
        assert_eq!(human_age(7260), "2 h 1 min ago");
    }
}
