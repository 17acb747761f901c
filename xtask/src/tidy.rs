//! Tidy checks over the repository, run as tests (as in rust-analyzer): conventions that keep
//! the tree readable and the outputs out of it.

use std::path::{Path, PathBuf};

fn tracked_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let out = crate::cmd::Cmd::new("git")
        .args(["ls-files", "-z"])
        .current_dir(root)
        .timeout(std::time::Duration::from_secs(120))
        .read()
        .expect("git runs");
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
        // `/github/home` is the HOME of GitHub Actions job containers (the generated workflows
        // cache under it), not a path of a developer's machine.
        let text = text.replace("/github/home/", "/github/");
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
        assert!(
            manifest.contains(&format!("{name} = {{ path = \"vendor/{name}\" }}")),
            "vendor/{name} is not in [patch.crates-io]"
        );
        assert!(
            entry.path().join("PATCH.md").is_file(),
            "vendor/{name} needs a PATCH.md with the diff offered upstream"
        );
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
            if line.contains("process::Command") || line.contains("MetadataCommand::new") || line.contains("duct::cmd")
            {
                offenders.push(format!("src/{rel}:{}: {}", i + 1, line.trim()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "start children through crate::cmd::Cmd (a deadline, the group killed):\n{}",
        offenders.join("\n")
    );
}

/// One `NAME.md §N` citation found in a tracked file.
#[derive(Debug, PartialEq)]
struct Citation {
    line: usize,
    /// What stands before the file name on the line (`docs/` in the accepted form).
    prefix: String,
    file: String,
    section: String,
}

/// Every `[PATH/]NAME.md §N[.M…]` in `text`, and the sections that continue it (`§4.2, §4.4`,
/// `§9 and §11`, `§4.2/§4.4`), each with the path written before the name.
fn citations(text: &str) -> Vec<Citation> {
    let mut found = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let mut rest = line;
        let mut consumed = 0;
        while let Some(at) = rest.find(".md §") {
            let before = &line[..consumed + at];
            let name_start =
                before.rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_')).map_or(0, |p| p + 1);
            let path_start =
                before.rfind(|c: char| !(c.is_ascii_alphanumeric() || "-_./\\".contains(c))).map_or(0, |p| p + 1);
            let file = format!("{}.md", &before[name_start..]);
            let prefix = before[path_start..name_start].to_string();
            let mut tail = &line[consumed + at + ".md ".len()..];
            while let Some(after) = tail.strip_prefix('§') {
                let len = after.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(after.len());
                let section = after[..len].trim_end_matches('.').to_string();
                if section.is_empty() {
                    break;
                }
                found.push(Citation { line: i + 1, prefix: prefix.clone(), file: file.clone(), section });
                tail = &after[len..];
                let Some(next) = [", ", " and ", " or ", "/", ", and ", "–", "-"]
                    .iter()
                    .find_map(|sep| tail.strip_prefix(sep).filter(|t| t.starts_with('§')))
                else {
                    break;
                };
                tail = next;
            }
            let used = line.len() - tail.len();
            consumed = used.max(consumed + at + 1);
            rest = &line[consumed..];
        }
    }
    found
}

/// The section numbers of a Markdown document: `## 4. Title` is `4`, `### 4.1 Title` is `4.1`.
fn sections(markdown: &str) -> Vec<String> {
    markdown
        .lines()
        .filter_map(|l| {
            let rest = l.trim_start_matches('#');
            (rest.len() < l.len()).then_some(rest)?.strip_prefix(' ')
        })
        .filter_map(|title| {
            let number = title.split_whitespace().next()?.trim_end_matches('.');
            (!number.is_empty() && number.chars().all(|c| c.is_ascii_digit() || c == '.')).then(|| number.to_string())
        })
        .collect()
}

/// What is wrong with one citation, if anything, given the repository's `docs/` folder.
fn citation_problem(citation: &Citation, docs: &Path) -> Option<String> {
    let Citation { prefix, file, section, .. } = citation;
    let cited = format!("{prefix}{file} §{section}");
    if prefix.contains("shared/") || prefix.starts_with("..") || prefix.starts_with('/') {
        return Some(format!(
            "`{cited}` points outside the repository: cite `docs/{file} §{section}` (the repository's own notes)"
        ));
    }
    if prefix != "docs/" {
        return Some(format!("`{cited}` must name its folder: write `docs/{file} §{section}`"));
    }
    let Ok(text) = std::fs::read_to_string(docs.join(file)) else {
        return Some(format!("`{cited}`: there is no docs/{file}; cite an existing document or write it"));
    };
    if !sections(&text).contains(section) {
        return Some(format!(
            "`{cited}`: docs/{file} has no section {section} (no heading `## {section}` or `### {section}`); cite an existing section or add it"
        ));
    }
    None
}

#[test]
fn every_citation_leads_to_a_section_of_the_repositorys_docs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let docs = root.join("docs");
    let vendor = root.join("vendor");
    let mut offenders = Vec::new();
    for file in tracked_files().iter().filter(|p| !p.starts_with(&vendor) && !p.ends_with("xtask/src/tidy.rs")) {
        let Ok(text) = std::fs::read_to_string(file) else { continue };
        let rel = file.strip_prefix(root).unwrap_or(file).display().to_string();
        for (i, line) in text.lines().enumerate() {
            if line.contains("shared/docs") {
                offenders.push(format!(
                    "{rel}:{}: `shared/docs` is outside the repository: cite the notes in docs/ instead",
                    i + 1
                ));
            }
        }
        for citation in citations(&text) {
            if let Some(problem) = citation_problem(&citation, &docs) {
                offenders.push(format!("{rel}:{}: {problem}", citation.line));
            }
        }
    }
    assert!(offenders.is_empty(), "{} citation(s) lead nowhere:\n{}", offenders.len(), offenders.join("\n"));
}

