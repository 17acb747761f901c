//! The worker stand-in (`tests/worker`, `archway_worker_<arch>.exe`) as the integration tests
//! drive it: starting Windows programs (directly on Windows, under Wine with a prefix per test
//! binary elsewhere) with deadlines, the architectures this machine runs, `applicationHost.config`
//! files, worker processes (ready, stop on end of input, kill), and HTTP/1.1 answers read back
//! byte for byte. Used by `worker.rs` (the stand-in itself) and `shims.rs` (the built shims
//! behind it).

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    path::{Path, PathBuf},
    process::{Child, ChildStdin, Command, ExitStatus, Stdio},
    sync::{Arc, Mutex, OnceLock, mpsc},
    time::{Duration, Instant},
};

use super::missing;

/// How long a worker may take to say `ready` (a cold Wine start is slow).
pub const READY: Duration = Duration::from_secs(90);
/// How long a worker may take to exit after its stdin closes, or to fail on a bad config.
pub const EXIT: Duration = Duration::from_secs(30);
/// Socket reads and writes.
pub const IO: Duration = Duration::from_secs(30);
/// The workers' own safety net.
pub const MAX_SECONDS: &str = "180";

// ---------------------------------------------------------------------------------------------
// Running Windows programs.

pub enum Launcher {
    Direct,
    Wine(PathBuf),
}

pub fn launcher() -> Option<&'static Launcher> {
    static LAUNCHER: OnceLock<Option<Launcher>> = OnceLock::new();
    LAUNCHER
        .get_or_init(|| {
            if cfg!(windows) {
                return Some(Launcher::Direct);
            }
            let found = std::env::split_paths(&std::env::var_os("PATH")?).map(|d| d.join("wine")).find(|p| p.is_file());
            let Some(wine) = found else {
                missing("wine (64-bit)", "apt-get install wine64");
                return None;
            };
            // Made once, before any test starts a program in it, as every archway prefix is:
            // Wine's own files linked to one shared copy (`cargo xtask wine-prefix`).
            let prefix = wine_prefix();
            let made = super::xtask(&super::repo_root(), &["wine-prefix", &prefix.to_string_lossy()]);
            assert!(made.status.success(), "cargo xtask wine-prefix failed:\n{}", super::stderr(&made));
            Some(Launcher::Wine(wine))
        })
        .as_ref()
}

/// One prefix per test binary (`wineprefix-worker`, `wineprefix-shims`), so two test binaries
/// run at once never create the same prefix together.
pub fn wine_prefix() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(concat!("wineprefix-", env!("CARGO_CRATE_NAME")))
}

pub fn wine_command(wine: &Path) -> Command {
    let mut cmd = Command::new(wine);
    cmd.env("WINEPREFIX", wine_prefix()).env("WINEDEBUG", "-all").env("WINEDLLOVERRIDES", "mscoree,mshtml=");
    cmd
}

/// A command that runs the Windows program `exe`.
pub fn program(launcher: &Launcher, exe: &Path) -> Command {
    match launcher {
        Launcher::Direct => Command::new(exe),
        Launcher::Wine(wine) => {
            let mut cmd = wine_command(wine);
            cmd.arg(exe);
            cmd
        }
    }
}

/// Runs `cmd` to completion, killing it past `deadline` (None then).
pub fn run_with_deadline(mut cmd: Command, deadline: Duration) -> Option<ExitStatus> {
    let mut child = cmd.spawn().expect("the program starts");
    wait_or_kill(&mut child, deadline)
}

