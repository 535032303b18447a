//! The agent's judgement of arbitrary responses: never a panic; an allowed CORS response always
//! carried `*` (without credentials) or exactly the origin sent (with `true` for credentials).
#![no_main]

use arbitrary::Arbitrary;
use crossgate::agent::{
    Agent, CredentialsMode, Incoming, Network, NetworkFailure, Outgoing, Profile, RequestInit,
    Tainting,
};
use crossgate::origin::Origin;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    profile: u8,
    method: String,
    headers: Vec<(String, Vec<u8>)>,
    credentials: u8,
    responses: Vec<(u16, Vec<(u8, Vec<u8>)>)>,
}

const NAMES: [&str; 10] = [
    "access-control-allow-origin",
    "access-control-allow-credentials",
    "access-control-allow-methods",
    "access-control-allow-headers",
    "access-control-max-age",
    "access-control-expose-headers",
    "location",
    "content-type",
    "x-custom",
    "set-cookie",
];

struct Scripted(std::vec::IntoIter<Incoming>);

impl Network for Scripted {
    fn send(&mut self, _: &Outgoing) -> Result<Incoming, NetworkFailure> {
        self.0.next().ok_or(NetworkFailure {
            message: "no more responses".to_owned(),
        })
    }
}

fuzz_target!(|input: Input| {
    let profile = [
        Profile::spec(),
        Profile::chromium(),
        Profile::firefox(),
        Profile::webkit(),
    ][usize::from(input.profile) % 4];
    let origin = Origin::from_url_str("https://app.test").unwrap();
    let mut init = RequestInit::get(origin, "https://api.test/items".parse().unwrap());
    init.method = input.method;
    init.headers = input.headers;
    init.credentials = match input.credentials % 3 {
        0 => CredentialsMode::Omit,
        1 => CredentialsMode::SameOrigin,
        _ => CredentialsMode::Include,
    };
    let responses: Vec<Incoming> = input
        .responses
        .into_iter()
        .map(|(status, headers)| Incoming {
            status,
            headers: headers
                .into_iter()
                .map(|(n, v)| (NAMES[usize::from(n) % NAMES.len()].to_owned(), v))
                .collect(),
        })
        .collect();
    let include = init.credentials == CredentialsMode::Include;
    let Ok(outcome) = Agent::new(profile).fetch(&init, &mut Scripted(responses.into_iter())) else {
        return;
    };
    if outcome.allowed && outcome.tainting == Tainting::Cors {
        let response = outcome.response.as_ref().unwrap();
        let acao = crossgate::agent::check::get(&response.headers, "access-control-allow-origin");
        let sent = outcome.origin_sent.last().cloned().flatten().unwrap();
        match acao.as_deref() {
            Some(b"*") => assert!(!include),
            Some(v) => {
                assert_eq!(v, sent.as_bytes());
                if include {
                    let acac = crossgate::agent::check::get(
                        &response.headers,
                        "access-control-allow-credentials",
                    );
                    assert_eq!(acac.as_deref(), Some(&b"true"[..]));
                }
            }
            None => panic!("allowed without Access-Control-Allow-Origin"),
        }
        assert!(!outcome.exposed_headers.iter().any(|h| h == "set-cookie"));
    }
});
