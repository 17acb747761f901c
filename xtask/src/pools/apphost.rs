//! One configuration for both hosts: the `applicationHost.config` the worker stand-in reads, and
//! the appcmd command lines that give real IIS the same pools, sites and bindings
//! (docs/pools.md, "Configuring IIS"). Both come from one [`AppHost`] built from pool rows.

use std::fmt::Write as _;

use super::rows::PoolRow;

/// The global module every pool loads: the path the MSIs register (`msi::iis`).
pub const MODULE_NAME: &str = "archway";
pub const MODULE_IMAGE: &str = r"%ProgramFiles%\Archway\archway.dll";

/// Pools, one site each, and the global module.
#[derive(Clone, Debug)]
pub struct AppHost {
    pub pools: Vec<Site>,
    pub module_name: String,
    pub module_image: String,
}

/// One pool with the site that uses it.
#[derive(Clone, Debug)]
pub struct Site {
    pub row: PoolRow,
    pub site_id: u32,
    /// 0: any free port (the stand-in reports the one it bound).
    pub port: u16,
    /// The site's folder, as Windows names it.
    pub physical_path: String,
}

impl AppHost {
    /// The configuration for `rows`: site ids from 101 up, the module at its registered path.
    pub fn new(rows: &[PoolRow], port: impl Fn(usize) -> u16, physical_path: impl Fn(&PoolRow) -> String) -> AppHost {
        let pools = rows
            .iter()
            .enumerate()
            .map(|(i, row)| Site {
                row: row.clone(),
                site_id: 101 + i as u32,
                port: port(i),
                physical_path: physical_path(row),
            })
            .collect();
        AppHost { pools, module_name: MODULE_NAME.to_string(), module_image: MODULE_IMAGE.to_string() }
    }

    /// `applicationHost.config` as the stand-in reads it: the subset of IIS's schema that
    /// decides which worker runs, what it listens on and which module it loads.
    pub fn xml(&self) -> String {
        let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        x.push_str("<!-- Written by `cargo xtask pools` from matrix.toml's [[pool]] rows. -->\n");
        x.push_str("<configuration>\n  <system.applicationHost>\n    <applicationPools>\n");
        for site in &self.pools {
            let a = &site.row.attributes;
            let _ = write!(
                x,
                "      <add name=\"{}\" managedRuntimeVersion=\"\" enable32BitAppOnWin64=\"{}\"",
                attr(&site.row.name),
                a.enable_32bit_app_on_win64
            );
            if let Some(emulation) = a.enable_emulation_on_win_arm64 {
                let _ = write!(x, " enableEmulationOnWinArm64=\"{emulation}\"");
            }
            x.push_str(" />\n");
        }
        x.push_str("    </applicationPools>\n    <sites>\n");
        for site in &self.pools {
            let name = attr(&site.row.name);
            let _ = writeln!(x, "      <site name=\"{name}\" id=\"{}\">", site.site_id);
            let _ = writeln!(x, "        <application path=\"/\" applicationPool=\"{name}\">");
            let _ =
                writeln!(x, "          <virtualDirectory path=\"/\" physicalPath=\"{}\" />", attr(&site.physical_path));
            x.push_str("        </application>\n");
            let _ = writeln!(
                x,
                "        <bindings>\n          <binding protocol=\"http\" bindingInformation=\"127.0.0.1:{}:\" />\n        </bindings>",
                site.port
            );
            x.push_str("      </site>\n");
        }
        x.push_str("    </sites>\n  </system.applicationHost>\n  <system.webServer>\n    <globalModules>\n");
        let _ =
            writeln!(x, "      <add name=\"{}\" image=\"{}\" />", attr(&self.module_name), attr(&self.module_image));
        x.push_str("    </globalModules>\n  </system.webServer>\n</configuration>\n");
        x
    }

