//! The virtual hosts on one smoltcp interface (any-IP): listening sockets per service,
//! connections driven by the protocol modules, the load balancer's proxied connections and the
//! DNS server's UDP socket.

use std::net::Ipv4Addr;
use std::time::Duration;

use smoltcp::iface::{Context, SocketHandle, SocketSet};
use smoltcp::socket::{tcp, udp};
use smoltcp::time::Instant;
use smoltcp::wire::{IpAddress, IpEndpoint, IpListenEndpoint};

use crate::plan::{self, Host, Proto, ServiceKind, HOSTS};
use crate::{dns, http, mysql, pg, resp, ssh, tls};

/// Listening sockets kept ready per TCP service (more SYNs at once are reset).
const BACKLOG: usize = 4;
/// Most TCP sockets (listening, accepted, proxied) alive at once.
pub const MAX_SOCKETS: usize = 3000;
/// TCP socket buffer size, each direction.
const TCP_BUFFER: usize = 16 * 1024;
/// Pending output of one connection beyond which it stops reading (back-pressure).
const MAX_PENDING: usize = 256 * 1024;
/// A connection with no traffic for this long is aborted.
const IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// Round-robin choice among targets.
#[derive(Debug, Default, Clone)]
pub struct RoundRobin {
    next: usize,
}

impl RoundRobin {
    /// The next target (`None` when there are none).
    pub fn pick<'a, T>(&mut self, targets: &'a [T]) -> Option<&'a T> {
        if targets.is_empty() {
            return None;
        }
        let i = self.next % targets.len();
        self.next = self.next.wrapping_add(1);
        targets.get(i)
    }
}

enum Kind {
    Http {
        host: &'static Host,
        input: Vec<u8>,
    },
    Smb,
    Redis(resp::Connection),
    Pg(pg::Connection),
    Tls(Box<tls::Connection>),
    Ssh(ssh::Connection),
    Mysql(mysql::Connection),
    /// Client side of a load-balanced connection; `back` is the socket to the web server,
    /// `connected` whether it ever got established.
    LbFront {
        back: SocketHandle,
        connected: bool,
    },
}

struct Conn {
    handle: SocketHandle,
    kind: Kind,
    out: Vec<u8>,
    out_pos: usize,
    /// Close (FIN) once `out` is sent.
    closing: bool,
    last_activity: Instant,
}

struct Listener {
    host: &'static Host,
    kind: ServiceKind,
    endpoint: IpListenEndpoint,
    ready: Vec<SocketHandle>,
}

/// Counters of the virtual hosts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostStats {
    /// TCP connections accepted.
    pub accepted: u64,
    /// Connections proxied by the load balancer, per target (`web-1`, `web-2`).
    pub lb_proxied: [u64; 2],
    /// DNS queries answered.
    pub dns_queries: u64,
    /// Times a listener could not be re-armed because [`MAX_SOCKETS`] were in use.
    pub socket_limit: u64,
}

/// All virtual hosts' sockets and connection state.
pub struct Hosts {
    listeners: Vec<Listener>,
    conns: Vec<Conn>,
    dns: SocketHandle,
    store: resp::Store,
    lb: RoundRobin,
    next_port: u16,
    next_pid: u32,
    sockets_in_use: usize,
    scratch: Vec<u8>,
    stats: HostStats,
    /// The HTTPS servers' configuration (`None`: TLS ports accept and stay silent).
    tls: Option<std::sync::Arc<rustls::ServerConfig>>,
}

fn tcp_socket() -> tcp::Socket<'static> {
    let mut s = tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0; TCP_BUFFER]),
        tcp::SocketBuffer::new(vec![0; TCP_BUFFER]),
    );
    s.set_nagle_enabled(false);
    // A peer that stops acknowledging (or a half-open SYN) does not hold a socket forever.
    s.set_timeout(Some(smoltcp::time::Duration::from_secs(60)));
    s
}

