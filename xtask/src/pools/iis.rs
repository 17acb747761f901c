//! The pool rows on real IIS (the Windows CI jobs, elevated): the platform MSI installed with
//! msiexec (which registers the module), one pool and site per row made with appcmd from the
//! same [`AppHost`] the stand-in reads, the same requests and checks, then — with `--upgrade` —
//! a next-version MSI installed while the pools run, the pools recycled and checked again, and
//! the product removed and the module seen unregistered. Every step has a deadline; a failure
//! prints the logs IIS and Windows Installer leave.
//!
//! After the first round of requests, each pool also serves a platform-handler site
//! ([`platform`]): `<httpPlatform>` in its web.config starting the test backend, requested
//! through IIS (echo and server-sent events), and a WebSocket exchange ([`websocket`]) on its
//! own line.
//!
//! Everything that talks to Windows goes through [`System`], so the sequence is tested on Linux
//! with recorded command lines and canned answers.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use super::{Line, Outcome, apphost::AppHost, check, find_package, install::Installed, line, rows::PoolRow, standin};
use crate::{cmd::Cmd, installer::log, project::Project};

const MSIEXEC_TIMEOUT: Duration = Duration::from_secs(600);
const APPCMD_TIMEOUT: Duration = Duration::from_secs(120);

/// What the IIS sequence needs from the machine.
pub trait System {
    /// Runs a command to completion (deadline included) and returns what it printed.
    fn run(&mut self, cmd: Cmd) -> Result<crate::cmd::Output>;
    /// GET `http://127.0.0.1:<port><path>`: status and body.
    fn get(&mut self, port: u16, path: &str) -> Result<(u16, String)>;
    /// A free loopback port.
    fn free_port(&mut self) -> Result<u16>;
    /// Opens the event stream `stream` on the site at `port`, and reads its `count` events one
    /// by one, calling `release` after each so the backend sends the next: the events received.
    fn events(&mut self, port: u16, stream: &str, release: &str, count: usize) -> Result<Vec<String>>;
    /// Writes `bytes` to the Windows path `path` (folders created).
    fn write_file(&mut self, path: &str, bytes: &[u8]) -> Result<()>;
    /// Copies `from` (this machine) to the Windows path `to` (folders created).
    fn copy_file(&mut self, from: &Path, to: &str) -> Result<()>;
    /// A connection to `127.0.0.1:<port>` for the WebSocket step.
    fn connect(&mut self, port: u16) -> Result<Box<dyn websocket::Stream>>;
}

/// The machine itself.
struct Real {
    agent: ureq::Agent,
}

impl System for Real {
    fn run(&mut self, cmd: Cmd) -> Result<crate::cmd::Output> {
        cmd.output()
    }
    fn get(&mut self, port: u16, path: &str) -> Result<(u16, String)> {
        standin::get(&self.agent, &format!("127.0.0.1:{port}"), path)
    }
    fn free_port(&mut self) -> Result<u16> {
        Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
    }
    fn events(&mut self, port: u16, stream: &str, release: &str, count: usize) -> Result<Vec<String>> {
        platform::read_events(port, stream, release, count)
    }
    fn write_file(&mut self, path: &str, bytes: &[u8]) -> Result<()> {
        let path = Path::new(path);
        std::fs::create_dir_all(path.parent().context("a file path has a folder")?)?;
        crate::fsx::write_atomic(path, bytes)
    }
    fn copy_file(&mut self, from: &Path, to: &str) -> Result<()> {
        let to = Path::new(to);
        std::fs::create_dir_all(to.parent().context("a file path has a folder")?)?;
        std::fs::copy(from, to).with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
        Ok(())
    }
    fn connect(&mut self, port: u16) -> Result<Box<dyn websocket::Stream>> {
        let at = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        Ok(Box::new(std::net::TcpStream::connect_timeout(&at, websocket::STEP_DEADLINE)?))
    }
}

/// Where IIS's tools are.
#[derive(Clone, Debug)]
pub struct Tools {
    pub appcmd: PathBuf,
    pub msiexec: PathBuf,
    /// Where msiexec logs go.
    pub logs: PathBuf,
}

impl Tools {
    fn find(logs: PathBuf) -> Result<Tools> {
        let windir =
            PathBuf::from(std::env::var_os("windir").context("windir is not set: --host iis runs on Windows only")?);
        let appcmd = windir.join(r"system32\inetsrv\appcmd.exe");
        if !appcmd.is_file() {
            bail!(
                "{} is missing: IIS is not enabled. Windows Server: `{}`; Windows 11: `{}`",
                appcmd.display(),
                crate::ci::ENABLE_IIS_SERVER,
                crate::ci::ENABLE_IIS_CLIENT
            );
        }
        Ok(Tools { appcmd, msiexec: windir.join(r"system32\msiexec.exe"), logs })
    }

