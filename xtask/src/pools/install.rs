//! Installing a platform package's files the way its own tables say: every File row at the path
//! its Component's Directory chain gives, under a host's `C:\`, with the bytes of the embedded
//! cabinet. So a pool loads the shipped bytes from the shipped paths, not the build folder.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::msi::{self, PackageView};

/// One file as laid out.
#[derive(Clone, Debug)]
pub struct InstalledFile {
    /// As Windows names it, e.g. `C:\Program Files\Archway\archway.dll`.
    pub windows_path: String,
    /// Where it is on this machine.
    pub host_path: PathBuf,
    /// Whether the file is an Arm64X pure forwarder.
    pub forwarder: bool,
}

/// What a package put on a host.
#[derive(Clone, Debug)]
pub struct Installed {
    pub product_version: String,
    pub files: Vec<InstalledFile>,
}

impl Installed {
    pub fn file(&self, windows_path: &str) -> Option<&InstalledFile> {
        self.files.iter().find(|f| f.windows_path.eq_ignore_ascii_case(windows_path))
    }
}

/// What `msi_path` installs below `drive_c`, with the bytes of each file: every File row at the
/// path its tables give (paths of 64-bit Windows: 64-bit components in `Program Files`, 32-bit
/// ones in `Program Files (x86)`).
pub fn read_installed(msi_path: &Path, drive_c: &Path) -> Result<(Installed, Vec<Vec<u8>>)> {
    let read = msi::read_msi(msi_path)?;
    let view = PackageView::from_read(&read);
    let product_version = view.property("ProductVersion").unwrap_or_default().to_string();
    let mut files = Vec::new();
    let mut contents = Vec::new();
    for file in &view.files {
        if file.is_schema() {
            // IIS schema copies go where msiexec finds an IIS (README "Configuration schema");
            // laying them out by hand could empty IIS's own schema folder.
            continue;
        }
        if file.install_dir.is_none() {
            bail!(
                "{}: {} is installed outside Program Files; the pool tests lay out only the two Program Files folders",
                msi_path.display(),
                file.path
            );
        }
        let (Some(payload), Some(bytes)) = (&file.payload, read.payloads.get(&file.file_key)) else {
            bail!("{}: the cabinet has no member for {} (File key {})", msi_path.display(), file.path, file.file_key);
        };
        files.push(InstalledFile {
            windows_path: format!("C:\\{}", file.path),
            host_path: host_path(drive_c, &file.path)?,
            forwarder: payload.pe().is_some_and(|pe| pe.is_forwarder()),
        });
        contents.push(bytes.clone());
    }
    Ok((Installed { product_version, files }, contents))
}

/// Lays `msi_path`'s files out below `drive_c`, each at its install path (the package's folders
/// are emptied first, so a file an earlier run planted is gone).
pub fn lay_out(msi_path: &Path, drive_c: &Path) -> Result<Installed> {
    let (installed, contents) = read_installed(msi_path, drive_c)?;
    empty_folders(&installed)?;
    for (file, bytes) in installed.files.iter().zip(contents) {
        let to = &file.host_path;
        std::fs::create_dir_all(to.parent().expect("a file path has a folder"))
            .with_context(|| format!("cannot create the folder of {}", to.display()))?;
        std::fs::write(to, bytes).with_context(|| format!("cannot write {}", to.display()))?;
    }
    Ok(installed)
}

/// Removes the folders `installed`'s files go to, with whatever an earlier run left in them.
pub fn empty_folders(installed: &Installed) -> Result<()> {
    let mut folders: Vec<&Path> = installed.files.iter().filter_map(|f| f.host_path.parent()).collect();
    folders.sort();
    folders.dedup();
    for folder in folders.into_iter().filter(|f| f.exists()) {
        std::fs::remove_dir_all(folder).with_context(|| format!("cannot empty {}", folder.display()))?;
    }
    Ok(())
}

/// `Program Files\Archway\x.dll` below `drive_c`, refusing anything that would leave it.
fn host_path(drive_c: &Path, windows_relative: &str) -> Result<PathBuf> {
    let mut path = drive_c.to_path_buf();
    for part in windows_relative.split('\\') {
        if part.is_empty() || part == "." || part == ".." || part.contains('/') || part.contains(':') {
            bail!("install path `{windows_relative}` has a part `{part}` that cannot be laid out");
        }
        path.push(part);
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_paths_stay_below_drive_c() {
        let c = Path::new("/prefix/drive_c");
        assert_eq!(
            host_path(c, r"Program Files (x86)\Archway\archway.dll").unwrap(),
            c.join("Program Files (x86)/Archway/archway.dll")
        );
        for bad in [r"Program Files\..\..\etc", r"Program Files\\x", r"a/b", r"C:\x"] {
            assert!(host_path(c, bad).is_err(), "{bad}");
        }
    }
}