fn v4(ip: Ipv4Addr) -> IpAddress {
    IpAddress::Ipv4(ip)
}

impl Hosts {
    /// Creates the listening sockets of every TCP service and the DNS socket in `sockets`.
    pub fn new(sockets: &mut SocketSet<'static>) -> Hosts {
        let mut listeners = Vec::new();
        let mut dns = None;
        for host in HOSTS {
            for svc in host.services {
                match (svc.proto, svc.kind) {
                    (_, ServiceKind::WireGuard) => {}
                    (Proto::Udp, ServiceKind::Dns) => {
                        let mut s = udp::Socket::new(
                            udp::PacketBuffer::new(
                                vec![udp::PacketMetadata::EMPTY; 64],
                                vec![0; 64 * 512],
                            ),
                            udp::PacketBuffer::new(
                                vec![udp::PacketMetadata::EMPTY; 64],
                                vec![0; 64 * 512],
                            ),
                        );
                        // Binding a fresh socket to a non-zero port cannot fail.
                        let _ = s.bind(IpListenEndpoint {
                            addr: Some(v4(host.ip)),
                            port: svc.port,
                        });
                        dns = Some(sockets.add(s));
                    }
                    (Proto::Tcp, kind) => listeners.push(Listener {
                        host,
                        kind,
                        endpoint: IpListenEndpoint {
                            addr: Some(v4(host.ip)),
                            port: svc.port,
                        },
                        ready: Vec::new(),
                    }),
                    (Proto::Udp, _) => {}
                }
            }
        }
        let dns = dns.unwrap_or_else(|| {
            sockets.add(udp::Socket::new(
                udp::PacketBuffer::new(vec![], vec![]),
                udp::PacketBuffer::new(vec![], vec![]),
            ))
        });
        let mut hosts = Hosts {
            listeners,
            conns: Vec::new(),
            dns,
            store: resp::Store::new(),
            lb: RoundRobin::default(),
            next_port: 49152,
            next_pid: 4000,
            sockets_in_use: 0,
            scratch: vec![0; TCP_BUFFER],
            stats: HostStats::default(),
            tls: {
                let names: Vec<&str> = HOSTS
                    .iter()
                    .filter(|h| h.services.iter().any(|s| s.kind == ServiceKind::Tls))
                    .map(|h| h.fqdn)
                    .collect();
                tls::server_config(&names)
            },
        };
        hosts.arm(sockets);
        hosts
    }

    /// The counters.
    pub fn stats(&self) -> HostStats {
        self.stats
    }

    /// Open connections (accepted and proxied).
    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    /// Keeps [`BACKLOG`] listening sockets per TCP service.
    fn arm(&mut self, sockets: &mut SocketSet<'static>) {
        for l in &mut self.listeners {
            while l.ready.len() < BACKLOG {
                if self.sockets_in_use >= MAX_SOCKETS {
                    self.stats.socket_limit += 1;
                    return;
                }
                let mut s = tcp_socket();
                if s.listen(l.endpoint).is_err() {
                    break;
                }
                l.ready.push(sockets.add(s));
                self.sockets_in_use += 1;
            }
        }
    }

    fn ephemeral_port(&mut self) -> u16 {
        let p = self.next_port;
        self.next_port = if p == u16::MAX { 49152 } else { p + 1 };
        p
    }

    /// Takes the listening sockets that got a SYN into connections and re-arms the listeners.
    /// Called between received packets, so that a burst of SYNs to one service finds a
    /// listener for each (up to [`MAX_SOCKETS`]).
    pub fn rearm(&mut self, cx: &mut Context, sockets: &mut SocketSet<'static>, now: Instant) {
        if self.accept(cx, sockets, now) {
            self.arm(sockets);
        }
    }

