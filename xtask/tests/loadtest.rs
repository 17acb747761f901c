//! The built binaries loaded for real: the load-test program stands in for IIS, loads the shim
//! from its folder, calls RegisterModule and runs one request, which the shim hands to the
//! diagnostics handler it loads from its own folder.
//!
//! On Linux the programs run under Wine: x64 always; x86 needs 32-bit Wine (`wine32`, i386
//! multiarch), which Debian mirrors do not always serve, so it is best effort and required only
//! when ARCHWAY_WINE32=1 (`.ci/run` sets it when the install worked). On Windows they run
//! directly: ARCHWAY_RUN_NATIVELY lists the architectures the machine can execute (the
//! windows-11-arm job runs x64 and ARM64EC under emulation), and ARCHWAY_NATIVE_MACHINE the
//! machine the diagnostics must report as native.

mod support;

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::OnceLock,
};

use serde_json::Value;
use support::*;

/// How a Windows program is started here: directly on Windows, through Wine elsewhere.
enum Launcher {
    Direct,
    Wine(PathBuf),
}

fn launcher() -> Option<Launcher> {
    if cfg!(windows) {
        return Some(Launcher::Direct);
    }
    let found = std::env::split_paths(&std::env::var_os("PATH")?).map(|d| d.join("wine")).find(|p| p.is_file());
    let Some(wine) = found else {
        missing("wine (64-bit)", "apt-get install wine64");
        return None;
    };
    // Tests start Wine in parallel; a prefix being created meanwhile makes the others fail, so
    // it is created once, and waited for, before any test runs a program.
    static PREFIX_READY: OnceLock<()> = OnceLock::new();
    PREFIX_READY.get_or_init(|| {
        let status = wine_command(&wine).arg("wineboot").arg("--init").status().expect("wine runs");
        assert!(status.success(), "wineboot --init failed");
        let server = wine.with_file_name("wineserver");
        let _ = Command::new(if server.is_file() { server } else { "wineserver".into() }).arg("-w").env("WINEPREFIX", wine_prefix()).status();
    });
    Some(Launcher::Wine(wine))
}

fn wine_prefix() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("wineprefix")
}

fn wine_command(wine: &Path) -> Command {
    let mut cmd = Command::new(wine);
    cmd.env("WINEPREFIX", wine_prefix()).env("WINEDEBUG", "-all").env("WINEDLLOVERRIDES", "mscoree,mshtml=");
    cmd
}

/// The architectures whose programs this machine runs: ARCHWAY_RUN_NATIVELY on Windows
/// (default x86,x64), x64 under Wine (x86 too with ARCHWAY_WINE32=1).
fn runnable() -> Vec<String> {
    if let Ok(list) = std::env::var("ARCHWAY_RUN_NATIVELY") {
        return list.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
    }
    let mut archs = vec!["x64".to_string()];
    if cfg!(windows) || std::env::var("ARCHWAY_WINE32").as_deref() == Ok("1") {
        archs.insert(0, "x86".to_string());
    }
    archs
}

/// The runnable architectures built once in a copy of the checkout.
fn built() -> Option<PathBuf> {
    static BUILT: SharedBuild = OnceLock::new();
    built_once(&BUILT, &["--arch", &runnable().join(",")]).map(bin_dir)
}

/// Runs `archway_loadtest_<arch>.exe` from `bin` and returns its exit code and JSON line.
fn load_test(launcher: &Launcher, bin: &Path, arch: &str, env: &[(&str, &str)]) -> (i32, Value, String) {
    load_test_of(launcher, bin, arch, None, env)
}

/// The same, loading `shim` (a file name in `bin`) instead of the program's own-arch shim.
fn load_test_of(launcher: &Launcher, bin: &Path, arch: &str, shim: Option<&str>, env: &[(&str, &str)]) -> (i32, Value, String) {
    let exe = bin.join(format!("archway_loadtest_{arch}.exe"));
    let mut cmd = match launcher {
        Launcher::Direct => Command::new(&exe),
        Launcher::Wine(wine) => {
            let mut cmd = wine_command(wine);
            cmd.arg(&exe);
            cmd
        }
    };
    cmd.args(shim);
    cmd.current_dir(bin);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("wine runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = text.lines().rev().find(|l| l.starts_with('{')).unwrap_or("null").to_string();
    let json: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), json, format!("{text}{}", String::from_utf8_lossy(&out.stderr)))
}

