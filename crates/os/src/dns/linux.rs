//! Linux: systemd-resolved through `resolvectl`, else `resolvconf`, else `/etc/resolv.conf`.

use super::{
    resolv_conf_text, DnsConfig, DnsMethod, DnsUndo, ResolvConfOriginal, GENERATED_HEADER,
};
use crate::util::{on_path, run};
use crate::{ApplyOptions, OsError};
use std::io::Write;
use std::path::{Path, PathBuf};

const RESOLV_CONF: &str = "/etc/resolv.conf";
const RESOLVED_SOCKET: &str = "/run/systemd/resolve/io.systemd.Resolve";

/// The mechanism chosen for this host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dns {
    Resolved,
    Resolvconf,
    File,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> OsError + '_ {
    move |source| OsError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// systemd-resolved runs when its varlink socket accepts a connection.
fn resolved_running() -> bool {
    std::os::unix::net::UnixStream::connect(RESOLVED_SOCKET).is_ok()
}

/// The resolvconf record name, as wg-quick picks it: the first `NAME*` entry of
/// `/etc/resolvconf/interface-order` (Debian lists `tun*`) as a prefix.
fn resolvconf_name(interface: &str) -> String {
    let order = std::fs::read_to_string("/etc/resolvconf/interface-order").unwrap_or_default();
    let prefix = order.lines().map(str::trim).find_map(|l| {
        let stem = l.strip_suffix('*')?;
        (!stem.is_empty() && stem.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
            .then(|| format!("{stem}."))
    });
    format!("{}{interface}", prefix.unwrap_or_default())
}

fn backup_path(interface: &str, options: &ApplyOptions) -> PathBuf {
    match &options.state_dir {
        Some(dir) => dir.join(format!("resolv.conf.{interface}.backup")),
        None => PathBuf::from(format!("{RESOLV_CONF}.gatehouse-{interface}")),
    }
}

/// Writes `content` into `path` in place (keeps the inode: `/etc/resolv.conf` may be a bind
/// mount, as under `ip netns exec`).
fn write_in_place(path: &Path, content: &str) -> Result<(), OsError> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map_err(io_err(path))?;
    f.write_all(content.as_bytes()).map_err(io_err(path))?;
    f.sync_all().map_err(io_err(path))
}

fn read_optional(path: &Path) -> Result<Option<String>, OsError> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(path)(e)),
    }
}

impl Dns {
    /// Resolves [`DnsMethod::Auto`] for this host.
    pub(crate) async fn choose(method: DnsMethod) -> Dns {
        match method {
            DnsMethod::Resolved => Dns::Resolved,
            DnsMethod::Resolvconf => Dns::Resolvconf,
            DnsMethod::ResolvConfFile => Dns::File,
            DnsMethod::Auto => {
                if resolved_running() {
                    Dns::Resolved
                } else if on_path("resolvconf") {
                    Dns::Resolvconf
                } else {
                    Dns::File
                }
            }
        }
    }

