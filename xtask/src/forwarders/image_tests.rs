//! The writer against arm64x-forwarder.md §12: the worked example `tip.dll`, every byte the
//! document lists, and zero everywhere else.

use super::*;
use crate::forwarders::exports::{Requested, Table};

fn tables(names: &[&str]) -> (Table, Table) {
    let requested: Vec<Requested> =
        names.iter().map(|n| Requested { name: n.to_string(), ordinal: None, noname: false, data: false }).collect();
    (Table::assign(&requested, "tip_arm64"), Table::assign(&requested, "tip_x64"))
}

fn tip_dll() -> Vec<u8> {
    let (native, ec) = tables(&["DllGetClassObject", "DllCanUnloadNow"]);
    write(&Image { dll_name: "tip.dll", native: &native, ec: &ec, version: None, timestamp: 0 })
}

fn le32(v: u32) -> Vec<u8> {
    v.to_le_bytes().to_vec()
}

fn cstr(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

/// (file offset, bytes) exactly as §12 lists them; every other byte of the 0xE00 is zero.
fn expected_tip_dll() -> Vec<u8> {
    let mut parts: Vec<(usize, Vec<u8>)> = vec![
        (0x000, vec![0x4D, 0x5A, 0x78, 0x00, 0x01, 0x00, 0x00, 0x00, 0x04]),
        (0x018, vec![0x40]),
        (0x03C, vec![0x78]),
        (0x040, [&[0x0E, 0x1F, 0xBA, 0x0E, 0x00, 0xB4, 0x09, 0xCD, 0x21, 0xB8, 0x01, 0x4C, 0xCD, 0x21][..], b"This program cannot be run in DOS mode.$"].concat()),
        (0x078, b"PE\0\0".to_vec()),
        (0x07C, vec![0x64, 0xAA, 0x03, 0x00]),
        (0x08C, vec![0xF0, 0x00, 0x22, 0x20, 0x0B, 0x02, 0x0E, 0x00]),
        (0x098, le32(0xA00)),
        (0x0A8, vec![0x00, 0x00, 0x00, 0x80, 0x01]),
        (0x0B0, [le32(0x1000), le32(0x200), le32(6), le32(0), le32(6), le32(0), le32(0x4000), le32(0x400)].concat()),
        (0x0D4, vec![0x02, 0x00, 0x60, 0x01]),
        (0x0D8, [le32(0x10_0000), le32(0), le32(0x1000), le32(0), le32(0x10_0000), le32(0), le32(0x1000)].concat()),
        (0x0FC, le32(16)),
        (0x100, [le32(0x1320), le32(0x9C)].concat()),
        (0x128, [le32(0x3000), le32(0xC)].concat()),
        (0x150, [le32(0x1000), le32(0x140)].concat()),
        (0x180, [&b".rdata\0\0"[..], &le32(0x454), &le32(0x1000), &le32(0x600), &le32(0x400)].concat()),
        (0x1A4, le32(0x4000_0040)),
        (0x1A8, [&b".a64xrm\0"[..], &le32(8), &le32(0x2000), &le32(0x200), &le32(0xA00)].concat()),
        (0x1CC, le32(0x4000_0040)),
        (0x1D0, [&b".reloc\0\0"[..], &le32(0x44), &le32(0x3000), &le32(0x200), &le32(0xC00)].concat()),
        (0x1F4, le32(0x4200_0040)),
    ];
    // Both load configurations: Size, CHPEMetadataPointer, DVRT offset and section.
    for lc in [0x400, 0x540] {
        parts.push((lc, le32(0x140)));
        parts.push((lc + 0xC8, vec![0x80, 0x12, 0x00, 0x80, 0x01]));
        parts.push((lc + 0xE0, vec![0x0C, 0, 0, 0, 0x03]));
    }
    // CHPE metadata v2.
    let chpe = [2, 0x1320, 0, 0x1320, 0x2000, 0x12E0, 0x12E8, 0x12F0, 0x12F8, 0x1300, 0, 0, 0, 0, 0x1308, 0x1310, 0, 0, 0x1318];
    parts.push((0x680, chpe.iter().flat_map(|v: &u32| v.to_le_bytes()).collect()));
    // Native export table.
    parts.push((0x72C, [1, 2, 2, 0x1350, 0x1358, 0x1360].iter().fold(le32(0x1348), |mut v, x| {
        v.extend(le32(*x));
        v
    })));
    parts.push((0x748, [cstr("tip.dll"), le32(0x1386), le32(0x13A0), le32(0x1364), le32(0x1374), vec![0, 0, 1, 0]].concat()));
    parts.push((0x764, [cstr("DllCanUnloadNow"), cstr("DllGetClassObject"), cstr("tip_arm64.DllCanUnloadNow"), cstr("tip_arm64.DllGetClassObject")].concat()));
    // EC export table.
    parts.push((0x7C8, [le32(0x13E4), le32(1), le32(2), le32(2), le32(0x13EC), le32(0x13F4), le32(0x13FC)].concat()));
    parts.push((0x7E4, [cstr("tip.dll"), le32(0x1422), le32(0x143A), le32(0x1400), le32(0x1410), vec![0, 0, 1, 0]].concat()));
    parts.push((0x800, [cstr("DllCanUnloadNow"), cstr("DllGetClassObject"), cstr("tip_x64.DllCanUnloadNow"), cstr("tip_x64.DllGetClassObject")].concat()));
    // `.reloc`: base relocations, then the DVRT.
    parts.push((0xC00, [le32(0x1000), le32(0xC), vec![0xC8, 0xA0, 0x08, 0xA2]].concat()));
    parts.push((0xC0C, [le32(1), le32(0x30), le32(6), le32(0), le32(0x24), le32(0), le32(0x24)].concat()));
    parts.push((0xC28, vec![0x7C, 0x50, 0x64, 0x86]));
    parts.push((0xC2C, [vec![0x00, 0x91], le32(0x13BC), vec![0x04, 0x91], le32(0x98)].concat()));
    parts.push((0xC38, [vec![0x50, 0x91], le32(0x1140), vec![0x54, 0x91], le32(0x140)].concat()));

    let mut file = vec![0u8; 0xE00];
    for (at, bytes) in parts {
        file[at..at + bytes.len()].copy_from_slice(&bytes);
    }
    file
}

#[test]
fn tip_dll_matches_the_worked_example_byte_for_byte_except_the_checksum() {
    let mut written = tip_dll();
    assert_eq!(written.len(), 0xE00);
    // lld writes CheckSum 0 without /release (§10); archway always fills it in.
    let sum = u32::from_le_bytes(written[0xD0..0xD4].try_into().unwrap());
    assert_eq!(sum, checksum(&written));
    assert_ne!(sum, 0);
    written[0xD0..0xD4].fill(0);
    let expected = expected_tip_dll();
    let first_difference = written.iter().zip(&expected).position(|(a, b)| a != b);
    assert_eq!(first_difference, None, "first differing byte at {:#x?}", first_difference);
}

#[test]
fn checksum_skips_its_own_field_and_adds_the_length() {
    let mut file = vec![0u8; 0x100];
    file[0] = 1;
    file[0xD0] = 0xFF; // ignored
    file[0xFF] = 0x80; // high byte of the last word
    assert_eq!(checksum(&file), 1 + 0x8000 + 0x100);
    let odd = [0xFFu8, 0xFF, 0x02];
    assert_eq!(checksum(&odd), (0xFFFF + 2 - 0xFFFF) + 3); // carry folds back in
}

#[test]
fn a_version_resource_adds_rsrc_before_reloc() {
    let (native, ec) = tables(&["RegisterModule"]);
    let blob = vec![0xAB; 0x22C];
    let file = write(&Image { dll_name: "m.dll", native: &native, ec: &ec, version: Some((&blob, 0x0409)), timestamp: 7 });
    assert_eq!(u16::from_le_bytes([file[0x7E], file[0x7F]]), 4, "four sections");
    assert_eq!(&file[0x180 + 2 * 40..][..5], b".rsrc");
    assert_eq!(&file[0x180 + 3 * 40..][..6], b".reloc");
    assert_eq!(u32::from_le_bytes(file[0x80..0x84].try_into().unwrap()), 7, "timestamp");
    let rsrc_rva = u32::from_le_bytes(file[0x110..0x114].try_into().unwrap());
    assert_eq!(rsrc_rva, 0x3000);
    // The DVRT now lives in section 4.
    assert_eq!(u16::from_le_bytes([file[0x400 + 0xE4], file[0x400 + 0xE5]]), 4);
    let rsrc_file = u32::from_le_bytes(file[0x180 + 2 * 40 + 20..][..4].try_into().unwrap()) as usize;
    assert_eq!(u32::from_le_bytes(file[rsrc_file + 0x48..rsrc_file + 0x4C].try_into().unwrap()), 0x3060);
    assert_eq!(&file[rsrc_file + 0x60..rsrc_file + 0x60 + 0x22C], &blob[..]);
}
