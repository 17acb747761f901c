//! The lld-link reference path for ARM64X pure forwarders: the same DLL the writer emits, linked
//! the documented way (docs/arm64x-forwarder.md §14), for golden tests and the benchmark.
//!
//! lld-link 21 or newer links `/machine:arm64x` from two `.def` files and two load-configuration
//! objects that we assemble ourselves (`reference/loadcfg_native.S`, `reference/loadcfg_ec.S`)
//! with a clang that has the AArch64 code generator. With `/timestamp:0` the output is
//! byte-reproducible, so a writer fed the same inputs must produce the same bytes.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};

use crate::{
    cmd::Cmd,
    fsx,
    matrix::machine,
    toolchain::{
        self, MIN_CLANG,
        llvm::{Found, LlvmTool},
        newest, provision,
    },
};

/// lld-link 19 knows neither `/defarm64native` nor ARM64X images (docs/arm64x-forwarder.md §11
/// item 4); the references are checked with 23, and 21 is the oldest the doc vouches for.
pub const MIN_LLD_ARM64X: u32 = 21;

const LOADCFG_NATIVE_S: &str = include_str!("reference/loadcfg_native.S");
const LOADCFG_EC_S: &str = include_str!("reference/loadcfg_ec.S");

/// The two programs the reference path runs.
#[derive(Clone, Debug)]
pub struct ReferenceTools {
    /// A GNU-style clang driver with the AArch64 code generator (assembles the load configs).
    pub clang: PathBuf,
    /// lld-link `MIN_LLD_ARM64X` or newer.
    pub lld_link: PathBuf,
}

/// Finds the tools among every LLVM tool the xtask's discovery sees (`ARCHWAY_LLVM_DIR`,
/// `PATH`, `/usr/lib/llvm-*/bin`, the provisioned venv). The error says what is missing and
/// how to get it, in the form `<what> is missing; <how to get it>`. `project` holds the
/// remembered tool probes (None: every tool is asked afresh).
pub fn find_for(project: Option<&crate::project::Project>) -> Result<ReferenceTools> {
    choose(&toolchain::inventory(project)?).map_err(anyhow::Error::msg)
}

/// [`find_for`] the checkout the tests run in.
#[cfg(test)]
pub fn find() -> Result<ReferenceTools> {
    find_for(crate::project::Project::discover().ok().as_ref())
}

/// Picks the newest suitable clang and lld-link from an inventory.
pub fn choose(inventory: &[Found]) -> Result<ReferenceTools, String> {
    let clang = newest(inventory, LlvmTool::Clang, |f| f.version.major >= MIN_CLANG && f.has_backend("aarch64"));
    let lld_link = newest(inventory, LlvmTool::LldLink, |f| f.version.major >= MIN_LLD_ARM64X);
    let mut missing = Vec::new();
    if clang.is_none() {
        missing.push(format!(
            "clang {MIN_CLANG} or newer with the AArch64 code generator is missing; install clang-19 from the \
             distribution (Debian/Ubuntu: `apt-get install clang-19`) or set ARCHWAY_LLVM_DIR"
        ));
    }
    if lld_link.is_none() {
        let old = newest(inventory, LlvmTool::LldLink, |_| true)
            .map(|f| format!(" (lld-link {} at {} cannot link ARM64X)", f.version, f.path.display()))
            .unwrap_or_default();
        missing.push(format!(
            "lld-link {MIN_LLD_ARM64X} or newer is missing{old}; run `cargo xtask toolchain install` for lld-link {}",
            provision::PIN
        ));
    }
    match (clang, lld_link) {
        (Some(clang), Some(lld_link)) => {
            Ok(ReferenceTools { clang: clang.path.clone(), lld_link: lld_link.path.clone() })
        }
        _ => Err(missing.join("; and ")),
    }
}

/// Writes the two load-configuration sources into `dir` and assembles them there: returns
/// (`loadcfg_native.obj`, `loadcfg_ec.obj`). Checks each object's machine, since an assembler
/// that writes an ARM64 object for the EC triple makes lld report a duplicate
/// `_load_config_used` (docs/arm64x-forwarder.md §11 item 5).
pub fn assemble_load_configs(tools: &ReferenceTools, dir: &Path) -> Result<(PathBuf, PathBuf)> {
    let native = assemble(tools, dir, "loadcfg_native", LOADCFG_NATIVE_S, "aarch64-pc-windows-msvc", machine::ARM64)?;
    let ec = assemble(tools, dir, "loadcfg_ec", LOADCFG_EC_S, "arm64ec-pc-windows-msvc", machine::ARM64EC_OBJECT)?;
    Ok((native, ec))
}