    /// One pass over every socket: accept, read, answer, write, close. Returns true if
    /// anything happened (the caller polls the interface again).
    pub fn run(
        &mut self,
        cx: &mut Context,
        sockets: &mut SocketSet<'static>,
        now: Instant,
    ) -> bool {
        let mut busy = self.accept(cx, sockets, now);
        busy |= self.serve_dns(sockets);
        let mut i = 0;
        while i < self.conns.len() {
            let (progress, done) = self.drive(i, sockets, now);
            busy |= progress;
            if done {
                let conn = self.conns.swap_remove(i);
                sockets.remove(conn.handle);
                self.sockets_in_use -= 1;
                if let Kind::LbFront { back, .. } = conn.kind {
                    sockets.remove(back);
                    self.sockets_in_use -= 1;
                }
            } else {
                i += 1;
            }
        }
        self.arm(sockets);
        busy
    }

    fn accept(&mut self, cx: &mut Context, sockets: &mut SocketSet<'static>, now: Instant) -> bool {
        let mut accepted = Vec::new();
        for l in &mut self.listeners {
            l.ready.retain(|&h| {
                let s = sockets.get::<tcp::Socket>(h);
                if s.state() == tcp::State::Listen {
                    true
                } else {
                    accepted.push((h, l.host, l.kind));
                    false
                }
            });
        }
        let any = !accepted.is_empty();
        for (handle, host, kind) in accepted {
            self.stats.accepted += 1;
            let kind = match kind {
                ServiceKind::Http => Kind::Http {
                    host,
                    input: Vec::new(),
                },
                ServiceKind::Smb => Kind::Smb,
                ServiceKind::Redis => Kind::Redis(resp::Connection::new()),
                ServiceKind::Postgres => {
                    self.next_pid = self.next_pid.wrapping_add(1);
                    Kind::Pg(pg::Connection::new(self.next_pid))
                }
                ServiceKind::LoadBalancer => match self.connect_backend(cx, sockets, host.ip) {
                    Some(back) => Kind::LbFront {
                        back,
                        connected: false,
                    },
                    None => {
                        self.conns.push(Conn {
                            handle,
                            kind: Kind::Smb,
                            out: http::respond_bad(502),
                            out_pos: 0,
                            closing: true,
                            last_activity: now,
                        });
                        continue;
                    }
                },
                ServiceKind::Tls => match self
                    .tls
                    .as_ref()
                    .and_then(|c| tls::Connection::new(c, host))
                {
                    Some(c) => Kind::Tls(Box::new(c)),
                    None => Kind::Smb,
                },
                ServiceKind::Ssh => Kind::Ssh(ssh::Connection::new()),
                ServiceKind::Mysql => {
                    self.next_pid = self.next_pid.wrapping_add(1);
                    Kind::Mysql(mysql::Connection::new(self.next_pid))
                }
                ServiceKind::Dns | ServiceKind::WireGuard => Kind::Smb,
            };
            // Services that speak first.
            let out = match &kind {
                Kind::Ssh(c) => c.greeting(),
                Kind::Mysql(c) => c.greeting(),
                _ => Vec::new(),
            };
            self.conns.push(Conn {
                handle,
                kind,
                out,
                out_pos: 0,
                closing: false,
                last_activity: now,
            });
        }
        any
    }

    /// Opens the load balancer's connection to the next web server, from the LB's address.
    fn connect_backend(
        &mut self,
        cx: &mut Context,
        sockets: &mut SocketSet<'static>,
        lb_ip: Ipv4Addr,
    ) -> Option<SocketHandle> {
        if self.sockets_in_use >= MAX_SOCKETS {
            self.stats.socket_limit += 1;
            return None;
        }
        let index = self.lb.next % plan::LB_TARGETS.len();
        let target = plan::host_by_name(self.lb.pick(plan::LB_TARGETS)?)?;
        let port = self.ephemeral_port();
        let mut s = tcp_socket();
        s.connect(
            cx,
            IpEndpoint::new(v4(target.ip), 80),
            IpListenEndpoint {
                addr: Some(v4(lb_ip)),
                port,
            },
        )
        .ok()?;
        if let Some(n) = self.stats.lb_proxied.get_mut(index) {
            *n += 1;
        }
        self.sockets_in_use += 1;
        Some(sockets.add(s))
    }

