//! TUN offloads: the `virtio_net_hdr` that precedes every packet on an `IFF_VNET_HDR` device,
//! and the segmentation of the TCP super-packets (TSO, up to 64 KiB) the kernel then hands us.
//!
//! With `TUNSETOFFLOAD(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6)` the kernel's TCP stack sends
//! through the TUN device as it would through a NIC with segmentation offload: one read returns
//! up to 64 KiB of a TCP stream, and packets may carry a partial checksum. [`split`] turns such
//! a read into ordinary MTU-sized IP packets with complete checksums, which is what the
//! WireGuard peer must receive. Writes carry a zero header ("no offload, checksum valid").

/// Size of `struct virtio_net_hdr` (the default `TUNSETVNETHDRSZ`).
pub(crate) const VNET_HDR_LEN: usize = 10;

const F_NEEDS_CSUM: u8 = 1;
const GSO_NONE: u8 = 0;
const GSO_TCPV4: u8 = 1;
const GSO_TCPV6: u8 = 4;
const GSO_ECN: u8 = 0x80;

const TCP_FIN: u8 = 0x01;
const TCP_PSH: u8 = 0x08;
const TCP_CWR: u8 = 0x80;

/// The fields of a `virtio_net_hdr` (little-endian on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct VnetHdr {
    flags: u8,
    gso_type: u8,
    gso_size: u16,
    csum_start: u16,
    csum_offset: u16,
}

impl VnetHdr {
    /// Parses the first [`VNET_HDR_LEN`] bytes.
    pub(crate) fn parse(buf: &[u8]) -> Option<VnetHdr> {
        let b = buf.get(..VNET_HDR_LEN)?;
        let u16_at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        Some(VnetHdr {
            flags: b[0],
            gso_type: b[1],
            gso_size: u16_at(4),
            csum_start: u16_at(6),
            csum_offset: u16_at(8),
        })
    }
}

/// Why a read could not be turned into packets (the read is dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SplitError {
    /// Header fields point outside the packet, or an unsupported GSO type.
    Malformed,
    /// `out` is too small for the segments.
    NoRoom,
}

/// Turns one read (`virtio_net_hdr` + packet) into complete IP packets appended to
/// `out[*pos..]`; each packet's `(start, len)` is pushed to `packets`.
pub(crate) fn split(
    read: &[u8],
    out: &mut [u8],
    pos: &mut usize,
    packets: &mut Vec<(usize, usize)>,
) -> Result<(), SplitError> {
    let hdr = VnetHdr::parse(read).ok_or(SplitError::Malformed)?;
    let pkt = &read[VNET_HDR_LEN..];
    match hdr.gso_type & !GSO_ECN {
        GSO_NONE => {
            let dst = out
                .get_mut(*pos..*pos + pkt.len())
                .ok_or(SplitError::NoRoom)?;
            dst.copy_from_slice(pkt);
            if hdr.flags & F_NEEDS_CSUM != 0 {
                finish_partial_checksum(dst, hdr.csum_start.into(), hdr.csum_offset.into())?;
            }
            packets.push((*pos, pkt.len()));
            *pos += pkt.len();
            Ok(())
        }
        GSO_TCPV4 | GSO_TCPV6 => split_tcp(&hdr, pkt, out, pos, packets),
        _ => Err(SplitError::Malformed),
    }
}

/// The kernel left the pseudo-header sum in the checksum field: sum from `start` to the end,
/// fold, complement, store.
fn finish_partial_checksum(pkt: &mut [u8], start: usize, offset: usize) -> Result<(), SplitError> {
    let field = start + offset;
    if start >= pkt.len() || field + 2 > pkt.len() {
        return Err(SplitError::Malformed);
    }
    let sum = fold(sum_bytes(0, &pkt[start..]));
    pkt[field..field + 2].copy_from_slice(&(!sum).to_be_bytes());
    Ok(())
}

