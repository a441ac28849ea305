//! The no-root driver of the engine: the userspace network stack (SOCKS5/HTTP proxy and port
//! forwards on loopback). Nothing on the host changes, so nothing is journaled.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use gatehouse_ipc::{ErrorKind, ErrorReply};
use gatehouse_netstack::{Netstack, NetstackOptions};
use gatehouse_profile::Config;
use ipnet::IpNet;

use super::{err, host, Brought, Link, Teardown, NO_ROOT_INTERFACE};

/// Starts the stack for `config` (with its keys).
pub(super) async fn up(
    name: &str,
    config: &Config,
    options: NetstackOptions,
) -> Result<Brought, ErrorReply> {
    let ns = Netstack::start(config, options)
        .await
        .map_err(|e| err(ErrorKind::Failed, format!("{name}: {e}")))?;
    let ns = Arc::new(ns);
    let mut served = Vec::new();
    if let Some(a) = ns.socks_addr() {
        served.push(format!("SOCKS5 on {a}"));
    }
    if let Some(a) = ns.http_addr() {
        served.push(format!("HTTP proxy on {a}"));
    }
    for f in ns.forwards() {
        served.push(format!("forward {} -> {}", f.local, f.target));
    }
    let peers = config.peers.len();
    let summary = format!(
        "no-root stack up ({peers} peer{}){}{}",
        if peers == 1 { "" } else { "s" },
        if served.is_empty() { "" } else { ": " },
        served.join(", ")
    );
    Ok((
        NO_ROOT_INTERFACE.to_owned(),
        Link::NoRoot(ns),
        Teardown::NoRoot,
        None,
        summary,
    ))
}

/// Stops the stack: at once when nobody else holds it, else when the last holder (a scan, a
/// forward being opened) lets go.
pub(super) async fn down(ns: Arc<Netstack>) {
    if let Ok(ns) = Arc::try_unwrap(ns) {
        ns.shutdown().await;
    }
}

/// Starts a handshake: a connection attempt to an address inside the tunnel (its SYN is the
/// first packet the core must encrypt).
pub(super) fn nudge(ns: Arc<Netstack>, allowed: &[IpNet]) {
    let Some(net) = allowed.first() else { return };
    let target = SocketAddr::new(host::probe_target(net), 9);
    tokio::spawn(async move {
        let _ = tokio::time::timeout(Duration::from_secs(2), ns.connect_tcp(target)).await;
    });
}
