//! What the generated workflows pin, read from `matrix.toml`'s `[ci]` section: the job list, the
//! actions by commit SHA, the Linux container by digest, and the pinned LLVM release for Windows
//! with its SHA-256. Every value is checked here, so a typo is an error naming file and line.

use std::path::Path;

use anyhow::Result;
use serde::Deserialize;
use toml::Spanned;

use crate::{config, matrix::Arch};

#[derive(Deserialize)]
struct File {
    ci: Ci,
    #[serde(flatten)]
    _rest: toml::Table,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ci {
    pub job: Vec<Job>,
    pub action: Vec<Action>,
    pub llvm: Llvm,
    /// The Linux image of the lint and release jobs (the `linux` job names its own).
    pub container: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Job {
    pub name: String,
    pub runner: String,
    pub container: Option<Spanned<String>>,
    pub toolchain: Option<crate::toolchain::Flavor>,
    pub native_machine: Option<String>,
    #[serde(default)]
    pub run: Vec<String>,
    /// (Windows) how IIS is switched on: `server` (Install-WindowsFeature) or `client`
    /// (Enable-WindowsOptionalFeature, Windows 11).
    pub iis: Option<IisEdition>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum IisEdition {
    Server,
    Client,
}

/// One action the workflows use, pinned by the commit its release tag points at.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Action {
    pub uses: Spanned<String>,
    pub sha: Spanned<String>,
    pub version: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Llvm {
    /// The LLVM release every host uses (Linux: the karellen wheels of the same version).
    pub version: Spanned<String>,
    pub windows: Vec<LlvmAsset>,
}

/// One official LLVM release archive for a Windows host.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlvmAsset {
    /// The runner's machine: `x64` or `arm64`.
    pub host: Spanned<String>,
    pub asset: Spanned<String>,
    /// Lower-case hex; empty means "not yet recorded", and the download step then fails with the
    /// digest it computed, never skips the check.
    pub sha256: Spanned<String>,
}

impl Ci {
    /// `uses:` text for an action: `owner/name@sha # version`.
    pub fn uses(&self, name: &str) -> String {
        let a = self
            .action
            .iter()
            .find(|a| a.uses.get_ref() == name)
            .unwrap_or_else(|| panic!("{name} is checked present by load"));
        format!("{name}@{} # {}", a.sha.get_ref(), a.version.get_ref())
    }

    pub fn llvm_for(&self, host: &str) -> Option<&LlvmAsset> {
        self.llvm.windows.iter().find(|a| a.host.get_ref() == host)
    }
}

/// The actions the generator writes; each must be pinned in `matrix.toml`.
pub const ACTIONS: [&str; 5] = [
    "actions/checkout",
    "actions/cache",
    "actions/upload-artifact",
    "actions/download-artifact",
    "actions/attest-build-provenance",
];

fn hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `matrix.toml`'s `[ci]`, every pin checked.
pub fn load(matrix: &Path) -> Result<Ci> {
    let doc = config::load::<File>(matrix)?;
    let ci = &doc.value.ci;
    for a in &ci.action {
        if !hex(a.sha.get_ref(), 40) {
            return Err(doc.error_at(
                a.sha.span(),
                "an action is pinned by its full 40-digit lower-case commit SHA (the commit its release tag points at)",
            ));
        }
        let v = a.version.get_ref();
        if !(v.starts_with('v')
            && v[1..].split('.').count() == 3
            && v[1..].split('.').all(|p| p.parse::<u32>().is_ok()))
        {
            return Err(doc.error_at(a.version.span(), "the release tag the SHA belongs to, like \"v6.0.2\""));
        }
    }
    for name in ACTIONS {
        if !ci.action.iter().any(|a| a.uses.get_ref() == name) {
            anyhow::bail!(
                "{}: no [[ci.action]] with uses = \"{name}\"; the workflows need it pinned by SHA",
                matrix.display()
            );
        }
    }
    let pinned_image = |image: &Spanned<String>| -> Result<()> {
        match image.get_ref().split_once("@sha256:") {
            Some((_, digest)) if hex(digest, 64) => Ok(()),
            _ => Err(doc.error_at(image.span(), "pin the image by digest: \"name:tag@sha256:<64 hex digits>\"")),
        }
    };
    pinned_image(&ci.container)?;
    for job in &ci.job {
        if let Some(image) = &job.container {
            pinned_image(image)?;
        }
        for arch in &job.run {
            arch.parse::<Arch>().map_err(|e| anyhow::anyhow!("{}: job {}: {e}", matrix.display(), job.name))?;
        }
        if job.toolchain.is_some() && job.iis.is_none() {
            anyhow::bail!(
                "{}: job {}: say how IIS is enabled (`iis = \"server\"` or `\"client\"`)",
                matrix.display(),
                job.name
            );
        }
        if let Some(native) = job.toolchain.and(job.native_machine.as_deref().or(Some("x64")))
            && ci.llvm_for(native).is_none()
        {
            anyhow::bail!("{}: job {}: no [[ci.llvm.windows]] with host = \"{native}\"", matrix.display(), job.name);
        }
    }
    let version = ci.llvm.version.get_ref();
    let wheel = crate::toolchain::provision::PIN;
    if wheel.split(".post").next() != Some(version.as_str()) {
        return Err(doc.error_at(
            ci.llvm.version.span(),
            format!("LLVM {version} here but the Linux wheels are {wheel} (toolchain/provision.rs): the forwarder golden tests need one LLVM on every host"),
        ));
    }
    for asset in &ci.llvm.windows {
        if !["x64", "arm64"].contains(&asset.host.get_ref().as_str()) {
            return Err(doc.error_at(asset.host.span(), "host is \"x64\" or \"arm64\""));
        }
        if !asset.asset.get_ref().contains(&format!("-{version}-")) {
            return Err(doc.error_at(asset.asset.span(), format!("the asset is not of LLVM {version}")));
        }
        let sha = asset.sha256.get_ref();
        if !sha.is_empty() && !hex(sha, 64) {
            return Err(doc.error_at(asset.sha256.span(), "64 lower-case hex digits (or \"\" until it is recorded)"));
        }
    }
    Ok(doc.value.ci)
}
