//! `PolicyConfig` -> `Policy`, or every problem at once.
//!
//! Each rule returns a typed [`Problem`] with the field, the value, the reason and a fix.
//! Errors refuse the configuration; warnings say what was normalised or is probably unintended.

use super::config::PolicyConfig;
use std::collections::HashSet;

use super::matcher::OriginMatcher;
use super::pattern::{HostPattern, OriginPattern, parse_pattern};
use super::problem::{Problem, ProblemCode};
use crate::browser::Browser;
use crate::fetch::{header, is_token, method};

/// The longest request-header name a policy may list. Names are looked up case-insensitively
/// through a stack buffer of this size, so the hot path never allocates.
pub const MAX_HEADER_NAME_LEN: usize = 128;

/// What validation produced: the normalised parts of a policy, ready to compile, and every
/// problem found.
#[derive(Debug)]
pub(crate) struct Validated {
    pub origins: OriginMatcher,
    pub methods: Wild<Vec<Vec<u8>>>,
    pub headers: Wild<Vec<Vec<u8>>>,
    /// With `Wild::Any`, whether `authorization` was listed besides `*`.
    pub headers_authorization: bool,
    pub expose: Wild<Vec<Vec<u8>>>,
    pub max_age: Option<u32>,
    pub problems: Vec<Problem>,
}

/// A list that is either `*` or explicit items.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Wild<T> {
    Any,
    List(T),
}

pub(crate) fn validate(config: &PolicyConfig) -> Validated {
    let mut problems = Vec::new();
    let origins = validate_origins(config, &mut problems);
    let methods = validate_methods(config, &mut problems);
    let (headers, headers_authorization) = validate_request_headers(config, &mut problems);
    let expose = validate_expose_headers(config, &mut problems);
    let max_age = validate_max_age(config, &mut problems);
    Validated {
        origins,
        methods,
        headers,
        headers_authorization,
        expose,
        max_age,
        problems,
    }
}

fn item_field(list: &str, i: usize) -> String {
    format!("{list}[{i}]")
}

fn validate_origins(config: &PolicyConfig, problems: &mut Vec<Problem>) -> OriginMatcher {
    let mut matcher = OriginMatcher::with_capacity(config.allow_origins.len());
    let mut listed: Vec<(usize, OriginPattern)> = Vec::new();
    for (i, input) in config.allow_origins.iter().enumerate() {
        let field = item_field(ORIGINS, i);
        let Some(pattern) = parse_origin(&field, input, problems) else {
            continue;
        };
        if !matcher.insert(&pattern) {
            problems.push(duplicate(&field, input));
            continue;
        }
        listed.push((i, pattern));
    }
    wildcard_rules(
        config,
        &matcher,
        || list_text(&config.allow_origins),
        problems,
    );
    for (i, p) in &listed {
        pattern_rules(
            config,
            &item_field(ORIGINS, *i),
            &config.allow_origins[*i],
            p,
            problems,
        );
    }
    for (i, p) in &listed {
        redundancy_rule(
            &matcher,
            &item_field(ORIGINS, *i),
            &config.allow_origins[*i],
            p,
            problems,
        );
    }
    if config.allow_origins.is_empty() {
        problems.push(no_origin_allowed());
    }
    matcher
}

pub(crate) const ORIGINS: &str = "allow_origins";

/// Parses one listed origin pattern: `None` (and an error) if it is not one, a warning if it was
/// normalised.
pub(crate) fn parse_origin(
    field: &str,
    input: &str,
    problems: &mut Vec<Problem>,
) -> Option<OriginPattern> {
    let parsed = match parse_pattern(input) {
        Ok(p) => p,
        Err(e) => {
            problems.push(Problem::error(e.code, field, input, e.message, e.fix));
            return None;
        }
    };
    if !parsed.normalized.is_empty() {
        let normal = parsed.pattern.to_string();
        problems.push(Problem::warning(
            ProblemCode::OriginNormalized,
            field,
            input,
            format!(
                "normalised to `{normal}` ({}); browsers send only the normal form",
                parsed.normalized.join(", ")
            ),
            format!("write \"{normal}\""),
        ));
    }
    Some(parsed.pattern)
}

