//! A PE file's facts as Windows Installer and the loader see them ([`PeInfo`]): machine, CHPE
//! metadata and VERSIONINFO from `crate::verify`, the DLLs each export view forwards to from the
//! verifier's independent ARM64X reader (`crate::verify::arm64x`, the EC view through the dynamic
//! value relocations), and what neither reads: the VarFileInfo\Translation languages
//! (File.Language, arm64x-forwarder.md §8.2).

use anyhow::{Context, Result, bail};
use object::{
    FileKind, LittleEndian as LE, pe,
    read::pe::{ImageNtHeaders, PeFile, ResourceDirectoryEntryData, ResourceNameOrId},
};

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
    let version = facts.version_info.as_ref().filter(|v| v.signature == FIXED_FILE_INFO_SIGNATURE).map(|v| v.file_version);
    let (languages, forwards_native, forwards_ec) = match kind {
        Some(FileKind::Pe64) => extras::<pe::ImageNtHeaders64>(bytes)?,
        _ => extras::<pe::ImageNtHeaders32>(bytes)?,
    };
    Ok(Some(PeInfo {
        machine: facts.machine,
        hybrid: facts.chpe_metadata_version.is_some(),
        version,
        languages,
        forwards_native,
        forwards_ec,
    }))
}

type Extras = (Vec<u16>, Vec<String>, Vec<String>);

fn extras<Pe: ImageNtHeaders>(bytes: &[u8]) -> Result<Extras> {
    let file = PeFile::<Pe>::parse(bytes).context("PE headers")?;
    let languages = match version_blob(&file)? {
        Some(blob) => translation_languages(blob).context("VS_VERSIONINFO translation")?,
        None => Vec::new(),
    };
    let (native, ec) = arm64x::views(bytes)?;
    Ok((languages, forward_dlls(&native), ec.as_ref().map(forward_dlls).unwrap_or_default()))
}

/// The DLL file names (lower case, `.dll` appended as the loader does) a pure forwarder view
/// forwards to; empty for a view with code (a DLL that forwards one export to a system DLL is
/// not a forwarder the package must carry the targets of).
fn forward_dlls(view: &arm64x::View) -> Vec<String> {
    if !view.is_pure_forwarder() {
        return Vec::new();
    }
    let mut out: Vec<String> =
        view.exports.iter().filter_map(|e| e.target.forward_dll()).map(|dll| format!("{}.dll", dll.to_lowercase())).collect();
    out.sort();
    out.dedup();
    out
}

const RT_VERSION: u16 = 16;

/// The first RT_VERSION resource's bytes (first name, first language), as the verifier reads it.
fn version_blob<'data, Pe: ImageNtHeaders>(file: &PeFile<'data, Pe>) -> Result<Option<&'data [u8]>> {
    let sections = file.section_table();
    let Some(rsrc) = file.data_directories().resource_directory(file.data(), &sections).context("resource directory")? else {
        return Ok(None);
    };
    let mut table = rsrc.root().context("resource directory")?;
    let Some(mut entry) = table.entries.iter().find(|e| matches!(e.name_or_id(), ResourceNameOrId::Id(RT_VERSION))) else {
        return Ok(None);
    };
    loop {
        match entry.data(rsrc).context("resource directory")? {
            ResourceDirectoryEntryData::Table(next) => {
                table = next;
                entry = table.entries.first().context("resource directory: an empty RT_VERSION level")?;
            }
            ResourceDirectoryEntryData::Data(data) => {
                let (rva, size) = (data.offset_to_data.get(LE), data.size.get(LE));
                let blob = sections.pe_data_at(file.data(), rva).and_then(|b| b.get(..size as usize));
                return blob.map(Some).with_context(|| format!("RT_VERSION data at RVA {rva:#x} is not inside a section"));
            }
        }
    }
}

/// Language ids from `VarFileInfo\Translation` (low word of each DWORD), in file order.
pub fn translation_languages(blob: &[u8]) -> Result<Vec<u16>> {
    let root = node(blob, 0, blob.len())?;
    let mut out = Vec::new();
    for child in children(blob, &root)? {
        if child.key != "VarFileInfo" {
            continue;
        }
        for var in children(blob, &child)? {
            if var.key == "Translation" {
                let value = &blob[var.value.0..var.value.1];
                out.extend(value.chunks_exact(4).map(|c| u16::from_le_bytes([c[0], c[1]])));
            }
        }
    }
    Ok(out)
}

/// One VS_VERSIONINFO node: key, value range (bytes) and the end of its children.
struct Node {
    key: String,
    value: (usize, usize),
    children: (usize, usize),
}

fn u16_at(blob: &[u8], at: usize) -> Result<u16> {
    blob.get(at..at + 2).map(|b| u16::from_le_bytes([b[0], b[1]])).with_context(|| format!("offset {at:#x}: cut off"))
}

fn node(blob: &[u8], start: usize, limit: usize) -> Result<Node> {
    let length = usize::from(u16_at(blob, start)?);
    let value_length = usize::from(u16_at(blob, start + 2)?);
    let text = u16_at(blob, start + 4)? == 1;
    let end = start + length;
    if length < 6 || end > limit {
        bail!("offset {start:#x}: wLength {length:#x} does not fit its parent");
    }
    let mut units = Vec::new();
    let mut at = start + 6;
    loop {
        match u16_at(blob, at)? {
            0 => break,
            unit => units.push(unit),
        }
        at += 2;
        if at >= end {
            bail!("offset {start:#x}: key is not NUL-terminated");
        }
    }
    let value_start = (at + 2 + 3) & !3;
    // The root's value length is in bytes whatever wType says; text values count UTF-16 units.
    let value_bytes = if text && start != 0 { 2 * value_length } else { value_length };
    let value_end = (value_start + value_bytes).min(end);
    Ok(Node {
        key: String::from_utf16_lossy(&units),
        value: (value_start.min(end), value_end),
        children: (((value_end + 3) & !3).min(end), end),
    })
}

fn children(blob: &[u8], parent: &Node) -> Result<Vec<Node>> {
    let (mut at, end) = parent.children;
    let mut out = Vec::new();
    while at + 6 <= end && blob[at..end].iter().any(|&b| b != 0) {
        let child = node(blob, at, end)?;
        at = (at + usize::from(u16_at(blob, at)?) + 3) & !3;
        out.push(child);
    }
    Ok(out)
}
