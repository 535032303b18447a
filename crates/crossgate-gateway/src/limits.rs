//! Limits and timeouts (`[limits]`, `[timeouts]`), each with a safe default.
//!
//! Every limit is answered with a status and the CORS headers the origin is entitled to, so a
//! browser shows the real error: 431 (request head), 413 (request body), 503 (connections), 502
//! (the upstream failed) and 504 (the upstream was too slow).

use std::time::Duration;

use crossgate::policy::Problem;
use crossgate::policy::ProblemCode;
use crossgate::policy::document::{Fields, render};
use serde_json::Value;

/// Sizes and counts (`[limits]`). Each value is from 1 up to a ceiling (`max_header_bytes` 1 MiB,
/// `max_headers` 10000, `max_connections` 1048576); a key left out keeps its default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The request head's header fields, names and values together (each line counted as
    /// `name: value` plus its line break). Over it: 431. Default 32 KiB.
    pub max_header_bytes: usize,
    /// The number of header field lines of a request. Over it: 431 (up to the parser's own
    /// ceiling, 100 lines by default: a head past that gets the parser's bare 431). Default 64.
    pub max_headers: usize,
    /// A request body's bytes. Over it: 413, as soon as `Content-Length` says so or the
    /// streamed body passes it. Default 10 MiB.
    pub max_body_bytes: u64,
    /// Client connections open at once. Past it a connection is answered 503 and closed.
    /// Default 1024.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_header_bytes: 32 * 1024,
            max_headers: 64,
            max_body_bytes: 10 * 1024 * 1024,
            max_connections: 1024,
        }
    }
}

impl Limits {
    /// The keys of `[limits]`; any other key is an unknown-field problem.
    pub const FIELDS: &'static [&'static str] = &[
        "max_header_bytes",
        "max_headers",
        "max_body_bytes",
        "max_connections",
    ];

    /// The HTTP/1 parser's own ceiling on a request head. Heads between the configured limit and
    /// this ceiling are parsed so that the 431 can carry CORS headers; larger ones are refused
    /// by the parser with a bare 431 (it never reads their `Origin`).
    pub(crate) fn parser_buffer(&self) -> usize {
        self.max_header_bytes.saturating_mul(4).max(128 * 1024)
    }

    /// The HTTP/1 parser's ceiling on header lines (same idea as [`Limits::parser_buffer`]),
    /// when it must be raised above the parser's own 100: below that the parser keeps its
    /// header slots on the stack, which is why `max_headers` defaults to 64 (browsers send
    /// about 20).
    pub(crate) fn parser_headers(&self) -> Option<usize> {
        (self.max_headers >= 100).then(|| self.max_headers.saturating_mul(2))
    }

    fn from_value(value: &Value, path: &str, problems: &mut Vec<Problem>) -> Limits {
        let mut limits = Limits::default();
        let Some(fields) = Fields::new(value, path, Self::FIELDS, problems) else {
            return limits;
        };
        let mut positive = |key: &str, max: u64| -> Option<u64> {
            let n = fields.integer(key, problems)?;
            if n < 1 || n as u64 > max {
                problems.push(Problem::error(
                    ProblemCode::InvalidValue,
                    fields.path_of(key),
                    n.to_string(),
                    format!("must be between 1 and {max}"),
                    format!("write a number from 1 to {max}"),
                ));
                return None;
            }
            Some(n as u64)
        };
        if let Some(n) = positive("max_header_bytes", 1 << 20) {
            limits.max_header_bytes = n as usize;
        }
        if let Some(n) = positive("max_headers", 10_000) {
            limits.max_headers = n as usize;
        }
        if let Some(n) = positive("max_body_bytes", u64::MAX >> 1) {
            limits.max_body_bytes = n;
        }
        if let Some(n) = positive("max_connections", 1 << 20) {
            limits.max_connections = n as usize;
        }
        fields.finish(problems);
        limits
    }
}

/// Timeouts (`[timeouts]`), written as `"250ms"`, `"10s"`, `"2m"` or a number of seconds, each
/// between 1 ms and 24 h ([`parse_duration`]); a key left out keeps its default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// Connecting to the upstream. Past it: 504. Default 5 s.
    pub connect: Duration,
    /// From sending the request to the upstream's response head. Past it: 504. Default 30 s.
    pub response_headers: Duration,
    /// A whole exchange, from the request head to the response body's end. Past it before the
    /// response head: 504; after: the response is cut off. Default 300 s.
    pub total: Duration,
    /// Silence between two chunks of a body, either way. A client that stops sending its body
    /// gets 408; an upstream that stops sending its body has the response cut off. Default
    /// 30 s.
    pub body_idle: Duration,
    /// How long a client may take to send a request head (also the idle time allowed between
    /// requests on a kept-alive connection): the slow-loris guard. The connection is closed.
    /// Default 10 s.
    pub client_header: Duration,
    /// How long in-flight requests may run on after shutdown is asked for; connections still
    /// open then are closed. Default 10 s.
    pub shutdown: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(5),
            response_headers: Duration::from_secs(30),
            total: Duration::from_secs(300),
            body_idle: Duration::from_secs(30),
            client_header: Duration::from_secs(10),
            shutdown: Duration::from_secs(10),
        }
    }
}

