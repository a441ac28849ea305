//! The core task: one UDP socket to the WireGuard peers, the tunnel state machine, a smoltcp
//! interface over a [`PacketDevice`], and the smoltcp sockets bridged to channels.
//!
//! Everything packet-shaped happens on this one task, so nothing here locks. Connections talk to
//! it through bounded channels of byte chunks ([`TcpPipe`], [`UdpPipe`]); a [`Notify`] wakes it
//! when a connection produced data or made room.

use std::collections::HashSet;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant as StdInstant};

use gatehouse_tunnel::{
    Event, PeerStats, TunOutcome, Tunnel, UdpOutcome, MIN_BUFFER_LEN, OVERHEAD,
};
use smoltcp::iface::{Config as IfaceConfig, Interface, SocketHandle, SocketSet};
use smoltcp::socket::{tcp, udp};
use smoltcp::time::Instant as SmolInstant;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr, IpEndpoint};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot, Notify};

use crate::device::PacketDevice;

/// Largest chunk of bytes moved through a connection channel at once.
pub(crate) const CHUNK: usize = 64 * 1024;
/// Chunks a connection channel holds in each direction.
const CHANNEL_CHUNKS: usize = 4;
/// Datagrams a UDP pipe holds in each direction.
const UDP_CHANNEL: usize = 256;
/// Packets the device holds in each direction.
const DEVICE_QUEUE: usize = 512;
/// UDP datagrams read per wake-up before smoltcp runs.
const RX_BATCH: usize = 256;
/// How often idle and connect deadlines are checked.
const HOUSEKEEPING: Duration = Duration::from_millis(500);

/// Buffer sizing and timeouts of the core.
#[derive(Debug, Clone)]
pub(crate) struct StackTuning {
    /// Largest smoltcp TCP buffer (each direction) of one connection.
    pub max_tcp_buffer: usize,
    /// Smallest smoltcp TCP buffer (each direction) of one connection.
    pub min_tcp_buffer: usize,
    /// All TCP buffers together (both directions) may not exceed this when sized.
    pub tcp_buffer_budget: usize,
    /// A connection with no data in either direction for this long is aborted.
    pub idle_timeout: Duration,
    /// A TCP connect that has not completed after this long fails.
    pub connect_timeout: Duration,
    /// Whether received checksums are verified (the tunnel's AEAD already authenticates).
    pub verify_checksums: bool,
}

/// Why a connection through the tunnel could not be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    /// The host answered with a reset.
    #[error("connection refused by the host")]
    Refused,
    /// No answer within the connect timeout.
    #[error("no answer from the host (timed out)")]
    TimedOut,
    /// No peer's AllowedIPs hold the address, or the profile has no address of that family.
    #[error("address not reachable through the tunnel (no AllowedIPs route or no local address of its family)")]
    Unreachable,
    /// The netstack has stopped.
    #[error("the netstack has stopped")]
    Stopped,
}

/// The application end of a TCP connection through the tunnel.
#[derive(Debug)]
pub struct TcpPipe {
    /// Bytes to send into the tunnel; an empty chunk is end-of-stream (FIN).
    pub(crate) tx: mpsc::Sender<Vec<u8>>,
    /// Bytes that arrived from the tunnel; `None` is end-of-stream.
    pub(crate) rx: mpsc::Receiver<Vec<u8>>,
    /// Wakes the core after `tx` sent or `rx` made room.
    pub(crate) notify: Arc<Notify>,
}

impl TcpPipe {
    /// Sends `bytes` into the connection (an empty slice does nothing). Fails once the
    /// connection is gone.
    pub async fn send(&mut self, bytes: &[u8]) -> Result<(), ConnectError> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.tx
            .send(bytes.to_vec())
            .await
            .map_err(|_| ConnectError::Stopped)?;
        self.notify.notify_one();
        Ok(())
    }

    /// The next bytes from the host; `None` when it closed (or reset) the connection.
    pub async fn recv(&mut self) -> Option<Vec<u8>> {
        let chunk = self.rx.recv().await;
        self.notify.notify_one();
        chunk
    }

    /// Ends the sending direction (FIN).
    pub async fn finish(&mut self) {
        let _ = self.tx.send(Vec::new()).await;
        self.notify.notify_one();
    }
}

