//! The platform handler's test bench (`platform.rs`): one worker stand-in per architecture
//! serving many sites at once, each with its own folder and `web.config` (`<httpPlatform>` and
//! its attributes) and the test backend (`tests/backend`) as its server; raw HTTP/1.1 requests
//! to a site; server-sent events read chunk by chunk; and the backend processes a test started,
//! found again by a tag in their command line (no orphans after the worker exits).

use std::{
    collections::BTreeMap,
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    path::{Path, PathBuf},
    process::{Child, ChildStdin},
    sync::{Arc, Mutex, mpsc},
    time::{Duration, Instant},
};

use serde_json::Value;

use super::worker::{
    Launcher, Response, collect, read_response, wait_or_kill, windows_path, worker_command_for, xml_escape,
};

/// The shared workers' own safety net: longer than the whole test file.
pub const BENCH_MAX_SECONDS: &str = "900";

/// Makes a site's section (and any files it needs in its folder).
pub type SiteFn = Box<dyn Fn(&SiteCtx) -> HttpPlatform>;

/// What a site's `web.config` is made from.
pub struct SiteCtx<'a> {
    pub arch: &'a str,
    pub bin: &'a Path,
    /// The site's folder (its physical path) on this machine.
    pub dir: &'a Path,
    /// A marker unique to this site and run, for `--tag` (finds its backends in a process list).
    pub tag: &'a str,
}

impl SiteCtx<'_> {
    /// The backend built for the worker's architecture, as the worker sees the path.
    pub fn backend(&self) -> String {
        windows_path(&self.bin.join(format!("archway_backend_{}.exe", self.arch)))
    }
    /// A file in the site's folder, as the worker sees it.
    pub fn file(&self, name: &str) -> String {
        windows_path(&self.dir.join(name))
    }
}

/// One `<httpPlatform>` section: attributes in order, environment variables, and the handler
/// mapping real sites carry.
#[derive(Default)]
pub struct HttpPlatform {
    pub attributes: Vec<(String, String)>,
    pub environment: Vec<(String, String)>,
    /// `<handlers><add … modules="httpPlatformHandler">`, exactly as sites written for
    /// HttpPlatformHandler have it (docs/httpplatform.md §1).
    pub handler_mapping: bool,
    /// `<archway handler="…"/>` (the section that names the handler explicitly).
    pub archway_handler: Option<String>,
    /// `<recycleOnFileChange><file path="…"/></recycleOnFileChange>` entries, in order.
    pub recycle_files: Vec<String>,
    /// `<system.webServer>` elements for the site in a `<location>` of applicationHost.config,
    /// where IIS allows sections it declares `overrideModeDefault="Deny"` (`webSocket`,
    /// `modules`), which a web.config may not set.
    pub location: Vec<String>,
    /// Applications below the site's root (`<application path="/name">`), each in its own
    /// folder `<site>/<name>` (no web.config of its own: it inherits the site's), with the
    /// `<system.webServer>` elements of its own `<location path="site/name">`.
    pub applications: Vec<(String, Vec<String>)>,
}

impl HttpPlatform {
    pub fn new() -> HttpPlatform {
        HttpPlatform::default()
    }
    pub fn attr(mut self, name: &str, value: impl Into<String>) -> HttpPlatform {
        self.attributes.push((name.to_string(), value.into()));
        self
    }
    pub fn env(mut self, name: &str, value: impl Into<String>) -> HttpPlatform {
        self.environment.push((name.to_string(), value.into()));
        self
    }
    pub fn mapped(mut self) -> HttpPlatform {
        self.handler_mapping = true;
        self
    }
    pub fn handler(mut self, name: &str) -> HttpPlatform {
        self.archway_handler = Some(name.to_string());
        self
    }
    pub fn recycle(mut self, path: &str) -> HttpPlatform {
        self.recycle_files.push(path.to_string());
        self
    }
    pub fn location(mut self, element: &str) -> HttpPlatform {
        self.location.push(element.to_string());
        self
    }
    pub fn websocket(self, enabled: bool) -> HttpPlatform {
        self.location(&format!("<webSocket enabled=\"{enabled}\" />"))
    }
    pub fn application(mut self, name: &str, location: &[&str]) -> HttpPlatform {
        self.applications.push((name.to_string(), location.iter().map(|e| e.to_string()).collect()));
        self
    }

