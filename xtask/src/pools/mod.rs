//! `cargo xtask pools`: the IIS application-pool matrix. Every `[[pool]]` row of `matrix.toml`
//! this machine can run is run from the installed package: on the worker stand-in (under Wine,
//! the emulated ARM64 root, or natively on Windows) or on real IIS, and printed as a table.

pub mod apphost;
pub mod bench;
pub mod check;
pub mod iis;
pub mod install;
pub mod rows;
pub mod standin;

use std::{
    path::{Path, PathBuf},
    time::Instant,
};

use anyhow::{Context, Result, bail};

use crate::{
    msi::Platform,
    project::Project,
    winhost::{WindowsHost, wine::HostWine},
};
use rows::{HostMachine, PoolRow, WorkerArch};
use standin::Fault;

/// Run the IIS application-pool matrix (matrix.toml's [[pool]] rows) from the installed
/// packages: on the worker stand-in under Wine, the emulated ARM64 root or Windows, or on
/// real IIS.
#[derive(clap::Args, Clone, Debug)]
#[command(
    after_help = "Examples:\n  cargo xtask pools                      # every row this machine can run, on the stand-in\n  \
    cargo xtask pools --row x86-on-x64      # one row\n  \
    cargo xtask pools --host iis --upgrade  # real IIS (Windows, elevated): install, serve, upgrade while running, uninstall\n  \
    cargo xtask pools --worker x64=x86      # start a row's worker as another architecture: the checks must fail\n\n\
    Rows come from matrix.toml's [[pool]] entries. Packages are built with `cargo xtask dist` first\n\
    unless --packages names a folder of archway-<version>-<platform>.msi files.\n\
    Under CI=true (or with --require-all) a row this machine should run but cannot fails the run."
)]
pub struct Args {
    /// Where the pools run: the worker stand-in, or real IIS (Windows only).
    #[arg(long, value_enum, default_value = "standin")]
    pub host: HostKind,
    /// Run only these rows (by name; repeat or separate with commas).
    #[arg(long = "row", value_name = "NAME")]
    pub rows: Vec<String>,
    /// A folder with the packages to install (default: run `dist` and use target/dist).
    #[arg(long, value_name = "DIR")]
    pub packages: Option<PathBuf>,
    /// Where the stand-in worker programs are (default: target/archway/release/bin).
    #[arg(long, value_name = "DIR")]
    pub bin_dir: Option<PathBuf>,
    /// Skip the planted faults (wrong-architecture module, missing handler, broken config).
    #[arg(long)]
    pub no_faults: bool,
    /// Start ROW's worker as ARCH instead of what WAS would choose (x86, x64 or arm64), to see
    /// the checks catch a wrong worker.
    #[arg(long = "worker", value_name = "ROW=ARCH")]
    pub overrides: Vec<String>,
    /// Fail when a row this machine should run cannot run here (default under CI=true).
    #[arg(long)]
    pub require_all: bool,
    /// Real IIS only: upgrade to a next-version package while the pools run, recycle, check
    /// again, then uninstall and check the module is unregistered.
    #[arg(long)]
    pub upgrade: bool,
    /// On Windows, let the stand-in rows lay the package out in the real `C:\Program Files`
    /// (replacing an installed archway's files); CI machines pass it.
    #[arg(long)]
    pub allow_system_changes: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostKind {
    /// `tests/worker`: a program that plays w3wp.exe (Wine, the emulated ARM64 root, Windows).
    Standin,
    /// IIS itself, configured with appcmd (Windows, elevated).
    Iis,
}

/// How a row ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    Failed(Vec<String>),
    /// This machine should run the row but lacks something: what, and how to get it.
    Missing(String),
    /// A best-effort prerequisite is missing (32-bit Wine, which Debian mirrors do not always
    /// serve): not run, said so, and not a failure even under CI=true unless ARCHWAY_WINE32=1
    /// says it was installed.
    BestEffort(String),
    /// The row runs on another kind of machine: which.
    Elsewhere(String),
}

/// One line of the table.
#[derive(Clone, Debug)]
pub struct Line {
    pub row: String,
    pub host: String,
    pub attributes: String,
    pub worker: String,
    pub module: String,
    pub served: usize,
    pub outcome: Outcome,
}

