//! The connection state machine of one profile: pure, driven with explicit time.
//!
//! ```text
//! Disconnected ─start─▶ Connecting ─handshake─▶ Connected ◀─handshake─┐
//!                            │                      │                  │
//!                            └── no reply/handshake ┴──▶ Stale ────────┘
//!                              (traffic sent, 180 s),    │ re-resolve + re-handshake,
//!                              suspend/resume,           │ with backoff 1 s, 2 s … 60 s
//!                              network change            ▼
//! any ─failure─▶ Error            any ─disconnect─▶ Disconnecting ─stopped─▶ Disconnected
//! ```
//!
//! "Connected" means a handshake is fresh; the machine never claims more than it knows.
//! Suspend is seen as a jump of the boot clock (which runs during suspend) against the
//! monotonic clock (which does not).

use std::time::{Duration, Instant};

use gatehouse_ipc::{ConnectionState, StaleReason};

/// Timing of a [`Machine`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MachineConfig {
    /// Traffic sent and neither a reply nor a handshake for this long (and no handshake for
    /// this long): Stale (180 s: REJECT_AFTER_TIME).
    pub stale_after: Duration,
    /// The boot clock running ahead of the monotonic clock by more than this between two
    /// ticks means the machine was suspended.
    pub suspend_threshold: Duration,
    /// First retry delay while Stale.
    pub backoff_initial: Duration,
    /// Longest retry delay while Stale.
    pub backoff_max: Duration,
}

impl Default for MachineConfig {
    fn default() -> Self {
        MachineConfig {
            stale_after: Duration::from_secs(180),
            suspend_threshold: Duration::from_secs(3),
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
        }
    }
}

/// What the machine is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// The tunnel was brought up (interface, routes, driver): now Connecting.
    Started,
    /// A handshake with a peer completed.
    Handshake,
    /// The cumulative count of packets the user sent into the tunnel (read from the TUN device), sampled now.
    Sent(u64),
    /// The cumulative bytes received from the peers (authenticated), sampled now: a reply
    /// proves the path works.
    Received(u64),
    /// A clock reading: the boot clock (`CLOCK_BOOTTIME`, runs during suspend) at the same
    /// moment as the monotonic `now` given with it.
    Clock {
        /// `CLOCK_BOOTTIME` since boot.
        boot: Duration,
    },
    /// A link or address changed on the host.
    NetworkChanged,
    /// Something failed for good.
    Failed(String),
    /// The user asked to disconnect.
    Disconnect,
    /// Everything is torn down.
    Stopped,
}

/// What the driver should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Resolve the peers' endpoint host names again and hand the addresses to the tunnel.
    ReResolve,
    /// Start a handshake now (e.g. by sending a packet into the tunnel).
    Rehandshake,
}

/// The state machine of one profile's connection.
#[derive(Debug, Clone)]
pub struct Machine {
    config: MachineConfig,
    state: ConnectionState,
    /// The last completed handshake, or when Connecting started.
    last_handshake: Option<Instant>,
    /// The first moment bytes were seen sent after the last handshake.
    unanswered_since: Option<Instant>,
    tx_bytes: u64,
    rx_bytes: u64,
    clock: Option<(Instant, Duration)>,
    backoff: Duration,
    next_retry: Option<Instant>,
}

impl Machine {
    /// A machine in Disconnected.
    pub fn new(config: MachineConfig) -> Machine {
        Machine {
            config,
            state: ConnectionState::Disconnected,
            last_handshake: None,
            unanswered_since: None,
            tx_bytes: 0,
            rx_bytes: 0,
            clock: None,
            backoff: config.backoff_initial,
            next_retry: None,
        }
    }

    /// The current state.
    pub fn state(&self) -> &ConnectionState {
        &self.state
    }

