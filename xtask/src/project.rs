//! Facts about the checkout: where it is, the product version, and where outputs go.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

mod workspace;
use workspace::Facts;

/// The environment variable that sets the fourth VERSIONINFO field (0 when unset).
pub const BUILD_NUMBER_VAR: &str = "ARCHWAY_BUILD_NUMBER";

#[derive(Clone, Debug)]
pub struct Project {
    pub root: PathBuf,
    pub target_dir: PathBuf,
    /// `[workspace.package] version` plus the build number: major, minor, patch, build.
    pub version: [u16; 4],
    /// `[workspace.metadata.archway]`: names stamped into every VERSIONINFO.
    pub company: String,
    pub product: String,
}

impl Project {
    /// The checkout around the current directory; outside any, the one this xtask was built
    /// from. Read from the manifests and cargo's configuration without starting a process
    /// ([`workspace`]); `cargo metadata` answers only what that reader leaves open, so the
    /// target directory honours CARGO_TARGET_DIR and cargo configuration as cargo does.
    /// `main` calls this once per invocation and hands the result down.
    pub fn discover() -> Result<Project> {
        let cwd = std::env::current_dir().context("cannot read the current directory")?;
        let env = |key: &str| std::env::var_os(key);
        let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).parent().context("xtask has no parent folder")?;
        let facts = match workspace::read(&cwd, &cwd, &env) {
            workspace::Read::Found(facts) => facts,
            workspace::Read::AskCargo(why) => {
                asked(&why);
                match metadata(None).ok().and_then(|m| Facts::from_metadata(&m)) {
                    Some(facts) => facts,
                    None => from_built_checkout(built_from, &cwd, &env)?,
                }
            }
            workspace::Read::NotArchway => from_built_checkout(built_from, &cwd, &env)?,
        };
        Project::from_facts(facts)
    }

    fn from_facts(facts: Facts) -> Result<Project> {
        let build = build_number(std::env::var(BUILD_NUMBER_VAR).ok().as_deref())?;
        let branding = |value: Option<String>, key: &str| {
            value.with_context(|| format!("Cargo.toml: [workspace.metadata.archway] needs `{key} = \"…\"`"))
        };
        Ok(Project {
            company: branding(facts.company, "company")?,
            product: branding(facts.product, "product")?,
            version: product_version(&facts.version, build)?,
            root: facts.root,
            target_dir: facts.target_dir,
        })
    }

    /// `target/archway/<profile>`: everything `build` writes for one profile.
    pub fn build_dir(&self, profile: &str) -> PathBuf {
        self.target_dir.join("archway").join(profile)
    }

    pub fn matrix_path(&self) -> PathBuf {
        self.root.join("matrix.toml")
    }
}

/// The checkout this xtask was built from (used outside any archway checkout).
fn from_built_checkout(root: &Path, cwd: &Path, env: workspace::Env) -> Result<Facts> {
    match workspace::read(root, cwd, env) {
        workspace::Read::Found(facts) => Ok(facts),
        workspace::Read::NotArchway => bail!(
            "neither {} nor {} (where this xtask was built) is inside an archway checkout (a Cargo workspace with an \
             `xtask` member): run `cargo xtask` inside one",
            cwd.display(),
            root.display()
        ),
        workspace::Read::AskCargo(why) => {
            asked(&why);
            let meta = metadata(Some(&root.join("Cargo.toml")))?;
            Facts::from_metadata(&meta).context("the workspace has no `xtask` package")
        }
    }
}

impl Facts {
    /// The same facts from `cargo metadata`'s answer; None without an `xtask` package.
    fn from_metadata(meta: &cargo_metadata::Metadata) -> Option<Facts> {
        let xtask = meta.packages.iter().find(|p| p.name.as_str() == "xtask")?;
        let branding = |key: &str| meta.workspace_metadata["archway"][key].as_str().map(str::to_string);
        Some(Facts {
            root: meta.workspace_root.clone().into_std_path_buf(),
            target_dir: meta.target_directory.clone().into_std_path_buf(),
            version: xtask.version.clone(),
            company: branding("company"),
            product: branding("product"),
        })
    }
}

