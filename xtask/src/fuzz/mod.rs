//! `cargo xtask fuzz`: seeded, bounded mutation fuzzing of every reader archway owns or calls
//! (`readers.rs`: PE/`verify`, the Arm64X reader, forwarder specs, matrix.toml, binary.toml, MSI
//! reading and lint, MSI table rows, cabinets, `msi-check --previous`), over the real artifacts
//! of a build. Mutations are structure-aware (`structure.rs`: PE headers, section table, export
//! directory, DVRT; compound-file header and directory; cabinet header, folders and files; MSI
//! table cells) as well as byte flips and truncations (`mutate.rs`).
//!
//! A finding is a panic (contained or not), a run over the time limit, or a crash; each writes
//! its reproducer to the output folder (a crash leaves `in-flight.bin`, written before every
//! run). The figures per reader (runs, clean errors, passes) are printed at the end.

pub mod mutate;
pub mod readers;
pub mod rng;
pub mod structure;

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::{Arc, mpsc},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

use crate::panics::{self, Contained};
use readers::{Corpus, Reader, Seed};
use rng::Rng;

/// Mutation-fuzz every reader (PE/verify, Arm64X, specs, TOML, MSI, cabinet, --previous)
/// over the artifacts of a build; fails on a panic, a hang or a crash.
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "Examples:\n  cargo xtask dist && cargo xtask fuzz --seconds 60     # what CI runs\n  \
    cargo xtask fuzz --seconds 3600 --seed 42             # a longer run, repeatable by its seed\n\n\
    A finding (a panic, a run past --run-limit, a crash) writes its input to target/fuzz/ and fails.")]
pub struct Args {
    /// How long to fuzz, in seconds, over all readers.
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
    /// The random seed (default: the current time, printed so the run can be repeated).
    #[arg(long)]
    pub seed: Option<u64>,
    /// The built DLLs (default: target/archway/release/bin).
    #[arg(long, value_name = "DIR")]
    pub bin_dir: Option<PathBuf>,
    /// The MSIs (default: target/dist).
    #[arg(long, value_name = "DIR")]
    pub dist_dir: Option<PathBuf>,
    /// Where reproducers go (default: target/fuzz).
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
    /// The most one run may take, in seconds.
    #[arg(long, default_value_t = 10)]
    pub run_limit: u64,
}

impl Args {
    pub fn options(&self) -> Options {
        Options {
            seconds: self.seconds,
            seed: self.seed,
            bin_dir: self.bin_dir.clone(),
            dist_dir: self.dist_dir.clone(),
            out_dir: self.out_dir.clone(),
            run_limit: Duration::from_secs(self.run_limit.max(1)),
        }
    }
}

/// What the harness needs to run.
#[derive(Clone, Debug)]
pub struct Options {
    pub seconds: u64,
    pub seed: Option<u64>,
    /// Built DLLs (default: target/archway/release/bin).
    pub bin_dir: Option<PathBuf>,
    /// MSIs (default: target/dist).
    pub dist_dir: Option<PathBuf>,
    /// Reproducers (default: target/fuzz).
    pub out_dir: Option<PathBuf>,
    /// The most one run may take.
    pub run_limit: Duration,
}

/// What one reader did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Figures {
    pub runs: u64,
    pub clean_errors: u64,
    pub passes: u64,
    pub findings: u64,
}

/// A panic or an overrun, with where its reproducer went.
#[derive(Clone, Debug)]
pub struct Finding {
    pub reader: Reader,
    pub what: String,
    pub reproducer: PathBuf,
}

pub struct Report {
    pub seed: u64,
    pub figures: BTreeMap<Reader, Figures>,
    pub findings: Vec<Finding>,
}

