//! From responses to findings: a probe is a finding only where a browser would let a page of the
//! probe's origin read the response (the agent's CORS check, as Chromium runs it), rated by what
//! an attacker needs to obtain such an origin and whether credentials come along.

use super::probe::Generator;
use super::{Class, Evidence, Finding, Probe, RequestKind, Severity, Target};
use crate::agent::Profile;
use crate::agent::check::{cors_check, get, lines};
use crate::fetch::list::{RawElements, trim_ows};
use crate::origin::{Origin, registrable_domain};

/// One probe's response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observation {
    pub probe: Probe,
    pub kind: RequestKind,
    /// What a preflight asked (`Access-Control-Request-Method` and `-Headers`).
    pub requested_method: Option<String>,
    pub requested_headers: Option<String>,
    pub status: u16,
    pub headers: Vec<(String, Vec<u8>)>,
}

/// What the audit knows beyond the responses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Context {
    /// The requests carried the user's credentials (`-H Cookie` / `Authorization`).
    pub authenticated: bool,
}

/// The header name every audit preflight asks for: no server allows it on purpose.
pub const PROBE_HEADER: &str = "x-crossgate-probe";

const EVIDENCE: [&str; 9] = [
    "vary",
    "cache-control",
    "age",
    "x-cache",
    "cf-cache-status",
    "strict-transport-security",
    "set-cookie",
    "location",
    "content-type",
];

fn evidence(o: &Observation) -> Evidence {
    let headers = o
        .headers
        .iter()
        .filter(|(n, _)| {
            let n = n.to_ascii_lowercase();
            n.starts_with("access-control-") || EVIDENCE.contains(&n.as_str())
        })
        .map(|(n, v)| {
            let v = String::from_utf8_lossy(v).into_owned();
            // A cookie's value is a secret: keep its name and attributes only.
            let v = if n.eq_ignore_ascii_case("set-cookie") {
                mask_cookie(&v)
            } else {
                v
            };
            (n.clone(), v)
        })
        .collect();
    Evidence {
        status: o.status,
        headers,
    }
}

/// `session=abc; Secure` -> `session=***; Secure`.
pub fn mask_cookie(value: &str) -> String {
    let mut parts = value.splitn(2, ';');
    let pair = parts.next().unwrap_or_default();
    let name = pair.split('=').next().unwrap_or_default().trim();
    match parts.next() {
        Some(attrs) => format!("{name}=***;{attrs}"),
        None => format!("{name}=***"),
    }
}

fn list_contains(o: &Observation, header: &str, token: &str) -> bool {
    lines(&o.headers, header).any(|line| {
        RawElements::new(line).any(|e| trim_ows(e).value.eq_ignore_ascii_case(token.as_bytes()))
    })
}

fn varies_on_origin(o: &Observation) -> bool {
    list_contains(o, "vary", "origin") || list_contains(o, "vary", "*")
}

/// Whether a response may be stored by a shared cache, or was served by one.
fn cacheable(o: &Observation) -> bool {
    let has = |n: &str| lines(&o.headers, n).next().is_some();
    if has("age") || has("x-cache") || has("cf-cache-status") {
        return true;
    }
    get(&o.headers, "cache-control").is_some_and(|v| {
        let v = String::from_utf8_lossy(&v).to_ascii_lowercase();
        (v.contains("public") || v.contains("max-age") || v.contains("s-maxage"))
            && !v.contains("private")
            && !v.contains("no-store")
    })
}

/// Whether an attacker can obtain the probe's origin by registering a domain (its registrable
/// domain is under a known public suffix and not the target's).
fn registrable_elsewhere(target: &Target, probe: &str) -> bool {
    let Ok(origin) = Origin::from_url_str(probe) else {
        return false;
    };
    let Some(Origin::Tuple {
        host: url::Host::Domain(d),
        ..
    }) = Some(origin)
    else {
        return false;
    };
    let known = psl::suffix(d.as_bytes()).is_some_and(|s| s.is_known());
    known && registrable_domain(&d) != target.registrable
}

/// Whether the probe's host is a subdomain of the target's registrable domain.
fn under_target_domain(target: &Target, probe: &str) -> bool {
    let Some(registrable) = &target.registrable else {
        return false;
    };
    match Origin::from_url_str(probe) {
        Ok(Origin::Tuple {
            host: url::Host::Domain(d),
            ..
        }) => d.ends_with(&format!(".{registrable}")),
        _ => false,
    }
}

