//! From a [`Package`] to everything an MSI will hold, before any byte is written: the table
//! rows, the cabinet and the summary information ([`Plan`]). Keeping this apart from the
//! serializer lets tests lint exactly what would be written, and seed faults into it.

use std::collections::BTreeSet;

use anyhow::Result;
use msi::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{
    cabinet,
    database::{Database, Table},
    ids, iis, iis_schema,
    model::{InstallDir, Package, PackageFile},
    schema, sequences,
};

/// The embedded cabinet's stream name (`Media.Cabinet = "#cab1.cab"`).
pub const CABINET_STREAM: &str = "cab1.cab";
pub const FEATURE: &str = "Complete";
/// English (United States): ProductLanguage and the Template's language.
pub const LANGUAGE: u16 = 1033;
/// Minimum installer version × 100 for every platform (docs/msi.md §1.7; WiX v4+ default).
pub const PAGE_COUNT: i32 = 500;
/// Word Count: long file names, compressed (docs/msi.md §1.7).
pub const WORD_COUNT: i32 = 2;
pub const NEWER_FOUND: &str = "ARCHWAY_NEWER_FOUND";

/// File.Attributes: Vital.
pub const FILE_VITAL: i32 = 512;
/// Component.Attributes: 64-bit component.
pub const COMPONENT_64BIT: i32 = 256;

pub struct Summary {
    /// `x64;1033`.
    pub template: String,
    pub package_code: Uuid,
    pub subject: String,
    pub author: String,
    pub comments: String,
    pub source_date_epoch: i64,
}

pub struct Plan {
    pub database: Database,
    pub cabinet: Vec<u8>,
    pub summary: Summary,
}

/// The Directory id of archway's folder under each Program Files folder (mixed case: private,
/// so the path cannot be moved away from `%ProgramFiles%\<folder>` on the command line).
pub fn folder_directory(dir: InstallDir) -> &'static str {
    match dir {
        InstallDir::ProgramFiles64 => "ArchwayFolder64",
        InstallDir::ProgramFilesX86 => "ArchwayFolder32",
    }
}

fn table(name: &str) -> Table {
    Table { columns: schema::columns(name).iter().map(|c| c.name().to_string()).collect(), rows: Vec::new() }
}

fn s(text: impl Into<String>) -> Value {
    Value::Str(text.into())
}

/// File.FileSize: the table holds a signed 32-bit count, so a file of 2 GiB or more is refused.
pub fn file_size(name: &str, bytes: &[u8]) -> Result<i32> {
    i32::try_from(bytes.len()).map_err(|_| anyhow::anyhow!("{name} is larger than 2 GiB"))
}

/// MsiFileHash parts: the MD5 of the content as four little-endian i32 (docs/msi.md §1.3).
pub fn md5_parts(bytes: &[u8]) -> [i32; 4] {
    let digest = super::md5::compute(bytes);
    std::array::from_fn(|i| i32::from_le_bytes(digest[4 * i..4 * i + 4].try_into().unwrap()))
}

