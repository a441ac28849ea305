//! The commands the UI calls: each forwards to [`Backend`] (`gatehouse_usecases`) (or the tray's handler) and nothing
//! more. Their TypeScript wrappers are generated (`ui/src/bindings.ts`).

use std::sync::Arc;

use tauri::{AppHandle, State};

use gatehouse_usecases::settings::{ServiceInfo, Settings};
use gatehouse_usecases::views::{
    ConnectionView, ImportOutcome, LogLine, MapView, OpenedService, ScanProgress, ServiceView,
};
use gatehouse_usecases::{AppError, Backend};

use crate::tray::TrayStatus;

type B<'a> = State<'a, Arc<Backend>>;

/// Every profile with its connection.
#[tauri::command]
#[specta::specta]
pub async fn list_connections(b: B<'_>) -> Result<Vec<ConnectionView>, AppError> {
    Ok(b.connections().await)
}

/// Connects a profile.
#[tauri::command]
#[specta::specta]
pub async fn connect(b: B<'_>, name: String) -> Result<(), AppError> {
    b.connect(&name).await
}

/// Disconnects a profile.
#[tauri::command]
#[specta::specta]
pub async fn disconnect(b: B<'_>, name: String) -> Result<(), AppError> {
    b.disconnect(&name).await
}

/// Imports wg-quick text (from a file or pasted) as a profile.
#[tauri::command]
#[specta::specta]
pub async fn import_profile(
    b: B<'_>,
    name: String,
    text: String,
) -> Result<ImportOutcome, AppError> {
    b.import(&name, &text).await
}

/// A profile's full wg-quick text, keys included (for the editor).
#[tauri::command]
#[specta::specta]
pub async fn profile_text(b: B<'_>, name: String) -> Result<String, AppError> {
    b.profile_text(&name).await
}

/// Replaces a profile's text after validating it; invalid text changes nothing.
#[tauri::command]
#[specta::specta]
pub async fn update_profile(
    b: B<'_>,
    name: String,
    text: String,
) -> Result<ImportOutcome, AppError> {
    b.update_profile(&name, &text).await
}

/// Writes a profile (keys included) to `path`, mode 0600; returns the path written.
#[tauri::command]
#[specta::specta]
pub async fn export_profile(b: B<'_>, name: String, path: String) -> Result<String, AppError> {
    b.export_profile(&name, &path).await
}

/// A profile's QR code as an SVG document.
#[tauri::command]
#[specta::specta]
pub async fn profile_qr(b: B<'_>, name: String) -> Result<String, AppError> {
    b.profile_qr(&name).await
}

/// Imports the profile in a QR-code picture (PNG or JPEG bytes).
#[tauri::command]
#[specta::specta]
pub async fn import_qr_image(
    b: B<'_>,
    name: String,
    image: Vec<u8>,
) -> Result<ImportOutcome, AppError> {
    b.import_qr_image(&name, &image).await
}

/// The settings.
#[tauri::command]
#[specta::specta]
pub async fn get_settings(b: B<'_>) -> Result<Settings, AppError> {
    Ok(b.settings())
}

/// Saves the settings (and turns start at login on or off).
#[tauri::command]
#[specta::specta]
pub async fn set_settings(
    app: AppHandle,
    b: B<'_>,
    settings: Settings,
) -> Result<Settings, AppError> {
    b.set_settings(settings, |on| crate::autostart::apply_autostart(&app, on))
}

/// Whether the Gatehouse service answers.
#[tauri::command]
#[specta::specta]
pub async fn service_info(b: B<'_>) -> Result<ServiceInfo, AppError> {
    Ok(b.service_info().await)
}

/// Writes the map exported by the window: `path` ends in `.svg` (`data`: the document) or
/// `.png` (`data`: the picture as base64 or a data URL). Returns the path written.
#[tauri::command]
#[specta::specta]
pub async fn export_map(b: B<'_>, path: String, data: String) -> Result<String, AppError> {
    b.export_map(&path, &data).await
}

