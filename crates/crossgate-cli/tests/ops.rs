//! What an operator installs beside the binary, judged by the real tools that read it: the
//! completion scripts by bash, zsh and fish; the manual pages by groff and man; the systemd
//! unit by systemd-analyze and, run, by a NOTIFY_SOCKET of the test's; the Dockerfile by
//! hadolint, its commands run here; /metrics by promtool.
//!
//! The tools come from scripts/install-ops-tools (promtool and hadolint under target/ops-tools/bin
//! or `$CROSSGATE_OPS_TOOLS_DIR/bin`, the rest from Debian). A test whose tool is missing prints
//! SKIPPED and passes, unless `CROSSGATE_REQUIRE_OPS_TOOLS=1` (CI sets it), which makes it fail.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::crossgate;

/// The tool called `name`: under the ops tools directory, else on PATH. None (after a SKIPPED
/// line) when it is missing and CI does not require it.
fn tool(name: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("CROSSGATE_OPS_TOOLS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/ops-tools"));
    let local = dir.join("bin").join(name);
    if local.is_file() {
        return Some(local);
    }
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    });
    if on_path.is_none() {
        if std::env::var("CROSSGATE_REQUIRE_OPS_TOOLS").is_ok_and(|v| v == "1") {
            panic!("CROSSGATE_REQUIRE_OPS_TOOLS=1 but no {name}: run scripts/install-ops-tools");
        }
        eprintln!("SKIPPED: no {name} (run scripts/install-ops-tools)");
    }
    on_path
}

fn ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: {}\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).expect("UTF-8")
}

fn run(program: &Path, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", program.display()))
}

/// A completion script for `shell`, written to a file in `dir`.
fn completion_script(shell: &str, dir: &Path) -> PathBuf {
    let script = ok(&crossgate(&["completions", shell], None), shell);
    // Generated from the command line itself: every command and a deep option are in it.
    for word in [
        "serve",
        "simulate",
        "audit",
        "completions",
        "watch-interval",
    ] {
        assert!(script.contains(word), "{shell} script lacks {word}");
    }
    let path = dir.join(format!("crossgate.{shell}"));
    std::fs::write(&path, script).unwrap();
    path
}

#[test]
fn bash_parses_the_script_and_completes_commands_and_options() {
    let dir = tempfile::tempdir().unwrap();
    let script = completion_script("bash", dir.path());
    let Some(bash) = tool("bash") else { return };
    let script = script.to_str().unwrap();
    ok(&run(&bash, &["-n", script]), "bash -n");
    // What bash offers at `crossgate se<TAB>` and `crossgate serve --wat<TAB>`.
    let complete = |words: &str| {
        let program = format!(
            "source {script}; COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); \
             _crossgate crossgate \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; \
             printf '%s\\n' \"${{COMPREPLY[@]}}\""
        );
        ok(&run(&bash, &["-c", &program]), "bash completion")
    };
    assert_eq!(complete("crossgate se").trim(), "serve");
    assert_eq!(complete("crossgate serve --wat").trim(), "--watch-interval");
    assert_eq!(complete("crossgate completions p").trim(), "powershell");
}

#[test]
fn zsh_parses_the_script() {
    let dir = tempfile::tempdir().unwrap();
    let script = completion_script("zsh", dir.path());
    let Some(zsh) = tool("zsh") else { return };
    let text = std::fs::read_to_string(&script).unwrap();
    assert!(text.starts_with("#compdef crossgate"), "zsh autoload tag");
    ok(&run(&zsh, &["-n", script.to_str().unwrap()]), "zsh -n");
}

#[test]
fn fish_parses_the_script_and_completes_commands() {
    let dir = tempfile::tempdir().unwrap();
    let script = completion_script("fish", dir.path());
    let Some(fish) = tool("fish") else { return };
    let script = script.to_str().unwrap();
    ok(&run(&fish, &["--no-execute", script]), "fish --no-execute");
    let offered = ok(
        &run(
            &fish,
            &[
                "--no-config",
                "-c",
                &format!("source {script}; complete --do-complete 'crossgate ma'"),
            ],
        ),
        "fish complete",
    );
    assert!(
        offered
            .lines()
            .any(|l| l.starts_with("man\t") || l == "man"),
        "fish offered: {offered}"
    );
}

