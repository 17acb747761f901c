//! Tests of the MSI layer: the writer's identifiers, tables and determinism; the reader and the
//! PE facts; the lint's rules with seeded faults; the upgrade simulator; msitools and wixl
//! reading what we write; real DLLs when a build left them.

mod fixture;
mod lint;
mod msitools;
mod pe;
mod simulate;
mod wixl;
mod writer;
