//! The harness itself, on the test fixtures (the hand-built `tip.dll`, the fixture x64 MSI, the
//! repository's TOML files) for a few seconds: every reader runs, nothing is found, and the
//! figures add up. CI runs it on a real build with `cargo xtask fuzz --seconds 60`.

use std::{path::Path, time::Duration};

use super::{
    fuzz,
    readers::{Corpus, Reader, Seed},
};
use crate::msi::{Platform, plan, tests::fixture::package, to_bytes};

fn corpus(scratch: &Path) -> Corpus {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let seed = |name: &str, bytes: Vec<u8>| Seed { name: name.to_string(), bytes };
    let text = |rel: &str| seed(rel, std::fs::read(root.join(rel)).unwrap());
    let msi = to_bytes(&plan(&package(Platform::X64, [1, 0, 0, 0])).unwrap()).unwrap();
    let cabinets =
        crate::msi::embedded_cabinets(msi.clone()).unwrap().into_iter().map(|c| seed("x64.msi#0", c)).collect();
    Corpus {
        pe: vec![seed("tip.dll", crate::verify::arm64x::fixture::tip_from_doc())],
        specs: vec![text("forwarders/archway.toml")],
        matrix: vec![text("matrix.toml")],
        binary_tomls: vec![text("module/binary.toml")],
        msis: vec![seed("x64.msi", msi)],
        cabinets,
        repo: root.to_path_buf(),
        scratch: scratch.to_path_buf(),
    }
}

#[test]
fn a_short_run_exercises_every_reader_and_finds_nothing() {
    let scratch = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let report = fuzz(corpus(scratch.path()), 7, Duration::from_secs(4), Duration::from_secs(30), out.path()).unwrap();
    let text = report.render();
    assert!(report.findings.is_empty(), "{text}");
    for reader in Reader::ALL {
        let f = report.figures.get(&reader).unwrap_or_else(|| panic!("{} never ran\n{text}", reader.name()));
        assert!(f.runs > 0 && f.runs == f.passes + f.clean_errors + f.findings, "{text}");
    }
    assert!(text.starts_with("fuzz seed 7 (repeat with --seed 7)\n"), "{text}");
    assert!(!out.path().join("in-flight.bin").exists(), "the in-flight input is removed after a clean run");
}

#[test]
fn the_same_seed_gives_the_same_mutants() {
    let scratch = tempfile::tempdir().unwrap();
    let corpus = corpus(scratch.path());
    let mutants = |seed| {
        let mut rng = super::rng::Rng::new(seed);
        Reader::ALL.map(|r| corpus.mutate(r, &mut rng, 0))
    };
    assert_eq!(mutants(3), mutants(3));
    assert_ne!(mutants(3), mutants(4));
}
