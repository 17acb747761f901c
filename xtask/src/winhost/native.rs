//! Windows itself as a Windows host (the Windows CI jobs): programs start directly, `C:\` is
//! `C:\`.

use std::path::{Path, PathBuf};

use anyhow::Result;

use super::WindowsHost;
use crate::cmd::Cmd;

pub struct NativeWindows;

impl WindowsHost for NativeWindows {
    fn describe(&self) -> String {
        format!("Windows ({})", std::env::consts::ARCH)
    }

    fn drive_c(&self) -> PathBuf {
        let drive = std::env::var("SystemDrive").unwrap_or_else(|_| "C:".to_string());
        PathBuf::from(format!("{drive}\\"))
    }

    fn windows_path(&self, host_path: &Path) -> Result<String> {
        Ok(host_path.display().to_string())
    }

    fn command(&self, program: &str, args: &[String], env: &[(String, String)]) -> Cmd {
        let mut cmd = Cmd::new(program).args(args).timeout(super::wine::RUN_TIMEOUT);
        for (k, v) in env {
            cmd = cmd.env(k, v);
        }
        cmd
    }

    fn resolves_forwarders_from_load_folder(&self) -> bool {
        true
    }
}

/// The machine this Windows runs on, `Arch::X64` or `Arch::Arm64`: ARCHWAY_NATIVE_MACHINE when
/// set (every Windows CI job sets it), else the system's PROCESSOR_ARCHITEW6432 or
/// PROCESSOR_ARCHITECTURE, so an x64 build of the xtask emulated on ARM64 asks the OS, not the
/// compiler. [UNCERTAIN] whether an emulated x64 process sees `ARM64` in either variable; the
/// windows-11-arm job sets ARCHWAY_NATIVE_MACHINE, so its rows do not depend on it.
pub fn machine() -> crate::matrix::Arch {
    let named = std::env::var("ARCHWAY_NATIVE_MACHINE")
        .or_else(|_| std::env::var("PROCESSOR_ARCHITEW6432"))
        .or_else(|_| std::env::var("PROCESSOR_ARCHITECTURE"))
        .unwrap_or_default();
    if named.eq_ignore_ascii_case("arm64") { crate::matrix::Arch::Arm64 } else { crate::matrix::Arch::X64 }
}
