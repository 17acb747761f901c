//! What each platform's package installs, and where (docs/iis.md §2, docs/msi.md §3): the install trees
//! that both the MSI and the zip archive of a platform hold, built from `matrix.toml`'s
//! `[[package]]` entries, the shipped binaries and the forwarders the build wrote.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use toml::Spanned;
use uuid::Uuid;

use crate::{
    binaries::{Binary, Kind},
    config, forwarders,
    matrix::Arch,
    msi::{HPH_SCHEMA, IisSchema, InstallDir, Platform, SchemaFile},
};

/// One platform's package, as `matrix.toml` fixes it.
#[derive(Clone, Debug)]
pub struct PackageConfig {
    pub platform: Platform,
    pub upgrade_code: Uuid,
}

#[derive(Deserialize)]
struct RawFile {
    #[serde(default)]
    package: Vec<RawPackage>,
    // The other sections belong to `matrix.rs` and `ci.rs`.
    #[serde(flatten)]
    _rest: toml::Table,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawPackage {
    platform: Spanned<String>,
    upgrade_code: Spanned<String>,
}

/// `[[package]]` of `matrix.toml`: every platform exactly once, UpgradeCodes distinct.
pub fn package_configs(root: &Path) -> Result<Vec<PackageConfig>> {
    let doc = config::load_in::<RawFile>(root, Path::new("matrix.toml"))?;
    let mut out: Vec<PackageConfig> = Vec::new();
    for raw in &doc.value.package {
        let platform: Platform = raw.platform.get_ref().parse().map_err(|e| doc.error_at(raw.platform.span(), e))?;
        let upgrade_code = Uuid::parse_str(raw.upgrade_code.get_ref().trim_matches(['{', '}'])).map_err(|e| {
            doc.error_at(
                raw.upgrade_code.span(),
                format!("not a GUID ({e}); an UpgradeCode looks like \"7AF8D23F-409E-4CF4-9DE9-BFFC70FA7C41\""),
            )
        })?;
        if out.iter().any(|p| p.platform == platform) {
            return Err(doc.error_at(raw.platform.span(), format!("platform `{platform}` is listed twice")));
        }
        if out.iter().any(|p| p.upgrade_code == upgrade_code) {
            return Err(doc.error_at(
                raw.upgrade_code.span(),
                "each platform needs its own UpgradeCode (dotnet/aspnetcore#65978)",
            ));
        }
        out.push(PackageConfig { platform, upgrade_code });
    }
    for platform in Platform::ALL {
        if !out.iter().any(|p| p.platform == platform) {
            bail!("matrix.toml: no [[package]] with platform = \"{platform}\"; dist writes one MSI per platform");
        }
    }
    out.sort_by_key(|p| Platform::ALL.iter().position(|q| *q == p.platform));
    Ok(out)
}

/// The file IIS loads: the shim of `module/` under its plain name in every layout. On ARM64 it
/// is the Arm64X forwarder, so one `%ProgramFiles%` path serves every worker (docs/iis.md §2.3).
pub const SHIM: &str = "archway.dll";

/// Where the IIS configuration schema files and the section script live in the repository.
pub const SCHEMA_DIR: &str = "module/schema";
/// The script the registration custom actions run to declare sections (`msi/iis_schema.rs`).
pub const SECTIONS_SCRIPT: &str = "archway_sections.js";
/// The sections every package declares, and those archway alone defines (removed at uninstall).
pub const DECLARED_SECTIONS: [&str; 2] = ["system.webServer/archway", "system.webServer/httpPlatform"];
pub const OWNED_SECTIONS: [&str; 1] = ["system.webServer/archway"];

/// `module/schema`: every `*.xml` (sorted by name) and the section script.
pub fn iis_schema(root: &Path) -> Result<IisSchema> {
    let dir = root.join(SCHEMA_DIR);
    let entries = std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.with_context(|| format!("cannot list {}", dir.display()))?.path();
        let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
        if name.ends_with(".xml") {
            let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            files.push(SchemaFile { name, bytes });
        }
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    if !files.iter().any(|f| f.name == HPH_SCHEMA) || !files.iter().any(|f| f.name == "archway_schema.xml") {
        bail!("{} must hold archway_schema.xml and {HPH_SCHEMA}, the sections the shim reads", dir.display());
    }
    Ok(IisSchema {
        files,
        declare: DECLARED_SECTIONS.map(String::from).to_vec(),
        owned: OWNED_SECTIONS.map(String::from).to_vec(),
        script: SECTIONS_SCRIPT.into(),
    })
}

/// One file of an install tree: where it goes and which built file it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placed {
    pub dir: InstallDir,
    pub name: String,
    pub source: PathBuf,
}

