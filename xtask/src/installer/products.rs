//! The host's installed-products list as Windows shows it in "Programs and Features": the
//! Windows Installer entries under `HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall`,
//! read with the host's own `reg query` (Wine's wineserver keeps the registry in memory, so the
//! prefix's `system.reg` may lag behind).

use std::time::Duration;

use anyhow::{Result, bail};

use crate::winhost::WindowsHost;

const UNINSTALL: &str = r"HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall";

/// One installed product.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Product {
    /// `{GUID}`, the Uninstall subkey.
    pub code: String,
    pub name: String,
    pub version: String,
}

/// Every Windows Installer product installed on `host`.
pub fn installed(host: &dyn WindowsHost) -> Result<Vec<Product>> {
    let args = ["query".to_string(), UNINSTALL.to_string(), "/s".to_string()];
    let out = host.command("reg", &args, &[]).timeout(Duration::from_secs(60)).output()?;
    if !out.success {
        // A prefix where nothing was ever installed may have no Uninstall key at all.
        if out.stdout.trim().is_empty() && out.stderr.to_ascii_lowercase().contains("unable to find") {
            return Ok(Vec::new());
        }
        bail!("`reg query {UNINSTALL} /s` failed on {}: {}{}", host.describe(), out.stderr.trim(), out.stdout.trim());
    }
    Ok(parse(&out.stdout))
}

/// The products in `reg query … /s` output: each subkey whose name is a `{GUID}` and that says
/// `WindowsInstaller 0x1`.
pub fn parse(text: &str) -> Vec<Product> {
    let mut out = Vec::new();
    let mut current: Option<(Product, bool)> = None;
    let mut flush = |current: &mut Option<(Product, bool)>| {
        if let Some((product, true)) = current.take() {
            out.push(product);
        }
    };
    for line in text.lines().map(|l| l.trim_end_matches('\r')) {
        if line.starts_with("HKEY_") {
            flush(&mut current);
            let key = line.rsplit('\\').next().unwrap_or_default();
            if key.starts_with('{') && key.ends_with('}') {
                current = Some((
                    Product { code: key.to_ascii_uppercase(), name: String::new(), version: String::new() },
                    false,
                ));
            }
            continue;
        }
        let Some((product, msi)) = current.as_mut() else { continue };
        let mut fields = line.trim_start().splitn(3, "    ");
        let (Some(name), Some(_kind)) = (fields.next(), fields.next()) else { continue };
        let value = fields.next().unwrap_or_default().trim().to_string();
        match name {
            "DisplayName" => product.name = value,
            "DisplayVersion" => product.version = value,
            "WindowsInstaller" => *msi = value == "0x1",
            _ => {}
        }
    }
    flush(&mut current);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reg_query_output_lists_the_msi_products() {
        let text = "\r\nHKEY_LOCAL_MACHINE\\Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\{EF0CD3B7-73B7-517C-8F76-7727AD67FAEC}\r\n\
            \x20   DisplayName    REG_SZ    Archway\r\n    DisplayVersion    REG_SZ    0.1.0.0\r\n    Comments    REG_SZ    \r\n\
            \x20   WindowsInstaller    REG_DWORD    0x1\r\n\r\n\
            HKEY_LOCAL_MACHINE\\Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\Wine Gecko\r\n    DisplayName    REG_SZ    Gecko\r\n\
            HKEY_LOCAL_MACHINE\\Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\{00000000-0000-0000-0000-000000000001}\r\n\
            \x20   DisplayName    REG_SZ    Not an MSI\r\n";
        assert_eq!(
            parse(text),
            [Product {
                code: "{EF0CD3B7-73B7-517C-8F76-7727AD67FAEC}".into(),
                name: "Archway".into(),
                version: "0.1.0.0".into()
            }]
        );
        assert!(parse("").is_empty());
    }
}