    fn serve_dns(&mut self, sockets: &mut SocketSet<'static>) -> bool {
        let s = sockets.get_mut::<udp::Socket>(self.dns);
        let mut busy = false;
        let mut buf = [0u8; 512];
        while s.can_send() {
            let Ok((n, meta)) = s.recv_slice(&mut buf) else {
                break;
            };
            busy = true;
            if let Some(reply) = buf.get(..n).and_then(dns::answer) {
                self.stats.dns_queries += 1;
                let _ = s.send_slice(&reply, meta.endpoint);
            }
        }
        busy
    }

    /// Drives connection `i`; returns (progress, finished).
    fn drive(&mut self, i: usize, sockets: &mut SocketSet<'static>, now: Instant) -> (bool, bool) {
        let conn = &mut self.conns[i];
        if let Kind::LbFront { back, connected } = conn.kind {
            let (progress, done, connected_now) =
                drive_proxy(conn, back, connected, sockets, &mut self.scratch, now);
            if let Kind::LbFront { connected, .. } = &mut conn.kind {
                *connected = connected_now;
            }
            return (progress, done);
        }
        let mut progress = false;
        let s = sockets.get_mut::<tcp::Socket>(conn.handle);
        // Read and answer.
        while !conn.closing && s.can_recv() && conn.out.len() - conn.out_pos < MAX_PENDING {
            let Ok(n) = s.recv_slice(&mut self.scratch) else {
                break;
            };
            if n == 0 {
                break;
            }
            progress = true;
            conn.last_activity = now;
            let data = &self.scratch[..n];
            let keep_open = match &mut conn.kind {
                Kind::Http { host, input } => {
                    input.extend_from_slice(data);
                    match http::parse_head(input) {
                        http::Head::Incomplete => true,
                        http::Head::Request(req) => {
                            conn.out.extend_from_slice(&http::respond(host, &req));
                            false
                        }
                        http::Head::Bad(status) => {
                            conn.out.extend_from_slice(&http::respond_bad(status));
                            false
                        }
                    }
                }
                Kind::Smb => true,
                Kind::Redis(c) => c.feed(data, &mut self.store, &mut conn.out),
                Kind::Pg(c) => c.feed(data, &mut conn.out),
                Kind::Tls(c) => c.feed(data, &mut conn.out),
                Kind::Ssh(c) => c.feed(data),
                Kind::Mysql(c) => c.feed(data, &mut conn.out),
                Kind::LbFront { .. } => true,
            };
            if !keep_open {
                conn.closing = true;
            }
        }
        // Write.
        while conn.out_pos < conn.out.len() && s.can_send() {
            match s.send_slice(&conn.out[conn.out_pos..]) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    conn.out_pos += n;
                    progress = true;
                    conn.last_activity = now;
                }
            }
        }
        if conn.out_pos == conn.out.len() {
            conn.out.clear();
            conn.out_pos = 0;
            // The peer finished sending and we have nothing more to say: close too.
            if conn.closing || s.state() == tcp::State::CloseWait {
                s.close();
            }
        }
        if now - conn.last_activity > IDLE_TIMEOUT.into() {
            s.abort();
        }
        let done = matches!(s.state(), tcp::State::Closed | tcp::State::TimeWait);
        (progress, done)
    }
}

