//! MSVC discovery on Windows: developer environment, then vswhere, then the VC folder layout.
//!
//! Order (docs/toolchains.md §1.6): an already-set developer environment (`VCToolsInstallDir`) wins
//! and is the only toolset considered; otherwise one vswhere query lists every Visual Studio
//! instance with the C++ tools, and each architecture is served by the highest
//! `installationVersion` whose toolset can build it. Besides cl/link/lib, the VS-bundled LLVM
//! folder is reported: archway assembles GNU `.S` files with its clang and compiles resources
//! with its llvm-rc (no Windows SDK is used).
//!
//! Everything the discovery reads or runs goes through [`Probe`], so the tests run on Linux
//! against fake VS trees. Paths are therefore built with `Path::join` one component at a time,
//! and every component below an installation is matched case-insensitively, as Windows does.

use std::{
    fmt,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result, anyhow, bail};
use serde::Deserialize;

use crate::matrix::Arch;

/// The machine the tools run on, which picks the `bin\Host<h>` and `VC\Tools\Llvm` folders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostArch {
    X86,
    X64,
    Arm64,
}

impl HostArch {
    /// The `bin\Host<h>` folders this host can run, best first (the cc crate's order, §1.2).
    fn tool_hosts(self) -> &'static [&'static str] {
        match self {
            // UNCERTAIN (docs/toolchains.md §1.2): cc only tries HostX64 on an ARM64 host when x64
            // emulation is enabled; it always is on Windows 11, the only ARM64 Windows archway
            // supports, so it is not checked — verified by the Windows CI job.
            HostArch::Arm64 => &["arm64", "x64", "x86"],
            HostArch::X64 => &["x64", "x86"],
            HostArch::X86 => &["x86"],
        }
    }

    /// The `VC\Tools\Llvm` sub-folders holding clang for this host, best first.
    fn llvm_dirs(self) -> &'static [&'static [&'static str]] {
        match self {
            HostArch::Arm64 => &[&["ARM64", "bin"], &["x64", "bin"], &["bin"]],
            HostArch::X64 => &[&["x64", "bin"], &["bin"]],
            HostArch::X86 => &[&["bin"]],
        }
    }
}

/// What discovery reads and runs. [`RealProbe`] is the machine; the tests use a fake.
pub trait Probe {
    /// An environment variable; unset and empty are the same.
    fn var(&self, name: &str) -> Option<String>;
    /// vswhere's standard output.
    fn run_vswhere(&self, exe: &Path, args: &[&str]) -> Result<String>;
    fn host(&self) -> HostArch;
    fn exists(&self, p: &Path) -> bool;
    /// The names in a folder; empty when it cannot be read.
    fn read_dir_names(&self, p: &Path) -> Vec<String>;
    fn read_to_string(&self, p: &Path) -> Option<String>;
}

/// Runs a program and returns its standard output (an error when it fails to start or exits
/// non-zero).
pub type Runner = fn(&Path, &[&str]) -> Result<String>;

/// The real machine: `std::env`, `std::fs`, and processes through `run`.
pub struct RealProbe {
    pub run: Runner,
}

impl Default for RealProbe {
    fn default() -> RealProbe {
        RealProbe { run: run_for_stdout }
    }
}

/// Through the project's one command helper, so a failure shows the exact command line. vswhere
/// and the other queries answer in seconds; two minutes means a dialog or a hung installer.
fn run_for_stdout(exe: &Path, args: &[&str]) -> Result<String> {
    Ok(crate::cmd::Cmd::new(exe).args(args).timeout(std::time::Duration::from_secs(120)).run()?.stdout)
}

impl Probe for RealProbe {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }

    fn run_vswhere(&self, exe: &Path, args: &[&str]) -> Result<String> {
        (self.run)(exe, args)
    }

    /// The architecture this process was built for, which can certainly run its own kind of
    /// tools. (An x64 xtask emulated on ARM64 therefore uses HostX64 tools, which work; the
    /// native ARM64 Rust toolchain the `windows-11-arm` runners have gets Hostarm64.)
    fn host(&self) -> HostArch {
        match std::env::consts::ARCH {
            "x86" => HostArch::X86,
            "aarch64" => HostArch::Arm64,
            _ => HostArch::X64,
        }
    }

    fn exists(&self, p: &Path) -> bool {
        p.exists()
    }

    fn read_dir_names(&self, p: &Path) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(p) else { return Vec::new() };
        entries.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect()
    }

    fn read_to_string(&self, p: &Path) -> Option<String> {
        std::fs::read_to_string(p).ok()
    }
}

