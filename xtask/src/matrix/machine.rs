//! PE machine numbers (`IMAGE_FILE_HEADER.Machine`) and archway's one name for each: what the
//! build's checks, the forwarder writer, the MSI lint and the manifest share. The independent
//! ARM64X reader (`verify::arm64x`) keeps its own numbers on purpose (see there). The numbers
//! are the `object` crate's, which follows the PE format's winnt.h names.

use object::pe;

use super::Arch;

/// `IMAGE_FILE_MACHINE_I386`: x86 images.
pub const I386: u16 = pe::IMAGE_FILE_MACHINE_I386.0; // 0x014C
/// `IMAGE_FILE_MACHINE_AMD64`: x64 images, and ARM64EC images too (docs/arm64x-forwarder.md §7.3).
pub const AMD64: u16 = pe::IMAGE_FILE_MACHINE_AMD64.0; // 0x8664
/// `IMAGE_FILE_MACHINE_ARM64`: ARM64 images, and Arm64X images (their stored, native view).
pub const ARM64: u16 = pe::IMAGE_FILE_MACHINE_ARM64.0; // 0xAA64
/// `IMAGE_FILE_MACHINE_ARM64EC`: ARM64EC object files; no image carries it (docs/arm64x-forwarder.md §7.3).
pub const ARM64EC_OBJECT: u16 = pe::IMAGE_FILE_MACHINE_ARM64EC.0; // 0xA641
/// `IMAGE_FILE_MACHINE_ARM64X`: ARM64X object files only (docs/arm64x-forwarder.md §3.2).
pub const ARM64X_OBJECT: u16 = pe::IMAGE_FILE_MACHINE_ARM64X.0; // 0xA64E

/// The file-header machine of an image built for `arch` (ARM64EC images say AMD64).
pub fn of(arch: Arch) -> u16 {
    match arch {
        Arch::X86 => I386,
        Arch::X64 | Arch::Arm64Ec => AMD64,
        Arch::Arm64 => ARM64,
    }
}

/// archway's name for a machine (an `Arch` name where there is one). `hybrid` says whether the
/// image has CHPE metadata (ARM64EC and Arm64X images do); `None` when that is not known, which
/// leaves AMD64 ambiguous.
pub fn name(machine: u16, hybrid: Option<bool>) -> &'static str {
    match (machine, hybrid) {
        (I386, _) => "x86",
        (AMD64, None) => "x64 or arm64ec",
        (AMD64, Some(false)) => "x64",
        (AMD64, Some(true)) => "arm64ec",
        (ARM64, None | Some(false)) => "arm64",
        (ARM64, Some(true)) => "arm64x",
        (ARM64EC_OBJECT, _) => "arm64ec (an object-file machine)",
        (ARM64X_OBJECT, _) => "arm64x (an object-file machine)",
        _ => "an unknown machine",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_arch_names_its_own_machine() {
        for arch in Arch::ALL {
            assert_eq!(name(of(arch), Some(arch == Arch::Arm64Ec)), arch.name());
        }
        assert_eq!(name(AMD64, None), "x64 or arm64ec");
        assert_eq!(name(ARM64, Some(true)), "arm64x");
        assert_eq!(name(0x1234, Some(false)), "an unknown machine");
    }
}
