//! `cargo xtask ci`: the GitHub Actions workflows (`ci.yml`, `release.yml`), generated from
//! `matrix.toml`'s `[ci]` section so the jobs and pins have one source. `--check` fails when a
//! committed file is stale, whatever its line endings, with a diff; so does a test.

pub mod compare;
mod pins;
pub mod release;
pub mod workflow;

use std::path::Path;

use anyhow::{Result, bail};

use crate::fsx;

pub use workflow::{ENABLE_IIS_CLIENT, ENABLE_IIS_SERVER};

pub const WORKFLOW: &str = ".github/workflows/ci.yml";
pub const RELEASE: &str = ".github/workflows/release.yml";

/// Every generated file with its text, from `matrix.toml`.
pub fn render_all(matrix: &Path) -> Result<Vec<(&'static str, String)>> {
    let ci = pins::load(matrix)?;
    Ok(vec![(WORKFLOW, workflow::render(&ci)), (RELEASE, release::render(&ci))])
}

/// Write .github/workflows/ci.yml and release.yml from matrix.toml's [ci] section.
#[derive(clap::Args, Clone, Debug)]
#[command(
    after_help = "Examples:\n  cargo xtask ci\n  cargo xtask ci --check   # fail when a committed workflow is stale (CRLF or not), with a diff"
)]
pub struct Args {
    /// Only check that the committed workflow matches matrix.toml.
    #[arg(long)]
    pub check: bool,
}

/// `cargo xtask ci`.
pub fn run_verb(project: &crate::project::Project, args: Args) -> Result<()> {
    run(&project.root, args.check)
}

pub fn run(root: &Path, check: bool) -> Result<()> {
    let mut stale = Vec::new();
    for (name, text) in render_all(&root.join("matrix.toml"))? {
        let path = root.join(name);
        if check {
            let current = std::fs::read(&path).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
            match stale_diff(&current, &text) {
                Some(diff) => stale.push(format!("{name} is stale (- committed, + generated):\n{diff}")),
                None => eprintln!("{name} is up to date"),
            }
        } else if fsx::write_if_changed(&path, text.as_bytes())? {
            eprintln!("wrote {name}");
        } else {
            eprintln!("{name} is already up to date");
        }
    }
    if !stale.is_empty() {
        bail!("{}\nrun `cargo xtask ci` and commit the result", stale.join("\n"));
    }
    Ok(())
}

