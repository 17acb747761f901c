//! module/schema/archway_sections.js under Wine's cscript (jscript + msxml, Wine's own
//! implementations, not Microsoft's: the Windows jobs run it for real through the MSI,
//! tests/msi_install.rs): declares missing sections and leaves existing ones as they are,
//! removes only what it is told, changes nothing twice, and refuses bad input with one line.

use std::path::Path;

use crate::winhost::{WindowsHost, wine::HostWine};

const CONFIG: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<configuration>\r\n  <configSections>\r\n    <sectionGroup name=\"system.webServer\">\r\n      <section name=\"httpPlatform\" overrideModeDefault=\"Deny\" />\r\n    </sectionGroup>\r\n  </configSections>\r\n  <system.webServer />\r\n</configuration>\r\n";

#[test]
fn the_section_script_declares_and_removes_sections_under_wines_cscript() {
    let Some(wine) = super::fixture::wine() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let host = HostWine::open(&wine, &scratch.path().join("prefix")).unwrap();
    let work = host.drive_c().join("sections");
    std::fs::create_dir_all(&work).unwrap();
    let script = work.join("archway_sections.js");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    std::fs::copy(repo.join("module/schema/archway_sections.js"), &script).unwrap();
    let config = work.join("applicationHost.config");
    std::fs::write(&config, CONFIG).unwrap();
    let run = |args: &[&str]| {
        // The MSI passes `//E:jscript` too (Windows' cscript then ignores the .js association);
        // Wine 8's cscript refuses that switch (exit 1) and picks JScript from the extension.
        let mut all = vec!["//NoLogo".to_string(), host.windows_path(&script).unwrap()];
        all.extend(args.iter().map(|a| a.to_string()));
        let out = host.command("cscript.exe", &all, &[]).output().unwrap();
        (out.code, format!("{}{}", out.stdout, out.stderr))
    };
    let target = host.windows_path(&config).unwrap();
    let read = || std::fs::read_to_string(&config).unwrap();

    let (code, out) = run(&["add", &target, "system.webServer/archway", "system.webServer/httpPlatform"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("declared system.webServer/archway") && !out.contains("declared system.webServer/httpPlatform"),
        "{out}"
    );
    let text = read();
    assert!(text.contains(r#"<section name="archway" overrideModeDefault="Allow"/>"#), "{text}");
    assert!(
        text.contains(r#"name="httpPlatform" overrideModeDefault="Deny""#),
        "another product's declaration stays as it is: {text}"
    );

    let (code, out) = run(&["add", &target, "system.webServer/archway"]);
    assert_eq!((code, out.contains("nothing to change")), (Some(0), true), "idempotent: {out}");

    let (code, out) = run(&["remove", &target, "system.webServer/archway"]);
    assert_eq!(code, Some(0), "{out}");
    let text = read();
    assert!(!text.contains("\"archway\"") && text.contains("httpPlatform"), "only the named section goes: {text}");

    let (code, out) = run(&["add", r"C:\missing\applicationHost.config", "system.webServer/archway"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains(r"C:\missing\applicationHost.config does not exist"), "{out}");
    let (code, out) = run(&["add", &target, "archway"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("is not <group>/<section>"), "{out}");
    std::fs::write(&config, "<configuration><configSections>").unwrap();
    let (code, out) = run(&["add", &target, "system.webServer/archway"]);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("applicationHost.config("), "names the file and position: {out}");
}