impl Timeouts {
    /// The keys of `[timeouts]`; any other key is an unknown-field problem.
    pub const FIELDS: &'static [&'static str] = &[
        "connect",
        "response_headers",
        "total",
        "body_idle",
        "client_header",
        "shutdown",
    ];

    fn from_value(value: &Value, path: &str, problems: &mut Vec<Problem>) -> Timeouts {
        let mut timeouts = Timeouts::default();
        let Some(fields) = Fields::new(value, path, Self::FIELDS, problems) else {
            return timeouts;
        };
        let slots: [(&str, &mut Duration); 6] = [
            ("connect", &mut timeouts.connect),
            ("response_headers", &mut timeouts.response_headers),
            ("total", &mut timeouts.total),
            ("body_idle", &mut timeouts.body_idle),
            ("client_header", &mut timeouts.client_header),
            ("shutdown", &mut timeouts.shutdown),
        ];
        for (key, slot) in slots {
            let Some(raw) = fields.raw(key) else { continue };
            match parse_duration(raw) {
                Ok(d) => *slot = d,
                Err(message) => problems.push(Problem::error(
                    if matches!(raw, Value::String(_) | Value::Number(_)) {
                        ProblemCode::InvalidValue
                    } else {
                        ProblemCode::WrongType
                    },
                    fields.path_of(key),
                    render(raw),
                    message,
                    "write a duration such as \"250ms\", \"10s\" or \"2m\" (at least 1ms, at most 24h)",
                )),
            }
        }
        fields.finish(problems);
        timeouts
    }
}

/// `"250ms"`, `"1.5s"`, `"10s"`, `"2m"`, `"1h"`, or a number of seconds; between 1 ms and 24 h.
pub fn parse_duration(value: &Value) -> Result<Duration, String> {
    let duration = match value {
        Value::Number(n) => {
            let Some(secs) = n.as_f64().filter(|s| s.is_finite() && *s >= 0.0) else {
                return Err("not a duration".to_owned());
            };
            Duration::try_from_secs_f64(secs).map_err(|e| e.to_string())?
        }
        Value::String(s) => {
            let s = s.trim();
            let split = s
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(s.len());
            let (number, unit) = s.split_at(split);
            let number: f64 = number
                .parse()
                .map_err(|_| format!("`{s}` is not a duration"))?;
            let scale = match unit.trim() {
                "ms" => 0.001,
                "s" | "" => 1.0,
                "m" | "min" => 60.0,
                "h" => 3600.0,
                other => return Err(format!("unknown unit `{other}` (use ms, s, m or h)")),
            };
            Duration::try_from_secs_f64(number * scale).map_err(|e| e.to_string())?
        }
        other => {
            return Err(format!(
                "expected a duration, found {}",
                crossgate::policy::document::type_name(other)
            ));
        }
    };
    if duration < Duration::from_millis(1) || duration > Duration::from_secs(24 * 3600) {
        return Err("must be between 1ms and 24h".to_owned());
    }
    Ok(duration)
}

/// Reads `[limits]` and `[timeouts]` if present.
pub(crate) fn read(
    fields: &Fields<'_>,
    problems: &mut Vec<Problem>,
) -> (Option<Limits>, Option<Timeouts>) {
    let limits = fields
        .raw("limits")
        .map(|v| Limits::from_value(v, &fields.path_of("limits"), problems));
    let timeouts = fields
        .raw("timeouts")
        .map(|v| Timeouts::from_value(v, &fields.path_of("timeouts"), problems));
    (limits, timeouts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_parser_keeps_its_stack_slots_unless_more_headers_are_allowed() {
        assert_eq!(Limits::default().parser_headers(), None);
        let many = Limits {
            max_headers: 150,
            ..Limits::default()
        };
        assert_eq!(many.parser_headers(), Some(300));
        assert_eq!(Limits::default().parser_buffer(), 128 * 1024);
    }

    #[test]
    fn durations() {
        let ok = |v: Value| parse_duration(&v).unwrap();
        assert_eq!(ok(json!("250ms")), Duration::from_millis(250));
        assert_eq!(ok(json!("1.5s")), Duration::from_millis(1500));
        assert_eq!(ok(json!("2m")), Duration::from_secs(120));
        assert_eq!(ok(json!("1h")), Duration::from_secs(3600));
        assert_eq!(ok(json!(10)), Duration::from_secs(10));
        assert_eq!(ok(json!(0.5)), Duration::from_millis(500));
        for bad in [
            json!("0s"),
            json!("fast"),
            json!("10 years"),
            json!("25h"),
            json!(-1),
            json!(true),
        ] {
            assert!(parse_duration(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_problem_of_limits_and_timeouts() {
        let doc = json!({
            "limits": {"max_headers": 0, "max_body_bytes": "big", "max_conections": 5},
            "timeouts": {"connect": "soon", "total": [], "body_idle": "2s"},
        });
        let mut problems = Vec::new();
        let fields = Fields::new(&doc, "", &["limits", "timeouts"], &mut problems).unwrap();
        let (limits, timeouts) = read(&fields, &mut problems);
        let got: Vec<(&str, ProblemCode)> = problems
            .iter()
            .map(|p| (p.field.as_str(), p.code))
            .collect();
        assert_eq!(
            got,
            [
                ("limits.max_headers", ProblemCode::InvalidValue),
                ("limits.max_body_bytes", ProblemCode::WrongType),
                ("limits.max_conections", ProblemCode::UnknownField),
                ("timeouts.connect", ProblemCode::InvalidValue),
                ("timeouts.total", ProblemCode::WrongType),
            ]
        );
        assert_eq!(limits.unwrap(), Limits::default());
        assert_eq!(timeouts.unwrap().body_idle, Duration::from_secs(2));
    }
}
