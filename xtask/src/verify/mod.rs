//! Post-link checks of built PE files, read back with the `object` crate: every DLL/EXE the
//! build produced is opened again and held against what it was meant to be — its machine (and,
//! for ARM64EC, its CHPE metadata), DLL or EXE, the hardening flags, exactly the expected
//! exports, only allowed imports, and the version in its VERSIONINFO. Nothing here is shared
//! with the code that wrote the file (lld-link, llvm-rc, our own writers), so a writer's mistake
//! cannot hide behind its own parser.
//!
//! [`read_facts`] gathers what a file says, [`violations`] holds the facts against an
//! [`Expectation`], and [`check`] does both and fails with every broken rule of the file at once.

pub mod arm64x;
pub mod command;
pub mod forwards;
mod versioninfo;

pub use versioninfo::{FIXED_FILE_INFO_SIGNATURE, VersionInfo, parse_version_info};

use std::{
    fmt,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result, anyhow, bail};
use object::{
    FileKind, LittleEndian as LE, pe,
    read::pe::{
        ExportTarget, ImageNtHeaders, ImageOptionalHeader, Import, PeFile, ResourceDirectory,
        ResourceDirectoryEntryData, ResourceDirectoryTable, ResourceNameOrId,
    },
};

use crate::matrix::{Arch, machine};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageKind {
    Dll,
    Exe,
}

/// What one built file must be.
#[derive(Clone, Debug)]
pub struct Expectation<'a> {
    pub arch: Arch,
    pub kind: ImageKind,
    /// Exactly these export names, undecorated, in any order.
    pub exports: &'a [String],
    /// The DLLs it may import from, e.g. "kernel32.dll"; compared case-insensitively.
    pub allowed_imports: &'a [String],
    /// The FILEVERSION in VS_FIXEDFILEINFO.
    pub version: [u16; 4],
}

/// What a PE file says about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeFacts {
    /// COFF file header machine, as stored on disk (ARM64EC images say 0x8664).
    pub machine: u16,
    pub is_pe32_plus: bool,
    pub characteristics: u16,
    pub dll_characteristics: u16,
    /// Export names; an export without a name appears as `#ordinal`.
    pub exports: Vec<String>,
    /// (DLL, imported names or `#ordinal`), in import-table order.
    pub imports: Vec<(String, Vec<String>)>,
    /// The same for the delay-load import table.
    pub delay_imports: Vec<(String, Vec<String>)>,
    /// The load configuration's own `Size` field, if the image has one.
    pub load_config_size: Option<u32>,
    /// `Version` of the CHPE metadata that `CHPEMetadataPointer` (load config offset 0xC8) points
    /// at; `None` if there is no such pointer, or it is 0, or the image is PE32.
    pub chpe_metadata_version: Option<u32>,
    /// The first RT_VERSION resource; `None` if there is none.
    pub version_info: Option<VersionInfo>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    Machine,
    Kind,
    DllCharacteristics,
    Exports,
    Imports,
    Version,
}

impl Rule {
    pub fn name(self) -> &'static str {
        match self {
            Rule::Machine => "machine",
            Rule::Kind => "kind",
            Rule::DllCharacteristics => "dll-characteristics",
            Rule::Exports => "exports",
            Rule::Imports => "imports",
            Rule::Version => "version",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One broken rule; `R` is the rule set (this module's [`Rule`], or `forwards::Rule`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation<R = Rule> {
    pub rule: R,
    pub message: String,
}

/// The error [`check`] (and `forwards::check`) returns: every broken rule of one file, one line
/// each (`path: rule exports: expected exactly [...], found [...]`).
#[derive(Debug)]
pub struct Failures<R = Rule> {
    pub path: PathBuf,
    pub violations: Vec<Violation<R>>,
}

impl<R: fmt::Display> fmt::Display for Failures<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, v) in self.violations.iter().enumerate() {
            let sep = if i == 0 { "" } else { "\n" };
            write!(f, "{sep}{}: rule {}: {}", self.path.display(), v.rule, v.message)?;
        }
        Ok(())
    }
}

impl<R: fmt::Display + fmt::Debug> std::error::Error for Failures<R> {}

