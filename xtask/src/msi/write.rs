//! The MSI writer: a [`Plan`] serialized with the `msi` crate (tables incl. `_Validation`,
//! summary information, the cabinet as a stream), repacked as a version-3 compound file, and
//! written through a temporary file. No clock, no randomness: the same package gives the same
//! bytes (docs/msi.md §4.1 pitfalls, §5).

use std::{
    io::{Cursor, Write},
    path::Path,
    time::{Duration, SystemTime},
};

use anyhow::{Context, Result};
use msi::{CodePage, Insert, LanguageId, PackageType};
use uuid::Uuid;

use super::{
    model::Package,
    plan::{self, CABINET_STREAM, PAGE_COUNT, Plan, WORD_COUNT},
    schema,
};
use crate::fsx;

/// What [`write_msi`] wrote.
#[derive(Clone, Debug)]
pub struct Written {
    pub package_code: Uuid,
    pub product_code: Uuid,
    /// The file's bytes, for checksums and manifests.
    pub bytes: Vec<u8>,
}

/// Plans, serializes and writes `package` to `out` (atomically).
pub fn write_msi(package: &Package, out: &Path) -> Result<Written> {
    let plan = plan::plan(package).with_context(|| format!("cannot plan {}", out.display()))?;
    let bytes = to_bytes(&plan).with_context(|| format!("cannot build {}", out.display()))?;
    fsx::write_atomic(out, &bytes)?;
    let product_code = super::ids::product_code(package.upgrade_code, package.platform, package.version);
    Ok(Written { package_code: plan.summary.package_code, product_code, bytes })
}

/// The MSI's bytes.
pub fn to_bytes(plan: &Plan) -> Result<Vec<u8>> {
    let mut package =
        msi::Package::create(PackageType::Installer, Cursor::new(Vec::new())).context("cannot create the database")?;
    // The crate defaults both code pages to UTF-8; the summary's must be an ANSI code page
    // (docs/msi.md §4.1), and 1252 keeps the two the same.
    package.set_database_codepage(CodePage::Windows1252);
    write_summary(package.summary_info_mut(), plan);
    for name in schema::TABLES {
        package.create_table(*name, schema::columns(name)).with_context(|| format!("cannot create table {name}"))?;
        let rows = plan.database.tables.get(*name).map(|t| t.rows.clone()).unwrap_or_default();
        if !rows.is_empty() {
            package
                .insert_rows(Insert::into(*name).rows(rows))
                .with_context(|| format!("table {name} rejects a row"))?;
        }
    }
    package
        .write_stream(CABINET_STREAM)
        .and_then(|mut stream| stream.write_all(&plan.cabinet))
        .context("cannot embed the cabinet")?;
    let v4 = package.into_inner().context("cannot finish the database")?.into_inner();
    repack_v3(v4)
}

fn write_summary(summary: &mut msi::SummaryInfo, plan: &Plan) {
    let s = &plan.summary;
    let time = SystemTime::UNIX_EPOCH + Duration::from_secs(s.source_date_epoch.max(0) as u64);
    summary.set_codepage(CodePage::Windows1252);
    summary.set_title("Installation Database");
    summary.set_subject(s.subject.clone());
    summary.set_author(s.author.clone());
    summary.set_keywords(&["Installer".to_string(), "IIS".to_string()]);
    summary.set_comments(s.comments.clone());
    let (arch, language) = s.template.split_once(';').unwrap_or((&s.template, ""));
    summary.set_arch(arch);
    summary.set_languages(&[LanguageId::from_id(language.parse().unwrap_or(plan::LANGUAGE))]);
    summary.set_uuid(s.package_code);
    summary.set_creation_time(time);
    summary.set_last_save_time(time);
    summary.set_page_count(PAGE_COUNT);
    summary.set_word_count(WORD_COUNT);
    summary.set_doc_security(2);
    summary.set_creating_application("archway xtask");
}

/// Copies the crate's version-4 compound file (4096-byte sectors) into a version-3 one (512),
/// the form WiX and wixl write; msitools and the `msi` crate read it back (docs/msi.md §1.1, §4.3,
/// §7: whether msiexec opens v4 is unverified). Streams are copied in directory order, so the
/// result is as deterministic as the input.
fn repack_v3(v4: Vec<u8>) -> Result<Vec<u8>> {
    let mut source = cfb::CompoundFile::open(Cursor::new(v4)).context("cannot reopen the database")?;
    let mut target = cfb::CompoundFile::create_with_version(cfb::Version::V3, Cursor::new(Vec::new()))
        .context("cannot create a v3 compound file")?;
    target.set_storage_clsid("/", *source.root_entry().clsid())?;
    let streams: Vec<_> = source.walk().filter(|e| e.is_stream()).map(|e| e.path().to_path_buf()).collect();
    for path in streams {
        let mut from = source.open_stream(&path)?;
        let mut to = target.create_stream(&path)?;
        std::io::copy(&mut from, &mut to).with_context(|| format!("cannot copy stream {}", path.display()))?;
    }
    target.flush()?;
    Ok(target.into_inner().into_inner())
}