/// Where a toolset came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A developer prompt's `VCToolsInstallDir`; `target_arch` is its `VSCMD_ARG_TGT_ARCH`
    /// (informational: the tools of every architecture are taken from the layout).
    DevEnv { target_arch: Option<String> },
    /// One vswhere instance: its `displayName` and `installationVersion`.
    Vswhere { name: String, version: String, prerelease: bool },
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::DevEnv { target_arch: Some(t) } => write!(f, "the developer environment (targeting {t})"),
            Source::DevEnv { target_arch: None } => f.write_str("the developer environment"),
            Source::Vswhere { name, version, prerelease } => {
                write!(f, "{name} {version}{}", if *prerelease { " (prerelease)" } else { "" })
            }
        }
    }
}

/// The tools that build one architecture.
#[derive(Clone, Debug)]
pub struct MsvcTargetTools {
    pub cl: PathBuf,
    pub link: PathBuf,
    pub lib: PathBuf,
    /// Folders to put in front of `PATH` when running these tools: their own folder, then the
    /// host's (`Host<h>\<h>`, which holds `mspdb140.dll` and friends) when that differs.
    pub path: Vec<PathBuf>,
    /// Extra cl.exe arguments (`/arm64EC` for ARM64EC, which uses the ARM64 compiler).
    pub cl_flags: &'static [&'static str],
}

/// One `VC\Tools\MSVC\<version>` folder and what it can build on this host.
#[derive(Clone, Debug)]
pub struct MsvcToolset {
    pub source: Source,
    pub install_path: PathBuf,
    pub tools_version: String,
    pub tools_dir: PathBuf,
    /// `VC\Tools\Llvm\…\bin` for this host, when it holds clang.exe.
    pub llvm_bin: Option<PathBuf>,
    /// Every `Arch`, with its tools or why this toolset cannot build it.
    targets: Vec<(Arch, Result<MsvcTargetTools, String>)>,
}

impl MsvcToolset {
    pub fn tools_for(&self, arch: Arch) -> Option<&MsvcTargetTools> {
        self.target(arch).ok()
    }

    /// Why this toolset cannot build `arch`, naming the folder and the component to install.
    pub fn missing(&self, arch: Arch) -> Option<&str> {
        self.target(arch).err()
    }

    fn target(&self, arch: Arch) -> Result<&MsvcTargetTools, &str> {
        let (_, t) = self.targets.iter().find(|(a, _)| *a == arch).expect("every Arch is probed");
        t.as_ref().map_err(String::as_str)
    }
}

/// What [`discover`] found: the usable toolsets, highest `installationVersion` first.
#[derive(Clone, Debug)]
pub struct Msvc {
    /// Never empty; exactly one when it comes from a developer environment.
    pub toolsets: Vec<MsvcToolset>,
    /// vswhere instances passed over, each with the reason (for verbose output).
    pub skipped: Vec<String>,
}

impl Msvc {
    /// The highest-versioned toolset that can build `arch`.
    pub fn toolset_for(&self, arch: Arch) -> Option<&MsvcToolset> {
        self.toolsets.iter().find(|t| t.tools_for(arch).is_some())
    }

    pub fn tools_for(&self, arch: Arch) -> Option<&MsvcTargetTools> {
        self.toolset_for(arch)?.tools_for(arch)
    }

    /// The tools for `arch`, or an error saying, per toolset, what is missing.
    pub fn require(&self, arch: Arch) -> Result<&MsvcTargetTools> {
        if let Some(t) = self.tools_for(arch) {
            return Ok(t);
        }
        let mut msg = format!("MSVC cannot build {arch}:");
        for t in &self.toolsets {
            msg += &format!("\n  {}: {}", t.source, t.missing(arch).unwrap_or_default());
        }
        if matches!(self.toolsets[..], [MsvcToolset { source: Source::DevEnv { .. }, .. }]) {
            msg += "\n(the developer environment's VCToolsInstallDir decides; leave the developer prompt to let vswhere choose)";
        }
        Err(anyhow!(msg))
    }

    /// The bundled LLVM of the highest-versioned toolset that has one.
    pub fn llvm_bin(&self) -> Option<&Path> {
        self.toolsets.iter().find_map(|t| t.llvm_bin.as_deref())
    }
}

