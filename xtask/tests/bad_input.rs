//! Bad input gives one clear error naming the file (and line where there is one), and the
//! build stops before running any tool.

mod support;

use support::*;

fn edit(dir: &std::path::Path, rel: &str, f: impl FnOnce(String) -> String) {
    let path = dir.join(rel);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, f(text)).unwrap();
}

fn failing_build(dir: &std::path::Path, args: &[&str]) -> String {
    let mut all = vec!["build", "--no-provision"];
    all.extend_from_slice(args);
    let out = xtask(dir, &all);
    assert!(!out.status.success(), "the build should have failed");
    let err = stderr(&out);
    assert!(!err.contains("] compile"), "nothing may be compiled before the input is checked:\n{err}");
    err
}

#[test]
fn a_missing_source_file_names_the_manifest_line() {
    let (_tmp, dir) = copy_checkout("archway");
    edit(&dir, "handlers/diagnostics/binary.toml", |t| t.replace("src/diagnostics.cpp", "src/gone.cpp"));
    let err = failing_build(&dir, &[]);
    assert!(
        err.contains("handlers/diagnostics/binary.toml:5:")
            && err.contains("source file `src/gone.cpp` does not exist"),
        "{err}"
    );
}

#[test]
fn a_broken_def_file_names_its_line() {
    let (_tmp, dir) = copy_checkout("archway");
    edit(&dir, "native/imports/kernel32.def", |t| t.replacen("EXPORTS\n", "EXPORTS\n    Broken@three\n", 1));
    let err = failing_build(&dir, &[]);
    assert!(err.contains("native/imports/kernel32.def:") && err.contains("`Broken@three`"), "{err}");
    let line: usize = err.split("kernel32.def:").nth(1).unwrap().split(':').next().unwrap().parse().unwrap();
    let text = std::fs::read_to_string(dir.join("native/imports/kernel32.def")).unwrap();
    assert_eq!(text.lines().nth(line - 1).unwrap().trim(), "Broken@three");
}

#[test]
fn an_unknown_architecture_on_the_command_line_is_named() {
    let (_tmp, dir) = copy_checkout("archway");
    let err = failing_build(&dir, &["--arch", "x64,mips"]);
    assert!(err.contains("unknown architecture `mips`; known: x86, x64, arm64, arm64ec"), "{err}");
}

#[test]
fn a_malformed_matrix_names_file_and_line() {
    let (_tmp, dir) = copy_checkout("archway");
    edit(&dir, "matrix.toml", |t| t.replacen("dlltool_machine = \"i386:x86-64\"", "dlltool_machine = [\"amd64\"]", 1));
    let err = failing_build(&dir, &[]);
    let text = std::fs::read_to_string(dir.join("matrix.toml")).unwrap();
    let line = text.lines().position(|l| l.contains("\"amd64\"")).unwrap() + 1;
    assert!(err.contains(&format!("matrix.toml:{line}:")), "{err}");
}

#[test]
fn an_unknown_field_in_a_manifest_is_an_error() {
    let (_tmp, dir) = copy_checkout("archway");
    edit(&dir, "module/binary.toml", |t| format!("{t}shipp = true\n"));
    let err = failing_build(&dir, &[]);
    assert!(err.contains("module/binary.toml:") && err.contains("shipp"), "{err}");
}
