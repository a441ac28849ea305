//! Every file of the shared wg-quick corpus (`shared/corpus/wg-quick`, provenance in its
//! SOURCES.md): pinned outcome, and a lossless round trip for the ones that parse.
//!
//! Most real-world files carry placeholder keys (`<--snip-->`, `xxxx`, `# uwu`), which wg(8)
//! rejects, so a second table pins the outcome of each file once its key values are replaced by
//! valid keys: that exercises the rest of the file (unbracketed IPv6 endpoints, odd casing…).

use gatehouse_profile::parse::{parse, parse_file};
use gatehouse_profile::write::write;
use gatehouse_profile::{Config, DnsEntry, Endpoint, Host, Secret, Table};
use std::path::PathBuf;

const CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/corpus/wg-quick"
);

fn corpus_dir() -> PathBuf {
    let dir = PathBuf::from(CORPUS);
    assert!(
        dir.is_dir(),
        "the shared corpus is missing: expected it at {} (CI puts a copy of shared/ beside the clone)",
        dir.display()
    );
    dir.canonicalize().unwrap_or(dir)
}

/// The pinned outcome of one file.
enum Expect {
    /// Parses, with this many peers and interface addresses, plus file-specific checks.
    Ok {
        peers: usize,
        addresses: usize,
        check: fn(&Config),
    },
    /// Fails at `line:col` with a message containing `msg`.
    Err {
        line: usize,
        col: usize,
        msg: &'static str,
    },
}

use Expect::{Err as E, Ok as O};

fn ep(c: &Config, peer: usize) -> Endpoint {
    c.peers[peer].endpoint.clone().expect("endpoint")
}