/// The Visual Studio component that provides the tools for `arch`.
pub fn missing_component_hint(arch: Arch) -> &'static str {
    match arch {
        Arch::X86 | Arch::X64 => "Microsoft.VisualStudio.Component.VC.Tools.x86.x64",
        Arch::Arm64 => "Microsoft.VisualStudio.Component.VC.Tools.ARM64",
        Arch::Arm64Ec => "Microsoft.VisualStudio.Component.VC.Tools.ARM64EC",
    }
}

/// Finds MSVC. `Ok(None)`: no developer environment and no vswhere, or no instance with the
/// C++ tools. `Err`: something is broken (a stale developer environment, vswhere failing or
/// printing nonsense, `VCToolsVersion` naming a missing toolset, no instance usable).
pub fn discover(probe: &dyn Probe) -> Result<Option<Msvc>> {
    if let Some(dir) = probe.var("VCToolsInstallDir") {
        return from_dev_env(probe, &dir).map(Some);
    }
    let Some(vswhere) = find_vswhere(probe) else { return Ok(None) };
    let mut instances = read_vswhere(probe, &vswhere)?;
    // Highest version first, compared numerically (17.14 > 17.9); ties keep vswhere's order. A
    // preview newer than every release wins: the query asks for previews on purpose (§1.1).
    instances.sort_by_cached_key(|i| std::cmp::Reverse(version_key(&i.installation_version).unwrap_or_default()));
    let forced = probe.var("VCToolsVersion");
    let (mut toolsets, mut skipped) = (Vec::new(), Vec::new());
    for inst in instances {
        let install = PathBuf::from(&inst.installation_path);
        let source = Source::Vswhere {
            name: inst.display_name.or(inst.product_id).unwrap_or_else(|| "Visual Studio".into()),
            version: inst.installation_version,
            prerelease: inst.is_prerelease,
        };
        let toolset = msvc_dir(probe, &install)
            .and_then(|msvc| choose_version(probe, &install, &msvc, forced.as_deref()))
            .map(|(version, dir)| probe_toolset(probe, source.clone(), install.clone(), version, dir));
        match toolset {
            Ok(t) => toolsets.push(t),
            Err(e) => skipped.push(format!("{source} in {}: {e:#}", install.display())),
        }
    }
    if toolsets.is_empty() {
        if skipped.is_empty() {
            return Ok(None);
        }
        bail!("vswhere lists Visual Studio with the C++ tools, but none is usable:\n  {}", skipped.join("\n  "));
    }
    Ok(Some(Msvc { toolsets, skipped }))
}

/// The query of docs/toolchains.md §1.1, without `-latest`: every instance, so that each
/// architecture can come from the newest one that has it.
const VSWHERE_ARGS: &[&str] = &[
    "-products",
    "*",
    "-prerelease",
    "-format",
    "json",
    "-utf8",
    "-nologo",
    "-requires",
    "Microsoft.VisualStudio.Component.VC.Tools.x86.x64",
];

/// The fields of a vswhere JSON instance this module reads (it prints many more).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VswhereInstance {
    installation_path: String,
    installation_version: String,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    product_id: Option<String>,
    #[serde(default)]
    is_prerelease: bool,
}

/// vswhere in the installer folder (`%ProgramFiles(x86)%`, then `%ProgramFiles%`), then on PATH.
fn find_vswhere(probe: &dyn Probe) -> Option<PathBuf> {
    let installer = ["ProgramFiles(x86)", "ProgramFiles"]
        .into_iter()
        .filter_map(|v| probe.var(v))
        .map(|root| Path::new(&root).join("Microsoft Visual Studio").join("Installer").join("vswhere.exe"));
    let path = probe.var("PATH").unwrap_or_default();
    // Windows PATH syntax: `;`-separated, entries may be quoted.
    let on_path = path
        .split(';')
        .map(|d| d.trim().trim_matches('"'))
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join("vswhere.exe"));
    installer.chain(on_path).find(|p| probe.exists(p))
}

fn read_vswhere(probe: &dyn Probe, exe: &Path) -> Result<Vec<VswhereInstance>> {
    let out = probe
        .run_vswhere(exe, VSWHERE_ARGS)
        .with_context(|| format!("vswhere ({}) failed; repair it with the Visual Studio Installer", exe.display()))?;
    serde_json::from_str(out.trim_start_matches('\u{feff}'))
        .map_err(|e| anyhow!("cannot read what vswhere ({}) printed: {e}", exe.display()))
}

