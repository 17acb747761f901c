//! Reading the repository's TOML files: one loader that names the file, line and column of any
//! mistake, and rejects unknown fields so a typo is an error rather than a silent default.

use std::{
    fmt,
    ops::Range,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result};
use serde::de::DeserializeOwned;

/// A TOML document kept beside its text, so that later checks can point at a line.
pub struct Document<T> {
    pub path: PathBuf,
    pub text: String,
    pub value: T,
}

impl<T> Document<T> {
    /// An error about the value at `span` (from a `toml::Spanned` field), in `file:line:col` form.
    pub fn error_at(&self, span: Range<usize>, message: impl fmt::Display) -> anyhow::Error {
        anyhow::anyhow!("{}: {message}", location(&self.path, &self.text, span.start))
    }
}

/// The largest TOML file read (a forwarder spec with 65,535 exports is about 2 MiB).
const MAX_FILE: u64 = 16 << 20;

/// Parses `path` as `T`; a syntax or schema error names the file, line and column.
pub fn load<T: DeserializeOwned>(path: &Path) -> Result<Document<T>> {
    load_in(Path::new(""), path)
}

/// [`load`] for a file named relative to `root`, reported by that relative name (as editors and
/// cargo show paths) wherever the command runs from.
pub fn load_in<T: DeserializeOwned>(root: &Path, relative: &Path) -> Result<Document<T>> {
    let full = root.join(relative);
    let size = std::fs::metadata(&full).with_context(|| format!("cannot read {}", full.display()))?.len();
    if size > MAX_FILE {
        anyhow::bail!(
            "{}: {size} bytes; archway's TOML files are small (at most {} MiB)",
            relative.display(),
            MAX_FILE >> 20
        );
    }
    let text = std::fs::read_to_string(&full).with_context(|| format!("cannot read {}", full.display()))?;
    let value = parse(relative, &text)?;
    Ok(Document { path: relative.to_path_buf(), text, value })
}

pub fn parse<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T> {
    toml::from_str(text).map_err(|err| {
        match err.span() {
            Some(span) => anyhow::anyhow!("{}: {}", location(path, text, span.start), err.message().trim_end()),
            // Only the recursion limit comes without a place: point at the most deeply nested line.
            None => {
                let (offset, depth) = deepest_line(text);
                anyhow::anyhow!(
                    "{}: {} (keys nested {depth} deep on this line)",
                    location(path, text, offset),
                    err.message().trim_end()
                )
            }
        }
    })
}

/// (byte offset of the line, nesting) of the line whose key has the most dotted parts or whose
/// value the most open brackets.
fn deepest_line(text: &str) -> (usize, usize) {
    let mut best = (0, 0);
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let key = line.split('=').next().unwrap_or_default();
        let mut open: usize = 0;
        let mut deepest = 0;
        for c in line.chars() {
            match c {
                '[' | '{' => open += 1,
                ']' | '}' => open = open.saturating_sub(1),
                _ => {}
            }
            deepest = deepest.max(open);
        }
        let depth = deepest.max(key.matches('.').count() + 1);
        if depth > best.1 {
            best = (offset, depth);
        }
        offset += line.len();
    }
    best
}

/// `file:line:col` for a byte offset, 1-based as editors show it. Scans the text: for many
/// locations in one file use [`Lines`].
pub fn location(path: &Path, text: &str, offset: usize) -> String {
    Lines::new(text).location(path, text, offset)
}

/// The byte offset of every line start of a text, found once, so each location costs a binary
/// search and the length of its own line (a spec with 65,535 exports is read in linear time).
pub struct Lines {
    starts: Vec<usize>,
}

impl Lines {
    pub fn new(text: &str) -> Lines {
        let starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
        Lines { starts }
    }

    /// `file:line:col` for a byte offset of the text this index was made from.
    pub fn location(&self, path: &Path, text: &str, offset: usize) -> String {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        // `starts` begins with 0, so the partition point is at least 1.
        let line = self.starts.partition_point(|&start| start <= offset);
        let start = self.starts.get(line.saturating_sub(1)).copied().unwrap_or(0);
        let col = text.get(start..offset).map_or(0, |l| l.chars().count()) + 1;
        format!("{}:{line}:{col}", path.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Sample {
        name: String,
    }

    #[test]
    fn syntax_errors_name_file_and_line() {
        let err = parse::<Sample>(Path::new("x.toml"), "\nname = \"a\"\nname = ").unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("x.toml:3:"), "{msg}");
    }

    #[test]
    fn unknown_fields_are_errors_with_a_line() {
        let err = parse::<Sample>(Path::new("x.toml"), "name = \"a\"\nnmae = \"b\"\n").unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("x.toml:2:1:") && msg.contains("nmae"), "{msg}");
    }

    #[test]
    fn keys_nested_past_the_recursion_limit_name_their_line() {
        // Issue 9: 100,000 dotted parts gave "recursion limit" without a line.
        let text = format!("name = \"a\"\n\n{} = 1\n", vec!["k"; 100_000].join("."));
        let msg = parse::<toml::Table>(Path::new("x.toml"), &text).unwrap_err().to_string();
        assert!(msg.starts_with("x.toml:3:1: recursion limit (keys nested 100000 deep on this line)"), "{msg}");
        let text = format!("x = {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
        let msg = parse::<toml::Table>(Path::new("x.toml"), &text).unwrap_err().to_string();
        assert!(msg.starts_with("x.toml:1:") && msg.len() < 200, "{msg}");
    }

    #[test]
    fn location_counts_lines_and_columns_from_one() {
        assert_eq!(location(Path::new("f"), "ab\ncd", 4), "f:2:2");
        assert_eq!(location(Path::new("f"), "ab", 0), "f:1:1");
        assert_eq!(location(Path::new("f"), "ab\n", 3), "f:2:1");
        assert_eq!(location(Path::new("f"), "ü\nx", 1), "f:1:1");
        assert_eq!(location(Path::new("f"), "ab", 99), "f:1:3");
    }
}
