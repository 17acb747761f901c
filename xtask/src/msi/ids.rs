//! Every identifier the writer derives instead of inventing: component GUIDs, ProductCode,
//! package code (UUID v5, docs/msi.md §5), and the table keys and 8.3 short names that must stay the
//! same for the same path in every version (docs/msi.md §2.7 L6, L8).

use std::collections::BTreeSet;

use anyhow::{Result, bail};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::model::{InstallDir, Platform};

/// `{UPPER-CASE}` with braces, the only form MSI GUID columns accept.
pub fn braced(uuid: Uuid) -> String {
    format!("{{{}}}", uuid.hyphenated().to_string().to_uppercase())
}

/// Parses `{…}` or a bare UUID.
pub fn parse_guid(text: &str) -> Option<Uuid> {
    Uuid::parse_str(text.trim().trim_start_matches('{').trim_end_matches('}')).ok()
}

/// The canonical key path of a file: the standard folder id, then the lower-cased folder and
/// file names, joined with `\` (WiX's canonical form, docs/msi.md §5.2), e.g.
/// `ProgramFiles64Folder\archway\archway.dll`.
pub fn canonical_path(dir: InstallDir, folder: &str, name: &str) -> String {
    format!("{}\\{}\\{}", dir.standard_folder(), folder.to_lowercase(), name.to_lowercase())
}

/// Component GUID = UUID v5 in the namespace of the platform's UpgradeCode over the canonical
/// path as UTF-16LE (WiX's encoding, docs/msi.md §5.2). Same path, same GUID, in every version;
/// never derived from content, version or a component id.
pub fn component_guid(upgrade_code: Uuid, dir: InstallDir, folder: &str, name: &str) -> Uuid {
    path_guid(upgrade_code, &canonical_path(dir, folder, name))
}

/// The same derivation for any canonical path (standard folder id, then lower-cased names), e.g.
/// a schema file's `System64Folder\inetsrv\config\schema\archway_schema.xml`.
pub fn path_guid(upgrade_code: Uuid, canonical: &str) -> Uuid {
    let utf16: Vec<u8> = canonical.encode_utf16().flat_map(u16::to_le_bytes).collect();
    Uuid::new_v5(&upgrade_code, &utf16)
}

/// ProductCode: one per platform and three-field version, stable across rebuilds of the same
/// version (docs/msi.md §5). A rebuild with only the fourth field changed therefore keeps the
/// ProductCode, and Windows Installer refuses it as "another version of this product".
pub fn product_code(upgrade_code: Uuid, platform: Platform, version: [u16; 4]) -> Uuid {
    let [a, b, c, _] = version;
    Uuid::new_v5(&upgrade_code, format!("archway/ProductCode/{platform}/{a}.{b}.{c}").as_bytes())
}

/// Package code: over a digest of everything in the package but the summary stream, so any
/// change of content gives a new code and identical inputs the same one (docs/msi.md §5).
pub fn package_code(upgrade_code: Uuid, content_digest: &[u8]) -> Uuid {
    let hex: String = content_digest.iter().map(|b| format!("{b:02x}")).collect();
    Uuid::new_v5(&upgrade_code, format!("archway/PackageCode/{hex}").as_bytes())
}

const MAX_KEY: usize = 72;

/// The File and Component key of a path: `pf64_archway.dll` / `pf32_archway.dll`. Kept stable
/// for a path because `[#key]` references and custom tables key on it (docs/msi.md §2.7 L8).
pub fn file_key(dir: InstallDir, name: &str) -> String {
    let prefix = match dir {
        InstallDir::ProgramFiles64 => "pf64_",
        InstallDir::ProgramFilesX86 => "pf32_",
    };
    let clean: String = name
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '_' { c } else { '_' })
        .collect();
    let key = format!("{prefix}{clean}");
    if key.len() <= MAX_KEY && clean == name.to_lowercase() {
        return key;
    }
    // Long or non-ASCII names: a prefix plus a hash of the exact lower-cased name.
    let hash = Sha256::digest(name.to_lowercase().as_bytes());
    let hex: String = hash[..8].iter().map(|b| format!("{b:02x}")).collect();
    let keep: String = clean.chars().take(MAX_KEY - prefix.len() - 17).collect();
    format!("{prefix}{keep}_{hex}")
}

