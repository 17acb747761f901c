//! One installer engine call: `msiexec` inside a Windows host (this machine's Wine), always with
//! a verbose log (`/l*v`) and a deadline. The package is copied under the host's `C:\` first, so
//! the call needs no drive mapping; the log is kept in the engine's log folder and read back.

use std::{
    cell::Cell,
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, Result};

use super::log;
use crate::{fsx::file_name_slug, winhost::WindowsHost};

/// How long one msiexec call may take (an install here takes about a second; a hung engine, a
/// dialog that `/qn` did not suppress, must not hold up the tests).
pub const MSIEXEC_TIMEOUT: Duration = Duration::from_secs(180);

/// The folder below the host's `C:\` where packages and logs are staged.
const STAGING: &str = "archway-engine";

/// Wine's msiexec on a Windows host, with a folder for its logs.
pub struct Engine<'h> {
    host: &'h dyn WindowsHost,
    logs: PathBuf,
    calls: Cell<usize>,
    trace: bool,
    /// `NAME=value` given to every call (install, upgrade, downgrade and uninstall alike).
    always: Vec<String>,
}

/// What one msiexec call did.
#[derive(Clone, Debug)]
pub struct Call {
    /// The command line as run.
    pub command: String,
    /// The exit status as the Unix process reported it (Wine keeps only the low 8 bits of the
    /// Windows exit code: 1603 arrives as 67).
    pub status: Option<i32>,
    /// Where the verbose log is kept on this machine.
    pub log_path: PathBuf,
    /// The log's text (empty when msiexec wrote none).
    pub log: String,
}

impl Call {
    pub fn succeeded(&self) -> bool {
        self.status == Some(0)
    }

    /// The Windows Installer code this status stands for, as people look it up: 1603 is a fatal
    /// error (a failed action or launch condition), 1638 another version installed, 1636 a
    /// package that cannot be opened, 112 (ERROR_DISK_FULL) no room to copy the package.
    pub fn code(&self) -> String {
        match self.status {
            Some(0) => "0".to_string(),
            Some(112) => "112 (ERROR_DISK_FULL: not enough space on the disk)".to_string(),
            Some(67) => "1603 (exit status 67)".to_string(),
            Some(102) => "1638 (exit status 102)".to_string(),
            Some(100) => "1636 (exit status 100)".to_string(),
            Some(other) => format!("exit status {other}"),
            None => "killed".to_string(),
        }
    }

    /// A failure message: what was run, its status, the log's relevant lines and where the log is.
    pub fn explain(&self) -> String {
        let mut text =
            format!("`{}` ended with {}; verbose log kept at {}", self.command, self.code(), self.log_path.display());
        let lines = log::excerpt(&self.log, 40);
        if lines.is_empty() {
            text.push_str("\n  (the log is empty: msiexec did not start the installation)");
        }
        if self.status == Some(112) || lines.is_empty() {
            // Seen in CI: a full disk stops msiexec before its log gets a line.
            if let Some(free) = self.log_path.parent().and_then(crate::fsx::free_bytes) {
                let folder = self.log_path.parent().unwrap_or(&self.log_path).display();
                text.push_str(&format!("\n  ({} MB free on the disk of {folder})", free / 1_000_000));
            }
        }
        for line in lines {
            text.push('\n');
            text.push_str(&line);
        }
        text
    }
}

impl<'h> Engine<'h> {
    /// An engine on `host` keeping its logs in `logs` (created when needed).
    pub fn new(host: &'h dyn WindowsHost, logs: &Path) -> Result<Engine<'h>> {
        std::fs::create_dir_all(logs).with_context(|| format!("cannot create the log folder {}", logs.display()))?;
        Ok(Engine { host, logs: logs.to_path_buf(), calls: Cell::new(0), trace: false, always: Vec::new() })
    }

    /// Also records Wine's msi.dll trace (`WINEDEBUG=+msi`, kept beside each log as `.trace`;
    /// Wine only: msiexec runs through Wine's `cmd /c`, which sets the variable).
    pub fn with_trace(mut self) -> Engine<'h> {
        self.trace = true;
        self
    }