    fn appcmd(&self, args: &[String]) -> Cmd {
        Cmd::new(&self.appcmd).args(args).timeout(APPCMD_TIMEOUT)
    }

    fn msiexec(&self, action: &str, msi: &Path, log: &str) -> Cmd {
        Cmd::new(&self.msiexec)
            .arg(action)
            .arg(msi)
            .args(["/qn", "/norestart", "/l*v"])
            .arg(self.logs.join(log))
            .timeout(MSIEXEC_TIMEOUT)
    }
}

pub fn run(project: &Project, rows: &[PoolRow], packages: &Path, upgrade: bool) -> Result<Vec<Line>> {
    let here = super::this_windows()
        .context("--host iis runs on Windows with IIS enabled (the Windows CI jobs); on Linux use the stand-in")?;
    let logs = project.target_dir.join("archway").join("pools").join("iis-logs");
    std::fs::create_dir_all(&logs)?;
    let tools = Tools::find(logs)?;
    let (mine, others): (Vec<&PoolRow>, Vec<&PoolRow>) = rows.iter().partition(|r| r.host == here);
    let mut lines: Vec<Line> = others
        .iter()
        .map(|r| line(r, "-", "", 0, Outcome::Elsewhere(format!("needs an {} Windows host", r.host))))
        .collect();
    let platforms = super::packages_of(mine.iter().copied());
    let mut system = Real { agent: standin::agent() };
    // The test backend for the platform-handler sites, from this checkout's build.
    let bin_dir = project.build_dir("release").join("bin");
    // The next version's packages, built once in a copy of the checkout (installer::next).
    let next_set = match upgrade {
        true => Some(crate::installer::next::build(project, &crate::installer::next::scratch(project))?),
        false => None,
    };
    for platform in platforms {
        let group: Vec<PoolRow> = mine.iter().filter(|r| r.package == platform).map(|r| (*r).clone()).collect();
        let msi = find_package(packages, platform)?;
        let installed = super::install::read_installed(&msi, Path::new("C:\\"))?.0;
        let next = match &next_set {
            Some(dir) => {
                let next = find_package(dir, platform)?;
                let upgraded = super::install::read_installed(&next, Path::new("C:\\"))?.0;
                Some((next, upgraded))
            }
            None => None,
        };
        let sequence = Sequence {
            tools: &tools,
            system: &mut system,
            rows: &group,
            msi: (&msi, &installed),
            next: next.as_ref().map(|(p, i)| (p.as_path(), i)),
            bin_dir: &bin_dir,
        };
        let result = sequence.run();
        match result {
            Ok(mut l) => lines.append(&mut l),
            Err(e) => {
                eprintln!("{}", diagnostics(&tools, &mut system));
                return Err(e);
            }
        }
    }
    Ok(lines)
}

/// One platform's install → serve → (upgrade → recycle → serve) → uninstall.
pub struct Sequence<'a> {
    pub tools: &'a Tools,
    pub system: &'a mut dyn System,
    pub rows: &'a [PoolRow],
    /// The package and what it installs.
    pub msi: (&'a Path, &'a Installed),
    /// The next version's package, with `--upgrade`.
    pub next: Option<(&'a Path, &'a Installed)>,
    /// Where the build put `archway_backend_<arch>.exe` (the platform sites' server).
    pub bin_dir: &'a Path,
}

