//! Tests of the parent module.
use super::*;

const VERSION: [u16; 4] = [1, 2, 3, 4];

fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// Facts of a file that meets the expectation of `with_expectation` for `arch`.
fn good(arch: Arch) -> PeFacts {
    let ec = arch == Arch::Arm64Ec;
    PeFacts {
        machine: crate::matrix::machine::of(arch),
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
            languages: vec![0x0409],
        }),
    }
}

/// Runs `f` with the expectation every fixture is meant to meet.
fn with_expectation<T>(arch: Arch, kind: ImageKind, f: impl FnOnce(&Expectation) -> T) -> T {
    let exports = strings(&["RegisterModule"]);
    let allowed = strings(&["kernel32.dll"]);
    f(&Expectation { arch, kind, exports: &exports, allowed_imports: &allowed, version: VERSION })
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
        (Arch::Arm64, |f| f.chpe_metadata_version = Some(2), Rule::Machine, "ARM64X (hybrid) image, not plain ARM64"),
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
        assert!(v.iter().any(|v| v.message.contains(fragment)), "{arch}: {fragment:?} not in {v:?}");
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
    let text = Failures { path: "target/x/archway_x86.dll".into(), violations: v }.to_string();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("target/x/archway_x86.dll: rule exports: expected exactly [RegisterModule], found [_RegisterModule@12]")
    );
    assert!(lines.next().unwrap().starts_with("target/x/archway_x86.dll: rule exports: decorated names on x86"));
    assert_eq!(lines.next(), None);
    // A cdecl-style leading underscore on an expected name counts as decorated too.
    facts.exports = strings(&["_RegisterModule"]);
    assert!(
        failed(&facts, Arch::X86).iter().any(|v| { v.message.contains("decorated names on x86: [_RegisterModule]") })
    );
}

#[test]
fn every_failed_rule_is_reported_at_once() {
    let mut facts = good(Arch::X86); // PE32, 0x14c, no HIGH_ENTROPY_VA
    facts.exports = strings(&["_RegisterModule@12"]);
    facts.imports.push(("user32.dll".into(), strings(&["GetDesktopWindow"])));
    facts.version_info = None;
    let v = with_expectation(Arch::X64, ImageKind::Exe, |e| violations(&facts, e));
    let all = [Rule::Machine, Rule::Kind, Rule::DllCharacteristics, Rule::Exports, Rule::Imports, Rule::Version];
    assert_eq!(rules(&v), all);
}

#[test]
fn a_file_that_is_not_a_pe_image_is_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bogus.dll");
    std::fs::write(&path, b"MZ but nothing else, certainly no PE header here").unwrap();
    let msg = read_facts(&path).unwrap_err().to_string();
    assert!(msg.starts_with(&format!("{}: ", path.display())), "{msg}");
    let msg = format!("{:#}", read_facts(&dir.path().join("absent.dll")).unwrap_err());
    assert!(msg.contains("absent.dll"), "{msg}");
}

// ---- fixtures linked with LLVM: real files, variants for each rule ------------------------

struct Tools {
    clang_cl: PathBuf,
    lld_link: PathBuf,
    llvm_rc: PathBuf,
    dlltool: PathBuf,
}

