//! What `cargo metadata` says about archway's workspace, read from the manifests and cargo's
//! configuration files without starting cargo, so a no-op `build` starts no process (issue 12).
//!
//! Only what archway needs is read: the workspace root (the nearest `Cargo.toml` around the
//! starting folder, or the `[workspace]` above it), the `xtask` member's version, the
//! `[workspace.metadata.archway]` names, and the target directory by cargo's documented
//! precedence (docs/toolchains.md §8): `CARGO_TARGET_DIR`, then `build.target-dir` from
//! `CARGO_BUILD_TARGET_DIR`, then from the configuration files of the current folder and its
//! parents (nearest first), then from `$CARGO_HOME`, else `<root>/target`. Anything outside that
//! (glob or excluded members, `package.workspace`, a configuration `include`, a manifest or
//! configuration file that does not parse) is answered [`Read::AskCargo`]: the caller runs
//! `cargo metadata`, which stays the authority. The unit tests compare both answers.

use std::{
    ffi::OsString,
    path::{Path, PathBuf},
};

use cargo_metadata::semver;

/// The facts the workspace gives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Facts {
    pub root: PathBuf,
    pub target_dir: PathBuf,
    /// The `xtask` package's version.
    pub version: semver::Version,
    /// `[workspace.metadata.archway]` `company` and `product`, when they are strings.
    pub company: Option<String>,
    pub product: Option<String>,
}

/// What reading the manifests found.
#[derive(Debug)]
pub enum Read {
    Found(Facts),
    /// No workspace with an `xtask` package around the starting folder.
    NotArchway,
    /// A case this reader does not decide (the reason); `cargo metadata` must answer.
    AskCargo(String),
}

/// The environment as cargo would see it (a parameter so tests can give their own).
pub type Env<'a> = &'a dyn Fn(&str) -> Option<OsString>;

/// Reads the workspace around `start`, with cargo's configuration as seen from `cwd`.
pub fn read(start: &Path, cwd: &Path, env: Env) -> Read {
    match read_inner(start, cwd, env) {
        Ok(read) => read,
        Err(why) => Read::AskCargo(why),
    }
}

fn read_inner(start: &Path, cwd: &Path, env: Env) -> Result<Read, String> {
    let Some(nearest) = start.ancestors().find(|d| d.join("Cargo.toml").is_file()) else {
        return Ok(Read::NotArchway);
    };
    let nearest_manifest = manifest(nearest)?;
    if nearest_manifest.get("package").and_then(|p| p.get("workspace")).is_some() {
        return Err(format!("{}: package.workspace", nearest.join("Cargo.toml").display()));
    }
    let (root, root_manifest) = if nearest_manifest.contains_key("workspace") {
        (nearest.to_path_buf(), nearest_manifest)
    } else {
        let mut above = None;
        for dir in nearest.ancestors().skip(1).filter(|d| d.join("Cargo.toml").is_file()) {
            let m = manifest(dir)?;
            if m.contains_key("workspace") {
                above = Some((dir.to_path_buf(), m));
                break;
            }
        }
        match above {
            Some(found) => found,
            // A package of its own: archway's root always has a [workspace].
            None => return Ok(Read::NotArchway),
        }
    };
    let workspace =
        root_manifest.get("workspace").and_then(toml::Value::as_table).ok_or("[workspace] is not a table")?;
    if workspace.contains_key("exclude") {
        return Err("workspace.exclude".into());
    }
    let members: Vec<&str> = match workspace.get("members") {
        None => Vec::new(),
        Some(v) => v
            .as_array()
            .ok_or("workspace.members is not an array")?
            .iter()
            .map(|m| m.as_str().ok_or("a workspace member is not a string"))
            .collect::<Result<_, _>>()?,
    };
    if members.iter().any(|m| m.contains(['*', '?', '['])) {
        return Err("a glob in workspace.members".into());
    }
    if nearest != root && !members.iter().any(|m| root.join(m) == nearest) {
        return Err(format!("{} is not a listed member of {}", nearest.display(), root.display()));
    }
    let mut xtask = None;
    for member in &members {
        let m = manifest(&root.join(member))?;
        if m.get("package").and_then(|p| p.get("name")).and_then(toml::Value::as_str) == Some("xtask") {
            xtask = Some(m);
            break;
        }
    }
    let Some(xtask) = xtask else { return Ok(Read::NotArchway) };
    let version = match xtask.get("package").and_then(|p| p.get("version")) {
        Some(toml::Value::String(v)) => v.clone(),
        Some(toml::Value::Table(t)) if t.get("workspace").and_then(toml::Value::as_bool) == Some(true) => workspace
            .get("package")
            .and_then(|p| p.get("version"))
            .and_then(toml::Value::as_str)
            .ok_or("version.workspace without [workspace.package] version")?
            .to_string(),
        _ => return Err("xtask's package.version".into()),
    };
    let version = semver::Version::parse(&version).map_err(|e| format!("version {version:?}: {e}"))?;
    let branding = |key: &str| workspace.get("metadata")?.get("archway")?.get(key)?.as_str().map(str::to_string);
    Ok(Read::Found(Facts {
        target_dir: target_dir(&root, cwd, env)?,
        company: branding("company"),
        product: branding("product"),
        version,
        root,
    }))
}