pub fn run(project: &Project, args: Args) -> Result<()> {
    let all = rows::load(&project.root)?;
    let selected = select(&all, &args.rows)?;
    let overrides = parse_overrides(&args.overrides, &selected)?;
    let require_all = args.require_all || std::env::var("CI").is_ok_and(|v| v == "true");
    let packages = crate::dist::given_or_built(args.packages.as_deref(), project, "pools")?;
    let bin_dir = args.bin_dir.clone().unwrap_or_else(|| project.build_dir("release").join("bin"));
    let lines = match args.host {
        HostKind::Standin => run_standin(
            project,
            &selected,
            &packages,
            &bin_dir,
            &overrides,
            !args.no_faults,
            args.allow_system_changes,
        )?,
        HostKind::Iis => iis::run(project, &selected, &packages, args.upgrade)?,
    };
    println!("{}", render(&lines));
    let failed = lines.iter().filter(|l| matches!(l.outcome, Outcome::Failed(_))).count();
    let missing = lines.iter().filter(|l| matches!(l.outcome, Outcome::Missing(_))).count();
    for l in lines.iter().filter(|l| matches!(l.outcome, Outcome::BestEffort(_))) {
        eprintln!(
            "note: {} was not run here: {}",
            l.row,
            match &l.outcome {
                Outcome::BestEffort(why) => why.as_str(),
                _ => "",
            }
        );
    }
    if failed > 0 {
        bail!("{failed} pool row(s) failed");
    }
    if missing > 0 && require_all {
        bail!("{missing} pool row(s) could not run on this machine (required under CI=true or --require-all)");
    }
    Ok(())
}

fn select(all: &[PoolRow], names: &[String]) -> Result<Vec<PoolRow>> {
    if names.is_empty() {
        return Ok(all.to_vec());
    }
    let mut out = Vec::new();
    for name in names.iter().flat_map(|n| n.split(',')).map(str::trim) {
        let row = all.iter().find(|r| r.name == name).with_context(|| {
            let known: Vec<&str> = all.iter().map(|r| r.name.as_str()).collect();
            format!("no pool row `{name}` in matrix.toml; known: {}", known.join(", "))
        })?;
        if !out.contains(row) {
            out.push(row.clone());
        }
    }
    Ok(out)
}

/// `ROW=ARCH` pairs: the architecture to start a row's worker as.
fn parse_overrides(given: &[String], rows: &[PoolRow]) -> Result<Vec<(String, WorkerArch)>> {
    given
        .iter()
        .map(|pair| {
            let (row, arch) =
                pair.split_once('=').with_context(|| format!("--worker {pair}: expected ROW=ARCH, e.g. x64=x86"))?;
            if !rows.iter().any(|r| r.name == row) {
                bail!("--worker {pair}: no selected row `{row}`");
            }
            Ok((row.to_string(), arch.parse()?))
        })
        .collect()
}

/// Where this machine runs a row on the stand-in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    /// This machine's Wine (x64 host rows).
    Wine,
    /// The arm64 Wine of the emulated ARM64 root (native ARM64 rows).
    EmulatedArm64,
    /// Windows itself.
    Native,
}

/// The machine this process runs on, as a Windows host would be: None for Linux and others.
fn this_windows() -> Option<HostMachine> {
    if !cfg!(windows) {
        return None;
    }
    // An x64 build of the xtask may run emulated on ARM64: ask the OS, not the compiler.
    let native = std::env::var("PROCESSOR_ARCHITEW6432")
        .or_else(|_| std::env::var("PROCESSOR_ARCHITECTURE"))
        .unwrap_or_default();
    Some(if native.eq_ignore_ascii_case("ARM64") { HostMachine::Arm64 } else { HostMachine::X64 })
}

fn place(row: &PoolRow, windows: Option<HostMachine>) -> Result<Place, String> {
    match (windows, row.host, row.worker) {
        (Some(here), host, _) if here == host => Ok(Place::Native),
        (Some(here), host, _) => Err(format!("needs an {host} Windows host (this is {here} Windows)")),
        (None, HostMachine::X64, _) if cfg!(target_arch = "x86_64") => Ok(Place::Wine),
        (None, HostMachine::Arm64, WorkerArch::Arm64) if cfg!(target_arch = "x86_64") => Ok(Place::EmulatedArm64),
        // docs/pools.md, "ARM64 under emulation": x64 and x86 code in an ARM64 Windows process
        // needs an emulator DLL that no Debian package ships.
        (None, HostMachine::Arm64, worker) => Err(format!(
            "an {worker} worker on ARM64 needs Windows on ARM64 (x64 and x86 code in an ARM64 process needs an emulator DLL no Debian package ships): runs in the windows-11-arm job"
        )),
        (None, HostMachine::X64, _) => Err("needs an x86_64 Linux machine with Wine, or x64 Windows".to_string()),
    }
}

