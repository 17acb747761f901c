//! IIS and IIS Express registration as table rows: AppSearch finds each `appcmd.exe`, and
//! deferred, no-impersonate EXE custom actions (type 50: the path comes from that property, so
//! an absent IIS skips them) run `appcmd install module` / `uninstall module` (docs/iis.md §2.2, §3.1,
//! §3.3; docs/msi.md §1.6).
//!
//! Per appcmd target, at install (`NOT REMOVE~="ALL"`, after InstallFiles):
//! `…ClearUndo` (rollback: re-add, only when a registration existed before), `…Clear`
//! (`uninstall module`, exit code ignored: makes a repair or an upgrade idempotent), `…AddUndo`
//! (rollback: remove), `…Add` (`install module`; its exit code fails the install for full IIS).
//! At uninstall (`REMOVE~="ALL" AND NOT UPGRADINGPRODUCTCODE`, before RemoveFiles): `…RemoveUndo`
//! (rollback: re-add) and `…Remove`. The `NOT UPGRADINGPRODUCTCODE` keeps a major upgrade from
//! unregistering what it installs (docs/msi.md §1.6, §2.6).

use msi::Value;

use super::{
    model::{IisModule, Platform},
    sequences::{INSTALL_ACTIONS_FROM, UNINSTALL_ACTIONS_FROM},
};

/// Custom action type bits (docs/msi.md §1.6).
pub const EXE_FROM_PROPERTY: i32 = 50;
pub const IGNORE_EXIT_CODE: i32 = 64;
pub const ROLLBACK: i32 = 256;
pub const DEFERRED: i32 = 1024;
pub const NO_IMPERSONATE: i32 = 2048;

/// Set by FindRelatedProducts when an older archway of this platform is installed.
pub const OLDER_FOUND: &str = "ARCHWAY_OLDER_FOUND";

/// One appcmd.exe and the configuration file it edits.
pub struct Target {
    /// Action name prefix.
    pub id: &'static str,
    /// The AppSearch property that receives appcmd.exe's full path.
    pub property: &'static str,
    /// Signature id of that search.
    signature: &'static str,
    /// The folder searched (formatted).
    folder: &'static str,
    /// Extra appcmd arguments (which applicationhost.config).
    config: &'static str,
    /// Whether a failed `install module` fails the installation.
    pub required: bool,
}

impl Target {
    /// The applicationHost.config this target's appcmd edits (formatted): the `/apphostconfig:`
    /// value, or full IIS's own file.
    pub fn config_file(&self, platform: Platform) -> String {
        match self.config.split_once(":\"").map(|(_, rest)| rest.trim_end_matches('"')) {
            Some(file) => file.to_string(),
            None => {
                let system = if platform.is_64bit() { "[System64Folder]" } else { "[SystemFolder]" };
                format!(r"{system}inetsrv\config\applicationHost.config")
            }
        }
    }

    /// The schema folder of the IIS this target registers with.
    pub fn schema_dir(&self) -> super::model::SchemaDir {
        use super::model::SchemaDir;
        match self.property {
            "ARCHWAY_APPCMD" => SchemaDir::Iis,
            "ARCHWAY_IISEXPRESS64_APPCMD" => SchemaDir::IisExpress64,
            _ => SchemaDir::IisExpressX86,
        }
    }
}

pub fn targets(platform: Platform) -> Vec<Target> {
    let iis_folder = if platform.is_64bit() { r"[System64Folder]inetsrv" } else { r"[SystemFolder]inetsrv" };
    let mut out = vec![Target {
        id: "ArchwayIis",
        property: "ARCHWAY_APPCMD",
        signature: "ArchwayAppcmd",
        folder: iis_folder,
        config: "",
        required: true,
    }];
    let express =
        |id, property, signature, folder, config| Target { id, property, signature, folder, config, required: false };
    if platform.is_64bit() {
        out.push(express(
            "ArchwayIisExpress64App",
            "ARCHWAY_IISEXPRESS64_APPCMD",
            "ArchwayIisExpress64Appcmd",
            r"[ProgramFiles64Folder]IIS Express",
            r#" /apphostconfig:"[ProgramFiles64Folder]IIS Express\AppServer\applicationhost.config""#,
        ));
        out.push(express(
            "ArchwayIisExpress64Tpl",
            "ARCHWAY_IISEXPRESS64_APPCMD",
            "ArchwayIisExpress64Appcmd",
            r"[ProgramFiles64Folder]IIS Express",
            r#" /apphostconfig:"[ProgramFiles64Folder]IIS Express\config\templates\PersonalWebServer\applicationhost.config""#,
        ));
    }
    out.push(express(
        "ArchwayIisExpress32App",
        "ARCHWAY_IISEXPRESS32_APPCMD",
        "ArchwayIisExpress32Appcmd",
        r"[ProgramFilesFolder]IIS Express",
        r#" /apphostconfig:"[ProgramFilesFolder]IIS Express\AppServer\applicationhost.config""#,
    ));
    out.push(express(
        "ArchwayIisExpress32Tpl",
        "ARCHWAY_IISEXPRESS32_APPCMD",
        "ArchwayIisExpress32Appcmd",
        r"[ProgramFilesFolder]IIS Express",
        r#" /apphostconfig:"[ProgramFilesFolder]IIS Express\config\templates\PersonalWebServer\applicationhost.config""#,
    ));
    out
}