/// The DLLs a package ships: those of `module/` and `handlers/`, not the test programs.
pub fn shipped(root: &Path, binaries: &[Binary]) -> Vec<Binary> {
    binaries.iter().filter(|b| b.kind == Kind::Dll && !b.dir.starts_with(root.join("tests"))).cloned().collect()
}

/// The install tree of `platform`, sorted by folder and name:
/// - x64: x64 builds under their plain names in the 64-bit folder, x86 builds in the x86 folder;
/// - arm64: each forwarder under the plain name plus its two targets in the 64-bit folder, the
///   x86 builds in the x86 folder (the x86 folder never gets ARM64 code, dotnet/aspnetcore#47115);
/// - x86: the x86 builds only.
pub fn layout(
    platform: Platform,
    bin_dir: &Path,
    shipped: &[Binary],
    forwarders: &[forwarders::Written],
) -> Result<Vec<Placed>> {
    let plain = |bin: &Binary, arch: Arch, dir: InstallDir| Placed {
        dir,
        name: format!("{}.dll", bin.name),
        source: bin_dir.join(bin.file_name(arch)),
    };
    let mut out = Vec::new();
    for bin in shipped {
        match platform {
            Platform::X64 => {
                out.push(plain(bin, Arch::X64, InstallDir::ProgramFiles64));
                out.push(plain(bin, Arch::X86, InstallDir::ProgramFilesX86));
            }
            Platform::Arm64 => {
                let Some(forwarder) = forwarders.iter().find(|w| w.native_target == bin.file_name(Arch::Arm64)) else {
                    bail!(
                        "{} has no Arm64X forwarder spec in forwarders/; the arm64 package installs it under its plain name through one",
                        bin.name
                    );
                };
                let name = |p: &Path| p.file_name().unwrap().to_string_lossy().into_owned();
                for file in [name(&forwarder.path), forwarder.native_target.clone(), forwarder.ec_target.clone()] {
                    out.push(Placed { dir: InstallDir::ProgramFiles64, source: bin_dir.join(&file), name: file });
                }
                out.push(plain(bin, Arch::X86, InstallDir::ProgramFilesX86));
            }
            Platform::X86 => out.push(plain(bin, Arch::X86, InstallDir::ProgramFilesX86)),
        }
    }
    for placed in &out {
        if !placed.source.is_file() {
            bail!("{} is missing; `cargo xtask build` should have made it", placed.source.display());
        }
    }
    out.sort_by_key(|p| (!p.dir.is_64bit(), p.name.clone()));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repository_fixes_one_distinct_upgrade_code_per_platform() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let configs = package_configs(root).unwrap();
        assert_eq!(configs.iter().map(|c| c.platform).collect::<Vec<_>>(), Platform::ALL);
    }

    #[test]
    fn package_mistakes_name_their_line() {
        let root = tempfile::tempdir().unwrap();
        let good = "[[package]]\nplatform = \"x64\"\nupgrade-code = \"7AF8D23F-409E-4CF4-9DE9-BFFC70FA7C41\"\n";
        for (text, expected) in [
            (good.replace("x64", "mips"), "matrix.toml:2:12: unknown platform"),
            (good.replace("7AF8D23F-", "7AF8D23F"), "matrix.toml:3:16: not a GUID"),
            (format!("{good}{good}"), "matrix.toml:5:12: platform `x64` is listed twice"),
            (good.to_string(), "no [[package]] with platform = \"arm64\""),
        ] {
            std::fs::write(root.path().join("matrix.toml"), text).unwrap();
            let err = format!("{:#}", package_configs(root.path()).unwrap_err());
            assert!(err.contains(expected), "expected {expected:?} in {err}");
        }
    }
}
