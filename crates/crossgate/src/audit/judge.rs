//! From responses to findings: a probe is a finding only where a browser would let a page of the
//! probe's origin read the response (the agent's CORS check, as Chromium runs it), rated by what
//! an attacker needs to obtain such an origin and whether credentials come along.

use super::probe::Generator;
use super::severity::{
    Exposure, Reach, rate_missing_vary, rate_preflight_reflection, rate_private_network, rate_read,
};
use super::{Class, Evidence, Finding, Probe, RequestKind, Severity, Target};
use crate::agent::Profile;
use crate::agent::check::{cors_check, get, lines};
use crate::fetch::is_ok_status;
use crate::fetch::list::{RawElements, trim_ows};
use crate::origin::{Origin, registrable_domain};

/// One probe's response: what the caller sent, and the status and headers that came back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observation {
    /// The probe whose origin went as the request's `Origin`.
    pub probe: Probe,
    /// The simple request or its preflight.
    pub kind: RequestKind,
    /// The `Access-Control-Request-Method` a preflight sent; `None` for a simple request.
    pub requested_method: Option<String>,
    /// The `Access-Control-Request-Headers` a preflight sent (names joined by `,`); `None`
    /// when it asked for no header, and for a simple request.
    pub requested_headers: Option<String>,
    /// The HTTP status code. A preflight counts only with an ok status, 200 to 299 (Fetch
    /// §4.8, <https://fetch.spec.whatwg.org/#cors-preflight-fetch>).
    pub status: u16,
    /// The response headers, one pair a line as received (any name case, raw value bytes).
    /// Keep repeated lines apart: the CORS check combines them as a browser does (two
    /// `Access-Control-Allow-Credentials: true` lines make `true, true`, which it refuses).
    pub headers: Vec<(String, Vec<u8>)>,
    /// The request carried [`SESSION_PROBE_COOKIE`], as a browser with a session would.
    pub session_cookie: bool,
}

/// What the audit knows beyond the responses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Context {
    /// The requests carried the user's credentials (`-H Cookie` / `Authorization`).
    pub authenticated: bool,
    /// The user says the target is reachable only from a private network, whatever its name.
    pub internal: bool,
}

/// The header name every audit preflight asks for: no server allows it on purpose.
pub const PROBE_HEADER: &str = "x-crossgate-probe";

/// The method every audit preflight-reflection probe asks for: no server allows it on purpose.
pub const PROBE_METHOD: &str = "CROSSGATE-PROBE";

/// The cookie some simple requests carry, so that servers which answer differently to a
/// request with a session (Starlette before 1.0 reflects any origin then) show it. Never a
/// secret: the same made-up value on every run.
pub const SESSION_PROBE_COOKIE: &str = "crossgate_probe=session";

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

/// A `Set-Cookie` value with the cookie's value masked, its name and attributes kept:
/// `session=abc; Secure` -> `session=***; Secure`. Evidence shows which cookie, never its
/// secret.
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
        let directives: Vec<&str> = v.split(',').map(str::trim).collect();
        // A freshness lifetime above zero (`max-age=0` is revalidated every time).
        let fresh = directives.iter().any(|d| {
            d.strip_prefix("s-maxage=")
                .or_else(|| d.strip_prefix("max-age="))
                .and_then(|n| n.trim_matches('"').parse::<u64>().ok())
                .is_some_and(|n| n > 0)
        });
        fresh
            && !directives
                .iter()
                .any(|d| matches!(*d, "private" | "no-store" | "no-cache"))
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
fn special_character_reach(c: &str) -> (Reach, &'static str) {
    match c {
        "_" | "-" => (Reach::Anyone, "Chrome, Firefox and Safari send it"),
        "$" | "+" => (Reach::FirefoxAndSafari, "Firefox and Safari send it"),
        _ => (Reach::SafariOnly, "only Safari sends it"),
    }
}

