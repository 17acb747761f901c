//! Running independent steps on all cores, with one progress line per step that does work.

use std::sync::{
    Mutex,
    atomic::{AtomicBool, AtomicUsize, Ordering},
};

use anyhow::Result;

use super::step::{HashCache, Outcome, Step};

#[derive(Default, Debug, Clone, Copy)]
pub struct Tally {
    pub ran: usize,
    pub up_to_date: usize,
}

/// Runs `steps` on `jobs` threads. After the first failure no new step starts; every failure
/// is reported.
pub fn run_all(steps: &[Step], jobs: usize, hashes: &HashCache, progress: &Progress) -> Result<Tally> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let errors = Mutex::new(Vec::new());
    let tally = Mutex::new(Tally::default());
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1).min(steps.len().max(1)) {
            scope.spawn(|| {
                while !failed.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(step) = steps.get(i) else { break };
                    match step.run(hashes) {
                        Ok(Outcome::Ran) => {
                            progress.ran(&step.label);
                            tally.lock().unwrap().ran += 1;
                        }
                        Ok(Outcome::UpToDate) => tally.lock().unwrap().up_to_date += 1,
                        Err(e) => {
                            failed.store(true, Ordering::Relaxed);
                            errors.lock().unwrap().push(e);
                        }
                    }
                }
            });
        }
    });
    let mut errors = errors.into_inner().unwrap();
    match errors.len() {
        0 => Ok(tally.into_inner().unwrap()),
        1 => Err(errors.remove(0)),
        n => {
            let all: Vec<String> = errors.iter().map(|e| format!("{e:#}")).collect();
            anyhow::bail!("{n} steps failed:\n\n{}", all.join("\n\n"))
        }
    }
}

/// Progress on standard error: `[3/40] compile x64 module/src/shim.cpp`.
pub struct Progress {
    total: usize,
    done: AtomicUsize,
    quiet: bool,
}

impl Progress {
    pub fn new(total: usize, quiet: bool) -> Progress {
        Progress { total, done: AtomicUsize::new(0), quiet }
    }

    fn ran(&self, label: &str) {
        let n = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        if !self.quiet {
            eprintln!("[{n}/{}] {label}", self.total);
        }
    }
}
