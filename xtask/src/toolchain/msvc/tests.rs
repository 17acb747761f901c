//! Tests of the parent module.
use std::{cell::RefCell, collections::HashMap};

use super::*;

const EMPTY: &str = include_str!("../../../tests/fixtures/msvc/vswhere-empty.json");
const VS2022: &str = include_str!("../../../tests/fixtures/msvc/vswhere-vs2022-enterprise.json");
const VS2026_BT2022: &str = include_str!("../../../tests/fixtures/msvc/vswhere-vs2026-and-buildtools2022.json");
const VS2026: &str = include_str!("../../../tests/fixtures/msvc/vswhere-vs2026-enterprise.json");
const PRERELEASE: &str = include_str!("../../../tests/fixtures/msvc/vswhere-prerelease.json");
const TRUNCATED: &str = include_str!("../../../tests/fixtures/msvc/vswhere-truncated.json");

const ENTERPRISE_2022: &str = r"C:\Program Files\Microsoft Visual Studio\2022\Enterprise";
const ENTERPRISE_2026: &str = r"C:\Program Files\Microsoft Visual Studio\18\Enterprise";
const INSIDERS_2026: &str = r"C:\Program Files\Microsoft Visual Studio\18\Insiders";
const BUILD_TOOLS_2022: &str = r"C:\Program Files (x86)\Microsoft Visual Studio\2022\BuildTools";
const VSWHERE: &str = r"C:\Program Files (x86)\Microsoft Visual Studio\Installer\vswhere.exe";

/// The `bin` folders of the x64 GitHub runners (docs/toolchains.md §2).
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
    // Build Tools spell it `HostX64`, the IDE editions `Hostx64` (docs/toolchains.md §1.2).
    let fake = Fake::new(HostArch::X64).vswhere(VS2022);
    fake.toolset(ENTERPRISE_2022, "14.44.35207", &[r"HostX64\x64", r"HostX64\ARM64"]);
    fake.default_txt(ENTERPRISE_2022, "14.44.35207");
    let msvc = found(&fake);
    assert!(cl(&msvc, Arch::X64).ends_with(r"\bin\HostX64\x64\cl.exe"), "spelling kept as on disk");
    assert!(cl(&msvc, Arch::Arm64).ends_with(r"\bin\HostX64\ARM64\cl.exe"));
    let arm64_path = &msvc.tools_for(Arch::Arm64).unwrap().path;
    assert!(win(&arm64_path[1]).ends_with(r"\bin\HostX64\x64"), "{arm64_path:?}");
}

/// The VS 2026 images (docs/iis.md §7): version 18 in `...\18\Enterprise` (not `2026`), toolset
/// 14.50; the discovery reads the same vswhere fields and folder layout as for 2022, and does
/// not use the `vcvars*.bat` wrappers VS 2026 dropped (docs/toolchains.md §1.4).
#[test]
fn the_vs2026_images_build_every_arch_on_x64_and_natively_on_arm64() {
    let fake = Fake::new(HostArch::X64).vswhere(VS2026);
    fake.x64_runner_vs(ENTERPRISE_2026, "14.50.35717");
    let msvc = found(&fake);
    assert_eq!(msvc.toolsets.len(), 1);
    assert_eq!(msvc.toolsets[0].source.to_string(), "Visual Studio Enterprise 2026 18.9.11929.123");
    let tools = format!(r"{ENTERPRISE_2026}\VC\Tools\MSVC\14.50.35717");
    for arch in Arch::ALL {
        let t = msvc.tools_for(arch).unwrap_or_else(|| panic!("{arch}: no tools"));
        assert!(win(&t.cl).starts_with(&format!(r"{tools}\bin\Hostx64\")), "{arch}: {}", t.cl.display());
    }
    assert_eq!(msvc.tools_for(Arch::Arm64Ec).unwrap().cl_flags, ["/arm64EC"]);
    assert_eq!(win(msvc.llvm_bin().unwrap()), format!(r"{ENTERPRISE_2026}\VC\Tools\Llvm\x64\bin"));

    // windows-11-arm on VS 2026: the native Hostarm64 tools and the ARM64 LLVM.
    let fake = Fake::new(HostArch::Arm64).vswhere(VS2026);
    fake.x64_runner_vs(ENTERPRISE_2026, "14.50.35717");
    fake.toolset(ENTERPRISE_2026, "14.50.35717", &[r"Hostarm64\arm64", r"Hostarm64\x64", r"Hostarm64\x86"]);
    fake.llvm(ENTERPRISE_2026, r"ARM64\bin");
    let msvc = found(&fake);
    for arch in Arch::ALL {
        assert!(win(&msvc.tools_for(arch).unwrap().cl).contains(r"\bin\Hostarm64\"), "{arch}");
    }
    assert!(win(msvc.llvm_bin().unwrap()).ends_with(r"18\Enterprise\VC\Tools\Llvm\ARM64\bin"));
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
    let fake = Fake::new(HostArch::X64).vswhere(VS2022).var("VCToolsInstallDir", r"C:\Gone\VC\Tools\MSVC\14.40.33807\");
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
