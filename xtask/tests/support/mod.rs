//! What the integration tests share: copies of the checkout, running the xtask binary in them,
//! and prerequisites that fail under CI=true and skip (with one line saying what is missing
//! and how to get it) elsewhere. `worker` drives the worker stand-in (`worker.rs`, `shims.rs`).

#![allow(dead_code)]

pub mod worker;

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
    sync::OnceLock,
};

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
    let out = Command::new("git")
        .args(["ls-files", "-z", "--cached", "--others", "--exclude-standard"])
        .current_dir(&root)
        .output()
        .expect("git runs");
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

/// Runs the xtask binary in `dir` (its own `target/` there, whatever CARGO_TARGET_DIR says).
pub fn xtask(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .current_dir(dir)
        .env_remove("CARGO_TARGET_DIR")
        .env("CARGO_TERM_COLOR", "never")
        .output()
        .expect("the xtask binary runs")
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