    pub fn web_config(&self) -> String {
        let attributes: String = self.attributes.iter().map(|(n, v)| format!(" {n}=\"{}\"", xml_escape(v))).collect();
        let mut inner = String::new();
        if !self.environment.is_empty() {
            inner.push_str("\n      <environmentVariables>\n");
            for (n, v) in &self.environment {
                inner.push_str(&format!(
                    "        <environmentVariable name=\"{}\" value=\"{}\" />\n",
                    xml_escape(n),
                    xml_escape(v)
                ));
            }
            inner.push_str("      </environmentVariables>\n    ");
        }
        if !self.recycle_files.is_empty() {
            inner.push_str("\n      <recycleOnFileChange>\n");
            for path in &self.recycle_files {
                inner.push_str(&format!("        <file path=\"{}\" />\n", xml_escape(path)));
            }
            inner.push_str("      </recycleOnFileChange>\n    ");
        }
        let section = if inner.is_empty() {
            format!("<httpPlatform{attributes} />")
        } else {
            format!("<httpPlatform{attributes}>{inner}</httpPlatform>")
        };
        let handlers = if self.handler_mapping {
            "    <handlers>\n      <add name=\"httpPlatformHandler\" path=\"*\" verb=\"*\" modules=\"httpPlatformHandler\" resourceType=\"Unspecified\" requireAccess=\"Script\" />\n    </handlers>\n"
        } else {
            ""
        };
        let archway = match &self.archway_handler {
            Some(h) => format!("    <archway handler=\"{}\" />\n", xml_escape(h)),
            None => String::new(),
        };
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<configuration>\n  <system.webServer>\n{handlers}{archway}    {section}\n  </system.webServer>\n</configuration>\n"
        )
    }
}

/// A site of a bench: its name, folder, port and tag.
pub struct Site {
    pub name: String,
    pub dir: PathBuf,
    pub port: u16,
    pub tag: String,
}

/// The `system.webServer` sections a bench's applicationHost.config declares: ours (as the
/// MSI's schema and archway_sections.js do on IIS, so web.config may set them) and some of IIS's
/// own, as IIS declares them: `webSocket` and `modules` (which then lists `WebSocketModule`, as
/// IIS's does with the WebSocket Protocol feature installed), and the three authentication
/// sections HTTP_PLATFORM_IIS_HTTPAUTH is read from (docs/httpplatform.md §9), left unset so
/// the handler applies IIS's schema defaults. A name with `/` is declared in nested groups.
pub const SECTIONS: &[(&str, &str)] = &[
    ("httpPlatform", "Allow"),
    ("archway", "Allow"),
    ("webSocket", "Deny"),
    ("modules", "Deny"),
    ("security/authentication/windowsAuthentication", "Deny"),
    ("security/authentication/basicAuthentication", "Deny"),
    ("security/authentication/anonymousAuthentication", "Deny"),
];

/// `<section>` and nested `<sectionGroup>` elements for `sections` (names relative to the
/// enclosing group, `a/b/c` nested), indented by `depth` levels.
fn declare_sections(sections: &[(&str, &str)], depth: usize, text: &mut String) {
    let pad = "  ".repeat(depth);
    let mut groups: Vec<&str> = Vec::new();
    for (name, mode) in sections {
        match name.split_once('/') {
            None => text.push_str(&format!("{pad}<section name=\"{name}\" overrideModeDefault=\"{mode}\" />\n")),
            Some((group, _)) if !groups.contains(&group) => groups.push(group),
            Some(_) => {}
        }
    }
    for group in groups {
        let inner: Vec<(&str, &str)> = sections
            .iter()
            .filter_map(|(n, m)| n.split_once('/').filter(|(g, _)| *g == group).map(|(_, rest)| (rest, *m)))
            .collect();
        text.push_str(&format!("{pad}<sectionGroup name=\"{group}\">\n"));
        declare_sections(&inner, depth + 1, text);
        text.push_str(&format!("{pad}</sectionGroup>\n"));
    }
}

