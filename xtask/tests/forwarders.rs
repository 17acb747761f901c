//! The Arm64X forwarders a build writes, read back by llvm-readobj 23 and by `cargo xtask
//! verify`, compared with lld-link 23's output for the same specs, and the spec and target
//! mistakes `cargo xtask forwarders` must refuse without leaving a file behind.

mod support;

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::OnceLock,
};

use support::*;

const FORWARDERS: [(&str, &str, &str); 3] = [
    ("archway.dll", "archway", "RegisterModule"),
    ("archway_diagnostics.dll", "archway_diagnostics", "ArchwayHandlerOpen"),
    ("archway_platform.dll", "archway_platform", "ArchwayHandlerOpen"),
];

/// A checkout built for the two architectures the shipped forwarders need.
fn shared_build() -> Option<&'static Path> {
    static BUILT: SharedBuild = OnceLock::new();
    built_once(&BUILT, &["--arch", "arm64,x64"])
}

fn readobj(dir: &Path) -> PathBuf {
    let out = xtask(dir, &["toolchain", "which", "llvm-readobj"]);
    assert!(out.status.success(), "{}", stderr(&out));
    PathBuf::from(stdout(&out).trim())
}

fn read(readobj: &Path, flags: &[&str], file: &Path) -> String {
    let out = Command::new(readobj).args(flags).arg(file).output_within_deadline().unwrap();
    assert!(
        out.status.success(),
        "llvm-readobj {flags:?} {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// (native part, hybrid part) of llvm-readobj's output: it prints the EC view, which it
/// derives by applying the ARM64X relocations itself, inside `HybridObject { … }`.
fn split_views(text: &str) -> (&str, &str) {
    text.split_once("HybridObject {").unwrap_or_else(|| panic!("no HybridObject (EC view) in:\n{text}"))
}

#[test]
fn llvm_readobj_reads_both_views_of_every_forwarder() {
    let Some(dir) = shared_build() else { return };
    let readobj = readobj(dir);
    for (file, binary, export) in FORWARDERS {
        let path = bin_dir(dir).join(file);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{file} was not written by the build: {e}"));
        assert_eq!(&bytes[0x7C..0x7E], &[0x64, 0xAA], "{file}: stored machine is ARM64");

        let text = read(&readobj, &["--file-headers", "--coff-load-config"], &path);
        assert!(text.contains("Format: COFF-ARM64X"), "{file}:\n{text}");
        let (native, ec) = split_views(&text);
        assert!(native.contains("CHPEMetadata [\n  Version: 0x2"), "{file}: CHPE metadata v2\n{native}");
        let fixups: Vec<&str> = native.lines().map(str::trim).filter(|l| l.starts_with("Type: ")).collect();
        assert_eq!(fixups, ["Type: VALUE"; 5], "{file}: exactly five ARM64X VALUE fixups\n{native}");
        for (rva, value) in [("0x7C", "0x8664"), ("0x150", "0x1140"), ("0x154", "0x140")] {
            let entry = format!("RVA: {rva}\n      Type: VALUE");
            assert!(native.contains(&entry), "{file}: fixup at {rva}\n{native}");
            assert!(native.contains(&format!("Value: {value}")), "{file}: fixup value {value}\n{native}");
        }
        assert!(
            native.contains("RVA: 0x100\n") && native.contains("RVA: 0x104\n"),
            "{file}: export directory fixups\n{native}"
        );
        assert!(ec.contains("Format: COFF-ARM64EC") && ec.contains("CHPEMetadata ["), "{file}: EC view\n{ec}");

        let text = read(&readobj, &["--coff-exports"], &path);
        let (native, ec) = split_views(&text);
        assert!(
            native.contains(&format!("Name: {export}\n  ForwardedTo: {binary}_arm64.{export}")),
            "{file}: native exports\n{native}"
        );
        assert!(
            ec.contains(&format!("Name: {export}\n    ForwardedTo: {binary}_x64.{export}")),
            "{file}: EC exports\n{ec}"
        );

        let text = read(&readobj, &["--coff-resources"], &path);
        assert!(text.contains("Type: VERSIONINFO (ID 16)") && text.contains("Language: (ID 1033)"), "{file}:\n{text}");
        assert!(text.contains("BD04EFFE"), "{file}: VS_FIXEDFILEINFO signature\n{text}");
    }
}

#[test]
fn verify_shows_both_views_and_agrees_with_the_targets() {
    let Some(dir) = shared_build() else { return };
    let bin = bin_dir(dir);
    let out = xtask(
        dir,
        &["verify", bin.join("archway.dll").to_str().unwrap(), bin.join("archway_x64.dll").to_str().unwrap()],
    );
    let text = stdout(&out);
    assert!(out.status.success(), "{}\n{text}", stderr(&out));
    assert!(text.contains("archway_arm64.RegisterModule") && text.contains("archway_x64.RegisterModule"), "{text}");
}

#[test]
fn verify_fails_when_a_target_is_missing_beside_the_forwarder() {
    let Some(dir) = shared_build() else { return };
    let tmp = tempfile::tempdir().unwrap();
    for file in ["archway.dll", "archway_arm64.dll"] {
        std::fs::copy(bin_dir(dir).join(file), tmp.path().join(file)).unwrap();
    }
    let out = xtask(dir, &["verify", tmp.path().join("archway.dll").to_str().unwrap()]);
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(!out.status.success(), "{all}");
    assert!(all.contains("archway_x64"), "the error names the missing target:\n{all}");
}

#[test]
fn the_writer_and_lld_link_agree_byte_for_byte_on_the_shipped_specs() {
    let Some(dir) = shared_build() else { return };
    // With a SOURCE_DATE_EPOCH too: lld-link is given the same timestamp.
    let out = output_within(
        xtask_cmd(dir, &["forwarders", "--compare-with-lld"]).env("SOURCE_DATE_EPOCH", "1700000000"),
        DEADLINE,
    );
    if !out.status.success() && stderr(&out).contains("lld-link") && stderr(&out).contains("missing") {
        missing(
            "lld-link 21 or newer and clang with the AArch64 backend",
            "run `cargo xtask toolchain install` and install clang-19",
        );
        return;
    }
    assert!(out.status.success(), "{}", stderr(&out));
    for (file, _, _) in FORWARDERS {
        assert!(stderr(&out).contains(&format!("{file}: identical to lld-link")), "{file}:\n{}", stderr(&out));
    }
}

/// A copy of the checkout (no build) plus a folder holding the shared build's targets.
struct Scratch {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    _bins: tempfile::TempDir,
    bin: PathBuf,
}

fn scratch() -> Option<Scratch> {
    let built = shared_build()?;
    let (tmp, dir) = copy_checkout("archway");
    let bins = tempfile::tempdir().unwrap();
    let bin = bins.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    for (_, binary, _) in FORWARDERS {
        for arch in ["arm64", "x64"] {
            let file = format!("{binary}_{arch}.dll");
            std::fs::copy(bin_dir(built).join(&file), bin.join(&file)).unwrap();
        }
    }
    Some(Scratch { _tmp: tmp, dir, _bins: bins, bin })
}

impl Scratch {
    fn spec_text(&self) -> String {
        std::fs::read_to_string(self.dir.join("forwarders/archway.toml")).unwrap()
    }

    fn edit_spec(&self, edit: impl FnOnce(String) -> String) {
        let path = self.dir.join("forwarders/archway.toml");
        std::fs::write(&path, edit(std::fs::read_to_string(&path).unwrap())).unwrap();
    }

    /// Runs `forwarders`, expects failure with `fragment` in the message and no forwarder left.
    fn refuses(&self, fragment: &str) {
        let out = xtask(&self.dir, &["forwarders", "--bin-dir", self.bin.to_str().unwrap()]);
        let err = stderr(&out);
        assert!(!out.status.success(), "expected a failure mentioning {fragment:?}:\n{err}");
        assert!(err.contains(fragment), "expected {fragment:?} in:\n{err}");
        assert_eq!(err.lines().filter(|l| l.starts_with("error")).count(), 1, "one error:\n{err}");
        for (file, _, _) in FORWARDERS {
            assert!(!self.bin.join(file).exists(), "{file} was left behind after:\n{err}");
        }
        let leftovers: Vec<_> = std::fs::read_dir(&self.bin)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| !n.to_string_lossy().contains('_'))
            .collect();
        assert!(leftovers.is_empty(), "temporary files left behind: {leftovers:?}");
    }
}

const EXPORT: &str = "[[export]]\nname = \"RegisterModule\"\n";

/// `forwarders/archway.toml:<line>:<col>` of the `n`th (from 0) `name = "…"` value in `text`.
fn name_at(text: &str, n: usize) -> String {
    let (line, l) = text.lines().enumerate().filter(|(_, l)| l.starts_with("name = ")).nth(n).expect("an export name");
    format!("forwarders/archway.toml:{}:{}", line + 1, l.find('"').unwrap() + 1)
}

#[test]
fn an_export_the_target_lacks_is_refused() {
    let Some(s) = scratch() else { return };
    s.edit_spec(|t| format!("{t}\n[[export]]\nname = \"GetModuleVersion\"\n"));
    let at = name_at(&s.spec_text(), 1);
    s.refuses(&format!(
        "{at}: export `GetModuleVersion` is not exported by archway_arm64.dll (it exports: RegisterModule)"
    ));
}

#[test]
fn a_duplicate_export_is_refused() {
    let Some(s) = scratch() else { return };
    s.edit_spec(|t| format!("{t}\n{EXPORT}"));
    let text = s.spec_text();
    s.refuses(&format!(
        "{}: export `RegisterModule` is listed twice; the first is at {}",
        name_at(&text, 1),
        name_at(&text, 0)
    ));
}

#[test]
fn a_non_ascii_export_is_refused() {
    let Some(s) = scratch() else { return };
    s.edit_spec(|t| t.replace("RegisterModule", "RegisterModulé"));
    let at = name_at(&s.spec_text(), 0);
    s.refuses(&format!("{at}: export name \"RegisterModulé\" must be non-empty printable ASCII"));
}

#[test]
fn an_unknown_field_is_refused() {
    let Some(s) = scratch() else { return };
    s.edit_spec(|t| t.replace("version-from", "version-form"));
    let line = s.spec_text().lines().position(|l| l.starts_with("version-form")).unwrap() + 1;
    s.refuses(&format!("forwarders/archway.toml:{line}:1: unknown field `version-form`"));
}

#[test]
fn a_missing_target_is_refused() {
    let Some(s) = scratch() else { return };
    std::fs::remove_file(s.bin.join("archway_x64.dll")).unwrap();
    s.refuses("target archway_x64.dll is missing from");
}

#[test]
fn a_target_of_the_wrong_machine_is_refused() {
    let Some(s) = scratch() else { return };
    std::fs::copy(s.bin.join("archway_x64.dll"), s.bin.join("archway_arm64.dll")).unwrap();
    s.refuses("target archway_arm64.dll is an x64 image (0x8664), but the native (ARM64) view needs arm64");
}

#[test]
fn targets_of_different_versions_are_refused_as_stale() {
    let Some(s) = scratch() else { return };
    // A stale x64 build: archway_x64.dll with another FILEVERSION (its build field patched).
    let path = s.bin.join("archway_x64.dll");
    let mut bytes = std::fs::read(&path).unwrap();
    let signature = [0xBD, 0x04, 0xEF, 0xFE];
    let at = bytes.windows(4).position(|w| w == signature).expect("VS_FIXEDFILEINFO");
    bytes[at + 12] = bytes[at + 12].wrapping_add(1); // dwFileVersionLS, low byte: the build field
    std::fs::write(&path, bytes).unwrap();
    s.refuses("archway_arm64.dll is version");
}

#[test]
fn the_timestamp_comes_from_source_date_epoch_and_rewrites_are_skipped() {
    let Some(s) = scratch() else { return };
    let run = |epoch: &str| {
        let args = ["forwarders", "--bin-dir", s.bin.to_str().unwrap()];
        stderr(&run_ok(xtask_cmd(&s.dir, &args).env("SOURCE_DATE_EPOCH", epoch)))
    };
    let first = run("1700000000");
    assert!(first.contains(": arm64 -> archway_arm64.dll, x64 -> archway_x64.dll (written, verified)"), "{first}");
    let bytes = std::fs::read(s.bin.join("archway.dll")).unwrap();
    assert_eq!(u32::from_le_bytes(bytes[0x80..0x84].try_into().unwrap()), 1_700_000_000);
    assert!(run("1700000000").contains("(unchanged, verified)"));
    assert!(run("").contains("(written, verified)"), "unset means 0, a different file");
    let bytes = std::fs::read(s.bin.join("archway.dll")).unwrap();
    assert_eq!(&bytes[0x80..0x84], &[0; 4]);
}