impl Report {
    pub fn render(&self) -> String {
        let mut out = format!("fuzz seed {} (repeat with --seed {})\n", self.seed, self.seed);
        out.push_str(&format!(
            "  {:<16} {:>8} {:>13} {:>8} {:>9}\n",
            "reader", "runs", "clean errors", "passes", "findings"
        ));
        for (reader, f) in &self.figures {
            out.push_str(&format!(
                "  {:<16} {:>8} {:>13} {:>8} {:>9}\n",
                reader.name(),
                f.runs,
                f.clean_errors,
                f.passes,
                f.findings
            ));
        }
        for finding in &self.findings {
            out.push_str(&format!(
                "finding in {}: {} (reproducer {})\n",
                finding.reader.name(),
                finding.what,
                finding.reproducer.display()
            ));
        }
        out
    }
}

/// `cargo xtask fuzz`.
pub fn run_verb(project: &crate::project::Project, args: Args) -> Result<()> {
    run(project, &args.options())
}

pub fn run(project: &crate::project::Project, opts: &Options) -> Result<()> {
    let bin_dir = opts.bin_dir.clone().unwrap_or_else(|| project.build_dir("release").join("bin"));
    let dist_dir = opts.dist_dir.clone().unwrap_or_else(|| project.root.join("target/dist"));
    let out_dir = opts.out_dir.clone().unwrap_or_else(|| project.root.join("target/fuzz"));
    let scratch = tempfile::tempdir().context("cannot create a scratch folder")?;
    let corpus = load_corpus(&project.root, &bin_dir, &dist_dir, scratch.path())?;
    let seed = opts.seed.unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_secs())
    });
    let report = fuzz(corpus, seed, Duration::from_secs(opts.seconds), opts.run_limit, &out_dir)?;
    print!("{}", report.render());
    match report.findings.len() {
        0 => Ok(()),
        n => bail!("{n} finding(s); reproducers in {}", out_dir.display()),
    }
}

