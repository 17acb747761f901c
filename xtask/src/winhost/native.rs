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