/// Session cookies seen all saying `SameSite=Lax` or `Strict`: cross-site requests then carry
/// none. A cookie without the attribute rides along: only Chromium treats it as Lax; Firefox
/// and Safari send it cross-site.
fn cookies_stay_same_site(observations: &[Observation]) -> bool {
    let cookies: Vec<String> = observations
        .iter()
        .flat_map(|o| lines(&o.headers, "set-cookie"))
        .map(|v| {
            String::from_utf8_lossy(v)
                .to_ascii_lowercase()
                .replace(' ', "")
        })
        .collect();
    !cookies.is_empty()
        && cookies
            .iter()
            .all(|c| c.contains(";samesite=lax") || c.contains(";samesite=strict"))
}

struct Raw<'a> {
    class: Class,
    severity: Severity,
    observation: &'a Observation,
    explanation: String,
}

/// Which flawed check admitted a probe's origin, who can hold such an origin, and how.
fn admitted_by(target: &Target, o: &Observation, hsts: bool) -> (Class, Reach, String) {
    let origin = o.probe.origin.as_str();
    let subdomain = || {
        (
            Class::SubdomainTrust,
            Reach::SubdomainHolder,
            "an XSS or a takeover of any subdomain is enough".to_owned(),
        )
    };
    match o.probe.generator {
        Generator::Foreign | Generator::PrivateNetwork | Generator::Baseline => (
            Class::OriginReflection,
            Reach::Anyone,
            "any site can do this".to_owned(),
        ),
        Generator::Null => (
            Class::NullOrigin,
            Reach::Anyone,
            "a sandboxed iframe (`<iframe sandbox=\"allow-scripts\" srcdoc=...>`) sends Origin: \
             null"
                .to_owned(),
        ),
        Generator::PostDomain => (
            Class::PrefixMatch,
            Reach::Anyone,
            "the attacker only needs DNS under their own domain".to_owned(),
        ),
        Generator::Localhost if origin.starts_with("http://localhost:") => (
            Class::LocalhostOrigin,
            Reach::LocalProgram,
            "any program on the visitor's machine can serve that origin".to_owned(),
        ),
        Generator::Localhost => (
            Class::PrefixMatch,
            Reach::Anyone,
            "a `localhost.` prefix on the attacker's domain passes".to_owned(),
        ),
        Generator::PreDomain | Generator::Substring | Generator::UnescapedDot => {
            let class = match o.probe.generator {
                Generator::PreDomain => Class::SuffixMatch,
                Generator::Substring => Class::SubstringMatch,
                _ => Class::UnescapedDot,
            };
            if registrable_elsewhere(target, origin) {
                (
                    class,
                    Reach::Anyone,
                    "the attacker can register that name".to_owned(),
                )
            } else if under_target_domain(target, origin) {
                // `xapi.example.com` is a subdomain: what let it through is subdomain trust.
                subdomain()
            } else {
                (
                    class,
                    Reach::Nobody,
                    "that name is not registrable by an attacker".to_owned(),
                )
            }
        }
        Generator::Subdomain => subdomain(),
        Generator::Insecure if target.scheme == "https" => (
            Class::InsecureOrigin,
            Reach::NetworkAttacker { hsts },
            if hsts {
                "an attacker on the network path could impersonate it (HSTS on this host \
                 reduces that)"
                    .to_owned()
            } else {
                "an attacker on the network path can impersonate it".to_owned()
            },
        ),
        Generator::Insecure => subdomain(),
        Generator::ThirdParty => (
            Class::ThirdPartyOrigin,
            Reach::Anyone,
            "anyone can publish a page there".to_owned(),
        ),
        Generator::SpecialCharacter => {
            let c = o.probe.note.as_deref().unwrap_or_default();
            let (reach, who) = special_character_reach(c);
            (Class::SpecialCharacters, reach, format!("`{c}`: {who}"))
        }
        Generator::Port => (
            Class::PortTrust,
            Reach::OtherPort,
            "it needs control of another port on the same host".to_owned(),
        ),
        Generator::NonCanonical => (
            Class::NonCanonicalOrigin,
            Reach::Nobody,
            "browsers never send this spelling: the check is loose, not yet exploitable".to_owned(),
        ),
    }
}

