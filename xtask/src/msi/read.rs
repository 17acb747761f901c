//! Reads an MSI back with the `msi` crate: summary information, every table as rows, and the
//! embedded cabinet's members (extracted with the `cab` crate). Each kind of bad input — not a
//! compound file, not an installer database, a missing or truncated cabinet — is one error
//! naming the file and what is wrong.

use std::{
    collections::BTreeMap,
    io::{Cursor, Read},
    path::Path,
};

use anyhow::{Context, Result, bail};
use msi::{PackageType, Select};
use uuid::Uuid;

use super::{
    cabinet,
    database::{Database, Table},
};

/// The summary-information facts the lint uses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SummaryFacts {
    /// The whole Template property, e.g. `x64;1033`.
    pub template: String,
    pub package_code: Option<Uuid>,
    pub page_count: i32,
    pub word_count: i32,
    pub codepage: i32,
}

/// An MSI as read: what it says and what it carries.
#[derive(Clone, Debug)]
pub struct ReadPackage {
    /// The file it came from, for messages.
    pub source: String,
    pub summary: SummaryFacts,
    pub database: Database,
    /// Cabinet members by name (the File key).
    pub payloads: BTreeMap<String, Vec<u8>>,
}

pub fn read_msi(path: &Path) -> Result<ReadPackage> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    read_msi_bytes(&path.display().to_string(), bytes)
}

/// Reads an MSI held in memory; `source` names it in errors. The third-party parsing runs inside
/// a panic boundary: a panic in `msi` or `cab` on a malformed file becomes "<file>: this file is
/// not a well-formed MSI: …" and prints nothing (the cabinet's layout is checked before `cab`
/// sees it, see `cabinet/layout.rs`).
pub fn read_msi_bytes(source: &str, bytes: Vec<u8>) -> Result<ReadPackage> {
    crate::panics::contain(|| read_contained(source, bytes))
        .map_err(|panic| anyhow::Error::new(panic).context(format!("{source}: this file is not a well-formed MSI")))?
}

fn read_contained(source: &str, bytes: Vec<u8>) -> Result<ReadPackage> {
    let mut package = msi::Package::open(Cursor::new(bytes))
        .map_err(|e| anyhow::anyhow!("{source} is not a readable Windows Installer package ({e})"))?;
    if package.package_type() != PackageType::Installer {
        bail!("{source} is a {:?} package, not an installer database (.msi)", package.package_type());
    }
    let info = package.summary_info();
    let summary = SummaryFacts {
        template: info
            .arch()
            .map(|arch| {
                let langs: Vec<String> = info.languages().iter().map(|l| l.id().to_string()).collect();
                format!("{arch};{}", langs.join(","))
            })
            .unwrap_or_default(),
        package_code: info.uuid(),
        page_count: info.page_count().unwrap_or(0),
        word_count: info.word_count().unwrap_or(0),
        codepage: info.codepage().id(),
    };

    let names: Vec<String> = package.tables().map(|t| t.name().to_string()).filter(|n| !n.starts_with('_')).collect();
    let mut database = Database::default();
    for name in names {
        let rows = package
            .select_rows(Select::table(name.as_str()))
            .with_context(|| format!("{source}: cannot read table {name}"))?;
        let columns: Vec<String> = rows.columns().iter().map(|c| c.name().to_string()).collect();
        let rows: Vec<Vec<msi::Value>> = rows.map(|row| (0..row.len()).map(|i| row[i].clone()).collect()).collect();
        database.tables.insert(name, Table { columns, rows });
    }

    let mut payloads = BTreeMap::new();
    let cabinets: Vec<String> = database.rows("Media").filter_map(|r| r.str("Cabinet").map(str::to_string)).collect();
    for cabinet_name in cabinets {
        let Some(stream) = cabinet_name.strip_prefix('#') else {
            bail!(
                "{source}: Media refers to the external cabinet {cabinet_name}; only embedded cabinets can be checked"
            );
        };
        let mut bytes = Vec::new();
        package
            .read_stream(stream)
            .and_then(|mut r| r.read_to_end(&mut bytes))
            .with_context(|| format!("{source}: the embedded cabinet {stream} is missing or unreadable"))?;
        for (name, member) in
            cabinet::extract(&bytes).with_context(|| format!("{source}: embedded cabinet {stream}"))?
        {
            payloads.insert(name, member);
        }
    }
    Ok(ReadPackage { source: source.to_string(), summary, database, payloads })
}

/// The raw bytes of every embedded cabinet stream (`Media.Cabinet` = `#name`), for the fuzz
/// harness's cabinet reader; inside the same panic boundary.
pub fn embedded_cabinets(bytes: Vec<u8>) -> Result<Vec<Vec<u8>>> {
    crate::panics::contain(|| -> Result<Vec<Vec<u8>>> {
        let mut package = msi::Package::open(Cursor::new(bytes))?;
        let rows = package.select_rows(Select::table("Media"))?;
        let Some(column) = rows.columns().iter().position(|c| c.name() == "Cabinet") else { return Ok(Vec::new()) };
        let rows: Vec<String> =
            rows.filter_map(|row| row[column].as_str().and_then(|c| c.strip_prefix('#')).map(str::to_string)).collect();
        let mut out = Vec::new();
        for stream in rows {
            let mut cab = Vec::new();
            package.read_stream(&stream)?.read_to_end(&mut cab)?;
            out.push(cab);
        }
        Ok(out)
    })?
}
