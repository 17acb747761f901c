//! The cabinet's structure checked before the `cab` crate sees it (MS-CAB §2): the header, every
//! CFFOLDER, CFFILE and CFDATA inside the bytes, each file inside its folder's uncompressed data,
//! and stored (uncompressed) blocks as long as they say. `cab` 0.6.0 indexes past its block list
//! for a file whose folder offset lies beyond the folder (folder.rs:134) and underflows on a
//! stored block shorter than its declared size (folder.rs:232); here both are errors.

use anyhow::{Context, Result, bail};

const RESERVE_PRESENT: u16 = 0x0004;
const PREV_CABINET: u16 = 0x0001;
const NEXT_CABINET: u16 = 0x0002;
/// MSZIP and LZX blocks hold at most 32 KiB of uncompressed data (MS-CAB §2.4).
const MAX_BLOCK: u32 = 0x8000;

fn u8_at(data: &[u8], at: usize, what: &str) -> Result<u8> {
    data.get(at).copied().with_context(|| format!("offset {at:#x}: the cabinet ends before {what}"))
}

fn u16_at(data: &[u8], at: usize, what: &str) -> Result<u16> {
    let bytes = data.get(at..at.saturating_add(2)).and_then(|b| b.try_into().ok());
    bytes.map(u16::from_le_bytes).with_context(|| format!("offset {at:#x}: the cabinet ends before {what}"))
}

fn u32_at(data: &[u8], at: usize, what: &str) -> Result<u32> {
    let bytes = data.get(at..at.saturating_add(4)).and_then(|b| b.try_into().ok());
    bytes.map(u32::from_le_bytes).with_context(|| format!("offset {at:#x}: the cabinet ends before {what}"))
}

/// The offset just past a NUL-terminated string at `at`.
fn skip_string(data: &[u8], at: usize, what: &str) -> Result<usize> {
    let rest = data.get(at..).with_context(|| format!("offset {at:#x}: the cabinet ends before {what}"))?;
    let len =
        rest.iter().position(|&b| b == 0).with_context(|| format!("offset {at:#x}: {what} has no terminating NUL"))?;
    Ok(at + len + 1)
}

/// Checks the layout of a single-cabinet file set; an error names the offset and the field.
pub fn check(data: &[u8]) -> Result<()> {
    if data.get(..4) != Some(b"MSCF") {
        bail!("offset 0x0: no \"MSCF\" signature: not a cabinet");
    }
    let folders = usize::from(u16_at(data, 26, "cFolders")?);
    let files = usize::from(u16_at(data, 28, "cFiles")?);
    let flags = u16_at(data, 30, "flags")?;
    let files_at = u32_at(data, 16, "coffFiles")? as usize;
    if flags & (PREV_CABINET | NEXT_CABINET) != 0 {
        bail!(
            "offset 0x1e: the cabinet is part of a multi-cabinet set (flags {flags:#06x}); an MSI's embedded cabinet stands alone"
        );
    }
    let (mut at, folder_reserve, data_reserve) = if flags & RESERVE_PRESENT != 0 {
        let header_reserve = usize::from(u16_at(data, 36, "cbCFHeader")?);
        (40 + header_reserve, usize::from(u8_at(data, 38, "cbCFFolder")?), usize::from(u8_at(data, 39, "cbCFData")?))
    } else {
        (36, 0, 0)
    };
    // Each folder's total uncompressed size.
    let mut sizes = Vec::with_capacity(folders);
    for i in 0..folders {
        let start = u32_at(data, at, "a CFFOLDER")? as usize;
        let blocks = u16_at(data, at + 4, "a CFFOLDER")?;
        let compression = u16_at(data, at + 6, "a CFFOLDER")? & 0x000F;
        if compression > 3 {
            bail!("offset {:#x}: folder {i} has compression type {compression}, which MS-CAB does not define", at + 6);
        }
        sizes.push(check_blocks(data, i, start, blocks, compression == 0, data_reserve)?);
        at += 8 + folder_reserve;
    }
    let mut at = files_at;
    for i in 0..files {
        let size = u64::from(u32_at(data, at, "a CFFILE")?);
        let offset = u64::from(u32_at(data, at + 4, "a CFFILE")?);
        let folder = usize::from(u16_at(data, at + 8, "a CFFILE")?);
        let end = skip_string(data, at + 16, "a CFFILE name")?;
        let Some(&total) = sizes.get(folder) else {
            bail!("offset {:#x}: file {i} is in folder {folder:#x}, but the cabinet has {folders} folder(s)", at + 8);
        };
        if offset + size > total {
            bail!(
                "offset {:#x}: file {i} lies at [{offset:#x}, {:#x}) of its folder, which holds {total:#x} bytes uncompressed",
                at + 4,
                offset + size
            );
        }
        at = end;
    }
    Ok(())
}

/// Walks a folder's CFDATA blocks; returns its uncompressed size.
fn check_blocks(data: &[u8], folder: usize, start: usize, blocks: u16, stored: bool, reserve: usize) -> Result<u64> {
    let mut at = start;
    let mut total = 0u64;
    for b in 0..blocks {
        let packed = u16_at(data, at + 4, "a CFDATA")?;
        let unpacked = u16_at(data, at + 6, "a CFDATA")?;
        let end = at + 8 + reserve + usize::from(packed);
        if end > data.len() {
            bail!(
                "offset {at:#x}: block {b} of folder {folder} runs to {end:#x}, past the end of the cabinet ({:#x} bytes)",
                data.len()
            );
        }
        if u32::from(unpacked) > MAX_BLOCK {
            bail!(
                "offset {:#x}: block {b} of folder {folder} says {unpacked:#x} bytes uncompressed; a block holds at most 32 KiB",
                at + 6
            );
        }
        if stored && packed != unpacked {
            bail!(
                "offset {:#x}: stored block {b} of folder {folder} holds {packed:#x} bytes but says {unpacked:#x} uncompressed",
                at + 4
            );
        }
        total += u64::from(unpacked);
        at = end;
    }
    Ok(total)
}
