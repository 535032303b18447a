//! Fetch §4.5 "HTTP-redirect fetch": the steps that matter to CORS.

use url::Url;

use super::check::{Headers, lines};
use super::error::ErrorCode;
use super::profile::Profile;
use super::request::{Request, RequestMode, Tainting};
use crate::fetch::header::is_cors_non_wildcard_request_header_name;
use crate::origin::Origin;

/// Fetch §2.2.6 "redirect status".
pub fn is_redirect_status(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// The `Location` of a response the agent follows as a redirect: a redirect status with a
/// `Location` line (Fetch §4.4 step 7; a 300 is not one, in Chromium and Firefox alike).
pub fn redirect_location(status: u16, headers: &Headers) -> Option<&[u8]> {
    if is_redirect_status(status) {
        lines(headers, "location").next()
    } else {
        None
    }
}

/// The most redirects a fetch follows (Fetch §4.5 step 2).
pub const MAX_REDIRECTS: usize = 20;

/// Request-body header names, dropped when a redirect turns the request into a GET.
const REQUEST_BODY_HEADERS: [&str; 4] = [
    "content-encoding",
    "content-language",
    "content-location",
    "content-type",
];

/// Why a redirect is refused: the error and, where one applies, the failed parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedirectFailure {
    /// Why: `InvalidRedirectLocation`, `CorsDisabledScheme`, `TooManyRedirects`,
    /// `RedirectContainsCredentials` or `UnsafeRedirect`.
    pub code: ErrorCode,
    /// The target as written or resolved (for `CorsDisabledScheme`, its scheme alone); `None`
    /// for `TooManyRedirects`.
    pub parameter: Option<String>,
    /// The redirect's target, whenever `Location` parsed.
    pub location: Option<Url>,
    /// Whether the failure is reported at the target (a scheme outside CORS) rather than at
    /// the URL that redirected.
    pub at_target: bool,
}

/// Applies a redirect (`status` with `Location: location`) to `request` as `profile`'s browser
/// does: validates the target, changes the method where the status says so, drops
/// `Authorization` across origins, and appends the URL (which drives the redirect-taint, hence
/// `Origin: null`).
pub fn follow(
    request: &mut Request,
    status: u16,
    location: &[u8],
    profile: &Profile,
) -> Result<(), RedirectFailure> {
    let text = String::from_utf8_lossy(location);
    // Step 1: the location URL, resolved against the current URL, keeping its fragment.
    let Ok(mut target) = request.current_url().join(&text) else {
        return Err(RedirectFailure {
            code: ErrorCode::InvalidRedirectLocation,
            parameter: Some(text.into_owned()),
            location: None,
            at_target: false,
        });
    };
    if target.fragment().is_none()
        && let Some(fragment) = request.current_url().fragment()
    {
        target.set_fragment(Some(fragment));
    }
    let fail = |code, parameter: Option<String>| {
        Err(RedirectFailure {
            code,
            parameter,
            location: Some(target.clone()),
            at_target: false,
        })
    };
    if !matches!(target.scheme(), "http" | "https") {
        // The browser's network stack refuses some schemes before CORS sees the redirect.
        if profile.unsafe_redirect_schemes.contains(target.scheme()) {
            return fail(ErrorCode::UnsafeRedirect, Some(target.to_string()));
        }
        if request.mode == RequestMode::Cors {
            return Err(RedirectFailure {
                code: ErrorCode::CorsDisabledScheme,
                parameter: Some(target.scheme().to_owned()),
                location: Some(target),
                at_target: true,
            });
        }
        return fail(ErrorCode::InvalidRedirectLocation, Some(target.to_string()));
    }
    // Step 2.
    if request.url_list.len() > MAX_REDIRECTS {
        return fail(ErrorCode::TooManyRedirects, None);
    }
    let has_credentials = target.username() != "" || target.password().is_some();
    let target_origin = Origin::of_url(&target);
    // Steps 3-4: no userinfo in a CORS redirect to another origin, or once tainted.
    if has_credentials
        && ((request.mode == RequestMode::Cors && !request.origin.same_origin(&target_origin))
            || request.tainting == Tainting::Cors)
    {
        return fail(
            ErrorCode::RedirectContainsCredentials,
            Some(target.to_string()),
        );
    }
    if has_credentials && profile.refuses_every_redirect_with_credentials {
        return fail(ErrorCode::UnsafeRedirect, Some(target.to_string()));
    }
    // Step 6: 301/302 with POST, or 303 with anything but GET and HEAD, become GET.
    let to_get = ((status == 301 || status == 302) && request.method == "POST")
        || (status == 303 && !matches!(request.method.as_str(), "GET" | "HEAD"));
    if to_get {
        request.method = "GET".to_owned();
        request.headers.retain(|(n, _)| {
            !REQUEST_BODY_HEADERS
                .iter()
                .any(|b| n.eq_ignore_ascii_case(b))
        });
    }
    let cross_origin = !Origin::of_url(request.current_url()).same_origin(&target_origin);
    // WebKit's network stack (libsoup) turns a DELETE sent on to another origin into a GET,
    // whatever the status, and keeps its headers.
    if profile.cross_origin_delete_redirects_as_get && cross_origin && request.method == "DELETE" {
        request.method = "GET".to_owned();
    }
    // Step 7: `Authorization` does not follow a redirect to another origin.
    if cross_origin {
        request
            .headers
            .retain(|(n, _)| !is_cors_non_wildcard_request_header_name(n.as_bytes()));
    }
    // Step 9.
    request.url_list.push(target);
    Ok(())
}
