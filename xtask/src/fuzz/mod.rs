//! `cargo xtask fuzz`: seeded, bounded mutation fuzzing of every reader archway owns or calls.
pub mod structure;