fn split_tcp(
    hdr: &VnetHdr,
    pkt: &[u8],
    out: &mut [u8],
    pos: &mut usize,
    packets: &mut Vec<(usize, usize)>,
) -> Result<(), SplitError> {
    let l4 = usize::from(hdr.csum_start);
    let mss = usize::from(hdr.gso_size);
    let version = pkt.first().ok_or(SplitError::Malformed)? >> 4;
    let v4 = match version {
        4 => true,
        6 => false,
        _ => return Err(SplitError::Malformed),
    };
    let min_l4 = if v4 { 20 } else { 40 };
    if mss == 0 || l4 < min_l4 || l4 + 20 > pkt.len() {
        return Err(SplitError::Malformed);
    }
    if v4 && usize::from(pkt[0] & 0x0f) * 4 != l4 {
        return Err(SplitError::Malformed);
    }
    if !v4 && (l4 != 40 || pkt[6] != 6) {
        // Extension headers before TCP: not produced by the kernel's TSO path for us.
        return Err(SplitError::Malformed);
    }
    let thl = usize::from(pkt[l4 + 12] >> 4) * 4;
    let headers = l4 + thl;
    if thl < 20 || headers > pkt.len() {
        return Err(SplitError::Malformed);
    }
    let payload = &pkt[headers..];
    let seq = u32::from_be_bytes([pkt[l4 + 4], pkt[l4 + 5], pkt[l4 + 6], pkt[l4 + 7]]);
    let ip_id = u16::from_be_bytes([pkt[4], pkt[5]]);
    let flags = pkt[l4 + 13];
    let count = payload.len().div_ceil(mss).max(1);
    let needed = count * headers + payload.len();
    if out.len().saturating_sub(*pos) < needed {
        return Err(SplitError::NoRoom);
    }
    let chunks: Box<dyn Iterator<Item = &[u8]>> = if payload.is_empty() {
        Box::new(std::iter::once(payload))
    } else {
        Box::new(payload.chunks(mss))
    };
    for (i, chunk) in chunks.enumerate() {
        let len = headers + chunk.len();
        let seg = &mut out[*pos..*pos + len];
        seg[..headers].copy_from_slice(&pkt[..headers]);
        seg[headers..].copy_from_slice(chunk);
        let last = i + 1 == count;
        if v4 {
            seg[2..4].copy_from_slice(&(len as u16).to_be_bytes());
            seg[4..6].copy_from_slice(&ip_id.wrapping_add(i as u16).to_be_bytes());
            seg[10..12].copy_from_slice(&[0, 0]);
            let c = !fold(sum_bytes(0, &seg[..l4]));
            seg[10..12].copy_from_slice(&c.to_be_bytes());
        } else {
            seg[4..6].copy_from_slice(&((len - 40) as u16).to_be_bytes());
        }
        let s = seq.wrapping_add((i * mss) as u32);
        seg[l4 + 4..l4 + 8].copy_from_slice(&s.to_be_bytes());
        let mut f = flags;
        if !last {
            f &= !(TCP_FIN | TCP_PSH);
        }
        if i > 0 {
            f &= !TCP_CWR;
        }
        seg[l4 + 13] = f;
        seg[l4 + 16..l4 + 18].copy_from_slice(&[0, 0]);
        let tcp_len = len - l4;
        let mut sum = if v4 {
            sum_bytes(0, &seg[12..20])
        } else {
            sum_bytes(0, &seg[8..40])
        };
        sum += 6 + tcp_len as u64;
        sum = sum_bytes(sum, &seg[l4..]);
        let c = !fold(sum);
        seg[l4 + 16..l4 + 18].copy_from_slice(&c.to_be_bytes());
        packets.push((*pos, len));
        *pos += len;
    }
    Ok(())
}

/// Coalesces the TCP segments of one receive batch into super-packets before they are written
/// to an `IFF_VNET_HDR` TUN device (the kernel's GRO, done in userspace): one write and one trip
/// through the kernel's TCP receive path for up to 64 KiB instead of one per segment.
///
/// Only plain in-order data segments of one flow merge: same addresses, ports, IP fields, ACK
/// number, window and TCP options; only ACK (and PSH on the last) set; each the same size
/// except a shorter last one. Everything else is written as it came, in order within its flow.
#[derive(Debug, Default)]
pub(crate) struct Gro {
    /// Output, in write order.
    entries: Vec<Entry>,
    /// Coalesced packets are built here (each with its virtio_net_hdr in front).
    buf: Vec<u8>,
    /// Indices into `entries` of groups that may still grow.
    open: Vec<usize>,
    /// Group slots used in `buf`.
    groups: usize,
}

