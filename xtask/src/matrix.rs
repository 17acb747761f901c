//! The architecture matrix: `matrix.toml` read into `Arch` values and the per-tool names of each.

use std::{fmt, path::Path, str::FromStr};

use anyhow::{Result, bail};
use serde::Deserialize;
use toml::Spanned;

use crate::config;

pub mod machine;

/// A Windows architecture archway builds for. What each one means for code generation lives
/// here; how each tool spells it lives in `matrix.toml`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    X86,
    X64,
    Arm64,
    Arm64Ec,
}

impl Arch {
    pub const ALL: [Arch; 4] = [Arch::X86, Arch::X64, Arch::Arm64, Arch::Arm64Ec];

    pub fn name(self) -> &'static str {
        match self {
            Arch::X86 => "x86",
            Arch::X64 => "x64",
            Arch::Arm64 => "arm64",
            Arch::Arm64Ec => "arm64ec",
        }
    }

    pub fn is_64bit(self) -> bool {
        self != Arch::X86
    }

    /// Whether the compiler's AArch64 code generator is needed.
    pub fn needs_aarch64_backend(self) -> bool {
        matches!(self, Arch::Arm64 | Arch::Arm64Ec)
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Arch {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Arch> {
        Arch::ALL.into_iter().find(|a| a.name() == s).ok_or_else(|| {
            let known: Vec<_> = Arch::ALL.iter().map(|a| a.name()).collect();
            anyhow::anyhow!("unknown architecture `{s}`; known: {}", known.join(", "))
        })
    }
}

/// How the tools name one architecture (see the comment at the top of `matrix.toml`).
#[derive(Clone, Debug)]
pub struct ArchSpec {
    pub arch: Arch,
    pub clang_target: String,
    pub link_machine: String,
    pub dlltool_machine: String,
}

#[derive(Clone, Debug)]
pub struct Matrix {
    pub archs: Vec<ArchSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMatrix {
    arch: Vec<RawArch>,
    /// Read by `cargo xtask ci`.
    #[serde(default, rename = "ci")]
    _ci: Option<toml::Value>,
    /// Read by `cargo xtask dist`.
    #[serde(default, rename = "package")]
    _package: Option<toml::Value>,
    /// Read by `cargo xtask pools`.
    #[serde(default, rename = "pool")]
    _pool: Option<toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawArch {
    name: Spanned<String>,
    clang_target: String,
    msvc_target: Spanned<String>,
    link_machine: String,
    dlltool_machine: String,
}

impl Matrix {
    pub fn load(path: &Path) -> Result<Matrix> {
        let doc = config::load::<RawMatrix>(path)?;
        let mut archs = Vec::new();
        for raw in &doc.value.arch {
            let arch: Arch = raw.name.get_ref().parse().map_err(|e| doc.error_at(raw.name.span(), e))?;
            // The MSVC folder is a Visual Studio fact; the code that finds the tools knows it, and
            // the matrix may not disagree. (The PE machine, a file-format fact, is not a tool's
            // name for the architecture: it lives in `machine::of` alone.)
            let folder = crate::toolchain::msvc::target_folder(arch);
            if raw.msvc_target.get_ref() != folder {
                return Err(doc.error_at(
                    raw.msvc_target.span(),
                    format!("MSVC builds {arch} with its `{folder}` tools, not `{}`", raw.msvc_target.get_ref()),
                ));
            }
            if archs.iter().any(|s: &ArchSpec| s.arch == arch) {
                return Err(doc.error_at(raw.name.span(), format!("`{arch}` is listed twice")));
            }
            archs.push(ArchSpec {
                arch,
                clang_target: raw.clang_target.clone(),
                link_machine: raw.link_machine.clone(),
                dlltool_machine: raw.dlltool_machine.clone(),
            });
        }
        if archs.is_empty() {
            bail!("{}: no [[arch]] entries", path.display());
        }
        archs.sort_by_key(|s| s.arch);
        Ok(Matrix { archs })
    }

    pub fn spec(&self, arch: Arch) -> &ArchSpec {
        self.archs.iter().find(|s| s.arch == arch).expect("selection is checked against the matrix")
    }

    /// The architectures named on the command line (all of the matrix when none are), each
    /// checked against the matrix.
    pub fn select(&self, names: &[String]) -> Result<Vec<Arch>> {
        if names.is_empty() {
            return Ok(self.archs.iter().map(|s| s.arch).collect());
        }
        let mut out = Vec::new();
        for name in names.iter().flat_map(|n| n.split(',')) {
            let arch: Arch = name.trim().parse()?;
            if !self.archs.iter().any(|s| s.arch == arch) {
                bail!("architecture `{arch}` is not in matrix.toml");
            }
            if !out.contains(&arch) {
                out.push(arch);
            }
        }
        out.sort();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("matrix.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn the_repository_matrix_names_every_arch_once() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let m = Matrix::load(&root.join("matrix.toml")).unwrap();
        let names: Vec<_> = m.archs.iter().map(|s| s.arch).collect();
        assert_eq!(names, Arch::ALL);
        assert_eq!(m.spec(Arch::Arm64Ec).link_machine, "arm64ec");
    }

    #[test]
    fn a_pe_machine_field_is_refused_at_its_line() {
        // The PE machine lives in `machine::of`; a matrix that states it again is refused.
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let text = std::fs::read_to_string(root.join("matrix.toml")).unwrap().replacen(
            "dlltool_machine = \"arm64\"\n",
            "dlltool_machine = \"arm64\"\npe_machine = 0xaa64\n",
            1,
        );
        let line = text.lines().position(|l| l.starts_with("pe_machine")).unwrap() + 1;
        let (_d, path) = write(&text);
        let msg = Matrix::load(&path).unwrap_err().to_string();
        assert!(msg.contains(&format!("matrix.toml:{line}:")) && msg.contains("pe_machine"), "{msg}");
    }

    #[test]
    fn an_unknown_arch_name_points_at_its_line() {
        let (_d, path) = write(
            "[[arch]]\nname = \"mips\"\nclang_target = \"a\"\nmsvc_target = \"b\"\n\
             link_machine = \"c\"\ndlltool_machine = \"d\"\n",
        );
        let msg = Matrix::load(&path).unwrap_err().to_string();
        assert!(msg.contains("matrix.toml:2:8") && msg.contains("unknown architecture `mips`"), "{msg}");
    }

    #[test]
    fn selection_rejects_unknown_names_and_accepts_commas() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let m = Matrix::load(&root.join("matrix.toml")).unwrap();
        assert_eq!(m.select(&["arm64,x86".into()]).unwrap(), vec![Arch::X86, Arch::Arm64]);
        let msg = m.select(&["sparc".into()]).unwrap_err().to_string();
        assert!(msg.contains("unknown architecture `sparc`"), "{msg}");
    }
}
