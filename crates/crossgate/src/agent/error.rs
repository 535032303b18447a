//! Why a browser blocks a request: errors named after Chromium's `CorsError` values, with the
//! failed parameter, and the exact text each browser prints for them.

use std::fmt;

use serde::Serialize;

use crate::browser::Browser;

crate::codes::code_enum! {
    /// Chromium's `CorsError` names (without the `k`), plus the failures that happen before CORS
    /// (inside `fetch()` itself, or in the network), for which browsers print no CORS message.
    ///
    /// Every browser profile reports its failures under these names, so one code means one
    /// failure whichever engine found it; [`CorsError::message`] gives each engine's words for it.
    /// The six codes from `WildcardOriginNotAllowed` to `InvalidAllowCredentials` come from the
    /// [CORS check] of a response; their `Preflight*` twins are the same check failed on the
    /// preflight's response (see
    /// [`on_preflight`](ErrorCode::on_preflight) and [`base`](ErrorCode::base)). In JSON a code is
    /// its name as written here (`"MissingAllowOriginHeader"`).
    ///
    /// [CORS check]: https://fetch.spec.whatwg.org/#cors-check
    ///
    /// ```
    /// use crossgate::agent::{ErrorCode, Stage};
    ///
    /// let code = ErrorCode::from_name("AllowOriginMismatch").unwrap();
    /// assert_eq!(code.to_string(), "AllowOriginMismatch");
    /// // The same check failed on the preflight's response:
    /// let on_preflight = code.on_preflight();
    /// assert_eq!(on_preflight, ErrorCode::PreflightAllowOriginMismatch);
    /// assert_eq!(on_preflight.stage(), Some(Stage::Preflight));
    /// assert_eq!(on_preflight.base(), code);
    /// // The plain code does not say which response failed; a report names the actual request's.
    /// assert_eq!(code.stage(), None);
    /// assert_eq!(code.stage_or_actual(), Stage::Actual);
    /// // `fetch()` refuses CONNECT itself: a TypeError, not a CORS failure.
    /// assert!(code.is_cors());
    /// assert!(!ErrorCode::ForbiddenMethod.is_cors());
    /// ```
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
    pub enum ErrorCode {
        /// The request's mode forbids the URL: `mode: "same-origin"` to another origin. `fetch()`
        /// rejects before anything is sent; [`CorsError::message`] is `None` for it.
        DisallowedByMode = "DisallowedByMode",
        /// Chromium's name for a response that failed below CORS (DevTools: a preflight that got a
        /// network error such as an empty response; "The response is invalid."). The agent never
        /// reports it; it is here so that a pasted message with those words reads back.
        InvalidResponse = "InvalidResponse",
        /// `Access-Control-Allow-Origin: *` on a request whose credentials mode is `include`:
        /// `*` only shares a response fetched without credentials (CORS check step 3).
        WildcardOriginNotAllowed = "WildcardOriginNotAllowed",
        /// The response has no `Access-Control-Allow-Origin`. Often an error page or an
        /// authentication layer that adds no CORS headers: the status tells.
        MissingAllowOriginHeader = "MissingAllowOriginHeader",
        /// `Access-Control-Allow-Origin` holds more than one value: two header lines (Firefox
        /// counts lines), or one value with a comma (Chromium and WebKit; Chromium also takes a
        /// space for a list). The parameter is the value, where the engine quotes it (not Firefox).
        MultipleAllowOriginValues = "MultipleAllowOriginValues",
        /// `Access-Control-Allow-Origin` does not parse as a URL (`example.com` without a scheme).
        /// Chromium's name for it; Firefox and WebKit report it as
        /// [`AllowOriginMismatch`](Self::AllowOriginMismatch). The parameter is the value.
        InvalidAllowOriginValue = "InvalidAllowOriginValue",
        /// `Access-Control-Allow-Origin` is not byte for byte the request's serialized origin (a
        /// trailing slash, another port or scheme, `null`). The parameter is the value received.
        AllowOriginMismatch = "AllowOriginMismatch",
        /// The request includes credentials and `Access-Control-Allow-Credentials` is missing or
        /// not exactly `true` (CORS check steps 5-7). The parameter is the value received, empty
        /// when missing.
        InvalidAllowCredentials = "InvalidAllowCredentials",
        /// A `cors` request to a scheme outside CORS (not `http:` or `https:`), first or after a
        /// redirect. The parameter is the scheme.
        CorsDisabledScheme = "CorsDisabledScheme",
        /// The preflight's response status is not an ok status (200 to 299): a 401 from an
        /// authentication layer or a 404 or 405 from a router without an OPTIONS route are usual.
        PreflightInvalidStatus = "PreflightInvalidStatus",
        /// The preflight was answered with a redirect, which a preflight never follows.
        PreflightDisallowedRedirect = "PreflightDisallowedRedirect",
        /// [`WildcardOriginNotAllowed`](Self::WildcardOriginNotAllowed), on the preflight's
        /// response.
        PreflightWildcardOriginNotAllowed = "PreflightWildcardOriginNotAllowed",
        /// [`MissingAllowOriginHeader`](Self::MissingAllowOriginHeader), on the preflight's
        /// response.
        PreflightMissingAllowOriginHeader = "PreflightMissingAllowOriginHeader",
        /// [`MultipleAllowOriginValues`](Self::MultipleAllowOriginValues), on the preflight's
        /// response.
        PreflightMultipleAllowOriginValues = "PreflightMultipleAllowOriginValues",
        /// [`InvalidAllowOriginValue`](Self::InvalidAllowOriginValue), on the preflight's response.
        PreflightInvalidAllowOriginValue = "PreflightInvalidAllowOriginValue",
        /// [`AllowOriginMismatch`](Self::AllowOriginMismatch), on the preflight's response.
        PreflightAllowOriginMismatch = "PreflightAllowOriginMismatch",
        /// [`InvalidAllowCredentials`](Self::InvalidAllowCredentials), on the preflight's response.
        PreflightInvalidAllowCredentials = "PreflightInvalidAllowCredentials",
        /// `Access-Control-Allow-Methods` does not parse as a list of tokens, so none of it counts
        /// (Fetch §4.8 steps 7.1-7.3). The parameter is the first item that is not a token.
        InvalidAllowMethodsPreflightResponse = "InvalidAllowMethodsPreflightResponse",
        /// `Access-Control-Allow-Headers` does not parse as a list of tokens, so none of it counts
        /// (Fetch §4.8 steps 7.1-7.3). The parameter is the first item that is not a token.
        InvalidAllowHeadersPreflightResponse = "InvalidAllowHeadersPreflightResponse",
        /// The request's method is not safelisted and the preflight's
        /// `Access-Control-Allow-Methods` neither lists it (byte for byte: `put` is not `PUT`) nor
        /// says `*` without credentials (Fetch §4.8 step 7.5). The parameter is the method.
        MethodDisallowedByPreflightResponse = "MethodDisallowedByPreflightResponse",
        /// A CORS-unsafe request header that the preflight's `Access-Control-Allow-Headers` does
        /// not list (`*` covers every name but `Authorization`, and only without credentials; Fetch
        /// §4.8 steps 7.6-7.7). The parameter is the header name as script wrote it.
        HeaderDisallowedByPreflightResponse = "HeaderDisallowedByPreflightResponse",
        /// A redirect's `Location` carries a user name or password, in a CORS request to
        /// another origin or once the response is CORS-tainted (Fetch §4.5 steps 3-4). The
        /// parameter is the target URL.
        RedirectContainsCredentials = "RedirectContainsCredentials",
        // Not CORS errors: `fetch()` rejects with a TypeError, or the network fails.
        /// The method is not a token.
        InvalidMethod = "InvalidMethod",
        /// CONNECT, TRACE or TRACK.
        ForbiddenMethod = "ForbiddenMethod",
        /// A header name that is not a token, or a value with NUL, CR or LF.
        InvalidHeader = "InvalidHeader",
        /// A `no-cors` request with a method other than GET, HEAD or POST.
        NoCorsMethodNotSafelisted = "NoCorsMethodNotSafelisted",
        /// The request URL carries a user name or password.
        CredentialsInRequestUrl = "CredentialsInRequestUrl",
        /// A secure page asked for an insecure (`http:`, not loopback) URL: mixed content.
        MixedContent = "MixedContent",
        /// More than 20 redirects.
        TooManyRedirects = "TooManyRedirects",
        /// A redirect whose `Location` is not a URL, or not http(s) in a non-CORS request.
        InvalidRedirectLocation = "InvalidRedirectLocation",
        /// A redirect the browser refuses to follow before CORS looks at it, without a CORS message
        /// (Chromium: to a `data:` URL, or to a URL with a user name or password that the standard
        /// would let through).
        UnsafeRedirect = "UnsafeRedirect",
        /// The connection failed (connection refused, DNS, TLS): `check` only.
        NetworkError = "NetworkError",
    }
}