const AS_IS: &[(&str, Expect)] = &[
    (
        "01-cloudflare-warp-dual-stack.conf",
        O {
            peers: 1,
            addresses: 2,
            check: |c| {
                assert_eq!(c.interface.mtu, Some(1280));
                assert_eq!(c.peers[0].allowed_ips.len(), 2);
                assert_eq!(ep(c, 0).to_string(), "162.159.192.1:2408");
            },
        },
    ),
    (
        "02-dn42-table-off-unbracketed-ipv6-endpoint.conf",
        E {
            line: 2,
            col: 14,
            msg: "`PrivateKey` has no value",
        },
    ),
    (
        "03-dn42-internal-multi-postup-linklocal.conf",
        E {
            line: 2,
            col: 14,
            msg: "`PrivateKey` has no value",
        },
    ),
    (
        "04-udp2raw-snipped-keys-endpoint-casing.conf",
        E {
            line: 2,
            col: 14,
            msg: "`PrivateKey` is not a valid key: this looks like a placeholder",
        },
    ),
    (
        "05-wireguard-ui-server-two-peers.conf",
        E {
            line: 9,
            col: 14,
            msg: "`PrivateKey` is not a valid key",
        },
    ),
    (
        "06-bird-server-table-off-ipv6-xxxx-keys.conf",
        E {
            line: 2,
            col: 14,
            msg: "found 4 characters",
        },
    ),
    (
        "07-wireguard-go-no-privatekey-no-peers.conf",
        O {
            peers: 0,
            addresses: 1,
            check: |c| {
                assert!(c.interface.private_key.is_none());
                assert_eq!(c.interface.post_up.len(), 1);
                assert!(c.interface.post_up[0].contains("&& iptables"));
                assert_eq!(c.interface.listen_port, Some(51820));
            },
        },
    ),
    (
        "08-nordvpn-client.conf",
        O {
            peers: 1,
            addresses: 1,
            check: |c| {
                assert_eq!(
                    c.interface.dns,
                    vec![DnsEntry::Server("1.1.1.1".parse().unwrap())]
                );
                assert!(c.peers[0].persistent_keepalive.is_none());
            },
        },
    ),
    (
        "09-cgnat-homelab-comment-as-key.conf",
        E {
            line: 5,
            col: 14,
            msg: "`PrivateKey` has no value",
        },
    ),
    (
        "10-nasguard-placeholder-ipv6-endpoint.conf",
        E {
            line: 3,
            col: 14,
            msg: "placeholder",
        },
    ),
    (
        "11-dot-server-interface-only.conf",
        O {
            peers: 0,
            addresses: 1,
            check: |c| {
                assert!(c.interface.private_key.is_none());
                assert_eq!(c.interface.post_up[0], "/etc/wireguard/helper/apply-nat-routing.sh; wg set %i private-key /etc/wireguard/keys/wg0.priv");
            },
        },
    ),
    (
        "12-clearnet-proxy-saveconfig.conf",
        E {
            line: 8,
            col: 14,
            msg: "found 16 characters",
        },
    ),
    (
        "13-split-tunnel-ipv6-allowedips.conf",
        E {
            line: 2,
            col: 14,
            msg: "placeholder",
        },
    ),
    (
        "14-linuxserver-peer-psk-hostname.conf",
        O {
            peers: 1,
            addresses: 1,
            check: |c| {
                assert_eq!(c.interface.addresses[0].to_string(), "10.13.13.2/32");
                assert!(c.peers[0].preshared_key.is_some());
                assert_eq!(ep(c, 0).host, Host::Name("vpn.datatarget.net".into()));
            },
        },
    ),
    (
        "15-trailing-space-after-key.conf",
        O {
            peers: 1,
            addresses: 1,
            check: |c| {
                assert!(c.interface.private_key.is_some());
                assert!(c.peers[0].endpoint.is_none());
            },
        },
    ),
    (
        "16-protonvpn-ipv6-commented-bracket-endpoint.conf",
        O {
            peers: 1,
            addresses: 2,
            check: |c| {
                assert_eq!(c.interface.dns.len(), 2);
                assert_eq!(ep(c, 0).to_string(), "149.34.244.174:51820");
                assert_eq!(c.peers[0].persistent_keepalive, Some(25));
            },
        },
    ),
    (
        "17-aligned-equals-two-peers-name-comments.conf",
        O {
            peers: 2,
            addresses: 1,
            check: |c| {
                assert_eq!(c.interface.addresses[0].to_string(), "100.64.0.3/32");
                assert_eq!(c.peers[0].allowed_ips[0].to_string(), "100.64.0.1/32");
                assert_eq!(c.interface.listen_port, Some(12345));
            },
        },
    ),
    (
        "18-amneziawg-unknown-keys.conf",
        E {
            line: 5,
            col: 1,
            msg: "unknown key `Jc` in [Interface]",
        },
    ),
    (
        "19-crlf-leading-blank-table-off.conf",
        O {
            peers: 1,
            addresses: 1,
            check: |c| {
                assert_eq!(c.interface.table, Some(Table::Off));
                assert_eq!(c.interface.post_up.len(), 2);
                assert_eq!(
                    c.interface.post_down[1],
                    "ip route del 172.16.250.0/24 dev wg1 metric 200"
                );
                assert_eq!(c.peers[0].allowed_ips[0].to_string(), "172.16.20.250/24");
                assert_eq!(ep(c, 0).to_string(), "89.111.232.250:444");
            },
        },
    ),
    (
        "20-quoted-values-predown.conf",
        E {
            line: 2,
            col: 14,
            msg: "remove the quotes",
        },
    ),
    (
        "21-android-test-bad-base64-privatekey.conf",
        E {
            line: 2,
            col: 14,
            msg: "found 26 characters",
        },
    ),
    (
        "22-preup-iptables-mark-comment-keys-question-marks.conf",
        E {
            line: 11,
            col: 14,
            msg: "`PrivateKey` has no value",
        },
    ),
    (
        "23-warp-bracketed-ipv6-endpoint.conf",
        O {
            peers: 1,
            addresses: 2,
            check: |c| {
                assert_eq!(c.interface.dns.len(), 4);
                assert_eq!(c.interface.dns[0].to_string(), "2001:4860:4860::8888");
                assert_eq!(ep(c, 0).to_string(), "[2606:4700:d0::a29f:c001]:2408");
            },
        },
    ),
    (
        "24-warp-indented-repeated-dns-address.conf",
        O {
            peers: 1,
            addresses: 2,
            check: |c| {
                assert_eq!(c.interface.dns.len(), 2);
                assert_eq!(c.interface.addresses[1].prefix_len(), 128);
                assert_eq!(
                    ep(c, 0).host,
                    Host::Name("engage.cloudflareclient.com".into())
                );
            },
        },
    ),
    (
        "25-linuxserver-server-25-peers-psk.conf",
        O {
            peers: 25,
            addresses: 1,
            check: |c| {
                assert!(c.peers.iter().all(|p| p.preshared_key.is_some()));
                assert_eq!(c.peers[24].allowed_ips[0].to_string(), "10.13.13.26/32");
            },
        },
    ),
];

