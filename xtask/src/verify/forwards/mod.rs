//! Checks of a DLL's forwarders against the target DLLs beside it, view by view (the native and
//! the EC view of an ARM64X file, or a plain DLL's one view): each target exists, has the
//! machine the view needs, exports what is forwarded to it and, for a pure forwarder, carries
//! the same file version; plus the ARM64X invariants of docs/arm64x-forwarder.md §9 and §11.
//!
//! The rules work on in-memory facts ([`Subject`], [`Target`]) and a lookup closure, so tests
//! need no files; [`check`] reads a file and its folder. [`describe`] renders both views.

mod describe;
mod rules;

pub use describe::describe;
pub use rules::violations;

use std::{
    fmt,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result};

use super::arm64x::{self, MACHINE_ARM64, View};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    TargetMissing,
    TargetUnreadable,
    TargetMachine,
    NameMissing,
    Version,
    OutsideExportRange,
    Arm64xMachine,
    Arm64xDvrtInBaseRelocs,
    Arm64xChpe,
    Arm64xExportNames,
}

impl Rule {
    pub fn name(self) -> &'static str {
        match self {
            Rule::TargetMissing => "forward-target-missing",
            Rule::TargetUnreadable => "forward-target-unreadable",
            Rule::TargetMachine => "forward-target-machine",
            Rule::NameMissing => "forward-name-missing",
            Rule::Version => "forward-version",
            Rule::OutsideExportRange => "forward-outside-export-range",
            Rule::Arm64xMachine => "arm64x-machine",
            Rule::Arm64xDvrtInBaseRelocs => "arm64x-dvrt-in-base-relocs",
            Rule::Arm64xChpe => "arm64x-chpe",
            Rule::Arm64xExportNames => "arm64x-export-names",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A broken forwarder rule.
pub type Violation = super::Violation<Rule>;
/// The error [`check`] returns (`path: rule forward-name-missing: native view: ...`).
pub type Failures = super::Failures<Rule>;

/// What the rules need to know about the checked file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subject {
    /// The bytes as stored.
    pub native: View,
    /// The EC view, for an ARM64X file.
    pub ec: Option<View>,
    /// (RVA, size) of the DVRT, for an ARM64X file.
    pub dvrt: Option<(u32, u32)>,
    /// FILEVERSION from VS_FIXEDFILEINFO (the resources are shared by both views,
    /// docs/arm64x-forwarder.md §8).
    pub file_version: Option<[u16; 4]>,
}

/// What the rules need to know about one forward target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The file name as found in the folder, e.g. "archway_arm64.dll".
    pub file_name: String,
    pub machine: u16,
    /// An ARM64X image itself: it has an ARM64X DVRT, or CHPE metadata on an ARM64 machine.
    pub is_arm64x: bool,
    pub chpe_metadata_version: Option<u32>,
    /// The exports of the file as stored.
    pub exports: Vec<arm64x::ViewExport>,
    pub file_version: Option<[u16; 4]>,
}

/// The file version, read with every other fact of the file so a target with a corrupt import
/// table is refused; each part labels its own errors ("import table: …", never "version
/// resource:" for a table that is not the version resource).
fn file_version(data: &[u8]) -> Result<Option<[u16; 4]>> {
    let facts = super::facts_from_bytes(data)?;
    Ok(facts.version_info.map(|info| info.file_version))
}

/// The folder a file is in; `.` for a bare file name (whose parent is the empty path).
pub fn folder_of(path: &Path) -> &Path {
    path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

impl Subject {
    pub fn from_bytes(data: &[u8]) -> Result<Subject> {
        let (native, ec) = arm64x::views(data)?;
        // Read a second time for the DVRT's place; forwarders are a few KiB.
        let arm64x = arm64x::read(data).context("ARM64X dynamic relocations")?;
        Ok(Subject { native, ec, dvrt: arm64x.map(|a| (a.dvrt_rva, a.dvrt_size)), file_version: file_version(data)? })
    }
}

impl Target {
    pub fn from_bytes(file_name: &str, data: &[u8]) -> Result<Target> {
        let view = View::parse(data)?;
        let has_dvrt = arm64x::read(data)?.is_some();
        Ok(Target {
            file_name: file_name.to_string(),
            machine: view.machine,
            is_arm64x: has_dvrt || (view.machine == MACHINE_ARM64 && view.chpe_metadata_version.is_some()),
            chpe_metadata_version: view.chpe_metadata_version,
            exports: view.exports,
            file_version: file_version(data)?,
        })
    }
}

/// Reads `path`, looks its targets up beside it (case-insensitively, as Windows does) and runs
/// every rule; the error is a [`Failures`] (downcast it to see the rules) or, for a file that
/// cannot be read, an error naming it.
pub fn check(path: &Path) -> Result<Subject> {
    let data = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let subject = Subject::from_bytes(&data).with_context(|| format!("{}", path.display()))?;
    let folder = folder_of(path);
    let mut lookup = |dll: &str| -> Result<Option<Target>> {
        let Some(found) = find_beside(folder, &format!("{dll}.dll"))? else {
            return Ok(None);
        };
        let data = std::fs::read(&found).with_context(|| format!("cannot read {}", found.display()))?;
        let name = found.file_name().unwrap_or_default().to_string_lossy();
        Target::from_bytes(&name, &data).map(Some)
    };
    let violations = violations(&subject, &mut lookup);
    if violations.is_empty() { Ok(subject) } else { Err(Failures { path: path.to_path_buf(), violations }.into()) }
}

/// The file in `folder` named `file_name` ignoring case; the first in byte order if a
/// case-sensitive file system holds several.
pub fn find_beside(folder: &Path, file_name: &str) -> Result<Option<PathBuf>> {
    let wanted = file_name.to_lowercase();
    let entries = std::fs::read_dir(folder).with_context(|| format!("cannot list {}", folder.display()))?;
    let mut matches = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list {}", folder.display()))?;
        if entry.file_name().to_string_lossy().to_lowercase() == wanted {
            matches.push(entry.path());
        }
    }
    matches.sort();
    Ok(matches.into_iter().next())
}

#[cfg(test)]
mod tests;
