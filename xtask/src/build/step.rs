//! One build step (compile, assemble, resource, import library, link): its command, its inputs,
//! and a fingerprint beside its output that says whether it must run again. A step is up to
//! date when its command line, its tool's identity and the content of every input (including
//! the headers the compiler reported last time) are what they were.

use std::{
    collections::{BTreeMap, HashMap},
    path::{Path, PathBuf},
    sync::Mutex,
};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::{cmd::Cmd, fsx};

/// How the compiler reports the headers it read.
#[derive(Clone, Debug)]
pub enum DepFile {
    /// A Makefile rule, as clang writes with `-MD -MF`.
    Make(PathBuf),
    /// MSVC's `/sourceDependencies` JSON.
    MsvcJson(PathBuf),
}

#[derive(Clone, Debug)]
pub struct Step {
    /// For progress and errors: "compile x64 module/src/shim.cpp".
    pub label: String,
    pub cmd: Cmd,
    /// The folder the command runs in; relative paths in the command and depfile resolve here.
    pub cwd: PathBuf,
    /// Every output; the first one carries the fingerprint.
    pub outputs: Vec<PathBuf>,
    /// Inputs known before running (sources, `.def` files, objects).
    pub inputs: Vec<PathBuf>,
    /// The identity of the tool (path and version banner).
    pub tool: String,
    pub depfile: Option<DepFile>,
    /// Where the fingerprint goes; beside the first output when None.
    pub fingerprint: Option<PathBuf>,
}

#[derive(Serialize, Deserialize, PartialEq, Debug)]
struct Fingerprint {
    command: Vec<String>,
    tool: String,
    /// Input path → SHA-256 of its content.
    inputs: BTreeMap<PathBuf, String>,
}

/// Hashes of files read during one run, so a header shared by many units is read once.
#[derive(Default)]
pub struct HashCache(Mutex<HashMap<PathBuf, Option<String>>>);

impl HashCache {
    fn hash(&self, path: &Path) -> Option<String> {
        if let Some(h) = self.0.lock().unwrap().get(path) {
            return h.clone();
        }
        let h = fsx::hash_file(path).ok();
        self.0.lock().unwrap().insert(path.to_path_buf(), h.clone());
        h
    }

    /// Forgets a file that a step has just written.
    pub fn forget(&self, path: &Path) {
        self.0.lock().unwrap().remove(path);
    }
}

#[derive(Debug)]
pub enum Outcome {
    UpToDate,
    Ran,
}

impl Step {
    fn fingerprint_path(&self) -> PathBuf {
        if let Some(path) = &self.fingerprint {
            return self.resolve(path);
        }
        let out = self.resolve(&self.outputs[0]);
        let mut name = out.file_name().unwrap().to_os_string();
        name.push(".fingerprint.json");
        out.with_file_name(name)
    }

    fn resolve(&self, p: &Path) -> PathBuf {
        self.cwd.join(p)
    }

    fn is_up_to_date(&self, hashes: &HashCache) -> bool {
        let Ok(bytes) = std::fs::read(self.fingerprint_path()) else { return false };
        let Ok(old) = serde_json::from_slice::<Fingerprint>(&bytes) else { return false };
        old.command == self.cmd.argv()
            && old.tool == self.tool
            && self.outputs.iter().all(|o| self.resolve(o).is_file())
            && self.inputs.iter().all(|i| old.inputs.contains_key(&self.resolve(i)))
            && old.inputs.iter().all(|(path, hash)| hashes.hash(path).as_ref() == Some(hash))
    }

    /// Runs the step unless its fingerprint says nothing changed.
    pub fn run(&self, hashes: &HashCache) -> Result<Outcome> {
        if self.is_up_to_date(hashes) {
            return Ok(Outcome::UpToDate);
        }
        for out in &self.outputs {
            let out = self.resolve(out);
            std::fs::create_dir_all(out.parent().unwrap())?;
            hashes.forget(&out);
        }
        // A failed or interrupted run must not leave an old fingerprint that vouches for it.
        let _ = std::fs::remove_file(self.fingerprint_path());
        let cmd = self.cmd.clone().current_dir(&self.cwd);
        let result = cmd.output()?;
        if !result.success {
            for out in &self.outputs {
                let _ = std::fs::remove_file(self.resolve(out));
            }
            bail!("{} failed\n{}", self.label, cmd.failure(&result));
        }
        // Tools run with warnings as errors, so anything they print is worth showing.
        let said = format!("{}{}", result.stdout, result.stderr);
        if !said.trim().is_empty() && !is_banner_only(&said) {
            eprintln!("{}: {}", self.label, said.trim_end());
        }
        let mut inputs = BTreeMap::new();
        let mut files: Vec<PathBuf> = self.inputs.iter().map(|i| self.resolve(i)).collect();
        if let Some(dep) = &self.depfile {
            files.extend(read_depfile(dep, &self.cwd)?);
        }
        for file in files {
            let hash =
                hashes.hash(&file).with_context(|| format!("{}: input {} vanished", self.label, file.display()))?;
            inputs.insert(file, hash);
        }
        let fp = Fingerprint { command: self.cmd.argv(), tool: self.tool.clone(), inputs };
        fsx::write_atomic(&self.fingerprint_path(), &serde_json::to_vec_pretty(&fp)?)?;
        Ok(Outcome::Ran)
    }
}

