//! Where Windows programs run for the pool tests: Windows itself, this machine's Wine (x64, and
//! x86 through WOW64), or the arm64 Wine of the emulated ARM64 root (`emulation`). Each host
//! says where its `C:\` is on this machine's file system and how to start a program there.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::cmd::Cmd;

pub mod native;
mod slim;
pub mod wine;

/// A place where Windows programs run.
pub trait WindowsHost {
    /// For tables and messages, e.g. "Wine 8.0 (x86_64)" or "arm64 Wine 8.0 under qemu".
    fn describe(&self) -> String;

    /// This machine's path of the host's `C:\` (where a test lays out installed files).
    fn drive_c(&self) -> PathBuf;

    /// The Windows path under which a program sees `host_path` (a path below `drive_c`, or, for
    /// hosts that map the whole file system, any path).
    fn windows_path(&self, host_path: &Path) -> Result<String>;

    /// A command that runs `program` (a Windows path, e.g. `C:\windows\system32\inetsrv\x.exe`)
    /// with `args` and extra environment variables (which the Windows process sees).
    fn command(&self, program: &str, args: &[String], env: &[(String, String)]) -> Cmd;

    /// Whether a forwarded export resolves from the folder its forwarder was loaded from, as on
    /// Windows with `LOAD_LIBRARY_SEARCH_DLL_LOAD_DIR`. Wine 8 looks only along the process's
    /// default search path (docs/pools.md, "Running Windows workers on Linux").
    fn resolves_forwarders_from_load_folder(&self) -> bool {
        false
    }

    /// Whether 32-bit (x86) programs run here.
    fn runs_x86(&self) -> bool {
        true
    }
}

/// `host_path` below `drive_c`, as `C:\…`: the mapping every Wine prefix shares.
pub fn under_drive_c(drive_c: &Path, host_path: &Path) -> Result<String> {
    let rest = host_path.strip_prefix(drive_c).map_err(|_| {
        anyhow::anyhow!("{} is not below this host's C:\\ ({})", host_path.display(), drive_c.display())
    })?;
    let mut windows = String::from("C:");
    for part in rest.components() {
        windows.push('\\');
        windows.push_str(&part.as_os_str().to_string_lossy());
    }
    if windows == "C:" {
        windows.push('\\');
    }
    Ok(windows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_below_drive_c_become_windows_paths() {
        let c = Path::new("/p/drive_c");
        assert_eq!(
            under_drive_c(c, Path::new("/p/drive_c/Program Files/Archway/archway.dll")).unwrap(),
            r"C:\Program Files\Archway\archway.dll"
        );
        assert_eq!(under_drive_c(c, c).unwrap(), r"C:\");
        assert!(under_drive_c(c, Path::new("/elsewhere/x.dll")).unwrap_err().to_string().contains("not below"));
    }
}
