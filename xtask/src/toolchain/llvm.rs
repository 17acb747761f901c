//! Finding LLVM tools on any host: explicit folders, `PATH` (including versioned names such as
//! `clang-cl-19`), `/usr/lib/llvm-*/bin`, `%ProgramFiles%\LLVM\bin`, and the provisioned venv.
//! Every candidate is asked its version (and, for compilers, its code generators); the caller
//! picks among them.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
};

use super::{Version, probe::Prober};

/// The LLVM tools archway drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LlvmTool {
    ClangCl,
    Clang,
    LldLink,
    LlvmRc,
    LlvmDlltool,
    LlvmReadobj,
}

impl LlvmTool {
    pub const ALL: [LlvmTool; 6] = [
        LlvmTool::ClangCl,
        LlvmTool::Clang,
        LlvmTool::LldLink,
        LlvmTool::LlvmRc,
        LlvmTool::LlvmDlltool,
        LlvmTool::LlvmReadobj,
    ];

    pub fn base_name(self) -> &'static str {
        match self {
            LlvmTool::ClangCl => "clang-cl",
            LlvmTool::Clang => "clang",
            LlvmTool::LldLink => "lld-link",
            LlvmTool::LlvmRc => "llvm-rc",
            LlvmTool::LlvmDlltool => "llvm-dlltool",
            LlvmTool::LlvmReadobj => "llvm-readobj",
        }
    }

    /// Tools whose own `--version` says nothing useful take the version of their folder.
    fn reports_version(self) -> bool {
        matches!(self, LlvmTool::ClangCl | LlvmTool::Clang | LlvmTool::LldLink | LlvmTool::LlvmReadobj)
    }
}

/// Where a folder of candidates came from, for `doctor` and error messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// `ARCHWAY_LLVM_DIR`.
    Explicit,
    Path,
    /// A distribution's versioned install (`/usr/lib/llvm-19/bin`) or the LLVM installer's folder.
    System,
    /// `cargo xtask toolchain install`.
    Provisioned,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Origin::Explicit => "ARCHWAY_LLVM_DIR",
            Origin::Path => "PATH",
            Origin::System => "system LLVM",
            Origin::Provisioned => "provisioned",
        })
    }
}

/// One usable tool file.
#[derive(Clone, Debug)]
pub struct Found {
    pub tool: LlvmTool,
    pub path: PathBuf,
    pub version: Version,
    /// The first line the tool printed about itself.
    pub banner: String,
    pub origin: Origin,
    /// For compilers: the registered code generators (`x86`, `x86-64`, `aarch64`, …).
    pub targets: Vec<String>,
}

impl Found {
    pub fn has_backend(&self, name: &str) -> bool {
        self.targets.iter().any(|t| t == name)
    }
}

/// The folders to search, in priority order, without duplicates.
pub fn search_dirs(
    explicit: Option<&str>,
    path_var: Option<&str>,
    provisioned: Option<&Path>,
) -> Vec<(PathBuf, Origin)> {
    let mut dirs = Vec::new();
    let split = |v: &str| std::env::split_paths(v).collect::<Vec<_>>();
    dirs.extend(explicit.map(split).unwrap_or_default().into_iter().map(|d| (d, Origin::Explicit)));
    dirs.extend(path_var.map(split).unwrap_or_default().into_iter().map(|d| (d, Origin::Path)));
    if cfg!(unix) {
        let mut system: Vec<_> = std::fs::read_dir("/usr/lib")
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("llvm-")))
            .map(|p| p.join("bin"))
            .collect();
        system.sort();
        dirs.extend(system.into_iter().rev().map(|d| (d, Origin::System)));
    }
    if let Some(pf) = std::env::var_os("ProgramFiles") {
        dirs.push((PathBuf::from(pf).join("LLVM").join("bin"), Origin::System));
    }
    if let Some(p) = provisioned {
        dirs.push((p.to_path_buf(), Origin::Provisioned));
    }
    let mut seen = BTreeSet::new();
    dirs.retain(|(d, _)| seen.insert(d.clone()));
    dirs
}

/// Whether `file_name` is `base`, `base-NN`, optionally with `.exe`.
pub fn matches_name(file_name: &str, base: &str) -> bool {
    let stem = file_name.strip_suffix(".exe").unwrap_or(file_name);
    match stem.strip_prefix(base) {
        Some("") => true,
        Some(rest) => rest.strip_prefix('-').is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit())),
        None => false,
    }
}

