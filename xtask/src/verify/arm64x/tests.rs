//! Tests of the ARM64X reader: the documented `tip.dll` (docs/arm64x-forwarder.md §12) read back
//! field by field, the other fixup types, DVRT version 2, and corrupt input that must give an
//! error naming the bad field, never a panic.

use super::fixture::{tip_built, tip_from_doc};
use super::*;

fn with(mut image: Vec<u8>, at: usize, bytes: &[u8]) -> Vec<u8> {
    image[at..at + bytes.len()].copy_from_slice(bytes);
    image
}

fn error_of(image: &[u8]) -> String {
    format!("{:#}", read(image).expect_err("corrupt input must be an error"))
}

fn value(rva: u32, bytes: &[u8]) -> Fixup {
    Fixup { rva, kind: FixupKind::Value(bytes.to_vec()) }
}

#[test]
fn the_builder_reproduces_the_documented_tip_dll_byte_for_byte() {
    let (doc, built) = (tip_from_doc(), tip_built());
    assert_eq!(doc.len(), 0xE00);
    let first_difference = doc.iter().zip(&built).position(|(a, b)| a != b);
    assert_eq!(first_difference, None, "first differing file offset");
    assert_eq!(doc.len(), built.len());
}

#[test]
fn tip_has_exactly_the_five_documented_value_fixups() {
    let arm64x = read(&tip_from_doc()).unwrap().expect("tip.dll is ARM64X");
    // §12.4
    assert_eq!(
        arm64x.fixups,
        vec![
            value(0x07C, &[0x64, 0x86]),
            value(0x100, &0x13BCu32.to_le_bytes()),
            value(0x104, &0x98u32.to_le_bytes()),
            value(0x150, &0x1140u32.to_le_bytes()),
            value(0x154, &0x140u32.to_le_bytes()),
        ]
    );
    assert_eq!((arm64x.dvrt_rva, arm64x.dvrt_size, arm64x.dvrt_version), (0x300C, 0x38, 1));
    let changed: Vec<usize> = (0..0xE00).filter(|&i| arm64x.ec_image[i] != tip_from_doc()[i]).collect();
    // 0xAA64 -> 0x8664, 0x1320 -> 0x13BC, 0x9C -> 0x98, 0x1000 -> 0x1140; the size 0x140 stays.
    assert_eq!(changed, [0x7D, 0x100, 0x104, 0x150, 0x151], "only these bytes differ");
}

fn forwards(view: &View) -> Vec<String> {
    view.exports.iter().map(|e| format!("{} @{} -> {}", e.label(), e.ordinal, e.target)).collect()
}

#[test]
fn tip_views_are_arm64_and_x64_with_their_own_exports() {
    let (native, ec) = views(&tip_from_doc()).unwrap();
    let ec = ec.expect("an EC view");
    assert_eq!(native.machine, MACHINE_ARM64);
    assert_eq!(native.export_dir, Some((0x1320, 0x9C)));
    assert_eq!(native.load_config, Some((0x1000, 0x140)));
    assert_eq!(native.chpe_metadata_version, Some(2));
    assert_eq!(
        forwards(&native),
        ["DllCanUnloadNow @1 -> tip_arm64.DllCanUnloadNow", "DllGetClassObject @2 -> tip_arm64.DllGetClassObject"]
    );
    assert_eq!(ec.machine, MACHINE_AMD64);
    assert_eq!(ec.export_dir, Some((0x13BC, 0x98)));
    assert_eq!(ec.load_config, Some((0x1140, 0x140)));
    assert_eq!(ec.chpe_metadata_version, Some(2));
    assert_eq!(
        forwards(&ec),
        ["DllCanUnloadNow @1 -> tip_x64.DllCanUnloadNow", "DllGetClassObject @2 -> tip_x64.DllGetClassObject"]
    );
    for view in [&native, &ec] {
        assert_eq!(view.dll_name.as_deref(), Some("tip.dll"));
        assert_eq!(view.base_reloc_dir, Some((0x3000, 0xC)));
        assert_eq!(view.characteristics, 0x2022);
        assert!(view.is_pure_forwarder());
    }
}

#[test]
fn images_without_an_arm64x_dvrt_read_as_none() {
    let tip = tip_from_doc();
    let cases = [
        ("no load config directory", with(tip.clone(), 0x150, &[0; 8])),
        ("directory size 0xE4 (Wine's limit)", with(tip.clone(), 0x154, &0xE4u32.to_le_bytes())),
        ("structure Size 0xE4", with(tip.clone(), 0x400, &0xE4u32.to_le_bytes())),
        ("DynamicValueRelocTableSection 0", with(tip.clone(), 0x4E4, &[0, 0])),
        ("no symbol-6 entry", with(tip.clone(), 0xC14, &[7])),
    ];
    for (what, image) in cases {
        assert_eq!(read(&image).unwrap(), None, "{what}");
        let (native, ec) = views(&image).unwrap();
        assert_eq!((native.machine, ec), (MACHINE_ARM64, None), "{what}");
    }
}