impl ErrorCode {
    /// The code with this name (as `simulate`'s `error.code` spells it).
    pub fn from_name(name: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.iter().copied().find(|c| c.as_str() == name)
    }

    /// The stage at which the error is found, where the code alone says it: the preflight's
    /// own checks, or a redirect's. `None` for the checks that run on every response
    /// (`MissingAllowOriginHeader` and the like are the actual request's, but Firefox and
    /// WebKit report a preflight's failure of them with the same words).
    pub fn stage(self) -> Option<Stage> {
        match self {
            ErrorCode::PreflightInvalidStatus
            | ErrorCode::PreflightDisallowedRedirect
            | ErrorCode::InvalidAllowMethodsPreflightResponse
            | ErrorCode::InvalidAllowHeadersPreflightResponse
            | ErrorCode::MethodDisallowedByPreflightResponse
            | ErrorCode::HeaderDisallowedByPreflightResponse => Some(Stage::Preflight),
            c if c.is_preflight_access() => Some(Stage::Preflight),
            ErrorCode::RedirectContainsCredentials
            | ErrorCode::TooManyRedirects
            | ErrorCode::InvalidRedirectLocation
            | ErrorCode::UnsafeRedirect => Some(Stage::Redirect),
            ErrorCode::InvalidMethod
            | ErrorCode::ForbiddenMethod
            | ErrorCode::InvalidHeader
            | ErrorCode::NoCorsMethodNotSafelisted
            | ErrorCode::CredentialsInRequestUrl
            | ErrorCode::MixedContent
            | ErrorCode::DisallowedByMode => Some(Stage::Request),
            _ => None,
        }
    }

