//! The agent matrix's scenarios, generated over every rule family of `cors-fetch-rules.md`:
//! ACAO/ACAC variants x credentials modes, safelisted and unsafe request headers and methods,
//! preflight statuses, ACAM/ACAH parsing and wildcards, max-age and caching sequences, redirects
//! and taint, expose-headers, and request modes.
//!
//! Hosts: the pages are `http://localhost:P` and `http://app.localhost:P`; the targets are the
//! page's own origin, `http://localhost:A` and `http://localhost:B` (same site as the page,
//! other origins) and `http://api.localhost:A` (another site). Every URL of job `sNNN` is under
//! `/s/sNNN/`, on whichever host.
//!
//! Names, not IP literals: Firefox drops a cached preflight result when its DNS cache records
//! the host after the result was stored (`CacheEntry::CheckDNSCache`), which for an IP literal
//! such as `127.0.0.1` happens at a moment that depends on its threads, so a repeated request
//! is preflighted again or not by timing. `localhost` names never get such a record.

use serde_json::{Value, json};

use crate::scripted::{Resp, resp};

pub const ACAO: &str = "Access-Control-Allow-Origin";
pub const ACAC: &str = "Access-Control-Allow-Credentials";
pub const ACAM: &str = "Access-Control-Allow-Methods";
pub const ACAH: &str = "Access-Control-Allow-Headers";
pub const ACEH: &str = "Access-Control-Expose-Headers";
pub const ACMA: &str = "Access-Control-Max-Age";

/// The harness's ports.
#[derive(Clone, Copy, Debug)]
pub struct Ports {
    /// The pages' server (also a target: the page's own origin).
    pub page: u16,
    pub a: u16,
    pub b: u16,
}

/// Where a request goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The page's own origin.
    Page,
    /// `http://localhost:A`.
    A,
    /// `http://localhost:B`.
    B,
    /// `http://api.localhost:A`: another site.
    X,
}

/// One fetch of a job, and the answers to its exchanges.
#[derive(Clone, Debug)]
pub struct JobStep {
    /// Milliseconds before the fetch (real time in Chromium, the fake clock in crossgate).
    pub after_ms: u64,
    /// The request as `simulate` reads it (CONTRACTS §3 `request`).
    pub request: Value,
    pub preflight: Vec<Resp>,
    pub actual: Vec<Resp>,
}

/// A scenario: one fetch, or a sequence of fetches against one browser (caching).
#[derive(Clone, Debug)]
pub struct Job {
    pub id: String,
    pub family: &'static str,
    pub name: String,
    /// Index into [`Gen::pages`].
    pub page: usize,
    pub steps: Vec<JobStep>,
}

impl Job {
    fn responses(r: &[Resp]) -> Value {
        Value::Array(
            r.iter()
                .map(|r| json!({"status": r.status, "headers": r.headers}))
                .collect(),
        )
    }

    /// The `simulate` input of step `i` (the whole job, if it has one step).
    pub fn scenario_json(&self, origin: &str, i: usize) -> Value {
        let s = &self.steps[i];
        json!({
            "origin": origin,
            "request": s.request,
            "responses": {"preflight": Job::responses(&s.preflight), "actual": Job::responses(&s.actual)},
        })
    }

    /// The job as a `crossgate::agent::Sequence` document.
    pub fn sequence_json(&self, origin: &str) -> Value {
        json!({
            "origin": origin,
            "steps": self.steps.iter().map(|s| json!({
                "after_ms": s.after_ms,
                "request": s.request,
                "responses": {"preflight": Job::responses(&s.preflight), "actual": Job::responses(&s.actual)},
            })).collect::<Vec<_>>(),
        })
    }
}

/// A request under construction.
#[derive(Clone, Debug)]
pub struct Req {
    url: String,
    method: String,
    headers: Vec<(String, String)>,
    credentials: &'static str,
    mode: &'static str,
    referrer_policy: Option<&'static str>,
}

impl Req {
    pub fn method(mut self, m: &str) -> Req {
        self.method = m.to_owned();
        self
    }
    pub fn header(mut self, n: &str, v: &str) -> Req {
        self.headers.push((n.to_owned(), v.to_owned()));
        self
    }
    pub fn creds(mut self, c: &'static str) -> Req {
        self.credentials = c;
        self
    }
    pub fn mode(mut self, m: &'static str) -> Req {
        self.mode = m;
        self
    }
    pub fn referrer(mut self, p: &'static str) -> Req {
        self.referrer_policy = Some(p);
        self
    }
    pub fn url(mut self, u: String) -> Req {
        self.url = u;
        self
    }
    fn json(&self) -> Value {
        let mut v = json!({
            "url": self.url,
            "method": self.method,
            "headers": self.headers,
            "credentials": self.credentials,
            "mode": self.mode,
        });
        if let Some(p) = self.referrer_policy {
            v["referrer_policy"] = json!(p);
        }
        v
    }
}

/// The generator.
pub struct Gen {
    ports: Ports,
    /// The page origins.
    pub pages: Vec<String>,
    pub jobs: Vec<Job>,
    /// The page of the jobs being added.
    page: usize,
}

impl Gen {
    pub fn new(ports: Ports) -> Gen {
        Gen {
            ports,
            pages: vec![
                format!("http://localhost:{}", ports.page),
                format!("http://app.localhost:{}", ports.page),
            ],
            jobs: Vec::new(),
            page: 0,
        }
    }

    /// The id of the job about to be added.
    fn next_id(&self) -> String {
        format!("s{:03}", self.jobs.len())
    }

    /// The page origin of the jobs being added.
    pub fn o(&self) -> String {
        self.pages[self.page].clone()
    }

    pub fn origin_of(&self, t: Target) -> String {
        match t {
            Target::Page => self.o(),
            Target::A => format!("http://localhost:{}", self.ports.a),
            Target::B => format!("http://localhost:{}", self.ports.b),
            Target::X => format!("http://api.localhost:{}", self.ports.a),
        }
    }

    /// URL number `hop` of the job about to be added, on `t`.
    pub fn u(&self, t: Target, hop: usize) -> String {
        format!("{}/s/{}/r{hop}", self.origin_of(t), self.next_id())
    }

    /// A CORS GET with default credentials to the first URL of the next job on `t`.
    pub fn req(&self, t: Target) -> Req {
        Req {
            url: self.u(t, 0),
            method: "GET".to_owned(),
            headers: Vec::new(),
            credentials: "same-origin",
            mode: "cors",
            referrer_policy: None,
        }
    }

    pub fn one(
        &mut self,
        family: &'static str,
        name: impl Into<String>,
        req: Req,
        preflight: Vec<Resp>,
        actual: Vec<Resp>,
    ) {
        let step = JobStep {
            after_ms: 0,
            request: req.json(),
            preflight,
            actual,
        };
        self.push(family, name.into(), vec![step]);
    }

    pub fn seq(
        &mut self,
        family: &'static str,
        name: impl Into<String>,
        steps: Vec<(u64, Req, Vec<Resp>, Vec<Resp>)>,
    ) {
        let steps = steps
            .into_iter()
            .map(|(after_ms, req, preflight, actual)| JobStep {
                after_ms,
                request: req.json(),
                preflight,
                actual,
            })
            .collect();
        self.push(family, name.into(), steps);
    }

    fn push(&mut self, family: &'static str, name: String, steps: Vec<JobStep>) {
        let id = self.next_id();
        self.jobs.push(Job {
            id,
            family,
            name,
            page: self.page,
            steps,
        });
    }
}

/// Every scenario of the agent matrix.
pub fn generate(ports: Ports) -> Gen {
    let mut g = Gen::new(ports);
    allow_origin(&mut g);
    classification(&mut g);
    preflight_status(&mut g);
    allow_methods(&mut g);
    allow_headers(&mut g);
    caching(&mut g);
    redirects(&mut g);
    expose(&mut g);
    modes(&mut g);
    g.page = 1;
    second_page(&mut g);
    g
}

