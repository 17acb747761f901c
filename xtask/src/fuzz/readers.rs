//! The readers under test, each fed one input: how it is run (the same entry points the
//! commands use, files written to a scratch folder where a reader takes a path) and how its
//! inputs are mutated. Seeds are the real artifacts of a build plus the repository's TOML files.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::{mutate, rng::Rng, structure};
use crate::{binaries, forwarders, matrix::Matrix, msi, verify};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reader {
    /// `verify`: the PE facts, `describe`, the forwarder checks (a mutated file among its
    /// targets), and the MSI layer's PE facts.
    Pe,
    /// The Arm64X reader: DVRT, fixups, both views.
    Arm64x,
    ForwarderSpec,
    MatrixToml,
    BinaryToml,
    /// `msi-check` on one package: reader, lint.
    Msi,
    /// The lint and the simulated upgrade on packages whose table rows were edited.
    MsiRows,
    Cabinet,
    /// `msi-check --previous`: a mutated package as the new or the old one.
    MsiPrevious,
}

impl Reader {
    pub const ALL: [Reader; 9] = [
        Reader::Pe,
        Reader::Arm64x,
        Reader::ForwarderSpec,
        Reader::MatrixToml,
        Reader::BinaryToml,
        Reader::Msi,
        Reader::MsiRows,
        Reader::Cabinet,
        Reader::MsiPrevious,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Reader::Pe => "pe/verify",
            Reader::Arm64x => "arm64x",
            Reader::ForwarderSpec => "forwarder-spec",
            Reader::MatrixToml => "matrix.toml",
            Reader::BinaryToml => "binary.toml",
            Reader::Msi => "msi",
            Reader::MsiRows => "msi-rows",
            Reader::Cabinet => "cabinet",
            Reader::MsiPrevious => "msi-previous",
        }
    }
}

/// One seed: a name (the file it came from) and its bytes.
#[derive(Clone, Debug)]
pub struct Seed {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// The seeds of every reader, and the scratch folder file-based readers work in.
pub struct Corpus {
    pub pe: Vec<Seed>,
    pub specs: Vec<Seed>,
    pub matrix: Vec<Seed>,
    pub binary_tomls: Vec<Seed>,
    pub msis: Vec<Seed>,
    pub cabinets: Vec<Seed>,
    /// `module/` and `native/imports/` copied, so a mutated binary.toml finds its files.
    pub repo: PathBuf,
    pub scratch: PathBuf,
}

impl Corpus {
    pub fn seeds(&self, reader: Reader) -> &[Seed] {
        match reader {
            Reader::Pe => &self.pe,
            Reader::Arm64x => &self.pe,
            Reader::ForwarderSpec => &self.specs,
            Reader::MatrixToml => &self.matrix,
            Reader::BinaryToml => &self.binary_tomls,
            Reader::Msi | Reader::MsiRows | Reader::MsiPrevious => &self.msis,
            Reader::Cabinet => &self.cabinets,
        }
    }

    /// Writes the PE seeds into the scratch folder (targets for the forwarder checks) and the
    /// folders the TOML readers read from.
    pub fn prepare(&self) -> Result<()> {
        for dir in ["bin", "spec/forwarders", "repo/handlers", "repo/tests", "matrix"] {
            std::fs::create_dir_all(self.scratch.join(dir))?;
        }
        for seed in &self.pe {
            std::fs::write(self.scratch.join("bin").join(&seed.name), &seed.bytes)?;
        }
        copy_dir(&self.repo.join("module"), &self.scratch.join("repo/module"))?;
        copy_dir(&self.repo.join("native/imports"), &self.scratch.join("repo/native/imports"))?;
        Ok(())
    }

    /// A mutant of seed `index` for `reader`.
    pub fn mutate(&self, reader: Reader, rng: &mut Rng, index: usize) -> Vec<u8> {
        let Some(seed) = self.seeds(reader).get(index) else { return Vec::new() };
        let mut data = seed.bytes.clone();
        let rounds = 1 + rng.below(3);
        for _ in 0..rounds {
            let structured = rng.below(3) != 0;
            match reader {
                Reader::ForwarderSpec | Reader::MatrixToml | Reader::BinaryToml => {
                    data = mutate::text(rng, &String::from_utf8_lossy(&data));
                    continue;
                }
                Reader::MsiRows => return row_edit(rng, index),
                Reader::Pe | Reader::Arm64x if structured => {
                    let fields = structure::pe_fields(&data);
                    mutate::field(rng, &mut data, &fields);
                }
                Reader::Msi | Reader::MsiPrevious if structured => {
                    let mut fields = structure::cfb_header_fields();
                    for entry in structure::cfb_directory_entries(&data) {
                        fields.extend(structure::cfb_entry_fields(entry));
                    }
                    for cab in structure::cabinets(&data) {
                        fields.extend(cab_fields(&data, cab));
                    }
                    mutate::field(rng, &mut data, &fields);
                }
                Reader::Cabinet if structured => {
                    let fields = cab_fields(&data, 0);
                    mutate::field(rng, &mut data, &fields);
                }
                _ => mutate::bytes(rng, &mut data),
            }
        }
        data
    }