    /// Whether this error happens only on a request with credentials (`*` refused, or
    /// `Access-Control-Allow-Credentials` missing or wrong).
    pub fn implies_credentials(self) -> bool {
        matches!(
            self.base(),
            ErrorCode::WildcardOriginNotAllowed | ErrorCode::InvalidAllowCredentials
        )
    }

    /// The stage a report names for this error where the code alone does not say: the actual
    /// request's.
    pub fn stage_or_actual(self) -> Stage {
        self.stage().unwrap_or(Stage::Actual)
    }

    /// Whether this is a failure of the CORS protocol (a console message from the browser), as
    /// opposed to one of `fetch()` itself or of the network.
    pub fn is_cors(self) -> bool {
        // `fetch()` refuses the request itself, or the network (or a redirect below CORS) fails.
        !(self.stage() == Some(Stage::Request)
            || matches!(
                self,
                ErrorCode::TooManyRedirects
                    | ErrorCode::InvalidRedirectLocation
                    | ErrorCode::UnsafeRedirect
                    | ErrorCode::NetworkError
            ))
    }

    /// The `Preflight*` variant of an allow-origin error (Chromium reports the preflight's own).
    pub fn on_preflight(self) -> ErrorCode {
        match self {
            ErrorCode::WildcardOriginNotAllowed => ErrorCode::PreflightWildcardOriginNotAllowed,
            ErrorCode::MissingAllowOriginHeader => ErrorCode::PreflightMissingAllowOriginHeader,
            ErrorCode::MultipleAllowOriginValues => ErrorCode::PreflightMultipleAllowOriginValues,
            ErrorCode::InvalidAllowOriginValue => ErrorCode::PreflightInvalidAllowOriginValue,
            ErrorCode::AllowOriginMismatch => ErrorCode::PreflightAllowOriginMismatch,
            ErrorCode::InvalidAllowCredentials => ErrorCode::PreflightInvalidAllowCredentials,
            other => other,
        }
    }

