//! `gatehouse profile qr`: a profile as a QR code (keys included), in the terminal or a PNG file.

use std::path::Path;

use gatehouse_profile::qr;
use gatehouse_profile::store::Store;
use gatehouse_profile::write::write;
use serde_json::json;

use crate::profile_common::{emit, write_private_file};

pub(crate) fn run(
    store: &mut Store,
    name: &str,
    png: Option<&Path>,
    json: bool,
) -> anyhow::Result<()> {
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