/// The rules on `*` among the allowed origins (`origins` is the whole list, as text, for the
/// message).
pub(crate) fn wildcard_rules(
    config: &PolicyConfig,
    matcher: &OriginMatcher,
    origins: impl FnOnce() -> String,
    problems: &mut Vec<Problem>,
) {
    if !matcher.is_any() {
        return;
    }
    if matcher.len() > 1 {
        problems.push(Problem::error(
            ProblemCode::WildcardMixed,
            ORIGINS,
            origins(),
            "`*` already allows every origin, so the other items are meaningless: \
             was `*` meant, or only the listed origins?",
            "keep either [\"*\"] alone or only the origins",
        ));
    }
    if config.allow_credentials {
        problems.push(Problem::error(
            ProblemCode::WildcardOriginWithCredentials,
            ORIGINS,
            "*",
            "browsers refuse `Access-Control-Allow-Origin: *` on credentialed requests, and \
             reflecting every origin instead would let any website act as your users",
            "list the origins that need credentials, or set allow_credentials = false",
        ));
    }
    if config.allow_private_network {
        problems.push(Problem::error(
            ProblemCode::PrivateNetworkWithWildcardOrigin,
            "allow_private_network",
            "true",
            "with allow_origins = [\"*\"] every website on the internet could reach this \
             private-network service",
            "list the origins that may reach the private network",
        ));
    }
}

/// The rules on one pattern given the rest of the policy: insecure and public-suffix patterns
/// with credentials (errors), public-suffix patterns without (a warning).
pub(crate) fn pattern_rules(
    config: &PolicyConfig,
    field: &str,
    input: &str,
    pattern: &OriginPattern,
    problems: &mut Vec<Problem>,
) {
    if config.allow_credentials {
        credential_checks(config, field, input, pattern, problems);
    } else if let Some(base) = public_suffix_base(pattern) {
        problems.push(Problem::warning(
            ProblemCode::PublicSuffixWildcard,
            field,
            input,
            format!(
                "`{base}` is a public suffix: anyone can register a site under it and \
                 read these responses"
            ),
            "fine for public data; otherwise list your own sites",
        ));
    }
}

/// A warning if another pattern of `matcher` already allows everything `pattern` allows.
pub(crate) fn redundancy_rule(
    matcher: &OriginMatcher,
    field: &str,
    input: &str,
    pattern: &OriginPattern,
    problems: &mut Vec<Problem>,
) {
    if let Some(by) = matcher.covering(pattern) {
        problems.push(Problem::warning(
            ProblemCode::OriginRedundant,
            field,
            input,
            format!("already covered by `{by}`"),
            "remove it",
        ));
    }
}

/// The warning for a policy that allows no origin.
pub(crate) fn no_origin_allowed() -> Problem {
    Problem::warning(
        ProblemCode::NoOriginAllowed,
        ORIGINS,
        "[]",
        "no origin is allowed, so browsers block every cross-origin request",
        "list the origins of your front ends, e.g. [\"https://app.example.com\"]",
    )
}

fn credential_checks(
    config: &PolicyConfig,
    field: &str,
    input: &str,
    pattern: &OriginPattern,
    problems: &mut Vec<Problem>,
) {
    if *pattern == OriginPattern::Any {
        return;
    }
    if insecure_with_credentials(config, pattern.is_secure()) {
        problems.push(Problem::error(
            ProblemCode::InsecureOriginWithCredentials,
            field,
            input,
            "an unencrypted origin (http:, ws:) other than loopback can be impersonated by anyone \
             on the network path, who could then read your users' credentialed responses",
            "use the https origin, or set dangerously_tolerate_insecure_origins = true",
        ));
    }
    if let Some(base) = public_suffix_base(pattern)
        && !config.dangerously_tolerate_public_suffix_subdomains
    {
        problems.push(Problem::error(
            ProblemCode::PublicSuffixWildcardWithCredentials,
            field,
            input,
            format!(
                "`{base}` is a public suffix: anyone can register a site under it and act as \
                 your users"
            ),
            "list your own sites, or set dangerously_tolerate_public_suffix_subdomains = true",
        ));
    }
}

