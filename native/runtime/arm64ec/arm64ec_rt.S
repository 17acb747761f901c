// native/runtime/arm64ec/arm64ec_rt.S: the CRT's ARM64EC plumbing (docs/toolchains.md §4.6).
//
// A pure ARM64EC DLL/EXE needs, besides the common runtime:
//   1. the dispatch slots the loader fills with emulator entry points (in .00cfg);
//   2. __chpe_metadata (version 2), which tells the loader where they are and where the
//      linker-synthesised hybrid tables are;
//   3. _load_config_used, 0x140 bytes, whose CHPEMetadataPointer (offset 0xC8) points at (2);
//      without it lld-link 23 only warns ("EC version of '_load_config_used' is missing") and
//      writes an image Windows cannot run as ARM64EC;
//   4. __icall_helper_arm64ec, called by the linker-made __impchk_* import thunks (lld >= 20).
// Modelled on the layout used by LLVM's lld/test/COFF/Inputs/loadconfig-arm64ec.s and
// mingw-w64's crt/chpe.S; written for archway. Everything lives in one object so the xtask can
// link it into every ARM64EC binary.

// ---------------------------------------------------------------------------------------------
// 1. Dispatch slots: zero-initialised pointers that the OS loader overwrites with the addresses
//    of its ARM64EC/x64 transition helpers. Several names share one slot (the compiler uses the
//    check_* names, the metadata the dispatch_* names).

.macro archway_slot name:req, alias1, alias2
    .globl \name
\name:
.ifnb \alias1
    .globl \alias1
\alias1:
.endif
.ifnb \alias2
    .globl \alias2
\alias2:
.endif
    .xword 0
.endm

    .section .00cfg, "dr"
    .p2align 3
    archway_slot __os_arm64x_dispatch_call_no_redirect
    archway_slot __os_arm64x_dispatch_ret
    archway_slot __os_arm64x_dispatch_call, __os_arm64x_check_call
    archway_slot __os_arm64x_dispatch_icall, __os_arm64x_check_icall
    archway_slot __os_arm64x_dispatch_icall_cfg, __os_arm64x_check_icall_cfg
    archway_slot __os_arm64x_get_x64_information
    archway_slot __os_arm64x_set_x64_information
    archway_slot __os_arm64x_dispatch_fptr
    // helper0..2 were CHPE metadata v1 fields; version 2 uses those positions for the
    // delay-load IATs and the bitfield (docs/toolchains.md §4.6). The slots are kept, unreferenced.
    archway_slot __os_arm64x_helper0
    archway_slot __os_arm64x_helper1
    archway_slot __os_arm64x_helper2
    archway_slot __os_arm64x_helper3
    archway_slot __os_arm64x_helper4
    archway_slot __os_arm64x_helper5
    archway_slot __os_arm64x_helper6
    archway_slot __os_arm64x_helper7
    archway_slot __os_arm64x_helper8

// ---------------------------------------------------------------------------------------------
// 2. CHPE metadata, version 2 (IMAGE_ARM64EC_METADATA). `.rva` = 32-bit image-relative address;
//    `.word` of a linker-defined absolute symbol = its value (a count or a size). All the
//    __hybrid_*, __x64_*, __arm64x_* symbols are synthesised by lld-link (23 defines every one of
//    them; lld 19 does not, docs/toolchains.md §4.6 and §6).

    .section .rdata, "dr"
    .p2align 3
    .globl __chpe_metadata
