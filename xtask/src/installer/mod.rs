//! `cargo xtask msi-engine`: an installer engine nobody here wrote — Wine's msiexec — installs,
//! upgrades, refuses a downgrade of, and removes archway's packages, every call with a verbose
//! log and a deadline. The pool tests install through it too ([`pool::install`]).

pub mod cycle;
pub mod engine;
pub mod log;
pub mod manifest;
pub mod next;
pub mod pool;
pub mod products;
pub mod transform;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::{
    msi::Platform,
    project::Project,
    winhost::{WindowsHost, wine::HostWine},
};
pub use engine::Engine;

/// Wine's msiexec as an installer engine nobody here wrote: install, upgrade, refused
/// downgrade and uninstall of the packages, each checked against the manifest.
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "Example:\n  cargo xtask msi-engine cycle --platform x64")]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(clap::Subcommand, Clone, Debug)]
pub enum Action {
    /// Install the current package with Wine's msiexec, check every file against the manifest,
    /// upgrade to a next-version package, check again, install the older one (refused), uninstall.
    #[command(
        after_help = "Examples:\n  cargo xtask msi-engine cycle                   # x64, x86, arm64 (where each can run)\n  \
        cargo xtask msi-engine cycle --platform x64\n  \
        cargo xtask msi-engine cycle --packages target/dist --next ../next/target/dist\n\n\
        Without --packages, `cargo xtask dist` builds the current set; without --next, the next-version set\n\
        is built in target/archway/next-version (a copy of the checkout with the minor version bumped).\n\
        x64 runs in a 64-bit Wine prefix, x86 in a 32-bit one (WINEARCH=win32: the x86 package refuses\n\
        64-bit Windows). arm64 runs in the emulated ARM64 root's Wine (as root; `arm64-root install`),\n\
        each call with a transform setting the Program Files folders Wine 8 arm64 leaves unset\n\
        (docs/pools.md).\n\
        Verbose logs are kept in target/archway/msi-engine/logs/<platform>/.\n\
        Under CI=true (or with --require-all) a platform this machine should run but cannot fails the run;\n\
        x86 is required only when ARCHWAY_WINE32=1."
    )]
    Cycle(CycleArgs),
}

#[derive(clap::Args, Clone, Debug)]
pub struct CycleArgs {
    /// Platforms to cycle (x64, x86, arm64; repeat or separate with commas). Default: all three.
    #[arg(long = "platform", value_name = "PLATFORM")]
    pub platforms: Vec<String>,
    /// The current package set (a `dist` folder with manifest.json); default: run `dist`.
    #[arg(long, value_name = "DIR")]
    pub packages: Option<PathBuf>,
    /// The next-version package set; default: build it in a scratch copy of the checkout.
    #[arg(long, value_name = "DIR")]
    pub next: Option<PathBuf>,
    /// Fail when a platform cannot run here (default under CI=true).
    #[arg(long)]
    pub require_all: bool,
    /// Also keep Wine's msi.dll trace (`WINEDEBUG=+msi`) beside each log as `.trace`: Wine's
    /// verbose log records no file decisions, the trace does.
    #[arg(long)]
    pub trace: bool,
}

pub fn run(project: &Project, args: Args) -> Result<()> {
    match &args.action {
        Action::Cycle(cycle) => run_cycle(project, cycle),
    }
}

/// Why a platform did not run.
enum Skip {
    /// Required here but missing: fails under CI.
    Missing(String),
    /// Best effort (32-bit Wine): a note unless ARCHWAY_WINE32=1.
    BestEffort(String),
    /// Runs on another kind of machine.
    Elsewhere(String),
}

fn run_cycle(project: &Project, args: &CycleArgs) -> Result<()> {
    let require_all = args.require_all || std::env::var("CI").is_ok_and(|v| v == "true");
    let mut platforms = Vec::new();
    for name in args.platforms.iter().flat_map(|p| p.split(',')).map(str::trim).filter(|p| !p.is_empty()) {
        let platform: Platform = name.parse()?;
        if !platforms.contains(&platform) {
            platforms.push(platform);
        }
    }
    if platforms.is_empty() {
        platforms = vec![Platform::X64, Platform::X86, Platform::Arm64];
    }
    let state = project.target_dir.join("archway").join("msi-engine");
    let current = crate::dist::given_or_built(args.packages.as_deref(), project, "msi-engine")?;
    let next_set = match &args.next {
        Some(dir) => dir.clone(),
        None => next::build(project, &next::scratch(project))?,
    };
    let mut failed = Vec::new();
    let mut missing = Vec::new();
    for platform in platforms {
        match cycle_platform(platform, &current, &next_set, &state, args.trace) {
            Ok(steps) => {
                if steps.iter().any(|s| !s.passed) {
                    failed.push(platform.to_string());
                }
            }
            Err(Skip::Missing(why)) => {
                println!("{platform}: not run: {why}");
                missing.push(platform.to_string());
            }
            Err(Skip::BestEffort(why)) => println!("{platform}: not run (best effort): {why}"),
            Err(Skip::Elsewhere(why)) => println!("{platform}: not run here: {why}"),
        }
    }
    if !failed.is_empty() {
        bail!("the installer-engine cycle failed for {} (logs in {})", failed.join(", "), state.join("logs").display());
    }
    if !missing.is_empty() && require_all {
        bail!(
            "the installer-engine cycle could not run for {} (required under CI=true or --require-all)",
            missing.join(", ")
        );
    }
    Ok(())
}