#[test]
fn corrupt_tables_are_errors_naming_the_field() {
    let tip = tip_from_doc();
    #[rustfmt::skip]
    let cases: &[(&str, Vec<u8>, &str)] = &[
        ("truncated DVRT", tip[..0xC30].to_vec(), "section 3 (\".reloc\"): its raw data [0xc00, 0xe00) runs past the end of the file (0xc30 bytes): the file is truncated"),
        ("DVRT Size too big", with(tip.clone(), 0xC10, &[0x40]), "DVRT Size 0x40 runs past the end of its section data at 0xc44"),
        ("bad section index", with(tip.clone(), 0x4E4, &[9]), "file offset 0x4e4: DynamicValueRelocTableSection is 9 but the image has 3 sections"),
        ("offset past VirtualSize", with(tip.clone(), 0x4E0, &[0x44]), "DynamicValueRelocTableOffset 0x44 is not below VirtualSize 0x44 of section 3 (.reloc)"),
        ("DVRT version 3", with(tip.clone(), 0xC0C, &[3]), "file offset 0xc0c: DVRT Version 3 is neither 1 nor 2"),
        ("entry overruns table", with(tip.clone(), 0xC1C, &[0x28]), "file offset 0xc14: DVRT entry for symbol 6 has 0x28 bytes of fixups, past the table end at 0xc44"),
        ("block size overrunning", with(tip.clone(), 0xC24, &[0x28]), "file offset 0xc24: BlockSize 0x28 runs past the end of the ARM64X fixups at 0xc44"),
        ("block size below 8", with(tip.clone(), 0xC24, &[4]), "file offset 0xc24: BlockSize 0x4 is below 8 or odd"),
        ("fixup outside image", with(tip.clone(), 0xC20, &[0, 0x50]), "fixup at RVA 0x507c (2 bytes) is outside the headers and every section's raw data"),
        ("type 3", with(tip.clone(), 0xC2C, &[0x00, 0xB1]), "file offset 0xc2c: fixup word 0xb100 has type 3"),
        ("VALUE past block end", with(tip.clone(), 0xC3E, &[0x54, 0xD1]), "file offset 0xc3e: VALUE fixup of 8 bytes runs past its block end at 0xc44"),
        ("1-byte VALUE", with(tip.clone(), 0xC28, &[0x7C, 0x10]), "file offset 0xc28: a 1-byte VALUE fixup"),
        ("load config outside image", with(tip.clone(), 0x150, &[0, 0, 0, 0x10]), "load config RVA 0x10000000 (data directory 10) is not inside"),
        ("no PE signature", with(tip.clone(), 0x78, b"PX"), "file offset 0x78 (e_lfanew): no \"PE\\0\\0\" signature"),
    ];
    for (what, image, expected) in cases {
        let message = error_of(image);
        assert!(message.contains(expected), "{what}: {message}");
    }
}

#[test]
fn every_truncation_reads_or_fails_without_panicking() {
    let tip = tip_from_doc();
    for len in 0..tip.len() {
        let result = read(&tip[..len]);
        if len > 0xC00 && len < 0xC44 {
            assert!(result.is_err(), "cut to {len:#x} bytes, inside the DVRT");
        }
        let _ = views(&tip[..len]);
    }
}

/// `tip.dll` with its single fixup block replaced by `words` (block size 0x24 kept, zero padded).
fn tip_with_block(page: u32, words: &[u16]) -> Vec<u8> {
    let mut tip = with(tip_from_doc(), 0xC20, &page.to_le_bytes());
    let mut block = [0u8; 0x1C];
    for (i, word) in words.iter().enumerate() {
        block[2 * i..2 * i + 2].copy_from_slice(&word.to_le_bytes());
    }
    tip[0xC28..0xC44].copy_from_slice(&block);
    tip
}

#[test]
fn delta_and_zerofill_fixups_are_decoded_and_applied() {
    #[rustfmt::skip]
    let words = [
        0x20C8, 4,      // DELTA +4×4 at 0x10C8 (native CHPEMetadataPointer, low half)
        0x60E0, 1,      // DELTA −1×4 at 0x10E0 (DynamicValueRelocTableOffset)
        0xA0E4, 2,      // DELTA +2×8 at 0x10E4 (DynamicValueRelocTableSection and Reserved2)
        0xC208,         // ZEROFILL 8 bytes at 0x1208 (EC CHPEMetadataPointer)
        0,              // ends the block early: what follows is not read
        0x507C, 0x1234,
    ];
    let arm64x = read(&tip_with_block(0x1000, &words)).unwrap().unwrap();
    assert_eq!(
        arm64x.fixups,
        vec![
            Fixup { rva: 0x10C8, kind: FixupKind::Delta(16) },
            Fixup { rva: 0x10E0, kind: FixupKind::Delta(-4) },
            Fixup { rva: 0x10E4, kind: FixupKind::Delta(16) },
            Fixup { rva: 0x1208, kind: FixupKind::ZeroFill(8) },
        ]
    );
    let ec = &arm64x.ec_image;
    let u32_at = |at: usize| u32::from_le_bytes(ec[at..at + 4].try_into().unwrap());
    assert_eq!(u32_at(0x4C8), 0x8000_1290);
    assert_eq!(u32_at(0x4E0), 0x8);
    assert_eq!(u32_at(0x4E4), 0x13);
    assert_eq!(&ec[0x608..0x610], &[0; 8]);
    assert_eq!(ec[0x7C..0x7E], [0x64, 0xAA], "Machine not patched by this table");
}

