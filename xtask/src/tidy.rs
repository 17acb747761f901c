//! Tidy checks over the repository, run as tests (as in rust-analyzer): conventions that keep
//! the tree readable and the outputs out of it.

use std::path::{Path, PathBuf};

fn tracked_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let out = std::process::Command::new("git").args(["ls-files", "-z"]).current_dir(root).output().expect("git runs");
    out.stdout.split(|b| *b == 0).filter(|s| !s.is_empty()).map(|s| root.join(std::str::from_utf8(s).unwrap())).collect()
}

#[test]
fn every_rust_file_opens_with_a_line_saying_what_it_owns() {
    for file in tracked_files().iter().filter(|p| p.extension().is_some_and(|e| e == "rs")) {
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
