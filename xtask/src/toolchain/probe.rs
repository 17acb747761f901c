//! Asking a tool about itself (`--version`, `--print-targets`, cc's flags for it), remembered across runs in
//! `target/archway/tool-probes.json` and keyed by the file's size and modification time, so a
//! no-op build starts no process at all.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::UNIX_EPOCH,
};

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::{cmd::Cmd, fsx};

#[derive(Default, Serialize, Deserialize)]
struct Stored {
    entries: BTreeMap<String, Entry>,
}

#[derive(Clone, Serialize, Deserialize)]
struct Entry {
    size: u64,
    modified_ns: u128,
    /// Standard output and error, concatenated: some tools print their banner on stderr.
    output: String,
    success: bool,
}

pub struct Prober {
    store_path: Option<PathBuf>,
    stored: Stored,
    dirty: bool,
}

impl Prober {
    /// A prober that remembers answers in `store` (if given).
    pub fn new(store: Option<PathBuf>) -> Prober {
        let stored = store
            .as_deref()
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        Prober { store_path: store, stored, dirty: false }
    }

    /// What `tool args…` printed, or None when it could not run or failed.
    pub fn ask(&mut self, tool: &Path, args: &[&str]) -> Option<String> {
        let key = args.join("\u{0}");
        self.remember(tool, &key, || {
            // A version query: a minute is generous (a tool that hangs is treated as absent).
            let out = Cmd::new(tool).args(args).timeout(std::time::Duration::from_secs(60)).output().ok()?;
            out.success.then(|| format!("{}{}", out.stdout, out.stderr))
        })
    }

    /// Any fact about `tool` (under `key`), computed once per version of the tool's file.
    pub fn remember(&mut self, tool: &Path, key: &str, compute: impl FnOnce() -> Option<String>) -> Option<String> {
        let meta = std::fs::metadata(tool).ok()?;
        let size = meta.len();
        let modified_ns = meta.modified().ok()?.duration_since(UNIX_EPOCH).ok()?.as_nanos();
        let key = format!("{}\u{0}{key}", tool.display());
        if let Some(e) = self.stored.entries.get(&key)
            && e.size == size
            && e.modified_ns == modified_ns
        {
            return e.success.then(|| e.output.clone());
        }
        let output = compute();
        let entry = Entry { size, modified_ns, success: output.is_some(), output: output.unwrap_or_default() };
        self.stored.entries.insert(key, entry.clone());
        self.dirty = true;
        entry.success.then_some(entry.output)
    }

    /// Writes what was learnt; a failure only costs the next run some time.
    pub fn save(&mut self) -> Result<()> {
        if let (true, Some(path)) = (self.dirty, &self.store_path) {
            fsx::write_atomic(path, &serde_json::to_vec_pretty(&self.stored)?)?;
            self.dirty = false;
        }
        Ok(())
    }
}