#[test]
fn powershell_script_registers_a_completer_for_every_command() {
    // Debian has no PowerShell to run it; the script's shape is what can be checked here.
    let dir = tempfile::tempdir().unwrap();
    let script = completion_script("powershell", dir.path());
    let text = std::fs::read_to_string(script).unwrap();
    assert!(text.contains("Register-ArgumentCompleter -Native -CommandName 'crossgate'"));
    for command in ["'crossgate;serve'", "'crossgate;audit'", "'crossgate;man'"] {
        assert!(text.contains(command), "no case for {command}");
    }
}

/// groff reads a page with every warning on; the page is clean when it says nothing.
fn groff_clean(page: &Path) {
    let Some(groff) = tool("groff") else { return };
    let out = run(
        &groff,
        &["-man", "-T", "utf8", "-ww", "-z", page.to_str().unwrap()],
    );
    ok(&out, "groff");
    assert!(
        out.stderr.is_empty(),
        "groff warns about {}: {}",
        page.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_manual_page_reads_cleanly_in_man() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("crossgate.1");
    std::fs::write(&page, ok(&crossgate(&["man"], None), "crossgate man")).unwrap();
    groff_clean(&page);
    let Some(man) = tool("man") else { return };
    let out = Command::new(man)
        .args(["-l", page.to_str().unwrap()])
        .env("MANWIDTH", "100")
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .output()
        .unwrap();
    let text = ok(&out, "man -l");
    // man's formatter hyphenates and draws bold by overstriking; compare letters only.
    let text: String = text
        .replace("\u{8}", "")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for expected in [
        "crossgate - CORS by the Fetch standard",
        "SYNOPSIS",
        "crossgate-serve(1)",
        "EXIT STATUS",
        "SIGHUP",
        "User Commands",
    ] {
        assert!(text.contains(expected), "{expected} not in\n{text}");
    }
}

#[test]
fn man_dir_writes_one_clean_page_per_command() {
    let dir = tempfile::tempdir().unwrap();
    let out = crossgate(&["man", "--dir", dir.path().to_str().unwrap()], None);
    let listed = ok(&out, "crossgate man --dir");
    let mut pages: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    pages.sort();
    let help = ok(&crossgate(&["--help"], None), "--help");
    let commands: Vec<&str> = help
        .split("Commands:")
        .nth(1)
        .unwrap()
        .lines()
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        // A command's own line; its description wraps onto lines indented further.
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    let mut expected: Vec<String> = commands
        .iter()
        .map(|c| format!("crossgate-{c}.1"))
        .collect();
    expected.push("crossgate.1".to_owned());
    expected.sort();
    assert_eq!(pages, expected);
    assert_eq!(listed.lines().count(), pages.len(), "each path printed");
    for page in &pages {
        groff_clean(&dir.path().join(page));
    }
    let serve = std::fs::read_to_string(dir.path().join("crossgate-serve.1")).unwrap();
    assert!(
        serve.contains(".SH SIGNALS"),
        "serve's page says what SIGHUP does"
    );
    assert!(serve.contains("\\-\\-watch\\-interval"), "serve's options");
}

// --- deploy/: the systemd unit, the container image ---------------------------------------------

/// The repository's deploy/ directory.
fn deploy(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy")
        .join(name)
}

/// The words of the unit's `ExecStart=` (no quoting is used in it).
fn exec_start(unit: &str) -> Vec<String> {
    unit.lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("ExecStart=")
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

#[test]
fn systemd_verifies_the_unit_and_rates_its_exposure_ok() {
    let Some(analyze) = tool("systemd-analyze") else {
        return;
    };
    let unit = std::fs::read_to_string(deploy("crossgate.service")).unwrap();
    let exec = exec_start(&unit);
    assert_eq!(exec[0], "/usr/local/bin/crossgate");
    // verify checks that ExecStart's program exists and that the Documentation= man page
    // resolves: point the first at this build, the second at pages `crossgate man` writes.
    let dir = tempfile::tempdir().unwrap();
    let man = dir.path().join("man/man1");
    ok(
        &crossgate(&["man", "--dir", man.to_str().unwrap()], None),
        "man --dir",
    );
    let path = dir.path().join("crossgate.service");
    std::fs::write(
        &path,
        unit.replace("/usr/local/bin/crossgate", support::BIN),
    )
    .unwrap();
    let out = Command::new(&analyze)
        .args(["verify", path.to_str().unwrap()])
        .env("MANPATH", dir.path().join("man"))
        .output()
        .unwrap();
    ok(&out, "systemd-analyze verify");
    // verify exits 0 on an unknown key or a bad value; it says so on stderr.
    assert!(
        out.stderr.is_empty(),
        "systemd-analyze verify: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // systemd's own rating of the sandboxing: 2.0 or less is its "OK" band (10 is unconfined).
    let out = run(
        &analyze,
        &[
            "security",
            "--offline=yes",
            "--threshold=20",
            path.to_str().unwrap(),
        ],
    );
    let report = ok(&out, "systemd-analyze security");
    assert!(
        report.contains("Overall exposure level for crossgate.service: 1."),
        "{report}"
    );
}

#[test]
fn hadolint_finds_nothing_in_the_dockerfile() {
    let Some(hadolint) = tool("hadolint") else {
        return;
    };
    // The linter judges: a Dockerfile with known faults must fail it.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("Dockerfile");
    std::fs::write(&bad, "FROM debian\nRUN cd /tmp && apt-get install curl\n").unwrap();
    assert!(!run(&hadolint, &[bad.to_str().unwrap()]).status.success());
    let out = run(&hadolint, &[deploy("Dockerfile").to_str().unwrap()]);
    let said = ok(&out, "hadolint deploy/Dockerfile");
    assert!(said.trim().is_empty(), "hadolint: {said}");
}

/// The JSON array of a Dockerfile instruction (`CMD [...]`, `ENTRYPOINT [...]`, the exec form
/// of `HEALTHCHECK ... CMD [...]`), continuation lines joined.
fn dockerfile_array(dockerfile: &str, instruction: &str) -> Vec<String> {
    let joined = dockerfile.replace("\\\n", " ");
    let line = joined
        .lines()
        .find(|l| l.starts_with(instruction))
        .unwrap_or_else(|| panic!("no {instruction} in the Dockerfile"));
    let array = &line[line.find('[').expect("exec form")..];
    serde_json::from_str(array).unwrap_or_else(|e| panic!("{instruction}: {e}"))
}

#[test]
fn the_images_commands_serve_its_config_and_report_readiness() {
    let dockerfile = std::fs::read_to_string(deploy("Dockerfile")).unwrap();
    let entrypoint = dockerfile_array(&dockerfile, "ENTRYPOINT");
    let cmd = dockerfile_array(&dockerfile, "CMD");
    let health = dockerfile_array(&dockerfile, "HEALTHCHECK");
    assert_eq!(entrypoint, ["/usr/local/bin/crossgate"]);
    // The build stage's cargo command: locked to Cargo.lock (which must be up to date, or the
    // image cannot build), and naming a package and binary that exist.
    let build = dockerfile
        .lines()
        .find(|l| l.trim_start().starts_with("cargo build"))
        .expect("the build stage runs cargo build");
    assert!(
        build.contains("--locked --package crossgate-cli --bin crossgate"),
        "{build}"
    );
    let metadata = Command::new(env!("CARGO"))
        .args(["metadata", "--locked", "--format-version", "1", "--no-deps"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let metadata: serde_json::Value =
        serde_json::from_str(&ok(&metadata, "cargo metadata --locked")).unwrap();
    let cli = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "crossgate-cli")
        .expect("the package crossgate-cli");
    assert!(
        cli["targets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "crossgate" && t["kind"][0] == "bin")
    );
    assert!(dockerfile.contains("COPY deploy/crossgate.toml /etc/crossgate/crossgate.toml"));
    assert!(
        dockerfile.contains("\nUSER 65532:65532\n"),
        "runs as a non-root user"
    );
    // Inside the container the built-in configuration listens on every interface, on the
    // ports the image exposes, and the health check asks its admin listener.
    let built_in: toml::Table =
        toml::from_str(&std::fs::read_to_string(deploy("crossgate.toml")).unwrap()).unwrap();
    let listen: std::net::SocketAddr = built_in["listen"].as_str().unwrap().parse().unwrap();
    let admin_listen: std::net::SocketAddr = built_in["admin"]["listen"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(listen.ip().is_unspecified() && admin_listen.ip().is_unspecified());
    let exposed = format!("\nEXPOSE {} {}\n", listen.port(), admin_listen.port());
    assert!(dockerfile.contains(&exposed), "{exposed}");
    assert!(
        health
            .last()
            .unwrap()
            .starts_with(&format!("http://127.0.0.1:{}/", admin_listen.port())),
        "{health:?}"
    );
    // The image's CMD, run here on its built-in configuration, on free loopback ports.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("crossgate.toml");
    std::fs::copy(deploy("crossgate.toml"), &config).unwrap();
    let args: Vec<String> = cmd
        .iter()
        .map(|a| a.replace("/etc/crossgate/crossgate.toml", config.to_str().unwrap()))
        .chain(["--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"].map(String::from))
        .collect();
    let mut served = Gateway::start(&args, &[]);
    let admin = served
        .admin
        .expect("the image's config has an admin listener");
    // The HEALTHCHECK, asking this admin listener.
    let health: Vec<String> = health[1..]
        .iter()
        .map(|a| {
            a.replace(
                &format!("127.0.0.1:{}", admin_listen.port()),
                &admin.to_string(),
            )
        })
        .collect();
    assert_eq!(health[0], "healthcheck");
    let health: Vec<&str> = health.iter().map(String::as_str).collect();
    let out = crossgate(&health, None);
    let said = ok(&out, "HEALTHCHECK");
    assert!(said.starts_with("ready: 200 OK from http://"), "{said}");
    // The admin listener's HOST:PORT alone, by address or by name.
    for short in [admin.to_string(), format!("localhost:{}", admin.port())] {
        let said = ok(&crossgate(&["healthcheck", &short], None), &short);
        assert!(said.starts_with("ready: 200 OK from http://"), "{said}");
    }
    let out = crossgate(&["healthcheck", &format!("https://{admin}/readyz")], None);
    assert_eq!(out.status.code(), Some(2), "plain HTTP only");
    served.signal("TERM");
    assert_eq!(served.wait(), Some(0));
    // Stopped: not ready (exit 1, never Docker's reserved 2), and it says what to check.
    let out = crossgate(&health, None);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("not ready: no answer"));
}

/// A running `crossgate` with the given arguments (`serve ...`), killed when dropped.
struct Gateway {
    child: std::process::Child,
    admin: Option<std::net::SocketAddr>,
    addr: std::net::SocketAddr,
}

impl Gateway {
    fn start(args: &[String], env: &[(&str, &str)]) -> Gateway {
        let mut command = Command::new(support::BIN);
        command
            .args(args)
            .envs(env.iter().copied())
            .stderr(std::process::Stdio::null());
        let (child, banner) = support::start_serve(command);
        Gateway {
            child,
            admin: support::banner_addr(&banner, "admin: http://"),
            addr: support::banner_addr(&banner, "listening on http://").expect("a listening line"),
        }
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// The exit code, waited for at most 15 s.
    fn wait(&mut self) -> Option<i32> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(std::time::Instant::now() < deadline, "did not stop");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The datagrams a service manager receives on `NOTIFY_SOCKET`.
struct NotifySocket {
    socket: std::os::unix::net::UnixDatagram,
    path: PathBuf,
}

impl NotifySocket {
    fn bind(dir: &Path) -> NotifySocket {
        let path = dir.join("notify.sock");
        let socket = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        socket
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        NotifySocket { socket, path }
    }

    /// The next message that is not a watchdog ping, and how many pings came before it.
    fn next(&self) -> (String, usize) {
        let mut pings = 0;
        let mut buf = [0u8; 4096];
        loop {
            let n = self.socket.recv(&mut buf).expect("a notification in 10 s");
            let message = String::from_utf8(buf[..n].to_vec()).unwrap();
            if message == "WATCHDOG=1\n" || message == "WATCHDOG=1" {
                pings += 1;
            } else {
                return (message, pings);
            }
        }
    }
}

#[test]
fn serve_tells_systemd_ready_reloading_stopping_and_pings_its_watchdog() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("crossgate.toml");
    std::fs::copy(deploy("crossgate.toml"), &config).unwrap();
    let notify = NotifySocket::bind(dir.path());
    // The unit's own ExecStart, on this build and this file, on free loopback ports.
    let unit = std::fs::read_to_string(deploy("crossgate.service")).unwrap();
    let args: Vec<String> = exec_start(&unit)[1..]
        .iter()
        .map(|a| a.replace("/etc/crossgate/crossgate.toml", config.to_str().unwrap()))
        .chain(["--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"].map(String::from))
        .collect();
    let mut served = Gateway::start(
        &args,
        &[
            ("NOTIFY_SOCKET", notify.path.to_str().unwrap()),
            ("WATCHDOG_USEC", "100000"),
        ],
    );
    let (ready, _) = notify.next();
    assert!(ready.contains("READY=1"), "{ready}");
    assert!(
        ready.contains(&format!("STATUS=listening on http://{}", served.addr)),
        "{ready}"
    );
    // Pings every 50 ms: a second's worth arrives before the reload.
    std::thread::sleep(std::time::Duration::from_secs(1));
    served.signal("HUP");
    let (reloading, pings) = notify.next();
    assert!(pings >= 5, "{pings} watchdog pings in a second");
    assert!(reloading.contains("RELOADING=1"), "{reloading}");
    assert!(reloading.contains("MONOTONIC_USEC="), "{reloading}");
    let (reloaded, _) = notify.next();
    assert!(reloaded.contains("READY=1"), "{reloaded}");
    assert!(reloaded.contains("; reloaded (generation 2)"), "{reloaded}");
    // A file with errors: refused, the service stays ready on the configuration in force.
    std::fs::write(
        &config,
        "[cors]\nallow_origins = [\"*\"]\nallow_credentials = true\n",
    )
    .unwrap();
    served.signal("HUP");
    let (reloading, _) = notify.next();
    assert!(reloading.contains("RELOADING=1"), "{reloading}");
    let (refused, _) = notify.next();
    assert!(refused.contains("READY=1"), "{refused}");
    assert!(
        refused.contains("reload refused, the configuration in force kept (generation 2)"),
        "{refused}"
    );
    served.signal("TERM");
    let (stopping, _) = notify.next();
    assert!(stopping.contains("STOPPING=1"), "{stopping}");
    assert_eq!(served.wait(), Some(0));
}

// --- /metrics -----------------------------------------------------------------------------------

/// One HTTP/1.1 exchange on a fresh connection: the whole response as text.
fn http(addr: std::net::SocketAddr, head: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(format!("{head}\r\nConnection: close\r\n\r\n").as_bytes())
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn promtool_parses_and_lints_a_live_gateways_metrics_clean() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gateway.toml");
    std::fs::write(
        &config,
        r#"upstream = "echo"
[cors]
allow_origins = ["https://app.example.com"]
allow_methods = ["PUT"]
[[routes]]
prefix = "/quo\"ted\\path"
upstream = "echo"
"#,
    )
    .unwrap();
    let served = Gateway::start(
        &[
            "serve",
            "--config",
            config.to_str().unwrap(),
            "--no-watch",
            "--listen",
            "127.0.0.1:0",
            "--admin",
            "127.0.0.1:0",
        ]
        .map(String::from),
        &[],
    );
    let allowed = "Origin: https://app.example.com";
    for (head, status) in [
        (format!("GET /a HTTP/1.1\r\nHost: x\r\n{allowed}"), "200"),
        (
            // Refused: answered without CORS headers, so the browser hides it.
            "GET /a HTTP/1.1\r\nHost: x\r\nOrigin: https://evil.example".to_owned(),
            "200",
        ),
        (
            format!(
                "OPTIONS /a HTTP/1.1\r\nHost: x\r\n{allowed}\r\nAccess-Control-Request-Method: PUT"
            ),
            "204",
        ),
        (
            format!(
                "OPTIONS /a HTTP/1.1\r\nHost: x\r\n{allowed}\r\nAccess-Control-Request-Method: PATCH"
            ),
            "403",
        ),
    ] {
        let response = http(served.addr, &head);
        assert!(
            response.starts_with(&format!("HTTP/1.1 {status}")),
            "{head}\n{response}"
        );
    }
    let scrape = http(served.admin.unwrap(), "GET /metrics HTTP/1.1\r\nHost: x");
    let (head, body) = scrape.split_once("\r\n\r\n").unwrap();
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4; charset=utf-8"),
        "{head}"
    );
    for series in [
        "crossgate_requests_total{route=\"/\",status=\"200\"} 2",
        "crossgate_requests_total{route=\"/\",status=\"204\"} 1",
        // A route's name in a label value, escaped as the text format requires.
        "crossgate_preflights_allowed_total{route=\"/quo\\\"ted\\\\path\"} 0",
        "crossgate_preflights_allowed_total{route=\"/\"} 1",
        "crossgate_preflights_denied_total{route=\"/\",reason=\"method-not-allowed\"} 1",
        "crossgate_disallowed_origin_requests_total{route=\"/\",reason=\"origin-not-allowed\"} 1",
        "crossgate_build_info{version=\"",
        "process_resident_memory_bytes ",
        "process_open_fds ",
    ] {
        assert!(body.contains(series), "{series} not in\n{body}");
    }
    let Some(promtool) = tool("promtool") else {
        return;
    };
    let check = |text: &str| {
        use std::io::Write;
        let mut child = Command::new(&promtool)
            .args(["check", "metrics"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    // The judge judges: a counter without _total and a bad escape must not pass.
    let bad = check("# HELP x_requests R.\n# TYPE x_requests counter\nx_requests{a=\"\\q\"} 1\n");
    assert!(!bad.status.success(), "promtool accepted a bad exposition");
    let out = check(body);
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics: {}{}\n{body}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
