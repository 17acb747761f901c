//! This machine's Wine as a Windows host: a prefix — 64-bit, where x64 programs run directly and
//! x86 ones through Wine's WOW64 when 32-bit Wine is installed, or 32-bit (`WINEARCH=win32`),
//! 32-bit Windows for the x86 package — created once with a deadline, with a persistent
//! wineserver while a session lasts so each program starts quickly.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, Result, bail};

use super::{
    WindowsHost,
    slim::{self, Slimmed},
    under_drive_c,
};
use crate::{
    cmd::Cmd,
    fsx::{file_name_slug, write_atomic},
};

/// How long creating a prefix may take (about 20 s on two cores).
const PREFIX_TIMEOUT: Duration = Duration::from_secs(300);
/// How long a program run may take unless its caller says otherwise.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(120);
/// The file in a prefix that names the Wine (`wine --version`) that made and slimmed it.
const MADE_BY: &str = ".archway-made-by";

/// A Wine prefix with a wineserver kept running until this value is dropped.
pub struct HostWine {
    wine: PathBuf,
    wineserver: PathBuf,
    prefix: PathBuf,
    version: String,
    /// A 32-bit prefix (`WINEARCH=win32`).
    win32: bool,
    /// What linking Wine's own files saved, when this opening made the prefix slim.
    slimmed: Option<Slimmed>,
}

impl HostWine {
    /// Finds Wine's 64-bit loader (None when Wine is not installed) without starting it. The
    /// 64-bit loader starts 32-bit programs too, while the 32-bit one (Debian's `wine` when
    /// wine32 is installed) sees a Windows path in System32 redirected to SysWOW64, as a 32-bit
    /// Windows process would, and so cannot start a 64-bit worker from System32\inetsrv.
    pub fn find() -> Option<PathBuf> {
        let on_path = |name: &str| {
            let path = std::env::var_os("PATH")?;
            std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file())
        };
        // Debian keeps wine64 out of PATH, in /usr/lib/wine.
        on_path("wine64")
            .or_else(|| Some(PathBuf::from("/usr/lib/wine/wine64")).filter(|p| p.is_file()))
            .or_else(|| on_path("wine"))
    }

    /// The 32-bit loader (`wine` beside the 64-bit one, from Debian's `wine32:i386`), if installed.
    pub fn find_32bit() -> Option<PathBuf> {
        let wine64 = HostWine::find()?;
        Some(wine64.with_file_name("wine")).filter(|p| p.is_file() && p != &wine64)
    }

    /// Opens (creating when needed) the 64-bit prefix at `prefix` and starts its wineserver.
    pub fn open(wine: &Path, prefix: &Path) -> Result<HostWine> {
        HostWine::open_as(wine, prefix, false)
    }

    /// The same for a 32-bit prefix (32-bit Windows), with the 32-bit loader of [`find_32bit`].
    pub fn open_32bit(wine: &Path, prefix: &Path) -> Result<HostWine> {
        let host = HostWine::open_as(wine, prefix, true)?;
        if host.drive_c().join("windows").join("syswow64").is_dir() {
            bail!("{} is a 64-bit prefix; the 32-bit host needs its own (remove the folder)", prefix.display());
        }
        if !host.drive_c().join("windows").join("system32").join("kernel32.dll").is_file() {
            bail!(
                "the 32-bit Wine prefix {} has no kernel32.dll after wineboot: is wine32:i386 complete?",
                prefix.display()
            );
        }
        Ok(host)
    }

    fn open_as(wine: &Path, prefix: &Path, win32: bool) -> Result<HostWine> {
        let wineserver = wine.with_file_name("wineserver");
        let wineserver = if wineserver.is_file() { wineserver } else { PathBuf::from("wineserver") };
        let version = Cmd::new(wine).arg("--version").timeout(Duration::from_secs(30)).read().unwrap_or_default();
        let mut host = HostWine {
            wine: wine.to_path_buf(),
            wineserver,
            prefix: prefix.to_path_buf(),
            version,
            win32,
            slimmed: None,
        };
        let made_by = std::fs::read_to_string(prefix.join(MADE_BY)).ok();
        // Its updates are off (`slim.rs`), so a prefix of another Wine is made again; so is one
        // whose shared copies were removed with the cache folder.
        let stale = match &made_by {
            Some(made_by) if made_by != &host.version => Some(format!("was made by {made_by}")),
            Some(_) => slim::first_dangling_link(&host.drive_c().join("windows"))
                .map(|link| format!("lost its shared copies ({} leads nowhere)", link.display())),
            None => None,
        };
        if let Some(why) = stale {
            eprintln!("note: the Wine prefix {} {why}; making it again for {}", prefix.display(), host.version);
            let _ = host.base(&host.wineserver).arg("-k").timeout(Duration::from_secs(30)).output();
            std::fs::remove_dir_all(prefix)
                .with_context(|| format!("cannot remove the stale Wine prefix {}", prefix.display()))?;
        }
        std::fs::create_dir_all(prefix)
            .with_context(|| format!("cannot create the Wine prefix {}", prefix.display()))?;
        // `-p60`: the server stays up between programs (about 0.3 s a start instead of 2 s), and
        // goes 60 s after the last one even if this process never gets to `-k` it. It
        // exits with an error when one already serves the prefix, which is as good.
        let _ = host.base(&host.wineserver).arg("-p60").timeout(Duration::from_secs(60)).output();
        if !prefix.join("system.reg").is_file() {
            host.base(&host.wine)
                .args(["wineboot", "--init"])
                .timeout(PREFIX_TIMEOUT)
                .run()
                .context("cannot create the Wine prefix")?;
        }
        if !host.drive_c().is_dir() {
            bail!("the Wine prefix {} has no drive_c after wineboot", prefix.display());
        }
        if !prefix.join(MADE_BY).is_file() && !host.version.is_empty() {
            host.slimmed = host.slim()?;
        }
        Ok(host)
    }

    /// Turns the prefix's automatic update off, links Wine's own files to the shared copies in
    /// archway's cache folder (`slim.rs`), and records which Wine made the prefix. The update
    /// goes off first: from then on nothing rewrites a DLL in place. Without a cache folder the
    /// prefix keeps its copies.
    fn slim(&self) -> Result<Option<Slimmed>> {
        let Some(cache) = crate::toolchain::provision::cache_dir() else { return Ok(None) };
        write_atomic(&self.prefix.join(".update-timestamp"), b"disable\n")?;
        // One set of copies per Wine version, kept while any prefix may link to it.
        let store = cache.join("wine-files").join(file_name_slug(self.version.trim()));
        let folders = slim::wine_pe_folders(&self.wine);
        let done = slim::link_wine_copies(&self.drive_c().join("windows"), &folders, &store)
            .with_context(|| format!("cannot link Wine's own files in the prefix {}", self.prefix.display()))?;
        write_atomic(&self.prefix.join(MADE_BY), self.version.as_bytes())?;
        Ok(Some(done))
    }

    fn base(&self, program: &Path) -> Cmd {
        let cmd = Cmd::new(program)
            .env("WINEPREFIX", &self.prefix)
            .env("WINEDEBUG", "-all")
            // No Mono or Gecko install dialogs: nothing here is .NET or HTML.
            .env("WINEDLLOVERRIDES", "mscoree,mshtml=");
        if self.win32 { cmd.env("WINEARCH", "win32") } else { cmd }
    }
}

