//! Tests of the MSI layer: the writer's identifiers, tables and determinism; the reader and the
//! PE facts; the lint's rules with seeded faults; the upgrade simulator; msitools and wixl
//! reading what we write.

pub(crate) mod fixture;
// Wine's msiexec replays the seeded upgrade faults (Linux x86_64).
#[cfg(not(windows))]
mod engine;
mod lint;
mod malformed;
// msitools and wixl are the Linux readers; on Windows, tests/msi_install.rs installs, upgrades
// and removes the packages with msiexec instead.
#[cfg(not(windows))]
mod msitools;
mod pe;
mod schema;
// archway_sections.js under Wine's cscript (Linux x86_64).
#[cfg(not(windows))]
mod sections;
mod simulate;
#[cfg(not(windows))]
mod wixl;
mod writer;
