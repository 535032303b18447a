//! # crossgate-playground
//!
//! The CORS playground behind `crossgate playground`: a page where a person composes a fetch and
//! what the server answers, runs the fetch **in their own browser** against a scripted server on
//! another origin, and sees beside it crossgate's prediction for Chromium, Firefox and WebKit:
//! the verdict, whether a preflight went out, what script can read, each engine's message, and
//! the exchanges the server actually saw.
//!
//! - [`server::Playground`] binds the page's origin and two more (the target, and a third
//!   origin for redirects) and serves them;
//! - [`simulate`] is the one reader of `simulate` documents: `crossgate simulate --json` and
//!   `POST /api/simulate` print the same bytes for the same input;
//! - [`case`] is what the page composes (and the URL fragment carries); a run is one click of it.
//!
//! ```no_run
//! # async fn serve() -> std::io::Result<()> {
//! let playground = crossgate_playground::server::Playground::bind("127.0.0.1:8090".parse().unwrap()).await?;
//! println!("open http://{}/", playground.page_addr());
//! // Serves until the future completes: here, never.
//! playground.serve(std::future::pending()).await;
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]
#![deny(unreachable_pub)]

mod assets;
pub mod case;
mod run;
pub mod server;
pub mod simulate;
