//! From a wg-quick [`Config`] to what the IPC, the tunnel core and `gatehouse-os` need.

use std::net::IpAddr;

use gatehouse_ipc::{ConnectRequest, ErrorKind, ErrorReply, KeyBytes, Secrets};
use gatehouse_profile::{Config, DnsEntry, Secret};
use gatehouse_tunnel::TunnelConfig;
use ipnet::IpNet;

/// Splits `config` into a [`ConnectRequest`]: the wg-quick text without keys, and the keys.
/// Fails when the config has no private key.
pub fn connect_request(
    name: &str,
    config: &Config,
    kill_switch: bool,
) -> Result<ConnectRequest, ErrorReply> {
    let Some(private) = config.interface.private_key.as_ref() else {
        return Err(ErrorReply::new(
            ErrorKind::BadRequest,
            format!("{name}: the [Interface] section has no PrivateKey"),
        ));
    };
    let secrets = Secrets {
        private_key: KeyBytes(*private.expose()),
        preshared_keys: config
            .peers
            .iter()
            .map(|p| p.preshared_key.as_ref().map(|k| KeyBytes(*k.expose())))
            .collect(),
    };
    let mut public = config.clone();
    public.interface.private_key = None;
    for p in &mut public.peers {
        p.preshared_key = None;
    }
    Ok(ConnectRequest {
        name: name.to_owned(),
        config: gatehouse_profile::write::write(&public),
        secrets,
        kill_switch,
        interface: None,
    })
}

/// The [`Config`] of a [`ConnectRequest`], keys put back. Hook commands are dropped: the
/// service never runs commands sent by a client.
pub fn config_of(req: &ConnectRequest) -> Result<Config, ErrorReply> {
    let mut config = gatehouse_profile::parse::parse(&req.config, &req.name)
        .map_err(|e| ErrorReply::new(ErrorKind::BadRequest, e.to_string()))?;
    if req.secrets.preshared_keys.len() > config.peers.len() {
        return Err(ErrorReply::new(
            ErrorKind::BadRequest,
            format!(
                "{}: {} preshared keys for {} peers",
                req.name,
                req.secrets.preshared_keys.len(),
                config.peers.len()
            ),
        ));
    }
    config.interface.private_key = Some(Secret::from_bytes(*req.secrets.private_key.expose()));
    for (peer, psk) in config.peers.iter_mut().zip(&req.secrets.preshared_keys) {
        peer.preshared_key = psk.as_ref().map(|k| Secret::from_bytes(*k.expose()));
    }
    config.interface.pre_up.clear();
    config.interface.post_up.clear();
    config.interface.pre_down.clear();
    config.interface.post_down.clear();
    Ok(config)
}

/// The tunnel core's configuration (the shared conversion), as an error reply naming the profile.
pub fn tunnel_config(name: &str, config: &Config) -> Result<TunnelConfig, ErrorReply> {
    gatehouse_netstack::tunnel_config(config)
        .map_err(|e| ErrorReply::new(ErrorKind::BadRequest, format!("{name}: {e}")))
}

/// Every AllowedIP of every peer, host bits cleared.
pub fn allowed_ips(config: &Config) -> Vec<IpNet> {
    let mut out: Vec<IpNet> = Vec::new();
    for n in config.peers.iter().flat_map(|p| p.allowed_ips.iter()) {
        let n = n.trunc();
        if !out.contains(&n) {
            out.push(n);
        }
    }
    out
}

/// True when the profile routes everything (a `/0` of either family).
pub fn is_full_tunnel(config: &Config) -> bool {
    allowed_ips(config).iter().any(|n| n.prefix_len() == 0)
}

/// The first pair of overlapping networks between `a` and `b`.
pub fn overlap(a: &[IpNet], b: &[IpNet]) -> Option<(IpNet, IpNet)> {
    for x in a {
        for y in b {
            if x.contains(&y.network()) || y.contains(&x.network()) {
                return Some((*x, *y));
            }
        }
    }
    None
}

/// The DNS servers of the profile.
pub fn dns_servers(config: &Config) -> Vec<IpAddr> {
    config
        .interface
        .dns
        .iter()
        .filter_map(|d| match d {
            DnsEntry::Server(ip) => Some(*ip),
            DnsEntry::Search(_) => None,
        })
        .collect()
}

