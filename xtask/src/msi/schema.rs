//! The column definitions of every table archway writes (docs/msi.md §1.3, the same IDT types wixl
//! and WiX use), in the fixed order they are created, and which of them a package must have.

use msi::{Category, Column};

/// Tables every archway package has, in creation order (the string pool follows first use, so
/// the order is part of reproducibility, docs/msi.md §5).
pub const TABLES: &[&str] = &[
    "Property",
    "Directory",
    "Feature",
    "Component",
    "FeatureComponents",
    "Media",
    "File",
    "MsiFileHash",
    "Upgrade",
    "LaunchCondition",
    "Signature",
    "DrLocator",
    "CompLocator",
    "AppSearch",
    "CustomAction",
    "InstallExecuteSequence",
    "InstallUISequence",
    "AdminExecuteSequence",
    "AdminUISequence",
    "AdvtExecuteSequence",
];

/// What a package needs to install, upgrade and refuse a downgrade (docs/msi.md §1.3); the lint's
/// `table-missing` rule.
pub const REQUIRED_TABLES: &[&str] = &[
    "Property",
    "Directory",
    "Component",
    "Feature",
    "FeatureComponents",
    "File",
    "Media",
    "Upgrade",
    "LaunchCondition",
    "InstallExecuteSequence",
    "InstallUISequence",
    "AdminExecuteSequence",
    "AdminUISequence",
    "AdvtExecuteSequence",
];

pub const SEQUENCE_TABLES: &[&str] =
    &["InstallExecuteSequence", "InstallUISequence", "AdminExecuteSequence", "AdminUISequence", "AdvtExecuteSequence"];

fn key(name: &str, len: usize) -> Column {
    Column::build(name).primary_key().id_string(len)
}

fn foreign(name: &str, table: &str, len: usize) -> Column {
    Column::build(name).foreign_key(table, 1).id_string(len)
}

fn sequence_columns() -> Vec<Column> {
    vec![
        key("Action", 72),
        Column::build("Condition").nullable().category(Category::Condition).string(255),
        Column::build("Sequence").nullable().range(-4, 32767).int16(),
    ]
}

/// The columns of `table`; panics on a name not in [`TABLES`] (a programming error).
pub fn columns(table: &str) -> Vec<Column> {
    match table {
        "Property" => vec![key("Property", 72), Column::build("Value").localizable().text_string(0)],
        "Directory" => vec![
            key("Directory", 72),
            Column::build("Directory_Parent").nullable().foreign_key("Directory", 1).id_string(72),
            Column::build("DefaultDir").localizable().category(Category::DefaultDir).string(255),
        ],
        "Feature" => vec![
            Column::build("Feature").primary_key().id_string(38),
            Column::build("Feature_Parent").nullable().foreign_key("Feature", 1).id_string(38),
            Column::build("Title").nullable().localizable().text_string(64),
            Column::build("Description").nullable().localizable().text_string(255),
            Column::build("Display").nullable().range(0, 32767).int16(),
            Column::build("Level").range(0, 32767).int16(),
            Column::build("Directory_").nullable().foreign_key("Directory", 1).category(Category::UpperCase).string(72),
            Column::build("Attributes").range(0, 63).int16(),
        ],
        "Component" => vec![
            key("Component", 72),
            Column::build("ComponentId").nullable().category(Category::Guid).string(38),
            foreign("Directory_", "Directory", 72),
            Column::build("Attributes").int16(),
            Column::build("Condition").nullable().category(Category::Condition).string(255),
            Column::build("KeyPath").nullable().id_string(72),
        ],
        "FeatureComponents" => vec![
            Column::build("Feature_").primary_key().foreign_key("Feature", 1).id_string(38),
            Column::build("Component_").primary_key().foreign_key("Component", 1).id_string(72),
        ],
        "Media" => vec![
            Column::build("DiskId").primary_key().range(1, 32767).int16(),
            Column::build("LastSequence").range(0, i32::MAX).int32(),
            Column::build("DiskPrompt").nullable().localizable().text_string(64),
            Column::build("Cabinet").nullable().category(Category::Cabinet).string(255),
            Column::build("VolumeLabel").nullable().text_string(32),
            Column::build("Source").nullable().category(Category::Property).string(72),
        ],
        "File" => vec![
            key("File", 72),
            foreign("Component_", "Component", 72),
            Column::build("FileName").localizable().category(Category::Filename).string(255),
            Column::build("FileSize").range(0, i32::MAX).int32(),
            Column::build("Version").nullable().category(Category::Version).string(72),
            Column::build("Language").nullable().category(Category::Language).string(20),
            Column::build("Attributes").nullable().range(0, 32767).int16(),
            Column::build("Sequence").range(1, i32::MAX).int32(),
        ],
        "MsiFileHash" => vec![
            Column::build("File_").primary_key().foreign_key("File", 1).id_string(72),
            Column::build("Options").range(0, 0).int16(),
            Column::build("HashPart1").int32(),
            Column::build("HashPart2").int32(),
            Column::build("HashPart3").int32(),
            Column::build("HashPart4").int32(),
        ],
        "Upgrade" => vec![
            Column::build("UpgradeCode").primary_key().category(Category::Guid).string(38),
            Column::build("VersionMin").primary_key().nullable().text_string(20),
            Column::build("VersionMax").primary_key().nullable().text_string(20),
            Column::build("Language").primary_key().nullable().category(Category::Language).string(255),
            Column::build("Attributes").primary_key().range(0, 2047).int32(),
            Column::build("Remove").nullable().formatted_string(255),
            Column::build("ActionProperty").category(Category::UpperCase).string(72),
        ],
        "LaunchCondition" => vec![
            Column::build("Condition").primary_key().category(Category::Condition).string(255),
            Column::build("Description").localizable().formatted_string(255),
        ],
        "Signature" => vec![
            key("Signature", 72),
            Column::build("FileName").category(Category::Filename).string(255),
            Column::build("MinVersion").nullable().text_string(20),
            Column::build("MaxVersion").nullable().text_string(20),
            Column::build("MinSize").nullable().range(0, i32::MAX).int32(),
            Column::build("MaxSize").nullable().range(0, i32::MAX).int32(),
            Column::build("MinDate").nullable().range(0, i32::MAX).int32(),
            Column::build("MaxDate").nullable().range(0, i32::MAX).int32(),
            Column::build("Languages").nullable().category(Category::Language).string(255),
        ],
        "DrLocator" => vec![
            key("Signature_", 72),
            Column::build("Parent").primary_key().nullable().id_string(72),
            Column::build("Path").primary_key().nullable().category(Category::AnyPath).string(255),
            Column::build("Depth").nullable().range(0, 32767).int16(),
        ],
        "CompLocator" => vec![
            key("Signature_", 72),
            Column::build("ComponentId").category(Category::Guid).string(38),
            Column::build("Type").nullable().range(0, 1).int16(),
        ],
        "AppSearch" => vec![key("Property", 72), Column::build("Signature_").primary_key().id_string(72)],
        "CustomAction" => vec![
            key("Action", 72),
            Column::build("Type").range(1, 32767).int16(),
            Column::build("Source").nullable().category(Category::CustomSource).string(72),
            Column::build("Target").nullable().formatted_string(255),
            Column::build("ExtendedType").nullable().int32(),
        ],
        t if SEQUENCE_TABLES.contains(&t) => sequence_columns(),
        other => panic!("no schema for table {other}"),
    }
}