/// Most groups per batch (each has a 64 KiB slot); further segments are written one by one.
const GRO_GROUPS: usize = 16;
/// Size of one group slot: header + the largest IP packet.
const GRO_SLOT: usize = VNET_HDR_LEN + 65_536;

#[derive(Debug, Clone, Copy)]
enum Entry {
    /// `(start, len)` in the caller's buffer, header space included.
    Single(usize, usize),
    /// A group in `Gro::buf`.
    Group(Group),
}

#[derive(Debug, Clone, Copy)]
struct Group {
    /// Start of the virtio_net_hdr in `Gro::buf`.
    start: usize,
    /// Header + IP packet length so far.
    len: usize,
    /// IP + TCP header length.
    headers: usize,
    /// Offset of the TCP header in the IP packet.
    l4: usize,
    /// Payload size of every segment but the last.
    mss: usize,
    /// Sequence number the next segment must have.
    next_seq: u32,
    segments: usize,
    v4: bool,
    /// A short or PSH segment was added: nothing may follow.
    closed: bool,
}

/// What [`Gro`] needs to know about a TCP segment.
struct Seg {
    v4: bool,
    l4: usize,
    headers: usize,
    seq: u32,
    flags: u8,
    payload: usize,
}

const GRO_MAX: usize = 65_535 - 100;
const TCP_ACK: u8 = 0x10;

fn parse_seg(p: &[u8]) -> Option<Seg> {
    let v4 = match p.first()? >> 4 {
        4 => true,
        6 => false,
        _ => return None,
    };
    let l4 = if v4 {
        // No options, no fragments, TCP, length consistent.
        if p[0] != 0x45 || p.len() < 40 || p[9] != 6 {
            return None;
        }
        if u16::from_be_bytes([p[6], p[7]]) & 0x3fff != 0 {
            return None;
        }
        if usize::from(u16::from_be_bytes([p[2], p[3]])) != p.len() {
            return None;
        }
        20
    } else {
        if p.len() < 60 || p[6] != 6 {
            return None;
        }
        if usize::from(u16::from_be_bytes([p[4], p[5]])) + 40 != p.len() {
            return None;
        }
        40
    };
    let thl = usize::from(p[l4 + 12] >> 4) * 4;
    let headers = l4 + thl;
    if thl < 20 || headers >= p.len() {
        return None;
    }
    let flags = p[l4 + 13];
    if flags & !(TCP_ACK | TCP_PSH) != 0 || flags & TCP_ACK == 0 {
        return None;
    }
    Some(Seg {
        v4,
        l4,
        headers,
        seq: u32::from_be_bytes([p[l4 + 4], p[l4 + 5], p[l4 + 6], p[l4 + 7]]),
        flags,
        payload: p.len() - headers,
    })
}

/// True when `b` belongs to the same flow as `a` with identical headers apart from the fields
/// that change per segment (IPv4 length, id, checksum; IPv6 length; TCP seq, flags, checksum).
fn same_headers(a: &[u8], b: &[u8], v4: bool, l4: usize, headers: usize) -> bool {
    if b.len() < headers || a.len() < headers {
        return false;
    }
    if b[l4 + 12] >> 4 != a[l4 + 12] >> 4 {
        return false;
    }
    let ip_same = if v4 {
        // version/IHL, TOS; flags/fragment; TTL, protocol; addresses.
        a[..2] == b[..2] && a[6..10] == b[6..10] && a[12..20] == b[12..20]
    } else {
        // version/class/flow, next header, hop limit, addresses.
        a[..4] == b[..4] && a[6..40] == b[6..40]
    };
    // ports; ack number; data offset (checked above); window; urgent pointer + options.
    ip_same
        && a[l4..l4 + 4] == b[l4..l4 + 4]
        && a[l4 + 8..l4 + 12] == b[l4 + 8..l4 + 12]
        && a[l4 + 14..l4 + 16] == b[l4 + 14..l4 + 16]
        && a[l4 + 18..headers] == b[l4 + 18..headers]
}

