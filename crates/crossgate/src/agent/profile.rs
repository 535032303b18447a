//! Where browsers differ from the standard, and from each other.
//!
//! The agent follows the Fetch standard; a [`Profile`] switches on each documented departure of
//! one engine (`cors-fetch-rules.md` §4 and its appendix on Chromium 156), so that the simulator
//! predicts what that browser does and prints.

use crate::browser::Browser;

/// `i64::MAX - 1`, the largest `Range` number Chromium 156 safelists: it reads the numbers as
/// signed 64-bit integers, and `i64::MAX` itself is preflighted too (measured, as first and as
/// last position).
pub(crate) const CHROMIUM_RANGE_MAX: &[u8] = b"9223372036854775806";
/// `u64::MAX`, the largest `Range` number Firefox and WebKit read.
pub(crate) const FIREFOX_RANGE_MAX: &[u8] = b"18446744073709551615";

/// The schemes, other than HTTP(S), to which a browser refuses to follow a redirect at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchemeSet {
    /// These schemes.
    Only(&'static [&'static str]),
    /// Every scheme but these.
    AllBut(&'static [&'static str]),
}

impl SchemeSet {
    /// Whether `scheme` (lowercase, without the colon, as [`url::Url::scheme`] gives it) is in
    /// the set.
    pub fn contains(self, scheme: &str) -> bool {
        match self {
            SchemeSet::Only(list) => list.contains(&scheme),
            SchemeSet::AllBut(list) => !list.contains(&scheme),
        }
    }
}

/// Where Chromium 156 refuses a redirect without a CORS message (`ERR_UNSAFE_REDIRECT`): the
/// local schemes and its own. Each was observed by the agent matrix but
/// `chrome-experimental-site-token-provider`, listed with Chromium's other schemes. Other schemes
/// (`ftp:`, `javascript:`, `ws:`, `mailto:`, unknown ones) get the CORS scheme message.
pub(crate) const CHROMIUM_UNSAFE_REDIRECT_SCHEMES: [&str; 11] = [
    "about",
    "blob",
    "chrome",
    "chrome-experimental-site-token-provider",
    "chrome-extension",
    "chrome-untrusted",
    "data",
    "file",
    "filesystem",
    "isolated-app",
    "view-source",
];

/// The header names WebKit knows (`HTTPHeaderNames.in` of WebKitGTK 2.50.6), in their spelling.
/// Its header map keeps these apart from the others: they come first when it looks for a
/// request header a preflight did not allow, and its message spells them this way whatever
/// script wrote.
pub(crate) const WEBKIT_KNOWN_HEADER_NAMES: [&str; 96] = [
    "Accept",
    "Accept-Charset",
    "Accept-Language",
    "Accept-Encoding",
    "Accept-Ranges",
    "Access-Control-Allow-Credentials",
    "Access-Control-Allow-Headers",
    "Access-Control-Allow-Methods",
    "Access-Control-Allow-Origin",
    "Access-Control-Expose-Headers",
    "Access-Control-Max-Age",
    "Access-Control-Request-Headers",
    "Access-Control-Request-Method",
    "Age",
    "Authorization",
    "Cache-Control",
    "Clear-Site-Data",
    "Connection",
    "Content-Disposition",
    "Content-Encoding",
    "Content-Language",
    "Content-Length",
    "Content-Location",
    "Content-Security-Policy",
    "Content-Security-Policy-Report-Only",
    "Content-Type",
    "Content-Range",
    "Cookie",
    "Cookie2",
    "Cross-Origin-Embedder-Policy",
    "Cross-Origin-Embedder-Policy-Report-Only",
    "Cross-Origin-Opener-Policy",
    "Cross-Origin-Opener-Policy-Report-Only",
    "Cross-Origin-Resource-Policy",
    "Date",
    "DNT",
    "Default-Style",
    "ETag",
    "Expect",
    "Expires",
    "Host",
    "If-Match",
    "If-Modified-Since",
    "If-None-Match",
    "If-Range",
    "If-Unmodified-Since",
    "Integrity-Policy",
    "Integrity-Policy-Report-Only",
    "Keep-Alive",
    "Last-Event-ID",
    "Last-Modified",
    "Link",
    "Location",
    "Origin",
    "Ping-From",
    "Ping-To",
    "Pragma",
    "Proxy-Authorization",
    "Range",
    "Referer",
    "Referrer-Policy",
    "Refresh",
    "Report-To",
    "Reporting-Endpoints",
    "Sec-Fetch-Dest",
    "Sec-Fetch-Mode",
    "Sec-Fetch-Site",
    "Sec-Purpose",
    "Sec-WebSocket-Accept",
    "Sec-WebSocket-Extensions",
    "Sec-WebSocket-Key",
    "Sec-WebSocket-Protocol",
    "Sec-WebSocket-Version",
    "Server-Timing",
    "Service-Worker",
    "Service-Worker-Allowed",
    "Service-Worker-Navigation-Preload",
    "Set-Cookie",
    "Set-Cookie2",
    "SourceMap",
    "TE",
    "Timing-Allow-Origin",
    "Trailer",
    "Transfer-Encoding",
    "Upgrade",
    "Upgrade-Insecure-Requests",
    "User-Agent",
    "Vary",
    "Via",
    "X-Content-Type-Options",
    "X-Frame-Options",
    "X-SourceMap",
    "X-XSS-Protection",
    "X-Temp-Tablet",
    "Icy-MetaInt",
    "Icy-Metadata",
];