    /// The allow-origin error without its `Preflight` prefix.
    pub fn base(self) -> ErrorCode {
        match self {
            ErrorCode::PreflightWildcardOriginNotAllowed => ErrorCode::WildcardOriginNotAllowed,
            ErrorCode::PreflightMissingAllowOriginHeader => ErrorCode::MissingAllowOriginHeader,
            ErrorCode::PreflightMultipleAllowOriginValues => ErrorCode::MultipleAllowOriginValues,
            ErrorCode::PreflightInvalidAllowOriginValue => ErrorCode::InvalidAllowOriginValue,
            ErrorCode::PreflightAllowOriginMismatch => ErrorCode::AllowOriginMismatch,
            ErrorCode::PreflightInvalidAllowCredentials => ErrorCode::InvalidAllowCredentials,
            other => other,
        }
    }

    pub(crate) fn is_preflight_access(self) -> bool {
        self.base() != self
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}

/// Where in the fetch it failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Before anything was sent (`fetch()` itself).
    Request,
    /// The preflight's response: its status, its CORS check, or its allowed methods and headers.
    Preflight,
    /// The actual request's response failed the CORS check.
    Actual,
    /// Following a redirect: the target refused, or a check of the request stage made again at
    /// a later hop (mixed content, mode, scheme).
    Redirect,
}

impl Stage {
    /// The name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Request => "request",
            Stage::Preflight => "preflight",
            Stage::Actual => "actual",
            Stage::Redirect => "redirect",
        }
    }
}

/// A blocked request: the error, where, and the facts its messages quote.
///
/// The [`Agent`](crate::agent::Agent) puts one in [`Outcome::error`](crate::agent::Outcome::error);
/// [`message`](CorsError::message) writes what each engine prints for it. Its `Display` is the
/// code and the parameter: `MethodDisallowedByPreflightResponse (PUT)`.
///
/// ```
/// use crossgate::agent::{CorsError, ErrorCode, Stage};
/// use crossgate::browser::Browser;
///
/// // A preflight for PUT answered without PUT in Access-Control-Allow-Methods.
/// let error = CorsError {
///     code: ErrorCode::MethodDisallowedByPreflightResponse,
///     stage: Stage::Preflight,
///     parameter: Some("PUT".to_owned()),
///     url: "https://api.example.com/items/1".to_owned(),
///     origin: "https://app.example.com".to_owned(),
///     status: Some(204),
///     value: None,
/// };
/// // Chromium: the reason after "has been blocked by CORS policy: ".
/// assert_eq!(
///     error.message(Browser::Chromium).unwrap(),
///     "Method PUT is not allowed by Access-Control-Allow-Methods in preflight response."
/// );
/// // Firefox: its whole line, which names the URL but not the method.
/// assert_eq!(
///     error.message(Browser::Firefox).unwrap(),
///     "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote \
///      resource at https://api.example.com/items/1. (Reason: Did not find method in CORS \
///      header ‘Access-Control-Allow-Methods’)."
/// );
/// // Chromium's whole console line, for a fetch that was not redirected.
/// let line = error
///     .chromium_console_line("https://api.example.com/items/1", "https://app.example.com")
///     .unwrap();
/// assert!(line.starts_with(
///     "Access to fetch at 'https://api.example.com/items/1' from origin \
///      'https://app.example.com' has been blocked by CORS policy: Method PUT"
/// ));
/// assert_eq!(error.to_string(), "MethodDisallowedByPreflightResponse (PUT)");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorsError {
    /// What failed, under Chromium's name; the message texts follow from it.
    pub code: ErrorCode,
    /// Where the agent found it. This can say more than [`ErrorCode::stage`], which knows only
    /// the code: an allow-origin failure of the actual request is `Actual`, a request-stage
    /// check that failed at a redirect's target is `Redirect`.
    pub stage: Stage,
    /// Chromium's failed parameter: the offending header value, method or header name.
    pub parameter: Option<String>,
    /// The URL of the exchange that failed.
    pub url: String,
    /// The request's origin as sent (`null` when tainted).
    pub origin: String,
    /// The failing response's status, where there was one.
    pub status: Option<u16>,
    /// The whole offending header value, where a browser quotes it (WebKit's parse errors).
    pub value: Option<String>,
}