/// Moves bytes both ways between the LB's client connection and its web-server connection.
/// Returns (progress, finished, backend connected).
fn drive_proxy(
    conn: &mut Conn,
    back: SocketHandle,
    mut connected: bool,
    sockets: &mut SocketSet<'static>,
    scratch: &mut [u8],
    now: Instant,
) -> (bool, bool, bool) {
    let front = conn.handle;
    connected |= !matches!(
        sockets.get::<tcp::Socket>(back).state(),
        tcp::State::SynSent | tcp::State::Closed | tcp::State::Listen
    );
    let mut progress = false;
    progress |= pump(sockets, front, back, scratch);
    progress |= pump(sockets, back, front, scratch);
    if progress {
        conn.last_activity = now;
    }
    // The peer sent its FIN (or the connection is gone): nothing more will arrive.
    let remote_done = |st: tcp::State| {
        matches!(
            st,
            tcp::State::CloseWait
                | tcp::State::LastAck
                | tcp::State::Closing
                | tcp::State::TimeWait
                | tcp::State::Closed
        )
    };
    let (f_state, f_pending) = {
        let s = sockets.get::<tcp::Socket>(front);
        (s.state(), s.recv_queue())
    };
    let (b_state, b_pending, b_send_queue) = {
        let s = sockets.get::<tcp::Socket>(back);
        (s.state(), s.recv_queue(), s.send_queue())
    };
    // The web server never answered (reset, or no route): 502 to the client.
    if b_state == tcp::State::Closed && !connected && !conn.closing {
        let f = sockets.get_mut::<tcp::Socket>(front);
        if f.state() == tcp::State::Established || f.state() == tcp::State::CloseWait {
            let _ = f.send_slice(&http::respond_bad(502));
        }
        f.close();
        conn.closing = true;
    }
    // Half-closes travel across.
    if connected && remote_done(f_state) && f_pending == 0 && b_send_queue == 0 {
        sockets.get_mut::<tcp::Socket>(back).close();
    }
    // The client went away (reset): drop the web server's side too.
    if sockets.get::<tcp::Socket>(front).state() == tcp::State::Closed {
        sockets.get_mut::<tcp::Socket>(back).abort();
    }
    if connected && remote_done(b_state) && b_pending == 0 {
        sockets.get_mut::<tcp::Socket>(front).close();
    }
    if now - conn.last_activity > IDLE_TIMEOUT.into() {
        sockets.get_mut::<tcp::Socket>(front).abort();
        sockets.get_mut::<tcp::Socket>(back).abort();
    }
    let closed = |st: tcp::State| matches!(st, tcp::State::Closed | tcp::State::TimeWait);
    let f_state_now = sockets.get::<tcp::Socket>(front).state();
    let b_state_now = sockets.get::<tcp::Socket>(back).state();
    (
        progress,
        closed(f_state_now) && closed(b_state_now),
        connected,
    )
}

/// Copies what `from` received into `to`'s send buffer, as far as it has room.
fn pump(
    sockets: &mut SocketSet<'static>,
    from: SocketHandle,
    to: SocketHandle,
    scratch: &mut [u8],
) -> bool {
    let mut moved = false;
    loop {
        let room = {
            let t = sockets.get::<tcp::Socket>(to);
            if !t.may_send() {
                return moved;
            }
            t.send_capacity() - t.send_queue()
        };
        if room == 0 {
            return moved;
        }
        let limit = room.min(scratch.len());
        let n = {
            let f = sockets.get_mut::<tcp::Socket>(from);
            if !f.can_recv() {
                return moved;
            }
            match f.recv_slice(&mut scratch[..limit]) {
                Ok(n) => n,
                Err(_) => return moved,
            }
        };
        if n == 0 {
            return moved;
        }
        let _ = sockets.get_mut::<tcp::Socket>(to).send_slice(&scratch[..n]);
        moved = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_robin_alternates_and_handles_empty() {
        let mut rr = RoundRobin::default();
        let picks: Vec<&str> = (0..5)
            .filter_map(|_| rr.pick(plan::LB_TARGETS).copied())
            .collect();
        assert_eq!(picks, ["web-1", "web-2", "web-1", "web-2", "web-1"]);
        let none: [u8; 0] = [];
        assert!(rr.pick(&none).is_none());
    }
}
