//! Import and layout benchmark on generated AWS states.
//!
//! `cargo run --release -p gatehouse-vpc --example bench -- [SIZES…]` (default 1000 10000
//! 100000). For each size it writes a state file with that many `aws_instance` resources (1000
//! per VPC, 4 subnets each, the attributes a real instance carries), then imports and lays it
//! out in a child process of its own, so the peak memory (VmHWM) is that size's alone. It prints
//! one row per size and the growth ratio between consecutive sizes: linear growth reads as a
//! ratio close to the size ratio. Times are the best of several runs, as wall clock and as
//! on-CPU time (`CLOCK_PROCESS_CPUTIME_ID`, which a busy machine's waiting does not inflate); files
//! up to `IN_MEMORY_LIMIT` are parsed from memory, so "stream cpu" (the same file through the
//! streaming reader) is the column that compares across every size. "+db cpu" is the streaming
//! import of the same state with one RDS database (in a DB subnet group, with its security
//! group) per ten instances on top — 1k databases at 10k instances — as on-CPU time.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use gatehouse_vpc::synth::{Shape, StateReader};

fn peak_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// On-CPU time of this process in ms (`CLOCK_PROCESS_CPUTIME_ID`), which a busy machine's
/// waiting does not inflate.
fn cpu_ms() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the call has no other preconditions.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0.0;
    }
    ts.tv_sec as f64 * 1e3 + ts.tv_nsec as f64 / 1e6
}

