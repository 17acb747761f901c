//! The packages through an installer engine nobody here wrote: `cargo xtask msi-engine cycle`
//! in copies of the checkout (the current version, and the next one with the minor version
//! bumped) installs the x64 package with Wine's msiexec, checks every manifest file, upgrades,
//! is refused the older package, and uninstalls; x86 too in a 32-bit prefix where 32-bit Wine
//! runs (required when ARCHWAY_WINE32=1), and arm64 in the emulated ARM64 root's Wine where it is
//! provisioned (with the transform that sets the Program Files folders Wine 8 arm64 leaves unset,
//! docs/pools.md). Under CI=true a missing Wine or root fails. The Windows jobs run real msiexec
//! instead (msi_install.rs).

mod support;

use std::path::Path;

use support::*;

const EPOCH: &str = "1767225600"; // 2026-01-01

fn wine_installed() -> bool {
    let on_path = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("wine64").is_file() || d.join("wine").is_file()));
    on_path || Path::new("/usr/lib/wine/wine64").is_file()
}

fn dist(dir: &Path) {
    run_ok(xtask_cmd(dir, &["dist", "--no-provision", "--jobs", "2"]).env("SOURCE_DATE_EPOCH", EPOCH));
}

/// The table line of `step` in the table of `platform`.
fn step<'a>(report: &'a str, platform: &str, step: &str) -> &'a str {
    let table = report
        .split(&format!("{platform}: 0.1.0.0 -> 0.2.0.0"))
        .nth(1)
        .unwrap_or_else(|| panic!("no {platform} table in:\n{report}"));
    table
        .lines()
        .find(|l| l.starts_with(&format!("{step} ")))
        .unwrap_or_else(|| panic!("no {step} step for {platform} in:\n{report}"))
}

#[test]
fn wine_msiexec_installs_upgrades_refuses_the_downgrade_and_removes_the_packages() {
    if !cfg!(all(target_os = "linux", target_arch = "x86_64")) {
        eprintln!("note: on Windows the CI jobs install with real msiexec (tests/msi_install.rs)");
        return;
    }
    if !wine_installed() {
        missing("Wine (wine64)", "apt-get install wine64; wine32:i386 for the x86 package");
        return;
    }
    let (_old_tmp, old) = copy_checkout("archway");
    if !toolchain_ready(&old) {
        return;
    }
    let (_new_tmp, new) = copy_checkout("archway-next");
    let manifest = new.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    assert!(text.contains("version = \"0.1.0\""), "the test bumps the workspace version from 0.1.0");
    std::fs::write(&manifest, text.replacen("version = \"0.1.0\"", "version = \"0.2.0\"", 1)).unwrap();
    dist(&old);
    dist(&new);

    let out = xtask(
        &old,
        &["msi-engine", "cycle", "--packages", "target/dist", "--next", new.join("target/dist").to_str().unwrap()],
    );
    let report = stdout(&out);
    println!("{report}");
    assert!(out.status.success(), "the cycle failed:\n{report}\n{}", stderr(&out));
    for name in ["install", "upgrade", "downgrade", "uninstall"] {
        assert!(step(&report, "x64", name).trim_end().ends_with(" ok"), "x64 {name}:\n{report}");
    }
    // What each step's log showed.
    assert!(report.contains("IIS registration skipped as designed"), "{report}");
    assert!(report.contains("Action start") && report.contains("RemoveExistingProducts."), "{report}");
    assert!(report.contains("_NEWER_FOUND = {"), "the downgrade saw the newer product:\n{report}");
    assert!(step(&report, "x64", "downgrade").contains("refused (1603"), "{report}");

    if report.contains("arm64: 0.1.0.0 -> 0.2.0.0") {
        for name in ["install", "upgrade", "downgrade", "uninstall"] {
            assert!(step(&report, "arm64", name).trim_end().ends_with(" ok"), "arm64 {name}:\n{report}");
        }
    } else {
        // The xtask itself fails the cycle under CI=true when the root cannot be used.
        assert!(!in_ci(), "the arm64 package was not cycled under CI=true:\n{report}");
        eprintln!("note: the arm64 package was not cycled (no emulated ARM64 root: cargo xtask arm64-root install)");
    }

    let x86_required = std::env::var("ARCHWAY_WINE32").as_deref() == Ok("1");
    if report.contains("x86: 0.1.0.0 -> 0.2.0.0") {
        for name in ["install", "upgrade", "downgrade", "uninstall"] {
            assert!(step(&report, "x86", name).trim_end().ends_with(" ok"), "x86 {name}:\n{report}");
        }
    } else {
        assert!(!x86_required, "ARCHWAY_WINE32=1 but the x86 package was not cycled:\n{report}");
        eprintln!("note: the x86 package was not cycled (no 32-bit Wine here)");
    }
}
