//! The next-version package set: the checkout copied into a scratch folder (what git tracks plus
//! untracked, unignored files), the workspace version's minor field bumped in its Cargo.toml,
//! and `cargo xtask dist` run there (this same xtask binary, with the scratch copy's own target
//! folder). The copy is kept between runs, so a second run rebuilds only what changed.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, Result};

use crate::{cmd::Cmd, fsx, project::Project};

/// How long building the next-version set may take (a cold release build of every architecture).
const DIST_TIMEOUT: Duration = Duration::from_secs(40 * 60);

/// The scratch copy every verb builds the next version in (kept between runs and verbs, so a
/// second build is incremental).
pub fn scratch(project: &Project) -> PathBuf {
    project.target_dir.join("archway").join("next-version")
}

/// Builds the next-version set for `project` in `scratch` and returns its `target/dist` folder.
pub fn build(project: &Project, scratch: &Path) -> Result<PathBuf> {
    let manifest = project.root.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).with_context(|| format!("cannot read {}", manifest.display()))?;
    let (bumped, next) = bump_minor(&text)
        .with_context(|| format!("{}: cannot find the [workspace.package] version to bump", manifest.display()))?;
    sync_checkout(&project.root, scratch, &bumped)?;
    eprintln!("[next version] building the {next} packages in {}", scratch.display());
    let exe = std::env::current_exe().context("cannot find this xtask's own binary to build the next version with")?;
    let mut cmd = Cmd::new(exe)
        .args(["dist", "--no-provision", "--jobs", "2"])
        .current_dir(scratch)
        .env_remove("CARGO_TARGET_DIR")
        .timeout(DIST_TIMEOUT);
    if let Ok(epoch) = std::env::var("SOURCE_DATE_EPOCH") {
        cmd = cmd.env("SOURCE_DATE_EPOCH", epoch);
    }
    cmd.run().context("building the next-version package set failed")?;
    Ok(scratch.join("target").join("dist"))
}

/// Copies the checkout's files into `to`, writing only files whose content changed (so the
/// scratch build's fingerprints see only real edits); the top Cargo.toml is `cargo_toml`.
fn sync_checkout(root: &Path, to: &Path, cargo_toml: &str) -> Result<()> {
    let listed = Cmd::new("git")
        .args(["ls-files", "-z", "--cached", "--others", "--exclude-standard"])
        .current_dir(root)
        .timeout(Duration::from_secs(60))
        .run()
        .with_context(|| format!("cannot list the checkout's files in {} with git", root.display()))?;
    for rel in listed.stdout.split('\0').filter(|s| !s.is_empty()) {
        let from = root.join(rel);
        if !from.is_file() {
            continue; // deleted in the working tree
        }
        let bytes = if rel == "Cargo.toml" {
            cargo_toml.as_bytes().to_vec()
        } else {
            std::fs::read(&from).with_context(|| format!("cannot read {}", from.display()))?
        };
        let dest = to.join(rel);
        if let Some(dir) = dest.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        fsx::write_if_changed(&dest, &bytes)?;
    }
    Ok(())
}

/// `version = "0.1.0"` in `[workspace.package]` becomes `0.2.0`; returns the text and the new
/// version.
fn bump_minor(text: &str) -> Option<(String, String)> {
    let mut in_section = false;
    let mut out = Vec::new();
    let mut next = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            in_section = trimmed == "[workspace.package]";
        }
        if in_section && next.is_none() && trimmed.starts_with("version") {
            let value = trimmed.split_once('=')?.1.trim().trim_matches('"');
            let mut parts: Vec<u32> = value.split('.').map(|p| p.parse().ok()).collect::<Option<_>>()?;
            if parts.len() != 3 {
                return None;
            }
            parts[1] += 1;
            parts[2] = 0;
            let v = format!("{}.{}.{}", parts[0], parts[1], parts[2]);
            out.push(format!("version = \"{v}\""));
            next = Some(v);
            continue;
        }
        out.push(line.to_string());
    }
    let mut text = out.join("\n");
    text.push('\n');
    next.map(|v| (text, v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workspace_version_gets_the_next_minor() {
        let text = "[workspace]\nversion = \"9.9.9\"\n[workspace.package]\n# the product version\nversion = \"0.1.3\"\nedition = \"2024\"\n";
        let (bumped, next) = bump_minor(text).unwrap();
        assert_eq!(next, "0.2.0");
        assert!(bumped.contains("version = \"0.2.0\"\nedition") && bumped.contains("version = \"9.9.9\""), "{bumped}");
        assert!(bump_minor("[workspace.package]\nedition = \"2024\"\n").is_none());
    }
}
