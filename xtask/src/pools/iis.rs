//! The pool rows on real IIS (the Windows CI jobs, elevated): the platform MSI installed with
//! msiexec (which registers the module), one pool and site per row made with appcmd from the
//! same [`AppHost`] the stand-in reads, the same requests and checks, then — with `--upgrade` —
//! a next-version MSI installed while the pools run, the pools recycled and checked again, and
//! the product removed and the module seen unregistered. Every step has a deadline; a failure
//! prints the logs IIS and Windows Installer leave.
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
use crate::{cmd::Cmd, msi::Platform, project::Project};

const MSIEXEC_TIMEOUT: Duration = Duration::from_secs(600);
const APPCMD_TIMEOUT: Duration = Duration::from_secs(120);
/// A next-version package is a whole `dist` in a copy of the checkout.
const NEXT_VERSION_TIMEOUT: Duration = Duration::from_secs(1800);

/// What the IIS sequence needs from the machine.
pub trait System {
    /// Runs a command to completion (deadline included) and returns what it printed.
    fn run(&mut self, cmd: Cmd) -> Result<crate::cmd::Output>;
    /// GET `http://127.0.0.1:<port><path>`: status and body.
    fn get(&mut self, port: u16, path: &str) -> Result<(u16, String)>;
    /// A free loopback port.
    fn free_port(&mut self) -> Result<u16>;
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
        let windir = PathBuf::from(std::env::var_os("windir").context("windir is not set: --host iis runs on Windows only")?);
        let appcmd = windir.join(r"system32\inetsrv\appcmd.exe");
        if !appcmd.is_file() {
            bail!(
                "{} is missing: IIS is not enabled. Windows Server: `Install-WindowsFeature Web-Server,Web-Scripting-Tools`; \
                 Windows 11: `Enable-WindowsOptionalFeature -Online -All -NoRestart -FeatureName IIS-WebServerRole,IIS-WebServer,IIS-ManagementScriptingTools`",
                appcmd.display()
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
    let here = super::this_windows().context("--host iis runs on Windows with IIS enabled (the Windows CI jobs); on Linux use the stand-in")?;
    let logs = project.target_dir.join("archway").join("pools").join("iis-logs");
    std::fs::create_dir_all(&logs)?;
    let tools = Tools::find(logs)?;
    let (mine, others): (Vec<&PoolRow>, Vec<&PoolRow>) = rows.iter().partition(|r| r.host == here);
    let mut lines: Vec<Line> =
        others.iter().map(|r| line(r, "-", "", 0, Outcome::Elsewhere(format!("needs an {} Windows host", r.host)))).collect();
    let platforms = super::packages_of(mine.iter().copied());
    let mut system = Real { agent: standin::agent() };
    for platform in platforms {
        let group: Vec<PoolRow> = mine.iter().filter(|r| r.package == platform).map(|r| (*r).clone()).collect();
        let msi = find_package(packages, platform)?;
        let installed = super::install::read_installed(&msi, Path::new("C:\\"))?.0;
        let next = match upgrade {
            true => {
                let next = next_version_package(project, platform)?;
                let upgraded = super::install::read_installed(&next, Path::new("C:\\"))?.0;
                Some((next, upgraded))
            }
            false => None,
        };
        let sequence = Sequence {
            tools: &tools,
            system: &mut system,
            rows: &group,
            msi: (&msi, &installed),
            next: next.as_ref().map(|(p, i)| (p.as_path(), i)),
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
}

impl Sequence<'_> {
    pub fn run(self) -> Result<Vec<Line>> {
        let Sequence { tools, system, rows, msi: (msi, installed), next } = self;
        let mut lines = Vec::new();
        step(system, tools.msiexec("/i", msi, "install.log"), "install")?;
        expect_module(system, tools, true)?;
        let mut ports = Vec::new();
        for _ in rows {
            ports.push(system.free_port()?);
        }
        let apphost = AppHost::new(rows, |i| ports[i], |r| format!(r"C:\inetpub\archway-{}", r.name));
        for site in &apphost.pools {
            std::fs::create_dir_all(&site.physical_path).ok();
        }
        for args in apphost.appcmd_create() {
            step(system, tools.appcmd(&args), "create the pools")?;
        }
        let result = serve_all(system, &apphost, installed, "", &mut lines).and_then(|()| {
            let Some((next, upgraded)) = next else { return Ok(()) };
            // The seed's upgrade break: a running pool that finds its DLL gone after an upgrade.
            step(system, tools.msiexec("/i", next, "upgrade.log"), "upgrade while the pools run")?;
            expect_module(system, tools, true)?;
            for site in &apphost.pools {
                step(system, tools.appcmd(&["recycle".into(), "apppool".into(), format!("/apppool.name:{}", site.row.name)]), "recycle")?;
            }
            serve_all(system, &apphost, upgraded, " · after upgrade", &mut lines)?;
            step(system, tools.msiexec("/x", next, "uninstall.log"), "uninstall").map(drop)
        });
        let removed = match (&result, next) {
            (Ok(()), None) => step(system, tools.msiexec("/x", msi, "uninstall.log"), "uninstall").map(drop),
            _ => Ok(()),
        };
        for args in apphost.appcmd_delete() {
            let _ = system.run(tools.appcmd(&args));
        }
        result?;
        removed?;
        expect_module(system, tools, false)?;
        let mut done = line(&rows[0], "IIS", "", 0, Outcome::Passed);
        done.row = format!("uninstall · {} package", rows[0].package.name());
        lines.push(done);
        Ok(lines)
    }
}

fn serve_all(system: &mut dyn System, apphost: &AppHost, installed: &Installed, label: &str, lines: &mut Vec<Line>) -> Result<()> {
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
                Ok((status, body)) => problems.push(format!("GET {url}: {status} {}", body.lines().next().unwrap_or_default())),
                Err(e) => problems.push(format!("{e:#}")),
            }
        }
        if let Some(why) = &row.uncertain {
            if !problems.is_empty() {
                problems.insert(0, format!("this row is UNCERTAIN ({why}); what IIS did is measured below — update matrix.toml and docs/pools.md"));
            }
        }
        let outcome = if problems.is_empty() { Outcome::Passed } else { Outcome::Failed(problems) };
        let mut l = line(row, "IIS", &module, served, outcome);
        l.row.push_str(label);
        lines.push(l);
    }
    Ok(())
}

