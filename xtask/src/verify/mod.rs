//! Post-link checks of built PE files, read back with the `object` crate: every DLL/EXE the
//! build produced is opened again and held against what it was meant to be — its machine (and,
//! for ARM64EC, its CHPE metadata), DLL or EXE, the hardening flags, exactly the expected
//! exports, only allowed imports, and the version in its VERSIONINFO. Nothing here is shared
//! with the code that wrote the file (lld-link, llvm-rc, our own writers), so a writer's mistake
//! cannot hide behind its own parser.
//!
//! [`read_facts`] gathers what a file says, [`violations`] holds the facts against an
//! [`Expectation`], and [`check`] does both and fails with every broken rule of the file at once.

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

use crate::matrix::Arch;

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

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub rule: Rule,
    pub message: String,
}

/// The error [`check`] returns: every broken rule of one file, one line each
/// (`path: rule exports: expected exactly [...], found [...]`).
#[derive(Debug)]
pub struct Failures {
    pub path: PathBuf,
    pub violations: Vec<Violation>,
}

impl fmt::Display for Failures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, v) in self.violations.iter().enumerate() {
            let sep = if i == 0 { "" } else { "\n" };
            write!(
                f,
                "{sep}{}: rule {}: {}",
                self.path.display(),
                v.rule,
                v.message
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for Failures {}

/// Reads `path` and runs every rule; the error is a [`Failures`] (downcast it to see the rules)
/// or, for a file that cannot be read as a PE image, a parse error naming the file.
pub fn check(path: &Path, expect: &Expectation) -> Result<PeFacts> {
    let facts = read_facts(path)?;
    let violations = violations(&facts, expect);
    if violations.is_empty() {
        Ok(facts)
    } else {
        Err(Failures {
            path: path.to_path_buf(),
            violations,
        }
        .into())
    }
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
        (
            Rule::DllCharacteristics,
            dll_characteristics_rule(facts, expect.arch),
        ),
        (Rule::Exports, exports_rule(facts, expect)),
        (Rule::Imports, imports_rule(facts, expect)),
        (Rule::Version, version_rule(facts, expect.version)),
    ]
    .into_iter()
    .flat_map(|(rule, messages)| {
        messages
            .into_iter()
            .map(move |message| Violation { rule, message })
    })
    .collect()
}

/// The file-header machine of each architecture (ARM64EC images carry the x64 value).
pub fn pe_machine(arch: Arch) -> u16 {
    match arch {
        Arch::X86 => pe::IMAGE_FILE_MACHINE_I386.0,
        Arch::X64 | Arch::Arm64Ec => pe::IMAGE_FILE_MACHINE_AMD64.0,
        Arch::Arm64 => pe::IMAGE_FILE_MACHINE_ARM64.0,
    }
}

fn machine_name(machine: u16) -> &'static str {
    match machine {
        0x014C => "x86",
        0x8664 => "x64 or arm64ec",
        0xAA64 => "arm64",
        0xA641 => "arm64ec, as object files spell it",
        _ => "unknown",
    }
}

// ---- rules: each returns one message per problem -------------------------------------------

const CHPE_POINTER: usize = 0xC8;