    /// Feeds one input at `now`. Returns the new state when it changed, and what to do.
    pub fn handle(&mut self, input: Input, now: Instant) -> (Option<ConnectionState>, Vec<Action>) {
        let before = self.state.clone();
        let mut actions = Vec::new();
        let live = matches!(
            self.state,
            ConnectionState::Connecting
                | ConnectionState::Connected
                | ConnectionState::Stale { .. }
        );
        match input {
            Input::Started => {
                if matches!(
                    self.state,
                    ConnectionState::Disconnected | ConnectionState::Error { .. }
                ) {
                    self.state = ConnectionState::Connecting;
                    self.last_handshake = None;
                    self.unanswered_since = None;
                    self.tx_bytes = 0;
                    self.rx_bytes = 0;
                    self.reset_backoff();
                    // Handshake at once rather than waiting for the first packet, and again
                    // with backoff until one completes.
                    actions.push(Action::Rehandshake);
                    self.next_retry = Some(now + self.backoff);
                }
            }
            Input::Handshake if live => {
                self.state = ConnectionState::Connected;
                self.last_handshake = Some(now);
                self.unanswered_since = None;
                self.reset_backoff();
            }
            Input::Handshake => {}
            Input::Sent(n) => {
                if n > self.tx_bytes && self.unanswered_since.is_none() {
                    self.unanswered_since = Some(now);
                }
                self.tx_bytes = n;
            }
            Input::Received(n) => {
                if n > self.rx_bytes {
                    self.unanswered_since = None;
                    // An authenticated reply after going Stale proves the path works again
                    // (a still-valid session does not need a new handshake to carry it).
                    if matches!(self.state, ConnectionState::Stale { .. }) && self.rx_bytes > 0 {
                        self.state = ConnectionState::Connected;
                        self.reset_backoff();
                    }
                }
                self.rx_bytes = n;
            }
            Input::Clock { boot } => {
                if let Some((mono0, boot0)) = self.clock {
                    let mono_delta = now.saturating_duration_since(mono0);
                    let boot_delta = boot.saturating_sub(boot0);
                    if live && boot_delta > mono_delta + self.config.suspend_threshold {
                        self.go_stale(StaleReason::Resumed, now, &mut actions);
                    }
                }
                self.clock = Some((now, boot));
            }
            Input::NetworkChanged if live => {
                self.go_stale(StaleReason::NetworkChanged, now, &mut actions);
            }
            Input::NetworkChanged => {}
            Input::Failed(message) => {
                if !matches!(
                    self.state,
                    ConnectionState::Disconnecting | ConnectionState::Disconnected
                ) {
                    self.state = ConnectionState::Error { message };
                }
                self.next_retry = None;
            }
            Input::Disconnect => {
                if !matches!(self.state, ConnectionState::Disconnected) {
                    self.state = ConnectionState::Disconnecting;
                }
                self.next_retry = None;
            }
            Input::Stopped => {
                if !matches!(self.state, ConnectionState::Error { .. }) {
                    self.state = ConnectionState::Disconnected;
                }
                self.next_retry = None;
            }
        }
        actions.extend(self.poll(now));
        let changed = (self.state != before).then(|| self.state.clone());
        (changed, actions)
    }

    /// Checks the timers at `now` (call at [`Machine::poll_timeout`] or any time).
    pub fn poll(&mut self, now: Instant) -> Vec<Action> {
        let mut actions = Vec::new();
        match self.state {
            ConnectionState::Connecting | ConnectionState::Connected => {
                if matches!(self.state, ConnectionState::Connecting)
                    && self.next_retry.is_some_and(|t| now >= t)
                {
                    actions.push(Action::Rehandshake);
                    self.backoff = (self.backoff * 2).min(self.config.backoff_max);
                    self.next_retry = Some(now + self.backoff);
                }
                if let Some(since) = self.unanswered_since {
                    // A handshake is due within stale_after of the traffic that wanted one, and
                    // (when connected) of the last handshake.
                    let reference = match self.last_handshake {
                        Some(h) => h.max(since),
                        None => since,
                    };
                    let handshake_old = self.last_handshake.is_none_or(|h| {
                        now.saturating_duration_since(h) >= self.config.stale_after
                    });
                    if handshake_old
                        && now.saturating_duration_since(reference) >= self.config.stale_after
                    {
                        self.go_stale(StaleReason::NoHandshake, now, &mut actions);
                    }
                }
            }
            ConnectionState::Stale { .. } if self.next_retry.is_some_and(|t| now >= t) => {
                actions.push(Action::ReResolve);
                actions.push(Action::Rehandshake);
                self.backoff = (self.backoff * 2).min(self.config.backoff_max);
                self.next_retry = Some(now + self.backoff);
            }
            _ => {}
        }
        actions
    }

