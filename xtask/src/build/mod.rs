//! `cargo xtask build`: every native binary for every selected architecture, in three phases
//! (compile, assemble, resources and import libraries; link; verify), each step skipped when
//! its fingerprint says nothing changed. Then the Arm64X forwarders whose targets were built
//! (`crate::forwarders`) are written beside them and verified.
//!
//! Layout under `target/archway/<profile>/`:
//!   bin/<name>_<arch>.{dll,exe,pdb}     what later steps ship or test, side by side
//!   obj/<arch>/runtime/…                the freestanding runtime's objects
//!   obj/<arch>/<name>/…                 a binary's objects, resource, `.def` copy, import library
//!   obj/<arch>/imports/<dll>.{def,lib}  import libraries for the system DLLs
//!   gen/archway_version.h               the version the native code is built with

pub mod compile;
pub mod def;
mod jobs;
mod link;
mod resource;
mod step;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::{
    binaries::{self, Binary, Kind},
    forwarders, fsx,
    matrix::{Arch, Matrix},
    project::Project,
    toolchain::{self, Flavor, Provisioning, Toolchain, probe::Prober},
    verify,
};
use step::{HashCache, Step};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Profile {
    Release,
    Debug,
}

impl Profile {
    pub fn name(self) -> &'static str {
        match self {
            Profile::Release => "release",
            Profile::Debug => "debug",
        }
    }

    fn opt_level(self) -> u32 {
        match self {
            Profile::Release => 2,
            Profile::Debug => 0,
        }
    }
}

/// The architectures and toolchain family a verb works on (`build`, `doctor`).
#[derive(clap::Args, Clone, Debug, Default)]
pub struct Selection {
    /// Architectures to build, comma-separated or repeated (x86, x64, arm64, arm64ec); all of
    /// matrix.toml by default.
    #[arg(long = "arch", value_name = "ARCH")]
    pub archs: Vec<String>,
    /// Force a toolchain family instead of the host's default (MSVC on Windows when Visual
    /// Studio's C++ tools are installed, LLVM elsewhere).
    #[arg(long, value_enum, env = "ARCHWAY_TOOLCHAIN")]
    pub toolchain: Option<Flavor>,
}

/// How the steps run: shared by the verbs that build (`build`, `dist`).
#[derive(clap::Args, Clone, Debug, Default)]
pub struct Flags {
    /// Parallel build steps (default: the number of cores).
    #[arg(long, short)]
    pub jobs: Option<usize>,
    /// Do not install the pinned LLVM by itself when ARM64EC needs a newer lld-link.
    #[arg(long)]
    pub no_provision: bool,
}

/// Compile, link and verify every native binary for every architecture.
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "Examples:\n  cargo xtask build\n  cargo xtask build --arch x64,arm64ec --profile debug\n\n\
    Outputs go to target/archway/<profile>/bin/ as <name>_<arch>.dll with its .pdb.\n\
    ARCHWAY_BUILD_NUMBER sets the fourth VERSIONINFO field (0 by default).\n\
    ARCHWAY_TRACE_COMMANDS=1 prints each process started, then how many (none when nothing changed).")]
pub struct Args {
    #[command(flatten)]
    pub selection: Selection,
    #[arg(long, value_enum, default_value = "release")]
    pub profile: Profile,
    #[command(flatten)]
    pub flags: Flags,
    /// Print only errors and the summary.
    #[arg(long, short)]
    pub quiet: bool,
}

/// What one build is asked to do. Made only here: from the command line ([`From<Args>`]) or
/// as the quiet release build other verbs start ([`BuildOptions::release`]).
#[derive(Clone, Debug)]
pub struct BuildOptions {
    archs: Vec<String>,
    profile: Profile,
    jobs: Option<usize>,
    flavor: Option<Flavor>,
    no_provision: bool,
    quiet: bool,
    /// Build somewhere other than `target/archway/<profile>` (benchmarks, tests).
    out_dir: Option<PathBuf>,
}

