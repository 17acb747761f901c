//! What the integration tests share: copies of the checkout, running the xtask binary in them,
//! the one runner every test's child process goes through, and prerequisites that fail under
//! CI=true and skip (with one line saying what is missing and how to get it) elsewhere. `worker`
//! drives the worker stand-in (`worker.rs`, `shims.rs`).
//!
//! The runner is std's `Command` plus [`output_within`] (a deadline, the command line recorded,
//! [`run_ok`] printing the command and its output on failure), not `xshell`: its commands carry
//! no deadline, and a hung Wine or tool must fail a test, not stall it (the README's "Processes").

#![allow(dead_code)]

pub mod platform;
pub mod worker;

use std::{
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    sync::{OnceLock, mpsc},
    time::Duration,
};

/// How long a test's child may run: a build of every architecture under a busy CI machine fits
/// in it; a hung Wine or tool does not.
pub const DEADLINE: Duration = Duration::from_secs(30 * 60);

/// `.output()` with [`DEADLINE`], for a command built in place.
pub trait Deadline {
    fn output_within_deadline(&mut self) -> std::io::Result<Output>;
}

impl Deadline for Command {
    fn output_within_deadline(&mut self) -> std::io::Result<Output> {
        Ok(output_within(self, DEADLINE))
    }
}

/// `cmd.output()` with a deadline: the command line is printed first (the test harness shows a
/// failed test's output, so every command it ran is on record); past `limit` the child and its
/// process group (Unix; its tree on Windows) are killed and the test fails naming the command
/// and the limit.
pub fn output_within(cmd: &mut Command, limit: Duration) -> Output {
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(cmd, 0);
    let shown = format!("{cmd:?}");
    eprintln!("test runs: {shown}");
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {shown}: {e}"));
    let pid = child.id();
    let (done, outcome) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    match outcome.recv_timeout(limit) {
        Ok(out) => out.unwrap_or_else(|e| panic!("waiting for {shown}: {e}")),
        Err(_) => {
            #[cfg(unix)]
            // SAFETY: kill(2) on the process group the child leads (`process_group(0)` above).
            unsafe {
                libc::kill(-(pid as libc::pid_t), libc::SIGKILL);
            }
            #[cfg(windows)]
            let _ = Command::new("taskkill").args(["/F", "/T", "/PID", &pid.to_string()]).output();
            panic!("command timed out after {} s: {shown} (killed with its process group)", limit.as_secs());
        }
    }
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// True when a missing prerequisite must fail the test (CI sets CI=true).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// A missing prerequisite: panics under CI, else prints one line and returns (the caller
/// returns too).
pub fn missing(what: &str, how: &str) {
    if in_ci() {
        panic!("prerequisite missing under CI=true: {what}; {how}");
    }
    eprintln!("skipped: {what} is missing; {how}");
}

/// A copy of the checkout's files (what git tracks plus untracked, unignored files) in a new
/// temporary folder, as `<tmp>/<name>`.
pub fn copy_checkout(name: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::Builder::new().prefix("archway-test-").tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let dest = tmp.path().join(name);
    let root = repo_root();
    let out = output_within(
        Command::new("git").args(["ls-files", "-z", "--cached", "--others", "--exclude-standard"]).current_dir(&root),
        Duration::from_secs(120),
    );
    assert!(out.status.success(), "git ls-files failed");
    for rel in out.stdout.split(|b| *b == 0).filter(|s| !s.is_empty()) {
        let rel = Path::new(std::str::from_utf8(rel).unwrap());
        let src = root.join(rel);
        if !src.is_file() {
            continue; // deleted in the working tree
        }
        let to = dest.join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&src, &to).unwrap();
    }
    (tmp, dest)
}

/// [`output_within`] with [`DEADLINE`], asserting success: a failure panics with the command
/// line, its exit status, stdout and stderr.
pub fn run_ok(cmd: &mut Command) -> Output {
    run_ok_within(cmd, DEADLINE)
}

/// [`run_ok`] with a shorter deadline, for a tool that answers in seconds.
pub fn run_ok_within(cmd: &mut Command, limit: Duration) -> Output {
    let out = output_within(cmd, limit);
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n--- stdout\n{}--- stderr\n{}",
        out.status,
        stdout(&out),
        stderr(&out)
    );
    out
}

/// The xtask binary in `dir`, not started yet (its own `target/` there, whatever
/// CARGO_TARGET_DIR says); add variables and run it with [`output_within`] or [`run_ok`].
pub fn xtask_cmd(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.args(args).current_dir(dir).env_remove("CARGO_TARGET_DIR").env("CARGO_TERM_COLOR", "never");
    cmd
}

/// Runs the xtask binary in `dir` (see [`xtask_cmd`]) within [`DEADLINE`].
pub fn xtask(dir: &Path, args: &[&str]) -> Output {
    output_within(&mut xtask_cmd(dir, args), DEADLINE)
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether this machine can build every architecture; if not, reports the prerequisite.
pub fn toolchain_ready(dir: &Path) -> bool {
    let doctor = xtask(dir, &["doctor"]);
    if doctor.status.success() {
        return true;
    }
    missing(
        &format!("a toolchain for every architecture ({})", stderr(&doctor).trim()),
        "install clang-19, lld-19 and llvm-19 and run `cargo xtask toolchain install`",
    );
    false
}

/// `cargo xtask build` in `dir`, asserting success.
pub fn build(dir: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["build", "--no-provision"];
    args.extend_from_slice(extra);
    let out = xtask(dir, &args);
    assert!(out.status.success(), "build failed in {}:\n{}", dir.display(), stderr(&out));
    out
}

pub fn bin_dir(dir: &Path) -> PathBuf {
    dir.join("target/archway/release/bin")
}

/// A copy of the checkout built once per test binary.
pub type SharedBuild = OnceLock<Option<(tempfile::TempDir, PathBuf)>>;

/// The checkout copy in `cell`, built with `extra` arguments on first use; None (after
/// reporting the missing prerequisite) when this machine cannot build.
pub fn built_once(cell: &'static SharedBuild, extra: &[&str]) -> Option<&'static Path> {
    cell.get_or_init(|| {
        let (tmp, dir) = copy_checkout("archway");
        if !toolchain_ready(&dir) {
            return None;
        }
        build(&dir, extra);
        Some((tmp, dir))
    })
    .as_ref()
    .map(|(_, dir)| dir.as_path())
}
