//! The PE headers as the ARM64X reader needs them (docs/arm64x-forwarder.md §3): DOS and COFF
//! header fields, the optional header's ImageBase, SizeOfHeaders and data directories, the
//! section table, and RVA-to-file translation (headers at RVA 0 = file offset 0, everything else
//! through a section's raw data). Every read is bounds-checked; errors name the file offset.

use std::ops::Range;

use anyhow::{Context, Result, bail};

/// The parts of the DOS, COFF and optional headers and the section table that the reader needs.
#[derive(Clone, Debug)]
pub(crate) struct Headers {
    pub machine: u16,
    pub characteristics: u16,
    pub pe32_plus: bool,
    pub image_base: u64,
    pub size_of_headers: u32,
    /// (RVA, Size) of each data directory that NumberOfRvaAndSizes declares.
    pub directories: Vec<(u32, u32)>,
    pub sections: Vec<Section>,
    file_len: usize,
}

/// Header fields read only to check the layout.
struct Layout {
    section_table_end: usize,
    section_alignment: u32,
    file_alignment: u32,
    size_of_image: u32,
}

#[derive(Clone, Debug)]
pub(crate) struct Section {
    pub name: String,
    pub virtual_size: u32,
    pub virtual_address: u32,
    pub raw_size: u32,
    pub raw_offset: u32,
    pub characteristics: u32,
}

pub(crate) fn u16_at(data: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(data.get(at..at.checked_add(2)?)?.try_into().ok()?))
}

pub(crate) fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(data.get(at..at.checked_add(4)?)?.try_into().ok()?))
}

pub(crate) fn u64_at(data: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(data.get(at..at.checked_add(8)?)?.try_into().ok()?))
}

/// `what` read at file offset `at`, or an error naming both.
fn need<T>(value: Option<T>, at: usize, what: &str) -> Result<T> {
    value.with_context(|| format!("file offset {at:#x}: the file ends before {what}"))
}

impl Headers {
    pub(crate) fn parse(data: &[u8]) -> Result<Headers> {
        if data.get(..2) != Some(b"MZ") {
            bail!("file offset 0x0: no \"MZ\" signature: not a PE image");
        }
        let nt = need(u32_at(data, 0x3C), 0x3C, "e_lfanew")? as usize;
        if data.get(nt..nt.saturating_add(4)) != Some(b"PE\0\0") {
            bail!("file offset {nt:#x} (e_lfanew): no \"PE\\0\\0\" signature");
        }
        let coff = nt + 4;
        let machine = need(u16_at(data, coff), coff, "the COFF Machine")?;
        let section_count = need(u16_at(data, coff + 2), coff + 2, "NumberOfSections")?;
        let optional_size = need(u16_at(data, coff + 16), coff + 16, "SizeOfOptionalHeader")?;
        let characteristics = need(u16_at(data, coff + 18), coff + 18, "Characteristics")?;
        let optional = coff + 20;
        let optional_end = optional + usize::from(optional_size);
        let magic = need(u16_at(data, optional), optional, "the optional header Magic")?;
        // (ImageBase, SizeOfHeaders, NumberOfRvaAndSizes, first data directory) offsets.
        let (pe32_plus, image_base, dir_count_at, dirs_at) = match magic {
            0x20B => (true, need(u64_at(data, optional + 24), optional + 24, "ImageBase")?, 108, 112),
            0x10B => {
                let base = need(u32_at(data, optional + 28), optional + 28, "ImageBase")?;
                (false, u64::from(base), 92, 96)
            }
            _ => bail!("file offset {optional:#x}: optional header Magic {magic:#06x} is neither PE32 nor PE32+"),
        };
        let size_of_headers = need(u32_at(data, optional + 60), optional + 60, "SizeOfHeaders")?;
        let at = optional + dir_count_at;
        let dir_count = need(u32_at(data, at), at, "NumberOfRvaAndSizes")? as usize;
        let dirs = optional + dirs_at;
        if dir_count > (optional_end.saturating_sub(dirs)) / 8 {
            bail!(
                "file offset {at:#x}: NumberOfRvaAndSizes {dir_count} does not fit in SizeOfOptionalHeader {optional_size:#x}"
            );
        }
        let mut directories = Vec::with_capacity(dir_count);
        for i in 0..dir_count {
            let at = dirs + 8 * i;
            let rva = need(u32_at(data, at), at, "a data directory")?;
            let size = need(u32_at(data, at + 4), at + 4, "a data directory")?;
            directories.push((rva, size));
        }
        let mut sections = Vec::with_capacity(usize::from(section_count));
        for i in 0..usize::from(section_count) {
            let at = optional_end + 40 * i;
            let header = data
                .get(at..at.saturating_add(40))
                .with_context(|| format!("file offset {at:#x}: the file ends inside section header {}", i + 1))?;
            // `header` is exactly 40 bytes, so every field below is inside it.
            let field = |off: usize| u32_at(header, off).unwrap_or_default();
            let name_bytes = header.get(..8).unwrap_or_default().split(|&b| b == 0).next().unwrap_or_default();
            sections.push(Section {
                name: String::from_utf8_lossy(name_bytes).into_owned(),
                virtual_size: field(8),
                virtual_address: field(12),
                raw_size: field(16),
                raw_offset: field(20),
                characteristics: field(36),
            });
        }
        let headers = Headers {
            machine,
            characteristics,
            pe32_plus,
            image_base,
            size_of_headers,
            directories,
            sections,
            file_len: data.len(),
        };
        let layout = Layout {
            section_table_end: optional_end + 40 * usize::from(section_count),
            section_alignment: need(u32_at(data, optional + 32), optional + 32, "SectionAlignment")?,
            file_alignment: need(u32_at(data, optional + 36), optional + 36, "FileAlignment")?,
            size_of_image: need(u32_at(data, optional + 56), optional + 56, "SizeOfImage")?,
        };
        headers.check_layout(&layout)?;
        Ok(headers)
    }