#[test]
fn citations_are_found_with_their_folder_and_continued_sections() {
    let text = "a (iis.md §4.2, §4.4) b\n// docs/arm64x-forwarder.md §9 and §11.8. See ../shared/docs/msi.md §2.7/§2.8 and x.md §\n";
    let found = citations(text);
    let got: Vec<(usize, &str, &str, &str)> =
        found.iter().map(|c| (c.line, c.prefix.as_str(), c.file.as_str(), c.section.as_str())).collect();
    assert_eq!(
        got,
        [
            (1, "", "iis.md", "4.2"),
            (1, "", "iis.md", "4.4"),
            (2, "docs/", "arm64x-forwarder.md", "9"),
            (2, "docs/", "arm64x-forwarder.md", "11.8"),
            (2, "../shared/docs/", "msi.md", "2.7"),
            (2, "../shared/docs/", "msi.md", "2.8")
        ]
    );
    assert_eq!(sections("# T\n## 1. What\n### 1.1 Container\n## Notes\n#### 12.4 `.reloc`\n"), ["1", "1.1", "12.4"]);
}

#[test]
fn a_citation_fails_unless_it_names_docs_and_an_existing_section() {
    let docs = tempfile::tempdir().unwrap();
    std::fs::write(docs.path().join("iis.md"), "# IIS\n## 4. API\n### 4.4 Server interfaces\n").unwrap();
    let check = |prefix: &str, file: &str, section: &str| {
        citation_problem(
            &Citation { line: 1, prefix: prefix.into(), file: file.into(), section: section.into() },
            docs.path(),
        )
    };
    assert_eq!(check("docs/", "iis.md", "4.4"), None);
    assert!(check("", "iis.md", "4.4").unwrap().contains("write `docs/iis.md §4.4`"));
    assert!(check("../shared/docs/", "iis.md", "4.4").unwrap().contains("outside the repository"));
    assert!(check("shared/docs/", "iis.md", "4").unwrap().contains("outside the repository"));
    assert!(check("docs/", "iis.md", "4.5").unwrap().contains("no section 4.5"));
    assert!(check("docs/", "msi.md", "1").unwrap().contains("there is no docs/msi.md"));
}

/// Where a file breaks the unit-test naming convention, if it does: a module's unit tests are its
/// child module `tests`, inline, in `tests.rs`, or in a `tests/` folder (`tests/mod.rs` and one
/// file per topic); no `*_tests.rs`, no `#[path]` (README, "Contributing").
fn test_naming_problem(rel: &Path, text: &str) -> Option<String> {
    let name = rel.file_name()?.to_str()?;
    let in_tests_folder = rel.parent().is_some_and(|p| p.components().any(|c| c.as_os_str() == "tests"));
    if name.contains("test") && name != "tests.rs" && !in_tests_folder {
        return Some(format!("{}: unit tests go in `tests.rs` or a `tests/` folder, not `{name}`", rel.display()));
    }
    let path_attribute = concat!("#[", "path");
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_start();
        let declaration =
            ["pub(crate) ", "pub(super) ", "pub "].iter().fold(line, |l, p| l.strip_prefix(p).unwrap_or(l));
        let test_module = declaration.strip_prefix("mod ").map(|m| m.trim_end_matches([';', '{', ' ']));
        if line.starts_with(path_attribute) || test_module.is_some_and(|m| m != "tests" && m.contains("test")) {
            return Some(format!(
                "{}:{}: `{line}`: a unit-test module is `mod tests` at its default path (`tests.rs` or `tests/mod.rs`)",
                rel.display(),
                n + 1
            ));
        }
    }
    None
}

#[test]
fn unit_tests_are_named_one_way() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let src = root.join("xtask/src");
    let problems: Vec<String> = tracked_files()
        .iter()
        .filter(|p| p.starts_with(&src) && p.extension().is_some_and(|e| e == "rs") && p.is_file())
        .filter_map(|p| test_naming_problem(p.strip_prefix(root).unwrap(), &std::fs::read_to_string(p).unwrap()))
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_test_naming_check_refuses_the_other_ways() {
    let ok = |rel: &str, text: &str| test_naming_problem(Path::new(rel), text);
    assert_eq!(ok("xtask/src/a/tests.rs", ""), None);
    assert_eq!(ok("xtask/src/msi/tests/lint.rs", "mod sub;"), None);
    assert_eq!(ok("xtask/src/a.rs", "#[cfg(test)]\nmod tests;\n"), None);
    assert!(ok("xtask/src/a/image_tests.rs", "").unwrap().contains("not `image_tests.rs`"));
    let path = concat!("#[", "path = \"x.rs\"]\nmod tests;\n");
    assert!(ok("xtask/src/a.rs", path).unwrap().contains("xtask/src/a.rs:1:"));
    assert!(ok("xtask/src/a.rs", "#[cfg(test)]\nmod golden_tests;\n").unwrap().contains("xtask/src/a.rs:2:"));
    assert!(ok("xtask/src/a.rs", "pub(crate) mod file_tests {").is_some());
}
