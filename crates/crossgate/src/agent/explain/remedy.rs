//! What to change on the server, in general and in each stack crossgate's users run: the tower
//! layer in axum, the actix-web middleware, the gateway, nginx and Express's `cors` package.

use serde::Serialize;
use serde::ser::SerializeMap;

/// A server stack a fix is written for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Stack {
    /// crossgate's tower layer (axum, tonic, hyper).
    #[serde(rename = "tower")]
    Tower,
    /// crossgate's actix-web middleware.
    #[serde(rename = "actix-web")]
    Actix,
    /// `crossgate serve`.
    #[serde(rename = "gateway")]
    Gateway,
    /// nginx: fixes are `add_header ... always;` directives (`always`, so that error responses
    /// carry the headers too).
    #[serde(rename = "nginx")]
    Nginx,
    /// Express with the `cors` package.
    #[serde(rename = "express")]
    Express,
}

impl Stack {
    /// Every stack, in the order fixes are listed.
    pub const ALL: [Stack; 5] = [
        Stack::Tower,
        Stack::Actix,
        Stack::Gateway,
        Stack::Nginx,
        Stack::Express,
    ];

    /// The key in JSON.
    pub fn key(self) -> &'static str {
        match self {
            Stack::Tower => "tower",
            Stack::Actix => "actix-web",
            Stack::Gateway => "gateway",
            Stack::Nginx => "nginx",
            Stack::Express => "express",
        }
    }

    /// How people call it.
    pub fn label(self) -> &'static str {
        match self {
            Stack::Tower => "axum / tower (crossgate::tower::CorsLayer)",
            Stack::Actix => "actix-web (crossgate::actix::Cors)",
            Stack::Gateway => "crossgate serve",
            Stack::Nginx => "nginx",
            Stack::Express => "Express (cors)",
        }
    }
}

/// The fix in each stack, in [`Stack::ALL`]'s order; a JSON object keyed by stack.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ByStack(
    /// Each stack with a fix and its text, in [`Stack::ALL`]'s order, each stack at most once.
    pub Vec<(Stack, String)>,
);

impl ByStack {
    /// The fix written for `stack`; `None` where the general fix says it all.
    pub fn get(&self, stack: Stack) -> Option<&str> {
        self.0
            .iter()
            .find(|(s, _)| *s == stack)
            .map(|(_, t)| t.as_str())
    }

    /// Whether no stack needs a fix of its own: the server is not involved, or the general
    /// fix is enough.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn add(&mut self, stack: Stack, text: String) {
        match self.0.iter_mut().find(|(s, _)| *s == stack) {
            Some((_, t)) => {
                t.push(' ');
                t.push_str(&text);
            }
            None => {
                self.0.push((stack, text));
                self.0
                    .sort_by_key(|(s, _)| Stack::ALL.iter().position(|a| a == s));
            }
        }
    }
}

impl Serialize for ByStack {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (stack, text) in &self.0 {
            map.serialize_entry(stack.key(), text)?;
        }
        map.end()
    }
}

/// A change to the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Remedy {
    /// Answer this origin with `Access-Control-Allow-Origin` (and `Vary: Origin`).
    AllowOrigin(String),
    /// CORS headers on error responses too.
    CorsOnErrors,
    /// The preflight answered before authentication.
    PreflightBeforeAuth,
    /// Preflights answered with a 2xx status, whatever the routes.
    AnswerPreflight,
    /// An exact origin, not `*`, with credentials.
    ExactOriginWithCredentials(String),
    /// `Access-Control-Allow-Credentials: true`.
    AllowCredentials,
    /// One layer writes CORS headers, with one origin.
    OneAllowOrigin(String),
    AllowMethod(String),
    AllowHeader(String),
    /// A well-formed list in `Access-Control-Allow-Methods` / `-Headers`.
    TokenList(&'static str),
    /// No redirect on the preflight.
    NoPreflightRedirect,
}

/// A placeholder where the origin is not known.
fn shown(origin: &str) -> &str {
    if origin.is_empty() || origin == "null" {
        "<page origin>"
    } else {
        origin
    }
}

