//! A Windows Installer transform (`.mst`) that adds rows to a package's Property table, written
//! byte by byte: the arm64 Wine accommodation of the installer-engine cycle. Wine 8's arm64
//! msiexec never sets `ProgramFilesFolder` / `ProgramFiles64Folder` and upper-cases property
//! names given on the command line (docs/pools.md, "Wine's msiexec on arm64"), so both folders
//! resolve to `C:\`; a transform's Property rows keep their case, and Wine re-reads the Property
//! table after applying one. The package itself is unchanged.
//!
//! Layout (docs/msi.md §1.1; Wine's `dlls/msi/table.c`, `msi_table_apply_transform` and
//! `msi_table_load_transform`): a compound file whose root CLSID is the transform class, with
//! its own string pool (`_StringPool`, `_StringData`) and one stream per changed table. A table
//! stream of a transform holds records one after another (not column by column): a 16-bit mask,
//! then the columns; a mask with its low bit set carries every column (count in its high byte),
//! which inserts the row or replaces the row with the same key.

use std::io::{Cursor, Write};

use anyhow::{Context, Result, bail};

/// The root CLSID of a transform: {000C1082-0000-0000-C000-000000000046}.
const TRANSFORM_CLSID: [u8; 16] =
    [0x82, 0x10, 0x0C, 0x00, 0x00, 0x00, 0x00, 0x00, 0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46];
/// The string pool's code page (Windows-1252; every string here is ASCII).
const CODEPAGE: u32 = 1252;

/// The bytes of a transform that inserts (or replaces) `rows` (name, value) in the Property
/// table. Names and values must be ASCII, non-empty, and short enough for 16-bit lengths.
pub fn property_rows<'a>(rows: &[(&'a str, &'a str)]) -> Result<Vec<u8>> {
    if rows.is_empty() {
        bail!("a Property transform needs at least one row");
    }
    let mut strings: Vec<&'a str> = Vec::new();
    let mut id = |s: &'a str| -> Result<u16> {
        if s.is_empty() || !s.is_ascii() || s.len() > 255 {
            bail!("transform string {s:?} must be 1 to 255 ASCII characters");
        }
        let at = match strings.iter().position(|known| *known == s) {
            Some(i) => i,
            None => {
                strings.push(s);
                strings.len() - 1
            }
        };
        // String ids are 1-based: 0 is NULL.
        u16::try_from(at + 1).context("too many transform strings")
    };
    let mut table = Vec::new();
    let mut refs: Vec<u16> = Vec::new();
    for (name, value) in rows {
        let (n, v) = (id(name)?, id(value)?);
        // Low bit set: every column present; the high byte counts them (Property, Value).
        table.extend(0x0201u16.to_le_bytes());
        table.extend(n.to_le_bytes());
        table.extend(v.to_le_bytes());
        refs.extend([n, v]);
    }
    let mut pool = Vec::new();
    pool.extend(((CODEPAGE & 0xFFFF) as u16).to_le_bytes());
    pool.extend(((CODEPAGE >> 16) as u16).to_le_bytes());
    let mut data = Vec::new();
    for (i, s) in strings.iter().enumerate() {
        let count = refs.iter().filter(|r| usize::from(**r) == i + 1).count();
        pool.extend((s.len() as u16).to_le_bytes());
        pool.extend((count as u16).to_le_bytes());
        data.extend(s.as_bytes());
    }

    let mut file = cfb::CompoundFile::create_with_version(cfb::Version::V3, Cursor::new(Vec::new()))
        .context("cannot create the transform's compound file")?;
    file.set_storage_clsid("/", uuid::Uuid::from_bytes_le(TRANSFORM_CLSID))
        .context("cannot set the transform's CLSID")?;
    for (name, bytes) in [("_StringPool", &pool), ("_StringData", &data), ("Property", &table)] {
        let stream = format!("/{}", table_stream_name(name));
        let mut s =
            file.create_stream(&stream).with_context(|| format!("cannot create the transform stream {name}"))?;
        s.write_all(bytes).with_context(|| format!("cannot write the transform stream {name}"))?;
    }
    file.flush().context("cannot finish the transform")?;
    Ok(file.into_inner().into_inner())
}