/// ACAO and ACAC variants x credentials modes, on a simple GET.
fn allow_origin(g: &mut Gen) {
    const F: &str = "acao-acac";
    let o = g.o();
    let a = g.origin_of(Target::A);
    let variants: Vec<(&str, Vec<String>)> = vec![
        ("absent", vec![]),
        ("*", vec!["*".into()]),
        ("the origin", vec![o.clone()]),
        ("the origin with a trailing slash", vec![format!("{o}/")]),
        ("the origin in upper case", vec![o.to_uppercase()]),
        ("null", vec!["null".into()]),
        ("the origin, *", vec![format!("{o}, *")]),
        ("the origin twice (two lines)", vec![o.clone(), o.clone()]),
        ("* with spaces around", vec!["  *  ".into()]),
        ("**", vec!["**".into()]),
        (
            "the origin without its port",
            vec!["http://127.0.0.1".into()],
        ),
        ("a word", vec!["rabbit".into()]),
        ("empty", vec![String::new()]),
        ("the origin in quotes", vec![format!("\"{o}\"")]),
        ("another origin", vec![a.clone()]),
        ("two origins with a space", vec![format!("{o} {a}")]),
        ("* and the origin (two lines)", vec!["*".into(), o.clone()]),
    ];
    for (credentials, acacs) in [
        ("omit", vec![None]),
        ("same-origin", vec![None]),
        ("include", vec![None, Some("true")]),
    ] {
        for (label, values) in &variants {
            for acac in &acacs {
                let mut headers: Vec<(&str, &str)> =
                    values.iter().map(|v| (ACAO, v.as_str())).collect();
                if let Some(c) = acac {
                    headers.push((ACAC, c));
                }
                let name = format!(
                    "GET {credentials}, ACAO {label}{}",
                    acac.map_or(String::new(), |c| format!(", ACAC {c}"))
                );
                let req = g.req(Target::A).creds(credentials);
                g.one(F, name, req, vec![], vec![resp(200, &headers)]);
            }
        }
    }
    for acac in [
        vec!["TRUE"],
        vec!["True"],
        vec!["false"],
        vec!["1"],
        vec!["  true  "],
        vec!["true", "true"],
        vec!["\"true\""],
        vec![""],
    ] {
        let mut headers: Vec<(&str, &str)> = vec![(ACAO, o.as_str())];
        headers.extend(acac.iter().map(|v| (ACAC, *v)));
        let req = g.req(Target::A).creds("include");
        g.one(
            F,
            format!("GET include, ACAO the origin, ACAC {acac:?}"),
            req,
            vec![],
            vec![resp(200, &headers)],
        );
    }
    // The status plays no part in the CORS check of an actual response.
    for status in [201, 204, 401, 404, 500] {
        let req = g.req(Target::A);
        g.one(
            F,
            format!("GET answered {status} with ACAO *"),
            req,
            vec![],
            vec![resp(status, &[(ACAO, "*")])],
        );
        let req = g.req(Target::A);
        g.one(
            F,
            format!("GET answered {status} without ACAO"),
            req,
            vec![],
            vec![resp(status, &[])],
        );
    }
    let req = g.req(Target::X).creds("include");
    let o2 = o.clone();
    g.one(
        F,
        "GET include to another site, ACAO the origin, ACAC true",
        req,
        vec![],
        vec![resp(200, &[(ACAO, &o2), (ACAC, "true")])],
    );
}

/// What needs a preflight and what `Access-Control-Request-Headers` says: the server allows
/// everything (without credentials, `*` is a wildcard).
fn classification(g: &mut Gen) {
    const F: &str = "classification";
    let allow_all = || {
        vec![resp(
            204,
            &[(ACAO, "*"), (ACAM, "*"), (ACAH, "*"), (ACMA, "0")],
        )]
    };
    let ok = || vec![resp(200, &[(ACAO, "*")])];
    let long = |n: usize| "a".repeat(n);
    let headers: Vec<(String, Vec<(String, String)>)> = {
        let h = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect()
        };
        let mut v: Vec<(String, Vec<(String, String)>)> = Vec::new();
        for ct in [
            "text/plain",
            "text/plain;charset=utf-8",
            "Text/Plain;Charset=UTF-8",
            "text/plain;",
            "text/plain;garbage",
            "multipart/form-data; boundary=x",
            "application/x-www-form-urlencoded",
            "application/json",
            "text/html",
            "text /plain",
            "text/plain,",
            ",text/plain",
            "text/plain,x/x",
            "multipart/form-data;\"",
            "text/plain\u{c}",
            "text/plain; charset=\"utf-8\"",
            "text/plain (comment)",
            "*/*",
            "TEXT/PLAIN",
            "text/plain\t",
            "text/plain ;charset=utf-8",
            "text/plain;charset=utf-8;charset=x",
            "text/plain;charset=\"\"",
            "text/plain;x=\u{e9}",
            "text/plain;\u{e9}=x",
            "text/plain;x=\u{7f}",
            "application/x-www-form-urlencoded;charset=utf-8",
            "multipart/form-data",
            "text/plain, text/html",
        ] {
            v.push((format!("Content-Type: {ct:?}"), h(&[("Content-Type", ct)])));
        }
        for accept in [
            "*/*".to_owned(),
            "application/json".to_owned(),
            "text/\u{e9}".to_owned(),
            "unicorn".to_owned(),
            long(128),
            long(129),
            "a\"b".to_owned(),
            "text/html, (x)".to_owned(),
            "{}".to_owned(),
        ] {
            let label = if accept.len() > 20 {
                format!("{} bytes", accept.len())
            } else {
                format!("{accept:?}")
            };
            v.push((format!("Accept: {label}"), h(&[("Accept", &accept)])));
        }
        for (name, value) in [
            ("Accept-Language", "en-US,en;q=0.9"),
            ("Accept-Language", "@"),
            ("Accept-Language", "en_US"),
            ("Content-Language", "eu"),
            ("Content-Language", "x/y"),
            ("Range", "bytes=200-"),
            ("Range", "bytes=100-200"),
            ("Range", "bytes=-200"),
            ("Range", "bytes=100-200,300-400"),
            ("Range", "bytes = 100-200"),
            ("Range", "bytes=200-100"),
            ("Range", "bytes=99999999999999999999999-"),
            ("Range", "bytes 0-"),
            ("Range", "bytes=1-2-3"),
            // Chromium reads the numbers as i64, Firefox as u64: between 2^63 and 2^64 they part.
            ("Range", "bytes=9223372036854775807-"),
            ("Range", "bytes=9223372036854775808-"),
            ("Range", "bytes=9223372036854775806-"),
            ("Range", "bytes=0-9223372036854775806"),
            ("Range", "bytes=0-9223372036854775807"),
            ("Range", "bytes=10000000000000000000-"),
            ("Range", "bytes=18446744073709551615-"),
            ("Range", "bytes=18446744073709551616-"),
            ("Range", "bytes=0-18446744073709551615"),
            ("Range", "bytes=00-01"),
            ("Range", "bytes=0-0"),
            ("Range", "Bytes=0-"),
            ("Range", "BYTES=0-"),
            ("Range", "bytes=+1-"),
            ("Range", "bytes=1-2,"),
            ("Range", "bytes=\t1-2"),
            ("Authorization", "Bearer token"),
            ("X-Custom", "1"),
            ("User-Agent", "crossgate"),
            ("DPR", "2.0"),
            ("Device-Memory", "8"),
            ("Downlink", "1.5"),
            ("Viewport-Width", "800"),
            ("Width", "100"),
            ("RTT", "50"),
            ("ECT", "4g"),
            ("Save-Data", "on"),
            ("Intervention", "x"),
            ("DPR", "abc"),
            ("Save-Data", "off"),
            ("ECT", "5g"),
            ("Cookie", "a=b"),
            ("Origin", "http://evil.example"),
            ("Referer", "http://evil.example/"),
            ("Sec-Custom", "1"),
            ("Proxy-Custom", "1"),
            ("Accept-Charset", "utf-8"),
            ("DNT", "1"),
            ("X-HTTP-Method-Override", "TRACE"),
            ("X-HTTP-Method-Override", "PUT"),
        ] {
            v.push((format!("{name}: {value:?}"), h(&[(name, value)])));
        }
        v.push((
            "WPT ACRH sorting".to_owned(),
            h(&[
                ("x-test-header1", "v"),
                ("x-test-header2", "v"),
                ("X-test-header3", "v"),
                ("x-test-header-b", "v"),
                ("x-test-header-D", "v"),
                ("x-test-header-C", "v"),
                ("x-test-header-a", "v"),
                ("Content-Type", "allowedOrRefused"),
                ("Accept", "*"),
                ("Accept-Language", "bzh"),
                ("Content-Language", "eu"),
            ]),
        ));
        v.push((
            "Content-Type text/plain twice".to_owned(),
            h(&[
                ("Content-Type", "text/plain"),
                ("Content-Type", "text/plain"),
            ]),
        ));
        // Repeated safelisted headers are judged on their combined value ("a, b").
        for (name, first, second) in [
            ("Range", "bytes=0-", "bytes=1-"),
            ("Accept-Language", "en", "fr"),
            ("Content-Language", "en", "fr"),
            ("Content-Type", "text/plain", "text/html"),
            (
                "Content-Type",
                "text/plain",
                "application/x-www-form-urlencoded",
            ),
            ("Accept", "text/html", "application/json"),
        ] {
            v.push((
                format!("{name} twice: {first:?} and {second:?}"),
                h(&[(name, first), (name, second)]),
            ));
        }
        let hundred = long(100);
        v.push((
            "two 100-byte Accept".to_owned(),
            h(&[("Accept", &hundred), ("Accept", &hundred)]),
        ));
        v.push((
            "X-A twice and x-a".to_owned(),
            h(&[("X-A", "1"), ("X-A", "2"), ("x-a", "3")]),
        ));
        let l128 = long(128);
        v.push((
            "safelisted values over 1024 bytes in total (with client hints)".to_owned(),
            h(&[
                ("Accept", &l128),
                ("Accept-Language", &l128),
                ("Content-Language", &l128),
                ("Content-Type", "text/plain"),
                ("Intervention", &l128),
                ("Intervention", &l128),
            ]),
        ));
        v.push((
            "four safelisted headers of 128 bytes".to_owned(),
            h(&[
                ("Accept", &l128),
                ("Accept-Language", &l128),
                ("Content-Language", &l128),
                ("Intervention", &l128),
            ]),
        ));
        v
    };
    for (label, list) in headers {
        let mut req = g.req(Target::A).creds("omit");
        for (n, v) in &list {
            req = req.header(n, v);
        }
        g.one(F, format!("GET with {label}"), req, allow_all(), ok());
    }
    for method in [
        "GET", "get", "HEAD", "head", "POST", "post", "PUT", "put", "DELETE", "delete", "PATCH",
        "patch", "OPTIONS", "options", "SUPER", "Get",
    ] {
        let req = g.req(Target::A).creds("omit").method(method);
        g.one(F, format!("method {method}"), req, allow_all(), ok());
    }
    for method in ["CONNECT", "trace", "TRACK", "GE T", ""] {
        let req = g.req(Target::A).method(method);
        g.one(
            F,
            format!("method {method:?} is refused by fetch()"),
            req,
            vec![],
            ok(),
        );
    }
    let req = g.req(Target::A).header("X Bad", "1");
    g.one(
        F,
        "an invalid header name is refused by fetch()",
        req,
        vec![],
        ok(),
    );
}

