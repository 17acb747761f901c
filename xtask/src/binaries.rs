//! The native binaries of the repository: every `binary.toml` under `module/`, `handlers/*/` and
//! `tests/*/`, read and checked against the files they name.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use toml::Spanned;

use crate::config;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Dll,
    Exe,
}

impl Kind {
    pub fn extension(self) -> &'static str {
        match self {
            Kind::Dll => "dll",
            Kind::Exe => "exe",
        }
    }
}

/// One native binary, with every path resolved against the repository root.
#[derive(Clone, Debug)]
pub struct Binary {
    /// File name stem; outputs are `<name>_<arch>.<ext>`.
    pub name: String,
    pub kind: Kind,
    pub description: String,
    /// The folder holding `binary.toml`.
    pub dir: PathBuf,
    pub sources: Vec<PathBuf>,
    pub def: Option<PathBuf>,
    pub entry: String,
    /// Import `.def` files in `native/imports/`, one per system DLL.
    pub imports: Vec<PathBuf>,
    /// Exported names, from the `.def` file.
    pub exports: Vec<String>,
}

impl Binary {
    pub fn file_name(&self, arch: crate::matrix::Arch) -> String {
        output_name(&self.name, arch, self.kind)
    }

    /// DLL names the binary may import from, e.g. `kernel32.dll`.
    pub fn allowed_imports(&self) -> Vec<String> {
        self.imports.iter().map(|p| format!("{}.dll", p.file_stem().unwrap().to_string_lossy())).collect()
    }
}

/// `<name>_<arch>.<ext>`: the file a binary is built into, e.g. `archway_arm64.dll`.
pub fn output_name(name: &str, arch: crate::matrix::Arch, kind: Kind) -> String {
    format!("{name}_{}.{}", arch.name(), kind.extension())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBinary {
    name: Spanned<String>,
    kind: Kind,
    description: Spanned<String>,
    sources: Vec<Spanned<String>>,
    def: Option<Spanned<String>>,
    entry: Option<String>,
    imports: Vec<Spanned<String>>,
}

/// Every `binary.toml` of the repository, sorted by name.
pub fn discover(root: &Path) -> Result<Vec<Binary>> {
    let mut manifests = vec![root.join("module/binary.toml")];
    for group in ["handlers", "tests"] {
        let dir = root.join(group);
        let entries = std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))?;
        for entry in entries {
            let manifest = entry?.path().join("binary.toml");
            if manifest.is_file() {
                manifests.push(manifest);
            }
        }
    }
    let mut binaries = manifests.iter().map(|m| load(root, m)).collect::<Result<Vec<_>>>()?;
    binaries.sort_by(|a, b| a.name.cmp(&b.name));
    for pair in binaries.windows(2) {
        if pair[0].name == pair[1].name {
            bail!("two binaries are named `{}`: {} and {}", pair[0].name, pair[0].dir.display(), pair[1].dir.display());
        }
    }
    Ok(binaries)
}