    /// Runs `reader` on `input` (a mutant of seed `index`).
    pub fn run(&self, reader: Reader, index: usize, input: &[u8]) -> Result<()> {
        let seed = self.seeds(reader).get(index).context("no such seed")?;
        match reader {
            Reader::Pe => self.run_pe(&seed.name, input),
            Reader::Arm64x => {
                verify::arm64x::read(input)?;
                verify::arm64x::views(input).map(drop)
            }
            Reader::ForwarderSpec => {
                std::fs::write(self.scratch.join("spec/forwarders/x.toml"), input)?;
                forwarders::spec::discover(&self.scratch.join("spec")).map(drop)
            }
            Reader::MatrixToml => {
                let path = self.scratch.join("matrix/matrix.toml");
                std::fs::write(&path, input)?;
                Matrix::load(&path).map(drop)
            }
            Reader::BinaryToml => {
                std::fs::write(self.scratch.join("repo/module/binary.toml"), input)?;
                binaries::discover(&self.scratch.join("repo")).map(drop)
            }
            Reader::Msi => {
                let read = msi::read_msi_bytes("fuzzed.msi", input.to_vec())?;
                msi::check_views(&msi::PackageView::from_read(&read), None);
                Ok(())
            }
            Reader::MsiRows => self.run_rows(input),
            Reader::Cabinet => msi::extract_cabinet(input).map(drop),
            Reader::MsiPrevious => {
                let original = msi::PackageView::from_read(&msi::read_msi_bytes(&seed.name, seed.bytes.clone())?);
                let mutant = msi::PackageView::from_read(&msi::read_msi_bytes("fuzzed.msi", input.to_vec())?);
                msi::check_views(&mutant, Some(&original));
                msi::check_views(&original, Some(&mutant));
                Ok(())
            }
        }
    }

    /// The mutant written over its seed's file among the other DLLs; `verify`'s readers on it and
    /// on every forwarder beside it; then the original put back.
    fn run_pe(&self, name: &str, input: &[u8]) -> Result<()> {
        let dir = self.scratch.join("bin");
        let path = dir.join(name);
        std::fs::write(&path, input)?;
        let mut first = Ok(());
        let mut note = |r: Result<()>| {
            if first.is_ok() {
                first = r;
            }
        };
        note(verify::facts_from_bytes(input).map(drop));
        note(verify::forwards::describe(&path).map(drop));
        note(verify::forwards::check(&path).map(drop));
        note(msi::pe_info(input).map(drop));
        let target = |n: &str| {
            ["_x86.dll", "_x64.dll", "_arm64.dll", "_arm64ec.dll"].iter().any(|a| n.to_ascii_lowercase().ends_with(a))
        };
        for forwarder in self.pe.iter().filter(|s| !target(&s.name)) {
            note(verify::forwards::check(&dir.join(&forwarder.name)).map(drop));
        }
        let original = self.pe.iter().find(|s| s.name == name).map(|s| s.bytes.as_slice()).unwrap_or_default();
        std::fs::write(&path, original)?;
        first
    }

    /// Applies a row edit (see [`row_edit`]) to its package and runs the lint and the upgrade
    /// simulation against the unedited package.
    fn run_rows(&self, edit: &[u8]) -> Result<()> {
        let edit: RowEdit = serde_json::from_slice(edit)?;
        let seed = self.msis.get(edit.seed).context("no such seed")?;
        let read = msi::read_msi_bytes(&seed.name, seed.bytes.clone())?;
        let original = msi::PackageView::from_read(&read);
        let mut edited = read.clone();
        let tables: Vec<String> = edited.database.tables.keys().cloned().collect();
        let Some(table) = tables.get(edit.table % tables.len().max(1)) else { return Ok(()) };
        let Some(table) = edited.database.tables.get_mut(table) else { return Ok(()) };
        let rows = table.rows.len();
        if let Some(row) = table.rows.get_mut(edit.row % rows.max(1)) {
            let columns = row.len();
            if let Some(cell) = row.get_mut(edit.column % columns.max(1)) {
                *cell = match &edit.value {
                    RowValue::Null => ::msi::Value::Null,
                    RowValue::Int(i) => ::msi::Value::Int(*i),
                    RowValue::Str(s) => ::msi::Value::Str(s.clone()),
                };
            }
        }
        let view = msi::PackageView::from_read(&edited);
        msi::check_views(&view, None);
        msi::check_views(&view, Some(&original));
        msi::check_views(&original, Some(&view));
        Ok(())
    }
}

fn cab_fields(data: &[u8], cab: usize) -> Vec<structure::Field> {
    let (folders, files) = structure::cab_entries(data, cab);
    let mut fields = structure::cab_header_fields(cab).to_vec();
    fields.extend(folders.into_iter().flat_map(structure::cab_folder_fields));
    fields.extend(files.into_iter().flat_map(structure::cab_file_fields));
    fields
}

/// An edit of one table cell (indices taken modulo the table's size), kept as JSON so its
/// reproducer is readable.
#[derive(serde::Serialize, serde::Deserialize)]
struct RowEdit {
    seed: usize,
    table: usize,
    row: usize,
    column: usize,
    value: RowValue,
}

#[derive(serde::Serialize, serde::Deserialize)]
enum RowValue {
    Null,
    Int(i32),
    Str(String),
}

fn row_edit(rng: &mut Rng, seed: usize) -> Vec<u8> {
    let strings = [
        "*",
        "?",
        "**********x",
        "",
        "..\\..\\x",
        "C:\\",
        "{00000000-0000-0000-0000-000000000000}",
        "1.2.3.4.5",
        "65536.0.0.0",
        "x;y",
        "[INSTALLDIR]",
        "|",
        "a|b",
    ];
    let value = match rng.below(4) {
        0 => RowValue::Null,
        1 => RowValue::Int([0, -1, i32::MIN, i32::MAX, 1, 2, 3, 6601][rng.below(8)]),
        2 => RowValue::Str("*".repeat(1 + rng.below(300)) + "x"),
        _ => RowValue::Str(strings[rng.below(strings.len())].to_string()),
    };
    let edit = RowEdit { seed, table: rng.below(64), row: rng.below(64), column: rng.below(16), value };
    serde_json::to_vec(&edit).unwrap_or_default()
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from).with_context(|| format!("cannot list {}", from.display()))? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}