/// The preflight's status, with and without ACAO, and redirects of the preflight.
fn preflight_status(g: &mut Gen) {
    const F: &str = "preflight-status";
    let o = g.o();
    let actual = || vec![resp(200, &[(ACAO, "*")])];
    for status in [
        200, 201, 204, 206, 299, 300, 303, 304, 305, 400, 401, 403, 404, 405, 418, 500, 501, 502,
        503, 599,
    ] {
        let req = g.req(Target::A).method("PUT").creds("omit");
        g.one(
            F,
            format!("preflight {status} with ACAO"),
            req,
            vec![resp(status, &[(ACAO, &o), (ACAM, "PUT")])],
            actual(),
        );
    }
    for status in [200, 204, 300, 401, 404, 500] {
        let req = g.req(Target::A).method("PUT").creds("omit");
        g.one(
            F,
            format!("preflight {status} without ACAO"),
            req,
            vec![resp(status, &[(ACAM, "PUT")])],
            actual(),
        );
    }
    for status in [300, 301, 302, 303, 307, 308] {
        let loc = g.u(Target::B, 1);
        let req = g.req(Target::A).method("PUT").creds("omit");
        g.one(
            F,
            format!("preflight {status} with Location and ACAO"),
            req,
            vec![resp(
                status,
                &[(ACAO, &o), (ACAM, "PUT"), ("Location", &loc)],
            )],
            actual(),
        );
        let loc = g.u(Target::B, 1);
        let req = g.req(Target::A).method("PUT").creds("omit");
        g.one(
            F,
            format!("preflight {status} with Location, without ACAO"),
            req,
            vec![resp(status, &[("Location", &loc)])],
            actual(),
        );
    }
    // A 3xx preflight that would pass the CORS check, to each kind of place: Chromium refuses
    // any redirect of a preflight; Firefox calls it an external redirect, then judges the same
    // response again as if for origin `null`.
    for status in [302, 307] {
        for (place, target, acao) in [
            ("the page", Target::Page, "*"),
            ("the page", Target::Page, o.as_str()),
            ("A itself", Target::A, "*"),
            ("A itself", Target::A, o.as_str()),
            ("B", Target::B, "*"),
            ("another site", Target::X, "*"),
        ] {
            let loc = g.u(target, 1);
            let req = g.req(Target::A).method("PUT").creds("omit");
            g.one(
                F,
                format!("preflight {status} to {place}, ACAO {acao:?}"),
                req,
                vec![resp(
                    status,
                    &[(ACAO, acao), (ACAM, "PUT"), ("Location", &loc)],
                )],
                actual(),
            );
        }
    }
    for status in [301, 302, 307] {
        let req = g.req(Target::A).method("PUT").creds("omit");
        g.one(
            F,
            format!("preflight {status} without Location"),
            req,
            vec![resp(status, &[(ACAO, &o), (ACAM, "PUT")])],
            actual(),
        );
    }
    // A credentialed preflight needs ACAC too, and an exact origin.
    for (label, headers) in [
        (
            "ACAO the origin, ACAC true",
            vec![(ACAO, o.as_str()), (ACAC, "true")],
        ),
        ("ACAO the origin, no ACAC", vec![(ACAO, o.as_str())]),
        ("ACAO *, ACAC true", vec![(ACAO, "*"), (ACAC, "true")]),
        (
            "ACAO the origin, ACAC True",
            vec![(ACAO, o.as_str()), (ACAC, "True")],
        ),
    ] {
        let mut h = headers.clone();
        h.push((ACAM, "PUT"));
        let req = g.req(Target::A).method("PUT").creds("include");
        g.one(
            F,
            format!("credentialed preflight: {label}"),
            req,
            vec![resp(204, &h)],
            vec![resp(200, &[(ACAO, &o), (ACAC, "true")])],
        );
        let mut h401 = headers.clone();
        h401.push((ACAM, "PUT"));
        let req = g.req(Target::A).method("PUT").creds("include");
        g.one(
            F,
            format!("credentialed preflight 401: {label}"),
            req,
            vec![resp(401, &h401)],
            vec![resp(200, &[(ACAO, &o), (ACAC, "true")])],
        );
    }
    for (label, values) in [
        ("null", vec!["null"]),
        ("two lines", vec!["*", "*"]),
        ("a list", vec!["*, *"]),
        ("a word", vec!["rabbit"]),
    ] {
        let mut h: Vec<(&str, &str)> = values.iter().map(|v| (ACAO, *v)).collect();
        h.push((ACAM, "PUT"));
        let req = g.req(Target::A).method("PUT").creds("omit");
        g.one(
            F,
            format!("preflight ACAO {label}"),
            req,
            vec![resp(204, &h)],
            actual(),
        );
    }
}

/// `Access-Control-Allow-Methods`: parsing, case, wildcards, credentials.
fn allow_methods(g: &mut Gen) {
    const F: &str = "acam";
    let o = g.o();
    let cases: Vec<(&str, &str, Vec<&str>)> = vec![
        ("PUT", "omit", vec!["PUT"]),
        ("PUT", "omit", vec!["put"]),
        ("PUT", "omit", vec!["PUT, DELETE"]),
        ("PUT", "omit", vec!["DELETE,PUT"]),
        ("PUT", "omit", vec![",PUT"]),
        ("PUT", "omit", vec!["PUT,"]),
        ("PUT", "omit", vec![" , PUT , ,"]),
        ("PUT", "omit", vec!["*"]),
        ("PUT", "omit", vec!["GET"]),
        ("PUT", "omit", vec![""]),
        ("PUT", "omit", vec![]),
        ("PUT", "omit", vec!["PUT;"]),
        ("PUT", "omit", vec!["PUT DELETE"]),
        ("PUT", "omit", vec!["Bad method"]),
        ("PUT", "omit", vec!["GET", "PUT"]),
        ("PUT", "omit", vec!["PUT, *"]),
        ("PUT", "omit", vec!["\"PUT\""]),
        ("PUT", "omit", vec!["PU(T"]),
        ("PUT", "omit", vec!["PUT, ,DELETE"]),
        ("DELETE", "omit", vec!["delete"]),
        ("patch", "omit", vec!["PATCH"]),
        ("patch", "omit", vec!["patch"]),
        ("patch", "omit", vec!["*"]),
        ("PATCH", "omit", vec!["patch"]),
        ("PATCH", "omit", vec!["PATCH"]),
        ("SUPER", "omit", vec!["*"]),
        ("SUPER", "omit", vec!["super"]),
        ("PUT", "include", vec!["*"]),
        ("PUT", "include", vec!["*, PUT"]),
        ("PUT", "include", vec!["PUT"]),
        ("OK", "include", vec!["*"]),
        ("GET", "include", vec!["get"]),
        ("POST", "omit", vec!["bad method"]),
    ];
    for (method, credentials, acam) in cases {
        let (acao, acac) = if credentials == "include" {
            (o.clone(), Some("true"))
        } else {
            ("*".to_owned(), None)
        };
        let mut h: Vec<(&str, &str)> = vec![(ACAO, acao.as_str()), (ACAH, "x-force")];
        if let Some(c) = acac {
            h.push((ACAC, c));
        }
        h.extend(acam.iter().map(|v| (ACAM, *v)));
        let req = g
            .req(Target::A)
            .method(method)
            .creds(credentials)
            .header("X-Force", "1");
        let mut actual_h: Vec<(&str, &str)> = vec![(ACAO, acao.as_str())];
        if let Some(c) = acac {
            actual_h.push((ACAC, c));
        }
        g.one(
            F,
            format!("{method} {credentials}, ACAM {acam:?}"),
            req,
            vec![resp(204, &h)],
            vec![resp(200, &actual_h)],
        );
    }
}