/// In which order the request headers are searched for one the preflight did not allow, which
/// is the one the message names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnlistedHeaderOrder {
    /// `Authorization` first, then the sorted, lowercase CORS-unsafe names (Fetch §4.8 steps
    /// 7.6 and 7.7), each named as script wrote it.
    Sorted,
    /// The headers WebKit knows (the 96 of its `HTTPHeaderNames.in`) in the order script set them,
    /// spelled WebKit's way, then the others in that order, as script wrote them.
    WebkitHeaderMap,
}

/// How a browser reads `Access-Control-Max-Age`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MaxAgeParsing {
    /// Fetch: `1*DIGIT`, anything else is a failure and the default of 5 s applies.
    Spec,
    /// Chromium (and WebKit): a signed 64-bit integer; negative means "do not cache", anything
    /// unparsable 5 s.
    Chromium,
    /// Firefox: anything but digits means "do not cache"; an empty value is an absent one.
    Firefox,
}

/// In which order a preflight response's problems are reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PreflightOrder {
    /// A redirect, then the allow-origin and credentials check, then the ok status (Chromium;
    /// also the order crossgate uses for the standard, which reports no order).
    RedirectOriginStatus,
    /// The allow-origin and credentials check, then a redirect, then the ok status (Firefox,
    /// whose CORS listener judges the preflight's redirect response before the preflight
    /// refuses to follow it).
    OriginRedirectStatus,
    /// The ok status first, then the allow-origin check (WebKit).
    StatusOrigin,
}

/// How the preflight cache keeps results.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheModel {
    /// Fetch §4.9: one entry per allowed method and per allowed header name, each with its own
    /// expiry; new preflights add entries (Firefox).
    PerEntry,
    /// One result per (origin, URL), replaced by each new preflight; a hit that does not cover a
    /// request is dropped and a new preflight sent (Chromium, WebKit).
    WholeResult,
}

