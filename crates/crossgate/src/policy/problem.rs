//! Problems found in a configuration: typed, each with the field, the value, why, and a fix.

use std::fmt;

use serde::Serialize;

/// How bad a problem is. Errors refuse the configuration; warnings never do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Probably not what was meant, or rewritten into normal form; the policy is still built
    /// and behaves as described in the message. `"warning"` in JSON.
    Warning,
    /// The configuration is refused: no policy is built (and a [`LivePolicy`] keeps the one in
    /// force). `"error"` in JSON.
    ///
    /// [`LivePolicy`]: crate::policy::LivePolicy
    Error,
}

crate::codes::code_enum! {
    /// A stable name for each kind of problem (`code` in `crossgate lint --json`).
    ///
    /// Each problem of a kind carries the same [`Severity`], except [`Duplicate`](Self::Duplicate)
    /// as noted. Match on the code, not on the message: messages and fixes may be reworded, codes
    /// are not. New codes may be added (the enum is `#[non_exhaustive]`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
    #[serde(rename_all = "kebab-case")]
    #[non_exhaustive]
    pub enum ProblemCode {
        // The document itself.
        /// Error: the document cannot be parsed (not valid TOML, JSON or YAML, or not UTF-8), so
        /// nothing in it can be read. The message holds the parser's position; the field is empty.
        Syntax = "syntax",
        /// Error: a key that is not a setting. A misspelt setting would otherwise be ignored and
        /// the policy silently differ from what was written; the fix names the nearest known field.
        UnknownField = "unknown-field",
        /// Error: a value of the wrong type (a quoted number, a string where a list belongs). The
        /// setting cannot be read, so its other rules are not run.
        WrongType = "wrong-type",
        // Origin patterns.
        /// Error: an empty origin pattern. Browsers never send an empty `Origin`, so it matches
        /// nothing.
        OriginEmpty = "origin-empty",
        /// Error: `null` as an allowed origin. Sandboxed iframes, `data:` and `file:` documents and
        /// redirected requests of any site send `Origin: null`, so trusting it trusts anyone.
        OriginNull = "origin-null",
        /// Error: no `scheme://` in front of the host (`example.com`, `https:example.com`).
        /// Browsers always send the scheme, so the pattern could never match.
        OriginMissingScheme = "origin-missing-scheme",
        /// Error: the text before `://` is not a URL scheme (a letter, then letters, digits, `+`,
        /// `-` or `.`).
        OriginInvalidScheme = "origin-invalid-scheme",
        /// Error: a `file:`, `data:`, `blob:`, `about:` or `javascript:` pattern. Browsers never
        /// send such a scheme in `Origin` (an opaque origin is sent as `null`), so it could never
        /// match.
        OriginOpaqueScheme = "origin-opaque-scheme",
        /// Error: a user name or password (`user:pw@`) in the pattern. An origin has none and
        /// browsers never send one, so the pattern could never match.
        OriginHasUserinfo = "origin-has-userinfo",
        /// Error: a path after the host. CORS is decided per origin, not per path: browsers send
        /// only `scheme://host[:port]`. (A lone trailing `/` is removed instead, with
        /// [`OriginNormalized`](Self::OriginNormalized).)
        OriginHasPath = "origin-has-path",
        /// Error: a `?query` or `#fragment` after the host, which an origin never has.
        OriginHasQuery = "origin-has-query",
        /// Error: the host is not a domain name or an IP address: empty, an empty label (`..`), a
        /// label over 63 bytes or a name over 253, an IPv6 address without brackets, or anything
        /// else the URL Standard's host parser refuses.
        OriginInvalidHost = "origin-invalid-host",
        /// Error: `*` somewhere other than alone (any origin) or as a leading `*.` label
        /// (`https://*example.com`, `https://a.*.example.com`). Such a pattern has no single
        /// meaning, so it is refused rather than guessed at.
        OriginMisplacedWildcard = "origin-misplaced-wildcard",
        /// Error: `*.` in front of an IP address, which has no subdomains.
        OriginWildcardIp = "origin-wildcard-ip",
        /// Error: the port is empty, not a number, has a leading zero, is 0 or is above 65535.
        OriginInvalidPort = "origin-invalid-port",
        /// Error: a pattern longer than 512 bytes, which no origin is; refused before it is parsed.
        OriginTooLong = "origin-too-long",
        /// Warning: the pattern was rewritten into the form browsers send (scheme and host in
        /// lowercase, an IDN host in punycode, the default port, a trailing `/` or surrounding
        /// whitespace removed). It matches as rewritten; the fix gives that text.
        OriginNormalized = "origin-normalized",
        /// Warning: another listed pattern already allows every origin this one allows
        /// (`https://a.example.com` beside `https://*.example.com`), so removing it changes
        /// nothing.
        OriginRedundant = "origin-redundant",
        /// An edit removes a pattern the policy does not list.
        ///
        /// Warning: nothing is removed. A misspelt removal would leave allowed the origin that was
        /// meant to lose access, so check the spelling.
        OriginNotListed = "origin-not-listed",
        /// Error: `*` with `allow_credentials`. Browsers refuse `Access-Control-Allow-Origin: *` on
        /// credentialed requests (the CORS check), and echoing every origin instead would let any
        /// website read your users' responses with their cookies.
        /// <https://fetch.spec.whatwg.org/#cors-protocol-and-credentials>
        WildcardOriginWithCredentials = "wildcard-origin-with-credentials",
        /// Error: a plain `http:` or `ws:` origin other than loopback, with credentials. Anyone on
        /// the network path can impersonate it and read your users' credentialed responses.
        InsecureOriginWithCredentials = "insecure-origin-with-credentials",
        /// Error: `*.` on a public suffix (`https://*.github.io`, `https://*.co.uk`), with
        /// credentials. Anyone can register a site under it and act as your users.
        PublicSuffixWildcardWithCredentials = "public-suffix-wildcard-with-credentials",
        /// Warning: `*.` on a public suffix, without credentials. Anyone can register a site under
        /// it and read these responses: fine for public data only.
        PublicSuffixWildcard = "public-suffix-wildcard",
        /// Warning: no origin is allowed (an empty list, or an edit that removed the last one), so
        /// browsers block every cross-origin request.
        NoOriginAllowed = "no-origin-allowed",
        /// Error: `allow_private_network` with `*`. Any website on the internet could have its
        /// visitors' browsers reach this private-network service (Private Network Access).
        PrivateNetworkWithWildcardOrigin = "private-network-with-wildcard-origin",
        // Lists in general.
        /// Error: `*` listed together with other items, which it already covers, so the list does
        /// not say whether everything or only those items was meant. In `allow_headers`, only
        /// `authorization` may stand beside `*`, since `*` never covers it.
        WildcardMixed = "wildcard-mixed",
        /// An item listed twice (compared in normal form). A warning in a policy, or when an edit
        /// adds a pattern already allowed; an error where the two could not be told apart (two
        /// resolver grants with one name, two gateway routes with one host and prefix).
        Duplicate = "duplicate",
        /// Error: an empty or blank method or header name, or a resolver grant without a name.
        EmptyName = "empty-name",
        // Methods.
        /// Error: not a method name (a token: no spaces, no commas), such as `"GET, PUT"` in one
        /// item. Browsers could never send it.
        MethodInvalid = "method-invalid",
        /// Error: `CONNECT`, `TRACE` or `TRACK`, forbidden methods: `fetch()` refuses to send them,
        /// so allowing them means nothing. <https://fetch.spec.whatwg.org/#forbidden-method>
        MethodForbidden = "method-forbidden",
        /// Warning: a case variant of a method usually written in upper case (`patch`). Browsers
        /// upper-case only `DELETE`, `GET`, `HEAD`, `OPTIONS`, `POST` and `PUT` and compare methods
        /// case-sensitively, so `patch` allows `patch` but not `PATCH`.
        MethodCase = "method-case",
        // Request headers.
        /// Error: not a header name (a token: no spaces, commas or `:`), such as
        /// `"content-type, x-token"` in one item or `"x-token: abc"`.
        HeaderInvalid = "header-invalid",
        /// Error: a forbidden request header (`Cookie`, `Host`, `Origin`, `Sec-*`, `Proxy-*`, ...).
        /// The browser sets it itself and script never can, so a preflight never asks for it.
        /// <https://fetch.spec.whatwg.org/#forbidden-request-header>
        HeaderForbidden = "header-forbidden",
        /// Error: a CORS response header (`Access-Control-Allow-Origin`, ...) in `allow_headers`.
        /// It belongs in responses; to let script read a response header, use `expose_headers`.
        HeaderProhibited = "header-prohibited",
        /// Error: a name longer than [`MAX_HEADER_NAME_LEN`](crate::policy::MAX_HEADER_NAME_LEN)
        /// bytes, the longest a request's header names are compared with without allocating.
        HeaderNameTooLong = "header-name-too-long",
        // Response headers.
        /// Error: `*` in `expose_headers` with credentials. On credentialed requests browsers read
        /// `Access-Control-Expose-Headers: *` as the literal name `*`, so nothing would be exposed.
        ExposeWildcardWithCredentials = "expose-wildcard-with-credentials",
        /// Error: `Set-Cookie` or `Set-Cookie2` in `expose_headers`. Browsers never let script read
        /// them, whatever the server says.
        ExposeForbidden = "expose-forbidden",
        /// Error: a CORS protocol header (`Origin`, `Access-Control-*`) in `expose_headers`:
        /// exposing it to script serves no purpose.
        ExposeProhibited = "expose-prohibited",
        /// Warning: a CORS-safelisted response header (`Content-Type`, `Cache-Control`, ...) in
        /// `expose_headers`. Script can always read it, so listing it changes nothing.
        ExposeSafelisted = "expose-safelisted",
        // Max age.
        /// Error: a negative `max_age`, which is not valid HTTP (`delta-seconds`). Write 0 to
        /// disable preflight caching, or leave it out (browsers then cache for 5 seconds).
        MaxAgeNegative = "max-age-negative",
        /// Warning: a `max_age` above what some browser keeps a preflight for (see
        /// [`Browser::max_age_cap`](crate::browser::Browser::max_age_cap)); that browser asks again
        /// sooner than the header says.
        MaxAgeAboveBrowserCap = "max-age-above-browser-cap",
        /// Error: a `max_age` above 4,294,967,295 seconds, far beyond what any browser honours.
        MaxAgeOutOfRange = "max-age-out-of-range",
        // Anything else a containing document (the gateway's) checks.
        /// Error: any other value refused by what contains the policy: a gateway's own settings, or
        /// a resolver's cache times, bounds and grants. The message says which rule.
        InvalidValue = "invalid-value",
    }
}

