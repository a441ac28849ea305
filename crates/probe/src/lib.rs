//! The prober's driver: it moves bytes and time for the sans-IO prober of `gatehouse-vpc`
//! ([`gatehouse_vpc::probe`]): the scheduler decides what starts when, the port plan what to send,
//! the fingerprint classifier what the answer means. This crate only connects, writes, reads
//! and waits.
//!
//! The path into the network is a [`Dialer`]: OS sockets (TUN mode: the kernel routes private
//! addresses into the tunnel), or the no-root userspace stack ([`gatehouse_netstack::Netstack`]),
//! which opens each connection inside the tunnel itself.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gatehouse_netstack::{ConnectError, Netstack, TcpPipe};
use gatehouse_vpc::model::{Protocol, Topology};
use gatehouse_vpc::probe::fingerprint::{self, Request, MAX_READ};
use gatehouse_vpc::probe::{
    self as core, targets, Limits, Outcome, ProbeResult, Scheduler, Target,
};
use gatehouse_vpc::reach::{Analyzer, VpnHint};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

/// How probes reach the network.
#[derive(Clone)]
pub enum Dialer {
    /// The host's own sockets (TUN mode, a connected service, or plain LAN access).
    Os,
    /// The no-root userspace stack: connections open inside the tunnel.
    Tunnel(Arc<Netstack>),
}

impl std::fmt::Debug for Dialer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Dialer::Os => f.write_str("Dialer::Os"),
            Dialer::Tunnel(_) => f.write_str("Dialer::Tunnel"),
        }
    }
}

/// A connection opened by a [`Dialer`].
enum Stream {
    Os(TcpStream),
    Tunnel(TcpPipe),
}

/// Why a connection could not be opened.
enum DialError {
    Refused,
    TimedOut,
    Unreachable,
    Other(String),
}

impl Dialer {
    async fn connect(&self, addr: SocketAddr) -> Result<Stream, DialError> {
        match self {
            Dialer::Os => match TcpStream::connect(addr).await {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    Ok(Stream::Os(s))
                }
                Err(e) => Err(match e.kind() {
                    io::ErrorKind::ConnectionRefused => DialError::Refused,
                    io::ErrorKind::NetworkUnreachable | io::ErrorKind::HostUnreachable => {
                        DialError::Unreachable
                    }
                    _ => DialError::Other(e.to_string()),
                }),
            },
            Dialer::Tunnel(ns) => match ns.connect_tcp(addr).await {
                Ok(p) => Ok(Stream::Tunnel(p)),
                Err(ConnectError::Refused) => Err(DialError::Refused),
                Err(ConnectError::Unreachable) => Err(DialError::Unreachable),
                // The stack's own connect timeout: the host never answered.
                Err(ConnectError::TimedOut) => Err(DialError::TimedOut),
                Err(e @ ConnectError::Stopped) => Err(DialError::Other(e.to_string())),
            },
        }
    }
}

impl Stream {
    async fn write_all(&mut self, bytes: &[u8]) -> bool {
        match self {
            Stream::Os(s) => s.write_all(bytes).await.is_ok(),
            Stream::Tunnel(p) => p.send(bytes).await.is_ok(),
        }
    }

    /// Appends what arrives next to `buf`; false at end of stream (or an error).
    async fn read_more(&mut self, buf: &mut Vec<u8>) -> bool {
        match self {
            Stream::Os(s) => {
                let mut chunk = [0u8; 4096];
                match s.read(&mut chunk).await {
                    Ok(0) | Err(_) => false,
                    Ok(n) => {
                        buf.extend_from_slice(&chunk[..n]);
                        true
                    }
                }
            }
            Stream::Tunnel(p) => match p.recv().await {
                Some(c) if !c.is_empty() => {
                    buf.extend_from_slice(&c);
                    true
                }
                _ => false,
            },
        }
    }
}

/// Timeouts of one probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Connecting gives up after this (no answer: [`Outcome::Timeout`]).
    pub connect: Duration,
    /// Once connected, the banner wait, request and answer together take at most this.
    pub exchange: Duration,
}

