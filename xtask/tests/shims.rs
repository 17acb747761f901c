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
    io::{BufReader, Read, Write},
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
fn serve(
    launcher: &Launcher,
    bin: &Path,
    arch: &str,
    pool: &str,
    image: &Path,
    env: &[(&str, &str)],
) -> (tempfile::TempDir, Worker) {
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
    let modules: Vec<&str> =
        body["modules"].as_array().map(|m| m.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
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
    assert!(
        body.contains("\"Bad!\"")
            && body.contains("attribute \"handler\"")
            && body.contains("system.webServer/archway"),
        "{body}"
    );
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
        assert!(
            !body.contains("archway_diagnostics") && !body.contains("126") && !body.contains("Bad!"),
            "{env:?}: {body}"
        );
    }
}

/// One path, two machines (docs/iis.md §2.3): on Windows on ARM64 the Arm64X forwarder `archway.dll`
/// sends a native ARM64 worker to `archway_arm64.dll` and an emulated x64 worker to
/// `archway_x64.dll`. Only an ARM64 Windows loader applies the ARM64X relocations (Wine does
/// so only on ARM64 hosts, docs/arm64x-forwarder.md §9), so the windows-11-arm job runs this. The
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
    assert!(
        forwarder.is_file(),
        "{} was not written (ARCHWAY_RUN_NATIVELY must list arm64 and x64)",
        forwarder.display()
    );
    for arch in ["arm64", "x64"] {
        let pool = format!("forwarder-{arch}");
        let (_dir, worker) = serve(launcher, &bin, arch, &pool, &forwarder, &[]);
        let (r, ended) = one_request(worker, "/forwarder");
        let loaded = format!("archway_worker: module archway loaded from {}\n", windows_path(&forwarder));
        assert!(ended.stdout.contains(&loaded), "{arch} through archway.dll: {}", ended.stdout);
        check_served_by(arch, &bin, &pool, "/forwarder", &r, &ended);
    }
}

// ---------------------------------------------------------------------------------------------
// Handler ABI 1.1 through the x64 shim, with the test probe as the handler (`tests/probe`,
// src/handler.cpp), and the stand-in's configuration API (IAppHostAdminManager) behind it.

/// Folders for a site (`site_dir`) with the application `/app` (`app_dir`), and the
/// applicationHost.config text for them: the x64 shim as the global module, the archway
/// sections declared, `web` inside `<system.webServer>` and `root` inside `<configuration>`.
struct AppSite {
    dirs: tempfile::TempDir,
    text: String,
}

impl AppSite {
    fn new(bin: &Path, arch: &str, pool: &str, web: &str, root: &str) -> AppSite {
        let dirs = tempfile::Builder::new().prefix("appsite-").tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        std::fs::create_dir_all(dirs.path().join("site")).unwrap();
        std::fs::create_dir_all(dirs.path().join("app")).unwrap();
        let (site, app) = (windows_path(&dirs.path().join("site")), windows_path(&dirs.path().join("app")));
        let text = with_sections(
            &apphost_with_app(pool, &windows_path(&bin.join(format!("archway_{arch}.dll"))), &site, &app),
            web,
            root,
        );
        AppSite { dirs, text }
    }
    fn web_config(&self, folder: &str, body: &str) {
        std::fs::write(self.dirs.path().join(folder).join("web.config"), body).unwrap();
    }
}

const PROBE: &str = "    <archway handler=\"probe\" />\n";

/// GET `path` on a new connection.
fn fetch(worker: &Worker, path: &str) -> Response {
    let mut stream = worker.connect();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    exchange(&mut stream, &mut reader, &get(path))
}

#[test]
fn pending_requests_complete_from_another_thread_also_before_execute_returns() {
    let Some(launcher) = launcher() else { return };
    let Some(bin) = built() else { return };
    for arch in runnable() {
        pending_requests_on(launcher, &bin, &arch);
    }
}

