//! The built shims loaded for real, by the worker stand-in (`tests/worker`, which plays
//! w3wp.exe): each runnable architecture's `archway_<arch>.dll`, named by full path as a global
//! module, serves an HTTP request through the diagnostics handler it loads from its own folder;
//! a handler that cannot be loaded, or a bad `system.webServer/archway` handler attribute, answers
//! 500 (generic, or naming the file and the error, or the attribute, with
//! ARCHWAY_DETAILED_ERRORS=1); on Windows on ARM64 the Arm64X forwarder `archway.dll` sends each
//! process to its own build.
//!
//! On Linux the workers run under Wine: x64 always; x86 needs 32-bit Wine (`wine32`, i386
//! multiarch), which Debian mirrors do not always serve, so it is best effort and required only
//! when ARCHWAY_WINE32=1 (`.ci/run` sets it when the install worked). On Windows they run
//! directly: ARCHWAY_RUN_NATIVELY lists the architectures the machine can execute (the
//! windows-11-arm job runs x64, and ARM64EC inside an x64 process, under emulation), and
//! ARCHWAY_NATIVE_MACHINE the machine the diagnostics must report as native.

mod support;

use std::{
    io::BufReader,
    path::{Path, PathBuf},
    sync::OnceLock,
};

use serde_json::Value;
use support::{worker::*, *};

/// The runnable architectures built once in a copy of the checkout (on an ARM64 machine that
/// includes arm64 and x64, and so the Arm64X forwarders).
fn built() -> Option<PathBuf> {
    static BUILT: SharedBuild = OnceLock::new();
    built_once(&BUILT, &["--arch", &runnable().join(",")]).map(bin_dir)
}

/// A worker of `arch` from `bin` whose one global module is `image` (a full path on this
/// machine), with `env` added to its environment.
fn serve(launcher: &Launcher, bin: &Path, arch: &str, pool: &str, image: &Path, env: &[(&str, &str)]) -> (tempfile::TempDir, Worker) {
    start_with_config(launcher, bin, arch, pool, &config(pool, &windows_path(image), "127.0.0.1:0:"), env)
}

/// One GET on a new connection, then the worker stopped: the answer and the worker's output.
fn one_request(worker: Worker, path: &str) -> (Response, Ended) {
    let mut stream = worker.connect();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let response = exchange(&mut stream, &mut reader, &get(path));
    drop((stream, reader));
    let ended = worker.stop();
    assert_eq!(ended.code, Some(0), "the worker's exit after stdin EOF\n{}{}", ended.stdout, ended.stderr);
    (response, ended)
}

/// The product version the build stamps (the workspace version, ARCHWAY_BUILD_NUMBER fourth).
fn product_version() -> String {
    let build = std::env::var("ARCHWAY_BUILD_NUMBER").unwrap_or_else(|_| "0".to_string());
    format!("{}.{build}", env!("CARGO_PKG_VERSION"))
}