/// `Access-Control-Allow-Headers`: parsing, case, wildcards, credentials, `Authorization`.
fn allow_headers(g: &mut Gen) {
    const F: &str = "acah";
    let o = g.o();
    type Case<'a> = (Vec<(&'a str, &'a str)>, &'a str, Vec<&'a str>);
    let cases: Vec<Case> = vec![
        (vec![("X-Test", "1")], "omit", vec!["x-test"]),
        (vec![("X-Test", "1")], "omit", vec!["X-TEST"]),
        (vec![("X-Test", "1")], "omit", vec!["x-other"]),
        (vec![("X-Test", "1")], "omit", vec!["x-other, x-test"]),
        (vec![("X-Test", "1")], "omit", vec!["*"]),
        (vec![("X-Test", "1")], "omit", vec![""]),
        (vec![("X-Test", "1")], "omit", vec![]),
        (vec![("X-Test", "1")], "omit", vec![", x-test"]),
        (vec![("X-Test", "1")], "omit", vec!["x-test,"]),
        (vec![("X-Test", "1")], "omit", vec!["x-test;"]),
        (vec![("X-Test", "1")], "omit", vec!["x test"]),
        (vec![("X-Test", "1")], "omit", vec!["x-a", "x-test"]),
        (vec![("X-Test", "1")], "omit", vec!["*, x-other"]),
        (
            vec![("X-Test", "1")],
            "omit",
            vec!["x-test, header name with space"],
        ),
        (vec![("X-Test", "1")], "omit", vec!["\"x-test\""]),
        (vec![("X-Test", "1")], "include", vec!["*"]),
        (vec![("X-Test", "1")], "include", vec!["x-test"]),
        (vec![("X-Test", "1")], "include", vec!["*, x-test"]),
        (vec![("Authorization", "Bearer x")], "omit", vec!["*"]),
        (vec![("Authorization", "Bearer x")], "include", vec!["*"]),
        (
            vec![("Authorization", "Bearer x")],
            "omit",
            vec!["authorization"],
        ),
        (
            vec![("Authorization", "Bearer x")],
            "omit",
            vec!["Authorization, *"],
        ),
        (vec![("Authorization", "Bearer x")], "omit", vec!["x-other"]),
        (
            vec![("Authorization", "Bearer x"), ("X-Test", "1")],
            "omit",
            vec!["*"],
        ),
        (
            vec![("Authorization", "Bearer x"), ("X-Test", "1")],
            "omit",
            vec!["authorization"],
        ),
        (
            vec![("Authorization", "Bearer x"), ("X-Test", "1")],
            "omit",
            vec!["x-test"],
        ),
        (vec![("X-A", "1"), ("X-B", "1")], "omit", vec!["x-a"]),
        (vec![("X-A", "1"), ("X-B", "1")], "omit", vec!["x-b"]),
        (vec![("X-A", "1"), ("X-B", "1")], "omit", vec!["x-a, x-b"]),
        (
            vec![("X-Print", "1"), ("Y-Print", "1")],
            "omit",
            vec![",y-lol,x-PriNT, ,,,Y-PRINT"],
        ),
        (
            vec![("Content-Type", "application/json")],
            "omit",
            vec!["content-type"],
        ),
        (
            vec![("Content-Type", "application/json")],
            "omit",
            vec!["x-test"],
        ),
        (vec![("Content-Type", "text/plain")], "omit", vec!["x-test"]),
        // Which unlisted header the message names, and how it is spelled (WebKit: the names
        // it knows first, spelled its way; then the others in the order script set them).
        (vec![("X-B", "1"), ("X-A", "1")], "omit", vec!["x-other"]),
        (vec![("x-test", "1")], "omit", vec!["x-other"]),
        (
            vec![("content-type", "application/json")],
            "omit",
            vec!["x-test"],
        ),
        (
            vec![("A-Test", "1"), ("Content-Type", "application/json")],
            "omit",
            vec!["x-other"],
        ),
        (
            vec![("Z-A", "1"), ("cache-control", "no-cache")],
            "omit",
            vec!["x-other"],
        ),
        (
            vec![("X-A", "1"), ("authorization", "Bearer x")],
            "omit",
            vec!["x-a"],
        ),
        (
            vec![("authorization", "Bearer x"), ("X-A", "1")],
            "include",
            vec!["*"],
        ),
        (
            vec![("X-Test", "1"), ("X-Test", "2")],
            "omit",
            vec!["x-other"],
        ),
        (
            vec![("ACCEPT", "application/json("), ("X-A", "1")],
            "omit",
            vec!["x-a"],
        ),
    ];
    for (headers, credentials, acah) in cases {
        let (acao, acac) = if credentials == "include" {
            (o.clone(), Some("true"))
        } else {
            ("*".to_owned(), None)
        };
        let mut h: Vec<(&str, &str)> = vec![(ACAO, acao.as_str())];
        if let Some(c) = acac {
            h.push((ACAC, c));
        }
        h.extend(acah.iter().map(|v| (ACAH, *v)));
        let mut req = g.req(Target::A).creds(credentials);
        for (n, v) in &headers {
            req = req.header(n, v);
        }
        let mut actual_h: Vec<(&str, &str)> = vec![(ACAO, acao.as_str())];
        if let Some(c) = acac {
            actual_h.push((ACAC, c));
        }
        let names: Vec<&str> = headers.iter().map(|(n, _)| *n).collect();
        g.one(
            F,
            format!("{names:?} {credentials}, ACAH {acah:?}"),
            req,
            vec![resp(204, &h)],
            vec![resp(200, &actual_h)],
        );
    }
    // `Authorization` under `*` (Firefox warns as it lets it through), then an actual response
    // that fails, or a redirect that asks for a second preflight: which lines, in which order?
    let auth = |g: &Gen| {
        g.req(Target::A)
            .creds("omit")
            .header("Authorization", "Bearer x")
    };
    let star = || resp(204, &[(ACAO, "*"), (ACAH, "*")]);
    let req = auth(g);
    g.one(
        F,
        "Authorization under *, the actual response without ACAO",
        req,
        vec![star()],
        vec![resp(200, &[])],
    );
    let loc = g.u(Target::A, 1);
    let req = auth(g);
    g.one(
        F,
        "Authorization under *, redirected to the same origin: preflighted twice",
        req,
        vec![star(), star()],
        vec![
            resp(307, &[(ACAO, "*"), ("Location", &loc)]),
            resp(200, &[(ACAO, "*")]),
        ],
    );
}

