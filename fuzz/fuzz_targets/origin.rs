//! Origin parsing: the strict `Origin` header grammar and URL -> origin. A header value that
//! parses is exactly its own serialisation; serialising a URL's origin and parsing it back gives
//! the same origin.
#![no_main]

use crossgate::origin::Origin;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(origin) = Origin::parse_header(data) {
        assert_eq!(origin.serialize().as_bytes(), data);
    }
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(origin) = Origin::from_url_str(text)
    {
        let serialized = origin.serialize();
        if !origin.is_opaque() {
            let again =
                Origin::parse_header(serialized.as_bytes()).expect("a serialisation parses");
            assert!(again.same_origin(&origin), "{serialized}");
        } else {
            assert_eq!(serialized, "null");
        }
    }
});
