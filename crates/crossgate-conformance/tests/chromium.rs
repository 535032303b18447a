//! Both conformance matrices in headless Chromium (see `crossgate_conformance::suite`).

fn main() -> std::process::ExitCode {
    crossgate_conformance::suite::main(crossgate_conformance::engine::Engine::Chromium)
}
