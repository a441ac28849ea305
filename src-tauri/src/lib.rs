//! Gatehouse's desktop app (Tauri 2): a tray that tells whether the tunnel is really up, and a
//! window with the connections, the VPC map, the private services and the log.
//!
//! What it does is `gatehouse_usecases` (profiles, connections, maps, scans and services, the
//! log, the settings, and the views the UI receives); this crate is the Tauri side:
//!
//! - [`commands`]: the UI's commands, one-line forwards to the use cases;
//! - [`events`]: the use cases' notices as events, tray updates and desktop notifications;
//! - [`tray`]: icon per state, tooltip, menu;
//! - [`autostart`]: start at login;
//! - [`run`]: the window and the background loops.

pub mod autostart;
pub mod commands;
pub mod events;
pub mod tray;

use std::sync::Arc;
use std::time::Duration;

use gatehouse_usecases::{Backend, BackendOptions};
use specta_typescript::{BigIntExportBehavior, Typescript};
use tauri::{Manager, WindowEvent};
use tauri_specta::{collect_commands, collect_events, Builder};

use events::{ConnectionsChanged, LogAdded};

/// The commands and events, for the invoke handler and the TypeScript export.
pub fn specta_builder() -> Builder<tauri::Wry> {
    Builder::<tauri::Wry>::new()
        .commands(collect_commands![
            commands::list_connections,
            commands::connect,
            commands::disconnect,
            commands::import_profile,
            commands::delete_profile,
            commands::profile_text,
            commands::update_profile,
            commands::export_profile,
            commands::profile_qr,
            commands::import_qr_image,
            commands::get_settings,
            commands::set_settings,
            commands::service_info,
            commands::map_from_file,
            commands::export_map,
            commands::map_from_aws,
            commands::map_from_digitalocean,
            commands::set_digitalocean_token,
            commands::start_demo,
            commands::demo_map,
            commands::synthetic_map,
            commands::list_services,
            commands::scan_services,
            commands::scan_progress,
            commands::open_service,
            commands::list_logs,
            commands::tray_action,
            commands::tray_status,
        ])
        .events(collect_events![ConnectionsChanged, LogAdded])
}

/// Writes the TypeScript bindings to `path`.
pub fn export_bindings(path: &std::path::Path) -> Result<(), String> {
    specta_builder()
        .export(
            Typescript::default()
                .bigint(BigIntExportBehavior::Number)
                .header("// Generated from src-tauri by tauri-specta (npm run app:bindings). Do not edit.\n// @ts-nocheck"),
            path,
        )
        .map_err(|e| e.to_string())
}

/// Runs the app until the user quits from the tray. With `--demo` it starts the demo network
/// and connects to it at once.
pub fn run() {
    // What the back end logs goes to stderr too (`RUST_LOG` to choose; warnings by default).
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let builder = specta_builder();
    let result = tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            tray::show_main(app);
        }))
        .plugin(tauri_plugin_notification::init())
        .plugin(
            tauri_plugin_autostart::Builder::new()
                .app_name(autostart::AUTOSTART_NAME)
                .build(),
        )
        .invoke_handler(builder.invoke_handler())
        .on_window_event(|window, event| {
            // Close to tray: the window hides, the connections stay.
            if let WindowEvent::CloseRequested { api, .. } = event {
                api.prevent_close();
                let _ = window.hide();
            }
        })
        .setup(move |app| {
            builder.mount_events(app);
            let options = BackendOptions::from_env()?;
            let notices = events::handler(app.handle().clone());
            let backend = Arc::new(Backend::new(options, notices));
            app.manage(backend.clone());
            tray::build(app.handle())?;
            if std::env::args().any(|a| a == "--demo") {
                // `npm start`: open straight onto the demo network, as if "Try the demo" was clicked.
                let demo = backend.clone();
                tauri::async_runtime::spawn(async move {
                    if let Err(e) = demo.start_demo().await {
                        demo.log("error", None, format!("demo: {e}"));
                    }
                });
            }
            let follower = backend.clone();
            tauri::async_runtime::spawn(async move {
                // The service's events (state changes, its log) while it runs; retried.
                loop {
                    if let Err(e) = follower.follow_service().await {
                        tracing::debug!("service events: {e}");
                    }
                    tokio::time::sleep(Duration::from_secs(5)).await;
                }
            });
            tauri::async_runtime::spawn(async move {
                loop {
                    backend.refresh().await;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            });
            Ok(())
        })
        .run(tauri::generate_context!());
    if let Err(e) = result {
        eprintln!("gatehouse-app: {e}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    /// Regenerates `ui/src/bindings.ts` (run by `npm run app:bindings`); fails when the
    /// committed file is stale, so the UI never calls a command that does not exist.
    #[test]
    fn export_bindings() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/bindings.ts");
        let before = std::fs::read_to_string(&path).unwrap_or_default();
        super::export_bindings(&path).expect("export");
        let after = std::fs::read_to_string(&path).expect("read back");
        assert!(after.contains("startDemo"), "bindings lack startDemo");
        assert!(
            before.is_empty() || before == after,
            "ui/src/bindings.ts was stale: regenerated now, commit it"
        );
    }
}