fn pending_requests_on(launcher: &Launcher, bin: &Path, arch: &str) {
    let site = AppSite::new(bin, arch, "abi", PROBE, "");
    let (_dir, worker) = start_with_config(launcher, bin, arch, "abi", &site.text, &[]);
    let mut stream = worker.connect();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    // One keep-alive connection: each request must end cleanly for the next to be served.
    for (path, body) in
        [("/h/sync", "sync\n"), ("/h/pending", "pending\n"), ("/h/early", "early\n"), ("/h/pending", "pending\n")]
    {
        let r = exchange(&mut stream, &mut reader, &get(path));
        assert_eq!((r.status, r.text().as_str()), (200, body), "{arch} {path}\n{}", worker.stderr());
    }
    // No response at all from the handler: the shim answers 500 itself.
    let r = exchange(&mut stream, &mut reader, &get("/h/unknown"));
    assert_eq!(r.status, 500, "{}", r.text());
    drop((stream, reader));
    let ended = worker.stop();
    assert_eq!(ended.code, Some(0), "{}{}", ended.stdout, ended.stderr);
    // Shutdown: GL_APPLICATION_STOP for both applications reaches the handler (by APPL_MD_PATH),
    // then Terminate closes it.
    for line in [
        "archway_probe: stop_application /LM/W3SVC/7/ROOT\n",
        "archway_probe: stop_application /LM/W3SVC/7/ROOT/app\n",
        "archway_probe: handler close\n",
    ] {
        assert!(ended.stderr.contains(line), "missing {line:?} in\n{}", ended.stderr);
    }
    let stop = ended.stderr.find("stop_application").unwrap();
    assert!(ended.stderr[stop..].contains("handler close"), "stop_application before close:\n{}", ended.stderr);
}

#[test]
fn a_streamed_response_reaches_the_client_chunk_by_chunk() {
    let Some(launcher) = launcher() else { return };
    let Some(bin) = built() else { return };
    for arch in runnable() {
        streamed_on(launcher, &bin, &arch);
    }
}

fn streamed_on(launcher: &Launcher, bin: &Path, arch: &str) {
    let site = AppSite::new(bin, arch, "stream", PROBE, "");
    let (_dir, worker) = start_with_config(launcher, bin, arch, "stream", &site.text, &[]);
    let mut stream = worker.connect();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    stream.write_all(&get("/h/stream")).unwrap();
    assert_eq!(read_line(&mut reader), "HTTP/1.1 200 OK");
    let mut headers = Vec::new();
    loop {
        let line = read_line(&mut reader);
        if line.is_empty() {
            break;
        }
        headers.push(line);
    }
    assert!(headers.iter().any(|h| h == "Transfer-Encoding: chunked"), "{headers:?}");
    assert!(headers.iter().any(|h| h == "X-Probe: stream"), "{headers:?}");
    // The first chunk arrives while the handler waits: it writes the second only after the
    // /h/release request below, which this test sends only once it has read the first.
    let mut chunk = |size: &str, data: &str| {
        assert_eq!(read_line(&mut reader), size);
        let mut got = vec![0u8; data.len()];
        reader.read_exact(&mut got).unwrap();
        assert_eq!(String::from_utf8_lossy(&got), data);
        assert_eq!(read_line(&mut reader), "");
    };
    chunk("6", "first\n");
    let released = fetch(&worker, "/h/release");
    assert_eq!((released.status, released.text().as_str()), (200, "released\n"));
    chunk("7", "second\n");
    assert_eq!(read_line(&mut reader), "0");
    assert_eq!(read_line(&mut reader), "");
    // The connection is still usable: the stream ended cleanly.
    let r = exchange(&mut stream, &mut reader, &get("/h/sync"));
    assert_eq!(r.text(), "sync\n");

    // A handler that gives up mid-stream (complete with a failure): the connection is reset,
    // never ended with the last chunk as if the body were whole.
    let mut stream = worker.connect();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    stream.write_all(&get("/h/truncated")).unwrap();
    let mut all = Vec::new();
    let _ = reader.read_to_end(&mut all);
    let text = String::from_utf8_lossy(&all);
    assert!(text.contains("partial\n"), "{text}");
    assert!(!text.contains("\r\n0\r\n\r\n"), "a failed stream must not end with the last chunk:\n{text}");
    drop((stream, reader));
    let ended = worker.stop();
    assert_eq!(ended.code, Some(0), "{}{}", ended.stdout, ended.stderr);
}

