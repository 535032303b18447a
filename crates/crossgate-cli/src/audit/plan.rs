//! Which requests an audit sends to one target: for each probe origin a simple request and a
//! preflight, plus the preflight-reflection and private-network probes.

use std::time::{SystemTime, UNIX_EPOCH};

use crossgate::audit::{Ask, Generator, PROBE_HEADER, Probe, RequestKind};

/// One request of the plan.
#[derive(Clone, Debug)]
pub struct Planned {
    pub probe: Probe,
    pub kind: RequestKind,
    pub method: String,
    pub requested_method: Option<String>,
    pub requested_headers: Option<String>,
    pub private_network: bool,
}

/// A random-looking label for this run, so probe origins never collide with a real allowlist.
pub fn label() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let mut n = nanos ^ u128::from(std::process::id()) << 64;
    let alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut s = String::from("cg");
    for _ in 0..6 {
        s.push(alphabet[(n % 36) as usize] as char);
        n /= 36;
    }
    s
}

/// What preflights ask when no recording says what the application sends: the simple
/// requests' method with the two headers APIs most often take.
pub fn default_ask(method: &str) -> Ask {
    Ask {
        method: method.to_owned(),
        headers: vec!["authorization".to_owned(), "content-type".to_owned()],
    }
}

/// The requests for `probes`: simple requests with `method`, preflights asking for `ask`.
pub fn plan(probes: Vec<Probe>, method: &str, ask: &Ask) -> Vec<Planned> {
    let mut out = Vec::new();
    for probe in probes {
        if probe.generator == Generator::PrivateNetwork {
            out.push(Planned {
                probe,
                kind: RequestKind::Preflight,
                method: "OPTIONS".to_owned(),
                requested_method: Some("GET".to_owned()),
                requested_headers: None,
                private_network: true,
            });
            continue;
        }
        if probe.generator == Generator::Baseline {
            // The preflight-reflection probe: a made-up method and header.
            out.push(Planned {
                probe: probe.clone(),
                kind: RequestKind::Preflight,
                method: "OPTIONS".to_owned(),
                requested_method: Some("CROSSGATE-PROBE".to_owned()),
                requested_headers: Some(PROBE_HEADER.to_owned()),
                private_network: false,
            });
        }
        out.push(Planned {
            probe: probe.clone(),
            kind: RequestKind::Simple,
            method: method.to_owned(),
            requested_method: None,
            requested_headers: None,
            private_network: false,
        });
        out.push(Planned {
            probe,
            kind: RequestKind::Preflight,
            method: "OPTIONS".to_owned(),
            requested_method: Some(ask.method.clone()),
            requested_headers: ask.header_list(),
            private_network: false,
        });
    }
    out
}
