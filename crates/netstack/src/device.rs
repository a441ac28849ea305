//! [`PacketDevice`]: a smoltcp device over bounded in-memory packet queues.

use std::collections::VecDeque;

use smoltcp::phy::{self, Checksum, ChecksumCapabilities, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

/// A smoltcp [`phy::Device`] (medium IP) over two bounded in-memory queues of IP packets.
///
/// * The driver pushes received IP packets with [`PacketDevice::push_rx`] (copied into a reused
///   buffer; refused and counted when the rx queue is full), then calls
///   `Interface::poll`, which consumes them.
/// * smoltcp's outgoing packets land in the tx queue; the driver drains them with
///   [`PacketDevice::pop_tx_with`] (or [`PacketDevice::pop_tx`] + [`PacketDevice::recycle_tx`]).
///   When the tx queue is full, the device refuses to transmit and smoltcp keeps the data in its
///   socket buffers until the next poll: back-pressure, not loss.
///
/// Buffers are pooled: after warm-up, the steady state allocates nothing per packet. Each buffer
/// holds at most the MTU; a longer packet given to [`PacketDevice::push_rx`] is dropped and
/// counted.
///
/// ```
/// use gatehouse_netstack::PacketDevice;
/// let mut dev = PacketDevice::new(1420, 256, 256);
/// assert!(dev.push_rx(&[0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]));
/// assert_eq!(dev.rx_len(), 1);
/// assert!(dev.pop_tx_with(|p| p.len()).is_none());
/// ```
#[derive(Debug)]
pub struct PacketDevice {
    mtu: usize,
    rx: VecDeque<Vec<u8>>,
    rx_capacity: usize,
    rx_pool: Vec<Vec<u8>>,
    tx: VecDeque<Vec<u8>>,
    tx_capacity: usize,
    tx_pool: Vec<Vec<u8>>,
    checksum: ChecksumCapabilities,
    stats: PacketDeviceStats,
}

/// Counters of a [`PacketDevice`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PacketDeviceStats {
    /// Packets accepted by [`PacketDevice::push_rx`].
    pub rx_packets: u64,
    /// Packets refused by [`PacketDevice::push_rx`] because the rx queue was full.
    pub rx_dropped_full: u64,
    /// Packets refused by [`PacketDevice::push_rx`] because they were empty or longer than the MTU.
    pub rx_dropped_size: u64,
    /// Packets smoltcp queued for transmission.
    pub tx_packets: u64,
    /// Times smoltcp wanted to transmit but the tx queue was full.
    pub tx_full: u64,
}

impl PacketDevice {
    /// A device with the given IP MTU and queue capacities (in packets; at least 1 each).
    ///
    /// Checksums are computed on transmit and verified on receive; see
    /// [`PacketDevice::set_verify_rx_checksums`].
    pub fn new(mtu: usize, rx_capacity: usize, tx_capacity: usize) -> Self {
        let rx_capacity = rx_capacity.max(1);
        let tx_capacity = tx_capacity.max(1);
        Self {
            mtu,
            rx: VecDeque::with_capacity(rx_capacity),
            rx_capacity,
            rx_pool: Vec::with_capacity(rx_capacity),
            tx: VecDeque::with_capacity(tx_capacity),
            tx_capacity,
            tx_pool: Vec::with_capacity(tx_capacity),
            checksum: ChecksumCapabilities::default(),
            stats: PacketDeviceStats::default(),
        }
    }

    /// Whether smoltcp verifies IPv4/TCP/UDP/ICMP checksums of received packets (default: yes).
    ///
    /// Packets that came out of a WireGuard tunnel are already authenticated by its AEAD, so a
    /// driver may turn verification off to save a pass over every byte. Outgoing checksums are
    /// always computed.
    pub fn set_verify_rx_checksums(&mut self, verify: bool) {
        let mode = if verify { Checksum::Both } else { Checksum::Tx };
        let mut caps = ChecksumCapabilities::default();
        caps.ipv4 = mode;
        caps.udp = mode;
        caps.tcp = mode;
        caps.icmpv4 = mode;
        caps.icmpv6 = mode;
        self.checksum = caps;
    }

    /// The IP MTU.
    pub fn mtu(&self) -> usize {
        self.mtu
    }

