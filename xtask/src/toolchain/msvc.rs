//! MSVC discovery on Windows: developer environment, then vswhere, then the VC folder layout.
//!
//! Order (toolchains.md §1.6): an already-set developer environment (`VCToolsInstallDir`) wins
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
            // UNCERTAIN (toolchains.md §1.2): cc only tries HostX64 on an ARM64 host when x64
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

/// Through the project's one command helper, so a failure shows the exact command line.
fn run_for_stdout(exe: &Path, args: &[&str]) -> Result<String> {
    Ok(crate::cmd::Cmd::new(exe).args(args).run()?.stdout)
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

/// [`discover`] on this machine; `None` off Windows, where MSVC cannot run.
pub fn discover_here() -> Result<Option<Msvc>> {
    if cfg!(windows) { discover(&RealProbe::default()) } else { Ok(None) }
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

/// The query of toolchains.md §1.1, without `-latest`: every instance, so that each
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
/// else the highest `VC\Tools\MSVC\<version>` that has a `bin` folder (toolchains.md §1.2).
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
            // UNCERTAIN (toolchains.md §1.2): only clang.exe is checked; llvm-rc.exe is taken to
            // sit beside it in the bundled LLVM — verified by the Windows CI job.
            .find(|bin| find(probe, bin, &["clang.exe"]).is_some())
    });
    MsvcToolset { source, install_path: install, tools_version: version, tools_dir, llvm_bin, targets }
}

/// The `bin\Host<h>\<target>` folder that builds `arch`. There is no arm64ec folder: the ARM64
/// tools build ARM64EC (toolchains.md §1.2, §1.3). `matrix.toml`'s `msvc_target` must agree.
pub fn target_folder(arch: Arch) -> &'static str {
    match arch {
        Arch::X86 => "x86",
        Arch::X64 => "x64",
        Arch::Arm64 | Arch::Arm64Ec => "arm64",
    }
}

