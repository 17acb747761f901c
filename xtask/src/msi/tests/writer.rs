//! The writer: identifiers, tables and sequences, the summary, the read-back, reproducibility.

use super::fixture::{self, package};
use crate::msi::{InstallDir, PackageView, Platform, Schedule, ids, lint, plan, read_msi_bytes, sequences, to_bytes};

fn written(platform: Platform, version: [u16; 4]) -> PackageView {
    let pkg = package(platform, version);
    let bytes = to_bytes(&plan(&pkg).unwrap()).unwrap();
    PackageView::from_read(&read_msi_bytes("test.msi", bytes).unwrap())
}

#[test]
fn every_platform_reads_back_and_lints_clean() {
    for platform in Platform::ALL {
        let view = written(platform, [1, 2, 3, 0]);
        let findings = lint(&view);
        assert!(findings.is_empty(), "{platform}: {findings:#?}");
        assert_eq!(view.platform(), Some(platform));
        assert_eq!(view.summary.template, format!("{};1033", platform.template()));
        assert_eq!((view.summary.page_count, view.summary.word_count, view.summary.codepage), (500, 2, 1252));
        assert_eq!(view.removal_schedule(), Some(Schedule::Early));
    }
}

#[test]
fn the_read_back_view_equals_the_planned_one() {
    let pkg = package(Platform::Arm64, [1, 2, 3, 4]);
    let planned = plan(&pkg).unwrap();
    let from_plan = PackageView::from_plan("plan", &planned, &pkg);
    let from_file = PackageView::from_read(&read_msi_bytes("file", to_bytes(&planned).unwrap()).unwrap());
    assert_eq!(from_plan.files, from_file.files);
    // The crate stores rows sorted by key; compare the tables as sets of rows.
    let sorted = |db: &crate::msi::Database| {
        let mut db = db.clone();
        db.tables.values_mut().for_each(|t| t.rows.sort());
        db
    };
    assert!(
        sorted(&from_plan.database) == sorted(&from_file.database),
        "the tables read back differ from the planned ones"
    );
    assert_eq!(from_plan.summary, from_file.summary);
}

#[test]
fn tables_hold_the_derived_identifiers_and_versions() {
    let pkg = package(Platform::X64, [1, 2, 3, 4]);
    let view = PackageView::from_plan("x64", &plan(&pkg).unwrap(), &pkg);
    let shim = view.files.iter().find(|f| f.path == r"Program Files\Archway\archway.dll").unwrap();
    assert_eq!(
        shim.component_guid,
        Some(ids::component_guid(pkg.upgrade_code, InstallDir::ProgramFiles64, "Archway", "archway.dll"))
    );
    assert_eq!(shim.component_attributes, 256);
    assert_eq!(
        (shim.version.as_deref(), shim.language.as_deref(), shim.hash_row),
        (Some("1.2.3.4"), Some("1033"), None)
    );
    let x86 = view.files.iter().find(|f| f.path == r"Program Files (x86)\Archway\archway.dll").unwrap();
    assert_eq!(x86.component_attributes, 0);
    assert_ne!(x86.component_guid, shim.component_guid);
    let notice = view.files.iter().find(|f| f.name == "NOTICE.txt").unwrap();
    assert!(notice.version.is_none() && notice.hash_row.is_some(), "unversioned files get an MsiFileHash row");
    assert_eq!(view.property("ProductVersion"), Some("1.2.3.4"));
    assert_eq!(view.property("ALLUSERS"), Some("1"));
    let secure = view.property("SecureCustomProperties").unwrap();
    for p in [
        "ARCHWAY_OLDER_FOUND",
        "ARCHWAY_NEWER_FOUND",
        "ARCHWAY_APPCMD",
        "ARCHWAY_IISEXPRESS64_APPCMD",
        "ARCHWAY_IISEXPRESS32_APPCMD",
    ] {
        assert!(secure.split(';').any(|s| s == p), "{p} in {secure}");
    }
}