/// The applicationHost.config of a bench: one pool, one site per entry (port 0: any free
/// port), the shim as the one global module, and [`SECTIONS`] declared.
pub fn apphost(pool: &str, shim: &str, sites: &[(String, String)]) -> String {
    apphost_declaring(pool, shim, sites, SECTIONS, &[], &[])
}

/// [`apphost`] declaring `sections` (name, overrideModeDefault) only, with `applications`
/// (site name, `/path`, physical path) below the sites' roots and `locations`
/// (`<location path=…>` and the `<system.webServer>` content it sets) after the sites.
pub fn apphost_declaring(
    pool: &str,
    shim: &str,
    sites: &[(String, String)],
    sections: &[(&str, &str)],
    applications: &[(String, String, String)],
    locations: &[(String, String)],
) -> String {
    let mut text = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<configuration>\n  <configSections>\n    <sectionGroup name=\"system.webServer\">\n",
    );
    declare_sections(sections, 3, &mut text);
    text.push_str("    </sectionGroup>\n  </configSections>\n  <system.applicationHost>\n    <applicationPools>\n");
    text.push_str(&format!(
        "      <add name=\"{pool}\" managedRuntimeVersion=\"\" />\n    </applicationPools>\n    <sites>\n"
    ));
    for (i, (name, physical)) in sites.iter().enumerate() {
        text.push_str(&format!(
            "      <site name=\"{name}\" id=\"{}\">\n        <application path=\"/\" applicationPool=\"{pool}\">\n          <virtualDirectory path=\"/\" physicalPath=\"{}\" />\n        </application>\n",
            i + 1,
            xml_escape(physical)
        ));
        for (_, path, folder) in applications.iter().filter(|(site, _, _)| site == name) {
            text.push_str(&format!(
                "        <application path=\"{}\" applicationPool=\"{pool}\">\n          <virtualDirectory path=\"/\" physicalPath=\"{}\" />\n        </application>\n",
                xml_escape(path),
                xml_escape(folder)
            ));
        }
        text.push_str(
            "        <bindings>\n          <binding protocol=\"http\" bindingInformation=\"127.0.0.1:0:\" />\n        </bindings>\n      </site>\n",
        );
    }
    text.push_str(&format!(
        "    </sites>\n  </system.applicationHost>\n  <system.webServer>\n    <globalModules>\n      <add name=\"archway\" image=\"{}\" />\n    </globalModules>\n",
        xml_escape(shim)
    ));
    if sections.iter().any(|(name, _)| *name == "modules") {
        text.push_str("    <modules>\n      <add name=\"WebSocketModule\" />\n    </modules>\n");
    }
    text.push_str("  </system.webServer>\n");
    for (path, content) in locations {
        text.push_str(&format!(
            "  <location path=\"{}\">\n    <system.webServer>\n      {content}\n    </system.webServer>\n  </location>\n",
            xml_escape(path)
        ));
    }
    text.push_str("</configuration>\n");
    text
}

/// A worker stand-in serving the sites of one test group (kept for the whole test binary when
/// shared: it stops when the test process ends and its stdin closes).
pub struct Bench {
    pub arch: String,
    pub bin: PathBuf,
    pub sites: Vec<Site>,
    child: Mutex<Child>,
    stdin: Mutex<Option<ChildStdin>>,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    pub root: tempfile::TempDir,
}

/// How long a bench's worker may take to say `ready`.
const READY: Duration = Duration::from_secs(120);

impl Bench {
    /// Writes every site's folder and web.config (`sites`: name → section), the
    /// applicationHost.config, starts the worker with `env` and waits until it listens.
    pub fn start(
        launcher: &Launcher,
        bin: &Path,
        arch: &str,
        group: &str,
        sites: Vec<(&str, SiteFn)>,
        env: &[(&str, &str)],
    ) -> Bench {
        Bench::start_declaring(launcher, bin, arch, group, sites, env, SECTIONS)
    }

