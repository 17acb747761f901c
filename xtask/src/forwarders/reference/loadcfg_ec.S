// xtask/src/forwarders/reference/loadcfg_ec.S: the ARM64EC (EC view) load configuration, CHPE
// metadata v2 and loader helper slots of a reference ARM64X pure forwarder linked by lld-link
// (docs/arm64x-forwarder.md §4, §14).
//
// Assemble with `clang --target=arm64ec-pc-windows-msvc -c` (the object must start with 41 A6,
// §11 item 5). All three parts sit in .rdata, in this order, so that lld-link 23 lays out
// exactly §4.3: EC load config at 0x1140 (after the native one), CHPE metadata at 0x1280
// (0x5C bytes, then 4 bytes of alignment padding), the eight slots at 0x12E0..0x131F. The
// slots are deliberately not in .00cfg as in our real ARM64EC runtime: lld puts its zero-length
// code-map chunk after the objects' .rdata, so with the slots in .00cfg (merged in after it)
// CodeMap and CodeRangesToEntryPoints would read 0x12DC instead of §12's 0x1320.

// ---------------------------------------------------------------------------------------------
// Load configuration (IMAGE_LOAD_CONFIG_DIRECTORY64), 0x140 bytes. Only Size and
// CHPEMetadataPointer are written here; lld-link fills the DVRT offset/section (+0xE0/+0xE4).

    .section .rdata, "dr"
    .p2align 3
    .globl _load_config_used
_load_config_used:
    .word  0x140                    // 0x000 Size
    .fill  0xC4, 1, 0               // 0x004 .. 0x0C7: TimeDateStamp .. DynamicValueRelocTable
    .xword __chpe_metadata          // 0x0C8 CHPEMetadataPointer (VA, DIR64 base relocation)
    .fill  0x70, 1, 0               // 0x0D0 .. 0x13F: GuardRFFailureRoutine .. end
.Lload_config_used_end:
    .if .Lload_config_used_end - _load_config_used - 0x140
    .error "_load_config_used must be 0x140 bytes"
    .endif

// ---------------------------------------------------------------------------------------------
// CHPE metadata, version 2 (IMAGE_ARM64EC_METADATA, 0x5C bytes, §4.2). `.rva` = 32-bit
// image-relative address, `.word` of a linker-defined absolute symbol = its value. Every
// __hybrid_*, __x64_*, __arm64x_* symbol is synthesised by lld-link (20 and newer); for a
// code-less image they give 0, or (code map, entry-point ranges) a zero-length spot.

    .p2align 3
    .globl __chpe_metadata
__chpe_metadata:
    .word 2                                         // 0x00 Version
    .rva  __hybrid_code_map                         // 0x04 CodeMap
    .word __hybrid_code_map_count                   // 0x08 CodeMapCount
    .rva  __x64_code_ranges_to_entry_points         // 0x0C CodeRangesToEntryPoints
    .rva  __arm64x_redirection_metadata             // 0x10 RedirectionMetadata (.a64xrm)
    .rva  __os_arm64x_dispatch_call_no_redirect     // 0x14
    .rva  __os_arm64x_dispatch_ret                  // 0x18
    .rva  __os_arm64x_dispatch_call                 // 0x1C (CRT name __os_arm64x_check_call)
    .rva  __os_arm64x_dispatch_icall                // 0x20 (__os_arm64x_check_icall)
    .rva  __os_arm64x_dispatch_icall_cfg            // 0x24 (__os_arm64x_check_icall_cfg)
    .rva  __arm64x_native_entrypoint                // 0x28 AlternateEntryPoint
    .rva  __hybrid_auxiliary_iat                    // 0x2C AuxiliaryIAT
    .word __x64_code_ranges_to_entry_points_count   // 0x30 CodeRangesToEntryPointsCount
    .word __arm64x_redirection_metadata_count       // 0x34 RedirectionMetadataCount
    .rva  __os_arm64x_get_x64_information           // 0x38 GetX64InformationFunctionPointer
    .rva  __os_arm64x_set_x64_information           // 0x3C SetX64InformationFunctionPointer
    .rva  __arm64x_extra_rfe_table                  // 0x40 ExtraRFETable
    .word __arm64x_extra_rfe_table_size             // 0x44 ExtraRFETableSize
    .rva  __os_arm64x_dispatch_fptr                 // 0x48 __os_arm64x_dispatch_fptr
    .rva  __hybrid_auxiliary_iat_copy               // 0x4C AuxiliaryIATCopy
    .rva  __hybrid_auxiliary_delayload_iat          // 0x50 AuxiliaryDelayloadIAT (v2)
    .rva  __hybrid_auxiliary_delayload_iat_copy     // 0x54 AuxiliaryDelayloadIATCopy (v2)
    .word __hybrid_image_info_bitfield              // 0x58 HybridImageInfoBitfield (v2)
.Lchpe_metadata_end:
    .if .Lchpe_metadata_end - __chpe_metadata - 0x5C
    .error "__chpe_metadata (version 2) must be 0x5C bytes"
    .endif

// ---------------------------------------------------------------------------------------------
// The eight helper slots: 8-byte zero words the OS loader fills in EC processes (§4.2). A
// forwarder never calls through them; they give every slot RVA in the metadata real storage.

.macro forwarder_slot name:req
    .globl \name
\name:
    .xword 0
.endm

    .p2align 3
    forwarder_slot __os_arm64x_dispatch_call_no_redirect
    forwarder_slot __os_arm64x_dispatch_ret
    forwarder_slot __os_arm64x_dispatch_call
    forwarder_slot __os_arm64x_dispatch_icall
    forwarder_slot __os_arm64x_dispatch_icall_cfg
    forwarder_slot __os_arm64x_get_x64_information
    forwarder_slot __os_arm64x_set_x64_information
    forwarder_slot __os_arm64x_dispatch_fptr
