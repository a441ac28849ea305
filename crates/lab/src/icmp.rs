//! Ping: the lab's hosts answer ICMP echo requests (where the firewall lets them through).

fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for chunk in data.chunks(2) {
        let word = match chunk {
            [a, b] => u16::from_be_bytes([*a, *b]),
            [a] => u16::from_be_bytes([*a, 0]),
            _ => 0,
        };
        sum += u32::from(word);
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The echo reply to an IPv4 ICMP echo request (`None` for anything else, or a malformed or
/// fragmented packet). Never panics.
pub fn echo_reply(packet: &[u8]) -> Option<Vec<u8>> {
    let first = *packet.first()?;
    let ihl = usize::from(first & 0x0f) * 4;
    if first >> 4 != 4 || ihl < 20 || packet.len() < ihl + 8 || packet[9] != 1 {
        return None;
    }
    let total = usize::from(u16::from_be_bytes([packet[2], packet[3]]));
    let frag = u16::from_be_bytes([packet[6], packet[7]]);
    if total < ihl + 8 || total > packet.len() || frag & 0x3fff != 0 {
        return None;
    }
    let icmp = &packet[ihl..total];
    if icmp[0] != 8 || icmp[1] != 0 || checksum(icmp) != 0 {
        return None;
    }
    let mut reply = Vec::with_capacity(20 + icmp.len());
    reply.extend_from_slice(&[0x45, 0]);
    reply.extend_from_slice(&((20 + icmp.len()) as u16).to_be_bytes());
    reply.extend_from_slice(&[0, 0, 0x40, 0, 64, 1, 0, 0]);
    reply.extend_from_slice(&packet[16..20]); // source: the pinged host
    reply.extend_from_slice(&packet[12..16]); // destination: the sender
    let ip_sum = checksum(&reply[..20]);
    reply[10..12].copy_from_slice(&ip_sum.to_be_bytes());
    reply.extend_from_slice(icmp);
    reply[20] = 0; // echo reply
    reply[22..24].copy_from_slice(&[0, 0]);
    let icmp_sum = checksum(&reply[20..]);
    reply[22..24].copy_from_slice(&icmp_sum.to_be_bytes());
    Some(reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> Vec<u8> {
        let mut icmp = vec![8, 0, 0, 0, 0x12, 0x34, 0, 1, b'h', b'i', b'!'];
        let s = checksum(&icmp);
        icmp[2..4].copy_from_slice(&s.to_be_bytes());
        let mut p = vec![
            0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 1, 0, 0, 10, 100, 0, 2, 192, 168, 1, 20,
        ];
        let total = (20 + icmp.len()) as u16;
        p[2..4].copy_from_slice(&total.to_be_bytes());
        let s = checksum(&p);
        p[10..12].copy_from_slice(&s.to_be_bytes());
        p.extend_from_slice(&icmp);
        p
    }

    #[test]
    fn replies_swap_addresses_and_checksum() {
        let r = echo_reply(&request()).expect("reply");
        assert_eq!(&r[12..16], &[192, 168, 1, 20]);
        assert_eq!(&r[16..20], &[10, 100, 0, 2]);
        assert_eq!(checksum(&r[..20]), 0);
        assert_eq!(r[20], 0);
        assert_eq!(checksum(&r[20..]), 0);
        assert_eq!(&r[24..], &[0x12, 0x34, 0, 1, b'h', b'i', b'!']);
    }

    #[test]
    fn anything_else_is_not_answered() {
        let p = request();
        for len in 0..p.len() {
            assert!(echo_reply(&p[..len]).is_none());
        }
        let mut bad = p.clone();
        bad[28] ^= 1; // payload changed: checksum wrong
        assert!(echo_reply(&bad).is_none());
        let mut reply = p.clone();
        reply[20] = 0; // an echo reply is not answered
        assert!(echo_reply(&reply).is_none());
        let mut frag = p;
        frag[6] = 0x20; // more fragments
        assert!(echo_reply(&frag).is_none());
    }
}