/// One problem in a configuration.
///
/// `Display` gives one line: `severity[code]: field = value: message (fix: fix)`, leaving out
/// `= value` and the fix when they are empty. Serialised (for `crossgate lint --json`), it is an
/// object with these six fields.
///
/// ```
/// use crossgate::policy::{Policy, PolicyConfig, ProblemCode, Severity};
///
/// let config = PolicyConfig {
///     allow_origins: vec!["HTTPS://App.Example.com/".into()],
///     ..PolicyConfig::default()
/// };
/// let checked = Policy::check(&config);
/// assert!(checked.policy().is_some()); // a warning does not refuse the policy
/// let problem = &checked.problems()[0];
/// assert_eq!(problem.severity, Severity::Warning);
/// assert_eq!(problem.code, ProblemCode::OriginNormalized);
/// assert_eq!(problem.field, "allow_origins[0]");
/// assert_eq!(problem.value, "HTTPS://App.Example.com/");
/// assert_eq!(problem.fix, r#"write "https://app.example.com""#);
/// assert!(problem.to_string().starts_with(
///     "warning[origin-normalized]: allow_origins[0] = HTTPS://App.Example.com/: normalised to"
/// ));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Whether the problem refuses the configuration.
    pub severity: Severity,
    /// The kind of problem: match on it rather than on the message, which may be reworded.
    pub code: ProblemCode,
    /// Where: `allow_origins[2]`, `cors.max_age`, `upstream`.
    pub field: String,
    /// The offending value as written (empty when the problem is an absence).
    pub value: String,
    /// Why it is a problem.
    pub message: String,
    /// What to write instead.
    pub fix: String,
}