pub fn wait_or_kill(child: &mut Child, deadline: Duration) -> Option<ExitStatus> {
    let end = Instant::now() + deadline;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        if Instant::now() >= end {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// x64 under Wine (x86 too with ARCHWAY_WINE32=1); ARCHWAY_RUN_NATIVELY on Windows.
pub fn runnable() -> Vec<String> {
    if let Ok(list) = std::env::var("ARCHWAY_RUN_NATIVELY") {
        return list.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
    }
    let mut archs = vec!["x64".to_string()];
    if cfg!(windows) || std::env::var("ARCHWAY_WINE32").as_deref() == Ok("1") {
        archs.insert(0, "x86".to_string());
    }
    archs
}

/// A path as the Windows program sees it (Wine maps the Linux root to Z:).
pub fn windows_path(path: &Path) -> String {
    if cfg!(windows) {
        return path.display().to_string();
    }
    format!("Z:{}", path.display().to_string().replace('/', "\\"))
}

// ---------------------------------------------------------------------------------------------
// applicationHost.config files.

pub fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;")
}

/// One pool, one site with one binding, one global module.
pub fn config(pool: &str, image: &str, binding: &str) -> String {
    apphost(pool, binding, &[("archway", image, "")])
}

/// One pool (and another one), one site with an https and an http binding, and the global
/// modules (name, image, preCondition) in order.
pub fn apphost(pool: &str, binding: &str, modules: &[(&str, &str, &str)]) -> String {
    let modules: String = modules
        .iter()
        .map(|(name, image, pre)| {
            let pre = if pre.is_empty() { String::new() } else { format!(" preCondition=\"{pre}\"") };
            format!("      <add name=\"{name}\" image=\"{}\"{pre} />\n", xml_escape(image))
        })
        .collect();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<configuration>
  <system.applicationHost>
    <applicationPools>
      <add name="{pool}" enable32BitAppOnWin64="false" managedRuntimeVersion="" />
      <add name="other" />
    </applicationPools>
    <sites>
      <site name="site-{pool}" id="7">
        <application path="/" applicationPool="{pool}">
          <virtualDirectory path="/" physicalPath="C:\inetpub\{pool}" />
        </application>
        <bindings>
          <binding protocol="https" bindingInformation="*:443:" />
          <binding protocol="http" bindingInformation="{binding}" />
        </bindings>
      </site>
    </sites>
  </system.applicationHost>
  <system.webServer>
    <globalModules>
{modules}    </globalModules>
  </system.webServer>
</configuration>
"#
    )
}

/// The `<configSections>` IIS's schema files back: `system.webServer/archway` and
/// `system.webServer/httpPlatform` declared, so the stand-in's configuration API knows them (it
/// answers ERROR_NOT_FOUND for an undeclared section, as IIS fails one without a schema).
pub const SECTIONS: &str = r#"  <configSections>
    <sectionGroup name="system.webServer">
      <section name="archway" overrideModeDefault="Allow" />
      <section name="httpPlatform" overrideModeDefault="Allow" />
    </sectionGroup>
  </configSections>
"#;

/// `text` (an applicationHost.config from `apphost`/`config`) with [`SECTIONS`] declared and
/// `web_server` (XML) added inside `<system.webServer>` and `root` (XML, e.g. `<location>`
/// elements) added inside `<configuration>`.
pub fn with_sections(text: &str, web_server: &str, root: &str) -> String {
    let text = text.replacen("<configuration>\n", &format!("<configuration>\n{SECTIONS}"), 1);
    let text = text.replacen("  </system.webServer>\n", &format!("{web_server}  </system.webServer>\n"), 1);
    text.replacen("</configuration>", &format!("{root}</configuration>"), 1)
}

/// One pool, one site whose root application's folder is `site_dir` and which has the
/// application `/app` in `app_dir` (both Windows paths), one global module `image`.
pub fn apphost_with_app(pool: &str, image: &str, site_dir: &str, app_dir: &str) -> String {
    config(pool, image, "127.0.0.1:0:")
        .replacen(&format!("C:\\inetpub\\{pool}"), &xml_escape(site_dir), 1)
        .replacen(
            "        </application>\n",
            &format!(
                "        </application>\n        <application path=\"/app\" applicationPool=\"{pool}\">\n          <virtualDirectory path=\"/\" physicalPath=\"{}\" />\n        </application>\n",
                xml_escape(app_dir)
            ),
            1,
        )
}

/// A config file in a fresh folder: (folder guard, Linux path, Windows path).
pub fn write_config(text: impl AsRef<[u8]>) -> (tempfile::TempDir, PathBuf, String) {
    let dir = tempfile::Builder::new().prefix("worker-").tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let path = dir.path().join("applicationHost.config");
    std::fs::write(&path, text.as_ref()).unwrap();
    let windows = windows_path(&path);
    (dir, path, windows)
}

// ---------------------------------------------------------------------------------------------
// Worker processes.

pub struct Worker {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    pub port: u16,
}

