//! A 200 MB state streams through the importer in bounded memory, and cut or corrupted versions of
//! it fail cleanly with a position. Its own test binary, so the peak memory it reads is its own.

use gatehouse_vpc::synth::{Shape, StateReader};
use gatehouse_vpc::tfstate::{import_reader, ImportError};

/// Peak resident memory of this process so far, in KiB (Linux).
fn peak_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

const BIG: Shape = Shape {
    instances: 2000,
    per_vpc: 1000,
    subnets_per_vpc: 4,
    padding: 100 * 1024,
    truncate_at: None,
    databases: 0,
};

#[test]
fn two_hundred_megabytes_stream_in_bounded_memory() {
    let before = peak_kib();
    let mut counted = CountingReader {
        inner: StateReader::new(BIG),
        bytes: 0,
    };
    let (t, r) = import_reader(std::io::BufReader::new(&mut counted), "big.tfstate").unwrap();
    assert!(counted.bytes > 200_000_000, "only {} bytes", counted.bytes);
    assert_eq!(t.hosts.len(), 2000);
    assert_eq!(r.imported.get("aws_instance"), Some(&2000));
    if let (Some(b), Some(a)) = (before, peak_kib()) {
        let grew_mib = a.saturating_sub(b) / 1024;
        assert!(
            grew_mib < 64,
            "peak memory grew by {grew_mib} MiB for a 200 MB input"
        );
    }

    // Cut in the middle of an instance's attributes.
    let cut = Shape {
        truncate_at: Some(30_000_000),
        ..BIG
    };
    match import_reader(
        std::io::BufReader::new(StateReader::new(cut)),
        "cut.tfstate",
    ) {
        Err(ImportError::Parse { line, message, .. }) => {
            assert!(line > 1);
            assert!(message.contains("truncated"), "{message}");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn corrupt_big_input_names_the_position() {
    let mut reader = Corrupt {
        inner: StateReader::new(BIG),
        at: 20_000_003,
        seen: 0,
    };
    let e = import_reader(std::io::BufReader::new(&mut reader), "corrupt.tfstate").unwrap_err();
    match e {
        ImportError::Parse {
            path, line, column, ..
        } => {
            assert_eq!(path, "corrupt.tfstate");
            assert!(line > 1 && column >= 1);
        }
        other => panic!("unexpected {other}"),
    }
}

struct CountingReader {
    inner: StateReader,
    bytes: usize,
}

impl std::io::Read for CountingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes += n;
        Ok(n)
    }
}

/// Replaces the byte at `at` with a NUL (a control character JSON does not allow anywhere).
struct Corrupt {
    inner: StateReader,
    at: usize,
    seen: usize,
}

impl std::io::Read for Corrupt {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if self.seen <= self.at && self.at < self.seen + n {
            buf[self.at - self.seen] = 0;
        }
        self.seen += n;
        Ok(n)
    }
}