/// Whether `config` must refuse an origin that is (`secure`) or is not potentially trustworthy:
/// an insecure origin is refused with credentials unless the policy tolerates it. Shared by the
/// configured patterns and the origins a resolver grants, so the two cannot disagree.
pub(crate) fn insecure_with_credentials(config: &PolicyConfig, secure: bool) -> bool {
    config.allow_credentials && !secure && !config.dangerously_tolerate_insecure_origins
}

/// The base of a `*.` pattern when it is a public suffix (Public Suffix List, ICANN and private
/// sections, as browsers use it for sites).
fn public_suffix_base(pattern: &OriginPattern) -> Option<&str> {
    let OriginPattern::Origins {
        host: HostPattern::Subdomains(base),
        ..
    } = pattern
    else {
        return None;
    };
    let name = base.strip_suffix('.').unwrap_or(base);
    let suffix = psl::suffix(name.as_bytes())?;
    (suffix.is_known() && suffix.as_bytes() == name.as_bytes()).then_some(base.as_str())
}

fn duplicate(field: &str, value: &str) -> Problem {
    Problem::warning(
        ProblemCode::Duplicate,
        field,
        value,
        "listed more than once",
        "remove the repetition",
    )
}

fn list_text(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_default()
}

fn empty_name(field: String, what: &str) -> Problem {
    Problem::error(
        ProblemCode::EmptyName,
        field,
        "",
        format!("an empty {what} name"),
        "remove the empty item",
    )
}

/// `*` mixed with other items: reported once per list, naming the items.
fn wildcard_mixed(field: &str, others: &[&str], why: &str) -> Problem {
    Problem::error(
        ProblemCode::WildcardMixed,
        field,
        list_text(&others.iter().map(|s| s.to_string()).collect::<Vec<_>>()),
        format!("`*` already covers these items; {why}"),
        "keep either \"*\" or the names, not both",
    )
}

fn validate_methods(config: &PolicyConfig, problems: &mut Vec<Problem>) -> Wild<Vec<Vec<u8>>> {
    const FIELD: &str = "allow_methods";
    let mut any = false;
    let mut list: Vec<Vec<u8>> = Vec::new();
    let mut seen: HashSet<Vec<u8>> = HashSet::new();
    let mut others: Vec<&str> = Vec::new();
    for (i, input) in config.allow_methods.iter().enumerate() {
        let field = item_field(FIELD, i);
        let name = input.trim();
        if name.is_empty() {
            problems.push(empty_name(field, "method"));
            continue;
        }
        if name == "*" {
            any = true;
            continue;
        }
        if !is_token(name.as_bytes()) {
            let fix = if name.contains(',') {
                "list each method as its own item: [\"GET\", \"PUT\"]".to_owned()
            } else {
                "write a method name such as PUT".to_owned()
            };
            problems.push(Problem::error(
                ProblemCode::MethodInvalid,
                field,
                input,
                "not a method name (a token: letters, digits and !#$%&'*+-.^_`|~, no spaces)",
                fix,
            ));
            continue;
        }
        if method::is_forbidden(name.as_bytes()) {
            problems.push(Problem::error(
                ProblemCode::MethodForbidden,
                field,
                input,
                "browsers never let script send CONNECT, TRACE or TRACK",
                "remove it",
            ));
            continue;
        }
        let normal = method::normalize(name.as_bytes()).into_owned();
        // Fetch §2.2.1: a browser never preflights a CORS-safelisted method; always allowed.
        if method::is_cors_safelisted(&normal) {
            continue;
        }
        if let Some(upper) = method::is_lowercase_variant_of_common_method(&normal) {
            problems.push(Problem::warning(
                ProblemCode::MethodCase,
                &field,
                input,
                format!(
                    "browsers upper-case only DELETE, GET, HEAD, OPTIONS, POST and PUT; any other \
                     method is sent exactly as script wrote it and compared case-sensitively, so \
                     this allows `{name}` but not `{upper}`"
                ),
                format!("write \"{upper}\" (list both if scripts use both spellings)"),
            ));
        }
        if !seen.insert(normal.clone()) {
            problems.push(duplicate(&field, input));
            continue;
        }
        others.push(input);
        list.push(normal);
    }
    if any && !others.is_empty() {
        problems.push(wildcard_mixed(
            FIELD,
            &others,
            "was every method meant, or only these?",
        ));
    }
    if any { Wild::Any } else { Wild::List(list) }
}

