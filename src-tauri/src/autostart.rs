//! Start at login (tauri-plugin-autostart: an XDG autostart `.desktop` file on Linux).

use gatehouse_usecases::AppError;

/// The name the start-at-login entry is written under (`gatehouse.desktop` on Linux).
pub const AUTOSTART_NAME: &str = "gatehouse";

/// Turns start at login on or off.
pub fn apply_autostart<R: tauri::Runtime>(
    app: &tauri::AppHandle<R>,
    on: bool,
) -> Result<(), AppError> {
    use tauri::Manager;
    use tauri_plugin_autostart::{AutoLaunchManager, ManagerExt};
    if app.try_state::<AutoLaunchManager>().is_none() {
        return Err(AppError::new("start at login is not available here"));
    }
    let manager = app.autolaunch();
    let result = if on {
        manager.enable()
    } else {
        manager.disable()
    };
    result.map_err(|e| {
        AppError::new(format!(
            "cannot turn start at login {}: {e}",
            if on { "on" } else { "off" }
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_usecases::settings::{Settings, SettingsStore, FILE_NAME};

    /// `set_settings(start_at_login)` writes and removes the XDG autostart entry through
    /// tauri-plugin-autostart (auto-launch writes under `$HOME/.config/autostart`, the XDG
    /// default; both are pointed at a temp dir here).
    #[test]
    fn start_at_login_creates_and_removes_the_autostart_entry() {
        let home = tempfile::tempdir().expect("tempdir");
        let config = home.path().join(".config");
        std::env::set_var("HOME", home.path());
        std::env::set_var("XDG_CONFIG_HOME", &config);
        let app = tauri::test::mock_builder()
            .plugin(
                tauri_plugin_autostart::Builder::new()
                    .app_name(AUTOSTART_NAME)
                    .build(),
            )
            .build(tauri::test::mock_context(tauri::test::noop_assets()))
            .expect("mock app");
        let options = gatehouse_usecases::BackendOptions {
            settings: SettingsStore::at(config.join("gatehouse").join(FILE_NAME)),
            socket: home.path().join("no-daemon.sock"),
        };
        let backend = gatehouse_usecases::Backend::new(options, |_| {});
        let entry = config
            .join("autostart")
            .join(format!("{AUTOSTART_NAME}.desktop"));
        assert!(!entry.exists());

        let on = Settings {
            start_at_login: true,
            ..Settings::default()
        };
        let saved = backend
            .set_settings(on, |v| apply_autostart(app.handle(), v))
            .expect("turn on");
        assert!(saved.start_at_login);
        let text = std::fs::read_to_string(&entry).expect("the autostart entry");
        assert!(
            text.contains("[Desktop Entry]") && text.contains("Exec="),
            "{text}"
        );
        assert_eq!(backend.settings(), on);

        backend
            .set_settings(Settings::default(), |v| apply_autostart(app.handle(), v))
            .expect("turn off");
        assert!(!entry.exists(), "the entry is removed");
        let store = SettingsStore::at(config.join("gatehouse").join(FILE_NAME));
        assert_eq!(store.load(), (Settings::default(), None));

        // A failure to apply changes nothing.
        let err = backend
            .set_settings(on, |_| Err(AppError::new("no autostart here")))
            .expect_err("refused");
        assert_eq!(err.message, "no autostart here");
        assert_eq!(backend.settings(), Settings::default());
        assert_eq!(store.load(), (Settings::default(), None));
    }
}
