//! Test inputs made in memory: minimal PE images with exactly the facts a test needs (machine,
//! CHPE metadata, a VERSIONINFO, forwarder exports; Arm64X forwarders from the reader's one
//! forwarder builder, `verify::arm64x::fixture`), and sample
//! packages for each platform laid out as `dist` will lay them out.

use uuid::Uuid;

use crate::msi::{HPH_SCHEMA, IisModule, IisSchema, InstallDir, Package, PackageFile, Platform, SchemaFile, pe_info};

pub use crate::matrix::machine::{AMD64, ARM64, I386};

/// What a synthetic PE holds.
#[derive(Clone, Debug, Default)]
pub struct Synth {
    pub machine: u16,
    /// CHPE metadata (ARM64EC / Arm64X).
    pub hybrid: bool,
    pub version: Option<[u16; 4]>,
    /// (export name, `target_stem.name`) pairs. (Arm64X forwarders, with their EC view, come
    /// from the reader's fixture builder: see [`forwarder`].)
    pub native_forwards: Vec<(&'static str, &'static str)>,
    /// Makes otherwise equal images differ (a "rebuild").
    pub salt: u8,
}

const RVA: u32 = 0x1000;
const LFANEW: usize = 0x40;

fn align(buf: &mut Vec<u8>, to: usize) {
    while !buf.len().is_multiple_of(to) {
        buf.push(0);
    }
}

