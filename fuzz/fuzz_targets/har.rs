//! A network log (`crossgate har`): any bytes, read as a HAR and judged as each engine. Never a
//! panic; a log that does not read is an error; every request judged has a verdict for the
//! engine asked and for the two others; a blocked verdict has its error and a fix, an
//! undetermined one says what is missing.
#![no_main]

use crossgate::browser::Browser;
use crossgate::har::{Har, Verdict};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(har) = Har::read(data, |_| {}) else {
        return;
    };
    for browser in [None, Some(Browser::Chromium), Some(Browser::Firefox), Some(Browser::Webkit)] {
        let report = har.judge(browser);
        for r in &report.requests {
            assert!(r.fetch.entry < har.entries.len());
            assert_eq!(r.other_engines.len(), 2);
            for j in std::iter::once(&r.judgement).chain(&r.other_engines) {
                match j.verdict {
                    Verdict::Blocked => {
                        assert!(j.code.is_some(), "{j:?}");
                        let x = j.explanation.as_ref().expect("a blocked verdict is explained");
                        assert!(!x.fix.is_empty());
                    }
                    Verdict::Undetermined => assert!(!j.missing.is_empty(), "{j:?}"),
                    Verdict::Allowed => assert!(j.code.is_none()),
                }
            }
        }
    }
});