/// The host configuration for `gatehouse_os::apply`.
pub fn host_config(
    config: &Config,
    interface: &str,
    endpoints: Vec<IpAddr>,
) -> Result<gatehouse_os::HostConfig, ErrorReply> {
    use gatehouse_profile::Table as T;
    let iface = &config.interface;
    let mut dns = gatehouse_os::DnsConfig::default();
    for entry in &iface.dns {
        match entry {
            DnsEntry::Server(ip) => dns.servers.push(*ip),
            DnsEntry::Search(d) => dns.search.push(d.clone()),
        }
    }
    let table = match iface.table.as_ref() {
        None | Some(T::Auto) => gatehouse_os::Table::Auto,
        Some(T::Off) => gatehouse_os::Table::Off,
        Some(T::Id(n)) => gatehouse_os::Table::Id(*n),
        Some(T::Named(n)) => match gatehouse_os::Table::named(n) {
            Some(t) => t,
            None => {
                return Err(ErrorReply::new(
                    ErrorKind::BadRequest,
                    format!("Table = {n}: no such routing table in /etc/iproute2/rt_tables"),
                ))
            }
        },
    };
    Ok(gatehouse_os::HostConfig {
        interface: interface.to_owned(),
        addresses: iface.addresses.clone(),
        mtu: iface.mtu.map(u32::from),
        allowed_ips: config
            .peers
            .iter()
            .flat_map(|p| p.allowed_ips.iter().copied())
            .collect(),
        table,
        fwmark: iface.fwmark,
        endpoints,
        dns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONF: &str = "[Interface]\n\
        PrivateKey = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\n\
        Address = 10.0.0.2/32\n\
        DNS = 10.0.0.1, corp.example\n\
        PostUp = touch /tmp/pwned\n\
        \n\
        [Peer]\n\
        PublicKey = xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=\n\
        PresharedKey = FpCyhws9cxwWoV4xELtfJvjJN+zQVRPISllRWgeopVE=\n\
        AllowedIPs = 10.0.0.0/24, fd00::/64\n\
        Endpoint = vpn.example.com:51820\n";

    fn config() -> Config {
        gatehouse_profile::parse::parse(CONF, "t.conf").unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn keys_travel_beside_the_text_and_come_back() {
        let c = config();
        let req = connect_request("home", &c, false).unwrap_or_else(|e| panic!("{e}"));
        assert!(!req.config.contains("PrivateKey"));
        assert!(!req.config.contains("PresharedKey"));
        assert!(!req.config.contains("yAnz5TF"));
        let back = config_of(&req).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back.interface.private_key, c.interface.private_key);
        assert_eq!(back.peers[0].preshared_key, c.peers[0].preshared_key);
        // Hooks never reach the service.
        assert!(back.interface.post_up.is_empty());
        assert!(!format!("{req:?}").contains("yAnz5TF"));
    }

    #[test]
    fn too_many_psks_and_bad_text_are_refused() {
        let c = config();
        let mut req = connect_request("home", &c, false).unwrap_or_else(|e| panic!("{e}"));
        req.secrets.preshared_keys.push(None);
        assert_eq!(
            config_of(&req).err().map(|e| e.kind),
            Some(ErrorKind::BadRequest)
        );
        req.config = "[Interface]\nAddress = nope\n".into();
        let e = config_of(&req).err().map(|e| e.message).unwrap_or_default();
        assert!(e.contains("home"), "{e}");
    }

    #[test]
    fn overlaps_and_full_tunnels() {
        let n = |s: &str| s.parse::<IpNet>().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            overlap(&[n("10.0.0.0/24")], &[n("10.0.0.0/16")]),
            Some((n("10.0.0.0/24"), n("10.0.0.0/16")))
        );
        assert_eq!(overlap(&[n("10.1.0.0/24")], &[n("10.2.0.0/16")]), None);
        assert_eq!(overlap(&[n("fd00::/64")], &[n("10.0.0.0/8")]), None);
        assert!(overlap(&[n("0.0.0.0/0")], &[n("192.168.1.0/24")]).is_some());
        assert!(!is_full_tunnel(&config()));
        assert_eq!(dns_servers(&config()).len(), 1);
        let h = host_config(&config(), "gh0", vec![]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(h.allowed_ips.len(), 2);
        assert_eq!(h.dns.search, vec!["corp.example".to_string()]);
    }
}