fn machine_rule(facts: &PeFacts, arch: Arch) -> Vec<String> {
    let mut out = Vec::new();
    let expected = pe_machine(arch);
    if facts.machine != expected {
        out.push(format!(
            "expected {expected:#06x} ({arch}), found {:#06x} ({})",
            facts.machine,
            machine_name(facts.machine)
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
        (Arch::Arm64Ec, Some(0)) => {
            out.push("CHPE metadata version is 0, expected 1 or more".into())
        }
        (Arch::X64, Some(version)) => out.push(format!(
            "found CHPE metadata (version {version}): this is an ARM64EC image, not x64"
        )),
        _ => {}
    }
    out
}

fn kind_rule(facts: &PeFacts, kind: ImageKind) -> Vec<String> {
    let mut out = Vec::new();
    let c = facts.characteristics;
    match (kind, c & pe::IMAGE_FILE_DLL.0 != 0) {
        (ImageKind::Dll, false) => out.push(format!(
            "expected a DLL, but IMAGE_FILE_DLL is clear in characteristics {c:#06x}"
        )),
        (ImageKind::Exe, true) => out.push(format!(
            "expected an EXE, but IMAGE_FILE_DLL is set in characteristics {c:#06x}"
        )),
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
        required.push((
            "HIGH_ENTROPY_VA",
            pe::IMAGE_DLLCHARACTERISTICS_HIGH_ENTROPY_VA.0,
        ));
    }
    let missing: Vec<&str> = required
        .iter()
        .filter(|(_, flag)| facts.dll_characteristics & flag == 0)
        .map(|(name, _)| *name)
        .collect();
    if !missing.is_empty() {
        out.push(format!(
            "missing {} in DllCharacteristics {:#06x}",
            missing.join(", "),
            facts.dll_characteristics
        ));
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
        out.push(format!(
            "expected exactly [{}], found [{}]",
            expected.join(", "),
            found.join(", ")
        ));
    }
    if expect.arch == Arch::X86 {
        // stdcall `_f@12`, fastcall `@f@8`, C++ `?f@@...`, or cdecl `_f` for an expected `f`.
        let decorated: Vec<&str> = found
            .iter()
            .copied()
            .filter(|n| {
                n.starts_with('?')
                    || n.contains('@')
                    || n.strip_prefix('_')
                        .is_some_and(|bare| expected.contains(&bare))
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
    let allowed = |dll: &str| {
        expect
            .allowed_imports
            .iter()
            .any(|a| a.eq_ignore_ascii_case(dll))
    };
    let all = facts
        .imports
        .iter()
        .map(|(dll, names)| (dll, names, ""))
        .chain(
            facts
                .delay_imports
                .iter()
                .map(|(dll, names)| (dll, names, ", delay-load")),
        );
    let offenders: Vec<String> = all
        .clone()
        .filter(|(dll, _, _)| !allowed(dll))
        .map(|(dll, names, how)| format!("{dll} ({}{how})", names.join(", ")))
        .collect();
    if !offenders.is_empty() {
        out.push(format!(
            "not allowed: {}; allowed are [{}]",
            offenders.join("; "),
            expect.allowed_imports.join(", ")
        ));
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
        out.push(format!(
            "FILEVERSION is {}, expected {}",
            dotted(info.file_version),
            dotted(expected)
        ));
    }
    out
}

// ---- reading -------------------------------------------------------------------------------

fn facts_of<Pe: ImageNtHeaders>(data: &[u8]) -> Result<PeFacts> {
    let file = PeFile::<Pe>::parse(data).context("PE headers")?;
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
    let bytes =
        at_rva(file, rva).with_context(|| format!("RVA {rva:#x} is not inside any section"))?;
    let size =
        read_u32(bytes, 0).with_context(|| format!("RVA {rva:#x}: cut off before its Size"))?;
    if !file.nt_headers().is_type_64() || (size as usize) < CHPE_POINTER + 8 {
        return Ok((Some(size), None));
    }
    let pointer = read_u64(bytes, CHPE_POINTER).with_context(|| {
        format!(
            "RVA {rva:#x}: Size is {size:#x} but its section ends after {:#x} bytes",
            bytes.len()
        )
    })?;
    if pointer == 0 {
        return Ok((Some(size), None));
    }
    let image_base = file.nt_headers().optional_header().image_base();
    let chpe_rva = pointer
        .checked_sub(image_base)
        .and_then(|r| u32::try_from(r).ok())
        .with_context(|| {
            format!(
                "CHPEMetadataPointer {pointer:#x} is not inside the image (base {image_base:#x})"
            )
        })?;
    let version = at_rva(file, chpe_rva)
        .and_then(|chpe| read_u32(chpe, 0))
        .with_context(|| {
            format!(
                "CHPEMetadataPointer {pointer:#x} (RVA {chpe_rva:#x}) does not point into a section"
            )
        })?;
    Ok((Some(size), Some(version)))
}

const RT_VERSION: u16 = 16;

/// The first RT_VERSION resource (first name, first language), parsed by hand.
fn version_info<Pe: ImageNtHeaders>(file: &PeFile<'_, Pe>) -> Result<Option<VersionInfo>> {
    let sections = file.section_table();
    let Some(rsrc) = file
        .data_directories()
        .resource_directory(file.data(), &sections)
        .context("resource directory")?
    else {
        return Ok(None);
    };
    let root = rsrc.root().context("resource directory")?;
    let is_version = |e: &&pe::ImageResourceDirectoryEntry| {
        matches!(e.name_or_id(), ResourceNameOrId::Id(RT_VERSION))
    };
    let Some(by_type) = root.entries.iter().find(is_version) else {
        return Ok(None);
    };
    let names = subtable(by_type, rsrc, "the RT_VERSION entry")?;
    let by_name = names
        .entries
        .first()
        .context("resource directory: RT_VERSION has no entries")?;
    let languages = subtable(by_name, rsrc, "the first RT_VERSION name")?;
    let by_language = languages
        .entries
        .first()
        .context("resource directory: RT_VERSION has no languages")?;
    let ResourceDirectoryEntryData::Data(entry) = by_language
        .data(rsrc)
        .context("resource directory: RT_VERSION data entry")?
    else {
        bail!("resource directory: RT_VERSION is nested deeper than type/name/language");
    };
    let (rva, size) = (entry.offset_to_data.get(LE), entry.size.get(LE));
    let blob = at_rva(file, rva)
        .and_then(|bytes| bytes.get(..size as usize))
        .with_context(|| {
            format!("RT_VERSION data (RVA {rva:#x}, {size:#x} bytes) is not inside a section")
        })?;
    parse_version_info(blob)
        .map(Some)
        .with_context(|| format!("VS_VERSIONINFO at RVA {rva:#x}"))
}

fn subtable<'data>(
    entry: &pe::ImageResourceDirectoryEntry,
    rsrc: ResourceDirectory<'data>,
    what: &str,
) -> Result<ResourceDirectoryTable<'data>> {
    match entry
        .data(rsrc)
        .with_context(|| format!("resource directory: {what}"))?
    {
        ResourceDirectoryEntryData::Table(table) => Ok(table),
        ResourceDirectoryEntryData::Data(_) => {
            bail!("resource directory: {what} is a data entry, expected a directory")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    const VERSION: [u16; 4] = [1, 2, 3, 4];

    fn strings(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    /// Facts of a file that meets the expectation of `with_expectation` for `arch`.
    fn good(arch: Arch) -> PeFacts {
        let ec = arch == Arch::Arm64Ec;
        PeFacts {
            machine: pe_machine(arch),
            is_pe32_plus: arch.is_64bit(),
            characteristics: 0x2022,
            dll_characteristics: if arch.is_64bit() { 0x0160 } else { 0x0540 },
            exports: strings(&["RegisterModule"]),
            imports: vec![("KERNEL32.dll".into(), strings(&["GetCurrentProcessId"]))],
            delay_imports: Vec::new(),
            load_config_size: ec.then_some(0x140),
            chpe_metadata_version: ec.then_some(2),
            version_info: Some(VersionInfo {
                signature: FIXED_FILE_INFO_SIGNATURE,
                file_version: VERSION,
                product_version: VERSION,
                strings: Vec::new(),
            }),
        }
    }

    /// Runs `f` with the expectation every fixture is meant to meet.
    fn with_expectation<T>(arch: Arch, kind: ImageKind, f: impl FnOnce(&Expectation) -> T) -> T {
        let exports = strings(&["RegisterModule"]);
        let allowed = strings(&["kernel32.dll"]);
        f(&Expectation {
            arch,
            kind,
            exports: &exports,
            allowed_imports: &allowed,
            version: VERSION,
        })
    }

    fn failed(facts: &PeFacts, arch: Arch) -> Vec<Violation> {
        with_expectation(arch, ImageKind::Dll, |e| violations(facts, e))
    }

    fn rules(violations: &[Violation]) -> Vec<Rule> {
        let mut rules: Vec<Rule> = violations.iter().map(|v| v.rule).collect();
        rules.dedup();
        rules
    }

    #[test]
    fn good_facts_pass_on_every_arch() {
        for arch in Arch::ALL {
            assert_eq!(failed(&good(arch), arch), vec![], "{arch}");
        }
    }

    #[test]
    fn each_broken_fact_fails_its_own_rule() {
        type Break = fn(&mut PeFacts);
        #[rustfmt::skip]
        let cases: &[(Arch, Break, Rule, &str)] = &[
            (Arch::X64, |f| f.machine = 0xAA64, Rule::Machine, "expected 0x8664 (x64), found 0xaa64 (arm64)"),
            (Arch::X64, |f| f.chpe_metadata_version = Some(1), Rule::Machine, "ARM64EC image, not x64"),
            (Arch::Arm64Ec, |f| f.chpe_metadata_version = None, Rule::Machine, "CHPEMetadataPointer is 0"),
            (Arch::Arm64Ec, |f| { f.chpe_metadata_version = None; f.load_config_size = None }, Rule::Machine, "has no load config"),
            (Arch::Arm64Ec, |f| { f.chpe_metadata_version = None; f.load_config_size = Some(0x70) }, Rule::Machine, "too short"),
            (Arch::Arm64Ec, |f| f.chpe_metadata_version = Some(0), Rule::Machine, "version is 0"),
            (Arch::Arm64, |f| f.characteristics = 0x0022, Rule::Kind, "IMAGE_FILE_DLL is clear"),
            (Arch::Arm64, |f| f.characteristics = 0x2020, Rule::Kind, "EXECUTABLE_IMAGE is clear"),
            (Arch::X64, |f| f.dll_characteristics = 0x0140, Rule::DllCharacteristics, "missing HIGH_ENTROPY_VA in"),
            (Arch::X86, |f| f.dll_characteristics = 0x0040, Rule::DllCharacteristics, "missing NX_COMPAT in"),
            (Arch::X86, |f| f.dll_characteristics = 0x0100, Rule::DllCharacteristics, "missing DYNAMIC_BASE in"),
            (Arch::X86, |f| f.is_pe32_plus = true, Rule::DllCharacteristics, "expected a PE32 optional header for x86, found PE32+"),
            (Arch::Arm64, |f| f.exports.push("Extra".into()), Rule::Exports, "found [Extra, RegisterModule]"),
            (Arch::X64, |f| f.exports.clear(), Rule::Exports, "expected exactly [RegisterModule], found []"),
            (Arch::X64, |f| f.imports.push(("user32.dll".into(), strings(&["MessageBeep"]))), Rule::Imports, "not allowed: user32.dll (MessageBeep)"),
            (Arch::X64, |f| f.delay_imports.push(("ole32.dll".into(), strings(&["#7"]))), Rule::Imports, "ole32.dll (#7, delay-load)"),
            (Arch::X86, |f| f.imports[0].1 = strings(&["GetCurrentProcessId@0"]), Rule::Imports, "[KERNEL32.dll!GetCurrentProcessId@0]"),
            (Arch::X64, |f| f.version_info = None, Rule::Version, "no VS_VERSIONINFO"),
            (Arch::X64, |f| f.version_info.as_mut().unwrap().file_version = [1, 2, 3, 5], Rule::Version, "FILEVERSION is 1.2.3.5, expected 1.2.3.4"),
            (Arch::X64, |f| f.version_info.as_mut().unwrap().signature = 0, Rule::Version, "signature is 0x00000000"),
        ];
        for (arch, break_it, rule, fragment) in cases {
            let mut facts = good(*arch);
            break_it(&mut facts);
            let v = failed(&facts, *arch);
            assert_eq!(rules(&v), vec![*rule], "{arch} {fragment}: {v:?}");
            assert!(
                v.iter().any(|v| v.message.contains(fragment)),
                "{arch}: {fragment:?} not in {v:?}"
            );
        }
    }

    #[test]
    fn exports_are_compared_as_sets_and_imports_case_insensitively() {
        let mut facts = good(Arch::X64);
        facts.exports = strings(&["b", "a"]);
        facts.imports[0].0 = "Kernel32.DLL".into();
        let exports = strings(&["a", "b"]);
        let allowed = strings(&["KERNEL32.dll"]);
        let e = Expectation {
            arch: Arch::X64,
            kind: ImageKind::Dll,
            exports: &exports,
            allowed_imports: &allowed,
            version: VERSION,
        };
        assert_eq!(violations(&facts, &e), vec![]);
    }

    #[test]
    fn a_decorated_x86_export_is_reported_with_file_and_rule() {
        let mut facts = good(Arch::X86);
        facts.exports = strings(&["_RegisterModule@12"]);
        let v = failed(&facts, Arch::X86);
        let text = Failures {
            path: "target/x/archway_x86.dll".into(),
            violations: v,
        }
        .to_string();
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some(
                "target/x/archway_x86.dll: rule exports: expected exactly [RegisterModule], found [_RegisterModule@12]"
            )
        );
        assert!(
            lines
                .next()
                .unwrap()
                .starts_with("target/x/archway_x86.dll: rule exports: decorated names on x86")
        );
        assert_eq!(lines.next(), None);
        // A cdecl-style leading underscore on an expected name counts as decorated too.
        facts.exports = strings(&["_RegisterModule"]);
        assert!(failed(&facts, Arch::X86).iter().any(|v| {
            v.message
                .contains("decorated names on x86: [_RegisterModule]")
        }));
    }

    #[test]
    fn every_failed_rule_is_reported_at_once() {
        let mut facts = good(Arch::X86); // PE32, 0x14c, no HIGH_ENTROPY_VA
        facts.exports = strings(&["_RegisterModule@12"]);
        facts
            .imports
            .push(("user32.dll".into(), strings(&["GetDesktopWindow"])));
        facts.version_info = None;
        let v = with_expectation(Arch::X64, ImageKind::Exe, |e| violations(&facts, e));
        let all = [
            Rule::Machine,
            Rule::Kind,
            Rule::DllCharacteristics,
            Rule::Exports,
            Rule::Imports,
            Rule::Version,
        ];
        assert_eq!(rules(&v), all);
    }

    #[test]
    fn the_machine_numbers_agree_with_matrix_toml() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let matrix = crate::matrix::Matrix::load(&root.join("matrix.toml")).unwrap();
        for spec in &matrix.archs {
            assert_eq!(pe_machine(spec.arch), spec.pe_machine, "{}", spec.arch);
        }
    }

    #[test]
    fn a_file_that_is_not_a_pe_image_is_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bogus.dll");
        std::fs::write(&path, b"MZ but nothing else, certainly no PE header here").unwrap();
        let msg = read_facts(&path).unwrap_err().to_string();
        assert!(msg.starts_with(&format!("{}: ", path.display())), "{msg}");
        let msg = format!(
            "{:#}",
            read_facts(&dir.path().join("absent.dll")).unwrap_err()
        );
        assert!(msg.contains("absent.dll"), "{msg}");
    }

    // ---- fixtures linked with LLVM: real files, variants for each rule ------------------------

    struct Tools {
        clang_cl: PathBuf,
        lld_link: PathBuf,
        llvm_rc: PathBuf,
        dlltool: PathBuf,
    }

    fn on_path(name: &str) -> Option<PathBuf> {
        let path = Path::new(name);
        if path.is_absolute() {
            return path.is_file().then(|| path.to_path_buf());
        }
        std::env::split_paths(&std::env::var_os("PATH")?)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    }

    fn first(candidates: &[&str]) -> Option<PathBuf> {
        candidates.iter().find_map(|c| on_path(c))
    }

    /// A clang-cl whose `--print-targets` lists every backend in `backends` (the LLVM in
    /// /tmp/llvmvenv has only x86; Debian's clang-19 has AArch64 too).
    fn clang_cl_with(backends: &[&str]) -> Option<PathBuf> {
        ["/tmp/llvmvenv/bin/clang-cl", "clang-cl-19", "clang-cl"]
            .iter()
            .filter_map(|c| on_path(c))
            .find(|cl| {
                Command::new(cl)
                    .arg("--print-targets")
                    .output()
                    .is_ok_and(|out| {
                        let text = String::from_utf8_lossy(&out.stdout);
                        backends.iter().all(|b| {
                            text.lines()
                                .any(|l| l.trim_start().starts_with(&format!("{b} ")))
                        })
                    })
            })
    }

    /// The LLVM tools, or `None` after one `skipped:` line; with CI=true a missing tool fails.
    fn tools(backends: &[&str]) -> Option<Tools> {
        let clang_cl = clang_cl_with(backends);
        let lld_link = first(&["/tmp/llvmvenv/bin/lld-link", "lld-link-19", "lld-link"]);
        let llvm_rc = first(&["/tmp/llvmvenv/bin/llvm-rc", "llvm-rc-19", "llvm-rc"]);
        let dlltool = first(&[
            "/tmp/llvmvenv/bin/llvm-dlltool",
            "llvm-dlltool-19",
            "llvm-dlltool",
        ]);
        let mut missing = Vec::new();
        if clang_cl.is_none() {
            missing.push(format!(
                "clang-cl with the {} backend",
                backends.join(" and ")
            ));
        }
        for (tool, name) in [
            (&lld_link, "lld-link"),
            (&llvm_rc, "llvm-rc"),
            (&dlltool, "llvm-dlltool"),
        ] {
            if tool.is_none() {
                missing.push(name.to_string());
            }
        }
        if missing.is_empty() {
            return Some(Tools {
                clang_cl: clang_cl.unwrap(),
                lld_link: lld_link.unwrap(),
                llvm_rc: llvm_rc.unwrap(),
                dlltool: dlltool.unwrap(),
            });
        }
        let missing = missing.join(", ");
        let how = "install LLVM 19 or newer (apt-get install clang-19 lld-19 llvm-19)";
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("CI=true and {missing} missing: {how}");
        }
        println!("skipped: {missing} missing, {how}");
        None
    }

    fn run(dir: &Path, program: &Path, args: &[&str]) {
        let out = Command::new(program)
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{} {}\n{}{}",
            program.display(),
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The .rc both llvm-rc and the hand-built blob of `versioninfo::tests` describe.
    fn version_rc(v: [u16; 4], strings: &[(&str, &str)]) -> String {
        let v = v.map(|p| p.to_string()).join(",");
        let values: String = strings
            .iter()
            .map(|(k, s)| format!("      VALUE \"{k}\", \"{s}\"\n"))
            .collect();
        format!(
            "1 VERSIONINFO\nFILEVERSION {v}\nPRODUCTVERSION {v}\nFILEFLAGSMASK 0x3F\nFILEOS 0x40004\n\
             FILETYPE 2\nBEGIN\n  BLOCK \"StringFileInfo\"\n  BEGIN\n    BLOCK \"040904B0\"\n    BEGIN\n\
             {values}    END\n  END\n  BLOCK \"VarFileInfo\"\n  BEGIN\n    VALUE \"Translation\", 0x409, 1200\n  END\nEND\n"
        )
    }

    const RC_STRINGS: &[(&str, &str)] = &[
        ("CompanyName", "Example"),
        ("FileDescription", "verify fixture"),
        ("ProductName", "archway"),
    ];

    /// One DLL exporting `RegisterModule` (stdcall on x86), linked by lld-link.
    struct Fixture {
        arch: Arch,
        /// `__declspec(dllexport)` instead of a .def file.
        dllexport: bool,
        /// (dll, function taking no arguments)
        imports: Vec<(&'static str, &'static str)>,
        version: Option<[u16; 4]>,
        /// For ARM64EC: `_load_config_used` pointing at a version-1 `__chpe_metadata`.
        ec_load_config: bool,
        link_args: Vec<&'static str>,
    }

    impl Fixture {
        fn new(arch: Arch) -> Fixture {
            // lld-link 19 cannot link ARM64EC import libraries (docs/toolchains.md §4.6).
            let imports = if arch == Arch::Arm64Ec {
                vec![]
            } else {
                vec![("kernel32.dll", "GetCurrentProcessId")]
            };
            Fixture {
                arch,
                dllexport: false,
                imports,
                version: Some(VERSION),
                ec_load_config: true,
                link_args: vec![],
            }
        }

        fn build(&self, tools: &Tools, root: &Path, name: &str) -> PathBuf {
            let dir = root.join(name);
            std::fs::create_dir_all(&dir).unwrap();
            let (triple, machine, dlltool_machine) = match self.arch {
                Arch::X86 => ("i686-pc-windows-msvc", "x86", "i386"),
                Arch::X64 => ("x86_64-pc-windows-msvc", "x64", "i386:x86-64"),
                Arch::Arm64 => ("aarch64-pc-windows-msvc", "arm64", "arm64"),
                Arch::Arm64Ec => ("arm64ec-pc-windows-msvc", "arm64ec", "arm64ec"),
            };
            let mut c = String::new();
            for (_, f) in &self.imports {
                c += &format!("__declspec(dllimport) unsigned long __stdcall {f}(void);\n");
            }
            if self.arch == Arch::Arm64Ec {
                c += "void *__os_arm64x_dispatch_ret, *__os_arm64x_dispatch_call_no_redirect, *__os_arm64x_check_icall;\n";
                if self.ec_load_config {
                    c += "struct chpe { unsigned version, rest[22]; };\n\
                          const struct chpe __chpe_metadata = { 1 };\n\
                          struct lc { unsigned size; unsigned char a[0xC4]; const void *chpe; unsigned char b[0x140 - 0xD0]; };\n\
                          const struct lc _load_config_used = { 0x140, {0}, &__chpe_metadata };\n";
                }
            }
            if self.link_args.iter().any(|a| a.starts_with("/delayload:")) {
                c += "void *__stdcall __delayLoadHelper2(void *d, void *f) { return 0; }\n";
            }
            let export = if self.dllexport {
                "__declspec(dllexport)"
            } else {
                ""
            };
            let calls: String = self
                .imports
                .iter()
                .map(|(_, f)| format!(" + (int){f}()"))
                .collect();
            c += &format!(
                "{export} int __stdcall RegisterModule(int a, void *b, void *c) {{ return a{calls}; }}\n"
            );
            std::fs::write(dir.join("m.c"), c).unwrap();
            let target = format!("--target={triple}");
            run(
                &dir,
                &tools.clang_cl,
                &[
                    &target,
                    "/c",
                    "/O2",
                    "/GS-",
                    "/Zl",
                    "/Fo:m.obj",
                    "--",
                    "m.c",
                ],
            );

            let mut link: Vec<String> = ["/dll", "/noentry", "/nodefaultlib", "/noimplib", "m.obj"]
                .map(String::from)
                .into();
            link.push(format!("/machine:{machine}"));
            link.push(format!("/out:{name}.dll"));
            let mut dlls: Vec<&str> = self.imports.iter().map(|(dll, _)| *dll).collect();
            dlls.dedup();
            for dll in dlls {
                let stem = dll.trim_end_matches(".dll");
                let decoration = if self.arch == Arch::X86 { "@0" } else { "" };
                let names: String = self
                    .imports
                    .iter()
                    .filter(|(d, _)| *d == dll)
                    .map(|(_, f)| format!("{f}{decoration}\n"))
                    .collect();
                std::fs::write(
                    dir.join(format!("{stem}.def")),
                    format!("LIBRARY {dll}\nEXPORTS\n{names}"),
                )
                .unwrap();
                let (def, lib) = (format!("{stem}.def"), format!("{stem}.lib"));
                let mut args = vec!["-m", dlltool_machine, "-d", &def, "-l", &lib];
                if self.arch == Arch::X86 {
                    args.push("-k");
                }
                run(&dir, &tools.dlltool, &args);
                link.push(lib);
            }
            if let Some(version) = self.version {
                std::fs::write(dir.join("v.rc"), version_rc(version, RC_STRINGS)).unwrap();
                run(
                    &dir,
                    &tools.llvm_rc,
                    &["/no-preprocess", "/fo", "v.res", "v.rc"],
                );
                link.push("v.res".into());
            }
            if !self.dllexport {
                std::fs::write(dir.join("m.def"), "EXPORTS\nRegisterModule\n").unwrap();
                link.push("/def:m.def".into());
            }
            link.extend(self.link_args.iter().map(|a| a.to_string()));
            run(
                &dir,
                &tools.lld_link,
                &link.iter().map(String::as_str).collect::<Vec<_>>(),
            );
            dir.join(format!("{name}.dll"))
        }
    }

    fn check_as(path: &Path, arch: Arch, kind: ImageKind) -> Result<PeFacts> {
        with_expectation(arch, kind, |e| check(path, e))
    }

    fn failed_rules(path: &Path, arch: Arch, kind: ImageKind) -> (Vec<Rule>, String) {
        let err = check_as(path, arch, kind).expect_err("the check passed");
        let text = err.to_string();
        let failures = err
            .downcast::<Failures>()
            .unwrap_or_else(|e| panic!("not a rule failure: {e:#}"));
        (rules(&failures.violations), text)
    }

    #[test]
    fn real_x64_dll_passes_and_reads_back() {
        let Some(tools) = tools(&["x86-64"]) else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let dll = Fixture::new(Arch::X64).build(&tools, dir.path(), "good64");
        let facts = check_as(&dll, Arch::X64, ImageKind::Dll).unwrap();
        assert_eq!(facts.exports, ["RegisterModule"]);
        assert_eq!(
            facts.imports,
            vec![(
                "kernel32.dll".to_string(),
                strings(&["GetCurrentProcessId"])
            )]
        );
        assert_eq!(facts.chpe_metadata_version, None);
        let info = facts.version_info.unwrap();
        assert_eq!(
            (info.file_version, info.product_version),
            (VERSION, VERSION)
        );
        let expected: Vec<(String, String)> = RC_STRINGS
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(info.strings, expected);

        // The same file against the wrong machine, kind or version.
        assert_eq!(
            failed_rules(&dll, Arch::Arm64, ImageKind::Dll).0,
            [Rule::Machine]
        );
        assert_eq!(
            failed_rules(&dll, Arch::Arm64Ec, ImageKind::Dll).0,
            [Rule::Machine]
        );
        assert_eq!(
            failed_rules(&dll, Arch::X64, ImageKind::Exe).0,
            [Rule::Kind]
        );
        assert_eq!(
            failed_rules(&dll, Arch::X86, ImageKind::Dll).0,
            [Rule::Machine, Rule::DllCharacteristics]
        );
        let exports = strings(&["RegisterModule"]);
        let allowed = strings(&["kernel32.dll"]);
        let e = Expectation {
            arch: Arch::X64,
            kind: ImageKind::Dll,
            exports: &exports,
            allowed_imports: &allowed,
            version: [1, 2, 3, 5],
        };
        let msg = check(&dll, &e).unwrap_err().to_string();
        assert_eq!(
            msg,
            format!(
                "{}: rule version: FILEVERSION is 1.2.3.4, expected 1.2.3.5",
                dll.display()
            )
        );
    }

    #[test]
    fn real_variants_each_fail_their_rule() {
        let Some(tools) = tools(&["x86-64"]) else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let build = |name, change: &dyn Fn(&mut Fixture), arch| {
            let mut fixture = Fixture::new(arch);
            change(&mut fixture);
            fixture.build(&tools, dir.path(), name)
        };

        let dll = build("x86def", &|_| {}, Arch::X86);
        let facts = check_as(&dll, Arch::X86, ImageKind::Dll).unwrap();
        assert!(!facts.is_pe32_plus && facts.imports[0].1 == ["GetCurrentProcessId"]);

        let dll = build("x86dllexport", &|f| f.dllexport = true, Arch::X86);
        let (rules, msg) = failed_rules(&dll, Arch::X86, ImageKind::Dll);
        assert_eq!(rules, [Rule::Exports]);
        assert!(
            msg.contains(
                "rule exports: expected exactly [RegisterModule], found [_RegisterModule@12]"
            ),
            "{msg}"
        );

        let dll = build(
            "nohighentropy",
            &|f| f.link_args.push("/highentropyva:no"),
            Arch::X64,
        );
        let (rules, msg) = failed_rules(&dll, Arch::X64, ImageKind::Dll);
        assert_eq!(rules, [Rule::DllCharacteristics]);
        assert!(
            msg.contains("rule dll-characteristics: missing HIGH_ENTROPY_VA"),
            "{msg}"
        );

        let dll = build(
            "user32",
            &|f| f.imports.push(("user32.dll", "GetDesktopWindow")),
            Arch::X64,
        );
        let (rules, msg) = failed_rules(&dll, Arch::X64, ImageKind::Dll);
        assert_eq!(rules, [Rule::Imports]);
        assert!(
            msg.contains("rule imports: not allowed: user32.dll (GetDesktopWindow)"),
            "{msg}"
        );

        let dll = build(
            "delayload",
            &|f| {
                f.imports.push(("user32.dll", "GetDesktopWindow"));
                f.link_args.push("/delayload:user32.dll");
            },
            Arch::X64,
        );
        let facts = read_facts(&dll).unwrap();
        assert_eq!(facts.imports.len(), 1, "{:?}", facts.imports);
        let delayed = vec![("user32.dll".to_string(), strings(&["GetDesktopWindow"]))];
        assert_eq!(facts.delay_imports, delayed);
        let (rules, msg) = failed_rules(&dll, Arch::X64, ImageKind::Dll);
        assert_eq!(rules, [Rule::Imports]);
        assert!(
            msg.contains("user32.dll (GetDesktopWindow, delay-load)"),
            "{msg}"
        );

        let dll = build("unversioned", &|f| f.version = None, Arch::X64);
        let (rules, msg) = failed_rules(&dll, Arch::X64, ImageKind::Dll);
        assert_eq!(rules, [Rule::Version]);
        assert!(msg.contains("rule version: no VS_VERSIONINFO"), "{msg}");

        // Everything wrong at once: all six rules, one line each, every line naming the file.
        let dll = build(
            "allwrong",
            &|f| {
                f.dllexport = true;
                f.version = None;
                f.imports.push(("user32.dll", "GetDesktopWindow"));
            },
            Arch::X86,
        );
        let (rules, msg) = failed_rules(&dll, Arch::X64, ImageKind::Exe);
        let all = [
            Rule::Machine,
            Rule::Kind,
            Rule::DllCharacteristics,
            Rule::Exports,
            Rule::Imports,
            Rule::Version,
        ];
        assert_eq!(rules, all, "{msg}");
        assert!(
            msg.lines()
                .all(|l| l.starts_with(&format!("{}: rule ", dll.display()))),
            "{msg}"
        );
    }

    #[test]
    fn real_arm64_and_arm64ec_are_told_apart_from_x64() {
        let Some(tools) = tools(&["x86-64", "aarch64"]) else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let arm64 = Fixture::new(Arch::Arm64).build(&tools, dir.path(), "arm64");
        check_as(&arm64, Arch::Arm64, ImageKind::Dll).unwrap();
        assert_eq!(
            failed_rules(&arm64, Arch::X64, ImageKind::Dll).0,
            [Rule::Machine]
        );

        let ec = Fixture::new(Arch::Arm64Ec).build(&tools, dir.path(), "ec");
        let facts = check_as(&ec, Arch::Arm64Ec, ImageKind::Dll).unwrap();
        assert_eq!(
            (
                facts.machine,
                facts.chpe_metadata_version,
                facts.load_config_size
            ),
            (0x8664, Some(1), Some(0x140))
        );
        let (rules, msg) = failed_rules(&ec, Arch::X64, ImageKind::Dll);
        assert_eq!(rules, [Rule::Machine]);
        assert!(
            msg.contains("rule machine: found CHPE metadata (version 1)"),
            "{msg}"
        );

        let mut no_chpe = Fixture::new(Arch::Arm64Ec);
        no_chpe.ec_load_config = false;
        let no_chpe = no_chpe.build(&tools, dir.path(), "ec-no-loadcfg");
        let (rules, msg) = failed_rules(&no_chpe, Arch::Arm64Ec, ImageKind::Dll);
        assert_eq!(rules, [Rule::Machine]);
        assert!(
            msg.contains("needs CHPE metadata, but the image has no load config"),
            "{msg}"
        );
    }

    #[test]
    fn llvm_rc_writes_what_the_hand_built_blob_holds() {
        let Some(tools) = tools(&["x86-64"]) else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("v.rc"),
            version_rc([1, 2, 3, 4], RC_STRINGS),
        )
        .unwrap();
        run(
            dir.path(),
            &tools.llvm_rc,
            &["/no-preprocess", "/fo", "v.res", "v.rc"],
        );
        let res = std::fs::read(dir.path().join("v.res")).unwrap();
        // A .res is a 32-byte empty entry, then DataSize, HeaderSize, header, data.
        let u32_at = |at: usize| u32::from_le_bytes(res[at..at + 4].try_into().unwrap()) as usize;
        let (data_size, header_size) = (u32_at(32), u32_at(36));
        let from_rc = &res[32 + header_size..32 + header_size + data_size];
        let by_hand = versioninfo::tests::sample_blob([1, 2, 3, 4], [1, 2, 3, 4], RC_STRINGS);
        assert_eq!(from_rc, by_hand.as_slice());
    }
}
