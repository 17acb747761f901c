//! The forwarder rules themselves, on in-memory facts: per view and target DLL (exists, machine,
//! forwarded names, version), and the ARM64X invariants of docs/arm64x-forwarder.md §9 and §11.

use std::collections::BTreeMap;

use anyhow::Result;

use super::{Rule, Subject, Target, Violation};
use crate::{
    matrix::machine,
    verify::arm64x::{self, ExportTarget, MACHINE_AMD64, MACHINE_ARM64, StrayForwarder, View},
};

/// What a view's targets must be: the machine they need, and whether an ARM64X target is
/// refused (the native view must reach the plain ARM64 build, docs/arm64x-forwarder.md §1).
struct Need {
    /// "native view", "EC view", or "" for a plain DLL's only view.
    view: &'static str,
    machine: u16,
    machine_text: &'static str,
    refuse_arm64x: bool,
}

/// Every broken rule of `subject`; `lookup` gives the target for a forwarder's DLL name
/// (without `.dll`): `Ok(None)` when there is no such file, `Err` when it cannot be read.
pub fn violations(subject: &Subject, lookup: &mut dyn FnMut(&str) -> Result<Option<Target>>) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut cache: BTreeMap<String, std::result::Result<Option<Target>, String>> = BTreeMap::new();
    let mut target = |dll: &str| {
        cache.entry(dll.to_lowercase()).or_insert_with(|| lookup(dll).map_err(|e| format!("{e:#}"))).clone()
    };
    let views: Vec<(&View, Need)> = match &subject.ec {
        Some(ec) => vec![
            (
                &subject.native,
                Need { view: "native view", machine: MACHINE_ARM64, machine_text: "arm64", refuse_arm64x: true },
            ),
            (
                ec,
                Need { view: "EC view", machine: MACHINE_AMD64, machine_text: "x64 or arm64ec", refuse_arm64x: false },
            ),
        ],
        None => {
            let machine = subject.native.machine;
            let machine_text = machine::name(machine, None);
            let need = Need { view: "", machine, machine_text, refuse_arm64x: machine == MACHINE_ARM64 };
            vec![(&subject.native, need)]
        }
    };
    if views.iter().any(|(view, _)| view.is_pure_forwarder()) && subject.file_version.is_none() {
        out.push(Violation {
            rule: Rule::Version,
            message: "a pure forwarder needs a VERSIONINFO resource, or installers treat it as unversioned (docs/arm64x-forwarder.md §11.8)".into(),
        });
    }
    for (view, need) in &views {
        for (dll, exports) in forwards_by_dll(view) {
            out.extend(target_rules(subject, view, need, &dll, &exports, target(&dll)));
        }
    }
    for (view, need) in &views {
        for stray in &view.stray_forwarders {
            out.push(Violation {
                rule: Rule::OutsideExportRange,
                message: format!("{}{}", prefix(need.view), stray_message(stray)),
            });
        }
    }
    if let Some(ec) = &subject.ec {
        out.extend(arm64x_rules(subject, ec));
    }
    out
}

fn stray_message(stray: &StrayForwarder) -> String {
    let StrayForwarder { export, rva, text } = stray;
    format!(
        "export {export} points at \"{text}\" (RVA {rva:#x}) outside the export directory range, so loaders take it for an address; the directory Size must cover the forwarder strings (docs/arm64x-forwarder.md §11.9)"
    )
}

/// A view's forwarded exports grouped by target DLL (compared ignoring case, first spelling kept).
fn forwards_by_dll(view: &View) -> Vec<(String, Vec<&arm64x::ViewExport>)> {
    let mut groups: Vec<(String, Vec<&arm64x::ViewExport>)> = Vec::new();
    for export in &view.exports {
        let Some(dll) = export.target.forward_dll() else {
            continue;
        };
        match groups.iter_mut().find(|(d, _)| d.eq_ignore_ascii_case(dll)) {
            Some((_, list)) => list.push(export),
            None => groups.push((dll.to_string(), vec![export])),
        }
    }
    groups
}

/// "native view: " before a message about one view; nothing for a plain DLL's only view.
fn prefix(view: &str) -> String {
    if view.is_empty() { String::new() } else { format!("{view}: ") }
}

pub(super) fn dotted(v: [u16; 4]) -> String {
    v.map(|p| p.to_string()).join(".")
}

