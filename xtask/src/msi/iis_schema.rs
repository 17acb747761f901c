//! The IIS configuration schema as table rows: the schema files in every `config\schema` folder
//! of an IIS the package registers with (full IIS, both IIS Express copies), the searches that
//! decide whether each copy is installed, and the custom actions that declare the sections in
//! each applicationHost.config (docs/iis.md §2.2; docs/msi.md §1.3, §1.6, §2.2).
//!
//! **The components.** One per schema file and folder, its file the key path, GUID derived from
//! the path like every archway component (docs/msi.md §5.2), attributes 64-bit where the folder
//! is (System64Folder and `Program Files` in the 64-bit packages) and Transitive (64): the
//! condition is evaluated again on a repair, so enabling IIS or IIS Express after archway and
//! repairing archway (`msiexec /fa`) installs the schema there. Condition: the folder's IIS is
//! present (the AppSearch of its `appcmd.exe`, the same property the module registration uses);
//! without IIS nothing is written below `System32\inetsrv` or `Program Files\IIS Express`.
//!
//! **`httpplatform_schema.xml`, shared with HttpPlatformHandler.** HttpPlatformHandler v1.2
//! installs a file of this name (its own component GUID) into the same folder, and a second file
//! defining the same section under another name would duplicate the definition, so archway ships
//! the same file name with the same content (module/schema/httpplatform_schema.xml). Windows
//! Installer's component rules say one path, one GUID (docs/msi.md §2.2); two products that break
//! that delete each other's file on uninstall. So, per folder:
//! - The copy is installed only when the folder has no `httpplatform_schema.xml` (Signature +
//!   DrLocator: `ARCHWAY_HPH_SCHEMA_<DIR>`) **or** the file there is archway's own (CompLocator on
//!   this component's GUID: `ARCHWAY_OWN_HPH_SCHEMA_<DIR>`, set while an earlier archway has the
//!   component installed; AppSearch runs before RemoveExistingProducts, so an upgrade keeps it).
//!   Installed over HttpPlatformHandler, archway neither overwrites its file nor owns it: our
//!   uninstall cannot remove it. [UNCERTAIN] the CompLocator row has no Signature row; the
//!   documentation says the property then gets the key path's location, which is all the
//!   condition needs (set or not). The Windows jobs check it: were it never set, the upgrade step
//!   of tests/msi_install.rs would find the copy deleted (condition false, old copy removed).
//! - The component sets SharedDllRefCount (8): the file's HKLM SharedDLLs count goes to 1. When
//!   HttpPlatformHandler is installed after archway, Windows Installer increments an existing
//!   count for its component too, so the first of the two uninstalls only decrements it and the
//!   file stays for the other (docs/msi.md §2.2). [UNCERTAIN] SharedDLLs across two GUIDs is
//!   modelled from the documentation (docs/msi.md §7); tests/msi_install.rs reads the count in
//!   the Windows jobs after the install (1) and the uninstall (gone).
//! - Edge cases: HttpPlatformHandler's uninstall removes the `httpPlatform` declaration (its iisca
//!   unregisters the section of a schema component it removes); if archway stays, a repair of
//!   archway declares it again. HttpPlatformHandler's file, when it wins a File Versioning
//!   comparison (both unversioned, different hash), holds the same section.
//!
//! **Section declarations.** appcmd has no verb for `<configSections>`; ANCM and HttpPlatformHandler
//! write them with IAppHostWritableAdminManager from their custom-action DLL (iisca,
//! IISConfigSections). archway ships `archway_sections.js` and runs it with `cscript.exe` per
//! applicationHost.config: at install it declares every section that is missing (an existing
//! declaration is left as it is); at uninstall (not during an upgrade) it removes only the
//! sections archway alone defines (`system.webServer/archway`), never `httpPlatform`, which
//! HttpPlatformHandler may use; a declaration without a schema file is inert.

use std::collections::BTreeSet;

use anyhow::Result;
use msi::Value;

use super::{
    database::Database,
    ids,
    iis::{self, DEFERRED, EXE_FROM_PROPERTY, IGNORE_EXIT_CODE, NO_IMPERSONATE, ROLLBACK},
    model::{HPH_SCHEMA, InstallDir, Package, SchemaDir},
    plan::{COMPONENT_64BIT, FEATURE, FILE_VITAL, file_size, md5_parts},
    sequences::{SECTIONS_INSTALL_FROM, SECTIONS_UNINSTALL_FROM},
};

