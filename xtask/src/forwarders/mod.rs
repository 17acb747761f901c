//! `cargo xtask forwarders`: the Arm64X pure forwarder DLLs of `forwarders/*.toml`, written by
//! archway itself next to the built DLLs they forward to (docs/arm64x-forwarder.md), so one DLL path
//! serves native ARM64 and emulated x64 IIS workers (docs/iis.md §2.3). No linker is involved: the
//! format is small, fixed and fully specified, and a linker-built forwarder once broke on a
//! link.exe bug (dotnet/aspnetcore#62585) and shipped unversioned (dotnet/aspnetcore#60764).
//!
//! Every spec is checked against its target files before anything is written, so a bad spec
//! leaves no file behind; every written file is then read back by the independent reader in
//! `verify::forwards`.

pub mod exports;
pub mod image;
pub mod lld_compare;
pub mod reference;
pub mod spec;
pub mod versioninfo;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::{
    binaries::{self, Kind},
    fsx,
    matrix::{Arch, machine},
    project::{self, Project},
    verify::{self, PeFacts},
};
use exports::Table;
use spec::{Spec, VersionFrom};
use versioninfo::VersionResource;

/// One forwarder written (or found unchanged) and verified.
#[derive(Clone, Debug)]
pub struct Written {
    pub path: PathBuf,
    pub native_target: String,
    pub ec_target: String,
    pub version: [u16; 4],
    pub changed: bool,
}

/// A forwarder ready to be written: its bytes are final.
pub struct Planned {
    pub spec: Spec,
    pub path: PathBuf,
    pub native_target: String,
    pub ec_target: String,
    pub version: [u16; 4],
    /// The VS_VERSIONINFO the file carries (for the lld-link comparison).
    pub version_blob: Vec<u8>,
    /// The COFF TimeDateStamp written (for the lld-link comparison).
    pub timestamp: u32,
    pub bytes: Vec<u8>,
}

/// Which specs to write.
#[derive(Clone, Copy, Debug)]
pub enum Selection<'a> {
    /// Every spec; a missing target is an error (`cargo xtask forwarders`).
    All,
    /// The specs whose two target architectures were just built (`cargo xtask build`).
    BuiltFor(&'a [Arch]),
}

/// Write the Arm64X pure forwarders of forwarders/*.toml next to the built DLLs, then read
/// each back with the independent verifier (`build` does this after linking).
#[derive(clap::Args, Clone, Debug)]
#[command(
    after_help = "Examples:\n  cargo xtask forwarders\n  cargo xtask forwarders --profile debug\n  cargo xtask forwarders --compare-with-lld\n  \
    cargo xtask forwarders --bin-dir path/to/dlls   # DLLs built elsewhere\n\n\
    Each forwarder needs <binary>_arm64.dll and <binary>_x64.dll (or _arm64ec.dll) in the same folder.\n\
    SOURCE_DATE_EPOCH sets the PE timestamp (0 when unset)."
)]
pub struct Args {
    #[arg(long, value_enum, default_value = "release")]
    pub profile: crate::build::Profile,
    /// The folder holding the target DLLs (default: target/archway/<profile>/bin).
    #[arg(long, value_name = "DIR")]
    pub bin_dir: Option<PathBuf>,
    /// Also link each forwarder with lld-link 21+ and fail unless both files are identical.
    #[arg(long)]
    pub compare_with_lld: bool,
}

/// `cargo xtask forwarders`: every spec, optionally compared with lld-link's output first.
pub fn run(project: &Project, args: Args) -> Result<()> {
    let bin_dir = &args.bin_dir.unwrap_or_else(|| project.build_dir(args.profile.name()).join("bin"));
    let planned = plan_all(project, bin_dir, Selection::All)?;
    if args.compare_with_lld {
        for line in lld_compare::against_lld(project, &planned)? {
            eprintln!("{line}");
        }
    }
    let count = planned.len();
    for planned in planned {
        eprintln!("{}", summary_line(&write_one(planned)?));
    }
    eprintln!("{count} forwarders in {}", bin_dir.display());
    Ok(())
}

