//! Fetch §4.8 "CORS-preflight fetch": the preflight request, and the judgement of its response.

use super::check::{CheckFailure, Headers, cors_check, get, lines};
use super::classify::cors_unsafe_request_header_names;
use super::error::ErrorCode;
use super::profile::{PreflightOrder, Profile, UnlistedHeaderOrder, WEBKIT_KNOWN_HEADER_NAMES};
use super::redirect::redirect_location;
use super::request::{CredentialsMode, Request};
use crate::browser::Browser;
use crate::fetch::list::parse_token_list;
use crate::fetch::{header, method};

/// What a preflight asks: `Access-Control-Request-Method` and, when the request has unsafe
/// headers, `Access-Control-Request-Headers`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreflightAsk {
    /// `Access-Control-Request-Method`: the request's method as normalised by `fetch()`, case
    /// kept (`patch` stays `patch`).
    pub method: String,
    /// Lowercase, sorted, deduplicated, joined by `,` without spaces (Fetch §4.8 step 5).
    pub headers: Option<String>,
}

impl PreflightAsk {
    /// What a preflight for `request` asks, its CORS-unsafe header names classified by
    /// `profile` (Chromium, for one, safelists some client hints).
    pub fn of(request: &Request, profile: &Profile) -> PreflightAsk {
        PreflightAsk::with(request, &cors_unsafe_request_header_names(request, profile))
    }

    /// The ask, given the request's CORS-unsafe header names already computed.
    pub fn with(request: &Request, unsafe_names: &[String]) -> PreflightAsk {
        PreflightAsk {
            method: request.method.clone(),
            headers: (!unsafe_names.is_empty()).then(|| unsafe_names.join(",")),
        }
    }

    /// The preflight's own request headers (Fetch §4.8 steps 2-5), before the network layer adds
    /// `Origin` and the rest.
    pub fn request_headers(&self) -> Vec<(String, String)> {
        let mut headers = vec![
            ("Accept".to_owned(), "*/*".to_owned()),
            (
                "Access-Control-Request-Method".to_owned(),
                self.method.clone(),
            ),
        ];
        if let Some(names) = &self.headers {
            headers.push(("Access-Control-Request-Headers".to_owned(), names.clone()));
        }
        headers
    }
}

/// What a successful preflight allows, for the cache.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreflightGrant {
    /// Methods as listed (case kept).
    pub methods: Vec<String>,
    /// Header names, lowercase.
    pub headers: Vec<String>,
    /// Seconds to cache, as this agent reads and caps `Access-Control-Max-Age`.
    pub max_age: u64,
    /// Whether the preflight was for a request with credentials.
    pub credentials: bool,
    /// `Authorization` got through only under `*` (a browser that lets it; Firefox warns).
    pub authorization_by_wildcard: bool,
}

/// A refused preflight response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreflightFailure {
    /// The error: a `Preflight*` code, or one of the allow-methods and allow-headers codes.
    pub code: ErrorCode,
    /// The failed parameter: the header value for an allow-origin or allow-credentials
    /// failure, the method, the header name (as script wrote it, or as WebKit spells a name it
    /// knows), or the first item of a list that is not a token. `None` for a bad status or a
    /// redirect, and where the allow-origin check quotes nothing.
    pub parameter: Option<String>,
    /// The whole offending header value (for WebKit's parse-error messages).
    pub value: Option<String>,
}

impl From<CheckFailure> for PreflightFailure {
    fn from(f: CheckFailure) -> Self {
        PreflightFailure {
            code: f.code.on_preflight(),
            parameter: f.parameter,
            value: None,
        }
    }
}

fn failure(code: ErrorCode, parameter: impl Into<String>) -> PreflightFailure {
    PreflightFailure {
        code,
        parameter: Some(parameter.into()),
        value: None,
    }
}

/// Judges a preflight response (Fetch §4.8 step 7) for `request`, whose serialized origin is
/// `origin`, in `profile`'s order.
pub fn judge(
    request: &Request,
    profile: &Profile,
    origin: &str,
    status: u16,
    headers: &Headers,
) -> Result<PreflightGrant, PreflightFailure> {
    let unsafe_names = cors_unsafe_request_header_names(request, profile);
    judge_with(request, profile, &unsafe_names, origin, status, headers)
}