fn validate_request_headers(
    config: &PolicyConfig,
    problems: &mut Vec<Problem>,
) -> (Wild<Vec<Vec<u8>>>, bool) {
    const FIELD: &str = "allow_headers";
    let mut any = false;
    let mut list: Vec<Vec<u8>> = Vec::new();
    let mut seen: HashSet<Vec<u8>> = HashSet::new();
    let mut others: Vec<&str> = Vec::new();
    for (i, input) in config.allow_headers.iter().enumerate() {
        let field = item_field(FIELD, i);
        let name = input.trim();
        if name.is_empty() {
            problems.push(empty_name(field, "header"));
            continue;
        }
        if name == "*" {
            any = true;
            continue;
        }
        if let Some(p) = header_name_problem(name, &field, input) {
            problems.push(p);
            continue;
        }
        let bytes = name.as_bytes();
        if name.len() > MAX_HEADER_NAME_LEN {
            problems.push(Problem::error(
                ProblemCode::HeaderNameTooLong,
                field,
                input,
                format!("longer than {MAX_HEADER_NAME_LEN} bytes"),
                "use a shorter header name",
            ));
            continue;
        }
        if header::is_forbidden_request_header_name(bytes) {
            problems.push(Problem::error(
                ProblemCode::HeaderForbidden,
                field,
                input,
                "a forbidden request header: the browser sets it itself and script never can, so \
                 a preflight never asks for it",
                "remove it",
            ));
            continue;
        }
        if header::is_cors_response_header_name(bytes) {
            problems.push(Problem::error(
                ProblemCode::HeaderProhibited,
                field,
                input,
                "a CORS response header: it belongs in responses, never in requests",
                "remove it; to let script read a response header, use expose_headers",
            ));
            continue;
        }
        let lower = name.to_ascii_lowercase().into_bytes();
        if !seen.insert(lower.clone()) {
            problems.push(duplicate(&field, input));
            continue;
        }
        if !header::is_cors_non_wildcard_request_header_name(&lower) {
            others.push(input);
        }
        list.push(lower);
    }
    if any && !others.is_empty() {
        problems.push(wildcard_mixed(
            FIELD,
            &others,
            "only `authorization` may be listed besides `*`, because `*` never covers it",
        ));
    }
    if any {
        let authorization = list
            .iter()
            .any(|n| header::is_cors_non_wildcard_request_header_name(n));
        (Wild::Any, authorization)
    } else {
        (Wild::List(list), false)
    }
}

/// A header name that is not a token, with a fix suited to the usual mistakes.
fn header_name_problem(name: &str, field: &str, input: &str) -> Option<Problem> {
    if is_token(name.as_bytes()) {
        return None;
    }
    let fix = if name.contains(',') {
        "list each name as its own item: [\"content-type\", \"x-token\"]".to_owned()
    } else if let Some((n, _)) = name.split_once(':') {
        format!("write the name only: \"{}\"", n.trim())
    } else {
        "write a header name such as x-request-id".to_owned()
    };
    Some(Problem::error(
        ProblemCode::HeaderInvalid,
        field,
        input,
        "not a header name (a token: letters, digits and !#$%&'*+-.^_`|~, no spaces)",
        fix,
    ))
}

