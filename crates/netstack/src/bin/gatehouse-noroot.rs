//! `gatehouse-noroot`: the no-root client on its own, for tests and benchmarks (the product
//! entry point is `gatehouse up --no-root`, which calls the same [`Netstack`] API).
//!
//! ```text
//! gatehouse-noroot CONF [--socks ADDR|off] [--http ADDR|off] [--forward SPEC]...
//!                  [--max-connections N] [--idle-timeout SECS] [--handshake-timeout SECS]
//!                  [--stats-every SECS]
//! ```
//!
//! Prints `socks5 ADDR`, `http ADDR` and `forward PROTO LOCAL TARGET` lines once listening,
//! then `ready`; runs until SIGINT/SIGTERM; `--stats-every` prints a stats line periodically.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use gatehouse_netstack::{ForwardSpec, Netstack, NetstackOptions, Protocol};

fn usage() -> &'static str {
    "usage: gatehouse-noroot CONF [--socks ADDR|off] [--http ADDR|off] [--forward [udp/]LISTEN=HOST:PORT]... \
     [--max-connections N] [--idle-timeout SECS] [--handshake-timeout SECS] [--stats-every SECS]"
}

fn parse_addr(v: &str) -> anyhow::Result<Option<SocketAddr>> {
    if v == "off" {
        return Ok(None);
    }
    Ok(Some(
        v.parse().with_context(|| format!("{v}: not addr:port"))?,
    ))
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut conf: Option<PathBuf> = None;
    let mut options = NetstackOptions::default();
    let mut stats_every: Option<Duration> = None;
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().with_context(|| format!("{name} needs a value"));
        match a.as_str() {
            "--socks" => options.socks_addr = parse_addr(&value("--socks")?)?,
            "--http" => options.http_addr = parse_addr(&value("--http")?)?,
            "--forward" => {
                let v = value("--forward")?;
                let spec: ForwardSpec = v.parse().with_context(|| format!("--forward {v}"))?;
                options.forwards.push(spec);
            }
            "--max-connections" => {
                options.max_connections = value("--max-connections")?
                    .parse()
                    .context("--max-connections: not a number")?
            }
            "--idle-timeout" => {
                options.idle_timeout = Duration::from_secs(
                    value("--idle-timeout")?
                        .parse()
                        .context("--idle-timeout: not a number of seconds")?,
                )
            }
            "--handshake-timeout" => {
                options.handshake_timeout = Duration::from_secs(
                    value("--handshake-timeout")?
                        .parse()
                        .context("--handshake-timeout: not a number of seconds")?,
                )
            }
            "--stats-every" => {
                stats_every = Some(Duration::from_secs(
                    value("--stats-every")?
                        .parse()
                        .context("--stats-every: not a number of seconds")?,
                ))
            }
            "-h" | "--help" => {
                println!("{}", usage());
                return Ok(());
            }
            other if conf.is_none() && !other.starts_with('-') => conf = Some(PathBuf::from(other)),
            other => bail!("unexpected argument {other}\n{}", usage()),
        }
    }
    let Some(conf) = conf else {
        bail!("{}", usage());
    };
    let config = gatehouse_profile::parse::parse_file(&conf)?;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("GATEHOUSE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("tokio runtime")?;
    rt.block_on(async move {
        let ns = Netstack::start(&config, options).await?;
        if let Some(a) = ns.socks_addr() {
            println!("socks5 {a}");
        }
        if let Some(a) = ns.http_addr() {
            println!("http {a}");
        }
        for f in ns.forwards() {
            let proto = match f.protocol {
                Protocol::Tcp => "tcp",
                Protocol::Udp => "udp",
            };
            println!("forward {proto} {} {}", f.local, f.target);
        }
        println!("ready");
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("SIGTERM handler")?;
        let mut ticker = stats_every.map(tokio::time::interval);
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                _ = term.recv() => break,
                _ = async {
                    match ticker.as_mut() {
                        Some(t) => { t.tick().await; }
                        None => std::future::pending::<()>().await,
                    }
                } => {
                    let s = ns.stats();
                    println!(
                        "stats clients={} refused={} bad={} tcp={} opened={} failed={} idle_closed={} up={} down={} rx_dropped={}",
                        s.clients_active, s.clients_refused, s.clients_bad_request, s.tcp_active,
                        s.tcp_opened, s.tcp_failed, s.tcp_idle_closed, s.bytes_to_tunnel,
                        s.bytes_from_tunnel, s.stack_rx_dropped
                    );
                }
            }
        }
        ns.shutdown().await;
        anyhow::Ok(())
    })
}