/// What a finding seen with the probe cookie adds to its explanation, when the same request
/// without it was not readable with credentials.
fn cookie_note(o: &Observation, observations: &[Observation], chromium: &Profile) -> String {
    if !o.session_cookie {
        return String::new();
    }
    let without_cookie_also = observations.iter().any(|twin| {
        !twin.session_cookie
            && twin.kind == o.kind
            && twin.probe == o.probe
            && cors_check(chromium, &twin.probe.origin, true, &twin.headers).is_ok()
    });
    if !without_cookie_also {
        format!(
            " The server answered so only when the request carried a cookie (the audit sent \
             `{SESSION_PROBE_COOKIE}`, as a browser with any session on this site would); \
             without one it did not."
        )
    } else {
        String::new()
    }
}

/// The preflights that echoed a made-up method or header back, as their own finding; its
/// severity comes from the widest read granted to an attacker's origin (`widest`).
fn preflight_reflection<'a>(
    observations: &'a [Observation],
    chromium: &Profile,
    widest: Option<Severity>,
) -> Option<Raw<'a>> {
    let echoing = |o: &&Observation| {
        o.kind == RequestKind::Preflight
            && o.probe.generator == Generator::Baseline
            && is_ok_status(o.status)
            && cors_check(chromium, &o.probe.origin, false, &o.headers).is_ok()
    };
    let header = observations.iter().filter(echoing).find(|o| {
        o.requested_headers.as_deref() == Some(PROBE_HEADER)
            && list_contains(o, "access-control-allow-headers", PROBE_HEADER)
    });
    let method = observations.iter().filter(echoing).find(|o| {
        o.requested_method.as_deref() == Some(PROBE_METHOD)
            && list_contains(o, "access-control-allow-methods", PROBE_METHOD)
    });
    let witness = header.or(method)?;
    let echoed = [
        header.map(|_| format!("the made-up header `{PROBE_HEADER}`")),
        method.map(|_| format!("the made-up method `{PROBE_METHOD}`")),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" and ");
    let severity = rate_preflight_reflection(widest);
    let reach = match widest {
        None => {
            "Only origins it trusts are admitted, so this grants an attacker nothing today; it \
             would widen any future mistake in the origin check."
        }
        Some(Severity::Info) => {
            "The origins an attacker can hold are admitted only where that grants nothing (no \
             credentials on a public host), so any method and header they send grants nothing \
             either."
        }
        Some(_) => {
            "Origins an attacker can hold are admitted (see the other findings), so they may \
             send any method and header, rated one step below what they can read."
        }
    };
    Some(Raw {
        class: Class::PreflightReflection,
        severity,
        observation: witness,
        explanation: format!("The preflight allowed whatever it was asked: {echoed}. {reach}"),
    })
}

