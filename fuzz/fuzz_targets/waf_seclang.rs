//! Fuzz target for the SecLang parser and rule builder: any text either loads or is an error
//! naming a line — never a panic. Seeds: `fuzz/seeds/waf_seclang` (CRS-style directives).
//! `cargo fuzz run waf_seclang fuzz/seeds/waf_seclang`
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis::waf::engine::{Connection, Engine, RuleSource};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).into_owned();
    let source = RuleSource::Text {
        name: "fuzz.conf".into(),
        text,
    };
    match Engine::load(&[source]) {
        Ok(engine) => {
            // Whatever loaded must also run: one small request through every phase.
            let mut tx = engine.transaction(Connection::default());
            tx.request_headers(b"GET", b"/?a=1%27", b"HTTP/1.1", vec![(b"Host".to_vec(), b"x".to_vec())]);
            tx.request_body(b"");
            tx.response_headers(200, b"HTTP/1.1", Vec::new());
            tx.response_body(b"ok");
            let _ = tx.finish();
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