__chpe_metadata:
    .word 2                                         // Version
    .rva  __hybrid_code_map                         // CodeMap
    .word __hybrid_code_map_count                   // CodeMapCount
    .rva  __x64_code_ranges_to_entry_points         // CodeRangesToEntryPoints
    .rva  __arm64x_redirection_metadata             // RedirectionMetadata
    .rva  __os_arm64x_dispatch_call_no_redirect
    .rva  __os_arm64x_dispatch_ret
    .rva  __os_arm64x_dispatch_call
    .rva  __os_arm64x_dispatch_icall
    .rva  __os_arm64x_dispatch_icall_cfg
    .rva  __arm64x_native_entrypoint                // AlternateEntryPoint
    .rva  __hybrid_auxiliary_iat                    // AuxiliaryIAT
    .word __x64_code_ranges_to_entry_points_count   // CodeRangesToEntryPointsCount
    .word __arm64x_redirection_metadata_count       // RedirectionMetadataCount
    .rva  __os_arm64x_get_x64_information           // GetX64InformationFunctionPointer
    .rva  __os_arm64x_set_x64_information           // SetX64InformationFunctionPointer
    .rva  __arm64x_extra_rfe_table                  // ExtraRFETable
    .word __arm64x_extra_rfe_table_size             // ExtraRFETableSize
    .rva  __os_arm64x_dispatch_fptr                 // __os_arm64x_dispatch_fptr
    .rva  __hybrid_auxiliary_iat_copy               // AuxiliaryIATCopy
    // Version 2 fields (replace v1's helper0..2):
    .rva  __hybrid_auxiliary_delayload_iat          // AuxiliaryDelayloadIAT
    .rva  __hybrid_auxiliary_delayload_iat_copy     // AuxiliaryDelayloadIATCopy
    .word __hybrid_image_info_bitfield              // HybridImageInfoBitfield
    // The remaining helper slots, in the order the loader expects after the v2 fields.
    .rva  __os_arm64x_helper3
    .rva  __os_arm64x_helper4
    .rva  __os_arm64x_helper5
    .rva  __os_arm64x_helper6
    .rva  __os_arm64x_helper7
    .rva  __os_arm64x_helper8

// ---------------------------------------------------------------------------------------------
// 3. Load configuration directory (IMAGE_LOAD_CONFIG_DIRECTORY64), found by the linker through
//    the name _load_config_used. Only Size and CHPEMetadataPointer are set: archway is built
//    with /GS- (no security cookie), without /guard:cf (no CFG tables) and without SEH tables.

    .section .rdata, "dr"
    .p2align 3
    .globl _load_config_used
_load_config_used:
    .word  0x140                    // 0x000 Size
    .fill  0xC4, 1, 0               // 0x004 .. 0x0C7: TimeDateStamp .. DynamicValueRelocTable
    .xword __chpe_metadata          // 0x0C8 CHPEMetadataPointer (a VA; the linker relocates it)
    .fill  0x70, 1, 0               // 0x0D0 .. 0x13F: GuardRFFailureRoutine .. end
.Lload_config_used_end:
    .if .Lload_config_used_end - _load_config_used - 0x140
    .error "_load_config_used must be 0x140 bytes"
    .endif

// ---------------------------------------------------------------------------------------------
// 4. __icall_helper_arm64ec: the linker's __impchk_<import> thunks load X11 = the IAT entry
//    (call target) and X10 = the exit thunk, then branch here. __os_arm64x_check_icall decides:
//    it returns X11 = the target itself if it is ARM64EC code, or the exit thunk (which enters
//    the emulator) if it is x64 code. It preserves the argument registers, so we only keep the
//    frame record around the call and then tail-branch to X11.

    .text
    .globl __icall_helper_arm64ec
    .p2align 2
    .seh_proc __icall_helper_arm64ec
__icall_helper_arm64ec:
    stp     x29, x30, [sp, #-16]!
    .seh_save_fplr_x 16
    mov     x29, sp
    .seh_set_fp
    .seh_endprologue
    adrp    x16, __os_arm64x_check_icall
    ldr     x16, [x16, :lo12:__os_arm64x_check_icall]
    blr     x16
    .seh_startepilogue
    ldp     x29, x30, [sp], #16
    .seh_save_fplr_x 16
    .seh_endepilogue
    br      x11
    .seh_endproc
