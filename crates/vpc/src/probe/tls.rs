//! A minimal TLS ClientHello (enough for TLS 1.2 and 1.3 servers to answer with a ServerHello)
//! and a reader of what comes back: ServerHello (version, cipher suite) or an alert.
//!
//! The probe never finishes the handshake: the key share is a fixed valid X25519 point and the
//! random is fixed, so the hello is deterministic and costs no cryptography.

/// TLS 1.3 and 1.2 cipher suites offered (AEAD only).
const CIPHER_SUITES: &[u16] = &[
    0x1301, 0x1302, 0x1303, // TLS 1.3: AES-128-GCM, AES-256-GCM, CHACHA20-POLY1305
    0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, // ECDHE-{ECDSA,RSA} GCM / ChaCha
    0x009c, 0x009d, // RSA AES-GCM (old servers)
];

/// Signature schemes offered.
const SIGNATURE_SCHEMES: &[u16] = &[
    0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601, 0x0807,
];

/// The X25519 base point (u = 9): a valid public key that is not of low order.
fn key_share() -> [u8; 32] {
    let mut k = [0u8; 32];
    k[0] = 9;
    k
}

fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends extension `ty` with `body`.
fn extension(out: &mut Vec<u8>, ty: u16, body: &[u8]) {
    put_u16(out, ty);
    put_u16(out, body.len() as u16);
    out.extend_from_slice(body);
}

/// A TLS record holding one ClientHello; `server_name` (a DNS name, not an address) goes into
/// the SNI extension. Names longer than 255 bytes or not plain ASCII are left out.
pub fn client_hello(server_name: Option<&str>) -> Vec<u8> {
    let mut exts = Vec::with_capacity(256);
    if let Some(name) = server_name
        .filter(|n| !n.is_empty() && n.len() <= 255 && n.bytes().all(|b| b.is_ascii_graphic()))
    {
        let mut b = Vec::with_capacity(name.len() + 5);
        put_u16(&mut b, name.len() as u16 + 3);
        b.push(0); // host_name
        put_u16(&mut b, name.len() as u16);
        b.extend_from_slice(name.as_bytes());
        extension(&mut exts, 0x0000, &b);
    }
    // supported_groups: x25519, secp256r1, secp384r1.
    extension(
        &mut exts,
        0x000a,
        &[0, 6, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x18],
    );
    // ec_point_formats: uncompressed.
    extension(&mut exts, 0x000b, &[1, 0]);
    let mut sig = Vec::new();
    put_u16(&mut sig, (SIGNATURE_SCHEMES.len() * 2) as u16);
    for s in SIGNATURE_SCHEMES {
        put_u16(&mut sig, *s);
    }
    extension(&mut exts, 0x000d, &sig);
    // ALPN: http/1.1.
    extension(&mut exts, 0x0010, b"\x00\x09\x08http/1.1");
    // supported_versions: TLS 1.3, TLS 1.2.
    extension(&mut exts, 0x002b, &[4, 0x03, 0x04, 0x03, 0x03]);
    // psk_key_exchange_modes: psk_dhe_ke.
    extension(&mut exts, 0x002d, &[1, 1]);
    // key_share: one X25519 share.
    let mut ks = Vec::with_capacity(38);
    put_u16(&mut ks, 36);
    put_u16(&mut ks, 0x001d);
    put_u16(&mut ks, 32);
    ks.extend_from_slice(&key_share());
    extension(&mut exts, 0x0033, &ks);

    let mut body = Vec::with_capacity(128 + exts.len());
    put_u16(&mut body, 0x0303); // legacy_version
    body.extend((0u8..32).map(|i| i.wrapping_mul(37).wrapping_add(11))); // random
    body.push(32); // legacy_session_id (middlebox compatibility)
    body.extend((0u8..32).map(|i| i.wrapping_mul(13).wrapping_add(5)));
    put_u16(&mut body, (CIPHER_SUITES.len() * 2) as u16);
    for c in CIPHER_SUITES {
        put_u16(&mut body, *c);
    }
    body.extend_from_slice(&[1, 0]); // compression: null
    put_u16(&mut body, exts.len() as u16);
    body.extend_from_slice(&exts);

    let mut hs = Vec::with_capacity(body.len() + 4);
    hs.push(1); // client_hello
    let n = body.len() as u32;
    hs.extend_from_slice(&n.to_be_bytes()[1..]);
    hs.extend_from_slice(&body);

    let mut rec = Vec::with_capacity(hs.len() + 5);
    rec.extend_from_slice(&[0x16, 0x03, 0x01]);
    put_u16(&mut rec, hs.len() as u16);
    rec.extend_from_slice(&hs);
    rec
}