/// Reads `path` and runs every rule; the error is a [`Failures`] (downcast it to see the rules)
/// or, for a file that cannot be read as a PE image, a parse error naming the file.
pub fn check(path: &Path, expect: &Expectation) -> Result<PeFacts> {
    let facts = read_facts(path)?;
    let violations = violations(&facts, expect);
    if violations.is_empty() { Ok(facts) } else { Err(Failures { path: path.to_path_buf(), violations }.into()) }
}

pub fn read_facts(path: &Path) -> Result<PeFacts> {
    let data = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    facts_from_bytes(&data).map_err(|e| anyhow!("{}: {e:#}", path.display()))
}

pub fn facts_from_bytes(data: &[u8]) -> Result<PeFacts> {
    match FileKind::parse(data).context("not an object file")? {
        FileKind::Pe32 => facts_of::<pe::ImageNtHeaders32>(data),
        FileKind::Pe64 => facts_of::<pe::ImageNtHeaders64>(data),
        other => bail!("not a PE image (it reads as {other:?})"),
    }
}

/// Holds `facts` against `expect`; empty when every rule holds.
pub fn violations(facts: &PeFacts, expect: &Expectation) -> Vec<Violation> {
    [
        (Rule::Machine, machine_rule(facts, expect.arch)),
        (Rule::Kind, kind_rule(facts, expect.kind)),
        (Rule::DllCharacteristics, dll_characteristics_rule(facts, expect.arch)),
        (Rule::Exports, exports_rule(facts, expect)),
        (Rule::Imports, imports_rule(facts, expect)),
        (Rule::Version, version_rule(facts, expect.version)),
    ]
    .into_iter()
    .flat_map(|(rule, messages)| messages.into_iter().map(move |message| Violation { rule, message }))
    .collect()
}

// ---- rules: each returns one message per problem -------------------------------------------

const CHPE_POINTER: usize = 0xC8;

fn machine_rule(facts: &PeFacts, arch: Arch) -> Vec<String> {
    let mut out = Vec::new();
    let expected = machine::of(arch);
    if facts.machine != expected {
        out.push(format!(
            "expected {expected:#06x} ({arch}), found {:#06x} ({})",
            facts.machine,
            machine::name(facts.machine, None)
        ));
    }
    match (arch, facts.chpe_metadata_version) {
        (Arch::Arm64Ec, None) => {
            let why = match facts.load_config_size {
                None => "the image has no load config".to_string(),
                Some(size) if (size as usize) < CHPE_POINTER + 8 => format!(
                    "its load config is {size:#x} bytes, too short for CHPEMetadataPointer at {CHPE_POINTER:#x}"
                ),
                Some(_) => "CHPEMetadataPointer is 0".to_string(),
            };
            out.push(format!("an ARM64EC image needs CHPE metadata, but {why}"));
        }
        (Arch::Arm64Ec, Some(0)) => out.push("CHPE metadata version is 0, expected 1 or more".into()),
        (Arch::X64, Some(version)) => {
            out.push(format!("found CHPE metadata (version {version}): this is an ARM64EC image, not x64"))
        }
        (Arch::Arm64, Some(version)) => out.push(format!(
            "found CHPE metadata (version {version}): this is an ARM64X (hybrid) image, not plain ARM64"
        )),
        _ => {}
    }
    out
}

fn kind_rule(facts: &PeFacts, kind: ImageKind) -> Vec<String> {
    let mut out = Vec::new();
    let c = facts.characteristics;
    match (kind, c & pe::IMAGE_FILE_DLL.0 != 0) {
        (ImageKind::Dll, false) => {
            out.push(format!("expected a DLL, but IMAGE_FILE_DLL is clear in characteristics {c:#06x}"))
        }
        (ImageKind::Exe, true) => {
            out.push(format!("expected an EXE, but IMAGE_FILE_DLL is set in characteristics {c:#06x}"))
        }
        _ => {}
    }
    if c & pe::IMAGE_FILE_EXECUTABLE_IMAGE.0 == 0 {
        out.push(format!(
            "IMAGE_FILE_EXECUTABLE_IMAGE is clear in characteristics {c:#06x}: the linker marked it not runnable"
        ));
    }
    out
}