fn put16(buf: &mut [u8], at: usize, v: u16) {
    buf[at..at + 2].copy_from_slice(&v.to_le_bytes());
}
fn put32(buf: &mut [u8], at: usize, v: u32) {
    buf[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// A VS_VERSIONINFO node: header, key, value, children (docs/arm64x-forwarder.md §8.1).
fn vnode(key: &str, value: &[u8], value_length: u16, text: bool, children: &[Vec<u8>]) -> Vec<u8> {
    let mut n = vec![0u8; 6];
    for unit in key.encode_utf16().chain([0]) {
        n.extend_from_slice(&unit.to_le_bytes());
    }
    align(&mut n, 4);
    n.extend_from_slice(value);
    for child in children {
        align(&mut n, 4);
        n.extend_from_slice(child);
    }
    let len = n.len() as u16;
    put16(&mut n, 0, len);
    put16(&mut n, 2, value_length);
    put16(&mut n, 4, text as u16);
    n
}

fn version_blob(v: [u16; 4], language: u16) -> Vec<u8> {
    let mut fixed = vec![0u8; 52];
    put32(&mut fixed, 0, 0xFEEF_04BD);
    put32(&mut fixed, 4, 0x0001_0000);
    for (at, (hi, lo)) in [(8, (v[0], v[1])), (12, (v[2], v[3])), (16, (v[0], v[1])), (20, (v[2], v[3]))] {
        put32(&mut fixed, at, (u32::from(hi) << 16) | u32::from(lo));
    }
    put32(&mut fixed, 36, 2);
    let translation = (u32::from(0x04B0u16) << 16 | u32::from(language)).to_le_bytes();
    let var = vnode("Translation", &translation, 4, false, &[]);
    let var_file_info = vnode("VarFileInfo", &[], 0, true, &[var]);
    vnode("VS_VERSION_INFO", &fixed, 52, false, &[var_file_info])
}

/// An export directory at section offset `at` whose every entry forwards (§5).
fn export_table(sec: &mut Vec<u8>, dll: &str, forwards: &[(&str, &str)]) -> (u32, u32) {
    align(sec, 4);
    let start = sec.len();
    let rva = |off: usize| RVA + off as u32;
    let mut sorted = forwards.to_vec();
    sorted.sort();
    let n = sorted.len();
    sec.resize(start + 40 + 4 * n + 4 * n + 2 * n, 0);
    let strings = |sec: &mut Vec<u8>, s: &str| {
        let at = sec.len();
        sec.extend_from_slice(s.as_bytes());
        sec.push(0);
        rva(at)
    };
    let name = strings(sec, dll);
    let (eat, names, ordinals) = (start + 40, start + 40 + 4 * n, start + 40 + 8 * n);
    for (i, (export, target)) in sorted.iter().enumerate() {
        let e = strings(sec, export);
        let t = strings(sec, target);
        put32(sec, eat + 4 * i, t);
        put32(sec, names + 4 * i, e);
        put16(sec, ordinals + 2 * i, i as u16);
    }
    put32(sec, start + 12, name);
    put32(sec, start + 16, 1);
    put32(sec, start + 20, n as u32);
    put32(sec, start + 24, n as u32);
    put32(sec, start + 28, rva(eat));
    put32(sec, start + 32, rva(names));
    put32(sec, start + 36, rva(ordinals));
    (rva(start), (sec.len() - start) as u32)
}

/// A minimal DLL: headers, one `.rdata` section with whatever `s` asks for.
pub fn pe(s: &Synth) -> Vec<u8> {
    let plus = s.machine != I386;
    let image_base: u64 = if plus { 0x1_8000_0000 } else { 0x1000_0000 };
    let mut sec = vec![s.salt; 16];
    let mut dirs = [(0u32, 0u32); 16];
    if let Some(v) = s.version {
        align(&mut sec, 8);
        let root = sec.len();
        sec.resize(root + 0x60, 0);
        let blob = version_blob(v, 1033);
        for (at, (id, target)) in [(0x00, (16, 0x8000_0018u32)), (0x18, (1, 0x8000_0030)), (0x30, (1033, 0x48))] {
            put16(&mut sec, root + at + 14, 1);
            put32(&mut sec, root + at + 16, id);
            put32(&mut sec, root + at + 20, target);
        }
        put32(&mut sec, root + 0x48, RVA + (root + 0x60) as u32);
        put32(&mut sec, root + 0x4C, blob.len() as u32);
        sec.extend_from_slice(&blob);
        dirs[2] = (RVA + root as u32, (sec.len() - root) as u32);
    }
    if !s.native_forwards.is_empty() {
        dirs[0] = export_table(&mut sec, "forwarder.dll", &s.native_forwards);
    }
    if s.hybrid {
        align(&mut sec, 8);
        let config = sec.len();
        sec.resize(config + 0x140, 0);
        put32(&mut sec, config, 0x140);
        let chpe = sec.len();
        sec.resize(chpe + 0x5C, 0);
        put32(&mut sec, chpe, 2);
        sec[config + 0xC8..config + 0xD0].copy_from_slice(&(image_base + u64::from(RVA) + chpe as u64).to_le_bytes());
        dirs[10] = (RVA + config as u32, 0x140);
    }
    align(&mut sec, 0x200);
    let optional = if plus { 0xF0 } else { 0xE0 };
    let mut f = vec![0u8; 0x200];
    f[0..2].copy_from_slice(b"MZ");
    put32(&mut f, 0x3C, LFANEW as u32);
    f[LFANEW..LFANEW + 4].copy_from_slice(b"PE\0\0");
    let coff = LFANEW + 4;
    put16(&mut f, coff, s.machine);
    put16(&mut f, coff + 2, 1);
    put16(&mut f, coff + 16, optional as u16);
    put16(&mut f, coff + 18, 0x2022);
    let o = coff + 20;
    put16(&mut f, o, if plus { 0x20B } else { 0x10B });
    if plus {
        f[o + 24..o + 32].copy_from_slice(&image_base.to_le_bytes());
    } else {
        put32(&mut f, o + 28, image_base as u32);
    }
    put32(&mut f, o + 32, 0x1000);
    put32(&mut f, o + 36, 0x200);
    put16(&mut f, o + 40, 6);
    put16(&mut f, o + 48, 6);
    put32(&mut f, o + 56, RVA + (sec.len() as u32).next_multiple_of(0x1000));
    put32(&mut f, o + 60, 0x200);
    put16(&mut f, o + 68, 2);
    put16(&mut f, o + 70, 0x0160);
    let dd = o + if plus { 112 } else { 96 };
    put32(&mut f, dd - 4, 16);
    for (i, (rva, size)) in dirs.iter().enumerate() {
        put32(&mut f, dd + 8 * i, *rva);
        put32(&mut f, dd + 8 * i + 4, *size);
    }
    let sh = o + optional;
    f[sh..sh + 6].copy_from_slice(b".rdata");
    put32(&mut f, sh + 8, sec.len() as u32);
    put32(&mut f, sh + 12, RVA);
    put32(&mut f, sh + 16, sec.len() as u32);
    put32(&mut f, sh + 20, 0x200);
    put32(&mut f, sh + 36, 0x4000_0040);
    f.extend_from_slice(&sec);
    f
}

pub fn dll(machine: u16, hybrid: bool, version: Option<[u16; 4]>) -> Vec<u8> {
    pe(&Synth { machine, hybrid, version, ..Synth::default() })
}

/// The Arm64X forwarder `stem.dll` → `stem_arm64.dll` (native) and `stem_<ec>.dll` (EC), laid
/// out as lld-link lays it out by the one forwarder fixture builder the reader's tests use.
pub fn forwarder(version: Option<[u16; 4]>, native: &'static str, ec: &'static str) -> Vec<u8> {
    use crate::verify::arm64x::fixture::{Forwarder, forwarder};
    forwarder(&Forwarder {
        dll_name: "forwarder.dll",
        native: &[("RegisterModule", native)],
        ec: &[("RegisterModule", ec)],
        version_info: version.map(|v| version_blob(v, 1033)),
    })
}

pub fn upgrade_code(platform: Platform) -> Uuid {
    match platform {
        Platform::X64 => Uuid::from_u128(0x6d1c_2a4e_0b7f_4c52_9a1e_5f3d_8c21_7a01),
        Platform::Arm64 => Uuid::from_u128(0x6d1c_2a4e_0b7f_4c52_9a1e_5f3d_8c21_7a02),
        Platform::X86 => Uuid::from_u128(0x6d1c_2a4e_0b7f_4c52_9a1e_5f3d_8c21_7a03),
    }
}

pub fn file(dir: InstallDir, name: &str, bytes: Vec<u8>) -> PackageFile {
    let pe = pe_info(&bytes).expect("a fixture PE parses");
    PackageFile { dir, name: name.to_string(), bytes, pe }
}

/// A package laid out like `dist` lays out `platform` (issue #4), every PE at `version`.
pub fn package(platform: Platform, version: [u16; 4]) -> Package {
    use InstallDir::*;
    let v = Some(version);
    let mut files = vec![
        file(ProgramFilesX86, "archway.dll", dll(I386, false, v)),
        file(ProgramFilesX86, "archway_diagnostics.dll", dll(I386, false, v)),
    ];
    match platform {
        Platform::X64 => {
            files.push(file(ProgramFiles64, "archway.dll", dll(AMD64, false, v)));
            files.push(file(ProgramFiles64, "archway_diagnostics.dll", dll(AMD64, false, v)));
        }
        Platform::Arm64 => {
            files.push(file(
                ProgramFiles64,
                "archway.dll",
                forwarder(v, "archway_arm64.RegisterModule", "archway_x64.RegisterModule"),
            ));
            files.push(file(ProgramFiles64, "archway_arm64.dll", dll(ARM64, false, v)));
            files.push(file(ProgramFiles64, "archway_x64.dll", dll(AMD64, false, v)));
            files.push(file(
                ProgramFiles64,
                "archway_diagnostics.dll",
                forwarder(
                    v,
                    "archway_diagnostics_arm64.ArchwayHandlerOpen",
                    "archway_diagnostics_arm64ec.ArchwayHandlerOpen",
                ),
            ));
            files.push(file(ProgramFiles64, "archway_diagnostics_arm64.dll", dll(ARM64, false, v)));
            files.push(file(ProgramFiles64, "archway_diagnostics_arm64ec.dll", dll(AMD64, true, v)));
        }
        Platform::X86 => {}
    }
    let main = if platform.is_64bit() { ProgramFiles64 } else { ProgramFilesX86 };
    files.push(file(main, "NOTICE.txt", b"archway: see LICENSE\r\n".to_vec()));
    files.push(file(main, "archway_sections.js", b"// declares sections\r\n".to_vec()));
    Package {
        platform,
        product_name: "Archway".into(),
        manufacturer: "Archway contributors".into(),
        version,
        upgrade_code: upgrade_code(platform),
        sibling_upgrade_codes: Platform::ALL.into_iter().filter(|p| *p != platform).map(upgrade_code).collect(),
        folder: "Archway".into(),
        files,
        iis_module: Some(IisModule { name: "Archway".into(), image: r"%ProgramFiles%\Archway\archway.dll".into() }),
        iis_schema: Some(schema()),
        source_date_epoch: 1_700_000_000,
    }
}

/// The schema files and sections `dist` ships (module/schema), with stand-in contents.
pub fn schema() -> IisSchema {
    let xml =
        |section: &str| format!("<configSchema><sectionSchema name=\"{section}\" /></configSchema>\r\n").into_bytes();
    IisSchema {
        files: vec![
            SchemaFile { name: "archway_schema.xml".into(), bytes: xml("system.webServer/archway") },
            SchemaFile { name: HPH_SCHEMA.into(), bytes: xml("system.webServer/httpPlatform") },
        ],
        declare: vec!["system.webServer/archway".into(), "system.webServer/httpPlatform".into()],
        owned: vec!["system.webServer/archway".into()],
        script: "archway_sections.js".into(),
    }
}

/// Replaces the file at `dir\name` in `package`.
pub fn replace(package: &mut Package, dir: InstallDir, name: &str, bytes: Vec<u8>) {
    let slot = package.files.iter_mut().find(|f| f.dir == dir && f.name == name).expect("the file is in the package");
    *slot = file(dir, name, bytes);
}

/// Prints the skip line outside CI, fails under `CI=true` (README "Test").
#[cfg(not(windows))]
pub fn tool(name: &str) -> Option<std::path::PathBuf> {
    let found = std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|p| p.join(name)).find(|p| p.is_file()));
    if found.is_none() {
        let package = if name == "wixl" { "wixl" } else { "msitools" };
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{name} is missing; install Debian's {package}");
        println!("skipped: {name} is missing; install Debian's {package} (`apt-get install {package}`)");
    }
    found
}

/// The bytes `pkg` installs as the 64-bit shim, `Program Files\Archway\archway.dll`.
pub fn shim64(pkg: &Package) -> Vec<u8> {
    let shim = pkg.files.iter().find(|f| f.dir == InstallDir::ProgramFiles64 && f.name == "archway.dll");
    shim.expect("the package has a 64-bit shim").bytes.clone()
}

/// The seeded component-GUID fault: the 64-bit shim's component gets another GUID (the
/// dotnet/aspnetcore#60764 half that a lint must catch).
pub fn change_shim64_guid(db: &mut crate::msi::Database) {
    let guid = msi::Value::from("{0A0A0A0A-0000-5000-8000-000000000001}");
    assert_eq!(db.set("Component", "Component", "pf64_archway.dll", "ComponentId", guid), 1);
}

/// This machine's Wine, or `None` after one `skipped:` line (a failure under CI=true).
#[cfg(not(windows))]
pub fn wine() -> Option<std::path::PathBuf> {
    let found = crate::winhost::wine::HostWine::find();
    if found.is_none() {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "Wine is missing; apt-get install wine64");
        println!("skipped: Wine is missing; apt-get install wine64");
    }
    found
}
