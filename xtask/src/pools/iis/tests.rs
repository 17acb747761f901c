//! The real-IIS sequence with a recording stand-in for Windows: the exact msiexec and appcmd
//! command lines in order, the checks applied to IIS's answers, and the cleanup on failure.

use std::path::{Path, PathBuf};

use anyhow::Result;
use serde_json::json;

use super::*;
use crate::{
    cmd::Output,
    pools::{
        install::InstalledFile,
        rows::{HostMachine, PoolAttributes, WorkerArch},
    },
};

/// Records every command; answers `appcmd list module` as IIS would given what was installed,
/// and HTTP with the diagnostics JSON of the pool on that port.
struct Recorder {
    commands: Vec<String>,
    installed_version: Option<&'static str>,
    ports: Vec<(u16, String)>,
    next_port: u16,
    /// The version the worker reports until the pools are recycled after an upgrade.
    serving_version: &'static str,
    recycled: bool,
    /// Faults of the machine: every install fails, only the upgrade fails, the recycle does
    /// nothing (the worker keeps the old DLL), the site answers 503.
    fail_install: bool,
    fail_upgrade: bool,
    ignore_recycle: bool,
    down: bool,
    /// The platform sites answer a 502.5 page (a server that does not start), or hold back
    /// the second event (a proxy that buffers).
    platform_down: bool,
    buffered_events: bool,
    /// The backend's environment says IIS has no WebSocket support; how the WebSocket peer
    /// behind the platform site misbehaves.
    websockets_unsupported: bool,
    ws_fault: ws_peer::Fault,
    /// HTTP_PLATFORM_IIS_HTTPAUTH as the backend reports it; the site folders appcmd was given
    /// (by port), and whether HTTP_PLATFORM_IIS_PHYSICAL_PATH carries IIS's application ID
    /// instead (what v2's out-of-process code passes, docs/httpplatform.md §9).
    http_auth: &'static str,
    folders: Vec<(u16, String)>,
    application_id_as_path: bool,
    /// Whether the platform backend was told to exit (GET /crash), seen by the open WebSocket.
    killed: std::rc::Rc<std::cell::Cell<bool>>,
    files: Vec<String>,
}

impl Recorder {
    fn new() -> Recorder {
        Recorder {
            commands: Vec::new(),
            installed_version: None,
            ports: Vec::new(),
            next_port: 8000,
            serving_version: "",
            recycled: false,
            fail_install: false,
            fail_upgrade: false,
            ignore_recycle: false,
            down: false,
            platform_down: false,
            buffered_events: false,
            websockets_unsupported: false,
            ws_fault: ws_peer::Fault::None,
            http_auth: "anonymous;",
            folders: Vec::new(),
            application_id_as_path: false,
            killed: Default::default(),
            files: Vec::new(),
        }
    }
}

fn ok(stdout: &str) -> Output {
    Output { success: true, code: Some(0), stdout: stdout.into(), stderr: String::new() }
}

impl System for Recorder {
    fn run(&mut self, cmd: Cmd) -> Result<Output> {
        let argv = cmd.argv();
        let program = Path::new(&argv[0]).file_name().unwrap().to_string_lossy().into_owned();
        let line = format!("{program} {}", argv[1..].join(" "));
        self.commands.push(line.clone());
        let arg = |i: usize| argv.get(i).map(String::as_str).unwrap_or_default();
        Ok(match (program.as_str(), arg(1)) {
            ("msiexec.exe", "/i") if self.fail_install || (self.fail_upgrade && arg(2).contains("0.1.1")) => {
                Output { success: false, code: Some(1603), stdout: String::new(), stderr: "fatal error".into() }
            }
            ("msiexec.exe", "/i") => {
                let version = if arg(2).contains("0.1.1") { "0.1.1" } else { "0.1.0" };
                if self.installed_version.is_none() {
                    self.serving_version = version;
                }
                self.installed_version = Some(version);
                self.recycled = false;
                ok("")
            }
            ("msiexec.exe", "/x") => {
                self.installed_version = None;
                ok("")
            }
            ("appcmd.exe", "list") => match self.installed_version {
                Some(_) => ok(
                    "<system.webServer>\n  <globalModules>\n    <add name=\"archway\" image=\"%ProgramFiles%\\Archway\\archway.dll\" />\n  </globalModules>\n</system.webServer>\n",
                ),
                None => ok("<system.webServer>\n  <globalModules>\n  </globalModules>\n</system.webServer>\n"),
            },
            ("appcmd.exe", "add") if arg(2) == "site" => {
                let name = arg(3).trim_start_matches("/name:").to_string();
                let port =
                    arg(5).trim_start_matches("/bindings:http/127.0.0.1:").trim_end_matches(':').parse().unwrap();
                self.ports.push((port, name));
                self.folders.push((port, arg(6).trim_start_matches("/physicalPath:").to_string()));
                ok("")
            }
            ("appcmd.exe", "recycle") => {
                self.recycled = true;
                if !self.ignore_recycle {
                    self.serving_version = self.installed_version.unwrap_or_default();
                }
                ok("")
            }
            _ => ok(""),
        })
    }

