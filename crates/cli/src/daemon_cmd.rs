//! `gatehouse daemon` (the privileged service), its client side, and `gatehouse down`.
//!
//! `gatehouse daemon` serves the session API on a Unix socket (see `gatehouse-daemon`).
//! `gatehouse daemon connect PROFILE|FILE.conf` and `gatehouse daemon status` talk to it through
//! `gatehouse-session` (the keys are read here, from the keyring or the file, and handed over
//! per connect); `gatehouse down NAME` disconnects.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use gatehouse_ipc::{ConnectionState, Event};
use gatehouse_session::{Session, SessionError};

/// The default state directory of the service.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/gatehouse";

/// Arguments of `gatehouse daemon`.
#[derive(clap::Args)]
pub struct DaemonArgs {
    /// Talk to the running service instead of serving (see `gatehouse daemon help`).
    #[command(subcommand)]
    pub action: Option<DaemonAction>,
    /// The Unix socket.
    #[arg(long, env = "GATEHOUSE_SOCKET", default_value = gatehouse_ipc::DEFAULT_SOCKET, global = true)]
    pub socket: PathBuf,
    /// Journal of host changes and DNS backups (serving only).
    #[arg(long, default_value = DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
    /// The group whose members may use the service besides root (serving only).
    #[arg(long, default_value = gatehouse_ipc::GROUP)]
    pub group: String,
    /// Seconds of traffic without reply or handshake before a connection is Stale (tests).
    #[arg(long, default_value_t = 180, hide = true)]
    pub stale_after: u64,
}

/// Client-side actions of `gatehouse daemon`.
#[derive(clap::Subcommand)]
pub enum DaemonAction {
    /// Connect a saved profile or a .conf file through the running service, then return.
    Connect(ConnectArgs),
    /// The tunnels the running service owns.
    Status(ServiceStatusArgs),
}

/// Arguments of `gatehouse daemon connect`.
#[derive(clap::Args)]
pub struct ConnectArgs {
    /// A saved profile (name or id), or the path of a wg-quick `.conf` file.
    pub profile: String,
    /// Block all traffic outside the tunnel while connecting and connected (full-tunnel
    /// profiles only).
    #[arg(long)]
    pub kill_switch: bool,
    /// Wait up to this many seconds for the first handshake (0: return at once).
    #[arg(long, default_value_t = 0)]
    pub wait: u64,
}

/// Arguments of `gatehouse daemon status`.
#[derive(clap::Args)]
pub struct ServiceStatusArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `gatehouse down`.
#[derive(clap::Args)]
pub struct DownArgs {
    /// The profile name given at connect (for a file: its name without `.conf`).
    pub name: String,
    /// The service's Unix socket.
    #[arg(long, env = "GATEHOUSE_SOCKET", default_value = gatehouse_ipc::DEFAULT_SOCKET)]
    pub socket: PathBuf,
}

fn init_tracing(default: &str) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default)),
        )
        .with_writer(std::io::stderr)
        .try_init();
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// A long-running service that starts two driver threads with multi-megabyte batch buffers per
/// tunnel. glibc would give each new thread its own malloc arena (up to 8 per core) and, once a
/// large buffer has been freed, raise its mmap threshold so later buffers land in an arena that
/// keeps the pages: the daemon's memory would step up with connects for a while. Two arenas and a
/// fixed threshold (large buffers are mapped and returned to the kernel on free) keep it flat.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; called before any other thread starts.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
    }
}

/// Runs `gatehouse daemon`.
pub fn run(args: DaemonArgs) -> anyhow::Result<()> {
    match args.action {
        Some(DaemonAction::Connect(c)) => return connect(&args.socket, c),
        Some(DaemonAction::Status(s)) => return status(&args.socket, s),
        None => {}
    }
    init_tracing("info");
    limit_malloc_arenas();
    if euid() != 0 {
        bail!(
            "gatehouse daemon needs root (it creates interfaces, routes and firewall rules); \
             install it as a service with `sudo gatehouse service install`"
        );
    }
    let opts = gatehouse_daemon::DaemonOptions {
        group: args.group.clone(),
        machine: gatehouse_session::machine::MachineConfig {
            stale_after: Duration::from_secs(args.stale_after.max(1)),
            ..Default::default()
        },
        ..gatehouse_daemon::DaemonOptions::new(args.socket.clone(), args.state_dir.clone())
    };
    runtime()?.block_on(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("cannot watch SIGTERM")?;
        let shutdown = async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        };
        gatehouse_daemon::run(opts, shutdown)
            .await
            .context("gatehouse daemon")
    })
}

fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// The profile name and config of a saved profile or `.conf` file, with keys.
fn load(arg: &str) -> anyhow::Result<(String, gatehouse_profile::Config)> {
    let path = Path::new(arg);
    if arg.ends_with(".conf") || arg.contains('/') || path.is_file() {
        let config = gatehouse_profile::parse::parse_file(path)?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| arg.to_owned());
        return Ok((name, config));
    }
    let mut store =
        gatehouse_profile::store::Store::open_default().context("cannot open the profile store")?;
    let profile = store
        .load(arg, true)
        .with_context(|| format!("cannot load profile {arg:?} with its keys"))?;
    Ok((profile.info.name, profile.config))
}