#[test]
fn request_bodies_and_client_disconnects_reach_a_pending_handler() {
    let Some(launcher) = launcher() else { return };
    let Some(bin) = built() else { return };
    let site = AppSite::new(&bin, "x64", "body", PROBE, "");
    let (_dir, worker) = start_with_config(launcher, &bin, "x64", "body", &site.text, &[]);
    let body: Vec<u8> = (0..100_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let mut stream = worker.connect();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request =
        format!("POST /h/body HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
    request.extend_from_slice(&body);
    let r = exchange(&mut stream, &mut reader, &request);
    let mut expected = format!("body-length={}\nbody=", body.len()).into_bytes();
    expected.extend_from_slice(&body);
    assert!(r.body == expected, "{}", String::from_utf8_lossy(&r.body[..r.body.len().min(200)]));
    // Chunked, on the same connection.
    let r = exchange(
        &mut stream,
        &mut reader,
        b"POST /h/body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
    );
    assert_eq!(r.text(), "body-length=5\nbody=abcde");
    // The client goes away while the handler polls client_connected.
    let mut gone = worker.connect();
    gone.write_all(&get("/h/gone")).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    drop(gone);
    drop((stream, reader));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !worker.stderr().contains("archway_probe: client gone") && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let ended = worker.stop();
    assert!(ended.stderr.contains("archway_probe: client gone\n"), "{}", ended.stderr);
}

#[test]
fn configuration_merges_locations_and_web_configs_with_collections() {
    let Some(launcher) = launcher() else { return };
    let Some(bin) = built() else { return };
    let web = r#"    <archway handler="probe" />
    <httpPlatform processPath="root.exe" arguments="root">
      <environmentVariables>
        <environmentVariable name="A" value="1" />
        <environmentVariable name="B" value="2" />
      </environmentVariables>
    </httpPlatform>
"#;
    let root = r#"  <location path="site-cfg">
    <system.webServer>
      <httpPlatform arguments="location">
        <environmentVariables>
          <remove name="A" />
          <environmentVariable name="C" value="3" />
        </environmentVariables>
      </httpPlatform>
    </system.webServer>
  </location>
  <location path="site-cfg/app">
    <system.webServer>
      <httpPlatform startupTimeLimit="20" />
    </system.webServer>
  </location>
"#;
    for arch in runnable() {
        configuration_on(launcher, &bin, &arch, web, root);
    }
}

fn configuration_on(launcher: &Launcher, bin: &Path, arch: &str, web: &str, root: &str) {
    let site = AppSite::new(bin, arch, "cfg", web, root);
    site.web_config("site", "<configuration><system.webServer><httpPlatform requestTimeout=\"00:01:00\" /></system.webServer></configuration>");
    site.web_config(
        "app",
        r#"<?xml version="1.0"?>
<configuration>
  <system.webServer>
    <httpPlatform stdoutLogEnabled="true" arguments="app &amp; more">
      <environmentVariables>
        <clear />
        <environmentVariable name="D" value="4" />
      </environmentVariables>
    </httpPlatform>
  </system.webServer>
</configuration>
"#,
    );
    let (_dir, worker) = start_with_config(launcher, bin, arch, "cfg", &site.text, &[]);
    let r = fetch(&worker, "/h/config?system.webServer/httpPlatform");
    assert_eq!(
        r.text(),
        "|-|processPath=root.exe\n|-|arguments=location\n|-|requestTimeout=00:01:00\nenvironmentVariables|0|name=B\nenvironmentVariables|0|value=2\nenvironmentVariables|1|name=C\nenvironmentVariables|1|value=3\n",
        "{arch} site level\n{}",
        worker.stderr()
    );
    let r = fetch(&worker, "/app/h/config?system.webServer/httpPlatform");
    assert_eq!(
        r.text(),
        "|-|processPath=root.exe\n|-|arguments=app & more\n|-|startupTimeLimit=20\n|-|requestTimeout=00:01:00\n|-|stdoutLogEnabled=true\nenvironmentVariables|0|name=D\nenvironmentVariables|0|value=4\n",
        "{arch} application level"
    );
    // A section no <configSections> declares: the host knows no such section.
    assert_eq!(fetch(&worker, "/h/config?system.webServer/nothing").text(), "no-section\n");
    // Per-application server variables.
    let dirs = site.dirs.path();
    let vars = fetch(&worker, "/app/h/vars").text();
    assert_eq!(
        vars,
        format!("APPL_MD_PATH=/LM/W3SVC/7/ROOT/app\nAPPL_PHYSICAL_PATH={}\\\n", windows_path(&dirs.join("app")))
    );
    let vars = fetch(&worker, "/h/vars").text();
    assert_eq!(
        vars,
        format!("APPL_MD_PATH=/LM/W3SVC/7/ROOT\nAPPL_PHYSICAL_PATH={}\\\n", windows_path(&dirs.join("site")))
    );
    worker.stop();
}

#[test]
fn handlers_are_selected_per_application_and_a_broken_web_config_is_500_19() {
    let Some(launcher) = launcher() else { return };
    let Some(bin) = built() else { return };
    // Nothing configured at the site: diagnostics; the application's web.config picks the probe.
    let site = AppSite::new(&bin, "x64", "sel", "", "");
    site.web_config("app", "<configuration>\n  <system.webServer>\n    <archway handler=\"probe\" />\n  </system.webServer>\n</configuration>\n");
    let (_dir, worker) =
        start_with_config(launcher, &bin, "x64", "sel", &site.text, &[("ARCHWAY_DETAILED_ERRORS", "1")]);
    let r = fetch(&worker, "/h/sync");
    assert_eq!(
        r.header("Content-Type"),
        Some("application/json"),
        "the site root is served by diagnostics: {}",
        r.text()
    );
    assert_eq!(fetch(&worker, "/app/h/sync").text(), "sync\n");
    // A web.config that is not well-formed XML: 500.19 naming the file and the line, before
    // any module runs; the other application is not affected.
    site.web_config("app", "<configuration>\n  <system.webServer>\n    <archway handler=\"probe\">\n  </system.webServer>\n</configuration>\n");
    let r = fetch(&worker, "/app/h/sync");
    let file = windows_path(&site.dirs.path().join("app").join("web.config"));
    assert_eq!(r.status, 500, "{}", r.text());
    assert!(r.text().contains("500.19") && r.text().contains(&file) && r.text().contains("line 4"), "{}", r.text());
    assert_eq!(fetch(&worker, "/h/sync").status, 200);
    // Every truncation of a valid web.config is either read or refused with 500.19; the worker
    // never crashes (the same connection-less requests keep being served).
    let good = "<?xml version=\"1.0\"?>\n<configuration>\n  <system.webServer>\n    <archway handler=\"probe\" />\n    <httpPlatform processPath=\"a&amp;b\"><environmentVariables><clear /><add name=\"X\" value=\"&#x41;\" /></environmentVariables></httpPlatform>\n  </system.webServer>\n</configuration>\n";
    for cut in (0..good.len()).step_by(7) {
        site.web_config("app", &good[..cut]);
        let r = fetch(&worker, "/app/h/config?system.webServer/httpPlatform");
        assert!(
            r.status == 200 || (r.status == 500 && r.text().contains("500.19")),
            "cut at {cut}: {} {}",
            r.status,
            r.text()
        );
    }
    site.web_config("app", good);
    assert_eq!(
        fetch(&worker, "/app/h/config?system.webServer/httpPlatform").text(),
        "|-|processPath=a&b\nenvironmentVariables|0|name=X\nenvironmentVariables|0|value=A\n"
    );
    let ended = worker.stop();
    assert_eq!(ended.code, Some(0), "{}", ended.stderr);
    assert!(ended.stderr.contains(&format!("500.19: {file}(4,")), "{}", ended.stderr);

    // httpPlatform with a processPath and no archway section: the platform handler (absent from
    // a folder holding only the shim, so the 500 names its file).
    let (lonely, shim) = lonely_shim(&bin);
    let platform = "    <httpPlatform processPath=\"server.exe\" />\n";
    let text = with_sections(&config("plat", &windows_path(&shim), "127.0.0.1:0:"), platform, "");
    let (_dir, worker) = start_with_config(launcher, &bin, "x64", "plat", &text, &[("ARCHWAY_DETAILED_ERRORS", "1")]);
    let r = fetch(&worker, "/");
    assert!(r.status == 500 && r.text().contains("archway_platform_x64.dll"), "{}", r.text());
    worker.stop();
    drop(lonely);
}
