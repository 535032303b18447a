//! `crossgate origin URL [URL] [--json]` (CONTRACTS §6).

use std::io::Write;

use clap::Args;
use crossgate::origin::Origin;
use serde_json::json;

use crate::{Failure, Outcome};

#[derive(Debug, Args)]
pub struct OriginArgs {
    /// A URL whose origin to show; with a second URL, the two are compared.
    #[arg(value_name = "URL", num_args = 1..=2, required = true)]
    pub urls: Vec<String>,
    /// Print one JSON document: {"origins", "same_origin", "differs", "same_site"}.
    #[arg(long)]
    pub json: bool,
}

fn describe_port(o: &Origin) -> String {
    match (o.scheme(), o.effective_port()) {
        (Some(scheme), Some(port)) => format!("{scheme} {port}"),
        _ => "none".to_owned(),
    }
}

pub fn run(args: &OriginArgs) -> Result<Outcome, Failure> {
    let origins: Vec<Origin> = args
        .urls
        .iter()
        .map(|u| Origin::from_url_str(u).map_err(|e| Failure(format!("`{u}` does not parse: {e}"))))
        .collect::<Result<_, _>>()?;
    let mut out = anstream::stdout();
    let (same_origin, differs, same_site) = match origins.as_slice() {
        [a, b] => {
            let mut differs = Vec::new();
            if a.is_opaque() || b.is_opaque() {
                differs.push("opaque");
            } else {
                if a.scheme() != b.scheme() {
                    differs.push("scheme");
                }
                if a.host() != b.host() {
                    differs.push("host");
                }
                if a.effective_port() != b.effective_port() {
                    differs.push("port");
                }
            }
            (a.same_origin(b), differs, a.same_site(b))
        }
        _ => (true, Vec::new(), true),
    };
    if args.json {
        let mut doc = json!({
            "origins": origins.iter().map(Origin::serialize).collect::<Vec<_>>(),
        });
        if origins.len() == 2 {
            doc["same_origin"] = json!(same_origin);
            doc["differs"] = json!(differs);
            doc["same_site"] = json!(same_site);
        }
        let mut stdout = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut stdout, &doc)?;
        writeln!(stdout)?;
    } else if let [a, b] = origins.as_slice() {
        writeln!(out, "{}  ({})", a, describe_port(a))?;
        writeln!(out, "{}  ({})", b, describe_port(b))?;
        if same_origin {
            writeln!(out, "same origin")?;
        } else {
            let what = if differs == ["opaque"] {
                "an opaque origin is never the same as another".to_owned()
            } else {
                format!("they differ in {}", differs.join(", "))
            };
            writeln!(out, "cross-origin: {what}")?;
        }
        writeln!(
            out,
            "{}",
            if same_site { "same site" } else { "cross-site" }
        )?;
    } else {
        writeln!(out, "{}", origins[0])?;
    }
    Ok(if same_origin {
        Outcome::Yes
    } else {
        Outcome::No
    })
}
