//! Any bytes: `parse_bytes` never panics; errors render; what parses survives write → parse.
#![no_main]

use gatehouse_profile::parse::parse_bytes;
use gatehouse_profile::write::write;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match parse_bytes(data, "fuzz.conf") {
        Ok(config) => {
            let text = write(&config);
            let back = match parse_bytes(text.as_bytes(), "written.conf") {
                Ok(back) => back,
                Err(e) => panic!("written text does not parse: {e}\n{text}"),
            };
            assert_eq!(back, config, "write → parse changed the config:\n{text}");
            assert_eq!(write(&back), text, "write is not a fixed point");
        }
        Err(e) => {
            let lines = data.split(|&b| b == b'\n').count();
            assert!(e.line >= 1 && e.line <= lines, "line {} of {lines}", e.line);
            assert!(e.col >= 1, "col {}", e.col);
            let shown = e.to_string();
            assert!(shown.starts_with("fuzz.conf:"));
        }
    }
});
