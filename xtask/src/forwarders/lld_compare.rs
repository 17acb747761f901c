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

/// Ok when equal; else an error naming the first differing offset and both sides around it.
pub fn same_bytes(name: &str, ours: &[u8], theirs: &[u8]) -> Result<()> {
    if ours == theirs {
        return Ok(());
    }
    let at = ours.iter().zip(theirs).position(|(a, b)| a != b).unwrap_or(ours.len().min(theirs.len()));
    let window = |bytes: &[u8]| {
        let range = at.saturating_sub(8)..(at + 8).min(bytes.len());
        bytes[range].iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
    };
    bail!(
        "{name}: archway's writer and lld-link differ first at offset {at:#x} (sizes {:#x} and {:#x})\n  archway:  {}\n  lld-link: {}",
        ours.len(),
        theirs.len(),
        window(ours),
        window(theirs)
    )
}