fn target_rules(
    subject: &Subject,
    view: &View,
    need: &Need,
    dll: &str,
    exports: &[&arm64x::ViewExport],
    found: std::result::Result<Option<Target>, String>,
) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut fail =
        |rule, message: String| out.push(Violation { rule, message: format!("{}{message}", prefix(need.view)) });
    let labels: Vec<String> = exports.iter().map(|e| e.label()).collect();
    let target = match found {
        Ok(Some(target)) => target,
        Ok(None) => {
            fail(
                Rule::TargetMissing,
                format!("exports [{}] forward to {dll}, but there is no {dll}.dll beside this file", labels.join(", ")),
            );
            return out;
        }
        Err(why) => {
            fail(Rule::TargetUnreadable, format!("{dll}.dll cannot be read as a PE image: {why}"));
            return out;
        }
    };
    let name = &target.file_name;
    if target.machine != need.machine {
        let found = machine::name(target.machine, Some(target.chpe_metadata_version.is_some()));
        fail(
            Rule::TargetMachine,
            format!(
                "{name} is {found} ({:#06x}), this view needs {} ({:#06x})",
                target.machine, need.machine_text, need.machine
            ),
        );
    } else if need.refuse_arm64x && target.is_arm64x {
        fail(Rule::TargetMachine, format!("{name} is itself ARM64X; arm64 forwards must go to a plain arm64 DLL"));
    }
    let missing: Vec<String> = exports
        .iter()
        .filter(|export| match &export.target {
            ExportTarget::ForwardByName { name, .. } => {
                !target.exports.iter().any(|t| t.name.as_deref() == Some(name.as_str()))
            }
            ExportTarget::ForwardByOrdinal { ordinal, .. } => !target.exports.iter().any(|t| t.ordinal == *ordinal),
            ExportTarget::Rva(_) => false,
        })
        .map(|export| format!("{} -> {}", export.label(), export.target))
        .collect();
    if !missing.is_empty() {
        fail(Rule::NameMissing, format!("{name} does not export what is forwarded to it: {}", missing.join(", ")));
    }
    if view.is_pure_forwarder() {
        match (subject.file_version, target.file_version) {
            (Some(own), Some(theirs)) if own != theirs => fail(
                Rule::Version,
                format!("this file is version {}, its target {name} is {}", dotted(own), dotted(theirs)),
            ),
            (Some(own), None) => {
                fail(Rule::Version, format!("{name} has no VERSIONINFO resource; this file is version {}", dotted(own)))
            }
            _ => {}
        }
    }
    out
}

fn overlaps(a: (u32, u32), b: (u32, u32)) -> bool {
    let (a0, a1) = (u64::from(a.0), u64::from(a.0) + u64::from(a.1));
    let (b0, b1) = (u64::from(b.0), u64::from(b.0) + u64::from(b.1));
    a0 < b1 && b0 < a1
}

/// docs/arm64x-forwarder.md §9 and §11.11: the views' machines, the DVRT kept out of the base relocations, CHPE metadata
/// in the EC view, and the same export names in both views.
fn arm64x_rules(subject: &Subject, ec: &View) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut fail = |rule, message: String| out.push(Violation { rule, message });
    for (view, machine, want, text) in
        [("native view", subject.native.machine, MACHINE_ARM64, "arm64"), ("EC view", ec.machine, MACHINE_AMD64, "x64")]
    {
        if machine != want {
            fail(Rule::Arm64xMachine, format!("{view}: Machine is {machine:#06x}, expected {want:#06x} ({text})"));
        }
    }
    if let Some(dvrt) = subject.dvrt {
        for (view, dir) in [("native view", subject.native.base_reloc_dir), ("EC view", ec.base_reloc_dir)] {
            if let Some(dir) = dir.filter(|&dir| overlaps(dir, dvrt)) {
                fail(
                    Rule::Arm64xDvrtInBaseRelocs,
                    format!(
                        "{view}: the base relocation directory {:#x}+{:#x} covers the DVRT at {:#x}+{:#x}; loaders would apply the ARM64X fixups as base relocations",
                        dir.0, dir.1, dvrt.0, dvrt.1
                    ),
                );
            }
        }
    }
    match ec.chpe_metadata_version {
        None => fail(
            Rule::Arm64xChpe,
            "EC view: the load config has no CHPE metadata (CHPEMetadataPointer at +0xC8 is missing or 0)".into(),
        ),
        Some(0) => fail(Rule::Arm64xChpe, "EC view: CHPE metadata version is 0, expected 1 or more".into()),
        Some(_) => {}
    }
    let names = |view: &View| {
        let mut names: Vec<String> = view.exports.iter().map(|e| e.label()).collect();
        names.sort();
        names
    };
    let (native_names, ec_names) = (names(&subject.native), names(ec));
    if native_names != ec_names {
        fail(
            Rule::Arm64xExportNames,
            format!(
                "the views export different names: native [{}], EC [{}]",
                native_names.join(", "),
                ec_names.join(", ")
            ),
        );
    }
    out
}
