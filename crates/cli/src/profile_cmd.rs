//! `gatehouse profile …`: import, export, list, show, rename, delete, keygen, qr, hooks, vault.
//!
//! Every subcommand takes `--json` for machine output with stable field names. Secrets are only
//! printed by `export`, `qr`, `keygen` without `--name`, and `show --show-secrets`.
//!
//! Where the secrets live: the OS keyring by default; `gatehouse profile vault enable` switches
//! to a passphrase-encrypted file in the config directory (passphrase from
//! `GATEHOUSE_VAULT_PASSPHRASE` or a prompt) and moves the stored secrets there;
//! `gatehouse profile vault disable` moves them back to the keyring.

use anyhow::{bail, Context as _};
use gatehouse_profile::parse::parse;
use gatehouse_profile::qr;
use gatehouse_profile::secrets::{Backend, BackendKind, Keyring, Slot};
use gatehouse_profile::store::{NameChoice, Profile, Store};
use gatehouse_profile::vault::Vault;
use gatehouse_profile::write::write;
use gatehouse_profile::{Config, Secret};
use serde_json::{json, Value};
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

/// `println!` through [`out`].
macro_rules! outln {
    ($($t:tt)*) => {
        out(&format!("{}\n", format_args!($($t)*)))?
    };
}

/// Arguments of `gatehouse profile`.
#[derive(clap::Args)]
pub struct ProfileArgs {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(clap::Subcommand)]
enum Cmd {
    /// Import a wg-quick .conf file, `-` for stdin, or a QR-code picture (PNG/JPEG).
    /// Keys go to the OS keyring (or the vault), the rest to the profile store.
    Import {
        /// The file to import (`-` reads standard input).
        file: String,
        /// The profile name (default: the file name without extension, made unique).
        #[arg(long)]
        name: Option<String>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Write a profile as a wg-quick .conf, keys included (file mode 0600, or stdout).
    Export {
        /// Profile name or id.
        profile: String,
        /// Write to this file instead of standard output.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// List the stored profiles.
    List {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Show a profile (keys hidden unless --show-secrets).
    Show {
        /// Profile name or id.
        profile: String,
        /// Also print the private and preshared keys.
        #[arg(long)]
        show_secrets: bool,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Rename a profile.
    Rename {
        /// Profile name or id.
        profile: String,
        /// The new name.
        new_name: String,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Delete a profile and its keys in the keyring (or vault). Asks nothing.
    Delete {
        /// Profile name or id.
        profile: String,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Generate a key pair (like `wg genkey | wg pubkey`), or with --name a new profile whose
    /// fresh private key goes straight to the keyring (only the public key is printed).
    Keygen {
        /// Create a profile with this name holding the new private key.
        #[arg(long)]
        name: Option<String>,
        /// Interface address of the new profile (repeatable; with --name).
        #[arg(long, requires = "name")]
        address: Vec<String>,
        /// DNS server or search domain of the new profile (repeatable; with --name).
        #[arg(long, requires = "name")]
        dns: Vec<String>,
        /// ListenPort of the new profile (with --name).
        #[arg(long, requires = "name")]
        listen_port: Option<u16>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Show a profile as a QR code (keys included) for the WireGuard mobile apps.
    Qr {
        /// Profile name or id.
        profile: String,
        /// Write a PNG file (mode 0600) instead of drawing in the terminal.
        #[arg(long)]
        png: Option<PathBuf>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Allow or forbid running the profile's PreUp/PostUp/PreDown/PostDown commands.
    Hooks {
        /// Profile name or id.
        profile: String,
        /// `on` lets the commands run when the profile connects; `off` (the default) never.
        state: OnOff,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Choose where keys are kept: the OS keyring (default) or a passphrase-encrypted vault.
    Vault {
        #[command(subcommand)]
        action: VaultAction,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum OnOff {
    On,
    Off,
}

#[derive(clap::Subcommand)]
enum VaultAction {
    /// Keep keys in the vault file (passphrase from GATEHOUSE_VAULT_PASSPHRASE or a prompt);
    /// moves the stored keys there from the keyring.
    Enable {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Keep keys in the OS keyring again; moves them back from the vault.
    Disable {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Tell which backend is in use.
    Status {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `gatehouse profile`.
pub fn run(args: ProfileArgs) -> anyhow::Result<()> {
    let mut store = Store::open_default().context("cannot open the profile store")?;
    match args.command {
        Cmd::Import { file, name, json } => import(&mut store, &file, name.as_deref(), json),
        Cmd::Export {
            profile,
            output,
            json,
        } => export(&mut store, &profile, output.as_deref(), json),
        Cmd::List { json } => list(&store, json),
        Cmd::Show {
            profile,
            show_secrets,
            json,
        } => show(&mut store, &profile, show_secrets, json),
        Cmd::Rename {
            profile,
            new_name,
            json,
        } => {
            let info = store.rename(&profile, &new_name)?;
            emit(
                json,
                json!({"id": info.id, "name": info.name, "old_name": profile}),
                || format!("renamed {profile} to {}", info.name),
            )
        }
        Cmd::Delete { profile, json } => {
            let info = store.delete(&profile)?;
            let kind = store.backend_kind();
            emit(
                json,
                json!({
                    "id": info.id,
                    "name": info.name,
                    "secrets_removed": info.secret_slots.len(),
                    "secret_backend": kind.to_string(),
                }),
                || {
                    format!(
                        "deleted {} and its {} key(s) in the {kind}",
                        info.name,
                        info.secret_slots.len()
                    )
                },
            )
        }
        Cmd::Keygen {
            name,
            address,
            dns,
            listen_port,
            json,
        } => keygen(
            &mut store,
            name.as_deref(),
            &address,
            &dns,
            listen_port,
            json,
        ),
        Cmd::Qr { profile, png, json } => qr_cmd(&mut store, &profile, png.as_deref(), json),
        Cmd::Hooks {
            profile,
            state,
            json,
        } => {
            let on = matches!(state, OnOff::On);
            let info = store.set_hooks(&profile, on)?;
            emit(
                json,
                json!({"id": info.id, "name": info.name, "hooks_enabled": info.hooks_enabled}),
                || {
                    if on {
                        format!(
                            "hooks ON for {}: its PreUp/PostUp/PreDown/PostDown commands will run \
                             as root when it connects",
                            info.name
                        )
                    } else {
                        format!("hooks off for {}: its commands will never run", info.name)
                    }
                },
            )
        }
        Cmd::Vault { action } => vault(&mut store, action),
    }
}

/// Writes to stdout; a closed pipe (`| head`) is not an error.
fn out(text: &str) -> anyhow::Result<()> {
    let mut o = std::io::stdout().lock();
    match o.write_all(text.as_bytes()).and_then(|()| o.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

/// Prints `value` as JSON, or the text.
fn emit(json: bool, value: Value, text: impl FnOnce() -> String) -> anyhow::Result<()> {
    if json {
        outln!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        outln!("{}", text());
    }
    Ok(())
}

fn hook_names(config: &Config) -> Vec<&'static str> {
    let i = &config.interface;
    [
        ("PreUp", &i.pre_up),
        ("PostUp", &i.post_up),
        ("PreDown", &i.pre_down),
        ("PostDown", &i.post_down),
    ]
    .into_iter()
    .filter(|(_, v)| !v.is_empty())
    .map(|(n, _)| n)
    .collect()
}

fn hooks_warning(name: &str, config: &Config) -> Option<String> {
    let names = hook_names(config);
    if names.is_empty() {
        return None;
    }
    Some(format!(
        "WARNING: profile {name} has {} commands. They are kept but NEVER run unless you turn \
         hooks on for this profile: gatehouse profile hooks {name} on",
        names.join("/")
    ))
}

fn import(store: &mut Store, file: &str, name: Option<&str>, json: bool) -> anyhow::Result<()> {
    let (bytes, label, source) = if file == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("cannot read standard input")?;
        (buf, "<stdin>".to_string(), None)
    } else {
        let path = Path::new(file);
        let bytes = std::fs::read(path).with_context(|| format!("cannot read {file}"))?;
        let source = path.file_name().map(|n| n.to_string_lossy().into_owned());
        (bytes, file.to_string(), source)
    };
    let from_qr = qr::is_image(&bytes);
    let config = if from_qr {
        qr::config_from_image(&bytes, &label)?
    } else {
        let text = std::str::from_utf8(&bytes).map_err(|e| {
            anyhow::anyhow!(
                "{label}: not UTF-8 text (invalid byte at offset {})",
                e.valid_up_to()
            )
        })?;
        parse(text, &label)?
    };
    let (wanted, choice) = match name {
        Some(n) => (n.to_string(), NameChoice::Exact),
        None => {
            let stem = Path::new(file)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .filter(|_| file != "-")
                .unwrap_or_else(|| "profile".to_string());
            (stem, NameChoice::Suggested)
        }
    };
    let profile = store.import(&config, &wanted, choice, source.as_deref())?;
    let warning = hooks_warning(&profile.info.name, &config);
    if let Some(w) = &warning {
        eprintln!("{w}");
    }
    let kind = store.backend_kind();
    let value = json!({
        "id": profile.info.id,
        "name": profile.info.name,
        "source": profile.info.source,
        "from_qr_code": from_qr,
        "public_key": profile.info.public_key.map(|k| k.to_string()),
        "secrets_stored": profile.info.secret_slots.len(),
        "secret_backend": kind.to_string(),
        "has_hooks": config.interface.has_hooks(),
        "hooks_enabled": profile.info.hooks_enabled,
        "warnings": warning.iter().collect::<Vec<_>>(),
    });
    emit(json, value, || {
        format!(
            "imported {} as {} ({} key(s) in the {kind})",
            label,
            profile.info.name,
            profile.info.secret_slots.len()
        )
    })
}

/// Writes `bytes` to a new or existing file with mode 0600.
fn write_private_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    // An existing file keeps its mode on open: tighten it before writing any secret.
    f.set_permissions(std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot chmod {}", path.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

fn export(store: &mut Store, name: &str, output: Option<&Path>, json: bool) -> anyhow::Result<()> {
    let profile = store.load(name, true)?;
    let text = write(&profile.config);
    match output {
        Some(path) => {
            write_private_file(path, text.as_bytes())?;
            emit(
                json,
                json!({"id": profile.info.id, "name": profile.info.name, "file": path}),
                || {
                    format!(
                        "wrote {} to {} (mode 0600)",
                        profile.info.name,
                        path.display()
                    )
                },
            )
        }
        None if json => emit(
            true,
            json!({"id": profile.info.id, "name": profile.info.name, "config": text}),
            String::new,
        ),
        None => {
            out(&text)?;
            Ok(())
        }
    }
}

fn summary(p: &Profile) -> Value {
    let c = &p.config;
    json!({
        "id": p.info.id,
        "name": p.info.name,
        "source": p.info.source,
        "created_unix": p.info.created_unix,
        "public_key": p.info.public_key.map(|k| k.to_string()),
        "addresses": c.interface.addresses.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        "peers": c.peers.len(),
        "endpoints": c.peers.iter().filter_map(|p| p.endpoint.as_ref()).map(|e| e.to_string()).collect::<Vec<_>>(),
        "has_hooks": c.interface.has_hooks(),
        "hooks_enabled": p.info.hooks_enabled,
    })
}

fn list(store: &Store, json: bool) -> anyhow::Result<()> {
    let all = store.list()?;
    if json {
        let v: Vec<Value> = all.iter().map(summary).collect();
        outln!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    if all.is_empty() {
        outln!("no profiles (import one: gatehouse profile import FILE)");
        return Ok(());
    }
    let width = all
        .iter()
        .map(|p| p.info.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    outln!(
        "{:width$}  {:5}  {:5}  ADDRESSES / ENDPOINT",
        "NAME",
        "PEERS",
        "HOOKS"
    );
    for p in &all {
        let c = &p.config;
        let hooks = match (c.interface.has_hooks(), p.info.hooks_enabled) {
            (false, _) => "-",
            (true, false) => "off",
            (true, true) => "ON",
        };
        let addrs: Vec<String> = c
            .interface
            .addresses
            .iter()
            .map(|a| a.to_string())
            .collect();
        let endpoint = c
            .peers
            .iter()
            .find_map(|p| p.endpoint.as_ref())
            .map(|e| e.to_string())
            .unwrap_or_default();
        outln!(
            "{:width$}  {:5}  {:5}  {} {}",
            p.info.name,
            c.peers.len(),
            hooks,
            addrs.join(","),
            endpoint
        );
    }
    Ok(())
}

fn secret_json(s: &Option<Secret>, show: bool) -> Value {
    match s {
        Some(k) if show => Value::String(k.expose_base64()),
        _ => Value::Null,
    }
}

fn show(store: &mut Store, name: &str, show_secrets: bool, json: bool) -> anyhow::Result<()> {
    let p = store.load(name, show_secrets)?;
    let kind = store.backend_kind();
    let c = &p.config;
    let i = &c.interface;
    if json {
        let mut v = summary(&p);
        v["secret_backend"] = json!(kind.to_string());
        v["interface"] = json!({
            "has_private_key": p.info.secret_slots.contains(&Slot::Private),
            "private_key": secret_json(&i.private_key, show_secrets),
            "addresses": i.addresses.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
            "listen_port": i.listen_port,
            "fwmark": i.fwmark,
            "dns": i.dns.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
            "mtu": i.mtu,
            "table": i.table.as_ref().map(|t| t.to_string()),
            "pre_up": i.pre_up,
            "post_up": i.post_up,
            "pre_down": i.pre_down,
            "post_down": i.post_down,
            "save_config": i.save_config,
        });
        v["peers"] = Value::Array(
            c.peers
                .iter()
                .map(|peer| {
                    json!({
                        "public_key": peer.public_key.to_string(),
                        "has_preshared_key": p.info.secret_slots.contains(&Slot::Preshared(peer.public_key)),
                        "preshared_key": secret_json(&peer.preshared_key, show_secrets),
                        "allowed_ips": peer.allowed_ips.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
                        "endpoint": peer.endpoint.as_ref().map(|e| e.to_string()),
                        "persistent_keepalive": peer.persistent_keepalive,
                    })
                })
                .collect(),
        );
        v["config"] = json!(write(c));
        outln!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    outln!("# name:       {}", p.info.name);
    outln!("# id:         {}", p.info.id);
    if let Some(s) = &p.info.source {
        outln!("# imported:   from {s} (unix time {})", p.info.created_unix);
    }
    if let Some(k) = &p.info.public_key {
        outln!("# public key: {k}");
    }
    let hooks = hook_names(c);
    if hooks.is_empty() {
        outln!("# hooks:      none");
    } else if p.info.hooks_enabled {
        outln!(
            "# hooks:      ON ({} commands run on connect)",
            hooks.join("/")
        );
    } else {
        outln!(
            "# hooks:      off ({} kept, never run; enable: gatehouse profile hooks {} on)",
            hooks.join("/"),
            p.info.name
        );
    }
    if !show_secrets && !p.info.secret_slots.is_empty() {
        outln!(
            "# keys:       {} key(s) in the {kind}, hidden (--show-secrets prints them)",
            p.info.secret_slots.len()
        );
    }
    out(&write(c))?;
    Ok(())
}

/// Builds an interface from command-line values by parsing them as wg-quick text, so they are
/// checked exactly like a file.
fn template(
    address: &[String],
    dns: &[String],
    listen_port: Option<u16>,
) -> anyhow::Result<Config> {
    let mut text = String::from("[Interface]\n");
    for a in address {
        text.push_str(&format!("Address = {a}\n"));
    }
    for d in dns {
        text.push_str(&format!("DNS = {d}\n"));
    }
    if let Some(p) = listen_port {
        text.push_str(&format!("ListenPort = {p}\n"));
    }
    if address.iter().chain(dns).any(|v| v.contains(['\n', '#'])) {
        bail!("--address and --dns values cannot contain '#' or line breaks");
    }
    Ok(parse(&text, "command line")?)
}

fn keygen(
    store: &mut Store,
    name: Option<&str>,
    address: &[String],
    dns: &[String],
    listen_port: Option<u16>,
    json: bool,
) -> anyhow::Result<()> {
    let Some(name) = name else {
        let secret = Secret::generate();
        let public = secret.public_key();
        return emit(
            json,
            json!({"private_key": secret.expose_base64(), "public_key": public.to_string()}),
            || {
                format!(
                    "PrivateKey = {}\nPublicKey = {public}",
                    secret.expose_base64()
                )
            },
        );
    };
    let config = template(address, dns, listen_port)?;
    let (profile, public) = store.create_with_new_key(config, name)?;
    let kind = store.backend_kind();
    emit(
        json,
        json!({
            "id": profile.info.id,
            "name": profile.info.name,
            "public_key": public.to_string(),
            "secret_backend": kind.to_string(),
        }),
        || {
            format!(
                "created profile {} (private key in the {kind})\nPublicKey = {public}",
                profile.info.name
            )
        },
    )
}

fn qr_cmd(store: &mut Store, name: &str, png: Option<&Path>, json: bool) -> anyhow::Result<()> {
    let profile = store.load(name, true)?;
    let text = write(&profile.config);
    match png {
        Some(path) => {
            let bytes = qr::to_png(&text, 8)?;
            write_private_file(path, &bytes)?;
            emit(
                json,
                json!({"id": profile.info.id, "name": profile.info.name, "png": path}),
                || {
                    format!(
                        "wrote the QR code of {} to {} (mode 0600; it holds the private key)",
                        profile.info.name,
                        path.display()
                    )
                },
            )
        }
        None => {
            let art = qr::to_terminal(&text)?;
            emit(
                json,
                json!({"id": profile.info.id, "name": profile.info.name, "terminal": art}),
                || art.clone(),
            )
        }
    }
}

fn vault(store: &mut Store, action: VaultAction) -> anyhow::Result<()> {
    let (target, json) = match action {
        VaultAction::Status { json } => {
            let kind = store.backend_kind();
            let path = store.dir().join(gatehouse_profile::vault::FILE_NAME);
            return emit(
                json,
                json!({"secret_backend": kind.to_string(), "vault_file": path, "config_dir": store.dir()}),
                || match kind {
                    BackendKind::Keyring => {
                        "keys are kept in the OS keyring (Secret Service)".to_string()
                    }
                    BackendKind::Vault => format!("keys are kept in the vault {}", path.display()),
                },
            );
        }
        VaultAction::Enable { json } => (BackendKind::Vault, json),
        VaultAction::Disable { json } => (BackendKind::Keyring, json),
    };
    if store.backend_kind() == target {
        return emit(
            json,
            json!({"secret_backend": target.to_string(), "moved": 0, "changed": false}),
            || format!("already using the {target}"),
        );
    }
    let backend = match target {
        BackendKind::Vault => Backend::Vault(Vault::new(store.dir())),
        BackendKind::Keyring => Backend::Keyring(Keyring::new()),
    };
    let (moved, cleaned) = store.switch_backend(backend)?;
    if !cleaned {
        eprintln!(
            "WARNING: the keys were copied to the {target} but could not all be removed from \
             the previous backend"
        );
    }
    emit(
        json,
        json!({"secret_backend": target.to_string(), "moved": moved, "changed": true, "old_entries_removed": cleaned}),
        || format!("keys are now kept in the {target} ({moved} moved)"),
    )
}
