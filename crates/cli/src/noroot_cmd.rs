//! `gatehouse up --no-root`: the profile's tunnel through the userspace network stack
//! (`gatehouse-netstack`): no TUN device, no root. Serves a SOCKS5 and an HTTP proxy and port
//! forwards on 127.0.0.1 until Ctrl-C / SIGTERM.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use gatehouse_netstack::{ForwardSpec, Netstack, NetstackOptions, Protocol};
use gatehouse_profile::Config;

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

/// Runs the no-root client for `config` (with its keys) until Ctrl-C / SIGTERM.
pub fn run(config: Config, label: &str, args: &NoRootArgs) -> anyhow::Result<()> {
    let options = NetstackOptions {
        socks_addr: args.socks.0,
        http_addr: args.http.0,
        forwards: args.forwards.clone(),
        max_connections: args.max_connections,
        idle_timeout: Duration::from_secs(args.idle_timeout.max(1)),
        ..NetstackOptions::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let ns = Netstack::start(&config, options)
            .await
            .with_context(|| format!("{label}: starting the no-root client"))?;
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
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("installing the SIGTERM handler")?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.context("waiting for Ctrl-C")?,
            _ = term.recv() => {}
        }
        let s = ns.stats();
        println!(
            "{label}: down ({} connections opened, {} bytes sent, {} received)",
            s.tcp_opened, s.bytes_to_tunnel, s.bytes_from_tunnel
        );
        ns.shutdown().await;
        anyhow::Ok(())
    })
}