#[test]
fn a_negative_delta_wraps_like_the_loader() {
    // DELTA −1×4 on a zero 32-bit value (native load config +0x04, TimeDateStamp).
    let arm64x = read(&tip_with_block(0x1000, &[0x6004, 1])).unwrap().unwrap();
    assert_eq!(&arm64x.ec_image[0x404..0x408], &0xFFFF_FFFCu32.to_le_bytes());
}

/// `tip.dll` with `.reloc` grown to `virtual_size` and the DVRT after the base relocations
/// replaced by `dvrt`.
fn tip_with_dvrt(dvrt: &[u8]) -> Vec<u8> {
    let virtual_size = 0xC + dvrt.len() as u32;
    let tip = with(tip_from_doc(), 0x1D0 + 8, &virtual_size.to_le_bytes());
    with(tip, 0xC0C, dvrt)
}

/// The five fixups of §12.4 as one block.
fn tip_block() -> Vec<u8> {
    tip_from_doc()[0xC20..0xC44].to_vec()
}

#[test]
fn version_2_tables_and_other_symbols_give_the_same_ec_view() {
    let block = tip_block();
    let mut v2 = Vec::new();
    v2.extend(2u32.to_le_bytes());
    v2.extend((24 + 8 + 8 + block.len() as u32).to_le_bytes());
    // An entry for another symbol (a self-sized header of 32 bytes), then the ARM64X one.
    v2.extend(32u32.to_le_bytes());
    v2.extend(0u32.to_le_bytes());
    v2.extend(7u64.to_le_bytes());
    v2.extend([0; 16]);
    v2.extend(24u32.to_le_bytes());
    v2.extend((block.len() as u32).to_le_bytes());
    v2.extend(6u64.to_le_bytes());
    v2.extend([0; 8]);
    v2.extend(&block);
    // 8 + 32 + 24 + 0x24 = 0x60; the Size field counts the bytes after the 8-byte header.
    let size = v2.len() as u32 - 8;
    v2[4..8].copy_from_slice(&size.to_le_bytes());

    let mut v1 = Vec::new();
    v1.extend(1u32.to_le_bytes());
    v1.extend(0u32.to_le_bytes());
    v1.extend(4u64.to_le_bytes()); // another symbol with 8 bytes of fixups
    v1.extend(8u32.to_le_bytes());
    v1.extend([0x00, 0x10, 0, 0, 8, 0, 0, 0]);
    v1.extend(6u64.to_le_bytes());
    v1.extend((block.len() as u32).to_le_bytes());
    v1.extend(&block);
    let size = v1.len() as u32 - 8;
    v1[4..8].copy_from_slice(&size.to_le_bytes());

    let expected = read(&tip_from_doc()).unwrap().unwrap();
    for (version, dvrt) in [(2, v2), (1, v1)] {
        let image = tip_with_dvrt(&dvrt);
        let arm64x = read(&image).unwrap().expect("ARM64X");
        assert_eq!(arm64x.dvrt_version, version);
        assert_eq!(arm64x.fixups, expected.fixups, "version {version}");
        assert_eq!(arm64x.dvrt_size as usize, dvrt.len());
        assert_eq!(views(&image).unwrap().1, views(&tip_from_doc()).unwrap().1, "version {version}");
    }
}

#[test]
fn two_arm64x_entries_are_an_error() {
    let block = tip_block();
    let mut dvrt = vec![1, 0, 0, 0, 0, 0, 0, 0];
    for _ in 0..2 {
        dvrt.extend(6u64.to_le_bytes());
        dvrt.extend((block.len() as u32).to_le_bytes());
        dvrt.extend(&block);
    }
    let size = dvrt.len() as u32 - 8;
    dvrt[4..8].copy_from_slice(&size.to_le_bytes());
    let message = error_of(&tip_with_dvrt(&dvrt));
    assert!(message.contains("a second ARM64X (symbol 6) entry"), "{message}");
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn on_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
            let _ = read(&bytes);
            let _ = views(&bytes);
        }

        #[test]
        fn on_tip_with_random_bytes_written_anywhere(
            edits in proptest::collection::vec((0usize..0xE00, any::<u8>()), 1..8),
            cut in 0usize..=0xE00,
        ) {
            let mut image = tip_from_doc();
            for (at, byte) in edits {
                image[at] = byte;
            }
            let _ = read(&image);
            let _ = views(&image);
            let _ = read(&image[..cut]);
        }

        #[test]
        fn on_tip_with_random_fixup_blocks(words in proptest::collection::vec(any::<u16>(), 0..14), page in any::<u32>()) {
            let _ = read(&tip_with_block(page, &words));
            let _ = views(&tip_with_block(page & 0x3000, &words));
        }
    }
}