fn dll_characteristics_rule(facts: &PeFacts, arch: Arch) -> Vec<String> {
    let mut out = Vec::new();
    let mut required = vec![
        ("DYNAMIC_BASE", pe::IMAGE_DLLCHARACTERISTICS_DYNAMIC_BASE.0),
        ("NX_COMPAT", pe::IMAGE_DLLCHARACTERISTICS_NX_COMPAT.0),
    ];
    if arch.is_64bit() {
        required.push(("HIGH_ENTROPY_VA", pe::IMAGE_DLLCHARACTERISTICS_HIGH_ENTROPY_VA.0));
    }
    let missing: Vec<&str> =
        required.iter().filter(|(_, flag)| facts.dll_characteristics & flag == 0).map(|(name, _)| *name).collect();
    if !missing.is_empty() {
        out.push(format!("missing {} in DllCharacteristics {:#06x}", missing.join(", "), facts.dll_characteristics));
    }
    if facts.is_pe32_plus != arch.is_64bit() {
        let format = |plus: bool| if plus { "PE32+" } else { "PE32" };
        out.push(format!(
            "expected a {} optional header for {arch}, found {}",
            format(arch.is_64bit()),
            format(facts.is_pe32_plus)
        ));
    }
    out
}

fn exports_rule(facts: &PeFacts, expect: &Expectation) -> Vec<String> {
    let mut out = Vec::new();
    let expected = sorted(expect.exports);
    let found = sorted(&facts.exports);
    if expected != found {
        out.push(format!("expected exactly [{}], found [{}]", expected.join(", "), found.join(", ")));
    }
    if expect.arch == Arch::X86 {
        // stdcall `_f@12`, fastcall `@f@8`, C++ `?f@@...`, or cdecl `_f` for an expected `f`.
        let decorated: Vec<&str> = found
            .iter()
            .copied()
            .filter(|n| {
                n.starts_with('?')
                    || n.contains('@')
                    || n.strip_prefix('_').is_some_and(|bare| expected.contains(&bare))
            })
            .collect();
        if !decorated.is_empty() {
            out.push(format!(
                "decorated names on x86: [{}]; export through a .def file, not __declspec(dllexport)",
                decorated.join(", ")
            ));
        }
    }
    out
}

fn sorted(names: &[String]) -> Vec<&str> {
    let mut names: Vec<&str> = names.iter().map(String::as_str).collect();
    names.sort();
    names
}

fn imports_rule(facts: &PeFacts, expect: &Expectation) -> Vec<String> {
    let mut out = Vec::new();
    let allowed = |dll: &str| expect.allowed_imports.iter().any(|a| a.eq_ignore_ascii_case(dll));
    let all = facts
        .imports
        .iter()
        .map(|(dll, names)| (dll, names, ""))
        .chain(facts.delay_imports.iter().map(|(dll, names)| (dll, names, ", delay-load")));
    let offenders: Vec<String> = all
        .clone()
        .filter(|(dll, _, _)| !allowed(dll))
        .map(|(dll, names, how)| format!("{dll} ({}{how})", names.join(", ")))
        .collect();
    if !offenders.is_empty() {
        out.push(format!("not allowed: {}; allowed are [{}]", offenders.join("; "), expect.allowed_imports.join(", ")));
    }
    if expect.arch == Arch::X86 {
        // The loader looks names up verbatim: `GetModuleHandleExW@12` does not exist in
        // kernel32 (an x86 import library made by llvm-dlltool without -k).
        let decorated: Vec<String> = all
            .flat_map(|(dll, names, _)| names.iter().map(move |n| (dll, n)))
            .filter(|(_, name)| name.contains('@'))
            .map(|(dll, name)| format!("{dll}!{name}"))
            .collect();
        if !decorated.is_empty() {
            out.push(format!(
                "decorated import names on x86: [{}]; build the import library with `llvm-dlltool -k`",
                decorated.join(", ")
            ));
        }
    }
    out
}

