//! The lint with seeded faults, each caught by the rule that names it: in the model (what
//! `dist` might be handed) or in the planned tables (what a broken writer might write).

use msi::Value;

use super::fixture::{self, AMD64, ARM64, I386, package};
use crate::msi::finding::Rule;
use crate::msi::{Database, Finding, InstallDir, Package, PackageView, Platform, Severity, compare, ids, lint, plan};

pub fn view(pkg: &Package) -> PackageView {
    PackageView::from_plan(&format!("archway-{}-{}.msi", pkg.version_string(), pkg.platform), &plan(pkg).unwrap(), pkg)
}

pub fn view_with(pkg: &Package, seed: impl FnOnce(&mut Database)) -> PackageView {
    let v = view(pkg);
    let mut database = v.database.clone();
    seed(&mut database);
    PackageView::from_tables(&v.source, v.summary.clone(), database, pkg)
}

/// The findings of `rule`, asserting there is at least one and each names `path` (if given).
pub fn caught(findings: &[Finding], rule: Rule, path: Option<&str>) -> Vec<Finding> {
    let hits: Vec<Finding> = findings.iter().filter(|f| f.rule == rule).cloned().collect();
    assert!(!hits.is_empty(), "expected a {rule} finding, got {findings:#?}");
    if let Some(path) = path {
        assert!(hits.iter().any(|f| f.path.as_deref() == Some(path)), "{rule} should name {path}: {hits:#?}");
    }
    hits
}

const SHIM64: &str = r"Program Files\Archway\archway.dll";
const SHIM32: &str = r"Program Files (x86)\Archway\archway.dll";

#[test]
fn a_forwarder_without_a_version_resource_is_caught() {
    let mut pkg = package(Platform::Arm64, [1, 3, 0, 0]);
    fixture::replace(
        &mut pkg,
        InstallDir::ProgramFiles64,
        "archway.dll",
        fixture::forwarder(None, "archway_arm64.RegisterModule", "archway_x64.RegisterModule"),
    );
    let findings = lint(&view(&pkg));
    let hit = caught(&findings, Rule::UnversionedPe, Some(SHIM64));
    assert!(hit[0].message.contains("60764"), "{}", hit[0]);
    let upgrade = compare(&view(&package(Platform::Arm64, [1, 2, 0, 0])), &view(&pkg));
    assert_eq!(
        caught(&upgrade, Rule::VersionedToUnversioned, Some(SHIM64))[0].severity,
        Severity::Warning,
        "early removal: fragile, not broken"
    );
}

#[test]
fn a_component_guid_changed_for_an_existing_path_is_caught() {
    let old = view(&package(Platform::Arm64, [1, 2, 0, 0]));
    let new = view_with(&package(Platform::Arm64, [1, 3, 0, 0]), fixture::change_shim64_guid);
    assert!(lint(&new).is_empty(), "alone the package is fine: {:#?}", lint(&new));
    let findings = compare(&old, &new);
    assert_eq!(caught(&findings, Rule::ComponentGuidChanged, Some(SHIM64))[0].severity, Severity::Error);
}

#[test]
fn an_arm64_dll_in_the_x86_folder_is_caught() {
    let mut pkg = package(Platform::X64, [1, 0, 0, 0]);
    fixture::replace(
        &mut pkg,
        InstallDir::ProgramFilesX86,
        "archway.dll",
        fixture::dll(ARM64, false, Some([1, 0, 0, 0])),
    );
    let hit = caught(&lint(&view(&pkg)), Rule::MachineFolder, Some(SHIM32));
    assert!(hit[0].message.contains("arm64 (0xAA64)") && hit[0].message.contains("x86 (0x014C)"), "{}", hit[0]);
}

