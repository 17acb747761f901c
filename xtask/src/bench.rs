//! `cargo xtask bench`: speed goals measured against a peer in the same run, never asserted
//! in tests.

use std::time::Instant;

use anyhow::Result;
use clap::Subcommand;

use crate::{build, cmd, forwarders, fsx, matrix::Arch, project::Project};

mod proxy;

/// Measure the pipeline against peers run in the same process.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  cargo xtask bench build\n  cargo xtask bench forwarders\n  cargo xtask bench msi\n  cargo xtask bench pools\n  cargo xtask bench proxy"
)]
pub struct Args {
    #[command(subcommand)]
    pub what: Bench,
}

#[derive(Subcommand)]
pub enum Bench {
    /// Cold build wall time against the compiler and linker time spread over the cores
    /// (orchestration overhead, goal ≤ 1.15), then a no-op rebuild (goal < 0.2 s).
    #[command(after_help = "Example:\n  cargo xtask bench build")]
    Build,
    /// Writing the shipped Arm64X forwarders with archway's writer against lld-link linking the
    /// same files, in one run (goal: the writer at least 50x faster). Builds the targets first
    /// when they are missing.
    #[command(after_help = "Example:\n  cargo xtask bench forwarders")]
    Forwarders,
    /// Writing the three MSIs of `dist` with archway's writer against wixl building an
    /// equivalent x64 package from a generated .wxs, in one run. Builds first when needed.
    #[command(after_help = "Example:\n  cargo xtask bench msi")]
    Msi,
    /// The wall time of this machine's pool matrix (`cargo xtask pools`), and requests per
    /// second through the worker stand-in for the x64 row against a direct loopback round trip
    /// in the same run. Builds the packages first.
    #[command(after_help = "Example:\n  cargo xtask bench pools")]
    Pools,
    /// Requests per second and p50/p99 of three peers in one run, per architecture (x64 under
    /// Wine on Linux; on Windows each one the machine runs, natively or emulated): the test
    /// backend direct, the worker stand-in with the diagnostics handler, and the platform handler
    /// proxying to the backend; ratios against direct, the share of each hop in the proxied p50
    /// and which dominates (goal: proxied p50 at most 1.5x). Builds the architectures first.
    Proxy(proxy::Args),
}

pub fn run(project: &Project, args: Args) -> Result<()> {
    match args.what {
        Bench::Build => bench_build(project),
        Bench::Forwarders => bench_forwarders(project),
        Bench::Msi => bench_msi(project),
        Bench::Pools => crate::pools::bench::run(project),
        Bench::Proxy(args) => proxy::run(project, args),
    }
}