/// Child: import and lay out one file, print `n bytes import_ms layout_ms peak_kib base_kib
/// cpu_import cpu_layout cpu_stream cpu_db`; the last one from `db_path`, the state with
/// databases.
fn child(n: usize, path: &Path, db_path: &Path) -> Result<(), String> {
    let bytes = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
    let base = peak_kib();
    let runs = if n <= 10_000 { 5 } else { 2 };
    let (mut best_import, mut best_layout) = (f64::MAX, f64::MAX);
    let (mut cpu_import, mut cpu_layout, mut cpu_stream) = (f64::MAX, f64::MAX, f64::MAX);
    let mut cpu_db = f64::MAX;
    for _ in 0..runs {
        let c0 = cpu_ms();
        let t0 = Instant::now();
        let (topo, report) =
            gatehouse_vpc::tfstate::import_file(path).map_err(|e| e.to_string())?;
        let t1 = Instant::now();
        let c1 = cpu_ms();
        let layout = gatehouse_vpc::layout::layout_ref(&topo);
        let t2 = Instant::now();
        let c2 = cpu_ms();
        cpu_import = cpu_import.min(c1 - c0);
        cpu_layout = cpu_layout.min(c2 - c1);
        if topo.hosts.len() != n || report.imported.get("aws_instance") != Some(&n) {
            return Err(format!("imported {} hosts, expected {n}", topo.hosts.len()));
        }
        if layout.nodes.len() < n {
            return Err("layout lost hosts".into());
        }
        // The same file through the streaming reader (what files over the in-memory limit use).
        let c3 = cpu_ms();
        let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
        let streamed = gatehouse_vpc::tfstate::import_reader(
            std::io::BufReader::with_capacity(256 * 1024, file),
            "bench",
        )
        .map_err(|e| e.to_string())?;
        cpu_stream = cpu_stream.min(cpu_ms() - c3);
        if streamed.0.hosts.len() != n {
            return Err("streaming import lost hosts".into());
        }
        let c4 = cpu_ms();
        let file = std::fs::File::open(db_path).map_err(|e| e.to_string())?;
        let (with_dbs, _) = gatehouse_vpc::tfstate::import_reader(
            std::io::BufReader::with_capacity(256 * 1024, file),
            "bench",
        )
        .map_err(|e| e.to_string())?;
        cpu_db = cpu_db.min(cpu_ms() - c4);
        let services = with_dbs.counts().services;
        if services != n / 10 || with_dbs.hosts.len() != n + n / 10 {
            return Err(format!(
                "the state with {} databases imported {services} of them",
                n / 10
            ));
        }
        best_import = best_import.min((t1 - t0).as_secs_f64() * 1e3);
        best_layout = best_layout.min((t2 - t1).as_secs_f64() * 1e3);
    }
    println!(
        "{n} {bytes} {best_import:.2} {best_layout:.2} {} {base} {cpu_import:.2} {cpu_layout:.2} {cpu_stream:.2} {cpu_db:.2}",
        peak_kib()
    );
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let path = args.get(2).map(Path::new).unwrap_or(Path::new(""));
        let db_path = args.get(3).map(Path::new).unwrap_or(Path::new(""));
        if let Err(e) = child(n, path, db_path) {
            eprintln!("bench child: {e}");
            std::process::exit(1);
        }
        return;
    }
    let sizes: Vec<usize> = if args.is_empty() {
        vec![1_000, 10_000, 100_000]
    } else {
        args.iter().filter_map(|s| s.parse().ok()).collect()
    };
    let dir = std::env::temp_dir().join(format!("gatehouse-vpc-bench-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("cannot create {}: {e}", dir.display());
        std::process::exit(1);
    }
    let exe = std::env::current_exe().unwrap_or_default();
    println!(
        "{:>8} {:>10} {:>11} {:>11} {:>11} {:>11} {:>11} {:>11} {:>10} {:>9}",
        "hosts",
        "state MB",
        "import ms",
        "layout ms",
        "import cpu",
        "stream cpu",
        "+db cpu",
        "layout cpu",
        "peak MiB",
        "MB/s"
    );
    type Row = (usize, f64, f64, f64, f64, f64, f64, f64);
    let mut rows: Vec<Row> = Vec::new();
    for &n in &sizes {
        let path = dir.join(format!("state-{n}.tfstate"));
        let db_path = dir.join(format!("state-{n}-db.tfstate"));
        for (p, shape) in [
            (&path, Shape::instances(n)),
            (&db_path, Shape::instances(n).with_databases(n / 10)),
        ] {
            let written = std::fs::File::create(p).and_then(|f| {
                let mut w = std::io::BufWriter::new(f);
                std::io::copy(&mut StateReader::new(shape), &mut w)?;
                w.flush()
            });
            if let Err(e) = written {
                eprintln!("cannot write {}: {e}", p.display());
                std::process::exit(1);
            }
        }
        let out = std::process::Command::new(&exe)
            .arg("--child")
            .arg(n.to_string())
            .arg(&path)
            .arg(&db_path)
            .output();
        let _ = std::fs::remove_file(&path);
        let _ = std::fs::remove_file(&db_path);
        let out = match out {
            Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
            Ok(o) => {
                eprintln!("size {n}: {}", String::from_utf8_lossy(&o.stderr));
                std::process::exit(1);
            }
            Err(e) => {
                eprintln!("size {n}: {e}");
                std::process::exit(1);
            }
        };
        let f: Vec<f64> = out
            .split_whitespace()
            .filter_map(|s| s.parse().ok())
            .collect();
        if f.len() < 10 {
            eprintln!("size {n}: unexpected output {out:?}");
            std::process::exit(1);
        }
        let (bytes, import_ms, layout_ms, peak_kib) = (f[1], f[2], f[3], f[4]);
        let (cpu_import, cpu_layout, cpu_stream, cpu_db) = (f[6], f[7], f[8], f[9]);
        println!(
            "{n:>8} {:>10.1} {import_ms:>11.2} {layout_ms:>11.2} {cpu_import:>11.2} {cpu_stream:>11.2} {cpu_db:>11.2} {cpu_layout:>11.2} {:>10.1} {:>9.0}",
            bytes / 1e6,
            peak_kib / 1024.0,
            bytes / 1e6 / (import_ms / 1e3)
        );
        rows.push((
            n, import_ms, layout_ms, peak_kib, cpu_import, cpu_layout, cpu_stream, cpu_db,
        ));
    }
    let _ = std::fs::remove_dir(&dir);
    for w in rows.windows(2) {
        let (a, b) = (w[0], w[1]);
        println!(
            "growth {}→{} (×{:.0}): import ×{:.1} (cpu ×{:.1}, streaming cpu ×{:.1}, with databases ×{:.1}), layout ×{:.1} (cpu ×{:.1}), peak memory ×{:.1}",
            a.0,
            b.0,
            b.0 as f64 / a.0 as f64,
            b.1 / a.1,
            b.4 / a.4,
            b.6 / a.6,
            b.7 / a.7,
            b.2 / a.2,
            b.5 / a.5,
            b.3 / a.3
        );
    }
    for r in &rows {
        if r.0 == 10_000 {
            println!(
                "targets at 10k: import {:.1} ms (< 300: {}), layout {:.1} ms (< 50: {})",
                r.1,
                if r.1 < 300.0 { "met" } else { "MISSED" },
                r.2,
                if r.2 < 50.0 { "met" } else { "MISSED" }
            );
        }
    }
}