/// What a TLS server said first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerReply {
    /// A ServerHello (or HelloRetryRequest): negotiated version and cipher suite.
    Hello {
        /// `0x0304` for TLS 1.3 (from supported_versions), else the legacy version field.
        version: u16,
        /// The chosen cipher suite.
        cipher: u16,
    },
    /// An alert record: (level, description).
    Alert(u8, u8),
}

/// How far `bytes` go toward a TLS answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Read {
    /// Not TLS.
    NotTls,
    /// Looks like TLS; the first record is not complete yet.
    Incomplete,
    /// A ServerHello or an alert.
    Reply(ServerReply),
}

struct Cursor<'a> {
    b: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.b.len() < n {
            return None;
        }
        let (h, t) = self.b.split_at(n);
        self.b = t;
        Some(h)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
}

/// Reads the first TLS record of a server's answer.
pub fn read_server(bytes: &[u8]) -> Read {
    let Some(&ty) = bytes.first() else {
        return Read::Incomplete;
    };
    if ty != 0x16 && ty != 0x15 {
        return Read::NotTls;
    }
    match bytes.get(1) {
        None => return Read::Incomplete,
        Some(3) => {}
        Some(_) => return Read::NotTls,
    }
    match bytes.get(2) {
        None => return Read::Incomplete,
        Some(0..=4) => {}
        Some(_) => return Read::NotTls,
    }
    let Some(len) = bytes
        .get(3..5)
        .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
    else {
        return Read::Incomplete;
    };
    if len == 0 || len > 16384 + 2048 {
        return Read::NotTls;
    }
    let Some(body) = bytes.get(5..5 + len) else {
        return Read::Incomplete;
    };
    if ty == 0x15 {
        return match body {
            [level @ (1 | 2), desc, ..] => Read::Reply(ServerReply::Alert(*level, *desc)),
            _ => Read::NotTls,
        };
    }
    parse_server_hello(body).map_or(Read::NotTls, Read::Reply)
}

fn parse_server_hello(body: &[u8]) -> Option<ServerReply> {
    let mut c = Cursor { b: body };
    if c.u8()? != 2 {
        return None;
    }
    let len = c.take(3)?;
    let len = (usize::from(len[0]) << 16) | (usize::from(len[1]) << 8) | usize::from(len[2]);
    // The hello may continue in a later record; what we need sits in its first bytes.
    let mut h = Cursor {
        b: c.b.get(..len.min(c.b.len()))?,
    };
    let legacy = h.u16()?;
    if !(0x0300..=0x0304).contains(&legacy) {
        return None;
    }
    h.take(32)?;
    let sid = h.u8()?;
    if sid > 32 {
        return None;
    }
    h.take(usize::from(sid))?;
    let cipher = h.u16()?;
    h.u8()?;
    let mut version = legacy;
    if let Some(ext_len) = h.u16() {
        let mut e = Cursor {
            b: h.take(usize::from(ext_len)).unwrap_or(h.b),
        };
        while let (Some(ty), Some(n)) = (e.u16(), e.u16()) {
            let Some(data) = e.take(usize::from(n)) else {
                break;
            };
            if ty == 0x002b {
                if let [a, b] = data {
                    version = u16::from_be_bytes([*a, *b]);
                }
            }
        }
    }
    Some(ServerReply::Hello { version, cipher })
}

/// `TLS 1.3`, `TLS 1.2`… for a protocol version number.
pub fn version_name(v: u16) -> String {
    match v {
        0x0300 => "SSL 3.0".into(),
        0x0301 => "TLS 1.0".into(),
        0x0302 => "TLS 1.1".into(),
        0x0303 => "TLS 1.2".into(),
        0x0304 => "TLS 1.3".into(),
        other => format!("0x{other:04x}"),
    }
}