/// What a worker printed and how it ended.
pub struct Ended {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

pub fn worker_command(
    launcher: &Launcher,
    bin: &Path,
    arch: &str,
    pool: &str,
    config: &str,
    env: &[(&str, &str)],
) -> Command {
    worker_command_for(launcher, bin, arch, pool, config, env, MAX_SECONDS)
}

pub fn worker_command_for(
    launcher: &Launcher,
    bin: &Path,
    arch: &str,
    pool: &str,
    config: &str,
    env: &[(&str, &str)],
    max_seconds: &str,
) -> Command {
    let mut cmd = program(launcher, &bin.join(format!("archway_worker_{arch}.exe")));
    cmd.args(["-ap", pool, "-h", config, "-max-seconds", max_seconds]);
    // The shim's settings come from the test alone, never from the environment it runs in.
    cmd.env_remove("ARCHWAY_HANDLER").env_remove("ARCHWAY_DETAILED_ERRORS");
    cmd.envs(env.iter().copied());
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

pub fn collect(stream: impl Read + Send + 'static, into: Arc<Mutex<String>>, lines: Option<mpsc::Sender<String>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            into.lock().unwrap().push_str(&format!("{line}\n"));
            if let Some(tx) = &lines {
                let _ = tx.send(line);
            }
        }
    });
}