impl Timeouts {
    /// Both phases `t`.
    pub fn both(t: Duration) -> Timeouts {
        Timeouts {
            connect: t,
            exchange: t,
        }
    }

    /// What the scheduler allows one probe: both phases plus a margin for the driver.
    pub fn total(&self) -> Duration {
        self.connect + self.exchange + Duration::from_millis(500)
    }
}

/// How reading ended.
enum ReadEnd {
    Complete,
    Eof,
    Deadline,
}

async fn read_until(
    stream: &mut Stream,
    buf: &mut Vec<u8>,
    sent: Request,
    until: tokio::time::Instant,
) -> ReadEnd {
    loop {
        if fingerprint::is_complete(sent, buf) || buf.len() >= MAX_READ {
            return ReadEnd::Complete;
        }
        match tokio::time::timeout_at(until, stream.read_more(buf)).await {
            Err(_) => return ReadEnd::Deadline,
            Ok(false) => return ReadEnd::Eof,
            Ok(true) => {}
        }
    }
}

/// Probes one target: connect, wait for a banner or send the port's request, read the answer,
/// classify it.
pub async fn probe(dialer: &Dialer, target: &Target, timeouts: Timeouts) -> Outcome {
    let stream = tokio::time::timeout(timeouts.connect, dialer.connect(target.addr())).await;
    let mut stream = match stream {
        Err(_) => return Outcome::Timeout,
        Ok(Err(DialError::Refused)) => return Outcome::Refused,
        Ok(Err(DialError::Unreachable)) => return Outcome::Unreachable,
        Ok(Err(DialError::TimedOut)) => return Outcome::Timeout,
        Ok(Err(DialError::Other(message))) => return Outcome::Error { message },
        Ok(Ok(s)) => s,
    };
    let plan = core::plan(target.port);
    let start = tokio::time::Instant::now();
    let deadline = start + timeouts.exchange;
    let mut buf = Vec::new();
    let mut sent = Request::Nothing;
    let banner_until = (start + plan.banner_wait).min(deadline);
    let mut end = if plan.banner_wait.is_zero() {
        ReadEnd::Deadline
    } else {
        read_until(&mut stream, &mut buf, Request::Nothing, banner_until).await
    };
    if buf.is_empty() && matches!(end, ReadEnd::Deadline) {
        sent = plan.request;
        let bytes = plan.request.bytes(&target.host_text(), target.port);
        end = if stream.write_all(&bytes).await {
            read_until(&mut stream, &mut buf, sent, deadline).await
        } else {
            ReadEnd::Eof
        };
    } else if matches!(end, ReadEnd::Deadline) {
        // A banner started: read the rest of it.
        end = read_until(&mut stream, &mut buf, Request::Nothing, deadline).await;
    }
    // Polite end: an SSH server still connected waits for our identification line.
    if buf.starts_with(b"SSH-") && !matches!(end, ReadEnd::Eof) {
        let _ = stream.write_all(b"SSH-2.0-gatehouse-probe\r\n").await;
    }
    if let Stream::Os(s) = &mut stream {
        let _ = s.shutdown().await;
    }
    Outcome::Open {
        fingerprint: fingerprint::classify(sent, &buf),
    }
}

/// The probes of a topology: each host (and load balancer) with an address, on `ports` when
/// given, else on the TCP ports its rules name (the reach analyzer's candidate ports). Every
/// target names its host.
pub fn topology_targets(topo: &Topology, ports: Option<&[u16]>) -> Vec<Target> {
    let hint = VpnHint::default();
    let analyzer = Analyzer::new(topo, None, &hint, &[]);
    let mut out = Vec::new();
    for target in analyzer.targets() {
        let Some(ip) = target.primary_ip() else {
            continue;
        };
        let ps: Vec<u16> = match ports {
            Some(p) => p.to_vec(),
            None => analyzer
                .candidate_ports(&target)
                .into_iter()
                .filter(|(proto, _)| *proto == Protocol::Tcp)
                .map(|(_, p)| p)
                .collect(),
        };
        out.extend(targets::expand(&[(ip, Some(target.name.clone()))], &ps));
    }
    targets::dedup(out)
}

