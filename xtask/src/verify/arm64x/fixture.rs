//! Test fixtures for the ARM64X reader, assembled by hand in test code (never by the forwarder
//! writer): the worked example `tip.dll` of docs/arm64x-forwarder.md §12 typed in from the
//! document's hex, and a small builder that lays out any pure forwarder the way §2–§8 say
//! lld-link 23 does (checked against the typed-in bytes by the tests).

/// One byte string placed at a file offset.
fn put(image: &mut [u8], at: usize, bytes: &[u8]) {
    image[at..at + bytes.len()].copy_from_slice(bytes);
}

/// Bytes from space-separated hex pairs, as the document prints them.
fn hex(text: &str) -> Vec<u8> {
    text.split_whitespace().map(|pair| u8::from_str_radix(pair, 16).expect("hex pair")).collect()
}

const DOS_PROGRAM: &str = "0E 1F BA 0E 00 B4 09 CD 21 B8 01 4C CD 21";
const DOS_MESSAGE: &[u8] = b"This program cannot be run in DOS mode.$\0\0";

/// `tip.dll` of §12, byte for byte from the hex in the document (0xE00 bytes).
pub(crate) fn tip_from_doc() -> Vec<u8> {
    let mut f = vec![0u8; 0xE00];
    let mut at = |offset: usize, text: &str| put(&mut f, offset, &hex(text));
    // §12.1 headers
    at(0x000, "4D 5A 78 00 01 00 00 00 04 00 00 00 00 00 00 00");
    at(0x010, "00 00 00 00 00 00 00 00 40 00 00 00 00 00 00 00");
    at(0x03C, "78 00 00 00");
    at(0x040, DOS_PROGRAM);
    at(0x078, "50 45 00 00 64 AA 03 00 00 00 00 00 00 00 00 00 00 00 00 00 F0 00 22 20");
    at(0x090, "0B 02 0E 00 00 00 00 00 00 0A 00 00 00 00 00 00");
    at(0x0A0, "00 00 00 00 00 00 00 00 00 00 00 80 01 00 00 00");
    at(0x0B0, "00 10 00 00 00 02 00 00 06 00 00 00 00 00 00 00 06 00 00 00 00 00 00 00");
    at(0x0C8, "00 40 00 00 00 04 00 00 00 00 00 00 02 00 60 01");
    at(0x0D8, "00 00 10 00 00 00 00 00 00 10 00 00 00 00 00 00");
    at(0x0E8, "00 00 10 00 00 00 00 00 00 10 00 00 00 00 00 00");
    at(0x0F8, "00 00 00 00 10 00 00 00");
    at(0x100, "20 13 00 00 9C 00 00 00");
    at(0x128, "00 30 00 00 0C 00 00 00");
    at(0x150, "00 10 00 00 40 01 00 00");
    let section = "00 00 00 00 00 00 00 00 00 00 00 00";
    at(0x188, &format!("54 04 00 00 00 10 00 00 00 06 00 00 00 04 00 00 {section} 40 00 00 40"));
    at(0x1B0, &format!("08 00 00 00 00 20 00 00 00 02 00 00 00 0A 00 00 {section} 40 00 00 40"));
    at(0x1D8, &format!("44 00 00 00 00 30 00 00 00 02 00 00 00 0C 00 00 {section} 40 00 00 42"));
    // §12.2 .rdata: the two load configs, CHPE metadata v2
    for lc in [0x400, 0x540] {
        at(lc, "40 01 00 00");
        at(lc + 0xC8, "80 12 00 80 01 00 00 00");
        at(lc + 0xE0, "0C 00 00 00 03 00");
    }
    at(0x680, "02 00 00 00 20 13 00 00 00 00 00 00 20 13 00 00");
    at(0x690, "00 20 00 00 E0 12 00 00 E8 12 00 00 F0 12 00 00");
    at(0x6A0, "F8 12 00 00 00 13 00 00 00 00 00 00 00 00 00 00");
    at(0x6B0, "00 00 00 00 00 00 00 00 08 13 00 00 10 13 00 00");
    at(0x6C0, "00 00 00 00 00 00 00 00 18 13 00 00 00 00 00 00");
    // native export table
    at(0x72C, "48 13 00 00 01 00 00 00 02 00 00 00 02 00 00 00");
    at(0x73C, "50 13 00 00 58 13 00 00 60 13 00 00");
    at(0x750, "86 13 00 00 A0 13 00 00 64 13 00 00 74 13 00 00 00 00 01 00");
    // EC export table
    at(0x7C8, "E4 13 00 00 01 00 00 00 02 00 00 00 02 00 00 00");
    at(0x7D8, "EC 13 00 00 F4 13 00 00 FC 13 00 00");
    at(0x7EC, "22 14 00 00 3A 14 00 00 00 14 00 00 10 14 00 00 00 00 01 00");
    // §12.4 .reloc: base relocations, then the DVRT
    at(0xC00, "00 10 00 00 0C 00 00 00 C8 A0 08 A2");
    at(0xC0C, "01 00 00 00 30 00 00 00 06 00 00 00 00 00 00 00 24 00 00 00");
    at(0xC20, "00 00 00 00 24 00 00 00 7C 50 64 86");
    at(0xC2C, "00 91 BC 13 00 00 04 91 98 00 00 00 50 91 40 11 00 00 54 91 40 01 00 00");
    let mut text = |offset: usize, s: &str| put(&mut f, offset, s.as_bytes());
    text(0x04E, "This program cannot be run in DOS mode.$");
    text(0x180, ".rdata\0\0");
    text(0x1A8, ".a64xrm\0");
    text(0x1D0, ".reloc\0\0");
    text(0x748, "tip.dll\0");
    text(0x764, "DllCanUnloadNow\0DllGetClassObject\0");
    text(0x786, "tip_arm64.DllCanUnloadNow\0tip_arm64.DllGetClassObject\0");
    text(0x7E4, "tip.dll\0");
    text(0x800, "DllCanUnloadNow\0DllGetClassObject\0");
    text(0x822, "tip_x64.DllCanUnloadNow\0tip_x64.DllGetClassObject\0");
    f
}

