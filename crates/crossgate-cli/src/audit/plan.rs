//! Which requests an audit sends to one target: for each probe origin a simple request and a
//! preflight, plus the preflight-reflection and private-network probes, and the simple requests
//! of a foreign and the `null` origin again with a session cookie.

use std::time::{SystemTime, UNIX_EPOCH};

use crossgate::audit::{Ask, Generator, PROBE_HEADER, PROBE_METHOD, Probe, RequestKind};

/// One request of the plan.
#[derive(Clone, Debug)]
pub struct Planned {
    pub probe: Probe,
    pub kind: RequestKind,
    pub method: String,
    pub requested_method: Option<String>,
    pub requested_headers: Option<String>,
    pub private_network: bool,
    /// Sent with `crossgate::audit::SESSION_PROBE_COOKIE`.
    pub session_cookie: bool,
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
/// `session_probe`: also send the simple requests that show whether a session cookie changes
/// the answer (not when the user's own `Cookie` rides on every simple request already).
pub fn plan(probes: Vec<Probe>, method: &str, ask: &Ask, session_probe: bool) -> Vec<Planned> {
    let preflight =
        |probe: &Probe, requested_method: &str, requested_headers: Option<String>| Planned {
            probe: probe.clone(),
            kind: RequestKind::Preflight,
            method: "OPTIONS".to_owned(),
            requested_method: Some(requested_method.to_owned()),
            requested_headers,
            private_network: false,
            session_cookie: false,
        };
    let simple = |probe: &Probe, session_cookie: bool| Planned {
        probe: probe.clone(),
        kind: RequestKind::Simple,
        method: method.to_owned(),
        requested_method: None,
        requested_headers: None,
        private_network: false,
        session_cookie,
    };
    let mut out = Vec::new();
    for probe in probes {
        if probe.generator == Generator::PrivateNetwork {
            out.push(Planned {
                private_network: true,
                ..preflight(&probe, "GET", None)
            });
            continue;
        }
        if probe.generator == Generator::Baseline {
            // The preflight-reflection probes: a made-up header (with a method every server
            // allows) and a made-up method, each alone, so that a server refusing one still
            // shows whether it echoes the other.
            out.push(preflight(&probe, "GET", Some(PROBE_HEADER.to_owned())));
            out.push(preflight(&probe, PROBE_METHOD, None));
        }
        out.push(simple(&probe, false));
        if session_probe && matches!(probe.generator, Generator::Foreign | Generator::Null) {
            out.push(simple(&probe, true));
        }
        out.push(preflight(&probe, &ask.method, ask.header_list()));
    }
    out
}
