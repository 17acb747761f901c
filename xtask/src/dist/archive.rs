//! The zip archive of one platform: the same install tree as its MSI (`Program Files/Archway/…`,
//! `Program Files (x86)/Archway/…`), entries in a fixed order with fixed times and permissions,
//! so that the same files always give the same bytes.

use std::io::{Cursor, Write};

use anyhow::{Context, Result};
use zip::{CompressionMethod, DateTime, ZipWriter, write::SimpleFileOptions};

/// A zip of `(path inside the archive, bytes)`, each entry dated `epoch` (clamped to 1980, the
/// first date the format can hold).
pub fn zip(entries: &[(String, Vec<u8>)], epoch: i64) -> Result<Vec<u8>> {
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .last_modified_time(zip_time(epoch)?)
        .unix_permissions(0o644);
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    for (path, bytes) in entries {
        writer.start_file(path.as_str(), options).with_context(|| format!("zip entry {path}"))?;
        writer.write_all(bytes).with_context(|| format!("zip entry {path}"))?;
    }
    Ok(writer.finish().context("cannot finish the zip archive")?.into_inner())
}

/// MS-DOS date and time (UTC, 2-second resolution) of `epoch`.
/// 1980-01-01T00:00:00Z, the first moment an MS-DOS date (and so a zip entry) can hold.
pub const ZIP_EPOCH: i64 = 315_532_800;

fn zip_time(epoch: i64) -> Result<DateTime> {
    let when =
        time::OffsetDateTime::from_unix_timestamp(epoch.max(ZIP_EPOCH)).context("SOURCE_DATE_EPOCH is out of range")?;
    DateTime::from_date_and_time(
        when.year() as u16,
        u8::from(when.month()),
        when.day(),
        when.hour(),
        when.minute(),
        when.second(),
    )
    .with_context(|| format!("SOURCE_DATE_EPOCH {epoch} is past what a zip archive can date (2107)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries() -> Vec<(String, Vec<u8>)> {
        vec![
            ("Program Files/Archway/a.dll".into(), vec![1; 300]),
            ("Program Files (x86)/Archway/a.dll".into(), vec![2; 10]),
        ]
    }

    #[test]
    fn the_same_entries_give_the_same_bytes_and_read_back() {
        let bytes = zip(&entries(), 1_700_000_000).unwrap();
        assert_eq!(bytes, zip(&entries(), 1_700_000_000).unwrap());
        assert_ne!(bytes, zip(&entries(), 1_700_000_002).unwrap());
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        let names: Vec<String> = archive.file_names().map(|n| n.unwrap().to_string()).collect();
        assert_eq!(names.len(), 2);
        let mut first = archive.by_name("Program Files/Archway/a.dll").unwrap();
        let mut read = Vec::new();
        std::io::Read::read_to_end(&mut first, &mut read).unwrap();
        assert_eq!(read, vec![1; 300]);
        let time = first.last_modified().unwrap();
        assert_eq!((time.year(), time.month(), time.day(), time.hour()), (2023, 11, 14, 22));
    }

    #[test]
    fn dates_before_1980_are_clamped() {
        assert_eq!(zip(&entries(), 0).unwrap(), zip(&entries(), 315_532_800).unwrap());
    }
}