/// Plans every selected forwarder, then writes and verifies each; nothing is written unless
/// every spec is sound.
pub fn write_all(project: &Project, bin_dir: &Path, selection: Selection) -> Result<Vec<Written>> {
    let planned = plan_all(project, bin_dir, selection)?;
    planned.into_iter().map(write_one).collect()
}

pub fn plan_all(project: &Project, bin_dir: &Path, selection: Selection) -> Result<Vec<Planned>> {
    let specs = spec::discover(&project.root)?;
    let timestamp = timestamp()?;
    specs
        .into_iter()
        .filter(|s| match selection {
            Selection::All => true,
            Selection::BuiltFor(archs) => archs.contains(&Arch::Arm64) && archs.contains(&s.ec.arch()),
        })
        .map(|s| plan(s, &project.root, bin_dir, timestamp))
        .collect()
}

/// COFF TimeDateStamp: SOURCE_DATE_EPOCH, else 0 (docs/arm64x-forwarder.md §10); never the clock.
fn timestamp() -> Result<u32> {
    match project::source_date_epoch()? {
        None => Ok(0),
        Some(seconds) => u32::try_from(seconds).with_context(|| {
            format!("{}={seconds} does not fit a PE timestamp (32 bits, until 2106)", project::SOURCE_DATE_EPOCH_VAR)
        }),
    }
}

pub fn plan(spec: Spec, root: &Path, bin_dir: &Path, timestamp: u32) -> Result<Planned> {
    let native = Target::open(&spec, root, bin_dir, Arch::Arm64)?;
    let ec = Target::open(&spec, root, bin_dir, spec.ec.arch())?;
    for file in [&native.file, &ec.file] {
        if file.eq_ignore_ascii_case(&spec.file) {
            bail!("{}: `file = {:?}` would overwrite its own target", spec.path.display(), spec.file);
        }
    }
    for (export, location) in spec.exports.iter().zip(&spec.export_locations) {
        for target in [&native, &ec] {
            if !target.facts.exports.contains(&export.name) {
                bail!(
                    "{location}: export `{}` is not exported by {} (it exports: {}); remove it from the spec or add it to the binary's .def file",
                    export.name,
                    target.file,
                    target.facts.exports.join(", ")
                );
            }
        }
    }
    // Both views must carry the forwarder's one version (the reader's `forward-version` rule);
    // different versions mean one target is stale.
    let version_of = |t: &Target| t.facts.version_info.as_ref().map(|v| v.file_version);
    if let (Some(a), Some(b)) = (version_of(&native), version_of(&ec))
        && a != b
    {
        let dotted = project::dotted;
        bail!(
            "{}: {} is version {} but {} is {}; one of them is stale: rebuild both (`cargo xtask build --arch arm64,{}`)",
            spec.path.display(),
            native.file,
            dotted(a),
            ec.file,
            dotted(b),
            spec.ec.arch()
        );
    }
    let source = match spec.version_from {
        VersionFrom::Ec => &ec,
        VersionFrom::Native => &native,
    };
    let Some(info) = source.facts.version_info.clone() else {
        bail!(
            "{}: {} has no VERSIONINFO, and the forwarder copies it (an unversioned forwarder breaks MSI upgrades, dotnet/aspnetcore#60764)",
            spec.path.display(),
            source.file
        );
    };
    let description =
        spec.description.clone().unwrap_or_else(|| format!("Arm64X forwarder to {} and {}", native.file, ec.file));
    let mut strings = info.strings.clone();
    for (key, value) in [
        ("FileDescription", description),
        ("InternalName", file_stem(&spec.file).to_string()),
        ("OriginalFilename", spec.file.clone()),
    ] {
        match strings.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value,
            None => strings.push((key.to_string(), value)),
        }
    }
    let resource = VersionResource { file_version: info.file_version, product_version: info.product_version, strings };
    let blob = versioninfo::encode(&resource)
        .with_context(|| format!("{}: the forwarder's version resource", spec.path.display()))?;
    let native_table = Table::assign(&spec.exports, file_stem(&native.file));
    let ec_table = Table::assign(&spec.exports, file_stem(&ec.file));
    let bytes = image::write(&image::Image {
        dll_name: &spec.file,
        native: &native_table,
        ec: &ec_table,
        version: Some((&blob, versioninfo::LANGUAGE)),
        timestamp,
    });
    Ok(Planned {
        path: bin_dir.join(&spec.file),
        native_target: native.file,
        ec_target: ec.file,
        version: info.file_version,
        version_blob: blob,
        timestamp,
        bytes,
        spec,
    })
}