const CHROMIUM_PREFLIGHT: &str =
    "Response to preflight request doesn't pass access control check: ";
pub(crate) const CHROMIUM_HINT: &str = " Have the server send the header with a valid value.";
/// `SchemeRegistry::ListOfCorsEnabledURLSchemes()` of Chromium 156, in the order it prints them.
pub(crate) const CHROMIUM_CORS_ENABLED_SCHEMES: [&str; 8] = [
    "chrome",
    "chrome-experimental-site-token-provider",
    "chrome-extension",
    "chrome-untrusted",
    "data",
    "http",
    "https",
    "isolated-app",
];

/// What WebKit's network process (libsoup) says when a redirect leads to `ftp:`, whatever the
/// request's mode.
pub(crate) const WEBKIT_FTP_DISABLED: &str = "FTP URLs are disabled";

impl CorsError {
    fn param(&self) -> &str {
        self.parameter.as_deref().unwrap_or("")
    }

    /// The message `browser` prints for this error, or `None` where it prints no CORS message.
    ///
    /// - Chromium: the text after `has been blocked by CORS policy: ` (with the preflight
    ///   prefix where Chromium adds it).
    /// - Firefox: the whole console line, which carries the URL and the reason.
    /// - WebKit: the reason line (shown after "Fetch API cannot load URL due to access control
    ///   checks.").
    pub fn message(&self, browser: Browser) -> Option<String> {
        if !self.code.is_cors() {
            return None;
        }
        match browser {
            Browser::Chromium => Some(self.chromium()),
            Browser::Firefox => Some(self.firefox_line()),
            Browser::Webkit => Some(self.webkit()),
        }
    }

