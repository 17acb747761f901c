//! Tests of the lld-link reference path: the pure parts always; the links when clang (AArch64)
//! and lld-link 21+ exist (one `skipped:` line otherwise, a failure under CI=true).

use super::*;
use crate::toolchain::{Version, llvm::Origin};

/// The tools, or `None` after one `skipped: <what> is missing; <how to get it>` line.
fn tools_or_skip() -> Option<ReferenceTools> {
    match find() {
        Ok(tools) => Some(tools),
        Err(why) if std::env::var("CI").as_deref() == Ok("true") => panic!("CI=true and {why:#}"),
        Err(why) => {
            println!("skipped: {why:#}");
            None
        }
    }
}

/// A scratch folder with the two load-configuration objects in it.
fn workspace(tools: &ReferenceTools) -> (tempfile::TempDir, (PathBuf, PathBuf)) {
    let dir = tempfile::tempdir().unwrap();
    let objs = assemble_load_configs(tools, dir.path()).unwrap();
    (dir, objs)
}

fn export(name: &str) -> DefExport {
    DefExport { name: name.to_string(), ordinal: None, noname: false, data: false }
}

fn tip_defs() -> (String, String) {
    let exports = [export("DllCanUnloadNow"), export("DllGetClassObject")];
    (def_text(&exports, "tip_arm64"), def_text(&exports, "tip_x64"))
}

fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}

fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}

// ---- pure parts ---------------------------------------------------------------------------

#[test]
fn def_lines_carry_only_the_parts_that_apply() {
    let exports = [
        export("Plain"),
        DefExport { name: "Fifth".into(), ordinal: Some(5), noname: false, data: false },
        DefExport { name: "Hidden".into(), ordinal: Some(7), noname: true, data: true },
        DefExport { name: "Table".into(), ordinal: None, noname: false, data: true },
    ];
    assert_eq!(
        def_text(&exports, "mod_arm64"),
        "EXPORTS\n  Plain = mod_arm64.Plain\n  Fifth = mod_arm64.Fifth @5\n  Hidden = mod_arm64.Hidden @7 NONAME DATA\n  \
         Table = mod_arm64.Table DATA\n"
    );
}

#[test]
fn def_words_the_lexer_would_misread_are_quoted() {
    let text = def_text(&[export("DATA"), export("with space"), export("@at")], "t");
    assert_eq!(text, "EXPORTS\n  \"DATA\" = t.DATA\n  \"with space\" = \"t.with space\"\n  \"@at\" = t.@at\n");
}

#[test]
fn res_file_is_what_llvm_rc_writes() {
    let res = res_file(0x0409, &[0xAB; 5]);
    let mut expected = vec![0, 0, 0, 0, 0x20, 0, 0, 0, 0xFF, 0xFF, 0, 0, 0xFF, 0xFF, 0, 0];
    expected.extend([0; 16]);
    expected.extend([5, 0, 0, 0, 0x20, 0, 0, 0, 0xFF, 0xFF, 16, 0, 0xFF, 0xFF, 1, 0]);
    expected.extend([0, 0, 0, 0, 0x30, 0, 0x09, 0x04, 0, 0, 0, 0, 0, 0, 0, 0]);
    expected.extend([0xAB; 5]);
    expected.extend([0; 3]);
    assert_eq!(res, expected);
}

fn found(tool: LlvmTool, dir: &str, major: u32, targets: &[&str]) -> Found {
    Found {
        tool,
        path: PathBuf::from(dir).join(tool.base_name()),
        version: Version { major, minor: 1, patch: 0 },
        banner: String::new(),
        origin: Origin::Path,
        targets: targets.iter().map(|t| t.to_string()).collect(),
    }
}

#[test]
fn clang_with_aarch64_and_the_newest_lld_are_chosen_from_different_installs() {
    let inv = [
        found(LlvmTool::Clang, "/llvm19", 19, &["aarch64", "x86"]),
        found(LlvmTool::LldLink, "/llvm19", 19, &[]),
        found(LlvmTool::Clang, "/venv", 23, &["x86"]),
        found(LlvmTool::LldLink, "/venv", 23, &[]),
    ];
    let tools = choose(&inv).unwrap();
    assert_eq!(tools.clang, PathBuf::from("/llvm19/clang"));
    assert_eq!(tools.lld_link, PathBuf::from("/venv/lld-link"));
}

#[test]
fn what_is_missing_is_named_with_how_to_get_it() {
    let why = choose(&[found(LlvmTool::Clang, "/venv", 23, &["x86"]), found(LlvmTool::LldLink, "/llvm19", 19, &[])])
        .unwrap_err();
    assert!(why.starts_with("clang 18 or newer with the AArch64 code generator is missing; install clang-19"), "{why}");
    assert!(
        why.contains("lld-link 21 or newer is missing (lld-link 19.1.0 at /llvm19/lld-link cannot link ARM64X)"),
        "{why}"
    );
    assert!(why.contains("`cargo xtask toolchain install`"), "{why}");
}

// ---- links ----------------------------------------------------------------------------------

