//! The built binaries loaded for real, under Wine: the load-test program stands in for IIS,
//! loads the shim from its folder, calls RegisterModule and runs one request, which the shim
//! hands to the diagnostics handler it loads from its own folder.
//!
//! x64 always runs. x86 needs 32-bit Wine (`wine32`, i386 multiarch), which Debian mirrors do
//! not always serve: it is best effort, required only when ARCHWAY_WINE32=1 (which `.ci/run`
//! sets when the install worked).

mod support;

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::OnceLock,
};

use serde_json::Value;
use support::*;

fn wine() -> Option<PathBuf> {
    let found = std::env::split_paths(&std::env::var_os("PATH")?).map(|d| d.join("wine")).find(|p| p.is_file());
    if found.is_none() {
        missing("wine (64-bit)", "apt-get install wine64");
    }
    found
}

/// x86 and x64 built once in a copy of the checkout.
fn built() -> Option<&'static Path> {
    static BUILT: OnceLock<Option<(tempfile::TempDir, PathBuf)>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let (tmp, dir) = copy_checkout("archway");
            if !toolchain_ready(&dir) {
                return None;
            }
            build(&dir, &["--arch", "x86,x64"]);
            Some((tmp, dir))
        })
        .as_ref()
        .map(|(_, d)| bin_dir(d).leak() as &Path)
}

/// Runs `archway_loadtest_<arch>.exe` from `bin` and returns its exit code and JSON line.
fn load_test(wine: &Path, bin: &Path, arch: &str, env: &[(&str, &str)]) -> (i32, Value, String) {
    let prefix = Path::new(env!("CARGO_TARGET_TMPDIR")).join("wineprefix");
    let mut cmd = Command::new(wine);
    cmd.arg(bin.join(format!("archway_loadtest_{arch}.exe")))
        .current_dir(bin)
        .env("WINEPREFIX", &prefix)
        .env("WINEDEBUG", "-all")
        .env("WINEDLLOVERRIDES", "mscoree,mshtml=");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("wine runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = text.lines().rev().find(|l| l.starts_with('{')).unwrap_or("null").to_string();
    let json: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), json, format!("{text}{}", String::from_utf8_lossy(&out.stderr)))
}

fn check_served_by(arch: &str, process: &str, wow64: bool, json: &Value, log: &str) {
    assert_eq!(json["status"], 200, "{log}");
    assert_eq!(json["content_type"], "application/json", "{log}");
    assert_eq!(json["register_hr"], "0x00000000", "{log}");
    let body = &json["body"];
    assert_eq!(body["product"], "archway");
    assert_eq!(body["version"], "0.1.0.0");
    assert_eq!(body["abi_version"], 1);
    assert_eq!(body["shim"]["arch"], arch);
    assert_eq!(body["handler"]["arch"], arch);
    assert_eq!(body["handler"]["name"], "diagnostics");
    let shim = body["shim"]["path"].as_str().unwrap();
    let handler = body["handler"]["path"].as_str().unwrap();
    assert!(shim.ends_with(&format!("\\archway_{arch}.dll")), "{shim}");
    assert!(handler.ends_with(&format!("\\archway_diagnostics_{arch}.dll")), "{handler}");
    let modules: Vec<&str> = body["modules"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(modules.contains(&shim) && modules.contains(&handler), "{modules:?}");
    assert_eq!(body["process"]["machine"], process, "{body}");
    assert_eq!(body["process"]["wow64"], wow64, "{body}");
    assert_eq!(body["process"]["emulated"], false, "{body}");
    assert_eq!(body["request"]["method"], "GET");
    assert_eq!(body["request"]["url"], "/loadtest");
    assert_eq!(body["request"]["app_pool"], "loadtest");
}

#[test]
fn x64_shim_serves_a_request_through_the_diagnostics_handler() {
    let Some(wine) = wine() else { return };
    let Some(bin) = built() else { return };
    let (code, json, log) = load_test(&wine, bin, "x64", &[]);
    assert_eq!(code, 0, "{log}");
    check_served_by("x64", "x64", false, &json, &log);
}

#[test]
fn a_missing_handler_answers_500_naming_the_file_and_the_error() {
    let Some(wine) = wine() else { return };
    let Some(bin) = built() else { return };
    let lonely = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    for name in ["archway_x64.dll", "archway_loadtest_x64.exe"] {
        std::fs::copy(bin.join(name), lonely.path().join(name)).unwrap();
    }
    let (code, json, log) = load_test(&wine, lonely.path(), "x64", &[]);
    assert_eq!(code, 0, "{log}");
    assert_eq!(json["status"], 500, "{log}");
    let body = json["body"].as_str().unwrap_or_default();
    assert!(body.contains("archway_diagnostics_x64.dll") && body.contains("126"), "{body}");
}

#[test]
fn a_bad_handler_name_answers_500_naming_it() {
    let Some(wine) = wine() else { return };
    let Some(bin) = built() else { return };
    let (code, json, log) = load_test(&wine, bin, "x64", &[("ARCHWAY_HANDLER", "Bad!")]);
    assert_eq!(code, 0, "{log}");
    assert_eq!(json["status"], 500, "{log}");
    assert!(json["body"].as_str().unwrap_or_default().contains("Bad!"), "{log}");
}

#[test]
fn x86_shim_serves_a_request_under_wow64() {
    if std::env::var("ARCHWAY_WINE32").as_deref() != Ok("1") {
        eprintln!("skipped: x86 under Wine is best effort and needs 32-bit Wine (dpkg --add-architecture i386; apt-get install wine32:i386; then ARCHWAY_WINE32=1)");
        return;
    }
    let Some(wine) = wine() else { return };
    let Some(bin) = built() else { return };
    let (code, json, log) = load_test(&wine, bin, "x86", &[]);
    assert_eq!(code, 0, "{log}");
    check_served_by("x86", "x86", true, &json, &log);
}
