//! archway's MSI layer: a package model, a pure-Rust writer (the `msi` and `cab` crates, no
//! WiX), a reader, the upgrade-safety lint and the major-upgrade simulator of msi.md §2.7–2.8,
//! and a `.wxs` generator for comparing against wixl.

mod cabinet;
mod check;
mod compare;
mod database;
mod finding;
pub mod ids;
mod iis;
mod md5;
mod model;
mod pe;
mod plan;
mod read;
mod schema;
pub mod sequences;
mod simulate;
mod view;
mod write;

pub use database::{Database, Row, Table};
pub use model::{IisModule, InstallDir, Package, PackageFile, PeInfo, Platform};
pub use pe::pe_info;
pub use plan::{Plan, plan};
pub use write::{Written, to_bytes, write_msi};
pub use check::lint;
pub use compare::compare;
pub use finding::{Finding, Severity, has_errors};
pub use read::{ReadPackage, SummaryFacts, read_msi, read_msi_bytes};
pub use simulate::{DiskFile, Product, Simulation, major_upgrade};
pub use view::{PackageView, Payload, Schedule, ViewFile};

#[cfg(test)]
mod tests;
