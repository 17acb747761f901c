//! Tests of the forwarder checks, each rule on in-memory facts (`file.rs` has whole files).

mod file;

use super::*;
use crate::matrix::machine::I386 as MACHINE_I386;
use crate::verify::arm64x::{ExportTarget, MACHINE_AMD64, StrayForwarder, ViewExport};

const VERSION: [u16; 4] = [0, 1, 0, 0];

fn forward(name: &str, ordinal: u32, dll: &str, to: &str) -> ViewExport {
    let target = match to.strip_prefix('#') {
        Some(n) => ExportTarget::ForwardByOrdinal { dll: dll.into(), ordinal: n.parse().unwrap() },
        None => ExportTarget::ForwardByName { dll: dll.into(), name: to.into() },
    };
    ViewExport { ordinal, name: Some(name.into()), target }
}

fn view(machine: u16, chpe: Option<u32>, exports: Vec<ViewExport>) -> View {
    View {
        machine,
        characteristics: 0x2022,
        chpe_metadata_version: chpe,
        dll_name: Some("archway.dll".into()),
        exports,
        export_dir: None,
        base_reloc_dir: Some((0x3000, 0xC)),
        load_config: None,
        stray_forwarders: Vec::new(),
    }
}

/// An ARM64X pure forwarder of `RegisterModule` that meets every rule with [`targets`].
fn arm64x_subject() -> Subject {
    Subject {
        native: view(MACHINE_ARM64, Some(2), vec![forward("RegisterModule", 1, "archway_arm64", "RegisterModule")]),
        ec: Some(view(MACHINE_AMD64, Some(2), vec![forward("RegisterModule", 1, "archway_x64", "RegisterModule")])),
        dvrt: Some((0x300C, 0x38)),
        file_version: Some(VERSION),
    }
}

fn target(file_name: &str, machine: u16, names: &[&str]) -> Target {
    let exports = names
        .iter()
        .enumerate()
        .map(|(i, name)| ViewExport {
            ordinal: i as u32 + 1,
            name: Some(name.to_string()),
            target: ExportTarget::Rva(0x1000),
        })
        .collect();
    Target {
        file_name: file_name.into(),
        machine,
        is_arm64x: false,
        chpe_metadata_version: None,
        exports,
        file_version: Some(VERSION),
    }
}

fn targets() -> Vec<Target> {
    vec![
        target("archway_arm64.dll", MACHINE_ARM64, &["RegisterModule"]),
        target("archway_x64.dll", MACHINE_AMD64, &["RegisterModule"]),
    ]
}

/// The violations of `subject` when the folder holds `targets` (looked up ignoring case).
fn check_with(subject: &Subject, targets: &[Target]) -> Vec<Violation> {
    let mut lookup = |dll: &str| -> Result<Option<Target>> {
        let file = format!("{dll}.dll");
        Ok(targets.iter().find(|t| t.file_name.eq_ignore_ascii_case(&file)).cloned())
    };
    violations(subject, &mut lookup)
}

fn rules(violations: &[Violation]) -> Vec<Rule> {
    violations.iter().map(|v| v.rule).collect()
}

fn only(violations: Vec<Violation>, rule: Rule, text: &str) {
    assert_eq!(rules(&violations), [rule], "{violations:#?}");
    assert!(violations[0].message.contains(text), "{}", violations[0].message);
}

#[test]
fn a_good_arm64x_forwarder_passes() {
    assert_eq!(check_with(&arm64x_subject(), &targets()), []);
}