/// Component.Attributes (docs/msi.md §1.3).
pub const SHARED_DLL_REF_COUNT: i32 = 8;
pub const TRANSITIVE: i32 = 64;
/// The AppSearch property holding cscript.exe's path.
pub const CSCRIPT: &str = "ARCHWAY_CSCRIPT";

/// `ARCHWAY_HPH_SCHEMA_IIS`: a `httpplatform_schema.xml` is in that folder.
pub fn found_property(dir: SchemaDir) -> String {
    format!("ARCHWAY_HPH_SCHEMA_{}", dir.id().to_uppercase())
}

/// `ARCHWAY_OWN_HPH_SCHEMA_IIS`: archway's component for it is installed.
pub fn own_property(dir: SchemaDir) -> String {
    format!("ARCHWAY_OWN_HPH_SCHEMA_{}", dir.id().to_uppercase())
}

/// The Directory id of a schema folder (mixed case: private, not settable on the command line).
pub fn directory(dir: SchemaDir) -> String {
    format!("ArchwaySchema_{}", dir.id())
}

/// `[System64Folder]inetsrv\config\schema`, formatted.
pub fn formatted_folder(package: &Package, dir: SchemaDir) -> String {
    format!("[{}]{}", dir.standard_folder(package.platform), dir.subfolders().join("\\"))
}

/// The canonical key path of a schema file (docs/msi.md §5.2), for its component GUID.
pub fn canonical_path(package: &Package, dir: SchemaDir, name: &str) -> String {
    let mut parts = vec![dir.standard_folder(package.platform).to_string()];
    parts.extend(dir.subfolders().iter().map(|p| p.to_lowercase()));
    parts.push(name.to_lowercase());
    parts.join("\\")
}

pub fn component_key(dir: SchemaDir, name: &str) -> String {
    let clean: String =
        name.to_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' { c } else { '_' }).collect();
    format!("schema_{}_{clean}", dir.id())
}

fn s(text: impl Into<String>) -> Value {
    Value::Str(text.into())
}

fn push(db: &mut Database, table: &str, row: Vec<Value>) {
    db.tables.get_mut(table).expect("planned table").rows.push(row);
}

/// A file search's Signature, DrLocator and AppSearch rows, in that order.
fn push_search(db: &mut Database, search: iis::FileSearch) {
    push(db, "Signature", search.signature);
    push(db, "DrLocator", search.dr_locator);
    push(db, "AppSearch", search.app_search);
}