/// Make a Wine prefix as archway's hosts and tests make theirs (Wine's own DLLs linked, not
/// copied; automatic updates off), to run a failing test's programs by hand
#[derive(clap::Args)]
#[command(after_help = "Example:\n  cargo xtask wine-prefix target/tmp/by-hand\n  \
    WINEPREFIX=$PWD/target/tmp/by-hand WINEDEBUG=-all wine cmd /c ver")]
pub struct PrefixArgs {
    /// The prefix's folder, made when missing (an existing prefix is only checked and slimmed).
    pub path: PathBuf,
    /// A 32-bit prefix (`WINEARCH=win32`, for the x86 package; needs wine32:i386).
    #[arg(long)]
    pub win32: bool,
}

pub fn run_prefix(args: PrefixArgs) -> Result<()> {
    let path = std::path::absolute(&args.path).with_context(|| format!("cannot resolve {}", args.path.display()))?;
    let host = if args.win32 {
        let wine = HostWine::find_32bit().context("32-bit Wine is not installed (apt-get install wine32:i386)")?;
        HostWine::open_32bit(&wine, &path)?
    } else {
        let wine = HostWine::find().context("Wine is not installed (apt-get install wine64)")?;
        HostWine::open(&wine, &path)?
    };
    match &host.slimmed {
        Some(done) => println!(
            "{}: {} ready; {} of Wine's own files linked instead of copied ({} MB saved)",
            path.display(),
            host.describe(),
            done.linked,
            done.bytes / 1_000_000
        ),
        None => println!("{}: {} ready", path.display(), host.describe()),
    }
    Ok(())
}

impl WindowsHost for HostWine {
    fn describe(&self) -> String {
        let version = if self.version.is_empty() { "Wine" } else { self.version.as_str() };
        if self.win32 {
            format!("{version} (32-bit prefix)")
        } else {
            format!("{version} ({})", std::env::consts::ARCH)
        }
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

    /// wineboot fills SysWOW64 only when Wine can run 32-bit programs (Debian: `wine32:i386`).
    fn runs_x86(&self) -> bool {
        self.drive_c().join("windows").join("syswow64").join("kernel32.dll").is_file()
    }
}

impl Drop for HostWine {
    fn drop(&mut self) {
        let _ = self.base(&self.wineserver).arg("-k").timeout(Duration::from_secs(30)).output();
    }
}
