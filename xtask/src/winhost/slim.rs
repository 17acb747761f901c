//! Keeps a Wine prefix small. `wineboot` fills `system32` and `syswow64` with byte-for-byte
//! copies of Wine's own PE files: 1.3 GB a prefix with Debian's Wine 8, and the tests make one
//! per test binary, which once filled a CI machine's disk (docs/pools.md, "Running Windows
//! workers on Linux"). Each such copy becomes a symbolic link to one shared copy in archway's
//! cache folder (about 100 MB a prefix). Never a link into Wine's own install: a
//! `wineboot --update` rewrites some of those files through the link (seen: msxml3.dll,
//! iexplore.exe), which damaged this machine's Wine once. So the prefix's automatic update is
//! turned off as well, and the prefix is made again when Wine's version changes (`wine.rs`).

use std::{
    collections::HashMap,
    fs,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result};

use crate::fsx::write_atomic;

/// What [`link_wine_copies`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Slimmed {
    pub linked: usize,
    pub bytes: u64,
}

/// The folders where an installed Wine keeps its PE files (`<lib>/wine/x86_64-windows` and the
/// like), near the loader `wine` or in the usual places: Debian's multiarch
/// `/usr/lib/<triplet>/wine`, a source build's `/usr/local/lib/wine`, WineHQ's `/opt/wine-*/lib64/wine`.
pub fn wine_pe_folders(wine: &Path) -> Vec<PathBuf> {
    let mut libs: Vec<PathBuf> =
        ["/usr/lib", "/usr/lib64", "/usr/local/lib", "/usr/local/lib64"].map(PathBuf::from).into();
    let loader = fs::canonicalize(wine).unwrap_or_else(|_| wine.to_path_buf());
    // `<prefix>/bin/wine` (a source build, WineHQ's packages) or `<prefix>/lib/wine/wine64` (Debian).
    for up in loader.ancestors().skip(2).take(2) {
        libs.extend(["lib", "lib64"].map(|lib| up.join(lib)));
    }
    let mut folders = Vec::new();
    for lib in libs {
        let mut wine_dirs = vec![lib.join("wine")];
        wine_dirs.extend(subfolders(&lib).into_iter().map(|triplet| triplet.join("wine")));
        for wine_dir in wine_dirs {
            for folder in subfolders(&wine_dir) {
                let windows = folder.file_name().is_some_and(|n| n.to_string_lossy().ends_with("-windows"));
                if windows && !folders.contains(&folder) {
                    folders.push(folder);
                }
            }
        }
    }
    folders
}

/// Replaces every file below `windows` (a prefix's `drive_c/windows`) that is byte for byte a file
/// of the same name in one of `pe_folders` with a symbolic link to the copy of that file in
/// `store` (`<store>/<the folder's path>/<name>`, copied there read-only when first needed). A
/// file that differs in any byte (Wine's own generated files, anything installed) stays as it is.
pub fn link_wine_copies(windows: &Path, pe_folders: &[PathBuf], store: &Path) -> Result<Slimmed> {
    let mut by_name: HashMap<String, Vec<PathBuf>> = HashMap::new();
    for folder in pe_folders {
        for entry in fs::read_dir(folder).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_file() {
                by_name.entry(entry.file_name().to_string_lossy().to_lowercase()).or_default().push(path);
            }
        }
    }
    let mut done = Slimmed::default();
    for (path, kind) in wine_files(windows)? {
        if !kind.is_file() {
            continue;
        }
        let name = path.file_name().unwrap_or_default().to_string_lossy().to_lowercase();
        let Some(candidates) = by_name.get(&name) else { continue };
        let size = fs::metadata(&path).map(|m| m.len()).unwrap_or(u64::MAX);
        for source in candidates {
            // The stored copy, once made, is what the prefix's file must equal.
            let stored = store.join(source.strip_prefix("/").unwrap_or(source));
            let original = if stored.is_file() { &stored } else { source };
            if fs::metadata(original).map(|m| m.len()).ok() != Some(size) {
                continue;
            }
            let bytes = read(&path)?;
            if bytes != read(original)? {
                continue;
            }
            if !stored.is_file() {
                store_copy(&bytes, &stored)?;
            }
            replace_with_link(&path, &stored)?;
            done.linked += 1;
            done.bytes += size;
            break;
        }
    }
    Ok(done)
}

