//! The lint's rules for IIS configuration schema files (`iis_schema.rs` writes them; README,
//! "Configuration schema"): each copy in the schema folder IIS of that bitness reads, installed
//! only where its IIS is, `httpplatform_schema.xml` never taken from or left to another product,
//! and the sections declared by a registration custom action.

use std::collections::BTreeSet;

use super::{
    finding::{Finding, Rule},
    iis_schema::SHARED_DLL_REF_COUNT,
    model::{HPH_SCHEMA, Platform},
    plan::COMPONENT_64BIT,
    view::{PackageView, ViewFile},
};

pub fn lint(view: &PackageView, out: &mut Vec<Finding>) {
    let schema: Vec<&ViewFile> = view.files.iter().filter(|f| f.is_schema()).collect();
    if schema.is_empty() {
        return;
    }
    for file in &schema {
        folder_bitness(view.platform(), file, out);
        if file.condition.is_none() {
            out.push(Finding::error(
                Rule::SchemaCondition,
                Some(&file.path),
                "a schema component without a condition: it creates the IIS folder on a machine without that IIS; condition it on the AppSearch that finds the IIS (the appcmd.exe property)",
            ));
        }
        if file.name.eq_ignore_ascii_case(HPH_SCHEMA) {
            foreign_copy(view, file, out);
        }
    }
    let declares = view.database.rows("CustomAction").any(|ca| {
        let target = ca.string("Target").to_lowercase();
        let rollback = ca.int("Type").unwrap_or(0) & super::iis::ROLLBACK != 0;
        !rollback && target.contains(" add ") && target.contains(r"inetsrv\config\applicationhost.config")
    });
    if !declares {
        out.push(Finding::error(
            Rule::SchemaSectionsUndeclared,
            Some(&schema[0].path),
            "schema files but no custom action declares their sections in IIS's applicationHost.config: IIS answers 500.19 for a section that is not in <configSections> (docs/iis.md §2.2)",
        ));
    }
}

/// IIS reads schema files from the 64-bit `System32\inetsrv\config\schema` on 64-bit Windows
/// (WOW64 redirection sends 32-bit processes' System32 to SysWOW64, which IIS never reads).
fn folder_bitness(platform: Option<Platform>, file: &ViewFile, out: &mut Vec<Finding>) {
    let Some(platform) = platform else { return };
    let path = Some(file.path.as_str());
    let is_64 = file.component_attributes & COMPONENT_64BIT != 0;
    match file.root.as_str() {
        "SystemFolder" if platform.is_64bit() => out.push(Finding::error(
            Rule::SchemaFolderBitness,
            path,
            "a schema file in SystemFolder (SysWOW64) of a 64-bit package: IIS reads only the 64-bit System32\\inetsrv\\config\\schema; use System64Folder with a 64-bit component (docs/msi.md §3.2)",
        )),
        "System64Folder" if !platform.is_64bit() => {
            out.push(Finding::error(Rule::SchemaFolderBitness, path, "System64Folder in the x86 package: IIS on 32-bit Windows reads SystemFolder"))
        }
        "System64Folder" | "ProgramFiles64Folder" if !is_64 => out.push(Finding::error(
            Rule::SchemaFolderBitness,
            path,
            "component attribute 256 (64-bit) must be set for a file in a 64-bit system folder: a 32-bit component's path is redirected to the WOW64 folder (docs/msi.md §2.7 L14)",
        )),
        "SystemFolder" | "ProgramFilesFolder" if is_64 => {
            out.push(Finding::error(Rule::SchemaFolderBitness, path, "component attribute 256 (64-bit) must be clear for a file in a 32-bit folder"))
        }
        _ => {}
    }
}

/// HttpPlatformHandler installs `httpplatform_schema.xml` under its own component GUID: ours must
/// stay out when its copy is there, keep ours on our upgrades, and count references on the file.
fn foreign_copy(view: &PackageView, file: &ViewFile, out: &mut Vec<Finding>) {
    let condition = file.condition.clone().unwrap_or_default();
    let words: BTreeSet<String> =
        condition.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).map(str::to_uppercase).collect();
    let compact = condition.to_uppercase().split_whitespace().collect::<Vec<_>>().join(" ");
    // The property of an AppSearch that finds a file of this name, and one that finds our component.
    let found_by_file = view.database.rows("AppSearch").map(|r| (r.string("Property"), r.string("Signature_"))).find(
        |(property, signature)| {
            words.contains(&property.to_uppercase())
                && compact.contains(&format!("NOT {}", property.to_uppercase()))
                && view.database.find("Signature", "Signature", signature).is_some_and(|s| {
                    super::ids::long_name(s.str("FileName").unwrap_or_default()).eq_ignore_ascii_case(HPH_SCHEMA)
                })
        },
    );
    let guid = file.component_guid.map(super::ids::braced).unwrap_or_default();
    let found_ours = view.database.rows("AppSearch").any(|r| {
        words.contains(&r.string("Property").to_uppercase())
            && view
                .database
                .find("CompLocator", "Signature_", &r.string("Signature_"))
                .is_some_and(|c| c.string("ComponentId").eq_ignore_ascii_case(&guid))
    });
    let mut missing = Vec::new();
    if found_by_file.is_none() {
        missing.push("a condition `NOT <property>` on an AppSearch for httpplatform_schema.xml in the folder (so HttpPlatformHandler's copy is neither overwritten nor taken over: taken over, our uninstall deletes it)");
    }
    if !found_ours {
        missing.push("an `OR <property>` on a CompLocator of this component's own GUID (so an upgrade keeps the copy archway installed)");
    }
    if file.component_attributes & SHARED_DLL_REF_COUNT == 0 {
        missing.push("attribute 8 (SharedDllRefCount), so HttpPlatformHandler installed later shares the file's count and our uninstall leaves it");
    }
    if !missing.is_empty() {
        out.push(Finding::error(
            Rule::SchemaRemovesForeign,
            Some(&file.path),
            format!(
                "HttpPlatformHandler v1.2 installs this file under its own component; this component lacks {}",
                missing.join("; ")
            ),
        ));
    }
}