pub fn plan(package: &Package) -> Result<Plan> {
    package.validate()?;
    let mut db = Database::default();
    for name in schema::TABLES {
        db.tables.insert(name.to_string(), table(name));
    }
    let push =
        |db: &mut Database, name: &str, row: Vec<Value>| db.tables.get_mut(name).expect("planned table").rows.push(row);

    let mut files: Vec<&PackageFile> = package.files.iter().collect();
    files.sort_by_key(|f| ids::file_key(f.dir, &f.name));

    // Directories: only the Program Files folders that hold files.
    push(&mut db, "Directory", vec![s("TARGETDIR"), Value::Null, s("SourceDir")]);
    let dirs: BTreeSet<InstallDir> = files.iter().map(|f| f.dir).collect();
    for dir in &dirs {
        push(&mut db, "Directory", vec![s(dir.standard_folder()), s("TARGETDIR"), s(".")]);
        let folder = ids::short_long(&package.folder, &mut BTreeSet::new())?;
        push(&mut db, "Directory", vec![s(folder_directory(*dir)), s(dir.standard_folder()), s(folder)]);
    }
    push(
        &mut db,
        "Feature",
        vec![
            s(FEATURE),
            Value::Null,
            s(&package.product_name),
            s(format!("{} for every IIS worker bitness", package.product_name)),
            Value::Int(1),
            Value::Int(1),
            Value::Null,
            Value::Int(8),
        ],
    );

    let mut short_names: std::collections::BTreeMap<InstallDir, BTreeSet<String>> = Default::default();
    let mut members = Vec::new();
    for (index, file) in files.iter().enumerate() {
        let key = ids::file_key(file.dir, &file.name);
        let guid = ids::component_guid(package.upgrade_code, file.dir, &package.folder, &file.name);
        let attributes = if file.dir.is_64bit() { COMPONENT_64BIT } else { 0 };
        push(
            &mut db,
            "Component",
            vec![
                s(&key),
                s(ids::braced(guid)),
                s(folder_directory(file.dir)),
                Value::Int(attributes),
                Value::Null,
                s(&key),
            ],
        );
        push(&mut db, "FeatureComponents", vec![s(FEATURE), s(&key)]);
        let version = file.pe.as_ref().and_then(|pe| pe.version);
        let languages = file
            .pe
            .as_ref()
            .map(|pe| pe.languages.iter().map(u16::to_string).collect::<Vec<_>>().join(","))
            .unwrap_or_default();
        let file_name = ids::short_long(&file.name, short_names.entry(file.dir).or_default())?;
        let size = file_size(&file.name, &file.bytes)?;
        push(
            &mut db,
            "File",
            vec![
                s(&key),
                s(&key),
                s(file_name),
                Value::Int(size),
                version.map_or(Value::Null, |v| s(v.map(|p| p.to_string()).join("."))),
                if version.is_some() && !languages.is_empty() { s(languages) } else { Value::Null },
                Value::Int(FILE_VITAL),
                Value::Int(index as i32 + 1),
            ],
        );
        if version.is_none() {
            let [a, b, c, d] = md5_parts(&file.bytes);
            push(
                &mut db,
                "MsiFileHash",
                vec![s(&key), Value::Int(0), Value::Int(a), Value::Int(b), Value::Int(c), Value::Int(d)],
            );
        }
        members.push((key, file.bytes.as_slice()));
    }
    // The IIS schema files follow in the cabinet (docs/msi.md §1.3: File.Sequence order).
    let mut schema_members = Vec::new();
    let schema_secure = iis_schema::rows(&mut db, package, files.len() as i32 + 1, &mut schema_members)?;
    members.extend(schema_members.iter().map(|(key, bytes)| (key.clone(), bytes.as_slice())));
    push(
        &mut db,
        "Media",
        vec![
            Value::Int(1),
            Value::Int(members.len() as i32),
            Value::Null,
            s(format!("#{CABINET_STREAM}")),
            Value::Null,
            Value::Null,
        ],
    );

    let mut secure = upgrade_rows(&mut db, package);
    if let Some(module) = &package.iis_module {
        let iis = iis::rows(package.platform, module);
        db.tables.get_mut("AppSearch").unwrap().rows.extend(iis.app_search);
        db.tables.get_mut("Signature").unwrap().rows.extend(iis.signature);
        db.tables.get_mut("DrLocator").unwrap().rows.extend(iis.dr_locator);
        db.tables.get_mut("CustomAction").unwrap().rows.extend(iis.custom_action);
        for (action, condition, seq) in iis.execute_sequence {
            push(&mut db, "InstallExecuteSequence", vec![s(action), s(condition), Value::Int(seq)]);
        }
        secure.extend(iis.secure_properties);
    }
    secure.extend(schema_secure);
    for table in schema::SEQUENCE_TABLES {
        for (action, condition, seq) in sequences::standard(table) {
            push(&mut db, table, vec![s(action), condition.map_or(Value::Null, s), Value::Int(seq)]);
        }
    }

    let product_code = ids::product_code(package.upgrade_code, package.platform, package.version);
    for (name, value) in [
        ("ProductCode", ids::braced(product_code)),
        ("ProductVersion", package.version_string()),
        ("UpgradeCode", ids::braced(package.upgrade_code)),
        ("ProductLanguage", LANGUAGE.to_string()),
        ("ProductName", package.product_name.clone()),
        ("Manufacturer", package.manufacturer.clone()),
        ("ALLUSERS", "1".into()),
        ("ARPNOMODIFY", "1".into()),
        ("SecureCustomProperties", secure.join(";")),
    ] {
        push(&mut db, "Property", vec![s(name), s(value)]);
    }

    let cabinet = cabinet::build(&members, package.source_date_epoch)?;
    let template = format!("{};{LANGUAGE}", package.platform.template());
    let package_code = ids::package_code(package.upgrade_code, &content_digest(&db, &cabinet, &template));
    let summary = Summary {
        template,
        package_code,
        subject: package.product_name.clone(),
        author: package.manufacturer.clone(),
        comments: format!(
            "{} {} for {} (IIS module)",
            package.product_name,
            package.version_string(),
            package.platform
        ),
        source_date_epoch: package.source_date_epoch,
    };
    Ok(Plan { database: db, cabinet, summary })
}