/// The toolset of an already-set developer environment (`VCToolsInstallDir`, which ends in
/// `VC\Tools\MSVC\<version>\`), or `VCToolsVersion` beside it when that names another version.
fn from_dev_env(probe: &dyn Probe, tools_install_dir: &str) -> Result<Msvc> {
    let dir = trim_separators(tools_install_dir);
    let (msvc, dir_version) = dir.rsplit_once(['\\', '/']).with_context(|| {
        format!("VCToolsInstallDir ({tools_install_dir}) is not a VC\\Tools\\MSVC\\<version> folder")
    })?;
    let version = probe.var("VCToolsVersion").unwrap_or_else(|| dir_version.to_string());
    let tools_dir =
        if version.eq_ignore_ascii_case(dir_version) { PathBuf::from(dir) } else { Path::new(msvc).join(&version) };
    if !probe.exists(&tools_dir) {
        bail!(
            "the developer environment names the MSVC toolset {} (VCToolsInstallDir={tools_install_dir}, VCToolsVersion={version}), \
             but that folder does not exist; open a new developer prompt, or unset VCToolsInstallDir and VCToolsVersion",
            tools_dir.display()
        );
    }
    let install = match probe.var("VSINSTALLDIR") {
        Some(vs) => trim_separators(&vs).to_string(),
        None => strip_components(msvc, &["VC", "Tools", "MSVC"])
            .with_context(|| {
                format!("VSINSTALLDIR is unset and VCToolsInstallDir ({dir}) is not under <VS>\\VC\\Tools\\MSVC")
            })?
            .to_string(),
    };
    let source = Source::DevEnv { target_arch: probe.var("VSCMD_ARG_TGT_ARCH") };
    let toolset = probe_toolset(probe, source, PathBuf::from(install), version, tools_dir);
    Ok(Msvc { toolsets: vec![toolset], skipped: Vec::new() })
}

fn msvc_dir(probe: &dyn Probe, install: &Path) -> Result<PathBuf> {
    find(probe, install, &["VC", "Tools", "MSVC"]).with_context(|| {
        format!(
            "there is no VC\\Tools\\MSVC folder; repair the installation or add the component {}",
            missing_component_hint(Arch::X64)
        )
    })
}

/// The toolset version and folder: `VCToolsVersion` if set, else `Microsoft.VCToolsVersion.default.txt`,
/// else the highest `VC\Tools\MSVC\<version>` that has a `bin` folder (docs/toolchains.md §1.2).
fn choose_version(probe: &dyn Probe, install: &Path, msvc: &Path, forced: Option<&str>) -> Result<(String, PathBuf)> {
    let pick = |version: &str| find(probe, msvc, &[version]).map(|dir| (version.to_string(), dir));
    if let Some(v) = forced {
        return pick(v).with_context(|| {
            format!(
                "VCToolsVersion is {v}, but there is no {} (installed: {}); unset VCToolsVersion or install that toolset",
                msvc.join(v).display(),
                probe.read_dir_names(msvc).join(", ")
            )
        });
    }
    let default_txt = find(probe, install, &["VC", "Auxiliary", "Build", "Microsoft.VCToolsVersion.default.txt"]);
    if let Some(file) = default_txt {
        let text = probe.read_to_string(&file).unwrap_or_default();
        let v = text.trim();
        if !v.is_empty() {
            return pick(v).with_context(|| {
                format!(
                    "{} names {v}, but there is no {}; repair the installation with the Visual Studio Installer",
                    file.display(),
                    msvc.join(v).display()
                )
            });
        }
    }
    probe
        .read_dir_names(msvc)
        .into_iter()
        .filter(|name| find(probe, &msvc.join(name), &["bin"]).is_some())
        .filter_map(|name| Some((version_key(&name)?, name)))
        .max()
        .and_then(|(_, name)| pick(&name))
        .with_context(|| format!("{} holds no toolset with a bin folder; repair the installation", msvc.display()))
}

/// What one toolset folder can build on this host, and the LLVM beside it.
fn probe_toolset(
    probe: &dyn Probe,
    source: Source,
    install: PathBuf,
    version: String,
    tools_dir: PathBuf,
) -> MsvcToolset {
    let host = probe.host();
    let targets = Arch::ALL.iter().map(|&arch| (arch, target_tools(probe, &tools_dir, host, arch))).collect();
    let llvm_bin = find(probe, &install, &["VC", "Tools", "Llvm"]).and_then(|llvm| {
        host.llvm_dirs()
            .iter()
            .filter_map(|parts| find(probe, &llvm, parts))
            // UNCERTAIN (docs/toolchains.md §1.2): only clang.exe is checked; llvm-rc.exe is taken to
            // sit beside it in the bundled LLVM — verified by the Windows CI job.
            .find(|bin| find(probe, bin, &["clang.exe"]).is_some())
    });
    MsvcToolset { source, install_path: install, tools_version: version, tools_dir, llvm_bin, targets }
}

