//! The preflight cache with a fake clock: expiry, per-browser caps, credentials matching,
//! `*` entries, the two cache models, and clearing after a failure.

use std::time::Duration;

use crossgate::agent::{
    Agent, CredentialsMode, ExchangeKind, FakeClock, Incoming, Network, NetworkFailure, Outgoing,
    Profile, RequestInit,
};
use crossgate::origin::Origin;

const PAGE: &str = "https://app.example";
const API: &str = "https://api.example/items";

/// Answers preflights with `preflight` headers and actual requests with `actual` headers, and
/// counts the preflights.
struct Server {
    preflight: Vec<(String, Vec<u8>)>,
    actual: Vec<(String, Vec<u8>)>,
    preflights: usize,
}

fn headers(pairs: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
        .collect()
}

impl Server {
    fn new(preflight: &[(&str, &str)]) -> Server {
        Server {
            preflight: headers(preflight),
            actual: headers(&[
                ("Access-Control-Allow-Origin", PAGE),
                ("Access-Control-Allow-Credentials", "true"),
            ]),
            preflights: 0,
        }
    }
}

impl Network for Server {
    fn send(&mut self, request: &Outgoing) -> Result<Incoming, NetworkFailure> {
        Ok(match request.kind {
            ExchangeKind::Preflight => {
                self.preflights += 1;
                Incoming {
                    status: 204,
                    headers: self.preflight.clone(),
                }
            }
            ExchangeKind::Actual => Incoming {
                status: 200,
                headers: self.actual.clone(),
            },
        })
    }
}

fn request(method: &str, extra: &[(&str, &str)], credentials: CredentialsMode) -> RequestInit {
    let mut init = RequestInit::get(Origin::from_url_str(PAGE).unwrap(), API.parse().unwrap());
    init.method = method.to_owned();
    init.headers = headers(extra);
    init.credentials = credentials;
    init
}

const OMIT: CredentialsMode = CredentialsMode::Omit;
const INCLUDE: CredentialsMode = CredentialsMode::Include;

/// Runs `init` and returns how many preflights it took.
fn preflights(agent: &mut Agent<&FakeClock>, server: &mut Server, init: &RequestInit) -> usize {
    let before = server.preflights;
    let outcome = agent.fetch(init, server).unwrap();
    assert!(outcome.allowed, "{:?}", outcome.error);
    server.preflights - before
}

fn allow(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut h = vec![
        ("Access-Control-Allow-Origin", PAGE),
        ("Access-Control-Allow-Credentials", "true"),
    ];
    h.extend_from_slice(extra);
    h
}

#[test]
fn entries_expire_after_max_age() {
    for profile in [
        Profile::spec(),
        Profile::chromium(),
        Profile::firefox(),
        Profile::webkit(),
    ] {
        let clock = FakeClock::default();
        let mut agent = Agent::with_clock(profile, &clock);
        let mut server = Server::new(&allow(&[
            ("Access-Control-Allow-Methods", "PUT"),
            ("Access-Control-Max-Age", "10"),
        ]));
        let put = request("PUT", &[], OMIT);
        assert_eq!(preflights(&mut agent, &mut server, &put), 1);
        clock.advance(Duration::from_secs(9));
        assert_eq!(
            preflights(&mut agent, &mut server, &put),
            0,
            "{:?}",
            profile.browser
        );
        clock.advance(Duration::from_secs(2));
        assert_eq!(
            preflights(&mut agent, &mut server, &put),
            1,
            "{:?}",
            profile.browser
        );
    }
}

#[test]
fn default_is_five_seconds_and_caps_differ_per_browser() {
    let cases = [
        (Profile::chromium(), 7200),
        (Profile::firefox(), 86400),
        (Profile::webkit(), 600),
        (Profile::spec(), 7200),
    ];
    for (profile, cap) in cases {
        let clock = FakeClock::default();
        let mut agent = Agent::with_clock(profile, &clock);
        let mut server = Server::new(&allow(&[
            ("Access-Control-Allow-Methods", "PUT"),
            ("Access-Control-Max-Age", "1000000"),
        ]));
        let put = request("PUT", &[], OMIT);
        assert_eq!(preflights(&mut agent, &mut server, &put), 1);
        clock.advance(Duration::from_secs(cap - 1));
        assert_eq!(
            preflights(&mut agent, &mut server, &put),
            0,
            "{:?}",
            profile.browser
        );
        clock.advance(Duration::from_secs(2));
        assert_eq!(
            preflights(&mut agent, &mut server, &put),
            1,
            "{:?}",
            profile.browser
        );

        // No Access-Control-Max-Age: 5 seconds.
        let clock = FakeClock::default();
        let mut agent = Agent::with_clock(profile, &clock);
        let mut server = Server::new(&allow(&[("Access-Control-Allow-Methods", "PUT")]));
        assert_eq!(preflights(&mut agent, &mut server, &put), 1);
        clock.advance(Duration::from_secs(4));
        assert_eq!(preflights(&mut agent, &mut server, &put), 0);
        clock.advance(Duration::from_secs(2));
        assert_eq!(preflights(&mut agent, &mut server, &put), 1);
    }
}

