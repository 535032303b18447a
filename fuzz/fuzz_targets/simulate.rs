//! `crossgate simulate`'s input: any JSON gives a report or an input error, never a panic.
#![no_main]

use crossgate::agent::Scenario;
use crossgate::browser::Browser;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(scenario) = serde_json::from_slice::<Scenario>(data) {
        for browser in Browser::ALL {
            let _ = scenario.run(browser);
        }
    }
});
