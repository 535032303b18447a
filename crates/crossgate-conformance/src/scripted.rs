//! The scripted targets of the agent matrix: every request under `/s/<job>/...`, on any of the
//! harness's ports and host names, is answered with the next scripted response of its kind
//! (preflight or actual) for the job's current step, and recorded.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use crate::http::{RawRequest, RawResponse, with_length};

/// A scripted response (headers as sent, `Content-Length` included where the status allows a
/// body).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
}

/// A response with these header lines, plus `Content-Length: 0` where the status allows a body.
pub fn resp(status: u16, headers: &[(&str, &str)]) -> Resp {
    let headers = headers
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
    Resp {
        status,
        headers: with_length(status, headers, 0),
    }
}

/// Which kind of exchange a request is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Preflight,
    Actual,
}

/// A request as the target received it.
#[derive(Clone, Debug)]
pub struct Got {
    pub kind: Kind,
    pub method: String,
    /// `http://<Host><target>`.
    pub url: String,
    pub headers: Vec<(String, String)>,
    /// No scripted response was left for it (answered 500).
    pub unscripted: bool,
}

impl Got {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Default)]
struct Script {
    /// Per step: the preflight responses and the actual responses, in order.
    steps: Vec<(VecDeque<Resp>, VecDeque<Resp>)>,
    current: usize,
    /// Per step: what arrived.
    received: Vec<Vec<Got>>,
}

/// The scripts of every job.
#[derive(Debug, Default)]
pub struct Scripts {
    jobs: Mutex<HashMap<String, Script>>,
}

/// The job id of a scripted path (`/s/<id>/...`).
pub fn job_of(path: &str) -> Option<&str> {
    path.strip_prefix("/s/")?.split('/').next()
}

impl Scripts {
    /// Scripts `id`: per step, its preflight responses and its actual responses.
    pub fn add(&self, id: &str, steps: Vec<(Vec<Resp>, Vec<Resp>)>) {
        let n = steps.len();
        self.jobs.lock().expect("scripts lock").insert(
            id.to_owned(),
            Script {
                steps: steps
                    .into_iter()
                    .map(|(p, a)| (p.into(), a.into()))
                    .collect(),
                current: 0,
                received: vec![Vec::new(); n],
            },
        );
    }

    /// The job `id` starts step `step`.
    pub fn set_step(&self, id: &str, step: usize) {
        if let Some(s) = self.jobs.lock().expect("scripts lock").get_mut(id) {
            s.current = step.min(s.steps.len().saturating_sub(1));
        }
    }

    /// What arrived for `id`, per step.
    pub fn received(&self, id: &str) -> Vec<Vec<Got>> {
        self.jobs
            .lock()
            .expect("scripts lock")
            .get(id)
            .map(|s| s.received.clone())
            .unwrap_or_default()
    }

    /// Answers a request under `/s/`; `None` for other paths.
    pub fn handle(&self, request: &RawRequest) -> Option<RawResponse> {
        let id = job_of(request.path())?;
        let mut jobs = self.jobs.lock().expect("scripts lock");
        let Some(script) = jobs.get_mut(id) else {
            return Some(RawResponse::with_body(
                404,
                "text/plain",
                b"no such job".to_vec(),
            ));
        };
        let kind = if request.method == "OPTIONS"
            && request.header("access-control-request-method").is_some()
        {
            Kind::Preflight
        } else {
            Kind::Actual
        };
        let step = script.current;
        let (preflights, actual) = &mut script.steps[step];
        let next = match kind {
            Kind::Preflight => preflights.pop_front(),
            Kind::Actual => actual.pop_front(),
        };
        script.received[step].push(Got {
            kind,
            method: request.method.clone(),
            url: format!(
                "http://{}{}",
                request.header("host").unwrap_or("?"),
                request.target
            ),
            headers: request.headers.clone(),
            unscripted: next.is_none(),
        });
        Some(match next {
            Some(r) => RawResponse {
                status: r.status,
                headers: r.headers,
                body: Vec::new(),
            },
            None => RawResponse::with_body(500, "text/plain", b"unscripted".to_vec()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, target: &str, headers: &[(&str, &str)]) -> RawRequest {
        RawRequest {
            method: method.to_owned(),
            target: target.to_owned(),
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            body: Vec::new(),
        }
    }

    #[test]
    fn answers_per_kind_and_step_and_records() {
        let scripts = Scripts::default();
        scripts.add(
            "j1",
            vec![
                (
                    vec![resp(204, &[("A", "p0")])],
                    vec![resp(200, &[("A", "a0")])],
                ),
                (vec![], vec![resp(200, &[("A", "a1")])]),
            ],
        );
        let preflight = request(
            "OPTIONS",
            "/s/j1/r0",
            &[
                ("Host", "127.0.0.1:1"),
                ("Access-Control-Request-Method", "PUT"),
            ],
        );
        let r = scripts.handle(&preflight).unwrap();
        assert_eq!(r.status, 204);
        assert_eq!(
            r.headers,
            [("A".to_owned(), "p0".to_owned())],
            "no length on a 204"
        );
        let actual = request("PUT", "/s/j1/r0", &[("Host", "127.0.0.1:1")]);
        assert_eq!(scripts.handle(&actual).unwrap().headers[0].1, "a0");
        scripts.set_step("j1", 1);
        assert_eq!(scripts.handle(&actual).unwrap().headers[0].1, "a1");
        assert_eq!(scripts.handle(&actual).unwrap().status, 500);
        let got = scripts.received("j1");
        assert_eq!(got[0].len(), 2);
        assert_eq!(got[0][0].kind, Kind::Preflight);
        assert_eq!(got[0][0].url, "http://127.0.0.1:1/s/j1/r0");
        assert!(got[1][1].unscripted);
        assert!(scripts.handle(&request("GET", "/run/0", &[])).is_none());
        assert_eq!(
            scripts
                .handle(&request("GET", "/s/nope/r0", &[]))
                .unwrap()
                .status,
            404
        );
    }
}
