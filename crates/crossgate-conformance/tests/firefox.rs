//! Both conformance matrices in headless Firefox (see `crossgate_conformance::suite`).

fn main() -> std::process::ExitCode {
    crossgate_conformance::suite::main(crossgate_conformance::engine::Engine::Firefox)
}
