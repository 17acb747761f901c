//! Pool rows on the worker stand-in (`tests/worker`, a program that plays w3wp.exe): the
//! package laid out from its MSI, the stand-in installed where IIS keeps its worker, the
//! generated `applicationHost.config`, then one worker per row started as WAS would start it,
//! HTTP requests sent to it, and its answers checked.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use super::{
    apphost::AppHost,
    check,
    install::Installed,
    rows::{PoolRow, WorkerArch},
};
use crate::{cmd::Running, winhost::WindowsHost};

/// How long a worker may take to say it is ready (the first Wine start in a prefix is slow).
const READY_TIMEOUT: Duration = Duration::from_secs(90);
/// How long a worker may take to stop after its stdin closes.
const STOP_GRACE: Duration = Duration::from_secs(15);
/// Requests on one kept-alive connection, and concurrent clients × requests each.
const SEQUENTIAL: usize = 8;
const CLIENTS: usize = 4;
const PER_CLIENT: usize = 4;

/// Where the stand-in lives on a host, as w3wp.exe does: `System32\inetsrv` for 64-bit
/// workers, `SysWOW64\inetsrv` for x86 ones.
pub fn worker_windows_path(worker: WorkerArch) -> &'static str {
    if worker.is_64bit() {
        r"C:\windows\system32\inetsrv\archway_worker.exe"
    } else {
        r"C:\windows\syswow64\inetsrv\archway_worker.exe"
    }
}

/// Copies the stand-in built for `arch` (from `bin_dir`) to its place on `host`.
pub fn install_worker(host: &dyn WindowsHost, bin_dir: &Path, worker: WorkerArch, arch: WorkerArch) -> Result<String> {
    let from = bin_dir.join(format!("archway_worker_{}.exe", arch.name()));
    if !from.is_file() {
        bail!(
            "{} is missing: build it with `cargo xtask build --arch {}` (or give --bin-dir)",
            from.display(),
            arch.name()
        );
    }
    let windows = worker_windows_path(worker);
    let to = host_path(host, windows);
    std::fs::create_dir_all(to.parent().expect("has a folder"))?;
    std::fs::copy(&from, &to).with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
    Ok(windows.to_string())
}

/// This machine's path of a `C:\…` path on `host`.
pub fn host_path(host: &dyn WindowsHost, windows: &str) -> PathBuf {
    let mut path = host.drive_c();
    for part in windows.trim_start_matches("C:\\").split('\\').filter(|p| !p.is_empty()) {
        path.push(part);
    }
    path
}

/// Writes the configuration for `rows` on `host` (sites in `C:\inetpub\<row>`) and returns its
/// Windows path.
pub fn write_config(host: &dyn WindowsHost, apphost: &AppHost) -> Result<String> {
    for site in &apphost.pools {
        std::fs::create_dir_all(host_path(host, &site.physical_path))?;
    }
    let windows = r"C:\inetpub\archway-pools\applicationHost.config";
    crate::fsx::write_atomic(&host_path(host, windows), apphost.xml().as_bytes())?;
    Ok(windows.to_string())
}

/// A started worker that said it is ready.
pub struct Worker {
    pub running: Running,
    /// `127.0.0.1:<port>`.
    pub address: String,
    /// The module path the worker expanded and loaded, from its `module … loaded from` line.
    pub loaded: Option<String>,
}

/// Starts the stand-in at `exe` for pool `pool` with `config`, waiting until it listens.
pub fn start_worker(
    host: &dyn WindowsHost,
    exe: &str,
    pool: &str,
    config: &str,
    env: &[(String, String)],
) -> Result<Worker> {
    let args = ["-ap", pool, "-h", config, "-max-seconds", "600"].map(String::from);
    let running = host.command(exe, &args, env).start()?;
    running.wait_for_line(READY_TIMEOUT, |l| l.trim_end() == "archway_worker: ready")?;
    let stdout = running.stdout();
    let address = stdout
        .lines()
        .find_map(|l| {
            l.strip_prefix("archway_worker: listening ")?.split_whitespace().find_map(|w| w.strip_prefix("address="))
        })
        .map(str::to_string)
        .with_context(|| format!("the worker said ready but no `listening … address=` line:\n{stdout}"))?;
    let loaded = stdout.lines().find_map(|l| {
        l.strip_prefix("archway_worker: module ")?.split_once(" loaded from ").map(|(_, p)| p.trim_end().to_string())
    });
    Ok(Worker { running, address, loaded })
}

/// An HTTP client with a deadline on every request; statuses are answers, not errors.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .http_status_as_error(false)
        .build()
        .into()
}