/// The application end of a UDP socket inside the tunnel.
#[derive(Debug)]
pub struct UdpPipe {
    /// Datagrams to send: (destination, payload).
    pub(crate) tx: mpsc::Sender<(SocketAddr, Vec<u8>)>,
    /// Datagrams received: (source, payload).
    pub(crate) rx: mpsc::Receiver<(SocketAddr, Vec<u8>)>,
    /// Wakes the core after `tx` sent or `rx` made room.
    pub(crate) notify: Arc<Notify>,
}

/// Requests to the core.
pub(crate) enum Command {
    ConnectTcp {
        target: SocketAddr,
        reply: oneshot::Sender<Result<TcpPipe, ConnectError>>,
    },
    BindUdp {
        reply: oneshot::Sender<Result<UdpPipe, ConnectError>>,
    },
    SetEndpoint {
        peer: [u8; 32],
        addr: SocketAddr,
    },
}

/// Counters shared with the handle (atomics, read without stopping the core).
#[derive(Debug, Default)]
pub(crate) struct SharedStats {
    pub tcp_active: AtomicUsize,
    pub tcp_opened: AtomicU64,
    pub tcp_failed: AtomicU64,
    pub tcp_idle_closed: AtomicU64,
    pub udp_sockets: AtomicUsize,
    pub bytes_to_tunnel: AtomicU64,
    pub bytes_from_tunnel: AtomicU64,
    pub udp_datagrams_in: AtomicU64,
    pub udp_datagrams_out: AtomicU64,
    pub device_rx_dropped: AtomicU64,
    pub peers: Mutex<Vec<PeerStats>>,
    pub tunnel_drops: AtomicU64,
}

enum TcpPhase {
    Connecting {
        reply: oneshot::Sender<Result<TcpPipe, ConnectError>>,
        pipe: Option<TcpPipe>,
        deadline: StdInstant,
    },
    Open,
}

struct TcpConn {
    handle: SocketHandle,
    local_port: u16,
    /// Bytes of smoltcp buffer (both directions).
    buffers: usize,
    phase: TcpPhase,
    /// Towards the application; dropped at end-of-stream.
    to_app: Option<mpsc::Sender<Vec<u8>>>,
    from_app: mpsc::Receiver<Vec<u8>>,
    /// Part of a chunk that did not fit in the socket yet: (chunk, offset).
    pending: Option<(Vec<u8>, usize)>,
    app_eof: bool,
    last_activity: StdInstant,
}

struct UdpConn {
    handle: SocketHandle,
    local_port: u16,
    to_app: mpsc::Sender<(SocketAddr, Vec<u8>)>,
    from_app: mpsc::Receiver<(SocketAddr, Vec<u8>)>,
    pending: Option<(SocketAddr, Vec<u8>)>,
}

/// The core's state.
pub(crate) struct Stack {
    tunnel: Tunnel,
    udp: UdpSocket,
    device: PacketDevice,
    iface: Interface,
    sockets: SocketSet<'static>,
    tcp: Vec<TcpConn>,
    udp_conns: Vec<UdpConn>,
    ports_in_use: HashSet<u16>,
    next_port: u16,
    /// Bytes of smoltcp TCP buffers of the open connections.
    tcp_allocated: usize,
    has_v4: bool,
    has_v6: bool,
    epoch: StdInstant,
    tuning: StackTuning,
    commands: mpsc::Receiver<Command>,
    /// For resolver tasks to feed endpoints back.
    command_tx: mpsc::WeakSender<Command>,
    notify: Arc<Notify>,
    stats: Arc<SharedStats>,
    /// Receive buffer (one datagram) and send buffer (one encrypted packet).
    rx_buf: Vec<u8>,
    out_buf: Vec<u8>,
    shutdown: Arc<Notify>,
    next_tunnel_tick: StdInstant,
    next_housekeeping: StdInstant,
}