/// Special characters all browsers keep in a host, and those only some keep.
fn special_character_reach(c: &str) -> (Severity, &'static str) {
    match c {
        "_" | "-" => (Severity::High, "Chrome, Firefox and Safari send it"),
        "$" | "+" => (Severity::Medium, "Firefox and Safari send it"),
        _ => (Severity::Low, "only Safari sends it"),
    }
}

/// Session cookies seen all `SameSite=Lax` or `Strict` (a missing attribute counts as Lax in
/// modern browsers): cross-site requests then carry none.
fn cookies_stay_same_site(observations: &[Observation]) -> bool {
    let cookies: Vec<String> = observations
        .iter()
        .flat_map(|o| lines(&o.headers, "set-cookie"))
        .map(|v| String::from_utf8_lossy(v).to_ascii_lowercase())
        .collect();
    !cookies.is_empty()
        && cookies
            .iter()
            .all(|c| !c.replace(' ', "").contains("samesite=none"))
}

struct Raw<'a> {
    class: Class,
    severity: Severity,
    observation: &'a Observation,
    explanation: String,
}

/// Judges every observation; one finding per class, the most severe.
pub fn judge(target: &Target, observations: &[Observation], context: &Context) -> Vec<Finding> {
    let chromium = Profile::chromium();
    let same_site_cookies = cookies_stay_same_site(observations);
    let baseline_simple = observations
        .iter()
        .find(|o| o.probe.generator == Generator::Baseline && o.kind == RequestKind::Simple);
    let hsts = baseline_simple.is_some_and(|o| {
        lines(&o.headers, "strict-transport-security")
            .next()
            .is_some()
    });
    let mut raw: Vec<Raw<'_>> = Vec::new();

    for o in observations {
        let origin = o.probe.origin.as_str();
        let preflight_ok = o.kind == RequestKind::Simple || (200..=299).contains(&o.status);
        // Preflights that echo what they are asked.
        if o.kind == RequestKind::Preflight && preflight_ok {
            let echoes_header = list_contains(o, "access-control-allow-headers", PROBE_HEADER);
            let echoes_method = o.requested_method.as_deref().is_some_and(|m| {
                !matches!(
                    m,
                    "GET" | "HEAD" | "POST" | "PUT" | "DELETE" | "PATCH" | "OPTIONS"
                ) && list_contains(o, "access-control-allow-methods", m)
            });
            let passes = cors_check(&chromium, origin, false, &o.headers).is_ok();
            if passes && (echoes_header || echoes_method) {
                raw.push(Raw {
                    class: Class::PreflightReflection,
                    severity: Severity::Low,
                    observation: o,
                    explanation: format!(
                        "The preflight allowed whatever it was asked: {}.",
                        [
                            echoes_header.then(|| format!("the made-up header `{PROBE_HEADER}`")),
                            echoes_method.then(|| format!(
                                "the made-up method `{}`",
                                o.requested_method.as_deref().unwrap_or_default()
                            )),
                        ]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(" and ")
                    ),
                });
            }
        }
        if o.probe.generator == Generator::Baseline || !preflight_ok {
            continue;
        }
        let anonymous = cors_check(&chromium, origin, false, &o.headers).is_ok();
        if !anonymous {
            continue;
        }
        let credentialed = cors_check(&chromium, origin, true, &o.headers).is_ok();
        let acao = get(&o.headers, "access-control-allow-origin").unwrap_or_default();
        if acao == b"*" {
            let with_credentials = get(&o.headers, "access-control-allow-credentials").as_deref()
                == Some(&b"true"[..]);
            let (class, severity, explanation) = if with_credentials {
                (
                    Class::WildcardWithCredentials,
                    Severity::Low,
                    "The server answers `*` together with Access-Control-Allow-Credentials: true. \
                     Browsers refuse credentialed reads of it, but any page can read it without \
                     cookies, and the pair shows that reflection was wanted."
                        .to_owned(),
                )
            } else if target.is_private() {
                (
                    Class::WildcardOrigin,
                    Severity::Medium,
                    "Any web page can read this private-network or local service's responses \
                     (through the visitor's browser, or by DNS rebinding)."
                        .to_owned(),
                )
            } else {
                (
                    Class::WildcardOrigin,
                    Severity::Info,
                    "Any web page can read these responses without credentials: fine for public \
                     data."
                        .to_owned(),
                )
            };
            raw.push(Raw {
                class,
                severity,
                observation: o,
                explanation,
            });
            continue;
        }
        // The server named the probe's origin: which flawed check let it through?
        let (class, exploitable_severity, how) = match o.probe.generator {
            Generator::Foreign => (Class::OriginReflection, Severity::High, "any site can do this".to_owned()),
            Generator::Null => (
                Class::NullOrigin,
                Severity::High,
                "a sandboxed iframe (`<iframe sandbox=\"allow-scripts\" srcdoc=...>`) sends Origin: null".to_owned(),
            ),
            Generator::PostDomain => (Class::PrefixMatch, Severity::High, "the attacker only needs DNS under their own domain".to_owned()),
            Generator::Localhost if origin.starts_with("http://localhost:") => (
                Class::LocalhostOrigin,
                Severity::Low,
                "any program on the visitor's machine can serve that origin".to_owned(),
            ),
            Generator::Localhost => (Class::PrefixMatch, Severity::High, "a `localhost.` prefix on the attacker's domain passes".to_owned()),
            Generator::PreDomain | Generator::Substring | Generator::UnescapedDot => {
                let class = match o.probe.generator {
                    Generator::PreDomain => Class::SuffixMatch,
                    Generator::Substring => Class::SubstringMatch,
                    _ => Class::UnescapedDot,
                };
                if registrable_elsewhere(target, origin) {
                    (class, Severity::High, "the attacker can register that name".to_owned())
                } else if under_target_domain(target, origin) {
                    // `xapi.example.com` is a subdomain: what let it through is subdomain trust.
                    (
                        Class::SubdomainTrust,
                        Severity::Medium,
                        "an XSS or a takeover of any subdomain is enough".to_owned(),
                    )
                } else {
                    (class, Severity::Low, "that name is not registrable by an attacker".to_owned())
                }
            }
            Generator::Subdomain => (
                Class::SubdomainTrust,
                Severity::Medium,
                "an XSS or a takeover of any subdomain is enough".to_owned(),
            ),
            Generator::Insecure if target.scheme == "https" => (
                Class::InsecureOrigin,
                if hsts { Severity::Low } else { Severity::Medium },
                if hsts {
                    "an attacker on the network path could impersonate it (HSTS on this host reduces that)".to_owned()
                } else {
                    "an attacker on the network path can impersonate it".to_owned()
                },
            ),
            Generator::Insecure => (
                Class::SubdomainTrust,
                Severity::Medium,
                "an XSS or a takeover of any subdomain is enough".to_owned(),
            ),
            Generator::ThirdParty => (Class::ThirdPartyOrigin, Severity::High, "anyone can publish a page there".to_owned()),
            Generator::SpecialCharacter => {
                let c = o.probe.note.as_deref().unwrap_or_default();
                let (severity, who) = special_character_reach(c);
                (Class::SpecialCharacters, severity, format!("`{c}`: {who}"))
            }
            Generator::Port => (Class::PortTrust, Severity::Low, "it needs control of another port on the same host".to_owned()),
            Generator::NonCanonical => (
                Class::NonCanonicalOrigin,
                Severity::Info,
                "browsers never send this spelling: the check is loose, not yet exploitable".to_owned(),
            ),
            Generator::PrivateNetwork => {
                if o.kind == RequestKind::Preflight
                    && get(&o.headers, "access-control-allow-private-network").as_deref()
                        == Some(&b"true"[..])
                {
                    raw.push(Raw {
                        class: Class::PrivateNetworkReflection,
                        severity: Severity::Medium,
                        observation: o,
                        explanation: format!(
                            "A preflight from {origin} asking for private-network access got \
                             Access-Control-Allow-Private-Network: true."
                        ),
                    });
                }
                (Class::OriginReflection, Severity::High, "any site can do this".to_owned())
            }
            Generator::Baseline => unreachable!("skipped above"),
        };
        let severity = if credentialed {
            let mut s = exploitable_severity;
            if s >= Severity::Medium && same_site_cookies {
                // SameSite=Lax or Strict cookies do not ride along on cross-site reads.
                s = s.down();
            }
            if s == Severity::High && context.authenticated {
                s = s.up();
            }
            s
        } else {
            // Without credentials only what the visitor's network position grants is at risk.
            match exploitable_severity {
                Severity::Info => Severity::Info,
                _ if target.is_private() => Severity::Medium,
                _ => Severity::Low,
            }
        };
        let with = if credentialed {
            " with the user's cookies (Access-Control-Allow-Credentials: true)"
        } else {
            " without credentials"
        };
        raw.push(Raw {
            class,
            severity,
            observation: o,
            explanation: format!(
                "A page at {origin} can read this response{with}: the server answered \
                 Access-Control-Allow-Origin: {}; {how}.",
                String::from_utf8_lossy(&acao)
            ),
        });
    }

    // G16: a dynamic Access-Control-Allow-Origin without Vary: Origin.
    let foreign_simple = observations
        .iter()
        .find(|o| o.probe.generator == Generator::Foreign && o.kind == RequestKind::Simple);
    if let (Some(b), Some(f)) = (baseline_simple, foreign_simple) {
        let acao = |o: &Observation| get(&o.headers, "access-control-allow-origin");
        if acao(b) != acao(f) && !varies_on_origin(b) && !varies_on_origin(f) {
            let stored = cacheable(b) || cacheable(f);
            let witness = if acao(b).is_some() { b } else { f };
            raw.push(Raw {
                class: Class::MissingVary,
                severity: if stored {
                    Severity::Medium
                } else {
                    Severity::Low
                },
                observation: witness,
                explanation: format!(
                    "Access-Control-Allow-Origin differs by Origin ({} for {}, {} for {}) but \
                     Vary lacks Origin{}, so a cache can serve one origin's answer to another.",
                    acao(b).map_or("none".to_owned(), |v| String::from_utf8_lossy(&v)
                        .into_owned()),
                    b.probe.origin,
                    acao(f).map_or("none".to_owned(), |v| String::from_utf8_lossy(&v)
                        .into_owned()),
                    f.probe.origin,
                    if stored {
                        ", and the response is cacheable"
                    } else {
                        ""
                    }
                ),
            });
        }
    }
    findings(raw)
}

