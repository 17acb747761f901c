//! Where the fields are, for structure-aware mutation: the compound file's directory entries
//! (and its header and FAT sectors), a cabinet's header, CFFOLDER and CFFILE entries, and a PE
//! image's headers, section table, export directory and DVRT. Every function only reads what it
//! has bounds-checked and returns file offsets; a malformed input gives fewer places, never a
//! panic.

fn u16_at(data: &[u8], at: usize) -> Option<u16> {
    data.get(at..at.checked_add(2)?)?.try_into().ok().map(u16::from_le_bytes)
}

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    data.get(at..at.checked_add(4)?)?.try_into().ok().map(u32::from_le_bytes)
}

/// A field: where it is and how wide (1, 2 or 4 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    pub at: usize,
    pub width: usize,
}

const fn field(at: usize, width: usize) -> Field {
    Field { at, width }
}

// ---- compound file (MS-CFB) ------------------------------------------------------------------

/// The compound file's sector size and the file offsets of its directory entries (128 bytes
/// each), following the directory chain through the FAT sectors the header lists.
pub fn cfb_directory_entries(data: &[u8]) -> Vec<usize> {
    let mut out = Vec::new();
    let Some(shift) = u16_at(data, 0x1E).filter(|s| *s == 9 || *s == 12) else { return out };
    let size = 1usize << shift;
    let fat_sectors: Vec<u32> =
        (0..109).filter_map(|i| u32_at(data, 0x4C + 4 * i)).filter(|s| *s < 0xFFFF_FFFA).collect();
    let next = |sector: u32| -> Option<u32> {
        let per = (size / 4) as u32;
        let fat = *fat_sectors.get((sector / per) as usize)?;
        u32_at(data, (fat as usize + 1) * size + 4 * (sector % per) as usize)
    };
    let mut sector = u32_at(data, 0x30).unwrap_or(u32::MAX);
    let mut steps = 0;
    while sector < 0xFFFF_FFFA && steps < 4096 {
        let start = (sector as usize + 1) * size;
        for entry in (start..start + size).step_by(128) {
            if entry + 128 <= data.len() {
                out.push(entry);
            }
        }
        sector = next(sector).unwrap_or(u32::MAX);
        steps += 1;
    }
    out
}

/// The fields of one directory entry worth mutating: name length, type, colour, the three
/// sibling/child ids, starting sector and stream size.
pub fn cfb_entry_fields(entry: usize) -> [Field; 8] {
    [
        field(entry + 0x40, 2),
        field(entry + 0x42, 1),
        field(entry + 0x43, 1),
        field(entry + 0x44, 4),
        field(entry + 0x48, 4),
        field(entry + 0x4C, 4),
        field(entry + 0x74, 4),
        field(entry + 0x78, 4),
    ]
}

/// Header fields: sector shifts, sector counts, first directory / mini-FAT / DIFAT sectors, the
/// first FAT sector numbers.
pub fn cfb_header_fields() -> Vec<Field> {
    let mut out = vec![
        field(0x1E, 2),
        field(0x20, 2),
        field(0x2C, 4),
        field(0x30, 4),
        field(0x38, 4),
        field(0x3C, 4),
        field(0x40, 4),
        field(0x44, 4),
        field(0x48, 4),
    ];
    out.extend((0..4).map(|i| field(0x4C + 4 * i, 4)));
    out
}

// ---- cabinet (MS-CAB) ------------------------------------------------------------------------

/// Offsets in `data` of every cabinet signature ("MSCF"), e.g. the embedded cabinet of an MSI.
pub fn cabinets(data: &[u8]) -> Vec<usize> {
    data.windows(4).enumerate().filter(|(_, w)| *w == b"MSCF").map(|(i, _)| i).collect()
}

/// (CFFOLDER offsets, CFFILE offsets) of the cabinet starting at `cab` (no reserve fields, as
/// the `cab` crate writes them).
pub fn cab_entries(data: &[u8], cab: usize) -> (Vec<usize>, Vec<usize>) {
    let folders = u16_at(data, cab + 26).unwrap_or(0) as usize;
    let files = u16_at(data, cab + 28).unwrap_or(0) as usize;
    let folder_list = (0..folders).map(|i| cab + 36 + 8 * i).filter(|a| a + 8 <= data.len()).collect();
    let mut file_list = Vec::new();
    let mut at = cab + u32_at(data, cab + 16).unwrap_or(0) as usize;
    for _ in 0..files {
        if at + 16 > data.len() {
            break;
        }
        file_list.push(at);
        match data.get(at + 16..).and_then(|rest| rest.iter().position(|&b| b == 0)) {
            Some(len) => at += 16 + len + 1,
            None => break,
        }
    }
    (folder_list, file_list)
}

