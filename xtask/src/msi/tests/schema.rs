//! The IIS schema files in the packages: where each copy goes and when, the shared
//! `httpplatform_schema.xml`, and the lint's schema rules with seeded faults.

use msi::Value;

use super::{
    fixture::package,
    lint::{caught, view, view_with},
};
use crate::msi::finding::Rule;
use crate::msi::{Platform, Severity, compare, lint};

const HPH_IIS: &str = r"Windows\System32\inetsrv\config\schema\httpplatform_schema.xml";

#[test]
fn every_platform_package_is_clean_and_holds_each_schema_copy() {
    for platform in Platform::ALL {
        let v = view(&package(platform, [1, 0, 0, 0]));
        assert!(lint(&v).is_empty(), "{platform}: {:#?}", lint(&v));
        let schema: Vec<&str> = v.files.iter().filter(|f| f.is_schema()).map(|f| f.path.as_str()).collect();
        let expected: &[&str] = match platform {
            Platform::X86 => &[r"Windows\SysWOW64\inetsrv", r"Program Files (x86)\IIS Express"],
            _ => &[r"Windows\System32\inetsrv", r"Program Files\IIS Express", r"Program Files (x86)\IIS Express"],
        };
        assert_eq!(schema.len(), 2 * expected.len(), "{platform}: {schema:#?}");
        for folder in expected {
            for name in ["archway_schema.xml", "httpplatform_schema.xml"] {
                let path = format!(r"{folder}\config\schema\{name}");
                assert!(schema.contains(&path.as_str()), "{platform}: no {path} in {schema:#?}");
            }
        }
    }
}

const HPH_COMPONENT: &str = "schema_iis_httpplatform_schema.xml";

fn scenario_failures(new: &crate::msi::PackageView, old: Option<&crate::msi::PackageView>) -> Vec<(String, String)> {
    let (outcomes, findings) = crate::msi::schema_scenarios(new, old);
    assert_eq!(findings.len(), outcomes.iter().filter(|o| o.failure.is_some()).count());
    assert!(
        findings.iter().all(|f| f.rule == Rule::SchemaScenario && f.path.as_deref() == Some(HPH_IIS)),
        "{findings:#?}"
    );
    outcomes.into_iter().filter_map(|o| Some((o.name.to_string(), o.failure?))).collect()
}

#[test]
fn the_scenarios_with_httpplatformhandler_all_hold() {
    for platform in Platform::ALL {
        let (old, new) = (view(&package(platform, [1, 0, 0, 0])), view(&package(platform, [1, 1, 0, 0])));
        let (outcomes, _) = crate::msi::schema_scenarios(&new, Some(&old));
        assert_eq!(
            outcomes.len(),
            9,
            "{platform}: fresh, over HPH, 2 uninstalls, HPH removed, both removed, 3 upgrades"
        );
        assert!(
            scenario_failures(&new, Some(&old)).is_empty(),
            "{platform}: {:#?}",
            scenario_failures(&new, Some(&old))
        );
    }
}

#[test]
fn an_unguarded_httpplatform_schema_is_caught_by_rule_and_scenario() {
    let pkg = package(Platform::X64, [1, 1, 0, 0]);
    // No guard at all: installed over HttpPlatformHandler's copy and owning it.
    let bare = view_with(&pkg, |db| {
        assert_eq!(db.set("Component", "Component", HPH_COMPONENT, "Condition", Value::from("ARCHWAY_APPCMD")), 1);
    });
    let hit = caught(&lint(&bare), Rule::SchemaRemovesForeign, Some(HPH_IIS));
    assert!(hit[0].message.contains("NOT <property>") && hit[0].message.contains("CompLocator"), "{}", hit[0]);
    let failed = scenario_failures(&bare, None);
    let names: Vec<&str> = failed.iter().map(|(n, _)| n.as_str()).collect();
    assert!(
        names.contains(&"install over HttpPlatformHandler")
            && names.contains(&"uninstall, HttpPlatformHandler installed first"),
        "{failed:#?}"
    );

    // No SharedDllRefCount: HttpPlatformHandler installed later loses its file with our uninstall.
    let uncounted = view_with(&pkg, |db| {
        let attributes = 256 | 64;
        assert_eq!(db.set("Component", "Component", HPH_COMPONENT, "Attributes", Value::Int(attributes)), 1);
    });
    let hit = caught(&lint(&uncounted), Rule::SchemaRemovesForeign, Some(HPH_IIS));
    assert!(hit[0].message.contains("SharedDllRefCount"), "{}", hit[0]);
    let failed = scenario_failures(&uncounted, None);
    assert!(
        failed.iter().any(|(n, why)| n == "uninstall, HttpPlatformHandler installed after" && why.contains("deleted")),
        "{failed:#?}"
    );

    // Without the CompLocator half, an upgrade takes its own copy for a foreign one and drops it.
    let old = view(&package(Platform::X64, [1, 0, 0, 0]));
    let forgetful = view_with(&pkg, |db| {
        let condition = Value::from("ARCHWAY_APPCMD AND NOT ARCHWAY_HPH_SCHEMA_IIS");
        assert_eq!(db.set("Component", "Component", HPH_COMPONENT, "Condition", condition), 1);
    });
    caught(&lint(&forgetful), Rule::SchemaRemovesForeign, Some(HPH_IIS));
    let failed = scenario_failures(&forgetful, Some(&old));
    assert!(failed.iter().any(|(n, why)| n == "upgrade" && why.contains("missing")), "{failed:#?}");
}

