//! The platform handler on real IIS: for each pool row, a second site in the same pool whose
//! `web.config` has `<httpPlatform processPath=…>` naming the test backend (`tests/backend`,
//! copied into the site's folder), requested through IIS: the echo (the server started with
//! HTTP_PLATFORM_PORT, HTTP_PLATFORM_IIS_HTTPAUTH and HTTP_PLATFORM_IIS_PHYSICAL_PATH, the request
//! forwarded with the headers of docs/httpplatform.md §3) and server-sent events (each event reaches the client before the backend may send the next),
//! and a WebSocket exchange with the backend's `/ws` echo through IIS's WebSocket module
//! ([`super::websocket`]; the [UNCERTAIN] points of docs/iis.md §9.3 are what it checks).

use std::path::{Path, PathBuf};

use anyhow::Result;
use serde_json::Value;

use super::System;
use crate::pools::{apphost::MODULE_NAME, rows::PoolRow};

/// One row's platform site.
#[derive(Clone, Debug)]
pub struct PlatformSite {
    pub row: PoolRow,
    pub name: String,
    pub site_id: u32,
    pub port: u16,
    /// The site's folder, as Windows names it.
    pub physical_path: String,
    /// The backend built for the row's worker, on this machine.
    pub backend: PathBuf,
}

impl PlatformSite {
    /// The row's platform site: `<row>-platform`, site ids from 201 up (the pool sites use 101+).
    pub fn new(row: &PoolRow, index: usize, port: u16, bin_dir: &Path) -> PlatformSite {
        PlatformSite {
            row: row.clone(),
            name: format!("{}-platform", row.name),
            site_id: 201 + index as u32,
            port,
            physical_path: format!(r"C:\inetpub\archway-{}-platform", row.name),
            backend: bin_dir.join(backend_file(row)),
        }
    }

    /// The backend's path in the site's folder, as Windows names it.
    pub fn backend_in_site(&self) -> String {
        format!(r"{}\{}", self.physical_path, backend_file(&self.row))
    }

    /// The site's web.config: what a site written for HttpPlatformHandler has (a `.`-relative
    /// processPath, arguments, startupTimeLimit), with a short safety net for the backend.
    pub fn web_config(&self) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<configuration>\n  <system.webServer>\n    <httpPlatform processPath=\".\\{}\" arguments=\"--max-seconds 900\" startupTimeLimit=\"60\" />\n  </system.webServer>\n</configuration>\n",
            backend_file(&self.row)
        )
    }

    /// appcmd argument lists that make the site in the row's pool with archway as its handler.
    /// The handler mapping is set in applicationHost.config at the site's location
    /// (`/commit:apphost`): IIS locks `system.webServer/handlers` in web.config by default
    /// (overrideModeDefault="Deny"), and a module that registers for
    /// RQ_EXECUTE_REQUEST_HANDLER is called only when a mapping names it (docs/iis.md §4.6).
    /// [UNCERTAIN] that the shim needs the mapping at all on IIS; this step in the Windows jobs
    /// (`pools --host iis`) is what checks it.
    pub fn appcmd_create(&self) -> Vec<Vec<String>> {
        let name = &self.name;
        vec![
            vec![
                "add".into(),
                "site".into(),
                format!("/name:{name}"),
                format!("/id:{}", self.site_id),
                format!("/bindings:http/127.0.0.1:{}:", self.port),
                format!("/physicalPath:{}", self.physical_path),
            ],
            vec!["set".into(), "app".into(), format!("{name}/"), format!("/applicationPool:{}", self.row.name)],
            vec![
                "set".into(),
                "config".into(),
                name.clone(),
                "/section:system.webServer/handlers".into(),
                format!(
                    "/+[name='archway-platform',path='*',verb='*',modules='{MODULE_NAME}',resourceType='Unspecified',requireAccess='Script']"
                ),
                "/commit:apphost".into(),
            ],
        ]
    }

    pub fn appcmd_delete(&self) -> Vec<Vec<String>> {
        vec![vec!["delete".into(), "site".into(), self.name.clone()]]
    }

    /// Requests through IIS and what their answers must be: the problems found (none: passed).
    pub fn check(&self, system: &mut dyn System) -> (usize, Vec<String>) {
        let mut problems = Vec::new();
        let mut served = 0;
        let url = format!("/platform/{}?first=1&env={HTTPAUTH},{PHYSICAL_PATH}", self.row.name);
        match system.get(self.port, &url) {
            Ok((200, body)) => match serde_json::from_str::<Value>(&body) {
                Ok(json) => {
                    served += 1;
                    echo_problems(&json, &url, &mut problems);
                    iis_env_problems(&json, &self.physical_path, &mut problems);
                }
                Err(e) => problems.push(format!("GET {url}: not the backend's JSON ({e}): {}", first_line(&body))),
            },
            Ok((status, body)) => problems.push(format!("GET {url}: {status} {}", first_line(&body))),
            Err(e) => problems.push(format!("GET {url}: {e:#}")),
        }
        let id = format!("iis-{}", self.row.name);
        match system.events(self.port, &format!("/sse?id={id}&events=3"), &format!("/sse/release?id={id}"), 3) {
            Ok(events) if events.len() == 3 => served += 1,
            Ok(events) => {
                problems.push(format!("server-sent events: {} of 3 arrived one by one: {events:?}", events.len()))
            }
            Err(e) => problems.push(format!("server-sent events: {e:#}")),
        }
        (served, problems)
    }
}