fn run_standin(
    project: &Project,
    rows: &[PoolRow],
    packages: &Path,
    bin_dir: &Path,
    overrides: &[(String, WorkerArch)],
    faults: bool,
    allow_system_changes: bool,
) -> Result<Vec<Line>> {
    let windows = this_windows();
    let mut lines = Vec::new();
    let mut groups: Vec<(Place, Vec<&PoolRow>)> = Vec::new();
    for row in rows {
        match place(row, windows) {
            Ok(p) => match groups.iter_mut().find(|(g, _)| *g == p) {
                Some((_, members)) => members.push(row),
                None => groups.push((p, vec![row])),
            },
            Err(why) => lines.push(line(row, "-", "", 0, Outcome::Elsewhere(why))),
        }
    }
    let state = project.target_dir.join("archway").join("pools");
    for (place, members) in groups {
        let opened: Result<Box<dyn WindowsHost>, String> = match place {
            Place::Wine => match HostWine::find() {
                Some(wine) => HostWine::open(&wine, &state.join("wine-x64")).map(|h| Box::new(h) as Box<dyn WindowsHost>).map_err(|e| format!("{e:#}")),
                None => Err("Wine is not installed (apt-get install wine64; wine32:i386 for x86 pools)".to_string()),
            },
            Place::EmulatedArm64 => emulated_arm64(),
            Place::Native if allow_system_changes => Ok(Box::new(crate::winhost::native::NativeWindows)),
            Place::Native => Err(r"on Windows the stand-in installs into the real C:\Program Files\Archway: pass --allow-system-changes (CI does)".to_string()),
        };
        let host = match opened {
            Ok(h) => h,
            Err(why) => {
                lines.extend(members.iter().map(|r| line(r, "-", "", 0, Outcome::Missing(why.clone()))));
                continue;
            }
        };
        lines.extend(run_group(host.as_ref(), &members, packages, bin_dir, overrides, faults)?);
    }
    lines.sort_by_key(|l| {
        rows.iter().position(|r| r.name == l.row.split(" · ").next().unwrap_or_default()).unwrap_or(usize::MAX)
    });
    Ok(lines)
}

/// The emulated ARM64 root's Wine, when it is provisioned.
fn emulated_arm64() -> Result<Box<dyn WindowsHost>, String> {
    crate::emulation::open_session().map_err(|e| format!("{e:#}"))
}

/// Runs the rows that share one host: one package layout per platform, one configuration, then
/// each row and, on the first row of each platform, the planted faults.
fn run_group(
    host: &dyn WindowsHost,
    rows: &[&PoolRow],
    packages: &Path,
    bin_dir: &Path,
    overrides: &[(String, WorkerArch)],
    faults: bool,
) -> Result<Vec<Line>> {
    let mut lines = Vec::new();
    let where_ = host.describe();
    let owned: Vec<PoolRow> = rows.iter().map(|r| (*r).clone()).collect();
    let apphost = apphost::AppHost::new(&owned, |_| 0, |r| format!(r"C:\inetpub\{}", r.name));
    let config = standin::write_config(host, &apphost)?;
    for platform in packages_of(rows.iter().copied()) {
        let msi = find_package(packages, platform)?;
        let lay_out = || install::lay_out(&msi, &host.drive_c());
        // On this machine's Wine the x64 package is installed by Wine's msiexec, so the bytes a
        // pool loads were put there by an installer (README "Installer engine"); after a planted
        // fault the files are laid out again from the same package.
        let mut installed = if crate::installer::pool::installs_here(platform) {
            let (installed, notes) = crate::installer::pool::install(host, &msi)?;
            for note in notes {
                eprintln!("[pools] {platform} package: {note}");
            }
            installed
        } else {
            lay_out()?
        };
        let mut faults_done = !faults;
        for row in rows.iter().filter(|r| r.package == platform) {
            let start = Instant::now();
            let started_as = overrides.iter().find(|(n, _)| *n == row.name).map_or(row.worker, |(_, a)| *a);
            eprintln!("[pools] {}: {} worker on {where_} …", row.name, started_as);
            if started_as == WorkerArch::X86 && !host.runs_x86() {
                let outcome = match std::env::var("ARCHWAY_WINE32").as_deref() {
                    Ok("1") => Outcome::Failed(vec![format!("ARCHWAY_WINE32=1 says 32-bit Wine is installed, but {where_} runs no 32-bit program (no SysWOW64 in its prefix)")]),
                    _ => Outcome::BestEffort("32-bit Wine is not installed (apt-get install wine32:i386; .ci/run tries it and sets ARCHWAY_WINE32=1)".to_string()),
                };
                eprintln!("[pools] {}: {}", row.name, outcome_word(&outcome));
                lines.push(line(row, &where_, "", 0, outcome));
                continue;
            }
            let exe = match standin::install_worker(host, bin_dir, row.worker, started_as) {
                Ok(exe) => exe,
                Err(e) => {
                    lines.push(line(row, &where_, "", 0, Outcome::Failed(vec![format!("{e:#}")])));
                    continue;
                }
            };
            let env = worker_env(host, row, &installed);
            let outcome = standin::run_row(host, row, &exe, &config, &installed, &env);
            let (module, served, outcome) = match outcome {
                Ok(run) if run.problems.is_empty() => (run.module, run.served, Outcome::Passed),
                Ok(run) => (run.module, run.served, Outcome::Failed(run.problems)),
                Err(e) => {
                    let text = format!("{e:#}");
                    (String::new(), 0, Outcome::Failed(vec![text]))
                }
            };
            eprintln!("[pools] {}: {} ({})", row.name, outcome_word(&outcome), standin::elapsed(start));
            let runnable = outcome == Outcome::Passed;
            lines.push(line(row, &where_, &module, served, outcome));
            if !faults_done && runnable {
                faults_done = true;
                for fault in Fault::ALL {
                    let problems = standin::run_fault(host, row, &exe, &config, &installed, &env, fault)
                        .unwrap_or_else(|e| vec![format!("{e:#}")]);
                    installed = lay_out()?;
                    let outcome = if problems.is_empty() { Outcome::Passed } else { Outcome::Failed(problems) };
                    eprintln!("[pools] {} · fault: {}: {}", row.name, fault.name(), outcome_word(&outcome));
                    let mut l = line(row, &where_, "", 0, outcome);
                    l.row = format!("{} · fault: {}", row.name, fault.name());
                    lines.push(l);
                }
            }
        }
    }
    Ok(lines)
}