/// The preflight cache: max-age, expiry, what a cached result covers, credentials, clearing.
fn caching(g: &mut Gen) {
    const F: &str = "cache";
    let o = g.o();
    let pf = |acma: Option<&str>, acam: &str, acah: &str| {
        let mut h = vec![(ACAO, o.as_str()), (ACAM, acam), (ACAH, acah)];
        if let Some(m) = acma {
            h.push((ACMA, m));
        }
        vec![resp(204, &h)]
    };
    let ok = || vec![resp(200, &[(ACAO, o.as_str())])];
    // The same request twice, right away: cached or not.
    for acma in [
        None,
        Some("0"),
        Some("-1"),
        Some("5"),
        Some("600"),
        Some("7200"),
        Some("100000"),
        Some("abc"),
        Some("1.5"),
        Some("+10"),
        Some(""),
        Some("60, 60"),
        Some("99999999999999999999"),
    ] {
        let put = g
            .req(Target::A)
            .method("PUT")
            .creds("omit")
            .header("X-A", "1");
        g.seq(
            F,
            format!("PUT twice, ACMA {acma:?}"),
            vec![
                (0, put.clone(), pf(acma, "PUT", "x-a"), ok()),
                (0, put, pf(acma, "PUT", "x-a"), ok()),
            ],
        );
    }
    let two_lines = {
        let put = g.req(Target::A).method("PUT").creds("omit");
        let h = vec![
            (ACAO, o.as_str()),
            (ACAM, "PUT"),
            (ACMA, "60"),
            (ACMA, "60"),
        ];
        (put, vec![resp(204, &h)])
    };
    g.seq(
        F,
        "PUT twice, ACMA 60 on two lines",
        vec![
            (0, two_lines.0.clone(), two_lines.1.clone(), ok()),
            (0, two_lines.0, two_lines.1, ok()),
        ],
    );
    // Expiry.
    for (acma, wait) in [("1", 2200), ("4", 1000)] {
        let put = g.req(Target::A).method("PUT").creds("omit");
        g.seq(
            F,
            format!("PUT, then again after {wait} ms, ACMA {acma}"),
            vec![
                (0, put.clone(), pf(Some(acma), "PUT", ""), ok()),
                (wait, put, pf(Some(acma), "PUT", ""), ok()),
            ],
        );
    }
    // What a cached result covers.
    let put = g
        .req(Target::A)
        .method("PUT")
        .creds("omit")
        .header("X-A", "1");
    let delete_b = g
        .req(Target::A)
        .method("DELETE")
        .creds("omit")
        .header("X-B", "1");
    let patch = g.req(Target::A).method("PATCH").creds("omit");
    g.seq(
        F,
        "a result for PUT, DELETE and x-a, x-b covers DELETE with x-b, not PATCH",
        vec![
            (
                0,
                put.clone(),
                pf(Some("600"), "PUT, DELETE", "x-a, x-b"),
                ok(),
            ),
            (
                0,
                delete_b.clone(),
                pf(Some("600"), "PUT, DELETE", "x-a, x-b"),
                ok(),
            ),
            (0, patch.clone(), pf(Some("600"), "PATCH", ""), ok()),
            (
                0,
                put.clone(),
                pf(Some("600"), "PUT, DELETE", "x-a, x-b"),
                ok(),
            ),
        ],
    );
    let put = g
        .req(Target::A)
        .method("PUT")
        .creds("omit")
        .header("X-A", "1");
    let delete = put.clone().method("DELETE");
    g.seq(
        F,
        "a new preflight replaces the cached result (DELETE, then PUT again)",
        vec![
            (0, put.clone(), pf(Some("600"), "PUT", "x-a"), ok()),
            (0, delete.clone(), pf(Some("600"), "DELETE", "x-a"), ok()),
            (0, put.clone(), pf(Some("600"), "PUT", "x-a"), ok()),
            (0, delete, pf(Some("600"), "DELETE", "x-a"), ok()),
        ],
    );
    let put = g.req(Target::A).method("PUT").creds("omit");
    let put_x = put.clone().header("X-A", "1");
    g.seq(
        F,
        "a result without headers does not cover a request with x-a",
        vec![
            (0, put.clone(), pf(Some("600"), "PUT", ""), ok()),
            (0, put_x, pf(Some("600"), "PUT", "x-a"), ok()),
            (0, put, pf(Some("600"), "PUT", ""), ok()),
        ],
    );
    // Credentials.
    let cred_pf = |acam: &str, acah: &str| {
        vec![resp(
            204,
            &[
                (ACAO, o.as_str()),
                (ACAC, "true"),
                (ACAM, acam),
                (ACAH, acah),
                (ACMA, "600"),
            ],
        )]
    };
    let cred_ok = || vec![resp(200, &[(ACAO, o.as_str()), (ACAC, "true")])];
    let put = g.req(Target::A).method("PUT").creds("omit");
    let put_inc = put.clone().creds("include");
    g.seq(
        F,
        "a result without credentials does not serve a credentialed request",
        vec![
            (0, put.clone(), cred_pf("PUT", ""), cred_ok()),
            (0, put_inc.clone(), cred_pf("PUT", ""), cred_ok()),
            (0, put, cred_pf("PUT", ""), cred_ok()),
        ],
    );
    let put_inc = g.req(Target::A).method("PUT").creds("include");
    let put = put_inc.clone().creds("omit");
    g.seq(
        F,
        "a credentialed result serves a request without credentials",
        vec![
            (0, put_inc, cred_pf("PUT", ""), cred_ok()),
            (0, put, cred_pf("PUT", ""), cred_ok()),
        ],
    );
    let put = g.req(Target::A).method("PUT").creds("omit");
    let delete = put.clone().method("DELETE");
    g.seq(
        F,
        "a cached * covers another method without credentials",
        vec![
            (0, put, pf(Some("600"), "*", ""), ok()),
            (0, delete, pf(Some("600"), "*", ""), ok()),
        ],
    );
    let put = g.req(Target::A).method("PUT").creds("include");
    let delete = put.clone().method("DELETE");
    g.seq(
        F,
        "a cached * is literal with credentials",
        vec![
            (0, put, cred_pf("*, PUT", ""), cred_ok()),
            (0, delete, cred_pf("*, DELETE", ""), cred_ok()),
        ],
    );
    let x = g.req(Target::A).creds("omit").header("X-A", "1");
    let auth = x.clone().header("Authorization", "Bearer t");
    g.seq(
        F,
        "a cached ACAH * and Authorization",
        vec![
            (0, x.clone(), pf(Some("600"), "GET", "*"), ok()),
            (0, auth, pf(Some("600"), "GET", "*"), ok()),
            (0, x, pf(Some("600"), "GET", "*"), ok()),
        ],
    );
    let x = g.req(Target::A).creds("omit").header("X-A", "1");
    let y = x.clone().header("X-B", "1");
    g.seq(
        F,
        "a cached ACAH * covers other headers",
        vec![
            (0, x, pf(Some("600"), "GET", "*"), ok()),
            (0, y, pf(Some("600"), "GET", "*"), ok()),
        ],
    );
    // A safelisted method preflighted for its header: does the cached result need the method?
    // (Fetch: no; Firefox spares only GET and POST.)
    for (method, acam) in [
        ("HEAD", "PUT"),
        ("HEAD", "HEAD"),
        ("head", "PUT"),
        ("GET", "PUT"),
        ("POST", "PUT"),
    ] {
        let req = g
            .req(Target::A)
            .method(method)
            .creds("omit")
            .header("X-A", "1");
        g.seq(
            F,
            format!("{method} with x-a twice, ACAM {acam}"),
            vec![
                (0, req.clone(), pf(Some("600"), acam, "x-a"), ok()),
                (0, req, pf(Some("600"), acam, "x-a"), ok()),
            ],
        );
    }
    // Clearing after a failure of the preflighted request.
    let put = g.req(Target::A).method("PUT").creds("omit");
    g.seq(
        F,
        "a failed actual response clears the cached result",
        vec![
            (
                0,
                put.clone(),
                pf(Some("600"), "PUT", ""),
                vec![resp(200, &[])],
            ),
            (0, put, pf(Some("600"), "PUT", ""), ok()),
        ],
    );
    let put = g.req(Target::A).method("PUT").creds("omit");
    let delete = put.clone().method("DELETE");
    g.seq(
        F,
        "a failed preflight for DELETE drops the cached PUT result",
        vec![
            (0, put.clone(), pf(Some("600"), "PUT", ""), ok()),
            (
                0,
                delete,
                vec![resp(204, &[(ACAO, o.as_str()), (ACAM, "PUT")])],
                ok(),
            ),
            (0, put, pf(Some("600"), "PUT", ""), ok()),
        ],
    );
    // A preflight from `null` after a tainting redirect, twice: is its result cached? (WebKit:
    // an opaque origin is unique, so never.)
    let l1 = g.u(Target::B, 1);
    let put = g
        .req(Target::A)
        .method("PUT")
        .creds("omit")
        .header("X-A", "1");
    let pf_any = || {
        resp(
            204,
            &[(ACAO, "*"), (ACAM, "PUT"), (ACAH, "x-a"), (ACMA, "600")],
        )
    };
    let step = || {
        (
            0,
            put.clone(),
            vec![pf_any(), pf_any()],
            vec![
                resp(307, &[(ACAO, "*"), ("Location", l1.as_str())]),
                resp(200, &[(ACAO, "*")]),
            ],
        )
    };
    g.seq(
        F,
        "PUT with x-a A -307-> B twice: the preflights at A and B cached?",
        vec![step(), step()],
    );
    // The key: the whole URL, query included.
    let put = g.req(Target::A).method("PUT").creds("omit");
    let query = put.clone().url(format!("{}?q=1", g.u(Target::A, 0)));
    g.seq(
        F,
        "another query is another cache key",
        vec![
            (0, put.clone(), pf(Some("600"), "PUT", ""), ok()),
            (0, query, pf(Some("600"), "PUT", ""), ok()),
            (0, put, pf(Some("600"), "PUT", ""), ok()),
        ],
    );
    // Safelisted requests never consult the cache; a failed preflight is not cached.
    let put = g.req(Target::A).method("PUT").creds("omit");
    g.seq(
        F,
        "a refused preflight is asked again",
        vec![
            (
                0,
                put.clone(),
                vec![resp(204, &[(ACAO, o.as_str()), (ACMA, "600")])],
                ok(),
            ),
            (0, put, pf(Some("600"), "PUT", ""), ok()),
        ],
    );
}

