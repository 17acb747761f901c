//! The application-pool matrix for real: `cargo xtask pools` in a copy of the checkout builds
//! the packages, lays each out from its MSI, and runs every row this machine can run on the
//! worker stand-in (x64 and x86 under Wine, native ARM64 under qemu + arm64 Wine), with the
//! planted faults. Under CI=true the xtask itself fails when a row it should run cannot
//! (`--require-all`); outside CI each missing piece is one line.

mod support;

use std::{path::PathBuf, sync::OnceLock};

use support::*;

/// One checkout copy whose packages `pools` built, and what the full run printed.
struct Run {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    success: bool,
    table: String,
    log: String,
}

fn full_run() -> Option<&'static Run> {
    static RUN: OnceLock<Option<Run>> = OnceLock::new();
    RUN.get_or_init(|| {
        if !cfg!(all(target_os = "linux", target_arch = "x86_64")) {
            missing(
                "an x86_64 Linux machine (the stand-in rows run under Wine and qemu there)",
                "run these tests on x86_64 Linux; Windows runs `cargo xtask pools` itself",
            );
            return None;
        }
        let (tmp, dir) = copy_checkout("archway");
        if !toolchain_ready(&dir) {
            return None;
        }
        let out = xtask(&dir, &["pools"]);
        Some(Run { _tmp: tmp, dir, success: out.status.success(), table: stdout(&out), log: stderr(&out) })
    })
    .as_ref()
}

/// The table line of `row` (exactly that row, not its fault lines).
fn line<'a>(run: &'a Run, row: &str) -> &'a str {
    run.table
        .lines()
        .find(|l| l.split('|').next().map(str::trim) == Some(row))
        .unwrap_or_else(|| panic!("no line for {row}:\n{}", run.table))
}

fn result(line: &str) -> &str {
    line.rsplit('|').next().unwrap_or_default().trim()
}

/// A row that passed, or (outside CI) a row whose prerequisite is missing, said in one line.
fn passed_or_missing(run: &Run, row: &str) -> bool {
    let l = line(run, row);
    match result(l) {
        "passed" => true,
        r if r.starts_with("NOT RUN (missing") => {
            missing(&format!("what the {row} pool row needs"), &detail(run, row));
            false
        }
        other => panic!("{row}: {other}\n{}\n{}", run.table, run.log),
    }
}

/// The explanation the table gives under a row that did not pass.
fn detail(run: &Run, row: &str) -> String {
    let head = format!("\n{row}: ");
    run.table.split(&head).nth(1).map(|rest| rest.lines().take(3).collect::<Vec<_>>().join(" ")).unwrap_or_default()
}

#[test]
#[cfg_attr(windows, ignore = "the Windows CI jobs run `cargo xtask pools` (stand-in and real IIS) as workflow steps")]
fn every_linux_row_runs_from_the_installed_package_or_the_run_fails() {
    let Some(run) = full_run() else { return };
    assert!(run.success || !in_ci(), "cargo xtask pools failed:\n{}\n{}", run.table, run.log);
    if passed_or_missing(run, "x64") {
        let l = line(run, "x64");
        assert!(l.contains(r"C:\Program Files\Archway\archway.dll") && l.contains("| 25 "), "{l}");
    }
    match result(line(run, "x86-on-x64")) {
        "passed" => assert!(line(run, "x86-on-x64").contains(r"C:\Program Files (x86)\Archway\archway.dll")),
        r if r.starts_with("NOT RUN (best-effort") => {
            assert_ne!(
                std::env::var("ARCHWAY_WINE32").as_deref(),
                Ok("1"),
                "ARCHWAY_WINE32=1 but the x86 row did not run"
            );
            eprintln!("note: the x86 pool row was not run: 32-bit Wine is not installed (best effort)");
        }
        other => panic!("x86-on-x64: {other}\n{}", run.table),
    }
    // The native ARM64 pool, behind the Arm64X forwarder: the native view's target serves.
    if passed_or_missing(run, "arm64") {
        assert!(line(run, "arm64").contains(r"C:\Program Files\Archway\archway_arm64.dll"), "{}", run.table);
    }
    for row in ["x64-on-arm64", "x86-on-arm64", "x86-on-arm64-noemu"] {
        assert_eq!(result(line(run, row)), "runs elsewhere", "{}", run.table);
        assert!(detail(run, row).contains("windows-11-arm"), "{}", run.table);
    }
}

#[test]
#[cfg_attr(windows, ignore = "the Windows CI jobs run `cargo xtask pools` (stand-in and real IIS) as workflow steps")]
fn each_planted_fault_is_reported_by_name() {
    let Some(run) = full_run() else { return };
    let faults: Vec<&str> = run.table.lines().filter(|l| l.contains(" · fault: ")).collect();
    if faults.is_empty() && !passed_or_missing(run, "x64") {
        return;
    }
    for fault in ["wrong-architecture module (193)", "missing handler (126)", "broken applicationHost.config"] {
        let l = faults
            .iter()
            .find(|l| l.contains(fault))
            .unwrap_or_else(|| panic!("no row for the fault {fault}:\n{}", run.table));
        assert_eq!(result(l), "passed", "{fault}:\n{}", run.table);
    }
}

/// The checks catch a worker of the wrong architecture: started as x86 for the x64 pool (as a
/// WAS that ignored enable32BitAppOnWin64=false would), the row fails naming the machine.
#[test]
#[cfg_attr(windows, ignore = "the Windows CI jobs run `cargo xtask pools` (stand-in and real IIS) as workflow steps")]
fn a_worker_started_against_the_was_rule_fails_its_row() {
    let Some(run) = full_run() else { return };
    if !passed_or_missing(run, "x64") {
        return;
    }
    let dist = run.dir.join("target/dist");
    let out = xtask(
        &run.dir,
        &["pools", "--row", "x64", "--worker", "x64=x86", "--no-faults", "--packages", dist.to_str().unwrap()],
    );
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(!out.status.success(), "{text}");
    if text.contains("NOT RUN (best-effort") {
        return; // no 32-bit Wine to start the x86 worker with
    }
    assert!(text.contains(r#"process.machine: "x86" (expected "x64")"#), "{text}");
    assert!(text.contains(r"the worker loaded C:\Program Files (x86)\Archway\archway.dll"), "{text}");
}

#[test]
fn a_row_that_does_not_exist_is_named() {
    let out = xtask(&repo_root(), &["pools", "--row", "nope", "--packages", "."]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no pool row `nope` in matrix.toml; known: x64, x86-on-x64, arm64"),
        "{}",
        stderr(&out)
    );
}