fn assemble(
    tools: &ReferenceTools,
    dir: &Path,
    stem: &str,
    source: &str,
    target: &str,
    machine: u16,
) -> Result<PathBuf> {
    let (src, obj) = (format!("{stem}.S"), format!("{stem}.obj"));
    fsx::write_if_changed(&dir.join(&src), source.as_bytes())?;
    Cmd::new(&tools.clang)
        .timeout(std::time::Duration::from_secs(300))
        .arg(format!("--target={target}"))
        .args(["-c", src.as_str(), "-o", obj.as_str()])
        .current_dir(dir)
        .run()
        .with_context(|| format!("cannot assemble {src} for {target}"))?;
    let path = dir.join(&obj);
    let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let found = bytes.get(..2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    ensure!(
        found == Some(machine),
        "{} has COFF machine {}, expected {machine:#06X}: {} does not assemble {target} objects",
        path.display(),
        found.map_or("(none)".to_string(), |m| format!("{m:#06X}")),
        tools.clang.display()
    );
    Ok(path)
}

/// One export of a forwarder, as a `.def` line describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DefExport {
    pub name: String,
    pub ordinal: Option<u16>,
    /// Ordinal-only. lld's `.def` grammar accepts NONAME only after `@n`; without an ordinal it
    /// fails with "unknown directive: NONAME", and `def_text` lets it.
    pub noname: bool,
    /// Changes only the import library, not the export table (docs/arm64x-forwarder.md §5).
    pub data: bool,
}

/// A `.def` file whose every export forwards to `target_stem.<name>`:
/// `EXPORTS` then `  Name = target_stem.Name @N NONAME DATA` (only the parts that apply).
/// Names that the `.def` lexer would split or take for a keyword are quoted.
pub fn def_text(exports: &[DefExport], target_stem: &str) -> String {
    let mut text = String::from("EXPORTS\n");
    for e in exports {
        text.push_str(&format!("  {} = {}", def_token(&e.name), def_token(&format!("{target_stem}.{}", e.name))));
        if let Some(n) = e.ordinal {
            text.push_str(&format!(" @{n}"));
        }
        if e.noname {
            text.push_str(" NONAME");
        }
        if e.data {
            text.push_str(" DATA");
        }
        text.push('\n');
    }
    text
}

/// A word as LLVM's `.def` lexer reads it: it ends at `=,;` or white space, and a bare word that
/// is a keyword (`DATA`, `NONAME`, …) or starts with `@` is not a name.
fn def_token(word: &str) -> String {
    const KEYWORDS: [&str; 11] = [
        "BASE",
        "CONSTANT",
        "DATA",
        "EXPORTS",
        "HEAPSIZE",
        "LIBRARY",
        "NAME",
        "NONAME",
        "PRIVATE",
        "STACKSIZE",
        "VERSION",
    ];
    let plain = !word.is_empty()
        && !word.starts_with(['@', '"'])
        && !word.contains(|c: char| "=,;".contains(c) || c.is_whitespace())
        && !KEYWORDS.contains(&word);
    if plain { word.to_string() } else { format!("\"{word}\"") }
}

/// A `.res` file holding one RT_VERSION resource (ID 1, `language`) with `version_info` (the
/// VS_VERSIONINFO bytes), laid out as llvm-rc writes it (docs/arm64x-forwarder.md §8.1): the empty
/// 0x20-byte leading entry, then a RESOURCEHEADER (DataSize, HeaderSize 0x20, type 0xFFFF/16,
/// name 0xFFFF/1, DataVersion 0, MemoryFlags 0x30, LanguageId, Version 0, Characteristics 0),
/// the data, and zero padding to 4.
pub fn res_file(language: u16, version_info: &[u8]) -> Vec<u8> {
    const RT_VERSION: u16 = 16;
    let data_size = u32::try_from(version_info.len()).expect("a VS_VERSIONINFO is at most 64 KiB");
    let mut out = Vec::with_capacity(0x40 + version_info.len() + 3);
    for (size, kind, name, flags, lang) in [(0, 0, 0, 0, 0), (data_size, RT_VERSION, 1, 0x30, language)] {
        out.extend_from_slice(&u32::to_le_bytes(size));
        out.extend_from_slice(&0x20u32.to_le_bytes());
        for word in [0xFFFF, kind, 0xFFFF, name] {
            out.extend_from_slice(&u16::to_le_bytes(word));
        }
        out.extend_from_slice(&0u32.to_le_bytes()); // DataVersion
        out.extend_from_slice(&u16::to_le_bytes(flags));
        out.extend_from_slice(&u16::to_le_bytes(lang));
        out.extend_from_slice(&[0; 8]); // Version, Characteristics
    }
    out.extend_from_slice(version_info);
    out.resize(out.len().next_multiple_of(4), 0);
    out
}

