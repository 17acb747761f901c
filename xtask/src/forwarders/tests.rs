//! The writer against lld-link 21+ on the same inputs (golden files made on the spot, compared
//! byte for byte; lld gets `/release` so that its checksum is filled in as ours is), and random
//! export sets round-tripped through the writer and the independent reader in `verify::arm64x`.

use proptest::{prelude::*, strategy::ValueTree, test_runner::TestRunner};

use super::{
    exports::{Requested, Table},
    image::{self, Image},
    lld_compare::{Linker, same_bytes},
    versioninfo::{self, VersionResource},
};
use crate::verify::arm64x::{ExportTarget, views};

/// lld-link and clang, or `None` after one `skipped:` line (a failure under CI=true).
fn linker() -> Option<Linker> {
    match Linker::new() {
        Ok(linker) => Some(linker),
        Err(why) if std::env::var("CI").as_deref() == Ok("true") => panic!("CI=true and {why:#}"),
        Err(why) => {
            println!("skipped: {why:#}");
            None
        }
    }
}

fn export(name: &str, ordinal: Option<u16>, noname: bool, data: bool) -> Requested {
    Requested { name: name.into(), ordinal, noname, data }
}

fn ours(dll_name: &str, exports: &[Requested], version: Option<&[u8]>) -> Vec<u8> {
    let native = Table::assign(exports, "t_arm64");
    let ec = Table::assign(exports, "t_x64");
    let version = version.map(|blob| (blob, versioninfo::LANGUAGE));
    image::write(&Image { dll_name, native: &native, ec: &ec, version, timestamp: 0 })
}

fn version_blob() -> Vec<u8> {
    versioninfo::encode(&VersionResource {
        file_version: [1, 2, 3, 4],
        product_version: [1, 2, 3, 4],
        strings: vec![("FileDescription".into(), "golden".into()), ("OriginalFilename".into(), "Golden.dll".into())],
    })
    .unwrap()
}

#[test]
fn the_writer_matches_lld_link_on_golden_cases() {
    let Some(linker) = linker() else { return };
    let blob = version_blob();
    type Case<'a> = (&'a str, Vec<Requested>, Option<&'a [u8]>);
    let cases: Vec<Case> = vec![
        (
            "tip.dll",
            vec![export("DllGetClassObject", None, false, false), export("DllCanUnloadNow", None, false, false)],
            None,
        ),
        ("Golden.dll", vec![export("RegisterModule", None, false, false)], Some(&blob)),
        (
            // Explicit ordinals with gaps, an ordinal-only export, DATA, and case order (B < a).
            "mixed.dll",
            vec![
                export("a", None, false, false),
                export("B", None, false, false),
                export("Zed", Some(5), false, false),
                export("hidden", Some(3), true, false),
                export("table", None, false, true),
                export("c", Some(9), false, false),
            ],
            Some(&blob),
        ),
    ];
    for (name, exports, version) in cases {
        let theirs = linker.link(name, &exports, ("t_arm64", "t_x64"), version, 0).unwrap();
        same_bytes(name, &ours(name, &exports, version), &theirs).unwrap();
    }
}

/// 1–200 exports: names of 1–60 characters from what C and C++ symbols use, some with explicit
/// ordinals, some ordinal-only, some DATA.
fn export_sets() -> impl Strategy<Value = Vec<Requested>> {
    let one =
        ("[A-Za-z_?@][A-Za-z0-9_?@$]{0,59}", proptest::option::weighted(0.2, 1u16..400), any::<bool>(), any::<bool>());
    proptest::collection::vec(one, 1..=200).prop_map(|raw| {
        let mut names = std::collections::HashSet::new();
        let mut ordinals = std::collections::HashSet::new();
        raw.into_iter()
            // `$$h` is ARM64EC mangling that lld rewrites in the EC view; specs refuse it.
            .filter(|(name, ..)| !name.contains("$$h") && names.insert(name.clone()))
            .map(|(name, ordinal, noname, data)| {
                let ordinal = ordinal.filter(|o| ordinals.insert(*o));
                export(&name, ordinal, noname && ordinal.is_some(), data)
            })
            .collect()
    })
}

/// The reader's view of `bytes` must list exactly `exports`, forwarding to `stem`.
fn check_view(view: &crate::verify::arm64x::View, table: &Table, stem: &str) {
    let mut expected: Vec<(u32, Option<String>, ExportTarget)> = table
        .entries
        .iter()
        .map(|e| {
            let name = e.forward.split_once('.').unwrap().1.to_string();
            (u32::from(e.ordinal), e.name.clone(), ExportTarget::ForwardByName { dll: stem.into(), name })
        })
        .collect();
    expected.sort_by_key(|e| e.0);
    let mut found: Vec<(u32, Option<String>, ExportTarget)> =
        view.exports.iter().map(|e| (e.ordinal, e.name.clone(), e.target.clone())).collect();
    found.sort_by_key(|e| e.0);
    assert_eq!(found, expected);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn random_export_sets_round_trip_through_the_reader(exports in export_sets(), versioned in any::<bool>()) {
        let blob = version_blob();
        let bytes = ours("random.dll", &exports, versioned.then_some(&blob[..]));
        let (native, ec) = views(&bytes).unwrap();
        let ec = ec.expect("an ARM64X file has an EC view");
        prop_assert_eq!((native.machine, ec.machine), (0xAA64, 0x8664));
        prop_assert_eq!(native.dll_name.as_deref(), Some("random.dll"));
        prop_assert!(ec.chpe_metadata_version == Some(2));
        check_view(&native, &Table::assign(&exports, "t_arm64"), "t_arm64");
        check_view(&ec, &Table::assign(&exports, "t_x64"), "t_x64");
    }
}

#[test]
fn lld_link_agrees_on_a_sample_of_random_export_sets() {
    let Some(linker) = linker() else { return };
    let mut runner = TestRunner::deterministic();
    let strategy = export_sets();
    let blob = version_blob();
    for case in 0..6 {
        let exports = strategy.new_tree(&mut runner).unwrap().current();
        let version = (case % 2 == 0).then_some(&blob[..]);
        let theirs = linker.link("sample.dll", &exports, ("t_arm64", "t_x64"), version, 0).unwrap();
        same_bytes(
            &format!("sample {case} ({} exports)", exports.len()),
            &ours("sample.dll", &exports, version),
            &theirs,
        )
        .unwrap();
    }
}
