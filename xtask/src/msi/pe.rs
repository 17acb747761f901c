//! A PE file's facts as Windows Installer and the loader see them ([`PeInfo`]): machine and
//! CHPE metadata and VERSIONINFO from `crate::verify`, plus what the verifier does not read:
//! the VarFileInfo\Translation languages (File.Language) and the DLLs each export view forwards
//! to, the EC view found through the ARM64X dynamic value relocations (arm64x-forwarder.md §5,
//! §7).

use anyhow::{Context, Result, bail};
use object::{
    FileKind, LittleEndian as LE, pe,
    read::pe::{ExportTable, ExportTarget, ImageNtHeaders, PeFile, ResourceDirectoryEntryData, ResourceNameOrId},
};

use super::model::PeInfo;
use crate::verify::{FIXED_FILE_INFO_SIGNATURE, facts_from_bytes};

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
    Ok(Some(PeInfo { machine: facts.machine, hybrid: facts.chpe_metadata_version.is_some(), version, languages, forwards_native, forwards_ec }))
}

type Extras = (Vec<u16>, Vec<String>, Vec<String>);

fn extras<Pe: ImageNtHeaders>(bytes: &[u8]) -> Result<Extras> {
    let file = PeFile::<Pe>::parse(bytes).context("PE headers")?;
    let languages = match version_blob(&file)? {
        Some(blob) => translation_languages(blob).context("VS_VERSIONINFO translation")?,
        None => Vec::new(),
    };
    let native = match file.export_table().context("export table")? {
        Some(table) => forward_dlls(&table)?,
        None => Vec::new(),
    };
    let ec = match ec_export_directory(&file).context("ARM64X dynamic relocations")? {
        Some((rva, size)) => {
            let data = file.section_table().pe_data_at(bytes, rva).and_then(|d| d.get(..size as usize));
            let data = data.with_context(|| format!("EC export directory at RVA {rva:#x} ({size:#x} bytes) is not inside a section"))?;
            forward_dlls(&ExportTable::parse(data, rva).context("EC export table")?)?
        }
        None => Vec::new(),
    };
    Ok((languages, native, ec))
}

/// The DLL file names (lower case, `.dll` appended as the loader does) that exports forward to.
fn forward_dlls(table: &ExportTable<'_>) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for export in table.exports().context("exports")? {
        let dll = match export.target {
            ExportTarget::ForwardByName(dll, _) | ExportTarget::ForwardByOrdinal(dll, _) => dll,
            ExportTarget::Address(_) => continue,
        };
        let name = format!("{}.dll", String::from_utf8_lossy(dll).to_lowercase());
        if !out.contains(&name) {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
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
    Ok(Node { key: String::from_utf16_lossy(&units), value: (value_start.min(end), value_end), children: (((value_end + 3) & !3).min(end), end) })
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

const DVRT_OFFSET: usize = 0xE0;
const IMAGE_DYNAMIC_RELOCATION_ARM64X: u64 = 6;

/// (RVA, size) of the EC view's export directory: the values the ARM64X dynamic relocations
/// write over data directory 0 (arm64x-forwarder.md §7.2–7.3). `None` for any other image.
fn ec_export_directory<Pe: ImageNtHeaders>(file: &PeFile<'_, Pe>) -> Result<Option<(u32, u32)>> {
    if !file.nt_headers().is_type_64() {
        return Ok(None);
    }
    let Some(dir) = file.data_directory(pe::IMAGE_DIRECTORY_ENTRY_LOAD_CONFIG) else { return Ok(None) };
    let sections = file.section_table();
    let Some(config) = sections.pe_data_at(file.data(), dir.virtual_address.get(LE)) else { return Ok(None) };
    let size = read_u32(config, 0).unwrap_or(0) as usize;
    if size < DVRT_OFFSET + 6 || config.len() < DVRT_OFFSET + 6 {
        return Ok(None);
    }
    let offset = read_u32(config, DVRT_OFFSET).unwrap_or(0) as usize;
    let section_index = u16::from_le_bytes([config[DVRT_OFFSET + 4], config[DVRT_OFFSET + 5]]);
    if section_index == 0 {
        return Ok(None);
    }
    let section = sections.section(object::SectionIndex(section_index.into())).context("DynamicValueRelocTableSection")?;
    let data = section.pe_data(file.data()).context("DVRT section")?;
    let table = data.get(offset..).context("DynamicValueRelocTableOffset is past its section")?;
    let (version, total) = (read_u32(table, 0).context("DVRT header")?, read_u32(table, 4).context("DVRT header")? as usize);
    if version != 1 {
        return Ok(None);
    }
    // Data directory 0 sits after the PE signature, the file header and the fixed part of the
    // PE32+ optional header.
    let directory0 = (file.dos_header().nt_headers_offset() as usize + 4 + 20 + 112) as u32;
    let (mut rva, mut size) = (None, None);
    let mut at = 8;
    while at + 12 <= 8 + total.min(table.len() - 8) {
        let symbol = read_u64(table, at).context("DVRT entry")?;
        let relocs = read_u32(table, at + 8).context("DVRT entry")? as usize;
        let blocks = table.get(at + 12..at + 12 + relocs).context("DVRT entry runs past the table")?;
        if symbol == IMAGE_DYNAMIC_RELOCATION_ARM64X {
            for (target, value) in arm64x_values(blocks)? {
                if target == directory0 {
                    rva = Some(value);
                } else if target == directory0 + 4 {
                    size = Some(value);
                }
            }
        }
        at += 12 + relocs;
    }
    Ok(rva.zip(size))
}

/// The 4-byte VALUE fixups of ARM64X relocation blocks: (target RVA, new value).
fn arm64x_values(mut blocks: &[u8]) -> Result<Vec<(u32, u32)>> {
    let mut out = Vec::new();
    while blocks.len() >= 8 {
        let page = read_u32(blocks, 0).context("fixup block")?;
        let block_size = read_u32(blocks, 4).context("fixup block")? as usize;
        let block = blocks.get(8..block_size).with_context(|| format!("fixup block of {block_size:#x} bytes runs past its entry"))?;
        let mut at = 0;
        while at + 2 <= block.len() {
            let word = u16::from_le_bytes([block[at], block[at + 1]]);
            if word == 0 {
                break;
            }
            at += 2;
            let target = page + u32::from(word & 0xFFF);
            match (word >> 12) & 3 {
                0 => {}
                1 => {
                    let bytes = 1usize << (word >> 14);
                    if bytes == 4 {
                        out.push((target, read_u32(block, at).context("VALUE fixup cut off")?));
                    }
                    at += bytes;
                }
                2 => at += 2,
                _ => bail!("unknown ARM64X fixup type in word {word:#06x}"),
            }
        }
        blocks = &blocks[block_size.max(8)..];
    }
    Ok(out)
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn read_u64(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}