impl Gro {
    /// Forgets the previous batch.
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.open.clear();
        self.groups = 0;
    }

    /// Adds the packet `src[start + hdr..start + len]` (`hdr` bytes of header space in front).
    pub(crate) fn push(&mut self, src: &[u8], start: usize, len: usize, hdr: usize) {
        let Some(p) = src.get(start + hdr..start + len) else {
            return;
        };
        let Some(seg) = parse_seg(p) else {
            self.entries.push(Entry::Single(start, len));
            return;
        };
        // The open group of the same flow, if any.
        let pos = self.open.iter().position(|&i| match &self.entries[i] {
            Entry::Group(g) => {
                let head = &self.buf[g.start + VNET_HDR_LEN..g.start + VNET_HDR_LEN + g.headers];
                g.v4 == seg.v4 && g.l4 == seg.l4 && same_flow(head, p, g.l4)
            }
            Entry::Single(..) => false,
        });
        if let Some(k) = pos {
            let i = self.open[k];
            if let Entry::Group(g) = &mut self.entries[i] {
                let head = &self.buf[g.start + VNET_HDR_LEN..g.start + VNET_HDR_LEN + g.headers];
                let fits = !g.closed
                    && g.headers == seg.headers
                    && seg.seq == g.next_seq
                    && seg.payload <= g.mss
                    && g.len - VNET_HDR_LEN + seg.payload <= GRO_MAX
                    && same_headers(head, p, seg.v4, seg.l4, seg.headers);
                if fits {
                    let at = g.start + g.len;
                    self.buf[at..at + seg.payload].copy_from_slice(&p[seg.headers..]);
                    g.len += seg.payload;
                    g.next_seq = g.next_seq.wrapping_add(seg.payload as u32);
                    g.segments += 1;
                    if seg.payload < g.mss || seg.flags & TCP_PSH != 0 {
                        g.closed = true;
                        let flags_at = g.start + VNET_HDR_LEN + g.l4 + 13;
                        self.buf[flags_at] |= seg.flags & TCP_PSH;
                    }
                    return;
                }
            }
            // The flow's group can't take it: it stays where it is, closed.
            self.open.swap_remove(k);
        }
        let slot = self.groups;
        if slot >= GRO_GROUPS {
            self.entries.push(Entry::Single(start, len));
            return;
        }
        self.groups += 1;
        let gstart = slot * GRO_SLOT;
        if self.buf.len() < gstart + GRO_SLOT {
            self.buf.resize(gstart + GRO_SLOT, 0);
        }
        self.buf[gstart + VNET_HDR_LEN..gstart + VNET_HDR_LEN + p.len()].copy_from_slice(p);
        self.open.push(self.entries.len());
        self.entries.push(Entry::Group(Group {
            start: gstart,
            len: VNET_HDR_LEN + p.len(),
            headers: seg.headers,
            l4: seg.l4,
            mss: seg.payload,
            next_seq: seg.seq.wrapping_add(seg.payload as u32),
            segments: 1,
            v4: seg.v4,
            closed: seg.flags & TCP_PSH != 0,
        }));
    }

    /// Finishes the batch: calls `write` with each packet to hand to the TUN device
    /// (virtio_net_hdr included), in order. `src` is the buffer given to [`Gro::push`].
    pub(crate) fn flush(&mut self, src: &mut [u8], hdr: usize, mut write: impl FnMut(&[u8])) {
        for e in &self.entries {
            match *e {
                Entry::Single(start, len) => {
                    if let Some(p) = src.get_mut(start..start + len) {
                        p[..hdr].fill(0);
                        write(p);
                    }
                }
                Entry::Group(g) => {
                    let Some(b) = self.buf.get_mut(g.start..g.start + g.len) else {
                        continue;
                    };
                    finish_group(b, &g);
                    write(b);
                }
            }
        }
    }
}

/// True when both segments have the same addresses and ports.
fn same_flow(a: &[u8], b: &[u8], l4: usize) -> bool {
    let addrs = if l4 == 20 { 12..20 } else { 8..40 };
    a.len() >= l4 + 4
        && b.len() >= l4 + 4
        && a[addrs.clone()] == b[addrs]
        && a[l4..l4 + 4] == b[l4..l4 + 4]
}