/// The behaviour of one user agent.
///
/// Each field is one point where an engine departs from the standard, or where the standard
/// leaves the choice open. [`Profile::spec`] is the standard as written; [`Profile::chromium`],
/// [`Profile::firefox`] and [`Profile::webkit`] are the engines as measured, and
/// [`Profile::for_browser`] picks one. An [`Agent`](super::Agent) runs with a profile, and
/// [`Scenario::run`](super::Scenario::run) runs each browser's.
///
/// ```
/// use crossgate::agent::{CacheModel, Profile};
/// use crossgate::browser::Browser;
///
/// // Chromium, Firefox and WebKit, in that order.
/// let engines = Browser::ALL.map(Profile::for_browser);
/// assert_eq!(engines[1], Profile::firefox());
/// assert_eq!(Profile::spec().browser, None);
///
/// // `Access-Control-Max-Age: 86400` (a day): each engine caps it its own way.
/// let day = Some(b"86400".as_slice());
/// assert_eq!(engines.map(|p| p.max_age(day)), [7200, 86400, 600]);
///
/// // One knob: Firefox keeps the standard's entry per method and header name, Chromium and
/// // WebKit one result per origin and URL, replaced by each new preflight.
/// assert_eq!(
///     engines.map(|p| p.cache_model),
///     [CacheModel::WholeResult, CacheModel::PerEntry, CacheModel::WholeResult]
/// );
/// assert_eq!(Profile::spec().cache_model, CacheModel::PerEntry);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Profile {
    /// `None` for the standard as written.
    ///
    /// Otherwise the engine, whose name the notes use ("Chromium drops a `User-Agent` set by
    /// script silently").
    pub browser: Option<Browser>,
    /// The longest time a preflight result is kept, in seconds.
    ///
    /// [`Profile::max_age`] caps what `Access-Control-Max-Age` asks for at this; `None` would
    /// mean no cap (no built-in profile has `None`). The standard sets no cap: the spec profile
    /// uses crossgate's recommended 7200. Chromium 7200 (2 h), Firefox 86400 (24 h), WebKit 600
    /// ([`Browser::max_age_cap`]).
    pub max_age_cap: Option<u64>,
    /// How `Access-Control-Max-Age` is read: the standard's `1*DIGIT` with 5 s for anything
    /// else; Chromium and WebKit a signed 64-bit integer (negative: not cached); Firefox digits
    /// only (anything else: not cached). See [`MaxAgeParsing`].
    pub max_age_parsing: MaxAgeParsing,
    /// In which order a preflight response's checks run, so which failure the error names
    /// when a response has several: redirect, origin, status for Chromium (and for the
    /// standard, which sets no order); origin, redirect, status for Firefox; status, then
    /// origin for WebKit. See [`PreflightOrder`].
    pub preflight_order: PreflightOrder,
    /// How the preflight cache keeps results: the standard's entry per method and header name
    /// (Firefox), or one result per origin and URL that each preflight replaces (Chromium,
    /// WebKit). See [`CacheModel`].
    pub cache_model: CacheModel,
    /// A cached result from a credentialed preflight also serves requests without credentials
    /// (Fetch §4.9 "cache entry match"). Firefox keys its cache by the credentials mode, so it
    /// serves only requests with the same mode.
    pub cache_credentialed_serves_all: bool,
    /// A cached `*` covers other methods and header names on requests without credentials
    /// (Fetch §4.9). Firefox stores it as the literal name `*`, which covers nothing else.
    pub cache_wildcards: bool,
    /// `HEAD` needs no method in the cache, as a CORS-safelisted method (Fetch §4.4 step 1).
    /// Firefox spares only `GET` and `POST` the method check, so a `HEAD` preflighted for its
    /// headers is preflighted again unless `HEAD` itself was allowed.
    pub cache_spares_head: bool,
    /// `Access-Control-Allow-Headers: *` also covers `Authorization` on a request without
    /// credentials (Chromium 156, whose enforcing feature is off; Firefox, with a deprecation
    /// warning; WebKit, without one). The standard never lets `*` cover it.
    pub wildcard_covers_authorization: bool,
    /// Repeated request headers are judged after being combined with `", "` (Chromium, and
    /// WebKit), so lines that are each safelisted can be unsafe together (a combined value over
    /// 128 bytes, say). The standard judges each header line on its own.
    pub combines_repeated_request_headers: bool,
    /// The CORS-unsafe request-header names are a set: a name repeated in the request is asked
    /// for once in `Access-Control-Request-Headers` (Fetch §2.2.2). Firefox lists it once per
    /// header (`x-a,x-a`).
    pub unsafe_header_names_deduplicated: bool,
    /// A `User-Agent` set by script is dropped silently (Chromium), so it is never sent and
    /// never makes a preflight. The standard lets script set it, as a CORS-unsafe header.
    pub drops_user_agent: bool,
    /// Client hints (`DPR`, `Device-Memory`, `Downlink`, `Viewport-Width`, `Width`, `RTT`,
    /// `ECT`), `Save-Data: on` and `Intervention` are safelisted too (Chromium).
    pub extra_safelisted_headers: bool,
    /// The largest number a safelisted `Range` may carry, as decimal digits: the standard sets
    /// none; Chromium parses into a signed 64-bit integer, Firefox and WebKit into an unsigned
    /// one. A larger number makes `Range` CORS-unsafe, so the request is preflighted. `None`: no
    /// limit.
    pub range_number_max: Option<&'static [u8]>,
    /// Bytes 0x80 to 0xFF in a value are CORS-unsafe request-header bytes, so an `Accept` or
    /// `Content-Type` carrying one (`text/plain;x=\xE9`) is preflighted (Firefox). The standard
    /// lists only control bytes and some ASCII punctuation (Fetch §2.2.2).
    pub high_bytes_unsafe: bool,
    /// A preflighted request whose actual response fails the CORS check clears the preflight
    /// cache entries for its URL (Fetch §4.1 step 12.6.3). Chromium 156 and WebKit keep them:
    /// the next request is not preflighted again.
    pub actual_failure_clears_preflight_cache: bool,
    /// A preflight that fails clears the cache entries for its URL, and (whole-result cache) a
    /// result that does not cover a request is dropped before the new preflight. WebKit keeps
    /// what an earlier preflight allowed until a successful one replaces it: a failed `DELETE`
    /// preflight leaves a cached `PUT` in place.
    pub preflight_failure_clears_cache: bool,
    /// A cached `Access-Control-Allow-Headers: *` also covers `Authorization` (WebKit, whose
    /// cache reads `*` as it reads the response). Chromium 156 lets `*` cover it when judging a
    /// response but not from its cache.
    pub cached_wildcard_covers_authorization: bool,
    /// The `Origin` header of a request outside CORS (a `no-cors` POST, say) follows the
    /// referrer policy (`null` under `no-referrer`, or `same-origin` to another origin; Fetch
    /// §3.2). Chromium 156 sends the page's origin whatever the referrer policy.
    pub origin_header_follows_referrer_policy: bool,
    /// Schemes other than HTTP(S) a redirect may not lead to at all: the network stack refuses
    /// the redirect before CORS looks at it, so no CORS reason is given (Chromium: local
    /// schemes and its own; Firefox: every scheme but `ftp:`). Other schemes fail the CORS
    /// check of a `cors` request with a message (Fetch §4.5 step 5).
    pub unsafe_redirect_schemes: SchemeSet,
    /// Once a request has been preflighted, every later hop of it is preflighted too, even
    /// where the redirect left it simple (a 303 to `GET`, `Authorization` dropped across
    /// origins). Firefox copies the preflight requirement to the redirected channel, and WebKit
    /// preflights every later CORS hop again; the standard decides each hop afresh (Fetch §4.1
    /// step 12).
    pub preflight_repeats_after_redirect: bool,
    /// A preflight after a tainting redirect carries, and is judged and cached for, the page's
    /// origin rather than `null` (Firefox: the preflight is a new request from the page). The
    /// actual request still says `null` (Fetch §3.2).
    pub preflight_origin_untainted: bool,
    /// A redirect to a URL with a user name or password is refused even when the standard lets
    /// it through (a same-origin hop, untainted), without a CORS message (Chromium).
    pub refuses_every_redirect_with_credentials: bool,
    /// `Range` is read as WebKit reads it: the unit `bytes` in any case, and a `+` before a
    /// number (its integer parser takes one). The standard wants `bytes` and digits exactly.
    pub range_lenient_unit_and_sign: bool,
    /// A later hop's preflight is decided, asked and matched against the cache with the
    /// request's first headers, before a redirect dropped any (`Content-Type` after a 303 to
    /// `GET`, `Authorization` across origins), though the request itself goes without them
    /// (WebKit's network process keeps the first headers for its CORS checks).
    pub redirect_preflight_asks_first_headers: bool,
    /// With credentials mode `same-origin` and a first URL of the page's own origin, every
    /// redirect response after it is checked as though credentials were included (`*` refused,
    /// `Access-Control-Allow-Credentials: true` required), while the final response is checked
    /// as the standard says (WebKit: its web process keeps the credentials policy the fetch
    /// started with for its redirect checks).
    pub same_origin_credentials_checked_on_redirects: bool,
    /// Which unlisted request header a failed preflight names
    /// (`HeaderDisallowedByPreflightResponse`), when several are: the standard's sorted order
    /// (Chromium, Firefox) or WebKit's header map. See [`UnlistedHeaderOrder`].
    pub unlisted_header_order: UnlistedHeaderOrder,
    /// A `DELETE` redirected to another origin goes on as a `GET`, whatever the status (307 and
    /// 308 included), with its headers (WebKit). The standard changes the method only for a 303,
    /// or a 301 or 302 after `POST` (Fetch §4.5 step 6).
    pub cross_origin_delete_redirects_as_get: bool,
    /// A preflight sent from `null` (after a tainting redirect) is cached under `null`, as the
    /// standard keys entries by the byte-serialized origin (Fetch §4.9). Chromium and WebKit
    /// hold the origin as an opaque one, unique, which no later request matches: never cached.
    pub caches_preflights_from_null: bool,
}