/// What a worker needs beyond what Windows gives it. Under Wine, a module that is an Arm64X
/// forwarder resolves its forwards only along the process's search path, so the module's
/// folder goes on it (`WINEPATH`): a Wine accommodation (docs/pools.md, "Running Windows
/// workers on Linux"), never made on Windows, whose CI jobs load the forwarder as IIS does.
fn worker_env(host: &dyn WindowsHost, row: &PoolRow, installed: &install::Installed) -> Vec<(String, String)> {
    let image = check::expected_image(row);
    let forwarder = installed.file(&image).is_some_and(|f| f.forwarder);
    if forwarder && !host.resolves_forwarders_from_load_folder() {
        let folder = &image[..image.rfind('\\').unwrap_or(0)];
        return vec![("WINEPATH".to_string(), folder.to_string())];
    }
    Vec::new()
}

/// The packages `rows` need, in row order, each once.
fn packages_of<'a>(rows: impl IntoIterator<Item = &'a PoolRow>) -> Vec<Platform> {
    let mut platforms = Vec::new();
    for row in rows {
        if !platforms.contains(&row.package) {
            platforms.push(row.package);
        }
    }
    platforms
}

/// `archway-<version>-<platform>.msi` in `dir` (exactly one).
pub fn find_package(dir: &Path, platform: Platform) -> Result<PathBuf> {
    let suffix = format!("-{}.msi", platform.name());
    let found: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {} (build the packages with `cargo xtask dist`)", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("archway-") && n.ends_with(&suffix))
        })
        .collect();
    match found.as_slice() {
        [one] => Ok(one.clone()),
        [] => bail!("no archway-<version>{suffix} in {}", dir.display()),
        many => bail!("{} packages for {} in {}: keep one", many.len(), platform.name(), dir.display()),
    }
}

fn line(row: &PoolRow, host: &str, module: &str, served: usize, outcome: Outcome) -> Line {
    Line {
        row: row.name.clone(),
        host: if host == "-" { format!("{} Windows", row.host) } else { host.to_string() },
        attributes: row.attributes_text(),
        worker: row.worker.to_string(),
        module: module.to_string(),
        served,
        outcome,
    }
}

fn outcome_word(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Passed => "passed",
        Outcome::Failed(_) => "FAILED",
        Outcome::Missing(_) => "NOT RUN (missing prerequisite)",
        Outcome::BestEffort(_) => "NOT RUN (best-effort prerequisite)",
        Outcome::Elsewhere(_) => "runs elsewhere",
    }
}

