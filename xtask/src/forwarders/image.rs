//! The Arm64X pure forwarder image, written byte by byte without a linker, following
//! docs/arm64x-forwarder.md §2–§10: headers, `.rdata` (both load configurations, CHPE metadata v2,
//! the loader's helper slots, both export tables), `.a64xrm`, an optional `.rsrc` holding
//! VS_VERSIONINFO, and `.reloc` with the base relocations and the ARM64X dynamic value
//! relocations that turn the native (ARM64) view into the EC (x64) view.
//!
//! The layout is lld-link 23's, packing included, so that the golden tests can compare the two
//! byte for byte: given `/release` (for the checksum, §10) and the same `/timestamp:`, lld-link
//! writes the same file.

use super::exports::Table;
use crate::matrix::machine;

/// Everything one forwarder file holds.
#[derive(Clone, Debug)]
pub struct Image<'a> {
    /// The file name, stored in both export tables (lld uses the `/out` name, §5).
    pub dll_name: &'a str,
    /// What ARM64 processes see.
    pub native: &'a Table,
    /// What x64 and ARM64EC processes see after the loader applies the ARM64X fixups.
    pub ec: &'a Table,
    /// A VS_VERSIONINFO blob and its resource language, shared by both views (§8).
    pub version: Option<(&'a [u8], u16)>,
    /// COFF TimeDateStamp: SOURCE_DATE_EPOCH or 0 (§10).
    pub timestamp: u32,
}

// Fixed parameters of lld-link 23's output (§2, §3).
const PE_OFFSET: u32 = 0x78;
const COFF_HEADER: usize = 0x7C;
const OPTIONAL_HEADER: usize = 0x90;
const SECTION_TABLE: usize = 0x180;
const SIZE_OF_HEADERS: u32 = 0x400;
const SECTION_ALIGNMENT: u32 = 0x1000;
const FILE_ALIGNMENT: u32 = 0x200;
const IMAGE_BASE: u64 = 0x1_8000_0000;

// Data directory fields, as header RVAs (= file offsets): the ARM64X fixup targets (§3.3).
const DIR_EXPORT: usize = 0x100;
const DIR_RESOURCE: usize = 0x110;
const DIR_BASERELOC: usize = 0x128;
const DIR_LOAD_CONFIG: usize = 0x150;
const CHECKSUM: usize = 0xD0;

// `.rdata` (§4.3): native load config, EC load config, CHPE metadata v2 padded to 8, 8 slots.
const LOAD_CONFIG_SIZE: u32 = 0x140;
const EC_LOAD_CONFIG: u32 = LOAD_CONFIG_SIZE;
const CHPE: u32 = 2 * LOAD_CONFIG_SIZE;
const CHPE_V2_SIZE: u32 = 0x5C;
const SLOTS: u32 = CHPE + CHPE_V2_SIZE.next_multiple_of(8); // 0x5C bytes, 4 of padding
const SLOT_COUNT: u32 = 8;
const EXPORTS: u32 = SLOTS + 8 * SLOT_COUNT;

// IMAGE_LOAD_CONFIG_DIRECTORY64 fields (§4.1).
const LC_CHPE_POINTER: u32 = 0xC8;
const LC_DVRT_OFFSET: u32 = 0xE0;
const LC_DVRT_SECTION: u32 = 0xE4;

/// IMAGE_SCN_CNT_INITIALIZED_DATA | IMAGE_SCN_MEM_READ, and | DISCARDABLE for `.reloc`.
const READ_ONLY_DATA: u32 = 0x4000_0040;
const DISCARDABLE_DATA: u32 = 0x4200_0040;

struct Section {
    name: &'static [u8; 8],
    rva: u32,
    data: Vec<u8>,
    characteristics: u32,
}

