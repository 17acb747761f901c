//! The lint of one package on its own (docs/msi.md §2.7 L4, L5, L7, L11, L14–L16 and §3.3): every PE
//! versioned and its version in the File table; each PE's machine fits its folder and the
//! platform; every forwarder's targets beside it; one component per path; the tables, standard
//! actions, upgrade rows and custom-action schedule an upgrade-safe package needs.

use std::collections::{BTreeMap, BTreeSet};

use super::{
    finding::{Finding, Rule},
    iis,
    model::{InstallDir, PeInfo, Platform},
    schema, sequences,
    view::{PackageView, ViewFile, dotted},
};
use crate::matrix::{
    Arch,
    machine::{self, AMD64, ARM64, I386},
};

/// Every finding about `view` alone.
pub fn lint(view: &PackageView) -> Vec<Finding> {
    let mut out = Vec::new();
    structure(view, &mut out);
    platform(view, &mut out);
    upgrade_rows(view, &mut out);
    custom_actions(view, &mut out);
    components(view, &mut out);
    for file in &view.files {
        file_facts(file, &mut out);
        if let (Some(platform), Some(dir), Some(pe)) =
            (view.platform(), file.install_dir, file.payload.as_ref().and_then(|p| p.pe()))
            && let Err(why) = machine_fits(platform, dir, &file.name, pe)
        {
            out.push(Finding::error(Rule::MachineFolder, Some(&file.path), why));
        }
        forwarder_targets(view, file, &mut out);
    }
    super::check_schema::lint(view, &mut out);
    out
}

fn structure(view: &PackageView, out: &mut Vec<Finding>) {
    for table in schema::REQUIRED_TABLES {
        if !view.database.has(table) {
            out.push(Finding::error(
                Rule::TableMissing,
                None,
                format!("the {table} table is missing (docs/msi.md §1.3)"),
            ));
        }
    }
    for table in schema::SEQUENCE_TABLES.iter().filter(|t| view.database.has(t)) {
        for action in sequences::required(table) {
            if view.sequence(table, action).is_none() {
                out.push(Finding::error(
                    Rule::ActionMissing,
                    None,
                    format!("{table} has no {action} (docs/msi.md §1.4)"),
                ));
            }
        }
    }
    for property in ["ProductCode", "ProductVersion", "UpgradeCode", "ProductLanguage", "ProductName", "Manufacturer"] {
        if view.property(property).is_none() {
            out.push(Finding::error(Rule::PropertyMissing, None, format!("the Property table has no {property}")));
        }
    }
    if view.property("ALLUSERS") != Some("1") {
        out.push(Finding::error(Rule::NotPerMachine, None, "ALLUSERS is not 1: archway installs per machine"));
    }
    let seq = |a: &str| view.sequence("InstallExecuteSequence", a);
    match (seq("RemoveExistingProducts"), seq("InstallValidate"), seq("InstallInitialize"), seq("InstallFinalize")) {
        (None, ..) => out.push(Finding::error(
            Rule::RemoveExistingProducts,
            None,
            "InstallExecuteSequence has no RemoveExistingProducts: a major upgrade would leave the old product installed",
        )),
        (Some(rep), validate, Some(init), finalize) => {
            let previous = view
                .database
                .rows("InstallExecuteSequence")
                .filter_map(|r| Some((r.int("Sequence")?, r.string("Action"))))
                .filter(|(s, _)| *s < rep && *s > 0)
                .max();
            let legal = validate.is_some_and(|v| v < rep && rep < init)
                || previous
                    .as_ref()
                    .is_some_and(|(_, a)| matches!(a.as_str(), "InstallInitialize" | "InstallExecute" | "InstallExecuteAgain"))
                || finalize.is_some_and(|f| rep > f);
            if !legal {
                let after = previous.map_or("nothing".to_string(), |(_, a)| a);
                out.push(Finding::error(Rule::RemoveExistingProducts, None, format!("RemoveExistingProducts ({rep}) follows {after}; legal places are after InstallValidate, InstallInitialize, InstallExecute(Again) or InstallFinalize (ICE63, docs/msi.md §2.4)")));
            }
        }
        _ => {}
    }
}

