//! A hand-written reader for VS_VERSIONINFO (the bytes of an RT_VERSION resource), kept apart
//! from the code that writes them so that the check is a second opinion and not an echo.
//!
//! Layout (docs/arm64x-forwarder.md §8.1): every node is `WORD wLength` (node start to the end
//! of its value or last child, trailing padding excluded), `WORD wValueLength` (bytes for binary
//! values, UTF-16 units for text), `WORD wType` (0 binary, 1 text), a NUL-terminated UTF-16LE
//! key, padding to 4, the value, padding to 4, then the children, each on a 4-byte boundary.
//! Offsets are relative to the start of the blob, which the resource compiler aligns.
//!
//! Every length is checked against its parent before it is used, and every loop advances by at
//! least one header, so corrupt input ends in an error that names the offset, never a panic or
//! an endless walk.

use anyhow::{Result, bail};

/// What a VS_VERSIONINFO resource says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionInfo {
    /// `VS_FIXEDFILEINFO::dwSignature`; 0xFEEF04BD in a valid resource.
    pub signature: u32,
    /// FILEVERSION: `dwFileVersionMS` high/low word, then `dwFileVersionLS` high/low word.
    pub file_version: [u16; 4],
    /// PRODUCTVERSION, in the same order.
    pub product_version: [u16; 4],
    /// The String entries (CompanyName, FileDescription, ProductName, OriginalFilename, …) of
    /// the first StringTable, in file order.
    pub strings: Vec<(String, String)>,
    /// Language ids from `VarFileInfo\Translation` (the low word of each DWORD), in file order:
    /// what Windows Installer reports as the file's language (File.Language).
    pub languages: Vec<u16>,
}

pub const FIXED_FILE_INFO_SIGNATURE: u32 = 0xFEEF_04BD;
const FIXED_FILE_INFO_LEN: usize = 52;
const HEADER_LEN: usize = 6;

/// Parses a VS_VERSIONINFO blob. Errors name the offset (from the blob start) of the bad field.
pub fn parse_version_info(blob: &[u8]) -> Result<VersionInfo> {
    let root = Node::parse(blob, 0, blob.len(), Unit::Bytes)?;
    if root.key != "VS_VERSION_INFO" {
        bail!("offset {:#x}: key is {:?}, expected \"VS_VERSION_INFO\"", HEADER_LEN, root.key);
    }
    if root.value.len() != FIXED_FILE_INFO_LEN {
        bail!("offset 0x2: wValueLength is {}, expected {FIXED_FILE_INFO_LEN} (VS_FIXEDFILEINFO)", root.value.len());
    }
    // bound: the value is exactly FIXED_FILE_INFO_LEN (52) bytes, checked above, and i < 13.
    let dword = |i: usize| u32::from_le_bytes(root.value[4 * i..4 * i + 4].try_into().unwrap());
    let parts = |ms: u32, ls: u32| [(ms >> 16) as u16, ms as u16, (ls >> 16) as u16, ls as u16];
    let mut info = VersionInfo {
        signature: dword(0),
        file_version: parts(dword(2), dword(3)),
        product_version: parts(dword(4), dword(5)),
        strings: Vec::new(),
        languages: Vec::new(),
    };

    let mut tables_seen = 0;
    for child in root.children(blob) {
        let child = child?;
        if child.key == "VarFileInfo" {
            for var in child.children(blob) {
                let var = var?;
                if var.key == "Translation" {
                    info.languages.extend(var.value.chunks_exact(4).map(|c| u16::from_le_bytes([c[0], c[1]])));
                }
            }
            continue;
        }
        if child.key != "StringFileInfo" {
            continue; // anything unknown: length-checked, skipped
        }
        for table in child.children(blob) {
            let table = table?;
            let mut strings = Vec::new();
            for string in table.children(blob) {
                let string = string?;
                strings.push((string.key, utf16_until_nul(string.value)));
            }
            if tables_seen == 0 {
                info.strings = strings;
            }
            tables_seen += 1;
        }
    }
    Ok(info)
}

