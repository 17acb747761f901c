//! Which rows `bench proxy` measures on this machine and how each is named: the architecture of
//! the worker, the shim, the handlers and the backend, and how the host runs its code (under
//! Wine on Linux; natively, under WOW64 or emulated on Windows).

use std::fmt;

use anyhow::{Context, Result, bail};

use crate::matrix::Arch;

/// How a host runs one architecture's programs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// This Linux machine's Wine (x64; x86 through Wine's WOW64).
    Wine,
    /// The machine's own code: x64 on x64 Windows, ARM64 and ARM64EC on ARM64 Windows (an
    /// ARM64EC program's own code is ARM64 code; only x64 code it loads is emulated).
    Native,
    /// x86 on x64 Windows: 32-bit code on the same machine, through WOW64, not emulated.
    Wow64,
    /// x64 or x86 code on ARM64 Windows, through the system's emulator (docs/iis.md §1.2).
    Emulated,
}

/// One measured row: the architecture of every program in it and how the host runs them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Row {
    pub arch: Arch,
    pub mode: Mode,
}

impl Row {
    /// For tables: `x64 under Wine`, `arm64 native`, `x64 emulated`, `x86 WOW64`.
    pub fn label(&self) -> String {
        let how = match self.mode {
            Mode::Wine => "under Wine",
            Mode::Native => "native",
            Mode::Wow64 => "WOW64",
            Mode::Emulated => "emulated",
        };
        format!("{} {how}", self.arch)
    }

    /// One word for the machine-readable line: `x64-wine`, `arm64-native`, `x64-emulated`.
    pub fn id(&self) -> String {
        let how = match self.mode {
            Mode::Wine => "wine",
            Mode::Native => "native",
            Mode::Wow64 => "wow64",
            Mode::Emulated => "emulated",
        };
        format!("{}-{how}", self.arch)
    }
}

impl fmt::Display for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

/// Where the bench runs: this Linux machine's Wine, or Windows on the given machine (x64 or
/// arm64).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    Wine,
    Windows(Arch),
}

/// How `place` runs `arch`, or why it cannot.
pub fn row(place: Place, arch: Arch) -> Result<Row> {
    let mode = match (place, arch) {
        (Place::Wine, Arch::X64 | Arch::X86) => Mode::Wine,
        (Place::Wine, _) => bail!(
            "an {arch} row needs Windows on ARM64 (the windows-11-arm CI job measures it); under Wine on Linux bench proxy runs x64 (x86 with 32-bit Wine)"
        ),
        (Place::Windows(Arch::Arm64), Arch::Arm64 | Arch::Arm64Ec) => Mode::Native,
        (Place::Windows(Arch::Arm64), _) => Mode::Emulated,
        (Place::Windows(_), Arch::X64) => Mode::Native,
        (Place::Windows(_), Arch::X86) => Mode::Wow64,
        (Place::Windows(machine), _) => bail!("an {arch} row needs Windows on ARM64; this is {machine} Windows"),
    };
    Ok(Row { arch, mode })
}

/// The rows to measure: `--arch` when given; otherwise x64 under Wine on Linux, and on Windows
/// every architecture of `run_natively` (ARCHWAY_RUN_NATIVELY, which the CI jobs set) or, without
/// it, the machine's own.
pub fn select(place: Place, requested: &[String], run_natively: Option<&str>) -> Result<Vec<Row>> {
    let names: Vec<String> = if !requested.is_empty() {
        requested.iter().flat_map(|a| a.split(',')).map(|a| a.trim().to_string()).collect()
    } else {
        match (place, run_natively) {
            (Place::Wine, _) => vec!["x64".to_string()],
            (Place::Windows(_), Some(list)) => list.split(',').map(|a| a.trim().to_string()).collect(),
            (Place::Windows(machine), None) => vec![machine.name().to_string()],
        }
    };
    let from = if requested.is_empty() && run_natively.is_some() && place != Place::Wine {
        "ARCHWAY_RUN_NATIVELY"
    } else {
        "--arch"
    };
    let mut rows: Vec<Row> = Vec::new();
    for name in names.iter().filter(|n| !n.is_empty()) {
        let arch: Arch = name.parse().with_context(|| format!("{from}: {name:?}"))?;
        let row = row(place, arch).with_context(|| format!("{from}: {name}"))?;
        if !rows.contains(&row) {
            rows.push(row);
        }
    }
    if rows.is_empty() {
        bail!("{from} names no architecture (e.g. `--arch x64`)");
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(rows: &[Row]) -> Vec<String> {
        rows.iter().map(Row::id).collect()
    }

    #[test]
    fn linux_measures_x64_under_wine() {
        let rows = select(Place::Wine, &[], Some("x86,x64")).unwrap();
        assert_eq!(ids(&rows), ["x64-wine"]);
        assert_eq!(rows[0].label(), "x64 under Wine");
        assert_eq!(ids(&select(Place::Wine, &["x86".into()], None).unwrap()), ["x86-wine"]);
        let err = format!("{:#}", select(Place::Wine, &["arm64".into()], None).unwrap_err());
        assert!(err.contains("--arch: arm64") && err.contains("windows-11-arm"), "{err}");
    }

    #[test]
    fn windows_on_arm64_gives_native_and_emulated_rows() {
        let rows = select(Place::Windows(Arch::Arm64), &[], Some("x86,x64,arm64,arm64ec")).unwrap();
        assert_eq!(ids(&rows), ["x86-emulated", "x64-emulated", "arm64-native", "arm64ec-native"]);
        assert_eq!(rows[1].label(), "x64 emulated");
        let one = select(Place::Windows(Arch::Arm64), &[], None).unwrap();
        assert_eq!(ids(&one), ["arm64-native"]);
    }

    #[test]
    fn windows_on_x64_gives_native_and_wow64_rows_and_refuses_arm64() {
        let rows = select(Place::Windows(Arch::X64), &[], Some("x86, x64")).unwrap();
        assert_eq!(ids(&rows), ["x86-wow64", "x64-native"]);
        let err = format!("{:#}", select(Place::Windows(Arch::X64), &[], Some("x64,arm64")).unwrap_err());
        assert!(err.contains("ARCHWAY_RUN_NATIVELY: arm64") && err.contains("this is x64 Windows"), "{err}");
    }

    #[test]
    fn bad_names_are_errors_naming_where_they_came_from() {
        let err = format!("{:#}", select(Place::Windows(Arch::X64), &["x64,amd64".into()], None).unwrap_err());
        assert!(err.contains("--arch: \"amd64\"") && err.contains("known: x86, x64, arm64, arm64ec"), "{err}");
        let err = format!("{:#}", select(Place::Windows(Arch::X64), &[], Some(" ")).unwrap_err());
        assert!(err.contains("ARCHWAY_RUN_NATIVELY names no architecture"), "{err}");
        assert_eq!(ids(&select(Place::Wine, &["x64,x64".into()], None).unwrap()), ["x64-wine"]);
    }
}
