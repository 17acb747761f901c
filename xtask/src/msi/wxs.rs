//! A WiX v3 source for `wixl` (msitools) equivalent to archway's x64 package, for `cargo xtask
//! bench msi`: the same directories, components (same GUIDs), files, feature, Upgrade rows,
//! downgrade LaunchCondition, RemoveExistingProducts position and appcmd custom actions, all
//! taken from the writer's own plan. What wixl 0.101 cannot express is left out and listed in
//! [`OMITTED`] (docs/msi.md §4.4).

use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result};

use super::{
    database::Database,
    ids,
    iis::{IGNORE_EXIT_CODE, NO_IMPERSONATE, ROLLBACK},
    model::{InstallDir, Package},
    plan::{self, folder_directory},
    sequences::REMOVE_EXISTING_PRODUCTS,
};
use crate::cmd::Cmd;

/// Parts of the real package wixl 0.101 cannot write: no DirectorySearch/FileSearch (so no
/// AppSearch for appcmd.exe), no `_Validation`, no version resources (every File.Version empty
/// and an MsiFileHash row per file), no MigrateFeatures, rollback actions written without their
/// rollback bits (type 2162 for 3442), no fixed package code or dates; and no IIS schema
/// components (conditions on AppSearch results, CompLocator, SharedDllRefCount) or the section
/// actions that go with them.
pub const OMITTED: &str = "AppSearch/DrLocator/Signature/CompLocator, the IIS schema files and section actions, _Validation, File.Version/Language, MigrateFeatures, rollback custom-action bits, reproducibility";

fn xml(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Writes every payload under `dir/payload/` and `dir/archway.wxs`; returns the `.wxs` path.
/// wixl takes only relative sources, so [`wixl_command`] runs in `dir`.
pub fn write_inputs(package: &Package, dir: &Path) -> Result<PathBuf> {
    let payloads = dir.join("payload");
    std::fs::create_dir_all(&payloads).with_context(|| format!("cannot create {}", payloads.display()))?;
    for file in &package.files {
        let path = payloads.join(ids::file_key(file.dir, &file.name));
        std::fs::write(&path, &file.bytes).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let wxs = dir.join("archway.wxs");
    std::fs::write(&wxs, source(package, Path::new("payload"))?)
        .with_context(|| format!("cannot write {}", wxs.display()))?;
    Ok(wxs)
}

/// `wixl -a x64 -o OUT WXS` in the `.wxs` file's folder (the architecture comes from the
/// command line in wixl 0.101).
pub fn wixl_command(wixl: &Path, wxs: &Path, out: &Path) -> Cmd {
    let cmd = Cmd::new(wixl).timeout(std::time::Duration::from_secs(300)).args(["-a", "x64", "-o"]).arg(out).arg(wxs);
    match wxs.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) => cmd.current_dir(dir),
        None => cmd,
    }
}

