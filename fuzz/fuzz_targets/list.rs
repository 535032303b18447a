//! RFC 9110 lists: the bounded scanner and the token-list parser agree where both accept, and
//! the scanner never reads an item longer than its limit.
#![no_main]

use crossgate::fetch::list::{ListLimits, parse_token_list, scan_tokens};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Lines are separated by NUL in the input.
    let lines: Vec<&[u8]> = data.split(|&b| b == 0).collect();
    let limits = ListLimits {
        max_ows: 2,
        max_empty: 16,
        max_items: 64,
        max_item_len: 32,
    };
    let mut scanned: Vec<&[u8]> = Vec::new();
    let result = scan_tokens(lines.iter().copied(), limits, |t| {
        assert!(t.len() <= limits.max_item_len);
        scanned.push(t);
        Ok::<(), ()>(())
    });
    let parsed = parse_token_list(lines.iter().copied());
    if result.is_ok() {
        let parsed = parsed.expect("what the bounded scanner accepts is a token list");
        assert_eq!(parsed.unwrap_or_default(), scanned);
    }
});