/// Every usable copy of every tool in `dirs`; the same file reached twice (a symlink on `PATH`
/// and its target) is listed once, under the first origin that reached it.
pub fn inventory(dirs: &[(PathBuf, Origin)], prober: &mut Prober) -> Vec<Found> {
    let mut seen = BTreeSet::new();
    let mut found = Vec::new();
    for (dir, origin) in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else { continue };
        let mut names: Vec<String> = entries.flatten().filter_map(|e| e.file_name().into_string().ok()).collect();
        names.sort();
        for name in names {
            let Some(tool) = LlvmTool::ALL.into_iter().find(|t| matches_name(&name, t.base_name())) else { continue };
            let path = dir.join(&name);
            let Ok(canonical) = std::fs::canonicalize(&path) else { continue };
            // `clang` and `clang-cl` may be one binary behind two names: key on both.
            if !seen.insert((tool, canonical.clone())) {
                continue;
            }
            if let Some(f) = describe(tool, &path, &canonical, origin.clone(), prober) {
                found.push(f);
            }
        }
    }
    found
}

fn describe(tool: LlvmTool, path: &Path, canonical: &Path, origin: Origin, prober: &mut Prober) -> Option<Found> {
    let (version, banner) = if tool.reports_version() {
        let out = prober.ask(path, &["--version"])?;
        let banner = out.lines().next().unwrap_or("").trim().to_string();
        (Version::from_banner(&out)?, banner)
    } else {
        let version = folder_version(canonical, prober)?;
        (version, format!("{} (LLVM {version}, from its folder)", tool.base_name()))
    };
    let targets = match tool {
        LlvmTool::ClangCl | LlvmTool::Clang => registered_targets(&prober.ask(path, &["--print-targets"])?),
        _ => Vec::new(),
    };
    Some(Found { tool, path: path.to_path_buf(), version, banner, origin, targets })
}

/// The LLVM version of the folder a tool lives in: `llvm-config --version` there, or a
/// `llvm-NN` folder name, or the version a sibling `clang`/`lld` reports.
fn folder_version(canonical: &Path, prober: &mut Prober) -> Option<Version> {
    let dir = canonical.parent()?;
    let exe = if cfg!(windows) { ".exe" } else { "" };
    for sibling in ["llvm-config", "clang", "lld-link", "lld"] {
        let candidate = dir.join(format!("{sibling}{exe}"));
        if candidate.is_file()
            && let Some(v) = prober.ask(&candidate, &["--version"]).and_then(|o| Version::from_banner(&o))
        {
            return Some(v);
        }
    }
    let parent = dir.parent()?.file_name()?.to_str()?;
    let major = parent.strip_prefix("llvm-")?.parse().ok()?;
    Some(Version { major, minor: 0, patch: 0 })
}

/// A `clang` with no `clang-cl` beside it is still a clang-cl: clang chooses its driver mode from
/// the name it is started under (`--driver-mode=cl` is the same switch spelled out). Debian, for
/// one, ships `clang-cl-19` in `clang-tools-19`, apart from `clang-19`. For each such clang this
/// adds a `clang-cl` found at a link named `clang-cl` in `link_dir` (the `cc` crate and every
/// compile step then see an ordinary clang-cl); without a `link_dir`, or where links cannot be
/// made (Windows, whose LLVM installer always ships clang-cl.exe), nothing is added.
pub fn clang_as_clang_cl(found: &mut Vec<Found>, link_dir: Option<&Path>) {
    let Some(link_dir) = link_dir else { return };
    let has_cl = |found: &[Found], clang: &Found| {
        found.iter().any(|f| f.tool == LlvmTool::ClangCl && f.version == clang.version && f.targets == clang.targets)
    };
    let orphans: Vec<Found> =
        found.iter().filter(|f| f.tool == LlvmTool::Clang && !has_cl(found, f)).cloned().collect();
    for clang in orphans {
        if has_cl(found, &clang) {
            continue; // an earlier orphan of the same version was linked already
        }
        let Ok(target) = std::fs::canonicalize(&clang.path) else { continue };
        let dir =
            link_dir.join(format!("clang-{}-{:016x}", clang.version, fnv1a(target.as_os_str().as_encoded_bytes())));
        let link = dir.join("clang-cl");
        if !link_points_to(&link, &target) && make_link(&dir, &link, &target).is_err() {
            continue;
        }
        found.push(Found {
            tool: LlvmTool::ClangCl,
            path: link,
            banner: format!("{} (as clang-cl: --driver-mode=cl)", clang.banner),
            ..clang
        });
    }
}

fn link_points_to(link: &Path, target: &Path) -> bool {
    std::fs::read_link(link).is_ok_and(|t| t == target)
}