    /// Applies the transform `bytes` (kept below the host's `C:\` as `name`) in every call,
    /// `/x` included: Windows Installer remembers the transforms a product was installed with,
    /// Wine 8 does not (measured: an `/x` without it resolves the folders without it).
    pub fn with_transform(mut self, name: &str, bytes: &[u8]) -> Result<Engine<'h>> {
        let dir = self.host.drive_c().join(STAGING);
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let path = dir.join(name);
        let temp = dir.join(format!("{name}.tmp"));
        std::fs::write(&temp, bytes).with_context(|| format!("cannot write {}", temp.display()))?;
        std::fs::rename(&temp, &path)
            .with_context(|| format!("cannot move {} to {}", temp.display(), path.display()))?;
        self.always.push(format!("TRANSFORMS={}", self.host.windows_path(&path)?));
        Ok(self)
    }

    pub fn host(&self) -> &dyn WindowsHost {
        self.host
    }

    /// `msiexec /i PACKAGE`: a first install, or a major upgrade when an older version of the
    /// same UpgradeCode is installed, or a refusal (downgrade). `properties` are `NAME=value`.
    pub fn install(&self, msi: &Path, label: &str, properties: &[&str]) -> Result<Call> {
        let package = self.stage(msi, label)?;
        let mut args = vec!["/i".to_string(), package];
        args.extend(properties.iter().map(|p| p.to_string()));
        args.extend(self.always.iter().cloned());
        self.msiexec(label, args)
    }

    /// `msiexec /x {PRODUCT-CODE}`: uninstall an installed product.
    pub fn uninstall(&self, product_code: &str, label: &str) -> Result<Call> {
        let mut args = vec!["/x".to_string(), product_code.to_string()];
        args.extend(self.always.iter().cloned());
        self.msiexec(label, args)
    }

    /// Copies `msi` below the host's `C:\` (one folder per call label) and returns its Windows path.
    fn stage(&self, msi: &Path, label: &str) -> Result<String> {
        let name = msi.file_name().with_context(|| format!("{} names no file", msi.display()))?;
        let dir = self.host.drive_c().join(STAGING).join("packages").join(file_name_slug(label));
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let to = dir.join(name);
        std::fs::copy(msi, &to).with_context(|| format!("cannot copy {} to {}", msi.display(), to.display()))?;
        self.host.windows_path(&to)
    }

    fn msiexec(&self, label: &str, mut args: Vec<String>) -> Result<Call> {
        let n = self.calls.get() + 1;
        self.calls.set(n);
        let name = format!("{n:02}-{}.log", file_name_slug(label));
        let staged = self.host.drive_c().join(STAGING).join("logs");
        std::fs::create_dir_all(&staged).with_context(|| format!("cannot create {}", staged.display()))?;
        let staged = staged.join(&name);
        let _ = std::fs::remove_file(&staged);
        args.extend(["/qn".to_string(), "/l*v".to_string(), self.host.windows_path(&staged)?]);
        let cmd = if self.trace {
            // The trace is asked for inside Windows (a Wine child process takes WINEDEBUG from
            // its Windows environment), which works on every host, the emulated root's included,
            // whose command starts from an empty environment. No argument has a space.
            let traced: Vec<String> = ["/c", "set", "WINEDEBUG=+msi&&", "msiexec"]
                .iter()
                .map(|a| a.to_string())
                .chain(args.iter().cloned())
                .collect();
            self.host.command("cmd", &traced, &[])
        } else {
            self.host.command("msiexec", &args, &[])
        }
        .timeout(MSIEXEC_TIMEOUT);
        let command = format!("msiexec {}", args.join(" "));
        let out = cmd
            .output()
            .with_context(|| format!("{command} did not finish (the installer engine hung or could not start)"))?;
        let log_path = self.logs.join(&name);
        let bytes = std::fs::read(&staged).unwrap_or_default();
        std::fs::write(&log_path, &bytes).with_context(|| format!("cannot keep the log at {}", log_path.display()))?;
        if self.trace {
            let path = log_path.with_extension("trace");
            std::fs::write(&path, &out.stderr)
                .with_context(|| format!("cannot keep the trace at {}", path.display()))?;
        }
        Ok(Call { command, status: out.code, log_path, log: log::decode(&bytes) })
    }
}

/// `install 0.1.0.0` → `install-0.1.0.0`: a label as a file name.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_become_file_names_and_codes_read_as_windows_codes() {
        assert_eq!(
            file_name_slug("install 0.1.0.0 (late RemoveExistingProducts)"),
            "install-0.1.0.0--late-RemoveExistingProducts-"
        );
        let call = |status| Call { command: String::new(), status, log_path: PathBuf::new(), log: String::new() };
        assert!(call(Some(0)).succeeded());
        assert!(call(Some(67)).code().starts_with("1603"));
        assert!(call(Some(112)).code().contains("ERROR_DISK_FULL"));
        assert!(call(None).code().contains("killed"));
    }
}
