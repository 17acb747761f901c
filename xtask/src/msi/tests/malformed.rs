//! Malformed packages (issue 9): each mutation that made `msi` 0.11.1 or `cab` 0.6.0 panic
//! inside `msi-check` is now a one-line error naming the file, and no mutation of the kinds the
//! fuzz harness makes escapes as a panic.

use super::fixture::package;
use crate::{
    fuzz::structure::{cab_entries, cabinets, cfb_directory_entries},
    msi::{Platform, cabinet, plan, read_msi_bytes, to_bytes},
    panics::Contained,
};

fn x64() -> Vec<u8> {
    to_bytes(&plan(&package(Platform::X64, [1, 0, 0, 0])).unwrap()).unwrap()
}

/// Reads `bytes`; an error must be clean: one line, naming the file, no contained panic.
fn read_cleanly(bytes: Vec<u8>, what: &str) -> Result<(), String> {
    match read_msi_bytes("bad.msi", bytes) {
        Ok(_) => Ok(()),
        Err(err) => {
            assert!(err.chain().all(|e| e.downcast_ref::<Contained>().is_none()), "{what}: a parser panicked: {err:#}");
            let text = format!("{err:#}");
            assert!(text.starts_with("bad.msi") && !text.contains('\n'), "{what}: {text}");
            Err(text)
        }
    }
}

fn put_u32(bytes: &mut [u8], at: usize, value: u32) {
    bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
}

#[test]
fn a_directory_entry_whose_stream_size_is_raised_by_8_is_an_error_not_a_panic() {
    let msi = x64();
    let entries = cfb_directory_entries(&msi);
    assert!(entries.len() > 10, "{entries:?}");
    let mut refused = 0;
    for entry in entries {
        let mut bad = msi.clone();
        put_u32(&mut bad, entry + 0x78, u32_at(&msi, entry + 0x78).wrapping_add(8));
        refused += usize::from(read_cleanly(bad, &format!("entry at {entry:#x}")).is_err());
    }
    assert!(refused > 0, "no raised size was noticed");
}

#[test]
fn no_single_zeroed_byte_of_the_system_tables_panics() {
    // Issue 9: one zeroed byte (0x938 of the x64 package) made `Package::open` panic in
    // `_Columns`. Every byte outside the cabinet is zeroed in turn.
    let msi = x64();
    let cab = cabinets(&msi)[0];
    let cab_end = cab + u32_at(&msi, cab + 8) as usize;
    let mut refused = 0;
    for at in (0..msi.len()).filter(|at| !(cab..cab_end).contains(at) && msi[*at] != 0) {
        let mut bad = msi.clone();
        bad[at] = 0;
        refused += usize::from(read_cleanly(bad, &format!("byte {at:#x} zeroed")).is_err());
    }
    assert!(refused > 0);
}

/// A cabinet of two members, and its CFFOLDER and CFFILE offsets.
fn two_members() -> (Vec<u8>, Vec<usize>, Vec<usize>) {
    let members = [("a".to_string(), &b"first member"[..]), ("b".to_string(), &b"second"[..])];
    let cab = cabinet::build(&members, 0).unwrap();
    let (folders, files) = cab_entries(&cab, 0);
    assert_eq!((folders.len(), files.len()), (1, 2));
    (cab, folders, files)
}

#[test]
fn a_file_entry_far_beyond_its_folder_is_an_error() {
    // Issue 9: `cab` 0.6.0 indexed out of bounds at folder.rs:134.
    let (cab, _, files) = two_members();
    for file in files {
        let mut bad = cab.clone();
        put_u32(&mut bad, file + 4, 0xFFFF_FFF0);
        let err = format!("{:#}", cabinet::extract(&bad).unwrap_err());
        assert!(err.contains("of its folder, which holds"), "{err}");
    }
}

#[test]
fn a_compressed_folder_relabelled_as_stored_is_an_error() {
    // Issue 9: `cab` 0.6.0 underflowed at folder.rs:232 (a silent wrap in release builds).
    let (mut cab, folders, _) = two_members();
    cab[folders[0] + 6..folders[0] + 8].copy_from_slice(&0u16.to_le_bytes());
    let err = format!("{:#}", cabinet::extract(&cab).unwrap_err());
    assert!(err.contains("stored block 0 of folder 0 holds"), "{err}");
}

#[test]
fn the_same_cabinet_faults_inside_an_msi_are_one_line_errors() {
    let msi = x64();
    let at = cabinets(&msi)[0];
    let (folders, files) = cab_entries(&msi, at);
    let mut far = msi.clone();
    put_u32(&mut far, files[0] + 4, 0xFFFF_FFF0);
    let mut stored = msi.clone();
    stored[folders[0] + 6..folders[0] + 8].copy_from_slice(&0u16.to_le_bytes());
    for (bad, what) in [(far, "folder offset"), (stored, "compression")] {
        let err = read_cleanly(bad, what).unwrap_err();
        assert!(err.contains("embedded cabinet") && err.contains("the cabinet is malformed"), "{what}: {err}");
    }
}
