//! Tidy checks over the repository, run as tests (as in rust-analyzer): conventions that keep
//! the tree readable and the outputs out of it.

use std::path::{Path, PathBuf};

fn tracked_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let out = crate::cmd::Cmd::new("git").args(["ls-files", "-z"]).current_dir(root).timeout(std::time::Duration::from_secs(120)).read().expect("git runs");
    out.split('\0').filter(|s| !s.is_empty()).map(|s| root.join(s)).collect()
}

#[test]
fn every_rust_file_opens_with_a_line_saying_what_it_owns() {
    // Vendored crates keep their upstream text (see `vendored_crates_say_why_they_are_vendored`).
    let vendor = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().join("vendor");
    for file in tracked_files().iter().filter(|p| p.extension().is_some_and(|e| e == "rs") && !p.starts_with(&vendor)) {
        let text = std::fs::read_to_string(file).unwrap();
        assert!(text.starts_with("//! "), "{} must open with a `//!` line saying what it owns", file.display());
    }
}

#[test]
fn every_native_source_opens_with_a_comment_saying_what_it_owns() {
    let native = ["cpp", "h", "S"];
    for file in tracked_files().iter().filter(|p| p.extension().is_some_and(|e| native.iter().any(|n| e == *n))) {
        let text = std::fs::read_to_string(file).unwrap();
        assert!(text.starts_with("// "), "{} must open with a `//` line saying what it owns", file.display());
    }
}

#[test]
fn no_build_output_is_tracked() {
    let outputs = ["fingerprint.json", ".obj", ".dll", ".exe", ".pdb", ".lib", ".res"];
    for file in tracked_files() {
        let name = file.to_string_lossy();
        assert!(!outputs.iter().any(|o| name.ends_with(o)), "{name} is a build output and must not be committed");
    }
}

#[test]
fn no_machine_specific_path_is_committed() {
    for file in tracked_files() {
        let Ok(text) = std::fs::read_to_string(&file) else { continue };
        for needle in ["/work/", "/root/", "/tmp/llvmvenv", "/home/"] {
            if file.ends_with("tidy.rs") {
                continue;
            }
            assert!(!text.contains(needle), "{} names a machine path ({needle})", file.display());
        }
    }
}

/// The code that reads untrusted bytes (PE images, VERSIONINFO, the Arm64X reader, MSIs and
/// cabinets, the fuzz harness's field finder): outside its tests, no `unwrap()` or `expect(`
/// unless the line, or the comment line above it, says why the bound holds (`bound:`).
/// Indexing cannot be told apart from other brackets by a line scan; the fuzz harness covers it.
const UNTRUSTED_READERS: &[&str] = &[
    "xtask/src/verify/mod.rs",
    "xtask/src/verify/versioninfo.rs",
    "xtask/src/verify/arm64x/mod.rs",
    "xtask/src/verify/arm64x/headers.rs",
    "xtask/src/verify/arm64x/view.rs",
    "xtask/src/verify/forwards/mod.rs",
    "xtask/src/verify/forwards/rules.rs",
    "xtask/src/verify/forwards/describe.rs",
    "xtask/src/msi/read.rs",
    "xtask/src/msi/pe.rs",
    "xtask/src/msi/cabinet.rs",
    "xtask/src/msi/cabinet/layout.rs",
    "xtask/src/fuzz/structure.rs",
    "xtask/src/forwarders/spec.rs",
    "xtask/src/config.rs",
];

#[test]
fn readers_of_untrusted_bytes_do_not_unwrap_without_a_proven_bound() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut offenders = Vec::new();
    for file in UNTRUSTED_READERS {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        let mut previous = "";
        for (i, line) in code.lines().enumerate() {
            let unwraps = line.contains(".unwrap()") || line.contains(".expect(");
            if unwraps && !line.contains("bound:") && !previous.contains("bound:") {
                offenders.push(format!("{file}:{}: {}", i + 1, line.trim()));
            }
            previous = line;
        }
    }
    assert!(offenders.is_empty(), "unwrap on untrusted bytes without a `bound:` comment:\n{}", offenders.join("\n"));
}

#[test]
fn vendored_crates_say_why_they_are_vendored() {
    // Each `vendor/<crate>` is patched for a reason the root Cargo.toml names.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    for entry in std::fs::read_dir(root.join("vendor")).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        assert!(manifest.contains(&format!("{name} = {{ path = \"vendor/{name}\" }}")), "vendor/{name} is not in [patch.crates-io]");
        assert!(entry.path().join("PATCH.md").is_file(), "vendor/{name} needs a PATCH.md with the diff offered upstream");
    }
}

#[test]
fn every_child_process_goes_through_cmd_with_its_deadline() {
    // `Cmd` (cmd.rs) kills a child and its process group past its deadline; std's Command and
    // cargo_metadata's `exec` have none. Test modules may start helpers directly.
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut offenders = Vec::new();
    for file in tracked_files().iter().filter(|p| p.starts_with(&src) && p.extension().is_some_and(|e| e == "rs")) {
        let rel = file.strip_prefix(&src).unwrap_or(file).to_string_lossy().replace('\\', "/");
        if rel == "cmd.rs" || rel.starts_with("cmd/") || rel == "tidy.rs" || rel.contains("tests") {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        for (i, line) in code.lines().enumerate() {
            if line.contains("process::Command") || line.contains("MetadataCommand::new") || line.contains("duct::cmd") {
                offenders.push(format!("src/{rel}:{}: {}", i + 1, line.trim()));
            }
        }
    }
    assert!(offenders.is_empty(), "start children through crate::cmd::Cmd (a deadline, the group killed):\n{}", offenders.join("\n"));
}