/// Redirects: CORS on every hop, taint (`Origin: null`), method changes, userinfo,
/// `Authorization` across origins, preflights after redirects.
fn redirects(g: &mut Gen) {
    const F: &str = "redirect";
    let o = g.o();
    let to = |status: u16, acao: Option<&str>, location: &str| {
        let mut h: Vec<(&str, &str)> = vec![("Location", location)];
        if let Some(a) = acao {
            h.push((ACAO, a));
        }
        resp(status, &h)
    };
    let end = |acao: Option<&str>| match acao {
        Some(a) => resp(200, &[(ACAO, a)]),
        None => resp(200, &[]),
    };
    // Chains of simple GETs: (first, second, hop ACAO, final ACAO).
    type Chain<'a> = (Target, Target, Option<&'a str>, Option<&'a str>);
    let chains: Vec<Chain> = vec![
        (Target::A, Target::B, Some("*"), Some("*")),
        (Target::A, Target::B, Some("*"), Some("null")),
        (Target::A, Target::B, Some("*"), Some(o.as_str())),
        (Target::A, Target::B, None, Some("*")),
        (Target::A, Target::B, Some(o.as_str()), Some("*")),
        (Target::A, Target::B, Some("*"), None),
        (Target::A, Target::A, Some("*"), Some(o.as_str())),
        (Target::A, Target::X, Some("*"), Some("null")),
        (Target::A, Target::X, Some("*"), Some(o.as_str())),
        (Target::A, Target::Page, Some("*"), Some(o.as_str())),
        (Target::A, Target::Page, Some("*"), Some("null")),
        (Target::A, Target::Page, Some("*"), Some("*")),
        (Target::A, Target::Page, Some("*"), None),
        (Target::Page, Target::A, None, Some(o.as_str())),
        (Target::Page, Target::A, None, Some("null")),
        (Target::Page, Target::A, None, None),
        (Target::Page, Target::Page, None, None),
        (Target::X, Target::A, Some("*"), Some("null")),
    ];
    for (first, second, hop, last) in chains {
        let loc = g.u(second, 1);
        let req = g.req(first);
        g.one(
            F,
            format!("GET {first:?} -302-> {second:?}, hop ACAO {hop:?}, final ACAO {last:?}"),
            req,
            vec![],
            vec![to(302, hop, &loc), end(last)],
        );
    }
    // Three hops: remote -> remote(same) -> local, and back and forth.
    let (l1, l2) = (g.u(Target::A, 1), g.u(Target::Page, 2));
    let req = g.req(Target::A);
    g.one(
        F,
        "GET A -> A -> page, ACAO * on the way, null at the end",
        req,
        vec![],
        vec![
            to(302, Some("*"), &l1),
            to(302, Some("*"), &l2),
            end(Some("null")),
        ],
    );
    let (l1, l2) = (g.u(Target::A, 1), g.u(Target::B, 2));
    let req = g.req(Target::Page);
    g.one(
        F,
        "GET page -> A -> B, the origin kept until B",
        req,
        vec![],
        vec![to(302, None, &l1), to(302, Some(&o), &l2), end(Some("*"))],
    );
    // Statuses and methods.
    for status in [301, 302, 303, 307, 308] {
        for method in ["POST", "GET", "HEAD"] {
            let loc = g.u(Target::B, 1);
            let req = g
                .req(Target::A)
                .method(method)
                .creds("omit")
                .header("Content-Type", "text/plain");
            g.one(
                F,
                format!("{method} with Content-Type -{status}-> B"),
                req,
                vec![],
                vec![to(status, Some("*"), &loc), end(Some("*"))],
            );
        }
    }
    // A preflighted request redirected: a new preflight at the target, from `null` (Firefox:
    // from the page's origin, and even where the redirect left the request simple).
    for (label, status, second_pf) in [
        ("ACAO null", 307, Some("null")),
        ("ACAO *", 307, Some("*")),
        ("ACAO the origin", 307, Some(o.as_str())),
        (
            "none needed after 303 (Firefox asks; ACAO the origin)",
            303,
            Some(o.as_str()),
        ),
    ] {
        let loc = g.u(Target::B, 1);
        let req = g
            .req(Target::A)
            .method("PUT")
            .creds("omit")
            .header("Content-Type", "application/json");
        let allow = [(ACAM, "PUT"), (ACAH, "content-type")];
        let mut preflights = vec![resp(204, &[(ACAO, o.as_str()), allow[0], allow[1]])];
        if let Some(acao) = second_pf {
            preflights.push(resp(204, &[(ACAO, acao), allow[0], allow[1]]));
        }
        g.one(
            F,
            format!(
                "PUT with Content-Type application/json -{status}-> B, second preflight {label}"
            ),
            req,
            preflights,
            vec![to(status, Some("*"), &loc), end(Some("*"))],
        );
    }
    // Credentials and redirects.
    for (hop, last) in [
        (
            vec![(ACAO, o.as_str()), (ACAC, "true")],
            vec![(ACAO, "null"), (ACAC, "true")],
        ),
        (
            vec![(ACAO, o.as_str()), (ACAC, "true")],
            vec![(ACAO, "*"), (ACAC, "true")],
        ),
        (
            vec![(ACAO, o.as_str())],
            vec![(ACAO, "null"), (ACAC, "true")],
        ),
        (
            vec![(ACAO, "*"), (ACAC, "true")],
            vec![(ACAO, "null"), (ACAC, "true")],
        ),
    ] {
        let loc = g.u(Target::B, 1);
        let mut h = hop.clone();
        h.push(("Location", loc.as_str()));
        let req = g.req(Target::A).creds("include");
        g.one(
            F,
            format!("GET include A -> B, hop {hop:?}, final {last:?}"),
            req,
            vec![],
            vec![resp(302, &h), resp(200, &last)],
        );
    }
    // Userinfo in Location.
    type Located = fn(&Gen) -> String;
    let userinfo: [(&str, Target, Located); 6] = [
        ("to B with user:pass", Target::A, |g| {
            g.u(Target::B, 1).replace("http://", "http://user:pass@")
        }),
        ("to A itself with user:pass", Target::A, |g| {
            g.u(Target::A, 1).replace("http://", "http://user:pass@")
        }),
        ("to B with an empty userinfo", Target::A, |g| {
            g.u(Target::B, 1).replace("http://", "http://@")
        }),
        (
            "from the page to itself with user:pass",
            Target::Page,
            |g| g.u(Target::Page, 1).replace("http://", "http://user:pass@"),
        ),
        ("from the page to A with user", Target::Page, |g| {
            g.u(Target::A, 1).replace("http://", "http://user@")
        }),
        ("from the page to itself with user", Target::Page, |g| {
            g.u(Target::Page, 1).replace("http://", "http://user@")
        }),
    ];
    for (label, first, location) in userinfo {
        let location = location(g);
        let req = g.req(first);
        g.one(
            F,
            format!("GET redirected {label}"),
            req,
            vec![],
            vec![to(302, Some("*"), &location), end(Some("*"))],
        );
    }
    for (mode, first, second) in [
        ("no-cors", Target::Page, Target::Page),
        ("no-cors", Target::A, Target::B),
        ("same-origin", Target::Page, Target::Page),
    ] {
        let location = g.u(second, 1).replace("http://", "http://user:pass@");
        let req = g.req(first).mode(mode);
        g.one(
            F,
            format!("{mode} GET {first:?} redirected to {second:?} with user:pass"),
            req,
            vec![],
            vec![to(302, Some("*"), &location), end(Some("*"))],
        );
    }
    // Locations of other shapes.
    let shapes: [(&str, Located); 8] = [
        ("a relative path", |g| format!("/s/{}/r1", g.next_id())),
        ("a fragment", |g| format!("{}#frag", g.u(Target::B, 1))),
        ("a data: URL", |_| "data:,hello".to_owned()),
        ("a blob: URL", |g| {
            format!(
                "blob:{}/0b6f1c2e-5a8e-4d8b-9d1c-2f4a9e0b7c11",
                g.origin_of(Target::B)
            )
        }),
        ("a ws: URL", |g| {
            g.u(Target::B, 1).replace("http://", "ws://")
        }),
        ("a wss: URL", |g| {
            g.u(Target::B, 1).replace("http://", "wss://")
        }),
        ("an ftp: URL", |g| {
            g.u(Target::B, 1).replace("http://", "ftp://")
        }),
        ("a scheme-relative URL", |g| {
            g.u(Target::X, 1).replace("http:", "")
        }),
    ];
    // Other schemes: refused below CORS (no message), or a CORS failure (Fetch §4.5 step 5).
    for location in [
        "about:blank",
        "javascript:void(0)",
        "file:///etc/hostname",
        "mailto:cors@example.com",
        "unknown-scheme:x",
        "filesystem:http://localhost/temporary/x",
        "view-source:http://localhost/",
        "chrome://version/",
        "chrome-extension://abcdefghijklmnopabcdefghijklmnop/x",
        "chrome-untrusted://x/",
        "isolated-app://x/",
        "moz-extension://x/y",
        "resource://gre/modules/x",
    ] {
        let req = g.req(Target::A);
        g.one(
            F,
            format!("GET redirected to {location}"),
            req,
            vec![],
            vec![to(302, Some("*"), location), end(Some("*"))],
        );
    }
    for (label, location) in shapes {
        let location = location(g);
        let req = g.req(Target::A);
        g.one(
            F,
            format!("GET redirected to {label}"),
            req,
            vec![],
            vec![to(302, Some("*"), &location), end(Some("*"))],
        );
    }
    // Authorization is dropped on a redirect to another origin.
    for second in [Target::B, Target::A] {
        let loc = g.u(second, 1);
        let req = g
            .req(Target::A)
            .creds("omit")
            .header("Authorization", "Bearer t");
        g.one(
            F,
            format!("GET with Authorization -302-> {second:?}"),
            req,
            vec![
                resp(204, &[(ACAO, "*"), (ACAH, "authorization")]),
                resp(204, &[(ACAO, "null"), (ACAH, "authorization")]),
            ],
            vec![to(302, Some("*"), &loc), end(Some("*"))],
        );
    }
    // 3xx without Location, and 300: final responses for fetch.
    for status in [300, 301, 302] {
        let req = g.req(Target::A);
        g.one(
            F,
            format!("GET answered {status} without Location"),
            req,
            vec![],
            vec![resp(status, &[(ACAO, "*")])],
        );
    }
    let loc = g.u(Target::B, 1);
    let req = g.req(Target::A);
    g.one(
        F,
        "GET answered 300 with Location",
        req,
        vec![],
        vec![to(300, Some("*"), &loc), end(Some("*"))],
    );
    // Over several origins: once a hop has left for another origin, the origin is `null`
    // (Fetch §4.4 HTTP-redirect fetch, step 14's tainted origin flag).
    let abx = [Target::A, Target::B, Target::X];
    let aba = [Target::A, Target::B, Target::A];
    let axbp = [Target::A, Target::X, Target::B, Target::Page];
    let papb = [Target::Page, Target::A, Target::Page, Target::B];
    let page = o.as_str();
    type Route<'a> = (&'a [Target], Option<&'a str>, Option<&'a str>);
    let routes: [Route; 10] = [
        (&abx, Some("*"), Some("*")),
        (&abx, Some("*"), Some("null")),
        (&abx, Some("*"), Some(page)),
        (&aba, Some("*"), Some("null")),
        (&aba, Some("*"), Some(page)),
        (&abx, Some(page), Some("*")),
        (&abx, None, Some("*")),
        (&axbp, Some("*"), Some("null")),
        (&axbp, Some("*"), Some(page)),
        (&papb, Some("*"), Some("*")),
    ];
    for (route, hop, last) in routes {
        let names: Vec<String> = route.iter().map(|t| format!("{t:?}")).collect();
        let mut answers: Vec<Resp> = route[1..]
            .iter()
            .enumerate()
            .map(|(i, t)| to(302, hop, &g.u(*t, i + 1)))
            .collect();
        answers.push(end(last));
        let req = g.req(route[0]);
        g.one(
            F,
            format!(
                "GET {}, hop ACAO {hop:?}, final ACAO {last:?}",
                names.join(" -> ")
            ),
            req,
            vec![],
            answers,
        );
    }
    // The same with credentials: the first hop answers the page's origin, later ones `null`.
    for (second_acao, last_acao) in [("null", "null"), (o.as_str(), "null"), ("null", o.as_str())] {
        let (l1, l2) = (g.u(Target::B, 1), g.u(Target::X, 2));
        let req = g.req(Target::A).creds("include");
        g.one(
            F,
            format!("GET include A -> B -> X, B answers {second_acao:?}, X {last_acao:?}"),
            req,
            vec![],
            vec![
                resp(302, &[("Location", &l1), (ACAO, &o), (ACAC, "true")]),
                resp(
                    302,
                    &[("Location", &l2), (ACAO, second_acao), (ACAC, "true")],
                ),
                resp(200, &[(ACAO, last_acao), (ACAC, "true")]),
            ],
        );
    }
    // A preflighted request over several origins: every cross-origin hop asks again.
    for last in ["*", o.as_str()] {
        let (l1, l2) = (g.u(Target::B, 1), g.u(Target::X, 2));
        let req = g
            .req(Target::A)
            .method("PUT")
            .creds("omit")
            .header("X-A", "1");
        let pf = || resp(204, &[(ACAO, "*"), (ACAM, "PUT"), (ACAH, "x-a")]);
        g.one(
            F,
            format!("PUT with x-a A -307-> B -307-> X, final ACAO {last:?}"),
            req,
            vec![pf(), pf(), pf()],
            vec![
                to(307, Some("*"), &l1),
                to(307, Some("*"), &l2),
                end(Some(last)),
            ],
        );
    }
    // Userinfo on a later hop.
    let (l1, l2) = (
        g.u(Target::B, 1),
        g.u(Target::X, 2).replace("http://", "http://user:pass@"),
    );
    let req = g.req(Target::A);
    g.one(
        F,
        "GET A -> B -> X, user:pass on the second redirect",
        req,
        vec![],
        vec![
            to(302, Some("*"), &l1),
            to(302, Some("*"), &l2),
            end(Some("*")),
        ],
    );
    // Too many redirects, back and forth between two origins.
    for n in [20, 21] {
        let hops: Vec<Resp> = (1..=n)
            .map(|i| {
                let t = if i % 2 == 1 { Target::B } else { Target::A };
                to(302, Some("*"), &g.u(t, i))
            })
            .chain([end(Some("*"))])
            .collect();
        let req = g.req(Target::A);
        g.one(
            F,
            format!("GET redirected {n} times between A and B"),
            req,
            vec![],
            hops,
        );
    }
    // Too many redirects: 21 hops.
    let hops: Vec<Resp> = (1..=21)
        .map(|i| to(302, Some("*"), &g.u(Target::A, i)))
        .chain([end(Some("*"))])
        .collect();
    let req = g.req(Target::A);
    g.one(F, "GET redirected 21 times", req, vec![], hops);
    let hops: Vec<Resp> = (1..=20)
        .map(|i| to(302, Some("*"), &g.u(Target::A, i)))
        .chain([end(Some("*"))])
        .collect();
    let req = g.req(Target::A);
    g.one(F, "GET redirected 20 times", req, vec![], hops);
    // Credentials `same-origin` from the page's own origin (WebKit checks the later redirects,
    // not the final response, as credentialed).
    for (redirect_acao, last_acao) in [(None, "*"), (Some("*"), "*"), (Some(o.as_str()), "*")] {
        let (l1, l2) = (g.u(Target::A, 1), g.u(Target::A, 2));
        let req = g.req(Target::Page);
        g.one(
            F,
            format!("GET page -> A -> A, hop ACAO {redirect_acao:?}, final ACAO {last_acao:?}"),
            req,
            vec![],
            vec![
                to(302, None, &l1),
                to(302, redirect_acao, &l2),
                end(Some(last_acao)),
            ],
        );
    }
    let l1 = g.u(Target::A, 1);
    let req = g.req(Target::Page).creds("include");
    g.one(
        F,
        "GET page -> A with credentials included, final ACAO the origin without ACAC",
        req,
        vec![],
        vec![to(302, None, &l1), end(Some(&o))],
    );
    // DELETE redirected to another origin by each status.
    for status in [301, 302, 303, 307] {
        let l1 = g.u(Target::B, 1);
        let req = g.req(Target::A).method("DELETE").creds("omit");
        let pf = || resp(204, &[(ACAO, "*"), (ACAM, "DELETE")]);
        g.one(
            F,
            format!("DELETE -{status}-> B"),
            req,
            vec![pf(), pf()],
            vec![to(status, Some("*"), &l1), end(Some("*"))],
        );
    }
    let l1 = g.u(Target::A, 1);
    let req = g.req(Target::A).method("DELETE").creds("omit");
    let pf = || resp(204, &[(ACAO, "*"), (ACAM, "DELETE")]);
    g.one(
        F,
        "DELETE -307-> A",
        req,
        vec![pf(), pf()],
        vec![to(307, Some("*"), &l1), end(Some("*"))],
    );
    // A preflighted request redirected to its own origin: preflighted again for the new URL.
    let l1 = g.u(Target::A, 1);
    let req = g
        .req(Target::A)
        .method("PUT")
        .creds("omit")
        .header("X-A", "1");
    let pf = || resp(204, &[(ACAO, &o), (ACAM, "PUT"), (ACAH, "x-a")]);
    g.one(
        F,
        "PUT with x-a A -307-> A",
        req,
        vec![pf(), pf()],
        vec![to(307, Some(&o), &l1), end(Some(&o))],
    );
    // POST with a JSON body type 302-ed to another origin: a GET without Content-Type, which
    // WebKit still asks for.
    let l1 = g.u(Target::B, 1);
    let req = g
        .req(Target::A)
        .method("POST")
        .creds("omit")
        .header("Content-Type", "application/json");
    let pf = || resp(204, &[(ACAO, "*"), (ACAM, "POST"), (ACAH, "content-type")]);
    g.one(
        F,
        "POST with Content-Type application/json -302-> B, ACAO * everywhere",
        req,
        vec![pf(), pf()],
        vec![to(302, Some("*"), &l1), end(Some("*"))],
    );
}

