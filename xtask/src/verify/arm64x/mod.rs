//! An independent reader of ARM64X images (docs/arm64x-forwarder.md): it finds the dynamic value
//! relocation table (DVRT) through the native load configuration, decodes the ARM64X fixups and
//! applies them to a copy of the file, which gives the EC view that x64 and ARM64EC processes
//! see. It shares no code with the forwarder writer, so the writer cannot hide a mistake behind
//! its own parser.
//!
//! Every length is checked before it is used; corrupt input ends in an error that names the
//! file offset (or RVA) of the bad field, never in a panic. [`view`] turns either view's bytes
//! into the [`View`] the checks and `describe` work on.

mod headers;
mod view;

pub use view::{ExportTarget, StrayForwarder, View, ViewExport, views};

use std::ops::Range;

use anyhow::{Context, Result, bail};

use headers::{Headers, u16_at, u32_at, u64_at};

// Its own numbers, not `matrix::machine`'s, which the forwarder writer uses: this reader checks
// that writer, so it shares nothing with it (the module comment above).
pub const MACHINE_AMD64: u16 = 0x8664;
pub const MACHINE_ARM64: u16 = 0xAA64;

/// `IMAGE_DYNAMIC_RELOCATION_ARM64X`, the DVRT symbol whose fixups turn the native view into the
/// EC view (docs/arm64x-forwarder.md §7.2).
pub const DVRT_SYMBOL_ARM64X: u64 = 6;

const LOAD_CONFIG_DIRECTORY: usize = 10;
/// IMAGE_LOAD_CONFIG_DIRECTORY64 offsets (docs/arm64x-forwarder.md §4.1).
const DVRT_OFFSET_FIELD: usize = 0xE0;
const DVRT_SECTION_FIELD: usize = 0xE4;

