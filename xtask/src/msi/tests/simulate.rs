//! The major-upgrade simulator: a clean upgrade, and the dotnet/aspnetcore#60764 history (a
//! forwarder in a new component, unversioned, removed late) reproduced and then defused.

use msi::Value;

use super::{
    fixture::{self, ARM64, package},
    lint::{caught, view, view_with},
};
use crate::msi::finding::Rule;
use crate::msi::{Database, InstallDir, Package, PackageView, Platform, Product, Schedule, compare, major_upgrade};

const SHIM64: &str = r"Program Files\Archway\archway.dll";

/// Moves RemoveExistingProducts after InstallFinalize, as the ANCM installer schedules it.
fn late(db: &mut Database) {
    assert_eq!(db.set("InstallExecuteSequence", "Action", "RemoveExistingProducts", "Sequence", Value::Int(6601)), 1);
}

/// Release 1.0 of an arm64 package from before forwarders: the plain name was the ARM64 build.
fn before_forwarders() -> Package {
    let mut pkg = package(Platform::Arm64, [1, 0, 0, 0]);
    fixture::replace(
        &mut pkg,
        InstallDir::ProgramFiles64,
        "archway.dll",
        fixture::dll(ARM64, false, Some([1, 0, 0, 0])),
    );
    pkg
}

/// Release 1.1 with the forwarder at the plain name, unversioned, in a new component.
fn broken_forwarder(seed: impl FnOnce(&mut Database)) -> PackageView {
    let mut pkg = package(Platform::Arm64, [1, 1, 0, 0]);
    fixture::replace(
        &mut pkg,
        InstallDir::ProgramFiles64,
        "archway.dll",
        fixture::forwarder(None, "archway_arm64.RegisterModule", "archway_x64.RegisterModule"),
    );
    view_with(&pkg, seed)
}

fn new_guid(db: &mut Database) {
    db.set(
        "Component",
        "Component",
        "pf64_archway.dll",
        "ComponentId",
        Value::from("{5C3B1E0A-7D2F-5A11-9C44-0123456789AB}"),
    );
}

#[test]
fn a_clean_upgrade_leaves_every_file_at_the_new_version() {
    for platform in Platform::ALL {
        let (old, new) = (view(&package(platform, [1, 0, 0, 0])), view(&package(platform, [1, 1, 0, 0])));
        let sim = major_upgrade(&old, &new);
        assert_eq!(sim.schedule, Schedule::Early);
        assert!(sim.findings.is_empty(), "{platform}: {:#?}", sim.findings);
        assert_eq!(sim.files.len(), new.files.len());
        assert!(sim.files.iter().all(|f| f.writer == Product::New), "{platform}: {:#?}", sim.files);
        assert!(compare(&old, &new).is_empty(), "{platform}");
    }
}

#[test]
fn a_rule_abiding_late_upgrade_is_clean_too() {
    let old = view(&package(Platform::X64, [1, 0, 0, 0]));
    let new = view_with(&package(Platform::X64, [1, 1, 0, 0]), late);
    let sim = major_upgrade(&old, &new);
    assert_eq!(sim.schedule, Schedule::Late);
    assert!(sim.findings.is_empty(), "{:#?}", sim.findings);
}

#[test]
fn issue_60764_new_guid_unversioned_forwarder_late_removal_deletes_the_dll() {
    let old = view(&before_forwarders());
    let new = broken_forwarder(|db| {
        new_guid(db);
        late(db);
    });
    let sim = major_upgrade(&old, &new);
    let hit = caught(&sim.findings, Rule::PathRemovedByUpgrade, Some(SHIM64));
    assert!(hit[0].message.contains("different GUID"), "{}", hit[0]);
    assert!(!sim.files.iter().any(|f| f.path == SHIM64), "the DLL is gone: {:#?}", sim.log);
    let lint = compare(&old, &new);
    caught(&lint, Rule::ComponentGuidChanged, Some(SHIM64));
    assert_eq!(
        caught(&lint, Rule::VersionedToUnversioned, Some(SHIM64))[0].severity,
        crate::msi::Severity::Error,
        "late removal"
    );
}

#[test]
fn same_guid_but_unversioned_forwarder_late_leaves_the_old_dll_stale() {
    let old = view(&before_forwarders());
    let new = broken_forwarder(late);
    let sim = major_upgrade(&old, &new);
    let hit = caught(&sim.findings, Rule::PathStaleAfterUpgrade, Some(SHIM64));
    assert!(hit[0].message.contains("old"), "{}", hit[0]);
    let disk = sim.files.iter().find(|f| f.path == SHIM64).unwrap();
    assert_eq!((disk.writer, disk.version), (Product::Old, Some([1, 0, 0, 0])));
}

#[test]
fn archways_early_schedule_survives_the_same_mistakes() {
    let old = view(&before_forwarders());
    let new = broken_forwarder(new_guid);
    let sim = major_upgrade(&old, &new);
    assert!(sim.findings.is_empty(), "{:#?}", sim.findings);
    let disk = sim.files.iter().find(|f| f.path == SHIM64).unwrap();
    assert_eq!((disk.writer, disk.version), (Product::New, None));
    // The lint still refuses to ship it.
    caught(&compare(&old, &new), Rule::ComponentGuidChanged, Some(SHIM64));
    caught(&crate::msi::lint(&new), Rule::UnversionedPe, Some(SHIM64));
}

#[test]
fn files_dropped_by_the_new_release_are_removed_or_reported() {
    let old = view(&package(Platform::Arm64, [1, 0, 0, 0]));
    let mut pkg = package(Platform::Arm64, [1, 1, 0, 0]);
    pkg.files.retain(|f| f.name != "NOTICE.txt");
    let sim = major_upgrade(&old, &view(&pkg));
    assert!(
        sim.findings.is_empty() && !sim.files.iter().any(|f| f.path.ends_with("NOTICE.txt")),
        "{:#?}",
        sim.findings
    );
}

#[test]
fn remove_file_wildcards_match_like_windows_installer() {
    use crate::msi::simulate::wildcard;
    for (pattern, name, expected) in [
        ("*.dll", "archway.dll", true),
        ("*.dll", "archway.pdb", false),
        ("arch?ay.*", "archway.dll", true),
        ("*", "", true),
        ("?", "", false),
        ("a*b*c", "aXbYc", true),
        ("a*b*c", "aXbYd", false),
        ("**", "x", true),
        ("*ä?", "grüß", false),
        ("gr*ß", "grüß", true),
    ] {
        assert_eq!(wildcard(pattern, name), expected, "{pattern} against {name}");
    }
}

#[test]
fn a_remove_file_pattern_of_many_stars_takes_linear_time() {
    // Issue 9: `**********x` took over 10 s with the recursive matcher.
    let started = std::time::Instant::now();
    let name = "a".repeat(255);
    assert!(!crate::msi::simulate::wildcard(&format!("{}x", "*".repeat(255)), &name));
    assert!(crate::msi::simulate::wildcard(&format!("{}a", "*".repeat(255)), &name));
    assert!(started.elapsed() < std::time::Duration::from_secs(1), "{:?}", started.elapsed());
}
