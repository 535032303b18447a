//! The `simulate` document (CONTRACTS §3): one function reads it, runs the agent and writes the
//! answer, and both `crossgate simulate --json` and the playground's `POST /api/simulate` call
//! it, so the page and the command line cannot disagree by a byte.

use crossgate::agent::{Report, Scenario, Sequence};
use crossgate::browser::Browser;

/// What a `simulate` document asked for, answered.
#[derive(Debug)]
pub enum Simulated {
    /// A scenario (`{"origin", "request", "responses"}`): one fetch.
    One(Box<Report>),
    /// A sequence (`{"origin", "steps": [...]}`): several fetches against one browser and its
    /// preflight cache, in order.
    Steps(Vec<Report>),
}

impl Simulated {
    /// Whether every fetch was allowed.
    pub fn allowed(&self) -> bool {
        self.reports().iter().all(|r| r.allowed)
    }

    /// The reports, one per fetch.
    pub fn reports(&self) -> &[Report] {
        match self {
            Simulated::One(report) => std::slice::from_ref(report.as_ref()),
            Simulated::Steps(reports) => reports,
        }
    }

    /// The JSON answer, exactly as `crossgate simulate --json` prints it: pretty-printed, with
    /// a final newline. A sequence's reports are under `steps`.
    pub fn to_json(&self) -> String {
        let mut text = match self {
            Simulated::One(report) => serde_json::to_string_pretty(report),
            Simulated::Steps(reports) => {
                serde_json::to_string_pretty(&serde_json::json!({ "steps": reports }))
            }
        }
        .expect("a report serialises");
        text.push('\n');
        text
    }
}

/// Why a document could not be simulated: it is not valid JSON, not a scenario or a sequence,
/// or lacks a response the simulation needs. The text is what `simulate` prints (after
/// `error: `) and what the playground answers with a 400.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimulateError(pub String);

impl std::fmt::Display for SimulateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SimulateError {}

fn invalid(e: impl std::fmt::Display) -> SimulateError {
    SimulateError(format!("invalid simulation input: {e}"))
}

fn cannot(e: impl std::fmt::Display) -> SimulateError {
    SimulateError(format!("cannot simulate: {e}"))
}

/// Reads a `simulate` document (a scenario, or a sequence when it has `steps`) and runs it as
/// `browser` would.
///
/// ```
/// use crossgate::browser::Browser;
/// use crossgate_playground::simulate::simulate;
///
/// let input = r#"{
///   "origin": "http://127.0.0.1:9001",
///   "request": {"url": "http://127.0.0.1:9002/items/1"},
///   "responses": {"actual": {"status": 200, "headers": [["Access-Control-Allow-Origin", "*"]]}}
/// }"#;
/// let answer = simulate(input, Browser::Firefox).unwrap();
/// assert!(answer.allowed());
/// assert!(answer.to_json().starts_with("{\n  \"browser\": \"firefox\",\n  \"allowed\": true,"));
/// assert!(answer.to_json().ends_with("}\n"));
///
/// let error = simulate("{}", Browser::Chromium).unwrap_err();
/// assert!(error.to_string().starts_with("invalid simulation input: missing field"));
/// ```
pub fn simulate(text: &str, browser: Browser) -> Result<Simulated, SimulateError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(invalid)?;
    if value.get("steps").is_some() {
        let sequence: Sequence = serde_json::from_value(value).map_err(invalid)?;
        let reports = sequence.run(browser).map_err(cannot)?;
        return Ok(Simulated::Steps(reports));
    }
    let scenario: Scenario = serde_json::from_value(value).map_err(invalid)?;
    let report = scenario.run(browser).map_err(cannot)?;
    Ok(Simulated::One(Box::new(report)))
}