    fn get(&mut self, port: u16, path: &str) -> Result<(u16, String)> {
        if self.down {
            return Ok((503, "Service Unavailable".into()));
        }
        let pool = self.ports.iter().find(|(p, _)| *p == port).map(|(_, n)| n.clone()).expect("a site on that port");
        if pool.ends_with("-platform") {
            if self.platform_down {
                return Ok((502, "HTTP Error 502.5 - Process Failure".into()));
            }
            if path.starts_with("/crash") {
                self.commands.push(format!("crash {port} {path}"));
                self.killed.set(true);
                return Ok((502, "HTTP Error 502.3 - Bad Gateway".into()));
            }
            // The backend's echo as it arrives through the platform handler (IIS's APPL_PHYSICAL_PATH
            // ends with a backslash; Windows keeps the case appcmd was given, or not).
            let folder = self.folders.iter().find(|(p, _)| *p == port).map(|(_, f)| f.clone()).unwrap();
            let physical = if self.application_id_as_path {
                "/LM/W3SVC/201/ROOT".to_string()
            } else {
                format!("{folder}\\").to_lowercase()
            };
            let body = json!({
                "backend": "archway_backend", "method": "GET", "url": path, "port": 23456,
                "env": {"HTTP_PLATFORM_PORT": "23456", "HTTP_PLATFORM_TOKEN": "5f1c",
                        "HTTP_PLATFORM_IIS_WEBSOCKETS_SUPPORTED": if self.websockets_unsupported { "false" } else { "true" },
                        "HTTP_PLATFORM_IIS_HTTPAUTH": self.http_auth, "HTTP_PLATFORM_IIS_PHYSICAL_PATH": physical},
                "headers": [["Host", format!("127.0.0.1:{port}")], ["MS-ASPNETCORE-TOKEN", "5f1c"], ["X-Forwarded-For", "127.0.0.1:50000"], ["X-Forwarded-Proto", "http"]]
            });
            return Ok((200, body.to_string()));
        }
        let url = path.split('?').next().unwrap();
        let body = json!({
            "product": "archway", "version": format!("{}.0", self.serving_version),
            "shim": {"arch": "x64", "path": r"C:\Program Files\Archway\archway.dll"},
            "handler": {"name": "diagnostics", "arch": "x64", "path": r"C:\Program Files\Archway\archway_diagnostics.dll"},
            "process": {"machine": "x64", "native_machine": "x64", "wow64": false, "emulated": false},
            "modules": [r"C:\Program Files\Archway\archway.dll", r"C:\Program Files\Archway\archway_diagnostics.dll"],
            "request": {"method": "GET", "url": url, "app_pool": pool}
        });
        Ok((200, body.to_string()))
    }

    fn free_port(&mut self) -> Result<u16> {
        self.next_port += 1;
        Ok(self.next_port)
    }

    fn events(&mut self, port: u16, stream: &str, release: &str, count: usize) -> Result<Vec<String>> {
        self.commands.push(format!("events {port} {stream} {release} {count}"));
        if self.buffered_events {
            anyhow::bail!("event 1 did not arrive before event 2 was allowed (timed out)");
        }
        Ok((1..=count).map(|n| format!("event {n}")).collect())
    }

    fn write_file(&mut self, path: &str, bytes: &[u8]) -> Result<()> {
        let text = String::from_utf8_lossy(bytes);
        assert!(text.contains("<httpPlatform processPath=\".\\archway_backend_x64.exe\""), "{text}");
        self.files.push(format!("write {path}"));
        Ok(())
    }

