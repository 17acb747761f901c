//! `describe`: a DLL's views and exports rendered for people, e.g.
//!
//! ```text
//! archway.dll: ARM64X pure forwarder, version 0.1.0.0
//!   native view (arm64): RegisterModule -> archway_arm64.RegisterModule
//!   EC view (x64):       RegisterModule -> archway_x64.RegisterModule
//! ```

use std::{fmt::Write as _, path::Path};

use anyhow::{Context, Result};

use super::{Subject, arm64x::View, rules::dotted};
use crate::matrix::machine;

pub fn describe(path: &Path) -> Result<String> {
    let data = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let name = path.file_name().unwrap_or(path.as_os_str()).to_string_lossy();
    describe_bytes(&name, &data).with_context(|| format!("{}", path.display()))
}

/// The description of a file named `file_name` holding `data`; ends with a newline.
pub fn describe_bytes(file_name: &str, data: &[u8]) -> Result<String> {
    let subject = Subject::from_bytes(data)?;
    let native = &subject.native;
    let kind = match &subject.ec {
        Some(ec) if native.is_pure_forwarder() && ec.is_pure_forwarder() => "ARM64X pure forwarder".to_string(),
        Some(_) => format!("ARM64X {}", dll_or_exe(native)),
        None => {
            let machine = machine::name(native.machine, Some(native.chpe_metadata_version.is_some()));
            let what = if native.is_pure_forwarder() { "pure forwarder" } else { dll_or_exe(native) };
            format!("{machine} {what}")
        }
    };
    let version = match subject.file_version {
        Some(v) => format!("version {}", dotted(v)),
        None => "no version resource".to_string(),
    };
    let mut out = format!("{file_name}: {kind}, {version}\n");
    let views: Vec<(String, &View)> = match &subject.ec {
        Some(ec) => vec![
            (format!("native view ({}):", machine::name(native.machine, Some(false))), native),
            (format!("EC view ({}):", machine::name(ec.machine, Some(false))), ec),
        ],
        None => vec![("exports:".to_string(), native)],
    };
    let label_width = views.iter().map(|(label, _)| label.len()).max().unwrap_or(0);
    let name_width = views.iter().flat_map(|(_, view)| view.exports.iter().map(|e| e.label().len())).max().unwrap_or(0);
    for (label, view) in &views {
        let mut label = label.as_str();
        if view.exports.is_empty() {
            let _ = writeln!(out, "  {label:label_width$} (none)"); // a String: infallible
        }
        for export in &view.exports {
            let name = export.label();
            let _ = writeln!(out, "  {label:label_width$} {name:name_width$} -> {}", export.target); // a String: infallible
            label = "";
        }
    }
    Ok(out.lines().map(|line| line.trim_end().to_string() + "\n").collect())
}

fn dll_or_exe(view: &View) -> &'static str {
    if view.characteristics & 0x2000 != 0 { "DLL" } else { "EXE" }
}