/// [`judge`], given the request's CORS-unsafe header names already computed.
pub fn judge_with(
    request: &Request,
    profile: &Profile,
    unsafe_names: &[String],
    origin: &str,
    status: u16,
    headers: &Headers,
) -> Result<PreflightGrant, PreflightFailure> {
    let include = request.credentials == CredentialsMode::Include;
    let ok = crate::fetch::is_ok_status(status);
    let bad_status = || PreflightFailure {
        code: ErrorCode::PreflightInvalidStatus,
        parameter: None,
        value: None,
    };
    // A preflight is never redirected: the browser reports the redirect itself.
    let redirect = || {
        if redirect_location(status, headers).is_some() {
            return Err(PreflightFailure {
                code: ErrorCode::PreflightDisallowedRedirect,
                parameter: None,
                value: None,
            });
        }
        Ok(())
    };
    // Step 7: the CORS check with the request's credentials mode, and an ok status.
    let status_ok = || if ok { Ok(()) } else { Err(bad_status()) };
    match profile.preflight_order {
        PreflightOrder::RedirectOriginStatus => {
            redirect()?;
            cors_check(profile, origin, include, headers)?;
            status_ok()?;
        }
        PreflightOrder::OriginRedirectStatus => {
            cors_check(profile, origin, include, headers)?;
            redirect()?;
            status_ok()?;
        }
        PreflightOrder::StatusOrigin => {
            status_ok()?;
            cors_check(profile, origin, include, headers)?;
        }
    }

    // Steps 7.1-7.3: one malformed item fails the whole list.
    let parse = |name: &str, code: ErrorCode| -> Result<Option<Vec<String>>, PreflightFailure> {
        parse_token_list(lines(headers, name))
            .map(|list| {
                list.map(|items| {
                    items
                        .into_iter()
                        .map(|i| String::from_utf8_lossy(i).into_owned())
                        .collect()
                })
            })
            .map_err(|e| PreflightFailure {
                code,
                parameter: Some(String::from_utf8_lossy(e.element).into_owned()),
                value: get(headers, name).map(|v| String::from_utf8_lossy(&v).into_owned()),
            })
    };
    let methods = parse(
        "access-control-allow-methods",
        ErrorCode::InvalidAllowMethodsPreflightResponse,
    )?;
    // Firefox checks the method before it parses the allowed headers.
    let firefox = profile.browser == Some(Browser::Firefox);
    if firefox {
        check_method(request, include, methods.as_deref())?;
    }
    let allowed_headers = parse(
        "access-control-allow-headers",
        ErrorCode::InvalidAllowHeadersPreflightResponse,
    )?
    .unwrap_or_default();
    if !firefox {
        check_method(request, include, methods.as_deref())?;
    }
    let methods = match methods {
        // Step 7.4: a forced preflight without a list caches the request's method.
        None if request.use_cors_preflight => vec![request.method.clone()],
        other => other.unwrap_or_default(),
    };
    let star = allowed_headers.iter().any(|h| h == "*");
    // A set, so that a list of thousands of names costs time in proportion to its length.
    let allowed: std::collections::HashSet<String> = allowed_headers
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    let listed = |name: &str| allowed.contains(&name.to_ascii_lowercase());
    if profile.unlisted_header_order == UnlistedHeaderOrder::WebkitHeaderMap
        && let Some(name) = webkit_first_unlisted(request, unsafe_names, |name| {
            !listed(name) && (include || !star)
        })
    {
        return Err(failure(
            ErrorCode::HeaderDisallowedByPreflightResponse,
            name,
        ));
    }
    // Step 7.6: `*` never covers `Authorization` (unless the browser departs from this).
    let wildcard_covers_authorization = profile.wildcard_covers_authorization && !include && star;
    let unlisted_non_wildcard = request
        .headers
        .iter()
        .find(|(n, _)| header::is_cors_non_wildcard_request_header_name(n.as_bytes()))
        .filter(|(n, _)| !listed(n));
    if let Some((name, _)) = unlisted_non_wildcard
        && !wildcard_covers_authorization
    {
        return Err(failure(
            ErrorCode::HeaderDisallowedByPreflightResponse,
            name,
        ));
    }
    // Past the check with `Authorization` unlisted: only `*` let it through.
    let authorization_by_wildcard = unlisted_non_wildcard.is_some();
    // Step 7.7: every CORS-unsafe name is listed, or `*` without credentials.
    for unsafe_name in unsafe_names {
        if !listed(unsafe_name) && (include || !star) {
            let as_written = request
                .headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(unsafe_name))
                .map_or(unsafe_name.clone(), |(n, _)| n.clone());
            return Err(failure(
                ErrorCode::HeaderDisallowedByPreflightResponse,
                as_written,
            ));
        }
    }
    // Steps 7.8-7.9.
    let max_age = profile.max_age(get(headers, "access-control-max-age").as_deref());
    Ok(PreflightGrant {
        authorization_by_wildcard,
        methods,
        headers: allowed_headers
            .into_iter()
            .map(|h| h.to_ascii_lowercase())
            .collect(),
        max_age,
        credentials: include,
    })
}

/// The first CORS-unsafe request header that `refused` refuses, searched as WebKit's header map
/// holds them: the names it knows first (spelled its way), then the others, each group in the
/// order script set them.
fn webkit_first_unlisted(
    request: &Request,
    unsafe_names: &[String],
    refused: impl Fn(&str) -> bool,
) -> Option<String> {
    let known = |name: &str| {
        WEBKIT_KNOWN_HEADER_NAMES
            .iter()
            .find(|k| k.eq_ignore_ascii_case(name))
    };
    let names = || request.headers.iter().map(|(n, _)| n.as_str());
    let unsafe_set: std::collections::HashSet<String> = unsafe_names
        .iter()
        .map(|u| u.to_ascii_lowercase())
        .collect();
    names()
        .filter(|n| known(n).is_some())
        .chain(names().filter(|n| known(n).is_none()))
        .find(|n| unsafe_set.contains(&n.to_ascii_lowercase()) && refused(n))
        .map(|n| known(n).map_or_else(|| n.to_owned(), |k| (*k).to_owned()))
}

/// Step 7.5: the method is listed byte for byte, safelisted, or covered by `*` without
/// credentials.
fn check_method(
    request: &Request,
    include: bool,
    methods: Option<&[String]>,
) -> Result<(), PreflightFailure> {
    let m = request.method.as_str();
    let list = methods.unwrap_or_default();
    if method::is_cors_safelisted(m.as_bytes())
        || list.iter().any(|x| x == m)
        || (!include && list.iter().any(|x| x == "*"))
        || (methods.is_none() && request.use_cors_preflight)
    {
        Ok(())
    } else {
        Err(failure(ErrorCode::MethodDisallowedByPreflightResponse, m))
    }
}
