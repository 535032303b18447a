//! What an operator installs beside the binary, judged by the real tools that read it: the
//! completion scripts by bash, zsh and fish; the manual pages by groff and man.
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
