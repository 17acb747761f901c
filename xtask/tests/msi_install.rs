//! On Windows (the CI jobs, which run elevated): this machine's package installed for real with
//! msiexec, its files compared with the manifest, the IIS module registered when IIS is present,
//! upgraded in place by the next version, and removed again. Linux reads the same packages with
//! msitools (dist.rs); only Windows Installer can say what an install does.
//!
//! UNCERTAIN (msi.md §7): msiexec's acceptance of the compound-file version, AppSearch with
//! `[System64Folder]`, and the appcmd custom actions have only been reasoned about; this test is
//! where they are measured.
#![cfg(windows)]

mod support;

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use support::*;

const EPOCH: &str = "1767225600";

fn dist(dir: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["dist", "--no-provision"])
        .current_dir(dir)
        .env_remove("CARGO_TARGET_DIR")
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .output_within_deadline()
        .unwrap();
    assert!(out.status.success(), "dist failed:\n{}", stderr(&out));
}

/// The package for this machine: arm64 on Windows on ARM64, x64 elsewhere.
fn platform() -> &'static str {
    if std::env::var("ARCHWAY_NATIVE_MACHINE").as_deref() == Ok("arm64") { "arm64" } else { "x64" }
}

fn msiexec(args: &[&str], log: &Path) {
    // msiexec waits for the installer mutex and can hang on a dialog: ten minutes at most.
    let status = output_within(Command::new("msiexec").args(args).args(["/qn", "/norestart", "/l*v"]).arg(log), std::time::Duration::from_secs(600)).status;
    // 0 = success, 3010 = success, reboot required.
    let ok = matches!(status.code(), Some(0 | 3010));
    let text = std::fs::read(log).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
    assert!(ok, "msiexec {args:?} exited with {status}; log {}:\n{}", log.display(), &text[text.len().saturating_sub(6000)..]);
}

/// (install path on this machine, sha256) of every file of `platform` in the manifest.
fn expected_files(dir: &Path, platform: &str) -> Vec<(PathBuf, String)> {
    let manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("target/dist/manifest.json")).unwrap()).unwrap();
    let package = manifest["packages"].as_array().unwrap().iter().find(|p| p["platform"] == platform).unwrap().clone();
    let program_files = std::env::var("ProgramW6432").or_else(|_| std::env::var("ProgramFiles")).unwrap();
    let program_files_x86 = std::env::var("ProgramFiles(x86)").unwrap();
    package["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let install = f["install_path"].as_str().unwrap();
            let path = match install.strip_prefix("Program Files (x86)\\") {
                Some(rest) => Path::new(&program_files_x86).join(rest),
                None => Path::new(&program_files).join(install.strip_prefix("Program Files\\").unwrap()),
            };
            (path, f["sha256"].as_str().unwrap().to_string())
        })
        .collect()
}

fn sha256(path: &Path) -> String {
    use sha2::Digest;
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{} is not installed: {e}", path.display()));
    sha2::Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn appcmd() -> Option<PathBuf> {
    let path = Path::new(&std::env::var("windir").ok()?).join("System32\\inetsrv\\appcmd.exe");
    path.is_file().then_some(path)
}

fn registered_image() -> Option<String> {
    let out = Command::new(appcmd()?).args(["list", "config", "-section:system.webServer/globalModules"]).output_within_deadline().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines().find(|l| l.contains("name=\"Archway\"")).map(str::to_string)
}

#[test]
fn the_package_installs_upgrades_and_uninstalls() {
    if !in_ci() && std::env::var("ARCHWAY_INSTALL_TESTS").as_deref() != Ok("1") {
        eprintln!("skipped: this test installs archway machine-wide; set ARCHWAY_INSTALL_TESTS=1 (elevated) to run it");
        return;
    }
    let platform = platform();
    let (_old_tmp, old) = copy_checkout("archway");
    if !toolchain_ready(&old) {
        return;
    }
    dist(&old);
    let (_new_tmp, new) = copy_checkout("archway");
    let cargo_toml = new.join("Cargo.toml");
    let text = std::fs::read_to_string(&cargo_toml).unwrap();
    std::fs::write(&cargo_toml, text.replace("version = \"0.1.0\"", "version = \"0.2.0\"")).unwrap();
    dist(&new);
    let logs = tempfile::tempdir().unwrap();
    let old_msi = old.join(format!("target/dist/archway-0.1.0.0-{platform}.msi"));
    let new_msi = new.join(format!("target/dist/archway-0.2.0.0-{platform}.msi"));

    msiexec(&["/i", old_msi.to_str().unwrap()], &logs.path().join("install.log"));
    for (path, sha) in expected_files(&old, platform) {
        assert_eq!(sha256(&path), sha, "{} after install", path.display());
    }
    if appcmd().is_some() {
        let line = registered_image().expect("the install registers the Archway global module");
        assert!(line.contains("%ProgramFiles%\\Archway\\archway.dll"), "{line}");
    } else {
        eprintln!("note: IIS is not installed here; the package installed its files and skipped registration");
    }

    // The major upgrade: every path holds the new version's file, and the module stays registered.
    msiexec(&["/i", new_msi.to_str().unwrap()], &logs.path().join("upgrade.log"));
    for (path, sha) in expected_files(&new, platform) {
        assert_eq!(sha256(&path), sha, "{} after the upgrade", path.display());
    }
    if appcmd().is_some() {
        assert!(registered_image().is_some(), "the upgrade must not unregister the module");
    }

    msiexec(&["/x", new_msi.to_str().unwrap()], &logs.path().join("uninstall.log"));
    for (path, _) in expected_files(&new, platform) {
        assert!(!path.exists(), "{} is left after uninstall", path.display());
    }
    if appcmd().is_some() {
        assert!(registered_image().is_none(), "uninstall unregisters the module");
    }
}
