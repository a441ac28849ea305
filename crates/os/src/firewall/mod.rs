//! Packet filter rules that come with a default route, as wg-quick(8) adds them.
//!
//! For each family routed entirely through the tunnel, one nftables table
//! `gatehouse-IFACE` (family `ip` / `ip6`) with:
//! - `preraw`: drop packets for the tunnel's own addresses arriving on another interface
//!   (unless locally sourced), so nobody on the LAN can reach into the tunnel address;
//! - `postmangle` / `premangle`: copy the fwmark of the tunnel's UDP packets into conntrack and
//!   back onto the replies, so reverse-path filtering (with `src_valid_mark`) accepts them.
//!
//! `Firewall` (the OS implementation, chosen once) installs and removes the tables.

#[cfg(target_os = "linux")]
#[path = "linux.rs"]
mod imp;
#[cfg(not(target_os = "linux"))]
#[path = "unsupported.rs"]
mod imp;

pub(crate) use imp::Firewall;

use crate::net::Family;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// One nftables table to install: what [`crate::Plan`] asks for a family with a default route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirewallSpec {
    /// The family whose default route goes through the tunnel.
    pub family: Family,
    /// The mark on the tunnel's UDP packets.
    pub fwmark: u32,
    /// The tunnel interface's addresses of that family.
    pub addresses: Vec<IpAddr>,
}

/// One change to the packet filter, recorded so it can be undone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum FirewallUndo {
    /// `nft delete table FAMILY NAME`.
    DeleteNftTable {
        /// `ip` or `ip6`.
        family: String,
        /// The table name.
        name: String,
    },
}

impl std::fmt::Display for FirewallUndo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FirewallUndo::DeleteNftTable { family, name } => {
                write!(f, "nft delete table {family} {name}")
            }
        }
    }
}

/// The nftables family keyword.
pub fn nft_family(family: Family) -> &'static str {
    match family {
        Family::V4 => "ip",
        Family::V6 => "ip6",
    }
}

/// The table name for an interface.
pub fn nft_table_name(interface: &str) -> String {
    format!("gatehouse-{interface}")
}

/// True for names wg-quick accepts (`[a-zA-Z0-9_=+.-]{1,15}`): safe to place in an nft script.
pub fn valid_interface_name(name: &str) -> bool {
    (1..=15).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_=+.-".contains(c))
}

/// The `nft -f` script wg-quick writes for one family (with our table name).
pub fn nft_script(interface: &str, spec: &FirewallSpec) -> String {
    let pf = nft_family(spec.family);
    let t = nft_table_name(interface);
    let mut s = format!("add table {pf} {t}\n");
    s.push_str(&format!(
        "add chain {pf} {t} preraw {{ type filter hook prerouting priority -300; }}\n"
    ));
    s.push_str(&format!(
        "add chain {pf} {t} premangle {{ type filter hook prerouting priority -150; }}\n"
    ));
    s.push_str(&format!(
        "add chain {pf} {t} postmangle {{ type filter hook postrouting priority -150; }}\n"
    ));
    for a in &spec.addresses {
        s.push_str(&format!(
            "add rule {pf} {t} preraw iifname != \"{interface}\" {pf} daddr {a} fib saddr type != local drop\n"
        ));
    }
    s.push_str(&format!(
        "add rule {pf} {t} postmangle meta l4proto udp mark {} ct mark set mark\n",
        spec.fwmark
    ));
    s.push_str(&format!(
        "add rule {pf} {t} premangle meta l4proto udp meta mark set ct mark\n"
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_matches_wg_quick() {
        let spec = FirewallSpec {
            family: Family::V4,
            fwmark: 51820,
            addresses: vec!["10.100.0.1".parse().expect("ip")],
        };
        assert_eq!(
            nft_script("gh0", &spec),
            "add table ip gatehouse-gh0\n\
             add chain ip gatehouse-gh0 preraw { type filter hook prerouting priority -300; }\n\
             add chain ip gatehouse-gh0 premangle { type filter hook prerouting priority -150; }\n\
             add chain ip gatehouse-gh0 postmangle { type filter hook postrouting priority -150; }\n\
             add rule ip gatehouse-gh0 preraw iifname != \"gh0\" ip daddr 10.100.0.1 fib saddr type != local drop\n\
             add rule ip gatehouse-gh0 postmangle meta l4proto udp mark 51820 ct mark set mark\n\
             add rule ip gatehouse-gh0 premangle meta l4proto udp meta mark set ct mark\n"
        );
    }

    #[test]
    fn interface_names_that_could_break_a_script_are_refused() {
        assert!(valid_interface_name("wg0"));
        assert!(valid_interface_name("gh-home.1"));
        assert!(!valid_interface_name(""));
        assert!(!valid_interface_name("a\"b"));
        assert!(!valid_interface_name("a b"));
        assert!(!valid_interface_name("sixteen-chars-xx"));
    }
}