/// The whole file.
pub fn write(image: &Image) -> Vec<u8> {
    let rdata_rva = SECTION_ALIGNMENT;
    let a64xrm_rva = rdata_rva + align(rdata_size(image), SECTION_ALIGNMENT);
    let rsrc_rva = a64xrm_rva + SECTION_ALIGNMENT; // `.a64xrm` is 8 bytes
    let reloc_rva = rsrc_rva + if image.version.is_some() { SECTION_ALIGNMENT } else { 0 };

    let (rdata, exports) = rdata(image, rdata_rva, a64xrm_rva);
    let mut sections = vec![
        Section { name: b".rdata\0\0", rva: rdata_rva, data: rdata, characteristics: READ_ONLY_DATA },
        // ARM64X redirection metadata: just the all-zero terminator entry (§6).
        Section { name: b".a64xrm\0", rva: a64xrm_rva, data: vec![0; 8], characteristics: READ_ONLY_DATA },
    ];
    let mut resource_dir = None;
    if let Some((blob, language)) = image.version {
        let rsrc = resources(blob, language, rsrc_rva);
        resource_dir = Some((rsrc_rva, rsrc.len() as u32));
        sections.push(Section { name: b".rsrc\0\0\0", rva: rsrc_rva, data: rsrc, characteristics: READ_ONLY_DATA });
    }
    let reloc_section_index = sections.len() as u16 + 1;
    let (reloc, base_reloc_size) = relocations(rdata_rva, &exports);
    sections.push(Section { name: b".reloc\0\0", rva: reloc_rva, data: reloc, characteristics: DISCARDABLE_DATA });

    // Both load configurations point at the DVRT, which follows the base relocation block.
    let rdata = &mut sections[0].data;
    for lc in [0, EC_LOAD_CONFIG] {
        put_u32(rdata, lc + LC_DVRT_OFFSET, base_reloc_size);
        put_u16(rdata, lc + LC_DVRT_SECTION, reloc_section_index);
    }

    let mut file = headers(image, &sections);
    let native = exports.native;
    put_dir(&mut file, DIR_EXPORT, native.0, native.1);
    if let Some((rva, size)) = resource_dir {
        put_dir(&mut file, DIR_RESOURCE, rva, size);
    }
    put_dir(&mut file, DIR_BASERELOC, reloc_rva, base_reloc_size);
    put_dir(&mut file, DIR_LOAD_CONFIG, rdata_rva, LOAD_CONFIG_SIZE);
    for section in &sections {
        file.extend_from_slice(&section.data);
        file.resize(align(file.len() as u32, FILE_ALIGNMENT) as usize, 0);
    }
    let sum = checksum(&file);
    file[CHECKSUM..CHECKSUM + 4].copy_from_slice(&sum.to_le_bytes());
    file
}