    fn copy_file(&mut self, from: &Path, to: &str) -> Result<()> {
        assert!(from.is_file(), "{}", from.display());
        self.files.push(format!("copy {} {to}", from.file_name().unwrap().to_string_lossy()));
        Ok(())
    }

    fn connect(&mut self, port: u16) -> Result<Box<dyn websocket::Stream>> {
        let site = self.ports.iter().find(|(p, _)| *p == port).map(|(_, n)| n.clone()).expect("a site on that port");
        assert!(site.ends_with("-platform"), "{site}");
        self.commands.push(format!("websocket {port}"));
        self.killed.set(false);
        Ok(Box::new(ws_peer::Peer::new(self.ws_fault, self.killed.clone())))
    }
}

/// A build folder holding the backend the platform sites copy.
fn bin_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("archway_backend_x64.exe"), b"MZ").unwrap();
    dir
}

fn x64_row() -> PoolRow {
    PoolRow {
        name: "x64".into(),
        host: HostMachine::X64,
        attributes: PoolAttributes { enable_32bit_app_on_win64: false, enable_emulation_on_win_arm64: None },
        worker: WorkerArch::X64,
        package: crate::msi::Platform::X64,
        uncertain: None,
    }
}

fn installed(version: &str) -> Installed {
    let file = |p: &str| InstalledFile { windows_path: p.into(), host_path: PathBuf::from(p), forwarder: false };
    Installed {
        product_version: version.into(),
        files: vec![
            file(r"C:\Program Files\Archway\archway.dll"),
            file(r"C:\Program Files\Archway\archway_diagnostics.dll"),
        ],
    }
}

fn tools() -> Tools {
    Tools { appcmd: PathBuf::from("appcmd.exe"), msiexec: PathBuf::from("msiexec.exe"), logs: PathBuf::from("logs") }
}

/// The whole sequence on one x64 row with `system`: `msi` installs 0.1.0 and, with `next`, that
/// package upgrades it to 0.1.1 while the pools run.
fn run_x64(system: &mut Recorder, msi: &str, next: Option<&str>) -> Result<Vec<Line>> {
    let (old, new) = (installed("0.1.0"), installed("0.1.1"));
    let (rows, tools, bin) = ([x64_row()], tools(), bin_dir());
    let next = next.map(|n| (Path::new(n), &new));
    Sequence { tools: &tools, system, rows: &rows, msi: (Path::new(msi), &old), next, bin_dir: bin.path() }.run()
}

