//! Origin patterns: parsing never panics; the normal form parses to the same pattern with
//! nothing left to normalise; a policy built from it allows what an exact pattern names.
#![no_main]

use crossgate::policy::pattern::{HostPattern, OriginPattern, PortPattern, parse_pattern};
use crossgate::{policy::Policy, policy::PolicyConfig};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(parsed) = parse_pattern(text) else {
        return;
    };
    let normal = parsed.pattern.to_string();
    let again = parse_pattern(&normal).expect("the normal form parses");
    assert_eq!(again.pattern, parsed.pattern, "{text:?} -> {normal:?}");
    assert!(again.normalized.is_empty(), "{normal:?} is normal");
    if let OriginPattern::Origins {
        host: HostPattern::Exact(_),
        port: PortPattern::Default | PortPattern::Port(_),
        ..
    } = &parsed.pattern
    {
        let config = PolicyConfig {
            allow_origins: vec![normal.clone()],
            ..PolicyConfig::default()
        };
        if let Some(policy) = Policy::check(&config).into_result().ok() {
            assert!(policy.allows_origin(normal.as_bytes()), "{normal}");
        }
    }
});
