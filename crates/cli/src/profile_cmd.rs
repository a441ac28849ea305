//! `gatehouse profile …`: import, export, list, show, rename, delete, keygen, qr, hooks, vault.
//!
//! Every subcommand takes `--json` for machine output with stable field names. Secrets are only
//! printed by `export`, `qr`, `keygen` without `--name`, and `show --show-secrets`.
//!
//! Where the secrets live: the OS keyring by default; `gatehouse profile vault enable` switches
//! to a passphrase-encrypted file in the config directory (passphrase from
//! `GATEHOUSE_VAULT_PASSPHRASE` or a prompt) and moves the stored secrets there;
//! `gatehouse profile vault disable` moves them back to the keyring.

use anyhow::Context as _;
use gatehouse_profile::parse::parse;
use gatehouse_profile::qr;
use gatehouse_profile::secrets::Slot;
use gatehouse_profile::store::{NameChoice, Profile, Store};
use gatehouse_profile::write::write;
use gatehouse_profile::{Config, Secret};
use serde_json::{json, Value};
use std::io::Read as _;
use std::path::{Path, PathBuf};

use crate::profile_common::{emit, hook_names, out, outln, write_private_file};

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
        action: crate::profile_vault_cmd::VaultAction,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum OnOff {
    On,
    Off,
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
        } => crate::profile_keygen_cmd::keygen(
            &mut store,
            name.as_deref(),
            &address,
            &dns,
            listen_port,
            json,
        ),
        Cmd::Qr { profile, png, json } => {
            crate::profile_qr_cmd::run(&mut store, &profile, png.as_deref(), json)
        }
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
        Cmd::Vault { action } => crate::profile_vault_cmd::run(&mut store, action),
    }
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
