//! The standard action sequences (docs/msi.md §1.4, WiX's numbers) and where RemoveExistingProducts
//! goes.
//!
//! **Schedule: `afterInstallInitialize` (1501).** The old product is removed inside the new
//! product's install script, before any file is copied (docs/msi.md §2.3, §2.4):
//! * a path whose component GUID or File id changed is removed first and installed afresh, so
//!   the dotnet/aspnetcore#60764 failure (the late removal deleting the DLL the upgrade just
//!   kept) cannot happen even if the lint were bypassed;
//! * File Versioning Rules never compare against the old files, so a rebuilt DLL with an
//!   unchanged version resource, or an unversioned one, still lands;
//! * it stays one transaction: if the new install fails, rollback restores the old product
//!   (which `afterInstallValidate` would lose);
//! * the old product's uninstall-time IIS actions are skipped (`NOT UPGRADINGPRODUCTCODE`) and
//!   run before the new registration anyway.
//!
//! The price is copying every file again (a few DLLs). The lint still holds packages to the
//! component rules (§2.7), so a later move to a late schedule would be safe.

/// Sequence number of RemoveExistingProducts: right after InstallInitialize (1500), before any
/// script-generating action (ICE63).
pub const REMOVE_EXISTING_PRODUCTS: i32 = 1501;

/// Where archway's uninstall-time custom actions go: after UnpublishFeatures, before RemoveFiles.
pub const UNINSTALL_ACTIONS_FROM: i32 = 3401;
/// Where archway's install-time custom actions go: after InstallFiles, before PatchFiles.
pub const INSTALL_ACTIONS_FROM: i32 = 4001;
/// The section declarations (`iis_schema.rs`): after the module registrations (4001–4030),
/// before RegisterUser.
pub const SECTIONS_INSTALL_FROM: i32 = 4101;
/// Their removal at uninstall: after the module unregistrations (3401–3410), before RemoveFiles.
pub const SECTIONS_UNINSTALL_FROM: i32 = 3451;

pub type Step = (&'static str, Option<&'static str>, i32);

/// The sequence number of a standard action, the same in every table that has it (WiX's
/// numbers, docs/msi.md §1.4).
fn number(action: &str) -> i32 {
    match action {
        "FindRelatedProducts" => 25,
        "AppSearch" => 50,
        "LaunchConditions" => 100,
        "ValidateProductID" => 700,
        "CostInitialize" => 800,
        "FileCost" => 900,
        "CostFinalize" => 1000,
        "MigrateFeatureStates" => 1200,
        "ExecuteAction" => 1300,
        "InstallValidate" => 1400,
        "InstallInitialize" => 1500,
        "RemoveExistingProducts" => REMOVE_EXISTING_PRODUCTS,
        "ProcessComponents" => 1600,
        "UnpublishFeatures" => 1800,
        "RemoveFiles" => 3500,
        "RemoveFolders" => 3600,
        "CreateFolders" => 3700,
        "InstallAdminPackage" => 3900,
        "InstallFiles" => 4000,
        "RegisterUser" => 6000,
        "RegisterProduct" => 6100,
        "PublishFeatures" => 6300,
        "PublishProduct" => 6400,
        "InstallFinalize" => 6600,
        other => panic!("{other} is not a standard action archway sequences"),
    }
}

/// The standard actions of `table` (without archway's custom actions).
pub fn standard(table: &str) -> Vec<Step> {
    let actions: &[&'static str] = match table {
        "InstallExecuteSequence" => &[
            "FindRelatedProducts",
            "AppSearch",
            "LaunchConditions",
            "ValidateProductID",
            "CostInitialize",
            "FileCost",
            "CostFinalize",
            "MigrateFeatureStates",
            "InstallValidate",
            "InstallInitialize",
            "RemoveExistingProducts",
            "ProcessComponents",
            "UnpublishFeatures",
            "RemoveFiles",
            "RemoveFolders",
            "CreateFolders",
            "InstallFiles",
            "RegisterUser",
            "RegisterProduct",
            "PublishFeatures",
            "PublishProduct",
            "InstallFinalize",
        ],
        "InstallUISequence" => &[
            "FindRelatedProducts",
            "AppSearch",
            "LaunchConditions",
            "ValidateProductID",
            "CostInitialize",
            "FileCost",
            "CostFinalize",
            "MigrateFeatureStates",
            "ExecuteAction",
        ],
        "AdminUISequence" => &["CostInitialize", "FileCost", "CostFinalize", "ExecuteAction"],
        "AdminExecuteSequence" => &[
            "CostInitialize",
            "FileCost",
            "CostFinalize",
            "InstallValidate",
            "InstallInitialize",
            "InstallAdminPackage",
            "InstallFiles",
            "InstallFinalize",
        ],
        "AdvtExecuteSequence" => &[
            "CostInitialize",
            "CostFinalize",
            "InstallValidate",
            "InstallInitialize",
            "PublishFeatures",
            "PublishProduct",
            "InstallFinalize",
        ],
        other => panic!("{other} is not a sequence table"),
    };
    actions.iter().map(|&action| (action, None, number(action))).collect()
}

/// The actions the lint requires in each sequence table (`action-missing`).
pub fn required(table: &str) -> Vec<&'static str> {
    let all: Vec<&'static str> = standard(table).into_iter().map(|(a, _, _)| a).collect();
    match table {
        // AppSearch and ValidateProductID are archway's choice, not a requirement.
        "InstallExecuteSequence" | "InstallUISequence" => {
            all.into_iter().filter(|a| !matches!(*a, "AppSearch" | "ValidateProductID")).collect()
        }
        _ => all,
    }
}
