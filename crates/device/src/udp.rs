//! The UDP socket: dual-stack when the host has IPv6, large buffers, optional fwmark, batched
//! receive (`recvmmsg` + GRO) and segmented send (GSO) through `quinn-udp`.

use std::io::{self, IoSliceMut};
use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::Duration;

use quinn_udp::{RecvMeta, Transmit, UdpSocketState};
use socket2::{Domain, Protocol, Socket, Type};

use crate::DeviceError;

/// Socket buffer size asked for (each of send and receive). As root the `*FORCE` options
/// bypass `net.core.rmem_max`/`wmem_max`.
pub const SOCKET_BUFFER: usize = 8 << 20;

/// The tunnel's UDP socket.
pub(crate) struct Udp {
    sock: UdpSocket,
    state: UdpSocketState,
    dual_stack: bool,
    port: u16,
}

impl Udp {
    /// Binds `[::]:port` (v4-mapped allowed) or, without IPv6, `0.0.0.0:port`.
    pub(crate) fn bind(port: u16, fwmark: Option<u32>) -> Result<Self, DeviceError> {
        let err = |source: io::Error| DeviceError::UdpSocket { port, source };
        let (sock, dual_stack) = match bind_v6(port) {
            Ok(s) => (s, true),
            Err(e6) => match bind_v4(port) {
                Ok(s) => {
                    tracing::debug!("no IPv6 UDP socket ({e6}); using IPv4 only");
                    (s, false)
                }
                Err(e4) => return Err(err(e4)),
            },
        };
        set_buffers(&sock, SOCKET_BUFFER);
        if let Some(mark) = fwmark.filter(|m| *m != 0) {
            sock.set_mark(mark).map_err(err)?;
        }
        let sock: UdpSocket = sock.into();
        let state = UdpSocketState::new((&sock).into()).map_err(err)?;
        let port = sock.local_addr().map_err(err)?.port();
        Ok(Udp {
            sock,
            state,
            dual_stack,
            port,
        })
    }

    /// The bound port.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// Sets (or clears with 0) `SO_MARK`.
    pub(crate) fn set_fwmark(&self, mark: u32) -> io::Result<()> {
        socket2::SockRef::from(&self.sock).set_mark(mark)
    }

    /// How many segments one GSO send may carry (1: no GSO).
    pub(crate) fn max_gso_segments(&self) -> usize {
        self.state.max_gso_segments()
    }

    /// How many segments one GRO receive may carry (1: no GRO).
    pub(crate) fn gro_segments(&self) -> usize {
        self.state.gro_segments()
    }

    /// Waits until a datagram is waiting, at most `timeout`.
    pub(crate) fn wait_readable(&self, timeout: Duration) -> io::Result<bool> {
        crate::sys::wait_fd(self.sock.as_raw_fd(), libc::POLLIN, timeout)
    }

    /// Receives a batch; sender addresses are returned in canonical form (v4, not v4-mapped).
    pub(crate) fn recv(
        &self,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> io::Result<usize> {
        let n = self.state.recv((&self.sock).into(), bufs, meta)?;
        for m in meta.iter_mut().take(n) {
            m.addr = canonical(m.addr);
        }
        Ok(n)
    }

    /// Sends `contents` to `dst`: one datagram, or `contents.len() / segment` datagrams of
    /// `segment` bytes (the last may be shorter) when `segment` is given. Waits (bounded) while
    /// the send buffer is full; other errors are returned for the caller to count.
    pub(crate) fn send(
        &self,
        dst: SocketAddr,
        contents: &[u8],
        segment: Option<usize>,
    ) -> io::Result<()> {
        let destination = self.wire_addr(dst);
        let transmit = Transmit {
            destination,
            ecn: None,
            contents,
            segment_size: segment.filter(|s| *s < contents.len()),
            src_ip: None,
        };
        for _ in 0..100 {
            match self.state.try_send((&self.sock).into(), &transmit) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    crate::sys::wait_fd(
                        self.sock.as_raw_fd(),
                        libc::POLLOUT,
                        Duration::from_millis(10),
                    )?;
                }
                other => return other,
            }
        }
        Err(io::Error::from(io::ErrorKind::WouldBlock))
    }

    /// The address to hand the kernel: v4-mapped on a dual-stack socket.
    fn wire_addr(&self, dst: SocketAddr) -> SocketAddr {
        match dst {
            SocketAddr::V4(v4) if self.dual_stack => {
                SocketAddr::V6(SocketAddrV6::new(v4.ip().to_ipv6_mapped(), v4.port(), 0, 0))
            }
            other => other,
        }
    }

    /// True when the socket can reach `ip` (v6 needs the dual-stack socket).
    pub(crate) fn can_reach(&self, ip: IpAddr) -> bool {
        self.dual_stack || ip.is_ipv4()
    }
}