/// The LLVM tools, found as the build finds them; `None` after one `skipped:` line, and with
/// CI=true a missing tool fails.
fn tools(backends: &[&str]) -> Option<Tools> {
    use crate::toolchain::{llvm::LlvmTool, newest};
    let inventory = crate::toolchain::local_inventory();
    let path = |tool, ok: &dyn Fn(&crate::toolchain::llvm::Found) -> bool| {
        newest(&inventory, tool, ok).map(|f| f.path.clone())
    };
    let clang_cl = path(LlvmTool::ClangCl, &|f| backends.iter().all(|b| f.has_backend(b)));
    let lld_link = path(LlvmTool::LldLink, &|_| true);
    let llvm_rc = path(LlvmTool::LlvmRc, &|_| true);
    // ARM64EC import libraries need llvm-dlltool 18 or newer (docs/toolchains.md §6).
    let dlltool = path(LlvmTool::LlvmDlltool, &|f| f.version.major >= crate::toolchain::MIN_DLLTOOL_ARM64EC);
    let mut missing = Vec::new();
    if clang_cl.is_none() {
        missing.push(format!("clang-cl with the {} backend", backends.join(" and ")));
    }
    for (tool, name) in [(&lld_link, "lld-link"), (&llvm_rc, "llvm-rc"), (&dlltool, "llvm-dlltool")] {
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
    let out = crate::cmd::Cmd::new(program)
        .args(args)
        .current_dir(dir)
        .timeout(std::time::Duration::from_secs(300))
        .output()
        .unwrap();
    assert!(out.success, "{} {}\n{}{}", program.display(), args.join(" "), out.stdout, out.stderr);
}

/// The .rc both llvm-rc and the hand-built blob of `versioninfo::tests` describe.
fn version_rc(v: [u16; 4], strings: &[(&str, &str)]) -> String {
    let v = v.map(|p| p.to_string()).join(",");
    let values: String = strings.iter().map(|(k, s)| format!("      VALUE \"{k}\", \"{s}\"\n")).collect();
    format!(
        "1 VERSIONINFO\nFILEVERSION {v}\nPRODUCTVERSION {v}\nFILEFLAGSMASK 0x3F\nFILEOS 0x40004\n\
         FILETYPE 2\nBEGIN\n  BLOCK \"StringFileInfo\"\n  BEGIN\n    BLOCK \"040904B0\"\n    BEGIN\n\
         {values}    END\n  END\n  BLOCK \"VarFileInfo\"\n  BEGIN\n    VALUE \"Translation\", 0x409, 1200\n  END\nEND\n"
    )
}

const RC_STRINGS: &[(&str, &str)] =
    &[("CompanyName", "Example"), ("FileDescription", "verify fixture"), ("ProductName", "archway")];

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
        let imports = if arch == Arch::Arm64Ec { vec![] } else { vec![("kernel32.dll", "GetCurrentProcessId")] };
        Fixture { arch, dllexport: false, imports, version: Some(VERSION), ec_load_config: true, link_args: vec![] }
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
        let export = if self.dllexport { "__declspec(dllexport)" } else { "" };
        let calls: String = self.imports.iter().map(|(_, f)| format!(" + (int){f}()")).collect();
        c += &format!("{export} int __stdcall RegisterModule(int a, void *b, void *c) {{ return a{calls}; }}\n");
        std::fs::write(dir.join("m.c"), c).unwrap();
        let target = format!("--target={triple}");
        run(&dir, &tools.clang_cl, &[&target, "/c", "/O2", "/GS-", "/Zl", "/Fo:m.obj", "--", "m.c"]);

        let mut link: Vec<String> =
            ["/dll", "/noentry", "/nodefaultlib", "/noimplib", "m.obj"].map(String::from).into();
        link.push(format!("/machine:{machine}"));
        link.push(format!("/out:{name}.dll"));
        let mut dlls: Vec<&str> = self.imports.iter().map(|(dll, _)| *dll).collect();
        dlls.dedup();
        for dll in dlls {
            let stem = dll.trim_end_matches(".dll");
            let decoration = if self.arch == Arch::X86 { "@0" } else { "" };
            let names: String =
                self.imports.iter().filter(|(d, _)| *d == dll).map(|(_, f)| format!("{f}{decoration}\n")).collect();
            std::fs::write(dir.join(format!("{stem}.def")), format!("LIBRARY {dll}\nEXPORTS\n{names}")).unwrap();
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
            run(&dir, &tools.llvm_rc, &["/no-preprocess", "/fo", "v.res", "v.rc"]);
            link.push("v.res".into());
        }
        if !self.dllexport {
            std::fs::write(dir.join("m.def"), "EXPORTS\nRegisterModule\n").unwrap();
            link.push("/def:m.def".into());
        }
        link.extend(self.link_args.iter().map(|a| a.to_string()));
        run(&dir, &tools.lld_link, &link.iter().map(String::as_str).collect::<Vec<_>>());
        dir.join(format!("{name}.dll"))
    }
}

fn check_as(path: &Path, arch: Arch, kind: ImageKind) -> Result<PeFacts> {
    with_expectation(arch, kind, |e| check(path, e))
}

fn failed_rules(path: &Path, arch: Arch, kind: ImageKind) -> (Vec<Rule>, String) {
    let err = check_as(path, arch, kind).expect_err("the check passed");
    let text = err.to_string();
    let failures = err.downcast::<Failures>().unwrap_or_else(|e| panic!("not a rule failure: {e:#}"));
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
    assert_eq!(facts.imports, vec![("kernel32.dll".to_string(), strings(&["GetCurrentProcessId"]))]);
    assert_eq!(facts.chpe_metadata_version, None);
    let info = facts.version_info.unwrap();
    assert_eq!((info.file_version, info.product_version), (VERSION, VERSION));
    let expected: Vec<(String, String)> = RC_STRINGS.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    assert_eq!(info.strings, expected);

    // The same file against the wrong machine, kind or version.
    assert_eq!(failed_rules(&dll, Arch::Arm64, ImageKind::Dll).0, [Rule::Machine]);
    assert_eq!(failed_rules(&dll, Arch::Arm64Ec, ImageKind::Dll).0, [Rule::Machine]);
    assert_eq!(failed_rules(&dll, Arch::X64, ImageKind::Exe).0, [Rule::Kind]);
    assert_eq!(failed_rules(&dll, Arch::X86, ImageKind::Dll).0, [Rule::Machine, Rule::DllCharacteristics]);
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
    assert_eq!(msg, format!("{}: rule version: FILEVERSION is 1.2.3.4, expected 1.2.3.5", dll.display()));
}