fn platform(view: &PackageView, out: &mut Vec<Finding>) {
    let Some(platform) = view.platform() else {
        out.push(Finding::error(
            Rule::TemplatePlatform,
            None,
            format!("Template {:?} names no single known platform (Intel, x64, Arm64)", view.summary.template),
        ));
        return;
    };
    if view.summary.page_count < platform.min_page_count() {
        out.push(Finding::error(
            Rule::TemplatePlatform,
            None,
            format!(
                "Page Count {} is below {} for an {} package (docs/msi.md §1.7)",
                view.summary.page_count,
                platform.min_page_count(),
                platform.template()
            ),
        ));
    }
    for file in &view.files {
        let is_64 = file.component_attributes & super::plan::COMPONENT_64BIT != 0;
        if is_64 && !platform.is_64bit() {
            out.push(Finding::error(
                Rule::TemplatePlatform,
                Some(&file.path),
                "a 64-bit component in an Intel (32-bit) package",
            ));
        }
        if let Some(dir) = file.install_dir
            && is_64 != dir.is_64bit()
        {
            let want = if dir.is_64bit() { "set" } else { "clear" };
            out.push(Finding::error(
                Rule::ComponentBitness,
                Some(&file.path),
                format!(
                    "component attribute 256 (64-bit) must be {want} for a file under {} (docs/msi.md §2.7 L14)",
                    dir.windows_name()
                ),
            ));
        }
    }
}

fn upgrade_rows(view: &PackageView, out: &mut Vec<Finding>) {
    let secure: BTreeSet<&str> = view.property("SecureCustomProperties").unwrap_or_default().split(';').collect();
    let mut seen = BTreeSet::new();
    for row in view.database.rows("Upgrade") {
        let property = row.string("ActionProperty");
        if property.chars().any(|c| c.is_ascii_lowercase())
            || !seen.insert(property.clone())
            || !secure.contains(property.as_str())
        {
            out.push(Finding::error(
                Rule::UpgradeActionProperty,
                None,
                format!("Upgrade ActionProperty {property:?} must be upper case, unique and listed in SecureCustomProperties (ICE61)"),
            ));
        }
    }
    let own = view.property("UpgradeCode").unwrap_or_default().to_string();
    let rows: Vec<_> = view.database.rows("Upgrade").filter(|r| r.str("UpgradeCode") == Some(own.as_str())).collect();
    let version = view.property("ProductVersion").unwrap_or_default();
    if !rows.iter().any(|r| r.int("Attributes").unwrap_or(0) & 2 == 0 && r.str("VersionMax") == Some(version)) {
        out.push(Finding::error(
            Rule::UpgradeRows,
            None,
            format!(
                "no Upgrade row removes earlier versions of this UpgradeCode (VersionMax {version}, not OnlyDetect)"
            ),
        ));
    }
    let detect_newer: Vec<String> = rows
        .iter()
        .filter(|r| {
            r.int("Attributes").unwrap_or(0) & 2 != 0
                && r.str("VersionMin") == Some(version)
                && r.str("VersionMax").is_none()
        })
        .map(|r| r.string("ActionProperty"))
        .collect();
    let refused = detect_newer
        .iter()
        .any(|p| view.database.rows("LaunchCondition").any(|c| c.string("Condition").contains(&format!("NOT {p}"))));
    if !refused {
        out.push(Finding::error(
            Rule::DowngradeNotRefused,
            None,
            "no OnlyDetect Upgrade row for newer versions with a LaunchCondition refusing them: a downgrade would install side by side",
        ));
    }
}

fn custom_actions(view: &PackageView, out: &mut Vec<Finding>) {
    let seq = |a: &str| view.sequence("InstallExecuteSequence", a);
    let (Some(init), Some(finalize)) = (seq("InstallInitialize"), seq("InstallFinalize")) else { return };
    for ca in view.database.rows("CustomAction") {
        let (name, kind) = (ca.string("Action"), ca.int("Type").unwrap_or(0));
        if !iis::is_in_script(kind) {
            continue;
        }
        let Some(at) = seq(&name) else { continue };
        if at <= init || at >= finalize {
            out.push(Finding::error(
                Rule::DeferredOutsideScript,
                None,
                format!("deferred custom action {name} ({at}) is not between InstallInitialize ({init}) and InstallFinalize ({finalize})"),
            ));
        }
        let condition = view
            .database
            .find("InstallExecuteSequence", "Action", &name)
            .map(|r| r.string("Condition"))
            .unwrap_or_default();
        let compact = condition.replace(' ', "").to_uppercase();
        let on_uninstall = compact.contains("REMOVE~=\"ALL\"") && !compact.contains("NOTREMOVE~=\"ALL\"");
        if on_uninstall && !compact.contains("NOTUPGRADINGPRODUCTCODE") {
            out.push(Finding::error(Rule::UnregisterDuringUpgrade, None, format!("uninstall-time custom action {name} lacks NOT UPGRADINGPRODUCTCODE: a major upgrade would undo what the new version registers (docs/msi.md §1.6, §2.7 L16)")));
        }
    }
}