/// Writes the virtio_net_hdr and fixes lengths and checksums of a finished group.
fn finish_group(b: &mut [u8], g: &Group) {
    let (h, p) = b.split_at_mut(VNET_HDR_LEN);
    h.fill(0);
    let ip_len = p.len();
    if g.segments == 1 {
        return; // unchanged packet, checksums valid
    }
    let l4 = g.l4;
    let tcp_len = ip_len - l4;
    let mut pseudo;
    if g.v4 {
        p[2..4].copy_from_slice(&(ip_len as u16).to_be_bytes());
        p[10..12].copy_from_slice(&[0, 0]);
        let c = !fold(sum_bytes(0, &p[..20]));
        p[10..12].copy_from_slice(&c.to_be_bytes());
        pseudo = sum_bytes(0, &p[12..20]);
    } else {
        p[4..6].copy_from_slice(&(tcp_len as u16).to_be_bytes());
        pseudo = sum_bytes(0, &p[8..40]);
    }
    pseudo += 6 + tcp_len as u64;
    // Partial checksum: the pseudo-header sum, not complemented; the kernel completes it.
    p[l4 + 16..l4 + 18].copy_from_slice(&fold(pseudo).to_be_bytes());
    h[0] = F_NEEDS_CSUM;
    h[1] = if g.v4 { GSO_TCPV4 } else { GSO_TCPV6 };
    h[2..4].copy_from_slice(&(g.headers as u16).to_le_bytes());
    h[4..6].copy_from_slice(&(g.mss as u16).to_le_bytes());
    h[6..8].copy_from_slice(&(l4 as u16).to_le_bytes());
    h[8..10].copy_from_slice(&16u16.to_le_bytes());
}

/// Adds `data` as big-endian 16-bit words to `sum` (not folded).
fn sum_bytes(mut sum: u64, data: &[u8]) -> u64 {
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        sum += (w >> 48) + ((w >> 32) & 0xffff) + ((w >> 16) & 0xffff) + (w & 0xffff);
    }
    let mut rest = chunks.remainder().chunks_exact(2);
    for c in &mut rest {
        sum += u64::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [b] = rest.remainder() {
        sum += u64::from(*b) << 8;
    }
    sum
}

