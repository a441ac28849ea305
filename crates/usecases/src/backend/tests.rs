//! The back end's use cases end to end: the profile commands against a real store, the demo
//! connected without root and scanned.

use std::time::{Duration, Instant};

use gatehouse_profile::store::Store;

use super::*;
use crate::profiles::store;
use crate::settings::SettingsStore;
use crate::views::StateKind;

const CONF: &str = "[Interface]
PrivateKey = aDdT5AJB8+hX/TKw1g9h6uzegJqyscnkbVzmmieLikw=
Address = 10.13.13.2/32

[Peer]
PublicKey = c2K39PDbDBiNYpXduD7twBeAREk16QToeeHV38LTZQY=
Endpoint = 192.0.2.1:51820
AllowedIPs = 10.13.13.0/24
";

/// Profile commands against a real store (keys in the vault: no Secret Service needed).
#[test]
fn profile_text_update_export_and_qr() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("config");
    std::env::set_var(gatehouse_profile::store::CONFIG_DIR_ENV, &cfg);
    std::env::set_var(
        gatehouse_profile::vault::PASSPHRASE_ENV,
        "unit test passphrase",
    );
    Store::open(&cfg)
        .and_then(|mut s| {
            s.switch_backend(gatehouse_profile::secrets::Backend::Vault(
                gatehouse_profile::vault::Vault::new(&cfg),
            ))
        })
        .expect("vault");
    let backend = Backend::new(
        BackendOptions {
            settings: SettingsStore::at(cfg.join(crate::settings::FILE_NAME)),
            socket: dir.path().join("no-daemon.sock"),
        },
        |_| {},
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let out = backend.import("work.conf", CONF).await.expect("import");
        assert_eq!(
            out,
            ImportOutcome::Imported {
                name: "work".into()
            }
        );
        let text = backend.profile_text("work").await.expect("text");
        assert!(text.contains("PrivateKey = aDdT5AJB8"), "{text}");

        // Invalid text: where, and nothing changes.
        let broken = CONF.replace("Address = 10.13.13.2/32", "Address = 10.13.13.2/99");
        match backend
            .update_profile("work", &broken)
            .await
            .expect("update")
        {
            ImportOutcome::Invalid(p) => assert_eq!(p.line, 3, "{p:?}"),
            other => panic!("accepted: {other:?}"),
        }
        assert_eq!(backend.profile_text("work").await.expect("text"), text);

        // Valid text replaces it under the same name, keys included.
        let edited = CONF.replace("10.13.13.2/32", "10.13.13.9/32");
        let out = backend
            .update_profile("work", &edited)
            .await
            .expect("update");
        assert_eq!(
            out,
            ImportOutcome::Imported {
                name: "work".into()
            }
        );
        let now = backend.profile_text("work").await.expect("text");
        assert!(
            now.contains("10.13.13.9/32") && now.contains("PrivateKey"),
            "{now}"
        );
        let names: Vec<String> = store()
            .and_then(|s| s.list().map_err(err))
            .expect("list")
            .into_iter()
            .map(|p| p.info.name)
            .collect();
        assert_eq!(names, vec!["work".to_owned()]);

        // Export: 0600, the same profile back.
        let path = dir.path().join("out.conf");
        let written = backend
            .export_profile("work", &path.display().to_string())
            .await
            .expect("export");
        assert_eq!(written, path.display().to_string());
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let back = std::fs::read_to_string(&path).expect("read");
        assert_eq!(back, now);
        let err = backend
            .export_profile("work", &dir.path().display().to_string())
            .await
            .expect_err("a directory");
        assert!(err.message.contains("is a directory"), "{err}");

        // QR: an SVG out; a picture of a QR code in.
        let svg = backend.profile_qr("work").await.expect("qr");
        assert!(svg.contains("<svg"), "{svg}");
        let png = gatehouse_profile::qr::to_png(CONF, 4).expect("png");
        let out = backend
            .import_qr_image("phone", &png)
            .await
            .expect("qr import");
        assert_eq!(
            out,
            ImportOutcome::Imported {
                name: "phone".into()
            }
        );
        let err = backend
            .import_qr_image("junk", b"not a picture")
            .await
            .expect_err("junk");
        assert!(err.message.starts_with("junk: not a readable"), "{err}");
        let png = gatehouse_profile::qr::to_png("hello", 4).expect("png");
        match backend
            .import_qr_image("hello", &png)
            .await
            .expect("parsed")
        {
            ImportOutcome::Invalid(p) => assert_eq!(p.line, 1, "{p:?}"),
            other => panic!("accepted: {other:?}"),
        }
    });
}