fn bench_build(project: &Project) -> Result<()> {
    let out_dir = project.target_dir.join("archway").join("bench");
    if out_dir.exists() {
        std::fs::remove_dir_all(&out_dir)?;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let opts = build::BuildOptions::release(&[], &build::Flags::default()).into_dir(out_dir.clone());
    let child_before = cmd::child_time();
    let start = Instant::now();
    let cold = build::run(project, &opts)?;
    let cold_wall = start.elapsed();
    let tools = cmd::child_time() - child_before;
    let ideal = tools.as_secs_f64() / cores as f64;
    let start = Instant::now();
    let noop = build::run(project, &opts)?;
    let noop_wall = start.elapsed();
    let overhead = cold_wall.as_secs_f64() / ideal;
    println!(
        "cold build: {} steps in {:.2} s; compiler and linker processes {:.2} s over {cores} cores = {ideal:.2} s",
        cold.ran,
        cold_wall.as_secs_f64(),
        tools.as_secs_f64()
    );
    println!("orchestration overhead (wall / ideal): {overhead:.3}  (goal <= 1.15: {})", verdict(overhead <= 1.15));
    println!(
        "no-op rebuild: {} steps up to date in {:.3} s  (goal < 0.2 s: {})",
        noop.up_to_date,
        noop_wall.as_secs_f64(),
        verdict(noop_wall.as_secs_f64() < 0.2)
    );
    std::fs::remove_dir_all(&out_dir)?;
    Ok(())
}

fn bench_forwarders(project: &Project) -> Result<()> {
    let bin_dir = project.build_dir(build::Profile::Release.name()).join("bin");
    let plan = || forwarders::plan_all(project, &bin_dir, forwarders::Selection::All);
    // The targets come from a release build of every architecture a spec names; a no-op when
    // they are up to date, and any spec mistake is reported by `plan` below as it is.
    let mut archs = vec![Arch::Arm64.name()];
    for spec in forwarders::spec::discover(&project.root)? {
        archs.push(spec.ec.arch().name());
    }
    build::run(project, &build::BuildOptions::release(&archs, &build::Flags::default()))?;
    let planned = plan()?;
    let scratch = tempfile::tempdir()?;
    let linker = forwarders::lld_compare::Linker::for_project(Some(project))?;
    for p in &planned {
        forwarders::lld_compare::same_bytes(&p.spec.file, &p.bytes, &linker.link_planned(p)?)?;
    }

    // The writer: read the specs and the targets, check them, lay out and write every file.
    // Like lld-link's run (`reference::link` removes the old output first), each round starts
    // without the output file: replacing a file makes ext4 flush it (auto_da_alloc), a cost of
    // the file system and not of either tool.
    const WRITER_ROUNDS: usize = 101;
    let writer = median_seconds(WRITER_ROUNDS, || {
        for p in plan()? {
            let out = scratch.path().join(&p.spec.file);
            if out.exists() {
                std::fs::remove_file(&out)?;
            }
            fsx::write_atomic(&out, &p.bytes)?;
        }
        Ok(())
    })?;
    // lld-link: the same files from the same exports and version resource (load-configuration
    // objects assembled once, outside the timing).
    const LLD_ROUNDS: usize = 9;
    let lld = median_seconds(LLD_ROUNDS, || {
        for p in &planned {
            linker.link_planned(p)?;
        }
        Ok(())
    })?;
    let ratio = lld / writer;
    println!("{} forwarders, byte-identical to lld-link's", planned.len());
    println!(
        "archway writer: {:.3} ms per set (median of {WRITER_ROUNDS}); lld-link: {:.1} ms per set (median of {LLD_ROUNDS})",
        writer * 1e3,
        lld * 1e3
    );
    println!("speed-up (lld-link / writer): {ratio:.0}x  (goal >= 50x: {})", verdict(ratio >= 50.0));
    Ok(())
}

fn bench_msi(project: &Project) -> Result<()> {
    use crate::{binaries, dist::layout, msi};
    let report = build::run(project, &build::BuildOptions::release(&[], &build::Flags::default()))?;
    let configs = layout::package_configs(&project.root)?;
    let shipped = layout::shipped(&project.root, &binaries::discover(&project.root)?);
    let packages = configs
        .iter()
        .map(|c| {
            crate::dist::package(
                project,
                c,
                &configs,
                &layout::layout(c.platform, &report.bin_dir, &shipped, &report.forwarders)?,
                0,
            )
        })
        .collect::<Result<Vec<_>>>()?;
    let wixl = which_on_path("wixl").ok_or_else(|| {
        anyhow::anyhow!("wixl is missing; install Debian's msitools (`apt-get install wixl msitools`)")
    })?;
    let scratch = tempfile::tempdir()?;
    let x64 = packages.iter().find(|p| p.platform == msi::Platform::X64).expect("package_configs has every platform");
    let wxs = msi::wxs::write_inputs(x64, scratch.path())?;

    const ROUNDS: usize = 9;
    let writer = median_seconds(ROUNDS, || {
        for package in &packages {
            msi::write_msi(package, &scratch.path().join(format!("{}.msi", package.platform)))?;
        }
        Ok(())
    })?;
    let wixl_time = median_seconds(ROUNDS, || {
        msi::wxs::wixl_command(&wixl, &wxs, &scratch.path().join("wixl-x64.msi")).run()?;
        Ok(())
    })?;
    println!("archway writer: {:.1} ms for the three MSIs (x64, arm64, x86; median of {ROUNDS})", writer * 1e3);
    println!(
        "wixl: {:.1} ms for the x64 MSI alone (median of {ROUNDS}); its .wxs leaves out: {}",
        wixl_time * 1e3,
        msi::wxs::OMITTED
    );
    let per_package = writer / packages.len() as f64;
    println!(
        "per package: archway {:.1} ms, wixl {:.1} ms; wixl / archway = {:.2}x",
        per_package * 1e3,
        wixl_time * 1e3,
        wixl_time / per_package
    );
    Ok(())
}

fn which_on_path(name: &str) -> Option<std::path::PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|d| d.join(name)).find(|p| p.is_file())
}

/// The median wall time of `rounds` runs of `round`, in seconds: robust to the odd slow round.
fn median_seconds(rounds: usize, mut round: impl FnMut() -> Result<()>) -> Result<f64> {
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let start = Instant::now();
        round()?;
        times.push(start.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    Ok(times[rounds / 2])
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "missed" }
}
