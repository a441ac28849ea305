//! The profiles: import (wg-quick text, a QR-code picture), edit, export, QR, delete, over
//! `gatehouse_profile` (store, parser, writer, QR). A parse error comes back with its line and
//! column and changes nothing.

use std::path::PathBuf;

use gatehouse_profile::store::{NameChoice, Store};
use gatehouse_profile::Config;
use zeroize::Zeroizing;

use crate::logs::Log;
use crate::views::{err, AppError, ImportOutcome, ImportProblem};

/// The profile store in the config directory.
pub fn store() -> Result<Store, AppError> {
    Store::open_default().map_err(err)
}

/// Imports wg-quick text as a stored profile named `name`; a parse error comes back with
/// its line and column.
pub fn import(name: &str, text: &str, log: &Log) -> Result<ImportOutcome, AppError> {
    let label = if name.is_empty() { "pasted.conf" } else { name };
    let config = match gatehouse_profile::parse::parse(text, label) {
        Ok(c) => c,
        Err(e) => return Ok(problem(&e)),
    };
    let stem = label.strip_suffix(".conf").unwrap_or(label);
    let profile = store()?
        .import(&config, stem, NameChoice::Suggested, Some(label))
        .map_err(err)?;
    log.add("info", Some(&profile.info.name), "profile imported");
    Ok(ImportOutcome::Imported {
        name: profile.info.name,
    })
}

/// The wg-quick text in a QR-code picture (PNG or JPEG bytes), and the name to import it under.
pub fn read_qr(name: &str, image: &[u8]) -> Result<(String, Zeroizing<String>), AppError> {
    let label = if name.is_empty() { "qr-code" } else { name };
    let text = gatehouse_profile::qr::decode_image(image, label).map_err(err)?;
    Ok((label.to_owned(), text))
}

/// A profile's full wg-quick text, keys included when `config` has them.
pub fn text(config: &Config) -> String {
    gatehouse_profile::write::write(config)
}

/// Replaces a stored profile's configuration with `text`. Invalid text comes back with its
/// line and column and changes nothing; a running connection keeps its old configuration
/// until reconnected.
pub fn update(name: &str, text: &str, log: &Log) -> Result<ImportOutcome, AppError> {
    let config = match gatehouse_profile::parse::parse(text, name) {
        Ok(c) => c,
        Err(e) => return Ok(problem(&e)),
    };
    let mut store = store()?;
    let before = store.find(name).map_err(err)?;
    let after = store.replace(name, &config).map_err(err)?;
    if before.info.hooks_enabled && !after.info.hooks_enabled {
        // Edited hook commands must not run unseen: the user turns them on again.
        log.add(
            "warn",
            Some(name),
            "hook commands changed and are off after the edit; turn them on again to run them",
        );
    }
    log.add("info", Some(name), "profile updated");
    Ok(ImportOutcome::Imported {
        name: name.to_owned(),
    })
}

/// Writes profile `name`'s wg-quick `text` to `path`, mode 0600, atomically; returns the
/// path written.
pub fn export(name: &str, text: &str, path: &str, log: &Log) -> Result<String, AppError> {
    let target = expand_home(path)?;
    if target.is_dir() {
        return Err(AppError::new(format!("{path}: is a directory")));
    }
    gatehouse_profile::store::write_atomic(&target, text.as_bytes())
        .map_err(|e| AppError::new(format!("{path}: cannot write: {e}")))?;
    log.add("info", Some(name), format!("profile exported to {path}"));
    Ok(target.display().to_string())
}

/// A profile's wg-quick `text` as a QR code in an SVG document.
pub fn qr_svg(text: &str) -> Result<String, AppError> {
    gatehouse_profile::qr::to_svg(text).map_err(err)
}

/// Deletes a stored profile (its connection stopped first by the caller).
pub fn delete(name: &str, log: &Log) -> Result<(), AppError> {
    store()?.delete(name).map_err(err)?;
    log.add("info", Some(name), "profile deleted");
    Ok(())
}

fn problem(e: &gatehouse_profile::parse::ParseError) -> ImportOutcome {
    ImportOutcome::Invalid(ImportProblem {
        line: u32::try_from(e.line).unwrap_or(u32::MAX),
        col: u32::try_from(e.col).unwrap_or(u32::MAX),
        message: e.kind.to_string(),
        source_line: e.source_line.clone(),
    })
}

/// `path` with a leading `~/` (or a lone `~`) replaced by the home directory, as a shell would;
/// other paths as they are. A relative path is refused: it would land wherever the app runs.
pub(crate) fn expand_home(path: &str) -> Result<PathBuf, AppError> {
    let home = || {
        std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from)
            .ok_or_else(|| AppError::new(format!("{path}: HOME is not set")))
    };
    if path == "~" {
        return home();
    }
    if let Some(rest) = path.strip_prefix("~/") {
        return Ok(home()?.join(rest));
    }
    let p = PathBuf::from(path);
    if p.is_relative() {
        return Err(AppError::new(format!(
            "{path}: give a full path (/… or ~/…)"
        )));
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_paths_expand_home_and_refuse_relative_ones() {
        let home = PathBuf::from(std::env::var_os("HOME").expect("HOME"));
        assert_eq!(expand_home("~/work.conf").unwrap(), home.join("work.conf"));
        assert_eq!(expand_home("~").unwrap(), home);
        assert_eq!(
            expand_home("/tmp/x.conf").unwrap(),
            PathBuf::from("/tmp/x.conf")
        );
        let e = expand_home("work.conf").unwrap_err();
        assert!(e.message.contains("full path"), "{}", e.message);
        assert!(expand_home("~user/x")
            .unwrap_err()
            .message
            .contains("full path"));
    }
}