#[test]
fn sequences_schedule_removal_early_and_iis_actions_inside_the_script() {
    let pkg = package(Platform::X64, [1, 0, 0, 0]);
    let view = PackageView::from_plan("x64", &plan(&pkg).unwrap(), &pkg);
    let seq = |a: &str| view.sequence("InstallExecuteSequence", a).unwrap_or_else(|| panic!("{a} is sequenced"));
    assert_eq!(seq("RemoveExistingProducts"), sequences::REMOVE_EXISTING_PRODUCTS);
    assert!(
        seq("InstallInitialize") < seq("RemoveExistingProducts")
            && seq("RemoveExistingProducts") < seq("ProcessComponents")
    );
    let ca = |a: &str| view.database.find("CustomAction", "Action", a).unwrap();
    let cond = |a: &str| view.database.find("InstallExecuteSequence", "Action", a).unwrap().string("Condition");
    assert_eq!(ca("ArchwayIisAdd").int("Type"), Some(3122), "type 50, deferred, no-impersonate, exit code checked");
    assert_eq!(ca("ArchwayIisAdd").str("Source"), Some("ARCHWAY_APPCMD"));
    assert_eq!(
        ca("ArchwayIisAdd").string("Target"),
        r#"install module /name:"Archway" /image:"%ProgramFiles%\Archway\archway.dll""#
    );
    assert_eq!(ca("ArchwayIisRemove").int("Type"), Some(3186));
    assert_eq!(ca("ArchwayIisAddUndo").int("Type"), Some(3442), "rollback twin");
    assert_eq!(cond("ArchwayIisAdd"), r#"ARCHWAY_APPCMD AND NOT REMOVE~="ALL""#);
    assert_eq!(cond("ArchwayIisRemove"), r#"ARCHWAY_APPCMD AND REMOVE~="ALL" AND NOT UPGRADINGPRODUCTCODE"#);
    assert!(seq("InstallFiles") < seq("ArchwayIisAdd") && seq("ArchwayIisAdd") < seq("InstallFinalize"));
    assert!(seq("ArchwayIisAddUndo") < seq("ArchwayIisAdd"), "a rollback action precedes what it undoes");
    assert!(seq("ArchwayIisRemove") < seq("RemoveFiles"));
    assert!(ca("ArchwayIisExpress32TplAdd").string("Target").contains(r"/apphostconfig:"));
    let search = view.database.find("DrLocator", "Signature_", "ArchwayAppcmd").unwrap();
    assert_eq!(search.str("Path"), Some(r"[System64Folder]inetsrv"));
    for table in ["InstallUISequence", "AdminExecuteSequence", "AdminUISequence", "AdvtExecuteSequence"] {
        assert!(view.database.rows(table).count() >= 4, "{table}");
    }
}

#[test]
fn writing_twice_gives_the_same_bytes_and_any_change_a_new_package_code() {
    let pkg = package(Platform::Arm64, [1, 2, 3, 4]);
    let first = to_bytes(&plan(&pkg).unwrap()).unwrap();
    assert_eq!(first, to_bytes(&plan(&pkg).unwrap()).unwrap());
    let mut later = pkg.clone();
    later.source_date_epoch += 3600;
    assert_ne!(first, to_bytes(&plan(&later).unwrap()).unwrap(), "the epoch dates the summary and the cabinet");
    let mut rebuilt = pkg.clone();
    fixture::replace(
        &mut rebuilt,
        InstallDir::ProgramFilesX86,
        "archway.dll",
        fixture::pe(&fixture::Synth {
            machine: fixture::I386,
            version: Some([1, 2, 3, 4]),
            salt: 1,
            ..Default::default()
        }),
    );
    assert_ne!(plan(&pkg).unwrap().summary.package_code, plan(&rebuilt).unwrap().summary.package_code);
    assert_eq!(
        crate::msi::read_msi_bytes("a", first).unwrap().summary.package_code,
        Some(plan(&pkg).unwrap().summary.package_code)
    );
}

#[test]
fn the_same_path_keeps_its_component_and_file_key_in_every_version() {
    let (old, new) = (written(Platform::Arm64, [1, 0, 0, 0]), written(Platform::Arm64, [1, 1, 0, 0]));
    for file in &new.files {
        let before = old.files.iter().find(|f| f.path == file.path).unwrap();
        assert_eq!((before.component_guid, &before.file_key), (file.component_guid, &file.file_key), "{}", file.path);
    }
    assert_ne!(old.product_code(), new.product_code());
}

#[test]
fn bad_models_are_refused_before_writing() {
    let mut pkg = package(Platform::X64, [256, 0, 0, 0]);
    assert!(plan(&pkg).err().unwrap().to_string().contains("at most 255"));
    pkg.version = [1, 0, 0, 0];
    let dup = pkg.files[0].clone();
    pkg.files.push(dup);
    assert!(format!("{:#}", plan(&pkg).err().unwrap()).contains("listed twice"));
    let mut x86 = package(Platform::X86, [1, 0, 0, 0]);
    x86.files.push(fixture::file(InstallDir::ProgramFiles64, "a.dll", vec![1]));
    assert!(plan(&x86).is_err());
}