/// Header fields: cbCabinet, coffFiles, version, cFolders, cFiles, flags.
pub fn cab_header_fields(cab: usize) -> [Field; 6] {
    [
        field(cab + 8, 4),
        field(cab + 16, 4),
        field(cab + 24, 2),
        field(cab + 26, 2),
        field(cab + 28, 2),
        field(cab + 30, 2),
    ]
}

/// CFFOLDER: coffCabStart, cCFData, typeCompress.
pub fn cab_folder_fields(folder: usize) -> [Field; 3] {
    [field(folder, 4), field(folder + 4, 2), field(folder + 6, 2)]
}

/// CFFILE: cbFile, uoffFolderStart, iFolder.
pub fn cab_file_fields(file: usize) -> [Field; 3] {
    [field(file, 4), field(file + 4, 4), field(file + 8, 2)]
}

// ---- PE ----------------------------------------------------------------------------------------

/// COFF and optional header fields, every section header's fields, every data directory, and
/// the export directory's and DVRT's first words when they can be found.
pub fn pe_fields(data: &[u8]) -> Vec<Field> {
    let mut out = vec![field(0x3C, 4)];
    let Some(nt) = u32_at(data, 0x3C).map(|v| v as usize) else { return out };
    let coff = nt + 4;
    out.extend([field(coff, 2), field(coff + 2, 2), field(coff + 16, 2), field(coff + 18, 2)]);
    let optional = coff + 20;
    let optional_size = u16_at(data, coff + 16).unwrap_or(0) as usize;
    let pe32_plus = u16_at(data, optional) == Some(0x20B);
    // Magic, AddressOfEntryPoint, SectionAlignment, FileAlignment, SizeOfImage, SizeOfHeaders,
    // DllCharacteristics, NumberOfRvaAndSizes.
    let count_at = if pe32_plus { 108 } else { 92 };
    out.extend(
        [0, 16, 32, 36, 56, 60, 70, count_at].map(|o| field(optional + o, if o == 0 || o == 70 { 2 } else { 4 })),
    );
    let dirs = optional + count_at + 4;
    for i in 0..16 {
        out.extend([field(dirs + 8 * i, 4), field(dirs + 8 * i + 4, 4)]);
    }
    let sections_at = optional + optional_size;
    let count = u16_at(data, coff + 2).unwrap_or(0).min(96) as usize;
    let mut sections = Vec::new();
    for i in 0..count {
        let s = sections_at + 40 * i;
        out.extend([8, 12, 16, 20, 36].map(|o| field(s + o, 4)));
        if let (Some(va), Some(raw_size), Some(raw)) =
            (u32_at(data, s + 12), u32_at(data, s + 16), u32_at(data, s + 20))
        {
            sections.push((va, raw_size, raw));
        }
    }
    let to_file = |rva: u32| {
        sections
            .iter()
            .find(|(va, size, _)| rva >= *va && rva - va < *size)
            .map(|(va, _, raw)| *raw as usize + (rva - va) as usize)
    };
    // Export directory: Characteristics … AddressOfNameOrdinals.
    if let Some(export) = u32_at(data, dirs).and_then(to_file) {
        out.extend((0..10).map(|i| field(export + 4 * i, 4)));
    }
    // Load config → DVRT (PE32+: DynamicValueRelocTableOffset/Section at 0xE0/0xE4).
    if let Some(config) = u32_at(data, dirs + 8 * 10).and_then(to_file) {
        out.extend([field(config, 4), field(config + 0xC8, 4), field(config + 0xE0, 4), field(config + 0xE4, 2)]);
        let section = u16_at(data, config + 0xE4).unwrap_or(0) as usize;
        if let (Some(offset), Some(&(_, _, raw))) =
            (u32_at(data, config + 0xE0), section.checked_sub(1).and_then(|i| sections.get(i)))
        {
            let dvrt = raw as usize + offset as usize;
            out.extend((0..8).map(|i| field(dvrt + 4 * i, 4)));
        }
    }
    out.retain(|f| f.at + f.width <= data.len());
    out
}