    /// When [`Machine::poll`] may next have something to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            ConnectionState::Connecting | ConnectionState::Connected => {
                let stale = self.unanswered_since.map(|since| {
                    let reference = match self.last_handshake {
                        Some(h) => h.max(since),
                        None => since,
                    };
                    reference + self.config.stale_after
                });
                let retry = if matches!(self.state, ConnectionState::Connecting) {
                    self.next_retry
                } else {
                    None
                };
                match (stale, retry) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            }
            ConnectionState::Stale { .. } => self.next_retry,
            _ => None,
        }
    }

    fn reset_backoff(&mut self) {
        self.backoff = self.config.backoff_initial;
        self.next_retry = None;
    }

    fn go_stale(&mut self, reason: StaleReason, now: Instant, actions: &mut Vec<Action>) {
        if matches!(self.state, ConnectionState::Stale { .. }) {
            return;
        }
        self.state = ConnectionState::Stale { reason };
        self.unanswered_since = None;
        self.reset_backoff();
        actions.push(Action::ReResolve);
        actions.push(Action::Rehandshake);
        self.next_retry = Some(now + self.backoff);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    fn started(t0: Instant) -> Machine {
        let mut m = Machine::new(MachineConfig::default());
        let (c, a) = m.handle(Input::Started, t0);
        assert_eq!(c, Some(ConnectionState::Connecting));
        assert_eq!(a, vec![Action::Rehandshake]);
        m
    }

    #[test]
    fn connecting_retries_the_handshake_with_backoff() {
        let t0 = Instant::now();
        let mut m = started(t0);
        assert_eq!(m.poll_timeout(), Some(t0 + S(1)));
        assert!(m.poll(t0 + Duration::from_millis(999)).is_empty());
        assert_eq!(m.poll(t0 + S(1)), vec![Action::Rehandshake]);
        assert_eq!(m.poll_timeout(), Some(t0 + S(3)));
        assert_eq!(m.poll(t0 + S(3)), vec![Action::Rehandshake]);
        m.handle(Input::Handshake, t0 + S(4));
        assert_eq!(m.poll_timeout(), None);
        assert!(m.poll(t0 + S(100)).is_empty());
    }

    #[test]
    fn connects_on_the_first_handshake() {
        let t0 = Instant::now();
        let mut m = started(t0);
        let (c, a) = m.handle(Input::Handshake, t0 + S(1));
        assert_eq!(c, Some(ConnectionState::Connected));
        assert!(a.is_empty());
        // A rekey is no change.
        let (c, _) = m.handle(Input::Handshake, t0 + S(121));
        assert_eq!(c, None);
    }

    #[test]
    fn idle_connection_stays_connected() {
        let t0 = Instant::now();
        let mut m = started(t0);
        m.handle(Input::Handshake, t0);
        assert!(m.poll(t0 + S(3600)).is_empty());
        assert_eq!(m.state(), &ConnectionState::Connected);
        assert_eq!(m.poll_timeout(), None);
    }

    #[test]
    fn traffic_without_handshake_for_180_s_is_stale_then_recovers() {
        let t0 = Instant::now();
        let mut m = started(t0);
        m.handle(Input::Handshake, t0);
        m.handle(Input::Sent(100), t0 + S(10));
        // Handshake 179 s old: still connected.
        assert!(m.poll(t0 + S(179)).is_empty());
        assert_eq!(m.state(), &ConnectionState::Connected);
        // Traffic at 10 s wants a handshake by 190 s.
        assert_eq!(m.poll_timeout(), Some(t0 + S(190)));
        assert!(m.poll(t0 + S(189)).is_empty());
        let a = m.poll(t0 + S(190));
        assert_eq!(a, vec![Action::ReResolve, Action::Rehandshake]);
        assert_eq!(
            m.state(),
            &ConnectionState::Stale {
                reason: StaleReason::NoHandshake
            }
        );
        // Retries back off: 1 s, 2 s, 4 s …
        let mut t = t0 + S(190);
        let mut gaps = Vec::new();
        for _ in 0..4 {
            let next = m.poll_timeout().unwrap_or(t);
            gaps.push(next.duration_since(t).as_secs());
            assert!(m.poll(next - Duration::from_millis(1)).is_empty());
            assert_eq!(m.poll(next), vec![Action::ReResolve, Action::Rehandshake]);
            t = next;
        }
        assert_eq!(gaps, vec![1, 2, 4, 8]);
        // The gateway answers again: Connected with no user action, backoff reset.
        let (c, _) = m.handle(Input::Handshake, t + S(1));
        assert_eq!(c, Some(ConnectionState::Connected));
        assert_eq!(m.poll_timeout(), None);
    }

    #[test]
    fn backoff_is_capped() {
        let t0 = Instant::now();
        let mut m = started(t0);
        m.handle(Input::NetworkChanged, t0);
        let mut t = t0;
        for _ in 0..20 {
            t = m.poll_timeout().unwrap_or(t);
            m.poll(t);
        }
        let gap = m.poll_timeout().map(|n| n.duration_since(t));
        assert_eq!(gap, Some(S(60)));
    }

    #[test]
    fn replies_keep_a_busy_connection_fresh() {
        let t0 = Instant::now();
        let mut m = started(t0);
        m.handle(Input::Handshake, t0);
        for i in 1..=100u64 {
            m.handle(Input::Sent(i), t0 + S(10 * i));
            m.handle(Input::Received(i), t0 + S(10 * i));
        }
        assert_eq!(m.state(), &ConnectionState::Connected);
        // The peer goes silent while we keep sending.
        m.handle(Input::Sent(101), t0 + S(1010));
        m.poll(t0 + S(1189));
        assert_eq!(m.state(), &ConnectionState::Connected);
        m.poll(t0 + S(1190));
        assert!(matches!(m.state(), ConnectionState::Stale { .. }));
        // The peer answers again with the old session: Connected, no handshake needed.
        let (c, _) = m.handle(Input::Received(101), t0 + S(1195));
        assert_eq!(c, Some(ConnectionState::Connected));
    }

    #[test]
    fn connecting_without_answer_goes_stale() {
        let t0 = Instant::now();
        let mut m = started(t0);
        m.handle(Input::Sent(148), t0);
        m.poll(t0 + S(179));
        assert_eq!(m.state(), &ConnectionState::Connecting);
        assert!(m.poll(t0 + S(180)).contains(&Action::ReResolve));
        assert!(matches!(m.state(), ConnectionState::Stale { .. }));
    }

    #[test]
    fn suspend_is_a_boot_clock_jump() {
        let t0 = Instant::now();
        let mut m = started(t0);
        m.handle(Input::Handshake, t0);
        m.handle(Input::Clock { boot: S(1000) }, t0);
        // Normal tick: both clocks advance by 1 s.
        let (c, _) = m.handle(Input::Clock { boot: S(1001) }, t0 + S(1));
        assert_eq!(c, None);
        // Resume after one hour asleep: boot clock +3601 s, monotonic +1 s.
        let (c, a) = m.handle(Input::Clock { boot: S(4602) }, t0 + S(2));
        assert_eq!(
            c,
            Some(ConnectionState::Stale {
                reason: StaleReason::Resumed
            })
        );
        assert_eq!(a, vec![Action::ReResolve, Action::Rehandshake]);
    }

    #[test]
    fn network_change_makes_stale_only_while_live() {
        let t0 = Instant::now();
        let mut m = Machine::new(MachineConfig::default());
        let (c, _) = m.handle(Input::NetworkChanged, t0);
        assert_eq!(c, None);
        m.handle(Input::Started, t0);
        m.handle(Input::Handshake, t0);
        let (c, _) = m.handle(Input::NetworkChanged, t0 + S(5));
        assert_eq!(
            c,
            Some(ConnectionState::Stale {
                reason: StaleReason::NetworkChanged
            })
        );
        // A second change while stale changes nothing.
        let (c, a) = m.handle(Input::NetworkChanged, t0 + S(5));
        assert_eq!(c, None);
        assert!(a.is_empty());
    }

    #[test]
    fn failure_disconnect_and_stop() {
        let t0 = Instant::now();
        let mut m = started(t0);
        let (c, _) = m.handle(Input::Failed("tun gone".into()), t0);
        assert_eq!(
            c,
            Some(ConnectionState::Error {
                message: "tun gone".into()
            })
        );
        // Stopping after an error keeps the error visible.
        let (c, _) = m.handle(Input::Stopped, t0);
        assert_eq!(c, None);
        // A fresh start from Error.
        let (c, _) = m.handle(Input::Started, t0);
        assert_eq!(c, Some(ConnectionState::Connecting));
        let (c, _) = m.handle(Input::Disconnect, t0);
        assert_eq!(c, Some(ConnectionState::Disconnecting));
        // Handshakes during teardown do not resurrect it.
        let (c, _) = m.handle(Input::Handshake, t0);
        assert_eq!(c, None);
        let (c, _) = m.handle(Input::Stopped, t0);
        assert_eq!(c, Some(ConnectionState::Disconnected));
    }
}