/// Whether `name` is already a valid 8.3 short name (no short|long pair needed).
pub fn is_short_name(name: &str) -> bool {
    let (stem, ext) = name.rsplit_once('.').unwrap_or((name, ""));
    let ok = |s: &str| s.chars().all(|c| c.is_ascii_alphanumeric() || "_-!#$%&'()@^`{}~".contains(c));
    !stem.is_empty() && stem.len() <= 8 && ext.len() <= 3 && !ext.contains('.') && ok(stem) && ok(ext)
}

/// The `short|long` value of a FileName or DefaultDir column. Short names are a stable hash of
/// the long name (like WiX's generated ones), unique within `taken` (the folder's names so far).
pub fn short_long(name: &str, taken: &mut BTreeSet<String>) -> Result<String> {
    if is_short_name(name) {
        if !taken.insert(name.to_uppercase()) {
            bail!("two files in one folder have the short name {name}");
        }
        return Ok(name.to_string());
    }
    let ext: String = name
        .rsplit_once('.')
        .map(|(_, e)| e)
        .unwrap_or("")
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(3)
        .collect();
    for salt in 0u32..16 {
        let hash = Sha256::digest(format!("{}\u{0}{salt}", name.to_lowercase()).as_bytes());
        let stem: String = hash[..4].iter().map(|b| format!("{b:02X}")).collect();
        let short = if ext.is_empty() { stem } else { format!("{stem}.{}", ext.to_uppercase()) };
        if taken.insert(short.clone()) {
            return Ok(format!("{short}|{name}"));
        }
    }
    bail!("cannot find a free short name for {name}")
}

/// The long part of a `short|long` FileName or DefaultDir target.
pub fn long_name(value: &str) -> &str {
    value.rsplit_once('|').map_or(value, |(_, long)| long)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wix_test_vector_reproduces_with_wix_namespace() {
        // docs/msi.md §5.2: WiX's GuidCompatibility vector, to show the encoding matches WiX's.
        let ns = Uuid::parse_str("3064E5C6-FB63-4FE9-AC49-E446A792EFA5").unwrap();
        let utf16: Vec<u8> =
            r"ProgramFilesFolder\guidcompatibility\foo.bar".encode_utf16().flat_map(u16::to_le_bytes).collect();
        assert_eq!(braced(Uuid::new_v5(&ns, &utf16)), "{AD87A3DE-042B-5CB1-82C8-782626737A3B}");
    }

    #[test]
    fn component_guids_depend_on_path_and_upgrade_code_only() {
        let up = Uuid::from_u128(0x1234);
        let a = component_guid(up, InstallDir::ProgramFiles64, "Archway", "archway.dll");
        assert_eq!(a, component_guid(up, InstallDir::ProgramFiles64, "ARCHWAY", "Archway.DLL"), "case-normalized");
        assert_ne!(a, component_guid(up, InstallDir::ProgramFilesX86, "Archway", "archway.dll"), "32-bit copy differs");
        assert_ne!(a, component_guid(Uuid::from_u128(0x1235), InstallDir::ProgramFiles64, "Archway", "archway.dll"));
        assert_eq!(a.get_version_num(), 5);
    }

    #[test]
    fn product_code_ignores_the_fourth_field_and_package_code_follows_content() {
        let up = Uuid::from_u128(7);
        assert_eq!(product_code(up, Platform::X64, [1, 2, 3, 4]), product_code(up, Platform::X64, [1, 2, 3, 9]));
        assert_ne!(product_code(up, Platform::X64, [1, 2, 3, 4]), product_code(up, Platform::X64, [1, 2, 4, 4]));
        assert_ne!(package_code(up, b"a"), package_code(up, b"b"));
        assert_eq!(package_code(up, b"a"), package_code(up, b"a"));
    }

    #[test]
    fn keys_are_identifiers_and_short_names_unique() {
        assert_eq!(file_key(InstallDir::ProgramFiles64, "Archway_X64.dll"), "pf64_archway_x64.dll");
        let long = file_key(InstallDir::ProgramFilesX86, &"ä".repeat(80));
        assert!(long.len() <= 72 && long.starts_with("pf32_"), "{long}");
        let mut taken = BTreeSet::new();
        assert_eq!(short_long("readme.txt", &mut taken).unwrap(), "readme.txt");
        let a = short_long("archway_diagnostics_x64.dll", &mut taken).unwrap();
        let b = short_long("archway_diagnostics_x86.dll", &mut taken).unwrap();
        assert!(a.ends_with("|archway_diagnostics_x64.dll") && a.split('|').next().unwrap().len() == 12, "{a}");
        assert_ne!(a.split('|').next(), b.split('|').next());
        assert_eq!(long_name(&a), "archway_diagnostics_x64.dll");
    }
}