impl Worker {
    /// Starts a worker and waits for `ready`; Err with everything it printed otherwise.
    pub fn start(
        launcher: &Launcher,
        bin: &Path,
        arch: &str,
        pool: &str,
        config: &str,
        env: &[(&str, &str)],
    ) -> Result<Worker, Ended> {
        let mut child = worker_command(launcher, bin, arch, pool, config, env).spawn().expect("the worker starts");
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        collect(child.stdout.take().unwrap(), stdout.clone(), Some(tx));
        collect(child.stderr.take().unwrap(), stderr.clone(), None);
        let stdin = child.stdin.take();
        let end = Instant::now() + READY;
        let mut port = None;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left.min(Duration::from_millis(200))) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix("archway_worker: listening ") {
                        let address =
                            rest.split_whitespace().find_map(|w| w.strip_prefix("address=")).unwrap_or_default();
                        port = address.rsplit(':').next().and_then(|p| p.parse::<u16>().ok());
                    }
                    if line == "archway_worker: ready" {
                        break;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() < end => {
                    if child.try_wait().ok().flatten().is_some() {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        let worker = Worker { child, stdin, stdout, stderr, port: port.unwrap_or(0) };
        if port.is_none() || !worker.stdout().contains("archway_worker: ready\n") {
            return Err(worker.kill());
        }
        Ok(worker)
    }

    pub fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    pub fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connects to the worker");
        stream.set_read_timeout(Some(IO)).unwrap();
        stream.set_write_timeout(Some(IO)).unwrap();
        stream
    }

    /// Closes stdin (the graceful stop) and waits for the exit, killing past the deadline.
    pub fn stop(mut self) -> Ended {
        drop(self.stdin.take());
        let status = wait_or_kill(&mut self.child, EXIT);
        std::thread::sleep(Duration::from_millis(100)); // the readers finish the pipes
        Ended { code: status.and_then(|s| s.code()), stdout: self.stdout(), stderr: self.stderr() }
    }

    pub fn kill(mut self) -> Ended {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::thread::sleep(Duration::from_millis(100));
        Ended { code: None, stdout: self.stdout(), stderr: self.stderr() }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a worker expected to exit by itself (a config error): code, stdout, stderr.
pub fn run_to_exit(launcher: &Launcher, bin: &Path, arch: &str, pool: &str, config: &str) -> Ended {
    let mut cmd = worker_command(launcher, bin, arch, pool, config, &[]);
    cmd.stdin(Stdio::null());
    let mut child = cmd.spawn().expect("the worker starts");
    let (out, err) = (Arc::new(Mutex::new(String::new())), Arc::new(Mutex::new(String::new())));
    collect(child.stdout.take().unwrap(), out.clone(), None);
    collect(child.stderr.take().unwrap(), err.clone(), None);
    let status = wait_or_kill(&mut child, EXIT);
    std::thread::sleep(Duration::from_millis(100));
    let (stdout, stderr) = (out.lock().unwrap().clone(), err.lock().unwrap().clone());
    Ended { code: status.and_then(|s| s.code()), stdout, stderr }
}

// ---------------------------------------------------------------------------------------------
// HTTP/1.1 read back exactly.

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Chunk sizes as they came, for a chunked response.
    pub chunks: Vec<usize>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub fn read_line(r: &mut impl BufRead) -> String {
    let mut line = Vec::new();
    r.read_until(b'\n', &mut line).expect("reads a line");
    assert!(line.ends_with(b"\r\n"), "a line must end with CRLF: {:?}", String::from_utf8_lossy(&line));
    line.truncate(line.len() - 2);
    String::from_utf8(line).expect("an ASCII line")
}

/// Reads one response, checking the framing strictly. `head`: the request was HEAD.
pub fn read_response(r: &mut impl BufRead, head: bool) -> Response {
    let status_line = read_line(r);
    let mut parts = status_line.splitn(3, ' ');
    assert_eq!(parts.next(), Some("HTTP/1.1"), "status line {status_line:?}");
    let status: u16 =
        parts.next().and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("status line {status_line:?}"));
    let mut headers = Vec::new();
    loop {
        let line = read_line(r);
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(": ").unwrap_or_else(|| panic!("header line {line:?}"));
        headers.push((name.to_string(), value.to_string()));
    }
    let mut response = Response { status, headers, body: Vec::new(), chunks: Vec::new() };
    if head {
        return response;
    }
    let chunked = response.header("Transfer-Encoding").is_some();
    if chunked {
        assert_eq!(response.header("Transfer-Encoding"), Some("chunked"));
        assert!(response.header("Content-Length").is_none(), "both Content-Length and chunked");
        loop {
            let size = usize::from_str_radix(&read_line(r), 16).expect("a hex chunk size");
            if size == 0 {
                assert_eq!(read_line(r), "", "no trailers, then the blank line");
                break;
            }
            let mut data = vec![0; size];
            r.read_exact(&mut data).unwrap();
            assert_eq!(read_line(r), "", "CRLF after the chunk data");
            response.body.extend_from_slice(&data);
            response.chunks.push(size);
        }
    } else if let Some(length) = response.header("Content-Length") {
        let mut data = vec![0; length.parse::<usize>().expect("a decimal Content-Length")];
        r.read_exact(&mut data).unwrap();
        response.body = data;
    } else {
        r.read_to_end(&mut response.body).unwrap();
    }
    response
}

/// Sends `request` on `stream` and reads the answer.
pub fn exchange(stream: &mut TcpStream, reader: &mut BufReader<TcpStream>, request: &[u8]) -> Response {
    stream.write_all(request).unwrap();
    read_response(reader, request.starts_with(b"HEAD "))
}

pub fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").into_bytes()
}

/// The peer closed: a read gives 0 bytes (or the connection was reset).
pub fn assert_closed(reader: &mut BufReader<TcpStream>) {
    let mut byte = [0u8; 1];
    match reader.read(&mut byte) {
        Ok(0) => {}
        Ok(_) => panic!("more bytes after the response: {:?}", byte),
        Err(e) => assert!(
            e.kind() != std::io::ErrorKind::WouldBlock && e.kind() != std::io::ErrorKind::TimedOut,
            "the connection stayed open: {e}"
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Workers started for a test.

/// A worker serving `image` (a file name in `bin`, or a full path) for pool `pool`.
pub fn start_with_image(
    launcher: &Launcher,
    bin: &Path,
    arch: &str,
    pool: &str,
    image: &str,
) -> (tempfile::TempDir, Worker) {
    let image = if image.contains(['\\', '/']) { image.to_string() } else { windows_path(&bin.join(image)) };
    start_with_config(launcher, bin, arch, pool, &config(pool, &image, "127.0.0.1:0:"), &[])
}

pub fn start_with_config(
    launcher: &Launcher,
    bin: &Path,
    arch: &str,
    pool: &str,
    text: &str,
    env: &[(&str, &str)],
) -> (tempfile::TempDir, Worker) {
    let (dir, _, config) = write_config(text);
    match Worker::start(launcher, bin, arch, pool, &config, env) {
        Ok(w) => (dir, w),
        Err(e) => panic!("the {arch} worker did not get ready (exit {:?}):\n{}{}", e.code, e.stdout, e.stderr),
    }
}

/// The config file's path as the worker was given it.
pub fn config_path_of(dir: &tempfile::TempDir) -> String {
    windows_path(&dir.path().join("applicationHost.config"))
}
