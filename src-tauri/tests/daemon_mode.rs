//! End-to-end: the app's back end in service mode. A real `gatehouse daemon` runs in a network
//! namespace on a temp socket, wireguard-go is the peer (tests/support's topology); the back
//! end sees the service, connects a stored profile through it (keys read from the store and
//! handed over per connect), shows it Connected with `mode: service` and a handshake age,
//! raises the connect and disconnect notifications, and disconnects it; with the kill switch
//! on, the daemon gets it in the connect request (and refuses it for this split tunnel).
//!
//! Needs root, `ip`, `wg`, `wireguard-go`, `nft` and the `gatehouse` binary (skipped with a
//! notice otherwise; failed when `GATEHOUSE_E2E_REQUIRE=1`):
//! `cargo build -p gatehouse-cli && cargo test -p gatehouse-app --test daemon_mode`.

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gatehouse_e2e::daemon::{can_run, gatehouse_bin, Daemon};
use gatehouse_e2e::netns::Topology;
use gatehouse_usecases::settings::{ModePreference, Settings, SettingsStore};
use gatehouse_usecases::views::{ConnectionMode, ConnectionView, StateKind};
use gatehouse_usecases::{Backend, BackendOptions, Notice};

const TOOLS: &[&str] = &["ip", "wg", "wireguard-go", "nft"];
const PROFILE: &str = "office";