impl Profile {
    /// The Fetch standard as written, with crossgate's recommended 7200 s cache cap.
    pub const fn spec() -> Profile {
        Profile {
            browser: None,
            max_age_cap: Some(7200),
            max_age_parsing: MaxAgeParsing::Spec,
            preflight_order: PreflightOrder::RedirectOriginStatus,
            cache_model: CacheModel::PerEntry,
            cache_credentialed_serves_all: true,
            cache_wildcards: true,
            cache_spares_head: true,
            wildcard_covers_authorization: false,
            combines_repeated_request_headers: false,
            unsafe_header_names_deduplicated: true,
            drops_user_agent: false,
            extra_safelisted_headers: false,
            range_number_max: None,
            high_bytes_unsafe: false,
            actual_failure_clears_preflight_cache: true,
            preflight_failure_clears_cache: true,
            cached_wildcard_covers_authorization: false,
            origin_header_follows_referrer_policy: true,
            unsafe_redirect_schemes: SchemeSet::Only(&[]),
            preflight_repeats_after_redirect: false,
            preflight_origin_untainted: false,
            refuses_every_redirect_with_credentials: false,
            range_lenient_unit_and_sign: false,
            redirect_preflight_asks_first_headers: false,
            same_origin_credentials_checked_on_redirects: false,
            unlisted_header_order: UnlistedHeaderOrder::Sorted,
            cross_origin_delete_redirects_as_get: false,
            caches_preflights_from_null: true,
        }
    }