fn assert_same_image(actual: &[u8], expected: &[u8]) {
    let differ: Vec<String> = (0..actual.len().max(expected.len()))
        .filter(|&i| actual.get(i) != expected.get(i))
        .take(16)
        .map(|i| format!("{i:#05x}: lld {:02X?} doc {:02X?}", actual.get(i), expected.get(i)))
        .collect();
    assert!(
        differ.is_empty(),
        "lengths {:#x} / {:#x}; first differences:\n{}",
        actual.len(),
        expected.len(),
        differ.join("\n")
    );
}

#[test]
fn the_tip_example_links_to_exactly_the_documented_bytes() {
    let Some(tools) = tools_or_skip() else { return };
    let (dir, objs) = workspace(&tools);
    let (native, ec) = tip_defs();
    let dll = link(&tools, &objs, dir.path(), "tip.dll", &native, &ec, None, 0, false).unwrap();
    assert_same_image(&dll, &crate::verify::arm64x::fixture::tip_from_doc());
}

/// docs/arm64x-forwarder.md §10: 16-bit words with end-around carry, the CheckSum field skipped,
/// folded, plus the file length.
fn pe_checksum(image: &[u8]) -> u32 {
    let field = u32_at(image, 0x3C) as usize + 4 + 20 + 64;
    let mut sum: u32 = 0;
    for (i, pair) in image.chunks(2).enumerate() {
        if i * 2 == field || i * 2 == field + 2 {
            continue;
        }
        sum += u32::from(u16::from_le_bytes([pair[0], pair.get(1).copied().unwrap_or(0)]));
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    sum = (sum & 0xFFFF) + (sum >> 16);
    sum + image.len() as u32
}

#[test]
fn release_adds_the_documented_checksum_and_changes_nothing_else() {
    let Some(tools) = tools_or_skip() else { return };
    let (dir, objs) = workspace(&tools);
    let (native, ec) = tip_defs();
    let plain = link(&tools, &objs, dir.path(), "tip.dll", &native, &ec, None, 0, false).unwrap();
    // Another folder: the load configs are copied in, and the folder leaves no trace.
    let elsewhere = tempfile::tempdir().unwrap();
    let release = link(&tools, &objs, elsewhere.path(), "tip.dll", &native, &ec, None, 0, true).unwrap();
    assert!(elsewhere.path().join("loadcfg_ec.obj").is_file());
    assert_eq!(u32_at(&release, 0xD0), pe_checksum(&release));
    let mut zeroed = release.clone();
    zeroed[0xD0..0xD4].fill(0);
    assert_same_image(&zeroed, &plain);
}

#[test]
fn a_version_resource_becomes_rsrc_before_reloc() {
    let Some(tools) = tools_or_skip() else { return };
    let (dir, objs) = workspace(&tools);
    let (native, ec) = tip_defs();
    // lld copies the bytes without reading them; an odd length shows the padding rules.
    let blob: Vec<u8> = (0..0x229u32).map(|i| (i % 251) as u8 + 1).collect();
    let dll =
        link(&tools, &objs, dir.path(), "modver.dll", &native, &ec, Some(&res_file(0x0409, &blob)), 0, false).unwrap();
    assert_eq!(u16_at(&dll, 0x7E), 4, "four sections");
    // Section headers at 0x180 + 40·i: .rdata, .a64xrm, .rsrc, .reloc.
    assert_eq!(&dll[0x1D0..0x1D8], b".rsrc\0\0\0");
    // .rsrc: VirtualSize 0x60 + data rounded up to 8, RVA 0x3000, raw 0x400 at 0xC00.
    assert_eq!(
        [u32_at(&dll, 0x1D8), u32_at(&dll, 0x1DC), u32_at(&dll, 0x1E0), u32_at(&dll, 0x1E4)],
        [0x290, 0x3000, 0x400, 0xC00]
    );
    assert_eq!(u32_at(&dll, 0x1F4), 0x4000_0040);
    assert_eq!(&dll[0x1F8..0x200], b".reloc\0\0");
    assert_eq!([u32_at(&dll, 0x204), u32_at(&dll, 0x20C)], [0x4000, 0x1000], ".reloc RVA and file offset");
    assert_eq!([u32_at(&dll, 0x110), u32_at(&dll, 0x114)], [0x3000, 0x290], "data directory 2");
    assert_eq!([u32_at(&dll, 0x128), u32_at(&dll, 0x12C)], [0x4000, 0x0C], "data directory 5");
    assert_eq!(u16_at(&dll, 0x4E4), 4, "DynamicValueRelocTableSection is .reloc, now the fourth");
    let rsrc = &dll[0xC00..0x1000];
    let tree: [u32; 24] = [
        0,
        0,
        0,
        0x0001_0000,
        0x10,
        0x8000_0018, // root: one ID entry, RT_VERSION -> name level
        0,
        0,
        0,
        0x0001_0000,
        1,
        0x8000_0030, // name level: ID 1 -> language level
        0,
        0,
        0,
        0x0001_0000,
        0x0409,
        0x48, // language level: 0x0409 -> data entry
        0x3060,
        0x229,
        0,
        0,
        0,
        0, // data entry (RVA, size, code page), 8 bytes of padding
    ];
    let words: Vec<u32> = (0..24).map(|i| u32_at(rsrc, 4 * i)).collect();
    assert_eq!(words, tree);
    assert_eq!(&rsrc[0x60..0x60 + blob.len()], &blob[..]);
    assert!(rsrc[0x60 + blob.len()..].iter().all(|&b| b == 0));
}
