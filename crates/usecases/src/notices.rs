//! What the front ends must hear about (the connections, log lines, desktop notifications),
//! and which changes deserve a desktop notification.

use std::sync::Arc;

use crate::views::{ConnectionView, LogLine, StateKind};

/// Something the UI, the tray or the desktop must hear about.
#[derive(Debug, Clone)]
pub enum Notice {
    /// The connections (state or counters) changed.
    Connections(Vec<ConnectionView>),
    /// A log line.
    Log(LogLine),
    /// A desktop notification (only sent when the settings allow them).
    Alert {
        /// The title.
        title: String,
        /// The text.
        body: String,
    },
}

/// Where notices go (the front end's handler).
pub type Notifier = Arc<dyn Fn(Notice) + Send + Sync>;

/// The desktop notifications a change from `prev` to `next` deserves: connected, disconnected,
/// failed.
pub fn alerts(prev: &[ConnectionView], next: &[ConnectionView]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for v in next {
        let before = prev
            .iter()
            .find(|p| p.name == v.name)
            .map_or(StateKind::Disconnected, |p| p.state);
        match v.state {
            StateKind::Connected if !matches!(before, StateKind::Connected | StateKind::Stale) => {
                out.push(("Connected".to_owned(), format!("{} is connected.", v.name)))
            }
            StateKind::Error if before != StateKind::Error => out.push((
                "Connection failed".to_owned(),
                format!(
                    "{}: {}",
                    v.name,
                    v.detail.as_deref().unwrap_or("the connection failed")
                ),
            )),
            StateKind::Disconnected if before.is_live() => out.push((
                "Disconnected".to_owned(),
                format!("{} is disconnected.", v.name),
            )),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::views::Origin;

    fn conn(name: &str, state: StateKind) -> ConnectionView {
        ConnectionView {
            name: name.into(),
            origin: Origin::Stored,
            state,
            mode: None,
            detail: Some("handshake timed out".into()),
            peers: Vec::new(),
            rx_bytes: 0.0,
            tx_bytes: 0.0,
            socks_proxy: None,
            http_proxy: None,
        }
    }

    #[test]
    fn notifications_on_connect_disconnect_and_failure_only() {
        use StateKind::*;
        let none: Vec<(String, String)> = Vec::new();
        let a = |p: &[(&str, StateKind)], n: &[(&str, StateKind)]| {
            let p: Vec<_> = p.iter().map(|(n, s)| conn(n, *s)).collect();
            let n: Vec<_> = n.iter().map(|(n, s)| conn(n, *s)).collect();
            alerts(&p, &n)
        };
        assert_eq!(a(&[("home", Disconnected)], &[("home", Connecting)]), none);
        assert_eq!(
            a(&[("home", Connecting)], &[("home", Connected)]),
            vec![("Connected".to_owned(), "home is connected.".to_owned())]
        );
        // Stale → Connected again is not news; Connected → Stale neither.
        assert_eq!(a(&[("home", Stale)], &[("home", Connected)]), none);
        assert_eq!(a(&[("home", Connected)], &[("home", Stale)]), none);
        assert_eq!(
            a(&[("home", Connected)], &[("home", Disconnected)]),
            vec![(
                "Disconnected".to_owned(),
                "home is disconnected.".to_owned()
            )]
        );
        assert_eq!(
            a(&[("home", Connecting)], &[("home", Error)]),
            vec![(
                "Connection failed".to_owned(),
                "home: handshake timed out".to_owned()
            )]
        );
        // A profile seen for the first time counts as coming from Disconnected.
        assert_eq!(a(&[], &[("work", Connected)]).len(), 1);
        assert_eq!(a(&[], &[("work", Disconnected)]), none);
    }
}
