//! An SSH banner server: it sends its identification line, reads the client's, and closes (it
//! never gets to key exchange). Enough for a prober, or `ssh -v`, to see an SSH server.

/// The identification line the lab's SSH servers send.
pub const BANNER: &[u8] = b"SSH-2.0-GatehouseLab_0.1 demo\r\n";
/// Longest client identification line read (RFC 4253: 255 bytes with CR LF).
const MAX_LINE: usize = 255;

/// One SSH connection.
#[derive(Debug, Default)]
pub struct Connection {
    seen: usize,
}

impl Connection {
    /// A new connection; the server sends [`BANNER`] first.
    pub fn new() -> Connection {
        Connection::default()
    }

    /// The bytes to send on accept.
    pub fn greeting(&self) -> Vec<u8> {
        BANNER.to_vec()
    }

    /// Feeds client bytes; returns false once the client's line ended (or ran past 255 bytes):
    /// the server closes.
    pub fn feed(&mut self, data: &[u8]) -> bool {
        if data.contains(&b'\n') {
            return false;
        }
        self.seen = self.seen.saturating_add(data.len());
        self.seen <= MAX_LINE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banner_then_close_after_the_client_line() {
        let mut c = Connection::new();
        assert!(c.greeting().starts_with(b"SSH-2.0-"));
        assert!(c.greeting().ends_with(b"\r\n"));
        assert!(c.feed(b"SSH-2.0-OpenSSH"));
        assert!(!c.feed(b"_9.2\r\n"));
        let mut c = Connection::new();
        assert!(!c.feed(&[b'x'; 300]));
        let mut c = Connection::new();
        assert!(c.feed(&[0u8; 10]));
    }
}