#[test]
fn install_serve_upgrade_while_running_recycle_serve_uninstall_in_that_order() {
    let mut system = Recorder::new();
    let lines = run_x64(&mut system, "archway-0.1.0-x64.msi", Some("archway-0.1.1-x64.msi")).unwrap();
    let outcomes: Vec<(String, Outcome)> = lines.iter().map(|l| (l.row.clone(), l.outcome.clone())).collect();
    assert_eq!(
        outcomes,
        [
            ("x64".to_string(), Outcome::Passed),
            ("x64 · platform handler".to_string(), Outcome::Passed),
            ("x64 · platform websocket".to_string(), Outcome::Passed),
            ("x64 · after upgrade".to_string(), Outcome::Passed),
            ("uninstall · x64 package".to_string(), Outcome::Passed)
        ]
    );
    // The log folder joined on Windows reads `logs\x.log`; compare with `/`.
    let log = |l: &str| l.replace(r"logs\", "logs/");
    let commands: Vec<String> = system.commands.iter().map(|c| log(c)).collect();
    let expected = [
        "msiexec.exe /i archway-0.1.0-x64.msi /qn /norestart /l*v logs/install.log",
        "appcmd.exe list config /section:system.webServer/globalModules",
        "appcmd.exe add apppool /name:x64 /managedRuntimeVersion: /enable32BitAppOnWin64:false",
        r"appcmd.exe add site /name:x64 /id:101 /bindings:http/127.0.0.1:8001: /physicalPath:C:\inetpub\archway-x64",
        "appcmd.exe set app x64/ /applicationPool:x64",
        r"appcmd.exe add site /name:x64-platform /id:201 /bindings:http/127.0.0.1:8002: /physicalPath:C:\inetpub\archway-x64-platform",
        "appcmd.exe set app x64-platform/ /applicationPool:x64",
        "appcmd.exe set config x64-platform /section:system.webServer/handlers /+[name='archway-platform',path='*',verb='*',modules='archway',resourceType='Unspecified',requireAccess='Script'] /commit:apphost",
        "events 8002 /sse?id=iis-x64&events=3 /sse/release?id=iis-x64 3",
        "websocket 8002",
        "websocket 8002",
        "crash 8002 /crash?code=7",
        "msiexec.exe /i archway-0.1.1-x64.msi /qn /norestart /l*v logs/upgrade.log",
        "appcmd.exe list config /section:system.webServer/globalModules",
        "appcmd.exe recycle apppool /apppool.name:x64",
        "msiexec.exe /x archway-0.1.1-x64.msi /qn /norestart /l*v logs/uninstall.log",
        "appcmd.exe delete site x64-platform",
        "appcmd.exe delete site x64",
        "appcmd.exe delete apppool x64",
        "appcmd.exe list config /section:system.webServer/globalModules",
    ];
    assert_eq!(commands, expected);
    // The backend and the web.config go into the platform site's folder before IIS is asked.
    assert_eq!(
        system.files,
        [
            r"copy archway_backend_x64.exe C:\inetpub\archway-x64-platform\archway_backend_x64.exe",
            r"write C:\inetpub\archway-x64-platform\web.config"
        ]
    );
}

/// The platform line of a run with `system`, after the whole sequence ran (and uninstalled).
fn platform_line(mut system: Recorder) -> (Outcome, Vec<String>) {
    let lines = run_x64(&mut system, "a.msi", None).unwrap();
    let line = lines.iter().find(|l| l.row == "x64 · platform handler").expect("a platform line");
    (line.outcome.clone(), system.commands)
}

#[test]
fn a_platform_site_answering_502_fails_its_line_and_the_product_is_still_removed() {
    let (outcome, commands) = platform_line(Recorder { platform_down: true, ..Recorder::new() });
    match outcome {
        Outcome::Failed(p) => assert!(p[0].contains("502 HTTP Error 502.5"), "{p:?}"),
        other => panic!("{other:?}"),
    }
    assert!(commands.iter().any(|c| c == "appcmd.exe delete site x64-platform"), "{commands:?}");
    assert!(commands.iter().any(|c| c.starts_with("msiexec.exe /x a.msi")), "{commands:?}");
}

#[test]
fn events_held_back_by_the_proxy_fail_the_platform_line() {
    let (outcome, _) = platform_line(Recorder { buffered_events: true, ..Recorder::new() });
    match outcome {
        Outcome::Failed(p) => {
            assert!(p.iter().any(|p| p.starts_with("server-sent events: event 1 did not arrive")), "{p:?}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_backends_echo_is_checked_for_the_forwarded_headers() {
    let good = json!({
        "backend": "archway_backend", "method": "GET", "url": "/p", "port": 5,
        "env": {"HTTP_PLATFORM_PORT": "5", "HTTP_PLATFORM_TOKEN": "t"},
        "headers": [["MS-ASPNETCORE-TOKEN", "t"], ["X-Forwarded-For", "127.0.0.1:1"], ["X-Forwarded-Proto", "http"]]
    });
    let mut problems = Vec::new();
    platform::echo_problems(&good, "/p", &mut problems);
    assert!(problems.is_empty(), "{problems:?}");
    let mut forged = good.clone();
    forged["headers"][0][1] = json!("forged");
    forged["env"]["HTTP_PLATFORM_PORT"] = json!("6");
    platform::echo_problems(&forged, "/p", &mut problems);
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems[0].starts_with("HTTP_PLATFORM_PORT \"6\""), "{problems:?}");
    assert!(problems[1].starts_with("MS-ASPNETCORE-TOKEN [\"forged\"]"), "{problems:?}");
}

#[test]
fn the_backends_environment_is_checked_for_httpauth_and_the_physical_path() {
    let (outcome, _) = platform_line(Recorder::new());
    assert_eq!(outcome, Outcome::Passed, "\"anonymous;\" and the site's folder in any case, with its backslash");
    let cases = [
        (
            Recorder { http_auth: "windows;anonymous;", ..Recorder::new() },
            "HTTP_PLATFORM_IIS_HTTPAUTH is \"windows;anonymous;\" in the server's environment, not \"anonymous;\"",
        ),
        (
            Recorder { application_id_as_path: true, ..Recorder::new() },
            r#"HTTP_PLATFORM_IIS_PHYSICAL_PATH is "/LM/W3SVC/201/ROOT" in the server's environment, not "C:\\inetpub\\archway-x64-platform\\""#,
        ),
    ];
    for (system, expected) in cases {
        match platform_line(system).0 {
            Outcome::Failed(p) => assert!(p.iter().any(|p| p.starts_with(expected)), "{expected}: {p:?}"),
            other => panic!("{expected}: {other:?}"),
        }
    }
    // No backslash at the end, or none at all: not the folder as IIS gives it.
    for path in [json!(r"C:\inetpub\site"), serde_json::Value::Null] {
        let mut problems = Vec::new();
        let env = json!({"env": {"HTTP_PLATFORM_IIS_HTTPAUTH": "anonymous;", "HTTP_PLATFORM_IIS_PHYSICAL_PATH": path}});
        platform::iis_env_problems(&env, r"C:\inetpub\site", &mut problems);
        assert_eq!(problems.len(), 1, "{path}: {problems:?}");
    }
}

#[test]
fn a_pool_still_serving_the_old_version_after_the_upgrade_fails_the_row() {
    let mut system = Recorder { ignore_recycle: true, ..Recorder::new() };
    let lines = run_x64(&mut system, "a-0.1.0.msi", Some("a-0.1.1.msi")).unwrap();
    let after = lines.iter().find(|l| l.row == "x64 · after upgrade").unwrap();
    match &after.outcome {
        Outcome::Failed(problems) => {
            assert!(problems.iter().any(|p| p.starts_with("version: \"0.1.0.0\"")), "{problems:?}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_failed_install_stops_before_any_pool_is_made_and_says_what_failed() {
    let mut system = Recorder { fail_install: true, ..Recorder::new() };
    let err = run_x64(&mut system, "a.msi", None).unwrap_err();
    assert!(format!("{err:#}").contains("install failed (exit Some(1603))"), "{err:#}");
    assert_eq!(system.commands.len(), 1);
}

#[test]
fn a_failure_while_serving_still_uninstalls_and_removes_the_pools() {
    let mut system = Recorder { down: true, ..Recorder::new() };
    let lines = run_x64(&mut system, "a.msi", None).unwrap();
    assert!(matches!(&lines[0].outcome, Outcome::Failed(p) if p[0].contains("503")), "{:?}", lines[0].outcome);
    let commands = &system.commands;
    let uninstall = commands.iter().position(|c| c.starts_with("msiexec.exe /x a.msi")).expect("uninstalled");
    let removed = commands.iter().position(|c| c == "appcmd.exe delete apppool x64").expect("pool removed");
    assert!(uninstall < removed, "{commands:?}");
}

#[test]
fn a_failed_upgrade_uninstalls_what_is_installed_and_keeps_the_first_error() {
    let mut system = Recorder { fail_upgrade: true, ..Recorder::new() };
    let err = run_x64(&mut system, "a-0.1.0.msi", Some("a-0.1.1.msi")).unwrap_err();
    assert!(format!("{err:#}").starts_with("upgrade while the pools run failed (exit Some(1603))"), "{err:#}");
    assert!(system.commands.iter().any(|c| c.starts_with("msiexec.exe /x a-0.1.0.msi")), "{:?}", system.commands);
}

/// The WebSocket line of a run with `system`: its outcome and how many exchanges were served.
fn websocket_line(mut system: Recorder) -> (Outcome, usize) {
    let lines = run_x64(&mut system, "a.msi", None).unwrap();
    let line = lines.iter().find(|l| l.row == "x64 · platform websocket").expect("a websocket line");
    (line.outcome.clone(), line.served)
}

/// The problems of a failed WebSocket line (the first is the note naming the uncertain points).
fn websocket_problems(system: Recorder) -> Vec<String> {
    match websocket_line(system) {
        (Outcome::Failed(p), _) => {
            assert!(p[0].contains("[UNCERTAIN] points only real IIS settles (docs/iis.md §9.3)"), "{p:?}");
            p
        }
        other => panic!("{other:?}"),
    }
}

fn with_fault(fault: ws_peer::Fault) -> Recorder {
    Recorder { ws_fault: fault, ..Recorder::new() }
}

#[test]
fn a_websocket_echo_through_iis_passes_also_when_it_comes_back_in_fragments() {
    assert_eq!(websocket_line(Recorder::new()), (Outcome::Passed, 3));
    assert_eq!(websocket_line(with_fault(ws_peer::Fault::Fragmented)), (Outcome::Passed, 3));
    assert_eq!(websocket_line(with_fault(ws_peer::Fault::CloseOnExit)), (Outcome::Passed, 3));
}

#[test]
fn websocket_faults_fail_the_line_naming_the_step_with_the_transcript() {
    use ws_peer::Fault::*;
    let cases = [
        (
            NoUpgrade,
            "the upgrade was answered \"HTTP/1.1 502 Bad Gateway\", not 101 (body begins \"HTTP Error 502.3",
            2,
        ),
        (ForeignAccept, "Sec-WebSocket-Accept [\"", 2),
        (Changed, "the echo is binary of 300 bytes", 1),
        (CloseUnanswered, "the answer to the close: nothing within 30s", 1),
        (StaysOpen, "the end of the connection after the close: still open 30s after the close", 1),
    ];
    for (fault, expected, sessions) in cases {
        // A fault of the upgrade fails the abort session too; the others only the first.
        let p = websocket_problems(with_fault(fault));
        assert_eq!(p.len(), 1 + sessions, "{fault:?}: {p:?}");
        assert!(p[1].starts_with("WebSocket through IIS to /ws: ") && p[1].contains(expected), "{fault:?}: {p:?}");
        // The transcript shows what was sent first: the upgrade with the row's key.
        let key = websocket::key_for("x64");
        assert!(p[1].contains("sent \"GET /ws HTTP/1.1\\r\\nHost: 127.0.0.1:8002"), "{fault:?}: {p:?}");
        assert!(p[1].contains(&format!("Sec-WebSocket-Key: {key}")), "{fault:?}: {p:?}");
    }
    let p = websocket_problems(with_fault(ForeignAccept));
    let want = websocket::accept_for(&websocket::key_for("x64"));
    assert!(p[1].contains(&format!("is not {want:?}, the answer to the client's key")), "{p:?}");
}

#[test]
fn a_client_connection_that_outlives_the_backend_fails_the_line() {
    let p = websocket_problems(with_fault(ws_peer::Fault::OutlivesBackend));
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(p[1].starts_with("WebSocket through IIS, the backend exiting mid-session: "), "{p:?}");
    assert!(p[1].contains("asked the backend to exit: GET /crash?code=7: 502 HTTP Error 502.3"), "{p:?}");
    assert!(p[1].contains("still open 30s after the backend exited"), "{p:?}");
}

#[test]
fn a_backend_told_iis_has_no_websocket_support_fails_the_line() {
    let p = websocket_problems(Recorder { websockets_unsupported: true, ..Recorder::new() });
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(p[1].starts_with("HTTP_PLATFORM_IIS_WEBSOCKETS_SUPPORTED is \"false\""), "{p:?}");
    assert!(p[1].contains("Web-WebSockets, IIS-WebSockets"), "{p:?}");
}

/// The client over a real loopback TCP connection (the `Stream` of the machine): the scripted
/// peer behind a listener, bytes relayed both ways, the socket shut down when the peer ends.
#[test]
fn the_websocket_exchange_runs_over_tcp_on_loopback() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut socket, _) = listener.accept().unwrap();
        socket.set_read_timeout(Some(std::time::Duration::from_secs(20))).unwrap();
        let mut peer = ws_peer::Peer::new(ws_peer::Fault::Fragmented, Default::default());
        let mut piece = [0u8; 4096];
        loop {
            let n = socket.read(&mut piece).unwrap();
            if n == 0 {
                return;
            }
            peer.write_all(&piece[..n]).unwrap();
            loop {
                match peer.read(&mut piece) {
                    Ok(0) => {
                        socket.shutdown(std::net::Shutdown::Both).unwrap();
                        return;
                    }
                    Ok(k) => socket.write_all(&piece[..k]).unwrap(),
                    Err(_) => break,
                }
            }
        }
    });
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let transcript = websocket::exchange(&mut stream, &format!("127.0.0.1:{port}"), "/ws", &websocket::key_for("t"))
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(transcript.last().map(String::as_str), Some("the connection ended"), "{transcript:?}");
    assert!(transcript.iter().any(|l| l.contains("(not final)")), "the echo came in fragments: {transcript:?}");
    server.join().unwrap();
}