/// The IANA name of common cipher suites, else the number in hex.
pub fn cipher_name(c: u16) -> String {
    let name = match c {
        0x1301 => "TLS_AES_128_GCM_SHA256",
        0x1302 => "TLS_AES_256_GCM_SHA384",
        0x1303 => "TLS_CHACHA20_POLY1305_SHA256",
        0xc02b => "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        0xc02f => "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        0xc02c => "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        0xc030 => "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        0xcca9 => "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        0xcca8 => "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        0x009c => "TLS_RSA_WITH_AES_128_GCM_SHA256",
        0x009d => "TLS_RSA_WITH_AES_256_GCM_SHA384",
        other => return format!("0x{other:04x}"),
    };
    name.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_hello_is_a_well_formed_record() {
        let h = client_hello(Some("router.home.internal"));
        assert_eq!(&h[..3], &[0x16, 0x03, 0x01]);
        let rec_len = usize::from(u16::from_be_bytes([h[3], h[4]]));
        assert_eq!(rec_len, h.len() - 5);
        assert_eq!(h[5], 1);
        let hs_len = (usize::from(h[6]) << 16) | (usize::from(h[7]) << 8) | usize::from(h[8]);
        assert_eq!(hs_len, h.len() - 9);
        // SNI present, in clear.
        assert!(h.windows(20).any(|w| w == b"router.home.internal"));
        // Without a name (or with an address-like garbage name) there is no SNI extension.
        let bare = client_hello(None);
        assert_eq!(bare.len() + 9 + "router.home.internal".len(), h.len());
        assert_eq!(client_hello(Some("bad name\n")), bare);
    }

    /// A TLS 1.3 ServerHello as rustls sends it (random and key share shortened to zeros).
    fn tls13_server_hello() -> Vec<u8> {
        let mut body = vec![0x03, 0x03];
        body.extend_from_slice(&[0u8; 32]);
        body.push(32);
        body.extend_from_slice(&[7u8; 32]);
        body.extend_from_slice(&[0x13, 0x02, 0x00]);
        let exts = [
            0x00, 0x2b, 0x00, 0x02, 0x03, 0x04, // supported_versions: TLS 1.3
            0x00, 0x33, 0x00, 0x24, 0x00, 0x1d, 0x00, 0x20, // key_share x25519, 32 bytes
        ];
        let mut exts = exts.to_vec();
        exts.extend_from_slice(&[1u8; 32]);
        body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
        body.extend_from_slice(&exts);
        let mut hs = vec![2, 0, 0, body.len() as u8];
        hs.extend_from_slice(&body);
        let mut rec = vec![0x16, 0x03, 0x03, 0, hs.len() as u8];
        rec.extend_from_slice(&hs);
        // rustls follows with a ChangeCipherSpec record.
        rec.extend_from_slice(&[0x14, 0x03, 0x03, 0x00, 0x01, 0x01]);
        rec
    }

    #[test]
    fn reads_a_tls13_server_hello_and_every_prefix_is_incomplete() {
        let rec = tls13_server_hello();
        assert_eq!(
            read_server(&rec),
            Read::Reply(ServerReply::Hello {
                version: 0x0304,
                cipher: 0x1302
            })
        );
        let first_record = 5 + usize::from(rec[4]);
        for n in 0..first_record {
            assert_eq!(read_server(&rec[..n]), Read::Incomplete, "prefix {n}");
        }
        assert_eq!(version_name(0x0304), "TLS 1.3");
        assert_eq!(cipher_name(0x1302), "TLS_AES_256_GCM_SHA384");
        assert_eq!(cipher_name(0xabcd), "0xabcd");
    }

    #[test]
    fn reads_a_tls12_hello_without_extensions_and_alerts() {
        let mut body = vec![0x03, 0x03];
        body.extend_from_slice(&[0u8; 32]);
        body.push(0);
        body.extend_from_slice(&[0xc0, 0x2f, 0x00]);
        let mut hs = vec![2, 0, 0, body.len() as u8];
        hs.extend_from_slice(&body);
        let mut rec = vec![0x16, 0x03, 0x03, 0, hs.len() as u8];
        rec.extend_from_slice(&hs);
        assert_eq!(
            read_server(&rec),
            Read::Reply(ServerReply::Hello {
                version: 0x0303,
                cipher: 0xc02f
            })
        );
        // handshake_failure, fatal.
        assert_eq!(
            read_server(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]),
            Read::Reply(ServerReply::Alert(2, 40))
        );
    }

    #[test]
    fn hostile_bytes_are_not_tls_and_never_panic() {
        assert_eq!(read_server(b"HTTP/1.1 400 Bad Request\r\n"), Read::NotTls);
        assert_eq!(read_server(&[0x16, 0x03, 0x03, 0x00, 0x00]), Read::NotTls);
        assert_eq!(read_server(&[0x16, 0x09]), Read::NotTls);
        assert_eq!(read_server(&[0x16, 0x03, 0x07]), Read::NotTls);
        assert_eq!(
            read_server(&[0x15, 0x03, 0x03, 0x00, 0x01, 0x02]),
            Read::NotTls
        );
        assert_eq!(read_server(&[0x16, 0x03, 0x03, 0xff, 0xff]), Read::NotTls);
        // A handshake record whose hello lies about its lengths.
        let mut rec = vec![
            0x16, 0x03, 0x03, 0x00, 0x08, 2, 0xff, 0xff, 0xff, 3, 3, 0, 0,
        ];
        assert_eq!(read_server(&rec), Read::NotTls);
        rec[9] = 0x09;
        assert_eq!(read_server(&rec), Read::NotTls);
        // Every prefix and byte flip of a real hello: no panic.
        let good = tls13_server_hello();
        for i in 0..good.len() {
            let _ = read_server(&good[..i]);
            let mut bad = good.clone();
            bad[i] ^= 0xff;
            let _ = read_server(&bad);
        }
    }
}