impl Sequence<'_> {
    pub fn run(self) -> Result<Vec<Line>> {
        let Sequence { tools, system, rows, msi: (msi, installed), next, bin_dir } = self;
        let mut lines = Vec::new();
        msiexec(system, tools, "/i", msi, "install.log", "install")?;
        // From here on the product is installed: whatever fails, it is removed again.
        let mut current = msi;
        let mut apphost = None;
        let mut platform_sites: Vec<platform::PlatformSite> = Vec::new();
        let result = (|| -> Result<()> {
            expect_module(system, tools, true)?;
            let mut ports = Vec::new();
            for _ in rows {
                ports.push(system.free_port()?);
            }
            let made = apphost.insert(AppHost::new(rows, |i| ports[i], |r| format!(r"C:\inetpub\archway-{}", r.name)));
            for site in &made.pools {
                std::fs::create_dir_all(&site.physical_path)
                    .with_context(|| format!("cannot create the site folder {}", site.physical_path))?;
            }
            for args in made.appcmd_create() {
                step(system, tools.appcmd(&args), "create the pools")?;
            }
            serve_all(system, made, installed, "", &mut lines)?;
            serve_platform(system, tools, rows, bin_dir, &mut platform_sites, &mut lines)?;
            let Some((next, upgraded)) = next else { return Ok(()) };
            // The seed's upgrade break: a running pool that finds its DLL gone after an upgrade.
            msiexec(system, tools, "/i", next, "upgrade.log", "upgrade while the pools run")?;
            current = next;
            expect_module(system, tools, true)?;
            for site in &made.pools {
                step(
                    system,
                    tools.appcmd(&["recycle".into(), "apppool".into(), format!("/apppool.name:{}", site.row.name)]),
                    "recycle",
                )?;
            }
            serve_all(system, made, upgraded, " · after upgrade", &mut lines)
        })();
        let removed = msiexec(system, tools, "/x", current, "uninstall.log", "uninstall");
        for args in platform_sites
            .iter()
            .flat_map(platform::PlatformSite::appcmd_delete)
            .chain(apphost.iter().flat_map(AppHost::appcmd_delete))
        {
            if let Err(e) = step(system, tools.appcmd(&args), "remove the pools") {
                eprintln!("warning: {e:#}");
            }
        }
        match (result, removed) {
            (Err(e), Err(also)) => return Err(e.context(format!("and the cleanup could not uninstall: {also:#}"))),
            (Err(e), Ok(_)) => return Err(e),
            (Ok(()), Err(e)) => return Err(e),
            (Ok(()), Ok(_)) => {}
        }
        expect_module(system, tools, false)?;
        let mut done = line(&rows[0], "IIS", "", 0, Outcome::Passed);
        done.row = format!("uninstall · {} package", rows[0].package.name());
        lines.push(done);
        Ok(lines)
    }
}

fn serve_all(
    system: &mut dyn System,
    apphost: &AppHost,
    installed: &Installed,
    label: &str,
    lines: &mut Vec<Line>,
) -> Result<()> {
    for site in &apphost.pools {
        let row = &site.row;
        let url = format!("/pools/{}", row.name);
        let mut problems = Vec::new();
        let mut served = 0;
        let mut module = String::new();
        for i in 0..8 {
            match system.get(site.port, &format!("{url}?n={i}")) {
                Ok((200, body)) if i == 0 => match serde_json::from_str::<Value>(&body) {
                    Ok(json) => {
                        served += 1;
                        module = check::diagnostics(row, installed, &url, &json, &mut problems).shim_path;
                    }
                    Err(e) => problems.push(format!("not JSON ({e}): {body}")),
                },
                Ok((200, _)) => served += 1,
                Ok((status, body)) => {
                    problems.push(format!("GET {url}: {status} {}", body.lines().next().unwrap_or_default()))
                }
                Err(e) => problems.push(format!("{e:#}")),
            }
        }
        if let (Some(why), false) = (&row.uncertain, problems.is_empty()) {
            problems.insert(0, format!("this row is UNCERTAIN ({why}); what IIS did is measured below — update matrix.toml and docs/pools.md"));
        }
        let outcome = if problems.is_empty() { Outcome::Passed } else { Outcome::Failed(problems) };
        let mut l = line(row, "IIS", &module, served, outcome);
        l.row.push_str(label);
        lines.push(l);
    }
    Ok(())
}

/// One platform-handler site per row, in the row's pool: made (recorded in `sites` for the
/// cleanup), requested, one line each.
fn serve_platform(
    system: &mut dyn System,
    tools: &Tools,
    rows: &[PoolRow],
    bin_dir: &Path,
    sites: &mut Vec<platform::PlatformSite>,
    lines: &mut Vec<Line>,
) -> Result<()> {
    for (i, row) in rows.iter().enumerate() {
        let port = system.free_port()?;
        let site = platform::PlatformSite::new(row, i, port, bin_dir);
        let mut l = line(row, "IIS", "", 0, Outcome::Passed);
        l.row.push_str(" · platform handler");
        if !site.backend.is_file() {
            l.outcome = Outcome::Failed(vec![format!(
                "{} is missing: build it with `cargo xtask build` (tests/backend) before `pools --host iis`",
                site.backend.display()
            )]);
            lines.push(l);
            continue;
        }
        system.copy_file(&site.backend, &site.backend_in_site())?;
        system.write_file(&format!(r"{}\web.config", site.physical_path), site.web_config().as_bytes())?;
        sites.push(site.clone());
        for args in site.appcmd_create() {
            step(system, tools.appcmd(&args), "create the platform site")?;
        }
        let (served, problems) = site.check(system);
        l.served = served;
        l.module = site.backend_in_site();
        if !problems.is_empty() {
            l.outcome = Outcome::Failed(problems);
        }
        let mut ws = l.clone();
        lines.push(l);
        ws.row = format!("{} · platform websocket", row.name);
        let (served, problems) = site.check_websocket(system);
        ws.served = served;
        ws.outcome = if problems.is_empty() { Outcome::Passed } else { Outcome::Failed(problems) };
        lines.push(ws);
    }
    Ok(())
}

