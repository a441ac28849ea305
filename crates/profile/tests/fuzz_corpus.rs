//! Replays the committed fuzz corpus (`fuzz/corpus/parse`) and any regression inputs
//! (`fuzz/artifacts/parse`) on stable Rust, with the fuzz target's checks: `parse_bytes` never
//! panics, errors point inside the input, and what parses survives write → parse unchanged.

use gatehouse_profile::parse::parse_bytes;
use gatehouse_profile::write::write;
use std::path::Path;

fn replay(data: &[u8], name: &str) {
    match parse_bytes(data, "fuzz.conf") {
        Ok(config) => {
            let text = write(&config);
            let back = parse_bytes(text.as_bytes(), "written.conf")
                .unwrap_or_else(|e| panic!("{name}: written text does not parse: {e}\n{text}"));
            assert_eq!(back, config, "{name}: write → parse changed the config");
            assert_eq!(write(&back), text, "{name}: write is not a fixed point");
        }
        Err(e) => {
            let lines = data.split(|&b| b == b'\n').count();
            assert!(e.line >= 1 && e.line <= lines, "{name}: line {}", e.line);
            assert!(e.col >= 1, "{name}: col {}", e.col);
            assert!(e.to_string().starts_with("fuzz.conf:"), "{name}");
        }
    }
}

fn replay_dir(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut n = 0;
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_file() {
            let data = std::fs::read(&path).expect("read a corpus file");
            replay(&data, &path.display().to_string());
            n += 1;
        }
    }
    n
}

#[test]
fn fuzz_corpus_replays_without_panics_and_round_trips() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let corpus = replay_dir(&root.join("corpus/parse"));
    assert!(
        corpus >= 25,
        "expected the committed fuzz corpus in {}, found {corpus} files",
        root.join("corpus/parse").display()
    );
    replay_dir(&root.join("artifacts/parse"));
}