/// What a request served by `arch` binaries must report.
fn check_served_by(arch: &str, json: &Value, log: &str) {
    let process = match arch {
        "x86" => "x86",
        "arm64" => "arm64",
        _ => "x64", // x64 and ARM64EC code run in an x64 process
    };
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
    let p = &body["process"];
    assert_eq!(p["machine"], process, "{body}");
    assert_eq!(p["wow64"], arch == "x86", "{body}");
    let native = std::env::var("ARCHWAY_NATIVE_MACHINE").unwrap_or_else(|_| "x64".to_string());
    assert_eq!(p["native_machine"], native.as_str(), "{body}");
    // Emulation is x86 or x64 code on an ARM64 machine; WOW64 on x64 is not.
    assert_eq!(p["emulated"], native == "arm64" && process != "arm64", "{body}");
    assert_eq!(body["request"]["method"], "GET");
    assert_eq!(body["request"]["url"], "/loadtest");
    assert_eq!(body["request"]["app_pool"], "loadtest");
}

#[test]
fn each_runnable_shim_serves_a_request_through_its_diagnostics_handler() {
    let Some(launcher) = launcher() else { return };
    let Some(bin) = built() else { return };
    let bin = bin.as_path();
    for arch in runnable() {
        let (code, json, log) = load_test(&launcher, bin, &arch, &[]);
        assert_eq!(code, 0, "{arch}: {log}");
        check_served_by(&arch, &json, &log);
    }
    if !runnable().iter().any(|a| a == "x86") {
        eprintln!("note: x86 not run here (best effort under Wine: needs wine32 and ARCHWAY_WINE32=1)");
    }
}

#[test]
fn a_missing_handler_answers_500_naming_the_file_and_the_error() {
    let Some(launcher) = launcher() else { return };
    let Some(bin) = built() else { return };
    let bin = bin.as_path();
    let lonely = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    for name in ["archway_x64.dll", "archway_loadtest_x64.exe"] {
        std::fs::copy(bin.join(name), lonely.path().join(name)).unwrap();
    }
    let (code, json, log) = load_test(&launcher, lonely.path(), "x64", &[("ARCHWAY_DETAILED_ERRORS", "1")]);
    assert_eq!(code, 0, "{log}");
    assert_eq!(json["status"], 500, "{log}");
    let body = json["body"].as_str().unwrap_or_default();
    assert!(body.contains("archway_diagnostics_x64.dll") && body.contains("126"), "{body}");
}

#[test]
fn a_bad_handler_name_answers_500_naming_it() {
    let Some(launcher) = launcher() else { return };
    let Some(bin) = built() else { return };
    let bin = bin.as_path();
    let (code, json, log) = load_test(&launcher, bin, "x64", &[("ARCHWAY_HANDLER", "Bad!"), ("ARCHWAY_DETAILED_ERRORS", "1")]);
    assert_eq!(code, 0, "{log}");
    assert_eq!(json["status"], 500, "{log}");
    assert!(json["body"].as_str().unwrap_or_default().contains("Bad!"), "{log}");
}

#[test]
fn without_detailed_errors_a_500_body_names_no_path_and_no_error() {
    // Issue 9: the handler's path and Win32 error reach clients only with ARCHWAY_DETAILED_ERRORS.
    let Some(launcher) = launcher() else { return };
    let Some(bin) = built() else { return };
    let lonely = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    for name in ["archway_x64.dll", "archway_loadtest_x64.exe"] {
        std::fs::copy(bin.join(name), lonely.path().join(name)).unwrap();
    }
    for env in [&[][..], &[("ARCHWAY_HANDLER", "Bad!")][..], &[("ARCHWAY_DETAILED_ERRORS", "0")][..]] {
        let (code, json, log) = load_test(&launcher, lonely.path(), "x64", env);
        assert_eq!(code, 0, "{log}");
        assert_eq!(json["status"], 500, "{log}");
        let body = json["body"].as_str().unwrap_or_default();
        assert!(body.contains("details are in the server's debug log"), "{env:?}: {body}");
        assert!(!body.contains("archway_diagnostics") && !body.contains("126") && !body.contains("Bad!"), "{env:?}: {body}");
    }
}

/// One path, two machines (iis.md §2.3): on Windows on ARM64 the Arm64X forwarder `archway.dll`
/// sends a native ARM64 process to `archway_arm64.dll` and an emulated x64 process to
/// `archway_x64.dll`. Only an ARM64 Windows loader applies the ARM64X relocations (Wine does
/// so only on ARM64 hosts, arm64x-forwarder.md §9), so the windows-11-arm job runs this.
#[test]
fn the_arm64x_forwarder_sends_each_process_to_its_own_build() {
    if std::env::var("ARCHWAY_NATIVE_MACHINE").as_deref() != Ok("arm64") {
        eprintln!("note: the forwarder is loaded for real only on Windows on ARM64 (the windows-11-arm CI job)");
        return;
    }
    let Some(launcher) = launcher() else { return };
    let Some(bin) = built() else { return };
    for arch in ["arm64", "x64"] {
        let (code, json, log) = load_test_of(&launcher, &bin, arch, Some("archway.dll"), &[]);
        assert_eq!(code, 0, "{arch} through archway.dll: {log}");
        check_served_by(arch, &json, &log);
    }
}
