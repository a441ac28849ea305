//! Fan-out of events to subscribers, each with its own sequence numbers and a bounded queue.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use gatehouse_ipc::{Event, EventFrame};
use tokio::sync::mpsc;

struct Sub {
    seq: u64,
    tx: mpsc::Sender<EventFrame>,
    overflowed: Arc<AtomicBool>,
}

/// Publishes events to every subscriber. A subscriber whose queue is full is dropped (its
/// stream ends and [`Subscription::overflowed`] says why): a slow reader never holds anyone
/// back, and never silently misses an event.
#[derive(Default)]
pub struct Hub {
    subs: Mutex<Vec<Sub>>,
}

/// The receiving end of one subscription.
#[derive(Debug)]
pub struct Subscription {
    rx: mpsc::Receiver<EventFrame>,
    overflowed: Arc<AtomicBool>,
}

impl Subscription {
    /// The next event; `None` when the stream ended (see [`Subscription::overflowed`]).
    pub async fn recv(&mut self) -> Option<EventFrame> {
        self.rx.recv().await
    }

    /// True when the stream was ended because the subscriber fell `capacity` events behind.
    pub fn overflowed(&self) -> bool {
        self.overflowed.load(Ordering::Relaxed)
    }
}

impl Hub {
    /// A new subscription holding at most `capacity` unread events.
    pub fn subscribe(&self, capacity: usize) -> Subscription {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let overflowed = Arc::new(AtomicBool::new(false));
        let sub = Sub {
            seq: 0,
            tx,
            overflowed: Arc::clone(&overflowed),
        };
        if let Ok(mut subs) = self.subs.lock() {
            subs.push(sub);
        }
        Subscription { rx, overflowed }
    }

    /// Sends `event` to every subscriber, in the same order for all.
    pub fn publish(&self, event: Event) {
        let Ok(mut subs) = self.subs.lock() else {
            return;
        };
        subs.retain_mut(|s| {
            s.seq += 1;
            match s.tx.try_send(EventFrame {
                seq: s.seq,
                event: event.clone(),
            }) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    s.overflowed.store(true, Ordering::Relaxed);
                    false
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            }
        });
    }

    /// Subscribers currently attached.
    pub fn subscribers(&self) -> usize {
        self.subs.lock().map(|s| s.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_ipc::LogLevel;

    fn log(i: usize) -> Event {
        Event::Log {
            name: None,
            level: LogLevel::Info,
            message: format!("{i}"),
        }
    }

    #[test]
    fn each_subscriber_counts_from_one_and_slow_ones_are_dropped() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        rt.block_on(async {
            let hub = Hub::default();
            let mut fast = hub.subscribe(100);
            hub.publish(log(0));
            let mut late = hub.subscribe(3);
            for i in 1..=5 {
                hub.publish(log(i));
            }
            let mut seqs = Vec::new();
            while let Ok(f) = fast.rx.try_recv() {
                seqs.push(f.seq);
            }
            assert_eq!(seqs, vec![1, 2, 3, 4, 5, 6]);
            // `late` joined after event 0, holds 3, overflowed on the 4th.
            let mut got = Vec::new();
            while let Some(f) = late.recv().await {
                got.push(f.seq);
            }
            assert_eq!(got, vec![1, 2, 3]);
            assert!(late.overflowed());
            assert!(!fast.overflowed());
            assert_eq!(hub.subscribers(), 1);
            drop(fast);
            hub.publish(log(9));
            assert_eq!(hub.subscribers(), 0);
        });
    }
}