/// `None` when `committed` is `generated` up to line endings (a Windows checkout may turn LF
/// into CRLF despite .gitattributes: core.autocrlf, an old clone); else the differing lines.
pub fn stale_diff(committed: &str, generated: &str) -> Option<String> {
    let normalize = |s: &str| s.replace("\r\n", "\n");
    let (a, b) = (normalize(committed), normalize(generated));
    if a == b {
        return None;
    }
    let (old, new): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    // Common prefix and suffix, then the middle as removed and added lines: enough to see what
    // changed in a generated file, without a diff dependency.
    let head = old.iter().zip(&new).take_while(|(x, y)| x == y).count();
    let tail = old[head..].iter().rev().zip(new[head..].iter().rev()).take_while(|(x, y)| x == y).count();
    let mut out = String::new();
    if a.lines().count() == b.lines().count() && head == old.len() {
        out += "  (only the final newline differs)\n";
    }
    for (i, line) in old.iter().enumerate().take(head).skip(head.saturating_sub(2)) {
        out += &format!("  {}: {line}\n", i + 1);
    }
    for (i, line) in old[head..old.len() - tail].iter().enumerate().take(40) {
        out += &format!("- {}: {line}\n", head + i + 1);
    }
    for (i, line) in new[head..new.len() - tail].iter().enumerate().take(40) {
        out += &format!("+ {}: {line}\n", head + i + 1);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> &'static Path {
        Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
    }

    fn workflow() -> String {
        workflow::render(&pins::load(&root().join("matrix.toml")).unwrap())
    }

    /// The jobs of a rendered workflow, each from its two-space-indented id line.
    fn jobs(text: &str) -> Vec<String> {
        let mut jobs: Vec<String> = Vec::new();
        for line in text.lines().skip_while(|l| *l != "jobs:").skip(1) {
            if line.starts_with("  ") && !line.starts_with("   ") {
                jobs.push(String::new());
            }
            if let Some(job) = jobs.last_mut() {
                job.push_str(line);
                job.push('\n');
            }
        }
        jobs
    }

    /// Each Windows job runs the pool rows on the stand-in, measures the proxy (before IIS
    /// runs on the machine), enables IIS its own way, then runs the pool rows on real IIS with
    /// an upgrade while the pools run.
    #[test]
    fn every_windows_job_runs_the_pool_rows_on_real_iis() {
        let text = workflow();
        let windows: Vec<String> = jobs(&text).into_iter().filter(|j| j.contains("runs-on: windows")).collect();
        assert_eq!(windows.len(), 3, "{text}");
        for job in windows {
            let iis_enable =
                if job.contains("runs-on: windows-11-arm") { ENABLE_IIS_CLIENT } else { ENABLE_IIS_SERVER };
            let order = [
                "cargo test --workspace",
                "cargo xtask pools --allow-system-changes",
                "cargo xtask bench proxy\n",
                iis_enable,
                "cargo xtask pools --host iis --upgrade",
            ];
            let at: Vec<Option<usize>> = order.iter().map(|step| job.find(step)).collect();
            assert!(
                at.iter().all(Option::is_some) && at.windows(2).all(|w| w[0] < w[1]),
                "steps missing or out of order in:\n{job}"
            );
        }
    }

    /// The bench step reports: it runs in every Windows job and nowhere else, once, with a
    /// deadline, and nothing makes a failure to run pass (no continue-on-error, no `|| true`).
    #[test]
    fn every_windows_job_runs_bench_proxy_and_fails_only_when_it_cannot_run() {
        let text = workflow();
        let step = workflow::bench_proxy_step();
        for job in jobs(&text) {
            let count = job.matches(step.as_str()).count();
            assert_eq!(count, usize::from(job.contains("runs-on: windows")), "{job}");
        }
        assert!(step.contains("timeout-minutes: ") && step.ends_with("run: cargo xtask bench proxy\n"), "{step}");
        assert!(!step.contains("continue-on-error") && !step.contains("||"), "{step}");
    }

    /// What zizmor's pedantic persona and the issue ask of every job, checked on the text.
    #[test]
    fn every_job_is_named_timed_least_privileged_and_pinned() {
        let ci = pins::load(&root().join("matrix.toml")).unwrap();
        for text in [workflow::render(&ci), release::render(&ci)] {
            assert!(text.contains("\npermissions: {}\n"), "no default permissions");
            assert!(text.contains("cancel-in-progress: ${{ github.event_name == 'pull_request' }}"));
            for job in jobs(&text) {
                for key in ["    name: ", "    timeout-minutes: ", "    permissions:\n"] {
                    assert!(job.contains(key), "{key:?} missing in:\n{job}");
                }
                assert!(!job.contains("persist-credentials: true"));
                if job.contains("actions/checkout@") {
                    assert!(job.contains("persist-credentials: false"), "{job}");
                }
                for line in job.lines().filter(|l| l.contains("uses: ")) {
                    let (_, pinned) = line.split_once('@').unwrap();
                    let (sha, version) =
                        pinned.split_once(" # v").unwrap_or_else(|| panic!("no version comment: {line}"));
                    assert!(sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit()), "{line}");
                    assert!(version.split('.').count() == 3, "{line}");
                }
                if job.contains("    container:\n") {
                    assert!(job.contains("@sha256:"), "container not pinned by digest:\n{job}");
                }
            }
        }
    }

    #[test]
    fn the_workflow_has_the_lint_steps_and_the_pinned_llvm() {
        let text = workflow();
        for step in [
            "cargo fmt --all --check",
            "cargo clippy --workspace --all-targets -- -D warnings",
            "cargo xtask ci --check",
            "workflow_dispatch:",
        ] {
            assert!(text.contains(step), "{step}");
        }
        assert!(!text.contains("choco"), "Chocolatey's llvm is x64-only and mixes versions on windows-11-arm");
        let arm = jobs(&text).into_iter().find(|j| j.contains("runs-on: windows-11-arm")).unwrap();
        assert!(arm.contains("aarch64-pc-windows-msvc"), "{arm}");
        assert!(arm.contains("ARCHWAY_LLVM_DIR: C:\\archway-llvm\\23.1.4\\bin"), "{arm}");
    }

    #[test]
    fn stale_diff_ignores_line_endings_and_shows_the_change() {
        let generated = "a\nb\nc\n";
        assert_eq!(stale_diff(&generated.replace('\n', "\r\n"), generated), None);
        let diff = stale_diff("a\nB\nc\n", generated).unwrap();
        assert!(diff.contains("- 2: B") && diff.contains("+ 2: b"), "{diff}");
        assert!(stale_diff("a\nb\nc", generated).unwrap().contains("final newline"));
    }

    fn matrix_with(dir: &Path, edit: impl Fn(String) -> String) -> std::path::PathBuf {
        let text = std::fs::read_to_string(root().join("matrix.toml")).unwrap();
        let path = dir.join("matrix.toml");
        std::fs::write(&path, edit(text)).unwrap();
        path
    }

    #[test]
    fn bad_pins_are_errors_naming_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let cases: [(&str, &str, &str); 4] = [
            ("de0fac2e4500dabe0009e67214ff5f5447ce83dd", "v6", "full 40-digit"),
            ("version = \"23.1.4\"", "version = \"22.1.8\"", "the Linux wheels are 23.1.4.post8"),
            ("rust:1.95-bookworm@sha256:", "rust:1.95-bookworm@sha512:", "pin the image by digest"),
            ("iis = \"client\"", "", "say how IIS is enabled"),
        ];
        for (from, to, message) in cases {
            let path = matrix_with(dir.path(), |t| t.replacen(from, to, 1));
            let err = format!("{:#}", pins::load(&path).err().unwrap_or_else(|| panic!("{from} -> {to} accepted")));
            assert!(err.contains(message), "{err}");
            if !message.starts_with("say") {
                assert!(err.contains("matrix.toml:"), "no line in {err}");
            }
        }
    }
}
