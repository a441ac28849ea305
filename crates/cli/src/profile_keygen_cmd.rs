//! `gatehouse profile keygen`: a key pair, or a new profile whose fresh private key goes
//! straight to the secret backend.

use anyhow::bail;
use gatehouse_profile::parse::parse;
use gatehouse_profile::store::Store;
use gatehouse_profile::{Config, Secret};
use serde_json::json;

use crate::profile_common::emit;

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

pub(crate) fn keygen(
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