/// The demo's lab, connected without root and scanned: every TCP service of the lab comes
/// back with the kind its fingerprint says, the progress counts every probe, the map's
/// verdicts carry the probes, and a found web server opens.
#[test]
fn demo_scan_finds_every_lab_service() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::env::set_var(
        gatehouse_profile::store::CONFIG_DIR_ENV,
        dir.path().join("config"),
    );
    let backend = Backend::new(
        BackendOptions {
            settings: SettingsStore::at(dir.path().join(crate::settings::FILE_NAME)),
            socket: dir.path().join("no-daemon.sock"),
        },
        |_| {},
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let before = backend
            .scan_services()
            .await
            .expect_err("nothing connected");
        assert!(before.message.contains("No connection"), "{before}");
        // The demo map declares a managed database: a Services row before any scan.
        backend.demo_map().await.expect("map");
        let declared = backend.services().await;
        let db = declared
            .iter()
            .find(|r| r.host == "orders-db")
            .unwrap_or_else(|| panic!("no orders-db row before a scan: {declared:?}"));
        assert_eq!((db.port, db.kind.as_str()), (5432, "postgres"), "{db:?}");
        assert_eq!(db.fqdn, "orders-db.internal");
        assert!(
            db.detail.contains("PostgreSQL 16.3") && db.detail.contains("not scanned"),
            "{db:?}"
        );
        assert_eq!(
            db.command,
            "psql \"host=orders-db.internal port=5432 user=postgres\""
        );
        backend.start_demo().await.expect("demo");
        let t0 = Instant::now();
        while !backend
            .connections()
            .await
            .iter()
            .any(|v| v.name == DEMO && v.state == StateKind::Connected)
        {
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "the demo never connected"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let began = Instant::now();
        let rows = backend.scan_services().await.expect("scan");
        let took = began.elapsed();
        let progress = backend.scan_progress();
        eprintln!(
            "demo scan: {} services, {} probes in {took:?}, peak {} in flight",
            rows.len(),
            progress.total,
            progress.peak_in_flight
        );
        for r in &rows {
            eprintln!(
                "  {}:{} {} {} | {}",
                r.host, r.port, r.kind, r.detail, r.command
            );
        }
        assert!(!progress.running && progress.done == progress.total && progress.total > 0);
        assert_eq!(progress.found as usize, rows.len());
        for h in gatehouse_lab::plan::HOSTS {
            for s in h
                .services
                .iter()
                .filter(|s| s.proto == gatehouse_lab::plan::Proto::Tcp)
            {
                let want = match format!("{:?}", s.kind).to_ascii_lowercase().as_str() {
                    "http" | "loadbalancer" => "http",
                    "tls" => "https",
                    "ssh" => "ssh",
                    "redis" => "redis",
                    "postgres" => "postgres",
                    "mysql" => "mysql",
                    _ => "tcp",
                };
                let row = rows.iter().find(|r| r.host == h.name && r.port == s.port);
                // The replica's security group drops the client: the lab does too.
                if h.name == "db-replica" {
                    assert!(row.is_none(), "{row:?}");
                    continue;
                }
                let row = row.unwrap_or_else(|| panic!("{}:{} not found", h.name, s.port));
                assert_eq!(row.kind, want, "{row:?}");
                assert_eq!(row.fqdn, h.fqdn);
                assert_eq!(row.verdict, crate::views::Verdict::Reachable, "{row:?}");
            }
        }
        let web = rows.iter().find(|r| r.host == "web-1").expect("web-1");
        assert!(web.detail.starts_with("HTTP 200"), "{web:?}");
        assert!(
            web.command.contains("--proxy socks5h://127.0.0.1:"),
            "{web:?}"
        );
        assert_eq!(backend.services().await, rows);
        // The map's verdicts now come from the probes.
        let m = backend.demo_map().await.expect("map");
        let db = m.hosts.iter().find(|h| h.name == "db").expect("db");
        assert!(db.codes.iter().any(|c| c == "probe-open"), "{:?}", db.codes);
        let replica = m
            .hosts
            .iter()
            .find(|h| h.name == "db-replica")
            .expect("replica");
        assert!(
            replica.codes.iter().any(|c| c == "probe-closed"),
            "{:?}",
            replica.codes
        );
        // The scan confirmed the declared row: one row for orders-db, from the scan.
        let dbs: Vec<_> = rows.iter().filter(|r| r.host == "orders-db").collect();
        assert_eq!(dbs.len(), 1, "{dbs:?}");
        assert!(dbs[0].detail.starts_with("PostgreSQL"), "{dbs:?}");
        let opened = backend
            .open_service("orders-db", 5432)
            .await
            .expect("open the db");
        assert!(opened.local.starts_with("127.0.0.1:"), "{opened:?}");
        let opened = backend.open_service("web-1", 80).await.expect("open");
        assert!(opened.preview.unwrap_or_default().contains("web-1"));
        backend.shutdown().await;
    });
}