    /// [`Bench::start`] with only `sections` declared in applicationHost.config.
    pub fn start_declaring(
        launcher: &Launcher,
        bin: &Path,
        arch: &str,
        group: &str,
        sites: Vec<(&str, SiteFn)>,
        env: &[(&str, &str)],
        sections: &[(&str, &str)],
    ) -> Bench {
        let handler = bin.join(format!("archway_platform_{arch}.dll"));
        assert!(
            handler.is_file(),
            "{} was not built: the platform handler (handlers/platform, issue 10) must build for {arch} before these tests can run",
            handler.display()
        );
        let root = tempfile::Builder::new()
            .prefix(&format!("platform-{group}-"))
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap();
        let run = format!(
            "{}{}",
            std::process::id(),
            root.path().file_name().unwrap().to_string_lossy().replace(['-', '.'], "")
        );
        let mut listed = Vec::new();
        let mut locations = Vec::new();
        let mut applications = Vec::new();
        let mut made = Vec::new();
        for (name, section) in sites {
            let dir = root.path().join(name);
            std::fs::create_dir_all(&dir).unwrap();
            let tag = format!("t{run}{name}").replace('-', "");
            let ctx = SiteCtx { arch, bin, dir: &dir, tag: &tag };
            let platform = section(&ctx);
            std::fs::write(dir.join("web.config"), platform.web_config()).unwrap();
            if !platform.location.is_empty() {
                locations.push((name.to_string(), platform.location.join("\n      ")));
            }
            for (app, elements) in &platform.applications {
                let folder = dir.join(app);
                std::fs::create_dir_all(&folder).unwrap();
                applications.push((name.to_string(), format!("/{app}"), windows_path(&folder)));
                if !elements.is_empty() {
                    locations.push((format!("{name}/{app}"), elements.join("\n      ")));
                }
            }
            listed.push((name.to_string(), windows_path(&dir)));
            made.push(Site { name: name.to_string(), dir, port: 0, tag });
        }
        let shim = windows_path(&bin.join(format!("archway_{arch}.dll")));
        let config = root.path().join("applicationHost.config");
        std::fs::write(&config, apphost_declaring(group, &shim, &listed, sections, &applications, &locations)).unwrap();
        let mut cmd = worker_command_for(launcher, bin, arch, group, &windows_path(&config), env, BENCH_MAX_SECONDS);
        let mut child = cmd.spawn().expect("the worker starts");
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        collect(child.stdout.take().unwrap(), stdout.clone(), Some(tx));
        collect(child.stderr.take().unwrap(), stderr.clone(), None);
        let stdin = child.stdin.take();
        let end = Instant::now() + READY;
        let mut ready = false;
        while Instant::now() < end {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(line) if line == "archway_worker: ready" => {
                    ready = true;
                    break;
                }
                Ok(_) => {}
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if child.try_wait().ok().flatten().is_some() {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        if !ready {
            let _ = child.kill();
            let _ = child.wait();
            std::thread::sleep(Duration::from_millis(200));
            panic!(
                "the {arch} worker for {group} did not get ready:\n{}{}",
                stdout.lock().unwrap(),
                stderr.lock().unwrap()
            );
        }
        // "archway_worker: listening pool=… site=<name> address=127.0.0.1:<port> …"
        let text = stdout.lock().unwrap().clone();
        let mut ports = BTreeMap::new();
        for line in text.lines().filter_map(|l| l.strip_prefix("archway_worker: listening ")) {
            let word = |key: &str| line.split_whitespace().find_map(|w| w.strip_prefix(key)).map(str::to_string);
            if let (Some(site), Some(address)) = (word("site="), word("address=")) {
                ports.insert(site, address.rsplit(':').next().and_then(|p| p.parse::<u16>().ok()).unwrap_or(0));
            }
        }
        for site in &mut made {
            site.port = *ports
                .get(&site.name)
                .unwrap_or_else(|| panic!("the worker did not say where site {} listens:\n{text}", site.name));
        }
        Bench {
            arch: arch.to_string(),
            bin: bin.to_path_buf(),
            sites: made,
            child: Mutex::new(child),
            stdin: Mutex::new(stdin),
            stdout,
            stderr,
            root,
        }
    }

    pub fn site(&self, name: &str) -> &Site {
        self.sites.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("no site {name} in this bench"))
    }

    /// The end of what the worker printed so far (stdout, then stderr; 40 lines of each).
    pub fn log(&self) -> String {
        format!(
            "--- worker stdout (end)\n{}--- worker stderr (end)\n{}",
            tail(&self.stdout.lock().unwrap(), 40),
            tail(&self.stderr.lock().unwrap(), 40)
        )
    }

    /// Closes the worker's stdin (its graceful stop) and waits for its exit: the exit code.
    pub fn stop(&self) -> Option<i32> {
        drop(self.stdin.lock().unwrap().take());
        let status = wait_or_kill(&mut self.child.lock().unwrap(), Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(200));
        status.and_then(|s| s.code())
    }

    /// Kills the worker process (no graceful stop: what a crashed or killed w3wp.exe leaves).
    pub fn kill(&self) {
        let mut child = self.child.lock().unwrap();
        let _ = child.kill();
        let _ = child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP to a site.

pub const IO: Duration = Duration::from_secs(60);

pub fn connect(port: u16) -> TcpStream {
    let stream =
        TcpStream::connect(("127.0.0.1", port)).unwrap_or_else(|e| panic!("connecting to 127.0.0.1:{port}: {e}"));
    stream.set_read_timeout(Some(IO)).unwrap();
    stream.set_write_timeout(Some(IO)).unwrap();
    stream
}

/// One request on a new connection (`Connection: close` is not sent: the answer is framed).
pub fn send(port: u16, request: &[u8]) -> Response {
    let mut stream = connect(port);
    stream.write_all(request).unwrap_or_else(|e| panic!("sending to 127.0.0.1:{port}: {e}"));
    let mut reader = BufReader::new(stream);
    read_response(&mut reader, request.starts_with(b"HEAD "))
}

pub fn get(port: u16, path: &str) -> Response {
    send(port, format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes())
}

/// A GET with extra header lines (`"Name: value"` each).
pub fn get_with(port: u16, path: &str, headers: &[&str]) -> Response {
    let extra: String = headers.iter().map(|h| format!("{h}\r\n")).collect();
    send(port, format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{extra}\r\n").as_bytes())
}

/// The worker stand-in's test-only authentication (tests/worker/src/iis_objects.cpp): with
/// this variable in its environment, a request with `X-Archway-Test-Auth: <scheme>` is
/// authenticated with that scheme and the worker's own process token.
pub const TEST_AUTH_ENV: (&str, &str) = ("ARCHWAY_WORKER_TEST_AUTH", "1");

/// The echo's JSON, asserting a 200 first (with the worker's log on failure).
pub fn echo_json(r: &Response, bench: &Bench, what: &str) -> Value {
    assert_eq!(r.status, 200, "{what}: expected the backend's echo, got {} {}\n{}", r.status, r.text(), bench.log());
    serde_json::from_slice(&r.body)
        .unwrap_or_else(|e| panic!("{what}: the answer is not the backend's JSON ({e}): {}", r.text()))
}

/// The value of header `name` in the echo's header list, every occurrence.
pub fn echoed_header<'a>(json: &'a Value, name: &str) -> Vec<&'a str> {
    json["headers"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|h| h[0].as_str().is_some_and(|n| n.eq_ignore_ascii_case(name)))
                .filter_map(|h| h[1].as_str())
                .collect()
        })
        .unwrap_or_default()
}