/// Outcomes once every `PrivateKey`/`PublicKey`/`PresharedKey` value is a valid, unique key.
const KEYS_FIXED: &[(&str, Expect)] = &[
    (
        "02-dn42-table-off-unbracketed-ipv6-endpoint.conf",
        O {
            peers: 1,
            addresses: 0,
            check: |c| {
                assert_eq!(
                    ep(c, 0),
                    Endpoint {
                        host: Host::Ip("2603:c023:4002:400::4".parse().unwrap()),
                        port: 20263
                    }
                );
                assert_eq!(c.interface.table, Some(Table::Off));
                assert_eq!(c.peers[0].allowed_ips.len(), 4);
                assert_eq!(c.peers[0].persistent_keepalive, Some(30));
            },
        },
    ),
    (
        "03-dn42-internal-multi-postup-linklocal.conf",
        O {
            peers: 1,
            addresses: 0,
            check: |c| {
                assert_eq!(c.interface.post_up.len(), 2);
                assert_eq!(c.peers[0].allowed_ips.len(), 6);
                assert_eq!(ep(c, 0).to_string(), "de-fra1.flap42.eu:51867");
            },
        },
    ),
    (
        "04-udp2raw-snipped-keys-endpoint-casing.conf",
        O {
            peers: 1,
            addresses: 0,
            check: |c| {
                assert!(c.peers[0].preshared_key.is_some());
                assert_eq!(ep(c, 0).to_string(), "127.0.0.1:1234");
            },
        },
    ),
    (
        "05-wireguard-ui-server-two-peers.conf",
        E {
            line: 12,
            col: 10,
            msg: "`PreDown` has no value",
        },
    ),
    (
        "06-bird-server-table-off-ipv6-xxxx-keys.conf",
        E {
            line: 3,
            col: 24,
            msg: "`2a0e:b107:xxxx::/48` is not an IP address or network",
        },
    ),
    (
        "09-cgnat-homelab-comment-as-key.conf",
        O {
            peers: 1,
            addresses: 1,
            check: |c| {
                assert_eq!(c.interface.post_up.len(), 2);
                assert_eq!(c.interface.post_down.len(), 2);
                assert_eq!(ep(c, 0).to_string(), "1.2.3.4:51820");
            },
        },
    ),
    (
        "10-nasguard-placeholder-ipv6-endpoint.conf",
        E {
            line: 11,
            col: 13,
            msg: "`Endpoint`: `ipv6 address of server` is not",
        },
    ),
    (
        "12-clearnet-proxy-saveconfig.conf",
        O {
            peers: 1,
            addresses: 1,
            check: |c| {
                assert_eq!(c.interface.save_config, Some(true));
                assert_eq!(ep(c, 0).host, Host::Name("YOUR_IP".into()));
            },
        },
    ),
    (
        "13-split-tunnel-ipv6-allowedips.conf",
        E {
            line: 15,
            col: 21,
            msg: "expected a port number from 0 to 65535, found `port`",
        },
    ),
    (
        "18-amneziawg-unknown-keys.conf",
        E {
            line: 5,
            col: 1,
            msg: "unknown key `Jc`",
        },
    ),
    (
        "20-quoted-values-predown.conf",
        E {
            line: 13,
            col: 12,
            msg: "`\"server-ip` is not an IP address or host name",
        },
    ),
    (
        "21-android-test-bad-base64-privatekey.conf",
        O {
            peers: 1,
            addresses: 2,
            check: |c| {
                assert_eq!(c.peers[0].allowed_ips[1].to_string(), "::/0");
                assert_eq!(c.interface.dns.len(), 1);
            },
        },
    ),
    (
        "22-preup-iptables-mark-comment-keys-question-marks.conf",
        E {
            line: 15,
            col: 14,
            msg: "`192.168.2.???/32` is not an IP address",
        },
    ),
];