/// Says in the command trace why `cargo metadata` runs.
fn asked(why: &str) {
    crate::cmd::trace(&format!("the manifests leave the workspace open ({why}): asking `cargo metadata`"));
}

/// `cargo metadata` through [`Cmd`](crate::cmd::Cmd), so it has a deadline like every child.
fn metadata(manifest: Option<&Path>) -> Result<cargo_metadata::Metadata> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = crate::cmd::Cmd::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .timeout(std::time::Duration::from_secs(300));
    if let Some(m) = manifest {
        cmd = cmd.arg("--manifest-path").arg(m);
    }
    let json = cmd.run().context("cannot read the workspace with `cargo metadata`")?.stdout;
    cargo_metadata::MetadataCommand::parse(json).context("cannot read the workspace with `cargo metadata`")
}

/// Windows file versions are four 16-bit fields; the workspace version gives three.
fn product_version(version: &semver::Version, build: u16) -> Result<[u16; 4]> {
    let field = |value: u64, name: &str| {
        u16::try_from(value).with_context(|| {
            format!("Cargo.toml: [workspace.package] version {version}: {name} {value} does not fit a Windows file version (at most 65535)")
        })
    };
    Ok([field(version.major, "major")?, field(version.minor, "minor")?, field(version.patch, "patch")?, build])
}

/// `major.minor.patch.build`, as file versions are shown.
pub fn dotted(version: [u16; 4]) -> String {
    version.map(|p| p.to_string()).join(".")
}

/// SOURCE_DATE_EPOCH (reproducible-builds.org): the one time archway writes into artifacts;
/// `None` when unset, so callers fall back to 0 rather than to the clock.
pub fn source_date_epoch() -> Result<Option<u64>> {
    parse_source_date_epoch(std::env::var(SOURCE_DATE_EPOCH_VAR).ok().as_deref())
}

pub const SOURCE_DATE_EPOCH_VAR: &str = "SOURCE_DATE_EPOCH";

fn parse_source_date_epoch(value: Option<&str>) -> Result<Option<u64>> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => match text.parse::<u64>() {
            Ok(seconds) => Ok(Some(seconds)),
            Err(_) => bail!("{SOURCE_DATE_EPOCH_VAR}={text:?} is not a whole number of seconds since 1970-01-01 UTC"),
        },
    }
}

fn build_number(value: Option<&str>) -> Result<u16> {
    match value {
        None | Some("") => Ok(0),
        Some(text) => match text.parse::<u16>() {
            Ok(n) => Ok(n),
            Err(_) => bail!("{BUILD_NUMBER_VAR}={text:?} is not a whole number from 0 to 65535"),
        },
    }
}

use cargo_metadata::semver;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_fields_and_build_number() {
        let v = semver::Version::parse("1.2.3").unwrap();
        assert_eq!(product_version(&v, 7).unwrap(), [1, 2, 3, 7]);
        let big = semver::Version::parse("1.70000.0").unwrap();
        assert!(product_version(&big, 0).unwrap_err().to_string().contains("minor 70000"));
        assert_eq!(build_number(None).unwrap(), 0);
        assert_eq!(build_number(Some("42")).unwrap(), 42);
        let msg = build_number(Some("x1")).unwrap_err().to_string();
        assert!(msg.contains("ARCHWAY_BUILD_NUMBER=\"x1\""), "{msg}");
    }

    #[test]
    fn source_date_epoch_is_optional_and_numeric() {
        assert_eq!(parse_source_date_epoch(None).unwrap(), None);
        assert_eq!(parse_source_date_epoch(Some(" 1700000000 ")).unwrap(), Some(1_700_000_000));
        let msg = parse_source_date_epoch(Some("yesterday")).unwrap_err().to_string();
        assert!(msg.contains("SOURCE_DATE_EPOCH=\"yesterday\""), "{msg}");
    }
}