/// Links `dll_name` in `dir` (which it writes `native.def`, `ec.def` and `version.res` into) and
/// returns its bytes:
/// `lld-link /dll /noentry /machine:arm64x /noimplib /WX /timestamp:<timestamp> [/release]
/// /defarm64native:native.def /def:ec.def loadcfg_native.obj loadcfg_ec.obj [version.res]
/// /out:<dll_name>`, run in `dir` with relative paths (load configs elsewhere are copied in).
/// `/WX` because lld only warns about a missing `_load_config_used` (§4.1) or a duplicate
/// export, and any warning means the reference is not what the caller asked for.
/// `dll_name` is also the name inside both export tables (§5, §10).
#[allow(clippy::too_many_arguments)]
pub fn link(
    tools: &ReferenceTools,
    load_configs: &(PathBuf, PathBuf),
    dir: &Path,
    dll_name: &str,
    native_def: &str,
    ec_def: &str,
    res: Option<&[u8]>,
    timestamp: u32,
    release_checksum: bool,
) -> Result<Vec<u8>> {
    ensure!(
        !dll_name.is_empty() && Path::new(dll_name).file_name().is_some_and(|n| n == dll_name),
        "the DLL name {dll_name:?} must be a plain file name (it is written into the export tables)"
    );
    let native_obj = local_copy(&load_configs.0, dir, "loadcfg_native.obj")?;
    let ec_obj = local_copy(&load_configs.1, dir, "loadcfg_ec.obj")?;
    fsx::write_atomic(&dir.join("native.def"), native_def.as_bytes())?;
    fsx::write_atomic(&dir.join("ec.def"), ec_def.as_bytes())?;
    let out = dir.join(dll_name);
    if out.exists() {
        std::fs::remove_file(&out).with_context(|| format!("cannot remove the previous {}", out.display()))?;
    }
    let mut cmd = Cmd::new(&tools.lld_link)
        .timeout(std::time::Duration::from_secs(300))
        .args(["/dll", "/noentry", "/machine:arm64x", "/noimplib", "/WX"])
        .arg(format!("/timestamp:{timestamp}"))
        .args(release_checksum.then_some("/release"))
        .args(["/defarm64native:native.def", "/def:ec.def"])
        .args([native_obj, ec_obj]);
    if let Some(res) = res {
        fsx::write_atomic(&dir.join("version.res"), res)?;
        cmd = cmd.arg("version.res");
    }
    let cmd = cmd.arg(format!("/out:{dll_name}")).current_dir(dir);
    let output = cmd.run().context("lld-link could not link the reference forwarder")?;
    if !output.stderr.trim().is_empty() || !output.stdout.trim().is_empty() {
        bail!(
            "lld-link said something about the reference forwarder; treating it as an error:\n{}",
            cmd.failure(&output)
        );
    }
    std::fs::read(&out).with_context(|| format!("cannot read {}", out.display()))
}

/// The file name under which `obj` is visible in `dir`, copying it there when it lives elsewhere.
fn local_copy(obj: &Path, dir: &Path, name: &str) -> Result<String> {
    let canonical = |p: &Path| std::fs::canonicalize(p).with_context(|| format!("cannot find {}", p.display()));
    let obj_dir = obj.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if canonical(obj_dir)? == canonical(dir)?
        && let Some(file) = obj.file_name().and_then(|n| n.to_str())
    {
        return Ok(file.to_string());
    }
    std::fs::copy(obj, dir.join(name))
        .with_context(|| format!("cannot copy {} into {}", obj.display(), dir.display()))?;
    Ok(name.to_string())
}

#[cfg(test)]
mod tests;
