//! `cargo xtask`: archway's build, test and release automation. This file parses the command
//! line and hands each verb to its module.

mod bench;
mod binaries;
mod build;
mod ci;
mod cmd;
mod config;
mod dist;
mod doctor;
mod emulation;
mod forwarders;
mod fsx;
mod fuzz;
mod installer;
mod matrix;
mod msi;
mod panics;
mod pools;
mod project;
mod sign;
mod toolchain;
mod verify;
mod winhost;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use project::Project;

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Build, test and package archway", arg_required_else_help = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Every verb, with the options its module defines (each module's `Args` carries its help).
#[derive(Subcommand)]
enum Command {
    Build(build::Args),
    Forwarders(forwarders::Args),
    Verify(verify::command::Args),
    Dist(dist::Args),
    Sign(sign::Args),
    MsiCheck(msi::CheckArgs),
    Doctor(doctor::Args),
    Toolchain(toolchain::Args),
    Ci(ci::Args),
    CompareDist(ci::compare::Args),
    Pools(pools::Args),
    MsiEngine(installer::Args),
    #[command(name = "arm64-root")]
    Arm64Root(emulation::Args),
    Fuzz(fuzz::Args),
    Bench(bench::Args),
    WinePrefix(winhost::wine::PrefixArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    ignore_compiler_flags_from_environment();
    cmd::end_children_on_interrupt();
    let outcome = dispatch(cli.command);
    cmd::trace(&format!("{} processes started", cmd::processes_started()));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Hands each verb to its module. The project is discovered here, once, for the verbs that
/// work on a checkout; `verify` and `toolchain` also work outside one (without the build's own
/// checks, and without the remembered tool probes); `sign`, `msi-check`, `compare-dist` and
/// `arm64-root` never look at it.
fn dispatch(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Build(args) => build::run_verb(&Project::discover()?, args),
        Command::Forwarders(args) => forwarders::run(&Project::discover()?, args),
        Command::Verify(args) => verify::command::run(Project::discover().ok().as_ref(), args),
        Command::Dist(args) => dist::run(&Project::discover()?, args),
        Command::Sign(args) => sign::run_verb(args),
        Command::MsiCheck(args) => msi::run_check(args),
        Command::Doctor(args) => doctor::run(&Project::discover()?, args),
        Command::Toolchain(args) => toolchain::run(Project::discover().ok().as_ref(), args),
        Command::Ci(args) => ci::run_verb(&Project::discover()?, args),
        Command::CompareDist(args) => ci::compare::run(args),
        Command::Pools(args) => pools::run(&Project::discover()?, args),
        Command::MsiEngine(args) => installer::run(&Project::discover()?, args),
        Command::Arm64Root(args) => emulation::run(args.action),
        Command::Fuzz(args) => fuzz::run_verb(&Project::discover()?, args),
        Command::Bench(args) => bench::run(&Project::discover()?, args),
        Command::WinePrefix(args) => winhost::wine::run_prefix(args),
    }
}

/// The `cc` crate adds CFLAGS/CXXFLAGS (and their per-target forms) from the environment to
/// every compile. archway's flags are part of its reproducibility promise, so they are dropped,
/// with a note, before any thread starts.
fn ignore_compiler_flags_from_environment() {
    let leaking: Vec<String> = std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .filter(|k| {
            let flags = k.trim_start_matches("TARGET_").trim_start_matches("HOST_");
            flags.starts_with("CFLAGS") || flags.starts_with("CXXFLAGS") || k == "CRATE_CC_NO_DEFAULTS"
        })
        .collect();
    for key in leaking {
        eprintln!(
            "note: ignoring {key} from the environment: archway's compiler flags are fixed for reproducible builds"
        );
        // SAFETY: called from `main` before any other thread exists.
        unsafe { std::env::remove_var(&key) };
    }
}

#[cfg(test)]
mod tidy;
