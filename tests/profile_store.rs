//! End-to-end: the real `gatehouse profile` commands against a real Secret Service.
//!
//! Run under `scripts/with-keyring.sh` (a fresh D-Bus session with an unlocked gnome-keyring);
//! the binary must be built first (`cargo build -p gatehouse-cli`). Without a session bus the
//! keyring tests skip, or fail with `GATEHOUSE_E2E_REQUIRE=1`.

use gatehouse_e2e::keyring::{
    have, secret_service_available, secret_tool_lookup, skip, BareBus, Gatehouse,
};
use gatehouse_profile::parse::{parse, parse_file};
use gatehouse_profile::{Config, Secret};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::str::FromStr as _;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus/wg-quick");

fn corpus_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(CORPUS)
        .unwrap_or_else(|e| panic!("{CORPUS}: {e}"))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "conf"))
        .collect();
    files.sort();
    assert!(files.len() >= 20, "corpus looks incomplete: {files:?}");
    files
}

/// Every private and preshared key written anywhere in the corpus (also in files that do not
/// parse), found line by line.
fn corpus_secrets() -> Vec<Secret> {
    let mut out = Vec::new();
    for f in corpus_files() {
        let text =
            String::from_utf8_lossy(&std::fs::read(&f).expect("read corpus file")).into_owned();
        for line in text.lines() {
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let key = key.trim().to_ascii_lowercase();
            if key != "privatekey" && key != "presharedkey" {
                continue;
            }
            let value = value
                .split('#')
                .next()
                .unwrap_or("")
                .trim()
                .trim_matches('"');
            if let Ok(s) = Secret::from_str(value) {
                out.push(s);
            }
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// True when `text` has `name:LINE:COL:` with numbers.
fn has_location(text: &str, name: &str) -> bool {
    text.match_indices(&format!("{name}:")).any(|(i, m)| {
        let rest = &text[i + m.len()..];
        let mut parts = rest.splitn(3, ':');
        let line = parts.next().unwrap_or("");
        let col = parts.next().unwrap_or("");
        parts.next().is_some()
            && !line.is_empty()
            && line.chars().all(|c| c.is_ascii_digit())
            && !col.is_empty()
            && col.chars().all(|c| c.is_ascii_digit())
    })
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).expect("stat").permissions().mode() & 0o777
}

fn str_of(v: &serde_json::Value, field: &str) -> String {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("no string field {field:?} in {v}"))
        .to_string()
}

/// A profile with fresh keys, a preshared key and the given extra interface lines.
fn fresh_config(extra: &str) -> (String, Config) {
    let private = Secret::generate();
    let peer = Secret::generate().public_key();
    let psk = Secret::generate();
    let text = format!(
        "[Interface]\nPrivateKey = {}\nAddress = 10.77.0.2/32\nDNS = 10.77.0.1\n{extra}\n\
         [Peer]\nPublicKey = {peer}\nPresharedKey = {}\nAllowedIPs = 10.77.0.0/24\n\
         Endpoint = 127.0.0.1:51820\nPersistentKeepalive = 25\n",
        private.expose_base64(),
        psk.expose_base64()
    );
    let config = parse(&text, "fresh.conf").expect("test config parses");
    (text, config)
}

fn write_conf(g: &Gatehouse, name: &str, text: &str) -> PathBuf {
    let p = g.scratch().join(name);
    std::fs::write(&p, text).expect("write conf");
    p
}

fn export(g: &Gatehouse, name: &str) -> Config {
    let r = g.ok(&["profile", "export", name]);
    parse(&r.stdout, "export").unwrap_or_else(|e| panic!("export of {name} does not parse: {e}"))
}

#[test]
fn corpus_imports_and_keys_stay_in_the_keyring() {
    if !secret_service_available("corpus_imports_and_keys_stay_in_the_keyring") {
        return;
    }
    let g = Gatehouse::new();
    let secrets = corpus_secrets();
    assert!(
        secrets.len() >= 5,
        "few keys found in the corpus: {}",
        secrets.len()
    );
    let mut imported = Vec::new();
    let mut rejected = 0;
    for f in corpus_files() {
        let file = f.to_str().expect("utf-8 path");
        let name = f.file_name().and_then(|n| n.to_str()).expect("file name");
        let r = g.run(&["profile", "import", file, "--json"]);
        for s in &secrets {
            let b64 = s.expose_base64();
            assert!(
                !r.stderr.contains(&b64),
                "{name}: a key is in the error text"
            );
            assert!(!r.stdout.contains(&b64), "{name}: a key is in the output");
        }
        match parse_file(&f) {
            Ok(config) => {
                assert!(r.ok, "{name} parses but does not import:\n{}", r.stderr);
                let v = r.json();
                let stem = name.trim_end_matches(".conf");
                assert_eq!(str_of(&v, "name"), stem);
                assert_eq!(v["hooks_enabled"], false);
                imported.push((str_of(&v, "name"), str_of(&v, "id"), config));
            }
            Err(e) => {
                rejected += 1;
                assert!(!r.ok, "{name} does not parse ({e}) but imported");
                assert!(
                    has_location(&r.stderr, name),
                    "{name}: the error has no `{name}:LINE:COL:`:\n{}",
                    r.stderr
                );
            }
        }
    }
    assert!(
        !imported.is_empty() && rejected > 0,
        "{} imported, {rejected} rejected",
        imported.len()
    );

    let list = g.ok(&["profile", "list", "--json"]).json();
    assert_eq!(
        list.as_array().map(Vec::len),
        Some(imported.len()),
        "{list}"
    );

    // No key of the corpus in any file of the config dir, as text or as raw bytes.
    let files = g.files();
    assert!(files.len() >= imported.len());
    for f in &files {
        let bytes = std::fs::read(f).expect("read stored file");
        for s in &secrets {
            assert!(
                !contains(&bytes, s.expose_base64().as_bytes()),
                "{f:?} holds a key (base64)"
            );
            assert!(
                !contains(&bytes, s.expose()),
                "{f:?} holds a key (raw bytes)"
            );
        }
        assert_eq!(mode(f), 0o600, "{f:?}");
    }
    assert_eq!(mode(&g.config_dir()), 0o700);
    assert_eq!(mode(&g.config_dir().join("profiles")), 0o700);

    // Read back: export gives the original configuration, keys included.
    for (name, _, config) in &imported {
        assert_eq!(&export(&g, name), config, "{name}");
    }

    // And the keys are really in the Secret Service.
    let (_, id, config) = imported
        .iter()
        .find(|(_, _, c)| c.interface.private_key.is_some())
        .expect("a corpus profile with a private key");
    let private = config.interface.private_key.as_ref().expect("private key");
    assert_eq!(
        secret_tool_lookup(&format!("{id}/private")).as_deref(),
        Some(private.expose_base64().as_str())
    );
    if let Some((_, id, config)) = imported
        .iter()
        .find(|(_, _, c)| c.peers.iter().any(|p| p.preshared_key.is_some()))
    {
        let peer = config
            .peers
            .iter()
            .find(|p| p.preshared_key.is_some())
            .expect("psk peer");
        let psk = peer.preshared_key.as_ref().expect("psk");
        assert_eq!(
            secret_tool_lookup(&format!("{id}/psk/{}", peer.public_key)).as_deref(),
            Some(psk.expose_base64().as_str())
        );
    }
}

fn assert_nothing_stored(g: &Gatehouse) {
    let list = g.ok(&["profile", "list", "--json"]).json();
    assert_eq!(list, serde_json::json!([]));
    let files = g.files();
    assert!(files.is_empty(), "files left behind: {files:?}");
}

#[test]
fn without_a_secret_service_import_explains_and_stores_nothing() {
    let g = Gatehouse::new();
    let (text, _) = fresh_config("");
    let conf = write_conf(&g, "wg0.conf", &text);
    let conf = conf.to_str().expect("utf-8 path");

    let nowhere = format!("unix:path={}", g.scratch().join("no-such-bus").display());
    let r = g.run_env(
        &["profile", "import", conf],
        &[("DBUS_SESSION_BUS_ADDRESS", &nowhere)],
    );
    assert!(!r.ok, "import succeeded without a session bus");
    assert!(r.stderr.contains("no D-Bus session bus"), "{}", r.stderr);
    assert!(r.stderr.contains("no-such-bus"), "{}", r.stderr);
    assert!(
        r.stderr.contains("gatehouse profile vault enable"),
        "{}",
        r.stderr
    );
    assert_nothing_stored(&g);

    match BareBus::start() {
        Some(bus) => {
            let r = g.run_env(
                &["profile", "import", conf],
                &[("DBUS_SESSION_BUS_ADDRESS", &bus.address())],
            );
            assert!(!r.ok, "import succeeded on a bus without a Secret Service");
            assert!(
                r.stderr
                    .contains("no Secret Service (org.freedesktop.secrets)"),
                "{}",
                r.stderr
            );
            assert!(r.stderr.contains("gnome-keyring-daemon"), "{}", r.stderr);
            assert_nothing_stored(&g);
        }
        None => {
            skip(
                "without_a_secret_service_import_explains_and_stores_nothing (bare bus part)",
                "dbus-daemon is not installed",
            );
        }
    }
}

#[test]
fn vault_backend_works_without_a_session_bus() {
    let g = Gatehouse::new()
        .env("GATEHOUSE_VAULT_PASSPHRASE", "e2e vault passphrase")
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            "unix:path=/nonexistent/gatehouse-e2e-bus",
        );
    let v = g.ok(&["profile", "vault", "enable", "--json"]).json();
    assert_eq!(v["secret_backend"], "vault");
    let (text, config) = fresh_config("");
    let conf = write_conf(&g, "vpc.conf", &text);
    g.ok(&["profile", "import", conf.to_str().expect("utf-8 path")]);
    assert_eq!(export(&g, "vpc"), config);
    let status = g.ok(&["profile", "vault", "status", "--json"]).json();
    assert_eq!(status["secret_backend"], "vault");
    let secrets = [
        config.interface.private_key.clone().expect("private key"),
        config.peers[0].preshared_key.clone().expect("psk"),
    ];
    let files = g.files();
    assert!(files.iter().any(|f| f.ends_with("vault.age")), "{files:?}");
    for f in &files {
        let bytes = std::fs::read(f).expect("read stored file");
        for s in &secrets {
            assert!(
                !contains(&bytes, s.expose_base64().as_bytes()),
                "{f:?} holds a key"
            );
            assert!(!contains(&bytes, s.expose()), "{f:?} holds a key (raw)");
        }
    }
    let wrong = g.run_env(
        &["profile", "export", "vpc"],
        &[("GATEHOUSE_VAULT_PASSPHRASE", "not it")],
    );
    assert!(!wrong.ok);
    assert!(
        wrong.stderr.contains("passphrase does not open the vault"),
        "{}",
        wrong.stderr
    );
}