/// What a request for `url` in pool `pool`, served by `arch` binaries in `bin`, must answer.
fn check_served_by(arch: &str, bin: &Path, pool: &str, url: &str, r: &Response, ended: &Ended) {
    let log = format!("{}{}{}", r.text(), ended.stdout, ended.stderr);
    let process = match arch {
        "x86" => "x86",
        "arm64" => "arm64",
        _ => "x64", // x64 and ARM64EC code run in an x64 process
    };
    assert_eq!(r.status, 200, "{arch}: {log}");
    assert_eq!(r.header("Content-Type"), Some("application/json"), "{arch}: {log}");
    // RegisterModule succeeded: IIS logs event 2293 otherwise and answers 503.
    assert!(!ended.stderr.contains("event 22"), "{arch}: {log}");
    let body: Value = serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("{arch}: not JSON ({e}): {log}"));
    assert_eq!(body["product"], "archway", "{body}");
    assert_eq!(body["version"], product_version().as_str(), "{body}");
    assert_eq!(body["abi_version"], 1, "{body}");
    assert_eq!(body["shim"]["arch"], arch, "{body}");
    assert_eq!(body["handler"]["arch"], arch, "{body}");
    assert_eq!(body["handler"]["name"], "diagnostics", "{body}");
    let shim = body["shim"]["path"].as_str().unwrap_or_default();
    let handler = body["handler"]["path"].as_str().unwrap_or_default();
    assert!(shim.ends_with(&format!("\\archway_{arch}.dll")), "{shim}");
    assert!(handler.ends_with(&format!("\\archway_diagnostics_{arch}.dll")), "{handler}");
    // The handler comes from the shim's folder.
    assert_eq!(shim.rsplit_once('\\').map(|(d, _)| d), handler.rsplit_once('\\').map(|(d, _)| d), "{body}");
    if !cfg!(windows) {
        // Under Wine the paths are exactly the build folder's (Windows may normalize them).
        assert_eq!(shim, windows_path(&bin.join(format!("archway_{arch}.dll"))), "{body}");
    }
    let modules: Vec<&str> = body["modules"].as_array().map(|m| m.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    assert!(modules.contains(&shim) && modules.contains(&handler), "{modules:?}");
    let p = &body["process"];
    assert_eq!(p["machine"], process, "{body}");
    assert_eq!(p["wow64"], arch == "x86", "{body}");
    let native = std::env::var("ARCHWAY_NATIVE_MACHINE").unwrap_or_else(|_| "x64".to_string());
    assert_eq!(p["native_machine"], native.as_str(), "{body}");
    // Emulation is x86 or x64 code on an ARM64 machine; WOW64 on x64 is not.
    assert_eq!(p["emulated"], native == "arm64" && process != "arm64", "{body}");
    assert_eq!(body["request"]["method"], "GET", "{body}");
    assert_eq!(body["request"]["url"], url, "{body}");
    assert_eq!(body["request"]["app_pool"], pool, "{body}");
}

#[test]
fn each_runnable_shim_serves_a_request_through_its_diagnostics_handler() {
    let Some(launcher) = launcher() else { return };
    let Some(bin) = built() else { return };
    for arch in runnable() {
        let pool = format!("shim-{arch}");
        let image = bin.join(format!("archway_{arch}.dll"));
        let (_dir, worker) = serve(launcher, &bin, &arch, &pool, &image, &[]);
        let (r, ended) = one_request(worker, "/shims");
        let loaded = format!("archway_worker: module archway loaded from {}\n", windows_path(&image));
        assert!(ended.stdout.contains(&loaded), "{arch}: {}", ended.stdout);
        check_served_by(&arch, &bin, &pool, "/shims", &r, &ended);
    }
    if !runnable().iter().any(|a| a == "x86") {
        eprintln!("note: x86 not run here (best effort under Wine: needs wine32 and ARCHWAY_WINE32=1)");
    }
}

/// A folder holding the x64 shim and no handler.
fn lonely_shim(bin: &Path) -> (tempfile::TempDir, PathBuf) {
    let lonely = tempfile::Builder::new().prefix("shim-alone-").tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let shim = lonely.path().join("archway_x64.dll");
    std::fs::copy(bin.join("archway_x64.dll"), &shim).unwrap();
    (lonely, shim)
}

/// The 500 a shim answers when its handler cannot be used, with `env` for the worker and `web`
/// (XML) inside applicationHost.config's `<system.webServer>` (the archway sections declared).
fn handler_failure(launcher: &Launcher, bin: &Path, image: &Path, env: &[(&str, &str)], web: &str) -> String {
    let text = with_sections(&config("nohandler", &windows_path(image), "127.0.0.1:0:"), web, "");
    let (_dir, worker) = start_with_config(launcher, bin, "x64", "nohandler", &text, env);
    let (r, ended) = one_request(worker, "/");
    assert_eq!(r.status, 500, "{env:?}: {}\n{}", r.text(), ended.stderr);
    assert_eq!(r.header("Content-Type"), Some("text/plain; charset=utf-8"), "{env:?}: {:?}", r.headers);
    r.text()
}

