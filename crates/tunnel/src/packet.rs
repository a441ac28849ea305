//! Typed views over IP packet headers (only the fields the core needs).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Source and destination of an IP packet, read from its header without copying the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IpHeader {
    pub(crate) src: IpAddr,
    pub(crate) dst: IpAddr,
}

impl IpHeader {
    /// Parses the version nibble and the addresses; `None` if `packet` is not a plausible IPv4
    /// (>= 20 bytes) or IPv6 (>= 40 bytes) packet.
    pub(crate) fn parse(packet: &[u8]) -> Option<IpHeader> {
        match packet.first()? >> 4 {
            4 => {
                let h: &[u8; 20] = packet.get(..20)?.try_into().ok()?;
                let src = Ipv4Addr::new(h[12], h[13], h[14], h[15]);
                let dst = Ipv4Addr::new(h[16], h[17], h[18], h[19]);
                Some(IpHeader {
                    src: src.into(),
                    dst: dst.into(),
                })
            }
            6 => {
                let h: &[u8; 40] = packet.get(..40)?.try_into().ok()?;
                let mut src = [0u8; 16];
                let mut dst = [0u8; 16];
                src.copy_from_slice(&h[8..24]);
                dst.copy_from_slice(&h[24..40]);
                Some(IpHeader {
                    src: Ipv6Addr::from(src).into(),
                    dst: Ipv6Addr::from(dst).into(),
                })
            }
            _ => None,
        }
    }
}

/// WireGuard message types (first little-endian u32 of a datagram).
pub(crate) const MSG_HANDSHAKE_INIT: u8 = 1;
pub(crate) const MSG_HANDSHAKE_RESP: u8 = 2;
pub(crate) const MSG_COOKIE_REPLY: u8 = 3;
pub(crate) const MSG_DATA: u8 = 4;

/// The message type of an outgoing WireGuard datagram (0 if empty).
pub(crate) fn msg_type(datagram: &[u8]) -> u8 {
    datagram.first().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_v4_and_v6_and_rejects_garbage() {
        let mut v4 = [0u8; 20];
        v4[0] = 0x45;
        v4[12..16].copy_from_slice(&[10, 0, 0, 1]);
        v4[16..20].copy_from_slice(&[10, 0, 0, 2]);
        let h = IpHeader::parse(&v4).expect("v4");
        assert_eq!(h.src, IpAddr::from([10, 0, 0, 1]));
        assert_eq!(h.dst, IpAddr::from([10, 0, 0, 2]));

        let mut v6 = [0u8; 40];
        v6[0] = 0x60;
        v6[23] = 1;
        v6[39] = 2;
        let h = IpHeader::parse(&v6).expect("v6");
        assert_eq!(h.src, "::1".parse::<IpAddr>().expect("addr"));
        assert_eq!(h.dst, "::2".parse::<IpAddr>().expect("addr"));

        assert_eq!(IpHeader::parse(&[]), None);
        assert_eq!(IpHeader::parse(&v4[..19]), None);
        assert_eq!(IpHeader::parse(&v6[..39]), None);
        assert_eq!(IpHeader::parse(&[0x50; 60]), None);
    }
}
