//! The lint's and the upgrade check's rule ids: one enum, each variant with its stable id (what
//! findings print, tests and scripts match, `error[machine-folder] …`) and one line saying what
//! it guards. A rule is added here or nowhere.

use std::fmt;

macro_rules! rules {
    ($($(#[doc = $doc:literal])+ $variant:ident = $id:literal,)+) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Rule {
            $($(#[doc = $doc])+ $variant,)+
        }

        impl Rule {
            #[cfg(test)]
            pub const ALL: &[Rule] = &[$(Rule::$variant,)+];

            /// The stable id, e.g. `component-guid-changed`.
            pub fn id(self) -> &'static str {
                match self {
                    $(Rule::$variant => $id,)+
                }
            }

            /// The variant's documentation, for the test that every rule has some.
            #[cfg(test)]
            pub fn summary(self) -> String {
                match self {
                    $(Rule::$variant => [$($doc),+].join(" ").trim().to_string(),)+
                }
            }
        }
    };
}

rules! {
    // ---- one package (check.rs, check_schema.rs; docs/msi.md §2.7, §3.3) ----
    /// A table Windows Installer or the lint needs is missing (docs/msi.md §1.3).
    TableMissing = "table-missing",
    /// A sequence table lacks a standard action the package needs (docs/msi.md §1.4).
    ActionMissing = "action-missing",
    /// ProductCode, ProductVersion, UpgradeCode or another required property is absent.
    PropertyMissing = "property-missing",
    /// ALLUSERS is not 1: archway installs per machine.
    NotPerMachine = "not-per-machine",
    /// RemoveExistingProducts is missing or sequenced where Windows Installer refuses it (ICE63).
    RemoveExistingProducts = "remove-existing-products",
    /// The summary Template names no single platform, its page count is too low, or a 64-bit
    /// component is in an Intel package.
    TemplatePlatform = "template-platform",
    /// A component's 64-bit attribute disagrees with its folder (docs/msi.md §2.7 L14).
    ComponentBitness = "component-bitness",
    /// An Upgrade ActionProperty is not upper case, unique and secure (ICE61).
    UpgradeActionProperty = "upgrade-action-property",
    /// No Upgrade row removes earlier versions of the package's own UpgradeCode.
    UpgradeRows = "upgrade-rows",
    /// Newer versions are not detected and refused by a launch condition.
    DowngradeNotRefused = "downgrade-not-refused",
    /// A deferred custom action is outside InstallInitialize..InstallFinalize.
    DeferredOutsideScript = "deferred-outside-script",
    /// An uninstall-time custom action also runs in a major upgrade's removal of the old product.
    UnregisterDuringUpgrade = "unregister-during-upgrade",
    /// A file is not the key path of its own component (one component per file).
    ComponentKeyPath = "component-key-path",
    /// One install path belongs to two components (docs/msi.md §2.2).
    PathInTwoComponents = "path-in-two-components",
    /// One component GUID is used by two components.
    GuidReused = "guid-reused",
    /// A File row has no member in the cabinet.
    FileNotInCabinet = "file-not-in-cabinet",
    /// A payload looks like a PE image but cannot be read.
    PeUnreadable = "pe-unreadable",
    /// A PE image without VERSIONINFO: installers treat it as unversioned (docs/msi.md §2.6).
    UnversionedPe = "unversioned-pe",
    /// File.Version differs from the payload's VERSIONINFO (docs/msi.md §2.7 L11).
    FileVersionMismatch = "file-version-mismatch",
    /// File.Language differs from the payload's VERSIONINFO translation.
    FileLanguageMismatch = "file-language-mismatch",
    /// An unversioned file has no MsiFileHash row (docs/msi.md §1.3).
    FileHashMissing = "file-hash-missing",
    /// MsiFileHash differs from the MD5 of the cabinet member.
    FileHashMismatch = "file-hash-mismatch",
    /// File.FileSize differs from the cabinet member's size.
    FileSizeMismatch = "file-size-mismatch",
    /// A PE's machine does not fit its folder and the package's platform (docs/msi.md §3.2, §3.3).
    MachineFolder = "machine-folder",
    /// A forwarder's target DLL is not installed beside it.
    ForwarderTargetMissing = "forwarder-target-missing",
    /// A forwarder's target DLL has the wrong machine for the view that forwards to it.
    ForwarderTargetMachine = "forwarder-target-machine",
    /// A configuration schema file is in the wrong system folder or component bitness.
    SchemaFolderBitness = "schema-folder-bitness",
    /// A schema component has no condition on the IIS it belongs to.
    SchemaCondition = "schema-condition",
    /// Our `httpplatform_schema.xml` component could remove HttpPlatformHandler's copy.
    SchemaRemovesForeign = "schema-removes-foreign",
    /// Schema files are installed but no custom action declares their sections (docs/iis.md §2.2).
    SchemaSectionsUndeclared = "schema-sections-undeclared",
    /// A case of the HttpPlatformHandler coexistence scenarios ends wrong (README,
    /// "Configuration schema").
    SchemaScenario = "schema-scenario",
    // ---- a pair, old and new (compare.rs; docs/msi.md §2.7) ----
    /// The previous package belongs to another UpgradeCode.
    UpgradeCodeDiffers = "upgrade-code-differs",
    /// The summary Template (the platform) changed between the packages.
    PlatformChanged = "platform-changed",
    /// Both packages have the same ProductCode (docs/msi.md §2.5).
    ProductCodeUnchanged = "product-code-unchanged",
    /// Both packages have the same package code.
    PackageCodeUnchanged = "package-code-unchanged",
    /// ProductVersion is not higher in its first three fields (docs/msi.md §2.5).
    ProductVersionNotHigher = "product-version-not-higher",
    /// No removing Upgrade row of the new package matches the old version (docs/msi.md §2.7 L3).
    UpgradeRowMissesOld = "upgrade-row-misses-old",
    /// A component GUID now has another key path (docs/msi.md §2.2).
    KeyPathChanged = "key-path-changed",
    /// A schema component's GUID changed (its CompLocator and SharedDLLs count rely on it).
    SchemaGuidChanged = "schema-guid-changed",
    /// A path's component GUID changed: the old product's removal deletes it (docs/msi.md §2.3).
    ComponentGuidChanged = "component-guid-changed",
    /// A path's File key changed (custom actions key on it, docs/msi.md §2.7 L8).
    FileKeyChanged = "file-key-changed",
    /// A path moved to another feature (docs/msi.md §2.7 L12).
    FeatureChanged = "feature-changed",
    /// A versioned file became unversioned (docs/msi.md §2.1, L9).
    VersionedToUnversioned = "versioned-to-unversioned",
    /// A file's version goes down (docs/msi.md §2.1, L10).
    FileVersionDown = "file-version-down",
    /// A file's bytes changed but its version did not (docs/msi.md §2.1, L10).
    SameVersionDifferentBytes = "same-version-different-bytes",
    /// File.Language changed.
    LanguageChanged = "language-changed",
    // ---- the simulated upgrade (simulate.rs) ----
    /// A path the new package installs is missing after the simulated upgrade (docs/msi.md §2.3).
    PathRemovedByUpgrade = "path-removed-by-upgrade",
    /// A path holds the old bytes after the simulated upgrade (docs/msi.md §2.1).
    PathStaleAfterUpgrade = "path-stale-after-upgrade",
    /// An old file the new package does not own stays on disk.
    PathLeftBehind = "path-left-behind",
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_has_a_unique_kebab_case_id_and_a_summary() {
        let mut ids = std::collections::BTreeSet::new();
        for rule in Rule::ALL {
            let id = rule.id();
            assert!(ids.insert(id), "{id} twice");
            assert!(
                id.split('-').all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
            );
            assert!(rule.summary().len() > 20, "{id} needs a line saying what it guards");
            assert_eq!(rule.to_string(), id);
        }
    }

    /// The rules the README names (its "Lint rules:" sentence and backquoted ids) exist.
    #[test]
    fn the_rules_the_readme_names_exist() {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
        let listed =
            readme.split("Lint rules:").nth(1).expect("README lists the schema lint rules").split('.').next().unwrap();
        let named: Vec<&str> = listed.split([',', ' ', '\n']).filter(|w| !w.is_empty()).collect();
        assert!(named.len() >= 6, "{named:?}");
        for id in named {
            assert!(Rule::ALL.iter().any(|r| r.id() == id), "README names lint rule `{id}`, which does not exist");
        }
    }
}