/// `Access-Control-Expose-Headers` and the safelisted response headers.
fn expose(g: &mut Gen) {
    const F: &str = "expose";
    let o = g.o();
    let body_headers: Vec<(&str, &str)> = vec![
        ("X-A", "1"),
        ("X-B", "2"),
        ("Set-Cookie", "a=b"),
        ("Set-Cookie2", "c=d"),
        ("Content-Type", "text/plain"),
        ("Cache-Control", "no-cache"),
        ("Content-Language", "en"),
        ("Expires", "0"),
        ("Last-Modified", "Tue, 15 Nov 1994 12:45:26 GMT"),
        ("Pragma", "no-cache"),
        ("Date", "Tue, 15 Nov 1994 12:45:26 GMT"),
        ("*", "whoa"),
    ];
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("omit", vec![]),
        ("omit", vec!["x-a"]),
        ("omit", vec!["X-A"]),
        ("omit", vec!["x-a, x-b"]),
        ("omit", vec!["x-a", "x-b"]),
        ("omit", vec!["*"]),
        ("omit", vec!["x-a, *"]),
        ("omit", vec!["x-a;"]),
        ("omit", vec!["x a, x-b"]),
        ("omit", vec![", x-a ,,"]),
        ("omit", vec!["set-cookie, set-cookie2"]),
        ("omit", vec!["content-length, date"]),
        ("omit", vec![""]),
        ("omit", vec!["x-c"]),
        ("include", vec!["*"]),
        ("include", vec!["x-a, *"]),
        ("include", vec!["x-b"]),
        ("include", vec![]),
    ];
    for (credentials, aceh) in cases {
        let mut h: Vec<(&str, &str)> = if credentials == "include" {
            vec![(ACAO, o.as_str()), (ACAC, "true")]
        } else {
            vec![(ACAO, "*")]
        };
        h.extend(aceh.iter().map(|v| (ACEH, *v)));
        h.extend(body_headers.iter().copied());
        let req = g.req(Target::A).creds(credentials);
        g.one(
            F,
            format!("GET {credentials}, ACEH {aceh:?}"),
            req,
            vec![],
            vec![resp(200, &h)],
        );
    }
    // Same origin: a basic response shows everything but Set-Cookie.
    let mut h = body_headers.clone();
    h.push((ACEH, "x-a"));
    let req = g.req(Target::Page);
    g.one(F, "same-origin GET", req, vec![], vec![resp(200, &h)]);
    // After a redirect, the last response's headers count.
    let loc = g.u(Target::B, 1);
    let req = g.req(Target::A);
    g.one(
        F,
        "GET redirected; ACEH on the redirect only",
        req,
        vec![],
        vec![
            resp(
                302,
                &[(ACAO, "*"), (ACEH, "x-a"), ("Location", &loc), ("X-A", "1")],
            ),
            resp(
                200,
                &[(ACAO, "*"), ("X-A", "1"), ("X-B", "2"), (ACEH, "x-b")],
            ),
        ],
    );
}

