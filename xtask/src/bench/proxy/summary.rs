//! What `bench proxy` reports beyond its table: one machine-readable line per row
//! (`bench proxy: x64-native ratio p50 1.32 goal 1.5 met …`) and, in a GitHub Actions job, a
//! markdown table appended to the file `GITHUB_STEP_SUMMARY` names (the run's summary page).

use std::{io::Write, path::Path};

use anyhow::{Context, Result};

use super::rows::Row;

/// The goal: the proxied p50 at most this many times the direct one (issue 10).
pub const GOAL: f64 = 1.5;

/// One row's medians and tails, in seconds, and its requests per second.
#[derive(Clone, Debug)]
pub struct Measured {
    pub row: Row,
    /// Where it ran, e.g. "Windows on arm64" or "wine-8.0 (x86_64)".
    pub host: String,
    pub direct_p50: f64,
    pub direct_p99: f64,
    pub standin_p50: f64,
    pub proxy_p50: f64,
    pub proxy_p99: f64,
    pub proxy_rps: f64,
}

impl Measured {
    pub fn ratio_p50(&self) -> f64 {
        self.proxy_p50 / self.direct_p50
    }

    pub fn ratio_p99(&self) -> f64 {
        self.proxy_p99 / self.direct_p99
    }

    pub fn met(&self) -> bool {
        self.ratio_p50() <= GOAL
    }
}

/// A row that ran, or the reason it could not.
pub type Outcome = std::result::Result<Measured, (Row, String)>;

/// `bench proxy: <id> ratio p50 <r> goal 1.5 <met|missed> (…)`: fixed words in a fixed order, so
/// a script can split it; the row's id is one word.
pub fn line(m: &Measured) -> String {
    format!(
        "bench proxy: {} ratio p50 {:.2} goal {GOAL} {} (ratio p99 {:.2}; proxy p50 {:.3} ms, direct p50 {:.3} ms)",
        m.row.id(),
        m.ratio_p50(),
        super::super::verdict(m.met()),
        m.ratio_p99(),
        m.proxy_p50 * 1e3,
        m.direct_p50 * 1e3
    )
}

/// The line of a row that could not run.
pub fn failed_line(row: &Row, why: &str) -> String {
    format!("bench proxy: {} failed: {}", row.id(), why.lines().next().unwrap_or_default())
}

/// A markdown table of every row, for the job's summary page.
pub fn markdown(outcomes: &[Outcome]) -> String {
    let mut out = format!(
        "### bench proxy: proxied p50 against the backend direct (goal at most {GOAL}x; reported, not asserted)\n\n\
         | row | host | direct p50 | stand-in p50 | proxied p50 | ratio p50 | ratio p99 | proxied requests/s | goal |\n\
         |---|---|--:|--:|--:|--:|--:|--:|---|\n"
    );
    for outcome in outcomes {
        out += &match outcome {
            Ok(m) => format!(
                "| {} | {} | {:.3} ms | {:.3} ms | {:.3} ms | {:.2}x | {:.2}x | {:.0} | {} |\n",
                m.row.label(),
                cell(&m.host),
                m.direct_p50 * 1e3,
                m.standin_p50 * 1e3,
                m.proxy_p50 * 1e3,
                m.ratio_p50(),
                m.ratio_p99(),
                m.proxy_rps,
                super::super::verdict(m.met())
            ),
            Err((row, why)) => format!(
                "| {} | | | | | | | | failed: {} |\n",
                row.label(),
                cell(why.lines().next().unwrap_or_default())
            ),
        };
    }
    out + "\n"
}

/// Text safe inside a table cell: no pipe, no newline.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\r', '\n'], " ")
}

/// Appends `text` to `path` (GitHub's step summary file: each step appends to its own).
pub fn append(path: &Path, text: &str) -> Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open the step summary {} (GITHUB_STEP_SUMMARY)", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot append to the step summary {} (GITHUB_STEP_SUMMARY)", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        bench::proxy::rows::{Mode, Row},
        matrix::Arch,
    };

    fn measured(arch: Arch, mode: Mode, direct_ms: f64, proxy_ms: f64) -> Measured {
        Measured {
            row: Row { arch, mode },
            host: "Windows on arm64".to_string(),
            direct_p50: direct_ms / 1e3,
            direct_p99: 2.0 * direct_ms / 1e3,
            standin_p50: 0.1 / 1e3,
            proxy_p50: proxy_ms / 1e3,
            proxy_p99: 3.0 * proxy_ms / 1e3,
            proxy_rps: 1e3 / proxy_ms,
        }
    }

    #[test]
    fn the_line_says_the_ratio_and_the_verdict() {
        let slow = measured(Arch::X64, Mode::Emulated, 0.2, 1.06);
        assert_eq!(
            line(&slow),
            "bench proxy: x64-emulated ratio p50 5.30 goal 1.5 missed (ratio p99 7.95; proxy p50 1.060 ms, direct p50 0.200 ms)"
        );
        let fast = measured(Arch::Arm64, Mode::Native, 0.2, 0.28);
        assert!(line(&fast).starts_with("bench proxy: arm64-native ratio p50 1.40 goal 1.5 met ("), "{}", line(&fast));
        let row = Row { arch: Arch::X86, mode: Mode::Wow64 };
        assert_eq!(failed_line(&row, "worker exited\nmore"), "bench proxy: x86-wow64 failed: worker exited");
    }

    #[test]
    fn the_markdown_table_has_a_row_per_outcome() {
        let outcomes = vec![
            Ok(measured(Arch::Arm64, Mode::Native, 0.2, 0.28)),
            Ok(measured(Arch::X64, Mode::Emulated, 0.2, 1.06)),
            Err((Row { arch: Arch::X86, mode: Mode::Emulated }, "no | worker\nsecond line".to_string())),
        ];
        let text = markdown(&outcomes);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("### bench proxy"), "{text}");
        assert_eq!(lines[2].matches('|').count(), 10, "{text}");
        assert_eq!(
            lines[4],
            "| arm64 native | Windows on arm64 | 0.200 ms | 0.100 ms | 0.280 ms | 1.40x | 2.10x | 3571 | met |"
        );
        assert!(lines[5].starts_with("| x64 emulated |") && lines[5].ends_with("| 5.30x | 7.95x | 943 | missed |"));
        assert_eq!(lines[6], "| x86 emulated | | | | | | | | failed: no \\| worker |");
        assert!(text.ends_with("|\n\n"), "{text:?}");
    }

    #[test]
    fn append_adds_to_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("summary.md");
        append(&path, "a\n").unwrap();
        append(&path, "b\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a\nb\n");
        let err = format!("{:#}", append(&dir.path().join("no/such/summary.md"), "x").unwrap_err());
        assert!(err.contains("GITHUB_STEP_SUMMARY") && err.contains("summary.md"), "{err}");
    }
}