    /// Chromium 156 as measured (headless 156.0.8078.79; `cors-fetch-rules.md`, appendix): a
    /// whole-result preflight cache capped at 2 h that keeps its entries after an actual
    /// response fails, Chromium's extra safelisted headers, `User-Agent` dropped, repeated
    /// headers combined, `*` covering `Authorization` in a response, and an `Origin` header that
    /// ignores the referrer policy.
    pub const fn chromium() -> Profile {
        Profile {
            browser: Some(Browser::Chromium),
            max_age_cap: Some(Browser::Chromium.max_age_cap()),
            max_age_parsing: MaxAgeParsing::Chromium,
            preflight_order: PreflightOrder::RedirectOriginStatus,
            cache_model: CacheModel::WholeResult,
            cache_credentialed_serves_all: true,
            cache_wildcards: true,
            cache_spares_head: true,
            wildcard_covers_authorization: true,
            combines_repeated_request_headers: true,
            unsafe_header_names_deduplicated: true,
            drops_user_agent: true,
            extra_safelisted_headers: true,
            range_number_max: Some(CHROMIUM_RANGE_MAX),
            high_bytes_unsafe: false,
            actual_failure_clears_preflight_cache: false,
            preflight_failure_clears_cache: true,
            cached_wildcard_covers_authorization: false,
            origin_header_follows_referrer_policy: false,
            unsafe_redirect_schemes: SchemeSet::Only(&CHROMIUM_UNSAFE_REDIRECT_SCHEMES),
            preflight_repeats_after_redirect: false,
            preflight_origin_untainted: false,
            refuses_every_redirect_with_credentials: true,
            range_lenient_unit_and_sign: false,
            redirect_preflight_asks_first_headers: false,
            same_origin_credentials_checked_on_redirects: false,
            unlisted_header_order: UnlistedHeaderOrder::Sorted,
            cross_origin_delete_redirects_as_get: false,
            caches_preflights_from_null: false,
        }
    }

