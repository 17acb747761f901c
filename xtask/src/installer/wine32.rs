//! A 32-bit Wine prefix (`WINEARCH=win32`): 32-bit Windows, where the x86 package belongs (it
//! refuses 64-bit Windows by its launch condition). Needs Debian's `wine32:i386` (the 32-bit
//! loader beside `wine64`); like [`crate::winhost::wine::HostWine`], the prefix is created with a
//! deadline and its wineserver stopped when the value is dropped.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, Result, bail};

use crate::{
    cmd::Cmd,
    winhost::{WindowsHost, under_drive_c, wine::HostWine},
};

const PREFIX_TIMEOUT: Duration = Duration::from_secs(300);
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

pub struct Wine32 {
    wine: PathBuf,
    wineserver: PathBuf,
    prefix: PathBuf,
}

impl Wine32 {
    /// The 32-bit loader (`wine` beside Wine's 64-bit one, from `wine32:i386`), if installed.
    pub fn find() -> Option<PathBuf> {
        let wine64 = HostWine::find()?;
        Some(wine64.with_file_name("wine")).filter(|p| p.is_file() && p != &wine64)
    }

    /// Opens (creating when needed) a 32-bit prefix at `prefix`.
    pub fn open(wine: &Path, prefix: &Path) -> Result<Wine32> {
        let wineserver = wine.with_file_name("wineserver");
        let wineserver = if wineserver.is_file() { wineserver } else { PathBuf::from("wineserver") };
        let host = Wine32 { wine: wine.to_path_buf(), wineserver, prefix: prefix.to_path_buf() };
        std::fs::create_dir_all(prefix).with_context(|| format!("cannot create the Wine prefix {}", prefix.display()))?;
        let _ = host.base(&host.wineserver).arg("-p").timeout(Duration::from_secs(60)).output();
        if !prefix.join("system.reg").is_file() {
            host.base(&host.wine).args(["wineboot", "--init"]).timeout(PREFIX_TIMEOUT).run().context("cannot create the 32-bit Wine prefix")?;
        }
        if host.drive_c().join("windows").join("syswow64").is_dir() {
            bail!("{} is a 64-bit prefix; the 32-bit host needs its own (remove the folder)", prefix.display());
        }
        if !host.drive_c().join("windows").join("system32").join("kernel32.dll").is_file() {
            bail!("the 32-bit Wine prefix {} has no kernel32.dll after wineboot: is wine32:i386 complete?", prefix.display());
        }
        Ok(host)
    }

    fn base(&self, program: &Path) -> Cmd {
        Cmd::new(program)
            .env("WINEPREFIX", &self.prefix)
            .env("WINEARCH", "win32")
            .env("WINEDEBUG", "-all")
            .env("WINEDLLOVERRIDES", "mscoree,mshtml=")
    }
}

impl WindowsHost for Wine32 {
    fn describe(&self) -> String {
        "32-bit Wine (WINEARCH=win32)".to_string()
    }

    fn drive_c(&self) -> PathBuf {
        self.prefix.join("drive_c")
    }

    fn windows_path(&self, host_path: &Path) -> Result<String> {
        under_drive_c(&self.drive_c(), host_path)
    }

    fn command(&self, program: &str, args: &[String], env: &[(String, String)]) -> Cmd {
        let mut cmd = self.base(&self.wine).arg(program).args(args).timeout(RUN_TIMEOUT);
        for (k, v) in env {
            cmd = cmd.env(k, v);
        }
        cmd
    }
}

impl Drop for Wine32 {
    fn drop(&mut self) {
        let _ = self.base(&self.wineserver).arg("-k").timeout(Duration::from_secs(30)).output();
    }
}