/// The Wine accommodation of the arm64 cycle (docs/pools.md, "Wine's msiexec on arm64"): Wine
/// 8's arm64 msiexec sets neither `ProgramFilesFolder` nor `ProgramFiles64Folder`
/// (`set_installer_properties` knows only x86 and AMD64 machines) and upper-cases the names of
/// command-line properties, so both folders would resolve to `C:\` and the x86 `archway.dll`
/// and the Arm64X forwarder would overwrite each other in `C:\Archway`. A transform adding the
/// two Property rows, given to every call, sets them as 64-bit Windows does; the package is
/// unchanged. Windows needs none of this: the windows-11-arm job installs the same package with
/// Windows Installer. What it cannot reach: RemoveExistingProducts' nested uninstall of the old
/// product opens the old package without it, deletes nothing (its folders are `C:\Archway`),
/// and the new product installs over the old files; so on arm64 the upgrade step does not show
/// that the old product's removal keeps the new files (the x64 cycle does).
fn arm64_folders(engine: Engine<'_>) -> Result<Engine<'_>> {
    let mst = transform::property_rows(&[
        ("ProgramFilesFolder", r"C:\Program Files (x86)\"),
        ("ProgramFiles64Folder", r"C:\Program Files\"),
    ])?;
    engine.with_transform("arm64-program-files.mst", &mst)
}

/// One platform's cycle on the host that fits it; prints its table.
fn cycle_platform(
    platform: Platform,
    current: &Path,
    next_set: &Path,
    state: &Path,
    trace: bool,
) -> Result<Vec<cycle::Step>, Skip> {
    let opened: Result<(Box<dyn WindowsHost>, bool), Skip> = match platform {
        Platform::X64 if !cfg!(all(unix, target_arch = "x86_64")) => Err(Skip::Elsewhere("Wine's x64 engine runs on x86_64 Linux".into())),
        Platform::X64 => match HostWine::find() {
            None => Err(Skip::Missing("Wine is not installed (apt-get install wine64)".into())),
            Some(wine) => HostWine::open(&wine, &state.join("wine-x64")).map(|h| (Box::new(h) as Box<dyn WindowsHost>, true)).map_err(|e| Skip::Missing(format!("{e:#}"))),
        },
        Platform::X86 if !cfg!(all(unix, target_arch = "x86_64")) => Err(Skip::Elsewhere("32-bit Wine runs on x86_64 Linux".into())),
        Platform::X86 => {
            let required = std::env::var("ARCHWAY_WINE32").as_deref() == Ok("1");
            let skip = |why: String| if required { Skip::Missing(format!("{why} (ARCHWAY_WINE32=1 says it is installed)")) } else { Skip::BestEffort(why) };
            // 32-bit Windows: the x86 package refuses 64-bit Windows by its launch condition.
            match HostWine::find_32bit() {
                None => Err(skip("32-bit Wine is not installed (dpkg --add-architecture i386; apt-get install wine32:i386)".into())),
                Some(wine) => HostWine::open_32bit(&wine, &state.join("wine-x86")).map(|h| (Box::new(h) as Box<dyn WindowsHost>, false)).map_err(|e| skip(format!("{e:#}"))),
            }
        }
        Platform::Arm64 if !cfg!(all(unix, target_arch = "x86_64")) => {
            Err(Skip::Elsewhere("the emulated ARM64 root runs on x86_64 Linux; the windows-11-arm job installs the arm64 package with Windows Installer".into()))
        }
        // Wine on x86_64 refuses an Arm64 package: the emulated root's arm64 Wine runs it.
        Platform::Arm64 => match crate::emulation::open_session() {
            Ok(host) => Ok((host, true)),
            Err(e) => Err(Skip::Missing(format!("{e:#}"))),
        },
    };
    let (host, wow64) = opened?;
    let result = (|| -> Result<Vec<cycle::Step>> {
        let old = manifest::package(current, platform)?;
        let new = manifest::package(next_set, platform)?;
        if old.version == new.version {
            bail!(
                "the current and next package sets are both {}; the cycle needs a newer version in --next",
                old.version
            );
        }
        let logs = state.join("logs").join(platform.to_string());
        let _ = std::fs::remove_dir_all(&logs);
        let engine = Engine::new(host.as_ref(), &logs)?;
        let engine = if trace { engine.with_trace() } else { engine };
        let engine = match platform {
            Platform::Arm64 => arm64_folders(engine)?,
            _ => engine,
        };
        let steps = cycle::run(&engine, &old, &new, wow64)?;
        println!(
            "{}",
            cycle::render(
                &format!("{platform}: {} -> {} with Wine's msiexec on {}", old.version, new.version, host.describe()),
                &steps
            )
        );
        Ok(steps)
    })()
    .with_context(|| format!("the {platform} cycle could not run"));
    match result {
        Ok(steps) => Ok(steps),
        Err(e) => {
            println!("{platform}: FAILED: {e:#}");
            Ok(vec![cycle::Step {
                name: "setup".into(),
                call: "-".into(),
                expected: "",
                observed: format!("{e:#}"),
                passed: false,
                evidence: Vec::new(),
            }])
        }
    }
}