/// Judges every observation; one finding per class, the most severe, rated by the severity
/// model (`severity.rs`).
///
/// An observation is a finding only where Chromium's CORS check
/// (<https://fetch.spec.whatwg.org/#cors-check>) lets a page of the probe's origin read the
/// response: with credentials when `Access-Control-Allow-Credentials: true` comes with the
/// echoed origin, else without. A preflight needs an ok status too. The baseline probe (the
/// target's own origin) is only compared with (`missing-vary`, `preflight-reflection`). A
/// class that a broader flaw rated at least as high already explains
/// ([`Class::explained_by`]) is left out. The findings come most severe first, then in
/// [`Class`] order; an empty list means no observation showed any class.
///
/// ```
/// use crossgate::audit::{
///     Class, Context, Generator, Observation, RequestKind, Severity, Target, judge,
///     parse_target, probes,
/// };
///
/// let target = Target::new(&parse_target("https://api.example.com/me").unwrap(), None).unwrap();
/// let all = probes(&target, "k3x9q", "crossgate-probe.example");
/// let foreign = all.iter().find(|p| p.generator == Generator::Foreign).unwrap();
/// // The response to a simple request sent with `Origin: https://k3x9q.crossgate-probe.example`.
/// let answer = |headers: &[(&str, &str)]| Observation {
///     probe: foreign.clone(),
///     kind: RequestKind::Simple,
///     requested_method: None,
///     requested_headers: None,
///     status: 200,
///     headers: headers.iter().map(|(n, v)| (n.to_string(), v.as_bytes().to_vec())).collect(),
///     session_cookie: false,
/// };
///
/// // The attacker's origin echoed, with credentials: any site reads with the user's cookies.
/// let echoed = answer(&[
///     ("Access-Control-Allow-Origin", foreign.origin.as_str()),
///     ("Access-Control-Allow-Credentials", "true"),
///     ("Vary", "Origin"),
/// ]);
/// let findings = judge(&target, &[echoed.clone()], &Context::default());
/// assert_eq!(findings.len(), 1);
/// assert_eq!(findings[0].class, Class::OriginReflection);
/// assert_eq!(findings[0].severity, Severity::High);
/// assert_eq!(findings[0].probe_origin, "https://k3x9q.crossgate-probe.example");
///
/// // Seen while the requests carried the user's session (`-H Cookie`): critical.
/// let with_session = Context { authenticated: true, ..Context::default() };
/// assert_eq!(judge(&target, &[echoed], &with_session)[0].severity, Severity::Critical);
///
/// // No `Access-Control-Allow-Origin`: the browser lets the page read nothing.
/// let refused = answer(&[("Vary", "Origin")]);
/// assert!(judge(&target, &[refused], &Context::default()).is_empty());
/// ```
pub fn judge(target: &Target, observations: &[Observation], context: &Context) -> Vec<Finding> {
    let chromium = Profile::chromium();
    let baseline_simple = observations.iter().find(|o| {
        o.probe.generator == Generator::Baseline
            && o.kind == RequestKind::Simple
            && !o.session_cookie
    });
    let hsts = baseline_simple.is_some_and(|o| {
        lines(&o.headers, "strict-transport-security")
            .next()
            .is_some()
    });
    let exposure = Exposure {
        private_target: context.internal || target.is_private(),
        same_site_cookies: cookies_stay_same_site(observations),
        authenticated: context.authenticated,
    };
    let mut raw: Vec<Raw<'_>> = Vec::new();
    // The widest read granted to an attacker's origin, which an echoing preflight extends to
    // any method and header: middleware applies one method and header policy to every origin
    // it admits, so the own origin's echo holds for them too.
    let mut widest_attacker_read: Option<Severity> = None;

    for o in observations {
        let origin = o.probe.origin.as_str();
        if o.probe.generator == Generator::Baseline
            // A preflight passes only with an ok status (Fetch §4.8, CORS-preflight fetch).
            || (o.kind == RequestKind::Preflight && !is_ok_status(o.status))
        {
            continue;
        }
        if cors_check(&chromium, origin, false, &o.headers).is_err() {
            continue;
        }
        let credentialed = cors_check(&chromium, origin, true, &o.headers).is_ok();
        // A request with the probe cookie stands for a credentialed fetch by a page of a
        // visitor with a session; an anonymous fetch would have sent none.
        if o.session_cookie && !credentialed {
            continue;
        }
        if o.probe.generator == Generator::PrivateNetwork
            && o.kind == RequestKind::Preflight
            && get(&o.headers, "access-control-allow-private-network").as_deref()
                == Some(&b"true"[..])
        {
            raw.push(Raw {
                class: Class::PrivateNetworkReflection,
                severity: rate_private_network(&exposure),
                observation: o,
                explanation: format!(
                    "A preflight from {origin} asking for private-network access got \
                     Access-Control-Allow-Private-Network: true."
                ),
            });
        }
        let acao = get(&o.headers, "access-control-allow-origin").unwrap_or_default();
        if acao == b"*" {
            // Browsers refuse `*` to credentialed requests: with or without
            // Access-Control-Allow-Credentials, any page reads without cookies, nothing more.
            let severity = rate_read(Reach::Anyone, false, &exposure);
            widest_attacker_read = widest_attacker_read.max(Some(severity));
            let with_credentials = get(&o.headers, "access-control-allow-credentials").as_deref()
                == Some(&b"true"[..]);
            let (class, what) = if with_credentials {
                (
                    Class::WildcardWithCredentials,
                    "The server answers `*` together with Access-Control-Allow-Credentials: \
                     true. Browsers refuse credentialed reads of it, so any page reads it \
                     without cookies, as with `*` alone; the pair shows that credentialed \
                     access was wanted, which such servers often grant by reflecting the \
                     origin instead.",
                )
            } else {
                (
                    Class::WildcardOrigin,
                    "Any web page can read these responses without credentials.",
                )
            };
            let reach = if exposure.private_target {
                " This private-network or local service is then readable through any visitor's \
                 browser (or by DNS rebinding)."
            } else {
                " That grants nothing a request from anywhere cannot get: fine for public data (if \
                 only a private network reaches this host, audit it with --internal)."
            };
            raw.push(Raw {
                class,
                severity,
                observation: o,
                explanation: format!("{what}{reach}"),
            });
            continue;
        }
        // The server named the probe's origin: which flawed check let it through?
        let (class, reach, how) = admitted_by(target, o, hsts);
        let severity = rate_read(reach, credentialed, &exposure);
        widest_attacker_read = widest_attacker_read.max(Some(severity));
        let with = if credentialed {
            " with the user's cookies (Access-Control-Allow-Credentials: true)"
        } else if exposure.private_target {
            " without credentials, which on this private-network or local service is what the \
             visitor's browser alone can reach"
        } else {
            " without credentials, which gains nothing a request from anywhere cannot get (if \
             only a private network reaches this host, audit it with --internal)"
        };
        raw.push(Raw {
            class,
            severity,
            observation: o,
            explanation: format!(
                "A page at {origin} can read this response{with}: the server answered \
                 Access-Control-Allow-Origin: {}; {how}.{}",
                String::from_utf8_lossy(&acao),
                cookie_note(o, observations, &chromium),
            ),
        });
    }
    raw.extend(preflight_reflection(
        observations,
        &chromium,
        widest_attacker_read,
    ));

    // G16: a dynamic Access-Control-Allow-Origin without Vary: Origin.
    let foreign_simple = observations.iter().find(|o| {
        o.probe.generator == Generator::Foreign
            && o.kind == RequestKind::Simple
            && !o.session_cookie
    });
    if let (Some(b), Some(f)) = (baseline_simple, foreign_simple) {
        let acao = |o: &Observation| get(&o.headers, "access-control-allow-origin");
        if acao(b) != acao(f) && !varies_on_origin(b) && !varies_on_origin(f) {
            let stored = cacheable(b) || cacheable(f);
            let witness = if acao(b).is_some() { b } else { f };
            let shown = |o: &Observation| {
                acao(o).map_or("none".to_owned(), |v| {
                    String::from_utf8_lossy(&v).into_owned()
                })
            };
            raw.push(Raw {
                class: Class::MissingVary,
                severity: rate_missing_vary(stored),
                observation: witness,
                explanation: format!(
                    "Access-Control-Allow-Origin differs by Origin ({} for {}, {} for {}) but \
                     Vary lacks Origin, so a cache can serve one origin's answer to another{}.",
                    shown(b),
                    b.probe.origin,
                    shown(f),
                    f.probe.origin,
                    if stored {
                        ": the response is cacheable, so a shared cache can deny the other \
                         origins access"
                    } else {
                        " (the browser's own cache: breakage, not a grant)"
                    }
                ),
            });
        }
    }
    findings(raw)
}

