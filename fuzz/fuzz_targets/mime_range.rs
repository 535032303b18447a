//! MIME type and range parsing, and the CORS-safelisted request-header rules built on them.
#![no_main]

use crossgate::fetch::header::is_cors_safelisted_request_header;
use crossgate::fetch::mime::parse_mime_type;
use crossgate::fetch::range::parse_single_range;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(m) = parse_mime_type(data) {
        assert!(!m.type_.is_empty() && !m.subtype.is_empty());
        assert_eq!(m.type_, m.type_.to_ascii_lowercase());
        // Parsing the essence again gives the same essence.
        assert_eq!(parse_mime_type(m.essence().as_bytes()), Some(m.clone()));
    }
    if let Some(r) = parse_single_range(data, false) {
        assert!(r.start.is_some() || r.end.is_some());
        assert!(
            parse_single_range(data, true).is_some(),
            "no whitespace is still valid with it"
        );
    }
    for name in [
        "accept",
        "accept-language",
        "content-language",
        "content-type",
        "range",
    ] {
        if is_cors_safelisted_request_header(name.as_bytes(), data) {
            assert!(data.len() <= 128);
        }
    }
});
