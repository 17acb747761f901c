//! The view model: what one view of a PE image (the bytes as stored, or the EC view that
//! [`super::read`] derives) says about its machine, load config, CHPE metadata and exports. The
//! export table is parsed by the `object` crate, which works on the patched bytes too (Machine
//! 0x8664 is still PE32+).

use anyhow::{Context, Result, bail};
use object::{
    FileKind,
    read::pe::{ExportTarget as ObjectTarget, ImageNtHeaders, PeFile, PeFile32, PeFile64},
};

use super::{Headers, read, u32_at, u64_at};

const EXPORT_DIRECTORY: usize = 0;
const BASE_RELOC_DIRECTORY: usize = 5;
const LOAD_CONFIG_DIRECTORY: usize = 10;
/// IMAGE_LOAD_CONFIG_DIRECTORY64.CHPEMetadataPointer (docs/arm64x-forwarder.md §4.1), a VA.
const CHPE_POINTER_FIELD: u32 = 0xC8;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct View {
    /// COFF Machine of this view (0xAA64 native, 0x8664 EC for an ARM64X file).
    pub machine: u16,
    /// COFF Characteristics (IMAGE_FILE_DLL = 0x2000).
    pub characteristics: u16,
    /// `Version` of the CHPE metadata this view's load config points at; `None` when the
    /// pointer is absent, 0, or not covered by min(directory size, `Size`).
    pub chpe_metadata_version: Option<u32>,
    /// The export directory's Name, e.g. "tip.dll".
    pub dll_name: Option<String>,
    /// Exports in ordinal order; unused ordinals (EAT entry 0, no name) are left out.
    pub exports: Vec<ViewExport>,
    /// Data directory 0 (RVA, Size), if not zero.
    pub export_dir: Option<(u32, u32)>,
    /// Data directory 5 (RVA, Size), if not zero.
    pub base_reloc_dir: Option<(u32, u32)>,
    /// Data directory 10 (RVA, Size), if not zero.
    pub load_config: Option<(u32, u32)>,
    /// Exports whose EAT entry points at forwarder-like text outside the export directory
    /// range and outside code: a forwarder string the directory Size fails to cover, which
    /// loaders take for an address (docs/arm64x-forwarder.md §5, §11.9).
    pub stray_forwarders: Vec<StrayForwarder>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StrayForwarder {
    /// The export's name, or `#ordinal`.
    pub export: String,
    pub rva: u32,
    /// The text at `rva`, e.g. "archway_x64.RegisterModule".
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ViewExport {
    pub ordinal: u32,
    pub name: Option<String>,
    pub target: ExportTarget,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExportTarget {
    /// An RVA in this image (code, or data for a DATA export): the EAT entry lies outside the
    /// export directory range.
    Rva(u32),
    /// `"dll.name"`: the entry points at a string inside the export directory range
    /// (docs/arm64x-forwarder.md §5).
    ForwardByName { dll: String, name: String },
    /// `"dll.#n"`.
    ForwardByOrdinal { dll: String, ordinal: u32 },
}

impl ExportTarget {
    pub fn is_forward(&self) -> bool {
        !matches!(self, ExportTarget::Rva(_))
    }

    /// The DLL a forward goes to, without `.dll`.
    pub fn forward_dll(&self) -> Option<&str> {
        match self {
            ExportTarget::Rva(_) => None,
            ExportTarget::ForwardByName { dll, .. } | ExportTarget::ForwardByOrdinal { dll, .. } => Some(dll),
        }
    }
}

impl std::fmt::Display for ExportTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExportTarget::Rva(rva) => write!(f, "RVA {rva:#x}"),
            ExportTarget::ForwardByName { dll, name } => write!(f, "{dll}.{name}"),
            ExportTarget::ForwardByOrdinal { dll, ordinal } => write!(f, "{dll}.#{ordinal}"),
        }
    }
}

impl ViewExport {
    /// The name, or `#ordinal` for an export without one.
    pub fn label(&self) -> String {
        self.name.clone().unwrap_or_else(|| format!("#{}", self.ordinal))
    }
}

/// The native view (the bytes as stored) and, for an ARM64X file, the EC view.
pub fn views(data: &[u8]) -> Result<(View, Option<View>)> {
    let native = View::parse(data).context("native view")?;
    let ec = match read(data).context("ARM64X dynamic relocations")? {
        Some(arm64x) => Some(View::parse(&arm64x.ec_image).context("EC view")?),
        None => None,
    };
    Ok((native, ec))
}

impl View {
    /// Reads one view from a file's bytes (as stored, or with the ARM64X fixups applied).
    pub fn parse(data: &[u8]) -> Result<View> {
        let headers = Headers::parse(data)?;
        let exports = match FileKind::parse(data).context("not an object file")? {
            FileKind::Pe64 => exports(&PeFile64::parse(data).context("PE headers")?)?,
            FileKind::Pe32 => exports(&PeFile32::parse(data).context("PE headers")?)?,
            other => bail!("not a PE image (it reads as {other:?})"),
        };
        let export_dir = headers.directory(EXPORT_DIRECTORY);
        let dll_name = match export_dir {
            Some((rva, _)) => export_dll_name(&headers, data, rva)?,
            None => None,
        };
        let stray_forwarders = exports
            .iter()
            .filter_map(|export| match export.target {
                ExportTarget::Rva(rva) => stray_forwarder(&headers, data, export, rva),
                _ => None,
            })
            .collect();
        Ok(View {
            stray_forwarders,
            machine: headers.machine,
            characteristics: headers.characteristics,
            chpe_metadata_version: chpe_metadata_version(&headers, data)?,
            dll_name,
            exports,
            export_dir,
            base_reloc_dir: headers.directory(BASE_RELOC_DIRECTORY),
            load_config: headers.directory(LOAD_CONFIG_DIRECTORY),
        })
    }

