//! The probing policy as a state machine over caller-given time: at most `concurrency` probes in
//! flight, at most `per_host_per_s` probe starts per second to one address (round robin across
//! addresses, so a slow host does not hold up the others), and a deadline per probe.
//!
//! ```text
//! loop {
//!     while let Some(start) = sched.poll_start(now) { spawn the probe until start.deadline }
//!     for id in sched.expired(now) { the probe ran out of time: record a timeout }
//!     wait for a probe to finish (sched.finish(id)) or until sched.next_wake(now)
//! }
//! ```

use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::targets::Target;

/// The limits of a scan.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Probes in flight at most (at least 1).
    pub concurrency: usize,
    /// Probe starts per second to one address (0: no limit).
    pub per_host_per_s: f64,
    /// How long one probe may take, connect and exchange together.
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            concurrency: 128,
            per_host_per_s: 20.0,
            timeout: Duration::from_millis(3000),
        }
    }
}

/// A probe to start now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Start {
    /// Its id (the index of the target in the list given to [`Scheduler::new`]).
    pub id: usize,
    /// What to probe.
    pub target: Target,
    /// When it must have finished.
    pub deadline: Instant,
}

struct HostQueue {
    pending: VecDeque<usize>,
    /// Earliest time of the next start to this address.
    next_at: Option<Instant>,
}

/// The scheduler (see the module docs).
pub struct Scheduler {
    targets: Vec<Target>,
    hosts: Vec<HostQueue>,
    /// Indexes into `hosts` that still have pending probes, in round-robin order.
    active: Vec<usize>,
    cursor: usize,
    in_flight: BTreeMap<usize, Instant>,
    interval: Option<Duration>,
    limits: Limits,
    finished: usize,
    peak: usize,
}

impl Scheduler {
    /// A scheduler for `targets` (probe ids are their indexes) under `limits`.
    pub fn new(targets: Vec<Target>, limits: Limits) -> Scheduler {
        let mut index: BTreeMap<IpAddr, usize> = BTreeMap::new();
        let mut hosts: Vec<HostQueue> = Vec::new();
        for (id, t) in targets.iter().enumerate() {
            let h = *index.entry(t.ip).or_insert_with(|| {
                hosts.push(HostQueue {
                    pending: VecDeque::new(),
                    next_at: None,
                });
                hosts.len() - 1
            });
            hosts[h].pending.push_back(id);
        }
        let interval = (limits.per_host_per_s > 0.0 && limits.per_host_per_s.is_finite())
            .then(|| Duration::from_secs_f64(1.0 / limits.per_host_per_s));
        Scheduler {
            active: (0..hosts.len()).collect(),
            hosts,
            targets,
            cursor: 0,
            in_flight: BTreeMap::new(),
            interval,
            limits: Limits {
                concurrency: limits.concurrency.max(1),
                ..limits
            },
            finished: 0,
            peak: 0,
        }
    }

    /// The next probe to start at `now`, if the limits allow one.
    pub fn poll_start(&mut self, now: Instant) -> Option<Start> {
        if self.in_flight.len() >= self.limits.concurrency || self.active.is_empty() {
            return None;
        }
        let n = self.active.len();
        for step in 0..n {
            let slot = (self.cursor + step) % n;
            let h = self.active[slot];
            let host = &mut self.hosts[h];
            if host.next_at.is_some_and(|t| t > now) {
                continue;
            }
            let id = host.pending.pop_front()?;
            host.next_at = self.interval.map(|i| now + i);
            if host.pending.is_empty() {
                self.active.remove(slot);
                self.cursor = if self.active.is_empty() {
                    0
                } else {
                    slot % self.active.len()
                };
            } else {
                self.cursor = (slot + 1) % n;
            }
            let deadline = now + self.limits.timeout;
            self.in_flight.insert(id, deadline);
            self.peak = self.peak.max(self.in_flight.len());
            return Some(Start {
                id,
                target: self.targets[id].clone(),
                deadline,
            });
        }
        None
    }