fn components(view: &PackageView, out: &mut Vec<Finding>) {
    let mut by_path: BTreeMap<String, Vec<&ViewFile>> = BTreeMap::new();
    let mut by_guid: BTreeMap<uuid::Uuid, BTreeSet<String>> = BTreeMap::new();
    for file in &view.files {
        by_path.entry(file.path_key()).or_default().push(file);
        if let Some(guid) = file.component_guid {
            by_guid.entry(guid).or_default().insert(file.component.clone());
        }
        if !file.is_key_path {
            out.push(Finding::error(
                Rule::ComponentKeyPath,
                Some(&file.path),
                format!(
                    "file {} is not the key path of its component {} (one component per file, the file its key path)",
                    file.file_key, file.component
                ),
            ));
        }
    }
    for files in by_path.values().filter(|f| f.len() > 1) {
        let keys: Vec<&str> = files.iter().map(|f| f.file_key.as_str()).collect();
        out.push(Finding::error(
            Rule::PathInTwoComponents,
            Some(&files[0].path),
            format!(
                "installed by {} File rows ({}); one path must belong to one component (docs/msi.md §2.2)",
                files.len(),
                keys.join(", ")
            ),
        ));
    }
    for (guid, comps) in by_guid.iter().filter(|(_, c)| c.len() > 1) {
        out.push(Finding::error(
            Rule::GuidReused,
            None,
            format!(
                "component GUID {} is used by {} components ({})",
                super::ids::braced(*guid),
                comps.len(),
                comps.iter().cloned().collect::<Vec<_>>().join(", ")
            ),
        ));
    }
}

fn file_facts(file: &ViewFile, out: &mut Vec<Finding>) {
    let path = Some(file.path.as_str());
    let Some(payload) = &file.payload else {
        out.push(Finding::error(Rule::FileNotInCabinet, path, format!("the cabinet has no member {}", file.file_key)));
        return;
    };
    let pe = match &payload.pe {
        Err(why) => {
            out.push(Finding::error(
                Rule::PeUnreadable,
                path,
                format!("looks like a PE image but cannot be read: {why}"),
            ));
            return;
        }
        Ok(pe) => pe.as_ref(),
    };
    let real = pe.and_then(|pe| pe.version).map(dotted);
    if pe.is_some() && real.is_none() {
        out.push(Finding::error(Rule::UnversionedPe, path, "PE image without a version resource: Windows Installer treats it as unversioned, so an upgrade keeps the older versioned file at this path (dotnet/aspnetcore#60764, docs/msi.md §2.6)"));
    }
    if file.version != real {
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".into());
        out.push(Finding::error(
            Rule::FileVersionMismatch,
            path,
            format!(
                "File.Version is {} but the payload's VERSIONINFO says {} (Windows Installer decides by the table, docs/msi.md §2.7 L11)",
                show(&file.version),
                show(&real)
            ),
        ));
    }
    if let Some(pe) = pe.filter(|_| file.version.is_some()) {
        let languages = pe.languages.iter().map(u16::to_string).collect::<Vec<_>>().join(",");
        if file.language.clone().unwrap_or_default() != languages {
            out.push(Finding::warning(
                Rule::FileLanguageMismatch,
                path,
                format!(
                    "File.Language is {:?} but the payload's translation says {languages:?}",
                    file.language.clone().unwrap_or_default()
                ),
            ));
        }
    }
    if file.version.is_none() {
        match file.hash_row {
            None => out.push(Finding::error(
                Rule::FileHashMissing,
                path,
                "an unversioned file needs an MsiFileHash row (docs/msi.md §1.3)",
            )),
            Some(row) if row != md5_parts_of(payload) => out.push(Finding::error(
                Rule::FileHashMismatch,
                path,
                "MsiFileHash does not match the MD5 of the cabinet member",
            )),
            Some(_) => {}
        }
    }
    if file.table_size.map(|s| s as u64) != Some(payload.size) {
        let size = file.table_size.map_or("missing".to_string(), |s| s.to_string());
        out.push(Finding::error(
            Rule::FileSizeMismatch,
            path,
            format!("File.FileSize is {size}, the cabinet member has {} bytes", payload.size),
        ));
    }
}