/// The exports of `tip.dll` (§12) as (name, forwarder string) per view.
pub(crate) const TIP_NATIVE: &[(&str, &str)] =
    &[("DllCanUnloadNow", "tip_arm64.DllCanUnloadNow"), ("DllGetClassObject", "tip_arm64.DllGetClassObject")];
pub(crate) const TIP_EC: &[(&str, &str)] =
    &[("DllCanUnloadNow", "tip_x64.DllCanUnloadNow"), ("DllGetClassObject", "tip_x64.DllGetClassObject")];

/// What a pure forwarder built by [`forwarder`] exports and carries.
pub(crate) struct Forwarder<'a> {
    /// The export directories' Name, e.g. "tip.dll".
    pub dll_name: &'a str,
    /// (export name, forwarder string) of each view; sorted here by name, ordinals from 1.
    pub native: &'a [(&'a str, &'a str)],
    pub ec: &'a [(&'a str, &'a str)],
    /// A VS_VERSIONINFO blob to put in a `.rsrc` section (§8), if any.
    pub version_info: Option<Vec<u8>>,
}

const RDATA_RVA: u32 = 0x1000;
const EC_LOAD_CONFIG_RVA: u32 = 0x1140;
const LOAD_CONFIG_SIZE: u32 = 0x140;
const CHPE_RVA: u32 = 0x1280;
const SLOTS_RVA: u32 = 0x12E0;
const EXPORTS_RVA: u32 = 0x1320;
const IMAGE_BASE: u64 = 0x1_8000_0000;

fn le16(v: u16) -> [u8; 2] {
    v.to_le_bytes()
}
fn le32(v: u32) -> [u8; 4] {
    v.to_le_bytes()
}
fn align(n: u32, to: u32) -> u32 {
    n.div_ceil(to) * to
}

/// One export table laid out as lld-link 23 packs it (§5): directory, DLL name, EAT, name
/// pointers, ordinals, names, forwarder strings, nothing aligned.
fn export_block(rva: u32, dll_name: &str, exports: &[(&str, &str)]) -> Vec<u8> {
    let mut sorted = exports.to_vec();
    sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let n = sorted.len() as u32;
    let name_rva = rva + 40;
    let eat = name_rva + dll_name.len() as u32 + 1;
    let names = eat + 4 * n;
    let ordinals = names + 4 * n;
    let strings = ordinals + 2 * n;
    let mut out = Vec::new();
    out.extend([0; 12]);
    for field in [name_rva, 1, n, n, eat, names, ordinals] {
        out.extend(le32(field));
    }
    out.extend(dll_name.as_bytes());
    out.push(0);
    let name_len: u32 = sorted.iter().map(|(name, _)| name.len() as u32 + 1).sum();
    let mut forward_at = strings + name_len;
    for (_, forward) in &sorted {
        out.extend(le32(forward_at));
        forward_at += forward.len() as u32 + 1;
    }
    let mut name_at = strings;
    for (name, _) in &sorted {
        out.extend(le32(name_at));
        name_at += name.len() as u32 + 1;
    }
    for i in 0..n {
        out.extend(le16(i as u16));
    }
    for text in sorted.iter().map(|e| e.0).chain(sorted.iter().map(|e| e.1)) {
        out.extend(text.as_bytes());
        out.push(0);
    }
    out
}