/// `::ffff:a.b.c.d` → `a.b.c.d`; everything else unchanged.
pub(crate) fn canonical(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), v6.port()),
            None => addr,
        },
        v4 => v4,
    }
}

fn bind_v6(port: u16) -> io::Result<Socket> {
    let s = Socket::new(Domain::IPV6, Type::DGRAM.cloexec(), Some(Protocol::UDP))?;
    s.set_only_v6(false)?;
    s.bind(&SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port).into())?;
    Ok(s)
}

fn bind_v4(port: u16) -> io::Result<Socket> {
    let s = Socket::new(Domain::IPV4, Type::DGRAM.cloexec(), Some(Protocol::UDP))?;
    s.bind(&SocketAddr::new(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), port).into())?;
    Ok(s)
}

/// Asks for `size`-byte send and receive buffers: the `*FORCE` options first (root), then the
/// plain ones (capped by the sysctls). Failures only cost speed, so they are logged.
fn set_buffers(sock: &Socket, size: usize) {
    let fd = sock.as_raw_fd();
    let value = libc::c_int::try_from(size).unwrap_or(libc::c_int::MAX);
    for (force, plain, what) in [
        (libc::SO_RCVBUFFORCE, libc::SO_RCVBUF, "receive"),
        (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF, "send"),
    ] {
        if crate::sys::setsockopt_int(fd, libc::SOL_SOCKET, force, value).is_err() {
            if let Err(e) = crate::sys::setsockopt_int(fd, libc::SOL_SOCKET, plain, value) {
                tracing::warn!("cannot set the UDP {what} buffer to {size} bytes: {e}");
            }
        }
    }
    tracing::debug!(
        rcvbuf = sock.recv_buffer_size().ok(),
        sndbuf = sock.send_buffer_size().ok(),
        "UDP socket buffers"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, SocketAddrV4};

    #[test]
    fn canonical_unmaps_v4() {
        let mapped = SocketAddr::V6(SocketAddrV6::new(
            Ipv4Addr::new(10, 0, 0, 1).to_ipv6_mapped(),
            51820,
            0,
            0,
        ));
        assert_eq!(
            canonical(mapped),
            SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 51820))
        );
        let v6: SocketAddr = "[2001:db8::1]:1".parse().unwrap_or_else(|_| unreachable!());
        assert_eq!(canonical(v6), v6);
    }

    #[test]
    fn loopback_round_trip_with_gso_and_batched_receive() {
        let a = Udp::bind(0, None).expect("bind a");
        let b = Udp::bind(0, None).expect("bind b");
        let dst = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), b.port());
        // Three 100-byte datagrams and a short last one, in one segmented send.
        let mut payload = Vec::new();
        for i in 0..3u8 {
            payload.extend(std::iter::repeat_n(i, 100));
        }
        payload.extend([9u8; 40]);
        a.send(dst, &payload, Some(100)).expect("send");

        let mut storage = vec![0u8; 4 * 65536];
        let mut got = Vec::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while got.iter().map(|d: &Vec<u8>| d.len()).sum::<usize>() < payload.len()
            && std::time::Instant::now() < deadline
        {
            b.wait_readable(Duration::from_millis(100)).expect("poll");
            let mut slices: Vec<IoSliceMut<'_>> =
                storage.chunks_mut(65536).map(IoSliceMut::new).collect();
            let mut meta = vec![RecvMeta::default(); slices.len()];
            let n = match b.recv(&mut slices, &mut meta) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => panic!("recv: {e}"),
            };
            for (m, s) in meta.iter().zip(slices.iter()).take(n) {
                assert!(m.addr.is_ipv4(), "sender must be canonical: {}", m.addr);
                assert_eq!(m.addr.port(), a.port());
                for seg in s[..m.len].chunks(m.stride) {
                    got.push(seg.to_vec());
                }
            }
        }
        assert_eq!(got.len(), 4);
        assert_eq!(got.concat(), payload);
        assert_eq!(got[3], vec![9u8; 40]);
    }
}
