//! `gatehouse up --no-root`: the profile's tunnel through the userspace network stack
//! (the session engine's no-root driver): no TUN device, no root. Serves a SOCKS5 and an HTTP proxy and port
//! forwards on 127.0.0.1 until Ctrl-C / SIGTERM.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use gatehouse_netstack::{ForwardSpec, NetstackOptions, Protocol};
use gatehouse_session::engine::{Driver, LinkStats};
use gatehouse_session::{Engine, EngineOptions};

use crate::up_cmd::{follow, Loaded, Printer};

/// Options of the no-root mode (flattened into `gatehouse up`).
#[derive(clap::Args, Debug, Clone)]
pub struct NoRootArgs {
    /// With --no-root: the SOCKS5 proxy's address ("off": none).
    #[arg(long, default_value = "127.0.0.1:1080", value_parser = parse_listen)]
    pub socks: Listen,
    /// With --no-root: the HTTP proxy's address ("off": none).
    #[arg(long, default_value = "127.0.0.1:8118", value_parser = parse_listen)]
    pub http: Listen,
    /// With --no-root: a port forward `[udp/]LISTEN=HOST:PORT` (LISTEN a port on 127.0.0.1 or
    /// addr:port; HOST a private address or a name resolved by the profile's DNS). Repeatable.
    #[arg(long = "forward", value_name = "SPEC")]
    pub forwards: Vec<ForwardSpec>,
    /// With --no-root: at most this many client connections at once.
    #[arg(long, default_value_t = 2048)]
    pub max_connections: usize,
    /// With --no-root: close connections idle for this many seconds.
    #[arg(long, default_value_t = 300)]
    pub idle_timeout: u64,
}

/// A listening address, or none.
#[derive(Debug, Clone, Copy)]
pub struct Listen(pub Option<SocketAddr>);

fn parse_listen(s: &str) -> Result<Listen, String> {
    if s == "off" {
        return Ok(Listen(None));
    }
    s.parse()
        .map(|a| Listen(Some(a)))
        .map_err(|_| format!("{s}: expected addr:port or off"))
}

/// Runs the no-root client for a loaded profile (with its keys) on the session's engine until
/// Ctrl-C / SIGTERM, printing its events.
pub fn run(loaded: Loaded, args: &NoRootArgs, json_events: bool) -> anyhow::Result<()> {
    let options = NetstackOptions {
        socks_addr: args.socks.0,
        http_addr: args.http.0,
        forwards: args.forwards.clone(),
        max_connections: args.max_connections,
        idle_timeout: Duration::from_secs(args.idle_timeout.max(1)),
        ..NetstackOptions::default()
    };
    let label = loaded.label.clone();
    crate::up_cmd::runtime()?.block_on(async {
        // Nothing on the host changes: the engine's journal stays empty, in the run directory.
        let engine = Engine::new(EngineOptions::new(crate::status_cmd::run_dir()))
            .map_err(|e| anyhow::anyhow!("{label}: {e}"))?;
        let mut events = engine.subscribe(1024);
        let req = gatehouse_session::convert::connect_request(&loaded.name, &loaded.config, false)
            .map_err(|e| anyhow::anyhow!("{label}: {}", e.message))?;
        engine
            .connect_with(req, Driver::NoRoot(options))
            .await
            .map_err(|e| anyhow::anyhow!("{label}: starting the no-root client: {}", e.message))?;
        let ns = engine
            .netstack(&loaded.name)
            .context("the no-root stack stopped at once")?;
        println!("{label}: up without root (userspace network stack, no TUN)");
        if let Some(a) = ns.socks_addr() {
            println!("  SOCKS5 proxy  {a}   e.g. curl --socks5-hostname {a} http://HOST/");
        }
        if let Some(a) = ns.http_addr() {
            println!("  HTTP proxy    {a}   e.g. curl --proxy http://{a} http://HOST/");
        }
        for f in ns.forwards() {
            let proto = match f.protocol {
                Protocol::Tcp => "tcp",
                Protocol::Udp => "udp",
            };
            println!("  forward {proto}   {} → {}", f.local, f.target);
        }
        println!("Ctrl-C disconnects.");
        drop(ns);
        let mut out = Printer::new(json_events);
        let failure = follow(&engine, &loaded.name, &mut events, &mut out).await?;
        if let Some(LinkStats::NoRoot(s)) = engine.stats(&loaded.name) {
            println!(
                "{label}: down ({} connections opened, {} bytes sent, {} received)",
                s.tcp_opened, s.bytes_to_tunnel, s.bytes_from_tunnel
            );
        }
        engine.shutdown().await;
        match failure {
            None => anyhow::Ok(()),
            Some(why) => anyhow::bail!("{label}: {why}"),
        }
    })
}
