//! Both conformance matrices in WebKitGTK's MiniBrowser under a virtual X server (see
//! `crossgate_conformance::suite`).

fn main() -> std::process::ExitCode {
    crossgate_conformance::suite::main(crossgate_conformance::engine::Engine::Webkit)
}
