//! The writer against docs/arm64x-forwarder.md §12: the worked example `tip.dll` (typed in once, in
//! the reader's fixture), every byte the document lists, and zero everywhere else.

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

#[test]
fn tip_dll_matches_the_worked_example_byte_for_byte_except_the_checksum() {
    let mut written = tip_dll();
    assert_eq!(written.len(), 0xE00);
    // lld writes CheckSum 0 without /release (§10); archway always fills it in.
    let sum = u32::from_le_bytes(written[0xD0..0xD4].try_into().unwrap());
    assert_eq!(sum, checksum(&written));
    assert_ne!(sum, 0);
    written[0xD0..0xD4].fill(0);
    // §12 typed in once, for every test that needs it (the reader's fixture).
    let expected = crate::verify::arm64x::fixture::tip_from_doc();
    let diff = crate::forwarders::lld_compare::hex_diff(("docs §12", &expected), ("the writer", &written));
    assert!(diff.is_empty(), "tip.dll differs from the worked example:\n{diff}");
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
    let file =
        write(&Image { dll_name: "m.dll", native: &native, ec: &ec, version: Some((&blob, 0x0409)), timestamp: 7 });
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