/// Request modes, the `Origin` header and referrer policies, same-origin requests, and
/// requests `fetch()` refuses.
fn modes(g: &mut Gen) {
    const F: &str = "modes";
    let h = [(ACAO, "*"), ("X-A", "1")];
    type Make = fn(&Gen) -> Req;
    let cases: [(&str, Make); 19] = [
        ("no-cors GET", |g| g.req(Target::A).mode("no-cors")),
        ("no-cors POST", |g| {
            g.req(Target::A).mode("no-cors").method("POST")
        }),
        ("no-cors HEAD", |g| {
            g.req(Target::A).mode("no-cors").method("HEAD")
        }),
        ("no-cors POST, referrer policy no-referrer", |g| {
            g.req(Target::A)
                .mode("no-cors")
                .method("POST")
                .referrer("no-referrer")
        }),
        ("no-cors POST, referrer policy same-origin", |g| {
            g.req(Target::A)
                .mode("no-cors")
                .method("POST")
                .referrer("same-origin")
        }),
        ("no-cors POST, referrer policy unsafe-url", |g| {
            g.req(Target::A)
                .mode("no-cors")
                .method("POST")
                .referrer("unsafe-url")
        }),
        (
            "no-cors POST to the page, referrer policy same-origin",
            |g| {
                g.req(Target::Page)
                    .mode("no-cors")
                    .method("POST")
                    .referrer("same-origin")
            },
        ),
        (
            "no-cors GET with X-A and Content-Type application/json",
            |g| {
                g.req(Target::A)
                    .mode("no-cors")
                    .header("X-A", "1")
                    .header("Content-Type", "application/json")
            },
        ),
        ("no-cors POST with Content-Type text/plain", |g| {
            g.req(Target::A)
                .mode("no-cors")
                .method("POST")
                .header("Content-Type", "text/plain")
        }),
        ("no-cors PUT", |g| {
            g.req(Target::A).mode("no-cors").method("PUT")
        }),
        ("same-origin mode to A", |g| {
            g.req(Target::A).mode("same-origin")
        }),
        ("same-origin mode to the page", |g| {
            g.req(Target::Page).mode("same-origin")
        }),
        ("cors GET to the page", |g| g.req(Target::Page)),
        ("cors POST to the page", |g| {
            g.req(Target::Page).method("POST")
        }),
        ("cors PUT with X-A to the page", |g| {
            g.req(Target::Page).method("PUT").header("X-A", "1")
        }),
        ("cors GET, referrer policy no-referrer", |g| {
            g.req(Target::A).referrer("no-referrer")
        }),
        ("cors POST, referrer policy no-referrer", |g| {
            g.req(Target::A).method("POST").referrer("no-referrer")
        }),
        ("credentials in the URL", |g| {
            let url = g.u(Target::A, 0).replace("http://", "http://u:p@");
            g.req(Target::A).url(url)
        }),
        ("HEAD", |g| g.req(Target::A).method("HEAD")),
    ];
    for (label, make) in cases {
        let req = make(g);
        g.one(F, label, req, vec![], vec![resp(200, &h)]);
    }
    let loc = g.u(Target::B, 1);
    let req = g.req(Target::A).mode("no-cors");
    g.one(
        F,
        "no-cors GET answered 302 to B",
        req,
        vec![],
        vec![resp(302, &[("Location", &loc)]), resp(200, &[("X-A", "1")])],
    );
    // Redirects out of HTTP(S) outside CORS, and from the page's own origin.
    for (label, mode, target, location) in [
        (
            "no-cors GET answered 302 to data:",
            "no-cors",
            Target::A,
            "data:,x",
        ),
        (
            "no-cors GET answered 302 to ftp:",
            "no-cors",
            Target::A,
            "ftp://localhost/x",
        ),
        (
            "no-cors GET answered 302 to about:blank",
            "no-cors",
            Target::A,
            "about:blank",
        ),
        (
            "no-cors GET answered 302 to file:",
            "no-cors",
            Target::A,
            "file:///etc/hostname",
        ),
        (
            "no-cors GET answered 302 to javascript:",
            "no-cors",
            Target::A,
            "javascript:void(0)",
        ),
        (
            "no-cors GET answered 302 to ws:",
            "no-cors",
            Target::A,
            "ws://localhost/x",
        ),
        (
            "cors GET to the page answered 302 to data:",
            "cors",
            Target::Page,
            "data:,x",
        ),
        (
            "cors GET to the page answered 302 to about:blank",
            "cors",
            Target::Page,
            "about:blank",
        ),
    ] {
        let req = g.req(target).mode(mode);
        g.one(
            F,
            label,
            req,
            vec![],
            vec![resp(302, &[("Location", location), (ACAO, "*")])],
        );
    }
}

/// From the second page (`http://app.localhost:P`): another origin than the `localhost` targets.
fn second_page(g: &mut Gen) {
    const F: &str = "second-page";
    let o = g.o();
    let first = g.pages[0].clone();
    for (label, acao) in [
        ("the origin", o.as_str()),
        ("*", "*"),
        (
            "http://127.0.0.1 with the port",
            &*format!("http://127.0.0.1:{}", g.ports.page),
        ),
        ("the other page's origin", first.as_str()),
    ] {
        let req = g.req(Target::A);
        g.one(
            F,
            format!("GET from app.localhost, ACAO {label}"),
            req,
            vec![],
            vec![resp(200, &[(ACAO, acao)])],
        );
    }
    let loc = g.u(Target::X, 1);
    let req = g.req(Target::Page);
    g.one(
        F,
        "GET page -> api.localhost: the origin kept",
        req,
        vec![],
        vec![
            resp(302, &[("Location", &loc)]),
            resp(200, &[(ACAO, o.as_str())]),
        ],
    );
    let loc = g.u(Target::Page, 1);
    let req = g.req(Target::X);
    g.one(
        F,
        "GET api.localhost -> page: tainted",
        req,
        vec![],
        vec![
            resp(302, &[("Location", &loc), (ACAO, "*")]),
            resp(200, &[(ACAO, o.as_str())]),
        ],
    );
    let req = g.req(Target::X).method("PUT").creds("include");
    g.one(
        F,
        "PUT include from app.localhost to api.localhost",
        req,
        vec![resp(
            204,
            &[(ACAO, o.as_str()), (ACAC, "true"), (ACAM, "PUT")],
        )],
        vec![resp(200, &[(ACAO, o.as_str()), (ACAC, "true")])],
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_is_there_and_ids_match_urls() {
        let g = generate(Ports {
            page: 1000,
            a: 2000,
            b: 3000,
        });
        assert!(g.jobs.len() >= 300, "only {} scenarios", g.jobs.len());
        for family in [
            "acao-acac",
            "classification",
            "preflight-status",
            "acam",
            "acah",
            "cache",
            "redirect",
            "expose",
            "modes",
            "second-page",
        ] {
            assert!(
                g.jobs.iter().filter(|j| j.family == family).count() >= 4,
                "{family}"
            );
        }
        for (i, job) in g.jobs.iter().enumerate() {
            assert_eq!(job.id, format!("s{i:03}"));
            let url = job.steps[0].request["url"].as_str().unwrap();
            assert!(url.contains(&format!("/s/{}/", job.id)), "{url}");
        }
        assert!(g.jobs.iter().any(|j| j.steps.len() > 2));
    }
}