fn cli(bin: &Path, config: &Path, args: &[&str]) {
    let out = Command::new(bin)
        .args(args)
        .env("GATEHOUSE_CONFIG_DIR", config)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
    assert!(
        out.status.success(),
        "gatehouse {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn wait_for(
    backend: &Backend,
    within: Duration,
    cond: impl Fn(&ConnectionView) -> bool,
) -> Option<ConnectionView> {
    let t0 = Instant::now();
    while t0.elapsed() < within {
        backend.refresh().await;
        if let Some(v) = backend
            .last_reported()
            .into_iter()
            .find(|v| v.name == PROFILE && cond(v))
        {
            return Some(v);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    None
}

#[test]
fn connect_status_and_disconnect_through_the_daemon() {
    if !can_run("connect_status_and_disconnect_through_the_daemon", TOOLS) {
        return;
    }
    let bin = gatehouse_bin();
    let topo = Topology::new("app").unwrap_or_else(|e| panic!("{e}"));
    let daemon =
        Daemon::start(&bin, &topo.client_ns, &topo.dir, "root").unwrap_or_else(|e| panic!("{e}"));

    // A profile store with its keys in the vault (no Secret Service needed), the profile
    // imported by the CLI: the back end finds it where the app would.
    let config = topo.dir.join("config");
    std::env::set_var("GATEHOUSE_CONFIG_DIR", &config);
    std::env::set_var("GATEHOUSE_VAULT_PASSPHRASE", "app e2e vault passphrase");
    cli(&bin, &config, &["profile", "vault", "enable"]);
    let conf = topo.client_conf.to_string_lossy().into_owned();
    cli(
        &bin,
        &config,
        &["profile", "import", &conf, "--name", PROFILE],
    );

    let notices: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let seen = notices.clone();
    let backend = Backend::new(
        BackendOptions {
            settings: SettingsStore::at(config.join("app-settings.json")),
            socket: daemon.socket.clone(),
        },
        move |n| {
            if let Notice::Alert { title, body } = n {
                if let Ok(mut v) = seen.lock() {
                    v.push((title, body));
                }
            }
        },
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    runtime.block_on(async {
        let info = backend.service_info().await;
        assert!(info.available, "{}", info.detail);
        assert_eq!(info.socket, daemon.socket.display().to_string());

        // Auto: the service answers, so the profile runs there.
        assert_eq!(backend.settings().mode, ModePreference::Auto);
        backend.refresh().await;
        backend
            .connect(PROFILE)
            .await
            .unwrap_or_else(|e| panic!("connect: {e}\n{}", daemon.log_text()));
        let up = wait_for(&backend, Duration::from_secs(30), |v| {
            v.state == StateKind::Connected
        })
        .await
        .unwrap_or_else(|| {
            panic!(
                "not Connected: {:?}\n{}",
                backend.last_reported(),
                daemon.log_text()
            )
        });
        assert_eq!(up.mode, Some(ConnectionMode::Service), "{up:?}");
        assert!(up.socks_proxy.is_none(), "no proxy in service mode");
        assert_eq!(up.peers.len(), 1, "{up:?}");
        assert!(up.peers[0].handshake_age_secs.is_some(), "{up:?}");

        // The daemon's own status agrees.
        let status = gatehouse_session::Session::Daemon {
            socket: daemon.socket.clone(),
        }
        .status()
        .await
        .unwrap_or_else(|e| panic!("status: {e}"));
        assert!(status
            .tunnels
            .iter()
            .any(|t| t.name == PROFILE && !t.kill_switch));

        // Connecting again is a no-op; disconnecting goes through the service.
        backend
            .connect(PROFILE)
            .await
            .unwrap_or_else(|e| panic!("reconnect: {e}"));
        backend
            .disconnect(PROFILE)
            .await
            .unwrap_or_else(|e| panic!("disconnect: {e}"));
        let down = wait_for(&backend, Duration::from_secs(10), |v| {
            v.state == StateKind::Disconnected
        })
        .await
        .unwrap_or_else(|| panic!("not Disconnected: {:?}", backend.last_reported()));
        assert_eq!(down.mode, None);

        // The kill switch setting travels with the connect request: the daemon refuses it for
        // this split-tunnel profile, in its own words.
        backend
            .set_settings(
                Settings {
                    kill_switch: true,
                    ..Settings::default()
                },
                |_| Ok(()),
            )
            .unwrap_or_else(|e| panic!("settings: {e}"));
        let err = backend
            .connect(PROFILE)
            .await
            .expect_err("kill switch on a split tunnel");
        assert!(
            err.message
                .contains("kill switch needs a full-tunnel profile"),
            "{err}"
        );
        let failed = wait_for(&backend, Duration::from_secs(2), |v| {
            v.state == StateKind::Error
        })
        .await
        .unwrap_or_else(|| panic!("no error shown: {:?}", backend.last_reported()));
        assert!(
            failed.detail.is_some_and(|d| d.contains("kill switch")),
            "the card says why"
        );
        let notes = notices.lock().map(|n| n.clone()).unwrap_or_default();
        assert!(
            notes.iter().any(|(t, _)| t == "Connection failed"),
            "{notes:?}"
        );

        // Settings that ask for the service while it is gone: a clear refusal, nothing runs.
        backend
            .set_settings(
                Settings {
                    mode: ModePreference::Service,
                    ..Settings::default()
                },
                |_| Ok(()),
            )
            .unwrap_or_else(|e| panic!("settings: {e}"));
    });
    let notes = notices.lock().map(|n| n.clone()).unwrap_or_default();
    assert!(
        notes
            .iter()
            .any(|(t, b)| t == "Connected" && b.contains(PROFILE)),
        "{notes:?}"
    );
    assert!(notes.iter().any(|(t, _)| t == "Disconnected"), "{notes:?}");
    drop(daemon);
    runtime.block_on(async {
        let info = backend.service_info().await;
        assert!(!info.available, "{}", info.detail);
        let err = backend
            .connect(PROFILE)
            .await
            .expect_err("the service is required and gone");
        assert!(err.message.contains("Gatehouse service"), "{err}");
        let v = wait_for(&backend, Duration::from_secs(2), |v| {
            v.state == StateKind::Error
        })
        .await
        .unwrap_or_else(|| panic!("no error shown: {:?}", backend.last_reported()));
        assert!(
            v.detail.is_some_and(|d| d.contains("no-root")),
            "detail names the way out"
        );
    });
}
