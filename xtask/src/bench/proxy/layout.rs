//! One `bench proxy` row laid out on its host: the row's programs copied beside each other, two
//! sites (the proxied one with `<httpPlatform>`, the diagnostics one) and the
//! applicationHost.config the worker stand-in reads, with the paths as the host's programs see
//! them.

use std::path::Path;

use anyhow::{Context, Result};

use super::rows::Row;
use crate::{fsx, winhost::WindowsHost};

/// The programs of a row, each `<name>_<arch>.<ext>`.
const BINARIES: [(&str, &str); 5] = [
    ("archway_worker", "exe"),
    ("archway", "dll"),
    ("archway_platform", "dll"),
    ("archway_diagnostics", "dll"),
    ("archway_backend", "exe"),
];

/// The file names of a row's programs.
pub fn binaries(row: &Row) -> Vec<String> {
    BINARIES.iter().map(|(name, ext)| format!("{name}_{}.{ext}", row.arch)).collect()
}

/// The Windows path of `root` on `host`, without the `\\?\` prefix a canonical Windows path may
/// carry (the stand-in and CreateProcess read the configuration's paths as IIS writes them).
pub fn windows_path(host: &dyn WindowsHost, root: &Path) -> Result<String> {
    let path = host.windows_path(root)?;
    Ok(match path.strip_prefix(r"\\?\") {
        Some(rest) if rest.as_bytes().get(1) == Some(&b':') => rest.to_string(),
        _ => path,
    })
}

/// Copies the row's binaries to `root\bin` (this machine's path of `windows_root`) and writes two
/// sites (`proxy`, whose web.config has `<httpPlatform>`, and `diag`, whose web.config picks the
/// diagnostics handler, so the stand-in reads a web.config per request for both) and the
/// applicationHost.config; returns the latter's Windows path.
pub fn lay_out(root: &Path, windows_root: &str, bin: &Path, row: &Row) -> Result<String> {
    let arch = row.arch;
    let bin_to = root.join("bin");
    std::fs::create_dir_all(&bin_to).with_context(|| format!("cannot create {}", bin_to.display()))?;
    for file in binaries(row) {
        std::fs::copy(bin.join(&file), bin_to.join(&file))
            .with_context(|| format!("cannot copy {} to {}", bin.join(&file).display(), bin_to.display()))?;
    }
    let xml_root = windows_root.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;");
    let web_config = |inner: &str| {
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<configuration>\n  <system.webServer>\n    {inner}\n  </system.webServer>\n</configuration>\n"
        )
    };
    for (site, inner) in [
        (
            "site",
            format!(
                "<httpPlatform processPath=\"{xml_root}\\bin\\archway_backend_{arch}.exe\" arguments=\"--max-seconds 900\" />"
            ),
        ),
        ("diag", "<archway handler=\"diagnostics\" />".to_string()),
    ] {
        std::fs::create_dir_all(root.join(site))?;
        fsx::write_atomic(&root.join(site).join("web.config"), web_config(&inner).as_bytes())?;
    }
    let site = |name: &str, id: u32, folder: &str| {
        format!(
            "      <site name=\"{name}\" id=\"{id}\">\n        <application path=\"/\" applicationPool=\"proxy\">\n          <virtualDirectory path=\"/\" physicalPath=\"{xml_root}\\{folder}\" />\n        </application>\n        <bindings>\n          <binding protocol=\"http\" bindingInformation=\"127.0.0.1:0:\" />\n        </bindings>\n      </site>\n"
        )
    };
    let apphost = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<configuration>\n  <configSections>\n    <sectionGroup name=\"system.webServer\">\n      <section name=\"httpPlatform\" overrideModeDefault=\"Allow\" />\n      <section name=\"archway\" overrideModeDefault=\"Allow\" />\n    </sectionGroup>\n  </configSections>\n  <system.applicationHost>\n    <applicationPools>\n      <add name=\"proxy\" managedRuntimeVersion=\"\" />\n    </applicationPools>\n    <sites>\n{}{}    </sites>\n  </system.applicationHost>\n  <system.webServer>\n    <globalModules>\n      <add name=\"archway\" image=\"{xml_root}\\bin\\archway_{arch}.dll\" />\n    </globalModules>\n  </system.webServer>\n</configuration>\n",
        site("proxy", 1, "site"),
        site("diag", 2, "diag")
    );
    fsx::write_atomic(&root.join("applicationHost.config"), apphost.as_bytes())?;
    Ok(format!(r"{windows_root}\applicationHost.config"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{bench::proxy::rows::Mode, winhost::native::NativeWindows};

    #[test]
    fn a_row_is_laid_out_with_its_architecture_and_escaped_paths() {
        let bin = tempfile::tempdir().unwrap();
        let root = tempfile::tempdir().unwrap();
        let row = Row { arch: crate::matrix::Arch::Arm64, mode: Mode::Native };
        for file in binaries(&row) {
            std::fs::write(bin.path().join(file), b"MZ").unwrap();
        }
        let config = lay_out(root.path(), r"D:\a\R&D", bin.path(), &row).unwrap();
        assert_eq!(config, r"D:\a\R&D\applicationHost.config");
        let apphost = std::fs::read_to_string(root.path().join("applicationHost.config")).unwrap();
        assert!(apphost.contains(r#"image="D:\a\R&amp;D\bin\archway_arm64.dll""#), "{apphost}");
        assert!(apphost.contains(r#"physicalPath="D:\a\R&amp;D\site""#), "{apphost}");
        let site = std::fs::read_to_string(root.path().join("site").join("web.config")).unwrap();
        assert!(site.contains(r#"processPath="D:\a\R&amp;D\bin\archway_backend_arm64.exe""#), "{site}");
        assert!(root.path().join("bin").join("archway_worker_arm64.exe").is_file());
        let err = format!("{:#}", lay_out(root.path(), "D:", &root.path().join("none"), &row).unwrap_err());
        assert!(err.contains("cannot copy") && err.contains("archway_worker_arm64.exe"), "{err}");
    }

    #[test]
    fn windows_paths_lose_only_a_drive_verbatim_prefix() {
        let host = NativeWindows;
        assert_eq!(windows_path(&host, Path::new(r"\\?\D:\a\target")).unwrap(), r"D:\a\target");
        assert_eq!(windows_path(&host, Path::new(r"\\?\UNC\s\share")).unwrap(), r"\\?\UNC\s\share");
        assert_eq!(windows_path(&host, Path::new(r"D:\a")).unwrap(), r"D:\a");
    }
}