    /// Whether the view exports something and every export is a forwarder.
    pub fn is_pure_forwarder(&self) -> bool {
        !self.exports.is_empty() && self.exports.iter().all(|e| e.target.is_forward())
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn exports<Pe: ImageNtHeaders>(file: &PeFile<'_, Pe>) -> Result<Vec<ViewExport>> {
    let Some(table) = file.export_table().context("export table")? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for export in table.exports().context("export table")? {
        let target = match export.target {
            ObjectTarget::Address(0) if export.name.is_none() => continue, // unused ordinal
            ObjectTarget::Address(rva) => ExportTarget::Rva(rva),
            ObjectTarget::ForwardByName(dll, name) => {
                ExportTarget::ForwardByName { dll: lossy(dll), name: lossy(name) }
            }
            ObjectTarget::ForwardByOrdinal(dll, ordinal) => {
                ExportTarget::ForwardByOrdinal { dll: lossy(dll), ordinal: u32::from(ordinal.0) }
            }
        };
        out.push(ViewExport { ordinal: u32::from(export.ordinal.0), name: export.name.map(lossy), target });
    }
    Ok(out)
}

const SCN_CNT_CODE: u32 = 0x20;
const SCN_MEM_EXECUTE: u32 = 0x2000_0000;

/// `Some` when `rva` is not in code and holds `"dll.name"`-like text: printable ASCII without
/// spaces, with a dot that is neither first nor last.
fn stray_forwarder(headers: &Headers, data: &[u8], export: &ViewExport, rva: u32) -> Option<StrayForwarder> {
    let in_code = headers.sections.iter().any(|s| {
        rva.wrapping_sub(s.virtual_address) < s.virtual_size.max(s.raw_size)
            && s.characteristics & (SCN_CNT_CODE | SCN_MEM_EXECUTE) != 0
    });
    if in_code {
        return None;
    }
    let text = c_string_at(headers, data, rva)?;
    let dot = text.rfind('.')?;
    let printable = text.bytes().all(|b| b.is_ascii_graphic());
    (printable && dot > 0 && dot + 1 < text.len()).then(|| StrayForwarder { export: export.label(), rva, text })
}

/// The NUL-terminated string at `rva`, which must end inside its section's raw data.
pub(crate) fn c_string_at(headers: &Headers, data: &[u8], rva: u32) -> Option<String> {
    let bytes = headers.bytes_from(data, rva)?;
    let len = bytes.iter().position(|&b| b == 0)?;
    Some(lossy(&bytes[..len]))
}

fn export_dll_name(headers: &Headers, data: &[u8], dir_rva: u32) -> Result<Option<String>> {
    let name_rva = headers
        .file_range(dir_rva, 0x10)
        .and_then(|r| u32_at(data, r.start + 0x0C))
        .with_context(|| format!("export directory at RVA {dir_rva:#x} is not inside the image"))?;
    if name_rva == 0 {
        return Ok(None);
    }
    c_string_at(headers, data, name_rva).map(Some).with_context(|| {
        format!("export directory Name RVA {name_rva:#x} is not a NUL-terminated string inside a section")
    })
}

/// The CHPE metadata `Version` (docs/arm64x-forwarder.md §4.2) that this view's load config points at, for PE32+ images.
fn chpe_metadata_version(headers: &Headers, data: &[u8]) -> Result<Option<u32>> {
    let Some((rva, dir_size)) = headers.directory(LOAD_CONFIG_DIRECTORY) else {
        return Ok(None);
    };
    if !headers.pe32_plus {
        return Ok(None);
    }
    let size = headers
        .file_range(rva, 4)
        .and_then(|r| u32_at(data, r.start))
        .with_context(|| format!("load config RVA {rva:#x} is not inside the image"))?;
    if size.min(dir_size) < CHPE_POINTER_FIELD + 8 {
        return Ok(None);
    }
    let field = headers
        .file_range(rva, CHPE_POINTER_FIELD + 8)
        .with_context(|| format!("load config at RVA {rva:#x}: Size {size:#x} runs past its section's raw data"))?;
    let pointer = u64_at(data, field.start + CHPE_POINTER_FIELD as usize).unwrap_or_default();
    if pointer == 0 {
        return Ok(None);
    }
    let chpe_rva = pointer.checked_sub(headers.image_base).and_then(|r| u32::try_from(r).ok()).with_context(|| {
        format!("CHPEMetadataPointer {pointer:#x} is not inside the image (base {:#x})", headers.image_base)
    })?;
    let version = headers.file_range(chpe_rva, 4).and_then(|r| u32_at(data, r.start)).with_context(|| {
        format!("CHPEMetadataPointer {pointer:#x} (RVA {chpe_rva:#x}) does not point into the image")
    })?;
    Ok(Some(version))
}
