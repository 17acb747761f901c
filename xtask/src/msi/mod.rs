//! archway's MSI layer: a package model, a pure-Rust writer (the `msi` and `cab` crates, no
//! WiX), a reader, the upgrade-safety lint and the major-upgrade simulator of docs/msi.md §2.7–2.8,
//! and a `.wxs` generator for comparing against wixl.

mod cabinet;
mod check;
mod check_schema;
mod compare;
mod database;
mod finding;
mod ids;
mod iis;
mod iis_schema;
mod md5;
mod model;
mod pe;
mod plan;
mod read;
mod report;
mod scenario;
mod schema;
mod sequences;
mod simulate;
mod view;
mod write;
pub mod wxs;

// What `dist`, `msi-check` and `bench msi` use.
pub use ids::braced;
pub use model::{HPH_SCHEMA, IisModule, IisSchema, InstallDir, Package, PackageFile, Platform, SchemaDir, SchemaFile};
pub use report::check_files;
pub use write::write_msi;
// What `pools` uses to install a package from its own tables.
pub use read::read_msi;
pub use view::PackageView;
// What the fuzz harness feeds: the reader, the lint with its simulated upgrade, the cabinet
// reader and the PE facts the MSI layer reads.
pub use {
    cabinet::extract as extract_cabinet,
    pe::pe_info,
    read::{embedded_cabinets, read_msi_bytes},
    report::check_views,
};

/// Lint an MSI (and, with --previous, check and simulate it as a major upgrade of OLD).
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "Examples:\n  cargo xtask msi-check target/dist/archway-0.2.0.0-arm64.msi\n  \
    cargo xtask msi-check new.msi --previous old.msi\n\n\
    Each finding names its rule (e.g. component-guid-changed, unversioned-pe, machine-folder)\n\
    and the install path. Exits non-zero when there is an error.")]
pub struct CheckArgs {
    /// The package to check.
    #[arg(value_name = "NEW.msi")]
    pub package: std::path::PathBuf,
    /// The release it must upgrade.
    #[arg(long, value_name = "OLD.msi")]
    pub previous: Option<std::path::PathBuf>,
}

/// `cargo xtask msi-check` (no checkout needed): the report, and an error when it has errors.
pub fn run_check(args: CheckArgs) -> anyhow::Result<()> {
    let report = check_files(&args.package, args.previous.as_deref())?;
    println!("{}", report.render());
    match report.errors() {
        0 => Ok(()),
        n => anyhow::bail!("{}: {n} error(s)", args.package.display()),
    }
}

// The layers below, for the tests (and for callers that need them later).
// Some are used only by the msitools tests, which Windows does not build.
#[cfg(test)]
#[allow(unused_imports)]
pub use {
    check::lint,
    compare::compare,
    database::Database,
    finding::{Finding, Severity},
    model::PeInfo,
    plan::plan,
    scenario::run as schema_scenarios,
    simulate::{Product, major_upgrade},
    view::Schedule,
    write::Written,
    write::to_bytes,
};

#[cfg(test)]
pub(crate) mod tests;