    /// Sets `config` for `interface`; returns how to undo it.
    pub(crate) async fn apply(
        self,
        interface: &str,
        config: &DnsConfig,
        options: &ApplyOptions,
    ) -> Result<Option<DnsUndo>, OsError> {
        if config.servers.is_empty() {
            return Ok(None);
        }
        match self {
            Dns::Resolved => {
                let undo = DnsUndo::ResolvedRevert {
                    interface: interface.to_string(),
                };
                let mut dns = vec!["dns".to_string(), interface.to_string()];
                dns.extend(config.servers.iter().map(ToString::to_string));
                // `~.` routes every query to this link, as resolvconf's `-x` (exclusive) does.
                let mut domain = vec!["domain".to_string(), interface.to_string()];
                domain.extend(config.search.iter().cloned());
                domain.push("~.".to_string());
                let default_route = vec![
                    "default-route".to_string(),
                    interface.to_string(),
                    "yes".to_string(),
                ];
                for args in [dns, domain, default_route] {
                    if let Err(e) = run("resolvectl", &args, None).await {
                        // Leave nothing half set.
                        let _ = Dns::undo(&undo).await;
                        return Err(e);
                    }
                }
                Ok(Some(undo))
            }
            Dns::Resolvconf => {
                let name = resolvconf_name(interface);
                let args = vec![
                    "-a".to_string(),
                    name.clone(),
                    "-m".to_string(),
                    "0".to_string(),
                    "-x".to_string(),
                ];
                run("resolvconf", &args, Some(&resolv_conf_text(config))).await?;
                Ok(Some(DnsUndo::ResolvconfDelete { name }))
            }
            Dns::File => {
                let path = PathBuf::from(RESOLV_CONF);
                let backup = backup_path(interface, options);
                let written = resolv_conf_text(config);
                let original = match std::fs::symlink_metadata(&path) {
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        ResolvConfOriginal::Missing
                    }
                    Err(e) => return Err(io_err(&path)(e)),
                    Ok(m) if m.file_type().is_symlink() => ResolvConfOriginal::Symlink {
                        target: std::fs::read_link(&path).map_err(io_err(&path))?,
                    },
                    Ok(_) => ResolvConfOriginal::File,
                };
                if original == ResolvConfOriginal::File {
                    let current = std::fs::read_to_string(&path).map_err(io_err(&path))?;
                    // A backup left by a crash holds the real original when the file still
                    // holds what we wrote: keep it.
                    let stale_ours = backup.exists() && current.starts_with(GENERATED_HEADER);
                    if !stale_ours {
                        if let Some(dir) = backup.parent() {
                            std::fs::create_dir_all(dir).map_err(io_err(dir))?;
                        }
                        write_in_place(&backup, &current)?;
                    }
                }
                if matches!(original, ResolvConfOriginal::Symlink { .. }) {
                    std::fs::remove_file(&path).map_err(io_err(&path))?;
                }
                write_in_place(&path, &written)?;
                Ok(Some(DnsUndo::RestoreResolvConf {
                    path,
                    backup,
                    original,
                    written,
                }))
            }
        }
    }

    /// Undoes one action; what is already undone counts as done.
    pub(crate) async fn undo(action: &DnsUndo) -> Result<(), OsError> {
        match action {
            DnsUndo::ResolvedRevert { interface } => {
                match run(
                    "resolvectl",
                    &["revert".to_string(), interface.clone()],
                    None,
                )
                .await
                {
                    Ok(_) => Ok(()),
                    // The link is gone, and resolved forgot it with it.
                    Err(OsError::Command { detail, .. })
                        if detail.contains("No such device")
                            || detail.contains("Failed to resolve interface") =>
                    {
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            }
            DnsUndo::ResolvconfDelete { name } => run(
                "resolvconf",
                &["-d".into(), name.clone(), "-f".into()],
                None,
            )
            .await
            .map(|_| ()),
            DnsUndo::RestoreResolvConf {
                path,
                backup,
                original,
                written,
            } => {
                let current = read_optional(path)?;
                let is_link = std::fs::symlink_metadata(path)
                    .map(|m| m.file_type().is_symlink())
                    .unwrap_or(false);
                let ours = !is_link && current.as_deref() == Some(written.as_str());
                match original {
                    ResolvConfOriginal::File => {
                        let Some(saved) = read_optional(backup)? else {
                            return Ok(()); // restored already
                        };
                        if !ours {
                            return Err(OsError::Invalid(format!(
                                "{} was changed since gatehouse wrote it; left as is, the \
                                 original is kept in {}",
                                path.display(),
                                backup.display()
                            )));
                        }
                        write_in_place(path, &saved)?;
                        std::fs::remove_file(backup).map_err(io_err(backup))
                    }
                    ResolvConfOriginal::Symlink { target } => {
                        if is_link {
                            return Ok(());
                        }
                        if !ours && current.is_some() {
                            return Err(OsError::Invalid(format!(
                                "{} was changed since gatehouse wrote it; left as is (it was a \
                                 link to {})",
                                path.display(),
                                target.display()
                            )));
                        }
                        if current.is_some() {
                            std::fs::remove_file(path).map_err(io_err(path))?;
                        }
                        std::os::unix::fs::symlink(target, path).map_err(io_err(path))
                    }
                    ResolvConfOriginal::Missing => {
                        if ours {
                            std::fs::remove_file(path).map_err(io_err(path))?;
                        }
                        Ok(())
                    }
                }
            }
        }
    }

    /// The content of `/etc/resolv.conf`, `None` when absent.
    pub(crate) fn resolv_conf_content() -> Result<Option<String>, OsError> {
        read_optional(Path::new(RESOLV_CONF))
    }

    /// systemd-resolved's per-link servers and domains, when it runs.
    pub(crate) async fn resolved_state() -> Option<String> {
        if !resolved_running() {
            return None;
        }
        let dns = run("resolvectl", &["dns".to_string()], None).await.ok()?;
        let domain = run("resolvectl", &["domain".to_string()], None)
            .await
            .ok()?;
        Some(format!("{dns}{domain}"))
    }
}
