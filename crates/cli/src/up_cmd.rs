//! `gatehouse up`: hands the profile to the Gatehouse service when it answers, else runs it in
//! this process on the session's engine — on a TUN device as root (journaled where the service
//! journals, so a killed `up` is undone by the next `gatehouse daemon` or `gatehouse up`), or
//! on the no-root stack with `--no-root`. This module parses, loads and prints; the engine
//! runs the connection.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{bail, Context};
use gatehouse_profile::Config;
use gatehouse_session::engine::Driver;
use gatehouse_session::{ConnectionState, Engine, EngineOptions, Event, Subscription};

use crate::status_cmd::{StatusContext, StatusServer};

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
    /// profiles).
    #[arg(long)]
    pub kill_switch: bool,
    /// The Gatehouse service's socket: when it answers, `up` hands the profile to the service
    /// and returns (`gatehouse down NAME` disconnects).
    #[arg(long, env = "GATEHOUSE_SOCKET", default_value = gatehouse_ipc::DEFAULT_SOCKET)]
    pub socket: PathBuf,
    /// Where a foreground tunnel journals its host changes: the service's state directory, so
    /// whichever starts next undoes what a killed one left.
    #[arg(long, env = "GATEHOUSE_STATE_DIR", default_value = crate::daemon_cmd::DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
    /// Without root: no TUN; reach the private network through a SOCKS5/HTTP proxy and port
    /// forwards on 127.0.0.1 (userspace network stack).
    #[arg(long)]
    pub no_root: bool,
    #[command(flatten)]
    pub noroot: crate::noroot_cmd::NoRootArgs,
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
    let stem = stem(source);
    if gatehouse_device::valid_interface_name(&stem) && !stem.contains('%') {
        stem
    } else {
        "gh%d".to_owned()
    }
}

fn stem(source: &Source) -> String {
    match source {
        Source::File(p) => p
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        Source::Profile(n) => n.clone(),
    }
}

/// Everything `up` needs from a profile or file.
pub struct Loaded {
    /// The configuration with its keys.
    pub config: Config,
    /// What to call it in messages and status (profile name or file path).
    pub label: String,
    /// The connection's name in the engine (the profile name, or the file's stem).
    pub name: String,
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
            let name = Some(stem(source))
                .filter(|s| !s.is_empty() && s.len() <= 64)
                .unwrap_or_else(|| "gatehouse".into());
            Ok(Loaded {
                config,
                label: path.display().to_string(),
                name,
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
                name: profile.info.name.clone(),
                label: profile.info.name,
                hooks,
            })
        }
    }
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
    crate::init_tracing();

    let source = resolve_source(&args.profile);
    if args.no_root {
        let loaded = load(&source)?;
        return crate::noroot_cmd::run(loaded, &args.noroot, args.json_events);
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
    let loaded = load(&source)?;
    let interface = args
        .name
        .clone()
        .unwrap_or_else(|| default_interface_name(&source));
    runtime()?.block_on(run_tun(args, loaded, interface))
}

/// The runtime of a foreground connection.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn needs_root(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!(
        "{e}\ngatehouse up needs root (CAP_NET_ADMIN) to create the interface and its routes: \
         run it with sudo"
    )
}

/// The engine of a foreground connection, after undoing what a killed one left behind.
pub async fn engine(state_dir: &Path) -> anyhow::Result<Engine> {
    let engine = Engine::new(EngineOptions::new(state_dir.to_path_buf())).map_err(|e| {
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            needs_root(e)
        } else {
            anyhow::anyhow!("{e}")
        }
    })?;
    let rec = engine.recover().await;
    for name in &rec.replayed {
        println!("note: undid the host changes {name} left behind (a run that was killed)");
    }
    for f in &rec.failures {
        println!("warning: journal recovery: {f}");
    }
    Ok(engine)
}

async fn run_tun(args: UpArgs, loaded: Loaded, interface: String) -> anyhow::Result<()> {
    let iface = &loaded.config.interface;
    if loaded.hooks {
        run_hooks("PreUp", &iface.pre_up, &interface)?;
    }
    let engine = engine(&args.state_dir).await?;
    let mut events = engine.subscribe(1024);
    let mut req =
        gatehouse_session::convert::connect_request(&loaded.name, &loaded.config, args.kill_switch)
            .map_err(|e| anyhow::anyhow!("{}: {}", loaded.label, e.message))?;
    req.interface = Some(interface);
    let interface = engine
        .connect_with(req, Driver::Tun)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    let ctx = StatusContext {
        engine: engine.clone(),
        name: loaded.name.clone(),
        label: loaded.label.clone(),
    };
    let server = match StatusServer::start(&interface, ctx).await {
        Ok(s) => Some(s),
        Err(e) => {
            println!("warning: no status socket: {e:#}");
            None
        }
    };
    let down = |server: Option<StatusServer>| async {
        if loaded.hooks {
            warn_hooks("PreDown", &iface.pre_down, &interface);
        }
        if let Some(s) = server {
            s.stop();
        }
        let _ = engine.disconnect(&loaded.name).await;
        if loaded.hooks {
            warn_hooks("PostDown", &iface.post_down, &interface);
        }
    };
    if loaded.hooks {
        if let Err(e) = run_hooks("PostUp", &iface.post_up, &interface) {
            down(server).await;
            return Err(e);
        }
    }
    let status = engine.status();
    let t = status.tunnels.iter().find(|t| t.name == loaded.name);
    let listen_port = t.map_or(0, |t| t.listen_port);
    let peers = loaded.config.peers.len();
    let mut out = Printer::new(args.json_events);
    if args.json_events {
        out.json(&serde_json::json!({
            "event": "up",
            "interface": interface,
            "listen_port": listen_port,
            "public_key": t.map(|t| t.public_key.clone()),
            "peers": peers,
        }));
    } else {
        out.say(&format!(
            "{interface} up: {} ({peers} peer{}), listening on UDP port {listen_port}, MTU {}; \
             Ctrl-C to disconnect",
            loaded.label,
            if peers == 1 { "" } else { "s" },
            iface.mtu.unwrap_or(gatehouse_device::DEFAULT_MTU),
        ));
    }
    let failure = follow(&engine, &loaded.name, &mut events, &mut out).await?;
    if args.json_events {
        out.json(&serde_json::json!({"event": "down", "interface": interface}));
    } else {
        out.say(&format!("{interface}: disconnecting"));
    }
    down(server).await;
    match failure {
        None => Ok(()),
        Some(error) => bail!("{interface}: {error}"),
    }
}