fn manifest(dir: &Path) -> Result<toml::Table, String> {
    let path = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.parse::<toml::Table>().map_err(|e| format!("{}: {e}", path.display()))
}

/// Cargo's target directory (docs/toolchains.md §8).
fn target_dir(root: &Path, cwd: &Path, env: Env) -> Result<PathBuf, String> {
    for var in ["CARGO_TARGET_DIR", "CARGO_BUILD_TARGET_DIR"] {
        match env(var) {
            Some(v) if v.is_empty() => return Err(format!("{var} is empty")),
            Some(v) => return Ok(cwd.join(v)),
            None => {}
        }
    }
    for file in config_files(cwd, env) {
        let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let table = text.parse::<toml::Table>().map_err(|e| format!("{}: {e}", file.display()))?;
        if table.contains_key("include") {
            return Err(format!("{}: include", file.display()));
        }
        match table.get("build").and_then(|b| b.get("target-dir")) {
            None => {}
            Some(toml::Value::String(dir)) if !dir.is_empty() => {
                // Relative to the folder that holds the `.cargo` folder (or CARGO_HOME).
                let base =
                    file.parent().and_then(Path::parent).ok_or("a configuration file at the file system root")?;
                return Ok(base.join(dir));
            }
            Some(_) => return Err(format!("{}: build.target-dir is not a path", file.display())),
        }
    }
    Ok(root.join("target"))
}