    fn chromium(&self) -> String {
        let h = self.param();
        let access = match self.code.base() {
            ErrorCode::WildcardOriginNotAllowed => Some(
                "The value of the 'Access-Control-Allow-Origin' header in the response must not \
                 be the wildcard '*' when the request's credentials mode is 'include'."
                    .to_owned(),
            ),
            ErrorCode::MissingAllowOriginHeader => Some(
                "No 'Access-Control-Allow-Origin' header is present on the requested resource."
                    .to_owned(),
            ),
            ErrorCode::MultipleAllowOriginValues => Some(format!(
                "The 'Access-Control-Allow-Origin' header contains multiple values '{h}', but \
                 only one is allowed.{CHROMIUM_HINT}"
            )),
            ErrorCode::InvalidAllowOriginValue => Some(format!(
                "The 'Access-Control-Allow-Origin' header contains the invalid value '{h}'.\
                 {CHROMIUM_HINT}"
            )),
            ErrorCode::AllowOriginMismatch => Some(format!(
                "The 'Access-Control-Allow-Origin' header has a value '{h}' that is not equal \
                 to the supplied origin.{CHROMIUM_HINT}"
            )),
            ErrorCode::InvalidAllowCredentials => Some(format!(
                "The value of the 'Access-Control-Allow-Credentials' header in the response is \
                 '{h}' which must be 'true' when the request's credentials mode is 'include'."
            )),
            _ => None,
        };
        if let Some(text) = access {
            return if self.code.is_preflight_access() {
                format!("{CHROMIUM_PREFLIGHT}{text}")
            } else {
                text
            };
        }
        match self.code {
            ErrorCode::PreflightInvalidStatus => {
                format!("{CHROMIUM_PREFLIGHT}It does not have HTTP ok status.")
            }
            ErrorCode::PreflightDisallowedRedirect => {
                format!("{CHROMIUM_PREFLIGHT}Redirect is not allowed for a preflight request.")
            }
            ErrorCode::InvalidAllowMethodsPreflightResponse => "Cannot parse \
                 Access-Control-Allow-Methods response header field in preflight response."
                .to_owned(),
            ErrorCode::InvalidAllowHeadersPreflightResponse => "Cannot parse \
                 Access-Control-Allow-Headers response header field in preflight response."
                .to_owned(),
            ErrorCode::MethodDisallowedByPreflightResponse => format!(
                "Method {h} is not allowed by Access-Control-Allow-Methods in preflight response."
            ),
            ErrorCode::HeaderDisallowedByPreflightResponse => format!(
                "Request header field {} is not allowed by Access-Control-Allow-Headers in \
                 preflight response.",
                h.to_ascii_lowercase()
            ),
            // Chromium 156 prints the location as empty (cors-fetch-rules.md appendix, 6).
            ErrorCode::RedirectContainsCredentials => "Redirect location '' contains a username \
                 and password, which is disallowed for cross-origin requests."
                .to_owned(),
            ErrorCode::CorsDisabledScheme => format!(
                "Cross origin requests are only supported for protocol schemes: {}.",
                CHROMIUM_CORS_ENABLED_SCHEMES.join(", ")
            ),
            ErrorCode::InvalidResponse => "The response is invalid.".to_owned(),
            _ => String::new(),
        }
    }

    /// Firefox's whole console line for this error.
    pub(crate) fn firefox_line(&self) -> String {
        let h = self.param();
        let url = &self.url;
        let status = self
            .status
            .map_or_else(|| "(null)".to_owned(), |s| s.to_string());
        let reason = match self.code.base() {
            ErrorCode::WildcardOriginNotAllowed => {
                return format!(
                    "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the \
                     remote resource at ‘{url}’. (Reason: Credential is not supported if the \
                     CORS header ‘Access-Control-Allow-Origin’ is ‘*’)."
                );
            }
            ErrorCode::MissingAllowOriginHeader => {
                format!("CORS header ‘Access-Control-Allow-Origin’ missing). Status code: {status}")
            }
            ErrorCode::MultipleAllowOriginValues => {
                "Multiple CORS header ‘Access-Control-Allow-Origin’ not allowed)".to_owned()
            }
            ErrorCode::InvalidAllowOriginValue | ErrorCode::AllowOriginMismatch => {
                format!("CORS header ‘Access-Control-Allow-Origin’ does not match ‘{h}’)")
            }
            ErrorCode::InvalidAllowCredentials => {
                "expected ‘true’ in CORS header ‘Access-Control-Allow-Credentials’)".to_owned()
            }
            ErrorCode::PreflightInvalidStatus => {
                format!("CORS preflight response did not succeed). Status code: {status}")
            }
            ErrorCode::PreflightDisallowedRedirect => {
                "CORS request external redirect not allowed)".to_owned()
            }
            // Firefox refuses it below CORS: the request did not succeed.
            ErrorCode::RedirectContainsCredentials => {
                "CORS request did not succeed). Status code: (null)".to_owned()
            }
            ErrorCode::InvalidAllowMethodsPreflightResponse => {
                format!("invalid token ‘{h}’ in CORS header ‘Access-Control-Allow-Methods’)")
            }
            ErrorCode::InvalidAllowHeadersPreflightResponse => {
                format!("invalid token ‘{h}’ in CORS header ‘Access-Control-Allow-Headers’)")
            }
            ErrorCode::MethodDisallowedByPreflightResponse => {
                "Did not find method in CORS header ‘Access-Control-Allow-Methods’)".to_owned()
            }
            ErrorCode::HeaderDisallowedByPreflightResponse => format!(
                "header ‘{}’ is not allowed according to header ‘Access-Control-Allow-Headers’ \
                 from CORS preflight response)",
                h.to_ascii_lowercase()
            ),
            ErrorCode::CorsDisabledScheme => "CORS request not http)".to_owned(),
            _ => format!("CORS request did not succeed). Status code: {status}"),
        };
        format!(
            "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote \
             resource at {url}. (Reason: {reason}."
        )
    }