#[test]
fn negative_and_zero_max_age() {
    // The three engines do not cache `-1` (measured); the standard falls back to 5 s.
    for (profile, cached) in [
        (Profile::chromium(), false),
        (Profile::firefox(), false),
        (Profile::spec(), true),
        (Profile::webkit(), false),
    ] {
        let clock = FakeClock::default();
        let mut agent = Agent::with_clock(profile, &clock);
        let mut server = Server::new(&allow(&[
            ("Access-Control-Allow-Methods", "PUT"),
            ("Access-Control-Max-Age", "-1"),
        ]));
        let put = request("PUT", &[], OMIT);
        preflights(&mut agent, &mut server, &put);
        assert_eq!(
            preflights(&mut agent, &mut server, &put),
            usize::from(!cached),
            "{:?}",
            profile.browser
        );
        assert_eq!(agent.cache().is_empty(), !cached);
    }
    let clock = FakeClock::default();
    let mut agent = Agent::with_clock(Profile::chromium(), &clock);
    let mut server = Server::new(&allow(&[
        ("Access-Control-Allow-Methods", "PUT"),
        ("Access-Control-Max-Age", "0"),
    ]));
    let put = request("PUT", &[], OMIT);
    preflights(&mut agent, &mut server, &put);
    assert_eq!(
        preflights(&mut agent, &mut server, &put),
        1,
        "max-age 0 caches nothing"
    );
}

#[test]
fn credentials_matching() {
    for profile in [
        Profile::spec(),
        Profile::chromium(),
        Profile::firefox(),
        Profile::webkit(),
    ] {
        // A result without credentials never serves a credentialed request...
        let clock = FakeClock::default();
        let mut agent = Agent::with_clock(profile, &clock);
        let mut server = Server::new(&allow(&[("Access-Control-Allow-Methods", "PUT")]));
        preflights(&mut agent, &mut server, &request("PUT", &[], OMIT));
        assert_eq!(
            preflights(&mut agent, &mut server, &request("PUT", &[], INCLUDE)),
            1
        );
        // ...while a credentialed one serves both (the standard), or only credentialed
        // requests (Firefox keys its cache by credentials mode).
        let clock = FakeClock::default();
        let mut agent = Agent::with_clock(profile, &clock);
        let mut server = Server::new(&allow(&[("Access-Control-Allow-Methods", "PUT")]));
        preflights(&mut agent, &mut server, &request("PUT", &[], INCLUDE));
        assert_eq!(
            preflights(&mut agent, &mut server, &request("PUT", &[], INCLUDE)),
            0
        );
        assert_eq!(
            preflights(&mut agent, &mut server, &request("PUT", &[], OMIT)),
            usize::from(!profile.cache_credentialed_serves_all),
            "{:?}",
            profile.browser
        );
    }
}

#[test]
fn wildcards_from_a_credentialed_preflight_stay_literal() {
    for profile in [
        Profile::spec(),
        Profile::chromium(),
        Profile::firefox(),
        Profile::webkit(),
    ] {
        let clock = FakeClock::default();
        let mut agent = Agent::with_clock(profile, &clock);
        // `*, PUT` passes a credentialed PUT because PUT is listed...
        let mut server = Server::new(&allow(&[("Access-Control-Allow-Methods", "*, PUT")]));
        preflights(&mut agent, &mut server, &request("PUT", &[], INCLUDE));
        // ...but the cached `*` must not then allow DELETE without asking.
        let before = server.preflights;
        let outcome = agent
            .fetch(&request("DELETE", &[], INCLUDE), &mut server)
            .unwrap();
        assert_eq!(server.preflights - before, 1, "{:?}", profile.browser);
        assert!(!outcome.allowed);
    }
}