#[test]
fn a_schema_file_in_the_wrong_system_folder_is_caught() {
    let pkg = package(Platform::Arm64, [1, 0, 0, 0]);
    let wow = view_with(&pkg, |db| {
        db.tables.get_mut("Directory").unwrap().rows.push(vec![
            Value::from("SystemFolder"),
            Value::from("TARGETDIR"),
            Value::from("."),
        ]);
        assert_eq!(
            db.set("Directory", "Directory", "ArchwaySchema_iis_1", "Directory_Parent", Value::from("SystemFolder")),
            1
        );
    });
    let path = r"Windows\SysWOW64\inetsrv\config\schema\archway_schema.xml";
    let hit = caught(&lint(&wow), Rule::SchemaFolderBitness, Some(path));
    assert!(hit[0].message.contains("System64Folder"), "{}", hit[0]);
    let thirty_two = view_with(&pkg, |db| {
        assert_eq!(db.set("Component", "Component", "schema_iis_archway_schema.xml", "Attributes", Value::Int(64)), 1);
    });
    caught(
        &lint(&thirty_two),
        Rule::SchemaFolderBitness,
        Some(r"Windows\System32\inetsrv\config\schema\archway_schema.xml"),
    );
}

#[test]
fn an_unconditional_schema_copy_and_undeclared_sections_are_caught() {
    let pkg = package(Platform::X64, [1, 0, 0, 0]);
    let unconditional = view_with(&pkg, |db| {
        assert_eq!(db.set("Component", "Component", "schema_iisx64_archway_schema.xml", "Condition", Value::Null), 1);
    });
    caught(
        &lint(&unconditional),
        Rule::SchemaCondition,
        Some(r"Program Files\IIS Express\config\schema\archway_schema.xml"),
    );
    let undeclared = view_with(&pkg, |db| {
        let actions = db.tables.get_mut("CustomAction").unwrap();
        let before = actions.rows.len();
        actions.rows.retain(|r| !r[0].as_str().unwrap().ends_with("Sections"));
        assert!(actions.rows.len() < before);
    });
    caught(&lint(&undeclared), Rule::SchemaSectionsUndeclared, None);
}

#[test]
fn a_schema_component_guid_changed_across_versions_is_caught() {
    let old = view(&package(Platform::X86, [1, 0, 0, 0]));
    let new = view_with(&package(Platform::X86, [1, 1, 0, 0]), |db| {
        let guid = Value::from("{0A0A0A0A-0000-5000-8000-0000000000AA}");
        assert_eq!(db.set("Component", "Component", "schema_iis_archway_schema.xml", "ComponentId", guid), 1);
    });
    let findings = compare(&old, &new);
    let hit =
        caught(&findings, Rule::SchemaGuidChanged, Some(r"Windows\SysWOW64\inetsrv\config\schema\archway_schema.xml"));
    assert_eq!(hit[0].severity, Severity::Error, "an error even with early removal");
    assert!(!findings.iter().any(|f| f.rule == Rule::ComponentGuidChanged), "one rule per fault: {findings:#?}");
}
