//! `forwarders/*.toml`: one file per Arm64X forwarder DLL, read and checked on its own (names,
//! ordinals, file name), every mistake reported with its file, line and column.
//!
//! ```toml
//! file = "archway.dll"        # the forwarder's file name
//! binary = "archway"          # targets: archway_arm64.dll (native view), archway_x64.dll (EC view)
//! ec = "x64"                  # or "arm64ec": native speed inside an emulated x64 worker
//! version-from = "ec"         # or "native": whose VERSIONINFO the forwarder copies
//! description = "Archway IIS module"
//!
//! [[export]]
//! name = "RegisterModule"     # optional: ordinal = 5, data = true, noname = true
//! ```

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result};
use serde::Deserialize;
use toml::Spanned;

use super::exports::Requested;
use crate::{config, matrix::Arch};

/// Which build the EC view (x64 and ARM64EC processes) forwards to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EcTarget {
    #[default]
    X64,
    Arm64Ec,
}

impl EcTarget {
    pub fn arch(self) -> Arch {
        match self {
            EcTarget::X64 => Arch::X64,
            EcTarget::Arm64Ec => Arch::Arm64Ec,
        }
    }
}

/// Whose VERSIONINFO the forwarder carries; by default the EC target's, so an MSI compares the
/// forwarder with the x64 DLL it replaces as it compared that DLL before (docs/msi.md §2.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VersionFrom {
    #[default]
    Ec,
    Native,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawSpec {
    file: Spanned<String>,
    binary: Spanned<String>,
    #[serde(default)]
    ec: EcTarget,
    #[serde(default)]
    version_from: VersionFrom,
    description: Option<Spanned<String>>,
    #[serde(rename = "export")]
    exports: Spanned<Vec<RawExport>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExport {
    name: Spanned<String>,
    ordinal: Option<Spanned<u16>>,
    #[serde(default)]
    data: bool,
    #[serde(default)]
    noname: bool,
}

/// One forwarder, as its spec file describes it.
#[derive(Clone, Debug)]
pub struct Spec {
    pub path: PathBuf,
    /// The forwarder's file name, e.g. `archway.dll`.
    pub file: String,
    /// The binary (a `binary.toml` name) whose builds are the targets.
    pub binary: String,
    pub ec: EcTarget,
    pub version_from: VersionFrom,
    pub description: Option<String>,
    pub exports: Vec<Requested>,
    /// `file:line:col` of each export's name, for errors found later against the targets.
    pub export_locations: Vec<String>,
    /// `file:line:col` of the `binary` value.
    pub binary_location: String,
}

/// Every `forwarders/*.toml`, sorted by file name; paths (in `Spec::path` and every message)
/// are relative to `root`.
pub fn discover(root: &Path) -> Result<Vec<Spec>> {
    let dir = root.join("forwarders");
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry?.path();
        if let Some(name) = path.file_name().filter(|_| path.extension().is_some_and(|e| e == "toml")) {
            paths.push(Path::new("forwarders").join(name));
        }
    }
    paths.sort();
    let specs = paths.iter().map(|p| parse(config::load_in(root, p)?)).collect::<Result<Vec<Spec>>>()?;
    let mut seen: HashMap<String, &Path> = HashMap::new();
    for spec in &specs {
        if let Some(other) = seen.insert(spec.file.to_ascii_lowercase(), &spec.path) {
            anyhow::bail!(
                "{} and {} both write {}; give each forwarder its own file name",
                other.display(),
                spec.path.display(),
                spec.file
            );
        }
    }
    Ok(specs)
}