fn check(name: &str, text: &str, expect: &Expect) {
    let result = parse(text, name);
    match (expect, result) {
        (
            O {
                peers,
                addresses,
                check,
            },
            Ok(c),
        ) => {
            assert_eq!(c.peers.len(), *peers, "{name}: peers");
            assert_eq!(c.interface.addresses.len(), *addresses, "{name}: addresses");
            check(&c);
            let w = write(&c);
            let back = parse(&w, name)
                .unwrap_or_else(|e| panic!("{name}: written text does not parse: {e}\n{w}"));
            assert_eq!(back, c, "{name}: write → parse changed the config");
            assert_eq!(write(&back), w, "{name}: write is not a fixed point");
        }
        (E { line, col, msg }, Err(e)) => {
            assert_eq!((e.line, e.col), (*line, *col), "{name}: position of {e}");
            let shown = e.to_string();
            assert!(
                shown.contains(msg),
                "{name}: message {shown:?} lacks {msg:?}"
            );
            assert!(
                shown.starts_with(&format!("{name}:{line}:{col}: ")),
                "{name}: {shown}"
            );
        }
        (O { .. }, Err(e)) => panic!("{name}: expected Ok, got\n{e}"),
        (E { line, col, msg }, Ok(_)) => {
            panic!("{name}: expected an error at {line}:{col} ({msg}), got Ok")
        }
    }
}

fn corpus_files() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(corpus_dir())
        .expect("read the corpus directory")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".conf"))
        .collect();
    names.sort();
    names
}

#[test]
fn every_corpus_file_has_its_pinned_outcome() {
    let names = corpus_files();
    let pinned: Vec<&str> = AS_IS.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names, pinned,
        "the corpus and the table list different files"
    );
    for (name, expect) in AS_IS {
        let path = corpus_dir().join(name);
        let text = std::fs::read_to_string(&path).expect("corpus file is UTF-8");
        check(name, &text, expect);
        // parse_file agrees with parse, and names the path.
        match (parse_file(&path), parse(&text, name)) {
            (Ok(a), Ok(b)) => assert_eq!(a, b),
            (Err(a), Err(b)) => {
                assert_eq!((a.line, a.col, &a.kind), (b.line, b.col, &b.kind));
                assert!(a.to_string().starts_with(&path.display().to_string()));
            }
            (a, b) => panic!("{name}: parse_file {a:?} but parse {b:?}"),
        }
    }
}

/// Replaces the value of every key line by a valid key, unique per line; keeps line numbers.
fn fix_keys(text: &str) -> String {
    let mut out = String::new();
    for (n, line) in text.split('\n').enumerate() {
        if n > 0 {
            out.push('\n');
        }
        let code = line.split('#').next().unwrap_or("");
        let key = code
            .split('=')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if code.contains('=') && ["privatekey", "publickey", "presharedkey"].contains(&key.as_str())
        {
            let cr = if line.ends_with('\r') { "\r" } else { "" };
            let k = Secret::from_bytes([n as u8 + 1; 32]).expose_base64();
            out.push_str(&format!(
                "{} = {k}{cr}",
                code.split('=').next().unwrap_or("").trim()
            ));
        } else {
            out.push_str(line);
        }
    }
    out
}

#[test]
fn corpus_files_with_valid_keys_have_their_pinned_outcome() {
    for (name, expect) in KEYS_FIXED {
        let text = std::fs::read_to_string(corpus_dir().join(name)).expect("corpus file");
        check(name, &fix_keys(&text), expect);
    }
}

#[test]
fn corpus_errors_never_show_a_secret() {
    for name in corpus_files() {
        let text = std::fs::read_to_string(corpus_dir().join(&name)).expect("corpus file");
        if let Err(e) = parse(&text, "f.conf") {
            let shown = e.to_string();
            for line in text.lines() {
                let code = line.split('#').next().unwrap_or("");
                let (key, value) = code.split_once('=').unwrap_or(("", ""));
                let key = key.trim().to_ascii_lowercase();
                let value = value.trim();
                if (key == "privatekey" || key == "presharedkey") && value.len() > 3 {
                    assert!(
                        !shown.contains(value),
                        "{name}: error shows a secret: {shown}"
                    );
                }
            }
        }
    }
}
