//! One package as the lint and the simulator see it ([`PackageView`]): every File row resolved
//! to its install path (docs/msi.md §2.8 step 1) with its component, its table version, language and
//! hash, and the facts of the payload it really carries. Built from an MSI that was read back,
//! or (in tests) straight from a planned package, to lint in memory.

use uuid::Uuid;

use super::{
    database::Database,
    ids, md5,
    model::{InstallDir, PeInfo, Platform},
    read::{ReadPackage, SummaryFacts},
};

/// What a cabinet member really is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payload {
    pub size: u64,
    pub md5: [u8; 16],
    /// `Ok(None)`: not a PE image; `Err`: a PE image that could not be read.
    pub pe: Result<Option<PeInfo>, String>,
}

impl Payload {
    pub fn of(bytes: &[u8], pe: Result<Option<PeInfo>, String>) -> Payload {
        Payload { size: bytes.len() as u64, md5: md5::compute(bytes), pe }
    }

    pub fn pe(&self) -> Option<&PeInfo> {
        self.pe.as_ref().ok().and_then(Option::as_ref)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ViewFile {
    /// `Program Files\Archway\archway.dll` (names as on 64-bit Windows).
    pub path: String,
    /// The folder part of `path`, for "beside it" checks.
    pub folder: String,
    /// Long file name.
    pub name: String,
    /// The standard folder at the root of the path, when it is one of archway's two.
    pub install_dir: Option<InstallDir>,
    /// The Directory id at the root of the path (`ProgramFiles64Folder`, `System64Folder`, …).
    pub root: String,
    /// Component.Condition (`None`: always installed).
    pub condition: Option<String>,
    pub file_key: String,
    pub component: String,
    /// `None` for an unmanaged component (NULL ComponentId).
    pub component_guid: Option<Uuid>,
    pub component_attributes: i32,
    pub is_key_path: bool,
    pub features: Vec<String>,
    /// File.Version as written (`None` = unversioned).
    pub version: Option<String>,
    pub language: Option<String>,
    pub hash_row: Option<[i32; 4]>,
    /// File.FileSize.
    pub table_size: Option<i32>,
    /// `None` when the cabinet has no member for this File key.
    pub payload: Option<Payload>,
}

impl ViewFile {
    /// In an IIS or IIS Express configuration schema folder (`…\config\schema`).
    pub fn is_schema(&self) -> bool {
        let folder = self.folder.to_lowercase();
        folder.ends_with("\\inetsrv\\config\\schema") || folder.ends_with("\\iis express\\config\\schema")
    }

    /// The path as compared: case-insensitive (docs/msi.md §2.8 step 1).
    pub fn path_key(&self) -> String {
        self.path.to_lowercase()
    }
}

#[derive(Clone, Debug)]
pub struct PackageView {
    pub source: String,
    pub summary: SummaryFacts,
    pub database: Database,
    pub files: Vec<ViewFile>,
}

impl PackageView {
    pub fn from_read(read: &ReadPackage) -> PackageView {
        let payload = |key: &str| {
            read.payloads
                .get(key)
                .map(|bytes| Payload::of(bytes, super::pe::pe_info(bytes).map_err(|e| format!("{e:#}"))))
        };
        PackageView::build(&read.source, read.summary.clone(), read.database.clone(), payload)
    }

    #[cfg(test)]
    /// The view of what [`super::to_bytes`] would write for `package`, taking PE facts from the
    /// model (which tests may set by hand) rather than from the bytes.
    pub fn from_plan(source: &str, plan: &super::plan::Plan, package: &super::model::Package) -> PackageView {
        let summary = SummaryFacts {
            template: plan.summary.template.clone(),
            package_code: Some(plan.summary.package_code),
            page_count: super::plan::PAGE_COUNT,
            word_count: super::plan::WORD_COUNT,
            codepage: 1252,
        };
        PackageView::from_tables(source, summary, plan.database.clone(), package)
    }

    #[cfg(test)]
    /// The view of `database` (e.g. planned tables with a seeded fault) whose cabinet would hold
    /// `package`'s files, keyed as the writer keys them.
    pub fn from_tables(
        source: &str,
        summary: SummaryFacts,
        database: Database,
        package: &super::model::Package,
    ) -> PackageView {
        let mut by_key: std::collections::BTreeMap<String, Payload> = package
            .files
            .iter()
            .map(|f| (ids::file_key(f.dir, &f.name), Payload::of(&f.bytes, Ok(f.pe.clone()))))
            .collect();
        if let Some(schema) = &package.iis_schema {
            for &dir in super::model::SchemaDir::of(package.platform) {
                for file in &schema.files {
                    by_key
                        .insert(super::iis_schema::component_key(dir, &file.name), Payload::of(&file.bytes, Ok(None)));
                }
            }
        }
        let payload = |key: &str| by_key.get(key).cloned();
        PackageView::build(source, summary, database, payload)
    }

    fn build(
        source: &str,
        summary: SummaryFacts,
        database: Database,
        payload: impl Fn(&str) -> Option<Payload>,
    ) -> PackageView {
        let mut files = Vec::new();
        for file in database.rows("File") {
            let key = file.string("File");
            let component_key = file.string("Component_");
            let component = database.find("Component", "Component", &component_key);
            let directory = component.map(|c| c.string("Directory_")).unwrap_or_default();
            let (root, folders) = resolve_directory(&database, &directory);
            let name = ids::long_name(file.str("FileName").unwrap_or_default()).to_string();
            let folder = std::iter::once(root_display(&root)).chain(folders).collect::<Vec<_>>().join("\\");
            let hash = database
                .find("MsiFileHash", "File_", &key)
                .map(|h| ["HashPart1", "HashPart2", "HashPart3", "HashPart4"].map(|c| h.int(c).unwrap_or(0)));
            files.push(ViewFile {
                path: format!("{folder}\\{name}"),
                folder,
                name,
                install_dir: match root.as_str() {
                    "ProgramFiles64Folder" => Some(InstallDir::ProgramFiles64),
                    "ProgramFilesFolder" => Some(InstallDir::ProgramFilesX86),
                    _ => None,
                },
                root: root.clone(),
                condition: component.and_then(|c| c.str("Condition")).map(str::to_string),
                component_guid: component.and_then(|c| c.str("ComponentId")).and_then(ids::parse_guid),
                component_attributes: component.and_then(|c| c.int("Attributes")).unwrap_or(0),
                is_key_path: component.and_then(|c| c.str("KeyPath")) == Some(key.as_str()),
                features: database
                    .rows("FeatureComponents")
                    .filter(|r| r.str("Component_") == Some(component_key.as_str()))
                    .map(|r| r.string("Feature_"))
                    .collect(),
                version: file.str("Version").map(str::to_string),
                language: file.str("Language").map(str::to_string),
                hash_row: hash,
                table_size: file.int("FileSize"),
                payload: payload(&key),
                file_key: key,
                component: component_key,
            });
        }
        PackageView { source: source.to_string(), summary, database, files }
    }

    pub fn platform(&self) -> Option<Platform> {
        Platform::from_template(self.summary.template.split(';').next().unwrap_or_default())
    }

    pub fn property(&self, name: &str) -> Option<&str> {
        self.database.property(name)
    }

    pub fn upgrade_code(&self) -> Option<Uuid> {
        self.property("UpgradeCode").and_then(ids::parse_guid)
    }

    pub fn product_code(&self) -> Option<Uuid> {
        self.property("ProductCode").and_then(ids::parse_guid)
    }

    pub fn product_version(&self) -> Option<[u16; 4]> {
        self.property("ProductVersion").and_then(parse_version)
    }

    /// The sequence number of `action` in `table`.
    pub fn sequence(&self, table: &str, action: &str) -> Option<i32> {
        self.database.find(table, "Action", action).and_then(|r| r.int("Sequence"))
    }
}

/// When RemoveExistingProducts removes the old product: before any file is installed (early:
/// remove, then install) or after (late: install, then remove), docs/msi.md §2.3, §2.8 step 4.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schedule {
    Early,
    Late,
}

impl PackageView {
    /// `None` when the package has no RemoveExistingProducts.
    pub fn removal_schedule(&self) -> Option<Schedule> {
        let rep = self.sequence("InstallExecuteSequence", "RemoveExistingProducts")?;
        let files = self.sequence("InstallExecuteSequence", "InstallFiles").unwrap_or(4000);
        Some(if rep < files { Schedule::Early } else { Schedule::Late })
    }
}

/// `a.b.c.d` (missing fields are 0); `None` for anything else, e.g. a companion-file key.
pub fn parse_version(text: &str) -> Option<[u16; 4]> {
    let parts: Vec<&str> = text.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut out = [0u16; 4];
    for (slot, part) in out.iter_mut().zip(parts) {
        *slot = part.parse().ok()?;
    }
    Some(out)
}

pub fn dotted(version: [u16; 4]) -> String {
    version.map(|p| p.to_string()).join(".")
}

/// Walks Directory parents up to a standard folder (or the root): (that folder's id, the long
/// target names below it, outermost first). Cycles and dangling parents stop the walk.
fn resolve_directory(db: &Database, directory: &str) -> (String, Vec<String>) {
    let mut names = Vec::new();
    let mut current = directory.to_string();
    for _ in 0..64 {
        let Some(row) = db.find("Directory", "Directory", &current) else { break };
        let Some(parent) = row.str("Directory_Parent").filter(|p| *p != current) else { break };
        if is_standard_folder(&current) {
            break;
        }
        let target = row.str("DefaultDir").unwrap_or(".").split(':').next().unwrap_or(".");
        let long = ids::long_name(target);
        if long != "." {
            names.push(long.to_string());
        }
        current = parent.to_string();
    }
    names.reverse();
    (current, names)
}

fn is_standard_folder(id: &str) -> bool {
    matches!(
        id,
        "ProgramFiles64Folder"
            | "ProgramFilesFolder"
            | "System64Folder"
            | "SystemFolder"
            | "WindowsFolder"
            | "CommonFiles64Folder"
            | "CommonFilesFolder"
    )
}

/// How a path's root is shown (64-bit Windows, docs/msi.md §2.8 step 1).
fn root_display(id: &str) -> String {
    match id {
        "ProgramFiles64Folder" => "Program Files".into(),
        "ProgramFilesFolder" => "Program Files (x86)".into(),
        "System64Folder" => r"Windows\System32".into(),
        "SystemFolder" => r"Windows\SysWOW64".into(),
        other => format!("[{other}]"),
    }
}