/// Folds a 64-bit sum to 16 bits (one's complement).
fn fold(mut sum: u64) -> u16 {
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference checksum: the plain RFC 1071 loop.
    fn rfc1071(data: &[u8]) -> u16 {
        let mut sum: u32 = 0;
        for c in data.chunks(2) {
            let w = if c.len() == 2 {
                u16::from_be_bytes([c[0], c[1]])
            } else {
                u16::from(c[0]) << 8
            };
            sum += u32::from(w);
        }
        while sum >> 16 != 0 {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        !(sum as u16)
    }

    fn tcp_checksum_ok(pkt: &[u8]) -> bool {
        let v4 = pkt[0] >> 4 == 4;
        let l4 = if v4 {
            usize::from(pkt[0] & 0xf) * 4
        } else {
            40
        };
        let mut pseudo = Vec::new();
        if v4 {
            pseudo.extend_from_slice(&pkt[12..20]);
        } else {
            pseudo.extend_from_slice(&pkt[8..40]);
        }
        pseudo.extend_from_slice(&[0, 6]);
        pseudo.extend_from_slice(&((pkt.len() - l4) as u16).to_be_bytes());
        pseudo.extend_from_slice(&pkt[l4..]);
        rfc1071(&pseudo) == 0
    }

    fn tcp_packet(v4: bool, payload: usize, flags: u8) -> Vec<u8> {
        let l4 = if v4 { 20 } else { 40 };
        let mut p = vec![0u8; l4 + 20 + payload];
        if v4 {
            p[0] = 0x45;
            let total = p.len() as u16;
            p[2..4].copy_from_slice(&total.to_be_bytes());
            p[4..6].copy_from_slice(&0x1234u16.to_be_bytes());
            p[8] = 64;
            p[9] = 6;
            p[12..16].copy_from_slice(&[10, 0, 0, 1]);
            p[16..20].copy_from_slice(&[10, 0, 0, 2]);
        } else {
            p[0] = 0x60;
            p[4..6].copy_from_slice(&((20 + payload) as u16).to_be_bytes());
            p[6] = 6;
            p[7] = 64;
            p[8] = 0xfd;
            p[39] = 1;
            p[24] = 0xfd;
            p[23] = 2;
        }
        p[l4..l4 + 2].copy_from_slice(&40000u16.to_be_bytes());
        p[l4 + 2..l4 + 4].copy_from_slice(&5201u16.to_be_bytes());
        p[l4 + 4..l4 + 8].copy_from_slice(&0xffff_fff0u32.to_be_bytes());
        p[l4 + 12] = 5 << 4;
        p[l4 + 13] = flags;
        for (i, b) in p[l4 + 20..].iter_mut().enumerate() {
            *b = (i * 7 + 3) as u8;
        }
        p
    }

    fn with_hdr(gso_type: u8, mss: u16, l4: u16, pkt: &[u8]) -> Vec<u8> {
        let mut r = vec![0u8; VNET_HDR_LEN];
        r[0] = F_NEEDS_CSUM;
        r[1] = gso_type;
        r[2..4].copy_from_slice(&(l4 + 20).to_le_bytes());
        r[4..6].copy_from_slice(&mss.to_le_bytes());
        r[6..8].copy_from_slice(&l4.to_le_bytes());
        r[8..10].copy_from_slice(&16u16.to_le_bytes());
        r.extend_from_slice(pkt);
        r
    }

    #[test]
    fn checksum_matches_rfc1071() {
        for len in [0usize, 1, 2, 7, 8, 9, 15, 16, 17, 1500] {
            let data: Vec<u8> = (0..len).map(|i| (i * 31 + 7) as u8).collect();
            assert_eq!(!fold(sum_bytes(0, &data)), rfc1071(&data), "len {len}");
        }
    }

    #[test]
    fn tso_v4_splits_into_valid_segments() {
        let pkt = tcp_packet(true, 3000, 0x18 | TCP_CWR | TCP_FIN);
        let read = with_hdr(GSO_TCPV4, 1380, 20, &pkt);
        let mut out = vec![0u8; 8192];
        let (mut pos, mut packets) = (0, Vec::new());
        split(&read, &mut out, &mut pos, &mut packets).expect("split");
        let lens: Vec<usize> = packets.iter().map(|p| p.1).collect();
        assert_eq!(lens, vec![1420, 1420, 40 + 240]);
        let mut payload = Vec::new();
        for (i, &(s, l)) in packets.iter().enumerate() {
            let seg = &out[s..s + l];
            assert_eq!(u16::from_be_bytes([seg[2], seg[3]]) as usize, l);
            assert_eq!(rfc1071(&seg[..20]), 0, "IPv4 header checksum");
            assert_eq!(u16::from_be_bytes([seg[4], seg[5]]), 0x1234 + i as u16);
            assert!(tcp_checksum_ok(seg), "TCP checksum of segment {i}");
            let seq = u32::from_be_bytes([seg[24], seg[25], seg[26], seg[27]]);
            assert_eq!(seq, 0xffff_fff0u32.wrapping_add((i * 1380) as u32));
            let last = i == 2;
            assert_eq!(seg[33] & TCP_FIN != 0, last);
            assert_eq!(seg[33] & TCP_PSH != 0, last);
            assert_eq!(seg[33] & TCP_CWR != 0, i == 0);
            payload.extend_from_slice(&seg[40..]);
        }
        assert_eq!(payload, pkt[40..]);
    }

    #[test]
    fn tso_v6_splits_into_valid_segments() {
        let pkt = tcp_packet(false, 2000, 0x10);
        let read = with_hdr(GSO_TCPV6, 1000, 40, &pkt);
        let mut out = vec![0u8; 8192];
        let (mut pos, mut packets) = (0, Vec::new());
        split(&read, &mut out, &mut pos, &mut packets).expect("split");
        assert_eq!(packets.len(), 2);
        for &(s, l) in &packets {
            let seg = &out[s..s + l];
            assert_eq!(usize::from(u16::from_be_bytes([seg[4], seg[5]])), l - 40);
            assert!(tcp_checksum_ok(seg));
        }
    }

    #[test]
    fn partial_checksum_is_completed() {
        let mut pkt = tcp_packet(true, 100, 0x10);
        // What the kernel leaves: the pseudo-header sum, not complemented.
        let mut pseudo = sum_bytes(0, &pkt[12..20]) + 6 + 120;
        pseudo = u64::from(fold(pseudo));
        pkt[36..38].copy_from_slice(&(pseudo as u16).to_be_bytes());
        let mut read = with_hdr(GSO_NONE, 0, 20, &pkt);
        read[0] = F_NEEDS_CSUM;
        let mut out = vec![0u8; 4096];
        let (mut pos, mut packets) = (0, Vec::new());
        split(&read, &mut out, &mut pos, &mut packets).expect("split");
        assert_eq!(packets, vec![(0, pkt.len())]);
        assert!(tcp_checksum_ok(&out[..pkt.len()]));
    }

    #[test]
    fn hostile_headers_are_refused_not_panicking() {
        let pkt = tcp_packet(true, 3000, 0x10);
        let mut out = vec![0u8; 65536];
        let cases: Vec<Vec<u8>> = vec![
            vec![],
            vec![0; 5],
            with_hdr(GSO_TCPV4, 0, 20, &pkt),
            with_hdr(GSO_TCPV4, 1000, 9000, &pkt),
            with_hdr(GSO_TCPV4, 1000, 24, &pkt),
            with_hdr(GSO_TCPV6, 1000, 40, &pkt),
            with_hdr(3, 1000, 20, &pkt),
            with_hdr(GSO_TCPV4, 1000, 20, &pkt[..30]),
            {
                let mut r = with_hdr(GSO_NONE, 0, 20, &pkt);
                r[9] = 0xff;
                r
            },
        ];
        for (i, read) in cases.iter().enumerate() {
            let (mut pos, mut packets) = (0, Vec::new());
            assert!(
                split(read, &mut out, &mut pos, &mut packets).is_err(),
                "case {i} accepted"
            );
        }
        let (mut pos, mut packets) = (0, Vec::new());
        let read = with_hdr(GSO_TCPV4, 100, 20, &pkt);
        assert_eq!(
            split(&read, &mut out[..500], &mut pos, &mut packets),
            Err(SplitError::NoRoom)
        );
    }

    /// A buffer, where each packet lies in it, and the packets themselves.
    type Laid = (Vec<u8>, Vec<(usize, usize)>, Vec<Vec<u8>>);

    /// `n` consecutive segments of one flow, `mss` payload each (last `last` bytes), as the
    /// decrypt side lays them out: `hdr` bytes of space, then the packet.
    fn segments(v4: bool, n: usize, mss: usize, last: usize, hdr: usize) -> Laid {
        let mut buf = Vec::new();
        let mut at = Vec::new();
        let mut pkts = Vec::new();
        for i in 0..n {
            let len = if i + 1 == n { last } else { mss };
            let mut p = tcp_packet(v4, len, 0x10);
            let l4 = if v4 { 20 } else { 40 };
            let seq = 0xffff_fff0u32.wrapping_add((i * mss) as u32);
            p[l4 + 4..l4 + 8].copy_from_slice(&seq.to_be_bytes());
            for (j, b) in p[l4 + 20..].iter_mut().enumerate() {
                *b = ((i * mss + j) % 251) as u8;
            }
            if v4 {
                p[4..6].copy_from_slice(&(0x1234u16 + i as u16).to_be_bytes());
                let c = !fold(sum_bytes(0, &p[..20]));
                p[10..12].copy_from_slice(&c.to_be_bytes());
            }
            let mut sum = if v4 {
                sum_bytes(0, &p[12..20])
            } else {
                sum_bytes(0, &p[8..40])
            };
            sum += 6 + (p.len() - l4) as u64;
            let c = !fold(sum_bytes(sum, &p[l4..]));
            p[l4 + 16..l4 + 18].copy_from_slice(&c.to_be_bytes());
            assert!(tcp_checksum_ok(&p));
            at.push((buf.len(), hdr + p.len()));
            buf.resize(buf.len() + hdr, 0xee);
            buf.extend_from_slice(&p);
            pkts.push(p);
        }
        (buf, at, pkts)
    }

    fn gro_writes(buf: &mut [u8], at: &[(usize, usize)], hdr: usize) -> Vec<Vec<u8>> {
        let mut gro = Gro::default();
        for &(s, l) in at {
            gro.push(buf, s, l, hdr);
        }
        let mut writes = Vec::new();
        gro.flush(buf, hdr, |w| writes.push(w.to_vec()));
        writes
    }

    #[test]
    fn gro_coalesces_and_the_kernel_view_resegments_to_the_originals() {
        for v4 in [true, false] {
            let (mut buf, at, pkts) = segments(v4, 5, 1000, 300, VNET_HDR_LEN);
            let writes = gro_writes(&mut buf, &at, VNET_HDR_LEN);
            assert_eq!(writes.len(), 1, "one super-packet (v4: {v4})");
            let w = &writes[0];
            let h = VnetHdr::parse(w).expect("header");
            assert_eq!(h.gso_type, if v4 { GSO_TCPV4 } else { GSO_TCPV6 });
            assert_eq!(h.gso_size, 1000);
            // What the kernel would do with it (TSO) gives back the original segments.
            let mut out = vec![0u8; 65536];
            let (mut pos, mut back) = (0, Vec::new());
            split(w, &mut out, &mut pos, &mut back).expect("resegment");
            let back: Vec<Vec<u8>> = back.iter().map(|&(s, l)| out[s..s + l].to_vec()).collect();
            assert_eq!(back.len(), pkts.len());
            for (i, (b, p)) in back.iter().zip(&pkts).enumerate() {
                assert!(b == p, "segment {i} differs (v4: {v4})");
            }
        }
    }

    #[test]
    fn gro_keeps_flows_apart_and_order_within_a_flow() {
        let hdr = VNET_HDR_LEN;
        let (a, a_at, _) = segments(true, 3, 1000, 1000, hdr);
        let (mut b, b_at, _) = segments(true, 3, 1000, 1000, hdr);
        // Flow b: another source port.
        for &(s, _) in &b_at {
            b[s + hdr + 20..s + hdr + 22].copy_from_slice(&40001u16.to_be_bytes());
        }
        // Interleave a0 b0 a1 b1 a2 b2.
        let mut buf = Vec::new();
        let mut at = Vec::new();
        for i in 0..3 {
            for (src, pos) in [(&a, &a_at), (&b, &b_at)] {
                let (s, l) = pos[i];
                at.push((buf.len(), l));
                buf.extend_from_slice(&src[s..s + l]);
            }
        }
        let writes = gro_writes(&mut buf, &at, hdr);
        assert_eq!(writes.len(), 2);
        for w in &writes {
            assert_eq!(VnetHdr::parse(w).map(|h| h.gso_size), Some(1000));
            assert_eq!(w.len(), hdr + 40 + 3000);
        }
    }

    #[test]
    fn gro_leaves_gaps_non_tcp_and_flags_alone() {
        let hdr = VNET_HDR_LEN;
        // A gap in the sequence: two groups.
        let (mut buf, mut at, _) = segments(true, 4, 1000, 1000, hdr);
        at.remove(1);
        let writes = gro_writes(&mut buf, &at, hdr);
        assert_eq!(writes.len(), 2);
        assert_eq!(
            writes[0].len(),
            hdr + 1040,
            "a single segment is written as it came"
        );
        assert_eq!(VnetHdr::parse(&writes[0]), Some(VnetHdr::default()));
        assert_eq!(writes[1].len(), hdr + 40 + 2000);

        // A SYN, a UDP packet and garbage pass through unchanged, zero header in front.
        let mut syn = tcp_packet(true, 0, 0x02);
        syn[2..4].copy_from_slice(&40u16.to_be_bytes());
        let mut udp = tcp_packet(true, 10, 0);
        udp[9] = 17;
        let junk = vec![0xffu8; 7];
        let mut buf = Vec::new();
        let mut at = Vec::new();
        for p in [&syn, &udp, &junk] {
            at.push((buf.len(), hdr + p.len()));
            buf.resize(buf.len() + hdr, 0xee);
            buf.extend_from_slice(p);
        }
        let writes = gro_writes(&mut buf, &at, hdr);
        assert_eq!(writes.len(), 3);
        for (w, p) in writes.iter().zip([&syn, &udp, &junk]) {
            assert_eq!(&w[..hdr], &[0u8; VNET_HDR_LEN]);
            assert_eq!(&w[hdr..], &p[..]);
        }
    }
}