/// One finding per class (the most severe observation), leaving out what a broader flaw
/// already explains ([`Class::explained_by`]), but only when that flaw is rated at least as
/// high: an origin echoed without credentials (info) never hides a look-alike admitted with
/// them (high).
fn findings(raw: Vec<Raw<'_>>) -> Vec<Finding> {
    let worst = |c: Class| {
        raw.iter()
            .filter(|r| r.class == c)
            .map(|r| r.severity)
            .max()
    };
    let implied = |c: Class| {
        let own = worst(c);
        c.explained_by().iter().any(|&b| worst(b) >= own)
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
                    session_cookie: false,
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
    fn explicit_samesite_cookies_lower_cross_site_reads_only() {
        let target = Target::new(&"https://api.example.com/x".parse().unwrap(), None).unwrap();
        // Echoes `null` and every subdomain, with credentials.
        let run = |cookie: &'static str| {
            let observations = observe(&target, |p, _| {
                let mut h = vec![
                    ("Set-Cookie", cookie.to_owned()),
                    ("Vary", "Origin".to_owned()),
                ];
                let sub = p.origin.ends_with(".api.example.com") && p.origin.starts_with("https:");
                if p.origin == "null" || sub || p.origin == "https://api.example.com" {
                    h.push(("Access-Control-Allow-Origin", p.origin.clone()));
                    h.push(("Access-Control-Allow-Credentials", "true".to_owned()));
                }
                h
            });
            classes(&judge(&target, &observations, &Context::default()))
        };
        // SameSite=None, or no attribute (Firefox and Safari send it cross-site): as rated.
        for cookie in ["s=1; Secure; SameSite=None", "s=1; Secure"] {
            assert_eq!(
                run(cookie),
                [
                    (Class::NullOrigin, Severity::High),
                    (Class::SubdomainTrust, Severity::Medium)
                ],
                "{cookie}"
            );
        }
        // Lax: `null` is cross-site and goes down; a subdomain is the same site and does not.
        assert_eq!(
            run("s=1; Secure; SameSite=Lax"),
            [
                (Class::NullOrigin, Severity::Medium),
                (Class::SubdomainTrust, Severity::Medium)
            ]
        );
    }

    #[test]
    fn a_broad_flaw_rated_lower_hides_nothing() {
        let target = Target::new(&"https://api.example.com/x".parse().unwrap(), None).unwrap();
        // Every origin echoed without credentials; credentials only for the prefix match.
        let observations = observe(&target, |p, _| {
            let mut h = vec![
                ("Vary", "Origin".to_owned()),
                ("Access-Control-Allow-Origin", p.origin.clone()),
            ];
            if p.origin.starts_with("https://api.example.com") {
                h.push(("Access-Control-Allow-Credentials", "true".to_owned()));
            }
            h
        });
        let f = classes(&judge(&target, &observations, &Context::default()));
        assert!(f.contains(&(Class::PrefixMatch, Severity::High)), "{f:?}");
        assert!(
            f.contains(&(Class::OriginReflection, Severity::Info)),
            "{f:?}"
        );
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
                ..Context::default()
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
            ("https://api.exampleacom", Severity::Info),
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
    fn a_server_reflecting_only_to_a_session_says_so() {
        let target = Target::new(&"https://api.example.com/x".parse().unwrap(), None).unwrap();
        // Starlette before 1.0 with allow_origins=["*"], allow_credentials=True.
        let starlette = |reflect_without_cookie: bool| {
            let mut observations = observe(&target, |_, _| {
                vec![
                    ("Access-Control-Allow-Origin", "*".to_owned()),
                    ("Access-Control-Allow-Credentials", "true".to_owned()),
                ]
            });
            let foreign = observations
                .iter()
                .find(|o| o.probe.generator == Generator::Foreign)
                .unwrap()
                .probe
                .clone();
            if reflect_without_cookie {
                let o = observations
                    .iter_mut()
                    .find(|o| o.probe == foreign && o.kind == RequestKind::Simple)
                    .unwrap();
                o.headers[0].1 = foreign.origin.clone().into_bytes();
            }
            // First, so that the judge meets it before its twin without the cookie.
            observations.insert(
                0,
                Observation {
                    probe: foreign.clone(),
                    kind: RequestKind::Simple,
                    requested_method: None,
                    requested_headers: None,
                    status: 200,
                    headers: vec![
                        (
                            "Access-Control-Allow-Origin".to_owned(),
                            foreign.origin.clone().into_bytes(),
                        ),
                        (
                            "Access-Control-Allow-Credentials".to_owned(),
                            b"true".to_vec(),
                        ),
                    ],
                    session_cookie: true,
                },
            );
            judge(&target, &observations, &Context::default())
        };
        let f = starlette(false);
        assert_eq!(
            classes(&f),
            [
                (Class::OriginReflection, Severity::High),
                (Class::WildcardWithCredentials, Severity::Info)
            ]
        );
        assert!(
            f[0].explanation.contains(SESSION_PROBE_COOKIE),
            "{}",
            f[0].explanation
        );
        // Reflected with and without the cookie: the cookie changed nothing, so no note.
        let f = starlette(true);
        assert_eq!(f[0].class, Class::OriginReflection);
        assert!(
            !f[0].explanation.contains(SESSION_PROBE_COOKIE),
            "{}",
            f[0].explanation
        );
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
