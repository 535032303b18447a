//! Configuration documents: any bytes, read as TOML, JSON or YAML, give problems or a policy,
//! never a panic; a valid policy's normal form is valid and normal.
#![no_main]

use crossgate::policy::document::{Format, parse_document};
use crossgate::{policy::Policy, policy::PolicyConfig};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let format = match selector % 3 {
        0 => Format::Toml,
        1 => Format::Json,
        _ => Format::Yaml,
    };
    let Ok(value) = parse_document(text, format) else {
        return;
    };
    let mut problems = Vec::new();
    let config = PolicyConfig::from_value(&value, "", &mut problems);
    let checked = Policy::check_document(&config, problems, "");
    if let Some(policy) = checked.policy() {
        let normal = policy.config().clone();
        let again = Policy::check(&normal);
        let policy_again = again.into_result().expect("the normal form is valid");
        assert_eq!(policy_again.config(), &normal, "the normal form is normal");
    }
});