#[test]
fn per_entry_and_whole_result_models() {
    // PUT allowed first; then a preflight for DELETE answered with DELETE only.
    for (profile, put_again_preflights) in [
        (Profile::firefox(), 0),
        (Profile::spec(), 0),
        (Profile::chromium(), 1),
        (Profile::webkit(), 1),
    ] {
        let clock = FakeClock::default();
        let mut agent = Agent::with_clock(profile, &clock);
        let mut server = Server::new(&allow(&[
            ("Access-Control-Allow-Methods", "PUT"),
            ("Access-Control-Max-Age", "600"),
        ]));
        preflights(&mut agent, &mut server, &request("PUT", &[], OMIT));
        server.preflight = headers(&allow(&[
            ("Access-Control-Allow-Methods", "DELETE"),
            ("Access-Control-Max-Age", "600"),
        ]));
        assert_eq!(
            preflights(&mut agent, &mut server, &request("DELETE", &[], OMIT)),
            1
        );
        // The server allows both again: a PUT now preflights only where the DELETE result
        // replaced the PUT one.
        server.preflight = headers(&allow(&[
            ("Access-Control-Allow-Methods", "PUT, DELETE"),
            ("Access-Control-Max-Age", "600"),
        ]));
        assert_eq!(
            preflights(&mut agent, &mut server, &request("PUT", &[], OMIT)),
            put_again_preflights,
            "{:?}",
            profile.browser
        );
    }
}

#[test]
fn header_entries() {
    for profile in [Profile::spec(), Profile::chromium()] {
        let clock = FakeClock::default();
        let mut agent = Agent::with_clock(profile, &clock);
        let mut server = Server::new(&allow(&[
            ("Access-Control-Allow-Headers", "x-a"),
            ("Access-Control-Max-Age", "600"),
        ]));
        assert_eq!(
            preflights(
                &mut agent,
                &mut server,
                &request("GET", &[("X-A", "1")], OMIT)
            ),
            1
        );
        assert_eq!(
            preflights(
                &mut agent,
                &mut server,
                &request("GET", &[("x-a", "2")], OMIT)
            ),
            0
        );
        server.preflight = headers(&allow(&[
            ("Access-Control-Allow-Headers", "x-a, x-b"),
            ("Access-Control-Max-Age", "600"),
        ]));
        assert_eq!(
            preflights(
                &mut agent,
                &mut server,
                &request("GET", &[("X-A", "1"), ("X-B", "1")], OMIT)
            ),
            1
        );
    }
}

#[test]
fn a_cached_star_never_covers_authorization() {
    // Chromium lets `*` cover Authorization on the preflight itself, but not from its cache.
    let clock = FakeClock::default();
    let mut agent = Agent::with_clock(Profile::chromium(), &clock);
    let mut server = Server::new(&[
        ("Access-Control-Allow-Origin", "*"),
        ("Access-Control-Allow-Headers", "*"),
        ("Access-Control-Max-Age", "600"),
    ]);
    server.actual = headers(&[("Access-Control-Allow-Origin", "*")]);
    let with_auth = request("GET", &[("Authorization", "Bearer t")], OMIT);
    assert_eq!(preflights(&mut agent, &mut server, &with_auth), 1);
    assert_eq!(preflights(&mut agent, &mut server, &with_auth), 1);
    // Other names are covered by the cached `*`.
    let with_custom = request("GET", &[("X-A", "1")], OMIT);
    assert_eq!(preflights(&mut agent, &mut server, &with_custom), 0);
}

#[test]
fn a_failed_request_clears_the_entries() {
    let clock = FakeClock::default();
    let mut agent = Agent::with_clock(Profile::spec(), &clock);
    let mut server = Server::new(&allow(&[
        ("Access-Control-Allow-Methods", "PUT"),
        ("Access-Control-Max-Age", "600"),
    ]));
    let put = request("PUT", &[], OMIT);
    preflights(&mut agent, &mut server, &put);
    assert!(!agent.cache().is_empty());
    // The actual response now fails the CORS check: a network error of a preflighted request.
    server.actual = headers(&[("Access-Control-Allow-Origin", "https://other.example")]);
    let outcome = agent.fetch(&put, &mut server).unwrap();
    assert!(!outcome.allowed);
    assert!(agent.cache().is_empty(), "entries cleared");
    // A refused preflight caches nothing either.
    server.preflight = headers(&[("Access-Control-Allow-Origin", "https://other.example")]);
    let outcome = agent.fetch(&put, &mut server).unwrap();
    assert!(!outcome.allowed);
    assert!(agent.cache().is_empty());
}