fn md5_parts_of(payload: &super::view::Payload) -> [i32; 4] {
    std::array::from_fn(|i| i32::from_le_bytes(payload.md5[4 * i..4 * i + 4].try_into().unwrap()))
}

/// Whether a PE with `pe`'s machine belongs at `dir\name` in a `platform` package (docs/msi.md §3.2,
/// §3.3): 32-bit folder i386 only; x64 package 64-bit folder AMD64 (not ARM64EC); arm64 package
/// 64-bit folder by name: `_x64` AMD64, `_arm64ec` ARM64EC, `_arm64` plain ARM64, and the plain
/// name an Arm64X image (the forwarder both ARM64 and emulated x64 workers load).
pub fn machine_fits(platform: Platform, dir: InstallDir, name: &str, pe: &PeInfo) -> Result<(), String> {
    let found = describe(pe);
    let stem = name.rsplit_once('.').map_or(name, |(s, _)| s).to_lowercase();
    // The architecture the name says, by `binaries::output_name`'s `<name>_<arch>` rule.
    let named = Arch::ALL.into_iter().find(|arch| stem.ends_with(&format!("_{arch}")));
    let (ok, want) = match (dir, platform) {
        (InstallDir::ProgramFilesX86, _) => (pe.machine == I386, "an x86 (0x014C) image: 32-bit workers load it"),
        (InstallDir::ProgramFiles64, Platform::X86) => (false, "nothing: the x86 package has no 64-bit folder"),
        (InstallDir::ProgramFiles64, Platform::X64) => (pe.machine == AMD64 && !pe.hybrid, "an x64 (0x8664) image"),
        (InstallDir::ProgramFiles64, Platform::Arm64) if named == Some(Arch::X64) => {
            (pe.machine == AMD64 && !pe.hybrid, "an x64 image, as its name says")
        }
        (InstallDir::ProgramFiles64, Platform::Arm64) if named == Some(Arch::Arm64Ec) => {
            (pe.machine == AMD64 && pe.hybrid, "an ARM64EC image, as its name says")
        }
        (InstallDir::ProgramFiles64, Platform::Arm64) if named == Some(Arch::Arm64) => {
            (pe.machine == ARM64 && !pe.hybrid, "a plain ARM64 image, as its name says")
        }
        (InstallDir::ProgramFiles64, Platform::Arm64) => (
            pe.machine == ARM64 && pe.hybrid,
            "an Arm64X image (the forwarder ARM64 and emulated x64 workers both load)",
        ),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("a {found} in {} of the {platform} package; expected {want}", dir.windows_name()))
    }
}

/// `arm64x (0xAA64 + CHPE) image`: archway's name of the machine (`machine::name`), its number.
pub fn describe(pe: &PeInfo) -> String {
    let chpe = if pe.hybrid { " + CHPE" } else { "" };
    format!("{} ({:#06X}{chpe}) image", machine::name(pe.machine, Some(pe.hybrid)), pe.machine)
}

fn forwarder_targets(view: &PackageView, file: &ViewFile, out: &mut Vec<Finding>) {
    let Some(pe) = file.payload.as_ref().and_then(|p| p.pe()).filter(|pe| pe.is_forwarder()) else { return };
    let beside = |target: &str| {
        view.files.iter().find(|f| f.folder.eq_ignore_ascii_case(&file.folder) && f.name.eq_ignore_ascii_case(target))
    };
    // The stored view forwards to DLLs of the file's own machine (ARM64 for an Arm64X file); the
    // EC view of an Arm64X file to x64 or ARM64EC DLLs, which say AMD64 in their header.
    let native_view = if pe.hybrid && pe.machine == ARM64 { "native (ARM64)" } else { "native" };
    for (targets, view_name, machine) in
        [(&pe.forwards_native, native_view, pe.machine), (&pe.forwards_ec, "EC (x64)", AMD64)]
    {
        for target in targets {
            match beside(target) {
                None => out.push(Finding::error(
                    Rule::ForwarderTargetMissing,
                    Some(&file.path),
                    format!(
                        "its {view_name} exports forward to {target}, which the package does not install beside it"
                    ),
                )),
                Some(t) => {
                    if let Some(tpe) = t.payload.as_ref().and_then(|p| p.pe()).filter(|tpe| tpe.machine != machine) {
                        out.push(Finding::error(
                            Rule::ForwarderTargetMachine,
                            Some(&file.path),
                            format!("its {view_name} exports forward to {target}, a {}", describe(tpe)),
                        ));
                    }
                }
            }
        }
    }
}