    /// appcmd argument lists that create the same pools and sites in real IIS (the module is
    /// registered by the MSI's own custom action). The emulation attribute is set only where
    /// the row sets it: x64 servers may not know it.
    pub fn appcmd_create(&self) -> Vec<Vec<String>> {
        let mut commands = Vec::new();
        for site in &self.pools {
            let name = &site.row.name;
            let a = &site.row.attributes;
            let mut pool = vec![
                "add".into(),
                "apppool".into(),
                format!("/name:{name}"),
                "/managedRuntimeVersion:".into(),
                format!("/enable32BitAppOnWin64:{}", a.enable_32bit_app_on_win64),
            ];
            if let Some(emulation) = a.enable_emulation_on_win_arm64 {
                pool.push(format!("/enableEmulationOnWinArm64:{emulation}"));
            }
            commands.push(pool);
            commands.push(vec![
                "add".into(),
                "site".into(),
                format!("/name:{name}"),
                format!("/id:{}", site.site_id),
                format!("/bindings:http/127.0.0.1:{}:", site.port),
                format!("/physicalPath:{}", site.physical_path),
            ]);
            commands.push(vec!["set".into(), "app".into(), format!("{name}/"), format!("/applicationPool:{name}")]);
        }
        commands
    }

    /// appcmd argument lists that remove what [`appcmd_create`](Self::appcmd_create) made.
    pub fn appcmd_delete(&self) -> Vec<Vec<String>> {
        let mut commands = Vec::new();
        for site in &self.pools {
            commands.push(vec!["delete".into(), "site".into(), site.row.name.clone()]);
            commands.push(vec!["delete".into(), "apppool".into(), site.row.name.clone()]);
        }
        commands
    }
}

/// An XML attribute value.
fn attr(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "&#{};", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pools::rows::{HostMachine, PoolAttributes, WorkerArch};

    fn row(name: &str, host: HostMachine, bit32: bool, emulation: Option<bool>, worker: WorkerArch) -> PoolRow {
        PoolRow {
            name: name.into(),
            host,
            attributes: PoolAttributes { enable_32bit_app_on_win64: bit32, enable_emulation_on_win_arm64: emulation },
            worker,
            package: crate::msi::Platform::Arm64,
            uncertain: None,
        }
    }

    fn sample() -> AppHost {
        let rows = [
            row("arm64", HostMachine::Arm64, false, Some(false), WorkerArch::Arm64),
            row("x64", HostMachine::X64, false, None, WorkerArch::X64),
        ];
        AppHost::new(&rows, |i| 8080 + i as u16, |r| format!(r"C:\inetpub\{} & co", r.name))
    }

    #[test]
    fn the_config_names_each_pool_site_binding_and_the_module() {
        let xml = sample().xml();
        assert!(xml.contains(r#"<add name="arm64" managedRuntimeVersion="" enable32BitAppOnWin64="false" enableEmulationOnWinArm64="false" />"#), "{xml}");
        assert!(xml.contains(r#"<add name="x64" managedRuntimeVersion="" enable32BitAppOnWin64="false" />"#), "{xml}");
        assert!(
            xml.contains(r#"<site name="x64" id="102">"#) && xml.contains(r#"bindingInformation="127.0.0.1:8081:""#),
            "{xml}"
        );
        assert!(xml.contains(r#"physicalPath="C:\inetpub\arm64 &amp; co""#), "{xml}");
        assert!(xml.contains(r#"<add name="archway" image="%ProgramFiles%\Archway\archway.dll" />"#), "{xml}");
    }

    #[test]
    fn appcmd_gets_the_same_pools_and_sets_emulation_only_where_the_row_does() {
        let commands = sample().appcmd_create();
        let lines: Vec<String> = commands.iter().map(|c| c.join(" ")).collect();
        assert_eq!(
            lines[0],
            "add apppool /name:arm64 /managedRuntimeVersion: /enable32BitAppOnWin64:false /enableEmulationOnWinArm64:false"
        );
        assert_eq!(
            lines[1],
            r"add site /name:arm64 /id:101 /bindings:http/127.0.0.1:8080: /physicalPath:C:\inetpub\arm64 & co"
        );
        assert_eq!(lines[2], "set app arm64/ /applicationPool:arm64");
        assert_eq!(lines[3], "add apppool /name:x64 /managedRuntimeVersion: /enable32BitAppOnWin64:false");
        assert_eq!(sample().appcmd_delete().len(), 4);
    }
}