/// The map of a Terraform state (v4 or `terraform show -json`) seen from the active profile.
#[tauri::command]
#[specta::specta]
pub async fn map_from_file(b: B<'_>, name: String, text: String) -> Result<MapView, AppError> {
    b.map_from_file(&name, &text).await
}

/// The map of an AWS account (a named AWS profile or the default; regions or the configured
/// one), read live, seen from the active connection.
#[tauri::command]
#[specta::specta]
pub async fn map_from_aws(
    b: B<'_>,
    profile: Option<String>,
    regions: Vec<String>,
) -> Result<MapView, AppError> {
    b.map_from_aws(profile, regions).await
}

/// The map of the DigitalOcean account whose token is in the keyring, read live.
#[tauri::command]
#[specta::specta]
pub async fn map_from_digitalocean(b: B<'_>) -> Result<MapView, AppError> {
    b.map_from_digitalocean().await
}

/// Keeps a DigitalOcean API token in the OS keyring.
#[tauri::command]
#[specta::specta]
pub async fn set_digitalocean_token(b: B<'_>, token: String) -> Result<(), AppError> {
    b.set_digitalocean_token(token).await
}

/// Deletes a stored profile.
#[tauri::command]
#[specta::specta]
pub async fn delete_profile(b: B<'_>, name: String) -> Result<(), AppError> {
    b.delete(&name).await
}

/// Starts the demo lab and connects to it.
#[tauri::command]
#[specta::specta]
pub async fn start_demo(b: B<'_>) -> Result<(), AppError> {
    b.start_demo().await
}

/// The demo network's VPC map.
#[tauri::command]
#[specta::specta]
pub async fn demo_map(b: B<'_>) -> Result<MapView, AppError> {
    b.demo_map().await
}

/// A map of a synthetic VPC with `hosts` hosts (measurements).
#[tauri::command]
#[specta::specta]
pub async fn synthetic_map(hosts: u32) -> Result<MapView, AppError> {
    gatehouse_usecases::maps::synthetic_map(hosts)
}

/// The private services the last scan of each running connection found.
#[tauri::command]
#[specta::specta]
pub async fn list_services(b: B<'_>) -> Result<Vec<ServiceView>, AppError> {
    Ok(b.services().await)
}

/// Scans the active connection's network for services (long: poll `scan_progress`).
#[tauri::command]
#[specta::specta]
pub async fn scan_services(b: B<'_>) -> Result<Vec<ServiceView>, AppError> {
    b.scan_services().await
}

/// The running scan's progress (N of M probed), or the last scan's figures.
#[tauri::command]
#[specta::specta]
pub async fn scan_progress(b: B<'_>) -> Result<ScanProgress, AppError> {
    Ok(b.scan_progress())
}

/// Opens a service: a local forward, and the start of the page for web servers.
#[tauri::command]
#[specta::specta]
pub async fn open_service(b: B<'_>, host: String, port: u16) -> Result<OpenedService, AppError> {
    b.open_service(&host, port).await
}

/// The log so far.
#[tauri::command]
#[specta::specta]
pub async fn list_logs(b: B<'_>) -> Result<Vec<LogLine>, AppError> {
    Ok(b.logs())
}

/// Runs a tray menu action (`connect:NAME`, `disconnect:NAME`, `demo`, `open`, `quit`) through
/// the tray's own handler.
#[tauri::command]
#[specta::specta]
pub async fn tray_action(app: AppHandle, id: String) -> Result<(), AppError> {
    crate::tray::perform(&app, &id).await
}

/// What the tray shows now: its icon's state and its tooltip.
#[tauri::command]
#[specta::specta]
pub async fn tray_status(b: B<'_>) -> Result<TrayStatus, AppError> {
    let views = b.last_reported();
    Ok(TrayStatus {
        state: crate::tray::overall(&views),
        tooltip: crate::tray::tooltip(&views),
    })
}