/// GET `path` from the worker: status and body.
pub fn get(agent: &ureq::Agent, address: &str, path: &str) -> Result<(u16, String)> {
    let url = format!("http://{address}{path}");
    let mut response = agent.get(&url).call().with_context(|| format!("GET {url}"))?;
    let status = response.status().as_u16();
    let body = response.body_mut().read_to_string().with_context(|| format!("reading the body of GET {url}"))?;
    Ok((status, body))
}

/// What one row did.
pub struct RowRun {
    pub module: String,
    pub served: usize,
    pub problems: Vec<String>,
}

/// Runs `row`'s worker (the stand-in built for `started_as`, normally the row's own worker)
/// against the installed package and checks every answer.
pub fn run_row(
    host: &dyn WindowsHost,
    row: &PoolRow,
    exe: &str,
    config: &str,
    installed: &Installed,
    env: &[(String, String)],
) -> Result<RowRun> {
    let worker = start_worker(host, exe, &row.name, config, env)?;
    let mut problems = Vec::new();
    let image = check::expected_image(row);
    match &worker.loaded {
        Some(path) if path.eq_ignore_ascii_case(&image) => {}
        Some(path) => problems.push(format!(
            "the worker loaded {path} (expected {image}: %ProgramFiles% as a {} process expands it)",
            row.worker
        )),
        None => problems.push("the worker did not say which module it loaded".to_string()),
    }
    let agent = agent();
    let url = format!("/pools/{}", row.name);
    let mut served = 0;
    let mut module = String::new();
    match get(&agent, &worker.address, &format!("{url}?first=1")) {
        Ok((200, body)) => {
            served += 1;
            match serde_json::from_str::<Value>(&body) {
                Ok(json) => {
                    let seen = check::diagnostics(row, installed, &url, &json, &mut problems);
                    module = seen.shim_path;
                }
                Err(e) => problems.push(format!("the answer is not JSON ({e}): {body}")),
            }
        }
        Ok((status, body)) => problems.push(format!("GET {url}: {status} {}", first_line(&body))),
        Err(e) => problems.push(format!("{e:#}")),
    }
    // Kept-alive requests one after another, then several clients at once.
    for i in 0..SEQUENTIAL {
        match get(&agent, &worker.address, &format!("{url}?seq={i}")) {
            Ok((200, _)) => served += 1,
            Ok((status, body)) => problems.push(format!("request {i} in sequence: {status} {}", first_line(&body))),
            Err(e) => problems.push(format!("request {i} in sequence: {e:#}")),
        }
    }
    let address = worker.address.clone();
    let concurrent: Vec<Result<usize, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let (address, url) = (&address, &url);
                scope.spawn(move || {
                    let agent = self::agent();
                    let mut ok = 0;
                    for i in 0..PER_CLIENT {
                        match get(&agent, address, &format!("{url}?client={c}&n={i}")) {
                            Ok((200, _)) => ok += 1,
                            Ok((status, body)) => {
                                return Err(format!("client {c} request {i}: {status} {}", first_line(&body)));
                            }
                            Err(e) => return Err(format!("client {c} request {i}: {e:#}")),
                        }
                    }
                    Ok(ok)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err("a client thread panicked".into()))).collect()
    });
    for result in concurrent {
        match result {
            Ok(n) => served += n,
            Err(e) => problems.push(e),
        }
    }
    let done = worker.running.stop(STOP_GRACE)?;
    if done.killed || done.code != Some(0) {
        problems.push(format!(
            "the worker did not stop cleanly on end of input (exit {:?}, killed {}): {}",
            done.code,
            done.killed,
            tail(&done.stderr)
        ));
    }
    let want = 1 + SEQUENTIAL + CLIENTS * PER_CLIENT;
    if served != want && problems.is_empty() {
        problems.push(format!("{served} of {want} requests served"));
    }
    Ok(RowRun { module, served, problems })
}

/// The faults a pool must report the way IIS does, planted one at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// A DLL of another machine at the module's path: 503, event 2280 with error 193.
    WrongArchModule,
    /// The handler the shim loads is gone: 500, naming the file and error 126.
    MissingHandler,
    /// A syntax error in applicationHost.config: the worker refuses to start, naming file and line.
    BrokenConfig,
}

impl Fault {
    pub const ALL: [Fault; 3] = [Fault::WrongArchModule, Fault::MissingHandler, Fault::BrokenConfig];

    pub fn name(self) -> &'static str {
        match self {
            Fault::WrongArchModule => "wrong-architecture module (193)",
            Fault::MissingHandler => "missing handler (126)",
            Fault::BrokenConfig => "broken applicationHost.config",
        }
    }
}