/// One finding per class (the most severe observation), leaving out what a broader flaw
/// already explains: a server that reflects every origin also passes every narrower probe, and
/// one that accepts any prefix before its domain also accepts subdomains and dotless variants.
fn findings(raw: Vec<Raw<'_>>) -> Vec<Finding> {
    let present = |c: Class| raw.iter().any(|r| r.class == c);
    let implied = |c: Class| -> bool {
        use Class::*;
        let by_reflection = matches!(
            c,
            NullOrigin
                | PrefixMatch
                | SuffixMatch
                | SubstringMatch
                | UnescapedDot
                | SubdomainTrust
                | InsecureOrigin
                | SpecialCharacters
                | ThirdPartyOrigin
                | LocalhostOrigin
                | PortTrust
                | NonCanonicalOrigin
        );
        (by_reflection && present(OriginReflection))
            || (matches!(c, SpecialCharacters | PortTrust | NonCanonicalOrigin)
                && present(PrefixMatch))
            || (matches!(c, SubdomainTrust | UnescapedDot) && present(SuffixMatch))
    };
    let mut out: Vec<Finding> = Vec::new();
    for r in &raw {
        if implied(r.class) {
            continue;
        }
        match out.iter_mut().find(|f| f.class == r.class) {
            Some(f) => {
                f.probes += 1;
                if r.severity > f.severity {
                    let probes = f.probes;
                    *f = to_finding(r);
                    f.probes = probes;
                }
            }
            None => out.push(to_finding(r)),
        }
    }
    out.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.class.cmp(&b.class)));
    out
}

