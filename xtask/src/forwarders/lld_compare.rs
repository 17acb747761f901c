//! `cargo xtask forwarders --compare-with-lld`: each planned forwarder linked again by lld-link
//! (`reference`) from the same exports and version resource, and the two files compared byte
//! for byte. The golden tests and `bench forwarders` use the same path.

use anyhow::{Context, Result, bail};

use super::{
    Planned,
    exports::Requested,
    reference::{self, DefExport, ReferenceTools},
    versioninfo,
};

/// lld-link, its load-configuration objects, and a folder to link in.
pub struct Linker {
    tools: ReferenceTools,
    load_configs: (std::path::PathBuf, std::path::PathBuf),
    dir: tempfile::TempDir,
}

impl Linker {
    /// The tests' linker: [`Linker::for_project`] the checkout they run in.
    #[cfg(test)]
    pub fn new() -> Result<Linker> {
        Linker::for_project(crate::project::Project::discover().ok().as_ref())
    }

    /// `project` holds the remembered tool probes (None: every tool is asked afresh).
    pub fn for_project(project: Option<&crate::project::Project>) -> Result<Linker> {
        let tools = reference::find_for(project)?;
        let dir =
            tempfile::Builder::new().prefix("archway-lld-").tempdir().context("cannot create a folder for lld-link")?;
        let load_configs = reference::assemble_load_configs(&tools, dir.path())?;
        Ok(Linker { tools, load_configs, dir })
    }

    /// lld-link's file for the same inputs. `/release` makes lld fill in the checksum too
    /// (docs/arm64x-forwarder.md §10), so every byte is comparable.
    pub fn link(
        &self,
        dll_name: &str,
        exports: &[Requested],
        stems: (&str, &str),
        version_blob: Option<&[u8]>,
        timestamp: u32,
    ) -> Result<Vec<u8>> {
        let defs: Vec<DefExport> = exports
            .iter()
            .map(|e| DefExport { name: e.name.clone(), ordinal: e.ordinal, noname: e.noname, data: e.data })
            .collect();
        let res = version_blob.map(|blob| reference::res_file(versioninfo::LANGUAGE, blob));
        reference::link(
            &self.tools,
            &self.load_configs,
            self.dir.path(),
            dll_name,
            &reference::def_text(&defs, stems.0),
            &reference::def_text(&defs, stems.1),
            res.as_deref(),
            timestamp,
            true,
        )
    }

    pub fn link_planned(&self, planned: &Planned) -> Result<Vec<u8>> {
        let stems = (super::file_stem(&planned.native_target), super::file_stem(&planned.ec_target));
        self.link(
            &planned.spec.file,
            &planned.spec.exports,
            (stems.0, stems.1),
            Some(&planned.version_blob),
            planned.timestamp,
        )
    }
}

/// Links every planned forwarder with lld-link and fails at the first byte that differs.
pub fn against_lld(project: &crate::project::Project, planned: &[Planned]) -> Result<Vec<String>> {
    let linker = Linker::for_project(Some(project))?;
    let mut lines = Vec::new();
    for p in planned {
        let theirs = linker.link_planned(p).with_context(|| format!("lld-link for {}", p.spec.path.display()))?;
        same_bytes(&p.spec.file, &p.bytes, &theirs)?;
        lines.push(format!("{}: identical to lld-link's output ({} bytes)", p.spec.file, theirs.len()));
    }
    Ok(lines)
}

/// Ok when equal; else an error with a hex diff of every 16-byte row that differs (see
/// [`hex_diff`]), so a golden-file failure shows what changed, not only where it starts.
pub fn same_bytes(name: &str, ours: &[u8], theirs: &[u8]) -> Result<()> {
    if ours == theirs {
        return Ok(());
    }
    bail!("{name}: archway's writer and lld-link differ\n{}", hex_diff(("lld-link", theirs), ("archway", ours)))
}

/// Rows shown at most; the rest are counted.
const MAX_ROWS: usize = 32;

/// A diff of two byte strings by 16-byte rows: for each row that differs, `-` the expected
/// row, `+` the found one, and `^^` under each differing byte (a byte one side lacks shows
/// as `..`); sizes first, rows past [`MAX_ROWS`] counted. Empty when the two are equal.
pub fn hex_diff(expected: (&str, &[u8]), found: (&str, &[u8])) -> String {
    let ((want_name, want), (got_name, got)) = (expected, found);
    let width = want_name.len().max(got_name.len());
    let rows = want.len().max(got.len()).div_ceil(16);
    let row =
        |bytes: &[u8], r: usize| -> Vec<Option<u8>> { (r * 16..r * 16 + 16).map(|i| bytes.get(i).copied()).collect() };
    let show = |cells: &[Option<u8>]| {
        cells.iter().map(|c| c.map_or("..".to_string(), |b| format!("{b:02x}"))).collect::<Vec<_>>().join(" ")
    };
    let differing: Vec<usize> = (0..rows).filter(|&r| row(want, r) != row(got, r)).collect();
    if differing.is_empty() {
        return String::new();
    }
    let mut out = format!(
        "sizes {:#x} ({want_name}) and {:#x} ({got_name}); {} of {rows} rows of 16 bytes differ (- {want_name}, + {got_name}):\n",
        want.len(),
        got.len(),
        differing.len()
    );
    for &r in differing.iter().take(MAX_ROWS) {
        let (a, b) = (row(want, r), row(got, r));
        let marks: Vec<&str> = a.iter().zip(&b).map(|(x, y)| if x == y { "  " } else { "^^" }).collect();
        out += &format!("- {want_name:width$} {:#07x}: {}\n", r * 16, show(&a));
        out += &format!("+ {got_name:width$} {:#07x}: {}\n", r * 16, show(&b));
        out += &format!("  {:width$} {:7}  {}\n", "", "", marks.join(" ").trim_end());
    }
    if differing.len() > MAX_ROWS {
        out += &format!("… and {} more differing rows\n", differing.len() - MAX_ROWS);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_diff_shows_each_differing_row_with_both_sides_and_marks() {
        let want: Vec<u8> = (0..48).collect();
        let mut got = want.clone();
        got[17] = 0xAA;
        got.truncate(40);
        let diff = hex_diff(("lld-link", &want), ("archway", &got));
        assert!(diff.starts_with("sizes 0x30 (lld-link) and 0x28 (archway); 2 of 3 rows"), "{diff}");
        assert!(diff.contains("- lld-link 0x00010: 10 11 12"), "{diff}");
        assert!(diff.contains("+ archway  0x00010: 10 aa 12"), "{diff}");
        assert!(diff.contains("+ archway  0x00020: 20 21 22 23 24 25 26 27 .. .."), "{diff}");
        assert!(!diff.contains("0x00000:"), "equal rows are left out:\n{diff}");
        assert_eq!(hex_diff(("a", &want), ("b", &want)), "");
        let err = same_bytes("x.dll", &got, &want).unwrap_err().to_string();
        assert!(err.starts_with("x.dll: archway's writer and lld-link differ\nsizes"), "{err}");
    }
}
