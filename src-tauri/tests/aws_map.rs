//! The app's AWS map against moto in server mode (PyPI `moto[server]` on 127.0.0.1, seeded by
//! tests/support/seed_moto.py): every seeded VPC is a box and every seeded instance a host at a
//! position the vpc layout gave, with its verdict from the active profile.
//!
//! Needs moto (scripts/install-deps.sh puts it in /opt/gatehouse/moto-venv) and the gatehouse
//! binary for the shared checks (`cargo build -p gatehouse-cli`). No root:
//! `cargo test -p gatehouse-app --test aws_map`.

use gatehouse_e2e::moto::{self, Moto};
use gatehouse_usecases::views::Verdict;

const PRIMARY: &str = "eu-west-1";
const SECONDARY: &str = "us-east-1";

fn ids(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn aws_account_map_from_moto() {
    if !moto::can_run("aws_map::aws_account_map_from_moto") {
        return;
    }
    let moto = Moto::start(&[]);
    let seeded = moto.seed(PRIMARY, SECONDARY);
    let home = tempfile::tempdir().expect("tempdir");
    let url = moto.url();
    let env = gatehouse_cloud::aws::Env::new(
        [
            ("AWS_ENDPOINT_URL", url.as_str()),
            ("AWS_ACCESS_KEY_ID", "AKIDGATEHOUSEAPP"),
            ("AWS_SECRET_ACCESS_KEY", "gatehouse-app-secret"),
        ],
        Some(home.path().to_path_buf()),
    );
    let profile = gatehouse_profile::parse::parse(
        "[Interface]\nAddress = 10.250.0.2/32\n[Peer]\nPublicKey = c2K39PDbDBiNYpXduD7twBeAREk16QToeeHV38LTZQY=\nAllowedIPs = 10.0.0.0/8, 172.16.0.0/12\n",
        "vpn.conf",
    )
    .expect("profile");
    let map = gatehouse_usecases::maps::map_from_aws(
        &env,
        None,
        vec![PRIMARY.into()],
        Some(("vpn", &profile)),
    )
    .unwrap_or_else(|e| panic!("AWS map: {e}"));
    assert!(
        map.source.starts_with("aws:default:eu-west-1"),
        "{}",
        map.source
    );
    assert!(map.source.ends_with("(seen from vpn)"), "{}", map.source);

    let s = &seeded[PRIMARY];
    for vpc in ids(&s["vpcs"]) {
        assert!(
            map.boxes.iter().any(|b| b.kind == "vpc" && b.id == vpc),
            "VPC {vpc} has no box"
        );
    }
    let hosts = ids(&s["hosts"]);
    assert!(!hosts.is_empty(), "the seed made instances: {s}");
    for h in &hosts {
        let drawn = map
            .hosts
            .iter()
            .find(|m| &m.id == h)
            .unwrap_or_else(|| panic!("instance {h} is not on the map"));
        assert!(drawn.w > 0.0 && drawn.h > 0.0);
        assert!(
            !drawn.sentence.is_empty() && !drawn.codes.is_empty(),
            "{drawn:?}"
        );
    }
    // The other region was not asked for.
    for h in ids(&seeded[SECONDARY]["hosts"]) {
        assert!(
            map.hosts.iter().all(|m| m.id != h),
            "{h} is from {SECONDARY}"
        );
    }
    // From a profile routing the private ranges, the tunnel step passes for every address.
    assert!(map
        .hosts
        .iter()
        .filter(|h| h.ips.iter().any(|ip| ip.starts_with("10.")))
        .all(|h| h.codes.iter().any(|c| c == "tunnel-peer") || h.verdict == Verdict::Unknown));
}
