//! The kill switch: an nftables table `inet gatehouse` whose output chain drops everything but
//! loopback, the tunnel interface, and the WireGuard datagrams to the endpoints; DNS through the
//! tunnel only to the tunnel's servers.
//!
//! Installed before the host is configured (so nothing leaks while Connecting), removed after
//! the tunnel is gone. Loaded with `nft -f FILE` (the ruleset text is built here and unit
//! tested); one table for the host, since only a full-tunnel profile may use it and two of
//! those never run at once (their routes collide).

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

/// The nftables family and name of the table.
pub const TABLE: &str = "inet gatehouse";

/// What the kill switch lets through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KillSwitch {
    /// The tunnel interface.
    pub interface: String,
    /// The WireGuard endpoints (resolved).
    pub endpoints: Vec<SocketAddr>,
    /// The tunnel's DNS servers; empty: DNS through the tunnel is not restricted.
    pub dns: Vec<IpAddr>,
}

/// The kill switch could not be changed.
#[derive(Debug, thiserror::Error)]
#[error("kill switch: {0}")]
pub struct KillSwitchError(String);

fn set(addrs: &[String]) -> String {
    format!("{{ {} }}", addrs.join(", "))
}

impl KillSwitch {
    /// The `nft -f` script: replaces any previous table atomically.
    pub fn ruleset(&self) -> String {
        let i = &self.interface;
        let mut s = String::new();
        // `add` then `delete` makes the script work whether or not the table exists; nft
        // applies the whole file as one transaction.
        s.push_str(&format!("add table {TABLE}\ndelete table {TABLE}\n"));
        s.push_str(&format!("table {TABLE} {{\n"));
        s.push_str("  chain output {\n    type filter hook output priority 0; policy drop;\n");
        s.push_str("    oifname \"lo\" accept\n");
        if !self.dns.is_empty() {
            let v4: Vec<String> = self
                .dns
                .iter()
                .filter(|a| a.is_ipv4())
                .map(|a| a.to_string())
                .collect();
            let v6: Vec<String> = self
                .dns
                .iter()
                .filter(|a| a.is_ipv6())
                .map(|a| a.to_string())
                .collect();
            for proto in ["udp", "tcp"] {
                if v4.is_empty() {
                    s.push_str(&format!("    meta nfproto ipv4 {proto} dport 53 drop\n"));
                } else {
                    s.push_str(&format!(
                        "    ip daddr != {} {proto} dport 53 drop\n",
                        set(&v4)
                    ));
                }
                if v6.is_empty() {
                    s.push_str(&format!("    meta nfproto ipv6 {proto} dport 53 drop\n"));
                } else {
                    s.push_str(&format!(
                        "    ip6 daddr != {} {proto} dport 53 drop\n",
                        set(&v6)
                    ));
                }
            }
        }
        s.push_str(&format!("    oifname \"{i}\" accept\n"));
        for ep in &self.endpoints {
            let fam = if ep.is_ipv4() { "ip" } else { "ip6" };
            s.push_str(&format!(
                "    {fam} daddr {} udp dport {} accept\n",
                ep.ip(),
                ep.port()
            ));
        }
        // Neighbour discovery, so the endpoint stays reachable over IPv6.
        s.push_str(
            "    icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit } accept\n",
        );
        s.push_str("  }\n}\n");
        s
    }

    /// Installs (or replaces) the table. `scratch` is a directory for the ruleset file.
    pub async fn install(&self, scratch: &Path) -> Result<(), KillSwitchError> {
        if !gatehouse_os::firewall::valid_interface_name(&self.interface) {
            return Err(KillSwitchError(format!(
                "invalid interface name {:?}",
                self.interface
            )));
        }
        let file = scratch.join(format!("killswitch-{}.nft", self.interface));
        std::fs::write(&file, self.ruleset())
            .map_err(|e| KillSwitchError(format!("cannot write {}: {e}", file.display())))?;
        let result = nft(&["-f", &file.to_string_lossy()]).await;
        let _ = std::fs::remove_file(&file);
        result
    }
}

/// Removes the table; absent counts as removed.
pub async fn remove() -> Result<(), KillSwitchError> {
    match nft(&["delete", "table", "inet", "gatehouse"]).await {
        Ok(()) => Ok(()),
        Err(KillSwitchError(m)) if m.contains("No such file") || m.contains("does not exist") => {
            Ok(())
        }
        Err(e) => Err(e),
    }
}

async fn nft(args: &[&str]) -> Result<(), KillSwitchError> {
    let out = tokio::process::Command::new("nft")
        .args(args)
        .output()
        .await
        .map_err(|e| KillSwitchError(format!("cannot run nft: {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(KillSwitchError(format!(
            "nft {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ruleset_allows_only_tunnel_endpoint_and_tunnel_dns() {
        let k = KillSwitch {
            interface: "gh0".into(),
            endpoints: vec!["192.0.2.1:51820".parse().unwrap_or_else(|_| unreachable!())],
            dns: vec!["10.0.0.53".parse().unwrap_or_else(|_| unreachable!())],
        };
        let r = k.ruleset();
        assert!(r.contains("policy drop;"));
        assert!(r.contains("oifname \"gh0\" accept"));
        assert!(r.contains("ip daddr 192.0.2.1 udp dport 51820 accept"));
        assert!(r.contains("ip daddr != { 10.0.0.53 } udp dport 53 drop"));
        assert!(r.contains("meta nfproto ipv6 udp dport 53 drop"));
        // DNS rules come before the tunnel accept.
        let dns = r.find("dport 53 drop").unwrap_or(usize::MAX);
        let tun = r.find("oifname \"gh0\"").unwrap_or(0);
        assert!(dns < tun);
        let no_dns = KillSwitch { dns: vec![], ..k };
        assert!(!no_dns.ruleset().contains("dport 53"));
    }

    #[test]
    fn ruleset_parses_with_nft_when_available() {
        // `nft -c` checks a ruleset without applying it (needs CAP_NET_ADMIN for the netlink
        // cache): run only where it works.
        let k = KillSwitch {
            interface: "gh0".into(),
            endpoints: vec![
                "192.0.2.1:51820".parse().unwrap_or_else(|_| unreachable!()),
                "[2001:db8::1]:51820"
                    .parse()
                    .unwrap_or_else(|_| unreachable!()),
            ],
            dns: vec!["10.0.0.53".parse().unwrap_or_else(|_| unreachable!())],
        };
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let file = dir.path().join("k.nft");
        std::fs::write(&file, k.ruleset()).unwrap_or_else(|e| panic!("{e}"));
        let out = std::process::Command::new("nft")
            .arg("-c")
            .arg("-f")
            .arg(&file)
            .output();
        match out {
            Ok(o) if o.status.success() => {}
            Ok(o) => {
                let err = String::from_utf8_lossy(&o.stderr);
                assert!(
                    err.contains("Operation not permitted"),
                    "nft rejected the ruleset: {err}"
                );
            }
            Err(_) => eprintln!("nft not installed: ruleset syntax not checked"),
        }
    }
}