fn validate_expose_headers(
    config: &PolicyConfig,
    problems: &mut Vec<Problem>,
) -> Wild<Vec<Vec<u8>>> {
    const FIELD: &str = "expose_headers";
    let mut any = false;
    let mut list: Vec<Vec<u8>> = Vec::new();
    let mut seen: HashSet<Vec<u8>> = HashSet::new();
    let mut others: Vec<&str> = Vec::new();
    for (i, input) in config.expose_headers.iter().enumerate() {
        let field = item_field(FIELD, i);
        let name = input.trim();
        if name.is_empty() {
            problems.push(empty_name(field, "header"));
            continue;
        }
        if name == "*" {
            any = true;
            continue;
        }
        if let Some(p) = header_name_problem(name, &field, input) {
            problems.push(p);
            continue;
        }
        let bytes = name.as_bytes();
        if header::is_forbidden_response_header_name(bytes) {
            problems.push(Problem::error(
                ProblemCode::ExposeForbidden,
                field,
                input,
                "browsers never let script read Set-Cookie, whatever the server says",
                "remove it; cookies are handled by the browser",
            ));
            continue;
        }
        if header::is_cors_response_header_name(bytes) || header::is_cors_request_header_name(bytes)
        {
            problems.push(Problem::error(
                ProblemCode::ExposeProhibited,
                field,
                input,
                "a CORS protocol header: exposing it to script serves no purpose",
                "remove it",
            ));
            continue;
        }
        if header::is_cors_safelisted_response_header_name(bytes) {
            problems.push(Problem::warning(
                ProblemCode::ExposeSafelisted,
                field,
                input,
                "a CORS-safelisted response header: script can always read it",
                "remove it",
            ));
            continue;
        }
        let lower = name.to_ascii_lowercase().into_bytes();
        if !seen.insert(lower.clone()) {
            problems.push(duplicate(&field, input));
            continue;
        }
        others.push(input);
        list.push(lower);
    }
    if any && !others.is_empty() {
        problems.push(wildcard_mixed(
            FIELD,
            &others,
            "was every header meant, or only these?",
        ));
    }
    if any && config.allow_credentials {
        problems.push(Problem::error(
            ProblemCode::ExposeWildcardWithCredentials,
            FIELD,
            "*",
            "browsers treat `Access-Control-Expose-Headers: *` as the literal name `*` on \
             credentialed requests, so nothing would be exposed",
            "list the response headers script needs, e.g. [\"x-request-id\"]",
        ));
    }
    if any { Wild::Any } else { Wild::List(list) }
}

fn validate_max_age(config: &PolicyConfig, problems: &mut Vec<Problem>) -> Option<u32> {
    const FIELD: &str = "max_age";
    let value = config.max_age?;
    if value < 0 {
        problems.push(Problem::error(
            ProblemCode::MaxAgeNegative,
            FIELD,
            value.to_string(),
            "a negative max age is not valid HTTP (`delta-seconds`)",
            "write 0 to disable preflight caching, or leave max_age out (browsers then cache 5 s)",
        ));
        return None;
    }
    let Ok(seconds) = u32::try_from(value) else {
        problems.push(Problem::error(
            ProblemCode::MaxAgeOutOfRange,
            FIELD,
            value.to_string(),
            "far beyond what any browser honours",
            "write at most 86400 (one day, Firefox's cap)",
        ));
        return None;
    };
    let capped: Vec<String> = Browser::ALL
        .iter()
        .filter(|b| u64::from(seconds) > b.max_age_cap())
        .map(|b| format!("{b} at {} s", b.max_age_cap()))
        .collect();
    if !capped.is_empty() {
        problems.push(Problem::warning(
            ProblemCode::MaxAgeAboveBrowserCap,
            FIELD,
            value.to_string(),
            format!(
                "browsers cap preflight caching: {}, whatever the header says",
                capped.join(", ")
            ),
            "fine to keep; lower it if you rely on the exact duration",
        ));
    }
    Some(seconds)
}
