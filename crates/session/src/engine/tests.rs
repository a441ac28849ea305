use std::time::Duration;

use super::*;
use crate::journal::{Entry, Owner};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn engine(dir: &std::path::Path) -> Engine {
    let mut opts = EngineOptions::new(dir.to_path_buf());
    opts.tick = Duration::from_millis(100);
    Engine::new(opts).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn empty_journal_recovers_nothing() {
    let rt = rt();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let engine = engine(dir.path());
    let rec = rt.block_on(engine.recover());
    assert_eq!(rec, Recovery::default());
    assert!(engine.status().tunnels.is_empty());
    let e = rt.block_on(engine.disconnect("nope")).err().map(|e| e.kind);
    assert_eq!(e, Some(ErrorKind::NotFound));
}

use super::tun::empty_host as host_config;

#[test]
fn recovery_leaves_the_entries_of_live_processes_and_other_namespaces() {
    let rt = rt();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let engine = engine(dir.path());
    let journal = Journal::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let me = Owner::this_process();
    // pid 1 runs: its entry belongs to it (a running service, a foreground tunnel).
    let live = Entry {
        owner: Some(Owner {
            pid: 1,
            start: std::fs::read_to_string("/proc/1/stat")
                .ok()
                .and_then(|s| {
                    let rest = s[s.rfind(')')? + 1..].to_owned();
                    rest.split_whitespace().nth(19)?.parse().ok()
                })
                .unwrap_or(0),
            netns: me.netns.clone(),
        }),
        ..Entry::planned("live", &host_config("ghlive0"), false)
    };
    let elsewhere = Entry {
        owner: Some(Owner {
            pid: u32::MAX - 1,
            start: 1,
            netns: "net:[1]".into(),
        }),
        ..Entry::planned("elsewhere", &host_config("ghother0"), false)
    };
    let gone = Entry {
        owner: Some(Owner {
            pid: u32::MAX - 1,
            start: 1,
            netns: me.netns.clone(),
        }),
        ..Entry::planned("gone", &host_config("ghgone0"), false)
    };
    for e in [&live, &elsewhere, &gone] {
        journal.write(e).unwrap_or_else(|e| panic!("{e}"));
    }
    let rec = rt.block_on(engine.recover());
    assert_eq!(rec.replayed, vec!["gone".to_owned()], "{rec:?}");
    let mut kept = rec.kept.clone();
    kept.sort();
    assert_eq!(kept, vec!["elsewhere".to_owned(), "live".to_owned()]);
    let left: Vec<String> = journal
        .entries()
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .filter_map(|(_, e)| e.ok().map(|e| e.name))
        .collect();
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(!left.contains(&"gone".to_owned()));
}

/// The no-root driver runs the same state machine as the TUN one: against the demo lab's
/// in-process gateway, Connecting → Connected at the first handshake, counters in the status,
/// then Disconnecting → Disconnected, and the stack's proxy answers while it runs.
#[test]
fn a_no_root_connection_follows_the_state_machine() {
    let rt = rt();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let engine = engine(dir.path());
    rt.block_on(async {
        let lab = gatehouse_lab::Lab::start(gatehouse_lab::LabOptions::default())
            .unwrap_or_else(|e| panic!("{e}"));
        let mut events = engine.subscribe(256);
        let req = convert::connect_request("demo", lab.profile(), false)
            .unwrap_or_else(|e| panic!("{e}"));
        let loopback = Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
        let options = NetstackOptions {
            socks_addr: loopback,
            http_addr: None,
            ..NetstackOptions::default()
        };
        let mut ks = req.clone();
        ks.kill_switch = true;
        let refused = engine
            .connect_with(ks, Driver::NoRoot(options.clone()))
            .await
            .err()
            .map(|e| e.message);
        assert!(
            refused
                .as_deref()
                .is_some_and(|m| m.contains("kill switch")),
            "{refused:?}"
        );
        let interface = engine
            .connect_with(req.clone(), Driver::NoRoot(options.clone()))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(interface, NO_ROOT_INTERFACE);
        let again = engine
            .connect_with(req, Driver::NoRoot(options))
            .await
            .err()
            .map(|e| e.kind);
        assert_eq!(again, Some(ErrorKind::AlreadyConnected));
        let ns = engine
            .netstack("demo")
            .unwrap_or_else(|| panic!("no netstack"));
        assert!(ns.socks_addr().is_some());
        // Traffic starts the handshake (the state machine's nudge would too, later).
        let probe = gatehouse_netstack::Target::Name("web-1.internal".into(), 80);
        let _ = tokio::time::timeout(Duration::from_secs(5), ns.resolve(&probe)).await;
        drop(ns);
        let mut states = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        while !states.contains(&ConnectionState::Connected) {
            let frame = tokio::time::timeout_at(deadline, events.recv())
                .await
                .unwrap_or_else(|_| panic!("no Connected state: {states:?}"))
                .unwrap_or_else(|| panic!("events ended"));
            if let Event::State { name, state } = frame.event {
                assert_eq!(name, "demo");
                states.push(state);
            }
        }
        assert_eq!(states.first(), Some(&ConnectionState::Connecting));
        assert!(
            states[..states.len() - 1]
                .iter()
                .all(|s| *s == ConnectionState::Connecting),
            "{states:?}"
        );
        let status = engine.status();
        let t = &status.tunnels[0];
        assert_eq!(t.state, ConnectionState::Connected);
        assert_eq!(t.interface, NO_ROOT_INTERFACE);
        assert_eq!(t.peers.len(), 1);
        assert!(t.peers[0].rx_bytes > 0 && t.peers[0].tx_bytes > 0, "{t:?}");
        assert!(t.peers[0].latest_handshake_secs.is_some());
        assert!(matches!(engine.stats("demo"), Some(LinkStats::NoRoot(_))));
        engine
            .disconnect("demo")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(engine.status().tunnels.is_empty());
        let mut tail = Vec::new();
        while let Ok(Some(frame)) =
            tokio::time::timeout(Duration::from_millis(200), events.recv()).await
        {
            if let Event::State { state, .. } = frame.event {
                tail.push(state);
            }
        }
        assert_eq!(
            tail.last(),
            Some(&ConnectionState::Disconnected),
            "{tail:?}"
        );
        assert!(tail.contains(&ConnectionState::Disconnecting), "{tail:?}");
        lab.stop();
    });
}