fn step(system: &mut dyn System, cmd: Cmd, what: &str) -> Result<crate::cmd::Output> {
    let shown = cmd.to_string();
    let out = system.run(cmd).with_context(|| format!("{what}: {shown}"))?;
    // msiexec: 3010 is success with a reboot wanted (docs/pools.md, "Configuring IIS").
    if !out.success && out.code != Some(3010) {
        bail!("{what} failed (exit {:?}): {shown}\n{}{}", out.code, out.stdout, out.stderr);
    }
    Ok(out)
}

/// Whether `appcmd list module` shows the module as registered (or not).
fn expect_module(system: &mut dyn System, tools: &Tools, registered: bool) -> Result<()> {
    let out = system.run(tools.appcmd(&["list".into(), "module".into(), format!("/name:{}", super::apphost::MODULE_NAME)]))?;
    let listed = out.stdout.lines().any(|l| l.contains(&format!("MODULE \"{}\"", super::apphost::MODULE_NAME)));
    match (registered, listed) {
        (true, false) => bail!("the module is not registered after the install: `appcmd list module` says {:?}", out.stdout.trim()),
        (false, true) => bail!("the module is still registered after the uninstall: {}", out.stdout.trim()),
        _ => Ok(()),
    }
}

/// A package of the next patch version, made by `dist` in a copy of the checkout.
fn next_version_package(project: &Project, platform: Platform) -> Result<PathBuf> {
    let scratch = project.target_dir.join("archway").join("pools").join("next-version");
    if scratch.exists() {
        std::fs::remove_dir_all(&scratch)?;
    }
    let listed = Cmd::new("git").args(["ls-files", "-z"]).current_dir(&project.root).timeout(Duration::from_secs(60)).read()?;
    for rel in listed.split('\0').filter(|s| !s.is_empty()) {
        let to = scratch.join(rel);
        std::fs::create_dir_all(to.parent().expect("has a folder"))?;
        std::fs::copy(project.root.join(rel), &to).with_context(|| format!("copying {rel}"))?;
    }
    let manifest = scratch.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest)?;
    let [major, minor, patch, _] = project.version;
    let bumped = bump_version(&text, [major, minor, patch]).context("Cargo.toml has no [workspace.package] version to bump")?;
    std::fs::write(&manifest, bumped)?;
    eprintln!("[pools] building the next version's packages in {}", scratch.display());
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    Cmd::new(cargo).args(["xtask", "dist"]).current_dir(&scratch).env_remove("CARGO_TARGET_DIR").timeout(NEXT_VERSION_TIMEOUT).run()?;
    find_package(&scratch.join("target").join("dist"), platform)
}

/// The workspace version line with the patch number raised by one.
pub fn bump_version(cargo_toml: &str, [major, minor, patch]: [u16; 3]) -> Option<String> {
    let old = format!("version = \"{major}.{minor}.{patch}\"");
    cargo_toml.contains(&old).then(|| cargo_toml.replacen(&old, &format!("version = \"{major}.{minor}.{}\"", patch + 1), 1))
}

/// What IIS and Windows Installer logged, for a failed run: the module and WAS events, the
/// HTTP.sys error log and the end of each msiexec log.
fn diagnostics(tools: &Tools, system: &mut dyn System) -> String {
    let mut text = String::from("--- IIS and Windows Installer logs\n");
    for (log, query) in [
        ("Application", "*[System[Provider[@Name='Microsoft-Windows-IIS-W3SVC-WP']]]"),
        ("System", "*[System[Provider[@Name='Microsoft-Windows-WAS']]]"),
    ] {
        let cmd = Cmd::new("wevtutil").args(["qe", log, &format!("/q:{query}"), "/c:20", "/rd:true", "/f:text"]).timeout(Duration::from_secs(60));
        if let Ok(out) = system.run(cmd) {
            text.push_str(&format!("{log} log:\n{}\n", out.stdout.trim_end()));
        }
    }
    for log in ["install.log", "upgrade.log", "uninstall.log"] {
        if let Ok(bytes) = std::fs::read(tools.logs.join(log)) {
            // msiexec writes UTF-16LE logs.
            let units: Vec<u16> = bytes.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
            let log_text = String::from_utf16_lossy(&units);
            let tail: Vec<&str> = log_text.lines().rev().take(40).collect();
            text.push_str(&format!("{log} (last lines):\n{}\n", tail.into_iter().rev().collect::<Vec<_>>().join("\n")));
        }
    }
    if let Some(windir) = std::env::var_os("windir") {
        let httperr = Path::new(&windir).join(r"System32\LogFiles\HTTPERR");
        if let Some(newest) = std::fs::read_dir(&httperr).ok().and_then(|d| d.flatten().map(|e| e.path()).max()) {
            text.push_str(&format!("{}:\n{}\n", newest.display(), std::fs::read_to_string(&newest).unwrap_or_default()));
        }
    }
    text
}

#[cfg(test)]
mod tests;
