//! The lint of a new package against the previous release (docs/msi.md §2.7 L1–L3, L6–L10, L12,
//! L13): same product, higher version, and for every path present in both the same component
//! GUID, key path and File key, no version going down, versioned files staying versioned.

use std::collections::BTreeMap;

use uuid::Uuid;

use super::{
    finding::{Finding, Rule},
    ids::braced,
    view::{PackageView, Schedule, ViewFile, dotted, parse_version},
};

/// Every finding about upgrading from `old` to `new`. A previous package of another product
/// gives the single finding `upgrade-code-differs`: nothing else can be compared.
pub fn compare(old: &PackageView, new: &PackageView) -> Vec<Finding> {
    let mut out = Vec::new();
    let show = |g: Option<Uuid>| g.map_or("none".to_string(), braced);
    if old.upgrade_code() != new.upgrade_code() || new.upgrade_code().is_none() {
        return vec![Finding::error(
            Rule::UpgradeCodeDiffers,
            None,
            format!(
                "{} belongs to another product: its UpgradeCode is {}, {}'s is {}; a major upgrade would not remove it",
                old.source,
                show(old.upgrade_code()),
                new.source,
                show(new.upgrade_code())
            ),
        )];
    }
    if old.platform() != new.platform() {
        out.push(Finding::error(
            Rule::PlatformChanged,
            None,
            format!("Template changed from {} to {}", old.summary.template, new.summary.template),
        ));
    }
    if old.product_code() == new.product_code() {
        out.push(Finding::error(
            Rule::ProductCodeUnchanged,
            None,
            format!(
                "both packages have ProductCode {}: a major upgrade needs a new one (docs/msi.md §2.5)",
                show(new.product_code())
            ),
        ));
    }
    if old.summary.package_code.is_some() && old.summary.package_code == new.summary.package_code {
        out.push(Finding::error(
            Rule::PackageCodeUnchanged,
            None,
            "both packages have the same package code (Revision Number)",
        ));
    }
    let (old_version, new_version) =
        (old.product_version().unwrap_or_default(), new.product_version().unwrap_or_default());
    if new_version[..3] <= old_version[..3] {
        out.push(Finding::error(
            Rule::ProductVersionNotHigher,
            None,
            format!(
                "ProductVersion {} is not higher than {} in the first three fields, the only ones Windows Installer compares (docs/msi.md §2.5)",
                dotted(new_version),
                dotted(old_version)
            ),
        ));
    } else if !removes_version(new, old_version) {
        out.push(Finding::error(
            Rule::UpgradeRowMissesOld,
            None,
            format!(
                "no Upgrade row without OnlyDetect matches the old version {}: the old product would stay installed (docs/msi.md §2.7 L3)",
                dotted(old_version)
            ),
        ));
    }

    let late = new.removal_schedule() == Some(Schedule::Late);
    let olds: BTreeMap<String, &ViewFile> = old.files.iter().map(|f| (f.path_key(), f)).collect();
    for file in &new.files {
        if let Some(before) = olds.get(&file.path_key()) {
            same_path(before, file, new, late, &mut out);
        }
    }
    let guid_paths = |view: &PackageView| -> BTreeMap<Uuid, String> {
        view.files.iter().filter_map(|f| Some((f.component_guid?, f.path.clone()))).collect()
    };
    let old_guids = guid_paths(old);
    for (guid, path) in guid_paths(new) {
        if let Some(before) = old_guids.get(&guid).filter(|p| !p.eq_ignore_ascii_case(&path)) {
            out.push(Finding::error(
                Rule::KeyPathChanged,
                Some(&path),
                format!(
                    "component {} had the key path {before}; a GUID must never move to another resource (docs/msi.md §2.2, L7, L13)",
                    braced(guid)
                ),
            ));
        }
    }
    out
}