fn parse(doc: config::Document<RawSpec>) -> Result<Spec> {
    let raw = &doc.value;
    let lines = config::Lines::new(&doc.text);
    let at = |span: std::ops::Range<usize>| lines.location(&doc.path, &doc.text, span.start);
    let file = raw.file.get_ref();
    let lower = file.to_ascii_lowercase();
    if !file.is_ascii() || file.contains(['/', '\\', ':']) || !lower.ends_with(".dll") || lower.len() == 4 {
        return Err(doc.error_at(
            raw.file.span(),
            format!("`file = {file:?}` must be a plain ASCII file name ending in .dll, e.g. \"archway.dll\""),
        ));
    }
    let binary = raw.binary.get_ref();
    if !is_export_name(binary) {
        return Err(doc.error_at(
            raw.binary.span(),
            format!("`binary = {binary:?}` must name a binary.toml `name`, e.g. \"archway\""),
        ));
    }
    if let Some(description) = &raw.description {
        check_description(description.get_ref()).map_err(|e| doc.error_at(description.span(), e))?;
    }
    if raw.exports.get_ref().is_empty() {
        return Err(doc.error_at(raw.exports.span(), "a forwarder needs at least one [[export]]"));
    }
    let mut names: HashMap<&str, usize> = HashMap::new();
    let mut ordinals: HashMap<u16, usize> = HashMap::new();
    let mut exports = Vec::new();
    let mut export_locations = Vec::new();
    for export in raw.exports.get_ref() {
        let name = export.name.get_ref();
        let here = export.name.span();
        if !is_export_name(name) {
            return Err(doc.error_at(
                here,
                format!(
                    "export name {name:?} must be non-empty printable ASCII without spaces or dots \
                 (the loader reads `dll.name` up to the dot; export tables hold bytes, not Unicode)"
                ),
            ));
        }
        if name.starts_with('#') || name.contains("$$h") {
            return Err(doc.error_at(
                here,
                format!(
                    "export name {name:?} looks ARM64EC-mangled (`#name` or `$$h`); lld-link and the loader treat such \
                 names specially in the EC view, so export the plain name"
                ),
            ));
        }
        if let Some(first) = names.insert(name, here.start) {
            return Err(
                doc.error_at(here, format!("export `{name}` is listed twice; the first is at {}", at(first..first)))
            );
        }
        if export.noname && export.ordinal.is_none() {
            return Err(doc.error_at(
                here,
                format!(
                    "export `{name}` is `noname` but has no `ordinal`: an ordinal-only export is found by its number, \
                 so give it a fixed one (lld-link's .def grammar requires the same)"
                ),
            ));
        }
        if let Some(ordinal) = &export.ordinal {
            let value = *ordinal.get_ref();
            if value == 0 {
                return Err(doc.error_at(ordinal.span(), "ordinals start at 1"));
            }
            if let Some(first) = ordinals.insert(value, ordinal.span().start) {
                return Err(doc.error_at(
                    ordinal.span(),
                    format!("ordinal {value} is used twice; the first is at {}", at(first..first)),
                ));
            }
        }
        exports.push(Requested {
            name: name.clone(),
            ordinal: export.ordinal.as_ref().map(|o| *o.get_ref()),
            noname: export.noname,
            data: export.data,
        });
        export_locations.push(at(here));
    }
    // Unnumbered exports are numbered after the highest explicit ordinal (§5); they must fit.
    let highest = exports.iter().filter_map(|e| e.ordinal).max().unwrap_or(0);
    let unnumbered = exports.iter().filter(|e| e.ordinal.is_none()).count();
    if usize::from(highest) + unnumbered > usize::from(u16::MAX) {
        return Err(doc.error_at(
            raw.exports.span(),
            format!("{unnumbered} exports without an ordinal do not fit after ordinal {highest}"),
        ));
    }
    Ok(Spec {
        file: file.clone(),
        binary: binary.clone(),
        ec: raw.ec,
        version_from: raw.version_from,
        description: raw.description.as_ref().map(|d| d.get_ref().clone()),
        exports,
        export_locations,
        binary_location: at(raw.binary.span()),
        path: doc.path,
    })
}