impl Stack {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        tunnel: Tunnel,
        udp: UdpSocket,
        addresses: &[ipnet::IpNet],
        mtu: usize,
        tuning: StackTuning,
        commands: mpsc::Receiver<Command>,
        command_tx: mpsc::WeakSender<Command>,
        notify: Arc<Notify>,
        stats: Arc<SharedStats>,
        shutdown: Arc<Notify>,
    ) -> Stack {
        let epoch = StdInstant::now();
        let mut device = PacketDevice::new(mtu, DEVICE_QUEUE, DEVICE_QUEUE);
        device.set_verify_rx_checksums(tuning.verify_checksums);
        let mut iface = Interface::new(
            IfaceConfig::new(HardwareAddress::Ip),
            &mut device,
            SmolInstant::ZERO,
        );
        let (mut has_v4, mut has_v6) = (false, false);
        iface.update_ip_addrs(|addrs| {
            for net in addresses {
                let cidr = match net.addr() {
                    IpAddr::V4(a) if !has_v4 => {
                        has_v4 = true;
                        IpCidr::new(IpAddress::Ipv4(a), net.prefix_len())
                    }
                    IpAddr::V6(a) if !has_v6 => {
                        has_v6 = true;
                        IpCidr::new(IpAddress::Ipv6(a), net.prefix_len())
                    }
                    _ => continue,
                };
                let _ = addrs.push(cidr);
            }
        });
        // Medium IP: the next hop is never looked up, a default route only has to exist.
        if let Some(v4) = iface.ipv4_addr() {
            let _ = iface.routes_mut().add_default_ipv4_route(v4);
        }
        if has_v6 {
            let v6 = iface.ip_addrs().iter().find_map(|c| match c.address() {
                IpAddress::Ipv6(a) => Some(a),
                _ => None,
            });
            if let Some(v6) = v6 {
                let _ = iface.routes_mut().add_default_ipv6_route(v6);
            }
        }
        let now = StdInstant::now();
        Stack {
            tunnel,
            udp,
            device,
            iface,
            sockets: SocketSet::new(Vec::new()),
            tcp: Vec::new(),
            udp_conns: Vec::new(),
            ports_in_use: HashSet::new(),
            tcp_allocated: 0,
            next_port: 49152 + (epoch.elapsed().subsec_nanos() % 16000) as u16,
            has_v4,
            has_v6,
            epoch,
            tuning,
            commands,
            command_tx,
            notify,
            stats,
            rx_buf: vec![0u8; 65536],
            out_buf: vec![0u8; (mtu + OVERHEAD).max(MIN_BUFFER_LEN).max(65536)],
            shutdown,
            next_tunnel_tick: now,
            next_housekeeping: now + HOUSEKEEPING,
        }
    }

    fn smol_now(&self) -> SmolInstant {
        SmolInstant::from_micros(self.epoch.elapsed().as_micros() as i64)
    }

    /// Runs until shutdown is signalled or every command sender is gone.
    pub(crate) async fn run(mut self) {
        self.drain_tunnel_events();
        loop {
            let socket_drained = self.receive_datagrams() > 0;
            if !self.handle_commands() {
                break;
            }
            self.process().await;
            let now = StdInstant::now();
            if now >= self.next_tunnel_tick {
                self.tunnel.handle_timeout(now);
                self.next_tunnel_tick = self
                    .tunnel
                    .poll_timeout()
                    .unwrap_or(now + gatehouse_tunnel::TICK)
                    .max(now + Duration::from_millis(5));
                self.flush_tunnel().await;
                self.drain_tunnel_events();
            }
            if now >= self.next_housekeeping {
                self.housekeeping(now).await;
                self.next_housekeeping = now + HOUSEKEEPING;
            }
            if !socket_drained {
                // More datagrams are probably waiting: go round again without sleeping.
                tokio::task::yield_now().await;
                continue;
            }
            let smol_delay = self
                .iface
                .poll_delay(self.smol_now(), &self.sockets)
                .map(|d| Duration::from_micros(d.total_micros()));
            let mut deadline = self.next_tunnel_tick.min(self.next_housekeeping);
            if let Some(d) = smol_delay {
                deadline = deadline.min(now + d);
            }
            let sleep = tokio::time::sleep_until(deadline.into());
            tokio::select! {
                biased;
                _ = self.shutdown.notified() => break,
                r = self.udp.readable() => { if let Err(e) = r { tracing::warn!("udp socket: {e}"); } }
                _ = self.notify.notified() => {}
                cmd = self.commands.recv() => match cmd {
                    Some(cmd) => self.handle_command(cmd),
                    None => break,
                },
                _ = sleep => {}
            }
        }
        // Abort every connection so the applications see their streams end.
        for conn in &self.tcp {
            self.sockets.get_mut::<tcp::Socket>(conn.handle).abort();
        }
        let now = self.smol_now();
        self.iface.poll(now, &mut self.device, &mut self.sockets);
        self.flush_device().await;
    }

    /// Reads datagrams until the socket is empty or the batch is used up; returns what is left
    /// of the batch (0: there may be more).
    fn receive_datagrams(&mut self) -> usize {
        let mut left = RX_BATCH;
        while left > 0 {
            let (n, from) = match self.udp.try_recv_from(&mut self.rx_buf) {
                Ok(x) => x,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    tracing::debug!("udp receive: {e}");
                    break;
                }
            };
            left -= 1;
            let now = StdInstant::now();
            let (datagram, out) = (&self.rx_buf[..n], &mut self.out_buf[..]);
            match self.tunnel.handle_udp_datagram(from, datagram, out, now) {
                UdpOutcome::TunPacket(packet) => {
                    if self.device.rx_is_full() {
                        let t = SmolInstant::from_micros(self.epoch.elapsed().as_micros() as i64);
                        self.iface.poll(t, &mut self.device, &mut self.sockets);
                    }
                    if !self.device.push_rx(packet) {
                        self.stats.device_rx_dropped.fetch_add(1, Ordering::Relaxed);
                    }
                }
                UdpOutcome::Reply { dst, datagram } => {
                    let _ = self.udp.try_send_to(datagram, dst);
                }
                UdpOutcome::Nothing | UdpOutcome::Dropped(_) => {}
            }
        }
        left
    }

    /// Returns false when the core should stop (all senders gone).
    fn handle_commands(&mut self) -> bool {
        loop {
            match self.commands.try_recv() {
                Ok(cmd) => self.handle_command(cmd),
                Err(mpsc::error::TryRecvError::Empty) => return true,
                Err(mpsc::error::TryRecvError::Disconnected) => return false,
            }
        }
    }

    fn handle_command(&mut self, cmd: Command) {
        match cmd {
            Command::ConnectTcp { target, reply } => self.connect_tcp(target, reply),
            Command::BindUdp { reply } => self.bind_udp(reply),
            Command::SetEndpoint { peer, addr } => {
                self.tunnel.set_endpoint(&peer, addr);
            }
        }
    }

    fn alloc_port(&mut self) -> Option<u16> {
        for _ in 0..16384 {
            let p = self.next_port;
            self.next_port = if p == u16::MAX { 49152 } else { p + 1 };
            if self.ports_in_use.insert(p) {
                return Some(p);
            }
        }
        None
    }

    fn routable(&self, ip: IpAddr) -> bool {
        let family_ok = match ip {
            IpAddr::V4(_) => self.has_v4,
            IpAddr::V6(_) => self.has_v6,
        };
        family_ok && self.tunnel.routes().lookup(ip).is_some()
    }

    /// Per-direction buffer of a new connection: a sixteenth of what is left of the budget
    /// (both directions), within the bounds. The first connections get large windows; as the
    /// budget is used, new ones get smaller windows, down to the minimum, so the total stays
    /// within the budget plus the minimum per connection.
    fn tcp_buffer_size(&self) -> usize {
        let t = &self.tuning;
        let left = t.tcp_buffer_budget.saturating_sub(self.tcp_allocated);
        (left / 32).clamp(t.min_tcp_buffer, t.max_tcp_buffer.max(t.min_tcp_buffer))
    }

    fn connect_tcp(
        &mut self,
        target: SocketAddr,
        reply: oneshot::Sender<Result<TcpPipe, ConnectError>>,
    ) {
        if !self.routable(target.ip()) || target.port() == 0 {
            self.stats.tcp_failed.fetch_add(1, Ordering::Relaxed);
            let _ = reply.send(Err(ConnectError::Unreachable));
            return;
        }
        let Some(local_port) = self.alloc_port() else {
            let _ = reply.send(Err(ConnectError::Unreachable));
            return;
        };
        let size = self.tcp_buffer_size();
        let mut socket = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0u8; size]),
            tcp::SocketBuffer::new(vec![0u8; size]),
        );
        socket.set_nagle_enabled(false);
        // Without congestion control smoltcp sends a whole window at once; bursts beyond what
        // the path absorbs are lost and resent as a whole (go-back-N).
        socket.set_congestion_control(tcp::CongestionControl::Cubic);
        socket.set_keep_alive(Some(smoltcp::time::Duration::from_secs(30)));
        socket.set_timeout(Some(smoltcp::time::Duration::from_secs(
            self.tuning.idle_timeout.as_secs().max(10),
        )));
        let remote = IpEndpoint::new(IpAddress::from(target.ip()), target.port());
        if socket
            .connect(self.iface.context(), remote, local_port)
            .is_err()
        {
            self.ports_in_use.remove(&local_port);
            let _ = reply.send(Err(ConnectError::Unreachable));
            return;
        }
        let handle = self.sockets.add(socket);
        let (app_tx, from_app) = mpsc::channel(CHANNEL_CHUNKS);
        let (to_app, app_rx) = mpsc::channel(CHANNEL_CHUNKS);
        let now = StdInstant::now();
        self.tcp_allocated += 2 * size;
        self.tcp.push(TcpConn {
            handle,
            local_port,
            buffers: 2 * size,
            phase: TcpPhase::Connecting {
                reply,
                pipe: Some(TcpPipe {
                    tx: app_tx,
                    rx: app_rx,
                    notify: self.notify.clone(),
                }),
                deadline: now + self.tuning.connect_timeout,
            },
            to_app: Some(to_app),
            from_app,
            pending: None,
            app_eof: false,
            last_activity: now,
        });
        self.stats
            .tcp_active
            .store(self.tcp.len(), Ordering::Relaxed);
    }

    fn bind_udp(&mut self, reply: oneshot::Sender<Result<UdpPipe, ConnectError>>) {
        let Some(local_port) = self.alloc_port() else {
            let _ = reply.send(Err(ConnectError::Unreachable));
            return;
        };
        let mut socket = udp::Socket::new(
            udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; 128], vec![0u8; 256 * 1024]),
            udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; 128], vec![0u8; 256 * 1024]),
        );
        if socket.bind(local_port).is_err() {
            self.ports_in_use.remove(&local_port);
            let _ = reply.send(Err(ConnectError::Unreachable));
            return;
        }
        let handle = self.sockets.add(socket);
        let (app_tx, from_app) = mpsc::channel(UDP_CHANNEL);
        let (to_app, app_rx) = mpsc::channel(UDP_CHANNEL);
        let pipe = UdpPipe {
            tx: app_tx,
            rx: app_rx,
            notify: self.notify.clone(),
        };
        if reply.send(Ok(pipe)).is_err() {
            self.sockets.remove(handle);
            self.ports_in_use.remove(&local_port);
            return;
        }
        self.udp_conns.push(UdpConn {
            handle,
            local_port,
            to_app,
            from_app,
            pending: None,
        });
        self.stats
            .udp_sockets
            .store(self.udp_conns.len(), Ordering::Relaxed);
    }

    /// smoltcp and the connections until nothing moves (bounded), sending what comes out.
    async fn process(&mut self) {
        for _ in 0..16 {
            let now = self.smol_now();
            self.iface.poll(now, &mut self.device, &mut self.sockets);
            let sent = self.flush_device().await;
            let moved = self.pump_tcp() | self.pump_udp();
            if !moved && !sent && self.device.rx_len() == 0 {
                break;
            }
        }
        self.stats
            .device_rx_dropped
            .store(self.device.stats().rx_dropped_full, Ordering::Relaxed);
    }

    /// Encrypts and sends every packet smoltcp produced. Returns whether anything was sent.
    async fn flush_device(&mut self) -> bool {
        let mut any = false;
        let now = StdInstant::now();
        while let Some(packet) = self.device.pop_tx() {
            any = true;
            match self
                .tunnel
                .handle_tun_packet(&packet, &mut self.out_buf, now)
            {
                TunOutcome::Send { dst, datagram } => match self.udp.try_send_to(datagram, dst) {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        // Kernel buffer full: wait for room rather than lose the packet.
                        if let Err(e) = self.udp.send_to(datagram, dst).await {
                            tracing::trace!("udp send: {e}");
                        }
                    }
                    Err(e) => tracing::trace!("udp send: {e}"),
                },
                TunOutcome::Queued => {
                    // Handshake in progress: the queued packets leave through poll_transmit.
                    self.next_tunnel_tick = now;
                }
                TunOutcome::Dropped(_) => {}
            }
            self.device.recycle_tx(packet);
        }
        if any {
            // A handshake initiation may be waiting.
            while let Some((dst, n)) = self.tunnel.poll_transmit(&mut self.out_buf) {
                let _ = self.udp.try_send_to(&self.out_buf[..n], dst);
            }
        }
        any
    }

    async fn flush_tunnel(&mut self) {
        while let Some((dst, n)) = self.tunnel.poll_transmit(&mut self.out_buf) {
            if let Err(e) = self.udp.send_to(&self.out_buf[..n], dst).await {
                tracing::debug!("udp send to {dst}: {e}");
            }
        }
    }

    fn drain_tunnel_events(&mut self) {
        while let Some(ev) = self.tunnel.poll_event() {
            match ev {
                Event::ResolveEndpoint { peer, host, port } => {
                    let tx = self.command_tx.clone();
                    tokio::spawn(async move {
                        match tokio::net::lookup_host((host.as_str(), port)).await {
                            Ok(mut addrs) => {
                                if let (Some(addr), Some(tx)) = (addrs.next(), tx.upgrade()) {
                                    let _ = tx.send(Command::SetEndpoint { peer, addr }).await;
                                }
                            }
                            Err(e) => tracing::warn!("resolving peer endpoint {host}: {e}"),
                        }
                    });
                }
                Event::HandshakeCompleted { .. } => tracing::debug!("handshake completed"),
                Event::Error { error, .. } => tracing::warn!("peer: {error}"),
                other => tracing::debug!("tunnel event: {other:?}"),
            }
        }
    }

    /// Moves bytes between TCP sockets and their channels. Returns whether anything moved.
    fn pump_tcp(&mut self) -> bool {
        let mut moved = false;
        let now = StdInstant::now();
        let mut i = 0;
        while i < self.tcp.len() {
            let conn = &mut self.tcp[i];
            let socket = self.sockets.get_mut::<tcp::Socket>(conn.handle);
            let keep = pump_one_tcp(conn, socket, now, &self.stats, &mut moved);
            if keep {
                i += 1;
            } else {
                let conn = self.tcp.swap_remove(i);
                self.sockets.remove(conn.handle);
                self.ports_in_use.remove(&conn.local_port);
                self.tcp_allocated = self.tcp_allocated.saturating_sub(conn.buffers);
                self.stats
                    .tcp_active
                    .store(self.tcp.len(), Ordering::Relaxed);
            }
        }
        moved
    }

    fn pump_udp(&mut self) -> bool {
        let mut moved = false;
        let mut i = 0;
        while i < self.udp_conns.len() {
            let conn = &mut self.udp_conns[i];
            let socket = self.sockets.get_mut::<udp::Socket>(conn.handle);
            let mut closed = false;
            // Outgoing.
            loop {
                let item = match conn.pending.take() {
                    Some(x) => x,
                    None => match conn.from_app.try_recv() {
                        Ok(x) => x,
                        Err(mpsc::error::TryRecvError::Empty) => break,
                        Err(mpsc::error::TryRecvError::Disconnected) => {
                            closed = true;
                            break;
                        }
                    },
                };
                let ep = IpEndpoint::new(IpAddress::from(item.0.ip()), item.0.port());
                match socket.send_slice(&item.1, ep) {
                    Ok(()) => {
                        moved = true;
                        self.stats.udp_datagrams_out.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(udp::SendError::BufferFull) => {
                        conn.pending = Some(item);
                        break;
                    }
                    Err(udp::SendError::Unaddressable) => {}
                }
            }
            // Incoming.
            while socket.can_recv() {
                match conn.to_app.try_reserve() {
                    Ok(permit) => {
                        if let Ok((data, meta)) = socket.recv() {
                            let from =
                                SocketAddr::new(meta.endpoint.addr.into(), meta.endpoint.port);
                            permit.send((from, data.to_vec()));
                            moved = true;
                            self.stats.udp_datagrams_in.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Err(mpsc::error::TrySendError::Full(())) => {
                        // The application is slow: drop the oldest datagram, as a socket would.
                        let _ = socket.recv();
                    }
                    Err(mpsc::error::TrySendError::Closed(())) => {
                        closed = true;
                        break;
                    }
                }
            }
            if closed && conn.to_app.is_closed() {
                let conn = self.udp_conns.swap_remove(i);
                self.sockets.remove(conn.handle);
                self.ports_in_use.remove(&conn.local_port);
                self.stats
                    .udp_sockets
                    .store(self.udp_conns.len(), Ordering::Relaxed);
            } else {
                i += 1;
            }
        }
        moved
    }

    async fn housekeeping(&mut self, now: StdInstant) {
        let idle = self.tuning.idle_timeout;
        for conn in &mut self.tcp {
            let socket = self.sockets.get_mut::<tcp::Socket>(conn.handle);
            match &conn.phase {
                TcpPhase::Connecting {
                    deadline, reply, ..
                } => {
                    if now >= *deadline || reply.is_closed() {
                        socket.abort();
                    }
                }
                TcpPhase::Open => {
                    if now.duration_since(conn.last_activity) >= idle {
                        self.stats.tcp_idle_closed.fetch_add(1, Ordering::Relaxed);
                        socket.abort();
                    }
                }
            }
        }
        let peers: Vec<PeerStats> = self.tunnel.stats().collect();
        if let Ok(mut p) = self.stats.peers.lock() {
            *p = peers;
        }
        self.stats
            .tunnel_drops
            .store(self.tunnel.drop_counters().total(), Ordering::Relaxed);
        // Sockets aborted above need a poll to send their resets and be reaped.
        self.process().await;
    }
}

/// One TCP connection's bytes and state. Returns false when it is finished and can be removed.
fn pump_one_tcp(
    conn: &mut TcpConn,
    socket: &mut tcp::Socket<'_>,
    now: StdInstant,
    stats: &SharedStats,
    moved: &mut bool,
) -> bool {
    // Connect completion.
    if let TcpPhase::Connecting { .. } = conn.phase {
        match socket.state() {
            tcp::State::Established | tcp::State::CloseWait => {
                let old = std::mem::replace(&mut conn.phase, TcpPhase::Open);
                if let TcpPhase::Connecting { reply, pipe, .. } = old {
                    let delivered = pipe.is_some_and(|pipe| reply.send(Ok(pipe)).is_ok());
                    if !delivered {
                        socket.abort();
                        return true;
                    }
                }
                stats.tcp_opened.fetch_add(1, Ordering::Relaxed);
                conn.last_activity = now;
                *moved = true;
            }
            tcp::State::Closed => {
                let old = std::mem::replace(&mut conn.phase, TcpPhase::Open);
                if let TcpPhase::Connecting {
                    reply, deadline, ..
                } = old
                {
                    let err = if now >= deadline {
                        ConnectError::TimedOut
                    } else {
                        ConnectError::Refused
                    };
                    let _ = reply.send(Err(err));
                }
                stats.tcp_failed.fetch_add(1, Ordering::Relaxed);
                return false;
            }
            _ => return true,
        }
    }

    // Application → tunnel.
    loop {
        if conn.app_eof {
            break;
        }
        if conn.pending.is_none() {
            match conn.from_app.try_recv() {
                Ok(chunk) if chunk.is_empty() => {
                    conn.app_eof = true;
                    socket.close();
                    *moved = true;
                    break;
                }
                Ok(chunk) => conn.pending = Some((chunk, 0)),
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    // The application side went away without an orderly end.
                    socket.abort();
                    conn.app_eof = true;
                    conn.to_app = None;
                    break;
                }
            }
        }
        let Some((chunk, off)) = conn.pending.as_mut() else {
            break;
        };
        if !socket.may_send() {
            if !socket.is_open() {
                conn.pending = None;
            }
            break;
        }
        let n = socket.send_slice(&chunk[*off..]).unwrap_or(0);
        if n == 0 {
            break;
        }
        *off += n;
        *moved = true;
        conn.last_activity = now;
        stats.bytes_to_tunnel.fetch_add(n as u64, Ordering::Relaxed);
        if *off >= chunk.len() {
            conn.pending = None;
        } else {
            break;
        }
    }

    // Tunnel → application.
    while socket.can_recv() {
        let Some(to_app) = conn.to_app.as_ref() else {
            break;
        };
        let app_gone = match to_app.try_reserve() {
            Ok(permit) => {
                let want = socket.recv_queue().min(CHUNK);
                let mut chunk = Vec::with_capacity(want);
                while chunk.len() < want {
                    let got = socket.recv(|buf| {
                        let n = buf.len().min(want - chunk.len());
                        chunk.extend_from_slice(&buf[..n]);
                        (n, n)
                    });
                    match got {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                }
                stats
                    .bytes_from_tunnel
                    .fetch_add(chunk.len() as u64, Ordering::Relaxed);
                permit.send(chunk);
                *moved = true;
                conn.last_activity = now;
                false
            }
            Err(mpsc::error::TrySendError::Full(())) => break,
            Err(mpsc::error::TrySendError::Closed(())) => true,
        };
        if app_gone {
            // The application stopped reading: nobody wants the rest.
            socket.abort();
            conn.to_app = None;
            break;
        }
    }
    // The host finished sending and everything was delivered: end-of-stream to the app.
    if conn.to_app.is_some() && !socket.may_recv() && socket.recv_queue() == 0 {
        conn.to_app = None;
        *moved = true;
    }
    let finished = matches!(socket.state(), tcp::State::Closed | tcp::State::TimeWait);
    if finished {
        conn.to_app = None;
        return false;
    }
    true
}
