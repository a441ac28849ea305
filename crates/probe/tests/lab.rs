//! The prober against real servers: the demo lab through the no-root stack (every lab service
//! fingerprinted, the blocked replica timing out, a missing host timing out, a closed port
//! refused), and loopback servers through OS sockets.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use gatehouse_lab::{Lab, LabOptions};
use gatehouse_netstack::{Netstack, NetstackOptions};
use gatehouse_probe::{probe, scan, Dialer, Timeouts};
use gatehouse_vpc::probe::{Fingerprint, Limits, Outcome, Target};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn target(ip: [u8; 4], port: u16) -> Target {
    Target {
        ip: IpAddr::from(ip),
        port,
        name: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_lab_service_through_the_no_root_stack() {
    let lab = Lab::start(LabOptions::default()).expect("lab");
    let ns = Netstack::start(
        lab.profile(),
        NetstackOptions {
            socks_addr: None,
            http_addr: None,
            ..NetstackOptions::default()
        },
    )
    .await
    .expect("netstack");
    let dialer = Dialer::Tunnel(Arc::new(ns));
    let targets = vec![
        target([192, 168, 1, 1], 80),
        target([192, 168, 1, 1], 443),
        target([192, 168, 1, 20], 22),
        target([192, 168, 1, 20], 8080),
        target([192, 168, 1, 30], 3306),
        target([192, 168, 1, 30], 445),
        target([10, 20, 0, 10], 80),
        target([10, 20, 1, 20], 6379),
        target([10, 20, 2, 30], 5432),
        target([10, 20, 2, 31], 5432),
        target([10, 20, 1, 11], 22),
        target([10, 20, 7, 7], 80),
        target([192, 168, 1, 20], 9),
        target([172, 16, 0, 1], 80),
    ];
    let limits = Limits {
        concurrency: 4,
        per_host_per_s: 50.0,
        timeout: Duration::ZERO,
    };
    let mut calls = 0;
    let report = scan(
        &dialer,
        targets.clone(),
        limits,
        Timeouts::both(Duration::from_millis(1500)),
        |done, total| {
            calls += 1;
            assert!(done <= total);
        },
    )
    .await;
    assert_eq!(calls, targets.len());
    assert!(report.peak_in_flight <= 4 && report.peak_in_flight > 1);
    let got: Vec<(String, String)> = report
        .results
        .iter()
        .map(|r| {
            let what = match &r.outcome {
                Outcome::Open { fingerprint } => fingerprint.summary(),
                other => other.state().to_string(),
            };
            (r.target.addr().to_string(), what)
        })
        .collect();
    let summary = format!("{got:#?}");
    let find = |addr: &str| {
        report
            .results
            .iter()
            .find(|r| r.target.addr().to_string() == addr)
            .unwrap_or_else(|| panic!("{addr} missing: {summary}"))
    };
    let fp = |addr: &str| match &find(addr).outcome {
        Outcome::Open { fingerprint } => fingerprint.clone(),
        other => panic!("{addr}: {other:?}\n{summary}"),
    };
    assert_eq!(
        fp("192.168.1.1:80"),
        Fingerprint::Http {
            status: 200,
            title: Some("Home router - admin".into()),
            server: Some("gatehouse-lab".into())
        },
        "{summary}"
    );
    match fp("192.168.1.1:443") {
        Fingerprint::Tls {
            version: Some(v), ..
        } => assert_eq!(v, "TLS 1.3"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        fp("192.168.1.20:22"),
        Fingerprint::Ssh {
            banner: "SSH-2.0-GatehouseLab_0.1 demo".into()
        }
    );
    assert_eq!(fp("192.168.1.20:8080").kind(), "http");
    assert_eq!(
        fp("192.168.1.30:3306"),
        Fingerprint::Mysql {
            version: Some(gatehouse_lab::mysql::VERSION.into()),
            error: None
        }
    );
    assert_eq!(fp("192.168.1.30:445"), Fingerprint::Silent);
    match fp("10.20.0.10:80") {
        Fingerprint::Http {
            status: 200,
            title: Some(t),
            ..
        } => {
            assert!(t.contains("web-"), "{t}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        fp("10.20.1.20:6379"),
        Fingerprint::Redis {
            auth_required: false
        }
    );
    assert_eq!(
        fp("10.20.2.30:5432"),
        Fingerprint::Postgres {
            ssl: Some(false),
            error: None
        }
    );
    // sg-replica drops it; sg-app admits only 80; no such host: all silence.
    assert_eq!(find("10.20.2.31:5432").outcome, Outcome::Timeout);
    assert_eq!(find("10.20.1.11:22").outcome, Outcome::Timeout);
    assert_eq!(find("10.20.7.7:80").outcome, Outcome::Timeout);
    // A home host without a listener resets; outside AllowedIPs there is no route.
    assert_eq!(find("192.168.1.20:9").outcome, Outcome::Refused);
    assert_eq!(find("172.16.0.1:80").outcome, Outcome::Unreachable);
    lab.stop();
}

#[tokio::test]
async fn os_sockets_on_loopback() {
    // A banner server, an HTTP server that answers slowly in pieces, a closed port.
    let ssh = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let ssh_addr = ssh.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut s, _)) = ssh.accept().await {
            let _ = s
                .write_all(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n")
                .await;
            let mut b = [0u8; 64];
            let _ = s.read(&mut b).await;
        }
    });
    let web = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let web_addr = web.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut s, _)) = web.accept().await {
            let mut b = [0u8; 1024];
            let _ = s.read(&mut b).await;
            let _ = s
                .write_all(b"HTTP/1.1 404 Not Found\r\nServer: x\r\n")
                .await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            let _ = s
                .write_all(b"\r\n<html><title>Nothing here</title></html>")
                .await;
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
    });
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let t = |a: SocketAddr| Target {
        ip: Ipv4Addr::LOCALHOST.into(),
        port: a.port(),
        name: None,
    };
    // Unknown ports get a short banner wait; the SSH server speaks in it.
    let timeouts = Timeouts::both(Duration::from_secs(2));
    let started = std::time::Instant::now();
    let o = probe(&Dialer::Os, &t(ssh_addr), timeouts).await;
    assert_eq!(
        o,
        Outcome::Open {
            fingerprint: Fingerprint::Ssh {
                banner: "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3".into()
            }
        }
    );
    let o = probe(&Dialer::Os, &t(web_addr), timeouts).await;
    match o {
        Outcome::Open {
            fingerprint: Fingerprint::Http { status, title, .. },
        } => {
            assert_eq!(status, 404);
            assert_eq!(title.as_deref(), Some("Nothing here"));
        }
        other => panic!("{other:?}"),
    }
    // Complete answers end the probe early (not at the 2 s deadline).
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        probe(&Dialer::Os, &t(closed), timeouts).await,
        Outcome::Refused
    );
}
