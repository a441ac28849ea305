//! Tests of `gatehouse up`'s parsing and the conversions it hands the engine.

use std::path::PathBuf;
use std::time::Duration;

use super::*;

#[test]
fn source_resolution() {
    assert_eq!(
        resolve_source("wg0.conf"),
        Source::File(PathBuf::from("wg0.conf"))
    );
    assert_eq!(
        resolve_source("/etc/wireguard/home"),
        Source::File(PathBuf::from("/etc/wireguard/home"))
    );
    assert_eq!(resolve_source("home"), Source::Profile("home".into()));
    let dir = std::env::temp_dir().join(format!("gh-src-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let file = dir.join("office");
    std::fs::write(&file, "").unwrap_or_else(|e| panic!("{e}"));
    let arg = file.to_string_lossy().into_owned();
    assert_eq!(resolve_source(&arg), Source::File(file.clone()));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn interface_names_follow_wg_quick() {
    let f = |s: &str| default_interface_name(&resolve_source(s));
    assert_eq!(f("/etc/wireguard/wg0.conf"), "wg0");
    assert_eq!(f("home"), "home");
    assert_eq!(f("a very long profile name.conf"), "gh%d");
    assert_eq!(f("/tmp/x%d.conf"), "gh%d");
}

fn config(text: &str) -> Config {
    gatehouse_profile::parse::parse(text, "test.conf").unwrap_or_else(|e| panic!("{e}"))
}

const CONF: &str = "[Interface]\n\
    PrivateKey = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\n\
    Address = 10.0.0.2/32\n\
    DNS = 10.0.0.1, corp.example\n\
    Table = off\n\
    PostUp = echo hi\n\
    \n\
    [Peer]\n\
    PublicKey = xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=\n\
    AllowedIPs = 10.0.0.0/24, fd00::/64\n\
    Endpoint = vpn.example.com:51820\n\
    PersistentKeepalive = 25\n\
    \n\
    [Peer]\n\
    PublicKey = TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0=\n\
    AllowedIPs = 192.168.1.0/24\n\
    Endpoint = 192.0.2.7:51820\n";

#[test]
fn tunnel_and_host_configs_from_a_profile() {
    let c = config(CONF);
    let t = gatehouse_netstack::tunnel_config(&c).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t.peers.len(), 2);
    assert_eq!(
        t.peers[0].endpoint,
        Some(gatehouse_tunnel::Endpoint::Name {
            host: "vpn.example.com".into(),
            port: 51820
        })
    );
    assert_eq!(
        t.peers[1].endpoint,
        Some(gatehouse_tunnel::Endpoint::Addr(
            "192.0.2.7:51820".parse().unwrap_or_else(|_| unreachable!())
        ))
    );
    assert_eq!(t.peers[0].persistent_keepalive, Some(25));

    let h = gatehouse_session::convert::host_config(
        &c,
        "wg9",
        vec!["192.0.2.7".parse().unwrap_or_else(|_| unreachable!())],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(h.interface, "wg9");
    assert_eq!(h.allowed_ips.len(), 3);
    assert_eq!(h.table, gatehouse_os::Table::Off);
    assert_eq!(h.dns.search, vec!["corp.example".to_string()]);
    assert_eq!(h.dns.servers.len(), 1);

    let mut no_key = c.clone();
    no_key.interface.private_key = None;
    let err = gatehouse_netstack::tunnel_config(&no_key)
        .err()
        .map(|e| e.to_string());
    assert!(err.is_some_and(|e| e.contains("PrivateKey")));
}

#[test]
fn named_tables_resolve_or_fail_clearly() {
    let mut c = Config::default();
    c.interface.table = Some(gatehouse_profile::Table::Named("no-such-table-xyz".into()));
    let err = gatehouse_session::convert::host_config(&c, "wg9", vec![])
        .err()
        .map(|e| e.message);
    assert!(err.is_some_and(|e| e.contains("no-such-table-xyz")));
    c.interface.table = Some(gatehouse_profile::Table::Id(7));
    let ok = gatehouse_session::convert::host_config(&c, "wg9", vec![])
        .map(|h| h.table)
        .ok();
    assert_eq!(ok, Some(gatehouse_os::Table::Id(7)));
}

#[test]
fn timestamps_are_rfc3339_utc() {
    let t = std::time::UNIX_EPOCH + Duration::from_millis(1_795_667_445_123);
    assert_eq!(rfc3339(t), "2026-11-26T04:30:45.123Z");
    assert_eq!(rfc3339(std::time::UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
    let leap = std::time::UNIX_EPOCH + Duration::from_secs(951_782_400);
    assert_eq!(rfc3339(leap), "2000-02-29T00:00:00.000Z");
}