/// An open event stream: the response head read, events read as they come.
pub struct EventStream {
    reader: BufReader<TcpStream>,
    pub head: Response,
    pub text: String,
}

impl EventStream {
    /// Sends the request and reads the response head; Err when it does not come within 20 s.
    pub fn open(port: u16, path: &str) -> Result<EventStream, String> {
        let mut stream = connect(port);
        stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        stream
            .write_all(
                format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n").as_bytes(),
            )
            .unwrap();
        let mut reader = BufReader::new(stream);
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) => return Err(format!("the connection closed inside the response head: {lines:?}")),
                Ok(_) => {}
                Err(e) => return Err(format!("no complete response head within 20 s ({e}); received {lines:?}")),
            }
            let line = line.trim_end_matches(['\r', '\n']).to_string();
            if line.is_empty() {
                break;
            }
            lines.push(line);
        }
        let status = lines.first().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).unwrap_or(0);
        let headers = lines
            .iter()
            .skip(1)
            .filter_map(|l| l.split_once(": "))
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        Ok(EventStream {
            reader,
            head: Response { status, headers, body: Vec::new(), chunks: Vec::new() },
            text: String::new(),
        })
    }

    /// Reads until `needle` has arrived; Err with what arrived when the stream stalls for 20 s
    /// or ends first.
    pub fn until(&mut self, needle: &str) -> Result<(), String> {
        let chunked = self.head.header("Transfer-Encoding") == Some("chunked");
        while !self.text.contains(needle) {
            let mut piece = Vec::new();
            if chunked {
                let mut line = String::new();
                match self.reader.read_line(&mut line) {
                    Ok(0) => return Err(format!("the stream ended before {needle:?}; received {:?}", self.text)),
                    Ok(_) => {}
                    Err(e) => {
                        return Err(format!(
                            "nothing more within 20 s ({e}) while waiting for {needle:?}; received {:?}",
                            self.text
                        ));
                    }
                }
                let size = usize::from_str_radix(line.trim_end(), 16)
                    .map_err(|_| format!("a bad chunk size line {line:?}"))?;
                if size == 0 {
                    return Err(format!("the stream ended before {needle:?}; received {:?}", self.text));
                }
                piece.resize(size + 2, 0);
                self.reader
                    .read_exact(&mut piece)
                    .map_err(|e| format!("a chunk broke off ({e}); received {:?}", self.text))?;
                piece.truncate(size);
            } else {
                let mut buffer = [0u8; 4096];
                match self.reader.read(&mut buffer) {
                    Ok(0) => return Err(format!("the stream ended before {needle:?}; received {:?}", self.text)),
                    Ok(n) => piece.extend_from_slice(&buffer[..n]),
                    Err(e) => {
                        return Err(format!(
                            "nothing more within 20 s ({e}) while waiting for {needle:?}; received {:?}",
                            self.text
                        ));
                    }
                }
            }
            self.text.push_str(&String::from_utf8_lossy(&piece));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Backend processes.

/// Command lines of the running processes that contain `tag` (Linux: every process, Wine's
/// included, whose /proc cmdline has it; Windows: Win32_Process through PowerShell).
pub fn processes_with(tag: &str) -> Vec<String> {
    if cfg!(windows) {
        let script = format!(
            "Get-CimInstance Win32_Process | Where-Object {{ $_.CommandLine -like '*{tag}*' -and $_.Name -like 'archway_backend*' }} | ForEach-Object {{ $_.CommandLine }}"
        );
        let out = super::output_within(
            std::process::Command::new("powershell").args(["-NoProfile", "-Command", &script]),
            Duration::from_secs(60),
        );
        return String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_string)
            .collect();
    }
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(bytes) = std::fs::read(entry.path().join("cmdline")) else { continue };
        let line = String::from_utf8_lossy(&bytes).replace('\0', " ");
        // The Windows process itself (its command line names the exe), not `start.exe` or a
        // wrapper that mentions the same words.
        if line.contains(tag) && line.contains("archway_backend") && !line.contains("start.exe") {
            found.push(line.trim().to_string());
        }
    }
    found
}

/// Waits up to `limit` until no process carries `tag`; the ones left otherwise.
pub fn wait_until_gone(tag: &str, limit: Duration) -> Vec<String> {
    let end = Instant::now() + limit;
    loop {
        let left = processes_with(tag);
        if left.is_empty() || Instant::now() >= end {
            return left;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The last `n` lines of `text`, each ending in a newline.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].iter().map(|l| format!("{l}\n")).collect()
}

/// Everything the stdout log files in `dir` hold (the server's own account of a failure).
pub fn server_logs(dir: &Path) -> String {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir).into_iter().flatten().flatten().map(|e| e.path()).collect();
    names.sort();
    names
        .iter()
        .map(|p| {
            format!(
                "--- {}\n{}",
                p.display(),
                tail(&String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()), 40)
            )
        })
        .collect()
}

/// Lines of a file (0 when it does not exist).
pub fn line_count(path: &Path) -> usize {
    std::fs::read_to_string(path).map(|t| t.lines().count()).unwrap_or(0)
}
