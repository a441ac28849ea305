//! The tray: one icon per state (from `icons/`), a tooltip with the connection and its
//! handshake age, a menu with every profile, the demo, open window and quit. The menu's handler
//! ([`perform`]) is also a command, so tests drive the tray's own code path.

use std::sync::Arc;

use gatehouse_usecases::views::{ConnectionView, StateKind};
use gatehouse_usecases::{AppError, Backend};
use serde::{Deserialize, Serialize};
use specta::Type;
use tauri::image::Image;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, Runtime};

const TRAY_ID: &str = "gatehouse";

/// What the tray shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
pub struct TrayStatus {
    /// The icon's state.
    pub state: StateKind,
    /// The tooltip.
    pub tooltip: String,
}

/// The state the tray shows for all connections: the most alarming one.
pub fn overall(views: &[ConnectionView]) -> StateKind {
    let rank = |s: StateKind| match s {
        StateKind::Disconnected => 0,
        StateKind::Connected => 1,
        StateKind::Connecting => 2,
        StateKind::Stale => 3,
        StateKind::Error => 4,
    };
    views
        .iter()
        .map(|v| v.state)
        .max_by_key(|s| rank(*s))
        .unwrap_or(StateKind::Disconnected)
}

/// The tooltip: each active connection with its state and handshake age.
pub fn tooltip(views: &[ConnectionView]) -> String {
    let active: Vec<String> = views
        .iter()
        .filter(|v| v.state != StateKind::Disconnected)
        .map(|v| {
            let age = v
                .peers
                .iter()
                .filter_map(|p| p.handshake_age_secs)
                .fold(None, |m: Option<f64>, a| Some(m.map_or(a, |m| m.min(a))));
            let state = match v.state {
                StateKind::Disconnected => "disconnected",
                StateKind::Connecting => "connecting",
                StateKind::Connected => "connected",
                StateKind::Stale => "stale",
                StateKind::Error => "error",
            };
            match age {
                Some(a) => format!("{}: {state}, handshake {a:.0} s ago", v.name),
                None => format!("{}: {state}", v.name),
            }
        })
        .collect();
    if active.is_empty() {
        "Gatehouse: disconnected".into()
    } else {
        format!("Gatehouse: {}", active.join("; "))
    }
}

fn icon(state: StateKind) -> Image<'static> {
    match state {
        StateKind::Disconnected => tauri::include_image!("icons/tray-disconnected.png"),
        StateKind::Connecting => tauri::include_image!("icons/tray-connecting.png"),
        StateKind::Connected => tauri::include_image!("icons/tray-connected.png"),
        StateKind::Stale => tauri::include_image!("icons/tray-stale.png"),
        StateKind::Error => tauri::include_image!("icons/tray-error.png"),
    }
}

fn menu<R: Runtime>(app: &AppHandle<R>, views: &[ConnectionView]) -> tauri::Result<Menu<R>> {
    let menu = Menu::new(app)?;
    for v in views {
        let (id, text) = if v.state == StateKind::Disconnected || v.state == StateKind::Error {
            (format!("connect:{}", v.name), format!("Connect {}", v.name))
        } else {
            (
                format!("disconnect:{}", v.name),
                format!("Disconnect {}", v.name),
            )
        };
        menu.append(&MenuItem::with_id(app, id, text, true, None::<&str>)?)?;
    }
    if !views.is_empty() {
        menu.append(&PredefinedMenuItem::separator(app)?)?;
    }
    menu.append(&MenuItem::with_id(
        app,
        "demo",
        "Try the demo network",
        true,
        None::<&str>,
    )?)?;
    menu.append(&MenuItem::with_id(
        app,
        "open",
        "Open Gatehouse",
        true,
        None::<&str>,
    )?)?;
    menu.append(&MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?)?;
    Ok(menu)
}

/// Creates the tray icon.
pub fn build<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    let m = menu(app, &[])?;
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(icon(StateKind::Disconnected))
        .tooltip("Gatehouse: disconnected")
        .menu(&m)
        .on_menu_event(|app, event| {
            let app = app.clone();
            let id = event.id().as_ref().to_owned();
            tauri::async_runtime::spawn(async move {
                if let Err(e) = perform(&app, &id).await {
                    tracing::warn!("tray {id}: {e}");
                }
            });
        })
        .build(app)?;
    Ok(())
}

/// Shows the connections' state on the tray.
pub fn update<R: Runtime>(app: &AppHandle<R>, views: &[ConnectionView]) {
    let Some(tray) = app.tray_by_id(TRAY_ID) else {
        return;
    };
    let state = overall(views);
    let results = [
        tray.set_icon(Some(icon(state))),
        tray.set_tooltip(Some(tooltip(views))),
        menu(app, views).and_then(|m| tray.set_menu(Some(m))),
    ];
    for r in results {
        if let Err(e) = r {
            tracing::warn!("tray update: {e}");
        }
    }
}

/// Shows and focuses the main window.
pub fn show_main<R: Runtime>(app: &AppHandle<R>) {
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.unminimize();
        let _ = w.show();
        let _ = w.set_focus();
    }
}

/// What a tray menu item does: `connect:NAME`, `disconnect:NAME`, `demo`, `open`, `quit`.
pub async fn perform<R: Runtime>(app: &AppHandle<R>, id: &str) -> Result<(), AppError> {
    let backend = app.state::<Arc<Backend>>().inner().clone();
    if let Some(name) = id.strip_prefix("connect:") {
        backend.connect(name).await
    } else if let Some(name) = id.strip_prefix("disconnect:") {
        backend.disconnect(name).await
    } else {
        match id {
            "demo" => {
                show_main(app);
                backend.start_demo().await
            }
            "open" => {
                show_main(app);
                Ok(())
            }
            "quit" => {
                backend.shutdown().await;
                app.exit(0);
                Ok(())
            }
            other => Err(AppError::new(format!("unknown tray action {other:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_usecases::views::{Origin, PeerView};

    fn conn(name: &str, state: StateKind, age: Option<f64>) -> ConnectionView {
        ConnectionView {
            name: name.into(),
            origin: Origin::Stored,
            state,
            mode: None,
            detail: None,
            peers: vec![PeerView {
                public_key: "k".into(),
                endpoint: None,
                handshake_age_secs: age,
                rx_bytes: 0.0,
                tx_bytes: 0.0,
            }],
            rx_bytes: 0.0,
            tx_bytes: 0.0,
            socks_proxy: None,
            http_proxy: None,
        }
    }

    #[test]
    fn the_tray_shows_the_most_alarming_state_and_handshake_age() {
        assert_eq!(overall(&[]), StateKind::Disconnected);
        let a = conn("home", StateKind::Connected, Some(3.0));
        let b = conn("work", StateKind::Stale, None);
        assert_eq!(overall(std::slice::from_ref(&a)), StateKind::Connected);
        assert_eq!(overall(&[a.clone(), b.clone()]), StateKind::Stale);
        let t = tooltip(&[a, b, conn("off", StateKind::Disconnected, None)]);
        assert_eq!(
            t,
            "Gatehouse: home: connected, handshake 3 s ago; work: stale"
        );
        assert_eq!(tooltip(&[]), "Gatehouse: disconnected");
    }
}