impl Remedy {
    /// The change, for any stack.
    pub(crate) fn general(&self) -> String {
        match self {
            Remedy::AllowOrigin(o) => format!(
                "Send `Access-Control-Allow-Origin: {}` (the request's exact origin, checked \
                 against an allowlist) and `Vary: Origin`.",
                shown(o)
            ),
            Remedy::CorsOnErrors => "Send the CORS headers on error responses too: put the CORS \
                 layer outermost, around authentication, routing and error handling."
                .to_owned(),
            Remedy::PreflightBeforeAuth => "Answer preflights before authentication: a \
                 preflight never carries cookies or an Authorization header, so an auth check \
                 refuses it unless it lets OPTIONS through."
                .to_owned(),
            Remedy::AnswerPreflight => "Answer OPTIONS preflights with 204 and the allow \
                 headers, before routing and authentication."
                .to_owned(),
            Remedy::ExactOriginWithCredentials(o) => format!(
                "With credentials, send the exact origin, never `*`: \
                 `Access-Control-Allow-Origin: {}`, `Access-Control-Allow-Credentials: true`, \
                 `Vary: Origin`.",
                shown(o)
            ),
            Remedy::AllowCredentials => "Send `Access-Control-Allow-Credentials: true` (exactly, \
                 in lower case) with an exact origin."
                .to_owned(),
            Remedy::OneAllowOrigin(o) => format!(
                "Send one origin, the request's, checked against the allowlist \
                 (`Access-Control-Allow-Origin: {}`), and let only one layer write CORS headers.",
                shown(o)
            ),
            Remedy::AllowMethod(m) => format!("Add `{m}` to Access-Control-Allow-Methods."),
            Remedy::AllowHeader(h) => format!("Add `{h}` to Access-Control-Allow-Headers."),
            Remedy::TokenList(header) => format!(
                "Send {header} as names separated by commas, e.g. `PUT, DELETE` or \
                 `content-type, authorization`."
            ),
            Remedy::NoPreflightRedirect => "Call the final URL directly, or stop redirecting \
                 OPTIONS requests (trailing slash, http to https, login redirects)."
                .to_owned(),
        }
    }

