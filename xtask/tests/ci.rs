//! The generated workflows and the pins around them, end to end through the xtask binary: a
//! stale workflow fails `ci --check` with a diff whether the checkout is LF or CRLF, a CRLF copy
//! of a fresh one passes, .gitattributes keeps text LF, the Rust pins agree, and `compare-dist`
//! names what differs between two package folders.

mod support;

use std::{path::Path, process::Command, time::Duration};

use support::*;

const WORKFLOWS: [&str; 2] = [".github/workflows/ci.yml", ".github/workflows/release.yml"];

fn check(dir: &Path) -> std::process::Output {
    xtask(dir, &["ci", "--check"])
}

#[test]
fn the_committed_workflows_are_fresh() {
    let out = check(&repo_root());
    assert!(out.status.success(), "run `cargo xtask ci` and commit the result:\n{}", stderr(&out));
}

#[test]
fn a_crlf_checkout_passes_and_a_stale_workflow_fails_with_a_diff_either_way() {
    let (_tmp, dir) = copy_checkout("archway");
    for name in WORKFLOWS {
        let path = dir.join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace('\n', "\r\n")).unwrap();
    }
    let out = check(&dir);
    assert!(out.status.success(), "a CRLF checkout of fresh workflows is fresh:\n{}", stderr(&out));

    for eol in ["\n", "\r\n"] {
        let path = dir.join(WORKFLOWS[0]);
        let text = std::fs::read_to_string(repo_root().join(WORKFLOWS[0])).unwrap();
        let stale = text.replacen("timeout-minutes: 150", "timeout-minutes: 151", 1);
        std::fs::write(&path, stale.replace('\n', eol)).unwrap();
        let out = check(&dir);
        let err = stderr(&out);
        assert!(!out.status.success(), "a stale workflow ({eol:?}) passed");
        assert!(
            err.contains("ci.yml is stale")
                && err.contains("timeout-minutes: 151")
                && err.contains("timeout-minutes: 150"),
            "{err}"
        );
        assert!(err.contains("release.yml is up to date"), "{err}");
    }
}

#[test]
fn gitattributes_keep_text_lf_in_every_checkout() {
    for file in [WORKFLOWS[0], WORKFLOWS[1], "matrix.toml", ".ci/run", "xtask/src/main.rs"] {
        let out = output_within(
            Command::new("git").args(["check-attr", "eol", "--", file]).current_dir(repo_root()),
            Duration::from_secs(60),
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.trim_end().ends_with("eol: lf"), "{file}: {text}");
    }
}

/// `rust-toolchain.toml` pins the Rust every host uses; `rust-version` is the oldest that builds
/// the workspace, so it cannot be lower than a dependency's own, nor above the pinned one.
#[test]
fn the_rust_pins_agree() {
    let root = repo_root();
    let toolchain = std::fs::read_to_string(root.join("rust-toolchain.toml")).unwrap();
    let channel = toolchain.lines().find_map(|l| l.strip_prefix("channel = ")).unwrap().trim_matches('"').to_string();
    // "1.88" and "1.88.0" are the same version.
    let parse = |v: &str| {
        let mut parts: Vec<u32> = v.split('.').map(|p| p.parse().unwrap()).collect();
        parts.resize(3, 0);
        parts
    };
    let out = output_within(
        Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["metadata", "--format-version", "1", "--locked"])
            .current_dir(&root),
        Duration::from_secs(300),
    );
    assert!(out.status.success(), "cargo metadata: {}", stderr(&out));
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let packages = meta["packages"].as_array().unwrap();
    let ours = packages.iter().find(|p| p["name"] == "xtask").unwrap()["rust_version"].as_str().unwrap().to_string();
    assert!(parse(&ours) <= parse(&channel), "rust-version {ours} is above the pinned {channel}");
    for p in packages.iter().filter(|p| p["name"] != "xtask") {
        if let Some(theirs) = p["rust_version"].as_str() {
            assert!(
                parse(theirs) <= parse(&ours),
                "{} {} needs Rust {theirs}, but Cargo.toml says rust-version = {ours}",
                p["name"],
                p["version"]
            );
        }
    }
    // The container of the Linux jobs carries the same Rust.
    let matrix = std::fs::read_to_string(root.join("matrix.toml")).unwrap();
    let minor = channel.rsplit_once('.').unwrap().0;
    assert!(
        matrix.contains(&format!("rust:{minor}-bookworm@sha256:")),
        "matrix.toml's containers are not rust:{minor}"
    );
}

/// Two package folders: the same bytes pass; one changed file inside a zip is named, with the
/// zip entry and the offset, and fails unless allowed. Uses `target/dist` (`.ci/run` builds it).
#[test]
fn compare_dist_names_what_differs_between_two_local_dists() {
    let dist = repo_root().join("target/dist");
    if !dist.join("SHA256SUMS").is_file() {
        missing("target/dist (a `cargo xtask dist`)", "run `cargo xtask dist` first (.ci/run does)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    for dir in [&a, &b] {
        std::fs::create_dir(dir).unwrap();
        for entry in std::fs::read_dir(&dist).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
        }
    }
    let out = xtask(&repo_root(), &["compare-dist", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).lines().all(|l| l.starts_with("same ")), "{}", stdout(&out));

    // Flip one byte of the x64 shim inside the x64 zip, re-written as a zip.
    let zip_name = std::fs::read_dir(&b)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .find(|n| n.ends_with("-x64.zip"))
        .unwrap();
    let bytes = std::fs::read(b.join(&zip_name)).unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let mut changed = String::new();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).unwrap();
        let name = entry.name().unwrap().to_string();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data).unwrap();
        if changed.is_empty() && name.ends_with(".dll") {
            data[0x40] ^= 0xff;
            changed = name.clone();
        }
        writer.start_file(name, zip::write::SimpleFileOptions::default()).unwrap();
        std::io::Write::write_all(&mut writer, &data).unwrap();
    }
    std::fs::write(b.join(&zip_name), writer.finish().unwrap().into_inner()).unwrap();

    let out = xtask(&repo_root(), &["compare-dist", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert!(!out.status.success());
    let text = stdout(&out);
    assert!(
        text.contains(&format!("DIFFERENT {zip_name}: {changed} differs"))
            && text.contains("first difference at offset 0x40"),
        "{text}"
    );
    assert!(stderr(&out).contains("differ in files not allowed to"), "{}", stderr(&out));
    let out = xtask(&repo_root(), &["compare-dist", a.to_str().unwrap(), b.to_str().unwrap(), "--allow", "*-x64.zip"]);
    assert!(out.status.success(), "{}", stderr(&out));
}