/// The `.wxs` text; files are referenced as `payload_dir/<File key>` (relative, for wixl).
pub fn source(package: &Package, payload_dir: &Path) -> Result<String> {
    let planned = plan::plan(&without_schema(package))?;
    let db = &planned.database;
    let property = |name: &str| xml(db.property(name).unwrap_or_default());
    let mut w = String::new();
    let _ = writeln!(w, r#"<?xml version="1.0" encoding="utf-8"?>"#);
    let _ = writeln!(w, r#"<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">"#);
    let _ = writeln!(
        w,
        r#"  <Product Id="{}" Name="{}" Language="1033" Version="{}" Manufacturer="{}" UpgradeCode="{}">"#,
        property("ProductCode"),
        property("ProductName"),
        property("ProductVersion"),
        property("Manufacturer"),
        property("UpgradeCode")
    );
    let _ = writeln!(
        w,
        r#"    <Package InstallerVersion="{}" Compressed="yes" InstallScope="perMachine" />"#,
        plan::PAGE_COUNT
    );
    let _ = writeln!(w, r#"    <Media Id="1" Cabinet="cab1.cab" EmbedCab="yes" />"#);
    upgrades(&mut w, db);
    let _ = writeln!(w, r#"    <Directory Id="TARGETDIR" Name="SourceDir">"#);
    for dir in [InstallDir::ProgramFiles64, InstallDir::ProgramFilesX86] {
        let components: Vec<_> =
            db.rows("Component").filter(|c| c.str("Directory_") == Some(folder_directory(dir))).collect();
        if components.is_empty() {
            continue;
        }
        let _ = writeln!(w, r#"      <Directory Id="{}">"#, dir.standard_folder());
        let _ = writeln!(w, r#"        <Directory Id="{}" Name="{}">"#, folder_directory(dir), xml(&package.folder));
        for c in components {
            let key = c.string("Component");
            let file = db.find("File", "File", &key).context("a component without its file")?;
            let win64 = if dir.is_64bit() { "yes" } else { "no" };
            let _ =
                writeln!(w, r#"          <Component Id="{key}" Guid="{}" Win64="{win64}">"#, c.string("ComponentId"));
            let source = payload_dir.join(&key).to_string_lossy().replace('\\', "/");
            let _ = writeln!(
                w,
                r#"            <File Id="{key}" Name="{}" Source="{}" KeyPath="yes" />"#,
                xml(ids::long_name(&file.string("FileName"))),
                xml(&source)
            );
            let _ = writeln!(w, "          </Component>");
        }
        let _ = writeln!(w, "        </Directory>\n      </Directory>");
    }
    let _ = writeln!(w, "    </Directory>");
    let _ = writeln!(w, r#"    <Feature Id="{}" Title="{}" Level="1">"#, plan::FEATURE, property("ProductName"));
    for c in db.rows("Component") {
        let _ = writeln!(w, r#"      <ComponentRef Id="{}" />"#, c.string("Component"));
    }
    let _ = writeln!(w, "    </Feature>");
    custom_actions(&mut w, db);
    let _ = writeln!(w, "  </Product>\n</Wix>");
    Ok(w)
}

/// `package` as wixl can express it (see [`OMITTED`]).
pub fn without_schema(package: &Package) -> Package {
    Package { iis_schema: None, ..package.clone() }
}

fn upgrades(w: &mut String, db: &Database) {
    let mut codes: Vec<String> = db.rows("Upgrade").map(|r| r.string("UpgradeCode")).collect();
    codes.dedup();
    for code in codes {
        let _ = writeln!(w, r#"    <Upgrade Id="{code}">"#);
        for row in db.rows("Upgrade").filter(|r| r.str("UpgradeCode") == Some(code.as_str())) {
            let attributes = row.int("Attributes").unwrap_or(0);
            let mut a = format!(r#"Property="{}""#, row.string("ActionProperty"));
            // wixl 0.101 needs a minimum; 0.0.0 inclusive matches what a missing one matches.
            let (min, inclusive) = row.str("VersionMin").map_or(("0.0.0", true), |m| (m, attributes & 0x100 != 0));
            let _ = write!(a, r#" Minimum="{min}" IncludeMinimum="{}""#, if inclusive { "yes" } else { "no" });
            if let Some(max) = row.str("VersionMax") {
                let _ = write!(
                    a,
                    r#" Maximum="{max}" IncludeMaximum="{}""#,
                    if attributes & 0x200 != 0 { "yes" } else { "no" }
                );
            }
            if attributes & 2 != 0 {
                a.push_str(r#" OnlyDetect="yes""#); // MigrateFeatures: not in wixl 0.101
            }
            let _ = writeln!(w, "      <UpgradeVersion {a} />");
        }
        let _ = writeln!(w, "    </Upgrade>");
    }
    for row in db.rows("LaunchCondition") {
        let _ = writeln!(
            w,
            r#"    <Condition Message="{}">{}</Condition>"#,
            xml(&row.string("Description")),
            xml(&row.string("Condition"))
        );
    }
}

fn custom_actions(w: &mut String, db: &Database) {
    for ca in db.rows("CustomAction") {
        let kind = ca.int("Type").unwrap_or(0);
        let execute = if kind & ROLLBACK != 0 { "rollback" } else { "deferred" };
        let impersonate = if kind & NO_IMPERSONATE != 0 { "no" } else { "yes" };
        let ret = if kind & IGNORE_EXIT_CODE != 0 { "ignore" } else { "check" };
        let _ = writeln!(
            w,
            r#"    <CustomAction Id="{}" Property="{}" ExeCommand="{}" Execute="{execute}" Impersonate="{impersonate}" Return="{ret}" />"#,
            ca.string("Action"),
            ca.string("Source"),
            xml(&ca.string("Target"))
        );
    }
    let _ = writeln!(w, "    <InstallExecuteSequence>");
    let _ = writeln!(w, r#"      <RemoveExistingProducts Sequence="{REMOVE_EXISTING_PRODUCTS}" />"#);
    for ca in db.rows("CustomAction") {
        let action = ca.string("Action");
        let row = db.find("InstallExecuteSequence", "Action", &action);
        let (seq, condition) = row.map(|r| (r.int("Sequence").unwrap_or(0), r.string("Condition"))).unwrap_or_default();
        let _ = writeln!(w, r#"      <Custom Action="{action}" Sequence="{seq}">{}</Custom>"#, xml(&condition));
    }
    let _ = writeln!(w, "    </InstallExecuteSequence>");
}