/// The PE checksum (§10): the file as little-endian 16-bit words (an odd last byte zero-extended)
/// with the checksum field skipped, summed with end-around carry into 16 bits, plus the length.
/// Folding once at the end gives the same 16 bits as folding after every word.
pub fn checksum(file: &[u8]) -> u32 {
    let words = |bytes: &[u8]| -> u64 {
        bytes.chunks(2).map(|w| u64::from(u16::from_le_bytes([w[0], *w.get(1).unwrap_or(&0)]))).sum()
    };
    let mut sum = words(&file[..CHECKSUM.min(file.len())]) + words(file.get(CHECKSUM + 4..).unwrap_or_default());
    while sum > 0xFFFF {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    (sum as u32).wrapping_add(file.len() as u32)
}

/// Where each view's export table landed: (RVA, size).
struct ExportPlacement {
    native: (u32, u32),
    ec: (u32, u32),
}

fn rdata_size(image: &Image) -> u32 {
    EXPORTS + export_block_size(image.native, image.dll_name) + export_block_size(image.ec, image.dll_name)
}

fn rdata(image: &Image, rdata_rva: u32, a64xrm_rva: u32) -> (Vec<u8>, ExportPlacement) {
    let mut out = vec![0u8; EXPORTS as usize];
    let chpe_va = IMAGE_BASE + u64::from(rdata_rva + CHPE);
    for lc in [0, EC_LOAD_CONFIG] {
        put_u32(&mut out, lc, LOAD_CONFIG_SIZE);
        // lld copies the EC copy's pointer into the native copy (§4.1); both get a DIR64 reloc.
        put_u64(&mut out, lc + LC_CHPE_POINTER, chpe_va);
    }
    let native_rva = rdata_rva + EXPORTS;
    // CHPE metadata v2 (§4.2). The code map and entry-point ranges are empty; lld points them
    // at the zero-length spot where its empty chunks land, the start of the native exports.
    let slot = |i: u32| rdata_rva + SLOTS + 8 * i;
    let fields: [(u32, u32); 13] = [
        (0x00, 2),          // Version
        (0x04, native_rva), // CodeMap
        (0x0C, native_rva), // CodeRangesToEntryPoints
        (0x10, a64xrm_rva), // RedirectionMetadata
        (0x14, slot(0)),    // __os_arm64x_dispatch_call_no_redirect
        (0x18, slot(1)),    // __os_arm64x_dispatch_ret
        (0x1C, slot(2)),    // __os_arm64x_dispatch_call
        (0x20, slot(3)),    // __os_arm64x_dispatch_icall
        (0x24, slot(4)),    // __os_arm64x_dispatch_icall_cfg
        (0x38, slot(5)),    // GetX64InformationFunctionPointer
        (0x3C, slot(6)),    // SetX64InformationFunctionPointer
        (0x48, slot(7)),    // __os_arm64x_dispatch_fptr
        (0x50, 0),          // AuxDelayloadIAT (v2); counts and the rest stay 0
    ];
    for (offset, value) in fields {
        put_u32(&mut out, CHPE + offset, value);
    }
    let native = export_block(image.native, image.dll_name, native_rva);
    let ec_rva = native_rva + native.len() as u32;
    let ec = export_block(image.ec, image.dll_name, ec_rva);
    let placement = ExportPlacement { native: (native_rva, native.len() as u32), ec: (ec_rva, ec.len() as u32) };
    out.extend_from_slice(&native);
    out.extend_from_slice(&ec);
    (out, placement)
}

fn export_block_size(table: &Table, dll_name: &str) -> u32 {
    let named = table.named().count() as u32;
    let strings: usize = table.named().map(|(n, _)| n.len() + 1).sum::<usize>()
        + table.entries.iter().map(|e| e.forward.len() + 1).sum::<usize>();
    40 + dll_name.len() as u32 + 1 + 4 * table.function_count() + 6 * named + strings as u32
}

/// IMAGE_EXPORT_DIRECTORY and everything it points at, packed as lld does (§5): directory, DLL
/// name, address table, name pointers, name ordinals, names, forwarder strings; no alignment.
/// Every forwarder string lies inside the block, which is how the loader knows it is one.
fn export_block(table: &Table, dll_name: &str, rva: u32) -> Vec<u8> {
    let functions = table.function_count();
    let named: Vec<(&str, u16)> = table.named().map(|(n, e)| (n, e.ordinal - table.base())).collect();
    let name_rva = rva + 40;
    let eat = name_rva + dll_name.len() as u32 + 1;
    let name_pointers = eat + 4 * functions;
    let ordinals = name_pointers + 4 * named.len() as u32;
    let mut strings_at = ordinals + 2 * named.len() as u32;

    let mut out = Vec::with_capacity(export_block_size(table, dll_name) as usize);
    out.extend_from_slice(&[0; 12]); // Characteristics, TimeDateStamp (lld writes 0), versions
    for field in [name_rva, u32::from(table.base()), functions, named.len() as u32, eat, name_pointers, ordinals] {
        out.extend_from_slice(&field.to_le_bytes());
    }
    push_cstr(&mut out, dll_name);
    let mut strings = Vec::new();
    let mut name_rvas = Vec::with_capacity(named.len());
    for (name, _) in &named {
        name_rvas.push(strings_at);
        strings_at += name.len() as u32 + 1;
        push_cstr(&mut strings, name);
    }
    let mut address_table = vec![0u32; functions as usize]; // unused ordinals stay 0
    for entry in &table.entries {
        address_table[usize::from(entry.ordinal - table.base())] = strings_at;
        strings_at += entry.forward.len() as u32 + 1;
        push_cstr(&mut strings, &entry.forward);
    }
    address_table.iter().for_each(|a| out.extend_from_slice(&a.to_le_bytes()));
    name_rvas.iter().for_each(|a| out.extend_from_slice(&a.to_le_bytes()));
    named.iter().for_each(|(_, index)| out.extend_from_slice(&index.to_le_bytes()));
    out.extend_from_slice(&strings);
    out
}

/// The resource tree for one RT_VERSION entry, ID 1, in `language` (§8): three one-entry
/// directories, the data entry (its OffsetToData is an image RVA), then the data at 0x60.
fn resources(blob: &[u8], language: u16, rsrc_rva: u32) -> Vec<u8> {
    const RT_VERSION: u32 = 16;
    const SUBDIRECTORY: u32 = 0x8000_0000;
    const DATA: u32 = 0x60;
    let mut out = Vec::with_capacity(DATA as usize + blob.len());
    for (id, target) in [(RT_VERSION, SUBDIRECTORY | 0x18), (1, SUBDIRECTORY | 0x30), (u32::from(language), 0x48)] {
        out.extend_from_slice(&[0; 14]); // Characteristics, TimeDateStamp, versions, 0 named
        out.extend_from_slice(&1u16.to_le_bytes()); // one ID entry
        out.extend_from_slice(&id.to_le_bytes());
        out.extend_from_slice(&target.to_le_bytes());
    }
    for field in [rsrc_rva + DATA, blob.len() as u32, 0, 0] {
        out.extend_from_slice(&field.to_le_bytes()); // OffsetToData, Size, CodePage, Reserved
    }
    out.resize(DATA as usize, 0);
    out.extend_from_slice(blob);
    // The section covers the directory size, which is rounded to 8 (lld does the same; readers
    // such as the `object` crate refuse a directory that runs past its section).
    out.resize(out.len().next_multiple_of(8), 0);
    out
}

/// `.reloc`: one base relocation block with the two DIR64 entries for the CHPEMetadataPointer
/// fields, then the DVRT with the five ARM64X VALUE fixups (§7). Returns the section and the
/// size of the base relocation blocks, which is also the DVRT's offset in the section.
fn relocations(rdata_rva: u32, exports: &ExportPlacement) -> (Vec<u8>, u32) {
    const DIR64: u16 = 10 << 12;
    let mut out = Vec::new();
    for field in [rdata_rva, 12] {
        out.extend_from_slice(&field.to_le_bytes()); // PageRVA of the load configs, BlockSize
    }
    for lc in [0, EC_LOAD_CONFIG] {
        out.extend_from_slice(&(DIR64 | (lc + LC_CHPE_POINTER) as u16).to_le_bytes());
    }
    let base_reloc_size = out.len() as u32;

    // Each fixup word: offset in page (bits 0–11), type VALUE = 1 (12–13), size code (14–15).
    let mut fixups = Vec::new();
    let mut value = |rva: usize, bytes: &[u8]| {
        let size_code: u16 = if bytes.len() == 2 { 1 } else { 2 };
        fixups.extend_from_slice(&((size_code << 14) | (1 << 12) | rva as u16).to_le_bytes());
        fixups.extend_from_slice(bytes);
    };
    value(COFF_HEADER, &machine::AMD64.to_le_bytes()); // ARM64EC images identify as AMD64 (§7.3)
    value(DIR_EXPORT, &exports.ec.0.to_le_bytes());
    value(DIR_EXPORT + 4, &exports.ec.1.to_le_bytes());
    value(DIR_LOAD_CONFIG, &(rdata_rva + EC_LOAD_CONFIG).to_le_bytes());
    value(DIR_LOAD_CONFIG + 4, &LOAD_CONFIG_SIZE.to_le_bytes());
    let block_size = align(8 + fixups.len() as u32, 4);
    fixups.resize(block_size as usize - 8, 0);

    const DVRT_VERSION: u32 = 1;
    const ARM64X_SYMBOL: u64 = 6;
    out.extend_from_slice(&DVRT_VERSION.to_le_bytes());
    out.extend_from_slice(&(12 + block_size).to_le_bytes()); // after this 8-byte header
    out.extend_from_slice(&ARM64X_SYMBOL.to_le_bytes());
    out.extend_from_slice(&block_size.to_le_bytes()); // BaseRelocSize
    out.extend_from_slice(&0u32.to_le_bytes()); // PageRVA 0: every target is a header field
    out.extend_from_slice(&block_size.to_le_bytes());
    out.extend_from_slice(&fixups);
    (out, base_reloc_size)
}

/// DOS header and stub, PE signature, COFF header, optional header and section table, padded
/// to SizeOfHeaders; data directories and the checksum are filled in by the caller.
fn headers(image: &Image, sections: &[Section]) -> Vec<u8> {
    let mut h = vec![0u8; SIZE_OF_HEADERS as usize];
    // DOS header (§3.1): MZ, e_cblp, e_cp, e_cparhdr, e_lfarlc, e_lfanew; then the stub.
    h[..4].copy_from_slice(b"MZ\x78\x00");
    put_u16(&mut h, 0x04, 1);
    put_u16(&mut h, 0x08, 4);
    put_u16(&mut h, 0x18, 0x40);
    put_u32(&mut h, 0x3C, PE_OFFSET);
    const STUB: &[u8] =
        b"\x0E\x1F\xBA\x0E\x00\xB4\x09\xCD\x21\xB8\x01\x4C\xCD\x21This program cannot be run in DOS mode.$";
    h[0x40..0x40 + STUB.len()].copy_from_slice(STUB);
    h[PE_OFFSET as usize..COFF_HEADER].copy_from_slice(b"PE\0\0");

    let mut raw_offset = SIZE_OF_HEADERS;
    let mut initialized_data = 0;
    for (i, section) in sections.iter().enumerate() {
        let raw_size = align(section.data.len() as u32, FILE_ALIGNMENT);
        let at = (SECTION_TABLE + 40 * i) as u32;
        h[at as usize..at as usize + 8].copy_from_slice(section.name);
        put_u32(&mut h, at + 8, section.data.len() as u32);
        put_u32(&mut h, at + 12, section.rva);
        put_u32(&mut h, at + 16, raw_size);
        put_u32(&mut h, at + 20, raw_offset);
        put_u32(&mut h, at + 36, section.characteristics);
        raw_offset += raw_size;
        initialized_data += raw_size;
    }
    let last = sections.last().expect("a forwarder has sections");
    let size_of_image = last.rva + align(last.data.len() as u32, SECTION_ALIGNMENT);

    // COFF file header (§3.2): ARM64 as stored; the DVRT makes it AMD64 in the EC view.
    let coff = COFF_HEADER as u32;
    put_u16(&mut h, coff, machine::ARM64);
    put_u16(&mut h, coff + 2, sections.len() as u16);
    put_u32(&mut h, coff + 4, image.timestamp);
    put_u16(&mut h, coff + 16, 0xF0); // SizeOfOptionalHeader
    put_u16(&mut h, coff + 18, 0x2022); // DLL | LARGE_ADDRESS_AWARE | EXECUTABLE_IMAGE

    // Optional header, PE32+ (§3.3). Entry point, code sizes, checksum stay 0 here.
    let opt = OPTIONAL_HEADER as u32;
    put_u16(&mut h, opt, 0x020B);
    h[opt as usize + 2] = 14; // linker version 14.0
    put_u32(&mut h, opt + 0x08, initialized_data);
    put_u64(&mut h, opt + 0x18, IMAGE_BASE);
    put_u32(&mut h, opt + 0x20, SECTION_ALIGNMENT);
    put_u32(&mut h, opt + 0x24, FILE_ALIGNMENT);
    put_u16(&mut h, opt + 0x28, 6); // operating system 6.0
    put_u16(&mut h, opt + 0x30, 6); // subsystem 6.0
    put_u32(&mut h, opt + 0x38, size_of_image);
    put_u32(&mut h, opt + 0x3C, SIZE_OF_HEADERS);
    put_u16(&mut h, opt + 0x44, 2); // IMAGE_SUBSYSTEM_WINDOWS_GUI
    // HIGH_ENTROPY_VA | DYNAMIC_BASE | NX_COMPAT; DYNAMIC_BASE is mandatory for ARM64X (§3.3).
    put_u16(&mut h, opt + 0x46, 0x0160);
    put_u64(&mut h, opt + 0x48, 0x10_0000); // stack reserve
    put_u64(&mut h, opt + 0x50, 0x1000); // stack commit
    put_u64(&mut h, opt + 0x58, 0x10_0000); // heap reserve
    put_u64(&mut h, opt + 0x60, 0x1000); // heap commit
    put_u32(&mut h, opt + 0x6C, 16); // NumberOfRvaAndSizes
    h
}

fn put_dir(file: &mut [u8], field: usize, rva: u32, size: u32) {
    put_u32(file, field as u32, rva);
    put_u32(file, field as u32 + 4, size);
}

fn align(value: u32, to: u32) -> u32 {
    value.div_ceil(to) * to
}

fn push_cstr(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(s.as_bytes());
    out.push(0);
}

fn put_u16(buf: &mut [u8], at: u32, value: u16) {
    buf[at as usize..at as usize + 2].copy_from_slice(&value.to_le_bytes());
}

fn put_u32(buf: &mut [u8], at: u32, value: u32) {
    buf[at as usize..at as usize + 4].copy_from_slice(&value.to_le_bytes());
}

fn put_u64(buf: &mut [u8], at: u32, value: u64) {
    buf[at as usize..at as usize + 8].copy_from_slice(&value.to_le_bytes());
}

#[cfg(test)]
mod tests;
