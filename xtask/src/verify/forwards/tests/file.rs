//! File-level tests of the forwarder checks: hand-built ARM64X fixtures and their targets in a
//! temporary folder (the built DLLs are checked by `tests/forwarders.rs`, which builds them).

use std::path::Path;

use super::*;
use crate::verify::{
    arm64x::{
        MACHINE_AMD64,
        fixture::{Forwarder, TIP_EC, TIP_NATIVE, forwarder, tip_from_doc},
    },
    versioninfo::tests::sample_blob,
};

const FIXTURE_VERSION: [u16; 4] = [1, 2, 3, 4];

fn versioned(version: [u16; 4], dll_name: &str, native: &[(&str, &str)], ec: &[(&str, &str)]) -> Vec<u8> {
    let blob = sample_blob(version, version, &[("FileVersion", "fixture")]);
    forwarder(&Forwarder { dll_name, native, ec, version_info: Some(blob) })
}

/// `image` turned into a plain (non-ARM64X) DLL of `machine`: no load config, so no DVRT and no
/// CHPE metadata.
fn plain(mut image: Vec<u8>, machine: u16) -> Vec<u8> {
    image[0x7C..0x7E].copy_from_slice(&machine.to_le_bytes());
    image[0x150..0x158].fill(0);
    image
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::write(dir.join(name), bytes).unwrap();
}

fn failed_rules(path: &Path) -> Vec<Rule> {
    let err = check(path).expect_err("the check must fail");
    let failures = err.downcast_ref::<Failures>().unwrap_or_else(|| panic!("not a Failures: {err:#}"));
    failures.violations.iter().map(|v| v.rule).collect()
}

#[test]
fn a_fixture_folder_passes_and_is_described() {
    let dir = tempfile::tempdir().unwrap();
    let tip = versioned(FIXTURE_VERSION, "tip.dll", TIP_NATIVE, TIP_EC);
    write(dir.path(), "tip.dll", &tip);
    write(dir.path(), "TIP_ARM64.DLL", &plain(tip.clone(), MACHINE_ARM64)); // found ignoring case
    write(dir.path(), "tip_x64.dll", &plain(tip.clone(), MACHINE_AMD64));
    let subject = check(&dir.path().join("tip.dll")).unwrap();
    assert_eq!(subject.file_version, Some(FIXTURE_VERSION));
    assert_eq!(
        describe(&dir.path().join("tip.dll")).unwrap(),
        "tip.dll: ARM64X pure forwarder, version 1.2.3.4\n\
        \x20 native view (arm64): DllCanUnloadNow   -> tip_arm64.DllCanUnloadNow\n\
        \x20                      DllGetClassObject -> tip_arm64.DllGetClassObject\n\
        \x20 EC view (x64):       DllCanUnloadNow   -> tip_x64.DllCanUnloadNow\n\
        \x20                      DllGetClassObject -> tip_x64.DllGetClassObject\n"
    );
    assert_eq!(
        describe(&dir.path().join("tip_x64.dll")).unwrap(),
        "tip_x64.dll: x64 pure forwarder, version 1.2.3.4\n\
        \x20 exports: DllCanUnloadNow   -> tip_arm64.DllCanUnloadNow\n\
        \x20          DllGetClassObject -> tip_arm64.DllGetClassObject\n"
    );

    write(dir.path(), "TIP_ARM64.DLL", &plain(versioned([1, 2, 3, 5], "tip.dll", TIP_NATIVE, TIP_EC), MACHINE_ARM64));
    std::fs::remove_file(dir.path().join("tip_x64.dll")).unwrap();
    assert_eq!(failed_rules(&dir.path().join("tip.dll")), [Rule::Version, Rule::TargetMissing]);
    write(dir.path(), "tip_x64.dll", &tip); // an ARM64X file where the EC view needs x64
    assert_eq!(failed_rules(&dir.path().join("tip.dll")), [Rule::Version, Rule::TargetMachine]);
}

#[test]
fn forwarder_strings_outside_the_ec_export_range_are_found_in_the_bytes() {
    // The EC export size fixup (§12.4, value at file offset 0xC34) cut from 0x98 to 0x66: the
    // names still fit, the two forwarder strings at RVA 0x1422 and 0x143A no longer do.
    let mut tip = tip_from_doc();
    tip[0xC34] = 0x66;
    let subject = Subject::from_bytes(&tip).unwrap();
    let ec = subject.ec.as_ref().unwrap();
    assert_eq!(ec.export_dir, Some((0x13BC, 0x66)));
    let strays: Vec<(&str, u32, &str)> =
        ec.stray_forwarders.iter().map(|s| (s.export.as_str(), s.rva, s.text.as_str())).collect();
    assert_eq!(
        strays,
        [
            ("DllCanUnloadNow", 0x1422, "tip_x64.DllCanUnloadNow"),
            ("DllGetClassObject", 0x143A, "tip_x64.DllGetClassObject")
        ]
    );
    assert_eq!(subject.native.stray_forwarders, []);
    let found = violations(&subject, &mut |_: &str| Ok(None));
    let strays = found.iter().filter(|v| v.rule == Rule::OutsideExportRange).count();
    assert_eq!(strays, 2, "{found:#?}");
    assert!(
        describe::describe_bytes("tip.dll", &tip).unwrap().starts_with("tip.dll: ARM64X DLL, no version resource\n")
    );
}

#[test]
fn a_bare_file_name_is_looked_up_beside_it_in_the_current_folder() {
    // Issue 9: `cargo xtask verify archway.dll` listed "" instead of ".".
    assert_eq!(folder_of(Path::new("archway.dll")), Path::new("."));
    assert_eq!(folder_of(Path::new("bin/archway.dll")), Path::new("bin"));
    assert_eq!(folder_of(Path::new("/archway.dll")), Path::new("/"));
}

#[test]
fn a_file_cut_short_inside_its_last_section_is_refused_as_subject_and_target() {
    // Issue 9: a DLL truncated inside its last section passed `verify`.
    let tip = versioned(FIXTURE_VERSION, "tip.dll", TIP_NATIVE, TIP_EC);
    let cut = &tip[..tip.len() - 16];
    for err in [
        Subject::from_bytes(cut).map(drop).unwrap_err(),
        Target::from_bytes("tip.dll", cut).map(drop).unwrap_err(),
        crate::verify::facts_from_bytes(cut).map(drop).unwrap_err(),
    ] {
        let err = format!("{err:#}");
        assert!(err.contains("runs past the end of the file") && err.contains("truncated"), "{err}");
    }
}

#[test]
fn a_corrupt_import_table_is_labelled_as_the_import_table() {
    // Issue 9: it was reported under "version resource:".
    let mut dll = plain(versioned(FIXTURE_VERSION, "tip.dll", TIP_NATIVE, TIP_EC), MACHINE_AMD64);
    // Data directory 1 (imports) of the fixture's PE32+ optional header.
    dll[0x108..0x110].copy_from_slice(&[0x00, 0x00, 0xF0, 0x7F, 0x28, 0, 0, 0]);
    let err = format!("{:#}", Target::from_bytes("tip_x64.dll", &dll).map(drop).unwrap_err());
    assert!(err.starts_with("import table:"), "{err}");
    assert!(!err.contains("version resource"), "{err}");
}
