//! A PE file's facts as Windows Installer and the loader see them ([`PeInfo`]): machine, CHPE
//! metadata and VERSIONINFO (with its VarFileInfo\Translation languages, File.Language,
//! docs/arm64x-forwarder.md §8.2) from `crate::verify`, and the DLLs each export view forwards to from
//! the verifier's independent ARM64X reader (`crate::verify::arm64x`, the EC view through the
//! dynamic value relocations).

use anyhow::Result;
use object::FileKind;

use super::model::PeInfo;
use crate::verify::{FIXED_FILE_INFO_SIGNATURE, arm64x, facts_from_bytes};

/// `None` for a file that is not a PE image at all; an error for a PE image that cannot be read.
pub fn pe_info(bytes: &[u8]) -> Result<Option<PeInfo>> {
    if !bytes.starts_with(b"MZ") {
        return Ok(None);
    }
    let kind = FileKind::parse(bytes).ok();
    if !matches!(kind, Some(FileKind::Pe32 | FileKind::Pe64)) {
        return Ok(None); // a DOS program, or an MZ header in front of something else
    }
    let facts = facts_from_bytes(bytes)?;
    let version =
        facts.version_info.as_ref().filter(|v| v.signature == FIXED_FILE_INFO_SIGNATURE).map(|v| v.file_version);
    let languages = facts.version_info.map(|v| v.languages).unwrap_or_default();
    let (native, ec) = arm64x::views(bytes)?;
    Ok(Some(PeInfo {
        machine: facts.machine,
        hybrid: facts.chpe_metadata_version.is_some(),
        version,
        languages,
        forwards_native: forward_dlls(&native),
        forwards_ec: ec.as_ref().map(forward_dlls).unwrap_or_default(),
    }))
}

/// The DLL file names (lower case, `.dll` appended as the loader does) a pure forwarder view
/// forwards to; empty for a view with code (a DLL that forwards one export to a system DLL is
/// not a forwarder the package must carry the targets of).
fn forward_dlls(view: &arm64x::View) -> Vec<String> {
    if !view.is_pure_forwarder() {
        return Vec::new();
    }
    let mut out: Vec<String> = view
        .exports
        .iter()
        .filter_map(|e| e.target.forward_dll())
        .map(|dll| format!("{}.dll", dll.to_lowercase()))
        .collect();
    out.sort();
    out.dedup();
    out
}