/// The configuration files cargo reads, highest precedence first: `.cargo/config` (else
/// `.cargo/config.toml`) in `cwd` and each parent, then in `$CARGO_HOME` unless already seen.
fn config_files(cwd: &Path, env: Env) -> Vec<PathBuf> {
    let in_dir = |dir: &Path| ["config", "config.toml"].into_iter().map(|name| dir.join(name)).find(|p| p.is_file());
    let mut files: Vec<PathBuf> = cwd.ancestors().filter_map(|d| in_dir(&d.join(".cargo"))).collect();
    let home = env("CARGO_HOME").map(|h| cwd.join(h)).or_else(|| {
        let user = if cfg!(windows) { "USERPROFILE" } else { "HOME" };
        env(user).filter(|h| !h.is_empty()).map(|h| PathBuf::from(h).join(".cargo"))
    });
    if let Some(file) = home.as_deref().and_then(in_dir)
        && !files.contains(&file)
    {
        files.push(file);
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::Cmd;

    /// A workspace like archway's in a scratch folder: root manifest, `xtask` member.
    fn scratch_workspace(root_extra: &str) -> tempfile::TempDir {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("ws");
        std::fs::create_dir_all(root.join("xtask/src")).unwrap();
        std::fs::create_dir_all(root.join("home")).unwrap();
        let manifest = format!(
            "[workspace]\nmembers = [\"xtask\"]\n[workspace.package]\nversion = \"3.4.5\"\n\
             [workspace.metadata.archway]\ncompany = \"C\"\nproduct = \"P\"\n{root_extra}"
        );
        std::fs::write(root.join("Cargo.toml"), manifest).unwrap();
        let xtask = "[package]\nname = \"xtask\"\nversion.workspace = true\nedition = \"2021\"\n";
        std::fs::write(root.join("xtask/Cargo.toml"), xtask).unwrap();
        std::fs::write(root.join("xtask/src/main.rs"), "fn main() {}\n").unwrap();
        tmp
    }

    /// `cargo metadata` run in `cwd` with exactly `vars` among the variables the reader looks at.
    fn cargo_says(cwd: &Path, vars: &[(&str, String)]) -> (PathBuf, PathBuf) {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Cmd::new(cargo)
            .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
            .current_dir(cwd)
            .timeout(std::time::Duration::from_secs(120));
        for var in ["CARGO_TARGET_DIR", "CARGO_BUILD_TARGET_DIR", "CARGO_HOME"] {
            cmd = cmd.env_remove(var);
        }
        for (k, v) in vars {
            cmd = cmd.env(k, v);
        }
        let meta = cargo_metadata::MetadataCommand::parse(cmd.run().unwrap().stdout).unwrap();
        (meta.workspace_root.into_std_path_buf(), meta.target_directory.into_std_path_buf())
    }

    fn we_say(cwd: &Path, vars: &[(&str, String)]) -> Facts {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        let env = move |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| OsString::from(v));
        match read(cwd, cwd, &env) {
            Read::Found(facts) => facts,
            other => panic!("{other:?}"),
        }
    }

    /// What a case shows, the folder cargo runs in, and the environment it sees.
    type Case = (&'static str, PathBuf, Vec<(&'static str, String)>);

    #[test]
    fn the_reader_agrees_with_cargo_metadata() {
        let tmp = scratch_workspace("");
        let root = tmp.path().join("ws");
        let home = root.join("home");
        let sub = root.join("xtask/src");
        let base = vec![("CARGO_HOME", home.display().to_string())];
        let with = |extra: &[(&'static str, &str)]| {
            let mut vars = base.clone();
            vars.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
            vars
        };
        let mut cases: Vec<Case> = vec![
            ("plain, from a member's folder", sub.clone(), base.clone()),
            ("CARGO_TARGET_DIR relative to the current folder", sub.clone(), with(&[("CARGO_TARGET_DIR", "t1")])),
            ("CARGO_BUILD_TARGET_DIR", root.clone(), with(&[("CARGO_BUILD_TARGET_DIR", "t2")])),
        ];
        let check = |cases: &mut Vec<Case>| {
            for (what, cwd, vars) in cases.drain(..) {
                let facts = we_say(&cwd, &vars);
                assert_eq!((facts.root.clone(), facts.target_dir.clone()), cargo_says(&cwd, &vars), "{what}");
                assert_eq!(facts.version, semver::Version::new(3, 4, 5), "{what}");
                assert_eq!((facts.company.as_deref(), facts.product.as_deref()), (Some("C"), Some("P")));
            }
        };
        check(&mut cases);
        // Configuration files: CARGO_HOME's, then the root's over it, then a member's over both.
        std::fs::write(home.join("config.toml"), "[build]\ntarget-dir = \"from-home\"\n").unwrap();
        cases.push(("CARGO_HOME's config, relative to its parent", sub.clone(), base.clone()));
        check(&mut cases);
        std::fs::create_dir_all(root.join(".cargo")).unwrap();
        std::fs::write(root.join(".cargo/config.toml"), "build.target-dir = \"from-root\"\n").unwrap();
        cases.push(("the root's config over CARGO_HOME's", sub.clone(), base.clone()));
        check(&mut cases);
        std::fs::create_dir_all(root.join("xtask/.cargo")).unwrap();
        std::fs::write(root.join("xtask/.cargo/config.toml"), "[build]\ntarget-dir = \"../from-member\"\n").unwrap();
        cases.push(("the nearest config first", sub.clone(), base.clone()));
        cases.push(("only the current folder's parents count", root.clone(), base.clone()));
        cases.push(("the environment over every file", sub.clone(), with(&[("CARGO_BUILD_TARGET_DIR", "t3")])));
        check(&mut cases);
    }

    #[test]
    fn what_the_reader_does_not_decide_goes_to_cargo() {
        let tmp = scratch_workspace("");
        let root = tmp.path().join("ws");
        let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
        let env = |_: &str| None;
        for (edit, why) in [
            (manifest.replace("[\"xtask\"]", "[\"x*\"]"), "glob"),
            (format!("{manifest}[workspace.x\n"), "Cargo.toml"),
            (manifest.replace("members", "exclude = [\"y\"]\nmembers"), "exclude"),
        ] {
            std::fs::write(root.join("Cargo.toml"), &edit).unwrap();
            match read(&root, &root, &env) {
                Read::AskCargo(reason) => assert!(reason.contains(why), "{reason}"),
                other => panic!("{why}: {other:?}"),
            }
        }
        std::fs::write(root.join("Cargo.toml"), manifest.replace("members = [\"xtask\"]", "members = []")).unwrap();
        assert!(matches!(read(&root, &root, &env), Read::NotArchway));
        assert!(matches!(read(tmp.path(), tmp.path(), &env), Read::NotArchway), "no Cargo.toml above");
    }
}