    fn webkit(&self) -> String {
        let h = self.param();
        let status = self.status.unwrap_or(0);
        match self.code.base() {
            ErrorCode::WildcardOriginNotAllowed => {
                "Cannot use wildcard in Access-Control-Allow-Origin when credentials flag is true."
                    .to_owned()
            }
            ErrorCode::MultipleAllowOriginValues => {
                "Access-Control-Allow-Origin cannot contain more than one origin.".to_owned()
            }
            ErrorCode::MissingAllowOriginHeader
            | ErrorCode::InvalidAllowOriginValue
            | ErrorCode::AllowOriginMismatch => format!(
                "Origin {} is not allowed by Access-Control-Allow-Origin. Status code: {status}",
                self.origin
            ),
            ErrorCode::InvalidAllowCredentials => "Credentials flag is true, but \
                 Access-Control-Allow-Credentials is not \"true\"."
                .to_owned(),
            ErrorCode::PreflightInvalidStatus | ErrorCode::PreflightDisallowedRedirect => {
                format!("Preflight response is not successful. Status code: {status}")
            }
            ErrorCode::InvalidAllowMethodsPreflightResponse => format!(
                "Header Access-Control-Allow-Methods has an invalid value: {}",
                self.value.as_deref().unwrap_or(h)
            ),
            ErrorCode::InvalidAllowHeadersPreflightResponse => format!(
                "Header Access-Control-Allow-Headers has an invalid value: {}",
                self.value.as_deref().unwrap_or(h)
            ),
            ErrorCode::MethodDisallowedByPreflightResponse => {
                format!("Method {h} is not allowed by Access-Control-Allow-Methods.")
            }
            ErrorCode::HeaderDisallowedByPreflightResponse => {
                format!("Request header field {h} is not allowed by Access-Control-Allow-Headers.")
            }
            // The target, with its user name and password.
            ErrorCode::RedirectContainsCredentials => format!(
                "redirection URL {} has credentials",
                self.parameter.as_deref().unwrap_or(&self.url)
            ),
            // WebKit's network process refuses `ftp:` itself.
            ErrorCode::CorsDisabledScheme if h == "ftp" => WEBKIT_FTP_DISABLED.to_owned(),
            ErrorCode::CorsDisabledScheme => {
                "not allowed to follow a cross-origin CORS redirection with non CORS scheme"
                    .to_owned()
            }
            _ => "The response is invalid.".to_owned(),
        }
    }