fn target_tools(probe: &dyn Probe, tools_dir: &Path, host: HostArch, arch: Arch) -> Result<MsvcTargetTools, String> {
    let target = target_folder(arch);
    // UNCERTAIN (toolchains.md §1.1): whether the ARM64EC component pulls in the ARM64 one is
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
    // UNCERTAIN (toolchains.md §1.2, §1.3): ARM64EC counts as installed when `lib\arm64ec`
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
mod tests {
    use std::{cell::RefCell, collections::HashMap};

    use super::*;

    const EMPTY: &str = include_str!("../../tests/fixtures/msvc/vswhere-empty.json");
    const VS2022: &str = include_str!("../../tests/fixtures/msvc/vswhere-vs2022-enterprise.json");
    const VS2026_BT2022: &str = include_str!("../../tests/fixtures/msvc/vswhere-vs2026-and-buildtools2022.json");
    const PRERELEASE: &str = include_str!("../../tests/fixtures/msvc/vswhere-prerelease.json");
    const TRUNCATED: &str = include_str!("../../tests/fixtures/msvc/vswhere-truncated.json");

    const ENTERPRISE_2022: &str = r"C:\Program Files\Microsoft Visual Studio\2022\Enterprise";
    const ENTERPRISE_2026: &str = r"C:\Program Files\Microsoft Visual Studio\18\Enterprise";
    const INSIDERS_2026: &str = r"C:\Program Files\Microsoft Visual Studio\18\Insiders";
    const BUILD_TOOLS_2022: &str = r"C:\Program Files (x86)\Microsoft Visual Studio\2022\BuildTools";
    const VSWHERE: &str = r"C:\Program Files (x86)\Microsoft Visual Studio\Installer\vswhere.exe";

    /// The `bin` folders of the x64 GitHub runners (toolchains.md §2).
    const X64_RUNNER_BINS: &[&str] =
        &[r"Hostx64\x64", r"Hostx64\x86", r"Hostx64\arm64", r"Hostx86\x86", r"Hostx86\x64", r"Hostx86\arm64"];

    /// A Windows machine in a temporary directory: `C:\a\b` lives at `<tmp>/C/a/b`.
    struct Fake {
        root: tempfile::TempDir,
        vars: HashMap<String, String>,
        host: HostArch,
        vswhere_output: Result<String, String>,
        vswhere_calls: RefCell<Vec<(String, Vec<String>)>>,
    }

    impl Fake {
        fn new(host: HostArch) -> Fake {
            let vars = [("ProgramFiles(x86)", r"C:\Program Files (x86)"), ("ProgramFiles", r"C:\Program Files")];
            Fake {
                root: tempfile::tempdir().unwrap(),
                vars: vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
                host,
                vswhere_output: Err("vswhere was not expected to run".into()),
                vswhere_calls: RefCell::new(Vec::new()),
            }
        }

        /// vswhere installed in its usual place, printing `json`.
        fn vswhere(mut self, json: &str) -> Fake {
            self.touch(VSWHERE);
            self.vswhere_output = Ok(json.to_string());
            self
        }

        fn var(mut self, name: &str, value: &str) -> Fake {
            self.vars.insert(name.into(), value.into());
            self
        }

        fn real(&self, windows: &Path) -> PathBuf {
            let s = windows.to_str().unwrap().replace('\\', "/");
            let (drive, rest) = s.split_once(":/").expect("a drive-letter path");
            self.root.path().join(drive).join(rest)
        }

        fn write(&self, windows: &str, text: &str) {
            let p = self.real(Path::new(windows));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }

        fn touch(&self, windows: &str) {
            self.write(windows, "");
        }

        /// cl, link and lib in `VC\Tools\MSVC\<version>\bin\<bin>` for each of `bins`.
        fn toolset(&self, install: &str, version: &str, bins: &[&str]) {
            for bin in bins {
                for exe in ["cl.exe", "link.exe", "lib.exe"] {
                    self.touch(&format!(r"{install}\VC\Tools\MSVC\{version}\bin\{bin}\{exe}"));
                }
            }
        }

        fn default_txt(&self, install: &str, version: &str) {
            self.write(
                &format!(r"{install}\VC\Auxiliary\Build\Microsoft.VCToolsVersion.default.txt"),
                &format!("{version}\r\n"),
            );
        }

        fn arm64ec_libs(&self, install: &str, version: &str) {
            self.touch(&format!(r"{install}\VC\Tools\MSVC\{version}\lib\arm64ec\libcmt.lib"));
        }

        fn llvm(&self, install: &str, sub: &str) {
            self.touch(&format!(r"{install}\VC\Tools\Llvm\{sub}\clang.exe"));
        }

        /// An x64 runner's installation: every target from Hostx64 and Hostx86, ARM64EC, LLVM.
        fn x64_runner_vs(&self, install: &str, version: &str) {
            self.toolset(install, version, X64_RUNNER_BINS);
            self.default_txt(install, version);
            self.arm64ec_libs(install, version);
            self.llvm(install, r"x64\bin");
            self.llvm(install, "bin");
        }
    }

    impl Probe for Fake {
        fn var(&self, name: &str) -> Option<String> {
            self.vars.get(name).cloned()
        }
        fn run_vswhere(&self, exe: &Path, args: &[&str]) -> Result<String> {
            let call = (win(exe), args.iter().map(|a| a.to_string()).collect());
            self.vswhere_calls.borrow_mut().push(call);
            self.vswhere_output.clone().map_err(|e| anyhow!(e))
        }
        fn host(&self) -> HostArch {
            self.host
        }
        fn exists(&self, p: &Path) -> bool {
            self.real(p).exists()
        }
        fn read_dir_names(&self, p: &Path) -> Vec<String> {
            let Ok(entries) = std::fs::read_dir(self.real(p)) else { return Vec::new() };
            entries.map(|e| e.unwrap().file_name().into_string().unwrap()).collect()
        }
        fn read_to_string(&self, p: &Path) -> Option<String> {
            std::fs::read_to_string(self.real(p)).ok()
        }
    }

    /// A found path as Windows spells it (on Linux, `join` adds `/`).
    fn win(p: &Path) -> String {
        p.to_str().unwrap().replace('/', "\\")
    }

    fn found(fake: &Fake) -> Msvc {
        discover(fake).unwrap().expect("MSVC found")
    }

    fn cl(msvc: &Msvc, arch: Arch) -> String {
        win(&msvc.tools_for(arch).unwrap_or_else(|| panic!("no tools for {arch}")).cl)
    }

    fn source_version(t: &MsvcToolset) -> &str {
        match &t.source {
            Source::Vswhere { version, .. } => version,
            other => panic!("not from vswhere: {other:?}"),
        }
    }

    #[test]
    fn an_empty_vswhere_list_means_no_msvc_and_the_query_is_the_documented_one() {
        let fake = Fake::new(HostArch::X64).vswhere(EMPTY);
        assert!(discover(&fake).unwrap().is_none());
        let calls = fake.vswhere_calls.borrow();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].0, VSWHERE);
        let expected = "-products * -prerelease -format json -utf8 -nologo -requires Microsoft.VisualStudio.Component.VC.Tools.x86.x64";
        assert_eq!(calls[0].1.join(" "), expected);
    }

    #[test]
    fn the_windows_2022_runner_builds_every_arch() {
        let fake = Fake::new(HostArch::X64).vswhere(VS2022);
        fake.x64_runner_vs(ENTERPRISE_2022, "14.44.35207");
        let msvc = found(&fake);
        let ts = &msvc.toolsets[0];
        assert_eq!(msvc.toolsets.len(), 1);
        assert_eq!(
            ts.source,
            Source::Vswhere {
                name: "Visual Studio Enterprise 2022".into(),
                version: "17.14.37614.0".into(),
                prerelease: false
            }
        );
        assert_eq!(ts.tools_version, "14.44.35207", "read from default.txt, CRLF trimmed");
        let tools = format!(r"{ENTERPRISE_2022}\VC\Tools\MSVC\14.44.35207");
        assert_eq!(win(&ts.tools_dir), tools);

        let x86 = msvc.tools_for(Arch::X86).unwrap();
        assert_eq!(win(&x86.cl), format!(r"{tools}\bin\Hostx64\x86\cl.exe"));
        assert_eq!(win(&x86.link), format!(r"{tools}\bin\Hostx64\x86\link.exe"));
        assert_eq!(win(&x86.lib), format!(r"{tools}\bin\Hostx64\x86\lib.exe"));
        let path: Vec<_> = x86.path.iter().map(|p| win(p)).collect();
        assert_eq!(path, [format!(r"{tools}\bin\Hostx64\x86"), format!(r"{tools}\bin\Hostx64\x64")]);
        assert!(x86.cl_flags.is_empty());

        let x64 = msvc.tools_for(Arch::X64).unwrap();
        assert_eq!(x64.path.len(), 1, "the host folder is the target folder: {:?}", x64.path);

        let arm64 = msvc.tools_for(Arch::Arm64).unwrap();
        assert_eq!(win(&arm64.cl), format!(r"{tools}\bin\Hostx64\arm64\cl.exe"));
        assert!(arm64.cl_flags.is_empty());

        let ec = msvc.tools_for(Arch::Arm64Ec).unwrap();
        assert_eq!(ec.cl, arm64.cl, "ARM64EC uses the ARM64 compiler");
        assert_eq!(ec.path, arm64.path);
        assert_eq!(ec.cl_flags, ["/arm64EC"]);

        assert_eq!(win(msvc.llvm_bin().unwrap()), format!(r"{ENTERPRISE_2022}\VC\Tools\Llvm\x64\bin"));
        assert!(msvc.skipped.is_empty(), "{:?}", msvc.skipped);
    }

    #[test]
    fn default_txt_wins_over_a_higher_toolset_folder() {
        let fake = Fake::new(HostArch::X64).vswhere(VS2022);
        fake.x64_runner_vs(ENTERPRISE_2022, "14.44.35207");
        fake.toolset(ENTERPRISE_2022, "14.50.35717", X64_RUNNER_BINS);
        let msvc = found(&fake);
        assert_eq!(msvc.toolsets[0].tools_version, "14.44.35207");
        assert!(cl(&msvc, Arch::X64).contains(r"\14.44.35207\bin\"));
    }

    #[test]
    fn without_default_txt_the_numerically_highest_folder_with_bin_wins() {
        let fake = Fake::new(HostArch::X64).vswhere(VS2022);
        fake.toolset(ENTERPRISE_2022, "14.9.30000", &[r"Hostx64\x64"]);
        fake.toolset(ENTERPRISE_2022, "14.44.35207", &[r"Hostx64\x64"]);
        // Higher, but only libraries (a half-removed toolset): not a candidate.
        fake.touch(&format!(r"{ENTERPRISE_2022}\VC\Tools\MSVC\14.50.35717\lib\x64\libcmt.lib"));
        let msvc = found(&fake);
        assert_eq!(msvc.toolsets[0].tools_version, "14.44.35207", "14.44 > 14.9, and 14.50 has no bin");
        assert!(cl(&msvc, Arch::X64).contains(r"\14.44.35207\bin\Hostx64\x64\"));
    }

    #[test]
    fn host_folders_are_matched_whatever_their_case() {
        // Build Tools spell it `HostX64`, the IDE editions `Hostx64` (toolchains.md §1.2).
        let fake = Fake::new(HostArch::X64).vswhere(VS2022);
        fake.toolset(ENTERPRISE_2022, "14.44.35207", &[r"HostX64\x64", r"HostX64\ARM64"]);
        fake.default_txt(ENTERPRISE_2022, "14.44.35207");
        let msvc = found(&fake);
        assert!(cl(&msvc, Arch::X64).ends_with(r"\bin\HostX64\x64\cl.exe"), "spelling kept as on disk");
        assert!(cl(&msvc, Arch::Arm64).ends_with(r"\bin\HostX64\ARM64\cl.exe"));
        let arm64_path = &msvc.tools_for(Arch::Arm64).unwrap().path;
        assert!(win(&arm64_path[1]).ends_with(r"\bin\HostX64\x64"), "{arm64_path:?}");
    }

    #[test]
    fn an_arm64_host_prefers_the_native_hostarm64_tools() {
        let fake = Fake::new(HostArch::Arm64).vswhere(VS2022);
        fake.x64_runner_vs(ENTERPRISE_2022, "14.44.35207");
        fake.toolset(ENTERPRISE_2022, "14.44.35207", &[r"Hostarm64\arm64", r"Hostarm64\x64", r"Hostarm64\x86"]);
        fake.llvm(ENTERPRISE_2022, r"ARM64\bin");
        let msvc = found(&fake);
        let arm64 = msvc.tools_for(Arch::Arm64).unwrap();
        assert!(win(&arm64.cl).ends_with(r"\bin\Hostarm64\arm64\cl.exe"), "{}", arm64.cl.display());
        assert_eq!(arm64.path.len(), 1);
        let x64 = msvc.tools_for(Arch::X64).unwrap();
        assert!(win(&x64.cl).ends_with(r"\bin\Hostarm64\x64\cl.exe"));
        assert!(win(&x64.path[1]).ends_with(r"\bin\Hostarm64\arm64"), "the host's own folder: {:?}", x64.path);
        assert!(win(msvc.llvm_bin().unwrap()).ends_with(r"\VC\Tools\Llvm\ARM64\bin"));
    }

    #[test]
    fn an_arm64_host_falls_back_to_hostx64_and_x64_llvm() {
        let fake = Fake::new(HostArch::Arm64).vswhere(VS2022);
        fake.x64_runner_vs(ENTERPRISE_2022, "14.44.35207");
        // An interrupted install: cl.exe without link.exe and lib.exe is passed over.
        fake.touch(&format!(r"{ENTERPRISE_2022}\VC\Tools\MSVC\14.44.35207\bin\Hostarm64\arm64\cl.exe"));
        let msvc = found(&fake);
        let arm64 = msvc.tools_for(Arch::Arm64).unwrap();
        assert!(win(&arm64.cl).ends_with(r"\bin\Hostx64\arm64\cl.exe"), "{}", arm64.cl.display());
        assert!(win(&arm64.path[1]).ends_with(r"\bin\Hostx64\x64"));
        assert!(win(msvc.llvm_bin().unwrap()).ends_with(r"\VC\Tools\Llvm\x64\bin"));
    }

    #[test]
    fn an_instance_without_arm64_tools_cannot_build_arm64_or_arm64ec_and_names_the_component() {
        let fake = Fake::new(HostArch::X64).vswhere(VS2022);
        fake.toolset(ENTERPRISE_2022, "14.44.35207", &[r"Hostx64\x64", r"Hostx64\x86"]);
        fake.default_txt(ENTERPRISE_2022, "14.44.35207");
        fake.arm64ec_libs(ENTERPRISE_2022, "14.44.35207");
        let msvc = found(&fake);
        assert!(msvc.tools_for(Arch::X86).is_some() && msvc.tools_for(Arch::X64).is_some());
        assert!(msvc.tools_for(Arch::Arm64).is_none() && msvc.tools_for(Arch::Arm64Ec).is_none());

        let why = msvc.require(Arch::Arm64).unwrap_err().to_string();
        assert!(why.contains("Visual Studio Enterprise 2022 17.14.37614.0"), "{why}");
        assert!(why.contains(r"bin\Hostx64\arm64 or bin\Hostx86\arm64"), "{why}");
        assert!(why.contains(missing_component_hint(Arch::Arm64)), "{why}");
        assert!(!why.contains("ARM64EC"), "{why}");
        let why = msvc.require(Arch::Arm64Ec).unwrap_err().to_string();
        assert!(why.contains("VC.Tools.ARM64 and Microsoft.VisualStudio.Component.VC.Tools.ARM64EC"), "{why}");

        assert_eq!(missing_component_hint(Arch::X86), "Microsoft.VisualStudio.Component.VC.Tools.x86.x64");
        assert_eq!(missing_component_hint(Arch::Arm64), "Microsoft.VisualStudio.Component.VC.Tools.ARM64");
        assert_eq!(missing_component_hint(Arch::Arm64Ec), "Microsoft.VisualStudio.Component.VC.Tools.ARM64EC");
    }

    #[test]
    fn arm64ec_needs_the_arm64ec_libraries() {
        let fake = Fake::new(HostArch::X64).vswhere(VS2022);
        fake.toolset(ENTERPRISE_2022, "14.44.35207", X64_RUNNER_BINS);
        fake.default_txt(ENTERPRISE_2022, "14.44.35207");
        let msvc = found(&fake);
        assert!(msvc.tools_for(Arch::Arm64).is_some());
        let why = msvc.require(Arch::Arm64Ec).unwrap_err().to_string();
        assert!(why.contains(r"no lib\arm64ec folder") && why.contains("Component.VC.Tools.ARM64EC"), "{why}");
    }

    #[test]
    fn each_arch_comes_from_the_highest_installation_version_that_has_it() {
        // The fixture lists Build Tools 2022 first; VS 2026 has no ARM64 tools.
        let fake = Fake::new(HostArch::X64).vswhere(VS2026_BT2022);
        fake.x64_runner_vs(BUILD_TOOLS_2022, "14.44.35207");
        fake.toolset(ENTERPRISE_2026, "14.50.35717", &[r"Hostx64\x64", r"Hostx64\x86"]);
        fake.default_txt(ENTERPRISE_2026, "14.50.35717");
        let msvc = found(&fake);
        let versions: Vec<_> = msvc.toolsets.iter().map(source_version).collect();
        assert_eq!(versions, ["18.9.11929.123", "17.14.37614.0"]);
        assert!(cl(&msvc, Arch::X64).starts_with(ENTERPRISE_2026), "{}", cl(&msvc, Arch::X64));
        assert!(cl(&msvc, Arch::Arm64).starts_with(BUILD_TOOLS_2022), "{}", cl(&msvc, Arch::Arm64));
        assert_eq!(source_version(msvc.toolset_for(Arch::Arm64Ec).unwrap()), "17.14.37614.0");
        assert_eq!(
            win(msvc.llvm_bin().unwrap()),
            format!(r"{BUILD_TOOLS_2022}\VC\Tools\Llvm\x64\bin"),
            "VS 2026 has no LLVM here"
        );
    }

    #[test]
    fn a_higher_prerelease_wins_and_says_so() {
        // 18.10 sorts before 18.9 as text: the comparison must be numeric.
        let fake = Fake::new(HostArch::X64).vswhere(PRERELEASE);
        fake.x64_runner_vs(ENTERPRISE_2026, "14.50.35717");
        fake.x64_runner_vs(INSIDERS_2026, "14.51.36014");
        let msvc = found(&fake);
        let best = msvc.toolset_for(Arch::X64).unwrap();
        assert_eq!(best.tools_version, "14.51.36014");
        assert_eq!(best.source.to_string(), "Visual Studio Community 2026 Insiders 18.10.11205.157 (prerelease)");
        assert_eq!(msvc.toolsets[1].source.to_string(), "Visual Studio Enterprise 2026 18.9.11929.123");
    }

    #[test]
    fn the_developer_environment_wins_over_vswhere() {
        let dev = r"C:\BuildTools";
        let fake = Fake::new(HostArch::X64)
            .vswhere(VS2026_BT2022)
            .var("VCToolsInstallDir", r"C:\BuildTools\VC\Tools\MSVC\14.44.35207\")
            .var("VCToolsVersion", "14.44.35207")
            .var("VSINSTALLDIR", r"C:\BuildTools\")
            .var("VSCMD_ARG_TGT_ARCH", "arm64");
        fake.x64_runner_vs(dev, "14.44.35207");
        fake.x64_runner_vs(ENTERPRISE_2026, "14.50.35717");
        let msvc = found(&fake);
        assert!(fake.vswhere_calls.borrow().is_empty(), "vswhere must not run");
        assert_eq!(msvc.toolsets.len(), 1);
        let ts = &msvc.toolsets[0];
        assert_eq!(ts.source, Source::DevEnv { target_arch: Some("arm64".into()) });
        assert_eq!(win(&ts.install_path), dev);
        assert_eq!(ts.tools_version, "14.44.35207");
        assert_eq!(cl(&msvc, Arch::X86), r"C:\BuildTools\VC\Tools\MSVC\14.44.35207\bin\Hostx64\x86\cl.exe");
        assert_eq!(win(msvc.llvm_bin().unwrap()), r"C:\BuildTools\VC\Tools\Llvm\x64\bin");
    }

    #[test]
    fn a_developer_environment_finds_vs_in_vsinstalldir_or_above_the_toolset() {
        let fake = Fake::new(HostArch::X64).var("VCToolsInstallDir", r"C:\BuildTools\VC\Tools\MSVC\14.44.35207\");
        fake.x64_runner_vs(r"C:\BuildTools", "14.44.35207");
        let msvc = found(&fake);
        assert_eq!(win(&msvc.toolsets[0].install_path), r"C:\BuildTools");
        assert_eq!(msvc.toolsets[0].source.to_string(), "the developer environment");
        // VSINSTALLDIR, when set, is where the bundled LLVM is looked for (here the toolset is
        // reached through another spelling of the path, as a junction would give).
        let fake = Fake::new(HostArch::X64)
            .var("VCToolsInstallDir", r"C:\BuildTools\VC\Tools\MSVC\14.44.35207\")
            .var("VSINSTALLDIR", r"C:\VS\");
        fake.toolset(r"C:\BuildTools", "14.44.35207", &[r"Hostx64\x64"]);
        fake.llvm(r"C:\VS", r"x64\bin");
        let msvc = found(&fake);
        assert_eq!(win(&msvc.toolsets[0].install_path), r"C:\VS");
        assert_eq!(win(msvc.llvm_bin().unwrap()), r"C:\VS\VC\Tools\Llvm\x64\bin");
        // Without ARM64 tools, the message says the developer environment decided.
        let fake = Fake::new(HostArch::X64).var("VCToolsInstallDir", r"C:\BuildTools\VC\Tools\MSVC\14.44.35207");
        fake.toolset(r"C:\BuildTools", "14.44.35207", &[r"Hostx64\x64"]);
        let why = found(&fake).require(Arch::Arm64).unwrap_err().to_string();
        assert!(why.contains("VCToolsInstallDir decides") && why.contains("Component.VC.Tools.ARM64"), "{why}");
    }

    #[test]
    fn vctoolsversion_picks_a_side_by_side_toolset() {
        let fake = Fake::new(HostArch::X64).vswhere(VS2022).var("VCToolsVersion", "14.38.33130");
        fake.x64_runner_vs(ENTERPRISE_2022, "14.44.35207");
        fake.toolset(ENTERPRISE_2022, "14.38.33130", &[r"Hostx64\x64"]);
        let msvc = found(&fake);
        assert_eq!(msvc.toolsets[0].tools_version, "14.38.33130");
        assert!(cl(&msvc, Arch::X64).contains(r"\14.38.33130\"));
    }

    #[test]
    fn vctoolsversion_naming_a_missing_toolset_is_an_error_naming_the_folder() {
        let fake = Fake::new(HostArch::X64).vswhere(VS2022).var("VCToolsVersion", "14.99.99999");
        fake.x64_runner_vs(ENTERPRISE_2022, "14.44.35207");
        let msg = format!("{:#}", discover(&fake).unwrap_err()).replace('/', "\\");
        assert!(msg.contains(&format!(r"{ENTERPRISE_2022}\VC\Tools\MSVC\14.99.99999")), "{msg}");
        assert!(msg.contains("VCToolsVersion is 14.99.99999") && msg.contains("installed: 14.44.35207"), "{msg}");

        // The same in a developer environment: VCToolsVersion beside VCToolsInstallDir.
        let fake = Fake::new(HostArch::X64)
            .var("VCToolsInstallDir", r"C:\BuildTools\VC\Tools\MSVC\14.44.35207\")
            .var("VCToolsVersion", "14.99.99999");
        fake.x64_runner_vs(r"C:\BuildTools", "14.44.35207");
        let msg = format!("{:#}", discover(&fake).unwrap_err()).replace('/', "\\");
        assert!(msg.contains(r"C:\BuildTools\VC\Tools\MSVC\14.99.99999 ") && msg.contains("does not exist"), "{msg}");
    }

    #[test]
    fn a_stale_developer_environment_is_an_error() {
        let fake =
            Fake::new(HostArch::X64).vswhere(VS2022).var("VCToolsInstallDir", r"C:\Gone\VC\Tools\MSVC\14.40.33807\");
        fake.x64_runner_vs(ENTERPRISE_2022, "14.44.35207");
        let msg = discover(&fake).unwrap_err().to_string();
        assert!(msg.contains("14.40.33807") && msg.contains("open a new developer prompt"), "{msg}");
    }

    #[test]
    fn malformed_vswhere_json_is_an_error_naming_vswhere_and_the_parse_error() {
        let fake = Fake::new(HostArch::X64).vswhere(TRUNCATED);
        let msg = discover(&fake).unwrap_err().to_string().replace('/', "\\");
        assert!(msg.contains(&format!("vswhere ({VSWHERE})")), "{msg}");
        assert!(msg.contains("EOF while parsing"), "{msg}");
    }

    #[test]
    fn a_failing_vswhere_is_an_error_naming_it() {
        let mut fake = Fake::new(HostArch::X64).vswhere(EMPTY);
        fake.vswhere_output = Err("exit code 87: Error 0x57: unknown parameter".into());
        let msg = format!("{:#}", discover(&fake).unwrap_err()).replace('/', "\\");
        assert!(msg.contains(VSWHERE) && msg.contains("unknown parameter"), "{msg}");
    }

    #[test]
    fn without_vswhere_or_a_developer_environment_there_is_no_msvc() {
        let fake = Fake::new(HostArch::X64).var("PATH", r"C:\Windows\system32;C:\Windows");
        assert!(discover(&fake).unwrap().is_none());
        assert!(fake.vswhere_calls.borrow().is_empty());
    }

    #[test]
    fn vswhere_is_also_found_on_path() {
        let fake = Fake::new(HostArch::X64).var("PATH", r#"C:\Windows\system32;"C:\ProgramData\chocolatey\bin";"#);
        fake.touch(r"C:\ProgramData\chocolatey\bin\vswhere.exe");
        let fake = Fake { vswhere_output: Ok(EMPTY.into()), ..fake };
        assert!(discover(&fake).unwrap().is_none());
        assert_eq!(fake.vswhere_calls.borrow()[0].0, r"C:\ProgramData\chocolatey\bin\vswhere.exe");
    }

    #[test]
    fn a_broken_instance_is_skipped_beside_a_good_one_and_an_error_alone() {
        // Build Tools 2022 names a toolset in default.txt that is not there.
        let fake = Fake::new(HostArch::X64).vswhere(VS2026_BT2022);
        fake.default_txt(BUILD_TOOLS_2022, "14.44.35207");
        fake.toolset(BUILD_TOOLS_2022, "14.43.34808", &[r"Hostx64\x64"]);
        fake.x64_runner_vs(ENTERPRISE_2026, "14.50.35717");
        let msvc = found(&fake);
        assert_eq!(msvc.toolsets.len(), 1);
        assert_eq!(msvc.skipped.len(), 1);
        let note = msvc.skipped[0].replace('/', "\\");
        assert!(note.starts_with("Visual Studio Build Tools 2022 17.14.37614.0 in C:\\Program Files (x86)"), "{note}");
        assert!(note.contains(r"Microsoft.VCToolsVersion.default.txt names 14.44.35207"), "{note}");
        assert!(note.contains(r"\VC\Tools\MSVC\14.44.35207; repair"), "{note}");

        let fake = Fake::new(HostArch::X64).vswhere(VS2022);
        let msg = discover(&fake).unwrap_err().to_string();
        assert!(msg.contains("none is usable") && msg.contains(r"no VC\Tools\MSVC folder"), "{msg}");
    }

    #[test]
    fn strip_components_needs_every_name() {
        assert_eq!(strip_components(r"C:\VS\VC\Tools\MSVC", &["VC", "Tools", "MSVC"]), Some(r"C:\VS"));
        assert_eq!(strip_components(r"C:\VS\vc\tools\msvc", &["VC", "Tools", "MSVC"]), Some(r"C:\VS"));
        assert_eq!(strip_components(r"C:\VS\Tools\MSVC", &["VC", "Tools", "MSVC"]), None);
    }
}