/// Upgrade and LaunchCondition rows: remove older versions (MigrateFeatures), detect newer ones
/// and refuse to downgrade, refuse while another platform's archway is installed. Returns the
/// rows' ActionProperties (for SecureCustomProperties, docs/msi.md §1.5).
fn upgrade_rows(db: &mut Database, package: &Package) -> Vec<String> {
    let version = package.version_string();
    let code = ids::braced(package.upgrade_code);
    let mut upgrade = vec![
        vec![s(&code), Value::Null, s(&version), Value::Null, Value::Int(0x001), Value::Null, s(iis::OLDER_FOUND)],
        vec![s(&code), s(&version), Value::Null, Value::Null, Value::Int(0x002), Value::Null, s(NEWER_FOUND)],
    ];
    let mut launch = vec![vec![
        s(format!("Installed OR NOT {NEWER_FOUND}")),
        s(
            "A newer version of [ProductName] is already installed. Uninstall it first to install version [ProductVersion]; archway does not downgrade.",
        ),
    ]];
    for (i, sibling) in package.sibling_upgrade_codes.iter().enumerate() {
        let property = format!("ARCHWAY_OTHER_PLATFORM_{}", i + 1);
        upgrade.push(vec![
            s(ids::braced(*sibling)),
            s("0.0.0"),
            Value::Null,
            Value::Null,
            Value::Int(0x002 | 0x100),
            Value::Null,
            s(&property),
        ]);
        launch.push(vec![
            s(format!("Installed OR NOT {property}")),
            s(format!(
                "[ProductName] for another Windows platform is installed. Uninstall it before installing the {} package.",
                package.platform
            )),
        ]);
    }
    if !package.platform.is_64bit() {
        launch.push(vec![
            s("Installed OR NOT VersionNT64"),
            s("This is [ProductName]'s package for 32-bit Windows. On 64-bit Windows install the x64 or arm64 package; it installs the x86 module too."),
        ]);
    }
    let properties = upgrade.iter().map(|r| r[6].as_str().unwrap().to_string()).collect();
    db.tables.get_mut("Upgrade").unwrap().rows.extend(upgrade);
    db.tables.get_mut("LaunchCondition").unwrap().rows.extend(launch);
    properties
}

/// SHA-256 over every table row, the cabinet and the template: what the package code stands for.
fn content_digest(db: &Database, cabinet: &[u8], template: &str) -> Vec<u8> {
    let mut hash = Sha256::new();
    for (name, table) in &db.tables {
        hash.update(format!("table {name} {}\n", table.rows.len()));
        for row in &table.rows {
            for value in row {
                match value {
                    Value::Null => hash.update(b"N"),
                    Value::Int(i) => hash.update(format!("I{i};")),
                    Value::Str(text) => hash.update(format!("S{}:{text}", text.len())),
                    Value::Binary => hash.update(b"B"),
                }
            }
        }
    }
    hash.update(cabinet);
    hash.update(template);
    hash.finalize().to_vec()
}
