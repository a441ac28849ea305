//! Grouping outgoing datagrams into GSO sends.
//!
//! Encrypted datagrams are written back to back into one buffer. Consecutive datagrams to the
//! same destination with the same length (the last of a group may be shorter) form a [`Run`]
//! that the kernel splits again (UDP GSO): one `sendmsg` for up to 64 datagrams.

use std::net::SocketAddr;

/// Most payload bytes one GSO send may carry (an IP packet's 64 KiB less headers).
pub(crate) const MAX_GSO_BYTES: usize = 65_000;

/// Datagrams `buf[start..end]` to `dst`, each `segment` bytes except possibly the last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Run {
    /// Destination of every datagram of the run.
    pub dst: SocketAddr,
    /// First byte in the buffer.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
    /// Length of every datagram but the last.
    pub segment: usize,
    /// A shorter datagram ended the run.
    closed: bool,
}

impl Run {
    /// Number of datagrams in the run.
    pub fn count(&self) -> usize {
        (self.end - self.start).div_ceil(self.segment.max(1))
    }
}

/// Collects [`Run`]s as datagrams are appended to a buffer.
#[derive(Debug)]
pub(crate) struct Batcher {
    runs: Vec<Run>,
    max_segments: usize,
}

impl Batcher {
    /// A batcher for a socket that takes up to `max_segments` per send (1: no GSO).
    pub fn new(max_segments: usize) -> Self {
        Batcher {
            runs: Vec::with_capacity(64),
            max_segments: max_segments.max(1),
        }
    }

    /// Records the datagram `buf[start..start + len]` to `dst`.
    pub fn push(&mut self, dst: SocketAddr, start: usize, len: usize) {
        if len == 0 {
            return;
        }
        if let Some(last) = self.runs.last_mut() {
            let fits = last.dst == dst
                && last.end == start
                && !last.closed
                && len <= last.segment
                && last.count() < self.max_segments
                && last.end - last.start + len <= MAX_GSO_BYTES;
            if fits {
                last.end += len;
                last.closed = len < last.segment;
                return;
            }
        }
        self.runs.push(Run {
            dst,
            start,
            end: start + len,
            segment: len,
            closed: false,
        });
    }

    /// The runs so far, in order.
    pub fn runs(&self) -> &[Run] {
        &self.runs
    }

    /// Forgets all runs (the buffer is being reused).
    pub fn clear(&mut self) {
        self.runs.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([192, 0, 2, 1], port))
    }

    #[test]
    fn same_destination_and_size_merge_until_a_short_one() {
        let mut b = Batcher::new(64);
        b.push(addr(1), 0, 100);
        b.push(addr(1), 100, 100);
        b.push(addr(1), 200, 60);
        b.push(addr(1), 260, 100);
        let runs = b.runs();
        assert_eq!(runs.len(), 2);
        assert_eq!((runs[0].start, runs[0].end, runs[0].segment), (0, 260, 100));
        assert_eq!(runs[0].count(), 3);
        assert_eq!((runs[1].start, runs[1].end), (260, 360));
    }

    #[test]
    fn destination_change_larger_datagram_or_gap_split() {
        let mut b = Batcher::new(64);
        b.push(addr(1), 0, 100);
        b.push(addr(2), 100, 100);
        b.push(addr(2), 200, 120);
        b.push(addr(2), 400, 120);
        assert_eq!(b.runs().len(), 4);
        b.clear();
        assert!(b.runs().is_empty());
    }

    #[test]
    fn segment_and_byte_limits() {
        let mut b = Batcher::new(3);
        for i in 0..7 {
            b.push(addr(1), i * 10, 10);
        }
        let counts: Vec<usize> = b.runs().iter().map(Run::count).collect();
        assert_eq!(counts, vec![3, 3, 1]);

        let mut b = Batcher::new(64);
        let mut at = 0;
        for _ in 0..60 {
            b.push(addr(1), at, 1452);
            at += 1452;
        }
        assert!(b.runs().iter().all(|r| r.end - r.start <= MAX_GSO_BYTES));
        assert_eq!(b.runs().iter().map(Run::count).sum::<usize>(), 60);
        assert_eq!(b.runs()[0].count(), MAX_GSO_BYTES / 1452);
    }

    #[test]
    fn no_gso_means_one_datagram_per_run_and_empty_is_ignored() {
        let mut b = Batcher::new(1);
        b.push(addr(1), 0, 10);
        b.push(addr(1), 10, 0);
        b.push(addr(1), 10, 10);
        assert_eq!(b.runs().len(), 2);
        assert!(b.runs().iter().all(|r| r.count() == 1));
    }
}
