//! The embedded cabinet: one MSZIP folder, members named by File key in File.Sequence order,
//! every member dated from SOURCE_DATE_EPOCH (the `cab` crate's default is "now", docs/msi.md §4.2).

use std::io::{Cursor, Read, Write};

use anyhow::{Context, Result, bail};
use cab::{CabinetBuilder, CompressionType};

mod layout;

/// Builds a cabinet of `(member name, bytes)` in the given order.
pub fn build(members: &[(String, &[u8])], source_date_epoch: i64) -> Result<Vec<u8>> {
    let date = cabinet_date(source_date_epoch)?;
    let mut builder = CabinetBuilder::new();
    let folder = builder.add_folder(CompressionType::MsZip);
    for (name, _) in members {
        folder.add_file(name.clone()).set_datetime(date);
    }
    let mut writer = builder.build(Cursor::new(Vec::new())).context("cannot start the cabinet")?;
    let mut index = 0;
    while let Some(mut file) = writer.next_file().context("cabinet")? {
        let Some((name, bytes)) = members.get(index) else {
            bail!("the cabinet writer asked for more members than were added")
        };
        debug_assert_eq!(file.file_name(), name);
        file.write_all(bytes).with_context(|| format!("cannot compress {name} into the cabinet"))?;
        index += 1;
    }
    Ok(writer.finish().context("cannot finish the cabinet")?.into_inner())
}

/// The cabinet date of every member: SOURCE_DATE_EPOCH as UTC, clamped by the crate to the
/// format's 1980–2107 range.
fn cabinet_date(source_date_epoch: i64) -> Result<time::PrimitiveDateTime> {
    let at = time::OffsetDateTime::from_unix_timestamp(source_date_epoch)
        .with_context(|| format!("SOURCE_DATE_EPOCH {source_date_epoch} is not a representable time"))?;
    Ok(time::PrimitiveDateTime::new(at.date(), at.time()))
}

/// Every member of a cabinet, by name, in cabinet order. A truncated or corrupt cabinet is one
/// error saying so.
pub fn extract(cabinet: &[u8]) -> Result<Vec<(String, Vec<u8>)>> {
    layout::check(cabinet).context("the cabinet is malformed")?;
    let mut cab = cab::Cabinet::new(Cursor::new(cabinet))
        .context("cannot read the cabinet header (truncated or not a cabinet)")?;
    let mut names = Vec::new();
    for folder in cab.folder_entries() {
        if !matches!(
            folder.compression_type(),
            CompressionType::None | CompressionType::MsZip | CompressionType::Lzx(_)
        ) {
            bail!("the cabinet uses {:?} compression, which cannot be read", folder.compression_type());
        }
        for file in folder.file_entries() {
            names.push((file.name().to_string(), file.uncompressed_size()));
        }
    }
    let mut out = Vec::new();
    for (name, size) in names {
        let mut bytes = Vec::with_capacity(size as usize);
        cab.read_file(&name)
            .and_then(|mut r| r.read_to_end(&mut bytes))
            .with_context(|| format!("cannot extract {name} from the cabinet (truncated or corrupt)"))?;
        if bytes.len() != size as usize {
            bail!("cabinet member {name} holds {} bytes, its header says {size} (truncated)", bytes.len());
        }
        out.push((name, bytes));
    }
    Ok(out)
}