/// Every file and link below `windows`' `system32` and `syswow64` (the folders wineboot fills),
/// with its kind; a folder that is missing has none.
fn wine_files(windows: &Path) -> Result<Vec<(PathBuf, fs::FileType)>> {
    let mut found = Vec::new();
    let mut folders: Vec<PathBuf> = ["system32", "syswow64"].map(|subfolder| windows.join(subfolder)).into();
    while let Some(folder) = folders.pop() {
        let Ok(entries) = fs::read_dir(&folder) else { continue };
        for entry in entries {
            let entry = entry.with_context(|| format!("cannot list {}", folder.display()))?;
            let kind = entry.file_type().with_context(|| format!("cannot read {}", entry.path().display()))?;
            if kind.is_dir() {
                folders.push(entry.path());
            } else {
                found.push((entry.path(), kind));
            }
        }
    }
    Ok(found)
}

fn read(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// The first link below `windows`' `system32` or `syswow64` whose shared copy is gone (the cache
/// folder was cleaned): such a prefix cannot start a program and is made again.
pub fn first_dangling_link(windows: &Path) -> Option<PathBuf> {
    let files = wine_files(windows).ok()?;
    files.into_iter().find(|(path, kind)| kind.is_symlink() && !path.exists()).map(|(path, _)| path)
}

/// Writes `bytes` (a file of Wine's) to `stored` (a temporary file renamed into place), then
/// makes it read-only.
fn store_copy(bytes: &[u8], stored: &Path) -> Result<()> {
    write_atomic(stored, bytes)?;
    let mut permissions =
        fs::metadata(stored).with_context(|| format!("cannot read {}", stored.display()))?.permissions();
    permissions.set_readonly(true);
    fs::set_permissions(stored, permissions).with_context(|| format!("cannot make {} read-only", stored.display()))
}

/// The link is made beside the file and renamed over it, so a program running in the prefix
/// sees the copy or the link, never neither.
#[cfg(unix)]
fn replace_with_link(path: &Path, target: &Path) -> Result<()> {
    let temporary = path.with_extension("archway-link");
    let _ = fs::remove_file(&temporary);
    std::os::unix::fs::symlink(target, &temporary)
        .with_context(|| format!("cannot make a link at {}", temporary.display()))?;
    fs::rename(&temporary, path).with_context(|| format!("cannot replace {} with a link", path.display()))
}

/// Wine runs on Unix only: there is nothing to link elsewhere.
#[cfg(not(unix))]
fn replace_with_link(_: &Path, _: &Path) -> Result<()> {
    Ok(())
}

fn subfolders(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> =
        fs::read_dir(dir).into_iter().flatten().flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
    found.sort();
    found
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn write(path: &Path, bytes: &[u8]) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, bytes).unwrap();
    }

    #[test]
    fn only_byte_for_byte_copies_become_links() {
        let scratch = tempfile::tempdir().unwrap();
        let pe64 = scratch.path().join("lib/x86_64-linux-gnu/wine/x86_64-windows");
        let pe32 = scratch.path().join("lib/i386-linux-gnu/wine/i386-windows");
        write(&pe64.join("kernel32.dll"), b"MZ kernel32 x64");
        write(&pe32.join("kernel32.dll"), b"MZ kernel32 x86");
        write(&pe64.join("big.dll"), &vec![7u8; 200_000]);
        write(&pe64.join("same-size.dll"), b"MZ one");
        write(&pe64.join("drivers.sys"), b"MZ a driver");
        let windows = scratch.path().join("prefix/drive_c/windows");
        write(&windows.join("system32/KERNEL32.dll"), b"MZ kernel32 x64");
        write(&windows.join("syswow64/kernel32.dll"), b"MZ kernel32 x86");
        write(&windows.join("system32/big.dll"), &vec![7u8; 200_000]);
        // Same name, same length, one byte different (a patched or generated file).
        write(&windows.join("system32/same-size.dll"), b"MZ two");
        write(&windows.join("system32/drivers/drivers.sys"), b"MZ a driver");
        // Ours, installed by a test: never Wine's.
        write(&windows.join("system32/inetsrv/archway.dll"), b"MZ kernel32 x64 but ours");

        let store = scratch.path().join("cache/wine-files");
        let done = link_wine_copies(&windows, &[pe64.clone(), pe32.clone()], &store).unwrap();

        assert_eq!(done, Slimmed { linked: 4, bytes: 15 + 15 + 200_000 + 11 });
        let link = |p: &str| fs::read_link(windows.join(p)).ok();
        let stored = |source: PathBuf| store.join(source.strip_prefix("/").unwrap());
        assert_eq!(link("system32/KERNEL32.dll"), Some(stored(pe64.join("kernel32.dll"))));
        assert_eq!(link("syswow64/kernel32.dll"), Some(stored(pe32.join("kernel32.dll"))));
        assert_eq!(link("system32/big.dll"), Some(stored(pe64.join("big.dll"))));
        assert_eq!(link("system32/drivers/drivers.sys"), Some(stored(pe64.join("drivers.sys"))));
        assert_eq!(link("system32/same-size.dll"), None);
        assert_eq!(link("system32/inetsrv/archway.dll"), None);
        assert_eq!(fs::read(windows.join("system32/same-size.dll")).unwrap(), b"MZ two");
        assert_eq!(fs::read(windows.join("syswow64/kernel32.dll")).unwrap(), b"MZ kernel32 x86");
        assert!(!windows.join("system32/KERNEL32.archway-link").exists());
        // Wine's own files are never a link's target, and the stored copies are read-only.
        assert!(fs::symlink_metadata(pe64.join("kernel32.dll")).unwrap().is_file());
        assert!(fs::metadata(stored(pe64.join("big.dll"))).unwrap().permissions().readonly());
        // A second pass finds nothing left to link; a second prefix shares the stored copies.
        assert_eq!(link_wine_copies(&windows, &[pe64.clone(), pe32.clone()], &store).unwrap(), Slimmed::default());
        let second = scratch.path().join("second/drive_c/windows");
        write(&second.join("system32/big.dll"), &vec![7u8; 200_000]);
        let again = link_wine_copies(&second, &[pe64.clone(), pe32.clone()], &store).unwrap();
        assert_eq!(again, Slimmed { linked: 1, bytes: 200_000 });
        assert_eq!(fs::read_link(second.join("system32/big.dll")).unwrap(), stored(pe64.join("big.dll")));

        // The cache folder cleaned: the first dangling link is named, whichever folder it is in.
        assert_eq!(first_dangling_link(&windows), None);
        fs::remove_file(stored(pe32.join("kernel32.dll"))).unwrap();
        assert_eq!(first_dangling_link(&windows), Some(windows.join("syswow64/kernel32.dll")));
    }

    #[test]
    fn pe_folders_are_found_beside_a_source_builds_loader() {
        let scratch = tempfile::tempdir().unwrap();
        let wine = scratch.path().join("opt/wine-stable/bin/wine");
        write(&wine, b"#!");
        fs::create_dir_all(scratch.path().join("opt/wine-stable/lib64/wine/x86_64-windows")).unwrap();
        fs::create_dir_all(scratch.path().join("opt/wine-stable/lib/wine/i386-windows")).unwrap();
        fs::create_dir_all(scratch.path().join("opt/wine-stable/lib/wine/x86_64-unix")).unwrap();
        let found = wine_pe_folders(&wine);
        let root = fs::canonicalize(scratch.path()).unwrap();
        assert!(found.contains(&root.join("opt/wine-stable/lib64/wine/x86_64-windows")), "{found:?}");
        assert!(found.contains(&root.join("opt/wine-stable/lib/wine/i386-windows")), "{found:?}");
        assert!(!found.iter().any(|f| f.ends_with("x86_64-unix")), "{found:?}");
    }
}
