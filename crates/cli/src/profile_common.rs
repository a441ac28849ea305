//! What the `gatehouse profile` subcommands share: stdout that tolerates a closed pipe, the
//! JSON-or-text output, private files, and the names of a profile's hook commands.

use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;

use anyhow::Context as _;
use gatehouse_profile::Config;
use serde_json::Value;

/// `println!` through [`out`].
macro_rules! outln {
    ($($t:tt)*) => {
        $crate::profile_common::out(&format!("{}\n", format_args!($($t)*)))?
    };
}
pub(crate) use outln;

/// Writes to stdout; a closed pipe (`| head`) is not an error.
pub(crate) fn out(text: &str) -> anyhow::Result<()> {
    let mut o = std::io::stdout().lock();
    match o.write_all(text.as_bytes()).and_then(|()| o.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

/// Prints `value` as JSON, or the text.
pub(crate) fn emit(json: bool, value: Value, text: impl FnOnce() -> String) -> anyhow::Result<()> {
    if json {
        outln!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        outln!("{}", text());
    }
    Ok(())
}

/// Writes `bytes` to a new or existing file with mode 0600.
pub(crate) fn write_private_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
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

pub(crate) fn hook_names(config: &Config) -> Vec<&'static str> {
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