/// The artifacts of a build and the repository's TOML files.
fn load_corpus(root: &Path, bin_dir: &Path, dist_dir: &Path, scratch: &Path) -> Result<Corpus> {
    let files = |dir: &Path, ext: &str| -> Result<Vec<Seed>> {
        let mut out = Vec::new();
        let entries = std::fs::read_dir(dir).with_context(|| {
            format!("cannot list {} (run `cargo xtask dist` first, or pass --bin-dir/--dist-dir)", dir.display())
        })?;
        for entry in entries {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e.eq_ignore_ascii_case(ext)) {
                let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
                out.push(Seed {
                    name,
                    bytes: std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?,
                });
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        if out.is_empty() {
            bail!("no .{ext} files in {} (run `cargo xtask dist` first)", dir.display());
        }
        Ok(out)
    };
    let text = |path: PathBuf| -> Result<Seed> {
        let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        Ok(Seed { name: path.strip_prefix(root).unwrap_or(&path).display().to_string(), bytes })
    };
    let pe = files(bin_dir, "dll")?;
    let msis = files(dist_dir, "msi")?;
    let specs = files(&root.join("forwarders"), "toml")?;
    let mut binary_tomls = vec![text(root.join("module/binary.toml"))?];
    for group in ["handlers", "tests"] {
        for entry in std::fs::read_dir(root.join(group)).into_iter().flatten().flatten() {
            if entry.path().join("binary.toml").is_file() {
                binary_tomls.push(text(entry.path().join("binary.toml"))?);
            }
        }
    }
    let mut cabinets = Vec::new();
    for msi in &msis {
        for (i, bytes) in crate::msi::embedded_cabinets(msi.bytes.clone())?.into_iter().enumerate() {
            cabinets.push(Seed { name: format!("{}#{i}", msi.name), bytes });
        }
    }
    Ok(Corpus {
        pe,
        specs,
        matrix: vec![text(root.join("matrix.toml"))?],
        binary_tomls,
        msis,
        cabinets,
        repo: root.to_path_buf(),
        scratch: scratch.to_path_buf(),
    })
}

/// How one run ended.
enum Outcome {
    Pass,
    Clean,
    Panic(String),
}

/// Fuzzes every reader in turn until `budget` is spent; stops at the first overrun (the reader's
/// thread cannot be taken back) after writing its reproducer.
pub fn fuzz(corpus: Corpus, seed: u64, budget: Duration, run_limit: Duration, out_dir: &Path) -> Result<Report> {
    std::fs::create_dir_all(out_dir).with_context(|| format!("cannot create {}", out_dir.display()))?;
    corpus.prepare()?;
    panics::install_hook();
    let corpus = Arc::new(corpus);
    let (to_worker, inbox) = mpsc::channel::<(Reader, usize, Arc<Vec<u8>>)>();
    let (to_main, results) = mpsc::channel::<Outcome>();
    let worker_corpus = Arc::clone(&corpus);
    std::thread::Builder::new()
        .name("fuzz-reader".into())
        .stack_size(64 << 20)
        .spawn(move || {
            for (reader, index, input) in inbox {
                let outcome = match panics::contain(|| worker_corpus.run(reader, index, &input)) {
                    Ok(Ok(())) => Outcome::Pass,
                    Ok(Err(err)) => match err.chain().find_map(|e| e.downcast_ref::<Contained>()) {
                        Some(panic) => Outcome::Panic(format!("{err:#}: {}", panic.message)),
                        None => Outcome::Clean,
                    },
                    Err(panic) => Outcome::Panic(panic.message),
                };
                if to_main.send(outcome).is_err() {
                    break;
                }
            }
        })
        .context("cannot start the reader thread")?;

    let mut rng = Rng::new(seed);
    let mut report = Report { seed, figures: BTreeMap::new(), findings: Vec::new() };
    let started = Instant::now();
    let in_flight = out_dir.join("in-flight.bin");
    let mut run = 0u64;
    'outer: while started.elapsed() < budget {
        for reader in Reader::ALL {
            let seeds = corpus.seeds(reader).len();
            if seeds == 0 {
                continue;
            }
            let index = rng.below(seeds);
            let input = Arc::new(corpus.mutate(reader, &mut rng, index));
            run += 1;
            // Left behind only if the process dies inside the reader.
            std::fs::write(&in_flight, input.as_slice())
                .with_context(|| format!("cannot write {}", in_flight.display()))?;
            std::fs::write(
                out_dir.join("in-flight.txt"),
                format!("{} seed {}\n", reader.name(), corpus.seeds(reader)[index].name),
            )?;
            to_worker.send((reader, index, Arc::clone(&input))).context("the reader thread is gone")?;
            let figures = report.figures.entry(reader).or_default();
            figures.runs += 1;
            let outcome = results.recv_timeout(run_limit);
            let what = match outcome {
                Ok(Outcome::Pass) => {
                    figures.passes += 1;
                    continue;
                }
                Ok(Outcome::Clean) => {
                    figures.clean_errors += 1;
                    continue;
                }
                Ok(Outcome::Panic(message)) => message,
                Err(_) => format!("ran past the {} limit", crate::cmd::human(run_limit)),
            };
            figures.findings += 1;
            let stem = format!("{}-{seed}-{run}", reader.name().replace(['/', '.'], "-"));
            let reproducer = out_dir.join(format!("{stem}.bin"));
            std::fs::write(&reproducer, input.as_slice())?;
            std::fs::write(
                out_dir.join(format!("{stem}.txt")),
                format!("{}\nseed file: {}\n{what}\n", reader.name(), corpus.seeds(reader)[index].name),
            )?;
            let overran = what.starts_with("ran past");
            report.findings.push(Finding { reader, what, reproducer });
            if overran {
                break 'outer;
            }
        }
    }
    let _ = std::fs::remove_file(&in_flight);
    let _ = std::fs::remove_file(out_dir.join("in-flight.txt"));
    Ok(report)
}

#[cfg(test)]
mod tests;