#[test]
fn a_missing_handler_answers_500_naming_the_file_and_the_error() {
    let Some(launcher) = launcher() else { return };
    let Some(bin) = built() else { return };
    let (_lonely, shim) = lonely_shim(&bin);
    let body = handler_failure(launcher, &bin, &shim, &[("ARCHWAY_DETAILED_ERRORS", "1")], "");
    assert!(body.contains("archway_diagnostics_x64.dll") && body.contains("126"), "{body}");
}

#[test]
fn a_bad_handler_name_answers_500_naming_it() {
    let Some(launcher) = launcher() else { return };
    let Some(bin) = built() else { return };
    let bad = "    <archway handler=\"Bad!\" />\n";
    let body = handler_failure(launcher, &bin, &bin.join("archway_x64.dll"), &[("ARCHWAY_DETAILED_ERRORS", "1")], bad);
    assert!(body.contains("\"Bad!\"") && body.contains("attribute \"handler\"") && body.contains("system.webServer/archway"), "{body}");
}

#[test]
fn without_detailed_errors_a_500_body_names_no_path_and_no_error() {
    // Issue 9: the handler's path and Win32 error reach clients only with ARCHWAY_DETAILED_ERRORS.
    let Some(launcher) = launcher() else { return };
    let Some(bin) = built() else { return };
    let (_lonely, shim) = lonely_shim(&bin);
    let bad = "    <archway handler=\"Bad!\" />\n";
    for (env, web) in [(&[][..], ""), (&[][..], bad), (&[("ARCHWAY_DETAILED_ERRORS", "0")][..], "")] {
        let body = handler_failure(launcher, &bin, &shim, env, web);
        assert!(body.contains("details are in the server's debug log"), "{env:?}: {body}");
        assert!(!body.contains("archway_diagnostics") && !body.contains("126") && !body.contains("Bad!"), "{env:?}: {body}");
    }
}

/// One path, two machines (iis.md §2.3): on Windows on ARM64 the Arm64X forwarder `archway.dll`
/// sends a native ARM64 worker to `archway_arm64.dll` and an emulated x64 worker to
/// `archway_x64.dll`. Only an ARM64 Windows loader applies the ARM64X relocations (Wine does
/// so only on ARM64 hosts, arm64x-forwarder.md §9), so the windows-11-arm job runs this. The
/// worker loads the module with LOAD_LIBRARY_SEARCH_DLL_LOAD_DIR, which Windows honours for the
/// forwarder's targets, so unlike the Wine pools (`docs/pools.md`) nothing goes on a search path.
#[test]
fn the_arm64x_forwarder_sends_each_process_to_its_own_build() {
    if std::env::var("ARCHWAY_NATIVE_MACHINE").as_deref() != Ok("arm64") {
        eprintln!("note: the forwarder is loaded for real only on Windows on ARM64 (the windows-11-arm CI job)");
        return;
    }
    let Some(launcher) = launcher() else { return };
    let Some(bin) = built() else { return };
    let forwarder = bin.join("archway.dll");
    assert!(forwarder.is_file(), "{} was not written (ARCHWAY_RUN_NATIVELY must list arm64 and x64)", forwarder.display());
    for arch in ["arm64", "x64"] {
        let pool = format!("forwarder-{arch}");
        let (_dir, worker) = serve(launcher, &bin, arch, &pool, &forwarder, &[]);
        let (r, ended) = one_request(worker, "/forwarder");
        let loaded = format!("archway_worker: module archway loaded from {}\n", windows_path(&forwarder));
        assert!(ended.stdout.contains(&loaded), "{arch} through archway.dll: {}", ended.stdout);
        check_served_by(arch, &bin, &pool, "/forwarder", &r, &ended);
    }
}
