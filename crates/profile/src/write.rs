//! Writing a [`Config`] as canonical wg-quick text.
//!
//! `[Interface]` first, then each `[Peer]` after a blank line; keys in their usual spelling
//! and a fixed order; comma lists joined with `", "`; `FwMark` in hex as `wg showconf` prints it;
//! secrets written when present. For every `Config` that [`parse`](crate::parse::parse) can
//! produce, `parse(write(c)) == c`. Values the text format cannot carry (a hook command with a
//! `#` or a line break, a search domain with spaces…) cannot round-trip: validate before writing.

use crate::model::Config;
use std::fmt::Write as _;

/// The wg-quick text of `config`. Contains the private and preshared keys when present.
pub fn write(config: &Config) -> String {
    let mut out = String::new();
    let i = &config.interface;
    out.push_str("[Interface]\n");
    if let Some(k) = &i.private_key {
        // The only place a secret is formatted: straight into the output.
        let _ = writeln!(out, "PrivateKey = {}", k.expose_base64());
    }
    if !i.addresses.is_empty() {
        let _ = writeln!(out, "Address = {}", join(&i.addresses));
    }
    if let Some(p) = i.listen_port {
        let _ = writeln!(out, "ListenPort = {p}");
    }
    if let Some(m) = i.fwmark {
        let _ = writeln!(out, "FwMark = {m:#x}");
    }
    if !i.dns.is_empty() {
        let _ = writeln!(out, "DNS = {}", join(&i.dns));
    }
    if let Some(m) = i.mtu {
        let _ = writeln!(out, "MTU = {m}");
    }
    if let Some(t) = &i.table {
        let _ = writeln!(out, "Table = {t}");
    }
    for (key, cmds) in [
        ("PreUp", &i.pre_up),
        ("PostUp", &i.post_up),
        ("PreDown", &i.pre_down),
        ("PostDown", &i.post_down),
    ] {
        for c in cmds {
            let _ = writeln!(out, "{key} = {c}");
        }
    }
    if let Some(b) = i.save_config {
        let _ = writeln!(out, "SaveConfig = {b}");
    }
    for p in &config.peers {
        out.push_str("\n[Peer]\n");
        let _ = writeln!(out, "PublicKey = {}", p.public_key);
        if let Some(k) = &p.preshared_key {
            let _ = writeln!(out, "PresharedKey = {}", k.expose_base64());
        }
        if !p.allowed_ips.is_empty() {
            let _ = writeln!(out, "AllowedIPs = {}", join(&p.allowed_ips));
        }
        if let Some(e) = &p.endpoint {
            let _ = writeln!(out, "Endpoint = {e}");
        }
        if let Some(k) = p.persistent_keepalive {
            let _ = writeln!(out, "PersistentKeepalive = {k}");
        }
    }
    out
}

fn join<T: std::fmt::Display>(items: &[T]) -> String {
    let mut s = String::new();
    for (n, item) in items.iter().enumerate() {
        if n > 0 {
            s.push_str(", ");
        }
        let _ = write!(s, "{item}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DnsEntry, Endpoint, Host, Interface, Peer, Table};
    use crate::{Key, Secret};

    #[test]
    fn empty_config_is_an_interface_header() {
        assert_eq!(write(&Config::default()), "[Interface]\n");
    }

    #[test]
    fn every_field_in_wg_quick_spelling_and_order() {
        let config = Config {
            interface: Interface {
                private_key: Some(Secret::from_bytes([1; 32])),
                listen_port: Some(51820),
                fwmark: Some(0x30),
                addresses: vec![
                    "10.0.0.2/24".parse().unwrap(),
                    "fd00::2/64".parse().unwrap(),
                ],
                dns: vec![
                    DnsEntry::Server("1.1.1.1".parse().unwrap()),
                    DnsEntry::Search("corp".into()),
                ],
                mtu: Some(1420),
                table: Some(Table::Named("vpn".into())),
                pre_up: vec!["a".into()],
                post_up: vec!["b; c".into(), "d".into()],
                pre_down: vec!["e".into()],
                post_down: vec!["f".into()],
                save_config: Some(false),
            },
            peers: vec![
                Peer {
                    public_key: Key([2; 32]),
                    preshared_key: Some(Secret::from_bytes([3; 32])),
                    allowed_ips: vec!["0.0.0.0/0".parse().unwrap(), "::/0".parse().unwrap()],
                    endpoint: Some(Endpoint {
                        host: Host::Ip("2001:db8::1".parse().unwrap()),
                        port: 51820,
                    }),
                    persistent_keepalive: Some(25),
                },
                Peer {
                    public_key: Key([4; 32]),
                    preshared_key: None,
                    allowed_ips: vec![],
                    endpoint: Some(Endpoint {
                        host: Host::Name("vpn.example.com".into()),
                        port: 1,
                    }),
                    persistent_keepalive: None,
                },
            ],
        };
        let one = Secret::from_bytes([1; 32]).expose_base64();
        let three = Secret::from_bytes([3; 32]).expose_base64();
        let expected = format!(
            "[Interface]\n\
             PrivateKey = {one}\n\
             Address = 10.0.0.2/24, fd00::2/64\n\
             ListenPort = 51820\n\
             FwMark = 0x30\n\
             DNS = 1.1.1.1, corp\n\
             MTU = 1420\n\
             Table = vpn\n\
             PreUp = a\n\
             PostUp = b; c\n\
             PostUp = d\n\
             PreDown = e\n\
             PostDown = f\n\
             SaveConfig = false\n\
             \n\
             [Peer]\n\
             PublicKey = {}\n\
             PresharedKey = {three}\n\
             AllowedIPs = 0.0.0.0/0, ::/0\n\
             Endpoint = [2001:db8::1]:51820\n\
             PersistentKeepalive = 25\n\
             \n\
             [Peer]\n\
             PublicKey = {}\n\
             Endpoint = vpn.example.com:1\n",
            Key([2; 32]),
            Key([4; 32]),
        );
        assert_eq!(write(&config), expected);
        assert_eq!(crate::parse::parse(&expected, "w").unwrap(), config);
    }
}