fn version_rule(facts: &PeFacts, expected: [u16; 4]) -> Vec<String> {
    let Some(info) = &facts.version_info else {
        return vec!["no VS_VERSIONINFO resource (RT_VERSION = 16)".into()];
    };
    let dotted = |v: [u16; 4]| v.map(|p| p.to_string()).join(".");
    let mut out = Vec::new();
    if info.signature != FIXED_FILE_INFO_SIGNATURE {
        out.push(format!(
            "VS_FIXEDFILEINFO signature is {:#010x}, expected {FIXED_FILE_INFO_SIGNATURE:#010x}",
            info.signature
        ));
    }
    if info.file_version != expected {
        out.push(format!("FILEVERSION is {}, expected {}", dotted(info.file_version), dotted(expected)));
    }
    out
}

// ---- reading -------------------------------------------------------------------------------

fn facts_of<Pe: ImageNtHeaders>(data: &[u8]) -> Result<PeFacts> {
    let file = PeFile::<Pe>::parse(data).context("PE headers")?;
    arm64x::check_layout(data).context("PE headers")?;
    let nt = file.nt_headers();
    let (load_config_size, chpe_metadata_version) = load_config(&file).context("load config")?;
    Ok(PeFacts {
        machine: nt.file_header().machine.get(LE).0,
        is_pe32_plus: nt.is_type_64(),
        characteristics: nt.file_header().characteristics.get(LE).0,
        dll_characteristics: nt.optional_header().dll_characteristics().0,
        exports: exports(&file).context("export table")?,
        imports: imports(&file).context("import table")?,
        delay_imports: delay_imports(&file).context("delay-load import table")?,
        load_config_size,
        chpe_metadata_version,
        version_info: version_info(&file)?,
    })
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn import_name(import: Import<'_>) -> String {
    match import {
        Import::Ordinal(ordinal) => format!("#{ordinal}"),
        Import::Name(_hint, name) => lossy(name),
    }
}

fn exports<Pe: ImageNtHeaders>(file: &PeFile<'_, Pe>) -> Result<Vec<String>> {
    let Some(table) = file.export_table()? else {
        return Ok(Vec::new());
    };
    Ok(table
        .exports()?
        .into_iter()
        .filter_map(|export| match export.name {
            Some(name) => Some(lossy(name)),
            None if matches!(export.target, ExportTarget::Address(0)) => None, // unused ordinal
            None => Some(format!("#{}", export.ordinal.0)),
        })
        .collect())
}

fn imports<Pe: ImageNtHeaders>(file: &PeFile<'_, Pe>) -> Result<Vec<(String, Vec<String>)>> {
    let mut out = Vec::new();
    let Some(table) = file.import_table()? else {
        return Ok(out);
    };
    let mut descriptors = table.descriptors()?;
    while let Some(descriptor) = descriptors.next()? {
        let dll = lossy(table.name(descriptor.name.get(LE))?);
        let lookup = match descriptor.original_first_thunk.get(LE) {
            0 => descriptor.first_thunk.get(LE),
            rva => rva,
        };
        let mut thunks = table.thunks(lookup)?;
        let mut names = Vec::new();
        while let Some(thunk) = thunks.next::<Pe>()? {
            names.push(import_name(table.import::<Pe>(thunk)?));
        }
        out.push((dll, names));
    }
    Ok(out)
}

fn delay_imports<Pe: ImageNtHeaders>(file: &PeFile<'_, Pe>) -> Result<Vec<(String, Vec<String>)>> {
    let mut out = Vec::new();
    let Some(table) = file.delay_load_import_table()? else {
        return Ok(out);
    };
    let mut descriptors = table.descriptors()?;
    while let Some(descriptor) = descriptors.next()? {
        let dll = lossy(table.name(descriptor.dll_name_rva.get(LE))?);
        let mut thunks = table.thunks(descriptor.import_name_table_rva.get(LE))?;
        let mut names = Vec::new();
        while let Some(thunk) = thunks.next::<Pe>()? {
            names.push(import_name(table.import::<Pe>(thunk)?));
        }
        out.push((dll, names));
    }
    Ok(out)
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn read_u64(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

/// The image's bytes from `rva` to the end of the section holding it.
fn at_rva<'data, Pe: ImageNtHeaders>(file: &PeFile<'data, Pe>, rva: u32) -> Option<&'data [u8]> {
    file.section_table().pe_data_at(file.data(), rva)
}

/// (the load config's `Size`, the CHPE metadata version). CHPE metadata is only looked for in
/// PE32+ images, in IMAGE_LOAD_CONFIG_DIRECTORY64 at offset 0xC8 (a VA), when `Size` covers it.
fn load_config<Pe: ImageNtHeaders>(file: &PeFile<'_, Pe>) -> Result<(Option<u32>, Option<u32>)> {
    let Some(dir) = file.data_directory(pe::IMAGE_DIRECTORY_ENTRY_LOAD_CONFIG) else {
        return Ok((None, None));
    };
    let rva = dir.virtual_address.get(LE);
    let bytes = at_rva(file, rva).with_context(|| format!("RVA {rva:#x} is not inside any section"))?;
    let size = read_u32(bytes, 0).with_context(|| format!("RVA {rva:#x}: cut off before its Size"))?;
    if !file.nt_headers().is_type_64() || (size as usize) < CHPE_POINTER + 8 {
        return Ok((Some(size), None));
    }
    let pointer = read_u64(bytes, CHPE_POINTER).with_context(|| {
        format!("RVA {rva:#x}: Size is {size:#x} but its section ends after {:#x} bytes", bytes.len())
    })?;
    if pointer == 0 {
        return Ok((Some(size), None));
    }
    let image_base = file.nt_headers().optional_header().image_base();
    let chpe_rva = pointer
        .checked_sub(image_base)
        .and_then(|r| u32::try_from(r).ok())
        .with_context(|| format!("CHPEMetadataPointer {pointer:#x} is not inside the image (base {image_base:#x})"))?;
    let version = at_rva(file, chpe_rva).and_then(|chpe| read_u32(chpe, 0)).with_context(|| {
        format!("CHPEMetadataPointer {pointer:#x} (RVA {chpe_rva:#x}) does not point into a section")
    })?;
    Ok((Some(size), Some(version)))
}

const RT_VERSION: u16 = 16;

/// The first RT_VERSION resource (first name, first language), parsed by hand.
fn version_info<Pe: ImageNtHeaders>(file: &PeFile<'_, Pe>) -> Result<Option<VersionInfo>> {
    let sections = file.section_table();
    let Some(rsrc) =
        file.data_directories().resource_directory(file.data(), &sections).context("resource directory")?
    else {
        return Ok(None);
    };
    let root = rsrc.root().context("resource directory")?;
    let is_version = |e: &&pe::ImageResourceDirectoryEntry| matches!(e.name_or_id(), ResourceNameOrId::Id(RT_VERSION));
    let Some(by_type) = root.entries.iter().find(is_version) else {
        return Ok(None);
    };
    let names = subtable(by_type, rsrc, "the RT_VERSION entry")?;
    let by_name = names.entries.first().context("resource directory: RT_VERSION has no entries")?;
    let languages = subtable(by_name, rsrc, "the first RT_VERSION name")?;
    let by_language = languages.entries.first().context("resource directory: RT_VERSION has no languages")?;
    let ResourceDirectoryEntryData::Data(entry) =
        by_language.data(rsrc).context("resource directory: RT_VERSION data entry")?
    else {
        bail!("resource directory: RT_VERSION is nested deeper than type/name/language");
    };
    let (rva, size) = (entry.offset_to_data.get(LE), entry.size.get(LE));
    let blob = at_rva(file, rva)
        .and_then(|bytes| bytes.get(..size as usize))
        .with_context(|| format!("RT_VERSION data (RVA {rva:#x}, {size:#x} bytes) is not inside a section"))?;
    parse_version_info(blob).map(Some).with_context(|| format!("VS_VERSIONINFO at RVA {rva:#x}"))
}

fn subtable<'data>(
    entry: &pe::ImageResourceDirectoryEntry,
    rsrc: ResourceDirectory<'data>,
    what: &str,
) -> Result<ResourceDirectoryTable<'data>> {
    match entry.data(rsrc).with_context(|| format!("resource directory: {what}"))? {
        ResourceDirectoryEntryData::Table(table) => Ok(table),
        ResourceDirectoryEntryData::Data(_) => {
            bail!("resource directory: {what} is a data entry, expected a directory")
        }
    }
}

#[cfg(test)]
mod tests;
