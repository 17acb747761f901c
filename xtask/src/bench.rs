//! `cargo xtask bench`: speed goals measured against a peer in the same run, never asserted
//! in tests.

use std::time::Instant;

use anyhow::Result;
use clap::Subcommand;

use crate::{build, cmd, project::Project};

#[derive(Subcommand)]
pub enum Bench {
    /// Cold build wall time against the compiler and linker time spread over the cores
    /// (orchestration overhead, goal ≤ 1.15), then a no-op rebuild (goal < 0.2 s).
    #[command(after_help = "Example:\n  cargo xtask bench build")]
    Build,
}

pub fn run(what: Bench) -> Result<()> {
    match what {
        Bench::Build => bench_build(),
    }
}

fn bench_build() -> Result<()> {
    let project = Project::discover()?;
    let out_dir = project.target_dir.join("archway").join("bench");
    if out_dir.exists() {
        std::fs::remove_dir_all(&out_dir)?;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let opts = build::BuildOptions {
        archs: Vec::new(),
        profile: build::Profile::Release,
        jobs: None,
        flavor: None,
        no_provision: false,
        quiet: true,
        out_dir: Some(out_dir.clone()),
    };
    let child_before = cmd::child_time();
    let start = Instant::now();
    let cold = build::run(&opts)?;
    let cold_wall = start.elapsed();
    let tools = cmd::child_time() - child_before;
    let ideal = tools.as_secs_f64() / cores as f64;
    let start = Instant::now();
    let noop = build::run(&opts)?;
    let noop_wall = start.elapsed();
    let overhead = cold_wall.as_secs_f64() / ideal;
    println!("cold build: {} steps in {:.2} s; compiler and linker processes {:.2} s over {cores} cores = {ideal:.2} s", cold.ran, cold_wall.as_secs_f64(), tools.as_secs_f64());
    println!("orchestration overhead (wall / ideal): {overhead:.3}  (goal <= 1.15: {})", verdict(overhead <= 1.15));
    println!("no-op rebuild: {} steps up to date in {:.3} s  (goal < 0.2 s: {})", noop.up_to_date, noop_wall.as_secs_f64(), verdict(noop_wall.as_secs_f64() < 0.2));
    std::fs::remove_dir_all(&out_dir)?;
    Ok(())
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "missed" }
}
