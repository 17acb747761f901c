//! `cargo xtask dist` end to end: every MSI read back by msitools (an independent reader) with
//! its extracted files byte-equal to the built ones, the zip archives holding the same trees,
//! byte-identical outputs from two checkout folders, a clean upgrade from the previous version,
//! and `msi-check`'s refusals of bad input.

mod support;

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::{Command, Output},
    sync::OnceLock,
};

use support::*;

const EPOCH: &str = "1767225600"; // 2026-01-01
#[cfg(not(windows))]
const PLATFORMS: [&str; 3] = ["x64", "arm64", "x86"];

fn dist_in(dir: &Path, extra: &[&str]) -> Output {
    run_ok(xtask_cmd(dir, &["dist", "--no-provision"]).args(extra).env("SOURCE_DATE_EPOCH", EPOCH))
}

fn dist_dir(dir: &Path) -> PathBuf {
    dir.join("target/dist")
}

/// One checkout copy with `dist` run once, shared by the tests of this file.
fn shared_dist() -> Option<&'static Path> {
    static DIST: OnceLock<Option<(tempfile::TempDir, PathBuf)>> = OnceLock::new();
    DIST.get_or_init(|| {
        let (tmp, dir) = copy_checkout("archway");
        if !toolchain_ready(&dir) {
            return None;
        }
        dist_in(&dir, &[]);
        Some((tmp, dir))
    })
    .as_ref()
    .map(|(_, dir)| dir.as_path())
}

#[cfg(not(windows))]
fn msitool(name: &str) -> Option<PathBuf> {
    let found = std::env::split_paths(&std::env::var_os("PATH")?).map(|d| d.join(name)).find(|p| p.is_file());
    if found.is_none() {
        missing(name, "install Debian's msitools (`apt-get install msitools`)");
    }
    found
}

#[cfg(not(windows))]
fn run(program: &Path, args: &[&str], cwd: &Path) -> String {
    stdout(&run_ok(Command::new(program).args(args).current_dir(cwd)))
}

/// Every file under `root`, by its path relative to `root` with `/` separators.
fn files_under(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dist_dir(dir).join("manifest.json")).unwrap()).unwrap()
}