/// Prints the engine's events for one connection until Ctrl-C, SIGTERM or SIGHUP (`None`), or
/// until the connection fails or goes down on its own (`Some(why)`).
pub async fn follow(
    engine: &Engine,
    name: &str,
    events: &mut Subscription,
    out: &mut Printer,
) -> anyhow::Result<Option<String>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut sigterm = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut sighup = signal(SignalKind::hangup()).context("cannot watch SIGHUP")?;
    loop {
        let frame = tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(None),
            _ = sigterm.recv() => return Ok(None),
            _ = sighup.recv() => return Ok(None),
            frame = events.recv() => frame,
        };
        let Some(frame) = frame else {
            return Ok(Some("the engine's events ended".into()));
        };
        match frame.event {
            Event::State { name: n, state } if n == name => {
                out.state(engine, name, &state);
                match state {
                    ConnectionState::Error { message } => return Ok(Some(message)),
                    ConnectionState::Disconnected => {
                        return Ok(Some("the tunnel went down".into()))
                    }
                    _ => {}
                }
            }
            Event::Log {
                name: n,
                level,
                message,
            } if n.as_deref() == Some(name) => out.log(level, &message),
            Event::Stats {
                name: n,
                rx_bytes,
                tx_bytes,
                latest_handshake_secs,
            } if n == name && out.json_mode => out.json(&serde_json::json!({
                "event": "stats", "rx_bytes": rx_bytes, "tx_bytes": tx_bytes,
                "latest_handshake_secs": latest_handshake_secs,
            })),
            _ => {}
        }
    }
}

/// Prints a foreground connection's events: text lines with their time, or JSON lines.
pub struct Printer {
    json_mode: bool,
    /// Peers whose handshake was announced.
    announced: HashSet<String>,
}

impl Printer {
    /// Text (`false`) or JSON lines (`true`).
    pub fn new(json_mode: bool) -> Printer {
        Printer {
            json_mode,
            announced: HashSet::new(),
        }
    }

    /// One text line, prefixed with the time (UTC, RFC 3339).
    pub fn say(&mut self, line: &str) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{} {line}", rfc3339(SystemTime::now()));
        let _ = out.flush();
    }

    /// One JSON line.
    pub fn json(&mut self, v: &serde_json::Value) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{v}");
        let _ = out.flush();
    }

    fn log(&mut self, level: gatehouse_ipc::LogLevel, message: &str) {
        if self.json_mode {
            self.json(&serde_json::json!({"event": "log", "level": level, "message": message}));
        } else {
            self.say(message);
        }
    }

    /// A state change. Connected names the peers whose first handshake completed (later
    /// rekeys are not announced; a peer is again after the connection went stale).
    fn state(&mut self, engine: &Engine, name: &str, state: &ConnectionState) {
        if self.json_mode {
            self.json(&serde_json::json!({"event": "state", "state": state}));
        }
        match state {
            ConnectionState::Connected => {
                let status = engine.status();
                let fresh: Vec<String> = status
                    .tunnels
                    .iter()
                    .filter(|t| t.name == name)
                    .flat_map(|t| t.peers.iter())
                    .filter(|p| p.latest_handshake_secs.is_some())
                    .map(|p| p.public_key.clone())
                    .filter(|k| self.announced.insert(k.clone()))
                    .collect();
                for peer in fresh {
                    if self.json_mode {
                        self.json(
                            &serde_json::json!({"event": "handshake", "peer": peer, "first": true}),
                        );
                    } else {
                        self.say(&format!("connected: handshake with peer {peer} completed"));
                    }
                }
            }
            ConnectionState::Stale { reason } => {
                self.announced.clear();
                if !self.json_mode {
                    self.say(&format!("stale: {reason}"));
                }
            }
            ConnectionState::Error { message } if !self.json_mode => {
                self.say(&format!("failed: {message}"))
            }
            _ => {}
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for `t` (UTC), so event lines can be timed from a log.
fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

#[cfg(test)]
mod tests;