impl Problem {
    /// A problem that refuses the configuration, for code that checks settings of its own
    /// (a gateway, a CLI) and reports them beside the policy's. `field` is the path to the
    /// setting, `value` the text as written (empty for an absence), `message` why it is wrong,
    /// `fix` what to write instead.
    pub fn error(
        code: ProblemCode,
        field: impl Into<String>,
        value: impl Into<String>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Problem {
        Problem {
            severity: Severity::Error,
            code,
            field: field.into(),
            value: value.into(),
            message: message.into(),
            fix: fix.into(),
        }
    }

    /// A problem reported without refusing the configuration; the arguments are those of
    /// [`Problem::error`].
    pub fn warning(
        code: ProblemCode,
        field: impl Into<String>,
        value: impl Into<String>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Problem {
        Problem {
            severity: Severity::Warning,
            ..Problem::error(code, field, value, message, fix)
        }
    }

    /// Whether the problem refuses the configuration ([`Severity::Error`]).
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Prefixes the field path, e.g. `cors.` for a policy inside a gateway file.
    pub fn within(mut self, prefix: &str) -> Problem {
        if !prefix.is_empty() {
            self.field = if self.field.is_empty() {
                prefix.to_owned()
            } else {
                format!("{prefix}.{}", self.field)
            };
        }
        self
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{level}[{}]: ", self.code.as_str())?;
        // A syntax error has no field: the message follows the code directly.
        if !self.field.is_empty() {
            write!(f, "{}", self.field)?;
            if !self.value.is_empty() {
                write!(f, " = {}", self.value)?;
            }
            f.write_str(": ")?;
        }
        f.write_str(&self.message)?;
        if !self.fix.is_empty() {
            write!(f, " (fix: {})", self.fix)?;
        }
        Ok(())
    }
}

/// The problems of a configuration that refused to load. `Display` lists every error, one a
/// line, under a count; [`problems`](Self::problems) has the warnings as well.
///
/// ```
/// use crossgate::policy::{Policy, ProblemCode};
///
/// // Any origin, with cookies: refused, whatever else the policy says.
/// let refused = Policy::builder()
///     .allow_origins(["*"])
///     .allow_credentials(true)
///     .expose_headers(["*"])
///     .build()
///     .unwrap_err();
/// for problem in refused.problems() {
///     println!("{} [{}]: {}", problem.field, problem.code.as_str(), problem.fix);
/// }
/// let found: Vec<(&str, ProblemCode)> =
///     refused.errors().map(|p| (p.field.as_str(), p.code)).collect();
/// assert_eq!(found, [
///     ("allow_origins", ProblemCode::WildcardOriginWithCredentials),
///     ("expose_headers", ProblemCode::ExposeWildcardWithCredentials),
/// ]);
/// assert_eq!(
///     refused.problems()[0].fix,
///     "list the origins that need credentials, or set allow_credentials = false",
/// );
/// assert_eq!(refused.warnings().count(), 0);
/// let text = refused.to_string();
/// assert!(text.starts_with("invalid CORS configuration (2 errors)\n  error[wildcard-origin-"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidConfig {
    pub(crate) problems: Vec<Problem>,
}

impl InvalidConfig {
    /// Every problem found, errors and warnings alike, in the order of the configuration.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// The problems that refused the configuration (at least one).
    pub fn errors(&self) -> impl Iterator<Item = &Problem> {
        self.problems.iter().filter(|p| p.is_error())
    }

    /// The problems that alone would not have refused it.
    pub fn warnings(&self) -> impl Iterator<Item = &Problem> {
        self.problems.iter().filter(|p| !p.is_error())
    }

    /// Every problem, by value.
    pub fn into_problems(self) -> Vec<Problem> {
        self.problems
    }
}

impl fmt::Display for InvalidConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.errors().count();
        write!(
            f,
            "invalid CORS configuration ({n} error{})",
            if n == 1 { "" } else { "s" }
        )?;
        for p in self.errors() {
            write!(f, "\n  {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for InvalidConfig {}