fn load(root: &Path, manifest: &Path) -> Result<Binary> {
    let doc = config::load::<RawBinary>(manifest)?;
    let raw = &doc.value;
    let dir = manifest.parent().unwrap().to_path_buf();
    let name = raw.name.get_ref();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
        return Err(
            doc.error_at(raw.name.span(), format!("name `{name}` must be lowercase ASCII letters, digits and `_`"))
        );
    }
    crate::forwarders::spec::check_description(raw.description.get_ref())
        .map_err(|e| doc.error_at(raw.description.span(), e))?;
    let existing = |rel: &Spanned<String>, base: &Path, what: &str| -> Result<PathBuf> {
        let path = base.join(rel.get_ref());
        if !path.is_file() {
            return Err(
                doc.error_at(rel.span(), format!("{what} `{}` does not exist ({})", rel.get_ref(), path.display()))
            );
        }
        Ok(path)
    };
    // A source listed twice would compile to the same object twice; say where, briefly.
    let mut seen = std::collections::HashMap::new();
    for source in &raw.sources {
        if let Some(first) = seen.insert(source.get_ref().as_str(), source.span().start) {
            let first = config::location(&doc.path, &doc.text, first);
            return Err(doc.error_at(
                source.span(),
                format!("source file `{}` is listed twice; the first is at {first}", source.get_ref()),
            ));
        }
    }
    let sources = raw.sources.iter().map(|s| existing(s, &dir, "source file")).collect::<Result<Vec<_>>>()?;
    if sources.is_empty() {
        bail!("{}: `sources` is empty", manifest.display());
    }
    let imports_dir = root.join("native/imports");
    let imports = raw
        .imports
        .iter()
        .map(|i| {
            let file = Spanned::new(i.span(), format!("{}.def", i.get_ref()));
            existing(&file, &imports_dir, "import definition")
        })
        .collect::<Result<Vec<_>>>()?;
    let (def, exports) = match (&raw.def, raw.kind) {
        (Some(def), _) => {
            let path = existing(def, &dir, "module-definition file")?;
            let exports = crate::build::def::parse_exports(&path)?;
            (Some(path), exports)
        }
        (None, Kind::Dll) => bail!("{}: a DLL needs `def = \"<file>.def\"` listing its exports", manifest.display()),
        (None, Kind::Exe) => (None, Vec::new()),
    };
    let entry = match (&raw.entry, raw.kind) {
        (Some(e), _) => e.clone(),
        (None, Kind::Dll) => "DllMain".to_string(),
        (None, Kind::Exe) => bail!("{}: an EXE needs `entry = \"<function>\"`", manifest.display()),
    };
    Ok(Binary {
        name: name.clone(),
        kind: raw.kind,
        description: raw.description.get_ref().clone(),
        dir,
        sources,
        def,
        entry,
        imports,
        exports,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repository_binaries_load() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let bins = discover(root).unwrap();
        let names: Vec<_> = bins.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "archway",
                "archway_backend",
                "archway_diagnostics",
                "archway_platform",
                "archway_probe",
                "archway_worker"
            ]
        );
        let shim = &bins[0];
        assert_eq!(shim.exports, ["RegisterModule"]);
        assert_eq!(shim.allowed_imports(), ["kernel32.dll", "oleaut32.dll"]);
        assert_eq!(shim.file_name(crate::matrix::Arch::Arm64Ec), "archway_arm64ec.dll");
    }

    #[test]
    fn a_missing_source_names_the_manifest_line() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("module")).unwrap();
        std::fs::create_dir_all(root.path().join("native/imports")).unwrap();
        std::fs::write(
            root.path().join("module/binary.toml"),
            "name = \"archway\"\nkind = \"dll\"\ndescription = \"d\"\nsources = [\n  \"src/gone.cpp\",\n]\n\
             def = \"a.def\"\nimports = []\n",
        )
        .unwrap();
        let err = load(root.path(), &root.path().join("module/binary.toml")).unwrap_err().to_string();
        assert!(err.contains("binary.toml:5:3: source file `src/gone.cpp` does not exist"), "{err}");
    }

    #[test]
    fn a_description_too_long_for_versioninfo_names_the_manifest_line() {
        // Issue 9: the limit surfaced after linking, on the DLL; now it is the manifest's line.
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("module")).unwrap();
        let text = format!(
            "name = \"archway\"\nkind = \"dll\"\ndescription = \"{}\"\nsources = []\nimports = []\n",
            "d".repeat(33_000)
        );
        std::fs::write(root.path().join("module/binary.toml"), text).unwrap();
        let err = load(root.path(), &root.path().join("module/binary.toml")).unwrap_err().to_string();
        assert!(err.contains("binary.toml:3:15: `description` is 33000 UTF-16 units long"), "{err}");
    }

    #[test]
    fn a_source_listed_many_times_is_one_short_error_at_its_line() {
        // Issue 9: 100,000 entries failed later with the whole command line in the message.
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("module/src")).unwrap();
        std::fs::write(root.path().join("module/src/a.cpp"), "// a\n").unwrap();
        let list = vec!["\"src/a.cpp\""; 100_000].join(",\n");
        let text =
            format!("name = \"archway\"\nkind = \"dll\"\ndescription = \"d\"\nsources = [\n{list}\n]\nimports = []\n");
        std::fs::write(root.path().join("module/binary.toml"), text).unwrap();
        let err = load(root.path(), &root.path().join("module/binary.toml")).unwrap_err().to_string();
        assert!(err.contains("binary.toml:6:1: source file `src/a.cpp` is listed twice; the first is at"), "{err}");
        assert!(err.len() < 300, "{err}");
    }
}
