//! Property: every `Config` the text format can carry survives `parse(write(c)) == c`, and
//! `write` is a fixed point of `write ∘ parse`.

use gatehouse_profile::parse::parse;
use gatehouse_profile::write::write;
use gatehouse_profile::{Config, DnsEntry, Endpoint, Host, Interface, Key, Peer, Secret, Table};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

fn ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|b| IpAddr::V4(Ipv4Addr::from(b))),
        any::<[u8; 16]>().prop_map(|b| IpAddr::V6(Ipv6Addr::from(b))),
        // Small and mapped addresses exercise the compressed and dotted IPv6 spellings.
        (any::<u16>(), any::<u8>()).prop_map(|(a, b)| IpAddr::V6(Ipv6Addr::new(
            0xfd00,
            0,
            0,
            0,
            0,
            0,
            a,
            u16::from(b)
        ))),
        any::<[u8; 4]>().prop_map(|b| IpAddr::V6(Ipv4Addr::from(b).to_ipv6_mapped())),
    ]
}

fn net() -> impl Strategy<Value = IpNet> {
    prop_oneof![
        (any::<[u8; 4]>(), 0u8..=32).prop_map(|(b, p)| {
            IpNet::V4(Ipv4Net::new(Ipv4Addr::from(b), p).expect("prefix <= 32"))
        }),
        (any::<[u8; 16]>(), 0u8..=128).prop_map(|(b, p)| {
            IpNet::V6(Ipv6Net::new(Ipv6Addr::from(b), p).expect("prefix <= 128"))
        }),
    ]
}

fn name() -> impl Strategy<Value = String> {
    "[a-zA-Z_][a-zA-Z0-9_-]{0,10}(\\.[a-zA-Z0-9_-]{1,10}){0,3}"
}

fn hook() -> impl Strategy<Value = String> {
    // Printable text without `#` (a comment) or line breaks; wg-quick trims the ends.
    "[^#\\p{C}]{1,60}"
        .prop_map(|s| s.trim_matches(' ').to_string())
        .prop_filter("not blank", |s| !s.is_empty())
}

fn secret() -> impl Strategy<Value = Secret> {
    any::<[u8; 32]>().prop_map(Secret::from_bytes)
}

fn table() -> impl Strategy<Value = Table> {
    prop_oneof![
        Just(Table::Auto),
        Just(Table::Off),
        any::<u32>().prop_map(Table::Id),
        "[a-zA-Z_][a-zA-Z0-9_.-]{0,12}"
            .prop_filter("not a keyword", |s| {
                !s.eq_ignore_ascii_case("auto") && !s.eq_ignore_ascii_case("off")
            })
            .prop_map(Table::Named),
    ]
}

fn interface() -> impl Strategy<Value = Interface> {
    let a = (
        proptest::option::of(secret()),
        proptest::option::of(any::<u16>()),
        proptest::option::of(any::<u32>()),
        proptest::collection::vec(net(), 0..4),
        proptest::collection::vec(
            prop_oneof![
                ip().prop_map(DnsEntry::Server),
                name().prop_map(DnsEntry::Search)
            ],
            0..4,
        ),
        proptest::option::of(any::<u16>()),
    );
    let b = (
        proptest::option::of(table()),
        proptest::collection::vec(hook(), 0..3),
        proptest::collection::vec(hook(), 0..3),
        proptest::collection::vec(hook(), 0..3),
        proptest::collection::vec(hook(), 0..3),
        proptest::option::of(any::<bool>()),
    );
    (a, b).prop_map(
        |(
            (private_key, listen_port, fwmark, addresses, dns, mtu),
            (table, pre_up, post_up, pre_down, post_down, save_config),
        )| Interface {
            private_key,
            listen_port,
            fwmark,
            addresses,
            dns,
            mtu,
            table,
            pre_up,
            post_up,
            pre_down,
            post_down,
            save_config,
        },
    )
}

fn peer() -> impl Strategy<Value = Peer> {
    (
        any::<[u8; 32]>(),
        proptest::option::of(secret()),
        proptest::collection::vec(net(), 0..5),
        proptest::option::of((
            prop_oneof![ip().prop_map(Host::Ip), name().prop_map(Host::Name)],
            any::<u16>(),
        )),
        proptest::option::of(any::<u16>()),
    )
        .prop_map(
            |(key, preshared_key, allowed_ips, endpoint, persistent_keepalive)| Peer {
                public_key: Key(key),
                preshared_key,
                allowed_ips,
                endpoint: endpoint.map(|(host, port)| Endpoint { host, port }),
                persistent_keepalive,
            },
        )
}

fn config() -> impl Strategy<Value = Config> {
    (interface(), proptest::collection::vec(peer(), 0..5)).prop_map(|(interface, mut peers)| {
        // Public keys are unique in a config.
        for (n, p) in peers.iter_mut().enumerate() {
            p.public_key.0[0] = n as u8;
        }
        Config { interface, peers }
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn parse_write_round_trips(c in config()) {
        let text = write(&c);
        let back = parse(&text, "written.conf").map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(&back, &c);
        prop_assert_eq!(write(&back), text);
    }
}

#[test]
fn write_is_canonical() {
    let c = parse(
        "[Interface]\nmtu=1420\naddress=10.0.0.2/24,fd00::2/64\nprivatekey=yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\nfwmark=51820\n\
         [peer]\nendpoint=[fd00::1]:51820\npublickey=HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=\nallowedips=0.0.0.0/0,::/0\n",
        "t",
    )
    .expect("parses");
    assert_eq!(
        write(&c),
        "[Interface]\n\
         PrivateKey = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\n\
         Address = 10.0.0.2/24, fd00::2/64\n\
         FwMark = 0xca6c\n\
         MTU = 1420\n\
         \n\
         [Peer]\n\
         PublicKey = HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=\n\
         AllowedIPs = 0.0.0.0/0, ::/0\n\
         Endpoint = [fd00::1]:51820\n"
    );
}