    /// Queue a received IP packet (copied) for smoltcp. Returns `false`, counting the drop, when
    /// the rx queue is full or the packet is empty or longer than the MTU.
    pub fn push_rx(&mut self, packet: &[u8]) -> bool {
        if packet.is_empty() || packet.len() > self.mtu {
            self.stats.rx_dropped_size += 1;
            return false;
        }
        if self.rx.len() >= self.rx_capacity {
            self.stats.rx_dropped_full += 1;
            return false;
        }
        let mut buf = self
            .rx_pool
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(self.mtu));
        buf.clear();
        buf.extend_from_slice(packet);
        self.rx.push_back(buf);
        self.stats.rx_packets += 1;
        true
    }

    /// Packets waiting in the rx queue.
    pub fn rx_len(&self) -> usize {
        self.rx.len()
    }

    /// Whether [`PacketDevice::push_rx`] would refuse a packet for lack of room.
    pub fn rx_is_full(&self) -> bool {
        self.rx.len() >= self.rx_capacity
    }

    /// Packets waiting in the tx queue.
    pub fn tx_len(&self) -> usize {
        self.tx.len()
    }

    /// Take the oldest outgoing packet, hand it to `f`, and keep its buffer for reuse.
    pub fn pop_tx_with<R>(&mut self, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
        let buf = self.tx.pop_front()?;
        let r = f(&buf);
        self.recycle_tx(buf);
        Some(r)
    }

    /// Take the oldest outgoing packet. Give the buffer back with [`PacketDevice::recycle_tx`]
    /// to avoid an allocation later.
    pub fn pop_tx(&mut self) -> Option<Vec<u8>> {
        self.tx.pop_front()
    }

    /// Return a buffer (from [`PacketDevice::pop_tx`]) to the transmit pool.
    pub fn recycle_tx(&mut self, buf: Vec<u8>) {
        if self.tx_pool.len() < self.tx_capacity {
            self.tx_pool.push(buf);
        }
    }

    /// The device's counters.
    pub fn stats(&self) -> PacketDeviceStats {
        self.stats
    }
}

impl phy::Device for PacketDevice {
    type RxToken<'a> = RxToken<'a>;
    type TxToken<'a> = TxToken<'a>;

    fn receive(&mut self, _timestamp: Instant) -> Option<(RxToken<'_>, TxToken<'_>)> {
        let buf = self.rx.pop_front()?;
        Some((
            RxToken {
                buf,
                pool: &mut self.rx_pool,
                pool_capacity: self.rx_capacity,
            },
            TxToken {
                queue: &mut self.tx,
                pool: &mut self.tx_pool,
                mtu: self.mtu,
                stats: &mut self.stats,
            },
        ))
    }

    fn transmit(&mut self, _timestamp: Instant) -> Option<TxToken<'_>> {
        if self.tx.len() >= self.tx_capacity {
            self.stats.tx_full += 1;
            return None;
        }
        Some(TxToken {
            queue: &mut self.tx,
            pool: &mut self.tx_pool,
            mtu: self.mtu,
            stats: &mut self.stats,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = self.mtu;
        caps.checksum = self.checksum.clone();
        caps
    }
}

/// Receive token of a [`PacketDevice`]: one queued packet; its buffer returns to the pool.
#[derive(Debug)]
pub struct RxToken<'a> {
    buf: Vec<u8>,
    pool: &'a mut Vec<Vec<u8>>,
    pool_capacity: usize,
}

impl phy::RxToken for RxToken<'_> {
    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&[u8]) -> R,
    {
        let r = f(&self.buf);
        if self.pool.len() < self.pool_capacity {
            self.pool.push(self.buf);
        }
        r
    }
}