/// A table's stream name as Windows Installer stores it: U+4840, then the name compressed
/// into U+3800..U+4840, two characters of [0-9A-Za-z._] per code point where they pair up.
pub fn table_stream_name(table: &str) -> String {
    fn b64(c: char) -> Option<u32> {
        match c {
            '0'..='9' => Some(c as u32 - '0' as u32),
            'A'..='Z' => Some(c as u32 - 'A' as u32 + 10),
            'a'..='z' => Some(c as u32 - 'a' as u32 + 36),
            '.' => Some(62),
            '_' => Some(63),
            _ => None,
        }
    }
    let mut out = String::from('\u{4840}');
    let chars: Vec<char> = table.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let code = match (b64(chars[i]), chars.get(i + 1).copied().and_then(b64)) {
            (Some(a), Some(b)) => {
                i += 1;
                0x3800 + (b << 6) + a
            }
            (Some(a), None) => 0x4800 + a,
            (None, _) => chars[i] as u32,
        };
        out.push(char::from_u32(code).unwrap_or(chars[i]));
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn stream_names_match_the_msi_crates() {
        // The `msi` crate names the Property table's stream of every package archway writes.
        let mut package = msi::Package::create(msi::PackageType::Installer, Cursor::new(Vec::new())).unwrap();
        package
            .create_table(
                "Property",
                vec![
                    msi::Column::build("Property").primary_key().id_string(72),
                    msi::Column::build("Value").text_string(0),
                ],
            )
            .unwrap();
        package
            .insert_rows(msi::Insert::into("Property").row(vec![msi::Value::from("A"), msi::Value::from("b")]))
            .unwrap();
        let bytes = package.into_inner().unwrap().into_inner();
        let file = cfb::CompoundFile::open(Cursor::new(bytes)).unwrap();
        let names: Vec<String> = file.walk().map(|e| e.name().to_string()).collect();
        assert!(names.contains(&table_stream_name("Property")), "{names:?}");
        assert!(names.contains(&table_stream_name("_StringPool")), "{names:?}");
    }

    #[test]
    fn a_property_transform_holds_full_rows_over_its_own_string_pool() {
        let bytes = property_rows(&[
            ("ProgramFilesFolder", r"C:\Program Files (x86)\"),
            ("ProgramFiles64Folder", r"C:\Program Files\"),
        ])
        .unwrap();
        let mut file = cfb::CompoundFile::open(Cursor::new(bytes)).unwrap();
        assert_eq!(file.root_entry().clsid().to_bytes_le(), TRANSFORM_CLSID);
        let mut read = |name: &str| {
            let mut v = Vec::new();
            file.open_stream(format!("/{}", table_stream_name(name))).unwrap().read_to_end(&mut v).unwrap();
            v
        };
        let (pool, data, table) = (read("_StringPool"), read("_StringData"), read("Property"));
        assert_eq!(table, [1, 2, 1, 0, 2, 0, 1, 2, 3, 0, 4, 0], "mask 0x0201, then the string ids of each row");
        assert_eq!(&pool[..4], &[0xE4, 0x04, 0, 0], "code page 1252");
        assert_eq!(&pool[4..8], &[18, 0, 1, 0], "ProgramFilesFolder: 18 bytes, one reference");
        assert_eq!(
            String::from_utf8(data).unwrap(),
            r"ProgramFilesFolderC:\Program Files (x86)\ProgramFiles64FolderC:\Program Files\"
        );
    }

    #[test]
    fn bad_rows_are_refused_with_the_string() {
        assert!(property_rows(&[]).is_err());
        let e = property_rows(&[("Ünicode", "x")]).unwrap_err();
        assert!(format!("{e:#}").contains("Ünicode"), "{e:#}");
    }
}