// msitools is the Linux reader; the Windows jobs install the packages instead (msi_install.rs).
#[cfg(not(windows))]
#[test]
fn msitools_read_every_msi_and_extract_exactly_the_built_files() {
    let Some(dir) = shared_dist() else { return };
    let (Some(msiinfo), Some(msidump), Some(msiextract)) =
        (msitool("msiinfo"), msitool("msidump"), msitool("msiextract"))
    else {
        return;
    };
    let manifest = manifest(dir);
    for (platform, package) in PLATFORMS.iter().zip(manifest["packages"].as_array().unwrap()) {
        assert_eq!(package["platform"], *platform);
        let msi = dist_dir(dir).join(package["msi"]["file"].as_str().unwrap());
        let msi_arg = msi.to_str().unwrap();
        let template = match *platform {
            "x64" => "Template: x64;1033",
            "arm64" => "Template: Arm64;1033",
            _ => "Template: Intel;1033",
        };
        let info = run(&msiinfo, &["suminfo", msi_arg], dir);
        assert!(info.contains(template) && info.contains("Version: 500"), "{platform}:\n{info}");
        let tables = run(&msiinfo, &["tables", msi_arg], dir);
        for table in
            ["File", "Component", "Directory", "Upgrade", "CustomAction", "InstallExecuteSequence", "_Validation"]
        {
            assert!(tables.lines().any(|l| l.trim() == table), "{platform}: no {table} table in\n{tables}");
        }
        let dump = tempfile::tempdir().unwrap();
        run(&msidump, &["-d", dump.path().to_str().unwrap(), msi_arg], dir);
        assert!(dump.path().join("File.idt").is_file(), "{platform}: msidump wrote no File.idt");

        let extracted = tempfile::tempdir().unwrap();
        run(&msiextract, &["-C", extracted.path().to_str().unwrap(), msi_arg], dir);
        let files = files_under(extracted.path());
        let expected = package["files"].as_array().unwrap();
        let schema = package["schema_files"].as_array().unwrap();
        assert_eq!(
            files.len(),
            expected.len() + schema.len(),
            "{platform}: extracted {:?}",
            files.keys().collect::<Vec<_>>()
        );
        // Each schema copy: its name and bytes somewhere in the extraction (msiextract's folder
        // names are not Windows', docs/msi.md §4.3); the module/schema files themselves.
        for copy in schema {
            let install = copy["install_path"].as_str().unwrap();
            let name = install.rsplit('\\').next().unwrap();
            let sha = copy["sha256"].as_str().unwrap();
            assert!(
                files.iter().any(|(p, b)| p.ends_with(&format!("/{name}")) && sha256(b) == sha),
                "{platform}: {install} not extracted"
            );
            assert_eq!(sha, sha256(&std::fs::read(dir.join("module/schema").join(name)).unwrap()), "{install}");
            assert!(copy["installed_when"].as_str().unwrap().contains("IIS"), "{copy}");
        }
        for file in expected {
            let install = file["install_path"].as_str().unwrap().replace('\\', "/");
            let name = install.rsplit('/').next().unwrap();
            // msiextract resolves ProgramFilesFolder (the x86 folder) to `Program Files/`, as
            // 32-bit Windows would, and ProgramFiles64Folder to nothing, leaving `Archway/`.
            let in_x86 = install.starts_with("Program Files (x86)");
            let (_, bytes) = files
                .iter()
                .find(|(path, _)| path.ends_with(&format!("/{name}")) && path.starts_with("Program Files/") == in_x86)
                .unwrap_or_else(|| {
                    panic!("{platform}: {install} not extracted: {:?}", files.keys().collect::<Vec<_>>())
                });
            assert_eq!(
                sha256(bytes),
                file["sha256"].as_str().unwrap(),
                "{platform}: {install} differs from the built file"
            );
        }
    }
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn the_zip_archives_hold_the_same_install_trees() {
    let Some(dir) = shared_dist() else { return };
    for package in manifest(dir)["packages"].as_array().unwrap() {
        let zip = dist_dir(dir).join(package["zip"]["file"].as_str().unwrap());
        let mut archive = zip::ZipArchive::new(std::fs::File::open(&zip).unwrap()).unwrap();
        let mut found = BTreeMap::new();
        for i in 0..archive.len() {
            let mut entry = archive.by_index(i).unwrap();
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut bytes).unwrap();
            found.insert(entry.name().unwrap().to_string(), sha256(&bytes));
        }
        let expected: BTreeMap<String, String> = package["files"]
            .as_array()
            .unwrap()
            .iter()
            .chain(package["schema_files"].as_array().unwrap())
            .map(|f| {
                (f["install_path"].as_str().unwrap().replace('\\', "/"), f["sha256"].as_str().unwrap().to_string())
            })
            .collect();
        assert_eq!(found, expected, "{}", zip.display());
    }
    // The arm64 tree: forwarders under the plain names, both targets beside them, no ARM64
    // code in the x86 folder (dotnet/aspnetcore#47115).
    let arm64 = &manifest(dir)["packages"][1];
    let machines: BTreeMap<&str, &str> = arm64["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["install_path"].as_str().unwrap(), f["machine"].as_str().unwrap_or("none")))
        .collect();
    assert_eq!(machines["Program Files\\Archway\\archway.dll"], "arm64x");
    assert_eq!(machines["Program Files\\Archway\\archway_arm64.dll"], "arm64");
    assert_eq!(machines["Program Files\\Archway\\archway_x64.dll"], "x64");
    assert_eq!(machines["Program Files (x86)\\Archway\\archway.dll"], "x86");

    // Every handler of handlers/ ships by itself, like the diagnostics one (issue 10: the
    // platform handler): its x86 build in every package, its x64 build in the x64 package, its
    // Arm64X forwarder and both targets in the arm64 one.
    let mut handlers: Vec<String> = std::fs::read_dir(dir.join("handlers"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("binary.toml").is_file())
        .map(|p| format!("archway_{}", p.file_name().unwrap().to_string_lossy()))
        .collect();
    handlers.sort();
    assert!(handlers.contains(&"archway_diagnostics".to_string()), "{handlers:?}");
    for package in manifest(dir)["packages"].as_array().unwrap() {
        let platform = package["platform"].as_str().unwrap();
        let machines: BTreeMap<&str, &str> = package["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["install_path"].as_str().unwrap(), f["machine"].as_str().unwrap_or("none")))
            .collect();
        for handler in &handlers {
            let at = |folder: &str, suffix: &str| {
                machines.get(format!("{folder}\\Archway\\{handler}{suffix}.dll").as_str()).copied()
            };
            assert_eq!(at("Program Files (x86)", ""), Some("x86"), "{platform}: {handler}");
            match platform {
                "x64" => assert_eq!(at("Program Files", ""), Some("x64"), "{handler}"),
                "arm64" => {
                    assert_eq!(at("Program Files", ""), Some("arm64x"), "{handler}: the forwarder");
                    assert_eq!(at("Program Files", "_arm64"), Some("arm64"), "{handler}");
                    assert!(
                        matches!(
                            at("Program Files", "_arm64ec").or(at("Program Files", "_x64")),
                            Some("arm64ec" | "x64")
                        ),
                        "{handler}"
                    );
                }
                _ => {}
            }
        }
    }
}

#[test]
fn two_checkout_folders_give_byte_identical_packages() {
    let Some(first) = shared_dist() else { return };
    let (_tmp, second) = copy_checkout("another-folder");
    dist_in(&second, &[]);
    let a = files_under(&dist_dir(first));
    let b = files_under(&dist_dir(&second));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (name, bytes) in &a {
        assert!(*bytes == b[name], "{name} differs between checkout folders");
    }
    let sums = String::from_utf8(a["SHA256SUMS"].clone()).unwrap();
    assert_eq!(sums.lines().count(), 7, "three MSIs, three zips, the manifest:\n{sums}");
}

#[test]
fn the_next_version_upgrades_the_previous_one_cleanly() {
    let Some(old) = shared_dist() else { return };
    let (_tmp, new) = copy_checkout("archway");
    let manifest_path = new.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest_path).unwrap();
    assert!(text.contains("version = \"0.1.0\""), "the test bumps the workspace version from 0.1.0");
    std::fs::write(&manifest_path, text.replace("version = \"0.1.0\"", "version = \"0.2.0\"")).unwrap();
    let out = dist_in(&new, &["--previous", dist_dir(old).to_str().unwrap()]);
    let err = stderr(&out);
    assert!(err.contains("archway-0.2.0.0-arm64.msi"), "{err}");

    // The same check by hand shows the simulated upgrade: every path ends up from the new product.
    let new_msi = dist_dir(&new).join("archway-0.2.0.0-arm64.msi");
    let old_msi = dist_dir(old).join("archway-0.1.0.0-arm64.msi");
    let out = xtask(&new, &["msi-check", new_msi.to_str().unwrap(), "--previous", old_msi.to_str().unwrap()]);
    let report = stdout(&out);
    assert!(out.status.success(), "{report}\n{}", stderr(&out));
    assert!(report.contains("simulated major upgrade 0.1.0.0 -> 0.2.0.0"), "{report}");
    assert!(report.contains("0 error(s)"), "{report}");
    let arm64 = &manifest(&new)["packages"][1];
    let arm64_files = arm64["files"].as_array().unwrap().len() + arm64["schema_files"].as_array().unwrap().len();
    assert_eq!(
        report.lines().filter(|l| l.contains("new 0.2.0.0")).count(),
        arm64_files,
        "every arm64 path from the new product:\n{report}"
    );

    // And the other way round is a downgrade, refused by rule.
    let out = xtask(&new, &["msi-check", old_msi.to_str().unwrap(), "--previous", new_msi.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(stdout(&out).contains("product-version-not-higher"), "{}", stdout(&out));
}

#[test]
fn msi_check_refuses_bad_input_with_one_clear_error() {
    let Some(dir) = shared_dist() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let junk = scratch.path().join("junk.msi");
    std::fs::write(&junk, b"this is not a compound file").unwrap();
    let x64 = dist_dir(dir).join("archway-0.1.0.0-x64.msi");
    let arm64 = dist_dir(dir).join("archway-0.1.0.0-arm64.msi");
    let truncated = scratch.path().join("truncated.msi");
    let bytes = std::fs::read(&arm64).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let cases: [(&[&Path], &str); 3] = [
        (&[&junk], "junk.msi is not a readable Windows Installer package"),
        (&[&truncated], "truncated.msi is not a readable Windows Installer package"),
        (&[&arm64, &x64], "is a package of another product"),
    ];
    for (files, expected) in cases {
        let mut args = vec!["msi-check", files[0].to_str().unwrap()];
        if let Some(previous) = files.get(1) {
            args.extend(["--previous", previous.to_str().unwrap()]);
        }
        let out = xtask(dir, &args);
        let err = stderr(&out);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(err.contains(expected), "expected {expected:?} in:\n{err}");
        assert_eq!(err.lines().filter(|l| l.starts_with("error")).count(), 1, "one error:\n{err}");
    }
}

#[test]
fn a_corrupted_package_is_one_error_line_and_no_panic_message() {
    // Issue 9: one zeroed byte (0x938 of the x64 package) made `msi` 0.11.1 panic inside
    // msi-check; every byte of the first sectors is tried, and the panic text must not reach
    // the terminal either.
    let Some(dir) = shared_dist() else { return };
    let x64 = std::fs::read(dist_dir(dir).join("archway-0.1.0.0-x64.msi")).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let bad = scratch.path().join("bad.msi");
    for at in std::iter::once(0x938).chain((0..0x1000.min(x64.len())).step_by(0x40)) {
        let mut bytes = x64.clone();
        bytes[at] = 0;
        std::fs::write(&bad, &bytes).unwrap();
        let out = xtask(dir, &["msi-check", bad.to_str().unwrap()]);
        let err = stderr(&out);
        assert!(!err.contains("panicked") && !err.contains("RUST_BACKTRACE"), "byte {at:#x}:\n{err}");
        if !out.status.success() {
            assert_eq!(err.lines().filter(|l| l.starts_with("error")).count(), 1, "byte {at:#x}: one error:\n{err}");
            assert!(err.contains("bad.msi"), "byte {at:#x}: names the file:\n{err}");
        }
    }
}

#[test]
fn the_fuzz_harness_runs_on_the_built_packages_and_finds_nothing() {
    // A smoke run of `cargo xtask fuzz` over real artifacts (ARCHWAY_FUZZ_SECONDS, default 10);
    // CI's one-minute budget is `.ci/run`'s `cargo xtask fuzz --seconds 60` step.
    let Some(dir) = shared_dist() else { return };
    let seconds = std::env::var("ARCHWAY_FUZZ_SECONDS").unwrap_or_else(|_| "10".into());
    let out = xtask(dir, &["fuzz", "--seconds", &seconds, "--seed", "1"]);
    let text = format!("{}{}", stdout(&out), stderr(&out));
    eprintln!("{text}");
    assert!(out.status.success(), "{text}");
    for reader in [
        "pe/verify",
        "arm64x",
        "forwarder-spec",
        "matrix.toml",
        "binary.toml",
        "msi",
        "msi-rows",
        "cabinet",
        "msi-previous",
    ] {
        assert!(text.lines().any(|l| l.trim_start().starts_with(reader)), "no figures for {reader}:\n{text}");
    }
}
