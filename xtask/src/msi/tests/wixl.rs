//! wixl accepts the generated x64 `.wxs` and builds a package with the same components, the
//! same RemoveExistingProducts position and the same custom actions.

use super::fixture::{self, package};
use crate::msi::{PackageView, Platform, read_msi, wxs};

#[test]
fn wixl_builds_the_equivalent_x64_package() {
    let Some(wixl) = fixture::tool("wixl") else { return };
    let dir = tempfile::tempdir().unwrap();
    let pkg = package(Platform::X64, [1, 2, 3, 4]);
    let source = wxs::write_inputs(&pkg, dir.path()).unwrap();
    let out = dir.path().join("wixl.msi");
    wxs::wixl_command(&wixl, &source, &out).run().unwrap();
    let theirs = PackageView::from_read(&read_msi(&out).unwrap());
    let core = wxs::without_schema(&pkg);
    let ours = PackageView::from_plan("ours", &crate::msi::plan(&core).unwrap(), &core);
    assert_eq!(theirs.platform(), Some(Platform::X64));
    let guids = |v: &PackageView| {
        let mut g: Vec<_> = v.files.iter().map(|f| (f.path.clone(), f.component_guid, f.file_key.clone())).collect();
        g.sort();
        g
    };
    assert_eq!(guids(&theirs), guids(&ours), "same paths, component GUIDs and File keys");
    for action in ["RemoveExistingProducts", "ArchwayIisAdd", "ArchwayIisRemove", "ArchwayIisExpress32TplAddUndo"] {
        assert_eq!(
            theirs.sequence("InstallExecuteSequence", action),
            ours.sequence("InstallExecuteSequence", action),
            "{action}"
        );
    }
    let kind = |v: &PackageView, a: &str| v.database.find("CustomAction", "Action", a).and_then(|r| r.int("Type"));
    // Rollback actions lose their rollback bits in wixl 0.101 (wxs::OMITTED).
    for action in ["ArchwayIisAdd", "ArchwayIisClear", "ArchwayIisExpress64AppAdd"] {
        assert_eq!(kind(&theirs, action), kind(&ours, action), "{action}");
    }
    // wixl extracts to the same bytes; its File.Version is empty (docs/msi.md §4.4).
    assert!(theirs.files.iter().all(|f| f.payload.is_some() && f.version.is_none()));
}