/// A FileDescription that fits VERSIONINFO (shared with `binary.toml`): at most
/// [`MAX_DESCRIPTION`](super::versioninfo::MAX_DESCRIPTION) UTF-16 units, no NUL (the string ends
/// at the first one).
pub fn check_description(text: &str) -> std::result::Result<(), String> {
    let units = text.encode_utf16().count();
    let max = super::versioninfo::MAX_DESCRIPTION;
    if units > max {
        return Err(format!("`description` is {units} UTF-16 units long; a VERSIONINFO string may have at most {max}"));
    }
    if text.contains('\0') {
        return Err("`description` contains a NUL character, which would end the VERSIONINFO string".into());
    }
    Ok(())
}

/// Printable ASCII, no space, no dot.
fn is_export_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && b != b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> Result<Spec> {
        let path = Path::new("forwarders/x.toml");
        let value = config::parse::<RawSpec>(path, text)?;
        parse(config::Document { path: path.to_path_buf(), text: text.to_string(), value })
    }

    const GOOD: &str = "file = \"m.dll\"\nbinary = \"m\"\n[[export]]\nname = \"A\"\n";

    #[test]
    fn a_minimal_spec_takes_the_defaults() {
        let spec = parse_text(GOOD).unwrap();
        assert_eq!((spec.ec, spec.version_from), (EcTarget::X64, VersionFrom::Ec));
        assert_eq!(spec.exports[0].name, "A");
        assert_eq!(spec.export_locations[0], "forwarders/x.toml:4:8");
    }

    #[test]
    fn each_mistake_names_its_line() {
        let cases = [
            (
                format!("{GOOD}[[export]]\nname = \"A\"\n"),
                "forwarders/x.toml:6:8: export `A` is listed twice; the first is at forwarders/x.toml:4:8",
            ),
            (format!("{GOOD}[[export]]\nname = \"Grüße\"\n"), "forwarders/x.toml:6:8: export name \"Grüße\" must be"),
            (format!("{GOOD}flavour = 1\n"), "forwarders/x.toml:5:1: unknown field `flavour`"),
            (GOOD.replace("m.dll", "m.exe"), "forwarders/x.toml:1:8: `file = \"m.exe\"` must be"),
            (GOOD.replace("name = \"A\"", "name = \"A\"\nordinal = 0"), "forwarders/x.toml:5:11: ordinals start at 1"),
            (
                format!("{GOOD}ordinal = 3\n[[export]]\nname = \"B\"\nordinal = 3\n"),
                "forwarders/x.toml:8:11: ordinal 3 is used twice",
            ),
            (
                GOOD.replace("name = \"A\"", "name = \"A\"\nnoname = true"),
                "forwarders/x.toml:4:8: export `A` is `noname` but has no `ordinal`",
            ),
            (
                format!("description = \"{}\"\n{GOOD}", "d".repeat(40_000)),
                "forwarders/x.toml:1:15: `description` is 40000 UTF-16 units long",
            ),
            (
                GOOD.replace("ec = ", "").replace("binary = \"m\"", "binary = \"m\"\nec = \"arm32\""),
                "forwarders/x.toml:3:6: unknown variant `arm32`",
            ),
        ];
        for (text, expected) in cases {
            let err = format!("{:#}", parse_text(&text).unwrap_err());
            assert!(err.starts_with(expected), "expected `{expected}…`, got `{err}`");
        }
    }

    #[test]
    fn sixty_five_thousand_exports_read_in_linear_time() {
        // Issue 9: each location rescanned the text (70,000 exports took over 30 s).
        let mut text = "file = \"m.dll\"\nbinary = \"m\"\n".to_string();
        for i in 0..65_535 {
            text.push_str(&format!("[[export]]\nname = \"E{i}\"\n"));
        }
        let started = std::time::Instant::now();
        let spec = parse_text(&text).unwrap();
        assert_eq!(spec.export_locations[65_534], "forwarders/x.toml:131072:8");
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "{:?}", started.elapsed());
    }
}