fn same_path(old: &ViewFile, new: &ViewFile, new_view: &PackageView, late: bool, out: &mut Vec<Finding>) {
    let path = Some(new.path.as_str());
    if old.component_guid != new.component_guid && new.is_schema() {
        let show = |g: Option<Uuid>| g.map_or("none (unmanaged)".to_string(), braced);
        out.push(Finding::error(Rule::SchemaGuidChanged, path, format!(
            "schema component GUID changed from {} to {}: the new version no longer recognizes the copy the old one installed (its CompLocator looks for its own GUID), the file's SharedDLLs count is kept per path, not per GUID, and whatever the schedule the old removal can delete a file another product shares (docs/msi.md §2.2, §2.3)",
            show(old.component_guid), show(new.component_guid)
        )));
    } else if old.component_guid != new.component_guid {
        let show = |g: Option<Uuid>| g.map_or("none (unmanaged)".to_string(), braced);
        out.push(Finding::error(Rule::ComponentGuidChanged, path, format!(
            "component GUID changed from {} to {}: the old product's removal deletes the file the upgrade installed (dotnet/aspnetcore#60764, docs/msi.md §2.3)",
            show(old.component_guid), show(new.component_guid)
        )));
    }
    if old.file_key != new.file_key {
        let referenced = new_view.database.rows("CustomAction").any(|ca| {
            let target = ca.string("Target");
            target.contains(&format!("[#{}]", old.file_key)) || target.contains(&format!("[!{}]", old.file_key))
        });
        out.push(Finding::error_if(
            referenced,
            Rule::FileKeyChanged,
            path,
            format!(
                "File key changed from {} to {} (custom actions and custom tables key on it, docs/msi.md §2.7 L8)",
                old.file_key, new.file_key
            ),
        ));
    }
    if old.features != new.features {
        out.push(Finding::warning(
            Rule::FeatureChanged,
            path,
            format!("moved from feature {:?} to {:?} (docs/msi.md §2.7 L12)", old.features, new.features),
        ));
    }
    let (was, now) = (old.version.as_deref().and_then(parse_version), new.version.as_deref().and_then(parse_version));
    match (was, now) {
        (Some(was), None) => out.push(Finding::error_if(
            late,
            Rule::VersionedToUnversioned,
            path,
            format!(
                "was version {}, is now unversioned: a versioned file on disk is never replaced by an unversioned one (docs/msi.md §2.1, L9)",
                dotted(was)
            ),
        )),
        (Some(was), Some(now)) if now < was => out.push(Finding::error(
            Rule::FileVersionDown,
            path,
            format!(
                "file version goes down from {} to {}: Windows Installer keeps the higher version on disk (docs/msi.md §2.1, L10)",
                dotted(was),
                dotted(now)
            ),
        )),
        (Some(was), Some(now)) if now == was => {
            let bytes_differ = old.payload.as_ref().map(|p| p.md5) != new.payload.as_ref().map(|p| p.md5);
            if bytes_differ {
                out.push(Finding::error_if(
                    late,
                    Rule::SameVersionDifferentBytes,
                    path,
                    format!(
                        "content changed but the file version stays {}: an in-place upgrade would skip it (docs/msi.md §2.1, L10)",
                        dotted(now)
                    ),
                ));
            }
            if old.language != new.language {
                out.push(Finding::warning(
                    Rule::LanguageChanged,
                    path,
                    format!("File.Language changed from {:?} to {:?}", old.language, new.language),
                ));
            }
        }
        _ => {}
    }
}

/// Whether some removing Upgrade row of `new` (not OnlyDetect, own UpgradeCode) matches
/// `version`, honouring the inclusive bits (docs/msi.md §1.3, §1.5); three fields compared.
fn removes_version(new: &PackageView, version: [u16; 4]) -> bool {
    let own = new.property("UpgradeCode").unwrap_or_default();
    let three = |v: [u16; 4]| [v[0], v[1], v[2]];
    new.database.rows("Upgrade").filter(|r| r.str("UpgradeCode") == Some(own)).any(|r| {
        let attributes = r.int("Attributes").unwrap_or(0);
        if attributes & 2 != 0 {
            return false;
        }
        let v = three(version);
        let min_ok = r
            .str("VersionMin")
            .and_then(parse_version)
            .is_none_or(|min| if attributes & 0x100 != 0 { v >= three(min) } else { v > three(min) });
        let max_ok = r
            .str("VersionMax")
            .and_then(parse_version)
            .is_none_or(|max| if attributes & 0x200 != 0 { v <= three(max) } else { v < three(max) });
        min_ok && max_ok
    })
}