    /// The whole console line Chromium prints (`Access to fetch at ... has been blocked by CORS
    /// policy: ...`), given the first URL of the request and the page's origin. Chromium names
    /// the page's origin even where the request's origin is `null` after a redirect, and says
    /// where a redirected request came from whichever exchange failed (a preflight included).
    pub fn chromium_console_line(&self, initial_url: &str, initiator: &str) -> Option<String> {
        let reason = self.message(Browser::Chromium)?;
        let redirected = if initial_url != self.url {
            format!("(redirected from '{initial_url}') ")
        } else {
            String::new()
        };
        Some(format!(
            "Access to fetch at '{}' {redirected}from origin '{initiator}' has been blocked by \
             CORS policy: {reason}",
            self.url
        ))
    }
}

impl fmt::Display for CorsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some(p) = &self.parameter {
            write!(f, " ({p})")?;
        }
        Ok(())
    }
}

impl std::error::Error for CorsError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(code: ErrorCode, parameter: Option<&str>, status: Option<u16>) -> CorsError {
        CorsError {
            code,
            stage: Stage::Actual,
            parameter: parameter.map(str::to_owned),
            url: "http://127.0.0.1:9002/items/1".to_owned(),
            origin: "http://127.0.0.1:9001".to_owned(),
            status,
            value: None,
        }
    }

    #[test]
    fn chromium_texts() {
        let m = |e: CorsError| e.message(Browser::Chromium).unwrap();
        assert_eq!(
            m(error(ErrorCode::MissingAllowOriginHeader, None, Some(200))),
            "No 'Access-Control-Allow-Origin' header is present on the requested resource."
        );
        assert_eq!(
            m(error(
                ErrorCode::PreflightMissingAllowOriginHeader,
                None,
                Some(401)
            )),
            "Response to preflight request doesn't pass access control check: No \
             'Access-Control-Allow-Origin' header is present on the requested resource."
        );
        assert_eq!(
            m(error(
                ErrorCode::MethodDisallowedByPreflightResponse,
                Some("PUT"),
                None
            )),
            "Method PUT is not allowed by Access-Control-Allow-Methods in preflight response."
        );
        assert_eq!(
            m(error(
                ErrorCode::HeaderDisallowedByPreflightResponse,
                Some("X-Token"),
                None
            )),
            "Request header field x-token is not allowed by Access-Control-Allow-Headers in \
             preflight response."
        );
        assert_eq!(
            m(error(
                ErrorCode::AllowOriginMismatch,
                Some("https://a"),
                None
            )),
            "The 'Access-Control-Allow-Origin' header has a value 'https://a' that is not equal \
             to the supplied origin. Have the server send the header with a valid value."
        );
        assert_eq!(
            error(ErrorCode::ForbiddenMethod, None, None).message(Browser::Chromium),
            None
        );
    }

    #[test]
    fn firefox_and_webkit_texts() {
        let e = error(ErrorCode::MissingAllowOriginHeader, None, Some(500));
        assert_eq!(
            e.message(Browser::Firefox).unwrap(),
            "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote \
             resource at http://127.0.0.1:9002/items/1. (Reason: CORS header \
             ‘Access-Control-Allow-Origin’ missing). Status code: 500."
        );
        assert_eq!(
            e.message(Browser::Webkit).unwrap(),
            "Origin http://127.0.0.1:9001 is not allowed by Access-Control-Allow-Origin. Status \
             code: 500"
        );
        let w = error(ErrorCode::WildcardOriginNotAllowed, Some("*"), Some(200));
        assert!(
            w.message(Browser::Firefox).unwrap().contains(
                "at ‘http://127.0.0.1:9002/items/1’. (Reason: Credential is not supported"
            )
        );
        let line = error(ErrorCode::MissingAllowOriginHeader, None, Some(200))
            .chromium_console_line("http://127.0.0.1:9002/items/1", "http://127.0.0.1:9001")
            .unwrap();
        assert_eq!(
            line,
            "Access to fetch at 'http://127.0.0.1:9002/items/1' from origin \
             'http://127.0.0.1:9001' has been blocked by CORS policy: No \
             'Access-Control-Allow-Origin' header is present on the requested resource."
        );
    }
}
