//! End-to-end: who may use the daemon. A user created by the test, in the daemon's group,
//! connects a `.conf` (keys from the file), reads the status and disconnects through the CLI
//! (`runuser -u USER -- gatehouse …`); a user outside the group is refused with a message that
//! says how to get access — by the socket's permissions, and by the daemon's own `SO_PEERCRED`
//! check when the socket is opened to everyone.
//!
//! The group is made by the test (unique name, passed as `gatehouse daemon --group`), so the
//! host's real `gatehouse` group is never touched. Needs root, `useradd`, `runuser`, and
//! wireguard-go as the peer (skipped with a notice otherwise; failed when
//! `GATEHOUSE_E2E_REQUIRE=1`).

use std::os::unix::fs::PermissionsExt;

use gatehouse_e2e::daemon::{can_run, gatehouse_bin, run_cli, Daemon, TestGroup, TestUser};
use gatehouse_e2e::netns::Topology;

#[test]
fn group_member_connects_and_outsider_is_refused() {
    if !can_run(
        "group_member_connects_and_outsider_is_refused",
        &["ip", "wg", "wireguard-go", "useradd", "groupadd", "runuser"],
    ) {
        return;
    }
    let bin = gatehouse_bin();
    let pid = std::process::id();
    let group = TestGroup::create(&format!("ght{pid}")).unwrap_or_else(|e| panic!("{e}"));
    let member =
        TestUser::create(&format!("ghm{pid}"), &group.name).unwrap_or_else(|e| panic!("{e}"));
    let outsider = TestUser::create(&format!("gho{pid}"), "").unwrap_or_else(|e| panic!("{e}"));

    let topo = Topology::new("da").unwrap_or_else(|e| panic!("{e}"));
    let daemon = Daemon::start(&bin, &topo.client_ns, &topo.dir, &group.name)
        .unwrap_or_else(|e| panic!("{e}"));
    let socket = daemon.socket.to_string_lossy().into_owned();

    // The member's own copy of the .conf, readable only by them.
    let home = topo.dir.join("member");
    std::fs::create_dir_all(&home).unwrap_or_else(|e| panic!("{e}"));
    std::fs::set_permissions(&topo.dir, std::fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("{e}"));
    let conf = home.join(format!("{}.conf", topo.client_if));
    std::fs::copy(&topo.client_conf, &conf).unwrap_or_else(|e| panic!("{e}"));
    let uid = nix::unistd::User::from_name(&member.name)
        .ok()
        .flatten()
        .map(|u| u.uid)
        .unwrap_or_else(|| panic!("no user {}", member.name));
    for p in [&home, &conf] {
        nix::unistd::chown(p.as_path(), Some(uid), None).unwrap_or_else(|e| panic!("{e}"));
    }
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o600))
        .unwrap_or_else(|e| panic!("{e}"));
    let conf_arg = conf.to_string_lossy().into_owned();
    let name = topo.client_if.clone();

    // The member: connect, status, disconnect.
    let m = Some(member.name.as_str());
    let (ok, out) = run_cli(
        &bin,
        m,
        &[
            "daemon", "--socket", &socket, "connect", &conf_arg, "--wait", "20",
        ],
    );
    assert!(ok, "member connect: {out}\n{}", daemon.log_text());
    assert!(out.contains("connected"), "{out}");
    let (ok, out) = run_cli(&bin, m, &["daemon", "--socket", &socket, "status"]);
    assert!(ok, "member status: {out}");
    assert!(out.contains(&format!("{name}: connected")), "{out}");
    assert!(out.contains("handshake"), "{out}");
    let (ok, out) = run_cli(&bin, m, &["down", &name, "--socket", &socket]);
    assert!(ok, "member down: {out}");
    let (ok, out) = run_cli(&bin, m, &["daemon", "--socket", &socket, "status"]);
    assert!(ok && out.contains("no tunnel is running"), "{out}");

    // The outsider: the socket's mode keeps them out, with the explanation.
    let o = Some(outsider.name.as_str());
    let (ok, out) = run_cli(&bin, o, &["daemon", "--socket", &socket, "status"]);
    assert!(!ok, "outsider got in: {out}");
    assert!(out.contains("usermod -aG"), "{out}");
    let (ok, out) = run_cli(
        &bin,
        o,
        &[
            "daemon",
            "--socket",
            &socket,
            "connect",
            &topo.client_conf.to_string_lossy(),
        ],
    );
    assert!(!ok, "outsider connected: {out}");

    // With the socket opened to everyone, the daemon's own check refuses them the same way.
    std::fs::set_permissions(&daemon.socket, std::fs::Permissions::from_mode(0o666))
        .unwrap_or_else(|e| panic!("{e}"));
    let (ok, out) = run_cli(&bin, o, &["daemon", "--socket", &socket, "status"]);
    assert!(!ok, "outsider got past SO_PEERCRED: {out}");
    assert!(
        out.contains(&format!("usermod -aG {}", group.name)) && out.contains("log out"),
        "{out}"
    );
    let (ok, out) = run_cli(&bin, o, &["down", &name, "--socket", &socket]);
    assert!(!ok && out.contains("usermod"), "{out}");
    // The member is still served.
    let (ok, out) = run_cli(&bin, m, &["daemon", "--socket", &socket, "status"]);
    assert!(ok, "member after the outsider: {out}");
}