/// Rows for AppSearch, Signature, DrLocator, CustomAction and InstallExecuteSequence.
#[derive(Default)]
pub struct Rows {
    pub app_search: Vec<Vec<Value>>,
    pub signature: Vec<Vec<Value>>,
    pub dr_locator: Vec<Vec<Value>>,
    pub custom_action: Vec<Vec<Value>>,
    pub execute_sequence: Vec<(String, String, i32)>,
    /// Properties that must reach the execute sequence (SecureCustomProperties).
    pub secure_properties: Vec<String>,
}

pub fn rows(platform: Platform, module: &IisModule) -> Rows {
    let mut rows = Rows::default();
    let add = format!(r#"install module /name:"{}" /image:"{}""#, module.name, module.image);
    let remove = format!(r#"uninstall module "{}""#, module.name);
    let (mut install_seq, mut uninstall_seq) = (INSTALL_ACTIONS_FROM, UNINSTALL_ACTIONS_FROM);
    for t in targets(platform) {
        if !rows.secure_properties.iter().any(|p| p == t.property) {
            rows.secure_properties.push(t.property.to_string());
            let search = file_search(t.property, t.signature, "appcmd.exe", t.folder);
            rows.app_search.push(search.app_search);
            rows.signature.push(search.signature);
            rows.dr_locator.push(search.dr_locator);
        }
        let exe = NO_IMPERSONATE | DEFERRED | EXE_FROM_PROPERTY;
        let add_type = if t.required { exe } else { exe | IGNORE_EXIT_CODE };
        let undo = exe | ROLLBACK | IGNORE_EXIT_CODE;
        let installing = format!(r#"{} AND NOT REMOVE~="ALL""#, t.property);
        let removing = format!(r#"{} AND REMOVE~="ALL" AND NOT UPGRADINGPRODUCTCODE"#, t.property);
        let with_config = |args: &str| format!("{args}{}", t.config);
        let actions = [
            ("ClearUndo", undo, with_config(&add), format!("{installing} AND (Installed OR {OLDER_FOUND})"), true),
            ("Clear", exe | IGNORE_EXIT_CODE, with_config(&remove), installing.clone(), true),
            ("AddUndo", undo, with_config(&remove), installing.clone(), true),
            ("Add", add_type, with_config(&add), installing, true),
            ("RemoveUndo", undo, with_config(&add), removing.clone(), false),
            ("Remove", exe | IGNORE_EXIT_CODE, with_config(&remove), removing, false),
        ];
        for a in numbered(t.id, actions, (&mut install_seq, &mut uninstall_seq)) {
            rows.custom_action.push(exe_action_row(&a.name, a.kind, t.property, &a.command));
            rows.execute_sequence.push((a.name, a.condition, a.sequence));
        }
    }
    rows
}

/// The rows of an AppSearch that sets `property` to the full path of `file_name` when it is
/// directly in `folder` (docs/msi.md §9): its Signature, DrLocator (depth 0) and AppSearch rows.
pub struct FileSearch {
    pub signature: Vec<Value>,
    pub dr_locator: Vec<Value>,
    pub app_search: Vec<Value>,
}

pub fn file_search(property: &str, signature: &str, file_name: &str, folder: &str) -> FileSearch {
    FileSearch {
        // Signature: the file name, then no version, size, date or language bounds.
        signature: [vec![signature.into(), file_name.into()], vec![Value::Null; 7]].concat(),
        dr_locator: vec![signature.into(), Value::Null, folder.into(), Value::Int(0)],
        app_search: vec![property.into(), signature.into()],
    }
}

/// One custom action of a target, named and placed in InstallExecuteSequence.
pub struct Action {
    pub name: String,
    pub kind: i32,
    pub command: String,
    pub condition: String,
    pub sequence: i32,
}

/// `actions` (name suffix, type, command line, condition, whether it runs at install) of the
/// target `id`, named `<id><suffix>` and numbered on from `next.0` (install) or `next.1`
/// (uninstall), which are left at the next free numbers.
pub fn numbered<const N: usize>(
    id: &str,
    actions: [(&str, i32, String, String, bool); N],
    next: (&mut i32, &mut i32),
) -> Vec<Action> {
    let (install, uninstall) = next;
    let mut out = Vec::new();
    for (suffix, kind, command, condition, at_install) in actions {
        let seq = if at_install { &mut *install } else { &mut *uninstall };
        out.push(Action { name: format!("{id}{suffix}"), kind, command, condition, sequence: *seq });
        *seq += 1;
    }
    out
}

/// The CustomAction row of an EXE action whose program is the path in `property` (type 50 and
/// flags, docs/msi.md §1.6).
pub fn exe_action_row(name: &str, kind: i32, property: &str, command: &str) -> Vec<Value> {
    vec![name.into(), Value::Int(kind), property.into(), command.into(), Value::Null]
}

/// Whether a custom action type runs in the install script (deferred, rollback or commit).
pub fn is_in_script(kind: i32) -> bool {
    kind & DEFERRED != 0
}
