//! Writes a VS_VERSIONINFO blob (docs/arm64x-forwarder.md §8.1) for a forwarder: the fixed file
//! info and strings of its target, with the names that describe the file itself replaced. The
//! reader in `verify/versioninfo.rs` is separate on purpose and checks what this writes.

/// What goes into the resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionResource {
    /// FILEVERSION, the four fields Windows Installer compares (§8.2).
    pub file_version: [u16; 4],
    pub product_version: [u16; 4],
    /// `StringFileInfo` entries, in order.
    pub strings: Vec<(String, String)>,
}

/// US English, Unicode: what `build` gives every binary, so forwarder and target agree.
pub const LANGUAGE: u16 = 0x0409;
const CODE_PAGE: u16 = 1200;

const VFT_DLL: u32 = 2;
const VOS_NT_WINDOWS32: u32 = 0x0004_0004;

enum Value<'a> {
    None,
    Binary(&'a [u8]),
    /// Text; wValueLength counts UTF-16 units including the NUL.
    Text(&'a str),
}

/// The most UTF-16 units a spec's `description` (and a `binary.toml` one) may have: every length
/// in VS_VERSIONINFO is 16 bits and the whole block, the target's other strings included, must
/// stay under 65,535 bytes; 4,096 units (8 KiB) leaves room for them.
pub const MAX_DESCRIPTION: usize = 4096;

/// The blob, or an error when it would not fit VS_VERSIONINFO's 16-bit lengths (the spec reader
/// refuses long descriptions first, with a line; this catches long strings copied from a target).
pub fn encode(resource: &VersionResource) -> anyhow::Result<Vec<u8>> {
    let out = encode_unchecked(resource);
    if out.len() > usize::from(u16::MAX) {
        anyhow::bail!("the VERSIONINFO would be {} bytes; its lengths are 16-bit (at most 65,535 bytes)", out.len());
    }
    Ok(out)
}

fn encode_unchecked(resource: &VersionResource) -> Vec<u8> {
    let mut out = Vec::new();
    let fixed = fixed_file_info(resource);
    node(&mut out, "VS_VERSION_INFO", Value::Binary(&fixed), |out| {
        node(out, "StringFileInfo", Value::None, |out| {
            node(out, &format!("{LANGUAGE:04X}{CODE_PAGE:04X}"), Value::None, |out| {
                for (key, value) in &resource.strings {
                    node(out, key, Value::Text(value), |_| {});
                }
            });
        });
        node(out, "VarFileInfo", Value::None, |out| {
            let translation = [LANGUAGE.to_le_bytes(), CODE_PAGE.to_le_bytes()].concat();
            node(out, "Translation", Value::Binary(&translation), |_| {});
        });
    });
    out
}

/// VS_FIXEDFILEINFO, 52 bytes.
fn fixed_file_info(resource: &VersionResource) -> Vec<u8> {
    let split = |v: [u16; 4]| [(u32::from(v[0]) << 16) | u32::from(v[1]), (u32::from(v[2]) << 16) | u32::from(v[3])];
    let [file_ms, file_ls] = split(resource.file_version);
    let [product_ms, product_ls] = split(resource.product_version);
    [0xFEEF_04BD, 0x0001_0000, file_ms, file_ls, product_ms, product_ls, 0x3F, 0, VOS_NT_WINDOWS32, VFT_DLL, 0, 0, 0]
        .iter()
        .flat_map(|v: &u32| v.to_le_bytes())
        .collect()
}

/// One node: header, key, value, children, each child starting on a 4-byte boundary. wLength
/// runs to the end of the value or the last child, not counting trailing padding.
fn node(out: &mut Vec<u8>, key: &str, value: Value, children: impl FnOnce(&mut Vec<u8>)) {
    pad4(out);
    let start = out.len();
    let (value_length, text) = match value {
        Value::None => (0, 1),
        Value::Binary(bytes) => (bytes.len(), 0),
        Value::Text(text) => (text.encode_utf16().count() + 1, 1),
    };
    out.extend_from_slice(&[0, 0]); // wLength, filled in below
    out.extend_from_slice(&(value_length as u16).to_le_bytes());
    out.extend_from_slice(&(text as u16).to_le_bytes());
    push_utf16z(out, key);
    match value {
        Value::None => {}
        Value::Binary(bytes) => {
            pad4(out);
            out.extend_from_slice(bytes);
        }
        Value::Text(text) => {
            pad4(out);
            push_utf16z(out, text);
        }
    }
    children(out);
    let length = (out.len() - start) as u16;
    out[start..start + 2].copy_from_slice(&length.to_le_bytes());
}

fn push_utf16z(out: &mut Vec<u8>, s: &str) {
    for unit in s.encode_utf16().chain([0]) {
        out.extend_from_slice(&unit.to_le_bytes());
    }
}

fn pad4(out: &mut Vec<u8>) {
    out.resize(out.len().next_multiple_of(4), 0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::parse_version_info;

    /// The strings of docs/arm64x-forwarder.md §8.1's `modver.dll`, whose layout the doc walks through.
    fn modver() -> VersionResource {
        let strings = [
            ("CompanyName", "Example"),
            ("FileDescription", "ARM64X forwarder"),
            ("FileVersion", "1.2.3.4"),
            ("OriginalFilename", "modver.dll"),
            ("ProductName", "Example"),
            ("ProductVersion", "1.2.3.4"),
        ];
        VersionResource {
            file_version: [1, 2, 3, 4],
            product_version: [1, 2, 3, 4],
            strings: strings.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        }
    }

    fn u16_at(blob: &[u8], at: usize) -> u16 {
        u16::from_le_bytes([blob[at], blob[at + 1]])
    }

    #[test]
    fn node_lengths_match_the_documented_walk_through() {
        let blob = encode(&modver()).unwrap();
        // (offset, wLength, wValueLength, wType) from §8.1's table.
        let nodes = [
            (0x000, 0x22C, 52, 0),
            (0x05C, 0x18C, 0, 1),
            (0x080, 0x168, 0, 1),
            (0x098, 0x30, 8, 1),
            (0x0C8, 0x4A, 0x11, 1),
            (0x114, 0x30, 8, 1),
            (0x144, 0x3E, 0x0B, 1),
            (0x184, 0x30, 8, 1),
            (0x1B4, 0x34, 8, 1),
            (0x1E8, 0x44, 0, 1),
            (0x208, 0x24, 4, 0),
        ];
        for (at, length, value_length, kind) in nodes {
            assert_eq!(
                (u16_at(&blob, at), u16_at(&blob, at + 2), u16_at(&blob, at + 4)),
                (length, value_length, kind),
                "node at {at:#x}"
            );
        }
        assert_eq!(blob.len(), 0x22C);
        assert_eq!(&blob[0x28..0x34], &[0xBD, 0x04, 0xEF, 0xFE, 0, 0, 1, 0, 2, 0, 1, 0]);
        assert_eq!(&blob[0x228..], &[0x09, 0x04, 0xB0, 0x04]);
    }

    #[test]
    fn the_independent_reader_reads_back_what_was_written() {
        let resource = modver();
        let info = parse_version_info(&encode(&resource).unwrap()).unwrap();
        assert_eq!(info.file_version, [1, 2, 3, 4]);
        assert_eq!(info.product_version, [1, 2, 3, 4]);
        assert_eq!(info.strings, resource.strings);
    }
}