impl From<Args> for BuildOptions {
    fn from(args: Args) -> BuildOptions {
        BuildOptions {
            archs: args.selection.archs,
            profile: args.profile,
            jobs: args.flags.jobs,
            flavor: args.selection.toolchain,
            no_provision: args.flags.no_provision,
            quiet: args.quiet,
            out_dir: None,
        }
    }
}

impl BuildOptions {
    /// A quiet release build of `archs` (every architecture of matrix.toml when empty) with the
    /// host's toolchain (or ARCHWAY_TOOLCHAIN's), as `dist`, `bench` and the verbs that need
    /// built binaries run it.
    pub fn release(archs: &[&str], flags: &Flags) -> BuildOptions {
        BuildOptions {
            archs: archs.iter().map(|a| a.to_string()).collect(),
            profile: Profile::Release,
            jobs: flags.jobs,
            flavor: None,
            no_provision: flags.no_provision,
            quiet: true,
            out_dir: None,
        }
    }

    /// The same build into `dir` instead of `target/archway/<profile>`.
    pub fn into_dir(self, dir: PathBuf) -> BuildOptions {
        BuildOptions { out_dir: Some(dir), ..self }
    }
}

/// `cargo xtask build`: the build, then its summary.
pub fn run_verb(project: &Project, args: Args) -> Result<()> {
    let report = run(project, &args.into())?;
    print_summary(&report);
    Ok(())
}

/// One linked and verified file.
#[derive(Clone, Debug)]
pub struct Artifact {
    pub binary: String,
    pub arch: Arch,
    pub path: PathBuf,
}

#[derive(Clone, Debug)]
pub struct BuildReport {
    pub bin_dir: PathBuf,
    pub artifacts: Vec<Artifact>,
    pub forwarders: Vec<forwarders::Written>,
    pub ran: usize,
    pub up_to_date: usize,
}

/// The toolchain asked for, else `ARCHWAY_TOOLCHAIN` (as `--toolchain` reads it), so verbs
/// without the flag (`dist`, the release workflow's Windows rebuilds) honour it too.
fn flavor_or_env(flavor: Option<Flavor>) -> Result<Option<Flavor>> {
    if flavor.is_some() {
        return Ok(flavor);
    }
    match std::env::var("ARCHWAY_TOOLCHAIN").ok().as_deref() {
        None | Some("") => Ok(None),
        Some("llvm") => Ok(Some(Flavor::Llvm)),
        Some("msvc") => Ok(Some(Flavor::Msvc)),
        Some(other) => anyhow::bail!("ARCHWAY_TOOLCHAIN={other}: `llvm` or `msvc`"),
    }
}

pub fn run(project: &Project, opts: &BuildOptions) -> Result<BuildReport> {
    let matrix = Matrix::load(&project.matrix_path())?;
    let archs = matrix.select(&opts.archs)?;
    let binaries = binaries::discover(&project.root)?;
    let build_dir = opts.out_dir.clone().unwrap_or_else(|| project.build_dir(opts.profile.name()));
    let provisioning = if opts.no_provision { Provisioning::Refuse } else { Provisioning::Automatic };
    let toolchain = toolchain::discover(project, flavor_or_env(opts.flavor)?, &archs, provisioning)?;
    let unbuildable: Vec<String> =
        archs.iter().filter_map(|a| toolchain.tools(*a).err().map(|why| format!("  {a}: {why}"))).collect();
    if !unbuildable.is_empty() {
        bail!(
            "cannot build every architecture asked for:\n{}\n(`cargo xtask doctor` shows what was found; `--arch` builds a subset)",
            unbuildable.join("\n")
        );
    }
    let plan = plan(project, &matrix, &archs, &binaries, &toolchain, opts.profile, &build_dir)?;
    let jobs = opts.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let hashes = HashCache::default();
    let progress = jobs::Progress::new(plan.units.len() + plan.links.len(), opts.quiet);
    let units = jobs::run_all(&plan.units, jobs, &hashes, &progress)?;
    let links = jobs::run_all(&plan.links, jobs, &hashes, &progress)?;
    for artifact in &plan.artifacts {
        let bin = binaries.iter().find(|b| b.name == artifact.binary).unwrap();
        let allowed = bin.allowed_imports();
        let expect = verify::Expectation {
            arch: artifact.arch,
            kind: match bin.kind {
                Kind::Dll => verify::ImageKind::Dll,
                Kind::Exe => verify::ImageKind::Exe,
            },
            exports: &bin.exports,
            allowed_imports: &allowed,
            version: project.version,
        };
        verify::check(&artifact.path, &expect)?;
    }
    let bin_dir = build_dir.join("bin");
    let forwarders = forwarders::write_all(project, &bin_dir, forwarders::Selection::BuiltFor(&archs))?;
    Ok(BuildReport {
        bin_dir,
        artifacts: plan.artifacts,
        forwarders,
        ran: units.ran + links.ran,
        up_to_date: units.up_to_date + links.up_to_date,
    })
}