    /// Firefox as measured (153.8.0esr, by the agent matrix of `crossgate-conformance`): the
    /// standard's per-entry preflight cache, but keyed by credentials mode with `*` stored
    /// literally, capped at 24 h and with `Access-Control-Max-Age` read as digits only; high
    /// bytes make a header unsafe; a preflighted request is preflighted at every later hop,
    /// from the page's origin; redirects to every scheme but `ftp:` refused below CORS.
    pub const fn firefox() -> Profile {
        Profile {
            browser: Some(Browser::Firefox),
            max_age_cap: Some(Browser::Firefox.max_age_cap()),
            max_age_parsing: MaxAgeParsing::Firefox,
            preflight_order: PreflightOrder::OriginRedirectStatus,
            cache_model: CacheModel::PerEntry,
            cache_credentialed_serves_all: false,
            cache_wildcards: false,
            cache_spares_head: false,
            wildcard_covers_authorization: true,
            unsafe_header_names_deduplicated: false,
            range_number_max: Some(FIREFOX_RANGE_MAX),
            high_bytes_unsafe: true,
            // Measured: data:, about:, blob:, file:, javascript:, ws:, wss:, mailto:, moz-extension:,
            // resource:, view-source:, chrome:, unknown schemes; `ftp:` alone reaches CORS.
            unsafe_redirect_schemes: SchemeSet::AllBut(&["ftp"]),
            preflight_repeats_after_redirect: true,
            preflight_origin_untainted: true,
            ..Profile::spec()
        }
    }

    /// WebKit as measured (WebKitGTK 2.50.6, whose WebCore is Safari's): a whole-result
    /// preflight cache capped at 600 s that no failure clears and whose `*` covers
    /// `Authorization`, a lenient `Range`, every later hop preflighted with the first headers,
    /// and its own quirks on redirects (credentials checked, `DELETE` turned into `GET`).
    pub const fn webkit() -> Profile {
        Profile {
            browser: Some(Browser::Webkit),
            max_age_cap: Some(Browser::Webkit.max_age_cap()),
            // `parseInteger<int64_t>`, as Chromium reads it: a sign is taken, a negative or
            // zero value is not cached, junk and overflow give the default.
            max_age_parsing: MaxAgeParsing::Chromium,
            preflight_order: PreflightOrder::StatusOrigin,
            cache_model: CacheModel::WholeResult,
            // Measured: `*` lets `Authorization` through, without a message, from the cache too.
            wildcard_covers_authorization: true,
            cached_wildcard_covers_authorization: true,
            // Repeated headers are judged combined, as Chromium does.
            combines_repeated_request_headers: true,
            // Neither a failed actual response nor a failed preflight clears the cache.
            actual_failure_clears_preflight_cache: false,
            preflight_failure_clears_cache: false,
            // `parseInteger<uint64_t>` for the numbers: a `+` taken, more than 64 bits refused.
            range_lenient_unit_and_sign: true,
            range_number_max: Some(FIREFOX_RANGE_MAX),
            // Once preflighted, every later CORS hop is preflighted again, asking for the first
            // headers with the new method, from `null` where the redirect tainted the request.
            preflight_repeats_after_redirect: true,
            redirect_preflight_asks_first_headers: true,
            same_origin_credentials_checked_on_redirects: true,
            unlisted_header_order: UnlistedHeaderOrder::WebkitHeaderMap,
            cross_origin_delete_redirects_as_get: true,
            caches_preflights_from_null: false,
            ..Profile::spec()
        }
    }