fn to_finding(r: &Raw<'_>) -> Finding {
    Finding {
        class: r.class,
        severity: r.severity,
        probe_origin: r.observation.probe.origin.clone(),
        request_kind: r.observation.kind,
        evidence: evidence(r.observation),
        explanation: r.explanation.clone(),
        remediation: r.class.remediation().to_owned(),
        probes: 1,
    }
}

#[cfg(test)]
mod tests {
    use super::super::probe::probes;
    use super::*;

    fn observe(
        target: &Target,
        answer: impl Fn(&Probe, RequestKind) -> Vec<(&'static str, String)>,
    ) -> Vec<Observation> {
        probes(target, "k3x9q", "probe.example")
            .into_iter()
            .flat_map(|p| [RequestKind::Simple, RequestKind::Preflight].map(|k| (p.clone(), k)))
            .map(|(probe, kind)| {
                let headers = answer(&probe, kind)
                    .into_iter()
                    .map(|(n, v)| (n.to_owned(), v.into_bytes()))
                    .collect();
                Observation {
                    probe,
                    kind,
                    requested_method: (kind == RequestKind::Preflight).then(|| "PUT".to_owned()),
                    requested_headers: None,
                    status: 200,
                    headers,
                }
            })
            .collect()
    }

    fn classes(findings: &[Finding]) -> Vec<(Class, Severity)> {
        findings.iter().map(|f| (f.class, f.severity)).collect()
    }

    #[test]
    fn an_https_target_trusting_http_origins() {
        let target = Target::new(&"https://api.example.com/x".parse().unwrap(), None).unwrap();
        let trust = |o: &str| o == "https://api.example.com" || o == "http://api.example.com";
        let observations = observe(&target, |p, _| {
            if trust(&p.origin) {
                vec![
                    ("Access-Control-Allow-Origin", p.origin.clone()),
                    ("Access-Control-Allow-Credentials", "true".to_owned()),
                    ("Vary", "Origin".to_owned()),
                ]
            } else {
                vec![("Vary", "Origin".to_owned())]
            }
        });
        let f = judge(&target, &observations, &Context::default());
        assert_eq!(classes(&f), [(Class::InsecureOrigin, Severity::Medium)]);
        assert!(f[0].explanation.contains("http://api.example.com"));
    }

    #[test]
    fn hsts_and_samesite_lower_the_severity() {
        let target = Target::new(&"https://api.example.com/x".parse().unwrap(), None).unwrap();
        let observations = observe(&target, |p, _| {
            let mut h = vec![
                ("Strict-Transport-Security", "max-age=31536000".to_owned()),
                ("Set-Cookie", "session=secret; Secure; HttpOnly".to_owned()),
                ("Vary", "Origin".to_owned()),
            ];
            if p.origin.starts_with("http://api.example.com")
                || p.origin == "https://api.example.com"
            {
                h.push(("Access-Control-Allow-Origin", p.origin.clone()));
                h.push(("Access-Control-Allow-Credentials", "true".to_owned()));
            }
            h
        });
        let f = judge(&target, &observations, &Context::default());
        assert_eq!(classes(&f), [(Class::InsecureOrigin, Severity::Low)]);
        let cookie = f[0]
            .evidence
            .headers
            .iter()
            .find(|(n, _)| n == "Set-Cookie")
            .unwrap();
        assert_eq!(cookie.1, "session=***; Secure; HttpOnly");
    }

    #[test]
    fn reflection_explains_the_narrower_classes() {
        let target = Target::new(&"https://api.example.com/x".parse().unwrap(), None).unwrap();
        let observations = observe(&target, |p, _| {
            vec![
                ("Access-Control-Allow-Origin", p.origin.clone()),
                ("Access-Control-Allow-Credentials", "true".to_owned()),
                ("Vary", "Origin".to_owned()),
            ]
        });
        let f = judge(
            &target,
            &observations,
            &Context {
                authenticated: true,
            },
        );
        assert_eq!(classes(&f), [(Class::OriginReflection, Severity::Critical)]);
        assert!(f[0].probes >= 2);
    }

    #[test]
    fn a_dotted_regex_is_exploitable_only_where_the_name_is_registrable() {
        let target = Target::new(&"https://api.example.com/x".parse().unwrap(), None).unwrap();
        for (allowed, severity) in [
            ("https://apiaexample.com", Severity::High),
            ("https://api.exampleacom", Severity::Low),
        ] {
            let observations = observe(&target, |p, _| {
                let mut h = vec![("Vary", "Origin".to_owned())];
                if p.origin == allowed || p.origin == "https://api.example.com" {
                    h.push(("Access-Control-Allow-Origin", p.origin.clone()));
                    h.push(("Access-Control-Allow-Credentials", "true".to_owned()));
                }
                h
            });
            let f = judge(&target, &observations, &Context::default());
            assert_eq!(classes(&f), [(Class::UnescapedDot, severity)], "{allowed}");
        }
    }

    #[test]
    fn a_correct_policy_has_no_finding() {
        let target = Target::new(&"https://api.example.com/x".parse().unwrap(), None).unwrap();
        let observations = observe(&target, |p, kind| {
            let mut h = vec![("Vary", "Origin".to_owned())];
            if p.origin == "https://api.example.com" {
                h.push(("Access-Control-Allow-Origin", p.origin.clone()));
                h.push(("Access-Control-Allow-Credentials", "true".to_owned()));
                if kind == RequestKind::Preflight {
                    h.push(("Access-Control-Allow-Methods", "PUT".to_owned()));
                    h.push(("Access-Control-Allow-Headers", "content-type".to_owned()));
                }
            }
            h
        });
        assert!(judge(&target, &observations, &Context::default()).is_empty());
    }
}