/// A finished scan.
#[derive(Debug, Clone)]
pub struct Report {
    /// One result per target, in the order given.
    pub results: Vec<ProbeResult>,
    /// The limits it ran under.
    pub limits: Limits,
    /// The most probes in flight at once.
    pub peak_in_flight: usize,
    /// Wall time.
    pub elapsed: Duration,
}

/// Probes every target through `dialer` under `limits` (its `timeout` is replaced by
/// `timeouts.total()`); `progress(done, total)` is called as probes finish.
pub async fn scan(
    dialer: &Dialer,
    targets: Vec<Target>,
    mut limits: Limits,
    timeouts: Timeouts,
    mut progress: impl FnMut(usize, usize),
) -> Report {
    let began = Instant::now();
    limits.timeout = timeouts.total();
    let mut results: Vec<Option<ProbeResult>> = vec![None; targets.len()];
    let mut sched = Scheduler::new(targets, limits);
    let limits = sched.limits();
    let mut tasks: JoinSet<(usize, ProbeResult)> = JoinSet::new();
    loop {
        let now = Instant::now();
        while let Some(start) = sched.poll_start(now) {
            let dialer = dialer.clone();
            tasks.spawn(async move {
                let t0 = Instant::now();
                let outcome = probe(&dialer, &start.target, timeouts).await;
                let result = ProbeResult {
                    target: start.target,
                    outcome,
                    elapsed_ms: t0.elapsed().as_millis() as u64,
                };
                (start.id, result)
            });
        }
        for id in sched.expired(now) {
            // The probe overran its budget (it should not): count it as a timeout.
            if let (Some(slot), Some(target)) = (results.get_mut(id), sched.target(id)) {
                *slot = Some(ProbeResult {
                    target: target.clone(),
                    outcome: Outcome::Timeout,
                    elapsed_ms: limits.timeout.as_millis() as u64,
                });
            }
        }
        if sched.is_done() {
            break;
        }
        let wake = sched.next_wake(now);
        tokio::select! {
            joined = tasks.join_next(), if !tasks.is_empty() => {
                if let Some(Ok((id, result))) = joined {
                    if sched.finish(id) {
                        if let Some(slot) = results.get_mut(id) {
                            *slot = Some(result);
                        }
                        let (done, total) = sched.progress();
                        progress(done, total);
                    }
                }
            }
            _ = sleep_until(wake) => {}
        }
        if tasks.is_empty() && wake.is_none() && !sched.is_done() {
            break;
        }
    }
    tasks.abort_all();
    Report {
        results: results.into_iter().flatten().collect(),
        limits,
        peak_in_flight: sched.peak_in_flight(),
        elapsed: began.elapsed(),
    }
}

async fn sleep_until(wake: Option<Instant>) {
    match wake {
        Some(t) => tokio::time::sleep_until(tokio::time::Instant::from_std(t)).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topology_targets_are_the_rules_tcp_ports_or_the_given_ones() {
        let (topo, _) =
            gatehouse_vpc::tfstate::import_str(gatehouse_lab::TOPOLOGY_TFSTATE, "demo lab")
                .expect("demo topology");
        let t = topology_targets(&topo, None);
        let has = |name: &str, port: u16| {
            t.iter()
                .any(|x| x.name.as_deref() == Some(name) && x.port == port)
        };
        assert!(
            has("web-1", 80) && has("cache", 6379) && has("db", 5432),
            "{t:?}"
        );
        assert!(
            !t.iter().any(|x| x.port == 51820),
            "a UDP port was probed: {t:?}"
        );
        let t = topology_targets(&topo, Some(&[22]));
        assert!(!t.is_empty() && t.iter().all(|x| x.port == 22));
    }
}
