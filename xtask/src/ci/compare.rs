//! `cargo xtask compare-dist A B`: two package folders (`target/dist` of two hosts) compared
//! byte for byte, saying which files differ and how: for a zip, which entries; for an MSI, which
//! streams (tables, cabinet, summary); for any file,
//! sizes and the first differing offset. Files matching an `--allow` pattern may differ (the
//! release workflow says why for each); any other difference, or a file in one folder only, fails.

use std::{collections::BTreeSet, io::Read, path::Path};

use anyhow::{Context, Result, bail};

/// `*` matches any run of characters; everything else literally.
pub fn glob(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((head, rest)) => {
            name.starts_with(head)
                && (0..=name.len() - head.len())
                    .any(|i| name.is_char_boundary(head.len() + i) && glob(rest, &name[head.len() + i..]))
        }
    }
}

/// How two byte strings differ, in one line.
fn how(a: &[u8], b: &[u8]) -> String {
    let at = a.iter().zip(b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
    format!("{} vs {} bytes, first difference at offset {at:#x}", a.len(), b.len())
}

/// The entries of a zip, by name; `None` when the bytes are no zip.
fn zip_entries(bytes: &[u8]) -> Option<Vec<(String, Vec<u8>)>> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).ok()?;
    let mut out = Vec::new();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).ok()?;
        let mut data = Vec::new();
        entry.read_to_end(&mut data).ok()?;
        let name = entry.name().ok()?.to_string();
        out.push((name, data));
    }
    Some(out)
}

/// The streams of a compound file (an MSI), by path; `None` when the bytes are no compound file.
fn streams(bytes: &[u8]) -> Option<Vec<(String, Vec<u8>)>> {
    let mut cf = cfb::CompoundFile::open(std::io::Cursor::new(bytes)).ok()?;
    let paths: Vec<std::path::PathBuf> = cf.walk().filter(|e| e.is_stream()).map(|e| e.path().to_path_buf()).collect();
    let mut out = Vec::new();
    for path in paths {
        let mut data = Vec::new();
        cf.open_stream(&path).ok()?.read_to_end(&mut data).ok()?;
        // MSI stream names are encoded in private-use characters; show them escaped.
        out.push((path.to_string_lossy().escape_default().to_string(), data));
    }
    Some(out)
}

/// Which named members of two containers differ, and how; `None` when nothing named differs.
fn members(a: &Path, b: &Path, ex: &[(String, Vec<u8>)], ey: &[(String, Vec<u8>)]) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    for (n, dx) in ex {
        match ey.iter().find(|(m, _)| m == n) {
            None => parts.push(format!("{n} only in {}", a.display())),
            Some((_, dy)) if dx != dy => parts.push(format!("{n} differs ({})", how(dx, dy))),
            _ => {}
        }
    }
    parts.extend(
        ey.iter().filter(|(n, _)| !ex.iter().any(|(m, _)| m == n)).map(|(n, _)| format!("{n} only in {}", b.display())),
    );
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// The report lines and whether the folders are the same apart from allowed files.
pub fn compare(a: &Path, b: &Path, allow: &[String]) -> Result<(Vec<String>, bool)> {
    let names = |dir: &Path| -> Result<BTreeSet<String>> {
        let mut set = BTreeSet::new();
        for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                set.insert(entry.file_name().to_string_lossy().into_owned());
            }
        }
        Ok(set)
    };
    let (left, right) = (names(a)?, names(b)?);
    if left.is_empty() && right.is_empty() {
        bail!("{} and {} hold no files: nothing to compare", a.display(), b.display());
    }
    let mut lines = Vec::new();
    let mut same = true;
    for name in left.union(&right) {
        let allowed = allow.iter().any(|p| glob(p, name));
        let mark = if allowed { " (allowed)" } else { "" };
        let verdict = match (left.contains(name), right.contains(name)) {
            (true, false) => Some(format!("only in {}", a.display())),
            (false, true) => Some(format!("only in {}", b.display())),
            _ => {
                let x =
                    std::fs::read(a.join(name)).with_context(|| format!("cannot read {}", a.join(name).display()))?;
                let y =
                    std::fs::read(b.join(name)).with_context(|| format!("cannot read {}", b.join(name).display()))?;
                (x != y).then(|| {
                    // A zip by entry, an MSI (compound file) by stream, anything else by bytes.
                    let named = match (zip_entries(&x), zip_entries(&y)) {
                        (Some(ex), Some(ey)) => Some((ex, ey, "entries")),
                        _ => streams(&x).zip(streams(&y)).map(|(sx, sy)| (sx, sy, "streams")),
                    };
                    match named {
                        Some((ex, ey, kind)) => members(a, b, &ex, &ey)
                            .unwrap_or_else(|| format!("same {kind}, different container bytes ({})", how(&x, &y))),
                        None => how(&x, &y),
                    }
                })
            }
        };
        match verdict {
            None => lines.push(format!("same      {name}")),
            Some(why) => {
                same &= allowed;
                lines.push(format!("DIFFERENT {name}{mark}: {why}"));
            }
        }
    }
    Ok((lines, same))
}

