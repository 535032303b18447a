//! Pasted console text (`crossgate explain`): any bytes, read as the CLI reads them (lossy
//! UTF-8), by every engine's words and by all of them. Never a panic; a message never lists its
//! own code among its alternatives; every message and every other text gets an explanation
//! with a fix.
#![no_main]

use crossgate::agent::explain::explain_message;
use crossgate::agent::paste::{Item, parse};
use crossgate::browser::Browser;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for only in [None, Some(Browser::Chromium), Some(Browser::Firefox), Some(Browser::Webkit)] {
        for item in parse(&text, only) {
            match item {
                Item::Message(m) => {
                    if let Some(b) = only {
                        assert_eq!(m.browser, b);
                    }
                    assert!(m.code.is_none_or(|c| !m.alternatives.contains(&c)));
                    let x = explain_message(&m);
                    assert!(!x.summary.is_empty() && !x.fix.is_empty(), "{m:?}");
                }
                Item::Other(o) => assert!(!o.kind.fix().is_empty()),
            }
        }
    }
});