/// How `wValueLength` counts: the root's value is binary whatever its `wType` says.
#[derive(Clone, Copy)]
enum Unit {
    Bytes,
    ByType,
}

/// One node whose lengths have been checked against its parent.
struct Node<'a> {
    end: usize,
    key: String,
    value: &'a [u8],
    children_start: usize,
}

impl<'a> Node<'a> {
    /// Reads the node at `start`, which must end at or before `limit` (its parent's end).
    fn parse(blob: &'a [u8], start: usize, limit: usize, unit: Unit) -> Result<Node<'a>> {
        if limit.saturating_sub(start) < HEADER_LEN {
            bail!(
                "offset {start:#x}: a node header needs {HEADER_LEN} bytes, only {} left before {limit:#x}",
                limit.saturating_sub(start)
            );
        }
        let w_length = usize::from(u16_at(blob, start));
        let w_value_length = usize::from(u16_at(blob, start + 2));
        let w_type = u16_at(blob, start + 4);
        if w_length < HEADER_LEN {
            bail!("offset {start:#x}: wLength {w_length} is shorter than the node header");
        }
        let end = start + w_length;
        if end > limit {
            bail!("offset {start:#x}: wLength {w_length:#x} runs past the end of its parent ({limit:#x})");
        }

        let key_start = start + HEADER_LEN;
        let mut units = Vec::new();
        let mut at = key_start;
        loop {
            if at + 2 > end {
                bail!("offset {key_start:#x}: key is not NUL-terminated within wLength {w_length:#x}");
            }
            match u16_at(blob, at) {
                0 => break,
                unit => units.push(unit),
            }
            at += 2;
        }
        let key = String::from_utf16_lossy(&units);

        let value_start = align4(at + 2);
        let value_len = match (unit, w_type) {
            (Unit::ByType, 1) => 2 * w_value_length,
            _ => w_value_length,
        };
        let value = if value_len == 0 {
            &[][..]
        } else if value_start + value_len > end {
            bail!(
                "offset {:#x}: wValueLength {w_value_length} ({value_len} bytes from {value_start:#x}) runs past the node end {end:#x}",
                start + 2
            );
        } else {
            &blob[value_start..value_start + value_len]
        };
        Ok(Node { end, key, value, children_start: align4(value_start + value_len) })
    }

    /// The child nodes, each checked against this node's end. Zero padding at the end is allowed.
    fn children(&self, blob: &'a [u8]) -> impl Iterator<Item = Result<Node<'a>>> + use<'a> {
        let (end, mut at, mut failed) = (self.end, self.children_start, false);
        std::iter::from_fn(move || {
            if failed || at >= end || blob[at..end].iter().all(|&b| b == 0) {
                return None;
            }
            let child = Node::parse(blob, at, end, Unit::ByType);
            match &child {
                Ok(node) => at = align4(node.end), // node.end >= at + HEADER_LEN: always moves on
                Err(_) => failed = true,
            }
            Some(child)
        })
    }
}

/// The caller has checked that `at + 2 <= blob.len()`.
fn u16_at(blob: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([blob[at], blob[at + 1]])
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

fn utf16_until_nul(bytes: &[u8]) -> String {
    let units: Vec<u16> =
        bytes.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).take_while(|&u| u != 0).collect();
    String::from_utf16_lossy(&units)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// One node laid out the way llvm-rc writes it: `wLength` stops at the end of the value or
    /// the last child; padding before each child is inside the parent.
    fn node(key: &str, w_type: u16, value: &[u8], w_value_length: u16, children: &[Vec<u8>]) -> Vec<u8> {
        let mut out = vec![0; HEADER_LEN];
        for unit in key.encode_utf16().chain([0]) {
            out.extend(unit.to_le_bytes());
        }
        if !value.is_empty() {
            out.resize(align4(out.len()), 0);
            out.extend(value);
        }
        for child in children {
            out.resize(align4(out.len()), 0);
            out.extend(child);
        }
        let len = u16::try_from(out.len()).unwrap();
        out[0..2].copy_from_slice(&len.to_le_bytes());
        out[2..4].copy_from_slice(&w_value_length.to_le_bytes());
        out[4..6].copy_from_slice(&w_type.to_le_bytes());
        out
    }

    fn string(key: &str, text: &str) -> Vec<u8> {
        let units: Vec<u16> = text.encode_utf16().chain([0]).collect();
        let bytes: Vec<u8> = units.iter().flat_map(|u| u.to_le_bytes()).collect();
        node(key, 1, &bytes, units.len() as u16, &[])
    }

    /// VS_VERSIONINFO for FILEVERSION `file`, PRODUCTVERSION `product`, the given strings in
    /// one StringTable "040904B0", and a Translation 0x0409/1200: what llvm-rc makes of the .rc
    /// by `verify::tests::version_rc`
    /// (compared byte for byte in `llvm_rc_writes_what_the_hand_built_blob_holds`).
    pub(crate) fn sample_blob(file: [u16; 4], product: [u16; 4], strings: &[(&str, &str)]) -> Vec<u8> {
        let ms_ls =
            |v: [u16; 4]| [(u32::from(v[0]) << 16) | u32::from(v[1]), (u32::from(v[2]) << 16) | u32::from(v[3])];
        let [fms, fls] = ms_ls(file);
        let [pms, pls] = ms_ls(product);
        let fixed: Vec<u8> =
            [FIXED_FILE_INFO_SIGNATURE, 0x0001_0000, fms, fls, pms, pls, 0x3F, 0, 0x0004_0004, 2, 0, 0, 0]
                .iter()
                .flat_map(|d| d.to_le_bytes())
                .collect();
        let strings: Vec<Vec<u8>> = strings.iter().map(|(k, v)| string(k, v)).collect();
        let table = node("040904B0", 1, &[], 0, &strings);
        let string_file_info = node("StringFileInfo", 1, &[], 0, &[table]);
        let translation = node("Translation", 0, &[0x09, 0x04, 0xB0, 0x04], 4, &[]);
        let var_file_info = node("VarFileInfo", 1, &[], 0, &[translation]);
        node("VS_VERSION_INFO", 0, &fixed, 52, &[string_file_info, var_file_info])
    }

    const STRINGS: &[(&str, &str)] =
        &[("CompanyName", "Example"), ("FileDescription", "ARM64X forwarder"), ("OriginalFilename", "modver.dll")];

    fn sample() -> Vec<u8> {
        sample_blob([1, 2, 3, 4], [5, 6, 7, 8], STRINGS)
    }

    #[test]
    fn the_builder_matches_the_documented_offsets() {
        // docs/arm64x-forwarder.md §8.1: fixed info at 0x28, StringFileInfo at 0x5C,
        // StringTable at 0x80, first String at 0x98 with wLength 0x30.
        let blob = sample();
        assert_eq!(&blob[0x28..0x2C], &[0xBD, 0x04, 0xEF, 0xFE]);
        assert_eq!(u16_at(&blob, 0x5C + 4), 1);
        assert_eq!(&blob[0x62..0x64], &[b'S', 0]);
        assert_eq!(&blob[0x86..0x88], &[b'0', 0]);
        assert_eq!(u16_at(&blob, 0x98), 0x30);
        assert_eq!(usize::from(u16_at(&blob, 0)), blob.len());
    }

    #[test]
    fn a_well_formed_blob_gives_versions_and_strings() {
        let info = parse_version_info(&sample()).unwrap();
        assert_eq!(info.signature, FIXED_FILE_INFO_SIGNATURE);
        assert_eq!(info.file_version, [1, 2, 3, 4]);
        assert_eq!(info.product_version, [5, 6, 7, 8]);
        let expected: Vec<_> = STRINGS.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        assert_eq!(info.strings, expected);
        assert_eq!(info.languages, [0x0409]);
    }

    #[test]
    fn only_the_first_string_table_is_kept_and_zero_padding_is_tolerated() {
        let t1 = node("040904B0", 1, &[], 0, &[string("ProductName", "first")]);
        let t2 = node("040704B0", 1, &[], 0, &[string("ProductName", "zweite")]);
        let sfi = node("StringFileInfo", 1, &[], 0, &[t1, t2]);
        let fixed = sample()[0x28..0x5C].to_vec();
        let blob = node("VS_VERSION_INFO", 0, &fixed, 52, &[sfi, vec![0; 8]]);
        let info = parse_version_info(&blob).unwrap();
        assert_eq!(info.strings, vec![("ProductName".into(), "first".into())]);
    }

    #[test]
    fn a_wrong_signature_is_reported_not_rejected() {
        // The rule `version` judges the signature; the reader only reports it.
        let mut blob = sample();
        blob[0x28] = 0;
        assert_eq!(parse_version_info(&blob).unwrap().signature, 0xFEEF_0400);
    }

    #[test]
    fn every_truncation_is_an_error() {
        let blob = sample();
        for len in 0..blob.len() {
            let err = parse_version_info(&blob[..len]);
            assert!(err.is_err(), "a blob cut to {len} bytes parsed");
        }
    }

    fn error_of(blob: &[u8]) -> String {
        parse_version_info(blob).unwrap_err().to_string()
    }

    fn with_u16(mut blob: Vec<u8>, at: usize, value: u16) -> Vec<u8> {
        blob[at..at + 2].copy_from_slice(&value.to_le_bytes());
        blob
    }

    #[test]
    fn lying_lengths_name_their_offset() {
        let blob = sample();
        let msg = error_of(&with_u16(blob.clone(), 0x5C, 0x400));
        assert!(msg.starts_with("offset 0x5c: wLength 0x400 runs past the end of its parent"), "{msg}");
        let msg = error_of(&with_u16(blob.clone(), 0x98, 2));
        assert!(msg.starts_with("offset 0x98: wLength 2 is shorter"), "{msg}");
        // A String whose wValueLength (in characters) reaches past its wLength.
        let msg = error_of(&with_u16(blob.clone(), 0x98 + 2, 40));
        assert!(msg.starts_with("offset 0x9a: wValueLength 40 (80 bytes"), "{msg}");
        // The root claims more bytes than the resource holds.
        let msg = error_of(&with_u16(blob.clone(), 0, blob.len() as u16 + 4));
        assert!(msg.starts_with("offset 0x0: wLength"), "{msg}");
        let msg = error_of(&with_u16(blob.clone(), 2, 0));
        assert!(msg.contains("wValueLength is 0, expected 52"), "{msg}");
    }

    #[test]
    fn keys_must_end_inside_their_node() {
        // Cut the first String's wLength to end in the middle of "CompanyName".
        let msg = error_of(&with_u16(sample(), 0x98, 12));
        assert!(msg.starts_with("offset 0x9e: key is not NUL-terminated"), "{msg}");
        let mut wrong_root = sample();
        wrong_root[6] = b'X';
        assert!(error_of(&wrong_root).contains("expected \"VS_VERSION_INFO\""));
    }

    #[test]
    fn no_u16_anywhere_can_cause_a_panic_or_a_hang() {
        let blob = sample();
        for at in (0..blob.len() - 1).step_by(2) {
            let original = u16_at(&blob, at);
            for value in [0, 1, 2, 5, 6, 7, 0x7FFF, 0x8000, 0xFFFF, original.wrapping_add(2), original.wrapping_sub(2)]
            {
                let _ = parse_version_info(&with_u16(blob.clone(), at, value));
            }
        }
    }
}