/// Plants `fault` for `row`, checks the worker reports it by name, and removes it again
/// (`restore` lays the package out anew). Returns the problems (empty: reported as it must be).
pub fn run_fault(
    host: &dyn WindowsHost,
    row: &PoolRow,
    exe: &str,
    config: &str,
    installed: &Installed,
    env: &[(String, String)],
    fault: Fault,
) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    let image = check::expected_image(row);
    match fault {
        Fault::WrongArchModule => {
            // The other bitness's build of the same module: what a mix-up of the two Program
            // Files folders would put there.
            let other = if row.worker.is_64bit() {
                r"C:\Program Files (x86)\Archway\archway.dll"
            } else {
                r"C:\Program Files\Archway\archway.dll"
            };
            let from = installed.file(other).with_context(|| format!("the package has no {other} to plant"))?;
            let to = installed.file(&image).with_context(|| format!("the package has no {image}"))?;
            std::fs::copy(&from.host_path, &to.host_path)?;
            let worker = start_worker(host, exe, &row.name, config, env)?;
            let (status, _) = get(&agent(), &worker.address, "/fault")?;
            let done = worker.running.stop(STOP_GRACE)?;
            if status != 503 {
                problems.push(format!("status {status} (expected 503: the pool cannot serve without its module)"));
            }
            let event = done.stderr.lines().find(|l| l.contains("event 2280"));
            match event {
                Some(line) if line.contains("193") && contains_nocase(line, &image) => {}
                Some(line) => problems.push(format!("event 2280 does not name {image} and error 193: {line}")),
                None => problems.push(format!("no event 2280 in the worker's log: {}", tail(&done.stderr))),
            }
        }
        Fault::MissingHandler => {
            let folder = &image[..image.rfind('\\').unwrap_or(0)];
            let forwarder = installed.file(&image).is_some_and(|f| f.forwarder);
            let suffix = if forwarder { format!("_{}", row.worker.name()) } else { String::new() };
            let handler = format!(r"{folder}\archway_diagnostics{suffix}.dll");
            let file = installed.file(&handler).with_context(|| format!("the package has no {handler}"))?;
            std::fs::remove_file(&file.host_path)?;
            // Detailed errors on, as an operator diagnosing a pool would switch them on.
            let mut env = env.to_vec();
            env.push(("ARCHWAY_DETAILED_ERRORS".to_string(), "1".to_string()));
            let worker = start_worker(host, exe, &row.name, config, &env)?;
            let (status, body) = get(&agent(), &worker.address, "/fault")?;
            worker.running.stop(STOP_GRACE)?;
            let name = handler.rsplit('\\').next().unwrap_or_default();
            if status != 500 || !body.contains(name) || !body.contains("126") {
                problems.push(format!(
                    "status {status}, body {:?} (expected 500 naming {name} and error 126)",
                    first_line(&body)
                ));
            }
        }
        Fault::BrokenConfig => {
            let config_host = host_path(host, config);
            let good = std::fs::read_to_string(&config_host)?;
            let (broken, line) = break_config(&good);
            std::fs::write(&config_host, broken)?;
            let result = start_worker(host, exe, &row.name, config, env);
            std::fs::write(&config_host, good)?;
            match result {
                Ok(worker) => {
                    worker.running.stop(STOP_GRACE)?;
                    problems.push(format!("the worker started with a broken configuration (line {line})"));
                }
                Err(e) => {
                    let text = format!("{e:#}");
                    let want = format!("applicationHost.config({line},");
                    if !text.contains(&want) {
                        problems.push(format!("the error does not name {want}…): {}", tail(&text)));
                    }
                }
            }
        }
    }
    Ok(problems)
}

/// The configuration with an element whose attribute has no value inserted before `<sites>`,
/// and the line it is on.
pub fn break_config(good: &str) -> (String, usize) {
    let mut lines: Vec<&str> = good.lines().collect();
    let at = lines.iter().position(|l| l.trim_start().starts_with("<sites>")).unwrap_or(lines.len() / 2);
    lines.insert(at, "    <broken attribute= />");
    (lines.join("\n") + "\n", at + 1)
}

fn contains_nocase(haystack: &str, needle: &str) -> bool {
    haystack.to_lowercase().contains(&needle.to_lowercase())
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().rev().take(12).collect();
    lines.into_iter().rev().collect::<Vec<_>>().join("\n")
}

/// Seconds since `start`, for progress lines.
pub fn elapsed(start: Instant) -> String {
    format!("{:.1} s", start.elapsed().as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_broken_config_names_the_line_it_broke() {
        let good = "<configuration>\n  <system.applicationHost>\n    <sites>\n    </sites>\n";
        let (broken, line) = break_config(good);
        assert_eq!(line, 3);
        assert_eq!(broken.lines().nth(2), Some("    <broken attribute= />"));
    }

    #[test]
    fn workers_live_where_w3wp_does() {
        assert_eq!(worker_windows_path(WorkerArch::X86), r"C:\windows\syswow64\inetsrv\archway_worker.exe");
        assert_eq!(worker_windows_path(WorkerArch::Arm64), r"C:\windows\system32\inetsrv\archway_worker.exe");
    }
}