/// The `bin\Host<h>\<target>` folder that builds `arch`. There is no arm64ec folder: the ARM64
/// tools build ARM64EC (docs/toolchains.md §1.2, §1.3). `matrix.toml`'s `msvc_target` must agree.
pub fn target_folder(arch: Arch) -> &'static str {
    match arch {
        Arch::X86 => "x86",
        Arch::X64 => "x64",
        Arch::Arm64 | Arch::Arm64Ec => "arm64",
    }
}

fn target_tools(probe: &dyn Probe, tools_dir: &Path, host: HostArch, arch: Arch) -> Result<MsvcTargetTools, String> {
    let target = target_folder(arch);
    // UNCERTAIN (docs/toolchains.md §1.1): whether the ARM64EC component pulls in the ARM64 one is
    // not stated, so a missing ARM64 compiler names both — verified by the Windows CI job.
    let components = match arch {
        Arch::Arm64Ec => format!("{} and {}", missing_component_hint(Arch::Arm64), missing_component_hint(arch)),
        _ => missing_component_hint(arch).to_string(),
    };
    let found = host.tool_hosts().iter().find_map(|&h| {
        let host_dir = find(probe, tools_dir, &["bin", &format!("Host{h}")])?;
        let dir = find(probe, &host_dir, &[target])?;
        let [cl, link, lib] = ["cl.exe", "link.exe", "lib.exe"].map(|exe| find(probe, &dir, &[exe]));
        Some((find(probe, &host_dir, &[h]), dir, cl?, link?, lib?))
    });
    let Some((host_own_dir, dir, cl, link, lib)) = found else {
        let folders: Vec<_> = host.tool_hosts().iter().map(|h| format!("bin\\Host{h}\\{target}")).collect();
        return Err(format!(
            "no cl.exe, link.exe and lib.exe in {} under {}; install the Visual Studio component {components}",
            folders.join(" or "),
            tools_dir.display()
        ));
    };
    // UNCERTAIN (docs/toolchains.md §1.2, §1.3): ARM64EC counts as installed when `lib\arm64ec`
    // exists, taken to come with Microsoft.VisualStudio.Component.VC.Tools.ARM64EC. The vswhere
    // query does not ask for `-include packages`, so the folder is the only evidence, and the
    // same rule serves a developer environment — verified by the Windows CI job.
    if arch == Arch::Arm64Ec && find(probe, tools_dir, &["lib", "arm64ec"]).is_none() {
        return Err(format!(
            "no lib\\arm64ec folder (the ARM64EC libraries) in {}; install the Visual Studio component {}",
            tools_dir.display(),
            missing_component_hint(arch)
        ));
    }
    let mut path = vec![dir];
    path.extend(host_own_dir.filter(|own| *own != path[0]));
    // link.exe and lib.exe take `/machine:arm64ec` from matrix.toml's `link_machine`.
    let cl_flags: &[&str] = if arch == Arch::Arm64Ec { &["/arm64EC"] } else { &[] };
    Ok(MsvcTargetTools { cl, link, lib, path, cl_flags })
}

/// `base\parts…`, each component matched case-insensitively as Windows does (`Hostx64` in some
/// editions, `HostX64` in others); the result keeps the spelling found on disk.
fn find(probe: &dyn Probe, base: &Path, parts: &[&str]) -> Option<PathBuf> {
    let mut path = base.to_path_buf();
    for part in parts {
        let name = probe.read_dir_names(&path).into_iter().find(|n| n.eq_ignore_ascii_case(part))?;
        path.push(name);
    }
    Some(path)
}

/// `14.44.35207` → `[14, 44, 35207]`, so that versions compare numerically.
fn version_key(version: &str) -> Option<Vec<u64>> {
    version.split('.').map(|p| p.parse().ok()).collect()
}

fn trim_separators(path: &str) -> &str {
    path.trim_end_matches(['\\', '/'])
}

/// `path` without its trailing components `names` (compared case-insensitively).
fn strip_components<'a>(mut path: &'a str, names: &[&str]) -> Option<&'a str> {
    for name in names.iter().rev() {
        let (head, last) = path.rsplit_once(['\\', '/'])?;
        if !last.eq_ignore_ascii_case(name) {
            return None;
        }
        path = head;
    }
    Some(path)
}

#[cfg(test)]
mod tests;
