//! Module-definition (`.def`) files: the subset archway writes, parsed strictly so that a broken
//! file is reported with its line, and rewritten per architecture for import libraries.

use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::matrix::Arch;

/// One `EXPORTS` entry: `Name[@bytes] [DATA] [PRIVATE]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    /// The x86 stdcall argument size (`GetModuleHandleExW@12`); needed for x86 import libraries.
    pub stdcall_bytes: Option<u32>,
    pub data: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DefFile {
    pub library: Option<String>,
    pub entries: Vec<Entry>,
}

pub fn read(path: &Path) -> Result<DefFile> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse(&text).map_err(|(line, msg)| anyhow::anyhow!("{}:{line}: {msg}", path.display()))
}

/// The names a DLL's `.def` file exports.
pub fn parse_exports(path: &Path) -> Result<Vec<String>> {
    Ok(read(path)?.entries.into_iter().map(|e| e.name).collect())
}

fn parse(text: &str) -> Result<DefFile, (usize, String)> {
    let mut def = DefFile { library: None, entries: Vec::new() };
    let mut in_exports = false;
    for (index, raw) in text.lines().enumerate() {
        let line_no = index + 1;
        let line = raw.split(';').next().unwrap().trim();
        if line.is_empty() {
            continue;
        }
        let mut words = line.split_whitespace();
        let first = words.next().unwrap();
        match first.to_ascii_uppercase().as_str() {
            "LIBRARY" => {
                let name = words.next().ok_or((line_no, "LIBRARY needs a DLL name".to_string()))?;
                def.library = Some(name.trim_matches('"').to_string());
                in_exports = false;
            }
            "EXPORTS" => in_exports = true,
            _ if !in_exports => {
                return Err((
                    line_no,
                    format!("`{first}`: expected LIBRARY or EXPORTS (archway's .def files use only these)"),
                ));
            }
            _ => {
                let entry = parse_entry(first, words).map_err(|m| (line_no, m))?;
                if def.entries.iter().any(|e| e.name == entry.name) {
                    return Err((line_no, format!("`{}` is exported twice", entry.name)));
                }
                def.entries.push(entry);
            }
        }
    }
    if def.entries.is_empty() {
        return Err((text.lines().count().max(1), "no EXPORTS entries".to_string()));
    }
    Ok(def)
}

fn parse_entry<'a>(word: &str, rest: impl Iterator<Item = &'a str>) -> Result<Entry, String> {
    let (name, bytes) = match word.split_once('@') {
        Some((name, n)) => {
            let bytes = n.parse::<u32>().ok().filter(|b| b % 4 == 0).ok_or_else(|| {
                format!("`{word}`: the part after `@` must be the stdcall argument size, a multiple of 4")
            })?;
            (name, Some(bytes))
        }
        None => (word, None),
    };
    let valid = |c: char| c.is_ascii_alphanumeric() || c == '_';
    if name.is_empty() || !name.chars().all(valid) || name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(format!("`{word}` is not a valid export name (ASCII letters, digits and `_`)"));
    }
    let mut entry = Entry { name: name.to_string(), stdcall_bytes: bytes, data: false };
    for keyword in rest {
        match keyword.to_ascii_uppercase().as_str() {
            "DATA" => entry.data = true,
            "PRIVATE" => {}
            other => return Err(format!("`{other}` after `{word}`: only DATA and PRIVATE are supported")),
        }
    }
    Ok(entry)
}

impl DefFile {
    /// The text handed to llvm-dlltool / lib.exe for one architecture: x86 keeps the stdcall
    /// sizes (`llvm-dlltool -k` turns `Name@12` into an import of `Name`, docs/toolchains.md §4.2);
    /// every other architecture has plain names.
    pub fn for_import_library(&self, arch: Arch, source: &Path) -> Result<String> {
        let library = self
            .library
            .as_deref()
            .with_context(|| format!("{}: an import definition needs `LIBRARY <name>.dll`", source.display()))?;
        let mut out = format!("LIBRARY {library}\nEXPORTS\n");
        for entry in &self.entries {
            let name = match (arch, entry.stdcall_bytes, entry.data) {
                (Arch::X86, Some(bytes), false) => format!("{}@{bytes}", entry.name),
                (Arch::X86, None, false) => bail!(
                    "{}: `{}` has no stdcall size; x86 import libraries need `{}@<bytes>` (docs/toolchains.md §4.2)",
                    source.display(),
                    entry.name,
                    entry.name
                ),
                _ => entry.name.clone(),
            };
            out.push_str(&format!("    {name}{}\n", if entry.data { " DATA" } else { "" }));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_library_exports_and_comments() {
        let def = parse("; kernel32\nLIBRARY kernel32.dll\nEXPORTS\n  HeapAlloc@12 ; alloc\n  Data DATA\n").unwrap();
        assert_eq!(def.library.as_deref(), Some("kernel32.dll"));
        assert_eq!(def.entries[0], Entry { name: "HeapAlloc".into(), stdcall_bytes: Some(12), data: false });
        assert!(def.entries[1].data);
    }

    #[test]
    fn broken_lines_are_reported_with_their_number() {
        assert_eq!(parse("EXPORTS\n  Foo@x\n").unwrap_err().0, 2);
        assert_eq!(parse("EXPORTS\n  A\n  A\n").unwrap_err(), (3, "`A` is exported twice".into()));
        assert!(parse("EXPORTS\n  Foo=Bar\n").unwrap_err().1.contains("not a valid export name"));
        assert!(parse("NAME x\n").unwrap_err().1.contains("expected LIBRARY or EXPORTS"));
        assert!(parse("LIBRARY a.dll\n").unwrap_err().1.contains("no EXPORTS"));
    }

    #[test]
    fn import_text_keeps_stdcall_sizes_only_for_x86() {
        let def = parse("LIBRARY k.dll\nEXPORTS\n  GetLastError@0\n  SetLastError@4\n").unwrap();
        let p = Path::new("k.def");
        assert_eq!(
            def.for_import_library(Arch::X86, p).unwrap(),
            "LIBRARY k.dll\nEXPORTS\n    GetLastError@0\n    SetLastError@4\n"
        );
        assert_eq!(
            def.for_import_library(Arch::Arm64Ec, p).unwrap(),
            "LIBRARY k.dll\nEXPORTS\n    GetLastError\n    SetLastError\n"
        );
        let bare = parse("LIBRARY k.dll\nEXPORTS\n  GetLastError\n").unwrap();
        assert!(bare.for_import_library(Arch::X86, p).unwrap_err().to_string().contains("GetLastError@<bytes>"));
    }
}