#[test]
fn export_import_round_trip_rename_delete() {
    if !secret_service_available("export_import_round_trip_rename_delete") {
        return;
    }
    let g = Gatehouse::new();
    let (text, config) = fresh_config("");
    let conf = write_conf(&g, "home.conf", &text);
    let v = g
        .ok(&[
            "profile",
            "import",
            conf.to_str().expect("utf-8 path"),
            "--json",
        ])
        .json();
    assert_eq!(str_of(&v, "name"), "home");
    let id = str_of(&v, "id");
    let private = config.interface.private_key.clone().expect("private key");
    let peer = &config.peers[0];
    let psk = peer.preshared_key.clone().expect("psk");
    assert_eq!(
        str_of(&v, "public_key"),
        private.public_key().to_string(),
        "the public key is reported"
    );

    // A second import of the same file gets a unique name.
    let again = g
        .ok(&[
            "profile",
            "import",
            conf.to_str().expect("utf-8 path"),
            "--json",
        ])
        .json();
    assert_eq!(str_of(&again, "name"), "home-2");

    // export to a file (0600) and import it back under another name.
    let out = g.scratch().join("exported.conf");
    g.ok(&[
        "profile",
        "export",
        "home",
        "-o",
        out.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(mode(&out), 0o600);
    let exported = std::fs::read_to_string(&out).expect("read export");
    assert_eq!(
        parse(&exported, "exported.conf").expect("export parses"),
        config
    );
    g.ok(&[
        "profile",
        "import",
        out.to_str().expect("utf-8 path"),
        "--name",
        "copy",
    ]);
    assert_eq!(export(&g, "copy"), config);

    // stdin import
    let piped = g.run_stdin(
        &["profile", "import", "-", "--name", "piped", "--json"],
        text.as_bytes(),
    );
    assert!(piped.ok, "{}", piped.stderr);
    assert_eq!(export(&g, "piped"), config);

    // show hides the keys unless asked.
    let shown = g.ok(&["profile", "show", "home"]);
    assert!(!shown.stdout.contains(&private.expose_base64()));
    assert!(!shown.stdout.contains(&psk.expose_base64()));
    let shown_json = g.ok(&["profile", "show", "home", "--json"]);
    assert!(!shown_json.stdout.contains(&private.expose_base64()));
    assert_eq!(
        shown_json.json()["interface"]["private_key"],
        serde_json::Value::Null
    );
    let revealed = g
        .ok(&["profile", "show", "home", "--show-secrets", "--json"])
        .json();
    assert_eq!(
        str_of(&revealed["interface"], "private_key"),
        private.expose_base64()
    );

    // rename keeps the id and the keys.
    let r = g
        .ok(&["profile", "rename", "home", "office", "--json"])
        .json();
    assert_eq!(str_of(&r, "id"), id);
    assert!(!g.run(&["profile", "show", "home"]).ok);
    assert_eq!(export(&g, "office"), config);
    let bad = g.run(&["profile", "rename", "office", "../etc"]);
    assert!(
        !bad.ok && bad.stderr.contains("path separator"),
        "{}",
        bad.stderr
    );

    // delete removes the keyring entries too.
    let psk_account = format!("{id}/psk/{}", peer.public_key);
    assert_eq!(
        secret_tool_lookup(&format!("{id}/private")).as_deref(),
        Some(private.expose_base64().as_str())
    );
    assert!(secret_tool_lookup(&psk_account).is_some());
    let d = g.ok(&["profile", "delete", "office", "--json"]).json();
    assert_eq!(str_of(&d, "name"), "office");
    assert_eq!(str_of(&d, "id"), id);
    assert_eq!(secret_tool_lookup(&format!("{id}/private")), None);
    assert_eq!(secret_tool_lookup(&psk_account), None);
    let names: Vec<String> = g
        .ok(&["profile", "list", "--json"])
        .json()
        .as_array()
        .expect("array")
        .iter()
        .map(|p| str_of(p, "name"))
        .collect();
    assert_eq!(names, ["copy", "home-2", "piped"]);
}

#[test]
fn qr_png_import_gives_the_same_profile() {
    if !secret_service_available("qr_png_import_gives_the_same_profile") {
        return;
    }
    let g = Gatehouse::new();
    let (text, config) = fresh_config("");
    let conf = write_conf(&g, "phone.conf", &text);
    g.ok(&["profile", "import", conf.to_str().expect("utf-8 path")]);
    let png = g.scratch().join("phone.png");
    g.ok(&[
        "profile",
        "qr",
        "phone",
        "--png",
        png.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(mode(&png), 0o600);
    let v = g
        .ok(&[
            "profile",
            "import",
            png.to_str().expect("utf-8 path"),
            "--name",
            "scanned",
            "--json",
        ])
        .json();
    assert_eq!(v["from_qr_code"], true);
    assert_eq!(export(&g, "scanned"), config);
    let term = g.ok(&["profile", "qr", "phone"]);
    assert!(term.stdout.contains('▀') || term.stdout.contains('▄'));

    // A QR code that is not a WireGuard config gives the parse error of its text.
    let other = g.scratch().join("other.png");
    let hello = gatehouse_profile::qr::to_png("hello there", 4).expect("png");
    std::fs::write(&other, hello).expect("write png");
    let r = g.run(&["profile", "import", other.to_str().expect("utf-8 path")]);
    assert!(!r.ok);
    assert!(has_location(&r.stderr, "other.png"), "{}", r.stderr);
}

#[test]
fn hooks_are_kept_but_off_and_warned_about() {
    if !secret_service_available("hooks_are_kept_but_off_and_warned_about") {
        return;
    }
    let g = Gatehouse::new();
    let (text, config) = fresh_config("PostUp = echo up %i\nPreDown = echo down %i\n");
    let conf = write_conf(&g, "hooky.conf", &text);
    let r = g.ok(&[
        "profile",
        "import",
        conf.to_str().expect("utf-8 path"),
        "--json",
    ]);
    assert!(r.stderr.contains("WARNING"), "{}", r.stderr);
    assert!(r.stderr.contains("PostUp"), "{}", r.stderr);
    assert!(
        r.stderr.contains("gatehouse profile hooks hooky on"),
        "{}",
        r.stderr
    );
    let v = r.json();
    assert_eq!(v["hooks_enabled"], false);
    assert_eq!(v["has_hooks"], true);
    let shown = g.ok(&["profile", "show", "hooky", "--json"]).json();
    assert_eq!(shown["hooks_enabled"], false);
    assert_eq!(
        shown["interface"]["post_up"],
        serde_json::json!(["echo up %i"])
    );
    assert_eq!(export(&g, "hooky"), config, "the commands are kept");
    g.ok(&["profile", "hooks", "hooky", "on"]);
    assert_eq!(
        g.ok(&["profile", "show", "hooky", "--json"]).json()["hooks_enabled"],
        true
    );
    g.ok(&["profile", "hooks", "hooky", "off"]);
    assert_eq!(
        g.ok(&["profile", "show", "hooky", "--json"]).json()["hooks_enabled"],
        false
    );
}

#[test]
fn vault_enable_and_disable_move_the_keys() {
    if !secret_service_available("vault_enable_and_disable_move_the_keys") {
        return;
    }
    let g = Gatehouse::new().env("GATEHOUSE_VAULT_PASSPHRASE", "move me");
    let (text, config) = fresh_config("");
    let conf = write_conf(&g, "mover.conf", &text);
    let v = g
        .ok(&[
            "profile",
            "import",
            conf.to_str().expect("utf-8 path"),
            "--json",
        ])
        .json();
    let account = format!("{}/private", str_of(&v, "id"));
    assert!(secret_tool_lookup(&account).is_some());

    let e = g.ok(&["profile", "vault", "enable", "--json"]).json();
    assert_eq!(e["moved"], 2);
    assert_eq!(e["old_entries_removed"], true);
    assert_eq!(
        secret_tool_lookup(&account),
        None,
        "moved out of the keyring"
    );
    assert!(g.config_dir().join("vault.age").exists());
    assert_eq!(export(&g, "mover"), config);

    let d = g.ok(&["profile", "vault", "disable", "--json"]).json();
    assert_eq!(d["moved"], 2);
    assert!(
        secret_tool_lookup(&account).is_some(),
        "back in the keyring"
    );
    assert!(
        !g.config_dir().join("vault.age").exists(),
        "the empty vault is removed"
    );
    assert_eq!(export(&g, "mover"), config);
}

#[test]
fn keygen_pairs_and_new_profiles() {
    let g = Gatehouse::new();
    let pair = g.ok(&["profile", "keygen", "--json"]).json();
    let private = Secret::from_str(&str_of(&pair, "private_key")).expect("private key");
    assert_eq!(
        private.public_key().to_string(),
        str_of(&pair, "public_key")
    );
    assert!(g.files().is_empty(), "a bare key pair stores nothing");

    if !secret_service_available("keygen_pairs_and_new_profiles") {
        return;
    }
    let made = g
        .ok(&[
            "profile",
            "keygen",
            "--name",
            "laptop",
            "--address",
            "10.8.0.2/24",
            "--dns",
            "10.8.0.1",
            "--json",
        ])
        .json();
    assert!(made.get("private_key").is_none(), "{made}");
    let account = format!("{}/private", str_of(&made, "id"));
    let stored = secret_tool_lookup(&account).expect("the new key is in the keyring");
    let stored = Secret::from_str(&stored).expect("a key");
    assert_eq!(stored.public_key().to_string(), str_of(&made, "public_key"));
    let exported = export(&g, "laptop");
    assert_eq!(exported.interface.private_key, Some(stored));
    assert_eq!(exported.interface.addresses.len(), 1);
    let bad = g.run(&["profile", "keygen", "--name", "x", "--address", "nope"]);
    assert!(
        !bad.ok && bad.stderr.contains("command line:"),
        "{}",
        bad.stderr
    );
}

#[test]
fn keyring_without_default_collection_explains_and_stores_nothing() {
    let test = "keyring_without_default_collection_explains_and_stores_nothing";
    if !have("dbus-run-session") || !have("gnome-keyring-daemon") {
        skip(
            test,
            "dbus-run-session or gnome-keyring-daemon is not installed",
        );
        return;
    }
    // A keyring unlocked with an empty password has no default collection.
    let g = Gatehouse::new();
    let (text, _) = fresh_config("");
    let conf = write_conf(&g, "wg0.conf", &text);
    let runtime = g.scratch().join("runtime");
    let data = g.scratch().join("data");
    for d in [&runtime, &data] {
        std::fs::create_dir_all(d).expect("mkdir");
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    }
    let out = std::process::Command::new("dbus-run-session")
        .args([
            "--",
            "sh",
            "-c",
            "printf '' | gnome-keyring-daemon --unlock --components=secrets >/dev/null; \
             exec \"$0\" profile import \"$1\"",
        ])
        .arg(gatehouse_e2e::keyring::gatehouse_bin())
        .arg(&conf)
        .env("GATEHOUSE_CONFIG_DIR", g.config_dir())
        .env("XDG_RUNTIME_DIR", &runtime)
        .env("XDG_DATA_HOME", &data)
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .output()
        .expect("run dbus-run-session");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "import succeeded: {stderr}");
    assert!(stderr.contains("locked or does not exist"), "{stderr}");
    assert!(
        stderr.contains("gatehouse profile vault enable"),
        "{stderr}"
    );
    assert_nothing_stored(&g);
}
