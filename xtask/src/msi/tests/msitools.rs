//! What we write as files, read by someone else (msitools: `msiinfo`, `msidump`, `msiextract`)
//! and by our own reader; extracted bytes equal the inputs; bad input gives one clear error.

use std::{collections::BTreeMap, io::Write, path::Path};

use super::fixture::{self, package};
use crate::{
    cmd::Cmd,
    fsx::sha256_hex,
    msi::{Platform, check_files, schema, write_msi},
};

fn write_all(dir: &Path) -> Vec<(Platform, std::path::PathBuf, crate::msi::Package, crate::msi::Written)> {
    Platform::ALL
        .into_iter()
        .map(|p| {
            let pkg = package(p, [1, 2, 3, 4]);
            let path = dir.join(format!("archway-1.2.3.4-{p}.msi"));
            let written = write_msi(&pkg, &path).unwrap();
            (p, path, pkg, written)
        })
        .collect()
}

#[test]
fn msitools_read_every_package_and_extract_the_same_bytes() {
    let (Some(msiinfo), Some(msidump), Some(msiextract)) =
        (fixture::tool("msiinfo"), fixture::tool("msidump"), fixture::tool("msiextract"))
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for (platform, path, pkg, written) in write_all(dir.path()) {
        let suminfo =
            Cmd::new(&msiinfo).timeout(std::time::Duration::from_secs(120)).arg("suminfo").arg(&path).read().unwrap();
        assert!(suminfo.contains(&format!("Template: {};1033", platform.template())), "{suminfo}");
        assert!(
            suminfo.contains(&format!("Revision number (UUID): {}", crate::msi::ids::braced(written.package_code))),
            "{suminfo}"
        );
        assert!(suminfo.contains("Version: 500") && suminfo.contains("Source: 2"), "{suminfo}");

        let tables =
            Cmd::new(&msiinfo).timeout(std::time::Duration::from_secs(120)).arg("tables").arg(&path).read().unwrap();
        for table in schema::TABLES.iter().chain(&["_Validation"]) {
            assert!(tables.lines().any(|l| l.trim() == *table), "{platform}: msiinfo tables lacks {table}: {tables}");
        }

        let dump = dir.path().join(format!("dump-{platform}"));
        std::fs::create_dir(&dump).unwrap();
        Cmd::new(&msidump)
            .timeout(std::time::Duration::from_secs(120))
            .args(["-t", "-s", "-d"])
            .arg(&dump)
            .arg(&path)
            .run()
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(dump.join("_ForceCodepage.idt")).unwrap().lines().nth(2),
            Some("1252\t_ForceCodepage")
        );
        for idt in ["File.idt", "Component.idt", "InstallExecuteSequence.idt", "_Validation.idt", "_Streams/cab1.cab"] {
            assert!(dump.join(idt).is_file(), "{platform}: msidump wrote no {idt}");
        }

        let out = dir.path().join(format!("extract-{platform}"));
        Cmd::new(&msiextract)
            .timeout(std::time::Duration::from_secs(120))
            .arg("-C")
            .arg(&out)
            .arg(&path)
            .run()
            .unwrap();
        // msiextract's folder names are not Windows' (docs/msi.md §4.3): compare name and content.
        let mut extracted = BTreeMap::<(String, String), usize>::new();
        for entry in walk(&out) {
            let name = entry.file_name().unwrap().to_string_lossy().into_owned();
            *extracted.entry((name, sha256_hex(&std::fs::read(&entry).unwrap()))).or_default() += 1;
        }
        let mut expected = BTreeMap::<(String, String), usize>::new();
        for file in &pkg.files {
            *expected.entry((file.name.clone(), sha256_hex(&file.bytes))).or_default() += 1;
        }
        // Each schema file once per schema folder of the platform.
        for file in pkg.iis_schema.iter().flat_map(|s| &s.files) {
            *expected.entry((file.name.clone(), sha256_hex(&file.bytes))).or_default() +=
                crate::msi::SchemaDir::of(platform).len();
        }
        assert_eq!(extracted, expected, "{platform}: msiextract gives back exactly the inputs");
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() { out.extend(walk(&path)) } else { out.push(path) }
    }
    out
}

#[test]
fn written_files_check_clean_alone_and_as_an_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old.msi");
    write_msi(&package(Platform::Arm64, [1, 0, 0, 0]), &old).unwrap();
    let new = dir.path().join("new.msi");
    write_msi(&package(Platform::Arm64, [1, 1, 0, 0]), &new).unwrap();
    let report = check_files(&new, Some(&old)).unwrap();
    assert_eq!((report.errors(), report.warnings()), (0, 0), "{}", report.render());
    let text = report.render();
    assert!(text.contains("simulated major upgrade 1.0.0.0 -> 1.1.0.0 (RemoveExistingProducts early"), "{text}");
    assert!(text.contains(r"Program Files\Archway\archway.dll") && text.contains("new 1.1.0.0"), "{text}");
}

#[test]
fn bad_input_gives_one_clear_error_each() {
    let dir = tempfile::tempdir().unwrap();
    let written = write_all(dir.path());
    let x64 = &written.iter().find(|w| w.0 == Platform::X64).unwrap().1;
    let arm64 = &written.iter().find(|w| w.0 == Platform::Arm64).unwrap().1;

    let junk = dir.path().join("junk.msi");
    std::fs::write(&junk, b"this is not a compound file").unwrap();
    let err = format!("{:#}", check_files(&junk, None).unwrap_err());
    assert!(err.contains("junk.msi is not a readable Windows Installer package"), "{err}");

    let cut = dir.path().join("cut.msi");
    let bytes = std::fs::read(x64).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() / 3]).unwrap();
    let err = format!("{:#}", check_files(&cut, None).unwrap_err());
    assert!(err.contains("cut.msi"), "{err}");

    let truncated = dir.path().join("truncated-cab.msi");
    std::fs::copy(x64, &truncated).unwrap();
    {
        let mut package = msi::open_rw(&truncated).unwrap();
        let mut cab = Vec::new();
        std::io::Read::read_to_end(&mut package.read_stream("cab1.cab").unwrap(), &mut cab).unwrap();
        package.write_stream("cab1.cab").unwrap().write_all(&cab[..cab.len() / 2]).unwrap();
        package.flush().unwrap();
    }
    let err = format!("{:#}", check_files(&truncated, None).unwrap_err());
    assert!(err.contains("truncated-cab.msi: embedded cabinet cab1.cab") && err.contains("truncated"), "{err}");

    let err = format!("{:#}", check_files(x64, Some(arm64)).unwrap_err());
    assert!(err.contains("is a package of another product"), "{err}");
}

#[test]
fn the_same_package_written_in_two_folders_is_byte_identical() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for platform in Platform::ALL {
        let pkg = package(platform, [1, 2, 3, 4]);
        let name = format!("archway-1.2.3.4-{platform}.msi");
        write_msi(&pkg, &a.path().join(&name)).unwrap();
        write_msi(&pkg, &b.path().join("nested").join(&name)).unwrap();
        assert!(
            std::fs::read(a.path().join(&name)).unwrap() == std::fs::read(b.path().join("nested").join(&name)).unwrap(),
            "{platform}"
        );
    }
}
