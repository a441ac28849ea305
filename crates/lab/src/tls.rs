//! HTTPS for the lab: a rustls server (certificate self-signed with rcgen when the lab starts)
//! in front of the same HTTP pages, driven sans-IO: TLS bytes in, TLS bytes out.

use std::io::{Read as _, Write as _};
use std::sync::Arc;

use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::ServerConfig;

use crate::http;
use crate::plan::Host;

/// The TLS server configuration: a self-signed certificate for `names`, TLS 1.2 and 1.3, ring
/// crypto. `None` if the certificate or configuration cannot be made (the lab then serves the
/// port without TLS answers).
pub fn server_config(names: &[&str]) -> Option<Arc<ServerConfig>> {
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let cert = rcgen::generate_simple_self_signed(names).ok()?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key_pair.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .ok()?
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .ok()?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Some(Arc::new(config))
}

/// One HTTPS connection.
pub struct Connection {
    tls: rustls::ServerConnection,
    host: &'static Host,
    input: Vec<u8>,
}

impl Connection {
    /// A new connection for `host`'s pages.
    pub fn new(config: &Arc<ServerConfig>, host: &'static Host) -> Option<Connection> {
        Some(Connection {
            tls: rustls::ServerConnection::new(config.clone()).ok()?,
            host,
            input: Vec::new(),
        })
    }

    /// Feeds TLS bytes from the client, appends TLS bytes to send to `out`. Returns false when
    /// the connection is to close (after the response, or a TLS error and its alert).
    pub fn feed(&mut self, mut data: &[u8], out: &mut Vec<u8>) -> bool {
        let mut keep_open = true;
        while !data.is_empty() {
            match self.tls.read_tls(&mut data) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            if self.tls.process_new_packets().is_err() {
                keep_open = false;
                break;
            }
        }
        if keep_open {
            let mut buf = [0u8; 4096];
            loop {
                match self.tls.reader().read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => self.input.extend_from_slice(&buf[..n]),
                }
            }
            let response = match http::parse_head(&self.input) {
                http::Head::Incomplete => None,
                http::Head::Request(req) => Some(http::respond(self.host, &req)),
                http::Head::Bad(status) => Some(http::respond_bad(status)),
            };
            if let Some(r) = response {
                let _ = self.tls.writer().write_all(&r);
                self.tls.send_close_notify();
                keep_open = false;
            }
        }
        while self.tls.wants_write() {
            match self.tls.write_tls(out) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        keep_open
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan;

    #[test]
    fn serves_the_hosts_page_over_tls_to_a_rustls_client() {
        let config = server_config(&["router.home.internal"]).expect("config");
        let host = plan::host_by_name("router").expect("router");
        let mut server = Connection::new(&config, host).expect("server");

        // A real rustls client; it accepts the self-signed certificate (this checks the server
        // side, not PKI).
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = Arc::new(AcceptAny(provider.clone()));
        let client_config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        let name = rustls::pki_types::ServerName::try_from("router.home.internal").expect("name");
        let mut client =
            rustls::ClientConnection::new(Arc::new(client_config), name).expect("client");
        client
            .writer()
            .write_all(b"GET / HTTP/1.1\r\nHost: router.home.internal\r\n\r\n")
            .expect("write");
        let mut plain = Vec::new();
        let mut open = true;
        for _ in 0..10 {
            let mut to_server = Vec::new();
            while client.wants_write() {
                client.write_tls(&mut to_server).expect("write_tls");
            }
            let mut to_client = Vec::new();
            if open && !to_server.is_empty() {
                open = server.feed(&to_server, &mut to_client);
            }
            let mut rd = &to_client[..];
            while !rd.is_empty() {
                if client.read_tls(&mut rd).expect("read_tls") == 0 {
                    break;
                }
                client.process_new_packets().expect("client TLS");
            }
            let mut buf = [0u8; 4096];
            while let Ok(n) = client.reader().read(&mut buf) {
                if n == 0 {
                    break;
                }
                plain.extend_from_slice(&buf[..n]);
            }
            if !open && !client.wants_write() {
                break;
            }
        }
        let text = String::from_utf8_lossy(&plain);
        assert!(text.starts_with("HTTP/1.1 200"), "{text}");
        assert!(
            text.contains("<title>Home router - admin</title>"),
            "{text}"
        );
        assert!(!open);
    }

    #[test]
    fn garbage_gets_an_alert_and_a_close() {
        let config = server_config(&["x.internal"]).expect("config");
        let host = plan::host_by_name("router").expect("router");
        let mut server = Connection::new(&config, host).expect("server");
        let mut out = Vec::new();
        assert!(!server.feed(b"GET / HTTP/1.1\r\n\r\n", &mut out));
        assert_eq!(out.first(), Some(&0x15), "an alert record: {out:?}");
    }

    /// Accepts any server certificate (the test checks the server side, not PKI).
    #[derive(Debug)]
    struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);

    impl rustls::client::danger::ServerCertVerifier for AcceptAny {
        fn verify_server_cert(
            &self,
            _: &rustls::pki_types::CertificateDer<'_>,
            _: &[rustls::pki_types::CertificateDer<'_>],
            _: &rustls::pki_types::ServerName<'_>,
            _: &[u8],
            _: rustls::pki_types::UnixTime,
        ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            m: &[u8],
            c: &rustls::pki_types::CertificateDer<'_>,
            d: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(
                m,
                c,
                d,
                &self.0.signature_verification_algorithms,
            )
        }
        fn verify_tls13_signature(
            &self,
            m: &[u8],
            c: &rustls::pki_types::CertificateDer<'_>,
            d: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(
                m,
                c,
                d,
                &self.0.signature_verification_algorithms,
            )
        }
        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }
}