fn refused(e: SessionError) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

/// True when a Gatehouse service answers the handshake on `socket` (within 2 s).
pub fn service_answers(socket: &Path) -> bool {
    if !socket.exists() {
        return false;
    }
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return false;
    };
    rt.block_on(async {
        matches!(
            tokio::time::timeout(Duration::from_secs(2), Session::daemon(socket)).await,
            Ok(Ok(_))
        )
    })
}

/// The service's tunnels, when it answers on `socket`.
pub fn service_status(socket: &Path) -> Option<gatehouse_ipc::StatusReport> {
    if !socket.exists() {
        return None;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    rt.block_on(async {
        let session = tokio::time::timeout(Duration::from_secs(2), Session::daemon(socket))
            .await
            .ok()?
            .ok()?;
        session.status().await.ok()
    })
}

/// `gatehouse up` through the service: connect `profile` and wait up to `wait` seconds for
/// the handshake.
pub fn connect_through(
    socket: &Path,
    profile: &str,
    kill_switch: bool,
    wait: u64,
) -> anyhow::Result<()> {
    connect(
        socket,
        ConnectArgs {
            profile: profile.to_owned(),
            kill_switch,
            wait,
        },
    )
}

fn connect(socket: &Path, args: ConnectArgs) -> anyhow::Result<()> {
    let (name, config) = load(&args.profile)?;
    if config.interface.has_hooks() {
        println!(
            "note: {name}: PreUp/PostUp/PreDown/PostDown commands are never run by the service"
        );
    }
    let req = gatehouse_session::convert::connect_request(&name, &config, args.kill_switch)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    drop(config);
    runtime()?.block_on(async move {
        let session = Session::daemon(socket).await.map_err(refused)?;
        let mut events = if args.wait > 0 {
            Some(session.subscribe().await.map_err(refused)?)
        } else {
            None
        };
        let interface = session.connect(req).await.map_err(refused)?;
        println!("{name} up on {interface} (through the Gatehouse service)");
        let Some(events) = events.as_mut() else {
            return Ok(());
        };
        let wait = async {
            while let Some(frame) = events.recv().await.map_err(refused)? {
                if let Event::State { name: n, state } = frame.event {
                    if n != name {
                        continue;
                    }
                    match state {
                        ConnectionState::Connected => {
                            println!("{name}: connected (handshake completed)");
                            return Ok(());
                        }
                        ConnectionState::Error { message } => bail!("{name}: {message}"),
                        other => println!("{name}: {other}"),
                    }
                }
            }
            bail!("the service closed the event stream")
        };
        match tokio::time::timeout(Duration::from_secs(args.wait), wait).await {
            Ok(r) => r,
            Err(_) => bail!(
                "{name}: no handshake within {} s (still trying; `gatehouse down {name}` stops it)",
                args.wait
            ),
        }
    })
}

fn status(socket: &Path, args: ServiceStatusArgs) -> anyhow::Result<()> {
    let report = runtime()?.block_on(async {
        let session = Session::daemon(socket).await.map_err(refused)?;
        session.status().await.map_err(refused)
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    if report.tunnels.is_empty() {
        println!("no tunnel is running");
    }
    print!("{}", render_service(&report));
    Ok(())
}

/// The text of a service status report.
pub fn render_service(report: &gatehouse_ipc::StatusReport) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for t in &report.tunnels {
        let _ = writeln!(
            out,
            "{}: {} on {} (port {}, up {} s{})",
            t.name,
            t.state,
            t.interface,
            t.listen_port,
            t.uptime_secs,
            if t.kill_switch {
                ", kill switch on"
            } else {
                ""
            }
        );
        for p in &t.peers {
            let hs = p
                .latest_handshake_secs
                .map_or("none yet".to_owned(), |s| format!("{s} s ago"));
            let _ = writeln!(
                out,
                "  peer {}: endpoint {}, handshake {hs}, {} B received, {} B sent",
                p.public_key,
                p.endpoint.as_deref().unwrap_or("(none)"),
                p.rx_bytes,
                p.tx_bytes
            );
        }
    }
    out
}

/// Runs `gatehouse down NAME`.
pub fn down(args: DownArgs) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let session = match Session::daemon(&args.socket).await {
            Ok(s) => s,
            Err(SessionError::Unreachable { socket, source }) => bail!(
                "no Gatehouse service answers at {} ({source}); a tunnel started in the \
                 foreground with `gatehouse up` stops with Ctrl-C",
                socket.display()
            ),
            Err(e) => return Err(refused(e)),
        };
        session.disconnect(&args.name).await.map_err(refused)?;
        println!("{} down", args.name);
        Ok(())
    })
}