    /// Probe `id` finished (with any result). False if it was not in flight (already expired
    /// or never started).
    pub fn finish(&mut self, id: usize) -> bool {
        if self.in_flight.remove(&id).is_some() {
            self.finished += 1;
            true
        } else {
            false
        }
    }

    /// The probes in flight whose deadline passed at `now`; they count as finished.
    pub fn expired(&mut self, now: Instant) -> Vec<usize> {
        let ids: Vec<usize> = self
            .in_flight
            .iter()
            .filter(|(_, d)| **d <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in &ids {
            self.in_flight.remove(id);
            self.finished += 1;
        }
        ids
    }

    /// When something may change without a probe finishing: the earliest deadline in flight, or
    /// (with room to start) the earliest time a rate-limited address may be probed again.
    /// `None` when nothing is pending or in flight.
    pub fn next_wake(&self, now: Instant) -> Option<Instant> {
        let deadline = self.in_flight.values().min().copied();
        let start = if self.in_flight.len() < self.limits.concurrency {
            self.active
                .iter()
                .map(|&h| self.hosts[h].next_at.unwrap_or(now).max(now))
                .min()
        } else {
            None
        };
        match (deadline, start) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether every probe finished.
    pub fn is_done(&self) -> bool {
        self.finished == self.targets.len()
    }

    /// (finished, total).
    pub fn progress(&self) -> (usize, usize) {
        (self.finished, self.targets.len())
    }

    /// Probes in flight now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// The most probes that were in flight at once.
    pub fn peak_in_flight(&self) -> usize {
        self.peak
    }

    /// The target of probe `id`.
    pub fn target(&self, id: usize) -> Option<&Target> {
        self.targets.get(id)
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::targets::expand;

    fn targets(hosts: u8, ports: &[u16]) -> Vec<Target> {
        let hosts: Vec<(IpAddr, Option<String>)> = (1..=hosts)
            .map(|i| (IpAddr::from([10, 0, 0, i]), None))
            .collect();
        expand(&hosts, ports)
    }

    /// A fake run: probes that take `work(target)` to finish (or never, past their deadline).
    /// Returns (start times per id, peak in flight, end time).
    fn run(
        sched: &mut Scheduler,
        work: impl Fn(&Target) -> Option<Duration>,
    ) -> (BTreeMap<usize, (Instant, Target)>, usize, Instant) {
        let t0 = Instant::now();
        let mut now = t0;
        let mut running: Vec<(Instant, usize)> = Vec::new();
        let mut started = BTreeMap::new();
        let mut peak = 0;
        let mut steps = 0;
        while !sched.is_done() {
            steps += 1;
            assert!(steps < 1_000_000, "the scheduler made no progress");
            while let Some(s) = sched.poll_start(now) {
                assert!(s.deadline == now + sched.limits().timeout);
                if let Some(d) = work(&s.target) {
                    running.push((now + d, s.id));
                }
                started.insert(s.id, (now, s.target));
                peak = peak.max(sched.in_flight());
                assert!(sched.in_flight() <= sched.limits().concurrency);
            }
            for id in sched.expired(now) {
                running.retain(|(_, r)| *r != id);
            }
            running.sort();
            let next_done = running.first().map(|(t, _)| *t);
            let wake = [next_done, sched.next_wake(now)]
                .into_iter()
                .flatten()
                .min();
            let Some(wake) = wake else {
                break;
            };
            now = wake.max(now);
            while let Some(&(t, id)) = running.first() {
                if t > now {
                    break;
                }
                running.remove(0);
                assert!(sched.finish(id));
            }
        }
        (started, peak, now)
    }

    #[test]
    fn concurrency_is_never_exceeded_and_everything_runs_once() {
        let mut s = Scheduler::new(
            targets(50, &[22, 80, 443]),
            Limits {
                concurrency: 7,
                per_host_per_s: 0.0,
                timeout: Duration::from_secs(1),
            },
        );
        let (started, peak, _) = run(&mut s, |t| {
            Some(Duration::from_millis(10 + u64::from(t.port % 7)))
        });
        assert_eq!(started.len(), 150);
        assert_eq!(peak, 7);
        assert_eq!(s.peak_in_flight(), 7);
        assert_eq!(s.progress(), (150, 150));
        assert!(s.next_wake(Instant::now()).is_none());
    }

    #[test]
    fn per_host_rate_is_respected_and_hosts_interleave() {
        // 2 hosts x 10 ports at 5/s per host: each host's starts are >= 200 ms apart, and the two
        // hosts run side by side (about 1.8 s in all, not 3.8 s).
        let mut s = Scheduler::new(
            targets(2, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
            Limits {
                concurrency: 100,
                per_host_per_s: 5.0,
                timeout: Duration::from_secs(5),
            },
        );
        let t0 = Instant::now();
        let (started, _, end) = run(&mut s, |_| Some(Duration::from_millis(1)));
        for host in 1..=2u8 {
            let mut times: Vec<Instant> = started
                .values()
                .filter(|(_, t)| t.ip == IpAddr::from([10, 0, 0, host]))
                .map(|(at, _)| *at)
                .collect();
            times.sort();
            assert_eq!(times.len(), 10);
            for w in times.windows(2) {
                assert!(
                    w[1] - w[0] >= Duration::from_millis(200),
                    "{:?}",
                    w[1] - w[0]
                );
            }
        }
        let took = end - t0;
        assert!(took >= Duration::from_millis(1800), "{took:?}");
        assert!(took < Duration::from_millis(2500), "{took:?}");
    }

    #[test]
    fn probes_past_their_deadline_expire_and_free_their_slot() {
        // Port 9 never answers (a dropped SYN): each such probe expires after the timeout.
        let mut s = Scheduler::new(
            targets(4, &[9, 80]),
            Limits {
                concurrency: 2,
                per_host_per_s: 0.0,
                timeout: Duration::from_millis(500),
            },
        );
        let t0 = Instant::now();
        let mut expired = Vec::new();
        let mut now = t0;
        let mut running: Vec<(Instant, usize)> = Vec::new();
        while !s.is_done() {
            while let Some(st) = s.poll_start(now) {
                if st.target.port == 80 {
                    running.push((now + Duration::from_millis(10), st.id));
                }
            }
            expired.extend(s.expired(now));
            running.sort();
            let wake = [running.first().map(|r| r.0), s.next_wake(now)]
                .into_iter()
                .flatten()
                .min()
                .expect("something to wait for");
            now = wake;
            running.retain(|&(t, id)| {
                if t <= now {
                    assert!(s.finish(id));
                    false
                } else {
                    true
                }
            });
        }
        expired.sort();
        assert_eq!(expired, vec![0, 2, 4, 6]);
        // Finishing an expired probe is refused.
        assert!(!s.finish(0));
        // 4 timeouts of 500 ms two at a time, plus the quick ones: about 1 s.
        let took = now - t0;
        assert!(
            took >= Duration::from_millis(1000) && took < Duration::from_millis(1100),
            "{took:?}"
        );
    }

    #[test]
    fn empty_and_degenerate_limits() {
        let mut s = Scheduler::new(Vec::new(), Limits::default());
        assert!(s.is_done());
        assert!(s.poll_start(Instant::now()).is_none());
        assert!(s.next_wake(Instant::now()).is_none());
        // Concurrency 0 means 1; a NaN rate means no limit.
        let mut s = Scheduler::new(
            targets(1, &[1, 2]),
            Limits {
                concurrency: 0,
                per_host_per_s: f64::NAN,
                timeout: Duration::from_secs(1),
            },
        );
        let now = Instant::now();
        let a = s.poll_start(now).expect("one");
        assert!(s.poll_start(now).is_none());
        assert!(s.finish(a.id));
        assert!(s.poll_start(now).is_some());
    }
}