    /// The change in `stack`, where it differs from the general one.
    pub(crate) fn in_stack(&self, stack: Stack) -> Option<String> {
        use Stack::*;
        let text = match (self, stack) {
            (Remedy::AllowOrigin(o), Tower) => format!(
                "Add `\"{}\"` to `Policy::builder().allow_origins([...])`, and add the \
                 `CorsLayer` with `.layer(...)` (not `route_layer`) so every route, fallback and \
                 error answer passes through it.",
                shown(o)
            ),
            (Remedy::AllowOrigin(o), Actix) => format!(
                "Add `\"{}\"` to the policy's `allow_origins` and register `.wrap(Cors::new(policy))` \
                 last on the `App`, so it is outermost.",
                shown(o)
            ),
            (Remedy::AllowOrigin(o), Gateway) => format!(
                "Add `\"{}\"` to `allow_origins` in `[cors]` (or the route's `[routes.cors]`, or a \
                 line of its `allow_origins_file`), then `crossgate lint` the file; it reloads on \
                 change.",
                shown(o)
            ),
            (Remedy::AllowOrigin(o), Nginx) => format!(
                "`map $http_origin $cors_origin {{ default \"\"; \"{}\" $http_origin; }}` and \
                 `add_header Access-Control-Allow-Origin $cors_origin always;` \
                 `add_header Vary Origin always;`",
                shown(o)
            ),
            (Remedy::AllowOrigin(o), Express) => format!(
                "`app.use(cors({{ origin: [\"{}\"] }}))` before the routes.",
                shown(o)
            ),
            (Remedy::CorsOnErrors, Tower) => "crossgate's `CorsLayer` writes the headers on every \
                 response it wraps, errors included: add it last (`.layer(...)` after auth and \
                 error layers), so it is outermost."
                .to_owned(),
            (Remedy::CorsOnErrors, Actix) => "crossgate's `Cors` adds the headers to errors from \
                 the middleware and handlers inside it: register `.wrap(Cors::new(policy))` last."
                .to_owned(),
            (Remedy::CorsOnErrors, Gateway) => "`crossgate serve` already adds CORS headers to \
                 the upstream's error responses and its own; the status itself is the upstream's \
                 problem."
                .to_owned(),
            (Remedy::CorsOnErrors, Nginx) => "Add `always` to every `add_header` line: without \
                 it nginx adds headers to 2xx and 3xx responses only."
                .to_owned(),
            (Remedy::CorsOnErrors, Express) => "`app.use(cors(...))` first, before the routers, \
                 the auth middleware and the error handler."
                .to_owned(),
            (Remedy::PreflightBeforeAuth, Tower) => {
                "`.layer(auth).layer(CorsLayer::new(policy))`: \
                 in axum the last `.layer` is outermost, so the CORS layer answers the preflight \
                 before auth runs."
                    .to_owned()
            }
            (Remedy::PreflightBeforeAuth, Actix) => "`.wrap(auth).wrap(Cors::new(policy))`: the \
                 last `.wrap` runs first, so `Cors` answers the preflight before auth."
                .to_owned(),
            (Remedy::PreflightBeforeAuth, Gateway) => "Put `crossgate serve` in front: it answers \
                 preflights itself and never forwards them to the authenticated upstream."
                .to_owned(),
            (Remedy::PreflightBeforeAuth, Nginx) => "Answer OPTIONS before `auth_request` / \
                 `auth_basic`: `if ($request_method = OPTIONS) { add_header ... always; return \
                 204; }`."
                .to_owned(),
            (Remedy::PreflightBeforeAuth, Express) => "`app.use(cors(options))` before the auth \
                 middleware: it answers OPTIONS itself."
                .to_owned(),
            (Remedy::AnswerPreflight, Tower) => "The `CorsLayer` answers preflights itself (204), \
                 for any path: no OPTIONS routes needed, as long as it wraps the whole `Router` \
                 with `.layer(...)`."
                .to_owned(),
            (Remedy::AnswerPreflight, Actix) => "`Cors` answers preflights itself (204) once it \
                 wraps the whole `App` with `.wrap(...)`; no OPTIONS routes needed."
                .to_owned(),
            (Remedy::AnswerPreflight, Gateway) => "The gateway answers preflights itself unless \
                 the route says `keep_upstream_cors = true`; remove that to let it answer."
                .to_owned(),
            (Remedy::AnswerPreflight, Nginx) => "`if ($request_method = OPTIONS) { add_header \
                 Access-Control-Allow-Origin $cors_origin always; add_header \
                 Access-Control-Allow-Methods ... always; return 204; }`."
                .to_owned(),
            (Remedy::AnswerPreflight, Express) => "`app.use(cors(options))` before the routers: \
                 it answers OPTIONS with 204 itself."
                .to_owned(),
            (Remedy::ExactOriginWithCredentials(o), Tower | Actix) => format!(
                "crossgate refuses `*` with credentials when the policy is built: \
                 `.allow_origins([\"{}\"]).allow_credentials(true)`.",
                shown(o)
            ),
            (Remedy::ExactOriginWithCredentials(o), Gateway) => format!(
                "`allow_origins = [\"{}\"]` and `allow_credentials = true` in `[cors]` (`lint` \
                 refuses `*` with credentials).",
                shown(o)
            ),
            (Remedy::ExactOriginWithCredentials(_), Nginx) => "Echo the origin from the \
                 allowlist map, never `*`: `add_header Access-Control-Allow-Origin $cors_origin \
                 always;` `add_header Access-Control-Allow-Credentials true always;`."
                .to_owned(),
            (Remedy::ExactOriginWithCredentials(o), Express) => format!(
                "`cors({{ origin: [\"{}\"], credentials: true }})`: `origin: \"*\"` sends `*`, \
                 and `origin: true` reflects every origin (any site could read the answers).",
                shown(o)
            ),
            (Remedy::AllowCredentials, Tower | Actix) => {
                "`.allow_credentials(true)` on the `Policy` builder.".to_owned()
            }
            (Remedy::AllowCredentials, Gateway) => {
                "`allow_credentials = true` in `[cors]`.".to_owned()
            }
            (Remedy::AllowCredentials, Nginx) => {
                "`add_header Access-Control-Allow-Credentials true always;`".to_owned()
            }
            (Remedy::AllowCredentials, Express) => "`cors({ ..., credentials: true })`.".to_owned(),
            (Remedy::OneAllowOrigin(_), Tower | Actix) => "Let crossgate alone write the CORS \
                 headers: remove them from handlers and from any proxy in front."
                .to_owned(),
            (Remedy::OneAllowOrigin(_), Gateway) => "`crossgate serve` replaces the upstream's \
                 `Access-Control-*` headers unless the route says `keep_upstream_cors = true`; a \
                 proxy in front of it must not add its own."
                .to_owned(),
            (Remedy::OneAllowOrigin(_), Nginx) => "Where the upstream sends CORS headers too: \
                 `proxy_hide_header Access-Control-Allow-Origin;` (and the other \
                 `Access-Control-*` headers), then one `add_header` with `$cors_origin`, not the \
                 list."
                .to_owned(),
            (Remedy::OneAllowOrigin(_), Express) => "One `cors()` middleware, with `origin` an \
                 array (it sends the one that matches), and no header set by hand or by a proxy."
                .to_owned(),
            (Remedy::AllowMethod(m), Tower | Actix) => {
                format!("Add `\"{m}\"` to `.allow_methods([...])`.")
            }
            (Remedy::AllowMethod(m), Gateway) => {
                format!("Add `\"{m}\"` to `allow_methods` in `[cors]`.")
            }
            (Remedy::AllowMethod(m), Nginx) => format!(
                "`add_header Access-Control-Allow-Methods \"GET, POST, {m}\" always;` in the \
                 OPTIONS answer."
            ),
            (Remedy::AllowMethod(m), Express) => format!(
                "`cors({{ methods: [..., \"{m}\"] }})` (the default allows GET, HEAD, PUT, PATCH, \
                 POST, DELETE)."
            ),
            (Remedy::AllowHeader(h), Tower | Actix) => {
                format!("Add `\"{h}\"` to `.allow_headers([...])`.")
            }
            (Remedy::AllowHeader(h), Gateway) => format!(
                "Add `\"{h}\"` to `allow_headers` in `[cors]` (`\"*\"` never covers \
                 `authorization`)."
            ),
            (Remedy::AllowHeader(h), Nginx) => {
                format!("`add_header Access-Control-Allow-Headers \"{h}\" always;`")
            }
            (Remedy::AllowHeader(h), Express) => format!(
                "`cors({{ allowedHeaders: [..., \"{h}\"] }})` (left out, `cors` reflects the \
                 requested headers)."
            ),
            (Remedy::TokenList(_), Tower | Actix | Gateway) => "crossgate writes the list from \
                 validated names: remove the header from handler code or the upstream."
                .to_owned(),
            (Remedy::TokenList(header), Nginx) => format!(
                "One `add_header {header} \"PUT, DELETE\" always;`, names separated by commas, in \
                 quotes."
            ),
            (Remedy::TokenList(_), Express) => {
                "Pass an array (`methods: [\"PUT\", \"DELETE\"]`), not a string.".to_owned()
            }
            (Remedy::NoPreflightRedirect, Nginx) => "Answer OPTIONS before the `return 301` / \
                 `rewrite` that redirects it (trailing slash, http to https)."
                .to_owned(),
            (Remedy::NoPreflightRedirect, Gateway) => "The gateway passes the upstream's \
                 redirects back to the browser: call the final URL, or stop the upstream \
                 redirecting OPTIONS."
                .to_owned(),
            _ => return None,
        };
        Some(text)
    }
}

/// The fixes of `remedies` in each stack.
pub(crate) fn by_stack(remedies: &[Remedy]) -> ByStack {
    let mut out = ByStack::default();
    for r in remedies {
        for stack in Stack::ALL {
            if let Some(text) = r.in_stack(stack) {
                out.add(stack, text);
            }
        }
    }
    out
}