#[test]
fn wrong_machines_in_the_64_bit_folder_are_caught() {
    let mut x64 = package(Platform::X64, [1, 0, 0, 0]);
    fixture::replace(
        &mut x64,
        InstallDir::ProgramFiles64,
        "archway.dll",
        fixture::dll(AMD64, true, Some([1, 0, 0, 0])),
    );
    caught(&lint(&view(&x64)), Rule::MachineFolder, Some(SHIM64)); // ARM64EC is not x64
    let mut arm64 = package(Platform::Arm64, [1, 0, 0, 0]);
    fixture::replace(
        &mut arm64,
        InstallDir::ProgramFiles64,
        "archway.dll",
        fixture::dll(ARM64, false, Some([1, 0, 0, 0])),
    );
    let findings = lint(&view(&arm64));
    caught(&findings, Rule::MachineFolder, Some(SHIM64)); // plain ARM64 at the plain name: x64 workers fail
    fixture::replace(
        &mut arm64,
        InstallDir::ProgramFiles64,
        "archway_x64.dll",
        fixture::dll(I386, false, Some([1, 0, 0, 0])),
    );
    caught(&lint(&view(&arm64)), Rule::MachineFolder, Some(r"Program Files\Archway\archway_x64.dll"));
}

#[test]
fn a_forwarder_whose_target_is_missing_is_caught() {
    let mut pkg = package(Platform::Arm64, [1, 0, 0, 0]);
    pkg.files.retain(|f| f.name != "archway_x64.dll");
    let hit = caught(&lint(&view(&pkg)), Rule::ForwarderTargetMissing, Some(SHIM64));
    assert!(hit[0].message.contains("archway_x64.dll") && hit[0].message.contains("EC"), "{}", hit[0]);
}

#[test]
fn a_forwarder_target_of_the_wrong_machine_is_caught() {
    let mut pkg = package(Platform::Arm64, [1, 0, 0, 0]);
    fixture::replace(
        &mut pkg,
        InstallDir::ProgramFiles64,
        "archway_arm64.dll",
        fixture::dll(AMD64, false, Some([1, 0, 0, 0])),
    );
    caught(&lint(&view(&pkg)), Rule::ForwarderTargetMachine, Some(SHIM64));
}

#[test]
fn a_lower_file_version_is_caught() {
    let old = package(Platform::X64, [1, 2, 0, 0]);
    let mut new = package(Platform::X64, [1, 3, 0, 0]);
    fixture::replace(
        &mut new,
        InstallDir::ProgramFilesX86,
        "archway.dll",
        fixture::dll(I386, false, Some([1, 1, 9, 0])),
    );
    let hit = caught(&compare(&view(&old), &view(&new)), Rule::FileVersionDown, Some(SHIM32));
    assert!(hit[0].message.contains("1.2.0.0") && hit[0].message.contains("1.1.9.0"), "{}", hit[0]);
}

#[test]
fn product_level_upgrade_rules() {
    let old = view(&package(Platform::X64, [1, 2, 0, 0]));
    let same = compare(&old, &view(&package(Platform::X64, [1, 2, 0, 7])));
    caught(&same, Rule::ProductVersionNotHigher, None);
    caught(&same, Rule::ProductCodeUnchanged, None);
    let other = compare(&old, &view(&package(Platform::Arm64, [1, 3, 0, 0])));
    assert_eq!(other.len(), 1, "another product: one clear error, {other:#?}");
    assert!(other[0].rule == Rule::UpgradeCodeDiffers && other[0].message.contains("another product"));
    assert!(compare(&old, &view(&package(Platform::X64, [1, 3, 0, 0]))).is_empty());
}

#[test]
fn the_same_version_with_new_bytes_is_flagged() {
    let old = package(Platform::X64, [1, 2, 0, 0]);
    let mut new = package(Platform::X64, [1, 3, 0, 0]);
    let rebuilt =
        fixture::pe(&fixture::Synth { machine: I386, version: Some([1, 2, 0, 0]), salt: 9, ..Default::default() });
    fixture::replace(&mut new, InstallDir::ProgramFilesX86, "archway.dll", rebuilt);
    let hit = caught(&compare(&view(&old), &view(&new)), Rule::SameVersionDifferentBytes, Some(SHIM32));
    assert_eq!(hit[0].severity, Severity::Warning, "early removal installs it anyway");
}