    /// The bounds the Windows loader enforces before it maps an image (it fails such a file with
    /// ERROR_BAD_EXE_FORMAT; llvm-readobj refuses it too): the headers and every section's raw
    /// data inside the file, the section table inside SizeOfHeaders, sections in ascending,
    /// non-overlapping virtual order inside SizeOfImage, sane alignments, at most 96 sections.
    fn check_layout(&self, layout: &Layout) -> Result<()> {
        let file_len = self.file_len as u64;
        if self.sections.len() > 96 {
            bail!("NumberOfSections is {}; the loader accepts at most 96", self.sections.len());
        }
        if u64::from(self.size_of_headers) > file_len {
            bail!(
                "SizeOfHeaders {:#x} runs past the end of the file ({file_len:#x} bytes): the file is truncated",
                self.size_of_headers
            );
        }
        if layout.section_table_end as u64 > u64::from(self.size_of_headers) {
            bail!(
                "the section table ends at {:#x}, past SizeOfHeaders {:#x}",
                layout.section_table_end,
                self.size_of_headers
            );
        }
        let (fa, sa) = (layout.file_alignment, layout.section_alignment);
        if !fa.is_power_of_two() || !sa.is_power_of_two() || sa < fa {
            bail!(
                "FileAlignment {fa:#x} and SectionAlignment {sa:#x} must be powers of two with SectionAlignment >= FileAlignment"
            );
        }
        let mut previous_end = 0u64;
        for (i, s) in self.sections.iter().enumerate() {
            let what = format!("section {} ({:?})", i + 1, s.name);
            let raw_end = u64::from(s.raw_offset) + u64::from(s.raw_size);
            if s.raw_size > 0 && raw_end > file_len {
                bail!(
                    "{what}: its raw data [{:#x}, {raw_end:#x}) runs past the end of the file ({file_len:#x} bytes): the file is truncated",
                    s.raw_offset
                );
            }
            let start = u64::from(s.virtual_address);
            let end = start + u64::from(s.virtual_size.max(s.raw_size));
            if start < previous_end {
                bail!(
                    "{what}: VirtualAddress {start:#x} overlaps the section before it (which ends at {previous_end:#x})"
                );
            }
            if end > u64::from(layout.size_of_image) {
                bail!("{what}: it ends at RVA {end:#x}, past SizeOfImage {:#x}", layout.size_of_image);
            }
            previous_end = end;
        }
        Ok(())
    }

    /// (RVA, Size) of data directory `index`; `None` when it is absent or all zero.
    pub(crate) fn directory(&self, index: usize) -> Option<(u32, u32)> {
        self.directories.get(index).copied().filter(|&d| d != (0, 0))
    }

    /// The file range holding the image bytes [rva, rva + len): the headers map at RVA 0 = file
    /// offset 0, everything else must lie inside one section's raw data. `None` otherwise.
    pub(crate) fn file_range(&self, rva: u32, len: u32) -> Option<Range<usize>> {
        let (start, end) = (u64::from(rva), u64::from(rva) + u64::from(len));
        let file_len = self.file_len as u64;
        let found = if end <= u64::from(self.size_of_headers) {
            Some(start)
        } else {
            self.sections.iter().find_map(|s| {
                let va = u64::from(s.virtual_address);
                let raw_end = va + u64::from(s.raw_size);
                (start >= va && end <= raw_end).then(|| u64::from(s.raw_offset) + (start - va))
            })
        }?;
        let found_end = found + u64::from(len);
        (found_end <= file_len).then_some(found as usize..found_end as usize)
    }

    /// The bytes from `rva` to the end of the headers or of the section raw data holding it.
    pub(crate) fn bytes_from<'a>(&self, data: &'a [u8], rva: u32) -> Option<&'a [u8]> {
        let start = self.file_range(rva, 0)?.start;
        let region_end = if rva < self.size_of_headers {
            self.size_of_headers as usize
        } else {
            let s = self.sections.iter().find(|s| rva >= s.virtual_address && rva - s.virtual_address <= s.raw_size)?;
            s.raw_offset as usize + s.raw_size as usize
        };
        data.get(start..region_end.min(data.len()))
    }
}