/// The closing lines of `build`: what was done, and where the outputs are.
pub fn print_summary(report: &BuildReport) {
    if report.ran == 0 {
        eprintln!("nothing to do: {} steps up to date", report.up_to_date);
    } else {
        eprintln!("{} steps run, {} up to date", report.ran, report.up_to_date);
    }
    let mut archs: Vec<Arch> = report.artifacts.iter().map(|a| a.arch).collect();
    archs.dedup();
    let names: Vec<&str> = archs.iter().map(|a| a.name()).collect();
    eprintln!("{} binaries for {} verified in {}", report.artifacts.len(), names.join(", "), report.bin_dir.display());
    for written in &report.forwarders {
        eprintln!("forwarder {}", forwarders::summary_line(written));
    }
}

struct Plan {
    units: Vec<Step>,
    links: Vec<Step>,
    artifacts: Vec<Artifact>,
}

fn plan(
    project: &Project,
    matrix: &Matrix,
    archs: &[Arch],
    binaries: &[Binary],
    toolchain: &Toolchain,
    profile: Profile,
    build_dir: &Path,
) -> Result<Plan> {
    let root = &project.root;
    let gen_dir = build_dir.join("gen");
    fsx::write_if_changed(&gen_dir.join("archway_version.h"), resource::version_header(project.version).as_bytes())?;
    let brand = resource::Branding { company: project.company.clone(), product: project.product.clone() };
    let mut prober = Prober::new(Some(project.target_dir.join("archway").join("cc-commands.json")));
    // The system DLLs any binary imports from, each `.def` read once for all architectures.
    let mut import_srcs: Vec<&PathBuf> = binaries.iter().flat_map(|b| &b.imports).collect();
    import_srcs.sort();
    import_srcs.dedup();
    let import_defs = import_srcs.into_iter().map(|src| Ok((src, def::read(src)?))).collect::<Result<Vec<_>>>()?;
    let mut plan = Plan { units: Vec::new(), links: Vec::new(), artifacts: Vec::new() };
    for &arch in archs {
        let spec = matrix.spec(arch);
        let tools = toolchain.tools(arch).map_err(anyhow::Error::msg)?;
        let obj_dir = PathBuf::from("obj").join(arch.name());
        let ctx = compile::UnitContext::new(spec, tools, profile, root, build_dir, &mut prober)?;
        let unit = |src: &Path, obj: PathBuf| -> Result<Step> {
            match src.extension().and_then(|e| e.to_str()) {
                Some("S") => compile::asm_step(&ctx, src, &obj),
                _ => compile::cxx_step(&ctx, src, &obj),
            }
        };
        // The freestanding runtime, compiled once per architecture.
        let mut runtime_objs = Vec::new();
        for src in runtime_sources(root, arch)? {
            let obj = obj_dir.join("runtime").join(object_name(&root.join("native/runtime"), &src));
            plan.units.push(unit(&src, obj.clone())?);
            runtime_objs.push(obj);
        }
        // Import libraries for the system DLLs.
        for (def_src, parsed) in &import_defs {
            let stem = def_src.file_stem().unwrap().to_string_lossy().into_owned();
            let def = obj_dir.join("imports").join(format!("{stem}.def"));
            let text = parsed.for_import_library(arch, def_src)?;
            fsx::write_if_changed(&build_dir.join(&def), text.as_bytes())?;
            plan.units.push(link::implib_step(spec, tools, build_dir, &def, &def.with_extension("lib")));
        }
        for bin in binaries {
            let dir = obj_dir.join(&bin.name);
            let mut objects = runtime_objs.clone();
            for src in &bin.sources {
                let obj = dir.join(object_name(&bin.dir, src));
                plan.units.push(unit(src, obj.clone())?);
                objects.push(obj);
            }
            let rc = dir.join("version.rc");
            fsx::write_if_changed(
                &build_dir.join(&rc),
                resource::version_rc(bin, arch, project.version, &brand).as_bytes(),
            )?;
            let res = rc.with_extension("res");
            plan.units.push(resource::rc_step(arch, tools, build_dir, &rc, &res));
            let def = match &bin.def {
                Some(src) => {
                    let copy = dir.join(src.file_name().unwrap());
                    let text = std::fs::read(src).with_context(|| format!("cannot read {}", src.display()))?;
                    fsx::write_if_changed(&build_dir.join(&copy), &text)?;
                    Some(copy)
                }
                None => None,
            };
            let file = bin.file_name(arch);
            let out = PathBuf::from("bin").join(&file);
            let io = link::LinkInputs {
                objects,
                res,
                import_libs: bin
                    .imports
                    .iter()
                    .map(|i| obj_dir.join("imports").join(i.file_name().unwrap()).with_extension("lib"))
                    .collect(),
                def,
                pdb: out.with_extension("pdb"),
                implib: (bin.kind == Kind::Dll).then(|| dir.join(&file).with_extension("lib")),
                out: out.clone(),
            };
            plan.links.push(link::link_step(spec, tools, build_dir, bin, &io));
            plan.artifacts.push(Artifact { binary: bin.name.clone(), arch, path: build_dir.join(out) });
        }
    }
    prober.save()?;
    // Fingerprints live apart from the outputs, so `bin/` holds only what later steps ship.
    for step in plan.units.iter_mut().chain(plan.links.iter_mut()) {
        let output = step.cwd.join(&step.outputs[0]);
        let rel = output.strip_prefix(build_dir).unwrap_or(&output).to_string_lossy().replace(['/', '\\'], "_");
        step.fingerprint = Some(build_dir.join("fingerprints").join(format!("{rel}.json")));
    }
    Ok(plan)
}