/// A section to place: name, content, characteristics.
struct Placed {
    name: &'static [u8; 8],
    content: Vec<u8>,
    characteristics: u32,
}

/// A pure forwarder laid out like lld-link 23 output (§2–§8, §12).
pub(crate) fn forwarder(spec: &Forwarder) -> Vec<u8> {
    let native_exports = export_block(EXPORTS_RVA, spec.dll_name, spec.native);
    let ec_exports_rva = EXPORTS_RVA + native_exports.len() as u32;
    let ec_exports = export_block(ec_exports_rva, spec.dll_name, spec.ec);
    let section_count = if spec.version_info.is_some() { 4 } else { 3 };
    // Every section of these small fixtures fits in one 0x1000 page.
    let rva_of = |index: u32| RDATA_RVA + 0x1000 * index;
    let a64xrm_rva = rva_of(1);
    let reloc_rva = rva_of(section_count - 1);

    let mut rdata = vec![0u8; (EXPORTS_RVA - RDATA_RVA) as usize];
    for lc in [0usize, (EC_LOAD_CONFIG_RVA - RDATA_RVA) as usize] {
        put(&mut rdata, lc, &le32(LOAD_CONFIG_SIZE));
        put(&mut rdata, lc + 0xC8, &(IMAGE_BASE + u64::from(CHPE_RVA)).to_le_bytes());
        put(&mut rdata, lc + 0xE0, &le32(0xC));
        put(&mut rdata, lc + 0xE4, &le16(section_count as u16));
    }
    let chpe = (CHPE_RVA - RDATA_RVA) as usize;
    let slot = |i: u32| le32(SLOTS_RVA + 8 * i);
    put(&mut rdata, chpe, &le32(2));
    put(&mut rdata, chpe + 0x04, &le32(EXPORTS_RVA));
    put(&mut rdata, chpe + 0x0C, &le32(EXPORTS_RVA));
    put(&mut rdata, chpe + 0x10, &le32(a64xrm_rva));
    for (i, field) in [0x14, 0x18, 0x1C, 0x20, 0x24, 0x38, 0x3C, 0x48].into_iter().enumerate() {
        put(&mut rdata, chpe + field, &slot(i as u32));
    }
    rdata.extend(&native_exports);
    rdata.extend(&ec_exports);

    let mut sections = vec![
        Placed { name: b".rdata\0\0", content: rdata, characteristics: 0x4000_0040 },
        Placed { name: b".a64xrm\0", content: vec![0; 8], characteristics: 0x4000_0040 },
    ];
    let mut resource_dir = None;
    if let Some(blob) = &spec.version_info {
        let rsrc_rva = rva_of(2);
        let mut rsrc = vec![0u8; 0x60];
        // §8: type 16 -> name 1 -> language 0x0409 -> data entry at 0x48, data at 0x60.
        for (dir, id, target) in [(0x00, 16, 0x8000_0018u32), (0x18, 1, 0x8000_0030), (0x30, 0x0409, 0x48)] {
            put(&mut rsrc, dir + 0x0E, &le16(1));
            put(&mut rsrc, dir + 0x10, &le32(id));
            put(&mut rsrc, dir + 0x14, &le32(target));
        }
        put(&mut rsrc, 0x48, &le32(rsrc_rva + 0x60));
        put(&mut rsrc, 0x4C, &le32(blob.len() as u32));
        rsrc.extend(blob);
        // Directory size rounded up to 8 (§8); VirtualSize must cover it, or readers that bound
        // a directory by min(VirtualSize, SizeOfRawData), like the `object` crate, refuse it.
        rsrc.resize(align(rsrc.len() as u32, 8) as usize, 0);
        resource_dir = Some((rsrc_rva, rsrc.len() as u32));
        sections.push(Placed { name: b".rsrc\0\0\0", content: rsrc, characteristics: 0x4000_0040 });
    }
    let mut reloc = Vec::new();
    for word in [RDATA_RVA, 0xC] {
        reloc.extend(le32(word));
    }
    reloc.extend(le16(0xA000 | 0x0C8));
    reloc.extend(le16(0xA000 | (EC_LOAD_CONFIG_RVA - RDATA_RVA + 0xC8) as u16));
    let fixups: [(u16, Vec<u8>); 5] = [
        (0x507C, le16(0x8664).to_vec()),
        (0x9100, le32(ec_exports_rva).to_vec()),
        (0x9104, le32(ec_exports.len() as u32).to_vec()),
        (0x9150, le32(EC_LOAD_CONFIG_RVA).to_vec()),
        (0x9154, le32(LOAD_CONFIG_SIZE).to_vec()),
    ];
    let block: Vec<u8> = fixups.iter().flat_map(|(w, v)| le16(*w).into_iter().chain(v.clone())).collect();
    let block_size = 8 + block.len() as u32;
    for word in [1, 12 + block_size] {
        reloc.extend(le32(word));
    }
    reloc.extend(6u64.to_le_bytes());
    reloc.extend(le32(block_size));
    reloc.extend(le32(0));
    reloc.extend(le32(block_size));
    reloc.extend(block);
    sections.push(Placed { name: b".reloc\0\0", content: reloc, characteristics: 0x4200_0040 });

    // Headers (§3, §12.1), then each section at the next 0x1000 RVA and 0x200 file offset.
    let mut image = vec![0u8; 0x400];
    put(&mut image, 0, &hex("4D 5A 78 00 01 00 00 00 04 00"));
    put(&mut image, 0x18, &le16(0x40));
    put(&mut image, 0x3C, &le32(0x78));
    put(&mut image, 0x40, &hex(DOS_PROGRAM));
    put(&mut image, 0x4E, DOS_MESSAGE);
    put(&mut image, 0x78, b"PE\0\0");
    put(&mut image, 0x7C, &le16(0xAA64));
    put(&mut image, 0x7E, &le16(section_count as u16));
    put(&mut image, 0x8C, &hex("F0 00 22 20 0B 02 0E 00"));
    put(&mut image, 0xA8, &IMAGE_BASE.to_le_bytes());
    put(&mut image, 0xB0, &hex("00 10 00 00 00 02 00 00 06 00 00 00 00 00 00 00 06 00"));
    put(&mut image, 0xCC, &le32(0x400));
    put(&mut image, 0xD4, &hex("02 00 60 01 00 00 10 00 00 00 00 00 00 10 00 00 00 00 00 00"));
    put(&mut image, 0xE8, &hex("00 00 10 00 00 00 00 00 00 10 00 00 00 00 00 00"));
    put(&mut image, 0xFC, &le32(16));
    put(&mut image, 0x100, &le32(EXPORTS_RVA));
    put(&mut image, 0x104, &le32(native_exports.len() as u32));
    if let Some((rva, size)) = resource_dir {
        put(&mut image, 0x110, &le32(rva));
        put(&mut image, 0x114, &le32(size));
    }
    put(&mut image, 0x128, &le32(reloc_rva));
    put(&mut image, 0x12C, &le32(0xC));
    put(&mut image, 0x150, &le32(RDATA_RVA));
    put(&mut image, 0x154, &le32(LOAD_CONFIG_SIZE));
    let mut initialized = 0;
    assert!(sections.iter().all(|s| s.content.len() <= 0x1000), "fixture sections fit one page");
    for (i, section) in sections.iter().enumerate() {
        let (rva, raw_offset) = (rva_of(i as u32), image.len() as u32);
        let virtual_size = section.content.len() as u32;
        let raw_size = align(virtual_size, 0x200);
        let header = 0x180 + 40 * i;
        put(&mut image, header, section.name);
        for (k, field) in [virtual_size, rva, raw_size, raw_offset].into_iter().enumerate() {
            put(&mut image, header + 8 + 4 * k, &le32(field));
        }
        put(&mut image, header + 36, &le32(section.characteristics));
        image.extend(&section.content);
        image.resize((raw_offset + raw_size) as usize, 0);
        initialized += raw_size;
    }
    put(&mut image, 0x98, &le32(initialized));
    let last = sections.len() as u32 - 1;
    let image_size = rva_of(last) + align(sections[last as usize].content.len() as u32, 0x1000);
    put(&mut image, 0xC8, &le32(image_size));
    image
}

/// `tip.dll` of §12 made by [`forwarder`].
pub(crate) fn tip_built() -> Vec<u8> {
    forwarder(&Forwarder { dll_name: "tip.dll", native: TIP_NATIVE, ec: TIP_EC, version_info: None })
}
