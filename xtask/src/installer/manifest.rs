//! What a package set promises: `target/dist/manifest.json` as `dist` writes it (every installed
//! file's path, SHA-256 and version per platform), and the install tree actually on a host, to
//! compare the two.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::{fsx, msi::Platform};

#[derive(Clone, Debug, Deserialize)]
pub struct Manifest {
    pub product: String,
    pub version: String,
    pub packages: Vec<PackageEntry>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct PackageEntry {
    pub platform: String,
    pub msi: Artifact,
    pub product_code: String,
    pub files: Vec<FileEntry>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Artifact {
    pub file: String,
}

#[derive(Clone, Debug, Deserialize)]
pub struct FileEntry {
    /// Relative to `C:\` on 64-bit Windows, e.g. `Program Files (x86)\Archway\archway.dll`.
    pub install_path: String,
    pub sha256: String,
    pub version: Option<String>,
}

/// One platform's package from a package set (a `dist` folder).
#[derive(Clone, Debug)]
pub struct SetPackage {
    pub msi: PathBuf,
    pub version: String,
    pub product: String,
    pub entry: PackageEntry,
}

/// Reads `dir/manifest.json` and picks `platform`'s package.
pub fn package(dir: &Path, platform: Platform) -> Result<SetPackage> {
    let path = dir.join("manifest.json");
    let text = std::fs::read(&path)
        .with_context(|| format!("cannot read {} (run `cargo xtask dist` first)", path.display()))?;
    let manifest: Manifest = serde_json::from_slice(&text)
        .with_context(|| format!("{} is not a manifest `cargo xtask dist` wrote; run dist again", path.display()))?;
    let Some(entry) = manifest.packages.iter().find(|p| p.platform == platform.to_string()) else {
        bail!("{} has no {platform} package", path.display());
    };
    let msi = dir.join(&entry.msi.file);
    if !msi.is_file() {
        bail!("{} lists {}, which is missing; run `cargo xtask dist` again", path.display(), msi.display());
    }
    Ok(SetPackage { msi, version: manifest.version.clone(), product: manifest.product.clone(), entry: entry.clone() })
}

/// Where an install path lands on a host: a 32-bit Windows has one Program Files folder, where
/// 64-bit Windows' `Program Files (x86)` content goes.
pub fn host_path(drive_c: &Path, install_path: &str, wow64: bool) -> PathBuf {
    let mut path = drive_c.to_path_buf();
    for (i, part) in install_path.split('\\').enumerate() {
        path.push(if i == 0 && !wow64 && part.eq_ignore_ascii_case("Program Files (x86)") {
            "Program Files"
        } else {
            part
        });
    }
    path
}

/// Every file below the product's folders (`Program Files\<folder>`, `Program Files (x86)\<folder>`)
/// on a host, by path relative to `drive_c` (with `\`), with its SHA-256.
pub fn tree(drive_c: &Path, folder: &str) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for program_files in ["Program Files", "Program Files (x86)"] {
        let mut stack = vec![drive_c.join(program_files).join(folder)];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            for entry in entries {
                let path = entry.with_context(|| format!("cannot list {}", dir.display()))?.path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    let rel = path.strip_prefix(drive_c).unwrap_or(&path).to_string_lossy().replace('/', "\\");
                    out.insert(rel, fsx::hash_file(&path)?);
                }
            }
        }
    }
    Ok(out)
}

/// The product's folder name (`Archway`) from a manifest path (`Program Files\Archway\x.dll`).
pub fn folder(entry: &PackageEntry) -> Result<String> {
    entry
        .files
        .first()
        .and_then(|f| f.install_path.split('\\').nth(1))
        .map(str::to_string)
        .context("the manifest's package lists no file below a Program Files folder")
}

/// What differs between `expected` files and the host: missing files and different bytes.
pub fn compare(drive_c: &Path, files: &[FileEntry], wow64: bool) -> Vec<String> {
    let mut problems = Vec::new();
    for file in files {
        let path = host_path(drive_c, &file.install_path, wow64);
        match fsx::hash_file(&path) {
            Err(_) if !path.exists() => problems.push(format!("C:\\{} is missing", file.install_path)),
            Err(e) => problems.push(format!("C:\\{} cannot be read: {e:#}", file.install_path)),
            Ok(sha) if sha != file.sha256 => problems
                .push(format!("C:\\{} has SHA-256 {sha}, the package's file {}", file.install_path, file.sha256)),
            Ok(_) => {}
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_x86_folder_is_program_files_on_32_bit_windows() {
        let c = Path::new("/p/drive_c");
        assert_eq!(
            host_path(c, r"Program Files (x86)\Archway\a.dll", true),
            c.join("Program Files (x86)/Archway/a.dll")
        );
        assert_eq!(host_path(c, r"Program Files (x86)\Archway\a.dll", false), c.join("Program Files/Archway/a.dll"));
        assert_eq!(host_path(c, r"Program Files\Archway\a.dll", false), c.join("Program Files/Archway/a.dll"));
    }
}