#[test]
fn a_missing_target_is_named_once_per_view_and_looked_up_once() {
    let mut subject = arm64x_subject();
    subject.native.exports.push(forward("GetVersion", 2, "ARCHWAY_ARM64", "GetVersion"));
    subject.ec.as_mut().unwrap().exports.push(forward("GetVersion", 2, "archway_x64", "GetVersion"));
    let mut calls = Vec::new();
    let mut lookup = |dll: &str| -> Result<Option<Target>> {
        calls.push(dll.to_string());
        Ok(targets().into_iter().find(|t| t.file_name == format!("{dll}.dll")).filter(|t| t.machine == MACHINE_AMD64))
    };
    let found = violations(&subject, &mut lookup);
    assert_eq!(calls, ["archway_arm64", "archway_x64"], "one lookup per DLL, ignoring case");
    assert_eq!(rules(&found), [Rule::TargetMissing, Rule::NameMissing]);
    assert_eq!(
        found[0].message,
        "native view: exports [RegisterModule, GetVersion] forward to archway_arm64, but there is no archway_arm64.dll beside this file"
    );
    assert_eq!(
        found[1].message,
        "EC view: archway_x64.dll does not export what is forwarded to it: GetVersion -> archway_x64.GetVersion"
    );
}

#[test]
fn an_unreadable_target_is_its_own_rule() {
    let mut lookup = |dll: &str| -> Result<Option<Target>> {
        if dll == "archway_x64" {
            anyhow::bail!("file offset 0x0: no \"MZ\" signature")
        }
        Ok(targets().into_iter().next())
    };
    let found = violations(&arm64x_subject(), &mut lookup);
    only(
        found,
        Rule::TargetUnreadable,
        "EC view: archway_x64.dll cannot be read as a PE image: file offset 0x0: no \"MZ\"",
    );
}

#[test]
fn each_view_needs_its_own_machine() {
    type Break = fn(&mut Vec<Target>);
    #[rustfmt::skip]
    let cases: &[(Break, &str)] = &[
        (|t| t[0].machine = MACHINE_AMD64, "native view: archway_arm64.dll is x64 (0x8664), this view needs arm64 (0xaa64)"),
        (|t| t[0].is_arm64x = true, "native view: archway_arm64.dll is itself ARM64X; arm64 forwards must go to a plain arm64 DLL"),
        (|t| t[1].machine = MACHINE_ARM64, "EC view: archway_x64.dll is arm64 (0xaa64), this view needs x64 or arm64ec (0x8664)"),
        (|t| t[1].machine = MACHINE_I386, "EC view: archway_x64.dll is x86 (0x014c)"),
    ];
    for (breaks, text) in cases {
        let mut folder = targets();
        breaks(&mut folder);
        only(check_with(&arm64x_subject(), &folder), Rule::TargetMachine, text);
    }
    let mut arm64ec = targets();
    arm64ec[1].chpe_metadata_version = Some(2);
    assert_eq!(check_with(&arm64x_subject(), &arm64ec), [], "an ARM64EC target serves the EC view");
}

#[test]
fn forwarded_names_and_ordinals_must_exist_in_the_target() {
    let mut subject = arm64x_subject();
    subject.native.exports.push(forward("Second", 2, "archway_arm64", "#1"));
    subject.ec.as_mut().unwrap().exports.push(forward("Second", 2, "archway_x64", "#7"));
    subject.ec.as_mut().unwrap().exports[0] = forward("RegisterModule", 1, "archway_x64", "RegisterModul");
    only(
        check_with(&subject, &targets()),
        Rule::NameMissing,
        "EC view: archway_x64.dll does not export what is forwarded to it: RegisterModule -> archway_x64.RegisterModul, Second -> archway_x64.#7",
    );
}

#[test]
fn a_pure_forwarder_carries_its_targets_version() {
    let mut folder = targets();
    folder[1].file_version = Some([0, 1, 0, 7]);
    only(
        check_with(&arm64x_subject(), &folder),
        Rule::Version,
        "EC view: this file is version 0.1.0.0, its target archway_x64.dll is 0.1.0.7",
    );

    folder[1].file_version = None;
    only(check_with(&arm64x_subject(), &folder), Rule::Version, "archway_x64.dll has no VERSIONINFO resource");

    let mut unversioned = arm64x_subject();
    unversioned.file_version = None;
    only(check_with(&unversioned, &targets()), Rule::Version, "a pure forwarder needs a VERSIONINFO resource");

    // A view that also exports code is not a pure forwarder: versions may differ.
    let mut mixed = arm64x_subject();
    for view in [&mut mixed.native, mixed.ec.as_mut().unwrap()] {
        view.exports.push(ViewExport { ordinal: 2, name: Some("Own".into()), target: ExportTarget::Rva(0x1000) });
    }
    folder[1].file_version = Some([9, 9, 9, 9]);
    assert_eq!(check_with(&mixed, &folder), []);
}