/// The table: row | host | attributes | worker | module loaded | requests | result, then the
/// details of every row that did not pass.
pub fn render(lines: &[Line]) -> String {
    let headers = ["row", "host", "attributes", "worker", "module loaded", "requests", "result"];
    let cells: Vec<[String; 7]> = lines
        .iter()
        .map(|l| {
            [
                l.row.clone(),
                l.host.clone(),
                l.attributes.clone(),
                l.worker.clone(),
                if l.module.is_empty() { "-".into() } else { l.module.clone() },
                l.served.to_string(),
                outcome_word(&l.outcome).to_string(),
            ]
        })
        .collect();
    let mut widths = headers.map(str::len);
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let format_row = |cols: &[String]| {
        cols.iter().zip(widths).map(|(c, w)| format!("{c:<w$}")).collect::<Vec<_>>().join(" | ").trim_end().to_string()
    };
    let mut out = format_row(&headers.map(String::from));
    out.push('\n');
    out.push_str(&widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().join("-|-"));
    for row in &cells {
        out.push('\n');
        out.push_str(&format_row(row));
    }
    for l in lines {
        let details = match &l.outcome {
            Outcome::Failed(problems) => problems.join("\n    "),
            Outcome::Missing(why) | Outcome::BestEffort(why) | Outcome::Elsewhere(why) => why.clone(),
            Outcome::Passed => continue,
        };
        out.push_str(&format!("\n\n{}: {}\n    {details}", l.row, outcome_word(&l.outcome)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> Vec<PoolRow> {
        rows::load(Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()).unwrap()
    }

    #[test]
    fn linux_runs_the_x64_host_rows_under_wine_and_native_arm64_emulated() {
        if !cfg!(all(target_os = "linux", target_arch = "x86_64")) {
            return;
        }
        let placed: Vec<(String, Result<Place, String>)> =
            rows().iter().map(|r| (r.name.clone(), place(r, None))).collect();
        let get = |name: &str| placed.iter().find(|(n, _)| n == name).unwrap().1.clone();
        assert_eq!(get("x64"), Ok(Place::Wine));
        assert_eq!(get("x86-on-x64"), Ok(Place::Wine));
        assert_eq!(get("arm64"), Ok(Place::EmulatedArm64));
        assert!(get("x64-on-arm64").unwrap_err().contains("windows-11-arm"));
        assert!(get("x86-on-arm64").unwrap_err().contains("windows-11-arm"));
    }

    #[test]
    fn windows_hosts_run_their_own_rows_natively() {
        for row in rows() {
            assert_eq!(place(&row, Some(row.host)), Ok(Place::Native));
            let other = if row.host == HostMachine::X64 { HostMachine::Arm64 } else { HostMachine::X64 };
            assert!(place(&row, Some(other)).is_err());
        }
    }

    #[test]
    fn selection_and_overrides_name_unknown_rows() {
        let all = rows();
        assert_eq!(select(&all, &["x64,arm64".into()]).unwrap().len(), 2);
        assert!(select(&all, &["nope".into()]).unwrap_err().to_string().contains("no pool row `nope`"));
        assert_eq!(parse_overrides(&["x64=x86".into()], &all).unwrap(), vec![("x64".to_string(), WorkerArch::X86)]);
        assert!(parse_overrides(&["x64".into()], &all).is_err());
        assert!(parse_overrides(&["x64=mips".into()], &all).is_err());
    }

    #[test]
    fn the_table_lists_every_row_then_why_some_did_not_pass() {
        let all = rows();
        let lines = vec![
            line(&all[0], "Wine 8.0 (x86_64)", r"C:\Program Files\Archway\archway.dll", 25, Outcome::Passed),
            line(&all[2], "-", "", 0, Outcome::Elsewhere("runs in the windows-11-arm job".into())),
            line(
                &all[1],
                "Wine 8.0 (x86_64)",
                "",
                3,
                Outcome::Failed(vec!["process.machine: \"x64\" (expected \"x86\")".into()]),
            ),
        ];
        let table = render(&lines);
        let first: Vec<&str> = table.lines().take(5).collect();
        let headers: Vec<&str> = first[0].split('|').map(str::trim).collect();
        assert_eq!(headers, ["row", "host", "attributes", "worker", "module loaded", "requests", "result"], "{table}");
        assert!(first[2].contains(r"C:\Program Files\Archway\archway.dll") && first[2].ends_with("passed"), "{table}");
        assert!(first[3].contains("arm64 Windows") && first[3].ends_with("runs elsewhere"), "{table}");
        assert!(table.contains("x86-on-x64: FAILED\n    process.machine"), "{table}");
    }
}