impl PlatformSite {
    /// The WebSocket step: the backend's environment says IIS supports WebSocket, and an
    /// exchange with `/ws` through IIS passes ([`super::websocket::exchange`]). The problems found.
    pub fn check_websocket(&self, system: &mut dyn System) -> (usize, Vec<String>) {
        let mut problems = Vec::new();
        let mut served = 0;
        let url = format!("/platform/{}/websocket?env={WEBSOCKETS_SUPPORTED}", self.row.name);
        match system.get(self.port, &url) {
            Ok((200, body)) => match serde_json::from_str::<Value>(&body) {
                Ok(json) if json["env"][WEBSOCKETS_SUPPORTED] == "true" => served += 1,
                Ok(json) => problems.push(format!(
                    "{WEBSOCKETS_SUPPORTED} is {} in the server's environment, not \"true\": is IIS's WebSocket \
                     Protocol feature installed (Web-WebSockets, IIS-WebSockets) and WebSocketModule in \
                     <modules>? (docs/httpplatform.md §9)",
                    json["env"][WEBSOCKETS_SUPPORTED]
                )),
                Err(e) => problems.push(format!("GET {url}: not the backend's JSON ({e}): {}", first_line(&body))),
            },
            Ok((status, body)) => problems.push(format!("GET {url}: {status} {}", first_line(&body))),
            Err(e) => problems.push(format!("GET {url}: {e:#}")),
        }
        let key = super::websocket::key_for(&self.row.name);
        let host = format!("127.0.0.1:{}", self.port);
        match system.connect(self.port) {
            Ok(mut stream) => match super::websocket::exchange(stream.as_mut(), &host, "/ws", &key) {
                Ok(_) => served += 1,
                Err(e) => problems.push(format!("WebSocket through IIS to /ws: {e:#}")),
            },
            Err(e) => problems.push(format!("WebSocket: cannot connect to {host}: {e:#}")),
        }
        // Last: the backend exits under an open session (the next request starts it again).
        match system.connect(self.port) {
            Ok(mut stream) => {
                let mut kill = || match system.get(self.port, "/crash?code=7") {
                    Ok((status, body)) => format!("GET /crash?code=7: {status} {}", first_line(&body)),
                    Err(e) => format!("GET /crash?code=7: {e:#}"),
                };
                match super::websocket::abort_exchange(stream.as_mut(), &host, "/ws", &key, &mut kill) {
                    Ok(_) => served += 1,
                    Err(e) => problems.push(format!("WebSocket through IIS, the backend exiting mid-session: {e:#}")),
                }
            }
            Err(e) => problems.push(format!("WebSocket: cannot connect to {host}: {e:#}")),
        }
        if !problems.is_empty() {
            problems.insert(
                0,
                "the WebSocket path has [UNCERTAIN] points only real IIS settles (docs/iis.md §9.3); what \
                 IIS did is below: update module/src/duplex.cpp and the docs"
                    .into(),
            );
        }
        (served, problems)
    }
}

/// The variables the handler sets for the server (docs/httpplatform.md §9).
const WEBSOCKETS_SUPPORTED: &str = "HTTP_PLATFORM_IIS_WEBSOCKETS_SUPPORTED";
const HTTPAUTH: &str = "HTTP_PLATFORM_IIS_HTTPAUTH";
const PHYSICAL_PATH: &str = "HTTP_PLATFORM_IIS_PHYSICAL_PATH";

/// What the backend's environment must say on a site `pools` made in `folder` (docs/httpplatform.md
/// §9): `anonymous;` and the folder with a trailing backslash (any case, as Windows compares
/// paths). [UNCERTAIN] both, until the Windows jobs' `pools --host iis` (windows x64 and
/// windows-11-arm) run this: `anonymous;` assumes IIS's default applicationHost.config
/// (anonymous on at the server level) and no Windows or Basic authentication enabled (the jobs
/// install neither feature); the path assumes APPL_PHYSICAL_PATH is the site's physicalPath plus
/// a backslash.
pub fn iis_env_problems(json: &Value, folder: &str, problems: &mut Vec<String>) {
    if json["env"][HTTPAUTH] != "anonymous;" {
        problems.push(format!(
            "{HTTPAUTH} is {} in the server's environment, not \"anonymous;\" (a new site: anonymous \
             authentication on, Windows and Basic off; docs/httpplatform.md §9)",
            json["env"][HTTPAUTH]
        ));
    }
    let expected = format!("{}\\", folder.trim_end_matches('\\'));
    if !json["env"][PHYSICAL_PATH].as_str().is_some_and(|p| p.eq_ignore_ascii_case(&expected)) {
        problems.push(format!(
            "{PHYSICAL_PATH} is {} in the server's environment, not {expected:?} (the site's folder with a \
             trailing backslash; docs/httpplatform.md §9)",
            json["env"][PHYSICAL_PATH]
        ));
    }
}

