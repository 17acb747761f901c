//! The pool tests' install step through the engine: on this machine's Wine the x64 package is
//! installed by Wine's msiexec (after removing whatever archway product an earlier run left), so
//! the bytes a pool loads were put there by an installer; the package's own tables still say
//! what must be where ([`read_installed`]), and every file is checked against them.

use std::path::Path;

use anyhow::{Context, Result, bail};

use super::{cycle, engine::Engine, products};
use crate::{
    msi::{self, PackageView, Platform},
    pools::install::{Installed, empty_folders, read_installed},
    winhost::WindowsHost,
};

/// Whether the pool tests install `platform`'s package with the engine here: the x64 package on
/// x86_64 Linux, whose only host for it is this machine's Wine (the arm64 package goes to the
/// emulated root, which the engine does not drive yet; Windows hosts lay files out or use IIS).
pub fn installs_here(platform: Platform) -> bool {
    cfg!(all(unix, target_arch = "x86_64")) && platform == Platform::X64
}

/// Installs `msi` on `host` with msiexec and checks every file the tables name is there with the
/// package's bytes. Returns what was installed and lines for the pool output (the exit code, the
/// log, and what the log shows of the IIS registration custom actions).
pub fn install(host: &dyn WindowsHost, msi_path: &Path) -> Result<(Installed, Vec<String>)> {
    let logs = host.drive_c().with_file_name("archway-msi-logs");
    let engine = Engine::new(host, &logs)?;
    let read = msi::read_msi(msi_path)?;
    let view = PackageView::from_read(&read);
    let name = view.property("ProductName").context("the package has no ProductName")?.to_string();
    let mut notes = Vec::new();
    for left in products::installed(host)?.into_iter().filter(|p| p.name == name) {
        let call = engine.uninstall(&left.code, &format!("remove {} {}", left.name, left.version))?;
        if !call.succeeded() {
            bail!("cannot remove the {} {} an earlier run installed:\n{}", left.name, left.version, call.explain());
        }
        notes.push(format!("removed the installed {} {} ({}) first", left.name, left.version, left.code));
    }
    let (installed, contents) = read_installed(msi_path, &host.drive_c())?;
    // Files an earlier run laid out by hand would otherwise stay (same version: not copied).
    empty_folders(&installed)?;
    let label = format!("pool install {}", installed.product_version);
    let call = engine.install(msi_path, &label, &[])?;
    if !call.succeeded() {
        bail!("Wine's msiexec could not install {}:\n{}", msi_path.display(), call.explain());
    }
    for (file, bytes) in installed.files.iter().zip(&contents) {
        match std::fs::read(&file.host_path) {
            Ok(on_disk) if on_disk == *bytes => {}
            Ok(_) => bail!(
                "msiexec installed {} with bytes other than the package's (log: {})",
                file.windows_path,
                call.log_path.display()
            ),
            Err(_) => bail!(
                "msiexec reported success but {} is missing (log: {})",
                file.windows_path,
                call.log_path.display()
            ),
        }
    }
    notes.push(format!(
        "installed by Wine's msiexec /i (exit {}): {} files at their install paths, bytes checked; log {}",
        call.code(),
        installed.files.len(),
        call.log_path.display()
    ));
    notes.push(cycle::iis_registration(&call));
    Ok((installed, notes))
}