fn step(system: &mut dyn System, cmd: Cmd, what: &str) -> Result<crate::cmd::Output> {
    let shown = cmd.to_string();
    let out = system.run(cmd).with_context(|| format!("{what}: {shown}"))?;
    if !out.success {
        bail!("{what} failed (exit {:?}): {shown}\n{}{}", out.code, out.stdout, out.stderr);
    }
    Ok(out)
}

/// msiexec `action` on `msi` with a verbose log; 3010 and 1641 are success with a restart wanted
/// (docs/pools.md, "Configuring IIS"). A failure carries the log's error lines.
fn msiexec(system: &mut dyn System, tools: &Tools, action: &str, msi: &Path, log: &str, what: &str) -> Result<()> {
    let cmd = tools.msiexec(action, msi, log);
    let shown = cmd.to_string();
    let out = system.run(cmd).with_context(|| format!("{what}: {shown}"))?;
    if out.success || matches!(out.code, Some(3010 | 1641)) {
        return Ok(());
    }
    let path = tools.logs.join(log);
    let relevant =
        std::fs::read(&path).map(|bytes| log::excerpt(&log::decode(&bytes), 40).join("\n")).unwrap_or_default();
    bail!("{what} failed (exit {:?}): {shown}\nlog {}:\n{relevant}", out.code, path.display());
}

/// Whether IIS's `globalModules` lists the module (what `appcmd install module`, run by the
/// MSI's custom action, adds; `uninstall module` removes it).
fn expect_module(system: &mut dyn System, tools: &Tools, registered: bool) -> Result<()> {
    let out = system.run(tools.appcmd(&[
        "list".into(),
        "config".into(),
        "/section:system.webServer/globalModules".into(),
    ]))?;
    let listed = out.stdout.lines().any(|l| l.contains(&format!("name=\"{}\"", super::apphost::MODULE_NAME)));
    match (registered, listed) {
        (true, false) => {
            bail!("the module is not registered after the install: globalModules is {:?}", out.stdout.trim())
        }
        (false, true) => bail!("the module is still registered after the uninstall: {}", out.stdout.trim()),
        _ => Ok(()),
    }
}

/// What IIS and Windows Installer logged, for a failed run: the module and WAS events, the
/// HTTP.sys error log and the end of each msiexec log.
fn diagnostics(tools: &Tools, system: &mut dyn System) -> String {
    let mut text = String::from("--- IIS and Windows Installer logs\n");
    for (log, query) in [
        ("Application", "*[System[Provider[@Name='Microsoft-Windows-IIS-W3SVC-WP']]]"),
        ("System", "*[System[Provider[@Name='Microsoft-Windows-WAS']]]"),
    ] {
        let cmd = Cmd::new("wevtutil")
            .args(["qe", log, &format!("/q:{query}"), "/c:20", "/rd:true", "/f:text"])
            .timeout(Duration::from_secs(60));
        if let Ok(out) = system.run(cmd) {
            text.push_str(&format!("{log} log:\n{}\n", out.stdout.trim_end()));
        }
    }
    for log in ["install.log", "upgrade.log", "uninstall.log"] {
        if let Ok(bytes) = std::fs::read(tools.logs.join(log)) {
            text.push_str(&format!("{log}:\n{}\n", log::excerpt(&log::decode(&bytes), 40).join("\n")));
        }
    }
    if let Some(windir) = std::env::var_os("windir") {
        let httperr = Path::new(&windir).join(r"System32\LogFiles\HTTPERR");
        let modified = |e: &std::fs::DirEntry| e.metadata().and_then(|m| m.modified()).ok();
        if let Some(newest) =
            std::fs::read_dir(&httperr).ok().and_then(|d| d.flatten().max_by_key(modified)).map(|e| e.path())
        {
            text.push_str(&format!(
                "{}:\n{}\n",
                newest.display(),
                std::fs::read_to_string(&newest).unwrap_or_default()
            ));
        }
    }
    text
}

pub mod platform;
pub mod websocket;
#[cfg(test)]
mod ws_peer;

#[cfg(test)]
mod tests;
