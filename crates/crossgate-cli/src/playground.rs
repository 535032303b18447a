//! `crossgate playground [--listen ADDR]` (CONTRACTS §9).

use std::io::Write;
use std::net::SocketAddr;

use clap::Args;
use crossgate_playground::server::Playground;

use crate::{Failure, Outcome};

#[derive(Debug, Args)]
pub struct PlaygroundArgs {
    /// Where the page is served; the target and the redirect origin take two free ports of
    /// the same address. Loopback by default: the playground answers whatever a page scripts.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8090")]
    pub listen: SocketAddr,
}

pub fn run(args: &PlaygroundArgs) -> Result<Outcome, Failure> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(async {
        let playground = Playground::bind(args.listen).await.map_err(|e| {
            Failure(format!(
                "cannot listen on {}: {e} (choose another with --listen 127.0.0.1:PORT)",
                args.listen
            ))
        })?;
        let page = playground.page_addr();
        if !page.ip().is_loopback() {
            crate::report::warning_line(&format!(
                "the playground listens on {page}, beyond this machine: anyone who reaches it can \
                 make it answer with any headers and redirects they script. Use --listen \
                 127.0.0.1:PORT unless you mean to share it."
            ))?;
        }
        {
            let mut out = anstream::stdout();
            writeln!(out, "crossgate playground: open http://{page}/")?;
            writeln!(
                out,
                "  target http://{}  redirects http://{}  (Ctrl-C stops it)",
                playground.target_addr(),
                playground.redirect_addr()
            )?;
            out.flush()?;
        }
        playground
            .serve(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await;
        Ok(Outcome::Yes)
    })
}
