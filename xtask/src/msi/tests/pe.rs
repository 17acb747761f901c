//! PE facts as the MSI layer reads them: machine and CHPE, VERSIONINFO and its translation, the
//! forwarder targets of both export views; and the same facts from the real build outputs.

use super::fixture::{self, AMD64, ARM64, I386, Synth};
use crate::msi::{PeInfo, pe_info};

#[test]
fn synthetic_images_read_back_with_every_fact() {
    let x86 = pe_info(&fixture::dll(I386, false, Some([1, 2, 3, 4]))).unwrap().unwrap();
    assert_eq!(
        x86,
        PeInfo {
            machine: I386,
            hybrid: false,
            version: Some([1, 2, 3, 4]),
            languages: vec![1033],
            ..PeInfo::default()
        }
    );
    let ec = pe_info(&fixture::dll(AMD64, true, None)).unwrap().unwrap();
    assert!(ec.hybrid && ec.version.is_none() && ec.languages.is_empty());
    let fwd =
        pe_info(&fixture::forwarder(Some([1, 0, 0, 0]), "archway_arm64.RegisterModule", "archway_x64.RegisterModule"))
            .unwrap()
            .unwrap();
    assert_eq!((fwd.machine, fwd.hybrid), (ARM64, true));
    assert_eq!(fwd.forwards_native, ["archway_arm64.dll"]);
    assert_eq!(fwd.forwards_ec, ["archway_x64.dll"]);
    assert!(fwd.is_forwarder());
}

#[test]
fn a_native_only_forwarder_has_no_ec_targets() {
    let bytes = fixture::pe(&Synth { machine: ARM64, native_forwards: vec![("F", "Other.F")], ..Synth::default() });
    let info = pe_info(&bytes).unwrap().unwrap();
    assert_eq!(info.forwards_native, ["other.dll"]);
    assert!(info.forwards_ec.is_empty());
}

#[test]
fn non_pe_files_are_not_pe_and_broken_pe_files_are_errors() {
    assert_eq!(pe_info(b"hello").unwrap(), None);
    assert_eq!(pe_info(b"MZ but nothing else").unwrap(), None);
    let mut broken = fixture::dll(AMD64, false, Some([1, 0, 0, 0]));
    broken.truncate(0x210); // the section is cut off
    assert!(pe_info(&broken).is_err() || pe_info(&broken).unwrap().is_some_and(|i| i.version.is_none()));
}