/// Transmit token of a [`PacketDevice`]: appends one packet to the tx queue.
#[derive(Debug)]
pub struct TxToken<'a> {
    queue: &'a mut VecDeque<Vec<u8>>,
    pool: &'a mut Vec<Vec<u8>>,
    mtu: usize,
    stats: &'a mut PacketDeviceStats,
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F>(self, len: usize, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        let mut buf = self
            .pool
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(self.mtu.max(len)));
        buf.clear();
        buf.resize(len, 0);
        let r = f(&mut buf);
        // A token from `receive` may be used while the queue is full (a reply to the received
        // packet): smoltcp has already built it, so it is queued rather than lost; the queue
        // overshoots its capacity by at most one packet per received packet.
        self.queue.push_back(buf);
        self.stats.tx_packets += 1;
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smoltcp::iface::{Config, Interface, SocketSet};
    use smoltcp::phy::Device;
    use smoltcp::socket::udp;
    use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr, IpEndpoint};

    #[test]
    fn rx_is_bounded_and_sized() {
        let mut dev = PacketDevice::new(100, 2, 2);
        assert!(!dev.push_rx(&[]));
        assert!(!dev.push_rx(&[0u8; 101]));
        assert!(dev.push_rx(&[1u8; 100]));
        assert!(dev.push_rx(&[2u8; 10]));
        assert!(dev.rx_is_full());
        assert!(!dev.push_rx(&[3u8; 10]));
        let s = dev.stats();
        assert_eq!(
            (s.rx_packets, s.rx_dropped_full, s.rx_dropped_size),
            (2, 1, 2)
        );
        let (rx, _tx) = dev.receive(Instant::ZERO).expect("queued packet");
        let first = phy::RxToken::consume(rx, |p| p.to_vec());
        assert_eq!(first, vec![1u8; 100]);
        assert_eq!(dev.rx_len(), 1);
    }

    #[test]
    fn tx_refuses_when_full_and_reuses_buffers() {
        let mut dev = PacketDevice::new(1500, 1, 1);
        let tok = dev.transmit(Instant::ZERO).expect("room");
        phy::TxToken::consume(tok, 3, |b| b.copy_from_slice(&[7, 8, 9]));
        assert!(dev.transmit(Instant::ZERO).is_none());
        assert_eq!(dev.stats().tx_full, 1);
        assert_eq!(dev.pop_tx_with(|p| p.to_vec()), Some(vec![7, 8, 9]));
        assert_eq!(dev.tx_pool.len(), 1);
        let tok = dev.transmit(Instant::ZERO).expect("room again");
        phy::TxToken::consume(tok, 2, |b| b.copy_from_slice(&[1, 2]));
        assert!(dev.tx_pool.is_empty());
        assert_eq!(dev.pop_tx(), Some(vec![1, 2]));
    }

    /// Two interfaces joined by moving packets between two devices: a UDP datagram crosses.
    #[test]
    fn two_interfaces_exchange_udp() {
        let now = Instant::from_millis(1);
        let mut a = PacketDevice::new(1420, 64, 64);
        let mut b = PacketDevice::new(1420, 64, 64);
        let mk = |dev: &mut PacketDevice, ip: [u8; 4]| {
            let mut iface = Interface::new(Config::new(HardwareAddress::Ip), dev, now);
            iface.update_ip_addrs(|addrs| {
                addrs
                    .push(IpCidr::new(IpAddress::v4(ip[0], ip[1], ip[2], ip[3]), 24))
                    .expect("one address");
            });
            iface
        };
        let mut ia = mk(&mut a, [10, 0, 0, 1]);
        let mut ib = mk(&mut b, [10, 0, 0, 2]);
        let udp_socket = || {
            udp::Socket::new(
                udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; 4], vec![0; 4096]),
                udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; 4], vec![0; 4096]),
            )
        };
        let mut sa = SocketSet::new(vec![]);
        let mut sb = SocketSet::new(vec![]);
        let ha = sa.add(udp_socket());
        let hb = sb.add(udp_socket());
        sa.get_mut::<udp::Socket>(ha).bind(1000).expect("bind a");
        sb.get_mut::<udp::Socket>(hb).bind(2000).expect("bind b");
        let to = IpEndpoint::new(IpAddress::v4(10, 0, 0, 2), 2000);
        sa.get_mut::<udp::Socket>(ha)
            .send_slice(b"hello", to)
            .expect("send");
        ia.poll(now, &mut a, &mut sa);
        assert_eq!(a.tx_len(), 1);
        while let Some(p) = a.pop_tx() {
            assert!(b.push_rx(&p));
            a.recycle_tx(p);
        }
        ib.poll(now, &mut b, &mut sb);
        let mut buf = [0u8; 16];
        let (n, meta) = sb
            .get_mut::<udp::Socket>(hb)
            .recv_slice(&mut buf)
            .expect("datagram arrived");
        assert_eq!(&buf[..n], b"hello");
        assert_eq!(meta.endpoint.port, 1000);
    }
}