#[test]
fn table_faults_are_caught() {
    let pkg = package(Platform::X64, [1, 0, 0, 0]);
    let seeded = |seed: &dyn Fn(&mut Database)| lint(&view_with(&pkg, seed));
    caught(
        &seeded(&|db| {
            db.set("File", "File", "pf64_archway.dll", "Version", Value::from("9.9.9.9"));
        }),
        Rule::FileVersionMismatch,
        Some(SHIM64),
    );
    caught(
        &seeded(&|db| {
            db.set("MsiFileHash", "File_", "pf64_notice.txt", "HashPart1", Value::Int(1));
        }),
        Rule::FileHashMismatch,
        Some(r"Program Files\Archway\NOTICE.txt"),
    );
    caught(
        &seeded(&|db| {
            db.remove("InstallExecuteSequence", "Action", "RemoveExistingProducts");
        }),
        Rule::RemoveExistingProducts,
        None,
    );
    caught(
        &seeded(&|db| {
            db.set("InstallExecuteSequence", "Action", "RemoveExistingProducts", "Sequence", Value::Int(3000));
        }),
        Rule::RemoveExistingProducts,
        None,
    );
    caught(
        &seeded(&|db| {
            db.remove("LaunchCondition", "Condition", "Installed OR NOT ARCHWAY_NEWER_FOUND");
        }),
        Rule::DowngradeNotRefused,
        None,
    );
    caught(
        &seeded(&|db| {
            db.remove("InstallExecuteSequence", "Action", "InstallFiles");
        }),
        Rule::ActionMissing,
        None,
    );
    caught(
        &seeded(&|db| {
            db.tables.remove("Upgrade");
        }),
        Rule::TableMissing,
        None,
    );
    caught(
        &seeded(&|db| {
            db.set("Component", "Component", "pf32_archway.dll", "Attributes", Value::Int(256));
        }),
        Rule::ComponentBitness,
        Some(SHIM32),
    );
    let guid = ids::braced(ids::component_guid(pkg.upgrade_code, InstallDir::ProgramFiles64, "Archway", "archway.dll"));
    caught(
        &seeded(&|db| {
            db.set("Component", "Component", "pf32_archway.dll", "ComponentId", Value::from(guid.as_str()));
        }),
        Rule::GuidReused,
        None,
    );
    caught(
        &seeded(&|db| {
            db.set("File", "File", "pf32_archway.dll", "Component_", Value::from("pf64_archway.dll"));
        }),
        Rule::PathInTwoComponents,
        Some(SHIM64),
    );
    let unguarded = r#"ARCHWAY_APPCMD AND REMOVE~="ALL""#;
    caught(
        &seeded(&|db| {
            db.set("InstallExecuteSequence", "Action", "ArchwayIisRemove", "Condition", Value::from(unguarded));
        }),
        Rule::UnregisterDuringUpgrade,
        None,
    );
    caught(
        &seeded(&|db| {
            db.set("InstallExecuteSequence", "Action", "ArchwayIisAdd", "Sequence", Value::Int(1450));
        }),
        Rule::DeferredOutsideScript,
        None,
    );
    caught(
        &seeded(&|db| {
            db.set("Property", "Property", "SecureCustomProperties", "Value", Value::from("ARCHWAY_APPCMD"));
        }),
        Rule::UpgradeActionProperty,
        None,
    );
}

#[test]
fn a_64_bit_component_in_an_intel_package_is_caught() {
    let pkg = package(Platform::X86, [1, 0, 0, 0]);
    let findings = lint(&view_with(&pkg, |db| {
        db.set("Component", "Component", "pf32_archway.dll", "Attributes", Value::Int(256));
    }));
    caught(&findings, Rule::TemplatePlatform, Some(SHIM32));
}

#[test]
fn findings_print_severity_rule_and_path() {
    let f = Finding::error(Rule::MachineFolder, Some(SHIM32), "a thing");
    assert_eq!(f.to_string(), r"error[machine-folder] Program Files (x86)\Archway\archway.dll: a thing");
}
