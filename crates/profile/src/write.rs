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