#[cfg(unix)]
fn make_link(dir: &Path, link: &Path, target: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    // Replace whatever is there (a stale link to a removed clang) through a rename, so two
    // processes making the same link never see a half-made one.
    let tmp = dir.join(format!(".clang-cl.{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)?;
    std::fs::rename(&tmp, link)
}

#[cfg(not(unix))]
fn make_link(_: &Path, _: &Path, _: &Path) -> std::io::Result<()> {
    Err(std::io::ErrorKind::Unsupported.into())
}

/// A stable 64-bit hash for naming a folder after a path.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// The names under "Registered Targets:" in `clang --print-targets`.
pub fn registered_targets(output: &str) -> Vec<String> {
    output
        .lines()
        .skip_while(|l| !l.contains("Registered Targets"))
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versioned_names_match_and_others_do_not() {
        assert!(matches_name("clang-cl", "clang-cl"));
        assert!(matches_name("clang-cl-19", "clang-cl"));
        assert!(matches_name("lld-link.exe", "lld-link"));
        assert!(!matches_name("clang-cl-19.bak", "clang-cl"));
        assert!(!matches_name("clang-cpp-19", "clang"));
        assert!(!matches_name("clang-", "clang"));
    }

    #[test]
    fn targets_are_read_from_print_targets() {
        let out = "\n  Registered Targets:\n    aarch64     - AArch64 (little endian)\n    x86-64 - 64-bit X86\n";
        assert_eq!(registered_targets(out), ["aarch64", "x86-64"]);
    }

    // Shell-script stand-ins and symlinks: a Unix test of logic that is the same everywhere.
    #[cfg(unix)]
    #[test]
    fn inventory_finds_versioned_tools_and_folds_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("llvm-42/bin");
        std::fs::create_dir_all(&bin).unwrap();
        let script = |name: &str, body: &str| {
            let p = bin.join(name);
            std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        };
        script(
            "clang-cl",
            "case $1 in --version) echo 'clang version 42.1.0';; *) printf 'Registered Targets:\\n  x86 - X86\\n';; esac",
        );
        script("llvm-rc", "exit 1");
        let on_path = dir.path().join("path");
        std::fs::create_dir_all(&on_path).unwrap();
        std::os::unix::fs::symlink(bin.join("clang-cl"), on_path.join("clang-cl-42")).unwrap();
        let dirs = vec![(on_path, Origin::Path), (bin.clone(), Origin::System)];
        let found = inventory(&dirs, &mut Prober::new(None));
        let clang: Vec<_> = found.iter().filter(|f| f.tool == LlvmTool::ClangCl).collect();
        assert_eq!(clang.len(), 1, "{found:?}");
        assert_eq!(clang[0].origin, Origin::Path);
        assert_eq!(clang[0].version, Version { major: 42, minor: 1, patch: 0 });
        assert!(clang[0].has_backend("x86"));
        let rc = found.iter().find(|f| f.tool == LlvmTool::LlvmRc).unwrap();
        assert_eq!(rc.version.major, 42, "llvm-rc takes its version from the llvm-42 folder");
    }

    /// A fresh Debian with clang-19 but not clang-tools-19: no clang-cl file anywhere.
    #[cfg(unix)]
    #[test]
    fn a_clang_without_clang_cl_is_used_as_clang_cl_through_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("llvm-42/bin");
        std::fs::create_dir_all(&bin).unwrap();
        // Prints the name it was started under, as clang's driver decides its mode from it.
        let clang = bin.join("clang");
        std::fs::write(&clang, "#!/bin/sh\ncase $1 in --version) echo 'clang version 42.1.0';; --print-targets) printf 'Registered Targets:\\n  aarch64 - AArch64\\n';; *) basename \"$0\";; esac\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&clang, std::fs::Permissions::from_mode(0o755)).unwrap();
        let links = dir.path().join("links");
        let mut found = inventory(&[(bin.clone(), Origin::System)], &mut Prober::new(None));
        assert!(!found.iter().any(|f| f.tool == LlvmTool::ClangCl));
        clang_as_clang_cl(&mut found, Some(&links));
        let cl: Vec<_> = found.iter().filter(|f| f.tool == LlvmTool::ClangCl).collect();
        assert_eq!(cl.len(), 1, "{found:?}");
        assert_eq!(cl[0].path.file_name().unwrap(), "clang-cl");
        assert_eq!(std::fs::read_link(&cl[0].path).unwrap(), std::fs::canonicalize(&clang).unwrap());
        assert!(cl[0].has_backend("aarch64") && cl[0].version.major == 42);
        let out = std::process::Command::new(&cl[0].path).arg("/c").output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "clang-cl", "started under the clang-cl name");
        // Again: the same link is reused, and a real clang-cl makes the link unnecessary.
        clang_as_clang_cl(&mut found, Some(&links));
        assert_eq!(found.iter().filter(|f| f.tool == LlvmTool::ClangCl).count(), 1);
        let mut with_cl = inventory(&[(bin, Origin::System)], &mut Prober::new(None));
        with_cl.push(Found { tool: LlvmTool::ClangCl, ..with_cl[0].clone() });
        clang_as_clang_cl(&mut with_cl, Some(&dir.path().join("unused")));
        assert!(!dir.path().join("unused").exists());
    }
}