    /// The profile of `browser`: [`Profile::chromium`], [`Profile::firefox`] or
    /// [`Profile::webkit`].
    pub const fn for_browser(browser: Browser) -> Profile {
        match browser {
            Browser::Chromium => Profile::chromium(),
            Browser::Firefox => Profile::firefox(),
            Browser::Webkit => Profile::webkit(),
        }
    }

    /// Reads `Access-Control-Max-Age` (already combined from its lines; `None` when absent) as
    /// this agent does, capped: seconds to keep the result (0: not cached).
    pub fn max_age(&self, value: Option<&[u8]>) -> u64 {
        const DEFAULT: u64 = 5;
        let seconds = match value {
            None => DEFAULT,
            Some(v) => match self.max_age_parsing {
                // Fetch §4.8 step 7.8: `delta-seconds`, else the default.
                MaxAgeParsing::Spec => digits(v).unwrap_or(DEFAULT),
                // Gecko: an empty value is an absent one; anything but digits, no caching.
                MaxAgeParsing::Firefox if v.is_empty() => DEFAULT,
                MaxAgeParsing::Firefox => digits(v).unwrap_or(0),
                MaxAgeParsing::Chromium => match std::str::from_utf8(v)
                    .ok()
                    .and_then(|s| s.parse::<i64>().ok())
                {
                    Some(n) if n < 0 => 0,
                    Some(n) => n.unsigned_abs(),
                    None => DEFAULT,
                },
            },
        };
        self.max_age_cap.map_or(seconds, |cap| seconds.min(cap))
    }
}

/// `1*DIGIT`, saturating.
fn digits(v: &[u8]) -> Option<u64> {
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(v.iter().fold(0u64, |acc, d| {
        acc.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_per_profile() {
        let cases: [(&[u8], u64, u64, u64, u64); 9] = [
            // value, spec, chromium, firefox, webkit
            (b"600", 600, 600, 600, 600),
            (b"100000", 7200, 7200, 86400, 600),
            (b"0", 0, 0, 0, 0),
            (b"-1", 5, 0, 0, 0),
            (b"1.5", 5, 5, 0, 5),
            (b"abc", 5, 5, 0, 5),
            (b"+10", 5, 10, 0, 10),
            (b"99999999999999999999999", 7200, 5, 86400, 5),
            (b"", 5, 5, 5, 5),
        ];
        for (v, spec, chromium, firefox, webkit) in cases {
            let name = String::from_utf8_lossy(v);
            assert_eq!(Profile::spec().max_age(Some(v)), spec, "spec {name}");
            assert_eq!(
                Profile::chromium().max_age(Some(v)),
                chromium,
                "chromium {name}"
            );
            assert_eq!(
                Profile::firefox().max_age(Some(v)),
                firefox,
                "firefox {name}"
            );
            assert_eq!(Profile::webkit().max_age(Some(v)), webkit, "webkit {name}");
        }
        assert_eq!(Profile::chromium().max_age(None), 5);
    }
}