/// `native/runtime/common/*` and `native/runtime/<arch>/*` (`.cpp` and `.S`), sorted.
fn runtime_sources(root: &Path, arch: Arch) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for dir in ["common", arch.name()] {
        let dir = root.join("native/runtime").join(dir);
        let entries = std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))?;
        for entry in entries {
            let path = entry?.path();
            if matches!(path.extension().and_then(|e| e.to_str()), Some("cpp" | "S")) {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// `src/shim.cpp` under `module/` → `src_shim.cpp.obj`: unique within a binary (the source's
/// extension stays, so `div64.S` and `div64.cpp` do not collide), readable.
fn object_name(base: &Path, src: &Path) -> String {
    let rel = src.strip_prefix(base).unwrap_or(src);
    let flat: Vec<String> = rel.iter().map(|c| c.to_string_lossy().into_owned()).collect();
    format!("{}.obj", flat.join("_"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_names_are_flat_and_unique() {
        assert_eq!(object_name(Path::new("/r/module"), Path::new("/r/module/src/shim.cpp")), "src_shim.cpp.obj");
        let runtime = Path::new("/r/native/runtime");
        assert_ne!(
            object_name(runtime, &runtime.join("x86/div64.S")),
            object_name(runtime, &runtime.join("x86/div64.cpp"))
        );
    }
}