/// `archway_backend_<arch>.exe` for the row's worker.
fn backend_file(row: &PoolRow) -> String {
    format!("archway_backend_{}.exe", row.worker.name())
}

/// What the backend's echo of `url` must say when it came through the platform handler.
pub fn echo_problems(json: &Value, url: &str, problems: &mut Vec<String>) {
    let header = |name: &str| -> Vec<String> {
        json["headers"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|h| h[0].as_str().is_some_and(|n| n.eq_ignore_ascii_case(name)))
                    .filter_map(|h| h[1].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    if json["backend"] != "archway_backend" {
        problems.push(format!("not the backend's echo: {json}"));
        return;
    }
    if json["method"] != "GET" || json["url"] != url {
        problems.push(format!("the backend saw {} {} (expected GET {url})", json["method"], json["url"]));
    }
    let port = json["port"].as_u64().map(|p| p.to_string());
    if port.is_none() || json["env"]["HTTP_PLATFORM_PORT"].as_str() != port.as_deref() {
        problems.push(format!(
            "HTTP_PLATFORM_PORT {} is not the port the backend listens on ({})",
            json["env"]["HTTP_PLATFORM_PORT"], json["port"]
        ));
    }
    let token = json["env"]["HTTP_PLATFORM_TOKEN"].as_str().unwrap_or_default();
    if token.is_empty() || header("MS-ASPNETCORE-TOKEN") != [token] {
        problems.push(format!(
            "MS-ASPNETCORE-TOKEN {:?} is not the server's HTTP_PLATFORM_TOKEN {token:?} (docs/httpplatform.md §3)",
            header("MS-ASPNETCORE-TOKEN")
        ));
    }
    if header("X-Forwarded-Proto") != ["http"] {
        problems.push(format!("X-Forwarded-Proto {:?} (expected [\"http\"])", header("X-Forwarded-Proto")));
    }
    if !header("X-Forwarded-For").first().is_some_and(|v| v.starts_with("127.0.0.1:")) {
        problems
            .push(format!("X-Forwarded-For {:?} (expected the client's 127.0.0.1:<port>)", header("X-Forwarded-For")));
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

/// The real machine's side of [`System::events`]: opens `stream` on the site, reads until event
/// n has arrived, and only then asks the backend for event n+1 through `release`. An event held
/// back by IIS or the handler stalls the read: 30 s, then an error saying so.
pub fn read_events(port: u16, stream: &str, release: &str, count: usize) -> Result<Vec<String>> {
    use std::io::{BufRead, BufReader, Read, Write};
    let mut socket = std::net::TcpStream::connect(("127.0.0.1", port))?;
    socket.set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
    write!(socket, "GET {stream} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n\r\n")?;
    let mut reader = BufReader::new(socket);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    if line.split(' ').nth(1) != Some("200") {
        anyhow::bail!("GET {stream}: {}", line.trim_end());
    }
    let mut chunked = false;
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        if line.trim_end().is_empty() {
            break;
        }
        if let Some((n, v)) = line.split_once(':') {
            chunked |= n.eq_ignore_ascii_case("transfer-encoding") && v.trim().eq_ignore_ascii_case("chunked");
        }
    }
    let mut text = String::new();
    let mut events = Vec::new();
    for n in 1..=count {
        let wanted = format!("data: event {n}\n\n");
        while !text.contains(&wanted) {
            let mut piece = vec![0u8; 4096];
            let got = if chunked {
                line.clear();
                reader.read_line(&mut line)?;
                let size = usize::from_str_radix(line.trim_end(), 16)
                    .map_err(|_| anyhow::anyhow!("a bad chunk size line {line:?}"))?;
                piece.resize(size + 2, 0);
                reader.read_exact(&mut piece).map_err(|e| {
                    anyhow::anyhow!(
                        "event {n} did not arrive before event {} was allowed ({e}); received {text:?}",
                        n + 1
                    )
                })?;
                size
            } else {
                reader.read(&mut piece).map_err(|e| {
                    anyhow::anyhow!(
                        "event {n} did not arrive before event {} was allowed ({e}); received {text:?}",
                        n + 1
                    )
                })?
            };
            if got == 0 {
                anyhow::bail!("the stream ended before event {n}; received {text:?}");
            }
            text.push_str(&String::from_utf8_lossy(&piece[..got]));
        }
        events.push(format!("event {n}"));
        if n < count {
            let agent = crate::pools::standin::agent();
            let (status, body) = crate::pools::standin::get(&agent, &format!("127.0.0.1:{port}"), release)?;
            if status != 200 {
                anyhow::bail!("GET {release}: {status} {}", first_line(&body));
            }
        }
    }
    Ok(events)
}