/// Adds the schema rows of `package` to `db`; cabinet members go to `members` from File.Sequence
/// `first_sequence`. Returns the properties that must reach the execute sequence.
pub fn rows(
    db: &mut Database,
    package: &Package,
    first_sequence: i32,
    members: &mut Vec<(String, Vec<u8>)>,
) -> Result<Vec<String>> {
    let Some(schema) = &package.iis_schema else { return Ok(Vec::new()) };
    let mut secure = Vec::new();
    let mut sequence = first_sequence;
    let targets = iis::targets(package.platform);
    for &dir in SchemaDir::of(package.platform) {
        let Some(target) = targets.iter().find(|t| t.schema_dir() == dir) else { continue };
        // The folder chain below the standard folder.
        let root = dir.standard_folder(package.platform);
        if !db.rows("Directory").any(|r| r.str("Directory") == Some(root)) {
            push(db, "Directory", vec![s(root), s("TARGETDIR"), s(".")]);
        }
        let mut parent = root.to_string();
        for (i, name) in dir.subfolders().iter().enumerate() {
            let id =
                if i + 1 == dir.subfolders().len() { directory(dir) } else { format!("{}_{}", directory(dir), i + 1) };
            push(db, "Directory", vec![s(&id), s(&parent), s(ids::short_long(name, &mut BTreeSet::new())?)]);
            parent = id;
        }
        let mut short_names = BTreeSet::new();
        for file in &schema.files {
            let key = component_key(dir, &file.name);
            let guid = ids::path_guid(package.upgrade_code, &canonical_path(package, dir, &file.name));
            let shared = file.name.eq_ignore_ascii_case(HPH_SCHEMA);
            let mut attributes = TRANSITIVE | if dir.is_64bit(package.platform) { COMPONENT_64BIT } else { 0 };
            let mut condition = target.property.to_string();
            let file_name = ids::short_long(&file.name, &mut short_names)?;
            if shared {
                attributes |= SHARED_DLL_REF_COUNT;
                let (found, own) = (found_property(dir), own_property(dir));
                condition = format!("{condition} AND (NOT {found} OR {own})");
                let signature = format!("ArchwayHphSchema_{}", dir.id());
                push_search(db, iis::file_search(&found, &signature, &file_name, &formatted_folder(package, dir)));
                let locator = format!("ArchwayOwnHphSchema_{}", dir.id());
                push(db, "CompLocator", vec![s(&locator), s(ids::braced(guid)), Value::Int(1)]);
                push(db, "AppSearch", vec![s(&own), s(&locator)]);
                secure.extend([found, own]);
            }
            push(
                db,
                "Component",
                vec![s(&key), s(ids::braced(guid)), s(directory(dir)), Value::Int(attributes), s(condition), s(&key)],
            );
            push(db, "FeatureComponents", vec![s(FEATURE), s(&key)]);
            let size = file_size(&file.name, &file.bytes)?;
            push(
                db,
                "File",
                vec![
                    s(&key),
                    s(&key),
                    s(file_name),
                    Value::Int(size),
                    Value::Null,
                    Value::Null,
                    Value::Int(FILE_VITAL),
                    Value::Int(sequence),
                ],
            );
            let [a, b, c, d] = md5_parts(&file.bytes);
            push(
                db,
                "MsiFileHash",
                vec![s(&key), Value::Int(0), Value::Int(a), Value::Int(b), Value::Int(c), Value::Int(d)],
            );
            members.push((key, file.bytes.clone()));
            sequence += 1;
        }
    }
    secure.push(CSCRIPT.to_string());
    section_actions(db, package);
    Ok(secure)
}

/// cscript.exe's AppSearch and, per applicationHost.config, the deferred no-impersonate actions
/// that run archway_sections.js (docs/msi.md §1.6: type 50, the path from a property, so a
/// machine without cscript or IIS skips them).
fn section_actions(db: &mut Database, package: &Package) {
    let schema = package.iis_schema.as_ref().expect("checked by the caller");
    let system = if package.platform.is_64bit() { "[System64Folder]" } else { "[SystemFolder]" };
    push_search(db, iis::file_search(CSCRIPT, "ArchwayCscript", "cscript.exe", system));
    let main = if package.platform.is_64bit() { InstallDir::ProgramFiles64 } else { InstallDir::ProgramFilesX86 };
    let script = format!("[#{}]", ids::file_key(main, &schema.script));
    let exe = NO_IMPERSONATE | DEFERRED | EXE_FROM_PROPERTY;
    let undo = exe | ROLLBACK | IGNORE_EXIT_CODE;
    let (mut install_seq, mut uninstall_seq) = (SECTIONS_INSTALL_FROM, SECTIONS_UNINSTALL_FROM);
    for target in iis::targets(package.platform) {
        let run = |verb: &str, sections: &[String]| {
            format!(
                r#"//NoLogo //E:jscript "{script}" {verb} "{}" {}"#,
                target.config_file(package.platform),
                sections.join(" ")
            )
        };
        let installing = format!(r#"{} AND {CSCRIPT} AND NOT REMOVE~="ALL""#, target.property);
        let removing = format!(r#"{} AND {CSCRIPT} AND REMOVE~="ALL" AND NOT UPGRADINGPRODUCTCODE"#, target.property);
        let add_type = if target.required { exe } else { exe | IGNORE_EXIT_CODE };
        let actions = [
            ("SectionsUndo", undo, run("remove", &schema.owned), installing.clone(), true),
            ("Sections", add_type, run("add", &schema.declare), installing, true),
            ("UnsectionsUndo", undo, run("add", &schema.owned), removing.clone(), false),
            ("Unsections", exe | IGNORE_EXIT_CODE, run("remove", &schema.owned), removing, false),
        ];
        for a in iis::numbered(target.id, actions, (&mut install_seq, &mut uninstall_seq)) {
            push(db, "CustomAction", iis::exe_action_row(&a.name, a.kind, CSCRIPT, &a.command));
            push(db, "InstallExecuteSequence", vec![s(a.name), s(a.condition), Value::Int(a.sequence)]);
        }
    }
}