/// Writes (only when the bytes changed) and reads the file back with the independent reader;
/// a file the reader rejects is removed, since it is a writer bug and must not be shipped.
pub fn write_one(planned: Planned) -> Result<Written> {
    let changed = fsx::write_if_changed(&planned.path, &planned.bytes)?;
    if let Err(err) = verify::forwards::check(&planned.path) {
        let _ = std::fs::remove_file(&planned.path);
        return Err(err.context(format!(
            "the independent reader rejects the forwarder written for {} (file removed); the spec and its targets \
             passed every check before writing, so this is most likely a writer bug: please report it",
            planned.spec.path.display()
        )));
    }
    Ok(Written {
        path: planned.path,
        native_target: planned.native_target,
        ec_target: planned.ec_target,
        version: planned.version,
        changed,
    })
}

/// A built DLL a forwarder points at, checked for the view it serves.
struct Target {
    file: String,
    facts: PeFacts,
}

impl Target {
    fn open(spec: &Spec, root: &Path, bin_dir: &Path, arch: Arch) -> Result<Target> {
        let file = binaries::output_name(&spec.binary, arch, Kind::Dll);
        let path = bin_dir.join(&file);
        if !path.is_file() {
            // Only now read the binary.toml files: a typo in `binary` deserves its own message.
            let binaries = binaries::discover(root)?;
            if !binaries.iter().any(|b| b.name == spec.binary && b.kind == Kind::Dll) {
                let dlls: Vec<&str> =
                    binaries.iter().filter(|b| b.kind == Kind::Dll).map(|b| b.name.as_str()).collect();
                bail!(
                    "{}: `binary = {:?}` is not a DLL of any binary.toml; known DLLs: {}",
                    spec.binary_location,
                    spec.binary,
                    dlls.join(", ")
                );
            }
            bail!(
                "{}: target {file} is missing from {}; build it first (`cargo xtask build --arch arm64,{}`)",
                spec.path.display(),
                bin_dir.display(),
                spec.ec.arch()
            );
        }
        let facts = verify::read_facts(&path).with_context(|| format!("{}: target {file}", spec.path.display()))?;
        let found = machine::name(facts.machine, Some(facts.chpe_metadata_version.is_some()));
        if found != arch.name() {
            let view = if arch == Arch::Arm64 { "native (ARM64) view" } else { "EC view" };
            bail!(
                "{}: target {file} is an {found} image ({:#06x}), but the {view} needs {arch}",
                spec.path.display(),
                facts.machine
            );
        }
        Ok(Target { file, facts })
    }
}

/// `archway_arm64.dll` → `archway_arm64`: the name a forwarder string uses (the loader adds
/// `.dll`). Names are checked to end in `.dll` before they get here.
pub fn file_stem(file: &str) -> &str {
    match file.len().checked_sub(4) {
        Some(cut) if file.is_char_boundary(cut) && file[cut..].eq_ignore_ascii_case(".dll") => &file[..cut],
        _ => file,
    }
}

/// One line per forwarder for the build summary and `cargo xtask forwarders`.
pub fn summary_line(w: &Written) -> String {
    let name = w.path.file_name().unwrap_or_default().to_string_lossy();
    let version = project::dotted(w.version);
    let state = if w.changed { "written" } else { "unchanged" };
    format!("{name} {version}: arm64 -> {}, x64 -> {} ({state}, verified)", w.native_target, w.ec_target)
}