/// Compare two package folders (target/dist of two hosts) byte for byte: which files, and
/// which zip entries, differ and where.
#[derive(clap::Args, Clone, Debug)]
#[command(
    after_help = "Example:\n  cargo xtask compare-dist linux-dist target/dist --allow '*-arm64.*' --allow SHA256SUMS"
)]
pub struct Args {
    /// The first package folder.
    pub a: std::path::PathBuf,
    /// The second package folder.
    pub b: std::path::PathBuf,
    /// A file name that may differ (`*` matches anything); repeatable.
    #[arg(long, value_name = "PATTERN")]
    pub allow: Vec<String>,
}

/// `cargo xtask compare-dist` (no checkout needed).
pub fn run(args: Args) -> Result<()> {
    let (a, b, allow) = (&args.a, &args.b, &args.allow);
    let (lines, same) = compare(a, b, allow)?;
    for line in &lines {
        println!("{line}");
    }
    if !same {
        bail!("{} and {} differ in files not allowed to (above)", a.display(), b.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_stars_only() {
        assert!(glob("*-arm64.*", "archway-0.1.0.0-arm64.msi"));
        assert!(!glob("*-arm64.*", "archway-0.1.0.0-x64.msi"));
        assert!(glob("SHA256SUMS", "SHA256SUMS") && !glob("SHA256SUMS", "SHA256SUMS.txt"));
    }

    fn zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, data) in entries {
            w.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
            std::io::Write::write_all(&mut w, data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    fn compound(streams: &[(&str, &[u8])]) -> Vec<u8> {
        let mut cf = cfb::CompoundFile::create(std::io::Cursor::new(Vec::new())).unwrap();
        for (name, data) in streams {
            std::io::Write::write_all(&mut cf.create_stream(name).unwrap(), data).unwrap();
        }
        cf.flush().unwrap();
        cf.into_inner().into_inner()
    }

    #[test]
    fn names_the_differing_streams_of_an_msi() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        std::fs::write(a.path().join("p.msi"), compound(&[("/File", b"same"), ("/Cabs.w1.cab", b"abcd")])).unwrap();
        std::fs::write(b.path().join("p.msi"), compound(&[("/File", b"same"), ("/Cabs.w1.cab", b"abXd")])).unwrap();
        let (lines, same) = compare(a.path(), b.path(), &[]).unwrap();
        let text = lines.join("\n");
        assert!(
            !same
                && text
                    .contains("DIFFERENT p.msi: /Cabs.w1.cab differs (4 vs 4 bytes, first difference at offset 0x2)"),
            "{text}"
        );
        assert!(!text.contains("/File"), "{text}");
    }

    #[test]
    fn names_the_differing_files_and_zip_entries() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        std::fs::write(a.path().join("same.msi"), b"abc").unwrap();
        std::fs::write(b.path().join("same.msi"), b"abc").unwrap();
        std::fs::write(a.path().join("p.zip"), zip(&[("x/a.dll", b"1234"), ("x/b.dll", b"same")])).unwrap();
        std::fs::write(b.path().join("p.zip"), zip(&[("x/a.dll", b"12x4"), ("x/b.dll", b"same")])).unwrap();
        std::fs::write(a.path().join("only-a.msi"), b"").unwrap();
        let (lines, same) = compare(a.path(), b.path(), &[]).unwrap();
        assert!(!same);
        let text = lines.join("\n");
        assert!(text.contains("same      same.msi"), "{text}");
        assert!(
            text.contains("DIFFERENT p.zip: x/a.dll differs (4 vs 4 bytes, first difference at offset 0x2)"),
            "{text}"
        );
        assert!(!text.contains("x/b.dll"), "{text}");
        assert!(text.contains("DIFFERENT only-a.msi: only in"), "{text}");
        let (_, same) = compare(a.path(), b.path(), &["*.zip".into(), "only-*".into()]).unwrap();
        assert!(same, "allowed differences pass");
    }
}