/// What the ARM64X dynamic relocations of an image say, and the EC view they give.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Arm64x {
    /// The fixups in table order.
    pub fixups: Vec<Fixup>,
    /// The file's bytes with every fixup applied (headers at RVA 0 = file offset 0, everything
    /// else through the section table), i.e. the EC view laid out as a file.
    pub ec_image: Vec<u8>,
    /// RVA of the DVRT (its 8-byte table header included).
    pub dvrt_rva: u32,
    /// Bytes of the DVRT: the 8-byte header plus its `Size`.
    pub dvrt_size: u32,
    /// The DVRT's `Version` (1 as lld writes it, or 2).
    pub dvrt_version: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fixup {
    /// Image RVA of the patched bytes (block PageRVA + the word's 12-bit offset).
    pub rva: u32,
    pub kind: FixupKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FixupKind {
    /// Write this many zero bytes (2, 4 or 8; 1 is possible in the encoding).
    ZeroFill(u8),
    /// Overwrite with these bytes (little endian as stored; 2, 4 or 8 of them).
    Value(Vec<u8>),
    /// Add this to the 32-bit value at the target.
    Delta(i64),
}

impl FixupKind {
    /// How many bytes of the image the fixup touches.
    pub fn len(&self) -> u32 {
        match self {
            FixupKind::ZeroFill(n) => u32::from(*n),
            FixupKind::Value(bytes) => bytes.len() as u32,
            FixupKind::Delta(_) => 4,
        }
    }
}

/// Checks the bounds a loader enforces on a PE image (headers and every section's raw data
/// inside the file, sections inside SizeOfImage, …); the message names the broken bound.
pub fn check_layout(data: &[u8]) -> Result<()> {
    Headers::parse(data).map(drop)
}

/// Reads the ARM64X dynamic relocations of `data` and applies them. `None` for an image that is
/// not ARM64X: PE32, no load config, a load config too small for the DVRT fields (Wine's rule:
/// min(directory size, `Size`) must exceed 0xE4), `DynamicValueRelocTableSection` 0, or a DVRT
/// without an ARM64X entry. Errors name the file offset of the bad field.
pub fn read(data: &[u8]) -> Result<Option<Arm64x>> {
    let headers = Headers::parse(data)?;
    let Some(place) = locate_dvrt(&headers, data)? else {
        return Ok(None);
    };
    let table = DvrtTable::parse(data, place.file)?;
    let Some(fixup_bytes) = table.arm64x_fixups(data)? else {
        return Ok(None);
    };
    let fixups = decode_fixups(data, fixup_bytes)?;
    let mut ec_image = data.to_vec();
    for fixup in &fixups {
        apply(&headers, &mut ec_image, fixup)?;
    }
    Ok(Some(Arm64x { fixups, ec_image, dvrt_rva: place.rva, dvrt_size: table.total_size, dvrt_version: table.version }))
}

// ---- DVRT -----------------------------------------------------------------------------------

/// Where the native load config says the DVRT is, or `None` if it names none.
fn locate_dvrt(headers: &Headers, data: &[u8]) -> Result<Option<DvrtPlace>> {
    if !headers.pe32_plus {
        return Ok(None);
    }
    let Some((lc_rva, dir_size)) = headers.directory(LOAD_CONFIG_DIRECTORY) else {
        return Ok(None);
    };
    let size_at = headers.file_range(lc_rva, 4).with_context(|| {
        format!("load config RVA {lc_rva:#x} (data directory 10) is not inside the headers or any section's raw data")
    })?;
    let struct_size = u32_at(data, size_at.start).unwrap_or_default();
    // Wine: effective size = min(directory Size, structure Size) must exceed 0xE4
    // (docs/arm64x-forwarder.md §4.1, §9).
    if dir_size.min(struct_size) as usize <= DVRT_SECTION_FIELD {
        return Ok(None);
    }
    let fields = headers
        .file_range(lc_rva, (DVRT_SECTION_FIELD + 2) as u32)
        .with_context(|| {
            format!(
                "load config at RVA {lc_rva:#x} (file offset {:#x}): Size {struct_size:#x} covers the DVRT fields but the section's raw data ends before +{:#x}",
                size_at.start,
                DVRT_SECTION_FIELD + 2
            )
        })?;
    let offset_at = fields.start + DVRT_OFFSET_FIELD;
    let section_at = fields.start + DVRT_SECTION_FIELD;
    let offset = u32_at(data, offset_at).unwrap_or_default();
    let section_index = u16_at(data, section_at).unwrap_or_default();
    if section_index == 0 {
        return Ok(None);
    }
    let Some(section) = headers.sections.get(usize::from(section_index) - 1) else {
        bail!(
            "file offset {section_at:#x}: DynamicValueRelocTableSection is {section_index} but the image has {} sections",
            headers.sections.len()
        );
    };
    if offset >= section.virtual_size {
        bail!(
            "file offset {offset_at:#x}: DynamicValueRelocTableOffset {offset:#x} is not below VirtualSize {:#x} of section {section_index} ({})",
            section.virtual_size,
            section.name
        );
    }
    let Some(rva) = section.virtual_address.checked_add(offset) else {
        bail!("file offset {offset_at:#x}: DVRT RVA overflows");
    };
    // The table must lie in the part of the section that is both mapped and stored.
    let stored = section.virtual_size.min(section.raw_size);
    let limit = (section.raw_offset as usize + stored as usize).min(data.len());
    let at = section.raw_offset as usize + offset as usize;
    if offset >= stored || at >= limit {
        bail!(
            "file offset {offset_at:#x}: the DVRT at offset {offset:#x} of section {section_index} ({}) is outside its raw data",
            section.name
        );
    }
    Ok(Some(DvrtPlace { file: at..limit, rva }))
}

/// Where the DVRT starts, and the end of the section data it must fit in.
struct DvrtPlace {
    file: Range<usize>,
    rva: u32,
}

struct DvrtTable {
    version: u32,
    /// File offsets of the entries after the 8-byte header.
    entries: Range<usize>,
    total_size: u32,
}

impl DvrtTable {
    /// Reads the 8-byte table header at `place.start`; the table must end by `place.end`.
    fn parse(data: &[u8], place: Range<usize>) -> Result<DvrtTable> {
        let at = place.start;
        if place.len() < 8 {
            bail!(
                "file offset {at:#x}: the DVRT header (8 bytes) runs past the end of its section data at {:#x}",
                place.end
            );
        }
        let version = u32_at(data, at).unwrap_or_default();
        let size = u32_at(data, at + 4).unwrap_or_default();
        if version != 1 && version != 2 {
            bail!("file offset {at:#x}: DVRT Version {version} is neither 1 nor 2");
        }
        let end = (at + 8).checked_add(size as usize).filter(|&end| end <= place.end);
        let Some(end) = end else {
            bail!(
                "file offset {:#x}: DVRT Size {size:#x} runs past the end of its section data at {:#x}",
                at + 4,
                place.end
            );
        };
        let total_size = size.checked_add(8).context("DVRT Size overflows")?;
        Ok(DvrtTable { version, entries: at + 8..end, total_size })
    }

    /// File range of the ARM64X entry's fixup blocks; `None` if the table has no such entry.
    /// Version 1 entries are packed 12-byte {Symbol u64, BaseRelocSize u32}; version 2 entries
    /// are self-sized {HeaderSize, FixupInfoSize, Symbol u64, SymbolGroup,
    /// Flags} (docs/arm64x-forwarder.md §7.2); their fixups start HeaderSize bytes into the entry.
    fn arm64x_fixups(&self, data: &[u8]) -> Result<Option<Range<usize>>> {
        let mut found = None;
        let mut at = self.entries.start;
        while at < self.entries.end {
            let left = self.entries.end - at;
            let (symbol, fixups_at, fixups_len) = if self.version == 1 {
                if left < 12 {
                    bail!("file offset {at:#x}: {left} bytes left in the DVRT, too few for a 12-byte entry header");
                }
                (u64_at(data, at), at + 12, u32_at(data, at + 8))
            } else {
                if left < 24 {
                    bail!(
                        "file offset {at:#x}: {left} bytes left in the DVRT, too few for a 24-byte version-2 entry header"
                    );
                }
                let header_size = u32_at(data, at).unwrap_or_default() as usize;
                if !(24..=left).contains(&header_size) {
                    bail!(
                        "file offset {at:#x}: version-2 HeaderSize {header_size:#x} is below 24 or past the table end"
                    );
                }
                (u64_at(data, at + 8), at + header_size, u32_at(data, at + 4))
            };
            let (symbol, fixups_len) = (symbol.unwrap_or_default(), fixups_len.unwrap_or_default() as usize);
            let fixups_end = fixups_at.checked_add(fixups_len).filter(|&e| e <= self.entries.end);
            let Some(fixups_end) = fixups_end else {
                bail!(
                    "file offset {at:#x}: DVRT entry for symbol {symbol} has {fixups_len:#x} bytes of fixups, past the table end at {:#x}",
                    self.entries.end
                );
            };
            if symbol == DVRT_SYMBOL_ARM64X {
                if found.is_some() {
                    bail!("file offset {at:#x}: a second ARM64X (symbol 6) entry in the DVRT");
                }
                found = Some(fixups_at..fixups_end);
            }
            at = fixups_end;
        }
        Ok(found)
    }
}

/// Decodes the fixup blocks in `range` (docs/arm64x-forwarder.md §7.2): {PageRVA, BlockSize} then 16-bit words; a zero
/// word ends a block early, a zero BlockSize ends the list (as in Wine).
fn decode_fixups(data: &[u8], range: Range<usize>) -> Result<Vec<Fixup>> {
    let mut fixups = Vec::new();
    let mut block = range.start;
    while block < range.end {
        let left = range.end - block;
        if left < 8 {
            bail!("file offset {block:#x}: {left} bytes left after the last fixup block, too few for a block header");
        }
        let page = u32_at(data, block).unwrap_or_default();
        let block_size = u32_at(data, block + 4).unwrap_or_default() as usize;
        if block_size == 0 {
            break;
        }
        if block_size < 8 || !block_size.is_multiple_of(2) {
            bail!("file offset {:#x}: BlockSize {block_size:#x} is below 8 or odd", block + 4);
        }
        if block_size > left {
            bail!(
                "file offset {:#x}: BlockSize {block_size:#x} runs past the end of the ARM64X fixups at {:#x}",
                block + 4,
                range.end
            );
        }
        let end = block + block_size;
        let mut at = block + 8;
        while at < end {
            let word = u16_at(data, at).unwrap_or_default();
            if word == 0 {
                break;
            }
            let word_at = at;
            at += 2;
            let offset = u32::from(word & 0xFFF);
            let arg = word >> 14;
            let Some(rva) = page.checked_add(offset) else {
                bail!("file offset {word_at:#x}: PageRVA {page:#x} + offset {offset:#x} overflows");
            };
            let kind = match (word >> 12) & 3 {
                0 => FixupKind::ZeroFill(1 << arg),
                1 => {
                    let size = 1usize << arg;
                    if size == 1 {
                        // Wine and llvm-readobj both skip (1 << 0) / 2 = 0 payload words here.
                        bail!("file offset {word_at:#x}: a 1-byte VALUE fixup, which loaders decode inconsistently");
                    }
                    let payload = data.get(at..at + size).filter(|_| at + size <= end);
                    let Some(payload) = payload else {
                        bail!(
                            "file offset {word_at:#x}: VALUE fixup of {size} bytes runs past its block end at {end:#x}"
                        );
                    };
                    at += size;
                    FixupKind::Value(payload.to_vec())
                }
                2 => {
                    let count = u16_at(data, at).filter(|_| at + 2 <= end);
                    let Some(count) = count else {
                        bail!(
                            "file offset {word_at:#x}: DELTA fixup without its count before the block end at {end:#x}"
                        );
                    };
                    at += 2;
                    let scale = if arg & 2 != 0 { 8 } else { 4 };
                    let delta = i64::from(count) * scale;
                    FixupKind::Delta(if arg & 1 != 0 { -delta } else { delta })
                }
                _ => bail!("file offset {word_at:#x}: fixup word {word:#06x} has type 3, which is not defined"),
            };
            fixups.push(Fixup { rva, kind });
        }
        block = end;
    }
    Ok(fixups)
}

fn apply(headers: &Headers, image: &mut [u8], fixup: &Fixup) -> Result<()> {
    let len = fixup.kind.len();
    let range = headers.file_range(fixup.rva, len).with_context(|| {
        format!("fixup at RVA {:#x} ({len} bytes) is outside the headers and every section's raw data", fixup.rva)
    })?;
    let target = &mut image[range];
    match &fixup.kind {
        FixupKind::ZeroFill(_) => target.fill(0),
        FixupKind::Value(bytes) => target.copy_from_slice(bytes),
        FixupKind::Delta(delta) => {
            // bound: a delta fixup's range is exactly 4 bytes (`FixupKind::len`), checked above.
            let old = u32::from_le_bytes(target[..4].try_into().unwrap());
            let new = old.wrapping_add(*delta as i32 as u32);
            target.copy_from_slice(&new.to_le_bytes());
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod fixture;

#[cfg(test)]
mod tests;