/// cl.exe prints the source file name on success; that is not worth repeating.
fn is_banner_only(text: &str) -> bool {
    let lines: Vec<_> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines.len() == 1 && !lines[0].contains(' ') && lines[0].contains('.')
}

fn read_depfile(dep: &DepFile, cwd: &Path) -> Result<Vec<PathBuf>> {
    let (DepFile::Make(rel) | DepFile::MsvcJson(rel)) = dep;
    let path = cwd.join(rel);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("the compiler wrote no dependency file {}", path.display()))?;
    let files: Vec<String> = match dep {
        DepFile::Make(_) => parse_make_deps(&text),
        DepFile::MsvcJson(_) => {
            let json: serde_json::Value =
                serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
            let includes = json["Data"]["Includes"].as_array().cloned().unwrap_or_default();
            includes.iter().filter_map(|v| v.as_str().map(str::to_string)).collect()
        }
    };
    Ok(files.into_iter().map(|f| cwd.join(f)).collect())
}

/// The prerequisites of a Makefile rule `target: a b \` (continuations, `\ ` for spaces).
pub fn parse_make_deps(text: &str) -> Vec<String> {
    let joined = text.replace("\\\r\n", " ").replace("\\\n", " ");
    let Some((_, rest)) = joined.split_once(": ") else { return Vec::new() };
    let mut deps = Vec::new();
    let mut current = String::new();
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&' ') => {
                current.push(' ');
                chars.next();
            }
            c if c.is_whitespace() => {
                if !current.is_empty() {
                    deps.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        deps.push(current);
    }
    deps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn make_deps_with_continuations_and_escaped_spaces() {
        let text = "obj/a.obj: /src/a.cpp \\\n  /inc/x.h /my\\ dir/y.h\n";
        assert_eq!(parse_make_deps(text), ["/src/a.cpp", "/inc/x.h", "/my dir/y.h"]);
    }

    fn copy_step(dir: &Path) -> Step {
        Step {
            label: "copy".into(),
            cmd: Cmd::new("cp").args(["in.txt", "out.txt"]),
            cwd: dir.to_path_buf(),
            outputs: vec!["out.txt".into()],
            inputs: vec!["in.txt".into()],
            tool: "cp".into(),
            depfile: None,
            fingerprint: None,
        }
    }

    #[test]
    fn a_step_reruns_only_when_an_input_or_the_command_changes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("in.txt"), "1").unwrap();
        let step = copy_step(dir.path());
        assert!(matches!(step.run(&HashCache::default()).unwrap(), Outcome::Ran));
        assert!(
            dir.path().join("out.txt.fingerprint.json").is_file(),
            "the fingerprint sits beside the output, in the step's folder"
        );
        assert!(matches!(step.run(&HashCache::default()).unwrap(), Outcome::UpToDate));
        std::fs::write(dir.path().join("in.txt"), "2").unwrap();
        assert!(matches!(step.run(&HashCache::default()).unwrap(), Outcome::Ran));
        let mut other = copy_step(dir.path());
        other.tool = "cp 2".into();
        assert!(matches!(other.run(&HashCache::default()).unwrap(), Outcome::Ran));
        std::fs::remove_file(dir.path().join("out.txt")).unwrap();
        assert!(matches!(other.run(&HashCache::default()).unwrap(), Outcome::Ran));
    }

    #[test]
    fn a_failed_step_leaves_no_output_and_names_itself() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("out.txt"), "stale").unwrap();
        let mut step = copy_step(dir.path());
        step.cmd = Cmd::new("sh").args(["-c", "echo broken >&2; exit 1"]);
        let err = step.run(&HashCache::default()).unwrap_err().to_string();
        assert!(err.starts_with("copy failed") && err.contains("broken"), "{err}");
        assert!(!dir.path().join("out.txt").exists());
    }
}
