//! A MySQL greeting server: it sends the protocol-10 handshake (version, connection id, auth
//! data, `caching_sha2_password`), and answers the client's login with "access denied" (the
//! demo lab has no MySQL users), then closes.

/// The version the lab's MySQL server announces.
pub const VERSION: &str = "8.0.36-gatehouse-lab";

/// One MySQL connection.
#[derive(Debug)]
pub struct Connection {
    id: u32,
    input: usize,
}

/// A MySQL packet: 3-byte little-endian length, sequence id, payload.
fn packet(seq: u8, payload: &[u8]) -> Vec<u8> {
    let len = (payload.len() as u32).to_le_bytes();
    let mut out = Vec::with_capacity(payload.len() + 4);
    out.extend_from_slice(&len[..3]);
    out.push(seq);
    out.extend_from_slice(payload);
    out
}

impl Connection {
    /// A new connection with this connection id.
    pub fn new(id: u32) -> Connection {
        Connection { id, input: 0 }
    }

    /// The server greeting (sent on accept).
    pub fn greeting(&self) -> Vec<u8> {
        let mut p = vec![10];
        p.extend_from_slice(VERSION.as_bytes());
        p.push(0);
        p.extend_from_slice(&self.id.to_le_bytes());
        // Auth plugin data (20 bytes in two parts); a demo needs no randomness.
        let scramble: Vec<u8> = (0..20u8)
            .map(|i| b'A' + i.wrapping_mul(7).wrapping_add(self.id as u8) % 26)
            .collect();
        p.extend_from_slice(&scramble[..8]);
        p.push(0);
        // Capabilities (lower), charset utf8mb4_0900_ai_ci, status autocommit, capabilities
        // (upper), auth data length.
        p.extend_from_slice(&[0xff, 0xff, 0xff, 0x02, 0x00, 0xff, 0xdf, 21]);
        p.extend_from_slice(&[0; 10]);
        p.extend_from_slice(&scramble[8..]);
        p.push(0);
        p.extend_from_slice(b"caching_sha2_password\0");
        packet(0, &p)
    }

    /// Feeds client bytes, appends the answer to `out`; returns false when the server closes
    /// (after answering the login packet).
    pub fn feed(&mut self, data: &[u8], out: &mut Vec<u8>) -> bool {
        self.input = self.input.saturating_add(data.len());
        if self.input < 4 {
            return true;
        }
        let mut p = vec![0xff];
        p.extend_from_slice(&1045u16.to_le_bytes());
        p.extend_from_slice(b"#28000");
        p.extend_from_slice(b"Access denied: the Gatehouse demo lab has no MySQL users");
        out.extend_from_slice(&packet(2, &p));
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greeting_is_a_protocol_10_packet() {
        let c = Connection::new(4001);
        let g = c.greeting();
        let len = usize::from(g[0]) | usize::from(g[1]) << 8 | usize::from(g[2]) << 16;
        assert_eq!(len, g.len() - 4);
        assert_eq!(g[3], 0);
        assert_eq!(g[4], 10);
        assert!(g[5..].starts_with(VERSION.as_bytes()));
        assert_eq!(g[5 + VERSION.len()], 0);
        assert!(g.ends_with(b"caching_sha2_password\0"));
    }

    #[test]
    fn login_is_denied_then_closed() {
        let mut c = Connection::new(1);
        let mut out = Vec::new();
        assert!(c.feed(b"\x01\x00", &mut out));
        assert!(out.is_empty());
        assert!(!c.feed(b"\x00\x01rest of a login", &mut out));
        assert_eq!(out[3], 2);
        assert_eq!(out[4], 0xff);
        assert_eq!(u16::from_le_bytes([out[5], out[6]]), 1045);
    }
}
