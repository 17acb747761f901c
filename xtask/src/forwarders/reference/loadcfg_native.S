// xtask/src/forwarders/reference/loadcfg_native.S: the ARM64 (native view) load configuration
// of a reference ARM64X pure forwarder linked by lld-link (docs/arm64x-forwarder.md §4.1, §14).
//
// Assemble with `clang --target=aarch64-pc-windows-msvc -c`. lld-link finds the structure by
// the name _load_config_used; without it lld only warns ("native version of
// '_load_config_used' is missing for ARM64X target") and the image has no load-config
// directory, so no loader could find the ARM64X dynamic relocations.
//
// Everything is zero except Size: lld-link 23 fills DynamicValueRelocTableOffset/Section (+0xE0,
// +0xE4) and copies the EC copy's CHPEMetadataPointer (+0xC8) into this one, with a DIR64 base
// relocation (docs/arm64x-forwarder.md §4.1). It lands first in .rdata, at RVA 0x1000 (§4.3).

    .section .rdata, "dr"
    .p2align 3
    .globl _load_config_used
_load_config_used:
    .word  0x140                    // 0x000 Size (= data directory 10 size, §4.1)
    .fill  0x13C, 1, 0              // 0x004 .. 0x13F: TimeDateStamp .. GuardMemcpyFunctionPointer
.Lload_config_used_end:
    .if .Lload_config_used_end - _load_config_used - 0x140
    .error "_load_config_used must be 0x140 bytes"
    .endif