#[test]
fn arm64x_invariants_each_fail_their_rule() {
    type Break = fn(&mut Subject);
    #[rustfmt::skip]
    let cases: &[(Break, Rule, &str)] = &[
        (|s| s.ec.as_mut().unwrap().machine = MACHINE_ARM64, Rule::Arm64xMachine, "EC view: Machine is 0xaa64, expected 0x8664 (x64)"),
        (|s| s.ec.as_mut().unwrap().chpe_metadata_version = None, Rule::Arm64xChpe, "EC view: the load config has no CHPE metadata"),
        (|s| s.ec.as_mut().unwrap().chpe_metadata_version = Some(0), Rule::Arm64xChpe, "CHPE metadata version is 0"),
        (|s| s.ec.as_mut().unwrap().base_reloc_dir = Some((0x3000, 0x10)), Rule::Arm64xDvrtInBaseRelocs,
            "EC view: the base relocation directory 0x3000+0x10 covers the DVRT at 0x300c+0x38"),
        (|s| s.ec.as_mut().unwrap().exports[0].name = Some("registerModule".into()), Rule::Arm64xExportNames,
            "the views export different names: native [RegisterModule], EC [registerModule]"),
        (|s| s.native.stray_forwarders.push(StrayForwarder { export: "RegisterModule".into(), rva: 0x1386, text: "archway_arm64.RegisterModule".into() }),
            Rule::OutsideExportRange, "native view: export RegisterModule points at \"archway_arm64.RegisterModule\" (RVA 0x1386) outside the export directory range"),
    ];
    for (breaks, rule, text) in cases {
        let mut subject = arm64x_subject();
        breaks(&mut subject);
        only(check_with(&subject, &targets()), *rule, text);
    }
    // The native machine: its targets stay arm64 whatever the header says.
    let mut subject = arm64x_subject();
    subject.native.machine = MACHINE_AMD64;
    only(
        check_with(&subject, &targets()),
        Rule::Arm64xMachine,
        "native view: Machine is 0x8664, expected 0xaa64 (arm64)",
    );
}

#[test]
fn a_plain_forwarder_needs_targets_of_its_own_machine() {
    let plain = |machine| Subject {
        native: view(machine, None, vec![forward("RegisterModule", 1, "archway_x64", "RegisterModule")]),
        ec: None,
        dvrt: None,
        file_version: Some(VERSION),
    };
    assert_eq!(check_with(&plain(MACHINE_AMD64), &targets()), []);
    only(
        check_with(&plain(MACHINE_ARM64), &targets()),
        Rule::TargetMachine,
        "archway_x64.dll is x64 (0x8664), this view needs arm64 (0xaa64)",
    );
    let mut hybrid = targets();
    hybrid[1].machine = MACHINE_ARM64;
    hybrid[1].is_arm64x = true;
    let found = check_with(&plain(MACHINE_ARM64), &hybrid);
    only(found, Rule::TargetMachine, "archway_x64.dll is itself ARM64X");
}

#[test]
fn failures_list_every_rule_with_file_and_name() {
    let mut subject = arm64x_subject();
    subject.ec.as_mut().unwrap().chpe_metadata_version = None;
    subject.file_version = None;
    let failures =
        Failures { path: PathBuf::from("bin/archway.dll"), violations: check_with(&subject, &targets()[..1]) };
    let text = failures.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "bin/archway.dll: rule forward-version: a pure forwarder needs a VERSIONINFO resource, or installers treat it as unversioned (docs/arm64x-forwarder.md §11.8)",
            "bin/archway.dll: rule forward-target-missing: EC view: exports [RegisterModule] forward to archway_x64, but there is no archway_x64.dll beside this file",
            "bin/archway.dll: rule arm64x-chpe: EC view: the load config has no CHPE metadata (CHPEMetadataPointer at +0xC8 is missing or 0)",
        ]
    );
}
