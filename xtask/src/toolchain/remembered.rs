//! MSVC discovery with vswhere's answer remembered in the probe store, so a no-op build on
//! Windows starts no process either (issue 12). The answer is reused while vswhere.exe and the
//! Visual Studio instance records it reads (docs/toolchains.md §9) are unchanged.

use std::{
    cell::RefCell,
    path::{Path, PathBuf},
    time::UNIX_EPOCH,
};

use anyhow::Result;

use super::{msvc, probe::Prober};

/// [`msvc::RealProbe`] whose vswhere query goes through `prober`.
pub struct Remembering<'a> {
    pub real: msvc::RealProbe,
    pub prober: RefCell<&'a mut Prober>,
    /// `%ProgramData%\Microsoft\VisualStudio\Packages\_Instances`; None: nothing is remembered.
    pub instances: Option<PathBuf>,
}

impl<'a> Remembering<'a> {
    pub fn new(prober: &'a mut Prober) -> Remembering<'a> {
        let instances = std::env::var_os("ProgramData")
            .map(|d| PathBuf::from(d).join("Microsoft").join("VisualStudio").join("Packages").join("_Instances"));
        Remembering { real: msvc::RealProbe::default(), prober: RefCell::new(prober), instances }
    }
}

/// Each instance record's folder name, size and modification time, sorted; None when the
/// folder cannot be read (then vswhere is asked every time).
fn instances_fingerprint(dir: &Path) -> Option<String> {
    let mut parts = Vec::new();
    for entry in std::fs::read_dir(dir).ok()? {
        let entry = entry.ok()?;
        let state = entry.path().join("state.json");
        let Ok(meta) = std::fs::metadata(&state) else { continue };
        let modified = meta.modified().ok()?.duration_since(UNIX_EPOCH).ok()?.as_nanos();
        parts.push(format!("{}:{}:{modified}", entry.file_name().to_string_lossy(), meta.len()));
    }
    parts.sort();
    Some(parts.join(","))
}

impl msvc::Probe for Remembering<'_> {
    fn var(&self, name: &str) -> Option<String> {
        self.real.var(name)
    }

    fn run_vswhere(&self, exe: &Path, args: &[&str]) -> Result<String> {
        // [UNCERTAIN] that installing, updating or removing an instance rewrites its
        // state.json (docs/toolchains.md §9); the Windows jobs' build test shows the reuse, not
        // the invalidation. A stale answer naming a removed toolset is passed over by discovery,
        // which checks each toolset's folders.
        let Some(fingerprint) = self.instances.as_deref().and_then(instances_fingerprint) else {
            return self.real.run_vswhere(exe, args);
        };
        let key = format!("vswhere\u{0}{}\u{0}{fingerprint}", args.join("\u{0}"));
        let remembered = self.prober.borrow_mut().remember(exe, &key, || self.real.run_vswhere(exe, args).ok());
        match remembered {
            Some(out) => Ok(out),
            // A failure is not reused: run again for its error.
            None => self.real.run_vswhere(exe, args),
        }
    }

    fn host(&self) -> msvc::HostArch {
        self.real.host()
    }

    fn exists(&self, p: &Path) -> bool {
        self.real.exists(p)
    }

    fn read_dir_names(&self, p: &Path) -> Vec<String> {
        self.real.read_dir_names(p)
    }

    fn read_to_string(&self, p: &Path) -> Option<String> {
        self.real.read_to_string(p)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::toolchain::msvc::Probe;

    static RUNS: AtomicUsize = AtomicUsize::new(0);

    fn fake_vswhere(_: &Path, _: &[&str]) -> Result<String> {
        RUNS.fetch_add(1, Ordering::SeqCst);
        Ok("[]".into())
    }

    #[test]
    fn vswhere_is_asked_again_only_when_an_instance_record_changes() {
        let tmp = tempfile::tempdir().unwrap();
        let exe = tmp.path().join("vswhere.exe");
        std::fs::write(&exe, "a program").unwrap();
        let instances = tmp.path().join("_Instances");
        std::fs::create_dir_all(instances.join("1a2b3c4d")).unwrap();
        std::fs::write(instances.join("1a2b3c4d/state.json"), "{}").unwrap();
        let store = tmp.path().join("tool-probes.json");
        let ask = || {
            let mut prober = Prober::new(Some(store.clone()));
            let probe = Remembering {
                real: msvc::RealProbe { run: fake_vswhere },
                prober: RefCell::new(&mut prober),
                instances: Some(instances.clone()),
            };
            assert_eq!(probe.run_vswhere(&exe, &["-format", "json"]).unwrap(), "[]");
            drop(probe);
            prober.save().unwrap();
        };
        ask();
        ask();
        assert_eq!(RUNS.load(Ordering::SeqCst), 1, "the second query is answered from the store");
        std::fs::write(instances.join("1a2b3c4d/state.json"), "{\"updated\": true}").unwrap();
        ask();
        assert_eq!(RUNS.load(Ordering::SeqCst), 2, "a changed instance record asks vswhere again");
        std::fs::create_dir_all(instances.join("5e6f7a8b")).unwrap();
        std::fs::write(instances.join("5e6f7a8b/state.json"), "{}").unwrap();
        ask();
        assert_eq!(RUNS.load(Ordering::SeqCst), 3, "a new instance asks vswhere again");
    }
}