/// `dll`, checked as an `arch` DLL, fails exactly `rule`, with `text` in the message.
fn fails_only(dll: &Path, arch: Arch, rule: Rule, text: &str) {
    let (rules, msg) = failed_rules(dll, arch, ImageKind::Dll);
    assert_eq!(rules, [rule], "{msg}");
    assert!(msg.contains(text), "{msg}");
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
    fails_only(
        &dll,
        Arch::X86,
        Rule::Exports,
        "rule exports: expected exactly [RegisterModule], found [_RegisterModule@12]",
    );

    let dll = build("nohighentropy", &|f| f.link_args.push("/highentropyva:no"), Arch::X64);
    fails_only(&dll, Arch::X64, Rule::DllCharacteristics, "rule dll-characteristics: missing HIGH_ENTROPY_VA");

    let dll = build("user32", &|f| f.imports.push(("user32.dll", "GetDesktopWindow")), Arch::X64);
    fails_only(&dll, Arch::X64, Rule::Imports, "rule imports: not allowed: user32.dll (GetDesktopWindow)");

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
    fails_only(&dll, Arch::X64, Rule::Imports, "user32.dll (GetDesktopWindow, delay-load)");

    let dll = build("unversioned", &|f| f.version = None, Arch::X64);
    fails_only(&dll, Arch::X64, Rule::Version, "rule version: no VS_VERSIONINFO");

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
    let all = [Rule::Machine, Rule::Kind, Rule::DllCharacteristics, Rule::Exports, Rule::Imports, Rule::Version];
    assert_eq!(rules, all, "{msg}");
    assert!(msg.lines().all(|l| l.starts_with(&format!("{}: rule ", dll.display()))), "{msg}");
}

#[test]
fn real_arm64_and_arm64ec_are_told_apart_from_x64() {
    let Some(tools) = tools(&["x86-64", "aarch64"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let arm64 = Fixture::new(Arch::Arm64).build(&tools, dir.path(), "arm64");
    check_as(&arm64, Arch::Arm64, ImageKind::Dll).unwrap();
    assert_eq!(failed_rules(&arm64, Arch::X64, ImageKind::Dll).0, [Rule::Machine]);

    let ec = Fixture::new(Arch::Arm64Ec).build(&tools, dir.path(), "ec");
    let facts = check_as(&ec, Arch::Arm64Ec, ImageKind::Dll).unwrap();
    assert_eq!((facts.machine, facts.chpe_metadata_version, facts.load_config_size), (0x8664, Some(1), Some(0x140)));
    let (rules, msg) = failed_rules(&ec, Arch::X64, ImageKind::Dll);
    assert_eq!(rules, [Rule::Machine]);
    assert!(msg.contains("rule machine: found CHPE metadata (version 1)"), "{msg}");

    let mut no_chpe = Fixture::new(Arch::Arm64Ec);
    no_chpe.ec_load_config = false;
    let no_chpe = no_chpe.build(&tools, dir.path(), "ec-no-loadcfg");
    let (rules, msg) = failed_rules(&no_chpe, Arch::Arm64Ec, ImageKind::Dll);
    assert_eq!(rules, [Rule::Machine]);
    assert!(msg.contains("needs CHPE metadata, but the image has no load config"), "{msg}");
}

#[test]
fn llvm_rc_writes_what_the_hand_built_blob_holds() {
    let Some(tools) = tools(&["x86-64"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("v.rc"), version_rc([1, 2, 3, 4], RC_STRINGS)).unwrap();
    run(dir.path(), &tools.llvm_rc, &["/no-preprocess", "/fo", "v.res", "v.rc"]);
    let res = std::fs::read(dir.path().join("v.res")).unwrap();
    // A .res is a 32-byte empty entry, then DataSize, HeaderSize, header, data.
    let u32_at = |at: usize| u32::from_le_bytes(res[at..at + 4].try_into().unwrap()) as usize;
    let (data_size, header_size) = (u32_at(32), u32_at(36));
    let from_rc = &res[32 + header_size..32 + header_size + data_size];
    let by_hand = versioninfo::tests::sample_blob([1, 2, 3, 4], [1, 2, 3, 4], RC_STRINGS);
    assert_eq!(from_rc, by_hand.as_slice());
}
